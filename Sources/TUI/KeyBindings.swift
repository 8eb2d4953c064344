// Every key of the dashboard's main screen in one table (as htop's
// Action_setBindings): which keys, what they do, and how the help and the footer
// name them. The model dispatches through it, the help lists it, the footer takes
// its short hints from it, and read-only mode and replays drop rows of it, so a key
// cannot do one thing and be documented as another.
// (The filter prompt and the dialogs take raw keys of their own: they are editors.)

/// What a key asks for.
public enum KeyCommand: Equatable, Sendable {
    case quit, help, filter, back
    case sortNext, sortPrevious, reverseSort, toggleGrouping
    case faster, slower
    case up, down, pageUp, pageDown, home, end, openDetail
    case stopContainer, restartContainer, killContainer
    case signal(Int32, String)
    case power
    case acknowledgeXID
    case replay(ReplayCommand)
}

/// When a binding is there at all.
public enum KeyScope: Equatable, Sendable {
    /// Live and in a replay.
    case always
    /// Live only (a replay plays back what happened: nothing to act on, no interval).
    case live
    /// Only in a replay.
    case replay
    /// Live, with actions on (not --read-only); the help lists these apart.
    case action
}

public struct KeyBinding: Sendable {
    public let keys: [Key]
    /// How the help writes the keys ("s  >  <").
    public let label: String
    public let command: KeyCommand
    public let scope: KeyScope
    /// The help's line.
    public let help: String
    /// The footer's hint, if it has one (kept short: the footer is one line).
    public let hint: (keys: String, what: String)?

    init(_ keys: [Key], _ label: String, _ command: KeyCommand, _ scope: KeyScope, _ help: String,
         hint: (keys: String, what: String)? = nil) {
        self.keys = keys; self.label = label; self.command = command; self.scope = scope
        self.help = help; self.hint = hint
    }
}

public enum KeyBindings {
    /// In the order of the help. Where one key means one thing live and another in a
    /// replay (+ and -), the replay's binding comes first and wins there.
    public static let all: [KeyBinding] = [
        KeyBinding([.char("q"), .char("Q")], "q", .quit, .always, "quit (from help or detail: back)", hint: ("q", "quit")),
        KeyBinding([.char("?"), .char("h")], "?  h", .help, .always, "this help", hint: ("?", "help")),
        KeyBinding([.char("a")], "a", .acknowledgeXID, .always, "acknowledge the XID errors shown above the GPUs", hint: ("a", "ack XID")),
        KeyBinding([.char(" ")], "space", .replay(.togglePause), .replay, "replay: pause or play", hint: ("space", "pause")),
        KeyBinding([.left, .char(",")], "left right , .", .replay(.step(-1)), .replay, "replay: one snapshot back or forward", hint: ("<- ->", "step")),
        KeyBinding([.right, .char(".")], "", .replay(.step(1)), .replay, ""),
        KeyBinding([.char("[")], "[  ]", .replay(.jump(seconds: -60)), .replay, "replay: one minute back or forward", hint: ("[ ]", "-/+1 min")),
        KeyBinding([.char("]")], "", .replay(.jump(seconds: 60)), .replay, ""),
        KeyBinding([.char("+"), .char("=")], "+  -", .replay(.faster), .replay, "replay: play faster or slower", hint: ("+/-", "speed")),
        KeyBinding([.char("-"), .char("_")], "", .replay(.slower), .replay, ""),
        KeyBinding([.char("x")], "x", .stopContainer, .action, "stop the selected container", hint: ("x R K", "stop/restart/kill")),
        KeyBinding([.char("R")], "R", .restartContainer, .action, "restart the selected container"),
        KeyBinding([.char("K")], "K", .killContainer, .action, "kill the selected container"),
        KeyBinding([.char("T")], "T  I  9", .signal(15, "TERM"), .action, "send TERM, INT or KILL to the selected process (its host PID)", hint: ("T I 9", "signal")),
        KeyBinding([.char("I")], "", .signal(2, "INT"), .action, ""),
        KeyBinding([.char("9")], "", .signal(9, "KILL"), .action, ""),
        KeyBinding([.char("p")], "p", .power, .action, "power limit of the selected row's GPU: watts or % of default, d default, a all GPUs", hint: ("p", "power")),
        KeyBinding([.char("/")], "/", .filter, .always, "filter by container, service, pod, image, command, user or PID; enter keeps it, esc clears", hint: ("/", "filter")),
        KeyBinding([.char("s"), .char(">")], "s  >  <", .sortNext, .always, "sort by the next / previous column", hint: ("s", "sort")),
        KeyBinding([.char("<")], "", .sortPrevious, .always, ""),
        KeyBinding([.char("S"), .char("r")], "S  r", .reverseSort, .always, "reverse the sort order"),
        KeyBinding([.char("g")], "g", .toggleGrouping, .always, "grouped by container, or a flat list of processes", hint: ("g", "grouping")),
        KeyBinding([.up, .char("k")], "up down j k", .up, .always, "select a row; pgup pgdn home end"),
        KeyBinding([.down, .char("j")], "", .down, .always, ""),
        KeyBinding([.pageUp], "", .pageUp, .always, ""),
        KeyBinding([.pageDown], "", .pageDown, .always, ""),
        KeyBinding([.home], "", .home, .always, ""),
        KeyBinding([.end], "", .end, .always, ""),
        KeyBinding([.enter], "enter", .openDetail, .always, "details of the selected container: labels, GPU request, processes, history", hint: ("enter", "detail")),
        KeyBinding([.char("+"), .char("=")], "+  -", .faster, .live, "refresh faster or slower (0.1 s to 60 s)", hint: ("+/-", "interval")),
        KeyBinding([.char("-"), .char("_")], "", .slower, .live, ""),
        KeyBinding([.escape], "esc", .back, .always, "back, or clear the filter"),
    ]

    /// Whether `binding` is there for a dashboard that is (or is not) replaying, with
    /// actions on or off.
    public static func isActive(_ binding: KeyBinding, replaying: Bool, actionsEnabled: Bool) -> Bool {
        switch binding.scope {
        case .always: return true
        case .live: return !replaying
        case .replay: return replaying
        case .action: return actionsEnabled && !replaying
        }
    }

    /// The binding a key has now; nil when it does nothing.
    public static func binding(for key: Key, replaying: Bool, actionsEnabled: Bool) -> KeyBinding? {
        all.first { $0.keys.contains(key) && isActive($0, replaying: replaying, actionsEnabled: actionsEnabled) }
    }

    /// The help's lines (bindings without a label are folded into the line above them).
    public static func helpLines(replaying: Bool, actionsEnabled: Bool, actions: Bool) -> [(key: String, what: String)] {
        all.filter { !$0.label.isEmpty && isActive($0, replaying: replaying, actionsEnabled: actionsEnabled)
                     && ($0.scope == .action) == actions }
            .map { ($0.label, $0.help) }
    }
}
