// Actions on containers (stop, restart, kill through the engine) and on host processes
// (a signal with kill(2)), with typed results whose descriptions are one line.
//
// The engines are every socket EngineSockets names: Docker and Podman side by side, each
// through the Docker Engine API. A CONTAINER argument is matched against every container
// they list (running or not): an exact name or an exact full id wins; otherwise the
// containers whose id or name starts with it are the candidates. One candidate is the
// container; several are refused with the list (we never guess which one to stop), also
// when the same name is in two engines; none is "no such container".
import DockerSocket
import FoundationEssentials
import Glibc
import Model
import Support

public enum ContainerAction: Equatable, Sendable {
    /// SIGTERM, then SIGKILL after `timeout` seconds (nil: the container's own stop timeout).
    case stop(timeout: Int?)
    case restart(timeout: Int?)
    /// A signal name or number as the engine takes it ("TERM", "SIGHUP", "9"); nil: SIGKILL.
    case kill(signal: String?)

    /// "stop", "restart", "kill": the command and the audit log's action.
    public var verb: String { containerVerb.rawValue }

    public var containerVerb: ContainerVerb {
        switch self {
        case .stop: return .stop
        case .restart: return .restart
        case .kill: return .kill
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

/// A container as one engine lists it, and the socket of that engine (the rootful and the
/// rootless Podman may both list containers: the action goes where the container is).
public struct EngineContainer: Equatable, Sendable {
    /// .docker or .podman: what the engine's /version said it is.
    public var engine: ContainerRef.Runtime
    public var socketPath: String
    public var summary: ContainerSummary

    public init(engine: ContainerRef.Runtime, socketPath: String, summary: ContainerSummary) {
        self.engine = engine
        self.socketPath = socketPath
        self.summary = summary
    }

    public var id: String { summary.id }
    public var name: String? { summary.name }
}

/// What one CONTAINER argument matched.
public enum ContainerResolution: Equatable, Sendable {
    case found(EngineContainer)
    /// Several containers match; they are the candidates, best first.
    case ambiguous([EngineContainer])
    case notFound
}

public enum ContainerActionError: Error, Equatable, CustomStringConvertible {
    case notFound(argument: String)
    case ambiguous(argument: String, candidates: [EngineContainer])
    /// ContainerActionPolicy said no (Kubernetes manages it, or no API we speak reaches it);
    /// the line says why and what would do it.
    case refused(String)
    /// The engine refused or failed (404, 409 "is not running", unreachable, timeout...).
    case docker(DockerError)

    /// True when nothing was tried because the request was refused (exit status 3).
    public var isRefusal: Bool {
        switch self {
        case .ambiguous, .refused: return true
        case .notFound, .docker: return false
        }
    }

    public var description: String {
        switch self {
        case .notFound(let argument):
            return "no such container: \(oneLine(argument))"
        case .ambiguous(let argument, let candidates):
            // Name the engine of each when they are not all one engine's.
            let engines = Set(candidates.map(\.engine))
            let shown = candidates.prefix(8).map { c in
                ContainerActions.shortLabel(c.summary) + (engines.count > 1 ? " (\(ContainerActions.engineName(c.engine)))" : "")
            }.joined(separator: ", ")
            let more = candidates.count > 8 ? ", and \(candidates.count - 8) more" : ""
            return "'\(oneLine(argument))' matches \(candidates.count) containers: \(shown)\(more); give more of the name or id"
        case .refused(let line):
            return oneLine(line)
        case .docker(let error):
            return error.description
        }
    }
}

public final class ContainerActions {
    /// One client per engine socket, in EngineSockets' order.
    public let clients: [DockerClient]

    public init(clients: [DockerClient]) {
        self.clients = clients
    }

    public convenience init(client: DockerClient) {
        self.init(clients: [client])
    }

    public convenience init(endpoints: [EngineEndpoint], options: DockerClient.Options) {
        self.init(clients: endpoints.map { DockerClient(socketPath: $0.socketPath, options: options) })
    }

    public func close() {
        clients.forEach { $0.close() }
    }

    /// Every engine's containers, and the engines that could not be listed.
    public struct Listing {
        public var containers: [EngineContainer] = []
        public var failures: [(socketPath: String, error: DockerError)] = []
    }

    /// Lists every engine once; one that fails does not hide the others' containers.
    public func list() -> Listing {
        var listing = Listing()
        for client in clients {
            do {
                let containers = try client.listContainers(all: true)
                let engine: ContainerRef.Runtime = client.server?.isPodman == true ? .podman : .docker
                listing.containers += containers.map { EngineContainer(engine: engine, socketPath: client.socketPath, summary: $0) }
            } catch let error as DockerError {
                listing.failures.append((client.socketPath, error))
            } catch {
                listing.failures.append((client.socketPath, .malformedJSON(what: "the container list", detail: "\(error)")))
            }
        }
        return listing
    }

    /// Why an engine could not be listed, one line. The only engine: its error as it is; one of
    /// several: which socket, and without the Docker-specific advice a Podman socket would get.
    public static func listingFailure(socketPath: String, _ error: DockerError, only: Bool) -> String {
        if only { return error.description }
        let reason: String
        switch error {
        case .noSocket: reason = "no such socket"
        case .connectionRefused: reason = "connection refused (the engine is not running)"
        case .permissionDenied: reason = "permission denied"
        default: reason = error.description
        }
        return "cannot list the containers at \(socketPath): \(reason)"
    }

    /// Exact name or exact id first (refused as ambiguous when two engines both have it);
    /// then id prefixes and name prefixes, across all engines.
    public static func resolve(_ argument: String, among containers: [EngineContainer]) -> ContainerResolution {
        var key = argument
        if key.hasPrefix("/") { key.removeFirst() }
        guard !key.isEmpty else { return .notFound }
        // Within one engine the first exact match wins, as that engine's list orders them.
        var exact: [EngineContainer] = []
        for c in containers where c.summary.id == key || c.summary.names.contains(key) {
            if !exact.contains(where: { $0.socketPath == c.socketPath }) { exact.append(c) }
        }
        if exact.count == 1 { return .found(exact[0]) }
        if exact.count > 1 { return .ambiguous(sorted(exact)) }
        let lowerKey = key.lowercased()
        let isHex = lowerKey.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
        let candidates = containers.filter { c in
            (isHex && c.summary.id.hasPrefix(lowerKey)) || c.summary.names.contains { $0.hasPrefix(key) }
        }
        switch candidates.count {
        case 0: return .notFound
        case 1: return .found(candidates[0])
        default: return .ambiguous(sorted(candidates))
        }
    }

    private static func sorted(_ list: [EngineContainer]) -> [EngineContainer] {
        list.sorted { a, b in
            let (x, y) = (a.summary.name ?? a.summary.id, b.summary.name ?? b.summary.id)
            return x != y ? x < y : a.engine.rawValue < b.engine.rawValue
        }
    }

    /// Performs `action` on a resolved container, through the engine that listed it.
    public func perform(_ action: ContainerAction, on container: EngineContainer) throws(ContainerActionError) -> ContainerActionOutcome {
        guard let client = clients.first(where: { $0.socketPath == container.socketPath }) else {
            throw .docker(.noSocket(path: container.socketPath))
        }
        let id = container.summary.id
        do {
            switch action {
            case .stop(let timeout):
                switch try client.stopContainer(id, timeout: timeout) {
                case .stopped: return .stopped
                case .alreadyStopped: return .alreadyStopped
                }
            case .restart(let timeout):
                try client.restartContainer(id, timeout: timeout)
                return .restarted
            case .kill(let signal):
                try client.killContainer(id, signal: signal)
                return .killed(signal: Self.signalLabel(signal))
            }
        } catch let error as DockerError {
            throw .docker(error)
        } catch {
            throw .docker(.malformedHTTP(detail: "\(error)"))
        }
    }

    /// What ContainerActionPolicy needs to know of a listed container: its engine, name and
    /// labels (io.kubernetes.* under cri-dockerd).
    public static func usage(_ c: EngineContainer) -> ContainerUsage {
        var u = ContainerUsage(id: c.summary.id)
        u.runtime = c.engine
        u.name = c.summary.name
        u.image = c.summary.image
        u.status = c.summary.state
        u.labels = c.summary.labels.isEmpty ? nil : c.summary.labels
        return u
    }

    /// The policy's refusal line for `action` on a listed container, nil when it may act.
    public static func refusal(_ action: ContainerAction, on c: EngineContainer) -> String? {
        if case .refused(let line) = ContainerActionPolicy.decide(action.containerVerb, usage(c)) { return line }
        return nil
    }

    /// "Docker", "Podman", ...: how messages name an engine.
    public static func engineName(_ engine: ContainerRef.Runtime) -> String {
        switch engine {
        case .docker: return "Docker"
        case .podman: return "Podman"
        case .containerd: return "containerd"
        case .crio: return "CRI-O"
        }
    }

    /// "web-1 (image nginx:1.27, running)": what a confirmation question names; a Podman
    /// container says so ("web-1 (Podman, image ...)").
    public static func describe(_ c: EngineContainer) -> String {
        var facts: [String] = c.engine == .docker ? [] : [engineName(c.engine)]
        if let image = c.summary.image, !image.isEmpty { facts.append("image \(oneLine(image))") }
        facts.append(c.summary.state.map { oneLine($0) } ?? "state unknown")
        return "\(shortLabel(c.summary)) (\(facts.joined(separator: ", ")))"
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
