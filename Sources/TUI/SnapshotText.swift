// `gpuctop snapshot`: one readable table of GPUs (MIG instances beneath their
// GPU), then the GPU processes with their containers.
import Model
import Support

/// One column of a text table: defined once, used for header and rows.
struct TextColumn<Row> {
    let title: String
    var width: Int
    let alignRight: Bool
    /// A name column: as wide as its widest value, up to this many cells (nil: fixed).
    let grows: Int?
    let value: (Row) -> String

    init(_ title: String, _ width: Int, right: Bool = false, grows: Int? = nil, _ value: @escaping (Row) -> String) {
        self.title = title; self.width = width; self.alignRight = right; self.grows = grows; self.value = value
    }
}

struct TextTable<Row> {
    var columns: [TextColumn<Row>]

    /// The table with its name columns sized to `rows`: a name is not cut while the
    /// line has room, as the dashboard does.
    func sized(to rows: [Row]) -> TextTable<Row> {
        var t = self
        for i in t.columns.indices {
            guard let cap = t.columns[i].grows else { continue }
            let widest = rows.reduce(0) { max($0, TextWidth.of(Sanitize.visible(t.columns[i].value($1)))) }
            t.columns[i].width = max(t.columns[i].width, min(cap, widest))
        }
        return t
    }

    func header() -> String {
        line(columns.map { ($0.title, $0) })
    }

    func row(_ row: Row) -> String {
        line(columns.map { (Sanitize.visible($0.value(row)), $0) })
    }

    private func line(_ cells: [(String, TextColumn<Row>)]) -> String {
        var parts: [String] = []
        for (i, (text, column)) in cells.enumerated() {
            // The last column is not padded, so long commands are not cut.
            if i == cells.count - 1 && !column.alignRight {
                parts.append(text)
            } else {
                parts.append(TextWidth.fit(text, column.width, alignRight: column.alignRight))
            }
        }
        var result = parts.joined(separator: "  ")
        while result.last == " " { result.removeLast() }
        return result
    }
}

public enum SnapshotText {
    public static func render(_ s: Snapshot) -> String {
        var out: [String] = []
        var title = "host \(s.host)  \(Format.localTime(s.time))"
        title += "  driver \(s.driverVersion ?? "n/a")  CUDA \(s.cudaVersion ?? "n/a")"
        if let engines = s.engines {
            title += "  engines: " + (engines.isEmpty ? "none" : engines.joined(separator: ", "))
        }
        out.append(Sanitize.visible(title))
        for d in s.degraded {
            out.append(Sanitize.visible("! \(d.source): \(d.reason)"))
        }
        out.append("")
        if s.gpus.isEmpty {
            out.append("No GPUs.")
        } else {
            out.append(gpuTable.header())
            for gpu in s.gpus {
                out.append(gpuTable.row(gpu))
                for mig in gpu.migDevices {
                    out.append(migTable.row(mig))
                }
            }
        }
        out.append("")
        if !s.containers.isEmpty {
            let table = containerTable(now: s.time).sized(to: s.containers)
            out.append(table.header())
            for c in s.containers { out.append(table.row(c)) }
            out.append("")
        }
        if s.processes.isEmpty {
            out.append("No GPU processes.")
        } else {
            var names: [String: String] = [:]
            for c in s.containers { names[c.id] = containerName(c) }
            let table = processTable(now: s.time, names: names).sized(to: s.processes)
            out.append(table.header())
            for p in s.processes { out.append(table.row(p)) }
        }
        return out.joined(separator: "\n") + "\n"
    }

    static let gpuTable = TextTable<GPU>(columns: [
        TextColumn("GPU", 3, right: true) { "\($0.index)" },
        TextColumn("NAME", 24) { $0.name ?? "n/a" },
        TextColumn("UTIL", 4, right: true) { $0.lost ? "LOST" : Format.percent($0.utilizationGpu) },
        TextColumn("MEMORY USED/TOTAL", 19, right: true) { memory($0.memoryUsed, $0.memoryTotal) },
        TextColumn("TEMP", 4, right: true) { $0.temperature.map { "\($0)C" } ?? "n/a" },
        TextColumn("FAN", 4, right: true) { Format.percent($0.fanSpeed) },
        TextColumn("POWER/LIMIT", 13, right: true) { "\($0.powerDraw.map { Format.watts($0).dropLast(2) } ?? "n/a")/\(Format.watts($0.powerLimitEnforced))" },
        TextColumn("RANGE", 11, right: true) { range($0) },
        TextColumn("SM/MEM MHZ", 10, right: true) { "\($0.clockSM.map(String.init) ?? "n/a")/\($0.clockMemory.map(String.init) ?? "n/a")" },
        TextColumn("P", 3) { $0.performanceState.map { "P\($0)" } ?? "n/a" },
        TextColumn("MIG", 3) { $0.migMode.map { $0.current ? "on" : ($0.pending ? "pnd" : "off") } ?? "n/a" },
        TextColumn("UUID", 40) { $0.uuid ?? "n/a" },
    ])

    static let migTable = TextTable<MIGDevice>(columns: [
        TextColumn("", 3) { _ in "" },
        TextColumn("MIG", 24) { "└ " + migProfile($0) },
        TextColumn("GI/CI", 4, right: true) { "\($0.gpuInstanceId.map(String.init) ?? "?")/\($0.computeInstanceId.map(String.init) ?? "?")" },
        TextColumn("MEMORY", 19, right: true) { memory($0.memoryUsed, $0.memoryTotal) },
        TextColumn("SLICES", 4, right: true) { "\($0.gpuInstanceSlices.map(String.init) ?? "?")" },
        TextColumn("SMS", 4, right: true) { $0.multiprocessors.map { "\($0)sm" } ?? "n/a" },
        TextColumn("UUID", 40) { $0.uuid ?? "n/a" },
    ])

    static func containerTable(now: Double) -> TextTable<ContainerUsage> {
        TextTable(columns: [
            TextColumn("CONTAINER", 24, grows: 48) { containerName($0) },
            // Which engine runs it: on a node with several, the one that can act on it.
            TextColumn("RUNTIME", 7, grows: 10) { $0.runtime?.rawValue ?? "-" },
            TextColumn("SERVICE/POD", 20, grows: 48) { serviceOrPod($0) },
            TextColumn("IMAGE", 20, grows: 64) { $0.image ?? "-" },
            TextColumn("GPUS", 6) { c in
                c.idleAllocation ? "idle" : gpuList(c)
            },
            TextColumn("PROCS", 5, right: true) { "\($0.processCount)" },
            TextColumn("GPU MEM", 9, right: true) { $0.idleAllocation ? "-" : Format.bytes($0.gpuMemory) },
            TextColumn("SM%", 4, right: true) { Format.percent($0.smUtilization) },
            TextColumn("~POWER", 7, right: true) { c in c.estimatedPowerShare.map { "~" + Format.wattsRounded($0) } ?? "n/a" },
            TextColumn("STATUS", 9) { $0.status ?? "-" },
            TextColumn("UPTIME", 7, right: true) { c in c.startedAt == nil ? "-" : Format.uptime(since: c.startedAt, now: now, seconds: true) },
            TextColumn("GPU REQUEST", 0) { c in
                c.idleAllocation ? "\(c.gpuRequest ?? "GPUs") requested, no GPU process" : (c.gpuRequest ?? "-")
            },
        ])
    }

    /// GPU indices, each MIG-using GPU written as its instances ("0,1:2/0").
    public static func gpuList(_ c: ContainerUsage) -> String {
        c.gpus.flatMap { g -> [String] in
            let migs = c.migInstances.filter { $0.hasPrefix("\(g):") }
            return migs.isEmpty ? ["\(g)"] : migs
        }.joined(separator: ",")
    }

    /// The engine's name, else runtime and short id, else "host".
    public static func containerName(_ c: ContainerUsage) -> String {
        if c.isHost { return "host" }
        // Kubernetes names its containers k8s_<container>_<pod>_<namespace>_<uid>_<n>:
        // the container's own name says more, and the pod is in SERVICE/POD.
        if let container = c.podContainer, c.podName != nil { return container }
        if let name = c.name { return name }
        return "\(c.runtime?.rawValue ?? "container"):\(c.shortId)"
    }

    /// Compose "project/service", or Kubernetes "namespace/pod", or the pod uid.
    public static func serviceOrPod(_ c: ContainerUsage) -> String {
        if let service = c.composeService { return c.composeProject.map { "\($0)/\(service)" } ?? service }
        if let pod = c.podName { return c.podNamespace.map { "\($0)/\(pod)" } ?? pod }
        if let uid = c.podUID { return "pod " + uid }
        return "-"
    }

    static func processTable(now: Double, names: [String: String] = [:]) -> TextTable<GPUProcess> {
        TextTable(columns: [
            TextColumn("GPU", 3, right: true) { p in
                if let gi = p.gpuInstanceId { return "\(p.gpuIndex):\(gi)/\(p.computeInstanceId.map(String.init) ?? "?")" }
                return "\(p.gpuIndex)"
            },
            TextColumn("PID", 8, right: true) { "\($0.pid)" },
            TextColumn("CPID", 7, right: true) { $0.info?.namespacePid.map(String.init) ?? "-" },
            TextColumn("TYPE", 4) { $0.kind == .compute ? "C" : ($0.kind == .graphics ? "G" : "MPS") },
            TextColumn("GPU MEM", 9, right: true) { Format.bytes($0.usedGpuMemory) },
            TextColumn("SM%", 4, right: true) { Format.percent($0.smUtilization) },
            TextColumn("CPU%", 5, right: true) { Format.cpuPercent($0.info?.cpuPercent) },
            TextColumn("HOST MEM", 9, right: true) { Format.bytes($0.info?.residentBytes) },
            TextColumn("USER", 8) { $0.info?.user ?? "?" },
            TextColumn("UPTIME", 7, right: true) { p in Format.uptime(since: p.info?.startTime, now: now, seconds: true) },
            TextColumn("CONTAINER", 20, grows: 48) { p in
                guard let info = p.info else { return "?" }
                guard let ref = info.container else { return "host" }
                return names[ref.id] ?? "\(ref.runtime.rawValue):\(ref.shortId)"
            },
            TextColumn("COMMAND", 0) { $0.info?.command ?? "(not visible in /proc)" },
        ])
    }

    static func memory(_ used: UInt64?, _ total: UInt64?) -> String {
        "\(Format.bytes(used))/\(Format.bytes(total))"
    }

    static func range(_ g: GPU) -> String {
        guard let lo = g.powerLimitMin, let hi = g.powerLimitMax else { return "n/a" }
        return "\(Format.watts(lo).dropLast(2))..\(Format.watts(hi))"
    }

    /// "NVIDIA H100 80GB HBM3 MIG 1g.10gb" -> "1g.10gb"; the whole name otherwise.
    static func migProfile(_ d: MIGDevice) -> String {
        guard let name = d.name else { return "slot \(d.index)" }
        if let r = name.firstRange(ofText: "MIG ") { return String(name[r.upperBound...]) }
        return name
    }
}
