// Reading the container engines' on-disk state (containerd's task bundles, CRI-O's
// userdata, kubelet's log directories) as hostile input.
//
// Those trees are written by daemons, but a bundle holds what a container's author
// chose (annotations, environment) and a compromised or careless process may plant
// links, FIFOs or huge files there. So every step below the state root is taken
// through a directory descriptor with O_NOFOLLOW: a link is refused, not followed;
// a file is read only when fstat says it is a regular file, and only up to a bound;
// nothing is opened that could block (O_NONBLOCK) or become our terminal (O_NOCTTY).
import Glibc
import Support

enum StateFiles {
    /// Why a state file or directory could not be read.
    enum Failure: Error, Equatable {
        /// ENOENT/ENOTDIR: it is not there (the container went, or never had one).
        case absent
        /// EACCES/EPERM: there, but not for us (the trees are root's).
        case permission(SystemError)
        /// A link, FIFO, device, or a file over the bound: refused.
        case refused(String)
        /// Any other error.
        case failed(SystemError)

        static func from(_ error: SystemError) -> Failure {
            switch error.errno {
            case ENOENT, ENOTDIR: return .absent
            case EACCES, EPERM: return .permission(error)
            case ELOOP: return .refused("a symbolic link")
            default: return .failed(error)
            }
        }
    }

    /// Opens a directory given by an absolute path chosen by the user or our defaults (links
    /// followed: `/var/run` is one). The caller closes it.
    static func openRoot(_ path: String) -> Result<Int32, Failure> {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(.from(SystemError("open \(path)"))) }
        return .success(fd)
    }

    /// Opens the directory `name` below `dirfd`, refusing a link. The caller closes it.
    static func openDirectory(at dirfd: Int32, _ name: String, shownAs path: String) -> Result<Int32, Failure> {
        guard isPlainName(name) else { return .failure(.refused("not a plain name")) }
        let fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let error = SystemError("open \(path)")
            // O_DIRECTORY with O_NOFOLLOW answers ENOTDIR for a link: say what it is.
            var st = stat()
            if error.errno == ENOTDIR, fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & S_IFMT == S_IFLNK {
                return .failure(.refused("a symbolic link"))
            }
            return .failure(.from(error))
        }
        return .success(fd)
    }

    /// Opens `names` one below the other from `dirfd` (each refusing a link).
    static func openDirectories(at dirfd: Int32, _ names: [String], shownAs path: String) -> Result<Int32, Failure> {
        var current = dirfd
        for name in names {
            let next = openDirectory(at: current, name, shownAs: path)
            if current != dirfd { close(current) }
            switch next {
            case .success(let fd): current = fd
            case .failure(let f): return .failure(f)
            }
        }
        return current == dirfd ? .failure(.refused("no directory named")) : .success(current)
    }

    /// The bytes of the regular file `name` below `dirfd`, at most `limit` of them (a larger
    /// file is refused, not cut: half a JSON document is no document).
    static func read(at dirfd: Int32, _ name: String, limit: Int, shownAs path: String) -> Result<[UInt8], Failure> {
        guard isPlainName(name) else { return .failure(.refused("not a plain name")) }
        let fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(.from(SystemError("open \(path)"))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure(.from(SystemError("fstat \(path)"))) }
        guard st.st_mode & S_IFMT == S_IFREG else { return .failure(.refused("not a regular file")) }
        guard st.st_size <= limit else { return .failure(.refused("larger than \(limit) bytes")) }
        // Read to the bound, not to st_size: the file may grow between fstat and read.
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size) + 1)
        var total = 0
        while total < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + total, $0.count - total) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(.from(SystemError("read \(path)")))
            }
            if n == 0 { break }
            total += n
            if total == bytes.count {
                guard bytes.count <= limit else { return .failure(.refused("larger than \(limit) bytes")) }
                bytes += [UInt8](repeating: 0, count: min(limit + 1 - bytes.count, max(4096, bytes.count)))
            }
        }
        bytes.removeLast(bytes.count - total)
        return .success(bytes)
    }

    /// The modification time of `name` below `dirfd` (seconds since 1970), links not followed.
    static func modificationTime(at dirfd: Int32, _ name: String) -> Double? {
        guard isPlainName(name) else { return nil }
        var st = stat()
        guard fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    }

    /// The names in the directory `dirfd` (without . and ..), at most `limit` of them, and
    /// whether each is a directory (from d_type; DT_UNKNOWN counts as "maybe").
    static func list(_ dirfd: Int32, limit: Int, shownAs path: String) -> Result<[(name: String, maybeDirectory: Bool)], Failure> {
        // fdopendir takes the descriptor over: give it a duplicate, ours stays open.
        let copy = dup(dirfd)
        guard copy >= 0 else { return .failure(.from(SystemError("dup for \(path)"))) }
        guard let dir = fdopendir(copy) else {
            let error = SystemError("opendir \(path)")
            close(copy)
            return .failure(.from(error))
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var names: [(String, Bool)] = []
        while names.count < limit {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { return .failure(.from(SystemError("readdir \(path)"))) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let type = entry.pointee.d_type
            names.append((name, type == UInt8(DT_DIR) || type == UInt8(DT_UNKNOWN)))
        }
        return .success(names)
    }

    /// A single path component we are willing to open: no slash, not . or .., not empty,
    /// and short (names come from directory listings and cgroup paths).
    static func isPlainName(_ name: String) -> Bool {
        guard !name.isEmpty, name != ".", name != "..", name.utf8.count <= 255 else { return false }
        return !name.utf8.contains(UInt8(ascii: "/")) && !name.utf8.contains(0)
    }

    /// A decimal pid in a pid file ("1234" or "1234\n"); nil for anything else.
    static func pid(_ bytes: [UInt8]) -> Int32? {
        var value: Int64 = 0
        var digits = 0
        for b in bytes {
            if b == UInt8(ascii: "\n") || b == UInt8(ascii: " ") { if digits > 0 { break } else { continue } }
            guard b >= 0x30, b <= 0x39, digits < 10 else { return nil }
            value = value * 10 + Int64(b - 0x30)
            digits += 1
        }
        guard digits > 0, value > 0, value <= Int64(Int32.max) else { return nil }
        return Int32(value)
    }
}
