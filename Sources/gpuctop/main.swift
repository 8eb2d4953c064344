// gpuctop's entry point: parse the command line, run one command, exit.
import CMalloc
import Glibc
import TUI

func printError(_ message: String) {
    fputs("gpuctop: \(message)\n", stderr)
}

func writeOut(_ text: String) {
    fputs(text, stdout)
    fflush(stdout)
}

// Memory that stays predictable over days: one malloc arena for our few threads (a
// per-thread arena kept tens of MiB of freed memory resident for the sampler thread),
// and blocks from 4 MiB up always mapped and unmapped, rather than glibc raising the
// mmap threshold after the first free and then serving multi-MiB blocks from an arena
// it never trims (seen in the soak: RSS 13 -> 38 MiB). Below 4 MiB stays in the heap:
// a frame (10,000 cells at 200x50, more on big terminals) must not be mapped afresh
// and page-faulted in on every refresh.
_ = gpuctop_mallopt(gpuctop_m_arena_max(), 1)
_ = gpuctop_mallopt(gpuctop_m_mmap_threshold(), 4 << 20)

let options: Options
do {
    options = try CommandLineParser.parse(Array(CommandLine.arguments.dropFirst()),
                                          environment: Environment.current())
} catch {
    printError("\(error)")
    exit(ExitStatus.usage)
}

if (!options.hosts.isEmpty || options.hostsFile != nil) && options.command != "dashboard" {
    printError("--host and --hosts-file are for the dashboard, not '\(options.command)'")
    exit(ExitStatus.usage)
}

// The parser accepts only words from the list, so the command is always found.
guard let command = Commands.named(options.command) else {
    printError("unknown command '\(options.command)' (see gpuctop --help)")
    exit(ExitStatus.usage)
}
exit(command.run(options))
