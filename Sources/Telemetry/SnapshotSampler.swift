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
    /// `--docker-host`; nil means DOCKER_HOST, then the default socket.
    public var dockerHost: String? {
        get { engines.dockerHost }
        set { engines.dockerHost = newValue }
    }
    /// False to leave every container engine alone (names then stay unknown).
    public var useDocker = true
    /// Where the other engines are (`--host-root`, `--podman-host`, `--containerd-state`,
    /// `--crio-state`); its procRoot follows `procRoot`.
    public var engines = EngineOptions()
    /// How often NVML's costly fields are read; the default suits the dashboard.
    public var nvmlSchedule = NVMLSchedule()
    /// How often the slow health fields (power violation, ECC, row remapping) are read.
    public var healthSchedule = NVMLHealthSchedule()
    /// Watch for XID errors on a thread of its own (off for a one-shot snapshot:
    /// events are only seen while gpuctop runs).
    public var watchXID = true
    /// Seconds between two GPM samples of a GPU (NVMLGPM.swift); 0: GPM is not read. A sample
    /// with its metrics took 0.9 ms (4.7 ms the first time) on the H200: every second that was
    /// 1.2 ms of a 1.7 ms refresh at 4 PyTorch processes; a read ten seconds after the last
    /// costs 3 ms, and at 10 s the dashboard still spent 0.3 ms a second more with GPM than
    /// without (bench/results, 2026-12-02). So the figures are 30-s means, as dcgm-exporter's
    /// (which collects every 30 s by default); the first come a second after the start.
    public var gpmPeriod = 30.0
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
    /// Throttle reasons, violation time, ECC and remapping (nil without NVML).
    public let health: NVMLHealthReader?
    private let xidWatcher: XIDEventWatcher?
    /// Why XID errors are not watched, when they are not (for `gpuctop profile`).
    public let xidProblem: String?
    private var xidLog = XIDLog()
    /// The GPUs whose XIDs are watched (their ECC is read after an XID, not every 30 s).
    private let xidWatchedGPUs: Set<Int>
    /// Every container engine; nil when `useDocker` is false.
    public let engines: ContainerEngines?
    /// The Docker slot's catalog (the --docker-host, DOCKER_HOST or default socket).
    public var catalog: ContainerCatalog? { engines?.docker }
    /// GPM figures, and each container's energy integrated between refreshes.
    private lazy var gpm: NVMLGPMReader? = options.gpmPeriod > 0 ? nvml.map { NVMLGPMReader(symbols: $0.library.gpm, period: options.gpmPeriod) } : nil
    private var energy = EnergyMeter(forgetAfter: 3600)
    private let descriptions = ContainerDescriptions()
    /// This host's GPUs as specs name them; made again only when the number of GPUs or MIG
    /// instances changes (UUIDs and minor numbers are fixed while the driver is loaded).
    private var gpuIdentities: GPUIdentities?
    private var gpuIdentitiesShape = -1
    private let procRootProblem: String?
    private let hostName: String
    /// Times each NVML call inside the refreshes (`gpuctop profile`); nil: nothing timed.
    public var callClock: CallClock? {
        didSet {
            nvml?.callClock = callClock
            health?.callClock = callClock
        }
    }
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
        health = sampler.map { NVMLHealthReader(symbols: $0.library.health, schedule: options.healthSchedule) }
        (xidWatcher, xidProblem) = Self.startXIDWatcher(sampler, enabled: options.watchXID)
        xidWatchedGPUs = Set(xidWatcher?.watchedGPUs ?? [])
        procReader = ProcReader(procRoot: options.procRoot, minimumRereadSeconds: options.processStatPeriod,
                                cpuWindowSeconds: options.cpuWindowSeconds)
        var engineOptions = options.engines
        engineOptions.procRoot = options.procRoot
        engines = options.useDocker ? ContainerEngines(options: engineOptions) : nil
        procRootProblem = procReader.procRootProblem()
        hostName = Self.readHostName()
    }

    deinit { xidWatcher?.stop() }  // before NVML shuts down

    private static func startXIDWatcher(_ nvml: NVMLSampler?, enabled: Bool) -> (XIDEventWatcher?, String?) {
        guard let nvml, enabled else { return (nil, nil) }
        let gpus = (0..<nvml.gpuCount).compactMap { i in nvml.handle(ofGPU: i).map { (index: i, handle: $0) } }
        switch XIDEventWatcher.start(library: nvml.library, gpus: gpus) {
        case .success(let watcher): return (watcher, nil)
        case .failure(let problem): return (nil, problem.description)
        }
    }

    public func sample() -> Snapshot {
        let now = WallClock.now()
        var cost = RefreshCost()
        var timer = StageTimer()
        defer { lastCost = cost }
        var snapshot = Snapshot(time: now, host: hostName)
        var procfsRead: ([ProcessInfoSample?], StageCost)?
        var pids: [Int32] = []
        // XIDs first: one on a GPU makes this refresh read its ECC and remapping counters.
        // Once the thread has ended on its own no GPU is watched: ECC goes back on its
        // unwatched period, and no empty XID count says "watched, none came".
        let xids = xidWatcher?.drain()
        let watched = xids?.ended == nil ? xidWatchedGPUs : []
        if let nvml {
            snapshot.driverVersion = nvml.driverVersion
            snapshot.cudaVersion = nvml.cudaVersion
            var (gpus, processes) = nvml.sample()
            snapshot.processes = processes
            // Many processes new to /proc (a one-shot, a first refresh: 30 µs each on the
            // H200 host) are read on a helper thread while NVML reads the health fields
            // (2.5 ms in a one-shot), which cannot overlap other NVML calls.
            pids = Self.sortedUniquePids(processes)
            let alongside = pids.count >= Self.procfsAlongsideMinimum && procReader.unknownCount(pids) >= Self.procfsAlongsideMinimum
                ? ProcfsAlongside.start(procReader, pids: pids, now: now) : nil
            health?.read(&gpus, handle: nvml.handle(ofGPU:), now: MonotonicClock.now(),
                         xidWatched: watched,
                         xidArrived: Set(xids?.events.map(\.gpuIndex) ?? []))
            if let gpm {
                callClock.time("GPM samples and metrics (nvmlGpm*)") { gpm.read(&gpus, handle: nvml.handle(ofGPU:), now: MonotonicClock.now()) }
            }
            snapshot.gpus = gpus
            if let alongside {
                // NVML's own time; the helper's is its own (procfs), and the wait for it
                // belongs to neither: stages that overlap do not add up to the refresh.
                cost.nvml = timer.lap()
                procfsRead = alongside.finish()
                _ = timer.lap()
            }
        } else if let nvmlProblem {
            snapshot.degraded.append(DegradedSource(source: "nvml", reason: nvmlProblem))
        }
        if let procRootProblem {
            snapshot.degraded.append(DegradedSource(source: "procfs", reason: procRootProblem))
        }
        cost.nvml = cost.nvml + timer.lap()
        if let (infos, procfsCost) = procfsRead {
            attachProcessInfo(to: &snapshot, pids: pids, infos: infos)
            cost.procfs = procfsCost
            _ = timer.lap()
        } else {
            attachProcessInfo(to: &snapshot, pids: pids, infos: pids.isEmpty ? [] : procReader.sample(sortedUniquePids: pids, now: now))
            cost.procfs = timer.lap()
        }
        if let engines {
            let shape = snapshot.gpus.reduce(snapshot.gpus.count) { $0 &* 31 &+ $1.migDevices.count }
            if gpuIdentities == nil || gpuIdentitiesShape != shape {
                gpuIdentities = GPUIdentities(gpus: snapshot.gpus, minorNumbers: nvml?.minorNumbers ?? [:])
                gpuIdentitiesShape = shape
            }
            engines.refresh(now: now, gpus: gpuIdentities ?? GPUIdentities())
            snapshot.degraded += engines.degraded
            snapshot.engines = engines.engines
        }
        cost.docker = timer.lap()
        let engines = self.engines
        descriptions.sync(version: engines?.version ?? 0)
        snapshot.containers = ContainerJoin.join(
            processes: snapshot.processes, gpus: snapshot.gpus,
            identify: { ref in
                engines?.describe(ref) ?? ContainerJoin.describe(ref: ref, entry: nil)
            },
            idleAllocations: engines?.idleAllocations ?? [],
            descriptions: descriptions)
        if let xids {
            xidLog.record(xids.events, dropped: xids.dropped, watched: watched, into: &snapshot)
            if let ended = xids.ended {
                snapshot.degraded.append(DegradedSource(source: "xid", reason: "XID events no longer watched: \(ended)"))
            }
        }
        energy.add(&snapshot)
        cost.join = timer.lap()
        return snapshot
    }

    /// Adds /proc facts to each GPU process. If NVML reports processes but none of
    /// them is visible under the proc root, we are in another PID namespace: say so
    /// rather than show rows without commands.
    private func attachProcessInfo(to snapshot: inout Snapshot, pids: [Int32], infos: [ProcessInfoSample?]) {
        guard !snapshot.processes.isEmpty else { return }
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

    /// Fewest processes new to /proc that are worth a helper thread (ProcfsAlongside).
    static let procfsAlongsideMinimum = 16

    static func sortedUniquePids(_ processes: [GPUProcess]) -> [Int32] {
        var pids = processes.map(\.pid)
        pids.sort()
        pids.removeDuplicates()
        return pids
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

/// /proc read for many processes on a helper thread, joined before anything else touches
/// the reader; where no thread can be started it is read at `finish()` instead.
private final class ProcfsAlongside: @unchecked Sendable {
    private let reader: ProcReader
    private let pids: [Int32]
    private let now: Double
    private var infos: [ProcessInfoSample?] = []
    private var cost = StageCost()
    private var thread: pthread_t?

    private init(_ reader: ProcReader, pids: [Int32], now: Double) {
        self.reader = reader
        self.pids = pids
        self.now = now
    }

    static func start(_ reader: ProcReader, pids: [Int32], now: Double) -> ProcfsAlongside {
        let job = ProcfsAlongside(reader, pids: pids, now: now)
        job.thread = spawnThread(name: "procfs") { job.run() }
        return job
    }

    private func run() {
        var timer = StageTimer()
        infos = reader.sample(sortedUniquePids: pids, now: now)
        cost = timer.lap()
    }

    /// The infos (in `pids` order) and the CPU and wall time the read took.
    func finish() -> ([ProcessInfoSample?], StageCost) {
        if let thread { pthread_join(thread, nil) } else { run() }
        return (infos, cost)
    }
}
