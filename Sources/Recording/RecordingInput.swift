// Where a RecordingReader's bytes come from: a file read only as far as the
// reader asks, or bytes already in memory. The reader asks for the magic, then
// for each frame's 8-byte head, and for its body only once the head's length is
// plausible, so a file that is no recording (/dev/zero, a 10 GB log) costs a
// few kilobytes, and a damaged one is read up to the damage and no further.
// What was read is kept (snapshots decode on demand from it): memory follows
// the valid part of the file, never more.
import Glibc

final class RecordingInput {
    struct ReadError: Error { let code: Int32 }

    /// Everything read so far, from the start of the file.
    private(set) var bytes: [UInt8]
    /// The file's size when it is a regular file (or the bytes given); nil for a pipe or device.
    let size: Int?
    private var fd: Int32
    private var atEnd: Bool
    /// Reads are at least this large, so a frame's head and a small body come in one read(2).
    static let chunk = 64 << 10
    static let maxRead = 1 << 20

    init(bytes: [UInt8]) {
        self.bytes = bytes
        size = bytes.count
        fd = -1
        atEnd = true
    }

    init(path: String) throws(ReadError) {
        // O_NONBLOCK for the open only: a FIFO nobody writes to would otherwise hold the
        // open forever; with it, the open returns and the first read finds the end (an
        // empty file). Reads block again after, so a pipe that is being written works.
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw ReadError(code: errno) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw ReadError(code: code)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            Glibc.close(fd)
            throw ReadError(code: EISDIR)
        }
        size = (st.st_mode & S_IFMT) == S_IFREG ? Int(st.st_size) : nil
        bytes = []
        atEnd = false
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        atEnd = true
    }

    /// How many bytes there are from `position` on, reading until there are
    /// `wanted` of them or the file ends (so possibly fewer than wanted).
    func available(from position: Int, wanted: Int) throws(ReadError) -> Int {
        while bytes.count - position < wanted && !atEnd {
            let missing = wanted - (bytes.count - position)
            // At most a megabyte a read: a frame that claims 64 MiB in a file that
            // ends early costs what the file holds, not what the frame claims.
            try readMore(min(max(missing, Self.chunk), Self.maxRead))
        }
        return max(0, bytes.count - position)
    }

    /// The little-endian u32 at `position`; the caller made sure 4 bytes are there.
    func u32(at position: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[position + i]) << UInt32(8 * i) }
        return v
    }

    /// One read(2) of up to `count` bytes, appended; sets `atEnd` at the end of the file.
    private func readMore(_ count: Int) throws(ReadError) {
        let before = bytes.count
        var failure: Int32 = 0
        bytes.append(contentsOf: repeatElement(0, count: count))
        let n = bytes.withUnsafeMutableBytes { buffer -> Int in
            while true {
                let n = read(fd, buffer.baseAddress! + before, count)
                if n >= 0 || errno != EINTR {
                    if n < 0 { failure = errno }
                    return n
                }
            }
        }
        bytes.removeSubrange((before + max(0, n))...)
        if n < 0 { throw ReadError(code: failure) }
        if n == 0 { atEnd = true }
    }
}
