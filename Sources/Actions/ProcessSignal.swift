// Signals to host processes, named by PID and start time: a PID alone is only a
// number the kernel hands out again, so a signal goes only to the process that was
// asked about (checked against /proc, sent through a pidfd where there is one).
import FoundationEssentials
import Glibc
import Support

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
            return "PID \(pid): kill failed: \(errnoText(code))"
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

    /// kill(2) on a host PID, after `check`, whatever process has the PID now: only for
    /// `send(_:to:ifStartedAt:procRoot:)`'s fallback where pidfds are missing (and tests).
    static func send(_ signal: Int32, to pid: Int32) throws(SignalError) {
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
        statField(22, pid: pid, procRoot: procRoot).flatMap { UInt64($0) }
    }

    /// Field `n` (from 1, as proc(5) counts) of PROCROOT/PID/stat; nil when it cannot be
    /// read. The command name (field 2) may hold spaces and ')': fields are counted from
    /// its last ')'. Opened without blocking, so a FIFO there cannot hang the caller.
    static func statField(_ n: Int, pid: Int32, procRoot: String = "/proc") -> String? {
        let fd = open("\(procRoot)/\(pid)/stat", O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0, n >= 3 else { return nil }
        let text = buffer[0..<count]
        guard let close = text.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = text[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count > n - 3 else { return nil }   // fields[0] is field 3 (state)
        return String(decoding: fields[n - 3], as: UTF8.self)
    }
}

