// Display width of text in terminal cells, so that columns stay aligned with
// wide (CJK, emoji) and combining characters.
public enum TextWidth {
    /// Cells taken by one scalar: 0 for combining marks and zero-width joiners, 2 for wide.
    public static func of(_ scalar: Unicode.Scalar) -> Int {
        let v = scalar.value
        // Fast path for nearly everything a dashboard shows: below U+0300 (where the
        // combining marks start) only the soft hyphen has no width. The Unicode property
        // lookup below was the largest single cost of rendering a frame.
        if v < 0x300 { return v == 0xAD ? 0 : 1 }
        if v == 0x2026 || (v >= 0x2190 && v <= 0x21FF) || (v >= 0x2500 && v <= 0x25FF) { return 1 }
        if v == 0x200B || v == 0x200C || v == 0x200D || v == 0xFEFF { return 0 }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        return isWide(v) ? 2 : 1
    }

    public static func of(_ text: String) -> Int {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text.utf8.count }
        var total = 0
        for s in text.unicodeScalars { total += of(s) }
        return total
    }

    /// `text` in lines of at most `width` cells, broken at spaces (a word longer than
    /// a line is left whole, for the caller to cut): help is read, not skimmed.
    public static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            let candidate = line.isEmpty ? String(word) : line + " " + word
            if !line.isEmpty && of(candidate) > width {
                lines.append(line)
                line = String(word)
            } else {
                line = candidate
            }
        }
        if !line.isEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }

    /// East Asian Wide/Fullwidth blocks and emoji presentation ranges.
    static func isWide(_ v: UInt32) -> Bool {
        switch v {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF,
             0x4E00...0x9FFF, 0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF,
             0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
             0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD:
            return true
        default:
            return false
        }
    }

    /// Cuts `text` to at most `width` cells (ending in "…" when cut) and pads it
    /// with spaces to exactly `width`, on the right or, for numbers, the left.
    public static func fit(_ text: String, _ width: Int, alignRight: Bool = false, ascii: Bool = false) -> String {
        guard width > 0 else { return "" }
        var used = 0
        var out = String.UnicodeScalarView()
        let total = of(text)
        if total <= width {
            let pad = String(repeating: " ", count: width - total)
            return alignRight ? pad + text : text + pad
        }
        let ellipsis: Unicode.Scalar = ascii ? "~" : "…"
        for s in text.unicodeScalars {
            let w = of(s)
            if used + w > width - 1 { break }
            out.append(s)
            used += w
        }
        out.append(ellipsis)
        used += 1
        return String(out) + String(repeating: " ", count: max(0, width - used))
    }
}
