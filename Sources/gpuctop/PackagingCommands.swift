// Commands for packaging and for the shell:
//   gpuctop completion bash|zsh  the completion script (ShellCompletion), in --help
//   gpuctop manpage              gpuctop(1) in roff (ManualPage), not in --help
//   gpuctop complete containers  container names, one a line, for the completion scripts,
//                                not in --help (Commands.hidden)
// scripts/package.sh runs the first two on the release binary, so what is installed
// describes exactly the binary installed with it.
import DockerSocket

enum ManPageCommand: Command {
    static let names = ["manpage"]
    static let usage = "  gpuctop manpage                   gpuctop(1) in roff"
    static func run(_ options: Options) -> Int32 {
        guard options.arguments.isEmpty else {
            printError("'manpage' takes no arguments")
            return ExitStatus.usage
        }
        writeOut(ManualPage.render())
        return ExitStatus.ok
    }
}

enum CompletionCommand: Command {
    static let names = ["completion"]
    static let usage = """
      gpuctop completion bash|zsh       the shell's completion script (the packages install it;
                                        else: source <(gpuctop completion bash))
    """
    static func run(_ options: Options) -> Int32 {
        switch options.arguments {
        case ["bash"]: writeOut(ShellCompletion.bash())
        case ["zsh"]: writeOut(ShellCompletion.zsh())
        default:
            printError("usage: gpuctop completion bash|zsh")
            return ExitStatus.usage
        }
        return ExitStatus.ok
    }
}

enum CompleteCommand: Command {
    static let names = ["complete"]
    static let usage = "  gpuctop complete containers       container names, one a line (for completion)"
    static func run(_ options: Options) -> Int32 {
        guard options.arguments == ["containers"] else {
            printError("usage: gpuctop complete containers")
            return ExitStatus.usage
        }
        // Quick or nothing: a shell waits for this while the user presses tab.
        do {
            let client = try DockerClient(dockerHost: options.dockerHost,
                                          options: .init(connectTimeout: 1, readTimeout: 2, maxBodyBytes: 4 << 20))
            defer { client.close() }
            let names = try client.listContainers(all: true).flatMap(\.names)
            writeOut(completableNames(names).map { $0 + "\n" }.joined())
            return ExitStatus.ok
        } catch {
            printError("\(error)")
            return ExitStatus.failure
        }
    }

    /// Names a shell may be handed: Docker's own rule ([a-zA-Z0-9][a-zA-Z0-9_.-]*), so that
    /// nothing an engine reports can put a blank, a quote, an escape or a `$(...)` on the
    /// user's command line. Sorted, each once.
    static func completableNames(_ names: [String]) -> [String] {
        let good = names.filter { name in
            guard let first = name.first, first.isASCII, first.isLetter || first.isNumber, name.utf8.count <= 255 else { return false }
            return name.allSatisfy(ShellCompletion.isSafeWordCharacter)
        }
        return Array(Set(good)).sorted()
    }
}
