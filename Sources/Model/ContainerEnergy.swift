// Energy per container: each container's estimated share of a GPU's power
// (PowerShares: the GPU's draw split by SM utilisation, by GPU memory when no
// process computes) integrated over time, beside the GPU's own energy counter
// so the estimate can be checked against what the GPU measured.
//
// One integrator serves the live sampler (state kept between refreshes) and
// `gpuctop snapshot --from FILE --energy` (fed a recording's snapshots), so a
// recording and the dashboard agree on how energy is counted.
import FoundationEssentials

/// The energy a container's processes drew on one GPU, estimated (joules).
public struct GPUEnergyShare: Codable, Sendable, Equatable {
    public var gpu: Int
    public var joules: Double
    public init(gpu: Int, joules: Double) { self.gpu = gpu; self.joules = joules }
}

/// A container's estimated energy since counting began.
public struct ContainerEnergy: Codable, Sendable, Equatable {
    /// Over all its GPUs.
    public var joules: Double
    /// Seconds since 1970 when counting began: when gpuctop first saw the container use a GPU.
    public var since: Double
    /// True when the container started after gpuctop did, so `since` is (within a
    /// refresh) its start; false when it was already running ("since gpuctop started").
    public var sinceContainerStart: Bool
    public var byGPU: [GPUEnergyShare]

    public init(joules: Double = 0, since: Double, sinceContainerStart: Bool, byGPU: [GPUEnergyShare] = []) {
        self.joules = joules
        self.since = since
        self.sinceContainerStart = sinceContainerStart
        self.byGPU = byGPU
    }

    public var kilowattHours: Double { joules / 3.6e6 }
}

/// What the GPU's own counter says it used while gpuctop counted.
public struct GPUEnergyCount: Codable, Sendable, Equatable {
    /// Joules by nvmlDeviceGetTotalEnergyConsumption between `since` and this snapshot.
    public var joules: Double
    public var since: Double
    /// The containers' estimated shares on this GPU over the same time, summed.
    public var attributedJoules: Double
    public init(joules: Double, since: Double, attributedJoules: Double) {
        self.joules = joules; self.since = since; self.attributedJoules = attributedJoules
    }
}

/// Integrates the power shares of successive snapshots.
///
/// Each interval between two snapshots is credited with the power read at its end
/// (NVML's power reading on current GPUs is an average over the last second or
/// so, so the later reading stands for the interval). An interval longer than
/// `longestGap` (gpuctop suspended, a gap in a recording) is not counted: nobody
/// knows what ran then.
public struct EnergyMeter: Sendable {
    public var longestGap: Double
    /// A container not seen for this long is forgotten (nil: kept, as for a recording).
    public var forgetAfter: Double?
    public private(set) var startedAt: Double?
    private var lastTime: Double?
    private var containers: [String: (energy: ContainerEnergy, byGPU: [Int: Double], seen: Double)] = [:]
    private var counters: [Int: (last: UInt64, joules: Double, since: Double)] = [:]
    private var attributed: [Int: Double] = [:]

    public init(longestGap: Double = 300, forgetAfter: Double? = nil) {
        self.longestGap = longestGap
        self.forgetAfter = forgetAfter
    }

    /// The key of a container in a (possibly merged, several-host) snapshot.
    static func key(host: String?, id: String) -> String { (host ?? "") + "\u{0}" + id }

    /// Counts the interval since the previous snapshot and writes the totals into
    /// `snapshot` (each container's `energy`, each GPU's `energyCount`).
    public mutating func add(_ snapshot: inout Snapshot) {
        let now = snapshot.time
        if startedAt == nil { startedAt = now }
        let dt = lastTime.map { now - $0 } ?? 0
        let counts = dt > 0 && dt <= longestGap
        // The first snapshot only starts the count: a one-shot snapshot carries no energy fields.
        let publish = lastTime != nil
        if dt > 0 || lastTime == nil { lastTime = now }

        // Each process's share of its GPU's power now, summed per container and GPU.
        let processes = ProcessContexts.merged(snapshot.processes)
        let shares = PowerShares(processes: processes, gpus: snapshot.gpus)
        var power: [String: [Int: Int]] = [:]
        for p in processes {
            guard let share = shares.share(of: p) else { continue }
            let key = Self.key(host: p.host, id: p.info?.container?.id ?? "host")
            power[key, default: [:]][p.gpuIndex, default: 0] += share
        }
        for i in snapshot.containers.indices where !snapshot.containers[i].idleAllocation {
            let c = snapshot.containers[i]
            let key = Self.key(host: c.host, id: c.id)
            guard let byGPU = power[key] else {
                if let known = containers[key], publish { snapshot.containers[i].energy = known.energy }
                continue
            }
            var entry = containers[key] ?? (ContainerEnergy(
                since: now, sinceContainerStart: (c.startedAt ?? 0) >= (startedAt ?? now)), [:], now)
            if counts {
                for (gpu, mw) in byGPU {
                    let joules = Double(mw) / 1000 * dt
                    entry.byGPU[gpu, default: 0] += joules
                    entry.energy.joules += joules
                    attributed[gpu, default: 0] += joules
                }
            }
            entry.seen = now
            entry.energy.byGPU = entry.byGPU.sorted { $0.key < $1.key }.map { GPUEnergyShare(gpu: $0.key, joules: $0.value) }
            containers[key] = entry
            if publish { snapshot.containers[i].energy = entry.energy }
        }
        for i in snapshot.gpus.indices {
            let g = snapshot.gpus[i]
            guard g.host == nil, let total = g.energyTotal else { continue }
            if var known = counters[g.index] {
                // A counter that went back (driver reload) starts again from its new value.
                if total >= known.last && counts { known.joules += Double(total - known.last) / 1000 }
                known.last = total
                counters[g.index] = known
            } else {
                counters[g.index] = (total, 0, now)
                attributed[g.index] = 0
            }
            let c = counters[g.index]!
            guard publish else { continue }
            snapshot.gpus[i].energyCount = GPUEnergyCount(joules: c.joules, since: c.since, attributedJoules: attributed[g.index] ?? 0)
        }
        if let forgetAfter {
            containers = containers.filter { now - $0.value.seen <= forgetAfter }
        }
    }

    /// Every container counted so far (a recording's whole cast, the gone ones too),
    /// keyed by host and id, with the last usage seen for its names.
    public var totals: [(host: String?, id: String, energy: ContainerEnergy)] {
        containers.map { key, value in
            let parts = key.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
            let host = parts.first.map(String.init).flatMap { $0.isEmpty ? nil : $0 }
            return (host, parts.count > 1 ? String(parts[1]) : key, value.energy)
        }.sorted { $0.energy.joules > $1.energy.joules }
    }

    /// Each GPU's counter and attributed energy so far.
    public var gpuCounts: [(gpu: Int, count: GPUEnergyCount)] {
        counters.keys.sorted().map { i in
            let c = counters[i]!
            return (i, GPUEnergyCount(joules: c.joules, since: c.since, attributedJoules: attributed[i] ?? 0))
        }
    }
}
