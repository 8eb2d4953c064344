// Which socket to talk to. Order, as the docker CLI does it, plus Podman's sockets as fallbacks:
//   1. --docker-host (passed in), 2. $DOCKER_HOST, 3. /var/run/docker.sock if it exists,
//   4. /run/podman/podman.sock (rootful Podman), 5. $XDG_RUNTIME_DIR/podman/podman.sock
//   (rootless Podman), else /var/run/docker.sock so the error names the usual path.
// Only unix:// hosts are supported: gpuctop runs next to the GPUs it watches, and a TCP daemon
// would need TLS, which we do not carry.
import Glibc
import Support

public struct DockerEndpoint: Equatable, Sendable {
    public enum Source: String, Equatable, Sendable {
        case option, environment, dockerDefault, podmanRootful, podmanRootless, fallback
    }

    public var socketPath: String
    /// Where the path came from, for messages such as "using Podman at ...".
    public var source: Source

    public init(socketPath: String, source: Source) {
        self.socketPath = socketPath
        self.source = source
    }

    public static let dockerDefaultPath = "/var/run/docker.sock"
    public static let podmanRootfulPath = "/run/podman/podman.sock"

    /// Resolves the endpoint. `environment` defaults to the process environment; `fileExists`
    /// to stat(), and both are parameters so that tests need not touch the real machine.
    public static func resolve(
        dockerHost: String?,
        environment: [String: String]? = nil,
        fileExists: ((String) -> Bool)? = nil
    ) throws -> DockerEndpoint {
        let env: (String) -> String? = { name in
            if let environment { return environment[name] }
            guard let value = getenv(name) else { return nil }
            return String(cString: value)
        }
        let exists = fileExists ?? { path in
            var info = stat()
            return stat(path, &info) == 0
        }

        if let host = dockerHost, !host.isEmpty {
            return DockerEndpoint(socketPath: try socketPath(fromHost: host), source: .option)
        }
        if let host = env("DOCKER_HOST"), !host.isEmpty {
            return DockerEndpoint(socketPath: try socketPath(fromHost: host), source: .environment)
        }
        if exists(dockerDefaultPath) { return DockerEndpoint(socketPath: dockerDefaultPath, source: .dockerDefault) }
        if exists(podmanRootfulPath) { return DockerEndpoint(socketPath: podmanRootfulPath, source: .podmanRootful) }
        if let runtime = env("XDG_RUNTIME_DIR"), !runtime.isEmpty {
            let path = (runtime.hasSuffix("/") ? String(runtime.dropLast()) : runtime) + "/podman/podman.sock"
            if exists(path) { return DockerEndpoint(socketPath: path, source: .podmanRootless) }
        }
        return DockerEndpoint(socketPath: dockerDefaultPath, source: .fallback)
    }

    /// "unix:///path" -> "/path". A bare absolute path is accepted too. Anything else
    /// (tcp://, ssh://, npipe://, fd://) is refused with a one-line reason.
    public static func socketPath(fromHost host: String) throws -> String {
        if host.hasPrefix("/") { return host }
        guard let schemeEnd = host.firstRange(ofText: "://") else {
            throw DockerError.unsupportedHost(host: host, reason: "expected unix:///path/to/docker.sock")
        }
        let scheme = host[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "unix" else {
            throw DockerError.unsupportedHost(host: host, reason: "only unix:// sockets are supported, not \(scheme)://")
        }
        let path = String(host[schemeEnd.upperBound...])
        guard path.hasPrefix("/") else {
            throw DockerError.unsupportedHost(host: host, reason: "the socket path must be absolute (unix:///path)")
        }
        return path
    }
}
