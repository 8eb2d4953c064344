// GPU health on the dashboard: what holds a GPU back or needs a reset, said in
// words at the end of its line, and a banner of XID errors with whoever was on
// the GPU, shown until acknowledged (KeyBindings: a).
import Model

enum HealthView {
    /// The words at the end of a GPU's line, most urgent first: an unacknowledged
    /// XID, a row remap waiting for a reset (or failed), uncorrected ECC errors since
    /// the driver loaded, then what holds the clocks down ("power cap 63%").
    static func gpuWords(_ g: GPU, unacknowledged: [XIDEvent]) -> [(text: String, style: Style)] {
        var words: [(String, Style)] = []
        if let e = unacknowledged.last(where: { $0.gpuIndex == g.index && $0.host == g.host }) {
            words.append(("XID \(e.code)", .bad))
        }
        if g.rowRemapPending == true { words.append(("reset needed", .bad)) }
        if g.rowRemapFailure == true { words.append(("row remap failed", .bad)) }
        if let n = g.eccUncorrectedVolatile, n > 0 { words.append(("\(n) uncorrected ECC", .bad)) }
        if let reasons = g.clockEvents {
            for (reason, word, serious) in ClockEventReasons.holdingBack where reasons.contains(reason) {
                if reason == .swPowerCap, let p = g.powerCappedPercent {
                    words.append(("\(word) \(p)%", .warn))
                } else {
                    words.append((word, serious ? .bad : .warn))
                }
            }
        }
        return words
    }

    /// The cells the longest GPU's words take (with the gap before them), at most 40:
    /// what the bars give up so the words fit.
    static func reserve(_ gpus: [GPU], unacknowledged: [XIDEvent]) -> Int {
        let widths = gpus.map { g in
            gpuWords(g, unacknowledged: unacknowledged).reduce(0) { $0 + TextWidth.of($1.text) + 2 }
        }
        return min(40, widths.max() ?? 0)
    }

    /// Puts `words` from x on, two cells apart, as many as fit whole before column
    /// `width` (the first that does not fit is cut visibly, down to "…"); returns the end.
    @discardableResult
    static func put(_ words: [(text: String, style: Style)], _ f: inout Frame, x: Int, y: Int, width: Int) -> Int {
        var x = x
        for (i, w) in words.enumerated() {
            let gap = i == 0 ? 0 : 2
            let room = width - x - gap
            guard room >= 1 else { break }
            if TextWidth.of(w.text) <= room {
                x = f.put(x + gap, y, w.text, w.style)
            } else {
                x = f.putFitted(x + gap, y, w.text, width: room, w.style)
                break
            }
        }
        return x
    }

    /// The most banner lines the main screen gives XID errors.
    static let bannerLimit = 3

    /// The banner: one line per unacknowledged XID, newest first; past the limit,
    /// the last line counts the rest.
    static func bannerLines(_ m: DashboardModel) -> [String] {
        let events = m.unacknowledgedXIDs
        guard !events.isEmpty else { return [] }
        let newest = Array(events.reversed())
        if newest.count <= bannerLimit { return newest.map(line) }
        let shown = newest.prefix(bannerLimit - 1).map(line)
        let rest = newest.count - shown.count
        return shown + ["! \(rest) more XID error\(rest == 1 ? "" : "s") (a acknowledges them all)"]
    }

    /// "! XID 79 GPU 3 03:04:05 GPU has fallen off the bus; on it: research/trainer, serving/infer-6d8f"
    static func line(_ e: XIDEvent) -> String {
        var text = "! XID \(e.code) " + (e.host.map { "\($0) " } ?? "") + e.place + " " + clock(e.time)
        if let meaning = XIDCodes.meaning(e.code) { text += " " + meaning }
        text += "; " + occupants(e)
        return text
    }

    /// Who was on the GPU: each container by its pod or service (else its name), with
    /// the PIDs of processes in no container.
    static func occupants(_ e: XIDEvent) -> String {
        guard !e.processes.isEmpty || !e.containers.isEmpty else { return "no process was on it" }
        var names: [String] = []
        for c in e.containers {
            if c.isHost {
                let pids = e.processes.filter { $0.info?.container == nil }.map { String($0.pid) }
                names.append("host pid " + pids.joined(separator: ","))
            } else {
                let pod = SnapshotText.serviceOrPod(c)
                names.append(pod == "-" ? SnapshotText.containerName(c) : pod)
            }
        }
        return "on it: " + names.joined(separator: ", ")
    }

    /// The time of day of a snapshot time ("03:04:05").
    static func clock(_ t: Double) -> String {
        let full = Format.localTime(t)
        return full.split(separator: " ").last.map(String.init) ?? full
    }

    /// The XIDs that hit a container while its processes were on the GPU, newest first.
    static func events(of c: ContainerUsage, in s: Snapshot) -> [XIDEvent] {
        (s.xidEvents ?? []).filter { e in e.host == c.host && e.containers.contains { $0.id == c.id } }.reversed()
    }
}
