// `gpuctop snapshot --from FILE --energy [--since TIME] [--until TIME] [--price P] [--json]`:
// each container's estimated energy over a recording or a range of it, in kWh,
// beside each GPU's own energy counter (when the recording has it: `record
// --energy`), with the cost at a price per kWh. The recording's snapshots are fed
// to the same EnergyMeter the live sampler uses, so it works on any recording,
// those made before energy was recorded too.
import FoundationEssentials
import Model
import Recording
import Support
import TUI

enum EnergyReport {
    struct Row: Encodable {
        var container: String
        var containerId: String
        var host: String?
        var gpus: [Int]
        var kilowattHours: Double
        var joules: Double
        var cost: Double?
    }
    struct GPURow: Encodable {
        var gpu: Int
        var counterKilowattHours: Double
        var attributedKilowattHours: Double
        var attributedPercent: Double?
    }
    struct Report: Encodable {
        var from: Double
        var to: Double
        var snapshots: Int
        var pricePerKilowattHour: Double?
        var containers: [Row]
        var gpus: [GPURow]
    }

    static func run(path: String, since: String?, until: String?, price: String?, json: Bool) -> Int32 {
        var pricePerKWh: Double?
        if let price {
            guard let p = Double(price), p.isFinite, p >= 0, p < 1e6 else {
                printError("--price takes a price per kWh (a number such as 0.25), not '\(oneLine(price))'")
                return ExitStatus.usage
            }
            pricePerKWh = p
        }
        var bounds: [RecordingTime?] = []
        for (name, text) in [("--since", since), ("--until", until)] {
            guard let text else { bounds.append(nil); continue }
            guard let t = RecordingTime.parse(text) else {
                printError("\(name) takes seconds since 1970, 2026-11-22T03:04:05Z, HH:MM[:SS] or +90s/+5m, not '\(oneLine(text))'")
                return ExitStatus.usage
            }
            bounds.append(t)
        }
        guard let reader = openReadable(path) else { return ExitStatus.failure }
        let start = reader.header.startTime
        let lower = bounds[0].flatMap { $0.resolve(start: start) } ?? -Double.infinity
        let upper = bounds[1].flatMap { $0.resolve(start: start) } ?? Double.infinity
        if (bounds[0] != nil && lower == -Double.infinity) || (bounds[1] != nil && upper == Double.infinity) {
            printError("cannot place the time on the recording's first day")
            return ExitStatus.usage
        }
        let indices = reader.times.indices.filter { reader.times[$0] >= lower && reader.times[$0] <= upper }
        guard let first = indices.first, let last = indices.last else {
            printError("no snapshot of \(path) lies in that range (\(Format.localTime(reader.times.first!)) to \(Format.localTime(reader.times.last!)))")
            return ExitStatus.failure
        }
        var meter = EnergyMeter()
        var names: [String: ContainerUsage] = [:]
        for i in indices {
            var s = reader.snapshot(index: i)
            meter.add(&s)
            for c in s.containers { names[(c.host ?? "") + "\u{0}" + c.id] = c }
        }
        let rows = meter.totals.map { t -> Row in
            let c = names[(t.host ?? "") + "\u{0}" + t.id]
            let name = t.id == "host" ? "host" : (c?.podContainer ?? c?.name ?? String(t.id.prefix(12)))
            let kwh = t.energy.kilowattHours
            return Row(container: name, containerId: t.id == "host" ? "host" : String(t.id.prefix(12)), host: t.host,
                       gpus: t.energy.byGPU.map(\.gpu), kilowattHours: kwh, joules: t.energy.joules,
                       cost: pricePerKWh.map { $0 * kwh })
        }
        let gpus = meter.gpuCounts.map { g in
            GPURow(gpu: g.gpu, counterKilowattHours: g.count.joules / 3.6e6, attributedKilowattHours: g.count.attributedJoules / 3.6e6,
                   attributedPercent: g.count.joules > 0 ? g.count.attributedJoules / g.count.joules * 100 : nil)
        }
        let report = Report(from: reader.times[first], to: reader.times[last], snapshots: indices.count,
                            pricePerKilowattHour: pricePerKWh, containers: rows, gpus: gpus)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            guard let data = try? encoder.encode(report) else {
                printError("cannot encode the energy report as JSON")
                return ExitStatus.failure
            }
            writeOut(Sanitize.jsonEscapingFormatCharacters(String(decoding: data, as: UTF8.self)) + "\n")
        } else {
            writeOut(text(report))
        }
        if let stop = reader.stopReason {
            printError("warning: \(path): \(stop); read \(reader.count) snapshot\(reader.count == 1 ? "" : "s") before it")
        }
        return ExitStatus.ok
    }

    static func text(_ r: Report) -> String {
        func kwh(_ v: Double) -> String { fixed(v, 6) }
        var out = "Estimated energy per container, \(Format.localTime(r.from)) to \(Format.localTime(r.to))"
            + " (\(Int((r.to - r.from).rounded())) s, \(r.snapshots) snapshot\(r.snapshots == 1 ? "" : "s"))\n"
        let width = min(40, max(9, r.containers.map { Sanitize.visible($0.container).count + $0.containerId.count + 3 }.max() ?? 9))
        var header = "CONTAINER".padding(width) + "  GPUS    kWh"
        if r.pricePerKilowattHour != nil { header += "         COST" }
        out += header + "\n"
        var total = 0.0
        for row in r.containers {
            var name = Sanitize.visible(row.container)
            if row.containerId != "host" && row.container != row.containerId { name += " (\(row.containerId))" }
            if let host = row.host { name = Sanitize.visible(host) + ":" + name }
            var line = String(name.prefix(width)).padding(width) + "  "
                + row.gpus.map(String.init).joined(separator: ",").padding(6) + "  " + kwh(row.kilowattHours).leftPadding(10)
            if let cost = row.cost { line += "  " + fixed(cost, 4).leftPadding(11) }
            out += line + "\n"
            total += row.kilowattHours
        }
        out += "total".padding(width) + "          " + kwh(total).leftPadding(10)
        if let p = r.pricePerKilowattHour { out += "  " + fixed(total * p, 4).leftPadding(11) }
        out += "\n"
        for g in r.gpus {
            out += "GPU \(g.gpu): its counter \(kwh(g.counterKilowattHours)) kWh, containers' estimates \(kwh(g.attributedKilowattHours)) kWh"
            if let p = g.attributedPercent { out += " (\(fixed(p, 1))%)" }
            out += "\n"
        }
        if r.gpus.isEmpty {
            out += "(no GPU energy counter in this recording: record with --energy to check the estimates against it)\n"
        }
        return out
    }

    /// `places` decimals, no exponent.
    static func fixed(_ v: Double, _ places: Int) -> String {
        guard v.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let n = (abs(v) * scale).rounded()
        guard n < 9e18 else { return "-" }
        let whole = UInt64(n) / UInt64(scale), frac = UInt64(n) % UInt64(scale)
        var text = (v < 0 && n > 0 ? "-" : "") + String(whole)
        if places > 0 {
            let digits = String(frac)
            text += "." + String(repeating: "0", count: places - digits.count) + digits
        }
        return text
    }
}

private extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
    func leftPadding(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
