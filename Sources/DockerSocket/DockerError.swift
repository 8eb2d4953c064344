// Every way a Docker call can fail, as one typed error. Callers show `description` in a status
// line, so each description is a single line (daemon messages are flattened and truncated).
import Glibc
import Support

public enum DockerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The socket path does not exist (ENOENT): no daemon installed or not started.
    case noSocket(path: String)
    /// The socket exists but we may not connect (EACCES/EPERM): not root and not in group docker.
    case permissionDenied(path: String)
    /// The socket file exists but nobody listens (ECONNREFUSED): the daemon died or is restarting.
    case connectionRefused(path: String)
    /// Connecting or waiting for a response took longer than the configured timeout.
    case timeout(operation: String, seconds: Double)
    /// The daemon closed the connection before the response was complete.
    case connectionClosed(detail: String)
    /// Any other socket-level failure, with the errno it came with.
    case socketError(operation: String, errno: Int32)
    /// The bytes received are not a valid HTTP/1.x response.
    case malformedHTTP(detail: String)
    /// The body is not the JSON we expected.
    case malformedJSON(what: String, detail: String)
    /// The response body exceeds the configured bound; it was not read.
    case bodyTooLarge(limit: Int)
    /// `tcp://`, `ssh://` and other non-unix Docker hosts are not supported.
    case unsupportedHost(host: String, reason: String)
    /// The daemon's oldest accepted API version is newer than the newest one we speak.
    case apiTooOld(ours: String, serverMinimum: String)
    /// 404 on a container call: no container with that id or name.
    case noSuchContainer(id: String, message: String)
    /// 409 (or Podman's 500 "container state improper"): the container's state forbids the call,
    /// for example killing a container that is not running.
    case conflict(message: String)
    /// Any other non-success status, with the daemon's message (JSON `message` or plain text).
    case daemonError(status: Int, message: String)

    public var description: String {
        switch self {
        case .noSocket(let path):
            return "no Docker socket at \(path) (is the daemon running? set --docker-host or DOCKER_HOST)"
        case .permissionDenied(let path):
            return "permission denied on \(path) (run as root or join the docker group)"
        case .connectionRefused(let path):
            return "connection refused on \(path) (the daemon is not running or is restarting)"
        case .timeout(let operation, let seconds):
            return "timed out after \(formatSeconds(seconds)) s while \(operation)"
        case .connectionClosed(let detail):
            return "the daemon closed the connection \(oneLine(detail))"
        case .socketError(let operation, let errno):
            return "socket error while \(operation): \(errnoText(errno)) (errno \(errno))"
        case .malformedHTTP(let detail):
            return "malformed HTTP response: \(oneLine(detail))"
        case .malformedJSON(let what, let detail):
            return "malformed JSON in \(what): \(oneLine(detail))"
        case .bodyTooLarge(let limit):
            return "response body larger than the \(limit)-byte limit; not read"
        case .unsupportedHost(let host, let reason):
            return "Docker host \(oneLine(host)) is not supported: \(reason)"
        case .apiTooOld(let ours, let serverMinimum):
            return "the daemon requires Docker API \(serverMinimum) or newer; gpuctop speaks at most \(ours)"
        case .noSuchContainer(let id, let message):
            return message.isEmpty ? "no such container: \(oneLine(id))" : oneLine(message)
        case .conflict(let message):
            return "conflict: \(oneLine(message))"
        case .daemonError(let status, let message):
            return message.isEmpty ? "the daemon answered HTTP \(status)" : "the daemon answered HTTP \(status): \(oneLine(message))"
        }
    }
}

private func formatSeconds(_ seconds: Double) -> String {
    // 0.3 -> "0.3", 2 -> "2": enough precision for a human without pulling in a formatter.
    let tenths = Int((seconds * 10).rounded())
    return tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
}
