// Actions on containers (stop, restart, kill through the engine) and on host processes
// (a signal with kill(2)), with typed results whose descriptions are one line.
//
// A CONTAINER argument is matched against every container the engine lists (running or
// not): an exact name or an exact full id wins; otherwise the containers whose id or
// name starts with it are the candidates. One candidate is the container; several are
// refused with the list (we never guess which one to stop); none is "no such container".
import DockerSocket
import FoundationEssentials
import Glibc

public enum ContainerAction: Equatable, Sendable {
    /// SIGTERM, then SIGKILL after `timeout` seconds (nil: the container's own stop timeout).
    case stop(timeout: Int?)
    case restart(timeout: Int?)
    /// A signal name or number as the engine takes it ("TERM", "SIGHUP", "9"); nil: SIGKILL.
    case kill(signal: String?)

    /// "stop", "restart", "kill": the command and the audit log's action.
    public var verb: String {
        switch self {
        case .stop: return "stop"
        case .restart: return "restart"
        case .kill: return "kill"
        }
    }
}

public enum ContainerActionOutcome: Equatable, Sendable, CustomStringConvertible {
    case stopped
    /// Docker's 304: the container was not running; counts as success.
    case alreadyStopped
    case restarted
    case killed(signal: String)

    public var description: String {
        switch self {
        case .stopped: return "stopped"
        case .alreadyStopped: return "already stopped"
        case .restarted: return "restarted"
        case .killed(let signal): return "sent \(signal)"
        }
    }
}

/// What one CONTAINER argument matched.
public enum ContainerResolution: Equatable, Sendable {
    case found(ContainerSummary)
    /// Several containers match; they are the candidates, best first.
    case ambiguous([ContainerSummary])
    case notFound
}

public enum ContainerActionError: Error, Equatable, CustomStringConvertible {
    case notFound(argument: String)
    case ambiguous(argument: String, candidates: [ContainerSummary])
    /// The engine refused or failed (404, 409 "is not running", unreachable, timeout...).
    case docker(DockerError)

    /// True when nothing was tried because the request was refused (exit status 3).
    public var isRefusal: Bool {
        if case .ambiguous = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .notFound(let argument):
            return "no such container: \(oneLineText(argument))"
        case .ambiguous(let argument, let candidates):
            let shown = candidates.prefix(8).map { ContainerActions.shortLabel($0) }.joined(separator: ", ")
            let more = candidates.count > 8 ? ", and \(candidates.count - 8) more" : ""
            return "'\(oneLineText(argument))' matches \(candidates.count) containers: \(shown)\(more); give more of the name or id"
        case .docker(let error):
            return error.description
        }
    }
}

public final class ContainerActions {
    public let client: DockerClient

    public init(client: DockerClient) {
        self.client = client
    }

    /// Lists every container once and resolves each argument against that list.
    public func resolve(_ arguments: [String]) throws(DockerError) -> [(argument: String, resolution: ContainerResolution)] {
        let containers: [ContainerSummary]
        do {
            containers = try client.listContainers(all: true)
        } catch let error as DockerError {
            throw error
        } catch {
            throw DockerError.malformedJSON(what: "the container list", detail: "\(error)")
        }
        return arguments.map { ($0, Self.resolve($0, among: containers)) }
    }

    /// Exact name or exact id first; then id prefixes and name prefixes.
    public static func resolve(_ argument: String, among containers: [ContainerSummary]) -> ContainerResolution {
        var key = argument
        if key.hasPrefix("/") { key.removeFirst() }
        guard !key.isEmpty else { return .notFound }
        if let exact = containers.first(where: { $0.id == key || $0.names.contains(key) }) {
            return .found(exact)
        }
        let lowerKey = key.lowercased()
        let isHex = lowerKey.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
        let candidates = containers.filter { c in
            (isHex && c.id.hasPrefix(lowerKey)) || c.names.contains { $0.hasPrefix(key) }
        }
        switch candidates.count {
        case 0: return .notFound
        case 1: return .found(candidates[0])
        default:
            return .ambiguous(candidates.sorted { ($0.name ?? $0.id) < ($1.name ?? $1.id) })
        }
    }

    /// Performs `action` on a resolved container.
    public func perform(_ action: ContainerAction, on container: ContainerSummary) throws(ContainerActionError) -> ContainerActionOutcome {
        do {
            switch action {
            case .stop(let timeout):
                switch try client.stopContainer(container.id, timeout: timeout) {
                case .stopped: return .stopped
                case .alreadyStopped: return .alreadyStopped
                }
            case .restart(let timeout):
                try client.restartContainer(container.id, timeout: timeout)
                return .restarted
            case .kill(let signal):
                try client.killContainer(container.id, signal: signal)
                return .killed(signal: Self.signalLabel(signal))
            }
        } catch let error as DockerError {
            throw .docker(error)
        } catch {
            throw .docker(.malformedHTTP(detail: "\(error)"))
        }
    }

    /// "web-1 (image nginx:1.27, running)": what a confirmation question names.
    public static func describe(_ container: ContainerSummary) -> String {
        var facts: [String] = []
        if let image = container.image, !image.isEmpty { facts.append("image \(oneLineText(image))") }
        facts.append(container.state.map { oneLineText($0) } ?? "state unknown")
        return "\(shortLabel(container)) (\(facts.joined(separator: ", ")))"
    }

    /// "web-1 [4f2a1c0d9e8b]", or the short id alone for a container without a name.
    public static func shortLabel(_ container: ContainerSummary) -> String {
        let short = String(container.id.prefix(12))
        guard let name = container.name, !name.isEmpty else { return short }
        return "\(oneLineText(name)) [\(short)]"
    }

    /// The container's state as the audit log's previous value: "running (Up 5 minutes)".
    public static func previousState(_ container: ContainerSummary) -> String {
        let state = container.state ?? "unknown"
        guard let status = container.status, !status.isEmpty else { return state }
        return "\(state) (\(status))"
    }

    /// "SIGKILL" for nil, "SIGTERM" for "TERM" / "term", "9" stays "9".
    public static func signalLabel(_ signal: String?) -> String {
        guard let signal, !signal.isEmpty else { return "SIGKILL" }
        let upper = signal.uppercased()
        if upper.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return "signal \(upper)" }
        return upper.hasPrefix("SIG") ? upper : "SIG" + upper
    }
}

// MARK: - Host processes

public enum SignalError: Error, Equatable, CustomStringConvertible {
    /// PID 0, 1 or negative (process groups, init): never.
    case refusedPid(Int32)
    /// gpuctop's own PID.
    case refusedSelf(Int32)
    /// ESRCH.
    case noSuchProcess(Int32)
    /// EPERM.
    case notPermitted(Int32)
    /// The PID now belongs to another process than the one asked about.
    case pidReused(Int32)
    /// The process's start time was not known when it was asked about (it was not
    /// visible in /proc), or cannot be read now: nothing tells a reused PID apart.
    case startUnknown(Int32)
    case failed(pid: Int32, errno: Int32)

    /// True when nothing was tried because the request was refused (exit status 3).
    public var isRefusal: Bool {
        switch self {
        case .refusedPid, .refusedSelf, .pidReused, .startUnknown: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .refusedPid(let pid):
            return pid == 1 ? "refusing to signal PID 1 (init)" : "refusing to signal PID \(pid): only PIDs above 1"
        case .refusedSelf(let pid):
            return "refusing to signal PID \(pid): that is gpuctop itself"
        case .noSuchProcess(let pid):
            return "PID \(pid): no such process"
        case .notPermitted(let pid):
            return "PID \(pid): not permitted (the process belongs to another user; run as root)"
        case .pidReused(let pid):
            return "PID \(pid) is now another process (it started at another time); not signalled"
        case .startUnknown(let pid):
            return "PID \(pid): its start time is unknown (not visible in /proc), so it may be another process; not signalled"
        case .failed(let pid, let code):
            let reason = strerror(code).map { String(cString: $0) } ?? "errno \(code)"
            return "PID \(pid): kill failed: \(reason)"
        }
    }
}

public enum ProcessSignal {
    /// The signals `gpuctop signal` sends by name.
    public static let names: [(name: String, number: Int32)] = [
        ("TERM", SIGTERM), ("INT", SIGINT), ("KILL", SIGKILL), ("HUP", SIGHUP), ("USR1", SIGUSR1), ("USR2", SIGUSR2),
    ]

    /// "TERM", "sigterm", "SIGTERM" or a number 1..64; nil for anything else.
    public static func parse(_ text: String) -> Int32? {
        if !text.isEmpty, text.count <= 2, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int32(text) {
            return (1...64).contains(n) ? n : nil
        }
        var upper = text.uppercased()
        if upper.hasPrefix("SIG") { upper.removeFirst(3) }
        return names.first { $0.name == upper }?.number
    }

    /// "SIGTERM", or "signal 34".
    public static func name(_ signal: Int32) -> String {
        if let known = names.first(where: { $0.number == signal }) { return "SIG" + known.name }
        return "signal \(signal)"
    }

    /// Refuses targets we never signal: PIDs up to 1 and gpuctop itself.
    public static func check(pid: Int32) throws(SignalError) {
        guard pid > 1 else { throw .refusedPid(pid) }
        guard pid != getpid() else { throw .refusedSelf(pid) }
    }

    /// kill(2) on a host PID, after `check`, whatever process has the PID now. Front ends
    /// send with `send(_:to:ifStartedAt:procRoot:)`, which checks that it is the one asked about.
    public static func send(_ signal: Int32, to pid: Int32) throws(SignalError) {
        try check(pid: pid)
        guard kill(pid, signal) == 0 else { throw error(errno, pid) }
    }

    /// The one rule of every front end (the dashboard, `gpuctop signal`, a remote host's
    /// forwarded action): `signal` goes to `pid` only while it is the process that started
    /// at `startTicks` (field 22 of /proc/PID/stat, read when the user was asked). A PID
    /// whose start time was not known then is refused: a PID is reused, so the number
    /// alone does not name a process. Where the kernel has pidfds, the descriptor is
    /// opened before the check, so the process checked is the process signalled; else
    /// kill(2) follows the check at once.
    public static func send(_ signal: Int32, to pid: Int32, ifStartedAt startTicks: UInt64?,
                            procRoot: String = "/proc") throws(SignalError) {
        try check(pid: pid)
        guard let startTicks else {
            // Nothing to compare with; a PID that no process has is simply gone.
            throw kill(pid, 0) != 0 && errno == ESRCH ? .noSuchProcess(pid) : .startUnknown(pid)
        }
        switch Pidfd.open(pid) {
        case .gone:
            throw .noSuchProcess(pid)
        case .fd(let fd):
            defer { close(fd) }
            // The descriptor holds whichever process had the PID when it was opened; the
            // PID still showing the expected start time now means it is that one.
            try verify(pid: pid, startedAt: startTicks, procRoot: procRoot)
            let code = Pidfd.sendSignal(fd, signal)
            guard code == 0 else { throw error(code, pid) }
        case .unsupported:
            try verify(pid: pid, startedAt: startTicks, procRoot: procRoot)
            try send(signal, to: pid)
        }
    }

    /// Throws unless /proc shows `pid` with the start time `startTicks`.
    public static func verify(pid: Int32, startedAt startTicks: UInt64, procRoot: String = "/proc") throws(SignalError) {
        guard let now = self.startTicks(pid: pid, procRoot: procRoot) else {
            throw kill(pid, 0) != 0 && errno == ESRCH ? .noSuchProcess(pid) : .startUnknown(pid)
        }
        guard now == startTicks else { throw .pidReused(pid) }
    }

    private static func error(_ code: Int32, _ pid: Int32) -> SignalError {
        switch code {
        case ESRCH: return .noSuchProcess(pid)
        case EPERM: return .notPermitted(pid)
        default: return .failed(pid: pid, errno: code)
        }
    }

    /// The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), to
    /// notice a PID reused between a question and the signal; nil when it cannot be read.
    public static func startTicks(pid: Int32, procRoot: String = "/proc") -> UInt64? {
        let fd = open("\(procRoot)/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let text = buffer[0..<n]
        // comm may hold spaces and ')': count fields from the last ')'.
        guard let close = text.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = text[(close + 1)...].split(separator: UInt8(ascii: " "))
        // fields[0] is field 3 (state); start time is field 22.
        guard fields.count > 19 else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }
}

/// Control characters (C0, DEL, C1) flattened to spaces, for one-line messages that end
/// up on a terminal.
func oneLineText(_ text: String) -> String {
    String(String.UnicodeScalarView(text.unicodeScalars.map {
        $0.value < 0x20 || (0x7f..<0xa0).contains($0.value) ? " " : $0
    }))
}
