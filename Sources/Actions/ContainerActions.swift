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
import Support

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
            return "no such container: \(oneLine(argument))"
        case .ambiguous(let argument, let candidates):
            let shown = candidates.prefix(8).map { ContainerActions.shortLabel($0) }.joined(separator: ", ")
            let more = candidates.count > 8 ? ", and \(candidates.count - 8) more" : ""
            return "'\(oneLine(argument))' matches \(candidates.count) containers: \(shown)\(more); give more of the name or id"
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
        if let image = container.image, !image.isEmpty { facts.append("image \(oneLine(image))") }
        facts.append(container.state.map { oneLine($0) } ?? "state unknown")
        return "\(shortLabel(container)) (\(facts.joined(separator: ", ")))"
    }

    /// "web-1 [4f2a1c0d9e8b]", or the short id alone for a container without a name.
    public static func shortLabel(_ container: ContainerSummary) -> String {
        let short = String(container.id.prefix(12))
        guard let name = container.name, !name.isEmpty else { return short }
        return "\(oneLine(name)) [\(short)]"
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
