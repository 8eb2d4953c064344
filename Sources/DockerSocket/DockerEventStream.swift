// GET /events on its own connection, read by its own thread.
//
// Why a thread and its own connection: the stream never ends by itself, and the client's
// connection must stay free for list/inspect calls. The reader blocks in poll() on the socket
// and on a pipe; stop() writes to the pipe, so stopping is immediate without a polling interval.
// The daemon sends no keep-alives on this stream, so there is no read timeout once it is open.
import FoundationEssentials
import Glibc
import Support

/// A running /events subscription. Callbacks run on the stream's own thread, one at a time and
/// in order; keep them short (hand the event to your own queue) and never wait in them for a
/// thread that is calling stop(). Releasing the last reference stops the stream.
public final class DockerEventStream: @unchecked Sendable {
    /// Why the stream ended. After anything but `.stopped` the caller has missed events from
    /// then on: re-list containers and open a new stream.
    public enum End: Equatable, Sendable {
        /// `stop()` was called (or the stream object was released).
        case stopped
        /// The daemon ended the stream cleanly (for example on shutdown).
        case closedByDaemon
        /// The connection broke or the stream carried something we could not read.
        case failed(DockerError)
    }

    private let core: EventStreamCore

    private init(core: EventStreamCore) { self.core = core }

    deinit { core.stop() }

    /// Stops the stream. Idempotent. When called from another thread, returns after the reader
    /// thread has delivered `onEnd` and exited; from inside a callback it returns at once.
    public func stop() { core.stop() }

    /// Whether the reader thread has finished (onEnd has been called).
    public var isFinished: Bool { core.isFinished }

    /// Longest event line we accept; an event is a few hundred bytes plus the container's labels.
    static let maxEventBytes = 1 << 20

    static func open(socketPath: String, target: String, options: DockerClient.Options,
                     onEvent: @escaping @Sendable (DockerEvent) -> Void,
                     onEnd: @escaping @Sendable (End) -> Void) throws -> DockerEventStream {
        let sock = try UnixSocket.connect(path: socketPath, timeout: options.connectTimeout)
        let timeout = options.readTimeout
        let deadline = MonotonicClock.now() + timeout
        do {
            try sock.writeAll(HTTPRequest(method: "GET", target: target).serialized(), deadline: deadline, timeout: timeout)
        } catch is SocketClosed {
            throw DockerError.connectionClosed(detail: "while we sent the request")
        }

        // Read synchronously until the response head: the daemon sends it at once, and once we
        // return the caller knows that events from now on will be seen.
        var parser = HTTPResponseParser(limits: .init(maxBodyBytes: nil))
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        var ended = false
        let operation = "waiting for the events stream to open"
        while parser.head == nil || (parser.head!.status != 200 && !parser.isComplete) {
            var count: Int
            do {
                count = try sock.read(into: &buffer, deadline: deadline, timeout: timeout, operation: operation)
            } catch is SocketClosed {
                count = 0
            }
            let events = count == 0 ? try parser.finish() : try parser.feed(buffer[0..<count])
            for event in events {
                switch event {
                case .head: break
                case .body(let part): pending.append(contentsOf: part)
                case .end: ended = true
                }
            }
            if pending.count > options.maxBodyBytes { throw DockerError.bodyTooLarge(limit: options.maxBodyBytes) }
            if count == 0 { break }
        }
        guard let head = parser.head else { throw DockerError.connectionClosed(detail: "before sending a response") }
        if head.status != 200 {
            try DockerClient.check(HTTPResponse(head: head, body: pending), containerID: nil)
            throw DockerError.daemonError(status: head.status, message: DockerClient.daemonMessage(pending))
        }

        let core = try EventStreamCore(sock: sock, parser: parser, onEvent: onEvent, onEnd: onEnd)
        try core.start(initialBody: pending, alreadyEnded: ended)
        return DockerEventStream(core: core)
    }
}

/// The state shared by the public handle and the reader thread. The thread holds it strongly,
/// so its file descriptors stay valid until both are done with them.
final class EventStreamCore: @unchecked Sendable {
    private let sock: UnixSocket
    private var parser: HTTPResponseParser
    private let onEvent: @Sendable (DockerEvent) -> Void
    private let onEnd: @Sendable (DockerEventStream.End) -> Void
    private let wakeRead: Int32
    private let wakeWrite: Int32
    /// What stop() and the reader thread share.
    private struct Shared {
        var stopRequested = false
        var finished = false
        var readerThread: pthread_t?
    }
    private let shared = LockedValue(Shared())
    private var lineBuffer: [UInt8] = []

    init(sock: UnixSocket, parser: HTTPResponseParser,
         onEvent: @escaping @Sendable (DockerEvent) -> Void,
         onEnd: @escaping @Sendable (DockerEventStream.End) -> Void) throws {
        var fds: [Int32] = [-1, -1]
        // pipe2() is hidden behind _GNU_SOURCE in the Glibc module; pipe() + fcntl() is the same.
        guard pipe(&fds) == 0 else {
            throw DockerError.socketError(operation: "creating the events wake-up pipe", errno: errno)
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        self.sock = sock
        self.parser = parser
        self.onEvent = onEvent
        self.onEnd = onEnd
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    deinit {
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
        sock.close()
    }

    var isFinished: Bool { shared.withLock { $0.finished } }

    func start(initialBody: [UInt8], alreadyEnded: Bool) throws {
        // The thread holds the core strongly, so its descriptors stay valid until it is done.
        let started = startDetachedThread(name: "docker-events") { [self] in run(initialBody: initialBody, alreadyEnded: alreadyEnded) }
        if !started {
            throw DockerError.socketError(operation: "starting the events thread", errno: EAGAIN)
        }
    }

    func stop() {
        let onReaderThread: Bool = shared.withLock {
            if !$0.stopRequested {
                $0.stopRequested = true
                var byte: UInt8 = 1
                _ = write(wakeWrite, &byte, 1)  // non-blocking; one byte is enough to wake poll()
            }
            guard let reader = $0.readerThread else { return false }
            return pthread_equal(reader, pthread_self()) != 0
        }
        if !onReaderThread { shared.wait(until: { $0.finished }) }
    }

    private var shouldStop: Bool { shared.withLock { $0.stopRequested } }

    private func run(initialBody: [UInt8], alreadyEnded: Bool) {
        shared.withLock { $0.readerThread = pthread_self() }
        let end = readLoop(initialBody: initialBody, alreadyEnded: alreadyEnded)
        sock.close()
        onEnd(end)
        shared.update { $0.finished = true }
    }

    private func readLoop(initialBody: [UInt8], alreadyEnded: Bool) -> DockerEventStream.End {
        do {
            try consume(initialBody)
            if alreadyEnded { return .closedByDaemon }
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                if shouldStop { return .stopped }
                var fds = [pollfd(fd: sock.fd, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
                let ready = poll(&fds, 2, -1)
                if ready < 0 {
                    if errno == EINTR { continue }
                    return .failed(.socketError(operation: "waiting for events", errno: errno))
                }
                if fds[1].revents != 0 || shouldStop { return .stopped }
                if fds[0].revents == 0 { continue }

                let count = buffer.withUnsafeMutableBytes { recv(sock.fd, $0.baseAddress, $0.count, 0) }
                if count < 0 {
                    let code = errno
                    if code == EINTR || code == EAGAIN || code == EWOULDBLOCK { continue }
                    if code == ECONNRESET { return .failed(.connectionClosed(detail: "in the middle of the events stream")) }
                    return .failed(.socketError(operation: "reading events", errno: code))
                }
                if count == 0 {
                    _ = try parser.finish()  // throws connectionClosed unless the stream had ended cleanly
                    return .closedByDaemon
                }
                var ended = false
                var body: [UInt8] = []
                for event in try parser.feed(buffer[0..<count]) {
                    switch event {
                    case .head: break
                    case .body(let part): body.append(contentsOf: part)
                    case .end: ended = true
                    }
                }
                try consume(body)
                if ended { return .closedByDaemon }
            }
        } catch let error as DockerError {
            return shouldStop ? .stopped : .failed(error)
        } catch {
            return .failed(.malformedJSON(what: "the events stream", detail: "\(error)"))
        }
    }

    /// Splits the body into lines (one JSON object each, as json.Encoder writes them) and
    /// delivers every complete one. Chunk boundaries need not match event boundaries.
    private func consume(_ bytes: [UInt8]) throws {
        lineBuffer.append(contentsOf: bytes)
        var start = 0
        while let newline = lineBuffer[start...].firstIndex(of: 0x0A) {
            let line = lineBuffer[start..<newline]
            start = newline + 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            let event = try DockerClient.decode(DockerEvent.self, from: Array(line), what: "the events stream")
            if shouldStop { return }
            onEvent(event)
        }
        lineBuffer.removeSubrange(0..<start)
        if lineBuffer.count > DockerEventStream.maxEventBytes {
            throw DockerError.malformedJSON(what: "the events stream", detail: "an event longer than \(DockerEventStream.maxEventBytes) bytes")
        }
    }
}
