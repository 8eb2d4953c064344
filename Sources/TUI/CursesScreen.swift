// The thin backend: copies Frames to ncurses and turns input into Keys. All
// layout lives in DashboardView; this file only translates.
import CNCurses
import Glibc
import Support

final class CursesScreen: ScreenBackend {
    private var previous: Frame?
    private var attributes: [Style: Int32] = [:]
    let unicode: Bool

    /// Starts ncurses. Colours only where the terminal has them and NO_COLOR is unset.
    init(forceASCII: Bool, noColor: Bool) {
        setlocale(LC_ALL, "")
        let codeset = String(cString: nl_langinfo(nl_item(CODESET)))
        unicode = !forceASCII && codeset.uppercased().replacingText("-", with: "") == "UTF8"
        TerminalGuard.prepare()
        initscr()
        // Restore on any crash from here on, set-up included.
        TerminalGuard.install(exitSequence: Self.exitSequence())
        cbreak()
        noecho()
        nonl()
        keypad(gpuctop_stdscr(), true)
        nodelay(gpuctop_stdscr(), true)
        set_escdelay(25)
        curs_set(0)
        // The cursor is hidden: let ncurses leave it wherever the last change was instead
        // of moving it back after every refresh (bytes over ssh).
        leaveok(gpuctop_stdscr(), true)
        let colors = has_colors() && !noColor
        if colors {
            start_color()
            use_default_colors()
        }
        setupAttributes(colors: colors)
    }

    /// terminfo's rmcup + cnorm + sgr0, for the crash handler.
    static func exitSequence() -> [UInt8] {
        var bytes: [UInt8] = []
        for cap in ["sgr0", "cnorm", "rmcup"] {
            guard let s = tigetstr(cap), Int(bitPattern: s) != -1, Int(bitPattern: s) != 0 else { continue }
            var p = s
            while p.pointee != 0 { bytes.append(UInt8(bitPattern: p.pointee)); p += 1 }
        }
        return bytes
    }

    private func setupAttributes(colors: Bool) {
        let bold = gpuctop_attr_bold(), reverse = gpuctop_attr_reverse(), dim = gpuctop_attr_dim()
        var pairs: [Style: Int32] = [:]
        if colors {
            let fg: [(Style, Int32)] = [(.title, Int32(COLOR_CYAN)), (.good, Int32(COLOR_GREEN)), (.warn, Int32(COLOR_YELLOW)),
                                        (.bad, Int32(COLOR_RED)), (.accent, Int32(COLOR_CYAN)), (.key, Int32(COLOR_YELLOW)),
                                        (.barUsed, Int32(COLOR_GREEN)), (.barFree, Int32(COLOR_BLUE))]
            for (i, (style, color)) in fg.enumerated() {
                init_pair(Int16(i + 1), Int16(color), -1)
                pairs[style] = gpuctop_color_pair(Int32(i + 1))
            }
        }
        func attr(_ style: Style, _ extra: Int32) -> Int32 { (pairs[style] ?? 0) | extra }
        attributes = [
            .normal: gpuctop_attr_normal(),
            .title: attr(.title, bold),
            .dim: colors ? dim : gpuctop_attr_normal(),
            .heading: bold,
            .selected: reverse,
            .good: attr(.good, 0),
            .warn: attr(.warn, colors ? 0 : bold),
            .bad: attr(.bad, bold),
            .accent: attr(.accent, 0),
            .barUsed: attr(.barUsed, 0),
            .barFree: colors ? attr(.barFree, dim) : gpuctop_attr_normal(),
            .key: attr(.key, bold),
        ]
    }

    var size: (width: Int, height: Int) { (Int(gpuctop_cols()), Int(gpuctop_lines())) }

    /// Copies the rows that changed since the last frame; ncurses then sends only
    /// the cells that differ from what the terminal shows (no clears each tick).
    func draw(_ frame: Frame) {
        let full = previous == nil || previous!.width != frame.width || previous!.height != frame.height
        if full { erase() }
        for y in 0..<frame.height {
            if !full, rowEqual(previous!, frame, y) { continue }
            drawRow(frame, y)
        }
        previous = frame
        refresh()
    }

    private func rowEqual(_ a: Frame, _ b: Frame, _ y: Int) -> Bool {
        let start = y * a.width
        for i in start..<(start + a.width) where !a.sameCell(i, as: b) { return false }
        return true
    }

    private func drawRow(_ frame: Frame, _ y: Int) {
        var x = 0
        while x < frame.width {
            let style = frame[x, y].style
            var run = ""
            let start = x
            while x < frame.width, frame[x, y].style == style {
                frame.appendText(x, y, to: &run)
                x += 1
            }
            _ = gpuctop_attrset(attributes[style] ?? 0)
            // The bottom-right cell cannot be written without scrolling: stop one short there.
            if y == frame.height - 1 && x == frame.width {
                var trimmed = run
                if !trimmed.isEmpty { trimmed.removeLast() }
                mvaddstr(Int32(y), Int32(start), trimmed)
            } else {
                mvaddstr(Int32(y), Int32(start), run)
            }
        }
    }

    /// Keys typed since the last call, and whether the terminal was resized.
    func readKeys() -> (keys: [Key], resized: Bool) {
        var keys: [Key] = []
        var resized = false
        var wch: wint_t = 0
        while true {
            let rc = get_wch(&wch)
            if rc == ERR { break }
            if rc == gpuctop_key_code_yes() {
                switch Int32(wch) {
                case KEY_RESIZE: resized = true
                case KEY_UP: keys.append(.up)
                case KEY_DOWN: keys.append(.down)
                case KEY_LEFT: keys.append(.left)
                case KEY_RIGHT: keys.append(.right)
                case KEY_PPAGE: keys.append(.pageUp)
                case KEY_NPAGE: keys.append(.pageDown)
                case KEY_HOME: keys.append(.home)
                case KEY_END: keys.append(.end)
                case KEY_ENTER: keys.append(.enter)
                case KEY_BACKSPACE: keys.append(.backspace)
                default: break
                }
                continue
            }
            switch wch {
            case 10, 13: keys.append(.enter)
            case 27: keys.append(.escape)
            case 8, 127: keys.append(.backspace)
            case 9: keys.append(.tab)
            case 21: keys.append(.clearLine)
            default:
                if wch >= 32, let scalar = Unicode.Scalar(UInt32(wch)) { keys.append(.char(Character(scalar))) }
            }
        }
        return (keys, resized)
    }

    /// Input on the terminal or a wake-up through TerminalGuard's pipe.
    func waitForInput(milliseconds: Int32) -> Bool {
        var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: TerminalGuard.wakeRead, events: Int16(POLLIN), revents: 0)]
        _ = poll(&fds, nfds_t(fds.count), milliseconds)
        return fds[0].revents & Int16(POLLHUP | POLLERR | POLLNVAL) == 0  // else the terminal went away
    }

    /// After a resize, ncurses has new LINES/COLS; redraw everything.
    func invalidate() { previous = nil }

    func end() {
        endwin()
        TerminalGuard.uninstall()
    }
}
