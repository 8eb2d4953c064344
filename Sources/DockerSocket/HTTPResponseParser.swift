// A pure, incremental HTTP/1.x response parser: bytes in, events out, no I/O and no clocks.
//
// Kept free of sockets so that it can be tested on literal byte strings and pointed at by a
// fuzzer: any input either parses or throws a DockerError; it never traps, and every buffer it
// keeps is bounded (header section, chunk-size and trailer lines, and optionally the body).
//
// Framing follows RFC 9112 for responses: no body for 1xx/204/304 or a HEAD request;
// Transfer-Encoding ending in `chunked` beats Content-Length; otherwise Content-Length; otherwise
// the body runs until the connection closes (the caller then calls `finish()`).
import Support

/// One header field as received; names compare case-insensitively through `HTTPResponseHead`.
public struct HTTPHeaderField: Equatable, Sendable {
    public var name: String
    public var value: String
    public init(name: String, value: String) { self.name = name; self.value = value }
}

public struct HTTPResponseHead: Equatable, Sendable {
    /// The minor version of HTTP/1.x (0 or 1).
    public var minorVersion: Int
    public var status: Int
    public var reason: String
    public var headers: [HTTPHeaderField]

    public init(minorVersion: Int, status: Int, reason: String, headers: [HTTPHeaderField]) {
        self.minorVersion = minorVersion
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    /// The first value of header `name` (case-insensitive), or nil.
    public func value(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }

    /// All values of header `name`, split at commas, trimmed and lowercased (for token lists
    /// such as Connection and Transfer-Encoding).
    public func tokens(_ name: String) -> [String] {
        let wanted = name.lowercased()
        return headers.filter { $0.name.lowercased() == wanted }
            .flatMap { $0.value.split(separator: ",") }
            .map { trimBlanks(Substring($0)).lowercased() }
            .filter { !$0.isEmpty }
    }

    /// Whether the server intends to close the connection after this response.
    public var closesConnection: Bool {
        let connection = tokens("Connection")
        if connection.contains("close") { return true }
        return minorVersion == 0 && !connection.contains("keep-alive")
    }
}

/// A complete response, as `HTTPResponseParser.parse` or the client returns it.
public struct HTTPResponse: Equatable, Sendable {
    public var head: HTTPResponseHead
    public var body: [UInt8]
    /// Trailer fields of a chunked body (rare; Docker sends none).
    public var trailers: [HTTPHeaderField]

    public init(head: HTTPResponseHead, body: [UInt8], trailers: [HTTPHeaderField] = []) {
        self.head = head
        self.body = body
        self.trailers = trailers
    }

    public var status: Int { head.status }
}

public struct HTTPResponseParser {
    public enum Event: Equatable, Sendable {
        case head(HTTPResponseHead)
        case body([UInt8])
        case end
    }

    public struct Limits: Equatable, Sendable {
        /// Bound on the status line plus header fields (and separately on the trailer section).
        public var maxHeaderBytes: Int
        /// Bound on one chunk-size line (chunk extensions included).
        public var maxLineBytes: Int
        /// Bound on the decoded body; nil for an endless stream such as /events.
        public var maxBodyBytes: Int?

        public init(maxHeaderBytes: Int = 64 << 10, maxLineBytes: Int = 8 << 10, maxBodyBytes: Int? = 16 << 20) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxLineBytes = maxLineBytes
            self.maxBodyBytes = maxBodyBytes
        }
    }

    /// How the body of the current response is delimited.
    public enum Framing: Equatable, Sendable {
        case none, contentLength(Int), chunked, untilClose
    }

    private enum State: Equatable {
        case head, fixed(remaining: Int), chunkSize, chunkData(remaining: Int), chunkDataEnd, trailers, untilClose, done
    }

    public let limits: Limits
    private let bodyless: Bool
    private var state: State = .head
    private var buffer: [UInt8] = []
    private var pos = 0
    private var headLines: [String] = []
    private var headBytes = 0
    private var trailerBytes = 0

    public private(set) var head: HTTPResponseHead?
    public private(set) var framing: Framing?
    public private(set) var trailers: [HTTPHeaderField] = []
    /// Decoded body bytes delivered so far.
    public private(set) var bodyBytes = 0
    /// Whether any byte at all has been fed (lets a client tell "closed before answering" apart).
    public private(set) var receivedAnyBytes = false
    /// Bytes that arrived after the end of the response; a connection with any is not reusable.
    public private(set) var extraBytes = 0

    /// `bodyless`: the request was HEAD, so the response has no body whatever its headers say.
    public init(limits: Limits = Limits(), bodyless: Bool = false) {
        self.limits = limits
        self.bodyless = bodyless
    }

    public var isComplete: Bool { state == .done }

    /// After the end: whether the connection may carry another request.
    public var connectionReusable: Bool {
        guard isComplete, let head, extraBytes == 0 else { return false }
        return framing != .untilClose && !head.closesConnection
    }

    /// Feeds bytes as they arrive, in any split; returns what they completed.
    public mutating func feed<Bytes: Collection>(_ bytes: Bytes) throws -> [Event] where Bytes.Element == UInt8 {
        if bytes.isEmpty { return [] }
        receivedAnyBytes = true
        if state == .done {
            extraBytes += bytes.count
            return []
        }
        buffer.append(contentsOf: bytes)
        var events: [Event] = []
        defer { compact() }
        while try step(&events) {}
        return events
    }

    /// The connection reached end of file. Completes a body that runs until close; throws
    /// `connectionClosed` if the response was cut short.
    public mutating func finish() throws -> [Event] {
        switch state {
        case .done:
            return []
        case .untilClose:
            state = .done
            return [.end]
        case .head:
            throw DockerError.connectionClosed(detail: receivedAnyBytes ? "in the middle of the response header" : "before sending a response")
        case .fixed(let remaining):
            throw DockerError.connectionClosed(detail: "after \(bodyBytes) of \(bodyBytes + remaining) body bytes")
        case .chunkSize, .chunkData, .chunkDataEnd, .trailers:
            throw DockerError.connectionClosed(detail: "in the middle of a chunked body (after \(bodyBytes) bytes)")
        }
    }

    /// Parses one whole response that ends where `bytes` end (as if the connection then closed).
    public static func parse(_ bytes: [UInt8], limits: Limits = Limits(), bodyless: Bool = false) throws -> HTTPResponse {
        var parser = HTTPResponseParser(limits: limits, bodyless: bodyless)
        var body: [UInt8] = []
        for event in try parser.feed(bytes) + parser.finish() {
            if case .body(let part) = event { body.append(contentsOf: part) }
        }
        guard let head = parser.head else { throw DockerError.connectionClosed(detail: "before sending a response") }
        return HTTPResponse(head: head, body: body, trailers: parser.trailers)
    }

    // MARK: - State machine

    private var available: Int { buffer.count - pos }

    /// Advances by one state transition; returns false when it needs more input.
    private mutating func step(_ events: inout [Event]) throws -> Bool {
        switch state {
        case .done:
            extraBytes += available
            pos = buffer.count
            return false

        case .head:
            guard let line = try nextLine(limit: limits.maxHeaderBytes - headBytes, what: "header section") else { return false }
            headBytes += line.count + 2
            if headBytes > limits.maxHeaderBytes { throw DockerError.malformedHTTP(detail: "header section larger than \(limits.maxHeaderBytes) bytes") }
            if !line.isEmpty {
                if headLines.isEmpty == false, let first = line.first, first == 0x20 || first == 0x09 {
                    throw DockerError.malformedHTTP(detail: "obsolete folded header line")
                }
                headLines.append(String(decoding: line, as: UTF8.self))
                return true
            }
            if headLines.isEmpty { throw DockerError.malformedHTTP(detail: "empty status line") }
            let parsed = try Self.parseHead(headLines)
            headLines = []
            headBytes = 0
            if parsed.status == 101 { throw DockerError.malformedHTTP(detail: "unexpected 101 protocol switch") }
            if parsed.status < 200 { return true }  // interim 1xx: the real head follows
            try startBody(parsed, &events)
            return true

        case .fixed(let remaining):
            guard available > 0 else { return false }
            let count = min(remaining, available)
            deliver(count, &events)
            if remaining == count {
                state = .done
                events.append(.end)
            } else {
                state = .fixed(remaining: remaining - count)
            }
            return true

        case .untilClose:
            guard available > 0 else { return false }
            if let max = limits.maxBodyBytes, bodyBytes + available > max { throw DockerError.bodyTooLarge(limit: max) }
            deliver(available, &events)
            return false

        case .chunkSize:
            guard let line = try nextLine(limit: limits.maxLineBytes, what: "chunk-size line") else { return false }
            let size = try Self.parseChunkSize(line)
            if size == 0 {
                state = .trailers
            } else {
                if let max = limits.maxBodyBytes, size > max - bodyBytes { throw DockerError.bodyTooLarge(limit: max) }
                state = .chunkData(remaining: size)
            }
            return true

        case .chunkData(let remaining):
            guard available > 0 else { return false }
            let count = min(remaining, available)
            deliver(count, &events)
            state = remaining == count ? .chunkDataEnd : .chunkData(remaining: remaining - count)
            return true

        case .chunkDataEnd:
            guard available > 0 else { return false }
            if buffer[pos] == 0x0A {
                pos += 1
            } else if buffer[pos] == 0x0D {
                guard available >= 2 else { return false }
                guard buffer[pos + 1] == 0x0A else { throw DockerError.malformedHTTP(detail: "chunk data not followed by CRLF") }
                pos += 2
            } else {
                throw DockerError.malformedHTTP(detail: "chunk data longer than its declared size")
            }
            state = .chunkSize
            return true

        case .trailers:
            guard let line = try nextLine(limit: limits.maxHeaderBytes - trailerBytes, what: "trailer section") else { return false }
            trailerBytes += line.count + 2
            if trailerBytes > limits.maxHeaderBytes { throw DockerError.malformedHTTP(detail: "trailer section larger than \(limits.maxHeaderBytes) bytes") }
            if line.isEmpty {
                state = .done
                events.append(.end)
            } else {
                trailers.append(try Self.parseField(String(decoding: line, as: UTF8.self)))
            }
            return true
        }
    }

    private mutating func startBody(_ parsed: HTTPResponseHead, _ events: inout [Event]) throws {
        head = parsed
        events.append(.head(parsed))
        let framing = try Self.framing(of: parsed, bodyless: bodyless)
        self.framing = framing
        switch framing {
        case .none:
            state = .done
            events.append(.end)
        case .contentLength(let length):
            if let max = limits.maxBodyBytes, length > max { throw DockerError.bodyTooLarge(limit: max) }
            if length == 0 {
                state = .done
                events.append(.end)
            } else {
                state = .fixed(remaining: length)
            }
        case .chunked:
            state = .chunkSize
        case .untilClose:
            state = .untilClose
        }
    }

    private mutating func deliver(_ count: Int, _ events: inout [Event]) {
        events.append(.body(Array(buffer[pos..<(pos + count)])))
        pos += count
        bodyBytes += count
    }

    /// The next line without its LF (and CR), or nil if no full line is buffered yet.
    private mutating func nextLine(limit: Int, what: String) throws -> ArraySlice<UInt8>? {
        let scanEnd = min(buffer.count, pos + max(limit, 0) + 2)
        guard let lf = buffer[pos..<scanEnd].firstIndex(of: 0x0A) else {
            if available > max(limit, 0) + 1 { throw DockerError.malformedHTTP(detail: "\(what) too long") }
            return nil
        }
        var end = lf
        if end > pos && buffer[end - 1] == 0x0D { end -= 1 }
        let line = buffer[pos..<end]
        pos = lf + 1
        return line
    }

    private mutating func compact() {
        if pos == 0 { return }
        if pos >= buffer.count {
            buffer.removeAll(keepingCapacity: buffer.count <= 1 << 16)
        } else {
            buffer.removeSubrange(0..<pos)
        }
        pos = 0
    }

    // MARK: - Pure helpers

    static func parseHead(_ lines: [String]) throws -> HTTPResponseHead {
        let statusLine = lines[0]
        // "HTTP/1.1 200 OK": the reason phrase may be empty or missing.
        guard statusLine.hasPrefix("HTTP/1.") else {
            throw DockerError.malformedHTTP(detail: "status line is not HTTP/1.x: \(oneLine(String(statusLine.prefix(60))))")
        }
        let bytes = Array(statusLine.utf8)
        guard bytes.count >= 12, bytes[8] == 0x20,
              let minor = digitValue(bytes[7]),
              let d0 = digitValue(bytes[9]), let d1 = digitValue(bytes[10]), let d2 = digitValue(bytes[11]),
              bytes.count == 12 || bytes[12] == 0x20
        else {
            throw DockerError.malformedHTTP(detail: "bad status line: \(oneLine(String(statusLine.prefix(60))))")
        }
        let status = d0 * 100 + d1 * 10 + d2
        guard status >= 100 && status <= 599 else { throw DockerError.malformedHTTP(detail: "status code \(status) out of range") }
        let reason = bytes.count > 13 ? String(decoding: bytes[13...], as: UTF8.self) : ""
        let headers = try lines.dropFirst().map(parseField)
        return HTTPResponseHead(minorVersion: minor, status: status, reason: reason, headers: headers)
    }

    static func parseField(_ line: String) throws -> HTTPHeaderField {
        guard let colon = line.firstIndex(of: ":") else {
            throw DockerError.malformedHTTP(detail: "header line without a colon: \(oneLine(String(line.prefix(60))))")
        }
        let name = line[..<colon]
        guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
            throw DockerError.malformedHTTP(detail: "invalid header name: \(oneLine(String(name.prefix(60))))")
        }
        return HTTPHeaderField(name: String(name), value: trimBlanks(line[line.index(after: colon)...]))
    }

    static func framing(of head: HTTPResponseHead, bodyless: Bool) throws -> Framing {
        if bodyless || head.status == 204 || head.status == 304 || head.status < 200 { return .none }
        let codings = head.tokens("Transfer-Encoding")
        if !codings.isEmpty {
            // A response whose last coding is not chunked is delimited by closing the connection.
            return codings.last == "chunked" ? .chunked : .untilClose
        }
        let lengths = head.headers.filter { $0.name.lowercased() == "content-length" }
            .flatMap { $0.value.split(separator: ",", omittingEmptySubsequences: false) }
            .map { trimBlanks($0) }
        guard let first = lengths.first else { return .untilClose }
        guard lengths.allSatisfy({ $0 == first }) else { throw DockerError.malformedHTTP(detail: "conflicting Content-Length values") }
        guard !first.isEmpty, first.utf8.count <= 18, first.utf8.allSatisfy({ digitValue($0) != nil }), let length = Int(first) else {
            throw DockerError.malformedHTTP(detail: "invalid Content-Length: \(oneLine(String(first.prefix(40))))")
        }
        return .contentLength(length)
    }

    /// "1a3f", "1a3f;name=value", "1a3f ; ext": hex size, optional whitespace, optional extensions.
    static func parseChunkSize(_ line: ArraySlice<UInt8>) throws -> Int {
        var size = 0
        var digits = 0
        var index = line.startIndex
        var significant = 0
        while index < line.endIndex, let value = hexValue(line[index]) {
            digits += 1
            if value != 0 || significant > 0 { significant += 1 }
            // 15 significant hex digits stay below Int.max; more is nonsense for a real chunk.
            guard significant <= 15 else { throw DockerError.malformedHTTP(detail: "chunk size too large") }
            size = size << 4 | value
            index += 1
        }
        guard digits > 0 else {
            throw DockerError.malformedHTTP(detail: "invalid chunk size line: \(oneLine(String(decoding: line.prefix(40), as: UTF8.self)))")
        }
        while index < line.endIndex, line[index] == 0x20 || line[index] == 0x09 { index += 1 }
        guard index == line.endIndex || line[index] == 0x3B else {  // ';' starts the extensions
            throw DockerError.malformedHTTP(detail: "invalid chunk size line: \(oneLine(String(decoding: line.prefix(40), as: UTF8.self)))")
        }
        return size
    }
}

private func digitValue(_ byte: UInt8) -> Int? {
    byte >= 0x30 && byte <= 0x39 ? Int(byte - 0x30) : nil
}

private func hexValue(_ byte: UInt8) -> Int? {
    switch byte {
    case 0x30...0x39: return Int(byte - 0x30)
    case 0x41...0x46: return Int(byte - 0x41 + 10)
    case 0x61...0x66: return Int(byte - 0x61 + 10)
    default: return nil
    }
}

/// RFC 9110 token characters, for header names.
private func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
         UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
         UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        return true
    default: return false
    }
}
