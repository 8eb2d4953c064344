// Joins GPU processes to containers: process -> cgroup container reference ->
// the engine's container, with per-container totals and an estimated power share.
// A pure function of its inputs, so it is tested without a daemon.
import DockerSocket
import FoundationEssentials

public enum ContainerJoin {
    public static func join(processes: [GPUProcess], gpus: [GPU],
                            lookup: (String) -> ContainerCatalog.Entry?,
                            gpuRequesters: [ContainerCatalog.Entry],
                            descriptions: ContainerDescriptions? = nil) -> [ContainerUsage] {
        // Usages are mutated in place (an index per key): copying one out of a dictionary
        // and back made every append copy its arrays, a cost that grew with the processes.
        var result: [ContainerUsage] = []
        var indexByKey: [String: Int] = [:]
        var pidsSeen: [Set<Int32>] = []
        let processes = contexts(processes)
        let shares = PowerShares(processes: processes, gpus: gpus)

        for p in processes {
            let ref = p.info?.container
            let key = ref?.id ?? "host"
            let i: Int
            if let known = indexByKey[key] {
                i = known
            } else {
                i = result.count
                indexByKey[key] = i
                if let descriptions {
                    result.append(descriptions.describe(ref: ref) { ref.flatMap { lookup($0.id) } })
                } else {
                    result.append(describe(ref: ref, entry: ref.flatMap { lookup($0.id) }))
                }
                pidsSeen.append([])
            }
            if pidsSeen[i].insert(p.pid).inserted { result[i].processCount += 1 }
            if !result[i].gpus.contains(p.gpuIndex) { result[i].gpus.append(p.gpuIndex) }
            if let gi = p.gpuInstanceId {
                let mig = "\(p.gpuIndex):\(gi)/\(p.computeInstanceId.map(String.init) ?? "?")"
                if !result[i].migInstances.contains(mig) { result[i].migInstances.append(mig) }
            }
            result[i].gpuMemory &+= p.usedGpuMemory ?? 0
            if let sm = p.smUtilization { result[i].smUtilization = (result[i].smUtilization ?? 0) + sm }
            if let share = shares.share(of: p) { result[i].estimatedPowerShare = (result[i].estimatedPowerShare ?? 0) + share }
        }

        // Stable: equal memory keeps the order of first appearance.
        result = result.enumerated().sorted { a, b in
            // Containers first by GPU memory, the host group last among users.
            if a.element.isHost != b.element.isHost { return !a.element.isHost }
            if a.element.gpuMemory != b.element.gpuMemory { return a.element.gpuMemory > b.element.gpuMemory }
            return a.offset < b.offset
        }.map(\.element)
        for entry in gpuRequesters.sorted(by: { ($0.summary.name ?? "") < ($1.summary.name ?? "") })
        where indexByKey[entry.summary.id] == nil {
            var usage = describe(ref: nil, entry: entry)
            usage.idleAllocation = true
            result.append(usage)
        }
        return result
    }

    /// One entry per process context: NVML lists a process that has both a compute and a
    /// graphics context (nvidia-smi's "C+G") in both lists, with the same memory and the same
    /// utilisation sample. Counting it twice would double its memory and SM and skew the power
    /// shares of everyone else on that GPU. Keyed by pid, GPU and MIG instance.
    static func contexts(_ processes: [GPUProcess]) -> [GPUProcess] {
        // One integer per context (hashing a struct of optionals was a visible cost at
        // thousands of processes): pid, GPU, and the MIG ids (255 = none).
        // Values outside those ranges (never seen from NVML) take a struct key instead.
        func packed(_ p: GPUProcess) -> UInt64? {
            func small(_ v: Int?) -> UInt64? {
                guard let v else { return 255 }
                return (0...254).contains(v) ? UInt64(v) : nil
            }
            guard (0..<65_536).contains(p.gpuIndex), let gi = small(p.gpuInstanceId), let ci = small(p.computeInstanceId) else { return nil }
            return UInt64(UInt32(bitPattern: p.pid)) << 32 | UInt64(p.gpuIndex) << 16 | gi << 8 | ci
        }
        struct Key: Hashable { var pid: Int32; var gpu: Int; var gi: Int?; var ci: Int? }
        var index: [UInt64: Int] = [:]
        var unusual: [Key: Int] = [:]
        index.reserveCapacity(processes.count)
        var result: [GPUProcess] = []
        result.reserveCapacity(processes.count)
        for p in processes {
            let key = packed(p)
            let known = key.map { index[$0] } ?? unusual[Key(pid: p.pid, gpu: p.gpuIndex, gi: p.gpuInstanceId, ci: p.computeInstanceId)]
            if let i = known {
                // Keep the larger figures, should the two lists ever disagree.
                if let m = p.usedGpuMemory { result[i].usedGpuMemory = max(result[i].usedGpuMemory ?? 0, m) }
                if let sm = p.smUtilization { result[i].smUtilization = max(result[i].smUtilization ?? 0, sm) }
                continue
            }
            if let key {
                index[key] = result.count
            } else {
                unusual[Key(pid: p.pid, gpu: p.gpuIndex, gi: p.gpuInstanceId, ci: p.computeInstanceId)] = result.count
            }
            result.append(p)
        }
        return result
    }

    /// Identity and engine facts of one container (no usage yet).
    static func describe(ref: ContainerRef?, entry: ContainerCatalog.Entry?) -> ContainerUsage {
        guard let ref else {
            guard let entry else { return ContainerUsage(id: "host") }
            var u = ContainerUsage(id: entry.summary.id)
            fill(&u, from: entry)
            return u
        }
        var u = ContainerUsage(id: ref.id)
        u.runtime = ref.runtime
        u.podUID = ref.podUID
        if let entry { fill(&u, from: entry) }
        return u
    }

    static func fill(_ u: inout ContainerUsage, from entry: ContainerCatalog.Entry) {
        let s = entry.summary
        let labels = entry.details?.labels.isEmpty == false ? entry.details!.labels : s.labels
        // The engine knows it, so the engine runs it. The cgroup path alone cannot always tell:
        // `pod<uid>/<id>` under kubepods is containerd's layout and cri-dockerd's alike.
        u.runtime = entry.engine
        u.name = s.name ?? entry.details?.name
        u.image = entry.details?.image ?? s.image
        // The list is re-read on every change; details only when a running container is first
        // seen, so the list's state is never the older one.
        u.status = s.state ?? entry.details?.state.status
        u.health = entry.details?.state.healthStatus
        u.startedAt = entry.details?.state.startedAtDate?.timeIntervalSince1970 ?? s.created.map(Double.init)
        u.gpuRequest = GPURequest.describe(entry.details)
        u.composeProject = labels["com.docker.compose.project"]
        u.composeService = labels["com.docker.compose.service"]
        u.podName = labels["io.kubernetes.pod.name"]
        u.podNamespace = labels["io.kubernetes.pod.namespace"]
        u.podContainer = labels["io.kubernetes.container.name"]
        if let uid = labels["io.kubernetes.pod.uid"] { u.podUID = uid }
        u.labels = labels.isEmpty ? nil : labels
    }
}

/// The identity part of each container's usage (names, labels, image, start time,
/// GPU request), kept between refreshes until the catalog changes: building it
/// anew for 200 containers on every refresh was a visible part of a refresh.
public final class ContainerDescriptions {
    private var version = -1
    private var byId: [String: (usage: ContainerUsage, round: UInt64)] = [:]
    private var round: UInt64 = 0
    private var usedThisRound = 0

    public init() {}

    /// Starts a join: forgets everything when the catalog's `version` moved, and what
    /// the last joins no longer used once that is most of the cache (containers the
    /// engine sends no events about, or no engine at all, would otherwise stay forever).
    public func sync(version: Int) {
        if version != self.version {
            self.version = version
            byId.removeAll(keepingCapacity: true)
        } else if byId.count > 2 * usedThisRound + 16 {
            let current = round
            byId = byId.filter { $0.value.round == current }
        }
        round &+= 1
        usedThisRound = 0
    }

    func describe(ref: ContainerRef?, entry: () -> ContainerCatalog.Entry?) -> ContainerUsage {
        let key = ref?.id ?? "host"
        usedThisRound += 1
        if let known = byId[key] {
            byId[key]!.round = round
            return known.usage
        }
        let usage = ContainerJoin.describe(ref: ref, entry: entry())
        byId[key] = (usage, round)
        return usage
    }

    /// Descriptions kept now (for tests).
    public var count: Int { byId.count }
}

/// Each GPU's power draw apportioned to its processes by SM utilisation, or by
/// GPU memory when no process reports SM activity. An estimate, labelled so.
struct PowerShares {
    // Indexed by GPU index (arrays, not dictionaries: asked once per process per refresh).
    private var drawByGPU: [Int?] = []
    private var smTotal: [Int] = []
    private var memoryTotal: [UInt64] = []

    init(processes: [GPUProcess], gpus: [GPU]) {
        let count = max(gpus.map(\.index).max() ?? -1, processes.map(\.gpuIndex).max() ?? -1) + 1
        guard count > 0, count <= 4096 else { return }
        drawByGPU = Array(repeating: nil, count: count)
        smTotal = Array(repeating: 0, count: count)
        memoryTotal = Array(repeating: 0, count: count)
        for g in gpus where g.index >= 0 { if let d = g.powerDraw { drawByGPU[g.index] = d } }
        for p in processes where p.gpuIndex >= 0 {
            smTotal[p.gpuIndex] += p.smUtilization ?? 0
            memoryTotal[p.gpuIndex] &+= p.usedGpuMemory ?? 0
        }
    }

    func share(of p: GPUProcess) -> Int? {
        guard p.gpuIndex >= 0, p.gpuIndex < drawByGPU.count, let draw = drawByGPU[p.gpuIndex] else { return nil }
        let sm = smTotal[p.gpuIndex]
        if sm > 0 {
            return draw * (p.smUtilization ?? 0) / sm
        }
        let mem = memoryTotal[p.gpuIndex]
        guard mem > 0 else { return nil }
        return Int(Double(draw) * Double(p.usedGpuMemory ?? 0) / Double(mem))
    }
}
