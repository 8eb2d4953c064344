// Text from outside (container names, labels, command lines, NVML strings) is
// shown, never interpreted: control characters become visible caret notation so
// that nobody can smuggle escape sequences onto the operator's terminal. Format
// characters (general category Cf: the bidi overrides and isolates U+202A..U+202E,
// U+2066..U+2069, the marks U+200E, U+200F, U+061C, zero-width spaces and joiners)
// and the line and paragraph separators U+2028, U+2029 are shown too, as <U+202E>:
// raw, they reorder or split what the terminal shows ("Trojan Source"), so a
// command line could read as something it is not, or hide a part of itself.
import Support
public enum Sanitize {
    /// `ESC` becomes `^[`, other C0 controls `^@`..`^_`, DEL `^?`; C1 controls,
    /// format characters and line/paragraph separators `<U+0080>`, `<U+202E>`, `<U+2028>`.
    public static func visible(_ text: String) -> String {
        if !text.unicodeScalars.contains(where: isUnsafeForTerminal) { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x00..<0x20:
                out.append("^")
                out.append(Unicode.Scalar(UInt8(scalar.value) + 0x40))
            case 0x7F:
                out.append(contentsOf: "^?".unicodeScalars)
            default:
                if isUnsafeForTerminal(scalar) {
                    out.append(contentsOf: codePoint(scalar).unicodeScalars)
                } else {
                    out.append(scalar)
                }
            }
        }
        return String(out)
    }

    /// "<U+202E>": at least four hex digits, as Unicode writes code points.
    static func codePoint(_ s: Unicode.Scalar) -> String {
        var hex = String(s.value, radix: 16, uppercase: true)
        while hex.count < 4 { hex = "0" + hex }
        return "<U+\(hex)>"
    }

    /// JSON text with format characters and line/paragraph separators written as
    /// `\uXXXX` escapes (JSONEncoder escapes only the controls): the same data, but a
    /// terminal that shows `snapshot --json` cannot be made to reorder or hide text.
    /// Such characters can only occur inside JSON strings, where the escape is valid.
    public static func jsonEscapingFormatCharacters(_ json: String) -> String {
        // C0 controls are left alone: JSONEncoder has escaped those inside strings, and the
        // ones outside (the newlines of pretty printing) are JSON's own whitespace. DEL and
        // the C1 controls (U+009B is CSI on a UTF-8 terminal) it leaves raw: escape them.
        let escaped: (Unicode.Scalar) -> Bool = { $0.value >= 0x20 && isUnsafeForTerminal($0) }
        if !json.unicodeScalars.contains(where: escaped) { return json }
        var out = String.UnicodeScalarView()
        for scalar in json.unicodeScalars {
            guard escaped(scalar) else { out.append(scalar); continue }
            for unit in String(scalar).utf16 {
                var hex = String(unit, radix: 16)
                while hex.count < 4 { hex = "0" + hex }
                out.append(contentsOf: "\\u\(hex)".unicodeScalars)
            }
        }
        return String(out)
    }
}
