// libFuzzer target: the recording reader (RecordingReader).
//
// Each input is read twice: as it is, and with every frame's CRC-32 recomputed, so
// that mutations get past the checksums into the record decoder (otherwise nearly
// every mutated record stops at "checksum mismatch"). Each reading opens the bytes,
// then decodes every snapshot it accepted, in order, backwards and by time
// (snapshot(index:) decodes again from the keyframe and traps if a record accepted at
// open does not decode again). Finally the snapshots are written with RecordingWriter
// and read back: they must come back field for field (doubles bit for bit).
// Opening may throw a RecordingError; nothing may trap.
import Glibc
import Model
@testable import Recording

private func fail(_ why: String, _ bytes: [UInt8]) -> Never {
    fatalError("FuzzRecording: \(why) for \(bytes)")
}

/// The bytes with each frame's checksum made right (nil when that changes nothing).
private func withFixedChecksums(_ bytes: [UInt8]) -> [UInt8]? {
    var b = bytes
    var pos = RecordingFile.magic.count
    var changed = false
    while pos + 8 <= b.count {
        let length = Int(b[pos]) | Int(b[pos + 1]) << 8 | Int(b[pos + 2]) << 16 | Int(b[pos + 3]) << 24
        guard length <= b.count - pos - 8 else { break }
        let crc = CRC32.checksum(b[(pos + 8)..<(pos + 8 + length)])
        for i in 0..<4 {
            let byte = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i)))
            if b[pos + 4 + i] != byte { b[pos + 4 + i] = byte; changed = true }
        }
        pos += 8 + length
    }
    return changed ? b : nil
}

private let scratchPath = "/dev/shm/gpuctop-fuzz-recording-\(getpid()).rec"
/// Removes the scratch file when libFuzzer exits (after -runs, or on a crash report).
private let removeScratchAtExit: Void = { _ = atexit { unlink(scratchPath) } }()

private func read(_ bytes: [UInt8], roundTrip: Bool) {
    let reader: RecordingReader
    do {
        reader = try RecordingReader(bytes: bytes, path: "fuzz")
    } catch {
        _ = "\(error)"
        return
    }
    _ = reader.stopReason?.description
    let all = reader.snapshots
    if all.count != reader.count || reader.times.count != reader.count || reader.offsets.count != reader.count {
        fail("counts disagree", bytes)
    }
    for (i, s) in all.enumerated() where s.time.bitPattern != reader.times[i].bitPattern {
        fail("time of snapshot \(i)", bytes)
    }
    // Random access: backwards, then by time.
    for i in stride(from: reader.count - 1, through: 0, by: -1) {
        if RecRows.row(reader.snapshot(index: i)) != RecRows.row(all[i]) { fail("snapshot \(i) differs on random access", bytes) }
    }
    if let first = reader.times.first { _ = reader.snapshot(at: first) }
    if let last = reader.times.last { _ = reader.snapshot(at: last + 1) }

    // Write what was read (keyframe every 3 records, so deltas too) and read it back.
    guard roundTrip, !all.isEmpty, all.count <= 32 else { return }
    do {
        let writer = try RecordingWriter(path: scratchPath, header: reader.header, keyframeInterval: 3)
        for s in all { try writer.append(s) }
        try writer.close()
        let again = try RecordingReader(path: scratchPath)
        if again.stopReason != nil { fail("re-read stopped: \(again.stopReason!)", bytes) }
        let back = again.snapshots
        if back.count != all.count { fail("re-read \(back.count) of \(all.count) snapshots", bytes) }
        for i in all.indices where RecRows.row(back[i]) != RecRows.row(all[i]) {
            fail("snapshot \(i) changed in a write and read", bytes)
        }
    } catch {
        fail("round trip: \(error)", bytes)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecording(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    _ = removeScratchAtExit
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    read(bytes, roundTrip: false)
    read(withFixedChecksums(bytes) ?? bytes, roundTrip: true)
    return 0
}
