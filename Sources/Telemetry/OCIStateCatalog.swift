// The containers an engine has on disk, read from their OCI bundles: containerd's
// task state and CRI-O's userdata. No API, no socket, no gRPC: on a Kubernetes node
// this is where pod, namespace, container and image names are (OCIContainerNames) and
// which GPUs each container holds (GPUClaim).
//
//   containerd  <state>/io.containerd.runtime.v2.task/<namespace>/<id>/config.json, init.pid
//               (namespace `moby` is Docker's: the Docker API names those)
//   CRI-O       <root>/overlay-containers/<id>/userdata/config.json, pidfile; the first of
//               the roots (run root, then graph root) that exists is listed
//
// Cost: a bundle's config.json does not change while its task exists, so it is read once
// per container id and forgotten when the id leaves the listing. The directories are
// listed at most once per `period` (idle allocations and new containers show up within
// it); a process whose container is not listed yet is looked up directly, once. Between
// listings nothing is read: `specReads` and `listings` let tests and `gpuctop profile`
// show it. Whether a task still runs is its pid file's process existing under the proc
// root (a stat per container and listing).
import Glibc
import Model
import Support

public final class OCIStateCatalog {
    public enum Layout: Sendable, Equatable {
        case containerd(state: String)
        case crio(roots: [String])
    }

    struct Entry {
        var named: OCIContainerNames.Named
        var namespace: String?
        var pid: Int32?
        var holdsGPU: Bool
        var running: Bool
    }

    public let layout: Layout
    /// containerd or crio.
    public let runtime: ContainerRef.Runtime
    private let procRoot: String
    private let period: Double
    private var entries: [String: Entry] = [:]
    /// Ids read and not shown (another engine's bundle, or one we refused): not read again
    /// while they are listed.
    private var ignored: Set<String> = []
    /// Ids looked up and not found since the last listing: not looked up again until it.
    private var missed: Set<String> = []
    private var namespaces: [String] = []
    private var nextListing = -Double.infinity
    private var gpus = GPUIdentities()

    /// True once the state directory was found (readable or not).
    public private(set) var present = false
    /// Why the state cannot be read (one line), nil when it can or is not there.
    public private(set) var problem: String?
    /// config.json files read, and directory listings made: a steady state adds none of the first.
    public private(set) var specReads = 0
    public private(set) var listings = 0
    /// Bundles refused as hostile or malformed (links, FIFOs, oversized, not JSON).
    public private(set) var refusedSpecs = 0
    /// Changes whenever what `entry(id:)` or `idleAllocations` answer may have changed.
    public private(set) var version = 0

    public init(layout: Layout, procRoot: String = "/proc", period: Double = 5) {
        self.layout = layout
        switch layout {
        case .containerd: runtime = .containerd
        case .crio: runtime = .crio
        }
        self.procRoot = procRoot
        self.period = period
    }

    static let taskDirectory = "io.containerd.runtime.v2.task"
    static let crioContainers = "overlay-containers"
    /// Namespace of Docker's own tasks: the Docker API knows them better.
    static let dockerNamespace = "moby"
    static let maxNamespaces = 256
    static let maxContainers = 65_536

    /// Lists the state when the period has passed; cheap otherwise.
    public func refresh(now: Double, gpus: GPUIdentities) {
        self.gpus = gpus
        guard now >= nextListing else { return }
        nextListing = now + period
        list()
    }

    /// The container with this id, as its spec names it (a sandbox too, marked: a process in
    /// one is still named by its pod). An id not listed yet is read once; nil when not ours.
    func entry(id: String) -> Entry? {
        if let e = entries[id] { return e }
        guard present, problem == nil, !missed.contains(id), !ignored.contains(id),
              StateFiles.isPlainName(id) else { return nil }
        if let e = readDirectly(id) {
            entries[id] = e
            version &+= 1
            return e
        }
        missed.insert(id)
        return nil
    }

    /// Running containers (not sandboxes) whose spec holds a GPU, described.
    public var idleAllocations: [ContainerUsage] {
        if let (v, list) = idleCache, v == version { return list }
        let list = entries.values
            .filter { $0.running && $0.holdsGPU && !$0.named.isSandbox && $0.namespace != Self.dockerNamespace }
            .map(\.named.usage)
        idleCache = (version, list)
        return list
    }
    private var idleCache: (Int, [ContainerUsage])?

    /// Every entry's usage (tests).
    var allUsages: [ContainerUsage] { entries.values.map(\.named.usage) }

    // MARK: - Listing

    private func list() {
        listings += 1
        missed.removeAll()
        var seen: Set<String> = []
        var problem: String?
        var found = false
        switch layout {
        case .containerd(let state):
            (found, problem) = listContainerd(state: state, seen: &seen)
        case .crio(let roots):
            (found, problem) = listCrio(roots: roots, seen: &seen)
        }
        present = found
        self.problem = problem
        // A listing that failed part way keeps what it could not see: no flicker while unreadable.
        guard problem == nil else { return }
        var changed = false
        for id in entries.keys where !seen.contains(id) {
            entries[id] = nil
            changed = true
        }
        ignored = ignored.filter { seen.contains($0) }
        for (id, e) in entries {
            let running = e.pid.map(isAlive) ?? false
            if running != e.running {
                entries[id]?.running = running
                entries[id]?.named.usage.status = running ? "running" : "stopped"
                changed = true
            }
        }
        if changed { version &+= 1 }
    }

    private func listContainerd(state: String, seen: inout Set<String>) -> (Bool, String?) {
        let taskPath = state + "/" + Self.taskDirectory
        let rootFd: Int32
        switch StateFiles.openRoot(state) {
        case .success(let fd): rootFd = fd
        case .failure(let f): return failure(f, path: state)
        }
        defer { close(rootFd) }
        let taskFd: Int32
        switch StateFiles.openDirectory(at: rootFd, Self.taskDirectory, shownAs: taskPath) {
        case .success(let fd): taskFd = fd
        case .failure(let f): return failure(f, path: taskPath)
        }
        defer { close(taskFd) }
        let names: [(name: String, maybeDirectory: Bool)]
        switch StateFiles.list(taskFd, limit: Self.maxNamespaces, shownAs: taskPath) {
        case .success(let n): names = n
        case .failure(let f): return failure(f, path: taskPath)
        }
        var namespaces: [String] = []
        for (ns, maybeDirectory) in names where maybeDirectory && ns != Self.dockerNamespace {
            let nsPath = taskPath + "/" + ns
            let nsFd: Int32
            switch StateFiles.openDirectory(at: taskFd, ns, shownAs: nsPath) {
            case .success(let fd): nsFd = fd
            case .failure(.permission(let e)): return failure(.permission(e), path: nsPath)
            case .failure: continue  // gone meanwhile, or a link: not a namespace we read
            }
            defer { close(nsFd) }
            namespaces.append(ns)
            let ids: [(name: String, maybeDirectory: Bool)]
            switch StateFiles.list(nsFd, limit: Self.maxContainers, shownAs: nsPath) {
            case .success(let n): ids = n
            case .failure(let f): return failure(f, path: nsPath)
            }
            for (id, maybeDirectory) in ids where maybeDirectory {
                seen.insert(id)
                guard entries[id] == nil, !ignored.contains(id) else { continue }
                switch readContainerd(nsFd: nsFd, namespace: ns, id: id, path: nsPath + "/" + id) {
                case .found(let e): entries[id] = e; version &+= 1
                case .ignored: ignored.insert(id)
                case .gone: seen.remove(id)
                case .unreadable(let f): return failure(f, path: nsPath + "/" + id + "/config.json")
                }
            }
        }
        self.namespaces = namespaces
        return (true, nil)
    }

    private func listCrio(roots: [String], seen: inout Set<String>) -> (Bool, String?) {
        for root in roots {
            let path = root + "/" + Self.crioContainers
            let fd: Int32
            switch StateFiles.openRoot(path) {
            case .success(let d): fd = d
            case .failure(.absent): continue
            case .failure(let f): return failure(f, path: path)
            }
            defer { close(fd) }
            let ids: [(name: String, maybeDirectory: Bool)]
            switch StateFiles.list(fd, limit: Self.maxContainers, shownAs: path) {
            case .success(let n): ids = n
            case .failure(let f): return failure(f, path: path)
            }
            for (id, maybeDirectory) in ids where maybeDirectory {
                seen.insert(id)
                guard entries[id] == nil, !ignored.contains(id) else { continue }
                switch readCrio(containersFd: fd, id: id, path: path + "/" + id) {
                case .found(let e): entries[id] = e; version &+= 1
                case .ignored: ignored.insert(id)
                case .gone: seen.remove(id)
                case .unreadable(let f): return failure(f, path: path + "/" + id + "/userdata/config.json")
                }
            }
            return (true, nil)
        }
        return (false, nil)
    }

    /// Absent: not installed (no line). Anything else: present, with its reason.
    private func failure(_ f: StateFiles.Failure, path: String) -> (Bool, String?) {
        switch f {
        case .absent: return (false, nil)
        case .permission:
            return (true, "cannot read \(path): permission denied (run as root to see Kubernetes pod names)")
        case .refused(let why): return (true, "cannot read \(path): \(why)")
        case .failed(let e): return (true, "cannot read \(path): \(errnoText(e.errno))")
        }
    }

    // MARK: - Reading one bundle

    private enum ReadResult {
        case found(Entry)
        /// Not shown (not this engine's, or refused as malformed); not read again while listed.
        case ignored
        /// Removed while we looked.
        case gone
        case unreadable(StateFiles.Failure)
    }

    /// A container not listed yet (started since the last listing), in the places it can be.
    private func readDirectly(_ id: String) -> Entry? {
        switch layout {
        case .containerd(let state):
            let taskPath = state + "/" + Self.taskDirectory
            guard case .success(let rootFd) = StateFiles.openRoot(state) else { return nil }
            defer { close(rootFd) }
            guard case .success(let taskFd) = StateFiles.openDirectory(at: rootFd, Self.taskDirectory, shownAs: taskPath) else { return nil }
            defer { close(taskFd) }
            for ns in namespaces {
                let nsPath = taskPath + "/" + ns
                guard case .success(let nsFd) = StateFiles.openDirectory(at: taskFd, ns, shownAs: nsPath) else { continue }
                defer { close(nsFd) }
                switch readContainerd(nsFd: nsFd, namespace: ns, id: id, path: nsPath + "/" + id) {
                case .found(let e): return e
                case .ignored: ignored.insert(id); return nil
                case .gone, .unreadable: continue
                }
            }
        case .crio(let roots):
            for root in roots {
                let path = root + "/" + Self.crioContainers
                guard case .success(let fd) = StateFiles.openRoot(path) else { continue }
                defer { close(fd) }
                switch readCrio(containersFd: fd, id: id, path: path + "/" + id) {
                case .found(let e): return e
                case .ignored: ignored.insert(id); return nil
                case .gone, .unreadable: continue
                }
            }
        }
        return nil
    }

    private func readContainerd(nsFd: Int32, namespace: String, id: String, path: String) -> ReadResult {
        let dir: Int32
        switch StateFiles.openDirectory(at: nsFd, id, shownAs: path) {
        case .success(let fd): dir = fd
        case .failure(.absent): return .gone
        case .failure(.permission(let e)): return .unreadable(.permission(e))
        case .failure: refusedSpecs += 1; return .ignored
        }
        defer { close(dir) }
        let (spec, otherwise) = readSpec(dir, "config.json", path: path)
        guard let spec else { return otherwise }
        let named = OCIContainerNames.containerd(id: id, namespace: namespace, spec: spec)
        return .found(makeEntry(named, spec: spec, namespace: namespace, dir: dir, pidFile: "init.pid", path: path))
    }

    private func readCrio(containersFd: Int32, id: String, path: String) -> ReadResult {
        let dir: Int32
        switch StateFiles.openDirectories(at: containersFd, [id, "userdata"], shownAs: path) {
        case .success(let fd): dir = fd
        case .failure(.absent): return .gone
        case .failure(.permission(let e)): return .unreadable(.permission(e))
        case .failure: refusedSpecs += 1; return .ignored
        }
        defer { close(dir) }
        let (spec, otherwise) = readSpec(dir, "config.json", path: path + "/userdata")
        guard let spec else { return otherwise }
        guard let named = OCIContainerNames.crio(id: id, spec: spec) else { return .ignored }
        return .found(makeEntry(named, spec: spec, namespace: nil, dir: dir, pidFile: "pidfile", path: path))
    }

    /// The spec, or what its absence means for the listing.
    private func readSpec(_ dir: Int32, _ name: String, path: String) -> (OCISpec?, ReadResult) {
        specReads += 1
        switch StateFiles.read(at: dir, name, limit: OCISpec.maxBytes, shownAs: path + "/" + name) {
        case .success(let bytes):
            do {
                return (try OCISpec.decode(bytes), .ignored)
            } catch {
                refusedSpecs += 1
                return (nil, .ignored)
            }
        case .failure(.absent):
            // The bundle directory is made before its config.json is written: try again next listing.
            return (nil, .gone)
        case .failure(.permission(let e)):
            return (nil, .unreadable(.permission(e)))
        case .failure:
            refusedSpecs += 1
            return (nil, .ignored)
        }
    }

    private func makeEntry(_ named: OCIContainerNames.Named, spec: OCISpec, namespace: String?, dir: Int32,
                           pidFile: String, path: String) -> Entry {
        var named = named
        let claim = GPUClaim.from(spec)
        named.usage.gpuRequest = claim?.describe(gpus)
        var pid: Int32?
        if case .success(let bytes) = StateFiles.read(at: dir, pidFile, limit: 64, shownAs: path + "/" + pidFile) {
            pid = StateFiles.pid(bytes)
        }
        // The pid file is written when the task starts: its time is the start time.
        if pid != nil { named.usage.startedAt = StateFiles.modificationTime(at: dir, pidFile) }
        let running = pid.map(isAlive) ?? false
        named.usage.status = pid == nil ? nil : (running ? "running" : "stopped")
        return Entry(named: named, namespace: namespace, pid: pid, holdsGPU: claim != nil, running: running)
    }

    private func isAlive(_ pid: Int32) -> Bool {
        var st = stat()
        return stat("\(procRoot)/\(pid)", &st) == 0
    }
}
