// Parses gpuctop's command line by hand (no third-party packages): a command
// word, then options in any order. Errors are one line and exit status 2.

struct UsageError: Error, CustomStringConvertible {
    let description: String
}

struct Options {
    var command = "dashboard"
    var arguments: [String] = []
    var json = false
    var nvmlPath: String?
    var procRoot = "/proc"
    var dockerHost: String?
    var interval = 1.0
    var ascii = false
    var readOnly = false
}

enum CommandLineParser {
    static let commands: Set<String> = ["dashboard", "snapshot", "help", "version"]

    /// Options that take a value, and what they set.
    static func parse(_ args: [String], environment: [String: String]) throws -> Options {
        var o = Options()
        o.nvmlPath = environment["GPUCTOP_NVML"].flatMap { $0.isEmpty ? nil : $0 }
        o.readOnly = environment["GPUCTOP_READ_ONLY"] == "1"
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
                return try parse(expanded, environment: environment)
            }
            switch arg {
            case "--json": o.json = true
            case "--nvml": o.nvmlPath = try value(arg)
            case "--proc-root": o.procRoot = try value(arg)
            case "--docker-host": o.dockerHost = try value(arg)
            case "--interval":
                let text = try value(arg)
                guard let v = Double(text), v >= 0.25, v <= 60 else {
                    throw UsageError(description: "--interval must be a number of seconds from 0.25 to 60, not '\(text)'")
                }
                o.interval = v
            case "--ascii": o.ascii = true
            case "--read-only": o.readOnly = true
            case "-h", "--help": o.command = "help"; sawCommand = true
            case "-V", "--version": o.command = "version"; sawCommand = true
            default:
                if arg.hasPrefix("-") {
                    throw UsageError(description: "unknown option '\(arg)' (see gpuctop --help)")
                }
                if !sawCommand {
                    guard commands.contains(arg) else {
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

    static let help = """
    gpuctop: which container is using which GPU, how much, and at what power.

    Usage:
      gpuctop [OPTIONS]                 the dashboard
      gpuctop snapshot [--json]         print one snapshot and exit
      gpuctop --version | --help

    Options:
      --nvml PATH           libnvidia-ml to load (env GPUCTOP_NVML; default libnvidia-ml.so.1)
      --proc-root DIR       the host's /proc, when gpuctop runs in a container (default /proc)
      --docker-host URL     unix:///path of the Docker or Podman socket (env DOCKER_HOST)
      --interval SECONDS    refresh interval, 0.25 to 60 (default 1)
      --json                JSON output for snapshot (schema in README.md)
      --ascii               ASCII bars and borders only
      --read-only           no actions (env GPUCTOP_READ_ONLY=1)

    """
}
