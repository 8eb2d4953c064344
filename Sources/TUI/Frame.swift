// A frame: the whole screen as cells in memory. Views draw into it; the ncurses
// backend copies it to the terminal; tests read it as text. Nothing here touches
// a terminal.

/// What a cell means, not how it looks: the backend maps roles to colours and
/// attributes the terminal has (or to none on a monochrome terminal).
public enum Style: UInt8, CaseIterable, Sendable {
    case normal, title, dim, heading, selected, good, warn, bad, accent, barUsed, barFree, key
}

public struct Cell: Equatable, Sendable {
    /// One grapheme's scalars; "" for the right half of a wide character.
    public var text: String
    public var style: Style
    public init(_ text: String = " ", _ style: Style = .normal) { self.text = text; self.style = style }
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
                if col >= 0 { self[col, y] = Cell(String(UnicodeScalar(byte)), style) }
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
            for x in 0..<width { line += cells[y * width + x].text }
            while line.last == " " { line.removeLast() }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// Row `y` as text.
    public func line(_ y: Int) -> String {
        var line = ""
        for x in 0..<width { line += cells[y * width + x].text }
        return line
    }
}
