// What one refresh cost, stage by stage: CPU time of the sampling thread and wall
// time. Always measured (a handful of clock_gettime calls per refresh, well under a
// microsecond) so `gpuctop profile` and the scale benchmark can say where the time goes.
import Glibc
import Support

/// CPU and wall nanoseconds spent in one stage.
public struct StageCost: Sendable, Equatable {
    public var cpuNanoseconds: UInt64 = 0
    public var wallNanoseconds: UInt64 = 0
    public init(cpuNanoseconds: UInt64 = 0, wallNanoseconds: UInt64 = 0) {
        self.cpuNanoseconds = cpuNanoseconds
        self.wallNanoseconds = wallNanoseconds
    }

    public static func + (a: StageCost, b: StageCost) -> StageCost {
        StageCost(cpuNanoseconds: a.cpuNanoseconds &+ b.cpuNanoseconds,
                  wallNanoseconds: a.wallNanoseconds &+ b.wallNanoseconds)
    }
}

/// The stages of one `SnapshotSampler.sample()`.
public struct RefreshCost: Sendable, Equatable {
    /// Every NVML call of every GPU.
    public var nvml = StageCost()
    /// /proc reads of the GPU processes (stat each refresh; status, cmdline and cgroup once per process).
    public var procfs = StageCost()
    /// Bringing the container engines up to date: Docker and Podman catalogs (nothing unless an
    /// engine sent events), containerd and CRI-O state (a listing every few seconds).
    public var docker = StageCost()
    /// Joining processes to containers and adding up per-container figures.
    public var join = StageCost()

    public init() {}

    public var total: StageCost { nvml + procfs + docker + join }
}

/// Laps of the calling thread's CPU clock and the monotonic clock.
public struct StageTimer {
    private var cpu: UInt64
    private var wall: UInt64

    public init() {
        cpu = clockNanoseconds(CLOCK_THREAD_CPUTIME_ID)
        wall = clockNanoseconds(CLOCK_MONOTONIC)
    }

    /// The cost since the last lap (or since init), and starts the next lap.
    public mutating func lap() -> StageCost {
        let c = clockNanoseconds(CLOCK_THREAD_CPUTIME_ID), w = clockNanoseconds(CLOCK_MONOTONIC)
        defer { cpu = c; wall = w }
        return StageCost(cpuNanoseconds: c &- cpu, wallNanoseconds: w &- wall)
    }

}
