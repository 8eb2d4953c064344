// Bars, sparklines and borders in Unicode, or ASCII when the locale is not
// UTF-8 or --ascii is given.
public struct Glyphs: Sendable {
    public let ascii: Bool
    public let barUsed: String
    public let barFree: String
    public let horizontal: String
    public let branch: String
    public let ellipsis: String
    let sparks: [String]
    let eighths: [String]

    public init(ascii: Bool) {
        self.ascii = ascii
        if ascii {
            barUsed = "#"; barFree = "."; horizontal = "-"; branch = "`-"; ellipsis = "~"
            sparks = [" ", ".", ":", "-", "=", "+", "*", "#"]
            eighths = []
        } else {
            barUsed = "█"; barFree = "░"; horizontal = "─"; branch = "└─"; ellipsis = "…"
            sparks = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
            eighths = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        }
    }

    /// A bar of `width` cells filled to `fraction` (nil: unknown, drawn empty).
    /// Returns the used and free parts separately so they can be styled apart.
    public func bar(_ fraction: Double?, width: Int) -> (used: String, free: String) {
        guard width > 0 else { return ("", "") }
        guard let fraction, fraction.isFinite else { return ("", String(repeating: barFree, count: width)) }
        let f = min(1, max(0, fraction))
        let exact = f * Double(width)
        var full = Int(exact)
        var used = String(repeating: barUsed, count: full)
        if !eighths.isEmpty, full < width {
            let eighth = Int((exact - Double(full)) * 8)
            if eighth > 0 { used += eighths[eighth]; full += 1 }
        }
        return (used, String(repeating: barFree, count: max(0, width - full)))
    }

    /// The last `width` values as a sparkline scaled to `maxValue`.
    public func sparkline(_ values: [Double], width: Int, maxValue: Double) -> String {
        guard width > 0 else { return "" }
        let tail = values.suffix(width)
        var out = String(repeating: " ", count: width - tail.count)
        for v in tail {
            // A negative value means "not available": a gap, not a zero.
            if v < 0 { out += " "; continue }
            let f = maxValue > 0 ? min(1, max(0, v / maxValue)) : 0
            out += sparks[min(sparks.count - 1, Int(f * Double(sparks.count - 1) + 0.5))]
        }
        return out
    }
}
