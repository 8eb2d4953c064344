// The dashboard's state. Model-Update-View: `DashboardModel.update` turns an
// event into new state (and effects for the run loop); `DashboardView` renders
// state into a Frame. Neither touches the terminal, so both are tested as text.
import Model

public enum Key: Equatable, Sendable {
    case char(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case enter, escape, backspace, tab
    /// Ctrl-U: clear the line being typed, as in a shell.
    case clearLine
}

public enum DashboardEvent: Sendable {
    case key(Key)
    case resize(width: Int, height: Int)
    case snapshot(Snapshot)
    /// Wall-clock time passes (for the data age).
    case tick(Double)
    /// Replay: where we are in the recording.
    case replayStatus(ReplayStatus)
    /// Replay after a jump: the history is rebuilt from the recorded past.
    case replaceHistory(History)
    /// An action the run loop performed has finished, with its one-line result.
    case actionFinished(String)
}

/// What the run loop must do after an update.
public enum DashboardEffect: Equatable, Sendable {
    case quit
    case setInterval(Double)
    case replay(ReplayCommand)
    case perform(ActionRequest)
}

public enum DashboardScreen: Equatable, Sendable {
    case main
    case help
    case detail(containerId: String)
}

public struct DashboardModel: Sendable {
    public var width: Int
    public var height: Int
    public var snapshot: Snapshot?
    public var history = History()
    /// The first row shown of a help or detail page taller than the screen.
    public var pageScroll = 0
    public var screen: DashboardScreen = .main
    public var sortColumn: ColumnID = .gpuMemory
    public var sortDescending = true
    public var filter = ""
    public var editingFilter = false
    public var grouped = true
    /// The selected table row, kept by identity so refreshes do not move it.
    public var selectedRow: RowID?
    public var scroll = 0
    public var interval: Double
    public var readOnly: Bool
    public var glyphs: Glyphs
    public var now: Double = 0
    /// When the newest snapshot arrived (for "data N s old" when a source is slow).
    public var lastArrival: Double = 0
    public var status: String?
    /// Set when replaying a recording: actions are off and keys move in time.
    public var replay: ReplayStatus?
    /// An open confirmation or power dialog; keys go to it first.
    public var dialog: Dialog?
    /// One action at a time: the next waits until this one reports.
    public var actionInFlight = false
    /// Hosts watched over ssh (`--host`); more than one shows the HOST column.
    public var hostCount = 1
    public var showsHosts: Bool { hostCount > 1 }
    /// XID errors up to this time (seconds since 1970) were acknowledged (`a`): the
    /// banner shows only later ones.
    public var xidAcknowledgedThrough = -Double.infinity

    /// The snapshot's XID errors not acknowledged yet, oldest first.
    public var unacknowledgedXIDs: [XIDEvent] {
        snapshot?.xidEvents?.filter { $0.time > xidAcknowledgedThrough } ?? []
    }

    public static let intervals: [Double] = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60]

    public init(width: Int, height: Int, interval: Double = 1, readOnly: Bool = false, ascii: Bool = false) {
        self.width = width
        self.height = height
        self.interval = interval
        self.readOnly = readOnly
        self.glyphs = Glyphs(ascii: ascii)
    }

    /// Seconds since the newest data arrived, when that is late enough to mention.
    public var staleSeconds: Double? {
        guard snapshot != nil, replay == nil else { return nil }
        let age = now - lastArrival
        return age > max(2 * interval, interval + 1.5) ? age : nil
    }

    public mutating func update(_ event: DashboardEvent) -> [DashboardEffect] {
        switch event {
        case .resize(let w, let h):
            width = max(0, w)
            height = max(0, h)
            return []
        case .snapshot(let s):
            snapshot = s
            history.record(s)
            lastArrival = now > 0 ? now : s.time
            if case .detail(let id) = screen, !s.containers.contains(where: { $0.id == id }) {
                status = "the container left"
            }
            return []
        case .tick(let t):
            now = t
            return []
        case .replayStatus(let r):
            replay = r
            readOnly = true
            return []
        case .actionFinished(let text):
            actionInFlight = false
            status = text
            return []
        case .replaceHistory(let replacement):
            history = replacement
            return []
        case .key(let key):
            return handle(key)
        }
    }

    private mutating func handle(_ key: Key) -> [DashboardEffect] {
        if editingFilter { editFilter(key); return [] }
        if dialog != nil {
            let effects = handleDialog(key)
            if effects.contains(where: { if case .perform = $0 { return true } else { return false } }) { actionInFlight = true }
            return effects
        }
        status = nil
        guard let binding = KeyBindings.binding(for: key, replaying: replay != nil, actionsEnabled: actionsEnabled) else {
            return []
        }
        return perform(binding.command)
    }

    private mutating func perform(_ command: KeyCommand) -> [DashboardEffect] {
        switch command {
        case .replay(let r):
            return [.replay(r)]
        case .stopContainer, .restartContainer, .killContainer, .signal, .power:
            if actionInFlight {
                status = "an action is still running; wait for its result"
                return []
            }
            if screen == .main { startAction(command) }
        case .quit:
            if screen != .main { showScreen(.main); return [] }
            return [.quit]
        case .back:
            if screen != .main { showScreen(.main) } else if !filter.isEmpty { filter = ""; scroll = 0 }
        case .help:
            showScreen(screen == .help ? .main : .help)
        case .filter:
            showScreen(.main)
            editingFilter = true
        case .toggleGrouping:
            grouped.toggle()
            scroll = 0
        case .sortNext: moveSort(by: 1)
        case .sortPrevious: moveSort(by: -1)
        case .reverseSort: sortDescending.toggle()
        case .faster: return changeInterval(by: 1)
        case .slower: return changeInterval(by: -1)
        case .up, .down, .pageUp, .pageDown, .home, .end:
            if screen == .main { moveSelection(command) } else { scrollPage(command) }
        case .openDetail:
            if screen == .main, let id = selectedContainerId { showScreen(.detail(containerId: id)) }
        case .acknowledgeXID:
            let events = unacknowledgedXIDs
            if let newest = events.map(\.time).max() {
                xidAcknowledgedThrough = max(xidAcknowledgedThrough, newest)
                status = "\(events.count) XID error\(events.count == 1 ? "" : "s") acknowledged (still in JSON, recordings and the export)"
            } else {
                status = "no XID error to acknowledge"
            }
        }
        return []
    }

    private mutating func editFilter(_ key: Key) {
        switch key {
        case .enter: editingFilter = false
        case .escape: editingFilter = false; filter = ""
        case .backspace: if !filter.isEmpty { filter.removeLast() }
        case .clearLine: filter = ""
        case .char(let c) where !c.isNewline: filter.append(c)
        default: break
        }
        scroll = 0
    }

    /// Another screen, from its top.
    private mutating func showScreen(_ next: DashboardScreen) {
        screen = next
        pageScroll = 0
    }

    private mutating func moveSelection(_ command: KeyCommand) {
        switch command {
        case .up: moveSelection(by: -1)
        case .down: moveSelection(by: 1)
        case .pageUp: moveSelection(by: -max(1, tableHeight - 1))
        case .pageDown: moveSelection(by: max(1, tableHeight - 1))
        case .home: moveSelection(to: 0)
        default: moveSelection(to: Int.max)
        }
    }

    /// Help and detail pages taller than the screen scroll; the view shows where.
    private mutating func scrollPage(_ command: KeyCommand) {
        guard let page = DashboardView.page(self) else { return }
        let last = max(0, page.used - page.visible)
        let current = page.scroll
        switch command {
        case .up: pageScroll = max(0, current - 1)
        case .down: pageScroll = min(last, current + 1)
        case .pageUp: pageScroll = max(0, current - max(1, page.visible - 1))
        case .pageDown: pageScroll = min(last, current + max(1, page.visible - 1))
        case .home: pageScroll = 0
        default: pageScroll = last
        }
    }

    private mutating func moveSort(by step: Int) {
        let all = ColumnID.allCases.filter { $0 != .host || showsHosts }
        let i = all.firstIndex(of: sortColumn) ?? 0
        sortColumn = all[(i + step + all.count) % all.count]
        // Numbers read best largest first, names alphabetically.
        sortDescending = Columns.column(sortColumn).numeric
    }

    private mutating func changeInterval(by step: Int) -> [DashboardEffect] {
        let ladder = Self.intervals
        let i = ladder.firstIndex { $0 >= interval } ?? ladder.count - 1
        let next = ladder[min(ladder.count - 1, max(0, i + step))]
        guard next != interval else { return [] }
        interval = next
        status = "refresh every \(Format.seconds(next))"
        return [.setInterval(next)]
    }

    // MARK: - Table selection

    /// The table rows in display order (filter, sort and grouping applied).
    public var rows: [TableRow] { TableRows.build(self) }

    /// Rows of the table that fit on screen (set by the layout).
    var tableHeight: Int { DashboardLayout(model: self).tableRows }

    var selectedIndex: Int? { selectedIndex(in: rows) }

    /// The selection's position in `rows` (already built: building them is the
    /// costly part of a frame with thousands of processes).
    func selectedIndex(in rows: [TableRow]) -> Int? {
        guard !rows.isEmpty else { return nil }
        if let selectedRow, let i = rows.firstIndex(where: { $0.id == selectedRow }) { return i }
        return 0
    }

    /// The host of the selected row, in a several-host dashboard.
    public var selectedHost: String? {
        guard let i = selectedIndex else { return nil }
        return rows[i].host
    }

    /// The container of the selected row (a process row selects its container).
    public var selectedContainerId: String? {
        guard let i = selectedIndex else { return nil }
        return rows[i].containerId
    }

    private mutating func moveSelection(by delta: Int) {
        guard let i = selectedIndex else { return }
        moveSelection(to: max(0, i + delta))
    }

    private mutating func moveSelection(to index: Int) {
        let rows = self.rows
        guard !rows.isEmpty else { return }
        let i = min(rows.count - 1, max(0, index))
        selectedRow = rows[i].id
        let visible = max(1, tableHeight)
        if i < scroll { scroll = i }
        if i >= scroll + visible { scroll = i - visible + 1 }
    }
}
