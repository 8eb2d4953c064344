// Error paths and connection handling against fake daemons on real AF_UNIX sockets. Each case
// must end in a typed error within its timeout: never a crash, never a hang.
@testable import DockerSocket
import Foundation
import XCTest

final class FakeDaemonTests: XCTestCase {
    private var servers: [FakeDockerServer] = []

    override func tearDown() {
        for server in servers { server.stop() }
        servers = []
        super.tearDown()
    }

    override class func tearDown() {
        removeTemporarySockets()
        super.tearDown()
    }

    /// A server that answers /version like Debian's dockerd and everything else with `handler`.
    private func server(path: String = temporarySocketPath(), version: String = versionBody(),
                        _ handler: @escaping (FakeDockerServer.Request, FakeDockerServer.Connection) -> Void) throws -> FakeDockerServer {
        let server = try FakeDockerServer(path: path) { request, connection in
            if request.target == "/version" {
                connection.send(httpResponse(200, body: version))
            } else {
                handler(request, connection)
            }
        }
        servers.append(server)
        return server
    }

    private func client(_ server: FakeDockerServer, readTimeout: Double = 2, maxBody: Int = 16 << 20) -> DockerClient {
        DockerClient(socketPath: server.path, options: .init(connectTimeout: 1, readTimeout: readTimeout, maxBodyBytes: maxBody))
    }

    private func time<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let start = Date()
        let value = try body()
        return (value, Date().timeIntervalSince(start))
    }

    // MARK: connecting

    func testNoSocket() {
        let path = temporarySocketPath()
        let client = DockerClient(socketPath: path)
        assertDockerError(try client.listContainers()) { $0 == .noSocket(path: path) }
        let missingDir = DockerClient(socketPath: "/nonexistent-gpuctop-dir/docker.sock")
        assertDockerError(try missingDir.negotiate()) { $0 == .noSocket(path: "/nonexistent-gpuctop-dir/docker.sock") }
    }

    func testDaemonGoneGivesConnectionRefused() throws {
        // A socket file with nobody listening, as a crashed daemon leaves behind.
        let path = temporarySocketPath()
        let fd = try FakeDockerServer.bindAndListen(path: path, backlog: 1)
        close(fd)
        let client = DockerClient(socketPath: path)
        assertDockerError(try client.negotiate()) { $0 == .connectionRefused(path: path) }
    }

    func testSocketPathTooLong() {
        let client = DockerClient(socketPath: "/tmp/" + String(repeating: "x", count: 200))
        assertDockerError(try client.ping()) { if case .unsupportedHost = $0 { return true }; return false }
    }

    func testConnectTimeoutWhenBacklogIsFull() throws {
        // Nobody accepts and the backlog is full: connect() cannot complete.
        let path = temporarySocketPath()
        let listenFD = try FakeDockerServer.bindAndListen(path: path, backlog: 0)
        defer { close(listenFD) }
        var fillers: [UnixSocket] = []
        defer { fillers.forEach { $0.close() } }
        for _ in 0..<4 {
            if let sock = try? UnixSocket.connect(path: path, timeout: 0.05) { fillers.append(sock) } else { break }
        }
        let client = DockerClient(socketPath: path, options: .init(connectTimeout: 0.3, readTimeout: 0.3))
        let (_, elapsed) = try time {
            assertDockerError(try client.ping()) { if case .timeout = $0 { return true }; return false }
        }
        XCTAssertLessThan(elapsed, 2)
    }

    // MARK: (a) .. (e) broken daemons

    func testHungDaemonTimesOut() throws {
        let server = try FakeDockerServer(path: temporarySocketPath()) { _, _ in }  // accepts, never answers
        servers.append(server)
        let client = client(server, readTimeout: 0.3)
        let (_, elapsed) = try time {
            assertDockerError(try client.negotiate()) {
                if case .timeout(_, let seconds) = $0 { return seconds == 0.3 } else { return false }
            }
        }
        XCTAssertLessThan(elapsed, 2)
        XCTAssertGreaterThanOrEqual(elapsed, 0.25)
    }

    func testHungAfterHeadTimesOut() throws {
        let server = try server { _, connection in
            connection.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[")  // then nothing
        }
        let client = client(server, readTimeout: 0.3)
        let (_, elapsed) = try time {
            assertDockerError(try client.listContainers()) { if case .timeout = $0 { return true }; return false }
        }
        XCTAssertLessThan(elapsed, 2)
    }

    func testClosedMidBody() throws {
        let server = try server { _, connection in
            connection.send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[{\"Id\":")
            connection.close()
        }
        assertDockerError(try client(server).listContainers()) { if case .connectionClosed = $0 { return true }; return false }
    }

    func testClosedBeforeAnswering() throws {
        let server = try server { _, connection in connection.close() }
        assertDockerError(try client(server).listContainers()) { if case .connectionClosed = $0 { return true }; return false }
    }

    func testBrokenChunkedBody() throws {
        let server = try server { _, connection in
            connection.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n[]xx-garbage\r\n")
        }
        assertDockerError(try client(server).listContainers()) { if case .malformedHTTP = $0 { return true }; return false }
    }

    func testGarbageInsteadOfHTTP() throws {
        let server = try server { _, connection in connection.send("SSH-2.0-OpenSSH_9.2p1\r\n\r\n") }
        assertDockerError(try client(server).listContainers()) { if case .malformedHTTP = $0 { return true }; return false }
    }

    func testInvalidJSON() throws {
        let server = try server { _, connection in connection.send(httpResponse(200, body: #"[{"Id": "abc", "Names": ["/x"]"#)) }
        assertDockerError(try client(server).listContainers()) {
            if case .malformedJSON(let what, _) = $0 { return what == "the container list" } else { return false }
        }
        let versionServer = try FakeDockerServer(path: temporarySocketPath()) { _, connection in
            connection.send(httpResponse(200, body: "<html>not docker</html>", contentType: "text/html"))
        }
        servers.append(versionServer)
        assertDockerError(try client(versionServer).negotiate()) { if case .malformedJSON = $0 { return true }; return false }
    }

    func testOversizedContentLengthIsRefusedUnread() throws {
        let server = try server { _, connection in
            connection.send("HTTP/1.1 200 OK\r\nContent-Length: \(17 << 20)\r\n\r\n[")  // the rest never comes
        }
        let (_, elapsed) = try time {
            assertDockerError(try client(server, readTimeout: 5).listContainers()) { $0 == .bodyTooLarge(limit: 16 << 20) }
        }
        XCTAssertLessThan(elapsed, 2, "refused from the header, without waiting for the body")
    }

    func testEndlessChunkedBodyHitsTheDefaultBound() throws {
        let server = try server { _, connection in
            let chunk = Array("10000\r\n".utf8) + [UInt8](repeating: 0x20, count: 0x10000) + Array("\r\n".utf8)
            guard connection.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") else { return }
            for _ in 0..<10_000 {
                if !connection.send(chunk) { break }  // the client hung up
            }
            connection.close()
        }
        let client = DockerClient(socketPath: server.path)  // default bound: 16 MiB
        XCTAssertEqual(client.options.maxBodyBytes, 16 << 20)
        assertDockerError(try client.listContainers()) { $0 == .bodyTooLarge(limit: 16 << 20) }
    }

    // MARK: (f) error bodies

    func testErrorBodiesPlainTextAndJSON() throws {
        let server = try server { request, connection in
            switch request.target {
            case let t where t.contains("/containers/json"):
                connection.send(httpResponse(500, "Internal Server Error", body: "proxy failure\nsecond line\n", contentType: "text/plain"))
            case let t where t.contains("/containers/missing/"):
                connection.send(httpResponse(404, "Not Found", body: #"{"message":"No such container: missing"}"#))
            case let t where t.contains("/kill"):
                connection.send(httpResponse(409, "Conflict", body: #"{"message":"Cannot kill container: web: Container abc is not running"}"#))
            case let t where t.contains("/restart"):
                connection.send(httpResponse(400, "Bad Request", body: "bad parameter t", contentType: "text/plain"))
            default:
                connection.send(httpResponse(503, "Service Unavailable"))
            }
        }
        let client = client(server)
        assertDockerError(try client.listContainers()) { $0 == .daemonError(status: 500, message: "proxy failure second line") }
        let missing = assertDockerError(try client.inspectContainer("missing")) {
            $0 == .noSuchContainer(id: "missing", message: "No such container: missing")
        }
        XCTAssertEqual(missing?.description, "No such container: missing")
        assertDockerError(try client.stopContainer("missing", timeout: 1)) { if case .noSuchContainer = $0 { return true }; return false }
        assertDockerError(try client.killContainer("web", signal: "SIGTERM")) {
            $0 == .conflict(message: "Cannot kill container: web: Container abc is not running")
        }
        assertDockerError(try client.restartContainer("web")) { $0 == .daemonError(status: 400, message: "bad parameter t") }
        assertDockerError(try client.stopContainer("web")) { $0 == .daemonError(status: 503, message: "") }
        // Error answers with Content-Length keep the connection usable: one connection throughout.
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testStopAnswers() throws {
        let server = try server { request, connection in
            connection.send(request.target.contains("/running/") ? httpResponse(204, "No Content") : httpResponse(304, "Not Modified"))
        }
        let client = client(server)
        XCTAssertEqual(try client.stopContainer("running", timeout: 3), .stopped)
        XCTAssertEqual(try client.stopContainer("exited", timeout: 3), .alreadyStopped)
        let targets = server.requests.map(\.target)
        XCTAssertEqual(targets, ["/version", "/v1.41/containers/running/stop?t=3", "/v1.41/containers/exited/stop?t=3"])
    }

    // MARK: (g) Podman

    func testPodmanAnswers() throws {
        let server = try server(version: versionBody(api: "1.41", min: "1.24", version: "4.9.3", podman: true)) { request, connection in
            if request.target.contains("/stop") {
                connection.send(httpResponse(204, "No Content"))  // even for a never-started container
            } else if request.target.contains("/kill") {
                connection.send(httpResponse(500, "Internal Server Error", body: #"{"cause":"container state improper","message":"can only kill running containers. 2b3c is in state exited: container state improper","response":500}"#))
            }
        }
        let client = client(server)
        let info = try client.negotiate()
        XCTAssertTrue(info.isPodman)
        XCTAssertEqual(info.version, "4.9.3")
        XCTAssertEqual(try client.stopContainer("created-never-started"), .stopped)
        assertDockerError(try client.killContainer("2b3c", signal: "SIGKILL")) {
            if case .conflict(let message) = $0 { return message.contains("container state improper") } else { return false }
        }
    }

    // MARK: negotiation

    func testNegotiationChoosesPathVersion() throws {
        let modern = try server(version: versionBody(api: "1.51", min: "1.44", version: "28.2.2")) { _, connection in
            connection.send(httpResponse(200, body: "[]"))
        }
        let client = client(modern)
        XCTAssertEqual(try client.listContainers(), [])
        XCTAssertEqual(client.server?.negotiatedAPIVersion, APIVersion(1, 47))
        XCTAssertFalse(client.server?.isPodman ?? true)
        XCTAssertEqual(modern.requests.map(\.target), ["/version", "/v1.47/containers/json?all=1"])

        let future = try server(version: versionBody(api: "1.60", min: "1.50")) { _, connection in
            connection.send(httpResponse(200, body: "[]"))
        }
        assertDockerError(try self.client(future).listContainers()) { $0 == .apiTooOld(ours: "1.47", serverMinimum: "1.50") }
    }

    func testRequestHasHostHeaderAndEncodedPaths() throws {
        let server = try server { _, connection in connection.send(httpResponse(204, "No Content")) }
        let client = client(server)
        try client.killContainer("we ird/name", signal: "SIGUSR1")
        let request = try XCTUnwrap(server.requests.last)
        XCTAssertEqual(request.target, "/v1.41/containers/we%20ird%2Fname/kill?signal=SIGUSR1")
        XCTAssertTrue(request.head.contains("\r\nHost: docker\r\n"), request.head)
        XCTAssertTrue(request.head.contains("\r\nContent-Length: 0\r\n"), request.head)
    }

    // MARK: keep-alive and recovery

    func testKeepAliveReusesOneConnection() throws {
        let server = try server { _, connection in connection.send(httpResponse(200, body: "[]")) }
        let client = client(server)
        for _ in 0..<5 { XCTAssertEqual(try client.listContainers(), []) }
        XCTAssertEqual(server.connectionCount, 1)
        XCTAssertEqual(server.requests.count, 6)
    }

    func testConnectionCloseHeaderIsHonoured() throws {
        let server = try server { _, connection in
            connection.send(httpResponse(200, body: "[]", extraHeaders: ["Connection: close"]))
        }
        let client = client(server)
        for _ in 0..<3 { XCTAssertEqual(try client.listContainers(), []) }
        XCTAssertEqual(server.connectionCount, 3)  // /version kept alive, then one per list
    }

    func testKeptConnectionClosedByServerIsReopenedTransparently() throws {
        // The server answers once per connection and then drops it without saying so, both
        // right after answering (seen as stale before reuse) and on receiving the next request
        // (seen only as EOF after sending, so the client must resend).
        let server = try FakeDockerServer(path: temporarySocketPath()) { request, connection in
            if request.indexOnConnection > 0 {
                connection.close()
            } else if request.target == "/version" {
                connection.send(httpResponse(200, body: versionBody()))
            } else {
                connection.send(httpResponse(200, body: "[]"))
                if request.connectionNumber % 2 == 0 { connection.close() }
            }
        }
        servers.append(server)
        let client = client(server)
        for _ in 0..<4 { XCTAssertEqual(try client.listContainers(), []) }
        XCTAssertGreaterThanOrEqual(server.connectionCount, 4)
    }

    func testSameClientRecoversWhenTheDaemonComesBack() throws {
        let path = temporarySocketPath()
        let first = try server(path: path) { _, connection in connection.send(httpResponse(200, body: "[]")) }
        let client = client(first)
        XCTAssertEqual(try client.listContainers(), [])
        XCTAssertEqual(client.server?.version, "20.10.24")

        // The daemon dies, leaving its socket file: refused.
        first.stop(unlinkSocket: false)
        assertDockerError(try client.listContainers()) { $0 == .connectionRefused(path: path) }
        XCTAssertNil(client.server, "a vanished daemon's version is forgotten")

        // Its socket file is cleaned up: no socket.
        unlink(path)
        assertDockerError(try client.listContainers()) { $0 == .noSocket(path: path) }

        // A new (upgraded) daemon appears on the same path; the same client instance recovers
        // and negotiates again.
        let second = try server(path: path, version: versionBody(api: "1.51", min: "1.44", version: "28.2.2")) { _, connection in
            connection.send(httpResponse(200, body: #"[{"Id":"new","Names":["/back"]}]"#))
        }
        XCTAssertEqual(try client.listContainers().map(\.id), ["new"])
        XCTAssertEqual(client.server?.version, "28.2.2")
        XCTAssertEqual(second.requests.map(\.target), ["/version", "/v1.47/containers/json?all=1"])
    }

    func testSameClientRecoversAfterATimeout() throws {
        var hang = true
        let lock = NSLock()
        let server = try server { _, connection in
            lock.lock(); let shouldHang = hang; lock.unlock()
            if !shouldHang { connection.send(httpResponse(200, body: "[]")) }
        }
        let client = client(server, readTimeout: 0.3)
        assertDockerError(try client.listContainers()) { if case .timeout = $0 { return true }; return false }
        lock.lock(); hang = false; lock.unlock()
        XCTAssertEqual(try client.listContainers(), [])
    }

    // MARK: events over a fake daemon

    func testEventsSplitAcrossChunksThenDaemonEndsStream() throws {
        let first = #"{"Type":"container","Action":"start","Actor":{"ID":"a1","Attributes":{"name":"web"}},"time":1}"#
        let second = #"{"Type":"container","Action":"die","Actor":{"ID":"a1","Attributes":{"exitCode":"0"}},"time":2}"#
        let server = try server { _, connection in
            let payload = Array((first + "\n" + second + "\n").utf8)
            connection.send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            // Chunk boundaries deliberately unrelated to event boundaries.
            var index = 0
            for size in [7, 50, 90, 3] {
                let end = min(index + size, payload.count)
                connection.send(String(end - index, radix: 16) + ";ext=1\r\n")
                connection.send(Array(payload[index..<end]) + Array("\r\n".utf8))
                index = end
                usleep(20_000)
            }
            let rest = Array(payload[index...])
            connection.send(String(rest.count, radix: 16) + "\r\n")
            connection.send(rest + Array("\r\n0\r\n\r\n".utf8))
        }
        let collector = EventCollector()
        let stream = try client(server).events(onEvent: { collector.add($0) }, onEnd: { collector.end($0) })
        XCTAssertTrue(collector.waitForEnd(seconds: 5))
        XCTAssertEqual(collector.events.map(\.action), ["start", "die"])
        XCTAssertEqual(collector.events.first?.containerName, "web")
        XCTAssertEqual(collector.ends, [.closedByDaemon])
        XCTAssertTrue(server.requests.last!.target.hasPrefix("/v1.41/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D"))
        stream.stop()
        XCTAssertEqual(collector.ends.count, 1, "onEnd exactly once")
    }

    func testEventsStreamFailures() throws {
        let server = try server { request, connection in
            if request.connectionNumber == 2 {
                connection.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                connection.send("5\r\n{\"Typ")
                connection.close()
            } else if request.connectionNumber == 3 {
                connection.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nnope!\n\r\n")
            } else {
                connection.send(httpResponse(500, body: #"{"message":"events broken"}"#))
            }
        }
        let client = client(server)
        try client.negotiate()  // connection 1

        let cut = EventCollector()
        let stream1 = try client.events(onEvent: { cut.add($0) }, onEnd: { cut.end($0) })  // connection 2: daemon dies mid-event
        XCTAssertTrue(cut.waitForEnd(seconds: 5))
        guard case .failed(.connectionClosed) = cut.ends.first else { return XCTFail("\(cut.ends)") }
        stream1.stop()

        let garbage = EventCollector()
        let stream2 = try client.events(onEvent: { garbage.add($0) }, onEnd: { garbage.end($0) })  // connection 3: not JSON
        XCTAssertTrue(garbage.waitForEnd(seconds: 5))
        guard case .failed(.malformedJSON) = garbage.ends.first else { return XCTFail("\(garbage.ends)") }
        stream2.stop()

        // connection 4: the daemon refuses the stream; open() throws.
        assertDockerError(try client.events(onEvent: { _ in }, onEnd: { _ in })) { $0 == .daemonError(status: 500, message: "events broken") }
    }

    func testEventsStreamStopsPromptlyWhileIdle() throws {
        let server = try server { _, connection in
            connection.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")  // then silence, like a quiet daemon
        }
        let collector = EventCollector()
        let stream = try client(server).events(onEvent: { collector.add($0) }, onEnd: { collector.end($0) })
        usleep(100_000)
        XCTAssertFalse(stream.isFinished)
        let (_, elapsed) = time { stream.stop() }
        XCTAssertLessThan(elapsed, 1)
        XCTAssertTrue(stream.isFinished)
        XCTAssertEqual(collector.ends, [.stopped])
        stream.stop()  // idempotent
        XCTAssertEqual(collector.ends, [.stopped])
    }

    func testEventsStreamOpenTimesOut() throws {
        let server = try server { _, _ in }  // never answers the events request
        let client = client(server, readTimeout: 0.3)
        try client.negotiate()
        let (_, elapsed) = try time {
            assertDockerError(try client.events(onEvent: { _ in }, onEnd: { _ in })) { if case .timeout = $0 { return true }; return false }
        }
        XCTAssertLessThan(elapsed, 2)
    }
}

/// Collects events and ends from the stream's thread.
final class EventCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var eventList: [DockerEvent] = []
    private var endList: [DockerEventStream.End] = []
    private let ended = DispatchSemaphore(value: 0)
    private let changed = NSCondition()

    var events: [DockerEvent] { lock.lock(); defer { lock.unlock() }; return eventList }
    var ends: [DockerEventStream.End] { lock.lock(); defer { lock.unlock() }; return endList }

    func add(_ event: DockerEvent) {
        lock.lock(); eventList.append(event); lock.unlock()
        changed.lock(); changed.broadcast(); changed.unlock()
    }

    func end(_ end: DockerEventStream.End) {
        lock.lock(); endList.append(end); lock.unlock()
        ended.signal()
        changed.lock(); changed.broadcast(); changed.unlock()
    }

    func waitForEnd(seconds: Double) -> Bool {
        ended.wait(timeout: .now() + seconds) == .success
    }

    /// Waits until an event matching `predicate` has arrived.
    func waitFor(seconds: Double, _ predicate: (DockerEvent) -> Bool) -> DockerEvent? {
        let deadline = Date().addingTimeInterval(seconds)
        changed.lock()
        defer { changed.unlock() }
        while true {
            if let match = events.first(where: predicate) { return match }
            if !changed.wait(until: deadline) { return events.first(where: predicate) }
        }
    }
}
