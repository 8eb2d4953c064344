// gpuctop(1) and the bash and zsh completions are rendered from the text of --help: every
// command and every option the parsers accept must be in them, the roff must be clean for
// man and groff, and the completion scripts must complete in the real shells (bash driven
// through its completion variables, zsh through stand-ins for its completion builtins).
@testable import gpuctop
import Foundation
import TestSupport
import TUI
import XCTest

final class ManualPageAndCompletionTests: XCTestCase {
    private var containers: [String] = []

    override func tearDown() {
        if !containers.isEmpty { _ = try? Docker.run(["rm", "-f"] + containers) }
        containers = []
        super.tearDown()
    }

    /// Every option spelling the parsers in Sources/gpuctop accept: `case "--x"` in the
    /// global parser and `flag("--x")` / `value("--x")` in the commands.
    static func acceptedOptions() throws -> [String] {
        let dir = TestEnv.repoRoot.appendingPathComponent("Sources/gpuctop")
        let pattern = try NSRegularExpression(pattern: #"(?:case|flag\(|value\()\s*((?:"-{1,2}[A-Za-z][A-Za-z0-9-]*"(?:,\s*)?)+)"#)
        let literal = try NSRegularExpression(pattern: #""(-{1,2}[A-Za-z][A-Za-z0-9-]*)""#)
        var found: [String] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path) where file.hasSuffix(".swift") {
            let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            for m in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let group = String(text[Range(m.range(at: 1), in: text)!])
                for l in literal.matches(in: group, range: NSRange(group.startIndex..., in: group)) {
                    let option = String(group[Range(l.range(at: 1), in: group)!])
                    if !found.contains(option) { found.append(option) }
                }
            }
        }
        return found
    }

    func testEveryOptionTheParsersAcceptIsInTheManPageAndTheCompletions() throws {
        let options = try Self.acceptedOptions()
        // The scan itself must work: these are certainly accepted.
        for known in ["--nvml", "--json", "--listen", "--yes", "-o"] { XCTAssertTrue(options.contains(known), known) }
        let page = ManualPage.render()
        let bash = ShellCompletion.bash(), zsh = ShellCompletion.zsh()
        for option in options {
            XCTAssertTrue(page.contains("\\fB" + ManualPage.escape(option) + "\\fR"), "\(option) is not in gpuctop(1)")
            XCTAssertTrue(bash.contains(" " + option + " ") || bash.contains(" " + option + "\"") || bash.contains(option + ")"),
                          "\(option) is not offered by the bash completion")
            XCTAssertTrue(zsh.contains(" " + option + " ") || zsh.contains(" " + option + ")") || zsh.contains("(" + option),
                          "\(option) is not offered by the zsh completion")
        }
    }

    func testEveryCommandAndHelpEntryIsInTheManPage() throws {
        let page = ManualPage.render()
        let help = HelpText.current
        XCTAssertEqual(help.summary, "which container is using which GPU, how much, and at what power")
        XCTAssertTrue(page.contains(".SH NAME\ngpuctop \\- which container"), "the whatis line man-db indexes")
        for command in Commands.all {
            let entries = try XCTUnwrap(help.commands.first { $0.names == command.names }).entries
            XCTAssertFalse(entries.isEmpty, "\(command.names): no usage entry read")
            for entry in entries {
                // The synopsis line and the description, whole.
                XCTAssertTrue(page.contains(ManualPage.term(entry.term)), "usage '\(entry.term)' is not in gpuctop(1)")
                XCTAssertTrue(page.contains(ManualPage.line(entry.text)), "'\(entry.text)' is not in gpuctop(1)")
            }
            // Each command word in a synopsis line, except where an option stands for it
            // (gpuctop [OPTIONS] is the dashboard, --help and --version).
            for word in command.names {
                let named = entries.contains { HelpText.commandWords(in: $0.term, of: command.names).contains(word) }
                let byOption = entries.allSatisfy { HelpText.words($0.term).dropFirst().first?.hasPrefix("-") == true
                                                    || HelpText.words($0.term).dropFirst().first == "[OPTIONS]" }
                XCTAssertTrue(named || byOption, "\(word) is in no synopsis line of gpuctop(1)")
                if named { XCTAssertTrue(page.contains("\\fBgpuctop\\fR \\fB"), word) }
            }
        }
        // The Options table, row by row, and the prose around it.
        XCTAssertGreaterThanOrEqual(help.options.count, 10)
        for entry in help.options {
            XCTAssertTrue(page.contains(ManualPage.term(entry.term) + "\n" + ManualPage.line(ManualPage.sentence(entry.text))),
                          "option row '\(entry.term)' is not in gpuctop(1) with its text")
        }
        for paragraph in help.paragraphs { XCTAssertTrue(page.contains(ManualPage.line(paragraph)), paragraph) }
        XCTAssertTrue(help.paragraphs.contains { $0.hasPrefix("Actions ask first") })
        // The dashboard's keys, from the same table as its help page.
        for binding in KeyBindings.all where !binding.label.isEmpty {
            XCTAssertTrue(page.contains(ManualPage.line(ManualPage.sentence(binding.help))), "key '\(binding.label)'")
        }
        XCTAssertTrue(page.contains(".SH ENVIRONMENT\n.TP\n\\fBGPUCTOP_NVML\\fR\nSee \\fB\\-\\-nvml\\fR."))
        // The packaging commands stay out of --help and the page.
        for hidden in Commands.hidden {
            XCTAssertNotNil(Commands.named(hidden.names[0]))
            XCTAssertFalse(CommandLineParser.help.contains("gpuctop \(hidden.names[0])"))
            XCTAssertFalse(page.contains("\\fB\(hidden.names[0])\\fR"))
        }
    }

    func testReadingTheHelpLayout() {
        let entries = HelpText.entries("""
          gpuctop stop|restart CONTAINER... [--time N] [--yes]
                                    stop or restart
          --containerd-state DIR  containerd's state
                                  directory
          --json                JSON output
        """.split(separator: "\n"))
        XCTAssertEqual(entries, [
            HelpEntry(term: "gpuctop stop|restart CONTAINER... [--time N] [--yes]", text: "stop or restart"),
            HelpEntry(term: "--containerd-state DIR", text: "containerd's state directory"),
            HelpEntry(term: "--json", text: "JSON output"),
        ])
        XCTAssertEqual(HelpText.options(in: "gpuctop record -o|--output FILE [--interval S] [--textfile DIR [--once]]"), [
            HelpOption(names: ["-o", "--output"], value: "FILE"), HelpOption(names: ["--interval"], value: "S"),
            HelpOption(names: ["--textfile"], value: "DIR"), HelpOption(names: ["--once"], value: nil),
        ])
        XCTAssertEqual(HelpText.options(in: "--host [USER@]HOST[:PORT]"), [HelpOption(names: ["--host"], value: "[USER@]HOST[:PORT]")])
        XCTAssertEqual(HelpText.firstPositionals(in: ["gpuctop power [--json]", "gpuctop power set GPU|all WATTS"], of: ["power"]), ["set"])
        XCTAssertEqual(HelpText.firstPositionals(in: ["gpuctop snapshot --from FILE [--at TIME]"], of: ["snapshot"]), [])
        XCTAssertEqual(ManualPage.term("gpuctop kill CONTAINER... [--signal NAME]"),
                       "\\fBgpuctop\\fR \\fBkill\\fR \\fICONTAINER\\fR... [\\fB\\-\\-signal\\fR \\fINAME\\fR]")
        XCTAssertEqual(ManualPage.line(".hidden \\ request"), "\\&.hidden \\e request", "a roff request or escape from the text")
    }

    func testTheManPageIsCleanRoff() throws {
        let dir = TestEnv.temporaryDirectory("manpage")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("gpuctop.1").path
        try ManualPage.render().write(toFile: path, atomically: true, encoding: .utf8)
        let groff = try Run.command(["/usr/bin/groff", "-man", "-ww", "-z", path])
        XCTAssertEqual(groff.status, 0, groff.stderr)
        XCTAssertEqual(groff.stderr, "", "groff warnings")
        let man = try Run.command(["/usr/bin/man", "--warnings", "-l", path],
                                  environment: ["MANPAGER": "cat", "MANWIDTH": "100", "LC_ALL": "C.UTF-8"])
        XCTAssertEqual(man.status, 0, man.stderr)
        XCTAssertEqual(man.stderr, "", "man warnings")
        for heading in ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "KEYS", "ENVIRONMENT", "SEE ALSO"] {
            XCTAssertTrue(man.stdout.contains("\n" + heading + "\n"), heading)
        }
        XCTAssertTrue(man.stdout.contains("gpuctop export [--listen ADDR:PORT] [--textfile DIR [--once]]"), man.stdout)
    }

    // MARK: - bash

    /// The completions bash offers at the end of `line`, with COMP_* set as bash sets them
    /// for words split at blanks.
    static func bashComplete(_ line: String, script: String = ShellCompletion.bash(),
                             environment: [String: String] = [:]) throws -> [String] {
        let dir = TestEnv.temporaryDirectory("bash-completion")
        defer { try? FileManager.default.removeItem(at: dir) }
        let scriptPath = dir.appendingPathComponent("gpuctop").path
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let driver = #"""
        source "$1"
        COMP_LINE=$2; COMP_POINT=${#2}
        read -ra COMP_WORDS <<< "$2"
        [[ $2 == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
        _gpuctop
        printf '%s\n' "${COMPREPLY[@]}"
        """#
        let r = try Run.command(["/bin/bash", "--norc", "--noprofile", "-c", driver, "bash", scriptPath, line],
                                environment: environment, timeout: 30)
        guard r.status == 0, r.stderr.isEmpty else { throw TestFailure("bash completion of '\(line)': \(r.status) \(r.stderr)") }
        return r.stdout.split(separator: "\n").map(String.init)
    }

    func testBashCompletesCommandsOptionsAndValues() throws {
        let script = ShellCompletion.bash()
        let syntax = try Run.command(["/bin/bash", "-n", "-c", script])
        XCTAssertEqual(syntax.status, 0, syntax.stderr)
        XCTAssertTrue(script.contains("\ncomplete -F _gpuctop gpuctop\n"))
        XCTAssertEqual(try Self.bashComplete("gpuctop st"), ["stop"])
        XCTAssertEqual(try Self.bashComplete("gpuctop re"), ["record", "replay", "restart"])
        XCTAssertEqual(Set(try Self.bashComplete("gpuctop ")), Set(Commands.all.flatMap { $0.names }))
        XCTAssertEqual(try Self.bashComplete("gpuctop --interval 2 sn"), ["snapshot"], "an option's value is not the command")
        XCTAssertEqual(try Self.bashComplete("gpuctop snapshot --e"), ["--energy"])
        XCTAssertEqual(try Self.bashComplete("gpuctop profile --st"), ["--startup"])
        XCTAssertEqual(try Self.bashComplete("gpuctop stop --t"), ["--time"])
        XCTAssertEqual(try Self.bashComplete("gpuctop kill --t"), [], "--time is stop's and restart's")
        XCTAssertEqual(try Self.bashComplete("gpuctop --read"), ["--read-only"])
        XCTAssertEqual(try Self.bashComplete("gpuctop signal 42 --signal "), ["TERM", "INT", "KILL", "HUP", "USR1", "USR2"])
        XCTAssertEqual(try Self.bashComplete("gpuctop power "), ["set"])
        XCTAssertEqual(try Self.bashComplete("gpuctop power set "), [])
        XCTAssertEqual(try Self.bashComplete("gpuctop co"), ["completion"])
        XCTAssertEqual(try Self.bashComplete("gpuctop completion "), ["bash", "zsh"])
        XCTAssertEqual(try Self.bashComplete("gpuctop --interval "), [], "nothing to guess")

        let dir = TestEnv.temporaryDirectory("complete-files")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("records"), withIntermediateDirectories: true)
        try Data().write(to: dir.appendingPathComponent("run.rec"))
        XCTAssertEqual(try Self.bashComplete("gpuctop replay \(dir.path)/ru"), ["\(dir.path)/run.rec"])
        XCTAssertEqual(try Self.bashComplete("gpuctop record -o \(dir.path)/ru"), ["\(dir.path)/run.rec"])
        XCTAssertEqual(try Self.bashComplete("gpuctop export --textfile \(dir.path)/r"), ["\(dir.path)/records"], "directories only")
    }

    func testBashCompletesContainerNamesFromTheEngine() throws {
        let host = try Docker.host()
        let name = "cmpl-\(UUID().uuidString.prefix(8).lowercased())"
        containers.append(name)
        try Docker.runContainer(name)
        let bin = TestEnv.gpuctopBinary.path
        // The name comes from `gpuctop complete containers` against the engine the line names.
        XCTAssertEqual(try Self.bashComplete("\(bin) --docker-host \(host) stop \(name.prefix(9))"), [name])
        XCTAssertEqual(try Self.bashComplete("\(bin) kill \(name.prefix(9))", environment: ["DOCKER_HOST": host]), [name])
        XCTAssertEqual(try Self.bashComplete("\(bin) --docker-host \(host) snapshot \(name.prefix(9))"), [],
                       "snapshot takes no container")
        let listed = try Run.gpuctop(["--docker-host", host, "complete", "containers"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.split(separator: "\n").contains(Substring(name)))
        // No engine: nothing offered, nothing printed into the user's terminal.
        XCTAssertEqual(try Self.bashComplete("\(bin) --docker-host unix:///nonexistent/docker.sock stop "), [])
    }

    func testHostileContainerNamesNeverReachTheShell() throws {
        // What `complete containers` passes on: Docker's own name rule.
        let hostile = ["ok-1", "$(touch /tmp/x)", "a b", "a\u{1b}[2J", "quote'", "semi;colon", "new\nline", "-dash",
                       "ünïcode", "", "ok-1", "b.c_d"]
        XCTAssertEqual(CompleteCommand.completableNames(hostile), ["b.c_d", "ok-1"])

        // And the script hands whatever it is given to the shell as data, never as code: an
        // engine printing `$(...)` (through a stand-in gpuctop) creates no file.
        let dir = TestEnv.temporaryDirectory("hostile-complete")
        defer { try? FileManager.default.removeItem(at: dir) }
        let marker = dir.appendingPathComponent("ran").path
        let fake = dir.appendingPathComponent("gpuctop").path
        try "#!/bin/sh\nprintf '%s\\n' 'x$(touch \(marker))' 'x`touch \(marker)`' 'x*' 'xok'\n"
            .write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let offered = try Self.bashComplete("\(fake) stop x")
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "a name was run as code")
        XCTAssertEqual(offered, ["x$(touch \(marker))", "x`touch \(marker)`", "x*", "xok"], "offered literally, unexpanded")
    }

    // MARK: - zsh

    func testZshCompletesCommandsOptionsAndContainers() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/zsh") else {
            throw XCTSkip("zsh is not installed (scripts/test.sh installs it)")
        }
        let dir = TestEnv.temporaryDirectory("zsh-completion")
        defer { try? FileManager.default.removeItem(at: dir) }
        let scriptPath = dir.appendingPathComponent("_gpuctop").path
        try ShellCompletion.zsh().write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let syntax = try Run.command(["/usr/bin/zsh", "-n", scriptPath])
        XCTAssertEqual(syntax.status, 0, syntax.stderr)

        // Outside the line editor zsh's completion builtins do nothing: stand-ins print what
        // they are given, and the function runs with the words set as the editor sets them.
        let driver = #"""
        compadd() { [[ $1 == -- ]] && shift; print -l -- "$@" }
        _describe() { local a; for a in ${(P)4}; do print -- "${a%%:*}"; done }
        _files() { print -- "FILES $*" }
        _message() { print -- "MESSAGE" }
        compdef() { }
        source "$1"
        words=(${(z)2})
        [[ $2 == *" " ]] && words+=("")
        CURRENT=${#words}
        PREFIX=${words[CURRENT]}
        _gpuctop
        """#
        func complete(_ line: String, _ env: [String: String] = [:]) throws -> [String] {
            let r = try Run.command(["/usr/bin/zsh", "-f", "-c", driver, "zsh", scriptPath, line], environment: env)
            guard r.status == 0, r.stderr.isEmpty else { throw TestFailure("zsh completion of '\(line)': \(r.status) \(r.stderr)") }
            return r.stdout.split(separator: "\n").map(String.init)
        }
        // compadd gets every candidate; zsh itself filters by the prefix.
        XCTAssertEqual(Set(try complete("gpuctop st")), Set(Commands.all.flatMap { $0.names }))
        XCTAssertTrue(try complete("gpuctop snapshot --e").contains("--energy"))
        XCTAssertFalse(try complete("gpuctop kill --t").contains("--time"))
        XCTAssertEqual(try complete("gpuctop signal 1 --signal "), ["TERM", "INT", "KILL", "HUP", "USR1", "USR2"])
        XCTAssertEqual(try complete("gpuctop replay "), ["FILES "])
        XCTAssertEqual(try complete("gpuctop export --textfile "), ["FILES -/"])
        XCTAssertEqual(try complete("gpuctop power "), ["set"])
        XCTAssertEqual(try complete("gpuctop completion "), ["bash", "zsh"])

        let host = try Docker.host()
        let name = "cmpz-\(UUID().uuidString.prefix(8).lowercased())"
        containers.append(name)
        try Docker.runContainer(name)
        let names = try complete("\(TestEnv.gpuctopBinary.path) --docker-host \(host) restart ")
        XCTAssertTrue(names.contains(name), "\(names)")
    }
}
