// DIR/gpuctop.prom for node_exporter's textfile collector, replaced atomically.
//
// An exporter often runs as root while DIR is shared with node_exporter, so nothing in
// DIR is trusted: the directory is opened once and every later step is relative to that
// descriptor (a path swapped afterwards changes nothing); each write goes to a fresh
// file under a random name (.gpuctop.prom.XXXXXXXX, not *.prom, so the collector skips
// it), created exclusively and without following links, so a planted link or FIFO is
// never opened, and renamed over gpuctop.prom (a link there is replaced, not followed).
// A DIR that group or others can write is refused unless it is sticky: there they could
// replace or delete the figures at will.
//
// DIR may be a symbolic link: it is resolved once, by the operator's own path, and the
// checks apply to the directory it leads to.
import Glibc
import Support

public final class Textfile: @unchecked Sendable {
    /// The file node_exporter's textfile collector reads.
    public static let fileName = "gpuctop.prom"
    public let directory: String
    private let fd: Int32

    public var path: String { directory + "/" + Textfile.fileName }

    /// Opens and checks DIR; a one-line reason when it cannot be used.
    public init(directory: String) throws {
        self.directory = directory
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = errno == ENOTDIR ? "not a directory" : errnoText(errno)
            throw ServerError(description: "cannot write metrics to \(directory): \(reason)")
        }
        var st = stat()
        fstat(fd, &st)
        if st.st_mode & 0o022 != 0 && st.st_mode & S_ISVTX == 0 {
            close(fd)
            throw ServerError(description: "cannot write metrics to \(directory): it is writable by group or others "
                              + "and not sticky (chmod go-w or +t)")
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// nil when written; otherwise a one-line reason.
    public func write(_ text: String) -> String? {
        let name: String, file: Int32
        do {
            (name, file) = try createTemporary()
        } catch {
            return "cannot create a temporary file in \(directory): \(errnoText(error.errno))"
        }
        let shown = directory + "/" + name
        // 0644 whatever the umask: node_exporter usually runs as another user.
        var failure = fchmod(file, 0o644) == 0 ? writeAll(file, Array(text.utf8)) : errno
        // No fsync: the file is rewritten every interval and removed at the stop; a crash
        // costs one refresh at most.
        if close(file) != 0 && failure == 0 { failure = errno }
        if failure != 0 {
            unlinkat(fd, name, 0)
            return "cannot write \(shown): \(errnoText(failure))"
        }
        guard renameat(fd, name, fd, Textfile.fileName) == 0 else {
            let e = errno
            unlinkat(fd, name, 0)
            return "cannot rename \(shown) to \(path): \(errnoText(e))"
        }
        return nil
    }

    /// Removes gpuctop.prom (at the stop).
    public func remove() {
        unlinkat(fd, Textfile.fileName, 0)
    }

    /// A new file `.gpuctop.prom.XXXXXXXX` in DIR, open for writing. O_EXCL and O_NOFOLLOW:
    /// whatever is already there under that name (a link, a FIFO someone guessed) is never
    /// opened; another name is tried instead.
    private func createTemporary() throws(SystemError) -> (name: String, file: Int32) {
        for _ in 0..<16 {
            let name = "." + Textfile.fileName + "." + Self.randomSuffix()
            let file = openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0o600)
            if file >= 0 { return (name, file) }
            if errno != EEXIST { throw SystemError("create \(name)") }
        }
        throw SystemError("create a new name", errno: EEXIST)
    }

    /// Eight letters and digits from the system's random source (getrandom).
    public static func randomSuffix() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<8).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// Writes everything; 0, or the errno that stopped it.
    private func writeAll(_ file: Int32, _ bytes: [UInt8]) -> Int32 {
        var offset = 0
        return bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Glibc.write(file, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return 0
        }
    }
}
