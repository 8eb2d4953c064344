// Numbers from a source we do not control (a remote host's JSON line, a
// recording) are checked once, where they are decoded: a value that is not
// finite or lies outside what any real machine reports becomes unavailable
// (nil), so no view, sum or conversion downstream meets 1e300, NaN or Int.max.
// The ranges are far wider than real hardware: they exist to keep arithmetic
// safe and the screen honest, not to second-guess a GPU.

/// The ranges a decoded snapshot's numbers must lie in; outside them a value is unavailable.
public enum SaneRange {
    /// Seconds since 1970: 1970-01-01 ..< 2200-01-01. Snapshot and process start
    /// times are required fields: outside this range they become 0, "unknown".
    public static let time: ClosedRange<Double> = 0...7_258_118_400
    /// Percent of one core: a process on a 4,096-core machine may use them all.
    public static let cpuPercent: ClosedRange<Double> = 0...409_600
    /// NVML's utilisations are 0...100; a fan may report a little over 100.
    public static let percent: ClosedRange<Int> = 0...100
    public static let fanPercent: ClosedRange<Int> = 0...1_000
    /// A container's SM utilisation sums its processes over every GPU.
    public static let summedPercent: ClosedRange<Int> = 0...(100 * SnapshotLimits.gpus)
    /// Degrees Celsius.
    public static let temperature: ClosedRange<Int> = -273...1_000
    /// MHz.
    public static let clock: ClosedRange<Int> = 0...1_000_000
    /// P0 .. P15, and NVML's 32 for "unknown".
    public static let performanceState: ClosedRange<Int> = 0...32
    /// Milliwatts: 100 kW for one GPU, and for a container's share of all of them.
    public static let milliwatts: ClosedRange<Int> = 0...100_000_000
    public static let summedMilliwatts: ClosedRange<Int> = 0...(100_000_000 * SnapshotLimits.gpus)
    /// GPU indices, MIG instance ids, slices, SM counts, process counts: small
    /// non-negative numbers that views add and index with.
    public static let count: ClosedRange<Int> = 0...Int(Int32.max)

    /// `value` when it is finite and in `range`, else nil.
    public static func check(_ value: Double?, _ range: ClosedRange<Double>) -> Double? {
        guard let value, value.isFinite, range.contains(value) else { return nil }
        return value
    }

    /// `value` when it is in `range`, else nil.
    public static func check(_ value: Int?, _ range: ClosedRange<Int>) -> Int? {
        guard let value, range.contains(value) else { return nil }
        return value
    }

    /// A required time: the value when sane, else 0 ("unknown").
    public static func requiredTime(_ value: Double) -> Double {
        check(value, time) ?? 0
    }

    /// A time a view may show or subtract: nil for 0 ("unknown") and anything not sane.
    public static func knownTime(_ value: Double?) -> Double? {
        guard let t = check(value, time), t > 0 else { return nil }
        return t
    }
}

extension Snapshot {
    /// This snapshot with every number outside `SaneRange` made unavailable.
    /// Every decoder of untrusted bytes (remote hosts, recordings) applies it;
    /// a snapshot gpuctop sampled itself is already sane and comes back unchanged.
    public func sanitized() -> Snapshot {
        var s = self
        s.time = SaneRange.requiredTime(time)
        s.gpus = gpus.map { $0.sanitized() }
        s.processes = processes.map { $0.sanitized() }
        s.containers = containers.map { $0.sanitized() }
        s.xidEvents = xidEvents?.map { $0.sanitized() }
        // A header's worth: there are five engines, each named by a short word.
        s.engines = engines.map { list in list.prefix(8).map { String($0.prefix(32)) } }
        return s
    }
}

extension GPU {
    func sanitized() -> GPU {
        var g = self
        g.utilizationGpu = SaneRange.check(utilizationGpu, SaneRange.percent)
        g.utilizationMemory = SaneRange.check(utilizationMemory, SaneRange.percent)
        g.temperature = SaneRange.check(temperature, SaneRange.temperature)
        g.fanSpeed = SaneRange.check(fanSpeed, SaneRange.fanPercent)
        g.clockSM = SaneRange.check(clockSM, SaneRange.clock)
        g.clockMemory = SaneRange.check(clockMemory, SaneRange.clock)
        g.performanceState = SaneRange.check(performanceState, SaneRange.performanceState)
        g.powerDraw = SaneRange.check(powerDraw, SaneRange.milliwatts)
        g.powerLimitEnforced = SaneRange.check(powerLimitEnforced, SaneRange.milliwatts)
        g.powerLimit = SaneRange.check(powerLimit, SaneRange.milliwatts)
        g.powerLimitDefault = SaneRange.check(powerLimitDefault, SaneRange.milliwatts)
        g.powerLimitMin = SaneRange.check(powerLimitMin, SaneRange.milliwatts)
        g.powerLimitMax = SaneRange.check(powerLimitMax, SaneRange.milliwatts)
        g.encoderUtilization = SaneRange.check(encoderUtilization, SaneRange.percent)
        g.decoderUtilization = SaneRange.check(decoderUtilization, SaneRange.percent)
        g.migDevices = migDevices.map { $0.sanitized() }
        g.powerCappedPercent = SaneRange.check(powerCappedPercent, SaneRange.percent)
        g.remappedRowsCorrectable = SaneRange.check(remappedRowsCorrectable, SaneRange.count)
        g.remappedRowsUncorrectable = SaneRange.check(remappedRowsUncorrectable, SaneRange.count)
        g.lastXID = SaneRange.check(lastXID, SaneRange.count)
        g.xidCounts = xidCounts?.filter { SaneRange.count.contains($0.code) && SaneRange.count.contains($0.count) }
        g.activity = activity?.sanitized()
        g.energyCount = energyCount?.sanitized()
        return g
    }
}

extension MIGDevice {
    func sanitized() -> MIGDevice {
        var m = self
        m.gpuInstanceId = SaneRange.check(gpuInstanceId, SaneRange.count)
        m.computeInstanceId = SaneRange.check(computeInstanceId, SaneRange.count)
        m.gpuInstanceSlices = SaneRange.check(gpuInstanceSlices, SaneRange.count)
        m.computeInstanceSlices = SaneRange.check(computeInstanceSlices, SaneRange.count)
        m.multiprocessors = SaneRange.check(multiprocessors, SaneRange.count)
        m.activity = activity?.sanitized()
        return m
    }
}

extension GPUProcess {
    func sanitized() -> GPUProcess {
        var p = self
        p.gpuInstanceId = SaneRange.check(gpuInstanceId, SaneRange.count)
        p.computeInstanceId = SaneRange.check(computeInstanceId, SaneRange.count)
        p.smUtilization = SaneRange.check(smUtilization, SaneRange.percent)
        p.memoryUtilization = SaneRange.check(memoryUtilization, SaneRange.percent)
        p.encoderUtilization = SaneRange.check(encoderUtilization, SaneRange.percent)
        p.decoderUtilization = SaneRange.check(decoderUtilization, SaneRange.percent)
        if var info {
            info.startTime = SaneRange.requiredTime(info.startTime)
            info.cpuPercent = SaneRange.check(info.cpuPercent, SaneRange.cpuPercent)
            p.info = info
        }
        return p
    }
}

extension ContainerUsage {
    func sanitized() -> ContainerUsage {
        var c = self
        c.startedAt = SaneRange.check(startedAt, SaneRange.time)
        c.processCount = SaneRange.check(processCount, SaneRange.count) ?? 0
        c.smUtilization = SaneRange.check(smUtilization, SaneRange.summedPercent)
        c.estimatedPowerShare = SaneRange.check(estimatedPowerShare, SaneRange.summedMilliwatts)
        c.energy = energy?.sanitized()
        return c
    }
}

extension XIDEvent {
    func sanitized() -> XIDEvent {
        var e = self
        e.time = SaneRange.requiredTime(time)
        e.gpuInstanceId = SaneRange.check(gpuInstanceId, SaneRange.count)
        e.computeInstanceId = SaneRange.check(computeInstanceId, SaneRange.count)
        e.processes = processes.map { $0.sanitized() }
        e.containers = containers.map { $0.sanitized() }
        return e
    }
}

/// Energy: joules finite and below 1e15 (a megawatt for thirty years), times sane;
/// anything else is not reported.
public extension SaneRange {
    static let joules: ClosedRange<Double> = 0...1e15
}

extension ContainerEnergy {
    func sanitized() -> ContainerEnergy? {
        guard let j = SaneRange.check(joules, SaneRange.joules), let t = SaneRange.knownTime(since) else { return nil }
        return ContainerEnergy(joules: j, since: t, sinceContainerStart: sinceContainerStart,
                               byGPU: byGPU.prefix(SnapshotLimits.gpus).compactMap { s in
                                   SaneRange.check(s.joules, SaneRange.joules).flatMap { SaneRange.count.contains(s.gpu) ? GPUEnergyShare(gpu: s.gpu, joules: $0) : nil }
                               })
    }
}

extension GPUEnergyCount {
    func sanitized() -> GPUEnergyCount? {
        guard let j = SaneRange.check(joules, SaneRange.joules), let a = SaneRange.check(attributedJoules, SaneRange.joules),
              let t = SaneRange.knownTime(since) else { return nil }
        return GPUEnergyCount(joules: j, since: t, attributedJoules: a)
    }
}
