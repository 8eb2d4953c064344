// Pod, namespace and container names from the kubelet's log directories: the fallback
// for any CRI runtime when its own state cannot be read (not root, an unknown runtime).
// Only names of directory entries are read, never a file and never a link's target.
//
//   /var/log/containers/<pod>_<namespace>_<container>-<id>.log   (links, one per container)
//   /var/log/pods/<namespace>_<pod>_<uid>/<container>/           (one per pod)
//
// Kubernetes names never contain '_', so the fields split cleanly; the container id
// is the last '-' and 64 hex digits before ".log". The pods directory names a pod by
// its uid, which the cgroup path gives, when the container's own link is missing.
//
// The directories are listed only when a lookup needs them, at most once per `period`.
import Glibc
import Model
import Support

public final class KubeletLogs {
    public struct Names: Equatable, Sendable {
        public var pod: String
        public var namespace: String
        public var container: String?
        public var podUID: String?
    }

    public let containersDirectory: String
    public let podsDirectory: String
    private let period: Double
    private var byContainer: [String: Names] = [:]
    private var byPodUID: [String: Names] = [:]
    private var nextListing = -Double.infinity
    /// Lookups that found nothing since the last listing: the next refresh lists again (when due).
    private var wanted = false

    public private(set) var present = false
    public private(set) var problem: String?
    public private(set) var listings = 0
    /// Changes when a listing changed what lookups answer.
    public private(set) var version = 0

    public init(containersDirectory: String, podsDirectory: String, period: Double = 5) {
        self.containersDirectory = containersDirectory
        self.podsDirectory = podsDirectory
        self.period = period
    }

    static let maxEntries = 65_536

    /// Lists when a lookup found nothing and the period has passed since the last listing.
    public func refresh(now: Double) {
        guard wanted, now >= nextListing else { return }
        wanted = false
        nextListing = now + period
        list()
    }

    /// Names for a container id (or, failing that, its pod uid).
    public func names(containerID: String, podUID: String?) -> Names? {
        if let n = byContainer[containerID] { return n }
        if let uid = podUID, let n = byPodUID[uid] { return n }
        wanted = true
        return nil
    }

    private func list() {
        listings += 1
        var containers: [String: Names] = [:]
        var pods: [String: Names] = [:]
        var problems: [String] = []
        var found = false
        switch names(in: containersDirectory) {
        case .success(let entries):
            found = true
            for entry in entries {
                if let (id, n) = Self.parseContainerLink(entry) { containers[id] = n }
            }
        case .failure(let f):
            if let p = Self.describe(f, containersDirectory) { found = true; problems.append(p) }
        }
        switch names(in: podsDirectory) {
        case .success(let entries):
            found = true
            for entry in entries {
                if let n = Self.parsePodDirectory(entry), let uid = n.podUID { pods[uid] = n }
            }
        case .failure(let f):
            if let p = Self.describe(f, podsDirectory) { found = true; problems.append(p) }
        }
        present = found
        problem = problems.isEmpty ? nil : problems.joined(separator: "; ")
        if containers != byContainer || pods != byPodUID {
            byContainer = containers
            byPodUID = pods
            version &+= 1
        }
    }

    private func names(in directory: String) -> Result<[String], StateFiles.Failure> {
        let fd: Int32
        switch StateFiles.openRoot(directory) {
        case .success(let d): fd = d
        case .failure(let f): return .failure(f)
        }
        defer { close(fd) }
        return StateFiles.list(fd, limit: Self.maxEntries, shownAs: directory).map { $0.map(\.name) }
    }

    private static func describe(_ f: StateFiles.Failure, _ path: String) -> String? {
        switch f {
        case .absent: return nil
        case .permission: return "cannot read \(path): permission denied (run as root to see Kubernetes pod names)"
        case .refused(let why): return "cannot read \(path): \(why)"
        case .failed(let e): return "cannot read \(path): \(errnoText(e.errno))"
        }
    }

    /// `<pod>_<namespace>_<container>-<64 hex>.log` -> (id, names).
    static func parseContainerLink(_ name: String) -> (String, Names)? {
        guard name.hasSuffix(".log") else { return nil }
        let parts = name.dropLast(4).split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        let last = parts[2]
        guard last.utf8.count > 65, let dash = last.lastIndex(of: "-") else { return nil }
        let id = last[last.index(after: dash)...]
        let container = last[..<dash]
        guard id.utf8.count == 64, id.utf8.allSatisfy(isLowerHex), !container.isEmpty else { return nil }
        return (String(id), Names(pod: String(parts[0]), namespace: String(parts[1]), container: String(container)))
    }

    /// `<namespace>_<pod>_<uid>` -> names (no container).
    static func parsePodDirectory(_ name: String) -> Names? {
        let parts = name.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        let uid = parts[2]
        // A uid with dashes (36) or a static pod's 32 hex digits.
        guard uid.utf8.count == 36 || uid.utf8.count == 32,
              uid.utf8.allSatisfy({ isLowerHex($0) || $0 == UInt8(ascii: "-") }) else { return nil }
        return Names(pod: String(parts[1]), namespace: String(parts[0]), container: nil, podUID: String(uid))
    }

    private static func isLowerHex(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)
    }
}
