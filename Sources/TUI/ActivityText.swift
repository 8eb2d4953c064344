// GPM figures and container energy as the dashboard words them: short, fixed
// labels ("SM 63% TC 12%", "DRAM 55%") so a GPU line at 80 columns still holds
// them, and energy in Wh or kWh.
import Model

enum ActivityText {
    /// The widest "SM … TC …" and "DRAM …" texts: the room a GPU line keeps for them,
    /// so the bars of GPUs with and without figures line up.
    static let smTensorWidth = TextWidth.of("SM 100% TC 100%")
    static let dramWidth = TextWidth.of("DRAM 100%")

    /// Whole percent, at most 100 (a sanitized figure may be 101 from rounding).
    static func percent(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "n/a" }
        return Format.fixed(min(100, max(0, v)), 0) + "%"
    }

    /// "SM 63% TC 12%", or nil when the GPU gave neither.
    static func smTensor(_ a: GPUActivity?) -> String? {
        guard let a, a.smActive != nil || a.tensorActive != nil else { return nil }
        return "SM \(percent(a.smActive)) TC \(percent(a.tensorActive))"
    }

    /// "DRAM 55%", or nil when the GPU did not give it.
    static func dram(_ a: GPUActivity?) -> String? {
        a?.dramActive.map { "DRAM \(percent($0))" }
    }

    /// True when some GPU has figures to show: only then do GPU lines make room.
    static func anyShown(_ gpus: [GPU]) -> Bool {
        gpus.contains { smTensor($0.activity) != nil || dram($0.activity) != nil }
    }

    /// Joules as "0.4 Wh", "12 Wh", "1.23 kWh", "15.2 kWh", "230 kWh".
    static func energy(_ joules: Double) -> String {
        // Beyond a terawatt-hour it is a corrupt figure, not a reading.
        guard joules.isFinite, joules >= 0, joules < 3.6e15 else { return "n/a" }
        let wh = joules / 3600
        if wh < 10 { return Format.fixed(wh, 1) + " Wh" }
        if wh < 1000 { return Format.fixed(wh, 0) + " Wh" }
        let kwh = wh / 1000
        return Format.fixed(kwh, kwh < 10 ? 2 : (kwh < 100 ? 1 : 0)) + " kWh"
    }

    /// The detail view's energy line: the total, since when, and per GPU when several.
    static func energyLine(_ e: ContainerEnergy) -> String {
        let since = e.sinceContainerStart ? "since it started" : "since gpuctop started"
        var text = "~\(energy(e.joules)) \(since) (\(Format.localTime(e.since)))"
        if e.byGPU.count > 1 {
            text += "  " + e.byGPU.map { "GPU \($0.gpu) \(energy($0.joules))" }.joined(separator: ", ")
        }
        return text + "  estimate"
    }
}
