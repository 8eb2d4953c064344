// libFuzzer target: the incremental HTTP/1.x response parser (HTTPResponseParser).
//
// Input: one control byte, then the response bytes. The control byte picks the
// limits (default, or tiny ones so the bounds are reached) and whether the request
// was HEAD. The response is parsed whole (HTTPResponseParser.parse) and again fed
// in pieces cut at points drawn from a generator seeded by the input, byte by byte
// for short inputs. Both must either throw a DockerError or give the same head,
// body, trailers and reuse verdict; the parser must never trap.
import DockerSocket

private func fail(_ why: String, _ data: UnsafeRawBufferPointer) -> Never {
    fatalError("FuzzHTTP: \(why) for \(Array(data))")
}

private struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}

private struct Outcome: Equatable {
    var head: HTTPResponseHead?
    var body: [UInt8] = []
    var trailers: [HTTPHeaderField] = []
    var complete = false
    var reusable = false
    var failed = false
}

/// Feeds `input` cut at `cuts` (ascending), then EOF.
private func incremental(_ input: [UInt8], cuts: [Int], limits: HTTPResponseParser.Limits, bodyless: Bool,
                         _ data: UnsafeRawBufferPointer) -> Outcome {
    var parser = HTTPResponseParser(limits: limits, bodyless: bodyless)
    var out = Outcome()
    var ends = 0
    func take(_ events: [HTTPResponseParser.Event]) {
        for event in events {
            switch event {
            case .head(let h):
                if out.head != nil { fail("two heads", data) }
                out.head = h
            case .body(let part):
                if out.head == nil { fail("body before head", data) }
                if ends > 0 { fail("body after end", data) }
                out.body += part
            case .end:
                ends += 1
            }
        }
    }
    do {
        var start = 0
        for cut in cuts + [input.count] where cut > start {
            take(try parser.feed(input[start..<cut]))
            start = cut
        }
        if parser.isComplete {
            // A complete response is reused only when no bytes came after it.
            out.reusable = parser.connectionReusable
        }
        take(try parser.finish())
    } catch is DockerError {
        out.failed = true
        return out
    } catch {
        fail("non-DockerError \(error)", data)
    }
    if ends != 1 || !parser.isComplete { fail("finished without exactly one end (\(ends))", data) }
    if parser.bodyBytes != out.body.count { fail("bodyBytes \(parser.bodyBytes) != \(out.body.count)", data) }
    if let max = limits.maxBodyBytes, out.body.count > max { fail("body over the limit", data) }
    out.trailers = parser.trailers
    out.complete = true
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let data = UnsafeRawBufferPointer(start: start, count: count)
    guard let control = data.first else { return 0 }
    let input = Array(data.dropFirst())
    let limits = control & 1 == 0
        ? HTTPResponseParser.Limits()
        : HTTPResponseParser.Limits(maxHeaderBytes: 64 + Int(control >> 4) * 8, maxLineBytes: 4 + Int(control >> 5),
                                    maxBodyBytes: control & 4 == 0 ? 256 : nil)
    let bodyless = control & 2 != 0

    // Whole, through the convenience entry point.
    var whole = Outcome()
    do {
        let r = try HTTPResponseParser.parse(input, limits: limits, bodyless: bodyless)
        whole.head = r.head
        whole.body = r.body
        whole.trailers = r.trailers
        whole.complete = true
    } catch is DockerError {
        whole.failed = true
    } catch {
        fail("non-DockerError \(error)", data)
    }

    // In one piece and in random pieces.
    let one = incremental(input, cuts: [], limits: limits, bodyless: bodyless, data)
    var rng = SplitMix64(state: UInt64(truncatingIfNeeded: input.count) &* 31 &+ UInt64(control))
    for b in input.prefix(64) { rng.state = rng.state &* 1099511628211 ^ UInt64(b) }
    var cuts: [Int]
    if input.count <= 48 {
        cuts = Array(0..<input.count)  // byte by byte
    } else {
        cuts = (0..<(1 + Int(rng.next() % 8))).map { _ in Int(rng.next() % UInt64(input.count + 1)) }.sorted()
    }
    let pieces = incremental(input, cuts: cuts, limits: limits, bodyless: bodyless, data)

    for (name, other) in [("one piece", one), ("pieces \(cuts)", pieces)] {
        if other.failed != whole.failed { fail("parse() failed=\(whole.failed) but \(name) failed=\(other.failed)", data) }
        if !whole.failed && (other.head != whole.head || other.body != whole.body || other.trailers != whole.trailers) {
            fail("\(name) differs from parse()", data)
        }
    }
    if one.reusable != pieces.reusable { fail("reuse verdict depends on the split", data) }
    return 0
}
