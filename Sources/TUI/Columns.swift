// The container table, defined once as htop does: each column's title, width,
// sort key and formatter live in one table entry.
import Model
import Support

public enum ColumnID: String, CaseIterable, Sendable {
    case container, service, image, gpu, gpuMemory, sm, power, cpu, hostMemory, pid, cpid, uptime, command
    /// Shown first, and only when several hosts are watched (`--host`).
    case host
}

public enum RowID: Hashable, Sendable {
    case container(String)
    case process(pid: Int32, gpu: Int)
    /// Several hosts: ids, PIDs and GPU indices collide across hosts.
    case hostContainer(host: String, id: String)
    case hostProcess(host: String, pid: Int32, gpu: Int)
}

/// One table row: a container (grouped view) or one process on one GPU.
/// Indirect: the payloads are large structs, and rows are copied while sorting and
/// slicing; boxed, a copy is one reference count instead of one per field.
public indirect enum TableRow: Sendable {
    case container(ContainerUsage, processes: [GPUProcess])
    case process(GPUProcess, container: ContainerUsage?, indented: Bool)

    public var id: RowID {
        switch self {
        case .container(let c, _):
            if let h = c.host { return .hostContainer(host: h, id: c.id) }
            return .container(c.id)
        case .process(let p, _, _):
            if let h = p.host { return .hostProcess(host: h, pid: p.pid, gpu: p.gpuIndex) }
            return .process(pid: p.pid, gpu: p.gpuIndex)
        }
    }

    /// The host of the row, in a several-host dashboard.
    public var host: String? {
        switch self {
        case .container(let c, _): return c.host
        case .process(let p, _, _): return p.host
        }
    }

    public var containerId: String? {
        switch self {
        case .container(let c, _): return c.id
        case .process(let p, let c, _): return c?.id ?? p.info?.container?.id ?? "host"
        }
    }
}

enum SortKey: Comparable {
    case number(Double)
    case text(String)

    static func < (a: SortKey, b: SortKey) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)): return x < y
        case (.text(let x), .text(let y)): return x < y
        case (.number, .text): return true
        case (.text, .number): return false
        }
    }
}

struct Column {
    let id: ColumnID
    let title: String
    var width: Int
    let alignRight: Bool
    /// Sorted largest first by default.
    let numeric: Bool
    /// Columns with higher numbers are dropped first on narrow terminals.
    let dropOrder: Int
    let text: (TableRow, Double, Glyphs) -> String
    let sortKey: (TableRow) -> SortKey
}

enum Columns {
    static func column(_ id: ColumnID) -> Column { all.first { $0.id == id }! }

    static let all: [Column] = [
        Column(id: .host, title: "HOST", width: 12, alignRight: false, numeric: false, dropOrder: 0,
               text: { row, _, _ in
                   if case .process(_, _, true) = row { return "" }
                   return row.host ?? ""
               },
               sortKey: { row in .text(row.host ?? "") }),
        Column(id: .container, title: "CONTAINER", width: 22, alignRight: false, numeric: false, dropOrder: 0,
               text: { row, _, g in
                   switch row {
                   case .container(let c, _): return SnapshotText.containerName(c)
                   case .process(let p, let c, let indented):
                       let name = indented ? " \(g.branch) \(p.kind == .compute ? "" : p.kind.rawValue + " ")pid \(p.pid)"
                                           : (c.map(SnapshotText.containerName) ?? "host")
                       return name
                   }
               },
               sortKey: { row in
                   switch row {
                   case .container(let c, _): return .text(SnapshotText.containerName(c).lowercased())
                   case .process(_, let c, _): return .text(c.map(SnapshotText.containerName)?.lowercased() ?? "host")
                   }
               }),
        Column(id: .service, title: "SERVICE/POD", width: 16, alignRight: false, numeric: false, dropOrder: 3,
               text: { row, _, _ in
                   if case .container(let c, _) = row { return SnapshotText.serviceOrPod(c) }
                   if case .process(_, let c?, false) = row { return SnapshotText.serviceOrPod(c) }
                   return ""
               },
               sortKey: { row in .text(container(row).map(SnapshotText.serviceOrPod) ?? "") }),
        Column(id: .image, title: "IMAGE", width: 16, alignRight: false, numeric: false, dropOrder: 6,
               text: { row, _, _ in
                   if case .container(let c, _) = row { return c.image ?? "" }
                   if case .process(_, let c?, false) = row { return c.image ?? "" }
                   return ""
               },
               sortKey: { row in .text(container(row)?.image ?? "") }),
        Column(id: .gpu, title: "GPU", width: 5, alignRight: false, numeric: false, dropOrder: 1,
               text: { row, _, _ in
                   switch row {
                   case .container(let c, _):
                       if c.idleAllocation { return "idle" }
                       return SnapshotText.gpuList(c)
                   case .process(let p, _, _):
                       if let gi = p.gpuInstanceId { return "\(p.gpuIndex):\(gi)/\(p.computeInstanceId.map(String.init) ?? "?")" }
                       return "\(p.gpuIndex)"
                   }
               },
               sortKey: { row in
                   switch row {
                   case .container(let c, _): return .number(Double(c.gpus.first ?? -1))
                   case .process(let p, _, _): return .number(Double(p.gpuIndex))
                   }
               }),
        Column(id: .gpuMemory, title: "GPU MEM", width: 9, alignRight: true, numeric: true, dropOrder: 0,
               text: { row, _, _ in
                   switch row {
                   case .container(let c, _): return c.idleAllocation ? "-" : Format.bytes(c.gpuMemory)
                   case .process(let p, _, _): return Format.bytes(p.usedGpuMemory)
                   }
               },
               sortKey: { row in
                   switch row {
                   case .container(let c, _): return .number(Double(c.gpuMemory))
                   case .process(let p, _, _): return .number(Double(p.usedGpuMemory ?? 0))
                   }
               }),
        Column(id: .sm, title: "SM%", width: 4, alignRight: true, numeric: true, dropOrder: 1,
               text: { row, _, _ in
                   switch row {
                   case .container(let c, _): return c.idleAllocation ? "-" : Format.percent(c.smUtilization)
                   case .process(let p, _, _): return Format.percent(p.smUtilization)
                   }
               },
               sortKey: { row in
                   switch row {
                   case .container(let c, _): return .number(Double(c.smUtilization ?? -1))
                   case .process(let p, _, _): return .number(Double(p.smUtilization ?? -1))
                   }
               }),
        Column(id: .power, title: "~POWER", width: 7, alignRight: true, numeric: true, dropOrder: 3,
               text: { row, _, _ in
                   if case .container(let c, _) = row { return c.estimatedPowerShare.map { "~" + Format.wattsRounded($0) } ?? "" }
                   return ""
               },
               sortKey: { row in .number(Double(container(row)?.estimatedPowerShare ?? -1)) }),
        Column(id: .cpu, title: "CPU%", width: 5, alignRight: true, numeric: true, dropOrder: 4,
               text: { row, _, _ in isIdle(row) ? "" : Format.cpuPercent(cpu(row)) },
               sortKey: { row in .number(cpu(row) ?? -1) }),
        Column(id: .hostMemory, title: "HOST MEM", width: 9, alignRight: true, numeric: true, dropOrder: 5,
               text: { row, _, _ in isIdle(row) ? "" : Format.bytes(hostMemory(row)) },
               sortKey: { row in .number(Double(hostMemory(row) ?? 0)) }),
        // 7 digits: Linux PIDs stop at 4194304 (PID_MAX_LIMIT); a larger one is cut visibly.
        Column(id: .pid, title: "PID", width: 7, alignRight: true, numeric: true, dropOrder: 2,
               text: { row, _, _ in
                   if case .process(let p, _, _) = row { return "\(p.pid)" }
                   return ""
               },
               sortKey: { row in
                   if case .process(let p, _, _) = row { return .number(Double(p.pid)) }
                   if case .container(_, let ps) = row { return .number(Double(ps.first?.pid ?? 0)) }
                   return .number(0)
               }),
        Column(id: .cpid, title: "CPID", width: 6, alignRight: true, numeric: true, dropOrder: 7,
               text: { row, _, _ in
                   if case .process(let p, _, _) = row { return p.info?.namespacePid.map(String.init) ?? "-" }
                   return ""
               },
               sortKey: { row in
                   if case .process(let p, _, _) = row { return .number(Double(p.info?.namespacePid ?? 0)) }
                   return .number(0)
               }),
        Column(id: .uptime, title: "UPTIME", width: 7, alignRight: true, numeric: true, dropOrder: 5,
               text: { row, now, _ in
                   guard let start = startTime(row) else { return "" }
                   return Format.uptime(since: start, now: now)
               },
               sortKey: { row in .number(-(startTime(row) ?? 0)) }),
        Column(id: .command, title: "COMMAND", width: 0, alignRight: false, numeric: false, dropOrder: 2,
               text: { row, _, _ in
                   switch row {
                   case .container(let c, let ps):
                       if c.idleAllocation { return "\(c.gpuRequest ?? "GPUs") requested, no GPU process" }
                       let n = Set(ps.map(\.pid)).count
                       return "\(n) GPU process\(n == 1 ? "" : "es")" + (c.gpuRequest.map { ", requested \($0)" } ?? "")
                   case .process(let p, _, _): return p.info?.command ?? "(not visible in /proc)"
                   }
               },
               sortKey: { row in
                   if case .process(let p, _, _) = row { return .text(p.info?.command ?? "") }
                   return .text("")
               }),
    ]

    /// An idle GPU allocation has no GPU process to take host figures from.
    static func isIdle(_ row: TableRow) -> Bool {
        if case .container(let c, _) = row { return c.idleAllocation }
        return false
    }

    static func container(_ row: TableRow) -> ContainerUsage? {
        switch row {
        case .container(let c, _): return c
        case .process(_, let c, _): return c
        }
    }

    /// Each process counted once even when it uses several GPUs.
    static func uniqueProcesses(_ ps: [GPUProcess]) -> [GPUProcess] {
        var seen = Set<Int32>()
        return ps.filter { seen.insert($0.pid).inserted }
    }

    static func cpu(_ row: TableRow) -> Double? {
        switch row {
        case .container(_, let ps):
            let values = uniqueProcesses(ps).compactMap { $0.info?.cpuPercent }
            return values.isEmpty ? nil : values.reduce(0, +)
        case .process(let p, _, _): return p.info?.cpuPercent
        }
    }

    static func hostMemory(_ row: TableRow) -> UInt64? {
        switch row {
        case .container(_, let ps):
            let values = uniqueProcesses(ps).compactMap { $0.info?.residentBytes }
            return values.isEmpty ? nil : Format.saturatingSum(values)
        case .process(let p, _, _): return p.info?.residentBytes
        }
    }

    static func startTime(_ row: TableRow) -> Double? {
        switch row {
        // 0 is a decoder's "unknown" (SaneRange.requiredTime): it is no start time.
        case .container(let c, let ps): return SaneRange.knownTime(c.startedAt) ?? ps.compactMap { SaneRange.knownTime($0.info?.startTime) }.min()
        case .process(let p, _, _): return SaneRange.knownTime(p.info?.startTime)
        }
    }

    /// The name columns: they shrink to their widest text (never below the title and
    /// its sort arrow) and, on a wide terminal, grow to it up to their cap.
    static let sizedToContent: [(id: ColumnID, cap: Int)] = [(.container, 40), (.host, 24), (.service, 40), (.image, 48)]

    /// The fewest cells COMMAND keeps before the name columns take more than their
    /// default width: the command is what tells one process from another.
    static let commandFloor = 40

    /// The widest text of each name column over `rows` (all of them, not only those
    /// on screen, so widths do not change as the selection scrolls). Each container's
    /// names are measured once, and a process row beneath its container once per kind and
    /// PID length: a thousand processes cost what their fifty containers cost.
    static func contentWidths(_ rows: [TableRow], now: Double, glyphs: Glyphs, hosts: Bool) -> [ColumnID: Int] {
        guard !rows.isEmpty else { return [:] }
        let measured = sizedToContent.filter { hosts || $0.id != .host }.map { column($0.id) }
        var widths: [ColumnID: Int] = [:]
        func measure(_ row: TableRow, only: ColumnID? = nil) {
            for c in measured where only == nil || c.id == only {
                // Measured as drawn: an escape shows as "^[", a bidi control as "<U+202E>".
                widths[c.id] = max(widths[c.id] ?? 0, TextWidth.of(Sanitize.visible(c.text(row, now, glyphs))))
            }
        }
        struct ContainerKey: Hashable { let host: String?; let id: String? }
        struct ChildShape: Hashable { let kind: ProcessKind; let digits: Int }
        var containersSeen = Set<ContainerKey>()
        var childShapes = Set<ChildShape>()
        for row in rows {
            switch row {
            case .container:
                measure(row)
            case .process(let p, let c, let indented):
                if indented {
                    // " └─ pid 1234": only its kind and the PID's length change its width.
                    var digits = p.pid < 0 ? 2 : 1
                    var n = p.pid.magnitude
                    while n >= 10 { n /= 10; digits += 1 }
                    if childShapes.insert(ChildShape(kind: p.kind, digits: digits)).inserted { measure(row, only: .container) }
                } else if containersSeen.insert(ContainerKey(host: p.host, id: c?.id)).inserted {
                    measure(row)
                }
            }
        }
        return widths
    }

    /// The columns that fit in `width` cells, COMMAND taking what is left. `content`
    /// (from `contentWidths`) sizes the name columns to what they hold; without it they
    /// keep their default widths.
    static func fitting(width: Int, hosts: Bool = false, content: [ColumnID: Int] = [:]) -> [Column] {
        var chosen = hosts ? all : all.filter { $0.id != .host }
        var wants: [ColumnID: Int] = [:]
        for (id, cap) in sizedToContent {
            guard let widest = content[id], let i = chosen.firstIndex(where: { $0.id == id }) else { continue }
            let least = TextWidth.of(chosen[i].title) + 1
            let wanted = max(least, min(cap, widest))
            chosen[i].width = min(chosen[i].width, wanted)
            wants[id] = wanted
        }
        func needed(_ cols: [Column]) -> Int {
            cols.reduce(0) { $0 + ($1.id == .command ? 12 : $1.width) + 1 }
        }
        while needed(chosen) > width, let drop = chosen.filter({ $0.dropOrder > 0 }).max(by: { $0.dropOrder < $1.dropOrder }) {
            chosen.removeAll { $0.id == drop.id }
        }
        // Room beyond what COMMAND keeps goes to the names that are cut, a cell at a
        // time to each in turn, so none of them takes it all.
        var spare = width - needed(chosen) - (commandFloor - 12)
        var growing = true
        while spare > 0 && growing {
            growing = false
            for (id, _) in sizedToContent where spare > 0 {
                guard let i = chosen.firstIndex(where: { $0.id == id }), chosen[i].width < wants[id] ?? 0 else { continue }
                chosen[i].width += 1
                spare -= 1
                growing = true
            }
        }
        return chosen
    }

    /// A command line fitted to `width`, shortened first where it says least: the
    /// directory of the program ("/opt/torch/.venv/bin/python3 /work/load.py" becomes
    /// "…/python3 /work/load.py" or "python3 /work/load.py"); what is still too long is
    /// cut at its end by the caller. In ASCII the mark is left out: "~/" or "../" would
    /// read as a path.
    static func command(_ text: String, width: Int, ascii: Bool) -> String {
        guard TextWidth.of(text) > width else { return text }
        let program = text.prefix { $0 != " " }
        guard let slash = program.lastIndex(of: "/"), program.index(after: slash) != program.endIndex else { return text }
        let rest = String(text[text.index(after: slash)...])
        let marked = "…/" + rest
        return !ascii && TextWidth.of(marked) <= width ? marked : rest
    }
}

/// Builds the rows the table shows: filtered, sorted, grouped or flat.
enum TableRows {
    static func build(_ m: DashboardModel) -> [TableRow] {
        guard let s = m.snapshot else { return [] }
        let column = Columns.column(m.sortColumn)
        // Keyed by host as well: every host has its own "host" group, and ids may repeat.
        func key(_ id: String, _ host: String?) -> String { host.map { "\($0) \(id)" } ?? id }
        var byContainer: [String: [GPUProcess]] = [:]
        for p in s.processes { byContainer[key(p.info?.container?.id ?? "host", p.host), default: []].append(p) }
        var containersById: [String: ContainerUsage] = [:]
        for c in s.containers { containersById[key(c.id, c.host)] = c }
        let needle = m.filter.lowercased()

        func ordered(_ rows: [TableRow]) -> [TableRow] {
            // Stable: ties keep the snapshot's order. Sorts positions, not rows: moving
            // rows (large enums) around cost more than comparing their keys.
            let keys = rows.map(column.sortKey)
            let order = rows.indices.sorted { a, b in
                if keys[a] == keys[b] { return a < b }
                return m.sortDescending ? keys[b] < keys[a] : keys[a] < keys[b]
            }
            return order.map { rows[$0] }
        }

        if !m.grouped {
            let rows = s.processes.compactMap { p -> TableRow? in
                let c = containersById[key(p.info?.container?.id ?? "host", p.host)]
                guard needle.isEmpty || matches(needle, process: p, container: c) else { return nil }
                return .process(p, container: c, indented: false)
            }
            return ordered(rows)
        }
        var groups: [TableRow] = []
        for c in s.containers {
            let ps = byContainer[key(c.id, c.host)] ?? []
            let containerMatches = needle.isEmpty || matches(needle, container: c)
            let matching = containerMatches ? ps : ps.filter { matches(needle, process: $0, container: c) }
            guard containerMatches || !matching.isEmpty else { continue }
            groups.append(.container(c, processes: ps))
        }
        var rows: [TableRow] = []
        for group in ordered(groups) {
            rows.append(group)
            guard case .container(_, let ps) = group else { continue }
            // A child row needs no copy of its container: its parent row is right above it,
            // and `containerId` names it (copying it into 1,000 rows was a visible cost).
            let children = ps.map { TableRow.process($0, container: nil, indented: true) }
            rows.append(contentsOf: ordered(children))
        }
        return rows
    }

    static func matches(_ needle: String, container c: ContainerUsage) -> Bool {
        let fields = [SnapshotText.containerName(c), SnapshotText.serviceOrPod(c), c.image ?? "", c.id, c.host ?? ""]
        return fields.contains { $0.lowercased().includesAsRead(needle) }
    }

    static func matches(_ needle: String, process p: GPUProcess, container c: ContainerUsage?) -> Bool {
        if let c, matches(needle, container: c) { return true }
        let fields = [p.info?.command ?? "", p.info?.user ?? "", "\(p.pid)"]
        return fields.contains { $0.lowercased().includesAsRead(needle) }
    }
}
