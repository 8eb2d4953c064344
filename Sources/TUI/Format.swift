// Number formatting shared by the text output and the dashboard. Every figure
// may come from a remote host or a recording, so no conversion here may trap:
// a number that does not fit is shown as "n/a".
import Glibc
import Model

public enum Format {
    /// Bytes in binary units with one decimal: "1.5 GiB", "512 MiB".
    public static func bytes(_ value: UInt64?) -> String {
        guard let value else { return "n/a" }
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(value)
        var unit = 0
        while v >= 1024 && unit < units.count - 1 { v /= 1024; unit += 1 }
        if unit == 0 { return "\(value) B" }
        return fixed(v, v >= 100 ? 0 : 1) + " " + units[unit]
    }

    /// Milliwatts as watts: "250 W", or "n/a".
    public static func watts(_ milliwatts: Int?) -> String {
        guard let milliwatts else { return "n/a" }
        return fixed(Double(milliwatts) / 1000, milliwatts % 1000 == 0 || milliwatts >= 100_000 ? 0 : 1) + " W"
    }

    /// Whole watts, for estimates whose decimals would claim false precision.
    public static func wattsRounded(_ milliwatts: Int) -> String {
        fixed(Double(milliwatts) / 1000, 0) + " W"
    }

    /// The integer part of `value`, or nil when it is not finite or does not fit
    /// an Int (`Int(Double)` would trap on 1e300 or NaN).
    public static func safeInt(_ value: Double) -> Int? {
        Int(exactly: value.rounded(.towardZero))
    }

    public static func percent(_ value: Int?) -> String {
        guard let value else { return "n/a" }
        return "\(value)%"
    }

    public static func percent(_ value: Double?) -> String {
        guard let value, safeInt(value) != nil else { return "n/a" }
        return fixed(value, value < 10 ? 1 : 0) + "%"
    }

    /// CPU% in whole percent: "0%", "3%", "250%". The kernel counts CPU time in 10 ms
    /// ticks, so a decimal would show the ticks' noise (an idle process reading 0.0%
    /// and 0.5% by turns), not a difference worth a glance; under 0.5% reads 0%.
    public static func cpuPercent(_ value: Double?) -> String {
        guard let value, safeInt(value) != nil else { return "n/a" }
        return fixed(max(0, value), 0) + "%"
    }

    /// A fixed-point number without Foundation's formatters.
    public static func fixed(_ value: Double, _ decimals: Int) -> String {
        guard value.isFinite else { return "n/a" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        guard let whole = safeInt(rounded.magnitude),
              let frac = safeInt(((rounded.magnitude - Double(whole)) * scale).rounded()) else { return "n/a" }
        if decimals == 0 { return (rounded < 0 ? "-" : "") + String(whole) }
        var fracText = String(frac)
        while fracText.count < decimals { fracText = "0" + fracText }
        return (rounded < 0 ? "-" : "") + "\(whole).\(fracText)"
    }

    /// Local wall-clock time, "2026-11-22 03:04:05"; "n/a" for a time outside
    /// `SaneRange.time` or 0 (what a decoder makes of an absurd required time).
    /// `withSeconds: false` gives "2026-11-22 03:04" (the live dashboard's header, which
    /// would otherwise rewrite itself every second for nothing the data age does not say).
    public static func localTime(_ seconds: Double, withSeconds: Bool = true) -> String {
        guard let known = SaneRange.knownTime(seconds), let whole = safeInt(known) else { return "n/a" }
        var t = time_t(whole)
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let n = strftime(&buffer, buffer.count, withSeconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &parts)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A duration as "5s", "3m12s", "4h05m", "2d03h".
    public static func duration(_ seconds: Double) -> String {
        guard seconds >= 0, let s = safeInt(seconds) else { return "n/a" }
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(pad2(s % 60))s" }
        if s < 86400 { return "\(s / 3600)h\(pad2((s % 3600) / 60))m" }
        return "\(s / 86400)d\(pad2((s % 86400) / 3600))h"
    }

    /// A duration for a live table: "<1m", "12m", "4h05m", "2d03h". It changes at
    /// most once a minute, so a table of uptimes does not rewrite every row on every
    /// refresh (terminal bytes over ssh); the detail view keeps the seconds.
    public static func coarseDuration(_ seconds: Double) -> String {
        guard seconds >= 0, let s = safeInt(seconds) else { return "n/a" }
        if s < 60 { return "<1m" }
        if s < 3600 { return "\(s / 60)m" }
        return duration(seconds)
    }

    /// How long something has been up, the one way every view says it: the seconds from
    /// `start` to `now`, rounded down, as `coarseDuration` (the dashboard's table and
    /// detail alike, so they never disagree) or with `seconds` as `duration` (one-shot
    /// text); "n/a" when either time is unknown.
    public static func uptime(since start: Double?, now: Double, seconds: Bool = false) -> String {
        elapsed(since: start, now: now).map(seconds ? duration : coarseDuration) ?? "n/a"
    }

    /// An interval: "1s", "0.25s", "1m".
    public static func seconds(_ s: Double) -> String {
        if s >= 60 && s.truncatingRemainder(dividingBy: 60) == 0, let m = safeInt(s / 60) { return "\(m)m" }
        if s == s.rounded(), let whole = safeInt(s) { return "\(whole)s" }
        return fixed(s, s < 1 ? 2 : 1).replacingTrailingZeros() + "s"
    }

    /// A replay speed: "1x", "0.25x", "16x".
    public static func speed(_ s: Double) -> String {
        (s == s.rounded() ? fixed(s, 0) : fixed(s, 2).replacingTrailingZeros()) + "x"
    }

    /// Seconds from `start` to `now`, for an uptime: nil when either time is unknown.
    public static func elapsed(since start: Double?, now: Double) -> Double? {
        guard let start = SaneRange.knownTime(start), let now = SaneRange.knownTime(now) else { return nil }
        return now - start
    }

    /// A sum of byte counts that stops at UInt64.max instead of trapping: two
    /// GPUs a remote host claims have UInt64.max / 2 + 1 bytes each must not take
    /// the view of every other host down.
    public static func saturatingSum<S: Sequence>(_ values: S) -> UInt64 where S.Element == UInt64 {
        values.reduce(0) { total, v in
            let (sum, overflow) = total.addingReportingOverflow(v)
            return overflow ? .max : sum
        }
    }

    static func pad2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
}

extension String {
    /// "0.50" -> "0.5", "2.0" -> "2".
    func replacingTrailingZeros() -> String {
        guard contains(".") else { return self }
        var s = self
        while s.last == "0" { s.removeLast() }
        if s.last == "." { s.removeLast() }
        return s
    }
}
