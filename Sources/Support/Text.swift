// Text helpers every room needs for messages that end up on one terminal line.

/// `text` on one line, safe for a status line or a log: control characters (C0,
/// DEL, C1: newlines, escapes), format characters and line/paragraph separators
/// (`isUnsafeForTerminal`) become spaces, runs of
/// spaces collapse, the ends are trimmed, and it is cut to `limit` characters with
/// an ellipsis. A daemon message, a path or a damaged file can never break a line.
public func oneLine(_ text: String, limit: Int = 300) -> String {
    var out = String.UnicodeScalarView()
    var count = 0
    var pendingSpace = false
    for scalar in text.unicodeScalars {
        if isUnsafeForTerminal(scalar) || scalar == " " {
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

/// A scalar a terminal would not show as itself: a C0 or C1 control or DEL (escape
/// sequences, line breaks), a format character (general category Cf: bidi overrides
/// and isolates, zero-width characters: they reorder or hide what follows), or a line
/// or paragraph separator. The one rule for text from outside: the dashboard shows such
/// scalars visibly, JSON and the audit log escape them, one-line messages flatten them.
public func isUnsafeForTerminal(_ s: Unicode.Scalar) -> Bool {
    // Printable ASCII and Latin-1 letters are most of what is shown: no property lookup.
    if s.value >= 0x20 && s.value < 0x7f { return false }
    if s.value < 0xa0 { return true }   // C0, DEL, C1
    if s.value < 0xad { return false }
    switch s.properties.generalCategory {
    case .format, .lineSeparator, .paragraphSeparator: return true
    default: return false
    }
}

/// `text` without blanks (spaces, tabs, carriage returns) at either end.
public func trimBlanks<S: StringProtocol>(_ text: S) -> String {
    let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
    guard let first = text.firstIndex(where: { !blank($0) }),
          let last = text.lastIndex(where: { !blank($0) }) else { return "" }
    return String(text[first...last])
}

/// One word for a POSIX shell: as it is when made only of characters no shell treats
/// specially, else in single quotes (a `'` inside as `'\''`). For ssh's remote command
/// line and for the commands the dashboard offers to copy.
public func shellQuoted(_ word: String) -> String {
    if !word.isEmpty && word.unicodeScalars.allSatisfy(isShellSafe) { return word }
    var out = "'"
    for c in word.unicodeScalars {
        if c == "'" { out += "'\\''" } else { out.unicodeScalars.append(c) }
    }
    return out + "'"
}

private func isShellSafe(_ c: Unicode.Scalar) -> Bool {
    switch c {
    case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-", "/", "=", ":", ",", "+", "@", "%": return true
    default: return false
    }
}
