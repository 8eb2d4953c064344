// Shared test helpers: a client of the test daemon (its docker CLI is TestSupport's `Docker`),
// temporary socket paths, and a scriptable fake Docker daemon on an AF_UNIX socket.
@testable import DockerSocket
import Foundation
import TestSupport
import XCTest

enum TestDaemon {
    /// A client of the test dockerd (TestSupport's `Docker.host()`, which fails the test when unset).
    static func client(options: DockerClient.Options = .init(readTimeout: 10)) throws -> DockerClient {
        DockerClient(socketPath: try DockerEndpoint.socketPath(fromHost: try Docker.host()), options: options)
    }

    /// A name no other test (or concurrent run) uses.
    static func uniqueName(_ role: String) -> String {
        "gpuctop-test-\(role)-\(UUID().uuidString.prefix(8).lowercased())"
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// One directory per test process for the fake daemons' sockets (short enough for sun_path);
/// `removeTemporarySockets()` deletes it.
let temporarySocketDirectory = "/tmp/gpuctop-dstest-\(getpid())"

/// A fresh, unused socket path.
func temporarySocketPath() -> String {
    mkdir(temporarySocketDirectory, 0o700)
    return "\(temporarySocketDirectory)/\(UUID().uuidString.prefix(8)).sock"
}

func removeTemporarySockets() {
    try? FileManager.default.removeItem(atPath: temporarySocketDirectory)
}

/// Asserts that `body` throws a DockerError matching `matches`; returns it.
@discardableResult
func assertDockerError<T>(_ body: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line,
                          _ matches: (DockerError) -> Bool) -> DockerError? {
    do {
        let value = try body()
        XCTFail("expected a DockerError, got \(value)", file: file, line: line)
    } catch let error as DockerError {
        XCTAssertTrue(matches(error), "unexpected error: \(error)", file: file, line: line)
        XCTAssertFalse(error.description.contains("\n"), "description is not one line: \(error.description)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected a DockerError, got \(error)", file: file, line: line)
    }
    return nil
}

// MARK: - Fake daemon

/// A listening AF_UNIX socket served by background threads. Each accepted connection reads
/// requests (head only: our client sends no bodies) and hands each to `handler`, which answers
/// by writing raw bytes, closing, or doing nothing (a hung daemon).
final class FakeDockerServer: @unchecked Sendable {
    struct Request {
        var method: String
        var target: String
        /// 0 for the first request on its connection.
        var indexOnConnection: Int
        var connectionNumber: Int
        var head: String
    }

    final class Connection: @unchecked Sendable {
        let fd: Int32
        private let lock = NSLock()
        private var closed = false
        init(fd: Int32) { self.fd = fd }

        /// Writes everything; false once the peer is gone.
        @discardableResult
        func send(_ bytes: [UInt8]) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
                if n <= 0 {
                    if n < 0 && errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }

        @discardableResult
        func send(_ text: String) -> Bool { send(Array(text.utf8)) }

        func close() {
            lock.lock()
            defer { lock.unlock() }
            if !closed {
                closed = true
                shutdown(fd, Int32(SHUT_RDWR))
                Glibc.close(fd)
            }
        }

        var isClosed: Bool {
            lock.lock()
            defer { lock.unlock() }
            return closed
        }
    }

    let path: String
    private let listenFD: Int32
    private let handler: (Request, Connection) -> Void
    private let lock = NSLock()
    private var stopped = false
    private var connections: [Connection] = []
    private var requestLog: [Request] = []
    private var acceptThreadDone = DispatchSemaphore(value: 0)

    /// Listens on `path` (replacing a stale socket file there).
    init(path: String, backlog: Int32 = 16, accept: Bool = true, handler: @escaping (Request, Connection) -> Void) throws {
        self.path = path
        self.handler = handler
        unlink(path)
        listenFD = try Self.bindAndListen(path: path, backlog: backlog)
        if accept {
            let thread = Thread { [self] in self.acceptLoop() }  // strong: stop() ends it
            thread.start()
        } else {
            acceptThreadDone.signal()
        }
    }

    static func bindAndListen(path: String, backlog: Int32) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError(message: "socket: \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, backlog) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw TestSetupError(message: "bind/listen \(path): errno \(code)")
        }
        return fd
    }

    var requests: [Request] { lock.lock(); defer { lock.unlock() }; return requestLog }
    var connectionCount: Int { lock.lock(); defer { lock.unlock() }; return connections.count }

    /// Stops listening and closes every connection. With `unlinkSocket: false` the socket file
    /// stays behind, as a crashed daemon leaves it: connecting then gives ECONNREFUSED.
    func stop(unlinkSocket: Bool = true) {
        lock.lock()
        let wasStopped = stopped
        stopped = true
        let open = connections
        lock.unlock()
        if wasStopped { return }
        acceptThreadDone.wait()
        Glibc.close(listenFD)
        for connection in open { connection.close() }
        if unlinkSocket { unlink(path) }
    }

    deinit { stop() }

    private var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }

    private func acceptLoop() {
        defer { acceptThreadDone.signal() }
        while !isStopped {
            var pfd = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 20) <= 0 { continue }
            let fd = Glibc.accept(listenFD, nil, nil)
            if fd < 0 { continue }
            let connection = Connection(fd: fd)
            lock.lock()
            connections.append(connection)
            let number = connections.count
            lock.unlock()
            let thread = Thread { [self] in self.serve(connection, number: number) }
            thread.start()
        }
    }

    private func serve(_ connection: Connection, number: Int) {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var index = 0
        while !connection.isClosed {
            // Wait with a short poll so that close() from another thread is noticed.
            var pfd = pollfd(fd: connection.fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 20)
            if ready == 0 { continue }
            if connection.isClosed { return }
            let n = chunk.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { connection.close(); return }
            buffer.append(contentsOf: chunk[0..<n])
            while let end = Self.headEnd(buffer) {
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                buffer.removeSubrange(0..<end)
                let parts = head.split(separator: " ", maxSplits: 2)
                let request = Request(method: parts.count > 0 ? String(parts[0]) : "",
                                      target: parts.count > 1 ? String(parts[1]) : "",
                                      indexOnConnection: index, connectionNumber: number, head: head)
                index += 1
                lock.lock()
                requestLog.append(request)
                lock.unlock()
                handler(request, connection)
                if connection.isClosed { return }
            }
        }
    }

    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i + 4
        }
        return nil
    }
}

/// A complete HTTP/1.1 response with a Content-Length body.
func httpResponse(_ status: Int, _ reason: String = "OK", body: String = "", contentType: String = "application/json",
                  extraHeaders: [String] = []) -> String {
    var text = "HTTP/1.1 \(status) \(reason)\r\nApi-Version: 1.41\r\nServer: fake\r\n"
    if !body.isEmpty || status != 204 && status != 304 {
        text += "Content-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n"
    }
    for header in extraHeaders { text += header + "\r\n" }
    return text + "\r\n" + body
}

/// The /version answer of a daemon speaking `api` (minimum `min`), optionally Podman.
func versionBody(api: String = "1.41", min: String = "1.12", version: String = "20.10.24", podman: Bool = false) -> String {
    let component = podman ? "Podman Engine" : "Engine"
    let platform = podman ? "linux/amd64/debian-12" : "Docker Engine - Community"
    return #"{"Platform":{"Name":"\#(platform)"},"Components":[{"Name":"\#(component)","Version":"\#(version)"}],"Version":"\#(version)","ApiVersion":"\#(api)","MinAPIVersion":"\#(min)","Os":"linux","Arch":"amd64"}"#
}
