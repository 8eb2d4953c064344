// Cgroups a test invents for a process of its own, as a container runtime would lay them out
// (`/kubepods/besteffort/pod<uid>/<id>`), so that gpuctop reads a real /proc/PID/cgroup.
// Everything made is undone by `cleanUp()`: the processes go back to the root cgroup and
// only the directories we created are removed (a parent may belong to a real kubelet).
import Foundation

public final class InventedCgroups {
    private var directories: [String] = []
    private var moved: [(pid: Int32, roots: [String])] = []

    public init() {}

    /// Where the hierarchies are mounted: on cgroup v1 (and hybrid) `name=systemd` (the one
    /// gpuctop's CgroupParser prefers), `pids` and the unified mount if there is one; on a pure
    /// v2 host the root itself.
    public static func roots() -> [String] {
        let base = "/sys/fs/cgroup"
        if FileManager.default.fileExists(atPath: "\(base)/cgroup.controllers") { return [base] }
        return ["systemd", "pids", "unified"].map { "\(base)/\($0)" }
            .filter { FileManager.default.fileExists(atPath: "\($0)/cgroup.procs") }
    }

    /// Creates `path` in every hierarchy (recording each component it creates) and moves `pid` there.
    public func move(_ pid: Int32, into path: String) throws {
        let roots = Self.roots()
        guard !roots.isEmpty else { throw TestFailure("no cgroup hierarchy found under /sys/fs/cgroup") }
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/\(component)"
            var created = false
            for root in roots where !FileManager.default.fileExists(atPath: root + prefix) {
                guard mkdir(root + prefix, 0o755) == 0 else { throw TestFailure("mkdir \(root + prefix): errno \(errno)") }
                created = true
            }
            if created && !directories.contains(prefix) { directories.append(prefix) }
        }
        moved.append((pid, roots))
        for root in roots where !Self.write("\(root)\(path)/cgroup.procs", "\(pid)\n") {
            throw TestFailure("cannot move \(pid) into \(root)\(path): errno \(errno)")
        }
    }

    /// Moves the processes back and removes what `move` created, deepest first.
    public func cleanUp() {
        for (pid, roots) in moved {
            for root in roots { Self.write("\(root)/cgroup.procs", "\(pid)\n") }
        }
        moved = []
        for directory in directories.reversed() {
            for root in Self.roots() { Self.remove("\(root)\(directory)") }
        }
        directories = []
    }

    @discardableResult
    private static func write(_ path: String, _ text: String) -> Bool {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
    }

    /// rmdir, retried briefly: a cgroup whose last process just exited can be busy for a moment.
    private static func remove(_ path: String) {
        for _ in 0..<25 {
            if rmdir(path) == 0 || errno == ENOENT || errno != EBUSY { return }
            usleep(20_000)
        }
    }

    deinit { cleanUp() }
}
