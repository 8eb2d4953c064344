// A frame: the whole screen as cells in memory. Views draw into it; the ncurses
// backend copies it to the terminal; tests read it as text. Nothing here touches
// a terminal.

/// What a cell means, not how it looks: the backend maps roles to colours and
/// attributes the terminal has (or to none on a monochrome terminal).
public enum Style: UInt8, CaseIterable, Sendable {
    case normal, title, dim, heading, selected, good, warn, bad, accent, barUsed, barFree, key
}

public struct Cell: Equatable, Sendable {
    // One scalar inline, the rest of a grapheme (combining marks, emoji sequences) in
    // `more`, nil almost always: a 200x50 frame is 10,000 cells, and with a String per
    // cell building, comparing and freeing frames was mostly reference counting.
    /// The first scalar; 0 for the right half of a wide character.
    private var first: UInt32
    private var more: String?
    public var style: Style

    public init(_ text: String = " ", _ style: Style = .normal) {
        self.style = style
        var scalars = text.unicodeScalars.makeIterator()
        first = scalars.next()?.value ?? 0
        var rest = String.UnicodeScalarView()
        while let s = scalars.next() { rest.append(s) }
        more = rest.isEmpty ? nil : String(rest)
    }

    /// A cell of one scalar (no allocation, no reference counting).
    init(scalar: Unicode.Scalar, _ style: Style) {
        first = scalar.value
        more = nil
        self.style = style
    }

    /// One grapheme's scalars; "" for the right half of a wide character.
    public var text: String {
        get {
            guard first != 0, let scalar = Unicode.Scalar(first) else { return "" }
            guard let more else { return String(Character(scalar)) }
            return String(Character(scalar)) + more
        }
        set { self = Cell(newValue, style) }
    }

    /// Appends the cell's text to `out` without building an intermediate String.
    func append(to out: inout String) {
        guard first != 0, let scalar = Unicode.Scalar(first) else { return }
        out.unicodeScalars.append(scalar)
        if let more { out += more }
    }
}

public struct Frame: Sendable {
    public let width: Int
    public let height: Int
    /// ASCII only: cut text ends in "~" instead of "…".
    public let ascii: Bool
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int, ascii: Bool = false) {
        self.ascii = ascii
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: Cell(), count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { cells[y * width + x] = newValue }
    }

    /// Writes `text` at (x, y), clipped at `maxWidth` cells and the right edge; returns
    /// the column after the last cell written. Text is sanitised here, once, so no view
    /// can put a control character on the terminal.
    @discardableResult
    public mutating func put(_ x: Int, _ y: Int, _ text: String, _ style: Style = .normal, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < height, x < width else { return x }
        let limit = min(width, x + (maxWidth ?? width))
        var col = x
        // Printable ASCII (most of what is drawn): one cell per byte, no grapheme breaking.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            for byte in text.utf8 {
                if col >= limit { break }
                if col >= 0 { self[col, y] = Cell(scalar: Unicode.Scalar(byte), style) }
                col += 1
            }
            return col
        }
        // Bars, sparklines, borders, arrows and Latin text: one scalar, one cell.
        if text.unicodeScalars.allSatisfy(Self.isSingleCell) {
            for scalar in text.unicodeScalars {
                if col >= limit { break }
                if col >= 0 { self[col, y] = Cell(scalar: scalar, style) }
                col += 1
            }
            return col
        }
        for ch in Sanitize.visible(text) {
            let w = ch.unicodeScalars.reduce(0) { $0 + TextWidth.of($1) }
            if w == 0 {
                // A combining mark: attach it to the previous cell.
                if col > x, col - 1 >= 0 { self[col - 1, y].text += String(ch) }
                continue
            }
            if col + w > limit { break }
            if col >= 0 {
                self[col, y] = Cell(String(ch), style)
                if w == 2 { self[col + 1, y] = Cell("", style) }
            }
            col += w
        }
        return col
    }

    /// A scalar that is one whole cell on its own: printable Latin (no combining marks,
    /// no soft hyphen), arrows, box drawing, block elements and geometric shapes, "…".
    static func isSingleCell(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x20..<0x7F, 0xA0..<0xAD, 0xAE..<0x300, 0x2026, 0x2190...0x21FF, 0x2500...0x25FF: return true
        default: return false
        }
    }

    /// Writes `text` fitted to exactly `width` cells (cut with an ellipsis, padded).
    @discardableResult
    public mutating func putFitted(_ x: Int, _ y: Int, _ text: String, width w: Int, _ style: Style = .normal,
                                   alignRight: Bool = false) -> Int {
        put(x, y, TextWidth.fit(Sanitize.visible(text), w, alignRight: alignRight, ascii: ascii), style, maxWidth: w)
        return x + w
    }

    /// Sets the style of a run of cells (for the selection bar).
    public mutating func restyle(_ x: Int, _ y: Int, count: Int, _ style: Style) {
        guard y >= 0, y < height else { return }
        for col in max(0, x)..<min(width, x + count) { self[col, y].style = style }
    }

    /// The frame as plain text, one line per row, trailing spaces removed.
    public var text: String {
        var lines: [String] = []
        lines.reserveCapacity(height)
        for y in 0..<height {
            var line = ""
            for x in 0..<width { cells[y * width + x].append(to: &line) }
            while line.last == " " { line.removeLast() }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// Row `y` as text.
    public func line(_ y: Int) -> String {
        var line = ""
        for x in 0..<width { cells[y * width + x].append(to: &line) }
        return line
    }
}
