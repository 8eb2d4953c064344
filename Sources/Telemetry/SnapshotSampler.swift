// Composes the samplers into one Snapshot per refresh.
//
// NVML is optional: a missing library or a failing nvmlInit becomes a degraded
// source with its one-line reason, and the rest (processes, containers) goes on.
import FoundationEssentials
import Glibc
import Model
import Support

public struct SamplerOptions: Sendable {
    /// Path of libnvidia-ml (`--nvml`, `GPUCTOP_NVML`); nil means the loader's default.
    public var nvmlPath: String?
    /// Where the host's /proc is mounted (`--proc-root`).
    public var procRoot: String = "/proc"
    /// `--docker-host`; nil means DOCKER_HOST, then the default sockets.
    public var dockerHost: String?
    /// False to leave the container engine alone (names then stay unknown).
    public var useDocker = true
    /// How often NVML's costly fields are read; the default suits the dashboard.
    public var nvmlSchedule = NVMLSchedule()
    /// A GPU process's CPU% and RSS are re-read at most this often (seconds). Its
    /// `stat` costs tens of µs for a PyTorch process (the kernel sums every thread): at
    /// 64 processes, reading each every 2 s was 0.44 ms a refresh on the H200. CPU% is a
    /// 5-to-10-s mean anyway, so every 5 s loses nothing it shows.
    public var processStatPeriod = 5.0
    /// CPU% is the mean over the last 5 to 10 s (`ProcReader.cpuWindowSeconds`).
    public var cpuWindowSeconds = 10.0

    public init(nvmlPath: String? = nil, procRoot: String = "/proc", dockerHost: String? = nil, useDocker: Bool = true) {
        self.nvmlPath = nvmlPath
        self.procRoot = procRoot
        self.dockerHost = dockerHost
        self.useDocker = useDocker
    }
}

public final class SnapshotSampler {
    public let options: SamplerOptions
    public let nvml: NVMLSampler?
    /// Why NVML is unavailable, when it is.
    public let nvmlProblem: String?
    public let procReader: ProcReader
    public let catalog: ContainerCatalog?
    private let descriptions = ContainerDescriptions()
    private let procRootProblem: String?
    private let hostName: String
    /// What the last `sample()` cost, stage by stage.
    public private(set) var lastCost = RefreshCost()
    /// What opening NVML cost: dlopen and symbol lookup, then nvmlInit with GPU enumeration.
    public private(set) var startupCost: (load: StageCost, initialize: StageCost) = (StageCost(), StageCost())

    public init(options: SamplerOptions) {
        self.options = options
        var problem: String?
        var sampler: NVMLSampler?
        var timer = StageTimer()
        do {
            let library = try NVMLLibrary(path: options.nvmlPath ?? NVMLLibrary.defaultPath)
            startupCost.load = timer.lap()
            sampler = try NVMLSampler(library: library, schedule: options.nvmlSchedule)
            startupCost.initialize = timer.lap()
        } catch {
            problem = error.description
        }
        nvml = sampler
        nvmlProblem = problem
        procReader = ProcReader(procRoot: options.procRoot, minimumRereadSeconds: options.processStatPeriod,
                                cpuWindowSeconds: options.cpuWindowSeconds)
        catalog = options.useDocker ? ContainerCatalog(dockerHost: options.dockerHost) : nil
        procRootProblem = procReader.procRootProblem()
        hostName = Self.readHostName()
    }

    public func sample() -> Snapshot {
        let now = WallClock.now()
        var cost = RefreshCost()
        var timer = StageTimer()
        defer { lastCost = cost }
        var snapshot = Snapshot(time: now, host: hostName)
        if let nvml {
            snapshot.driverVersion = nvml.driverVersion
            snapshot.cudaVersion = nvml.cudaVersion
            let (gpus, processes) = nvml.sample()
            snapshot.gpus = gpus
            snapshot.processes = processes
        } else if let nvmlProblem {
            snapshot.degraded.append(DegradedSource(source: "nvml", reason: nvmlProblem))
        }
        if let procRootProblem {
            snapshot.degraded.append(DegradedSource(source: "procfs", reason: procRootProblem))
        }
        cost.nvml = timer.lap()
        attachProcessInfo(to: &snapshot, now: now)
        cost.procfs = timer.lap()
        if let catalog {
            catalog.refresh(now: now)
            if let problem = catalog.problem {
                snapshot.degraded.append(DegradedSource(source: "docker", reason: problem))
            }
        }
        cost.docker = timer.lap()
        let catalog = self.catalog
        descriptions.sync(version: catalog?.version ?? 0)
        snapshot.containers = ContainerJoin.join(
            processes: snapshot.processes, gpus: snapshot.gpus,
            lookup: { catalog?.entry(id: $0) },
            gpuRequesters: catalog?.gpuRequesters ?? [],
            descriptions: descriptions)
        cost.join = timer.lap()
        return snapshot
    }

    /// Adds /proc facts to each GPU process. If NVML reports processes but none of
    /// them is visible under the proc root, we are in another PID namespace: say so
    /// rather than show rows without commands.
    private func attachProcessInfo(to snapshot: inout Snapshot, now: Double) {
        guard !snapshot.processes.isEmpty else { return }
        var pids = snapshot.processes.map(\.pid)
        pids.sort()
        pids.removeDuplicates()
        let infos = procReader.sample(sortedUniquePids: pids, now: now)
        for i in snapshot.processes.indices {
            // Binary search in the sorted pids: no dictionary for thousands of processes.
            var lo = 0, hi = pids.count
            let pid = snapshot.processes[i].pid
            while lo < hi {
                let mid = (lo + hi) / 2
                if pids[mid] < pid { lo = mid + 1 } else { hi = mid }
            }
            if lo < pids.count, pids[lo] == pid { snapshot.processes[i].info = infos[lo] }
        }
        if !infos.contains(where: { $0 != nil }) && procRootProblem == nil {
            snapshot.degraded.append(DegradedSource(
                source: "procfs",
                reason: "none of the \(pids.count) GPU processes is visible in \(options.procRoot) (another PID namespace? mount the host's /proc and use --proc-root)"))
        }
    }

    public static func readHostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension Array where Element: Equatable {
    /// Removes adjacent duplicates (use on a sorted array).
    mutating func removeDuplicates() {
        guard count > 1 else { return }
        var write = 1
        for read in 1..<count where self[read] != self[write - 1] {
            self[write] = self[read]
            write += 1
        }
        removeLast(count - write)
    }
}
