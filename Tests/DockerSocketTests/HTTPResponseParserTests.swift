// The HTTP parser on literal byte strings: framing, splits at every position, and garbage.
@testable import DockerSocket
import XCTest

final class HTTPResponseParserTests: XCTestCase {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Feeds `input` in pieces cut at `cuts`, then EOF if `eof`; returns head, body and whether it completed.
    private func run(_ input: [UInt8], cuts: [Int] = [], eof: Bool = true, limits: HTTPResponseParser.Limits = .init(),
                     bodyless: Bool = false) throws -> (HTTPResponseHead?, [UInt8], HTTPResponseParser) {
        var parser = HTTPResponseParser(limits: limits, bodyless: bodyless)
        var body: [UInt8] = []
        var head: HTTPResponseHead?
        var ends = 0
        var start = 0
        var events: [HTTPResponseParser.Event] = []
        for cut in cuts + [input.count] where cut >= start {
            events += try parser.feed(input[start..<cut])
            start = cut
        }
        if eof { events += try parser.finish() }
        for event in events {
            switch event {
            case .head(let h): XCTAssertNil(head, "two heads"); head = h
            case .body(let part): body += part
            case .end: ends += 1
            }
        }
        XCTAssertLessThanOrEqual(ends, 1)
        XCTAssertEqual(ends == 1, parser.isComplete)
        return (head, body, parser)
    }

    func testContentLength() throws {
        let response = try HTTPResponseParser.parse(bytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.head.reason, "OK")
        XCTAssertEqual(response.head.value("content-type"), "application/json")
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), "hello")
    }

    func testContentLengthSplitAtEveryPosition() throws {
        let input = bytes("HTTP/1.1 200 OK\r\nContent-Length: 11\r\nServer: x\r\n\r\nhello world")
        for cut in 0...input.count {
            let (head, body, parser) = try run(input, cuts: [cut], eof: false)
            XCTAssertEqual(head?.status, 200, "cut at \(cut)")
            XCTAssertEqual(String(decoding: body, as: UTF8.self), "hello world", "cut at \(cut)")
            XCTAssertTrue(parser.connectionReusable)
        }
    }

    func testChunkedWithExtensionsAndTrailers() throws {
        let input = bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                          "5;name=value\r\nhello\r\n" +
                          "1 ; ext\r\n \r\n" +
                          "A;a=1;b=\"q\"\r\n0123456789\r\n" +
                          "0;last\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n")
        let (head, body, parser) = try run(input, eof: false)
        XCTAssertEqual(head?.status, 200)
        XCTAssertEqual(String(decoding: body, as: UTF8.self), "hello 0123456789")
        XCTAssertEqual(parser.trailers, [HTTPHeaderField(name: "X-Trailer", value: "yes"), HTTPHeaderField(name: "X-Other", value: "2")])
        XCTAssertEqual(parser.framing, .chunked)
        XCTAssertTrue(parser.connectionReusable)
    }

    func testChunkedByteByByteAndEverySplit() throws {
        let input = bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n")
        let expected = "abcabcdefghijklmnopqrstuvwxyz"
        let (_, body, _) = try run(input, cuts: Array(0...input.count), eof: false)
        XCTAssertEqual(String(decoding: body, as: UTF8.self), expected)
        for cut in 0...input.count {
            for second in stride(from: cut, through: input.count, by: 7) {
                let (_, body, parser) = try run(input, cuts: [cut, second], eof: false)
                XCTAssertEqual(String(decoding: body, as: UTF8.self), expected, "cuts \(cut), \(second)")
                XCTAssertTrue(parser.isComplete)
            }
        }
    }

    func testChunkSizeWithLeadingZeros() throws {
        let response = try HTTPResponseParser.parse(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000000002\r\nok\r\n000\r\n\r\n"))
        XCTAssertEqual(response.body, bytes("ok"))
    }

    func testBareLineFeedsAreTolerated() throws {
        let response = try HTTPResponseParser.parse(bytes("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nok\n0\n\n"))
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), "ok")
    }

    func testNoBodyStatusesAndHead() throws {
        for status in ["204 No Content", "304 Not Modified"] {
            let (head, body, parser) = try run(bytes("HTTP/1.1 \(status)\r\nServer: x\r\n\r\n"), eof: false)
            XCTAssertNotNil(head)
            XCTAssertEqual(body, [])
            XCTAssertTrue(parser.isComplete)
            XCTAssertTrue(parser.connectionReusable)
        }
        let (_, body, parser) = try run(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"), eof: false, bodyless: true)
        XCTAssertEqual(body, [])
        XCTAssertTrue(parser.isComplete)
    }

    func testInterimResponseIsSkipped() throws {
        let response = try HTTPResponseParser.parse(bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.body, bytes("ok"))
    }

    func testBodyUntilClose() throws {
        let input = bytes("HTTP/1.0 500 Internal Server Error\r\n\r\nplain text error")
        let (head, body, parser) = try run(input, cuts: [20, 40], eof: false)
        XCTAssertEqual(head?.minorVersion, 0)
        XCTAssertFalse(parser.isComplete)
        XCTAssertEqual(String(decoding: body, as: UTF8.self), "plain text error")
        let response = try HTTPResponseParser.parse(input)
        XCTAssertEqual(response.status, 500)
        XCTAssertEqual(response.head.reason, "Internal Server Error")
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), "plain text error")
    }

    func testConnectionReuseRules() throws {
        XCTAssertFalse(try run(bytes("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"), eof: false).2.connectionReusable)
        XCTAssertFalse(try run(bytes("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"), eof: false).2.connectionReusable)
        XCTAssertTrue(try run(bytes("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n"), eof: false).2.connectionReusable)
        let (_, _, parser) = try run(bytes("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA"), eof: false)
        XCTAssertEqual(parser.extraBytes, 5)
        XCTAssertFalse(parser.connectionReusable)
    }

    func testTruncatedResponsesThrowConnectionClosed() {
        let cases = [
            "",
            "HTTP/1.1 200 OK\r\nContent-Le",
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nTrailer: x\r\n",
        ]
        for text in cases {
            assertDockerError(try HTTPResponseParser.parse(bytes(text))) {
                if case .connectionClosed = $0 { return true } else { return false }
            }
        }
    }

    func testMalformedResponses() {
        let cases = [
            "SSH-2.0-OpenSSH_9.2\r\n\r\n",
            "HTTP/2 200 OK\r\n\r\n",
            "HTTP/1.1 20 OK\r\n\r\n",
            "HTTP/1.1 999 What\r\n\r\n",
            "HTTP/1.1 200OK\r\n\r\n",
            "\r\n\r\n",
            "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
            "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\rX0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
        ]
        for text in cases {
            assertDockerError(try HTTPResponseParser.parse(bytes(text), limits: .init(maxBodyBytes: nil))) {
                if case .malformedHTTP = $0 { return true } else { return false }
            }
        }
    }

    func testBoundsOnHeadersLinesAndBody() {
        let hugeHeader = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 70_000) + "\r\n\r\n"
        assertDockerError(try HTTPResponseParser.parse(bytes(hugeHeader))) { if case .malformedHTTP = $0 { return true }; return false }
        // The header bound holds even before any line ends.
        var parser = HTTPResponseParser()
        XCTAssertThrowsError(try parser.feed([UInt8](repeating: 0x41, count: 70_000)))

        let longChunkLine = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + String(repeating: "e", count: 9000) + "\r\n"
        assertDockerError(try HTTPResponseParser.parse(bytes(longChunkLine))) { if case .malformedHTTP = $0 { return true }; return false }

        let limits = HTTPResponseParser.Limits(maxBodyBytes: 10)
        assertDockerError(try HTTPResponseParser.parse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"), limits: limits)) { $0 == .bodyTooLarge(limit: 10) }
        assertDockerError(try HTTPResponseParser.parse(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\n"), limits: limits)) { $0 == .bodyTooLarge(limit: 10) }
        assertDockerError(try HTTPResponseParser.parse(bytes("HTTP/1.1 200 OK\r\n\r\n0123456789X"), limits: limits)) { $0 == .bodyTooLarge(limit: 10) }
        XCTAssertNoThrow(try HTTPResponseParser.parse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"), limits: limits))
    }

    /// A small deterministic fuzz pass: mutated valid responses and random bytes must parse or
    /// throw a DockerError, never trap. (A real fuzzer is meant to take over from here.)
    func testMutatedInputsNeverTrap() {
        let seeds = [
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
            "HTTP/1.1 304 Not Modified\r\n\r\n",
            "HTTP/1.0 404 Not Found\r\n\r\n{\"message\":\"x\"}",
        ].map(bytes)
        var rng = SplitMix64(seed: 42)
        let alphabet = bytes("0123456789abcdefABCDEF \r\n:;-HTTP/1.")
        for round in 0..<3000 {
            var input = seeds[round % seeds.count]
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let position = Int(rng.next() % UInt64(input.count + 1))
                switch rng.next() % 4 {
                case 0 where position < input.count: input.remove(at: position)
                case 1: input.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: position)
                case 2 where position < input.count: input[position] = UInt8(truncatingIfNeeded: rng.next())
                default: input.insert(contentsOf: input[position...].prefix(8), at: position)
                }
            }
            let cut = Int(rng.next() % UInt64(input.count + 1))
            do {
                _ = try run(input, cuts: [cut], limits: .init(maxBodyBytes: 1 << 16))
            } catch is DockerError {
            } catch {
                XCTFail("non-DockerError \(error) for \(input)")
            }
        }
        for _ in 0..<500 {
            let input = (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            do { _ = try HTTPResponseParser.parse([UInt8]("HTTP/1.1 ".utf8) + input) } catch is DockerError {} catch { XCTFail("\(error)") }
        }
    }
}

struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}
