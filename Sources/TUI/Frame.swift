// A frame: the whole screen as cells in memory. Views draw into it; the ncurses
// backend copies it to the terminal; tests read it as text. Nothing here touches
// a terminal.

/// What a cell means, not how it looks: the backend maps roles to colours and
/// attributes the terminal has (or to none on a monochrome terminal).
public enum Style: UInt8, CaseIterable, Sendable {
    case normal, title, dim, heading, selected, good, warn, bad, accent, barUsed, barFree, key
}

/// One cell: its first scalar inline, and (rarely) the rest of a grapheme
/// (combining marks, emoji sequences) in its frame's side table. A cell holds no
/// reference, so a frame of 10,000 cells is created, compared and freed without any
/// reference counting (that was most of the cost of drawing a frame).
public struct Cell: Equatable, Sendable {
    /// The first scalar; 0 for the right half of a wide character.
    fileprivate var first: UInt32
    /// 1-based index into the frame's `extras`; 0 when the cell is one scalar.
    fileprivate var extra: UInt32
    public var style: Style

    /// A blank cell.
    public init(_ style: Style = .normal) {
        first = 0x20
        extra = 0
        self.style = style
    }

    /// A cell of one scalar.
    init(scalar: Unicode.Scalar, _ style: Style) {
        first = scalar.value
        extra = 0
        self.style = style
    }
}

public struct Frame: Sendable {
    public let width: Int
    public let height: Int
    /// ASCII only: cut text ends in "~" instead of "…".
    public let ascii: Bool
    public private(set) var cells: [Cell]
    /// The scalars after the first of multi-scalar graphemes, indexed by `Cell.extra - 1`.
    private var extras: [String] = []

    public init(width: Int, height: Int, ascii: Bool = false) {
        self.ascii = ascii
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: Cell(), count: self.width * self.height)
    }

    /// The text of the cell at (x, y): one grapheme, or "" for the right half of a wide one.
    public func text(_ x: Int, _ y: Int) -> String {
        var out = ""
        appendText(x, y, to: &out)
        return out
    }

    /// Appends the cell's text to `out` without building a String per cell.
    public func appendText(_ x: Int, _ y: Int, to out: inout String) {
        appendText(of: cells[y * width + x], to: &out)
    }

    private func appendText(of c: Cell, to out: inout String) {
        guard c.first != 0, let scalar = Unicode.Scalar(c.first) else { return }
        out.unicodeScalars.append(scalar)
        if c.extra > 0 { out += extras[Int(c.extra) - 1] }
    }

    /// Whether cell `i` of `self` and of `other` show the same thing.
    func sameCell(_ i: Int, as other: Frame) -> Bool {
        let a = cells[i], b = other.cells[i]
        guard a.first == b.first, a.style == b.style else { return false }
        if a.extra == 0 && b.extra == 0 { return true }
        guard a.extra != 0 && b.extra != 0 else { return false }
        return extras[Int(a.extra) - 1] == other.extras[Int(b.extra) - 1]
    }

    /// Puts one grapheme into (x, y).
    private mutating func setGrapheme(_ x: Int, _ y: Int, _ grapheme: Substring.UnicodeScalarView, _ style: Style) {
        var scalars = grapheme.makeIterator()
        guard let first = scalars.next() else {
            place(x, y, Cell(style))
            return
        }
        var cell = Cell(scalar: first, style)
        var rest = String.UnicodeScalarView()
        while let s = scalars.next() { rest.append(s) }
        if !rest.isEmpty {
            extras.append(String(rest))
            cell.extra = UInt32(extras.count)
        }
        place(x, y, cell)
    }

    /// Writes one cell. Overwriting either half of a wide character blanks its other
    /// half: an orphaned right half (an empty cell) would make the row one column
    /// short on the terminal and shift the rest of it left.
    private mutating func place(_ x: Int, _ y: Int, _ cell: Cell) {
        let i = y * width + x
        let old = cells[i]
        if old.first == 0, cell.first != 0, x > 0 {
            // Old right half of a wide character: its left half goes.
            cells[i - 1] = Cell(cells[i - 1].style)
        }
        if old.first != 0, x + 1 < width, cells[i + 1].first == 0 {
            // Old left half of a wide character: its right half goes.
            cells[i + 1] = Cell(cells[i + 1].style)
        }
        cells[i] = cell
    }

    /// Adds a combining mark to the cell at (x, y).
    private mutating func attach(_ mark: Character, _ x: Int, _ y: Int) {
        var cell = self[x, y]
        guard cell.first != 0 else { return }
        let before = cell.extra > 0 ? extras[Int(cell.extra) - 1] : ""
        extras.append(before + String(mark))
        cell.extra = UInt32(extras.count)
        self[x, y] = cell
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
                if col >= 0 { place(col, y, Cell(scalar: Unicode.Scalar(byte), style)) }
                col += 1
            }
            return col
        }
        // Bars, sparklines, borders, arrows and Latin text: one scalar, one cell.
        if text.unicodeScalars.allSatisfy(Self.isSingleCell) {
            for scalar in text.unicodeScalars {
                if col >= limit { break }
                if col >= 0 { place(col, y, Cell(scalar: scalar, style)) }
                col += 1
            }
            return col
        }
        for ch in Sanitize.visible(text) {
            let w = ch.unicodeScalars.reduce(0) { $0 + TextWidth.of($1) }
            if w == 0 {
                // A combining mark: attach it to the previous cell.
                if col > x, col - 1 >= 0 { attach(ch, col - 1, y) }
                continue
            }
            if col + w > limit { break }
            if col >= 0 {
                setGrapheme(col, y, String(ch)[...].unicodeScalars, style)
                if w == 2 {
                    var half = Cell(style)
                    half.first = 0
                    place(col + 1, y, half)
                }
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
        // Printable ASCII (nearly every table cell): straight into the cells, without the
        // sanitised, cut and padded copies the general path builds (most of a frame's cost
        // with 64 processes on screen).
        let utf8 = text.utf8
        if w > 0, utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            guard y >= 0, y < height else { return x + w }
            let limit = min(width, x + w)
            let n = utf8.count
            let shown = n <= w ? n : w - 1   // cut: room for the ellipsis
            var col = x
            func blank() { if col >= 0 && col < limit { place(col, y, Cell(scalar: " ", style)) }; col += 1 }
            if alignRight && n < w { for _ in 0..<(w - n) { blank() } }
            for byte in utf8.prefix(shown) {
                if col >= limit { break }
                if col >= 0 { place(col, y, Cell(scalar: Unicode.Scalar(byte), style)) }
                col += 1
            }
            if n > w, col >= 0, col < limit { place(col, y, Cell(scalar: ascii ? "~" : "…", style)); col += 1 }
            while col < x + w && col < limit { blank() }
            return x + w
        }
        put(x, y, TextWidth.fit(Sanitize.visible(text), w, alignRight: alignRight, ascii: ascii), style, maxWidth: w)
        return x + w
    }

    /// Copies rows `rows` of `other` (of the same width) here, from row `y` down: a
    /// page drawn whole is shown one screenful at a time.
    public mutating func paste(_ other: Frame, rows: Range<Int>, at y: Int) {
        guard other.width == width else { return }
        for (i, sy) in rows.enumerated() {
            let dy = y + i
            guard sy >= 0, sy < other.height, dy >= 0, dy < height else { continue }
            for x in 0..<width {
                var cell = other.cells[sy * width + x]
                if cell.extra > 0 {
                    extras.append(other.extras[Int(cell.extra) - 1])
                    cell.extra = UInt32(extras.count)
                }
                cells[dy * width + x] = cell
            }
        }
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
            for x in 0..<width { appendText(x, y, to: &line) }
            while line.last == " " { line.removeLast() }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// Row `y` as text.
    public func line(_ y: Int) -> String {
        var line = ""
        for x in 0..<width { appendText(x, y, to: &line) }
        return line
    }
}
