// The byte-level part of the recording format (see Recording.swift): varints,
// CRC32, and one generic "row" codec that every record uses.
//
// A Snapshot is turned into a tree of rows: the snapshot itself is one row whose
// fields are scalars and lists of rows (GPUs, each with a list of MIG rows,
// processes, containers, degraded sources). A row is encoded against a base row:
//
//   varint (changedMask << 1 | hasNils)  [varint nilMask]  value of each changed, non-nil field
//
// A keyframe encodes against the all-nil row; a delta against the previous
// snapshot's row, so an unchanged field costs nothing and a changed number costs
// the zigzag varint of its difference. A list of rows is its count, then per row
// a varint reference to the base list (0: a new row, encoded against the all-nil
// row; 1: the base row after the one matched last; n >= 2: base row n - 2) and the
// row encoded against it. The encoder matches rows by a key (GPU index, PID + GPU
// + kind, container id); the decoder only follows the references, so order and
// duplicates round-trip exactly.
//
// Strings go through a table that starts empty at each keyframe: varint 0 and the
// UTF-8 bytes (length-prefixed) the first time, varint n = table index + 1 after.
// Doubles are exact: varint (zigzag(k - baseK) << 1) when the value is k / 100
// for an integer k (baseK likewise from the base value, else 0); otherwise varint 1
// and the 8 bytes of the IEEE bit pattern, little-endian.
import Model

// MARK: - Fields and schemas

/// One field of a row. Doubles are kept as bit patterns: equality is exact.
enum RecField: Hashable {
    case null
    case int(Int64)
    case double(UInt64)
    case string(String)
    case ints([Int64])
    case strings([String])
    case rows([[RecField]])
}

indirect enum RecFieldKind {
    case int, double, string, ints, strings
    case rows(RecRowSchema)
}

final class RecRowSchema {
    let name: String
    let kinds: [RecFieldKind]
    /// Fields that identify "the same" row from one snapshot to the next.
    let keyFields: [Int]
    let nullRow: [RecField]

    init(_ name: String, _ kinds: [RecFieldKind], key: [Int]) {
        precondition(kinds.count <= 62, "a row has at most 62 fields")
        self.name = name
        self.kinds = kinds
        self.keyFields = key
        self.nullRow = Array(repeating: .null, count: kinds.count)
    }

    func key(_ row: [RecField]) -> [RecField] { keyFields.map { row[$0] } }
}

struct RecDecodeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Bytes

struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }

    mutating func u32(_ v: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }

    mutating func u64(_ v: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func zigzag(_ v: Int64) { varint(RecZigzag.encode(v)) }

    mutating func append(_ other: [UInt8]) { bytes.append(contentsOf: other) }
}

/// Reads a window [position, end) of a byte array; every read is bounds-checked.
struct ByteReader {
    let bytes: [UInt8]
    var position: Int
    let end: Int

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.position = start
        self.end = end ?? bytes.count
    }

    var remaining: Int { end - position }

    mutating func u8() throws -> UInt8 {
        guard position < end else { throw RecDecodeError("the record ends early") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u32() throws -> UInt32 {
        guard remaining >= 4 else { throw RecDecodeError("the record ends early") }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[position + i]) << UInt32(8 * i) }
        position += 4
        return v
    }

    mutating func u64() throws -> UInt64 {
        guard remaining >= 8 else { throw RecDecodeError("the record ends early") }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[position + i]) << UInt64(8 * i) }
        position += 8
        return v
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try u8()
            if shift == 63 && b > 1 { throw RecDecodeError("a number overflows 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw RecDecodeError("a number overflows 64 bits") }
        }
    }

    mutating func zigzag() throws -> Int64 { RecZigzag.decode(try varint()) }

    /// A count of items that each take at least one byte: never more than what is left.
    mutating func count() throws -> Int {
        let n = try varint()
        guard n <= UInt64(remaining) else { throw RecDecodeError("a count of \(n) exceeds the record") }
        return Int(n)
    }

    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw RecDecodeError("the record ends early") }
        defer { position += n }
        return bytes[position..<(position + n)]
    }
}

enum RecZigzag {
    static func encode(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
    static func decode(_ u: UInt64) -> Int64 { Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1) }
}

/// CRC-32 (IEEE 802.3, as zlib and PNG compute it).
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        let t = table
        for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}

// MARK: - Doubles

enum RecDouble {
    /// k when bits is exactly the double k / 100 (|k| < 2^50), else nil.
    static func centi(_ bits: UInt64) -> Int64? {
        let v = Double(bitPattern: bits)
        guard v.isFinite, abs(v) < 1e13 else { return nil }
        let k = (v * 100).rounded()
        guard abs(k) < 1_125_899_906_842_624 else { return nil }
        let ki = Int64(k)
        return (Double(ki) / 100).bitPattern == bits ? ki : nil
    }
}

// MARK: - Encoding

/// Encodes rows into one record body. `strings` persists from the keyframe on.
struct RecRowEncoder {
    var out = ByteWriter()
    var strings: [String: Int]

    init(strings: [String: Int]) { self.strings = strings }

    mutating func string(_ s: String) {
        if let i = strings[s] {
            out.varint(UInt64(i + 1))
        } else {
            out.varint(0)
            let utf8 = Array(s.utf8)
            out.varint(UInt64(utf8.count))
            out.append(utf8)
            strings[s] = strings.count
        }
    }

    mutating func row(_ row: [RecField], base: [RecField], schema: RecRowSchema) {
        var changed: UInt64 = 0
        var nils: UInt64 = 0
        for i in 0..<schema.kinds.count where row[i] != base[i] {
            changed |= 1 << UInt64(i)
            if row[i] == .null { nils |= 1 << UInt64(i) }
        }
        out.varint(changed << 1 | (nils != 0 ? 1 : 0))
        if nils != 0 { out.varint(nils) }
        guard changed != 0 else { return }
        for i in 0..<schema.kinds.count where changed & (1 << UInt64(i)) != 0 && nils & (1 << UInt64(i)) == 0 {
            value(row[i], base: base[i], kind: schema.kinds[i])
        }
    }

    mutating func value(_ v: RecField, base: RecField, kind: RecFieldKind) {
        switch (kind, v) {
        case (.int, .int(let x)):
            var b: Int64 = 0
            if case .int(let y) = base { b = y }
            out.zigzag(x &- b)
        case (.double, .double(let bits)):
            if let k = RecDouble.centi(bits) {
                var b: Int64 = 0
                if case .double(let baseBits) = base, let bk = RecDouble.centi(baseBits) { b = bk }
                out.varint(RecZigzag.encode(k &- b) << 1)
            } else {
                out.varint(1)
                out.u64(bits)
            }
        case (.string, .string(let s)):
            string(s)
        case (.ints, .ints(let xs)):
            out.varint(UInt64(xs.count))
            for x in xs { out.zigzag(x) }
        case (.strings, .strings(let xs)):
            out.varint(UInt64(xs.count))
            for x in xs { string(x) }
        case (.rows(let schema), .rows(let rows)):
            var baseRows: [[RecField]] = []
            if case .rows(let b) = base { baseRows = b }
            list(rows, base: baseRows, schema: schema)
        default:
            preconditionFailure("recording: field of the wrong kind")
        }
    }

    mutating func list(_ rows: [[RecField]], base: [[RecField]], schema: RecRowSchema) {
        out.varint(UInt64(rows.count))
        // Base rows by key, in order, so duplicates match one to one.
        var byKey: [[RecField]: [Int]] = [:]
        for (j, b) in base.enumerated() { byKey[schema.key(b), default: []].append(j) }
        var cursor: [[RecField]: Int] = [:]
        var expected = 0
        for r in rows {
            let key = schema.key(r)
            let used = cursor[key, default: 0]
            if let candidates = byKey[key], used < candidates.count {
                let j = candidates[used]
                cursor[key] = used + 1
                out.varint(j == expected ? 1 : UInt64(j) + 2)
                expected = j + 1
                row(r, base: base[j], schema: schema)
            } else {
                out.varint(0)
                row(r, base: schema.nullRow, schema: schema)
            }
        }
    }
}

// MARK: - Decoding

/// The most rows one decoded list of this kind may hold. Checked on the count,
/// before any row exists: a row of "same as row 0" costs two bytes in the file and
/// hundreds in memory, so a 4 MB record could otherwise become gigabytes.
extension RecRowSchema {
    var maxRows: Int {
        if self === RecSchemas.gpu { return SnapshotLimits.gpus }
        if self === RecSchemas.process { return SnapshotLimits.processes }
        if self === RecSchemas.container { return SnapshotLimits.containers }
        // NVML has at most 7 MIG instances a GPU; a degraded source per host of a merged view.
        if self === RecSchemas.mig { return 64 }
        if self === RecSchemas.xid { return SnapshotLimits.xidEvents }
        return 4_096
    }

    /// "processes", "GPUs", for a one-line refusal.
    var plural: String {
        switch name {
        case "process": return "processes"
        case "GPU": return "GPUs"
        default: return name + "s"
        }
    }
}

struct RecRowDecoder {
    var input: ByteReader
    var strings: [String]
    /// Values (rows, list items) one record may still make. Each costs at least a
    /// byte in the file and up to some hundreds in memory; with the row limits
    /// above this keeps a record's decoded size within a few hundred MB even at
    /// the 64 MiB a frame may have (a real snapshot makes a few thousand).
    var budget = RecRowDecoder.maxValues
    static let maxValues = 4_000_000

    /// Counts `n` more values against the budget.
    mutating func spend(_ n: Int) throws {
        guard n <= budget else { throw RecDecodeError("more than \(Self.maxValues) values in one record") }
        budget -= n
    }

    mutating func string() throws -> String {
        let ref = try input.varint()
        if ref == 0 {
            let n = try input.count()
            let s = String(decoding: try input.take(n), as: UTF8.self)
            strings.append(s)
            return s
        }
        guard ref <= UInt64(strings.count) else {
            throw RecDecodeError("string reference \(ref) beyond the \(strings.count) strings seen")
        }
        return strings[Int(ref - 1)]
    }

    mutating func row(base: [RecField], schema: RecRowSchema) throws -> [RecField] {
        let header = try input.varint()
        let changed = header >> 1
        let nils = header & 1 != 0 ? try input.varint() : 0
        let n = schema.kinds.count
        guard changed >> UInt64(n) == 0 else { throw RecDecodeError("a \(schema.name) row names fields beyond its \(n)") }
        guard nils & ~changed == 0 else { throw RecDecodeError("a \(schema.name) row clears a field it does not change") }
        guard changed != 0 else { return base }
        var result = base
        for i in 0..<n where changed & (1 << UInt64(i)) != 0 {
            if nils & (1 << UInt64(i)) != 0 {
                result[i] = .null
            } else {
                result[i] = try value(base: base[i], kind: schema.kinds[i])
            }
        }
        return result
    }

    mutating func value(base: RecField, kind: RecFieldKind) throws -> RecField {
        switch kind {
        case .int:
            var b: Int64 = 0
            if case .int(let y) = base { b = y }
            return .int(b &+ (try input.zigzag()))
        case .double:
            let u = try input.varint()
            if u == 1 { return .double(try input.u64()) }
            guard u & 1 == 0 else { throw RecDecodeError("bad number form \(u)") }
            var b: Int64 = 0
            if case .double(let baseBits) = base, let bk = RecDouble.centi(baseBits) { b = bk }
            let k = b &+ RecZigzag.decode(u >> 1)
            return .double((Double(k) / 100).bitPattern)
        case .string:
            return .string(try string())
        case .ints:
            let n = try input.count()
            try spend(n)
            var xs: [Int64] = []
            xs.reserveCapacity(n)
            for _ in 0..<n { xs.append(try input.zigzag()) }
            return .ints(xs)
        case .strings:
            let n = try input.count()
            try spend(n)
            var xs: [String] = []
            xs.reserveCapacity(n)
            for _ in 0..<n { xs.append(try string()) }
            return .strings(xs)
        case .rows(let schema):
            var baseRows: [[RecField]] = []
            if case .rows(let b) = base { baseRows = b }
            return .rows(try list(base: baseRows, schema: schema))
        }
    }

    mutating func list(base: [[RecField]], schema: RecRowSchema) throws -> [[RecField]] {
        let n = try input.count()
        guard n <= schema.maxRows else {
            let within = schema === RecSchemas.mig ? "GPU" : "snapshot"
            throw RecDecodeError("\(n) \(schema.plural) in one \(within) (at most \(schema.maxRows))")
        }
        try spend(n * schema.kinds.count)
        var rows: [[RecField]] = []
        rows.reserveCapacity(n)
        var expected = 0
        for _ in 0..<n {
            let ref = try input.varint()
            if ref == 0 {
                rows.append(try row(base: schema.nullRow, schema: schema))
                continue
            }
            let j = ref == 1 ? UInt64(expected) : ref - 2
            guard j < UInt64(base.count) else {
                throw RecDecodeError("a \(schema.name) row refers to row \(j) of the \(base.count) before")
            }
            expected = Int(j) + 1
            rows.append(try row(base: base[Int(j)], schema: schema))
        }
        return rows
    }
}
