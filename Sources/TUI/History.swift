// The last minutes of each GPU and container, for sparklines. Bounded: a fixed
// number of buckets per series, and series of vanished containers are dropped.
//
// Samples are averaged into buckets of fixed wall-clock time, and only completed
// buckets are shown. A sparkline that shifted on every refresh rewrote all its
// cells each second (most of the terminal bytes of a steady dashboard); now it moves
// once per bucket, while the bars above show the live value.
import Model

public struct Series: Sendable, Equatable {
    /// Completed buckets, oldest first; -1 where nothing was known.
    public private(set) var values: [Double] = []
    public static let capacity = 180
    /// Seconds of one sparkline cell.
    public static let bucketSeconds = 5.0

    private var bucket = Int64.min
    private var sum = 0.0
    private var count = 0
    private var samples = 0

    public init() {}

    /// Adds a sample taken at `time` (seconds since 1970); negative means unknown.
    public mutating func append(_ v: Double, at time: Double) {
        // A time from a recording or a remote host may be anything: out of range keeps the bucket.
        let b = Int64(exactly: (time / Self.bucketSeconds).rounded(.down)) ?? bucket
        if b != bucket {
            if samples > 0 { push(count > 0 ? sum / Double(count) : -1) }
            bucket = b
            sum = 0
            count = 0
            samples = 0
        }
        samples += 1
        if v >= 0 {
            sum += v
            count += 1
        }
    }

    private mutating func push(_ v: Double) {
        if values.count == Series.capacity { values.removeFirst() }
        values.append(v)
    }
}

public struct History: Sendable, Equatable {
    public struct GPUSeries: Sendable, Equatable {
        public var utilization = Series()
        public var memory = Series()      // percent of total
        public var power = Series()       // watts
        /// GPM's SM activity, percent; stays empty of values on GPUs without GPM.
        public var smActive = Series()
    }
    public struct ContainerSeries: Sendable, Equatable {
        public var sm = Series()
        public var memory = Series()      // GiB
    }
    public private(set) var gpus: [String: GPUSeries] = [:]
    public private(set) var containers: [String: ContainerSeries] = [:]

    public init() {}

    /// By uuid (index when there is none), and by host when several are watched:
    /// indices, and fake or cloned uuids, collide across hosts.
    static func gpuKey(_ g: GPU) -> String { (g.host.map { $0 + " " } ?? "") + (g.uuid ?? "index \(g.index)") }

    public func gpu(_ g: GPU) -> GPUSeries? { gpus[Self.gpuKey(g)] }
    public func container(_ id: String, host: String? = nil) -> ContainerSeries? { containers[Self.containerKey(id, host: host)] }

    static func containerKey(_ id: String, host: String?) -> String { host.map { "\($0) \(id)" } ?? id }

    public mutating func record(_ s: Snapshot) {
        for g in s.gpus where !g.lost {
            var series = gpus[Self.gpuKey(g)] ?? GPUSeries()
            series.utilization.append(g.utilizationGpu.map(Double.init) ?? -1, at: s.time)
            if let used = g.memoryUsed, let total = g.memoryTotal, total > 0 {
                series.memory.append(Double(used) / Double(total) * 100, at: s.time)
            } else {
                series.memory.append(0, at: s.time)
            }
            series.power.append(Double(g.powerDraw ?? 0) / 1000, at: s.time)
            series.smActive.append(g.activity?.smActive ?? -1, at: s.time)
            gpus[Self.gpuKey(g)] = series
        }
        var seen = Set<String>()
        for c in s.containers where !c.idleAllocation {
            let key = Self.containerKey(c.id, host: c.host)
            seen.insert(key)
            var series = containers[key] ?? ContainerSeries()
            series.sm.append(Double(c.smUtilization ?? 0), at: s.time)
            series.memory.append(Double(c.gpuMemory) / Double(1 << 30), at: s.time)
            containers[key] = series
        }
        // Forget containers that left, so churn does not grow memory.
        if containers.count > seen.count {
            containers = containers.filter { seen.contains($0.key) }
        }
    }
}
