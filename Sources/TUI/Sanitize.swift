// Text from outside (container names, labels, command lines, NVML strings) is
// shown, never interpreted: control characters become visible caret notation so
// that nobody can smuggle escape sequences onto the operator's terminal.
public enum Sanitize {
    /// `ESC` becomes `^[`, other C0 controls `^@`..`^_`, DEL `^?`, C1 controls `<U+0080>`..
    public static func visible(_ text: String) -> String {
        if !text.unicodeScalars.contains(where: isControl) { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x00..<0x20:
                out.append("^")
                out.append(Unicode.Scalar(UInt8(scalar.value) + 0x40))
            case 0x7F:
                out.append(contentsOf: "^?".unicodeScalars)
            case 0x80..<0xA0:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out.append(contentsOf: "<U+00\(hex)>".unicodeScalars)
            default:
                out.append(scalar)
            }
        }
        return String(out)
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        s.value < 0x20 || (s.value >= 0x7F && s.value < 0xA0)
    }
}
