// The XID events one sampler has seen, each with who was on its GPU.
//
// An XID often ends the job that met it (13, 31, 43 kill the context; 79 takes
// the GPU away), so the refresh after an event may no longer list its victims.
// Who was there is therefore taken from the refresh before the event, plus the
// processes of the refresh after it that had already started when it arrived.
import Model

struct XIDLog {
    /// Events a snapshot carries (the newest).
    static let kept = 32
    /// A process start time read from /proc is exact to the second at best (btime).
    static let startTolerance = 1.0

    private(set) var recent: [XIDEvent] = []
    private var counts: [Int: [Int: Int]] = [:]   // GPU index -> XID -> count
    private var countLists: [Int: [XIDCount]] = [:]  // the same, as GPU.xidCounts (made when it changes)
    private var last: [Int: Int] = [:]            // GPU index -> latest XID
    private var before: (processes: [GPUProcess], containers: [ContainerUsage]) = ([], [])

    /// Adds the events received since the last refresh to `s`, the refresh just
    /// sampled (processes joined to containers); then remembers `s` as "before".
    /// The GPUs in `watched` get their XID counts even when zero (an empty list:
    /// watched, nothing came), the others none (not watched).
    mutating func record(_ received: [XIDEventWatcher.Received], dropped: Int, watched: Set<Int>, into s: inout Snapshot) {
        for r in received {
            var event = XIDEvent(time: r.time, gpuIndex: r.gpuIndex, code: r.code)
            event.gpuInstanceId = r.gpuInstanceId
            event.computeInstanceId = r.computeInstanceId
            event.processes = occupants(of: r, now: s.processes)
            event.containers = containers(of: event.processes, now: s.containers)
            recent.append(event)
            counts[r.gpuIndex, default: [:]][r.code, default: 0] += 1
            last[r.gpuIndex] = r.code
            countLists[r.gpuIndex] = counts[r.gpuIndex]!.sorted { $0.key < $1.key }.map { XIDCount(code: $0.key, count: $0.value) }
        }
        if recent.count > Self.kept { recent.removeFirst(recent.count - Self.kept) }
        if dropped > 0 {
            s.degraded.append(DegradedSource(source: "xid", reason: "\(dropped) XID events dropped: more than \(XIDEventWatcher.queueLimit) arrived in one refresh"))
        }
        s.xidEvents = recent.isEmpty ? nil : recent
        for i in s.gpus.indices {
            let index = s.gpus[i].index
            if let list = countLists[index] {
                s.gpus[i].xidCounts = list
                s.gpus[i].lastXID = last[index]
            } else if watched.contains(index) {
                s.gpus[i].xidCounts = []
            }
        }
        before = (s.processes, s.containers)
    }

    /// The processes on the event's GPU (its MIG instance, when the driver named one).
    private func occupants(of r: XIDEventWatcher.Received, now: [GPUProcess]) -> [GPUProcess] {
        func on(_ p: GPUProcess) -> Bool {
            p.gpuIndex == r.gpuIndex
                && (r.gpuInstanceId == nil || p.gpuInstanceId == r.gpuInstanceId)
                && (r.computeInstanceId == nil || p.computeInstanceId == r.computeInstanceId)
        }
        var found = before.processes.filter(on)
        for p in now where on(p) && !found.contains(where: { $0.pid == p.pid && $0.kind == p.kind }) {
            // Seen only after the event: it was there if it had started by then (unknown: say so).
            if let start = p.info?.startTime, start > r.time + Self.startTolerance { continue }
            found.append(p)
        }
        return found
    }

    /// The containers of `processes` as the latest refresh (else the one before) knew
    /// them, labels left out: an event keeps names, not every annotation.
    private func containers(of processes: [GPUProcess], now: [ContainerUsage]) -> [ContainerUsage] {
        var result: [ContainerUsage] = []
        for p in processes {
            let id = p.info?.container?.id ?? "host"
            guard !result.contains(where: { $0.id == id }) else { continue }
            var c = now.first { $0.id == id } ?? before.containers.first { $0.id == id } ?? {
                var bare = ContainerUsage(id: id)
                bare.runtime = p.info?.container?.runtime
                bare.podUID = p.info?.container?.podUID
                return bare
            }()
            c.labels = nil
            result.append(c)
        }
        return result
    }
}
