// Splits a byte stream (a remote host's `snapshot --json --stream`) into lines.
//
// Each read is scanned once, for its own bytes only (memchr), so a line that takes
// many reads costs time in proportion to its length, not to its length squared (the
// reader used to rescan its whole buffer on every read: 20 s of CPU for a 64 MiB
// line). One line may hold at most `limit` bytes: a longer one is dropped as soon as
// it passes the limit, and the rest of it up to its newline, so the buffer never
// holds more than `limit` bytes whatever the other end sends.
import Glibc

public struct LineSplitter {
    /// What one read yields, in stream order.
    public enum Piece: Equatable {
        /// A whole line, without its newline (may be empty).
        case line([UInt8])
        /// A line passed `limit`: it is being dropped up to its newline. Reported once per line.
        case overflow
    }

    public let limit: Int
    private var buffer: [UInt8] = []
    /// Inside an over-long line: bytes are dropped until its newline.
    private var discarding = false

    /// Bytes held of the unfinished line (at most `limit`).
    public var buffered: Int { buffer.count }

    public init(limit: Int) {
        precondition(limit > 0)
        self.limit = limit
    }

    /// Takes the next bytes of the stream; returns the lines they complete.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) -> [Piece] {
        var pieces: [Piece] = []
        var start = 0
        while start < bytes.count {
            guard let nl = Self.newline(in: bytes, from: start) else {
                take(bytes, start..<bytes.count, into: &pieces)
                break
            }
            take(bytes, start..<nl, into: &pieces)
            if discarding {
                discarding = false
            } else {
                pieces.append(.line(buffer))
            }
            buffer.removeAll(keepingCapacity: buffer.count <= 65536)
            start = nl + 1
        }
        return pieces
    }

    public mutating func append(_ bytes: [UInt8]) -> [Piece] {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Adds part of a line to the buffer, or drops it once the line is over the limit.
    private mutating func take(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, into pieces: inout [Piece]) {
        guard !discarding, !range.isEmpty else { return }
        guard buffer.count + range.count <= limit else {
            pieces.append(.overflow)
            discarding = true
            buffer = []
            return
        }
        buffer.append(contentsOf: bytes[range])
    }

    /// The offset of the first "\n" at or after `start`.
    private static func newline(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard let base = bytes.baseAddress,
              let hit = memchr(base + start, Int32(UInt8(ascii: "\n")), bytes.count - start) else { return nil }
        return UnsafeRawPointer(hit) - base
    }
}
