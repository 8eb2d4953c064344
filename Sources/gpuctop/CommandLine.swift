// Parses gpuctop's command line by hand (no third-party packages): a command
// word, then options in any order. Global options are taken here; everything else
// after the command word is left in `arguments` for that command to parse (see
// CommandArguments), so each command owns its own flags. Errors are one line and
// exit status 2.
import Model
import TUI
import Telemetry

struct UsageError: Error, CustomStringConvertible {
    let description: String
}

struct Options {
    var command = "dashboard"
    var arguments: [String] = []
    var nvmlPath: String?
    /// `--proc-root`, else `/proc` under `--host-root`, else /proc.
    var procRoot = "/proc"
    var procRootGiven = false
    var dockerHost: String?
    /// `--host-root`: the host's / when gpuctop runs in a container.
    var hostRoot: String?
    var podmanHost: String?
    var containerdState: String?
    var crioState: String?
    var interval = 1.0
    var ascii = false
    var readOnly = false
    /// `--host` (repeatable) and `--hosts-file`: the dashboard over ssh (RemoteHosts.swift).
    var hosts: [String] = []
    var hostsFile: String?
    /// Measurement knobs for `profile` on a real GPU (env GPUCTOP_GPM_PERIOD seconds, 0 = off;
    /// GPUCTOP_WATCH_XID=0): what each costs is measured by turning it off.
    var gpmPeriod: Double?
    var watchXID = true
}

extension Options {
    /// What the samplers need of the command line; every sampling command starts here.
    func samplerOptions() -> SamplerOptions {
        var o = SamplerOptions(nvmlPath: nvmlPath, procRoot: procRoot, dockerHost: dockerHost)
        o.engines.hostPaths = HostPaths(root: hostRoot ?? "/")
        o.engines.podmanHost = podmanHost
        o.engines.containerdState = containerdState
        o.engines.crioState = crioState
        if let gpmPeriod { o.gpmPeriod = gpmPeriod }
        o.watchXID = o.watchXID && watchXID
        return o
    }
}

enum CommandLineParser {
    /// Options that take a value, and what they set.
    static func parse(_ args: [String], environment: [String: String]) throws -> Options {
        var o = try parseWords(args, environment: environment)
        if !o.procRootGiven, let root = o.hostRoot { o.procRoot = HostPaths(root: root).path("/proc") }
        return o
    }

    private static func parseWords(_ args: [String], environment: [String: String]) throws -> Options {
        var o = Options()
        o.nvmlPath = environment["GPUCTOP_NVML"].flatMap { $0.isEmpty ? nil : $0 }
        o.readOnly = try readOnlySetting(environment["GPUCTOP_READ_ONLY"])
        o.podmanHost = environment["GPUCTOP_PODMAN_HOST"].flatMap { $0.isEmpty ? nil : $0 }
        o.gpmPeriod = environment["GPUCTOP_GPM_PERIOD"].flatMap(Double.init).flatMap { $0 >= 0 && $0 <= 3600 ? $0 : nil }
        o.watchXID = environment["GPUCTOP_WATCH_XID"] != "0"
        var i = 0
        var sawCommand = false
        func value(_ name: String) throws -> String {
            i += 1
            guard i < args.count else { throw UsageError(description: "\(name) needs a value") }
            return args[i]
        }
        while i < args.count {
            let arg = args[i]
            // Accept --name=value as well as --name value.
            if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
                let name = String(arg[..<eq])
                let rest = String(arg[arg.index(after: eq)...])
                var expanded = args
                expanded.replaceSubrange(i...i, with: [name, rest])
                return try parseWords(expanded, environment: environment)
            }
            switch arg {
            case "--nvml": o.nvmlPath = try value(arg)
            case "--proc-root": o.procRoot = try value(arg); o.procRootGiven = true
            case "--docker-host": o.dockerHost = try value(arg)
            case "--podman-host": o.podmanHost = try value(arg)
            case "--host-root": o.hostRoot = try absolutePath(arg, try value(arg))
            case "--containerd-state": o.containerdState = try absolutePath(arg, try value(arg))
            case "--crio-state": o.crioState = try absolutePath(arg, try value(arg))
            case "--interval":
                let text = try value(arg)
                guard let v = Double(text), v >= 0.1, v <= 60 else {
                    throw UsageError(description: "--interval must be a number of seconds from 0.1 to 60, not '\(text)'")
                }
                o.interval = v
            case "--host": o.hosts.append(try value(arg))
            case "--hosts-file": o.hostsFile = try value(arg)
            case "--record":
                // The dashboard's own option with a value: keep both for DashboardCommand.
                o.arguments += [arg, try value(arg)]
            case "--ascii": o.ascii = true
            case "--read-only": o.readOnly = true
            case "-h", "--help": o.command = "help"; sawCommand = true
            case "-V", "--version": o.command = "version"; sawCommand = true
            default:
                if arg.hasPrefix("-") && arg != "-" {
                    // Not a global option: the command's own, or unknown (the command says so).
                    guard sawCommand || o.command != "dashboard" else {
                        throw UsageError(description: "unknown option '\(arg)' (see gpuctop --help)")
                    }
                    o.arguments.append(arg)
                } else if !sawCommand {
                    guard Commands.named(arg) != nil else {
                        throw UsageError(description: "unknown command '\(arg)' (see gpuctop --help)")
                    }
                    o.command = arg
                    sawCommand = true
                } else {
                    o.arguments.append(arg)
                }
            }
            i += 1
        }
        return o
    }

    /// A directory option's value: absolute, or refused (a relative one would depend on where
    /// gpuctop happens to be started).
    static func absolutePath(_ name: String, _ value: String) throws -> String {
        guard value.hasPrefix("/") else {
            throw UsageError(description: "\(name) needs an absolute path, not '\(Sanitize.visible(value))'")
        }
        return value
    }

    /// GPUCTOP_READ_ONLY: the usual spellings of on and off; anything else is refused
    /// rather than read as "off", so a typo cannot leave actions on (fail closed).
    static func readOnlySetting(_ value: String?) throws -> Bool {
        guard let value else { return false }
        switch value.lowercased() {
        case "1", "true", "yes", "on": return true
        case "", "0", "false", "no", "off": return false
        default:
            // Shown visible: the value comes from the environment and may hold escapes.
            throw UsageError(description: "GPUCTOP_READ_ONLY=\(Sanitize.visible(value)): expected 1, true, yes, on, 0, false, no or off")
        }
    }

    static var help: String {
        """
        gpuctop: which container is using which GPU, how much, and at what power.

        Usage:
        \(Commands.usage)


        """ + details
    }

    static let details = """
    Actions ask first on a terminal (--yes skips the question; without a terminal --yes
    is required) and are logged to $XDG_STATE_HOME/gpuctop/actions.log (default
    ~/.local/state/gpuctop/actions.log). Exit status: 0 done, 1 failed, 2 bad command
    line, 3 refused (not confirmed, read-only, ambiguous, out of range, no --yes).

    TIME: seconds since 1970, 2026-11-22T03:04:05Z, HH:MM[:SS] (local, on the recording's
    first day) or +90s / +5m from the recording's start.

    Options:
      --nvml PATH           libnvidia-ml to load (env GPUCTOP_NVML; default libnvidia-ml.so.1)
      --proc-root DIR       the host's /proc, when gpuctop runs in a container (default /proc)
      --docker-host URL     unix:///path of the Docker socket (env DOCKER_HOST; default
                            /var/run/docker.sock when it exists)
      --podman-host URL     unix:///path of a Podman socket, read and acted on beside Docker
                            (env GPUCTOP_PODMAN_HOST; the rootful /run/podman/podman.sock and
                            $XDG_RUNTIME_DIR/podman/podman.sock are used when they exist)
      --host-root DIR       the host's / when gpuctop runs in a container (-v /:/host:ro):
                            /proc, engine sockets, containerd and CRI-O state and kubelet
                            logs are looked up under DIR (--proc-root still wins for /proc)
      --containerd-state DIR  containerd's state directory (default /run/containerd)
      --crio-state DIR      CRI-O's storage run root (default /run/containers/storage, then
                            /var/lib/containers/storage, read where /run/crio exists)
      --interval SECONDS    refresh interval, 0.1 to 60 (default 1)
      --json                JSON output for snapshot and power (schema in README.md)
      --ascii               ASCII bars and borders only
      --read-only           no actions (env GPUCTOP_READ_ONLY=1)
      -y|--yes              an action without its question (required without a terminal)
      --record FILE         the dashboard also records every refresh into FILE
      --host [USER@]HOST[:PORT]  a host to watch over ssh (repeatable; env GPUCTOP_SSH adds ssh
                            options, GPUCTOP_REMOTE_COMMAND replaces the remote 'gpuctop')
      --hosts-file FILE     hosts to watch, one per line (# comments)

    """
}

/// A command's own arguments: flags with or without values, and positionals.
/// Each command takes what it knows and calls `finish()`, which refuses the rest.
struct CommandArguments {
    let command: String
    private var items: [String]

    init(command: String, _ items: [String]) {
        self.command = command
        self.items = items
    }

    /// True (and consumed) if `name` is present.
    mutating func flag(_ name: String) -> Bool {
        guard let i = items.firstIndex(of: name) else { return false }
        items.remove(at: i)
        return true
    }

    /// The value after `name` (or in `name=value`), consumed; nil when absent.
    mutating func value(_ name: String) throws -> String? {
        if let i = items.firstIndex(where: { $0.hasPrefix(name + "=") }) {
            let v = String(items[i].dropFirst(name.count + 1))
            items.remove(at: i)
            return v
        }
        guard let i = items.firstIndex(of: name) else { return nil }
        guard i + 1 < items.count else { throw UsageError(description: "\(name) needs a value") }
        let v = items[i + 1]
        items.removeSubrange(i...(i + 1))
        return v
    }

    /// The remaining positionals; refuses any flag left over.
    func finish() throws -> [String] {
        if let unknown = items.first(where: { $0.hasPrefix("-") && $0 != "-" }) {
            throw UsageError(description: "unknown option '\(unknown)' for '\(command)' (see gpuctop --help)")
        }
        return items
    }
}
