// Cgroups a test invents (a Kubernetes pod's, a CRI-O container's) and removes again:
// only what did not exist before is removed, deepest first, in every hierarchy, and
// processes moved into them are moved back to the root first.
import Foundation

public final class CgroupScratch {
    /// Where the hierarchies are mounted: on cgroup v1 (and hybrid) `name=systemd`, `pids` and
    /// the unified v2 mount if there is one; on a pure v2 host the root itself.
    public static func roots() -> [String] {
        let base = "/sys/fs/cgroup"
        if FileManager.default.fileExists(atPath: "\(base)/cgroup.controllers") { return [base] }
        return ["systemd", "pids", "unified"].map { "\(base)/\($0)" }
            .filter { FileManager.default.fileExists(atPath: "\($0)/cgroup.procs") }
    }

    /// Every hierarchy under /sys/fs/cgroup (runc creates a container's cgroup in each).
    public static func allHierarchies() -> [String] {
        let base = "/sys/fs/cgroup"
        if FileManager.default.fileExists(atPath: "\(base)/cgroup.controllers") { return [base] }
        return ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).map { "\(base)/\($0)" }
            .filter { FileManager.default.fileExists(atPath: "\($0)/cgroup.procs") }
    }

    private var created: [String] = []   // relative paths, in creation order
    private var moved: [Int32] = []

    public init() {}

    /// Notes which components of `path` do not exist yet in any hierarchy: they are removed
    /// by `cleanUp` (call before something else, such as runc, creates them).
    public func claim(_ path: String) {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/\(component)"
            let exists = Self.allHierarchies().contains { FileManager.default.fileExists(atPath: $0 + prefix) }
            if !exists && !created.contains(prefix) { created.append(prefix) }
        }
    }

    /// Creates `path` in the main hierarchies (recording what is new) and moves `pid` there.
    public func move(_ pid: Int32, into path: String) throws {
        let roots = Self.roots()
        guard !roots.isEmpty else { throw TestFailure("no cgroup hierarchy found under /sys/fs/cgroup") }
        claim(path)
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/\(component)"
            for root in roots where !FileManager.default.fileExists(atPath: root + prefix) {
                guard mkdir(root + prefix, 0o755) == 0 else { throw TestFailure("mkdir \(root + prefix): errno \(errno)") }
            }
        }
        moved.append(pid)
        for root in roots {
            guard Self.write("\(root)\(path)/cgroup.procs", "\(pid)\n") else {
                throw TestFailure("cannot move \(pid) into \(root)\(path): errno \(errno)")
            }
        }
    }

    public func cleanUp() {
        for pid in moved {
            for root in Self.roots() { Self.write("\(root)/cgroup.procs", "\(pid)\n") }
        }
        moved = []
        for path in created.reversed() {
            for h in Self.allHierarchies() { Self.remove(h + path) }
        }
        created = []
    }

    @discardableResult
    static func write(_ path: String, _ text: String) -> Bool {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
    }

    /// rmdir, retried briefly: a cgroup whose last process just exited can be busy a moment.
    static func remove(_ path: String) {
        for _ in 0..<25 {
            if rmdir(path) == 0 || errno == ENOENT { return }
            if errno != EBUSY { return }
            usleep(20_000)
        }
    }
}
