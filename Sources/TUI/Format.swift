// Number formatting shared by the text output and the dashboard.
import Glibc

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
        "\(Int((Double(milliwatts) / 1000).rounded())) W"
    }

    public static func percent(_ value: Int?) -> String {
        guard let value else { return "n/a" }
        return "\(value)%"
    }

    public static func percent(_ value: Double?) -> String {
        guard let value else { return "n/a" }
        return fixed(value, value < 10 ? 1 : 0) + "%"
    }

    /// A fixed-point number without Foundation's formatters.
    public static func fixed(_ value: Double, _ decimals: Int) -> String {
        guard value.isFinite else { return "n/a" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        if decimals == 0 { return String(Int(rounded)) }
        let whole = Int(rounded.magnitude)
        let frac = Int(((rounded.magnitude - Double(whole)) * scale).rounded())
        var fracText = String(frac)
        while fracText.count < decimals { fracText = "0" + fracText }
        return (rounded < 0 ? "-" : "") + "\(whole).\(fracText)"
    }

    /// Local wall-clock time, "2026-11-22 03:04:05".
    public static func localTime(_ seconds: Double) -> String {
        var t = time_t(seconds)
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &parts)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A duration as "5s", "3m12s", "4h05m", "2d03h".
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "n/a" }
        let s = Int(seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(pad2(s % 60))s" }
        if s < 86400 { return "\(s / 3600)h\(pad2((s % 3600) / 60))m" }
        return "\(s / 86400)d\(pad2((s % 86400) / 3600))h"
    }

    /// A duration for a live table: "<1m", "12m", "4h05m", "2d03h". It changes at
    /// most once a minute, so a table of uptimes does not rewrite every row on every
    /// refresh (terminal bytes over ssh); the detail view keeps the seconds.
    public static func coarseDuration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "n/a" }
        let s = Int(seconds)
        if s < 60 { return "<1m" }
        if s < 3600 { return "\(s / 60)m" }
        return duration(seconds)
    }

    /// An interval: "1s", "0.25s", "1m".
    public static func seconds(_ s: Double) -> String {
        if s >= 60 && s.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(s / 60))m" }
        if s == s.rounded() { return "\(Int(s))s" }
        return fixed(s, s < 1 ? 2 : 1).replacingTrailingZeros() + "s"
    }

    /// A replay speed: "1x", "0.25x", "16x".
    public static func speed(_ s: Double) -> String {
        (s == s.rounded() ? "\(Int(s))" : fixed(s, 2).replacingTrailingZeros()) + "x"
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
