// Recordings: a compact, append-only file of Snapshots, one record per refresh.
//
//   file    := magic header record* end?
//   magic   := "GPUCTOP-REC\n" (12 bytes)
//   header  := frame whose body is the JSON of RecordingHeader
//   record  := frame
//   frame   := u32le length, u32le CRC-32 of the body, body (length bytes)
//   body    := u8 kind, u8 record format version, ...
//     'K' keyframe: varint snapshot schema, the snapshot encoded on its own
//     'D' delta:    varint snapshot schema, the snapshot encoded against the previous one
//     'E' end:      varint number of snapshot records (written by close())
//
// A keyframe comes first and then every `keyframeInterval` records, so any
// snapshot decodes from the keyframe before it. Deltas carry only what changed
// (see RecordingCodec.swift). Each record goes to the file in one write(2), so a
// killed recorder loses at most the record being written; the reader keeps every
// record up to the first one that is truncated, fails its checksum, comes from a
// newer format or schema, or does not decode, and says where and why it stopped.
import FoundationEssentials
import Glibc
import Model
import Support

/// Version of the recording format; bump it when the encoding changes.
public let recordingFormatVersion = 1

/// The first record of a recording: what was recorded, where, by what.
public struct RecordingHeader: Codable, Sendable, Equatable {
    public var format: String = RecordingFile.formatName
    public var formatVersion: Int = recordingFormatVersion
    /// Snapshot schema version of the recorder (each record carries its own too).
    public var schema: Int = snapshotSchemaVersion
    public var host: String
    public var driverVersion: String?
    public var gpuctopVersion: String
    /// Seconds since 1970: the first snapshot's time.
    public var startTime: Double
    /// A keyframe every this many records (informational: the reader follows the records).
    public var keyframeInterval: Int = RecordingFile.defaultKeyframeInterval

    public init(host: String, driverVersion: String?, gpuctopVersion: String, startTime: Double,
                keyframeInterval: Int = RecordingFile.defaultKeyframeInterval) {
        self.host = host
        self.driverVersion = driverVersion
        self.gpuctopVersion = gpuctopVersion
        self.startTime = startTime
        self.keyframeInterval = keyframeInterval
    }
}

public enum RecordingFile {
    public static let magic: [UInt8] = Array("GPUCTOP-REC\n".utf8)
    public static let formatName = "gpuctop-recording"
    public static let defaultKeyframeInterval = 60
    /// A frame longer than this is garbage, not a record.
    static let maxBodyLength = 64 << 20
    /// The header is a few hundred bytes of JSON.
    static let maxHeaderLength = 1 << 20
    static let frameOverhead = 8

    enum Kind: UInt8 {
        case keyframe = 0x4B  // 'K'
        case delta = 0x44     // 'D'
        case end = 0x45       // 'E'
    }

    static func frame(_ body: [UInt8]) -> [UInt8] {
        var w = ByteWriter()
        w.bytes.reserveCapacity(body.count + frameOverhead)
        w.u32(UInt32(body.count))
        w.u32(CRC32.checksum(body))
        w.append(body)
        return w.bytes
    }
}

/// Why a recording could not be written or opened. Each description is one line.
public enum RecordingError: Error, CustomStringConvertible, Equatable {
    case cannotCreate(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case closed(path: String)
    case cannotRead(path: String, reason: String)
    case notARecording(path: String, reason: String)
    case badHeader(path: String, reason: String)
    case newerFormat(path: String, version: Int)

    public var description: String { oneLine(text) }

    private var text: String {
        switch self {
        case .cannotCreate(let path, let reason): return "cannot create the recording \(path): \(reason)"
        case .writeFailed(let path, let reason): return "cannot write to the recording \(path): \(reason)"
        case .closed(let path): return "the recording \(path) is already closed"
        case .cannotRead(let path, let reason): return "cannot read \(path): \(reason)"
        case .notARecording(let path, let reason): return "\(path) is not a gpuctop recording (\(reason))"
        case .badHeader(let path, let reason): return "\(path): the recording's header is unreadable (\(reason))"
        case .newerFormat(let path, let version):
            return "\(path) is a recording of format version \(version); this gpuctop reads version \(recordingFormatVersion) (use a newer gpuctop)"
        }
    }
}

/// Where and why a reader stopped before the end of the file.
public struct RecordingStop: Sendable, Equatable, CustomStringConvertible {
    /// Number of the record that could not be read, from 0: the records before it are valid.
    public var record: Int
    /// Byte offset in the file where that record starts.
    public var offset: Int
    public var reason: String

    public var description: String { oneLine("stopped at record \(record) (byte \(offset)): \(reason)") }
}


// MARK: - Writer

/// Appends snapshots to a new recording file (an existing file is replaced).
/// Not thread-safe: use it from one thread.
public final class RecordingWriter {
    public let path: String
    public let header: RecordingHeader
    public let keyframeInterval: Int
    /// Snapshot records in the file.
    public private(set) var recordsWritten = 0
    /// Size of the file: header and records (and the end record once closed).
    public private(set) var bytesWritten = 0
    /// Appends that failed (their snapshot is not in the file).
    public private(set) var failedAppends = 0

    private var fd: Int32
    private var previous: [RecField]?
    private var strings: [String: Int] = [:]
    private var sinceKeyframe = 0
    /// A failed write left bytes past `bytesWritten` that could not be cut off yet.
    private var tornTail = false

    public init(path: String, header: RecordingHeader,
                keyframeInterval: Int = RecordingFile.defaultKeyframeInterval) throws(RecordingError) {
        self.path = path
        var header = header
        header.keyframeInterval = max(1, keyframeInterval)
        self.header = header
        self.keyframeInterval = max(1, keyframeInterval)
        // As for the textfile and the audit log: a link planted at the path is not
        // followed (root recording to /tmp/x.rec must not truncate what it points to), and
        // a FIFO there neither blocks the open nor takes the recording.
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0o644)
        guard fd >= 0 else {
            let code = errno
            throw .cannotCreate(path: path, reason: code == ELOOP ? "it is a symbolic link (not followed)"
                                                   : code == ENXIO ? "it is not a regular file" : errnoText(code))
        }
        // A FIFO with a reader would take the recording somewhere else; a device (/dev/null,
        // /dev/full) is the user's explicit choice and stays allowed.
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG || st.st_mode & S_IFMT == S_IFCHR else {
            Glibc.close(fd)
            fd = -1
            throw .cannotCreate(path: path, reason: "it is not a regular file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        let json: [UInt8]
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            json = Array(try encoder.encode(header))
        } catch {
            Glibc.close(fd)
            fd = -1
            throw .cannotCreate(path: path, reason: "cannot encode the header: \(error)")
        }
        if let problem = write(RecordingFile.magic + RecordingFile.frame(json)) {
            Glibc.close(fd)
            fd = -1
            throw .cannotCreate(path: path, reason: problem)
        }
    }

    deinit {
        if fd >= 0 { try? close() }
    }

    /// Adds one snapshot as one record. On a write error (disk full, ...) the file
    /// is cut back to its last whole record and the error thrown; later appends
    /// try again, starting with a keyframe.
    public func append(_ snapshot: Snapshot) throws(RecordingError) {
        guard fd >= 0 else { throw .closed(path: path) }
        let row = RecRows.row(snapshot)
        let keyframe = previous == nil || sinceKeyframe >= keyframeInterval
        if keyframe { strings = [:] }
        var encoder = RecRowEncoder(strings: strings)
        encoder.out.u8(keyframe ? RecordingFile.Kind.keyframe.rawValue : RecordingFile.Kind.delta.rawValue)
        encoder.out.u8(UInt8(recordingFormatVersion))
        encoder.out.varint(UInt64(max(0, snapshot.schema)))
        encoder.row(row, base: keyframe ? RecSchemas.snapshot.nullRow : previous!, schema: RecSchemas.snapshot)
        if let problem = write(RecordingFile.frame(encoder.out.bytes)) {
            failedAppends += 1
            previous = nil   // the next record is a keyframe
            throw .writeFailed(path: path, reason: problem)
        }
        previous = row
        strings = encoder.strings
        sinceKeyframe = keyframe ? 1 : sinceKeyframe + 1
        recordsWritten += 1
    }

    /// Writes the end record and closes the file. A recording without the end
    /// record still reads; the reader then says it ended without one.
    public func close() throws(RecordingError) {
        guard fd >= 0 else { throw .closed(path: path) }
        var body = ByteWriter()
        body.u8(RecordingFile.Kind.end.rawValue)
        body.u8(UInt8(recordingFormatVersion))
        body.varint(UInt64(recordsWritten))
        let problem = write(RecordingFile.frame(body.bytes))
        _ = fdatasync(fd)
        Glibc.close(fd)
        fd = -1
        if let problem { throw .writeFailed(path: path, reason: problem) }
    }

    /// Writes bytes at the end of the file: one write(2) unless it is cut short.
    /// On failure, cuts the file back to its last whole record; returns the reason.
    private func write(_ bytes: [UInt8]) -> String? {
        if tornTail {
            guard ftruncate(fd, off_t(bytesWritten)) == 0 else {
                return "\(errnoText(errno)) (cannot cut off a partly written record)"
            }
            tornTail = false
        }
        var done = 0
        var problem: String?
        bytes.withUnsafeBytes { buffer in
            while done < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n > 0 {
                    done += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    problem = n < 0 ? errnoText(errno) : "the file takes no more bytes"
                    return
                }
            }
        }
        guard let problem else {
            bytesWritten += bytes.count
            return nil
        }
        if done > 0 && ftruncate(fd, off_t(bytesWritten)) != 0 { tornTail = true }
        return problem
    }
}

// MARK: - Reader

/// Reads a recording: the header, then every valid record up to the first that
/// is not (see `stopReason`). The file is read once; snapshots are decoded on
/// demand from the keyframe before them. Not thread-safe: use it from one thread.
public final class RecordingReader {
    public let path: String
    public let header: RecordingHeader
    /// Nil when the file ended with its end record; else where and why reading stopped.
    public let stopReason: RecordingStop?
    /// Time of each valid snapshot, in file order.
    public let times: [Double]
    /// Byte offset of each valid snapshot record.
    public let offsets: [Int]
    /// Total size of the file in bytes.
    public let fileSize: Int

    private let bytes: [UInt8]
    /// For each record: the index of the keyframe it decodes from.
    private let keyframeOf: [Int]
    private var cursor: (index: Int, row: [RecField], strings: [String], schema: Int)?

    public var count: Int { times.count }

    /// Reads the file frame by frame: its magic first (so /dev/zero or a large file
    /// that is no recording costs 12 bytes), then each frame once its length is
    /// checked, and nothing past the first record that does not read.
    public convenience init(path: String) throws(RecordingError) {
        let input: RecordingInput
        do {
            input = try RecordingInput(path: path)
        } catch let code {
            throw .cannotRead(path: path, reason: errnoText(code.code))
        }
        defer { input.close() }
        try self.init(input: input, path: path)
    }

    public convenience init(bytes: [UInt8], path: String = "recording") throws(RecordingError) {
        try self.init(input: RecordingInput(bytes: bytes), path: path)
    }

    /// `rowBudget` replaces `rowBudget(fileBytes:)` (tests: the budget with small files).
    init(input: RecordingInput, path: String, rowBudget: ((Int) -> Int)? = nil) throws(RecordingError) {
        self.path = path
        let magic = RecordingFile.magic
        let start = try Self.available(input, path: path, from: 0, wanted: magic.count)
        guard start > 0 else { throw .notARecording(path: path, reason: "the file is empty") }
        guard start >= magic.count, Array(input.bytes[0..<magic.count]) == magic else {
            if start < magic.count && Array(magic[0..<start]) == Array(input.bytes[0..<start]) {
                throw .badHeader(path: path, reason: "the file ends after \(start) bytes")
            }
            throw .notARecording(path: path, reason: "it does not start with GPUCTOP-REC")
        }
        // The header frame.
        let frameStart = magic.count
        let overhead = RecordingFile.frameOverhead
        guard try Self.available(input, path: path, from: frameStart, wanted: overhead) >= overhead else {
            throw .badHeader(path: path, reason: "the file ends in the header")
        }
        let length = Int(input.u32(at: frameStart))
        let crc = input.u32(at: frameStart + 4)
        guard length <= RecordingFile.maxHeaderLength else {
            throw .badHeader(path: path, reason: "implausible header length \(length)")
        }
        let headerStart = frameStart + overhead
        guard try Self.available(input, path: path, from: headerStart, wanted: length) >= length else {
            throw .badHeader(path: path, reason: "the file ends in the header")
        }
        let headerBytes = input.bytes[headerStart..<(headerStart + length)]
        guard CRC32.checksum(headerBytes) == crc else {
            throw .badHeader(path: path, reason: "checksum mismatch")
        }
        struct Versions: Decodable { var format: String?; var formatVersion: Int? }
        let decoder = JSONDecoder()
        guard let versions = try? decoder.decode(Versions.self, from: Data(headerBytes)) else {
            throw .badHeader(path: path, reason: "not JSON")
        }
        guard versions.format == RecordingFile.formatName else {
            throw .notARecording(path: path, reason: "its header names format '\(versions.format ?? "")'")
        }
        let formatVersion = versions.formatVersion ?? 0
        guard formatVersion <= recordingFormatVersion else {
            throw .newerFormat(path: path, version: formatVersion)
        }
        guard formatVersion >= 1 else {
            throw .badHeader(path: path, reason: "format version \(formatVersion)")
        }
        do {
            var h = try decoder.decode(RecordingHeader.self, from: Data(headerBytes))
            // --at resolves against it: an absurd start time is unknown, as in a snapshot.
            h.startTime = SaneRange.requiredTime(h.startTime)
            header = h
        } catch {
            throw .badHeader(path: path, reason: "\(error)")
        }

        // The records: check each one and decode it, keeping only the last state.
        var position = headerStart + length
        var times: [Double] = []
        var offsets: [Int] = []
        var keyframeOf: [Int] = []
        var state: (row: [RecField], strings: [String])?
        var lastKeyframe = -1
        var ended = false
        var stop: RecordingStop?
        var decodedRows = 0
        let recordName = { (n: Int) in n == 1 ? "1 record" : "\(n) records" }
        while stop == nil {
            let n = times.count
            func halt(_ reason: String) { stop = RecordingStop(record: n, offset: position, reason: reason) }
            var left = try Self.available(input, path: path, from: position, wanted: RecordingFile.frameOverhead)
            if left == 0 {
                if !ended {
                    halt("the file ends without an end record after \(recordName(n)) (the recorder was stopped abruptly, or is still running)")
                }
                break
            }
            if ended {
                halt("\(input.size.map { $0 - position } ?? left) bytes follow the end record")
                break
            }
            guard left >= RecordingFile.frameOverhead else {
                halt("the file ends inside a record (\(left) of its 8 frame bytes)")
                break
            }
            let length = Int(input.u32(at: position))
            let crc = input.u32(at: position + 4)
            guard length >= 2, length <= RecordingFile.maxBodyLength else {
                halt("implausible record length \(length) (corrupt data)")
                break
            }
            // Only now, with its length checked, is the record itself read.
            let bodyStart = position + RecordingFile.frameOverhead
            left = try Self.available(input, path: path, from: bodyStart, wanted: length)
            guard length <= left else {
                halt("the file ends inside a record (\(left) of its \(length) bytes)")
                break
            }
            guard CRC32.checksum(input.bytes[bodyStart..<(bodyStart + length)]) == crc else {
                halt("checksum mismatch (corrupt data)")
                break
            }
            var body = ByteReader(input.bytes, from: bodyStart, to: bodyStart + length)
            let kindByte = try! body.u8()
            let version = Int(try! body.u8())
            guard version <= recordingFormatVersion else {
                halt("the record is of format version \(version); this gpuctop reads version \(recordingFormatVersion)")
                break
            }
            guard let kind = RecordingFile.Kind(rawValue: kindByte) else {
                halt("unknown record kind 0x\(String(kindByte, radix: 16))")
                break
            }
            do {
                switch kind {
                case .end:
                    let count = try body.varint()
                    guard count == UInt64(n) else {
                        throw RecDecodeError("the end record counts \(count) records, the file holds \(n)")
                    }
                    ended = true
                case .keyframe, .delta:
                    let schema = try body.varint()
                    guard schema <= UInt64(snapshotSchemaVersion) else {
                        halt("the record holds snapshot schema \(schema); this gpuctop reads schema \(snapshotSchemaVersion)")
                        break
                    }
                    if kind == .delta && state == nil {
                        throw RecDecodeError("a delta record with no keyframe before it")
                    }
                    var decoder = RecRowDecoder(input: body, strings: kind == .keyframe ? [] : state!.strings)
                    let base = kind == .keyframe ? RecSchemas.snapshot.nullRow : state!.row
                    let row = try decoder.row(base: base, schema: RecSchemas.snapshot)
                    body = decoder.input
                    let snapshot = try RecRows.snapshot(row, schema: Int(schema)).sanitized()
                    // A delta of a few bytes stands for a whole snapshot: the rows the file
                    // decodes to are bounded for the file as a whole, not only per record.
                    decodedRows += Self.rows(in: snapshot)
                    let budget = (rowBudget ?? Self.rowBudget(fileBytes:))(bodyStart + length)
                    if decodedRows > budget {
                        halt("its first \(bodyStart + length) bytes decode to more than \(budget) rows (GPUs, processes, containers, labels): not a recording gpuctop made")
                        break
                    }
                    if kind == .keyframe { lastKeyframe = n }
                    state = (row, decoder.strings)
                    times.append(snapshot.time)
                    offsets.append(position)
                    keyframeOf.append(lastKeyframe)
                }
                if stop == nil && body.remaining != 0 {
                    throw RecDecodeError("\(body.remaining) unexpected bytes at its end")
                }
            } catch {
                // A record that passed its checksum but does not decode: drop it too.
                if times.count > n { times.removeLast(); offsets.removeLast(); keyframeOf.removeLast() }
                ended = false
                halt("the record does not decode: \(error)")
                break
            }
            if stop == nil { position = bodyStart + length }
        }
        self.times = times
        self.offsets = offsets
        self.keyframeOf = keyframeOf
        self.stopReason = stop
        self.bytes = input.bytes
        self.fileSize = input.size ?? input.bytes.count
    }

    /// Bytes of `input` from `from` on, reading up to `wanted` of them; a read error is thrown one-line.
    private static func available(_ input: RecordingInput, path: String, from: Int, wanted: Int) throws(RecordingError) -> Int {
        do {
            return try input.available(from: from, wanted: wanted)
        } catch let code {
            throw .cannotRead(path: path, reason: errnoText(code.code))
        }
    }

    /// Every valid snapshot, decoded (for long recordings prefer `snapshot(index:)`).
    public var snapshots: [Snapshot] {
        (0..<count).map { snapshot(index: $0) }
    }

    /// The snapshot at `index` (0 ..< count). Sequential access decodes one record per call.
    /// What opening a file may decode in all: 10 rows per byte of file read, and at
    /// least 20 million. A real recording decodes to fewer rows per byte (a refresh of
    /// 1,000 processes is 1,000 rows in a delta of hundreds of bytes; 20 million rows is
    /// over five hours of 1,000 idle processes whose deltas hold only the GPU figures); a
    /// crafted one of 12-byte deltas each standing for 65,536 processes is stopped
    /// after about 20 million rows, seconds of work, instead of hours.
    static func rowBudget(fileBytes: Int) -> Int { max(20_000_000, 10 * fileBytes) }

    static func rows(in s: Snapshot) -> Int {
        s.gpus.count + s.processes.count + s.containers.reduce(s.containers.count) { $0 + ($1.labels?.count ?? 0) }
    }

    public func snapshot(index: Int) -> Snapshot {
        precondition(index >= 0 && index < count, "snapshot index \(index) out of 0..<\(count)")
        var state: (index: Int, row: [RecField], strings: [String], schema: Int)
        if let c = cursor, c.index <= index, c.index >= keyframeOf[index] {
            state = c
        } else {
            state = (keyframeOf[index] - 1, RecSchemas.snapshot.nullRow, [], snapshotSchemaVersion)
        }
        while state.index < index {
            // Every record here decoded when the file was opened, so this cannot fail.
            let i = state.index + 1
            var body = ByteReader(bytes, from: offsets[i] + RecordingFile.frameOverhead)
            let kind = try! body.u8()
            _ = try! body.u8()
            let schema = Int(try! body.varint())
            if kind == RecordingFile.Kind.keyframe.rawValue {
                state.row = RecSchemas.snapshot.nullRow
                state.strings = []
            }
            var decoder = RecRowDecoder(input: body, strings: state.strings)
            state = (i, try! decoder.row(base: state.row, schema: RecSchemas.snapshot), decoder.strings, schema)
        }
        cursor = state
        // Sanitised as when the file was opened: the times there and here agree.
        return try! RecRows.snapshot(state.row, schema: state.schema).sanitized()
    }

    /// Index of the snapshot whose time is nearest `time` (the earlier one on a tie); nil when empty.
    public func nearestIndex(to time: Double) -> Int? {
        var best: Int?
        var bestDistance = Double.infinity
        for (i, t) in times.enumerated() {
            let d = abs(t - time)
            if d < bestDistance {
                best = i; bestDistance = d
            } else if d == bestDistance, let b = best, time > t ? t > times[b] : t < times[b] {
                best = i   // equally far only by rounding (a time far off): the one on that side
            }
        }
        return best
    }

    /// The snapshot nearest `time` (seconds since 1970); nil when there is none.
    public func snapshot(at time: Double) -> Snapshot? {
        nearestIndex(to: time).map { snapshot(index: $0) }
    }
}
