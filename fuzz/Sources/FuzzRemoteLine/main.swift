// libFuzzer target: a remote host's stream (`gpuctop snapshot --json --stream` over ssh),
// down the path RemoteHosts' reader takes: LineSplitter, then RemoteHosts.take (the
// 8 MiB line limit, RemoteHosts.decodeLine: JSON, SnapshotLimits, sanitized numbers),
// then the text formatter (SnapshotText.render) on every snapshot accepted.
//
// The bytes are split twice: whole, with the real limit, and in reads of 1 to 16
// bytes (the first byte chooses) with a 256-byte limit, so over-long lines are met
// too. Both must agree on the lines that fit; the small splitter never holds more
// than its limit, and every refusal is one line. An accepted snapshot must be within
// SnapshotLimits, and written back as JSON it must decode to the same snapshot.
// Decoding may refuse; nothing may trap.
import FoundationEssentials
import Fleet
import Model
import TUI

private func fail(_ why: String, _ bytes: [UInt8]) -> Never {
    fatalError("FuzzRemoteLine: \(why) for \(bytes)")
}

private let host = HostSpec(host: "fuzz")

private func lines(_ pieces: [LineSplitter.Piece]) -> [[UInt8]] {
    pieces.compactMap { if case .line(let l) = $0 { return l }; return nil }
}

/// What the reader does with one piece; checks what it gets back.
private func take(_ piece: LineSplitter.Piece, _ bytes: [UInt8]) {
    switch RemoteHosts.take(piece, from: host) {
    case nil:
        if piece != .line([]) { fail("only an empty line is skipped", bytes) }
    case .failure(let why)?:
        if why.description.contains(where: { $0.isNewline }) { fail("a reason of several lines: \(why)", bytes) }
    case .success(let s)?:
        if let v = SnapshotLimits.violation(s) { fail("accepted past the limits: \(v)", bytes) }
        _ = SnapshotText.render(s)
        guard let again = try? JSONEncoder().encode(s) else { fail("does not encode", bytes) }
        guard case .success(let back) = RemoteHosts.decodeLine(Array(again)) else { fail("its own JSON is refused", bytes) }
        if back != s { fail("changed in a JSON round trip", bytes) }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRemoteLine(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    var whole = LineSplitter(limit: RemoteHosts.maxLineBytes)
    let pieces = whole.append(bytes)
    if pieces.contains(.overflow) { fail("overflow below the limit", bytes) }
    for piece in pieces { take(piece, bytes) }

    let limit = 256
    var small = LineSplitter(limit: limit)
    let step = 1 + Int(bytes.first ?? 0) % 16
    var smallPieces: [LineSplitter.Piece] = []
    var at = 0
    while at < bytes.count {
        smallPieces += small.append(Array(bytes[at..<min(at + step, bytes.count)]))
        if small.buffered > limit { fail("holds \(small.buffered) bytes past a \(limit)-byte limit", bytes) }
        at += step
    }
    // Its lines are the whole split's (checked next); only its overflows are new.
    for piece in smallPieces where piece == .overflow { take(piece, bytes) }
    if lines(smallPieces) != lines(pieces).filter({ $0.count <= limit }) { fail("the splits disagree", bytes) }
    return 0
}
