// The engine sockets a container action consults: Docker's and Podman's, all that exist,
// since a host may run both. Each speaks the Docker Engine API (Podman serves it too), so
// one client type acts on either. Which engine answers is learnt from its /version.
//
//   Docker: --docker-host, else $DOCKER_HOST, else /var/run/docker.sock if it exists.
//   Podman: --podman-host (or $GPUCTOP_PODMAN_HOST, read with the options), else the rootful
//           /run/podman/podman.sock and the rootless $XDG_RUNTIME_DIR/podman/podman.sock,
//           each if it exists.
// A socket named twice (DOCKER_HOST pointing at Podman's) is consulted once. With none at
// all, Docker's usual path, so that the error names it.
import DockerSocket
import Glibc
import Telemetry

public struct EngineEndpoint: Equatable, Sendable {
    public var socketPath: String
    /// Named by an option or a variable: a failure to read it is reported even when another
    /// engine has the container. A socket found at its usual path is only tried (a rootful
    /// Podman socket that a user may not open is normal, not news).
    public var explicit: Bool

    public init(socketPath: String, explicit: Bool) {
        self.socketPath = socketPath
        self.explicit = explicit
    }
}

public enum EngineSockets {
    /// The sockets to consult, Docker's first. `environment` and `fileExists` are parameters
    /// so that tests need not touch the machine. The usual paths are the host's, under
    /// `hostPaths` (`--host-root`) when gpuctop runs in a container; named ones are taken as given.
    public static func endpoints(dockerHost: String?, podmanHost: String?, environment: [String: String],
                                 hostPaths: HostPaths = HostPaths(),
                                 fileExists: (String) -> Bool = EngineSockets.socketExists) throws -> [EngineEndpoint] {
        var found: [EngineEndpoint] = []
        func add(_ path: String, explicit: Bool) {
            if !found.contains(where: { $0.socketPath == path }) { found.append(EngineEndpoint(socketPath: path, explicit: explicit)) }
        }
        if let host = dockerHost.flatMap({ $0.isEmpty ? nil : $0 }) ?? environment["DOCKER_HOST"].flatMap({ $0.isEmpty ? nil : $0 }) {
            add(try DockerEndpoint.socketPath(fromHost: host), explicit: true)
        } else if fileExists(hostPaths.path(DockerEndpoint.dockerDefaultPath)) {
            add(hostPaths.path(DockerEndpoint.dockerDefaultPath), explicit: false)
        }
        if let host = podmanHost, !host.isEmpty {
            add(try DockerEndpoint.socketPath(fromHost: host), explicit: true)
        } else {
            let rootful = hostPaths.path(DockerEndpoint.podmanRootfulPath)
            if fileExists(rootful) { add(rootful, explicit: false) }
            if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
                let path = hostPaths.path((runtime.hasSuffix("/") ? String(runtime.dropLast()) : runtime) + "/podman/podman.sock")
                if fileExists(path) { add(path, explicit: false) }
            }
        }
        if found.isEmpty { add(hostPaths.path(DockerEndpoint.dockerDefaultPath), explicit: true) }
        return found
    }

    /// stat(2) succeeds: the path exists (whether we may open it is the connection's business).
    public static func socketExists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }
}
