// Every gpuctop command in one list (the idea of swift-argument-parser's
// `CommandConfiguration(subcommands:)`, written by hand: we take no packages).
// The parser takes its command words from here, main runs what it finds here, and
// --help prints each command's usage from here, so a command cannot be known to one
// of them and missing from another.

/// One command: the words that name it, its lines in --help, and how it runs.
protocol Command {
    /// Command words; the first is the command's own ("stop", "restart", "kill" share one type).
    static var names: [String] { get }
    /// Its lines in the Usage section of --help (each starting "  gpuctop").
    static var usage: String { get }
    /// Runs it; the exit status (ExitStatus).
    static func run(_ options: Options) -> Int32
}

enum Commands {
    /// In the order --help lists them.
    static let all: [Command.Type] = [
        DashboardCommand.self, SnapshotCommand.self, RecordCommand.self, ReplayCommand.self,
        ContainerCommand.self, SignalCommand.self, PowerCommand.self, ExportCommand.self,
        ProfileCommand.self, CompletionCommand.self, VersionCommand.self, HelpCommand.self,
    ]

    /// Commands for packaging and for the completion scripts, left out of --help
    /// (PackagingCommands.swift).
    static let hidden: [Command.Type] = [ManPageCommand.self, CompleteCommand.self]

    /// The command a word names; nil for an unknown word.
    static func named(_ word: String) -> Command.Type? {
        (all + hidden).first { $0.names.contains(word) }
    }

    /// The Usage section of --help.
    static var usage: String { all.map { $0.usage }.joined(separator: "\n") }
}

enum ContainerCommand: Command {
    static let names = ["stop", "restart", "kill"]
    static let usage = """
      gpuctop stop|restart CONTAINER... [--time N] [--yes]
                                        stop or restart Docker or Podman containers (name, id or
                                        a unique prefix); Kubernetes' are refused (kubectl's line)
      gpuctop kill CONTAINER... [--signal NAME] [--yes]
                                        signal containers (default KILL)
    """
    static func run(_ options: Options) -> Int32 { ActionCommands.runContainer(options.command, options) }
}

enum SignalCommand: Command {
    static let names = ["signal"]
    static let usage = """
      gpuctop signal PID [--signal TERM|INT|KILL|HUP|USR1|USR2|N] [--start-time TICKS] [--yes]
                                        signal a host process (default TERM), only while the
                                        PID is the process asked about: the one that started at
                                        TICKS (snapshot --json's startTicks) or has the PID when asked
    """
    static func run(_ options: Options) -> Int32 { ActionCommands.runSignal(options) }
}

enum PowerCommand: Command {
    static let names = ["power"]
    static let usage = """
      gpuctop power [--json]            power draw, limits and range of every GPU
      gpuctop power set GPU|all WATTS|PERCENT%|default [--dry-run] [--yes]
                                        set a power limit (250, 250W, 250.5, 80% of the default);
                                        it lasts until the driver reloads or the machine reboots
    """
    static func run(_ options: Options) -> Int32 { ActionCommands.runPower(options) }
}

enum VersionCommand: Command {
    static let names = ["version"]
    static let usage = "  gpuctop -V|--version              the version"
    static func run(_ options: Options) -> Int32 {
        writeOut("gpuctop \(gpuctopVersion)\n")
        return ExitStatus.ok
    }
}

enum HelpCommand: Command {
    static let names = ["help"]
    static let usage = "  gpuctop -h|--help                 this help"
    static func run(_ options: Options) -> Int32 {
        writeOut(CommandLineParser.help)
        return ExitStatus.ok
    }
}
