// Blocking-looking I/O on a non-blocking AF_UNIX stream socket. Every wait goes through poll()
// with a deadline, so a daemon that accepts and then hangs costs at most the timeout.
import Glibc
import Support

/// Milliseconds left until `deadline`, rounded up, for poll(); 0 once it has passed.
private func pollMilliseconds(until deadline: Double) -> Int32 {
    let left = deadline - MonotonicClock.now()
    if left <= 0 { return 0 }
    return Int32(min((left * 1000).rounded(.up), Double(Int32.max)))
}

final class UnixSocket {
    private(set) var fd: Int32
    let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close() }

    /// Connects within `timeout` seconds. Errors map to the cases callers can explain:
    /// ENOENT -> noSocket, EACCES -> permissionDenied, ECONNREFUSED -> connectionRefused.
    static func connect(path: String, timeout: Double) throws -> UnixSocket {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !pathBytes.isEmpty, pathBytes.count < capacity, !pathBytes.contains(0) else {
            throw DockerError.unsupportedHost(host: "unix://" + path, reason: "a unix socket path must be 1 to \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }

        // Non-blocking from the start: connect() on a unix socket whose listen backlog is full
        // would otherwise block without limit.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw DockerError.socketError(operation: "creating a socket", errno: errno) }
        let sock = UnixSocket(fd: fd, path: path)

        let deadline = MonotonicClock.now() + timeout
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + 1)
        while true {
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
            }
            if result == 0 { return sock }
            let code = errno
            switch code {
            case EINTR:
                continue
            case EAGAIN:
                // Linux: the listener's backlog is full. Retry briefly until the deadline.
                if MonotonicClock.now() >= deadline { throw DockerError.timeout(operation: "connecting to \(path)", seconds: timeout) }
                var pfd = pollfd(fd: -1, events: 0, revents: 0)
                _ = poll(&pfd, 0, min(10, pollMilliseconds(until: deadline)))
                continue
            case EINPROGRESS:
                try sock.wait(for: Int16(POLLOUT), deadline: deadline, timeout: timeout, operation: "connecting to \(path)")
                var soError: Int32 = 0
                var soLength = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &soLength)
                if soError == 0 { return sock }
                throw connectError(soError, path: path)
            default:
                throw connectError(code, path: path)
            }
        }
    }

    private static func connectError(_ code: Int32, path: String) -> DockerError {
        switch code {
        case ENOENT, ENOTDIR: return .noSocket(path: path)
        case EACCES, EPERM: return .permissionDenied(path: path)
        case ECONNREFUSED: return .connectionRefused(path: path)
        default: return .socketError(operation: "connecting to \(path)", errno: code)
        }
    }

    /// Writes everything before `deadline`. Uses send(MSG_NOSIGNAL): write() on a socket the
    /// peer closed raises SIGPIPE, which would kill the whole process.
    func writeAll(_ bytes: [UInt8], deadline: Double, timeout: Double) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent > 0 { offset += sent; continue }
            let code = errno
            if sent < 0 && code == EINTR { continue }
            if sent < 0 && (code == EAGAIN || code == EWOULDBLOCK) {
                try wait(for: Int16(POLLOUT), deadline: deadline, timeout: timeout, operation: "sending the request")
                continue
            }
            if code == EPIPE || code == ECONNRESET { throw SocketClosed() }
            throw DockerError.socketError(operation: "sending the request", errno: code)
        }
    }

    /// Reads what is available (up to `buffer.count` bytes), waiting until `deadline`.
    /// Returns 0 at end of file.
    func read(into buffer: inout [UInt8], deadline: Double, timeout: Double, operation: String) throws -> Int {
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count >= 0 { return count }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                try wait(for: Int16(POLLIN), deadline: deadline, timeout: timeout, operation: operation)
                continue
            }
            if code == ECONNRESET { throw SocketClosed() }
            throw DockerError.socketError(operation: operation, errno: code)
        }
    }

    /// A kept-alive connection is stale if it is readable while idle: the daemon closed it (EOF)
    /// or sent bytes we never asked for. Either way it must not carry the next request.
    var isStale: Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, 0)
        return ready != 0
    }

    private func wait(for events: Int16, deadline: Double, timeout: Double, operation: String) throws {
        while true {
            let ms = pollMilliseconds(until: deadline)
            if ms == 0 { throw DockerError.timeout(operation: operation, seconds: timeout) }
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&pfd, 1, ms)
            if ready > 0 { return }  // readable, writable, HUP or ERR: the next call tells which
            if ready < 0 && errno != EINTR { throw DockerError.socketError(operation: operation, errno: errno) }
        }
    }

    func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }
}

/// The peer reset or closed the connection under us (ECONNRESET/EPIPE); the client decides
/// whether that means "stale kept-alive connection, retry" or "closed mid-response".
struct SocketClosed: Error {}
