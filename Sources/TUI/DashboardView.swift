// Renders the dashboard state into a Frame: header, GPU panels (with history and
// MIG layout), the container table, and a footer; or the help or detail screens.
import Model
import Support

/// How the screen is divided; shared by the view and by selection paging.
struct DashboardLayout {
    static let minWidth = 40
    static let minHeight = 10

    let tooSmall: Bool
    /// One line per GPU, no history lines, fewer columns.
    let compact: Bool
    let headerLines: Int
    /// The XID banner under the header (main screen only).
    let alertLines: Int
    let gpuLines: Int
    let tableRows: Int

    init(model m: DashboardModel) {
        tooSmall = m.width < Self.minWidth || m.height < Self.minHeight
        compact = m.width < 100 || m.height < 24
        let degraded = min(2, DashboardView.headerWarnings(m.snapshot).count)
        headerLines = 1 + degraded
        alertLines = m.screen == .main ? HealthView.bannerLines(m).count : 0
        var wanted = 0
        for g in m.snapshot?.gpus ?? [] {
            wanted += compact ? 1 : 2
            if !compact { wanted += g.migDevices.count }
        }
        if m.snapshot?.gpus.isEmpty ?? true { wanted = 1 }
        // The table keeps at least a few rows; GPU panels give way first.
        let available = m.height - headerLines - alertLines - 1 /* footer */ - 1 /* table header */ - 1 /* gap */
        gpuLines = max(0, min(wanted, available - min(4, max(0, available - 1))))
        tableRows = max(0, available - gpuLines)
    }
}

public enum DashboardView {
    public static func render(_ m: DashboardModel) -> Frame {
        var f = Frame(width: m.width, height: m.height, ascii: m.glyphs.ascii)
        let layout = DashboardLayout(model: m)
        if layout.tooSmall {
            renderTooSmall(&f, m)
            return f
        }
        var y = header(&f, m, layout)
        // Built once a frame: the body shows it and the footer says where it is.
        let page = page(m)
        switch m.screen {
        case .help, .detail:
            if let page {
                f.paste(page.frame, rows: page.scroll..<min(page.used, page.scroll + page.visible), at: y)
            }
        case .main:
            for line in HealthView.bannerLines(m).prefix(layout.alertLines) {
                f.putFitted(0, y, line, width: m.width, .bad)
                y += 1
            }
            y = gpuPanels(&f, m, layout, top: y)
            y += 1
            table(&f, m, layout, top: y)
        }
        footer(&f, m, page: page)
        if let dialog = m.dialog { overlay(&f, m, dialog) }
        return f
    }

    /// A box in the middle of the screen over whatever is beneath.
    static func overlay(_ f: inout Frame, _ m: DashboardModel, _ dialog: Dialog) {
        var lines: [(String, Style)] = []
        switch dialog {
        case .confirm(_, let text):
            lines = text.enumerated().map { ($0.element, $0.offset == 0 ? .title : .normal) }
            lines.append(("", .normal))
            lines.append(("y: yes    any other key: no (the default)", .key))
        case .power(let d):
            let g = m.snapshot?.gpus.first { $0.index == d.gpu && $0.host == d.host }
            lines.append(("Power limit for \(d.allGPUs ? "ALL GPUs" : "GPU \(d.gpu) (\(g?.name ?? "n/a"))")" + (d.host.map { " on host \($0)" } ?? ""), .title))
            if let g {
                lines.append(("draw \(Format.watts(g.powerDraw))   limit \(Format.watts(g.powerLimitEnforced ?? g.powerLimit))   default \(Format.watts(g.powerLimitDefault))   allowed \(g.powerLimitMin.map { "\(Format.watts($0).dropLast(2))" } ?? "?")..\(Format.watts(g.powerLimitMax))", .normal))
            }
            lines.append(("new limit (watts, or % of the default): \(d.input)\(m.glyphs.ascii ? "_" : "▏")", .accent))
            if let e = d.error { lines.append((e, .bad)) }
            lines.append(("enter apply   d restore default   a all GPUs: \(d.allGPUs ? "on" : "off")   tab next GPU   esc cancel", .key))
            lines.append(("A limit does not survive a driver reload or a reboot.", .dim))
        }
        let width = min(m.width - 2, max(40, lines.map { TextWidth.of($0.0) }.max() ?? 40) + 4)
        let height = lines.count + 2
        let x0 = max(0, (m.width - width) / 2), y0 = max(0, (m.height - height) / 2)
        let bar = String(repeating: m.glyphs.horizontal, count: max(0, width - 2))
        let side = m.glyphs.ascii ? "|" : "│"
        f.put(x0, y0, (m.glyphs.ascii ? "+" : "┌") + bar + (m.glyphs.ascii ? "+" : "┐"), .accent)
        for (i, (text, style)) in lines.enumerated() {
            let y = y0 + 1 + i
            f.put(x0, y, side, .accent)
            f.putFitted(x0 + 1, y, " " + text, width: width - 2, style)
            f.put(x0 + width - 1, y, side, .accent)
        }
        f.put(x0, y0 + height - 1, (m.glyphs.ascii ? "+" : "└") + bar + (m.glyphs.ascii ? "+" : "┘"), .accent)
    }

    static func renderTooSmall(_ f: inout Frame, _ m: DashboardModel) {
        let lines = ["terminal too small", "\(m.width)x\(m.height), need \(DashboardLayout.minWidth)x\(DashboardLayout.minHeight)", "q quits"]
        for (i, line) in lines.enumerated() {
            let y = m.height / 2 - 1 + i
            f.put(max(0, (m.width - line.count) / 2), y, line, i == 0 ? .warn : .normal)
        }
    }

    // MARK: Header and footer

    static func header(_ f: inout Frame, _ m: DashboardModel, _ layout: DashboardLayout) -> Int {
        let s = m.snapshot
        var x = f.put(0, 0, "gpuctop", .title)
        if let s {
            x = f.put(x + 2, 0, s.host, .accent)
            if !layout.compact {
                x = f.put(x + 2, 0, "driver \(s.driverVersion ?? "n/a")  CUDA \(s.cudaVersion ?? "n/a")", .dim)
            }
            // Live: to the minute (a clock ticking every second costs terminal bytes and says
            // nothing "data N s old" does not). A replay shows the recorded second.
            x = f.put(x + 2, 0, Format.localTime(s.time, withSeconds: m.replay != nil))
        } else {
            x = f.put(x + 2, 0, "waiting for the first sample" + m.glyphs.ellipsis, .dim)
        }
        if let r = m.replay {
            x = f.put(x + 2, 0, "REPLAY", .warn)
            x = f.put(x + 1, 0, "\(r.index + 1)/\(r.count)  \(Format.speed(r.speed))\(r.paused ? "  paused" : "")", .warn)
            if r.index + 1 == r.count, let n = r.truncatedAfter {
                // Said once and short; the reason is on stderr when the replay ends.
                let room = m.width - (x + 2)
                let notes = ["recording truncated after record \(n)", "recording truncated", "truncated"]
                x = f.put(x + 2, 0, notes.first { TextWidth.of($0) <= room } ?? "truncated", .bad)
            }
        } else {
            x = f.put(x + 2, 0, "every \(Format.seconds(m.interval))", .dim)
        }
        if !layout.compact && m.replay == nil {
            x = f.put(x + 2, 0, m.readOnly ? "read-only" : "actions on", m.readOnly ? .dim : .accent)
        }
        if let age = m.staleSeconds {
            x = f.put(x + 2, 0, "data \(Format.safeInt(age).map(String.init) ?? "?")s old", .warn)
        }
        // Last, and only whole: on a narrow terminal it is what goes first (a cut list would
        // name engines that are not there, or leave "engines:" hanging).
        if !layout.compact, let engines = s?.engines, !engines.isEmpty {
            let text = Sanitize.visible("engines: " + engines.joined(separator: ", "))
            if x + 2 + TextWidth.of(text) <= m.width { f.put(x + 2, 0, text, .dim) }
        }
        var y = 1
        for d in headerWarnings(s).prefix(layout.headerLines - 1) {
            f.put(0, y, warning("! \(d.source): ", d.reason, width: m.width, ascii: m.glyphs.ascii), .bad)
            y += 1
        }
        return y
    }

    /// The sources the header names. NVML's reason is said once: on the "No GPUs"
    /// line where the GPUs would be, when there are none.
    static func headerWarnings(_ s: Snapshot?) -> [DegradedSource] {
        guard let s else { return [] }
        return s.gpus.isEmpty ? s.degraded.filter { $0.source != "nvml" } : s.degraded
    }

    /// `prefix` and `reason` in `width` cells. A reason ending in a hint in parentheses
    /// that names an option ("(... set --docker-host or DOCKER_HOST)") keeps the hint
    /// whole and is shortened before it: the hint is what the reader can do. Anything
    /// else is cut at its end, visibly.
    static func warning(_ prefix: String, _ reason: String, width: Int, ascii: Bool) -> String {
        // Shown as it will be drawn (escapes visible), so the widths below are the real ones.
        let prefix = Sanitize.visible(prefix), reason = Sanitize.visible(reason)
        let whole = prefix + reason
        guard TextWidth.of(whole) > width else { return whole }
        if reason.hasSuffix(")"), let open = reason.lastRange(ofText: " (") {
            let hint = String(reason[open.lowerBound...])
            let room = width - TextWidth.of(prefix) - TextWidth.of(hint)
            if hint.includes("--") && room >= 10 {
                return prefix + TextWidth.fit(String(reason[..<open.lowerBound]), room, ascii: ascii) + hint
            }
        }
        return TextWidth.fit(whole, width, ascii: ascii)
    }

    static func footer(_ f: inout Frame, _ m: DashboardModel, page: Page?) {
        let y = m.height - 1
        if m.editingFilter {
            let x = f.put(0, y, "filter: ", .key)
            f.put(x, y, m.filter + (m.glyphs.ascii ? "_" : "▏"))
            return
        }
        if let status = m.status {
            f.put(0, y, status, .accent)
            return
        }
        var x = 0
        if !m.filter.isEmpty { x = f.put(0, y, "filter \"\(m.filter)\"  ", .warn) }
        var hints: [(String, String)] = m.screen == .main ? mainHints(m) : [("q/esc", "back")]
        if let p = page, p.used > p.visible {
            let last = min(p.used, p.scroll + p.visible)
            hints.append((m.glyphs.ascii ? "up/down pgup/pgdn" : "↑↓ pgup pgdn", "lines \(p.scroll + 1)-\(last) of \(p.used)\(last < p.used ? ", more below" : "")"))
        }
        for (key, what) in hints {
            guard x + TextWidth.of(key) + 1 + TextWidth.of(what) <= m.width else { break }
            x = f.put(x, y, key, .key)
            x = f.put(x + 1, y, m.glyphs.ascii ? what.replacingText("↓", with: "v").replacingText("↑", with: "^") : what, .dim)
            x += 2
        }
    }

    /// The footer's hints for the main screen: from the key table, with the state
    /// that some of them name (the sort column, the grouping, paused or playing).
    static func mainHints(_ m: DashboardModel) -> [(String, String)] {
        KeyBindings.all.compactMap { b in
            guard let hint = b.hint, KeyBindings.isActive(b, replaying: m.replay != nil, actionsEnabled: m.actionsEnabled) else {
                return nil
            }
            switch b.command {
            case .replay(.togglePause): return (hint.keys, m.replay?.paused == true ? "play" : "pause")
            case .sortNext: return (hint.keys, "sort: \(Columns.column(m.sortColumn).title)\(m.sortDescending ? "↓" : "↑")")
            case .toggleGrouping: return (hint.keys, m.grouped ? "flat" : "grouped")
            case .acknowledgeXID: return m.unacknowledgedXIDs.isEmpty ? nil : hint
            default: return hint
            }
        }
    }

    // MARK: GPU panels

    static func gpuPanels(_ f: inout Frame, _ m: DashboardModel, _ layout: DashboardLayout, top: Int) -> Int {
        guard let s = m.snapshot else { return top }
        var y = top
        let end = top + layout.gpuLines
        if s.gpus.isEmpty, y < end {
            let why = s.degraded.first { $0.source == "nvml" }?.reason ?? "NVML reports no GPU"
            f.put(0, y, warning("No GPUs: ", why, width: m.width, ascii: m.glyphs.ascii), .warn)
            return y + 1
        }
        // Room for the health words at the lines' end, the same for every GPU so the bars line up.
        let reserve = HealthView.reserve(s.gpus, unacknowledged: m.unacknowledgedXIDs)
        // GPM figures, when any GPU has them, take room on every line so the bars line up.
        let gpm = ActivityText.anyShown(s.gpus)
        for g in s.gpus {
            guard y < end else { break }
            gpuLine(&f, m, g, y: y, compact: layout.compact, reserve: reserve, gpm: gpm)
            y += 1
            if layout.compact || g.lost { continue }
            guard y < end else { break }
            gpuDetailLine(&f, m, g, y: y, reserve: reserve, gpm: gpm)
            y += 1
            for mig in g.migDevices {
                guard y < end else { break }
                migLine(&f, m, g, mig, s, y: y)
                y += 1
            }
        }
        return y
    }

    static func fractionStyle(_ f: Double?) -> Style {
        guard let f else { return .dim }
        return f >= 0.9 ? .bad : (f >= 0.6 ? .warn : .good)
    }

    @discardableResult
    static func bar(_ f: inout Frame, _ m: DashboardModel, x: Int, y: Int, width: Int, fraction: Double?) -> Int {
        let (used, free) = m.glyphs.bar(fraction, width: width)
        let x1 = f.put(x, y, used, fractionStyle(fraction))
        return f.put(x1, y, free, .barFree)
    }

    /// Where the three bars of a full-width GPU line sit; the history line below
    /// puts each sparkline under its own bar.
    struct GPUColumns {
        let barWidth: Int
        let util: Int, mem: Int, power: Int   // x of each bar
        /// Cells added after the UTIL and the MEM figures for GPM's "SM 63% TC 12%"
        /// and "DRAM 55%"; 0 where they are not shown.
        let utilExtra: Int, memExtra: Int

        init(width: Int, gpm: Bool = false) {
            let name = 2 + 1 + 20
            let fixed = name + (6 + 10) + (5 + 20) + (5 + 16)
            // GPM figures take room from the bars, never below 5 cells: DRAM goes first,
            // then SM/TC (below 111 columns the line is as without GPM).
            let utilGPM = 5 + ActivityText.smTensorWidth - 9, memGPM = 1 + ActivityText.dramWidth
            let extras = gpm ? [(utilGPM, memGPM), (utilGPM, 0), (0, 0)] : [(0, 0)]
            (utilExtra, memExtra) = extras.first { width - fixed - $0.0 - $0.1 >= 3 * 5 } ?? (0, 0)
            barWidth = max(5, min(30, (width - fixed - utilExtra - memExtra) / 3))
            util = name + 6
            mem = util + barWidth + 10 + utilExtra + 5
            power = mem + barWidth + 20 + memExtra + 5
        }
    }

    /// GPM figures ("SM 63% TC 12%") in `width` cells, labels dim like UTIL and MEM.
    static func figures(_ f: inout Frame, _ x: Int, _ y: Int, _ text: String?, width: Int) {
        guard let text, width > 0 else { return }
        f.putFitted(x, y, text, width: width)
        var col = x
        for (i, word) in text.split(separator: " ").enumerated() {
            let count = min(word.count, x + width - col)
            if i % 2 == 0, count > 0 { f.restyle(col, y, count: count, .dim) }
            col += word.count + 1
        }
    }

    static func gpuLine(_ f: inout Frame, _ m: DashboardModel, _ g: GPU, y: Int, compact: Bool, reserve: Int = 0, gpm: Bool = false) {
        var x = f.putFitted(0, y, "\(g.index)", width: 2, .heading, alignRight: true)
        // Several hosts: the host leads the name, as GPU indices repeat across hosts.
        let name = (g.host.map { $0 + " " } ?? "") + shortName(g.name)
        if g.lost {
            x = f.putFitted(x + 1, y, name, width: 20, .heading)
            f.put(x + 1, y, "LOST: the GPU stopped answering (GPU_IS_LOST); the others go on", .bad)
            return
        }
        let util = g.utilizationGpu.map { Double($0) / 100 }
        let mem: Double? = { guard let u = g.memoryUsed, let t = g.memoryTotal, t > 0 else { return nil }; return Double(u) / Double(t) }()
        let power: Double? = { guard let d = g.powerDraw, let l = g.powerLimitEnforced ?? g.powerLimit, l > 0 else { return nil }; return Double(d) / Double(l) }()
        let migUtil = g.migMode?.current == true && g.utilizationGpu == nil
        let utilText = migUtil ? "n/a (MIG)" : Format.percent(g.utilizationGpu)
        let memText = "\(Format.bytes(g.memoryUsed))/\(Format.bytes(g.memoryTotal))"
        let powerText = "\(Format.watts(g.powerDraw))/\(Format.watts(g.powerLimitEnforced ?? g.powerLimit))"
        if compact {
            // name, then util and memory bars with their values, then power: sized to the width.
            // GPM figures, when there is room for them at the narrowest name and bars (48
            // cells), make the name and bars give way: DRAM goes first, then SM/TC.
            let room = m.width - reserve - 48
            let smTC = 1 + ActivityText.smTensorWidth, dram = 1 + ActivityText.dramWidth
            let (utilExtra, memExtra) = !gpm ? (0, 0) : room >= smTC + dram ? (smTC, dram) : room >= smTC ? (smTC, 0) : (0, 0)
            let extra = utilExtra + memExtra
            let nameWidth = extra == 0 ? max(8, min(20, m.width - 60 - reserve)) : max(8, min(20, m.width - reserve - 42 - extra))
            x = f.putFitted(x + 1, y, name, width: nameWidth, .heading)
            let barWidth = max(3, min(12, (m.width - x - 44 - reserve - extra) / 2))
            x = bar(&f, m, x: x + 1, y: y, width: barWidth, fraction: util)
            x = f.putFitted(x + 1, y, migUtil ? "MIG" : utilText, width: 4, fractionStyle(util), alignRight: true)
            figures(&f, x + 1, y, ActivityText.smTensor(g.activity), width: utilExtra - 1)
            x += utilExtra
            x = bar(&f, m, x: x + 1, y: y, width: barWidth, fraction: mem)
            x = f.putFitted(x + 1, y, memText, width: 17, alignRight: true)
            figures(&f, x + 1, y, ActivityText.dram(g.activity), width: memExtra - 1)
            x += memExtra
            x = f.put(x + 1, y, Format.watts(g.powerDraw), fractionStyle(power))
            HealthView.put(HealthView.gpuWords(g, unacknowledged: m.unacknowledgedXIDs), &f, x: x + 2, y: y, width: m.width)
            return
        }
        let c = GPUColumns(width: m.width - reserve, gpm: gpm)
        f.putFitted(x + 1, y, name, width: 20, .heading)
        f.put(c.util - 5, y, "UTIL", .dim)
        x = bar(&f, m, x: c.util, y: y, width: c.barWidth, fraction: util)
        // With GPM figures the value keeps 5 cells ("100% "), as a GPU under MIG has none.
        // The figure in its bar's colour, as the power figure: one colour change fewer each
        // time both move, which under a load whose utilisation wavers is every second.
        f.putFitted(x + 1, y, utilText, width: c.utilExtra > 0 && g.activity != nil ? 5 : 9, fractionStyle(util))
        if c.utilExtra > 0 { figures(&f, x + 6, y, ActivityText.smTensor(g.activity), width: ActivityText.smTensorWidth) }
        f.put(c.mem - 4, y, "MEM", .dim)
        x = bar(&f, m, x: c.mem, y: y, width: c.barWidth, fraction: mem)
        f.putFitted(x + 1, y, memText, width: 19)
        if c.memExtra > 0 { figures(&f, x + 21, y, ActivityText.dram(g.activity), width: ActivityText.dramWidth) }
        f.put(c.power - 4, y, "PWR", .dim)
        x = bar(&f, m, x: c.power, y: y, width: c.barWidth, fraction: power)
        x = f.put(x + 1, y, powerText, fractionStyle(power))
        HealthView.put(HealthView.gpuWords(g, unacknowledged: m.unacknowledgedXIDs), &f, x: x + 2, y: y, width: m.width)
    }

    /// The line under a GPU: temperature, state and clocks, with each history
    /// sparkline under the bar it belongs to.
    static func gpuDetailLine(_ f: inout Frame, _ m: DashboardModel, _ g: GPU, y: Int, reserve: Int = 0, gpm: Bool = false) {
        var facts: [String] = [g.temperature.map { "\($0)C" } ?? "temp n/a"]
        if let fan = g.fanSpeed { facts.append("fan \(fan)%") }
        if let p = g.performanceState { facts.append("P\(p)") }
        facts.append("MIG " + (g.migMode.map { $0.current ? "on" : ($0.pending ? "pending" : "off") } ?? "n/a"))
        f.putFitted(3, y, facts.joined(separator: " "), width: 20, .dim)
        let c = GPUColumns(width: m.width - reserve, gpm: gpm)
        let series = m.history.gpu(g)
        let spark = c.barWidth
        func sparkline(_ values: [Double]?, _ maxValue: Double, at x: Int) -> Int {
            f.put(x, y, m.glyphs.sparkline(values ?? [], width: spark, maxValue: maxValue), .accent)
        }
        var x = sparkline(series?.utilization.values, 100, at: c.util)
        f.putFitted(x + 1, y, g.clockSM.map { "SM \($0)" } ?? "SM n/a", width: 9, .dim)
        x = sparkline(series?.memory.values, 100, at: c.mem)
        f.putFitted(x + 1, y, g.clockMemory.map { "MEM \($0) MHz" } ?? "MEM n/a", width: 19, .dim)
        x = sparkline(series?.power.values, Double(g.powerLimitEnforced ?? g.powerLimitMax ?? 1) / 1000, at: c.power)
        if let lo = g.powerLimitMin, let hi = g.powerLimitMax {
            // The longest form that fits whole: a range without its unit misleads.
            let range = "\(Format.watts(lo).dropLast(2))..\(Format.watts(hi))"
            let room = m.width - (x + 1)
            if let text = ["limit " + range, range].first(where: { TextWidth.of($0) <= room }) {
                f.put(x + 1, y, text, .dim)
            }
        }
    }

    static func migLine(_ f: inout Frame, _ m: DashboardModel, _ g: GPU, _ d: MIGDevice, _ s: Snapshot, y: Int) {
        var x = f.put(3, y, m.glyphs.branch + " ", .dim)
        x = f.putFitted(x, y, "MIG " + SnapshotText.migProfile(d), width: 16, .heading)
        x = f.put(x + 1, y, "GI \(d.gpuInstanceId.map(String.init) ?? "?") CI \(d.computeInstanceId.map(String.init) ?? "?")", .dim)
        x = f.put(x + 2, y, "\(d.gpuInstanceSlices.map(String.init) ?? "?") slice\(d.gpuInstanceSlices == 1 ? "" : "s")  \(d.multiprocessors.map(String.init) ?? "?") SMs", .dim)
        let frac: Double? = { guard let u = d.memoryUsed, let t = d.memoryTotal, t > 0 else { return nil }; return Double(u) / Double(t) }()
        x = f.put(x + 2, y, "mem ", .dim)
        x = bar(&f, m, x: x, y: y, width: 10, fraction: frac)
        x = f.put(x + 1, y, "\(Format.bytes(d.memoryUsed))/\(Format.bytes(d.memoryTotal))")
        // Under MIG the GPM figures are the instance's own (the GPU line has none).
        if let text = [ActivityText.smTensor(d.activity), ActivityText.dram(d.activity)].compactMap({ $0 }).joined(separator: " ").nilIfEmpty {
            figures(&f, x + 2, y, text, width: TextWidth.of(text))
            x += 2 + TextWidth.of(text)
        }
        let names = containersOn(s, gpu: g.index, host: g.host, gi: d.gpuInstanceId, ci: d.computeInstanceId)
        f.put(x + 2, y, names.isEmpty ? "idle" : names.joined(separator: ", "), names.isEmpty ? .dim : .accent)
    }

    static func containersOn(_ s: Snapshot, gpu: Int, host: String? = nil, gi: Int?, ci: Int?) -> [String] {
        var names: [String] = []
        for p in s.processes where p.gpuIndex == gpu && p.host == host && p.gpuInstanceId == gi && (ci == nil || p.computeInstanceId == ci) {
            let id = p.info?.container?.id ?? "host"
            let name = s.containers.first { $0.id == id && $0.host == host }.map(SnapshotText.containerName) ?? "host"
            if !names.contains(name) { names.append(name) }
        }
        return names
    }

    static func shortName(_ name: String?) -> String {
        guard var n = name else { return "n/a" }
        if n.hasPrefix("NVIDIA ") { n.removeFirst(7) }
        return n
    }

    // MARK: Table

    static func table(_ f: inout Frame, _ m: DashboardModel, _ layout: DashboardLayout, top: Int) {
        let rows = m.rows
        let now = m.snapshot?.time ?? m.now
        let content = Columns.contentWidths(rows, now: now, glyphs: m.glyphs, hosts: m.showsHosts)
        let columns = Columns.fitting(width: m.width, hosts: m.showsHosts, content: content)
        let fixed = columns.filter { $0.id != .command }.reduce(0) { $0 + $1.width + 1 }
        let commandWidth = max(0, m.width - fixed)
        var x = 0
        for c in columns {
            let w = c.id == .command ? commandWidth : c.width
            var title = c.title
            if c.id == m.sortColumn { title += m.glyphs.ascii ? (m.sortDescending ? "v" : "^") : (m.sortDescending ? "↓" : "↑") }
            x = f.putFitted(x, top, title, width: w, c.id == m.sortColumn ? .key : .heading, alignRight: c.alignRight) + 1
        }
        if rows.isEmpty {
            let text = m.snapshot == nil ? "" : (m.filter.isEmpty ? "No GPU processes and no idle GPU allocations." : "Nothing matches \"\(m.filter)\".")
            f.put(0, top + 1, text, .dim)
            return
        }
        let selected = m.selectedIndex(in: rows)
        let scroll = min(m.scroll, max(0, rows.count - layout.tableRows))
        for (i, row) in rows.enumerated().dropFirst(scroll).prefix(layout.tableRows) {
            let y = top + 1 + i - scroll
            var style: Style = .normal
            if case .container(let c, _) = row { style = c.idleAllocation ? .warn : .heading }
            x = 0
            for c in columns {
                let w = c.id == .command ? commandWidth : c.width
                var text = c.text(row, now, m.glyphs)
                if c.id == .command, case .process = row {
                    text = Columns.command(Sanitize.visible(text), width: w, ascii: m.glyphs.ascii)
                }
                x = f.putFitted(x, y, text, width: w, style, alignRight: c.alignRight) + 1
            }
            if i == selected { f.restyle(0, y, count: m.width, .selected) }
        }
    }

    // MARK: Help and detail

    /// The most rows a help or detail page may have (a container with thousands of
    /// labels or processes is cut there).
    static let pageLimit = 2_000

    /// A help or detail page drawn whole into a tall frame, the rows it uses, the rows
    /// the screen shows of it, and the first one shown (the model's scroll, clamped).
    struct Page {
        var frame: Frame
        var used: Int
        var visible: Int
        var scroll: Int
    }

    static func page(_ m: DashboardModel) -> Page? {
        let top = DashboardLayout(model: m).headerLines
        let used: Int
        var f: Frame
        switch m.screen {
        case .main: return nil
        case .help:
            // As tall as the page can be: its fixed lines and every wrapped line.
            let text = helpEntries(m, actions: false) + helpEntries(m, actions: true)
            let rows = 8 + text.reduce(0) { $0 + TextWidth.wrap($1.what, width: max(10, m.width - 17)).count }
                + helpNotes.reduce(0) { $0 + TextWidth.wrap($1, width: max(10, m.width)).count }
            f = Frame(width: m.width, height: min(pageLimit, rows), ascii: m.glyphs.ascii)
            used = help(&f, m, top: 0)
        case .detail(let id):
            // As tall as the page can be: its fixed lines, its processes and its labels.
            let s = m.snapshot
            let processes = s?.processes.reduce(0) { $0 + (($1.info?.container?.id ?? "host") == id ? 1 : 0) } ?? 0
            let labels = s?.containers.first { $0.id == id }?.labels?.count ?? 0
            let xids = s.flatMap { snap in snap.containers.first { $0.id == id }.map { HealthView.events(of: $0, in: snap).count } } ?? 0
            let gpus = s?.containers.first { $0.id == id }?.gpus.count ?? 0
            let rows = 33 + processes + labels + xids + gpus
            f = Frame(width: m.width, height: min(pageLimit, rows), ascii: m.glyphs.ascii)
            used = detail(&f, m, containerId: id, top: 0)
        }
        let visible = max(1, m.height - 1 - top)
        return Page(frame: f, used: used, visible: visible, scroll: min(m.pageScroll, max(0, used - visible)))
    }


    static func helpEntries(_ m: DashboardModel, actions: Bool) -> [(key: String, what: String)] {
        // Read-only mode and replays have no actions: that section is left out entirely.
        guard !actions || m.actionsEnabled else { return [] }
        return KeyBindings.helpLines(replaying: m.replay != nil, actionsEnabled: m.actionsEnabled, actions: actions)
    }

    static let helpNotes = ["GPU MEM and SM% are per process, summed per container.",
                            "~POWER is each GPU's draw shared out by SM use: an estimate.",
                            "CPID is the PID inside the process's container.",
                            "idle in the GPU column: the container asked for GPUs but runs nothing on them.",
                            "GPU line's end: power cap N% (held by its limit lately), thermal, reset needed.",
                            "SM TC DRAM (GPM, Hopper on): SMs busy, tensor cores busy, memory bandwidth used."]

    static func help(_ f: inout Frame, _ m: DashboardModel, top: Int) -> Int {
        var y = top + 1
        // Each key's line wraps under itself rather than being cut: the page scrolls.
        func entries(_ list: [(key: String, what: String)]) {
            for (key, what) in list {
                for (i, part) in TextWidth.wrap(what, width: max(10, f.width - 17)).enumerated() where y < f.height - 1 {
                    if i == 0 { f.putFitted(2, y, key, width: 14, .key) }
                    f.put(17, y, part)
                    y += 1
                }
            }
            y += 1
        }
        f.put(0, y, "Keys", .title); y += 1
        entries(helpEntries(m, actions: false))
        let actions = helpEntries(m, actions: true)
        if !actions.isEmpty && y < f.height - 1 {
            f.put(0, y, "Actions (each asks first; the default answer is no; all are logged)", .title); y += 1
            entries(actions)
        }
        for note in helpNotes {
            for part in TextWidth.wrap(note, width: max(10, f.width)) where y < f.height {
                f.put(0, y, part, .dim)
                y += 1
            }
        }
        return y
    }

    static func detail(_ f: inout Frame, _ m: DashboardModel, containerId: String, top: Int) -> Int {
        let host = m.selectedHost
        guard let s = m.snapshot, let c = s.containers.first(where: { $0.id == containerId && (host == nil || $0.host == host) }) else {
            f.put(0, top + 1, "The container is gone. Press q or esc to go back.", .warn)
            return top + 2
        }
        var y = top + 1
        func line(_ label: String, _ value: String, _ style: Style = .normal) {
            guard y < f.height - 1 else { return }
            f.putFitted(0, y, label, width: 14, .dim)
            // A long value ends in "…" where it is cut, never silently.
            f.putFitted(15, y, value, width: max(0, f.width - 15), style)
            y += 1
        }
        line("container", SnapshotText.containerName(c), .title)
        line("id", c.id)
        if let r = c.runtime { line("runtime", r.rawValue) }
        line("image", c.image ?? "n/a")
        line("status", [c.status, c.health].compactMap { $0 }.joined(separator: ", ").ifEmpty("n/a"))
        if let started = c.startedAt {
            line("up", Format.uptime(since: started, now: s.time) + " (since \(Format.localTime(started)))")
        }
        if let e = c.energy { line("energy", ActivityText.energyLine(e)) }
        line("service/pod", SnapshotText.serviceOrPod(c))
        line("GPU request", c.gpuRequest ?? "none seen")
        line("GPU use", c.idleAllocation ? "idle: no GPU process" :
             "GPU\(c.gpus.count == 1 ? "" : "s") \(c.gpus.map(String.init).joined(separator: ","))\(c.migInstances.isEmpty ? "" : " MIG " + c.migInstances.joined(separator: ","))  \(Format.bytes(c.gpuMemory))  SM \(Format.percent(c.smUtilization))  ~\(Format.watts(c.estimatedPowerShare)) (estimate)")
        if let series = m.history.container(c.id, host: c.host) {
            let w = max(10, min(60, m.width - 30))
            line("SM history", m.glyphs.sparkline(series.sm.values, width: w, maxValue: max(100, series.sm.values.max() ?? 0)), .accent)
            // Memory against the total of its GPUs, so a steady job does not fill the line.
            let totals = s.gpus.filter { c.gpus.contains($0.index) && $0.host == c.host }.compactMap(\.memoryTotal)
            let total = Format.saturatingSum(totals)
            line("mem history", m.glyphs.sparkline(series.memory.values, width: w, maxValue: max(1, Double(total) / Double(1 << 30))), .good)
            // GPM's SM activity of each of its GPUs (the whole GPU's, shared with whoever else is on it).
            for g in s.gpus where c.gpus.contains(g.index) && g.host == c.host {
                guard let sm = m.history.gpu(g)?.smActive.values, sm.contains(where: { $0 >= 0 }) else { continue }
                // The figures now, when they fit whole (the GPU line has them anyway).
                let now = [ActivityText.smTensor(g.activity), ActivityText.dram(g.activity)].compactMap { $0 }.joined(separator: " ")
                let tail = now.isEmpty || 15 + w + 6 + TextWidth.of(now) > f.width ? "" : "  now " + now
                line("GPU \(g.index) SM act", m.glyphs.sparkline(sm, width: w, maxValue: 100) + tail, .accent)
            }
            line("", "one cell per \(Format.seconds(Series.bucketSeconds)), newest on the right", .dim)
        }
        for e in HealthView.events(of: c, in: s) {
            line("XID \(e.code)", "\(e.place) at \(Format.localTime(e.time))" + (XIDCodes.meaning(e.code).map { ": " + $0 } ?? ""), .bad)
        }
        y += 1
        if y < f.height - 1 { f.put(0, y, "Processes", .title); y += 1 }
        if let h = c.host { line("host", h) }
        for p in s.processes where (p.info?.container?.id ?? "host") == c.id && p.host == c.host {
            guard y < f.height - 1 else { break }
            let text = "GPU \(p.gpuIndex)  pid \(p.pid)  cpid \(p.info?.namespacePid.map(String.init) ?? "-")  \(Format.bytes(p.usedGpuMemory))  SM \(Format.percent(p.smUtilization))  CPU \(Format.cpuPercent(p.info?.cpuPercent))  \(p.info?.user ?? "?")  \(p.info?.command ?? "")"
            f.putFitted(2, y, text, width: max(0, f.width - 2))
            y += 1
        }
        let labels = (c.labels ?? [:]).sorted { $0.key < $1.key }
        if !labels.isEmpty && y < f.height - 2 {
            y += 1
            // containerd and CRI-O keep a container's labels and OCI annotations together.
            let annotations = c.runtime == .containerd || c.runtime == .crio
            f.put(0, y, annotations ? "Labels and annotations" : "Labels", .title); y += 1
            for (k, v) in labels {
                guard y < f.height - 1 else { break }
                let x = f.put(2, y, k, .dim)
                f.putFitted(x, y, "=" + v, width: max(0, f.width - x))
                y += 1
            }
        }
        return y
    }
}

extension String {
    func ifEmpty(_ other: String) -> String { isEmpty ? other : self }
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
