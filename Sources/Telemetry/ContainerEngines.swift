// Every container engine on the node at once: a Docker socket, Podman sockets (rootful,
// rootless, --podman-host), containerd's and CRI-O's on-disk state, and the kubelet's log
// directories as the last resort for pod names. Each is optional and degrades on its own
// with its own one-line reason; one that is simply not installed says nothing.
//
// A process's container is looked up first in the engine its cgroup names (Docker or
// Podman through their API, containerd or CRI-O through their state), then in the others
// (a `pod<uid>/<id>` cgroup does not say which CRI runtime made it), then in the kubelet's
// logs. The row's runtime is the engine that knew the container.
//
// Sockets and state directories that are absent are looked for again once per `period`
// (an engine started after gpuctop is picked up); the state directories are listed at most
// that often too (OCIStateCatalog).
import DockerSocket
import Glibc
import Model
import Support

public struct EngineOptions: Sendable, Equatable {
    /// The host's root (`--host-root`): sockets, state and logs are looked up under it.
    public var hostPaths = HostPaths()
    /// `--docker-host`; nil: DOCKER_HOST, then /var/run/docker.sock when it exists.
    public var dockerHost: String?
    /// `--podman-host`; the rootful and rootless default sockets are read too when they exist.
    public var podmanHost: String?
    /// containerd's state directory (`--containerd-state`; default /run/containerd under the host root).
    public var containerdState: String?
    /// CRI-O's storage roots (`--crio-state`: one directory; default the run root, then the
    /// graph root, read only where CRI-O runs: /run/crio exists).
    public var crioState: String?
    /// The proc root, to tell whether a task's process still runs.
    public var procRoot = "/proc"
    /// Seconds between looks for new sockets and listings of the state directories.
    public var period = 5.0
    /// The environment DOCKER_HOST and XDG_RUNTIME_DIR are taken from (nil: the process's).
    public var environment: [String: String]?

    public init() {}
}

public final class ContainerEngines {
    public let options: EngineOptions
    /// The Docker slot: --docker-host, DOCKER_HOST or the default socket.
    public private(set) var docker: ContainerCatalog?
    /// One per Podman socket found (its path, its catalog).
    public private(set) var podman: [(path: String, catalog: ContainerCatalog)] = []
    public let containerd: OCIStateCatalog
    public private(set) var crio: OCIStateCatalog?
    public let kubelet: KubeletLogs
    private var dockerPath: String?
    private var nextDiscovery = -Double.infinity
    private var discoveries = 0
    private var gpus = GPUIdentities()

    public init(options: EngineOptions) {
        self.options = options
        let paths = options.hostPaths
        containerd = OCIStateCatalog(layout: .containerd(state: options.containerdState ?? paths.path("/run/containerd")),
                                     procRoot: options.procRoot, period: options.period)
        kubelet = KubeletLogs(containersDirectory: paths.path("/var/log/containers"),
                              podsDirectory: paths.path("/var/log/pods"), period: options.period)
        // Explicit sockets are used whatever happens to them: their failures are reported.
        if let host = explicitDockerHost {
            docker = ContainerCatalog(dockerHost: host)
            dockerPath = try? DockerEndpoint.socketPath(fromHost: host)
        }
        if let host = options.podmanHost, !host.isEmpty {
            let path = (try? DockerEndpoint.socketPath(fromHost: host)) ?? host
            if !isKnownSocket(path) { podman.append((path, ContainerCatalog(dockerHost: host))) }
        }
        if let state = options.crioState {
            crio = OCIStateCatalog(layout: .crio(roots: [state]), procRoot: options.procRoot, period: options.period)
        }
    }

    private func env(_ name: String) -> String? {
        if let e = options.environment { return e[name] }
        guard let v = getenv(name) else { return nil }
        return String(cString: v)
    }

    private var explicitDockerHost: String? {
        if let h = options.dockerHost, !h.isEmpty { return h }
        if let h = env("DOCKER_HOST"), !h.isEmpty { return h }
        return nil
    }

    /// Brings every source up to date; cheap when nothing is due.
    /// - gpus: this host's GPUs, to say which of them a spec holds.
    public func refresh(now: Double, gpus: GPUIdentities) {
        self.gpus = gpus
        if now >= nextDiscovery {
            nextDiscovery = now + options.period
            discover()
        }
        docker?.refresh(now: now)
        for p in podman { p.catalog.refresh(now: now) }
        containerd.refresh(now: now, gpus: gpus)
        crio?.refresh(now: now, gpus: gpus)
        kubelet.refresh(now: now)
    }

    /// Sockets and state that appeared since the last look.
    private func discover() {
        let paths = options.hostPaths
        if docker == nil, explicitDockerHost == nil {
            let path = paths.path(DockerEndpoint.dockerDefaultPath)
            if exists(path) {
                docker = ContainerCatalog(dockerHost: "unix://" + path)
                dockerPath = path
                discoveries += 1
            }
        }
        var podmanPaths = [paths.path(DockerEndpoint.podmanRootfulPath)]
        if let runtime = env("XDG_RUNTIME_DIR"), runtime.hasPrefix("/") {
            podmanPaths.append(paths.path((runtime.hasSuffix("/") ? String(runtime.dropLast()) : runtime) + "/podman/podman.sock"))
        }
        for path in podmanPaths where exists(path) && !isKnownSocket(path) {
            podman.append((path, ContainerCatalog(dockerHost: "unix://" + path)))
            discoveries += 1
        }
        if crio == nil, exists(paths.path("/run/crio")) {
            crio = OCIStateCatalog(layout: .crio(roots: [paths.path("/run/containers/storage"),
                                                         paths.path("/var/lib/containers/storage")]),
                                   procRoot: options.procRoot, period: options.period)
            discoveries += 1
        }
    }

    /// The same socket under another name (DOCKER_HOST pointing at Podman's) is read once.
    private func isKnownSocket(_ path: String) -> Bool {
        let known = ([dockerPath] + podman.map(\.path)).compactMap { $0 }
        if known.contains(path) { return true }
        guard let real = realPath(path) else { return false }
        return known.contains { realPath($0) == real }
    }

    private func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    private func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    // MARK: - What the sampler shows

    /// Changes whenever a description or the idle list may have changed.
    public var version: Int {
        var v = discoveries &+ containerd.version &+ kubelet.version &+ (crio?.version ?? 0) &+ (docker?.version ?? 0)
        for p in podman { v = v &+ p.catalog.version }
        return v
    }

    /// The engines read this refresh, in a fixed order.
    public var engines: [String] {
        var kinds: [ContainerRef.Runtime] = []
        for catalog in [docker].compactMap({ $0 }) + podman.map(\.catalog) where catalog.isConnected {
            if let e = catalog.engine, !kinds.contains(e) { kinds.append(e) }
        }
        var names: [String] = []
        if kinds.contains(.docker) { names.append("docker") }
        if kinds.contains(.podman) { names.append("podman") }
        if containerd.present && containerd.problem == nil { names.append("containerd") }
        if let crio, crio.present, crio.problem == nil { names.append("crio") }
        if kubelet.listings > 0 && kubelet.present && kubelet.problem == nil { names.append("kubelet") }
        return names
    }

    /// One line per source that is there but cannot be read.
    public var degraded: [DegradedSource] {
        var lines: [DegradedSource] = []
        if let problem = docker?.problem { lines.append(DegradedSource(source: "docker", reason: problem)) }
        for p in podman {
            if let problem = p.catalog.problem { lines.append(DegradedSource(source: "podman", reason: problem)) }
        }
        if let problem = containerd.problem { lines.append(DegradedSource(source: "containerd", reason: problem)) }
        if let problem = crio?.problem { lines.append(DegradedSource(source: "crio", reason: problem)) }
        if kubelet.listings > 0, let problem = kubelet.problem {
            lines.append(DegradedSource(source: "kubelet", reason: problem))
        }
        return lines
    }

    /// The identity of the container `ref` names (no usage figures).
    public func describe(_ ref: ContainerRef) -> ContainerUsage {
        for source in order(for: ref.runtime) {
            if let found = lookup(ref, in: source) { return found }
        }
        var u = ContainerUsage(id: ref.id)
        u.runtime = ref.runtime
        u.podUID = ref.podUID
        if let n = kubelet.names(containerID: ref.id, podUID: ref.podUID) {
            u.podName = n.pod
            u.podNamespace = n.namespace
            u.podContainer = n.container
            u.name = n.container
        }
        return u
    }

    private enum Source { case dockerAPI, podmanAPI, containerd, crio }

    private func order(for runtime: ContainerRef.Runtime) -> [Source] {
        switch runtime {
        case .docker: return [.dockerAPI, .podmanAPI, .containerd, .crio]
        case .podman: return [.podmanAPI, .dockerAPI, .containerd, .crio]
        case .containerd: return [.containerd, .crio, .dockerAPI, .podmanAPI]
        case .crio: return [.crio, .containerd, .dockerAPI, .podmanAPI]
        }
    }

    private func lookup(_ ref: ContainerRef, in source: Source) -> ContainerUsage? {
        switch source {
        case .dockerAPI:
            guard let entry = docker?.entry(id: ref.id) else { return nil }
            return ContainerJoin.describe(ref: ref, entry: entry)
        case .podmanAPI:
            for p in podman {
                if let entry = p.catalog.entry(id: ref.id) { return ContainerJoin.describe(ref: ref, entry: entry) }
            }
            return nil
        case .containerd, .crio:
            guard let catalog = source == .containerd ? containerd : crio,
                  let entry = catalog.entry(id: ref.id) else { return nil }
            var u = entry.named.usage
            if u.podUID == nil { u.podUID = ref.podUID }
            return u
        }
    }

    /// Running containers that hold GPUs, every engine's, by name.
    public var idleAllocations: [ContainerUsage] {
        let v = version
        if let (cached, list) = idleCache, cached == v { return list }
        var list: [ContainerUsage] = []
        for catalog in [docker].compactMap({ $0 }) + podman.map(\.catalog) {
            list += catalog.gpuRequesters.map { ContainerJoin.describe(ref: nil, entry: $0) }
        }
        list += containerd.idleAllocations
        list += crio?.idleAllocations ?? []
        var seen: Set<String> = []
        list = list.filter { seen.insert($0.id).inserted }
        list.sort { ($0.name ?? $0.id, $0.id) < ($1.name ?? $1.id, $1.id) }
        idleCache = (v, list)
        return list
    }
    private var idleCache: (Int, [ContainerUsage])?

    // MARK: - Cost counters

    /// Docker-API list and inspect calls over every socket.
    public var listCalls: Int { apiCatalogs.reduce(0) { $0 + $1.listCalls } }
    public var inspectCalls: Int { apiCatalogs.reduce(0) { $0 + $1.inspectCalls } }
    /// config.json files read (containerd and CRI-O).
    public var specReads: Int { containerd.specReads + (crio?.specReads ?? 0) }
    /// Listings of state and log directories.
    public var stateListings: Int { containerd.listings + (crio?.listings ?? 0) + kubelet.listings }

    private var apiCatalogs: [ContainerCatalog] { [docker].compactMap { $0 } + podman.map(\.catalog) }
}
