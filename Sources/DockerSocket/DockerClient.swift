// The Docker Engine API client: one kept-alive connection, strict deadlines, typed results.
//
// Thread-safety: a DockerClient may be used from one thread at a time (it may move between
// threads, hence @unchecked Sendable, but calls must not overlap). It holds one connection and
// the negotiated API version and does no locking. The events stream has its own connection and
// thread, so it can run while the client keeps answering calls.
import FoundationEssentials
import Glibc
import Support

public final class DockerClient: @unchecked Sendable {
    public struct Options: Equatable, Sendable {
        /// Seconds to establish the connection.
        public var connectTimeout: Double
        /// Seconds for a whole response to arrive after the request (stop and restart add the
        /// container's stop timeout on top, since the daemon answers only when it is done).
        public var readTimeout: Double
        /// Larger response bodies are refused with `bodyTooLarge` instead of buffered.
        public var maxBodyBytes: Int
        /// The newest API version we ask for; negotiation may choose lower.
        public var newestAPIVersion: APIVersion

        public init(connectTimeout: Double = 2, readTimeout: Double = 2, maxBodyBytes: Int = 16 << 20,
                    newestAPIVersion: APIVersion = .newestSupported) {
            self.connectTimeout = connectTimeout
            self.readTimeout = readTimeout
            self.maxBodyBytes = maxBodyBytes
            self.newestAPIVersion = newestAPIVersion
        }
    }

    public let socketPath: String
    public var options: Options
    /// The daemon as /version described it; set by `negotiate()` (called on first need) and
    /// cleared when the daemon becomes unreachable, so a restarted daemon is asked again.
    public private(set) var server: DockerServerInfo?

    private var connection: UnixSocket?

    public init(socketPath: String, options: Options = Options()) {
        self.socketPath = socketPath
        self.options = options
    }

    /// A client for `DockerEndpoint.resolve(dockerHost:)`: --docker-host, DOCKER_HOST, defaults.
    public convenience init(dockerHost: String?, options: Options = Options()) throws {
        self.init(socketPath: try DockerEndpoint.resolve(dockerHost: dockerHost).socketPath, options: options)
    }

    /// Closes the kept connection; the next call opens a new one.
    public func close() {
        connection?.close()
        connection = nil
    }

    // MARK: - Calls

    /// `GET /_ping`: cheap liveness check.
    public func ping() throws {
        let response = try send("GET", "/_ping")
        try Self.check(response, containerID: nil)
    }

    /// `GET /version` (unversioned) and choose the API version for later calls: the lower of
    /// ours and the daemon's, failing with `apiTooOld` below the daemon's minimum.
    @discardableResult
    public func negotiate() throws -> DockerServerInfo {
        let response = try send("GET", "/version")
        try Self.check(response, containerID: nil)
        let document = try Self.decode(VersionDocument.self, from: response.body, what: "/version")
        let chosen = try APIVersion.negotiate(serverVersion: document.apiVersion, serverMinimum: document.minAPIVersion,
                                              ours: options.newestAPIVersion)
        let info = DockerServerInfo(version: document.version, apiVersion: document.apiVersion,
                                    minAPIVersion: document.minAPIVersion, os: document.os, arch: document.arch,
                                    kernelVersion: document.kernelVersion, platformName: document.platformName,
                                    componentNames: document.componentNames, isPodman: document.isPodman,
                                    negotiatedAPIVersion: chosen)
        server = info
        return info
    }

    /// `GET /containers/json?all=1`: every container, running or not (all: false for running only).
    public func listContainers(all: Bool = true) throws -> [ContainerSummary] {
        let response = try send("GET", try versioned("/containers/json" + (all ? "?all=1" : "")))
        try Self.check(response, containerID: nil)
        return try Self.decode([ContainerSummary].self, from: response.body, what: "the container list")
    }

    /// `GET /containers/{id}/json`.
    public func inspectContainer(_ id: String) throws -> ContainerDetails {
        let response = try send("GET", try versioned("/containers/\(percentEncode(id))/json"))
        try Self.check(response, containerID: id)
        return try Self.decode(ContainerDetails.self, from: response.body, what: "container \(id)")
    }

    /// `POST /containers/{id}/stop?t=`: SIGTERM, then SIGKILL after `timeout` seconds (nil: the
    /// container's own stop timeout, 10 s unless set; we then wait up to 30 s for the answer).
    /// Docker's 304 is `.alreadyStopped`.
    /// Podman answers 204 even for a never-started container; that reads as `.stopped`.
    public func stopContainer(_ id: String, timeout: Int? = nil) throws -> StopResult {
        let query = timeout.map { "?t=\($0)" } ?? ""
        let response = try send("POST", try versioned("/containers/\(percentEncode(id))/stop" + query),
                                extraSeconds: Self.grace(for: timeout))
        if response.status == 304 { return .alreadyStopped }
        try Self.check(response, containerID: id)
        return .stopped
    }

    /// `POST /containers/{id}/restart?t=`.
    public func restartContainer(_ id: String, timeout: Int? = nil) throws {
        let query = timeout.map { "?t=\($0)" } ?? ""
        let response = try send("POST", try versioned("/containers/\(percentEncode(id))/restart" + query),
                                extraSeconds: Self.grace(for: timeout))
        try Self.check(response, containerID: id)
    }

    /// `POST /containers/{id}/kill?signal=`: signal by name ("SIGTERM", "TERM", "9"); nil sends
    /// SIGKILL. A container that is not running gives `.conflict` (Docker 409, Podman 500).
    public func killContainer(_ id: String, signal: String? = nil) throws {
        let query = signal.map { "?signal=\(percentEncode($0))" } ?? ""
        let response = try send("POST", try versioned("/containers/\(percentEncode(id))/kill" + query))
        try Self.check(response, containerID: id)
    }

    /// Opens `/events?filters={"type":["container"]}` on a new connection and delivers each event
    /// to `onEvent` on a background thread. `onEnd` is called exactly once, on that thread, when
    /// the stream stops for any reason; after an end other than `.stopped`, re-list containers
    /// and open a new stream. Throws if the stream cannot be established (the daemon answered
    /// with an error, or within the timeouts not at all).
    public func events(onEvent: @escaping @Sendable (DockerEvent) -> Void,
                       onEnd: @escaping @Sendable (DockerEventStream.End) -> Void) throws -> DockerEventStream {
        let filters = percentEncode(#"{"type":["container"]}"#)
        let target = try versioned("/events?filters=\(filters)")
        do {
            return try DockerEventStream.open(socketPath: socketPath, target: target, options: options,
                                              onEvent: onEvent, onEnd: onEnd)
        } catch let error as DockerError {
            forgetServerIfUnreachable(error)
            throw error
        }
    }

    // MARK: - Request plumbing

    /// The daemon only answers stop/restart when the container is down; allow for that.
    private static func grace(for timeout: Int?) -> Double {
        Double(max(timeout ?? 30, 0)) + 1
    }

    private func versioned(_ path: String) throws -> String {
        let info = try server ?? negotiate()
        guard let version = info.negotiatedAPIVersion else { return path }
        return "/v\(version)\(path)"
    }

    /// A kept-alive connection turned out closed before any byte of the answer came back:
    /// the request never reached a live handler, so sending it again on a new one is safe.
    private struct StaleConnection: Error {}

    /// Sends one request and reads the whole response, reusing the kept connection when it is
    /// still open and reconnecting once if it turns out closed.
    func send(_ method: String, _ target: String, extraSeconds: Double = 0) throws -> HTTPResponse {
        var retried = false
        while true {
            let reused: Bool
            let sock: UnixSocket
            if let kept = connection, !kept.isStale {
                sock = kept
                reused = true
            } else {
                close()
                do {
                    sock = try UnixSocket.connect(path: socketPath, timeout: options.connectTimeout)
                } catch let error as DockerError {
                    forgetServerIfUnreachable(error)
                    throw error
                }
                connection = sock
                reused = false
            }
            do {
                let (response, reusable) = try exchange(sock, method, target, reused: reused, extraSeconds: extraSeconds)
                if !reusable { close() }
                return response
            } catch is StaleConnection where !retried {
                close()
                retried = true
            } catch is StaleConnection {
                close()
                throw DockerError.connectionClosed(detail: "before sending a response")
            } catch {
                // After a timeout or a broken response the connection's state is unknown.
                close()
                throw error
            }
        }
    }

    private func exchange(_ sock: UnixSocket, _ method: String, _ target: String, reused: Bool,
                          extraSeconds: Double) throws -> (HTTPResponse, reusable: Bool) {
        let timeout = options.readTimeout + extraSeconds
        let deadline = MonotonicClock.now() + timeout
        do {
            try sock.writeAll(HTTPRequest(method: method, target: target).serialized(), deadline: deadline, timeout: timeout)
        } catch is SocketClosed {
            if reused { throw StaleConnection() }
            throw DockerError.connectionClosed(detail: "while we sent the request")
        }

        var parser = HTTPResponseParser(limits: .init(maxBodyBytes: options.maxBodyBytes), bodyless: method == "HEAD")
        var body: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        let operation = "waiting for the answer to \(method) \(target)"
        while !parser.isComplete {
            var count: Int
            do {
                count = try sock.read(into: &buffer, deadline: deadline, timeout: timeout, operation: operation)
            } catch is SocketClosed {
                count = 0  // a reset reads as end of file: finish() says what was cut short
            }
            if count == 0 {
                if reused && !parser.receivedAnyBytes { throw StaleConnection() }
                _ = try parser.finish()
                break
            }
            for event in try parser.feed(buffer[0..<count]) {
                if case .body(let part) = event { body.append(contentsOf: part) }
            }
        }
        guard let head = parser.head else { throw DockerError.connectionClosed(detail: "before sending a response") }
        return (HTTPResponse(head: head, body: body, trailers: parser.trailers), parser.connectionReusable)
    }

    /// If the daemon went away, the next one on this path may be a different version.
    private func forgetServerIfUnreachable(_ error: DockerError) {
        switch error {
        case .noSocket, .connectionRefused, .permissionDenied: server = nil
        default: break
        }
    }

    // MARK: - Answers

    /// Maps a non-2xx response to its typed error.
    static func check(_ response: HTTPResponse, containerID: String?) throws {
        let status = response.status
        if (200..<300).contains(status) { return }
        let message = daemonMessage(response.body)
        switch status {
        case 404 where containerID != nil:
            throw DockerError.noSuchContainer(id: containerID!, message: message)
        case 409:
            throw DockerError.conflict(message: message)
        case 500 where containerID != nil && Self.isPodmanStateError(message):
            // Podman answers 500 "... container state improper" where Docker says 409.
            throw DockerError.conflict(message: message)
        default:
            throw DockerError.daemonError(status: status, message: message)
        }
    }

    private static func isPodmanStateError(_ message: String) -> Bool {
        let lower = message.lowercased()
        return lower.includes("container state improper") || lower.includes("is not running")
    }

    /// Docker sends `{"message": "..."}`; proxies and some errors send plain text.
    static func daemonMessage(_ body: [UInt8]) -> String {
        struct ErrorDocument: Decodable { var message: String? }
        if let document = try? JSONDecoder().decode(ErrorDocument.self, from: Data(body)), let message = document.message {
            return oneLine(message)
        }
        return oneLine(String(decoding: body.prefix(4096), as: UTF8.self))
    }

    static func decode<T: Decodable>(_ type: T.Type, from body: [UInt8], what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch let error as DecodingError {
            throw DockerError.malformedJSON(what: what, detail: shortDescription(error))
        } catch {
            throw DockerError.malformedJSON(what: what, detail: "\(error)")
        }
    }

    /// DecodingError's own description is a multi-line dump; keep the useful part.
    static func shortDescription(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "top level" : keys.joined(separator: ".")
        }
        switch error {
        case .dataCorrupted(let context):
            return oneLine(context.debugDescription, limit: 120)
        case .keyNotFound(let key, let context):
            return "missing \(key.stringValue) at \(path(context))"
        case .typeMismatch(let type, let context):
            return "expected \(type) at \(path(context))"
        case .valueNotFound(let type, let context):
            return "null where \(type) was expected at \(path(context))"
        @unknown default:
            return "undecodable"
        }
    }
}
