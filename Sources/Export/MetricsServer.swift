// A small HTTP/1.1 server for `gpuctop export --listen`: GET /metrics and nothing
// else, on POSIX sockets (no Foundation, no third-party packages).
//
// One acceptor thread hands connections to a fixed pool of worker threads through
// a bounded queue; a full queue is answered 503 at once. Each connection gets one
// request: the headers must arrive within `readTimeout` seconds and fit in
// `maxHeaderBytes` (else 408 or 431), the answer is written within `writeTimeout`,
// and the connection is closed (Connection: close). Workers serve the body the
// sampler published last: a scrape never waits for a refresh, and a refresh never
// waits for a scrape. Whether the body is fresh (gpuctop_up) is decided per scrape.
import Glibc
import Support

/// A `--listen` value that is not an address.
public struct ListenAddressError: Error, CustomStringConvertible {
    public let description: String
}

public struct ListenAddress: Equatable {
    public var host: String
    public var port: UInt16

    /// `HOST:PORT`, `[IPV6]:PORT` or `:PORT` (all IPv4 interfaces).
    public static func parse(_ text: String) throws -> ListenAddress {
        let bad = ListenAddressError(description: "--listen takes HOST:PORT, [IPV6]:PORT or :PORT, not '\(text)'")
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw bad }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw bad }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw bad }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { throw bad }   // an IPv6 address needs brackets
        }
        if host.isEmpty { host = "0.0.0.0" }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(portText), port <= 65535 else { throw bad }
        return ListenAddress(host: String(host), port: UInt16(port))
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

public struct ServerError: Error, CustomStringConvertible {
    public let description: String
}

public final class MetricsServer: @unchecked Sendable {
    public static let maxHeaderBytes = 8192
    public static let maxQueued = 64

    public let address: ListenAddress          // with the port the kernel chose for port 0
    public let readTimeout: Double
    public let writeTimeout: Double
    public let staleAfter: Double
    private let listenFD: Int32
    private let workerCount: Int

    /// What the acceptor, the workers, the sampler (publish) and stop share.
    private struct Shared {
        var queue: [(fd: Int32, accepted: Double)] = []
        var stopping = false
        var busy = 0
        var body: [UInt8] = []
        var refreshedAt = 0.0
        var threads: [pthread_t] = []
    }
    private let shared = LockedValue(Shared())

    private let upBody = Array(PrometheusText.upFamily(true).utf8)
    private let downBody = Array(PrometheusText.upFamily(false).utf8)

    /// Binds and listens (connections wait in the backlog until `start`).
    public init(address: ListenAddress, workers: Int = 4, readTimeout: Double = 5, writeTimeout: Double = 10,
         staleAfter: Double) throws {
        self.readTimeout = readTimeout
        self.writeTimeout = writeTimeout
        self.staleAfter = staleAfter
        self.workerCount = workers
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(address.host, String(address.port), &hints, &list)
        guard rc == 0, let info = list else {
            throw ServerError(description: "cannot listen on \(address.description): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw ServerError(description: "cannot listen on \(address.description): \(errnoText(errno))")
        }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, 64) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw ServerError(description: "cannot listen on \(address.description): \(errnoText(e))")
        }
        listenFD = fd
        var bound = address
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                if getsockname(fd, sa, &length) == 0 {
                    if Int32(sa.pointee.sa_family) == AF_INET {
                        sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { bound.port = UInt16(bigEndian: $0.pointee.sin_port) }
                    } else if Int32(sa.pointee.sa_family) == AF_INET6 {
                        sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { bound.port = UInt16(bigEndian: $0.pointee.sin6_port) }
                    }
                }
            }
        }
        self.address = bound
    }

    deinit {
        Glibc.close(listenFD)
    }

    /// The body later scrapes serve (without the gpuctop_up family, added per scrape).
    public func publish(_ text: String) {
        let bytes = Array(text.utf8)
        let now = MonotonicClock.now()
        shared.withLock {
            $0.body = bytes
            $0.refreshedAt = now
        }
    }

    public func start() {
        var started: [pthread_t] = []
        if let t = spawnThread({ [self] in acceptLoop() }) { started.append(t) }
        for _ in 0..<workerCount {
            if let t = spawnThread({ [self] in workerLoop() }) { started.append(t) }
        }
        shared.withLock { $0.threads = started }
    }

    /// Stops accepting, lets requests in progress finish (up to `grace` seconds), and
    /// closes whatever is still queued.
    public func stop(grace: Double = 2) {
        let all: [pthread_t] = shared.update {
            $0.stopping = true
            return $0.threads
        }
        // The acceptor polls with a short timeout and then sees `stopping`.
        if let acceptor = all.first { pthread_join(acceptor, nil) }
        shutdown(listenFD, Int32(SHUT_RDWR))
        let left = shared.wait(until: { $0.busy == 0 }, deadline: MonotonicClock.now() + grace) { state in
            defer { state.queue = [] }
            return state.queue
        }
        for (fd, _) in left { Glibc.close(fd) }
        for t in all.dropFirst() { pthread_detach(t) }
    }

    // MARK: - Threads

    private func acceptLoop() {
        while !shared.withLock({ $0.stopping }) {
            var p = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 200)
            if ready <= 0 { continue }
            let conn = accept(listenFD, nil, nil)
            if conn < 0 { continue }
            _ = fcntl(conn, F_SETFD, FD_CLOEXEC)
            let now = MonotonicClock.now()
            let queued: Bool = shared.update {
                guard !$0.stopping, $0.queue.count < Self.maxQueued else { return false }
                $0.queue.append((conn, now))
                return true
            }
            if !queued {
                // Too many waiting: say so without blocking the acceptor, and close.
                let r = Self.response(status: "503 Service Unavailable", extra: ["Retry-After: 1"],
                                      body: Array("too many connections\n".utf8))
                _ = r.withUnsafeBytes { send(conn, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                Glibc.close(conn)
            }
        }
    }

    private func workerLoop() {
        while true {
            let next: (fd: Int32, accepted: Double)? = shared.wait(until: { !$0.queue.isEmpty || $0.stopping }) { state in
                guard !state.queue.isEmpty else { return nil }  // stopping, nothing left
                state.busy += 1
                return state.queue.removeFirst()
            }
            guard let (conn, accepted) = next else { return }
            serve(conn, accepted: accepted)
            shared.update { $0.busy -= 1 }
        }
    }

    // MARK: - One connection

    /// The read timeout counts from the accept, so a connection that waited in the
    /// queue behind stalled ones does not get a fresh allowance.
    private func serve(_ conn: Int32, accepted: Double) {
        // After an answer the client reads it and closes; a client that was cut off
        // mid-headers (431) may still be sending: wait longer for it.
        var linger = 0.25
        defer { lingeringClose(conn, for: linger) }
        let deadline = accepted + readTimeout
        var buffer = [UInt8]()
        buffer.reserveCapacity(1024)
        var chunk = [UInt8](repeating: 0, count: 2048)
        var headerEnd: Int?
        while headerEnd == nil {
            if buffer.count >= Self.maxHeaderBytes {
                linger = 1
                write(conn, Self.response(status: "431 Request Header Fields Too Large",
                                          body: Array("request headers larger than \(Self.maxHeaderBytes) bytes\n".utf8)))
                return
            }
            // What has arrived is read even past the deadline (a request that waited in
            // the queue); only a wait for more ends in 408.
            let left = max(0, deadline - MonotonicClock.now())
            var p = pollfd(fd: conn, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(min(left * 1000, 1000).rounded(.up)))
            if ready < 0 && errno != EINTR { return }
            if ready == 0 && left <= 0 {
                linger = 0      // a silent client: nothing to wait for
                write(conn, Self.response(status: "408 Request Timeout", body: Array("request timeout\n".utf8)))
                return
            }
            if ready <= 0 { continue }
            let room = min(chunk.count, Self.maxHeaderBytes - buffer.count)
            let n = chunk.withUnsafeMutableBytes { recv(conn, $0.baseAddress, room, 0) }
            if n == 0 { return }                      // the client went away
            if n < 0 { if errno == EINTR || errno == EAGAIN { continue }; return }
            let scanFrom = max(0, buffer.count - 3)
            buffer.append(contentsOf: chunk[0..<n])
            headerEnd = Self.findHeaderEnd(buffer, from: scanFrom)
        }
        let reply = respond(to: Array(buffer[0..<headerEnd!]))
        write(conn, reply)
    }

    /// Index just past the blank line ending the headers (CRLF CRLF, or LF LF).
    public static func findHeaderEnd(_ b: [UInt8], from start: Int) -> Int? {
        var i = start
        while i < b.count {
            if b[i] == 10 {
                if i + 1 < b.count && b[i + 1] == 10 { return i + 2 }
                if i + 2 < b.count && b[i + 1] == 13 && b[i + 2] == 10 { return i + 3 }
            }
            i += 1
        }
        return nil
    }

    private func respond(to head: [UInt8]) -> [UInt8] {
        let lineEnd = head.firstIndex(of: 10) ?? head.count
        var line = head[0..<lineEnd]
        if line.last == 13 { line = line.dropLast() }
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[1].first == UInt8(ascii: "/"),
              parts[2].starts(with: Array("HTTP/1.".utf8)) else {
            return Self.response(status: "400 Bad Request", body: Array("bad request line\n".utf8))
        }
        let method = String(decoding: parts[0], as: UTF8.self)
        var path = parts[1]
        if let q = path.firstIndex(of: UInt8(ascii: "?")) { path = path[path.startIndex..<q] }
        guard path.elementsEqual("/metrics".utf8) else {
            return Self.response(status: "404 Not Found", body: Array("not found: metrics are at /metrics\n".utf8))
        }
        guard method == "GET" else {
            return Self.response(status: "405 Method Not Allowed", extra: ["Allow: GET"],
                                 body: Array("method not allowed: use GET\n".utf8))
        }
        let (current, at) = shared.withLock { ($0.body, $0.refreshedAt) }
        let fresh = MonotonicClock.now() - at <= staleAfter
        return Self.response(status: "200 OK", contentType: PrometheusText.contentType,
                             body: (fresh ? upBody : downBody) + current)
    }

    public static func response(status: String, contentType: String = "text/plain; charset=utf-8",
                         extra: [String] = [], body: [UInt8]) -> [UInt8] {
        var head = "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
        for line in extra { head += line + "\r\n" }
        head += "Connection: close\r\n\r\n"
        return Array(head.utf8) + body
    }

    /// Writes everything, or gives up at the write deadline or on an error.
    private func write(_ conn: Int32, _ bytes: [UInt8]) {
        let deadline = MonotonicClock.now() + writeTimeout
        var offset = 0
        bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let left = deadline - MonotonicClock.now()
                if left <= 0 { return }
                var p = pollfd(fd: conn, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&p, 1, Int32(min(left * 1000, 1000).rounded(.up)))
                if ready < 0 && errno != EINTR { return }
                if ready <= 0 { continue }
                let n = send(conn, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                if n < 0 { if errno == EINTR || errno == EAGAIN { continue }; return }
                offset += n
            }
        }
    }

    /// Ends our side, then reads what the client still sends (briefly) before closing,
    /// so unread request bytes do not turn the close into a reset that loses the answer.
    private func lingeringClose(_ conn: Int32, for seconds: Double) {
        shutdown(conn, Int32(SHUT_WR))
        let deadline = MonotonicClock.now() + seconds
        var drained = 0
        var sink = [UInt8](repeating: 0, count: 4096)
        while drained < 256 * 1024 {
            let left = max(0, deadline - MonotonicClock.now())
            var p = pollfd(fd: conn, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32((left * 1000).rounded(.up)))
            if ready <= 0 { if ready < 0 && errno == EINTR { continue }; break }
            let n = sink.withUnsafeMutableBytes { recv(conn, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 { if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }; break }
            drained += n
        }
        Glibc.close(conn)
    }
}


