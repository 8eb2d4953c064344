// Text helpers every room needs for messages that end up on one terminal line.

/// `text` on one line, safe for a status line or a log: control characters (C0,
/// DEL, C1: newlines, escapes) and line/paragraph separators become spaces, runs of
/// spaces collapse, the ends are trimmed, and it is cut to `limit` characters with
/// an ellipsis. A daemon message, a path or a damaged file can never break a line.
public func oneLine(_ text: String, limit: Int = 300) -> String {
    var out = String.UnicodeScalarView()
    var count = 0
    var pendingSpace = false
    for scalar in text.unicodeScalars {
        if isLineBreaking(scalar) || scalar == " " || scalar == "\t" {
            pendingSpace = !out.isEmpty
            continue
        }
        if count >= limit { out.append("…"); break }
        if pendingSpace { out.append(" "); count += 1; pendingSpace = false }
        out.append(scalar)
        count += 1
    }
    return String(out)
}

/// C0, DEL and C1 controls, and the Unicode line and paragraph separators.
private func isLineBreaking(_ s: Unicode.Scalar) -> Bool {
    s.value < 0x20 || (0x7f..<0xa0).contains(s.value) || s.value == 0x2028 || s.value == 0x2029
}

/// `text` without blanks (spaces, tabs, carriage returns) at either end.
public func trimBlanks<S: StringProtocol>(_ text: S) -> String {
    let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
    guard let first = text.firstIndex(where: { !blank($0) }),
          let last = text.lastIndex(where: { !blank($0) }) else { return "" }
    return String(text[first...last])
}
