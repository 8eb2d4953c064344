// The immutable picture of one refresh: what the samplers read, what the views
// and the JSON output show. Data flows one way: samplers -> Snapshot -> view.
import FoundationEssentials

/// Version of the JSON form of `Snapshot`; bump it when a field changes meaning.
public let snapshotSchemaVersion = 1

public struct Snapshot: Codable, Sendable, Equatable {
    public var schema: Int = snapshotSchemaVersion
    /// Seconds since 1970 when the refresh started.
    public var time: Double
    public var host: String
    public var driverVersion: String?
    public var cudaVersion: String?
    /// Sources that could not be read, with a one-line reason each.
    public var degraded: [DegradedSource] = []
    /// The container engines read for this refresh ("docker", "podman", "containerd", "crio",
    /// "kubelet"), in that order; nil in snapshots from before engines were recorded.
    public var engines: [String]?
    public var gpus: [GPU] = []
    public var processes: [GPUProcess] = []
    /// GPU users grouped by container ("host" for processes in no container),
    /// then running containers that asked for GPUs but use none (idle allocations).
    public var containers: [ContainerUsage] = []
    /// The latest XID errors seen while gpuctop watched (at most `SnapshotLimits.xidEvents`,
    /// oldest first), each with who was on the GPU; nil when there were none.
    public var xidEvents: [XIDEvent]?

    public init(time: Double, host: String) {
        self.time = time
        self.host = host
    }
}

/// The most rows one snapshot may carry from a source we do not control (a remote
/// host's line, a recording): far above any real machine (8 GPUs, thousands of
/// processes), low enough that a hostile source cannot make gpuctop take gigabytes.
/// Readers refuse a snapshot past these with a one-line reason instead of truncating it.
public enum SnapshotLimits {
    public static let gpus = 1_024
    public static let processes = 65_536
    public static let containers = 16_384
    public static let xidEvents = 64

    /// Why `s` is refused, or nil when every count is within bounds.
    public static func violation(_ s: Snapshot) -> String? {
        if s.gpus.count > gpus { return "\(s.gpus.count) GPUs in one snapshot (at most \(gpus))" }
        if s.processes.count > processes { return "\(s.processes.count) processes in one snapshot (at most \(processes))" }
        if s.containers.count > containers { return "\(s.containers.count) containers in one snapshot (at most \(containers))" }
        if let events = s.xidEvents {
            if events.count > xidEvents { return "\(events.count) XID events in one snapshot (at most \(xidEvents))" }
            // Each event carries who was on its GPU: together no more than one snapshot's worth.
            let p = events.reduce(0) { $0 + $1.processes.count }, c = events.reduce(0) { $0 + $1.containers.count }
            if p > processes { return "\(p) processes in one snapshot's XID events (at most \(processes))" }
            if c > containers { return "\(c) containers in one snapshot's XID events (at most \(containers))" }
        }
        return nil
    }
}

public struct DegradedSource: Codable, Sendable, Equatable {
    public var source: String   // "nvml", "procfs", "docker", "podman", "containerd", "crio", "kubelet"
    public var reason: String
    public init(source: String, reason: String) { self.source = source; self.reason = reason }
}

public struct GPU: Codable, Sendable, Equatable {
    public var index: Int
    public var name: String?
    public var uuid: String?
    public var pciBusId: String?
    /// True once the GPU answered GPU_IS_LOST; the other fields are then stale or absent.
    public var lost: Bool = false
    public var utilizationGpu: Int?       // percent
    public var utilizationMemory: Int?    // percent
    public var memoryTotal: UInt64?       // bytes
    public var memoryReserved: UInt64?    // bytes (NVML v2 only)
    public var memoryUsed: UInt64?        // bytes, as NVML counts it (v2: without reserved)
    public var memoryFree: UInt64?        // bytes
    public var temperature: Int?          // degrees C
    public var fanSpeed: Int?             // percent
    public var clockSM: Int?              // MHz
    public var clockMemory: Int?          // MHz
    public var performanceState: Int?     // 0 (P0) .. 15
    public var powerDraw: Int?            // milliwatts
    public var powerLimitEnforced: Int?   // milliwatts
    public var powerLimit: Int?           // milliwatts (power-management limit)
    public var powerLimitDefault: Int?    // milliwatts
    public var powerLimitMin: Int?        // milliwatts
    public var powerLimitMax: Int?        // milliwatts
    public var energyTotal: UInt64?       // millijoules since driver load
    public var persistenceMode: Bool?
    public var computeMode: String?       // "default", "exclusive_process", "prohibited"
    public var encoderUtilization: Int?   // percent
    public var decoderUtilization: Int?   // percent
    public var migMode: MIGMode?
    public var migDevices: [MIGDevice] = []
    /// The host it belongs to, in a merged several-host snapshot (`--host`); absent otherwise.
    public var host: String?

    // Health (GPUHealth.swift): each nil where the driver or card does not report it.
    /// nvmlDeviceGetCurrentClocksEventReasons, read each refresh: ClockEventReasons bits.
    public var clockEventReasons: UInt64?
    /// Nanoseconds the power limit held the clocks down since the driver loaded
    /// (nvmlDeviceGetViolationStatus, power policy; read every few seconds).
    public var powerViolationTime: UInt64?
    /// The share of the time between the last two violation reads that the power
    /// limit held the clocks down, in percent.
    public var powerCappedPercent: Int?
    /// Uncorrected (double-bit) ECC errors since the driver loaded, and over the board's life.
    public var eccUncorrectedVolatile: UInt64?
    public var eccUncorrectedAggregate: UInt64?
    /// nvmlDeviceGetRemappedRows: rows remapped after correctable and uncorrectable
    /// errors, a remap waiting for a GPU reset, and a remap that failed.
    public var remappedRowsCorrectable: Int?
    public var remappedRowsUncorrectable: Int?
    public var rowRemapPending: Bool?
    public var rowRemapFailure: Bool?
    /// The latest XID the GPU reported while gpuctop watched, and the count of each
    /// code: an empty list while nothing came, nil when XIDs are not watched.
    public var lastXID: Int?
    public var xidCounts: [XIDCount]?

    /// GPM figures over the last sample interval (Hopper and newer); nil elsewhere.
    public var activity: GPUActivity?
    /// The GPU's energy counter since gpuctop began counting, beside the containers'
    /// estimated shares (ContainerEnergy.swift); nil when the counter is not read.
    public var energyCount: GPUEnergyCount?

    public init(index: Int) { self.index = index }

    public var clockEvents: ClockEventReasons? { clockEventReasons.map(ClockEventReasons.init(rawValue:)) }
}

public struct MIGMode: Codable, Sendable, Equatable {
    public var current: Bool
    public var pending: Bool
    public init(current: Bool, pending: Bool) { self.current = current; self.pending = pending }
}

public struct MIGDevice: Codable, Sendable, Equatable {
    public var index: Int                 // slot on the parent GPU
    public var uuid: String?
    public var name: String?              // carries the profile, e.g. "... MIG 1g.18gb"
    public var gpuInstanceId: Int?
    public var computeInstanceId: Int?
    public var gpuInstanceSlices: Int?
    public var computeInstanceSlices: Int?
    public var multiprocessors: Int?
    public var memoryTotal: UInt64?       // bytes
    public var memoryUsed: UInt64?        // bytes
    /// The GPU instance's GPM figures (shared by its compute instances); nil without GPM.
    public var activity: GPUActivity?
    public init(index: Int) { self.index = index }
}

public enum ProcessKind: String, Codable, Sendable {
    case compute, graphics, mps
}

/// One process on one GPU. A process using two GPUs appears twice.
public struct GPUProcess: Codable, Sendable, Equatable {
    public var pid: Int32
    public var gpuIndex: Int
    public var kind: ProcessKind
    public var usedGpuMemory: UInt64?     // bytes; nil when NVML cannot tell
    public var gpuInstanceId: Int?        // nil when not on a MIG instance
    public var computeInstanceId: Int?
    public var smUtilization: Int?        // percent, from nvmlDeviceGetProcessUtilization
    public var memoryUtilization: Int?
    public var encoderUtilization: Int?
    public var decoderUtilization: Int?
    /// Host-side facts from /proc; nil when the PID is not visible there.
    public var info: ProcessInfoSample?
    /// The host it runs on, in a merged several-host snapshot (`--host`); absent otherwise.
    public var host: String?

    public init(pid: Int32, gpuIndex: Int, kind: ProcessKind) {
        self.pid = pid; self.gpuIndex = gpuIndex; self.kind = kind
    }
}

/// What /proc says of a process. The static part is cached per (pid, start time).
public struct ProcessInfoSample: Codable, Sendable, Equatable {
    public var command: String            // argv joined by spaces (comm when argv is empty)
    public var user: String               // user name, or the numeric uid
    public var uid: UInt32
    public var startTime: Double          // seconds since 1970
    /// Field 22 of /proc/PID/stat: clock ticks since boot, exact and not moved by a clock
    /// being set. With the PID it names the process: a signal is sent only while the
    /// PID's start time still equals this one (ProcessSignal.send(_:to:ifStartedAt:)).
    public var startTicks: UInt64?
    public var namespacePid: Int32?       // innermost NSpid (the PID inside its container)
    public var cpuPercent: Double?        // of one core, since the last sample (or lifetime on the first)
    public var residentBytes: UInt64?     // VmRSS
    public var container: ContainerRef?   // nil: a host process

    public init(command: String, user: String, uid: UInt32, startTime: Double) {
        self.command = command; self.user = user; self.uid = uid; self.startTime = startTime
    }
}

/// The container a process belongs to, as its cgroup path names it.
public struct ContainerRef: Codable, Sendable, Equatable, Hashable {
    public enum Runtime: String, Codable, Sendable {
        case docker, containerd, crio, podman
    }
    public var runtime: Runtime
    public var id: String                 // full container id (usually 64 hex)
    public var podUID: String?            // Kubernetes pod uid, with dashes

    public var shortId: String { String(id.prefix(12)) }

    public init(runtime: Runtime, id: String, podUID: String? = nil) {
        self.runtime = runtime; self.id = id; self.podUID = podUID
    }
}

/// One container's GPU use, joined from its processes' cgroups and the engine.
public struct ContainerUsage: Codable, Sendable, Equatable {
    /// Full container id; "host" for the group of processes in no container.
    public var id: String
    /// docker, podman, containerd or crio (from the cgroup path); nil for host.
    public var runtime: ContainerRef.Runtime?
    /// Name as the engine knows it; nil when the engine does not know the container.
    public var name: String?
    public var image: String?
    public var composeProject: String?
    public var composeService: String?
    public var podName: String?
    public var podNamespace: String?
    public var podContainer: String?
    public var podUID: String?
    /// Engine state: running, exited, paused, ...
    public var status: String?
    public var health: String?
    /// Seconds since 1970 when the container (last) started.
    public var startedAt: Double?
    /// How the container asked for GPUs ("all GPUs", "2 GPUs", "GPU 0,1", "nvidia0").
    public var gpuRequest: String?
    public var labels: [String: String]?
    /// GPU indices its processes use, and MIG instances as "GPU:GI/CI".
    public var gpus: [Int] = []
    public var migInstances: [String] = []
    public var processCount = 0
    public var gpuMemory: UInt64 = 0
    /// Sum of its processes' SM utilisation, per GPU summed (nil when not reported).
    public var smUtilization: Int?
    /// An estimate: each GPU's power draw apportioned by SM utilisation (by GPU
    /// memory when the GPU is idle), in milliwatts.
    public var estimatedPowerShare: Int?
    /// A running container that asked for GPUs and has no GPU process now.
    public var idleAllocation = false
    /// The host it runs on, in a merged several-host snapshot (`--host`); absent otherwise.
    public var host: String?
    /// Estimated energy since gpuctop first saw it on a GPU (ContainerEnergy.swift).
    public var energy: ContainerEnergy?

    public var isHost: Bool { id == "host" }
    public var shortId: String { isHost ? "host" : String(id.prefix(12)) }

    public init(id: String) { self.id = id }
}
