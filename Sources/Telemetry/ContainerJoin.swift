// Joins GPU processes to containers: process -> cgroup container reference ->
// the engine's container, with per-container totals and an estimated power share.
// A pure function of its inputs, so it is tested without a daemon.
import FoundationEssentials
import Model

public enum ContainerJoin {
    /// With one Docker-API catalog (tests, and callers that have no other engine).
    public static func join(processes: [GPUProcess], gpus: [GPU],
                            lookup: (String) -> ContainerCatalog.Entry?,
                            gpuRequesters: [ContainerCatalog.Entry],
                            descriptions: ContainerDescriptions? = nil) -> [ContainerUsage] {
        let idle = gpuRequesters.sorted { ($0.summary.name ?? "") < ($1.summary.name ?? "") }
            .map { describe(ref: nil, entry: $0) }
        return join(processes: processes, gpus: gpus, identify: { ref in
            describe(ref: ref, entry: lookup(ref.id))
        }, idleAllocations: idle, descriptions: descriptions)
    }

    /// - identify: the identity of a process's container (ContainerEngines.describe).
    /// - idleAllocations: running containers that hold GPUs, described; those with no GPU
    ///   process here are appended, marked idle, in the order given.
    public static func join(processes: [GPUProcess], gpus: [GPU],
                            identify: (ContainerRef) -> ContainerUsage,
                            idleAllocations: [ContainerUsage],
                            descriptions: ContainerDescriptions? = nil) -> [ContainerUsage] {
        // Usages are mutated in place (an index per key): copying one out of a dictionary
        // and back made every append copy its arrays, a cost that grew with the processes.
        var result: [ContainerUsage] = []
        var indexByKey: [String: Int] = [:]
        var pidsSeen: [Set<Int32>] = []
        let processes = ProcessContexts.merged(processes)
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
                    result.append(descriptions.describe(ref: ref) { ref.map(identify) ?? ContainerUsage(id: "host") })
                } else {
                    result.append(ref.map(identify) ?? ContainerUsage(id: "host"))
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
        for var usage in idleAllocations where indexByKey[usage.id] == nil {
            usage.idleAllocation = true
            indexByKey[usage.id] = result.count
            result.append(usage)
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
        describe(ref: ref) { ContainerJoin.describe(ref: ref, entry: entry()) }
    }

    func describe(ref: ContainerRef?, make: () -> ContainerUsage) -> ContainerUsage {
        let key = ref?.id ?? "host"
        usedThisRound += 1
        if let known = byId[key] {
            byId[key]!.round = round
            return known.usage
        }
        let usage = make()
        byId[key] = (usage, round)
        return usage
    }

    /// Descriptions kept now (for tests).
    public var count: Int { byId.count }
}
