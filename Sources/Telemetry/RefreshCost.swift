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
    /// /proc reads of the GPU processes (stat each refresh; status, cmdline and cgroup once per
    /// process). When many processes are new, on a helper thread while NVML reads the health
    /// fields: then its time overlaps `nvml`'s, and the stages add up to more than the refresh.
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

/// Each NVML call's cost as the refreshes themselves make it, at their own spacing
/// (`gpuctop profile`). Timing the same call back to back says little: the driver
/// caches many answers for a few milliseconds, so a second call is cheap where the
/// one made a second after the last is not. Off (nil) unless a profile installs one.
public final class CallClock {
    public struct Entry: Sendable {
        public let name: String
        /// Every call's cost is counted; the first `CallClock.keptSamples` are kept for medians.
        public var calls = 0
        public var totalCPUNanoseconds: UInt64 = 0
        public var totalWallNanoseconds: UInt64 = 0
        public var cpuNanoseconds: [UInt64] = []

        /// Median CPU time of a call (of the kept samples).
        public var medianCPUNanoseconds: UInt64 { cpuNanoseconds.isEmpty ? 0 : cpuNanoseconds.sorted()[cpuNanoseconds.count / 2] }
    }

    /// Samples kept per call for its median: a long profile must not grow without bound.
    public static let keptSamples = 10_000

    public private(set) var entries: [Entry] = []
    private var slot: [String: Int] = [:]

    public init() {}

    /// Runs `body` (one NVML call) and keeps its cost under `name`.
    public func time<T>(_ name: String, _ body: () -> T) -> T {
        var timer = StageTimer()
        let result = body()
        let cost = timer.lap()
        let i: Int
        if let known = slot[name] {
            i = known
        } else {
            i = entries.count
            slot[name] = i
            entries.append(Entry(name: name))
        }
        entries[i].calls += 1
        entries[i].totalCPUNanoseconds &+= cost.cpuNanoseconds
        entries[i].totalWallNanoseconds &+= cost.wallNanoseconds
        if entries[i].cpuNanoseconds.count < Self.keptSamples {
            entries[i].cpuNanoseconds.append(cost.cpuNanoseconds)
        }
        return result
    }

    /// Forgets what was timed (the first refresh's calls cost more than the steady ones).
    public func reset() {
        entries = []
        slot = [:]
    }
}

extension Optional where Wrapped == CallClock {
    /// `body` timed when a clock is installed, else just called.
    @inline(__always)
    func time<T>(_ name: String, _ body: () -> T) -> T {
        switch self {
        case .some(let clock): return clock.time(name, body)
        case .none: return body()
        }
    }
}
