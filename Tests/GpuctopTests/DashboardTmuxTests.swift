// The dashboard end to end in a real terminal (tmux): real containers from the
// test dockerd, the fake NVML, keys, resizes, quitting, and the terminal given
// back in its original state on q and on signals.
import Foundation
import XCTest
import TestSupport

final class DashboardTmuxTests: XCTestCase {
    var containers: [String] = []
    var children: [Child] = []
    let tag = "tui-\(UUID().uuidString.prefix(6).lowercased())"

    override func tearDown() {
        for c in containers { _ = try? Docker.run(["rm", "-f", c]) }
        children.forEach { $0.stop() }
    }

    /// A scenario with one GPU whose processes are the given host PIDs.
    func scenario(_ pids: [(Int32, Int)]) -> String {
        var s = """
        driver 580.95.05
        cuda 13000
        gpu
        name NVIDIA H200
        uuid GPU-tmux
        util 60 70
        memory_total 150754820096
        memory_used 25769803776
        temperature 50
        power 400000
        power_limit 700000
        power_min 200000
        power_max 700000
        mig 0 0
        """
        for (pid, sm) in pids { s += "\nprocess compute pid=\(pid) mem=\(sm << 28) sm=\(sm)" }
        return s + "\n"
    }

    struct Started {
        let session: TmuxSession
        let dir: URL
        var exitFile: String { dir.appendingPathComponent("exit").path }
        var pidFile: String { dir.appendingPathComponent("pid").path }
    }

    /// Runs gpuctop in tmux; when it exits, the shell records `stty -a` and the status.
    func startDashboard(_ scenario: String, width: Int = 200, height: Int = 50, extra: String = "") throws -> Started {
        let dir = TestEnv.temporaryDirectory("tui")
        let lib = try FakeNVML.privateCopy()
        let scen = try FakeNVML.scenario(scenario)
        let bin = TestEnv.gpuctopBinary.path
        let host = try Docker.host()
        let inner = "echo $$ > \(dir.path)/pid; exec \(bin) --nvml \(lib) --docker-host \(host) --interval 0.5 \(extra)"
        // The outer shell traps INT so that Ctrl-C reaches gpuctop and the shell lives on to report.
        let command = "trap true INT; stty -a > \(dir.path)/stty-before; sh -c \(TmuxSession.quote(inner)); echo $? > \(dir.path)/status; stty -a > \(dir.path)/stty-after; echo EXITED > \(dir.path)/exit; sleep 600"
        let session = try TmuxSession(command: command, width: width, height: height,
                                      environment: ["FAKE_NVML_SCENARIO": scen, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"])
        return Started(session: session, dir: dir)
    }

    func waitForExit(_ s: Started, timeout: Double = 10) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: s.exitFile) { return }
            usleep(100_000)
        }
        throw TestFailure("gpuctop did not exit; screen:\n\(try s.session.screen())")
    }

    func assertTerminalRestored(_ s: Started, file: StaticString = #filePath, line: UInt = #line) throws {
        let before = try String(contentsOf: s.dir.appendingPathComponent("stty-before"), encoding: .utf8)
        let after = try String(contentsOf: s.dir.appendingPathComponent("stty-after"), encoding: .utf8)
        XCTAssertEqual(before, after, "terminal modes differ after gpuctop", file: file, line: line)
        XCTAssertTrue(after.contains(" icanon") && after.contains(" echo "), after, file: file, line: line)
        let screen = try s.session.screen()
        XCTAssertFalse(screen.contains("CONTAINER"), "the dashboard was left on screen:\n\(screen)", file: file, line: line)
    }

    func testContainersSortFilterDetailResizeAndQuit() throws {
        let a = "\(tag)-trainer", b = "\(tag)-server"
        try Docker.runContainer(a, labels: ["com.docker.compose.project": "ml", "com.docker.compose.service": "train"])
        try Docker.runContainer(b, labels: ["com.docker.compose.project": "ml", "com.docker.compose.service": "serve"])
        containers = [a, b]
        children = [try Child(["/bin/sleep", "300"])]
        let s = try startDashboard(scenario([(try Docker.pid(a), 80), (try Docker.pid(b), 15), (children[0].pid, 5)]))
        let t = s.session

        var screen = try t.waitFor("both containers") { $0.contains(a) && $0.contains(b) }
        XCTAssertTrue(screen.contains("ml/train"), screen)
        XCTAssertTrue(screen.contains("sleep 1000"), "process rows beneath containers:\n\(screen)")
        XCTAssertTrue(screen.contains("host"), screen)
        XCTAssertTrue(screen.contains("H200"), screen)
        // Default sort: GPU memory, largest first: the trainer above the server.
        XCTAssertLessThan(screen.range(of: a)!.lowerBound, screen.range(of: b)!.lowerBound, screen)

        // Sort by CONTAINER name ascending: "...-server" before "...-trainer".
        // "<" steps back through the columns: GPU, IMAGE, SERVICE/POD, CONTAINER.
        try t.send("<", "<", "<", "<")
        screen = try t.waitFor("sort by name") { $0.contains("CONTAINER↑") || $0.contains("CONTAINER^") }
        XCTAssertLessThan(screen.range(of: b)!.lowerBound, screen.range(of: a)!.lowerBound, screen)

        // Filter: only the server remains.
        try t.send("/")
        try t.type("server")
        try t.send("Enter")
        screen = try t.waitFor("filtered") { $0.contains("filter \"server\"") }
        XCTAssertTrue(screen.contains(b), screen)
        XCTAssertFalse(screen.contains(a), screen)

        // Detail view of the selected (only) container.
        try t.send("Enter")
        screen = try t.waitFor("detail view") { $0.contains("GPU request") }
        XCTAssertTrue(screen.contains("com.docker.compose.service=serve"), screen)
        XCTAssertTrue(screen.contains("gpuctop-test/busybox"), screen)
        try t.send("Escape")
        try t.waitFor("main view") { $0.contains("CONTAINER") }
        try t.send("Escape")
        try t.waitFor("filter cleared") { $0.contains(a) }

        // Resize: compact at 80x24, a clear message below 40x10, full again after.
        try t.resize(width: 80, height: 24)
        screen = try t.waitFor("compact layout") { $0.split(separator: "\n").allSatisfy { $0.count <= 80 } && $0.contains("CONTAINER") }
        XCTAssertTrue(screen.contains("H200"), screen)
        try t.resize(width: 30, height: 8)
        try t.waitFor("too small")
        try t.resize(width: 200, height: 50)
        try t.waitFor("full layout") { $0.contains("driver 580.95.05") }

        try t.send("q")
        try waitForExit(s)
        XCTAssertEqual(try String(contentsOf: s.dir.appendingPathComponent("status"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), "0")
        try assertTerminalRestored(s)
    }

    func testSignalsRestoreTheTerminal() throws {
        // SEGV and ABRT stand for a crash: the handler restores the terminal, then dies of it.
        for signal in ["TERM", "HUP", "INT", "SEGV", "ABRT"] {
            let s = try startDashboard(scenario([]))
            try s.session.waitFor("the dashboard") { $0.contains("CONTAINER") }
            if signal == "INT" {
                try s.session.send("C-c")
            } else {
                let pid = try String(contentsOfFile: s.pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                _ = try Run.command(["/bin/kill", "-\(signal)", pid])
            }
            try waitForExit(s)
            try assertTerminalRestored(s)
            let status = try String(contentsOf: s.dir.appendingPathComponent("status"), encoding: .utf8)
            let number = ["TERM": SIGTERM, "HUP": SIGHUP, "INT": SIGINT, "SEGV": SIGSEGV, "ABRT": SIGABRT][signal]!
            XCTAssertEqual(status.trimmingCharacters(in: .whitespacesAndNewlines), "\(128 + number)", "died of SIG\(signal) after cleaning up")
        }
    }

    func testMonochromeVT100AndASCII() throws {
        let s = try startDashboard(scenario([]), extra: "--ascii")
        let screen = try s.session.waitFor("the dashboard") { $0.contains("CONTAINER") }
        XCTAssertFalse(screen.unicodeScalars.contains { $0.value > 0x7E }, "ASCII only with --ascii:\n\(screen)")
        try s.session.send("q")
        try waitForExit(s)

        let dir = TestEnv.temporaryDirectory("vt100")
        let lib = try FakeNVML.privateCopy()
        let t = try TmuxSession(command: "\(TestEnv.gpuctopBinary.path) --nvml \(lib) --docker-host \(try Docker.host()); echo EXITED; sleep 600",
                                width: 80, height: 24,
                                environment: ["TERM": "vt100", "LANG": "C", "LC_ALL": "C",
                                              "FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario([]))])
        let plain = try t.waitFor("vt100 dashboard") { $0.contains("CONTAINER") }
        XCTAssertFalse(plain.unicodeScalars.contains { $0.value > 0x7E }, "a non-UTF-8 locale gets ASCII:\n\(plain)")
        let colored = try t.screen(colors: true)
        XCTAssertNil(colored.range(of: "\u{1b}\\[(3[0-7]|38;|9[0-7])", options: .regularExpression), "no colours on a vt100:\n\(colored)")
        try t.send("q")
        try t.waitFor("EXITED")
        _ = dir
    }

    func testReplayPausesStepsJumpsAndRefusesActions() throws {
        let dir = TestEnv.temporaryDirectory("replay")
        let file = dir.appendingPathComponent("r.gpuctop").path
        let lib = try FakeNVML.privateCopy()
        let rec = try Run.gpuctop(["record", "-o", file, "--interval", "0.25", "--duration", "2", "--nvml", lib],
                                  environment: ["FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario([]))])
        XCTAssertEqual(rec.status, 0, rec.stderr)
        let t = try TmuxSession(command: "\(TestEnv.gpuctopBinary.path) replay \(file); echo EXITED $?; sleep 600",
                                environment: ["LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"])
        var screen = try t.waitFor("REPLAY")
        XCTAssertTrue(screen.contains("H200"), screen)
        XCTAssertTrue(screen.contains("read-only") || !screen.contains("actions on"), "no actions in a replay:\n\(screen)")
        try t.send("Space")
        screen = try t.waitFor("paused")
        let position = try XCTUnwrap(screen.firstMatch(of: #/REPLAY (\d+)\/(\d+)/#), screen)
        let total = Int(position.2)!
        XCTAssertGreaterThanOrEqual(total, 6, screen)
        try t.send("Left")
        let back = "REPLAY \(max(1, Int(position.1)! - 1))/\(total)"
        try t.waitFor(back)
        try t.send("]")
        try t.waitFor("REPLAY \(total)/\(total)")
        try t.send("[")
        try t.waitFor("REPLAY 1/\(total)")
        try t.send("q")
        try t.waitFor("EXITED 0")

        // A truncated recording replays what is valid and says where it stopped.
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        let cut = dir.appendingPathComponent("cut.gpuctop").path
        try data.prefix(data.count - 7).write(to: URL(fileURLWithPath: cut))
        let t2 = try TmuxSession(command: "\(TestEnv.gpuctopBinary.path) replay \(cut) 2>\(dir.path)/err; echo EXITED $?; sleep 600")
        try t2.waitFor("REPLAY")
        try t2.send("]")
        try t2.waitFor("recording truncated")
        try t2.send("q")
        try t2.waitFor("EXITED 0")
        let err = try String(contentsOfFile: "\(dir.path)/err", encoding: .utf8)
        XCTAssertTrue(err.contains("warning:"), err)
        XCTAssertEqual(err.split(separator: "\n").count, 1, err)
    }

    /// The README's first command: the committed recording from the real H200 replays
    /// with its containers on screen.
    func testReplayOfTheCommittedExampleShowsItsContainers() throws {
        let example = TestEnv.repoRoot.appendingPathComponent("examples/h200-containers.gpuctop").path
        let t = try TmuxSession(command: "\(TestEnv.gpuctopBinary.path) replay \(example) --at +100s; echo EXITED $?; sleep 600",
                                environment: ["LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"])
        let screen = try t.waitFor("the recorded containers") {
            $0.contains("research-trainer-1") && $0.contains("research-finetune-1") && $0.contains("research-inference-1")
        }
        XCTAssertTrue(screen.contains("REPLAY"), screen)
        XCTAssertTrue(screen.contains("H200"), screen)
        XCTAssertTrue(screen.contains("driver 580.159.04"), screen)
        XCTAssertTrue(screen.contains("serving/infer"), "the Kubernetes pod:\n\(screen)")
        XCTAssertTrue(screen.contains("research-notebook-1"), screen)
        XCTAssertTrue(screen.contains("idle"), "the idle GPU allocation:\n\(screen)")
        XCTAssertTrue(screen.contains("/work/load.py"), "the recorded command lines:\n\(screen)")
        try t.send("q")
        try t.waitFor("EXITED 0")
    }

    func testTerminalKindsAndNoColor() throws {
        for term in ["xterm", "screen", "tmux-256color"] {
            let t = try TmuxSession(command: "\(TestEnv.gpuctopBinary.path) --nvml \(try FakeNVML.privateCopy()); echo EXITED $?; sleep 600",
                                    width: 100, height: 30,
                                    environment: ["TERM": term, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                                                  "FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario([]))])
            let screen = try t.waitFor("the dashboard on \(term)") { $0.contains("CONTAINER") && $0.contains("H200") }
            XCTAssertTrue(screen.contains("█") || screen.contains("░"), "Unicode bars in a UTF-8 locale on \(term)")
            let colored = try t.screen(colors: true)
            XCTAssertTrue(["\u{1b}[36m", "\u{1b}[32m", "\u{1b}[33m", "\u{1b}[31m", "38;5;"].contains { colored.contains($0) },
                          "colours on \(term):\n\(colored)")
            try t.send("q")
            try t.waitFor("EXITED 0")
        }
        let t = try TmuxSession(command: "\(TestEnv.gpuctopBinary.path) --nvml \(try FakeNVML.privateCopy()); echo EXITED $?; sleep 600",
                                width: 100, height: 30,
                                environment: ["NO_COLOR": "1", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                                              "FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario([]))])
        try t.waitFor("the dashboard") { $0.contains("CONTAINER") }
        let plain = try t.screen(colors: true)
        XCTAssertNil(plain.range(of: "\u{1b}\\[[0-9;]*(3[0-7]|38;5;|9[0-7])", options: .regularExpression), "NO_COLOR:\n\(plain)")
        try t.send("q")
        try t.waitFor("EXITED 0")
    }

    func testDashboardRecordsWhatItShows() throws {
        let dir = TestEnv.temporaryDirectory("dashrec")
        let file = dir.appendingPathComponent("d.gpuctop").path
        let child = try Child(["/bin/sleep", "120"])
        children = [child]
        let t = try TmuxSession(command: "\(TestEnv.gpuctopBinary.path) --nvml \(try FakeNVML.privateCopy()) --interval 0.25 --record \(file); echo EXITED $?; sleep 600",
                                environment: ["LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                                              "FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario([(child.pid, 3)]))])
        try t.waitFor("the process") { $0.contains("pid \(child.pid)") }
        usleep(1_500_000)
        try t.send("q")
        try t.waitFor("EXITED 0")
        let r = try Run.gpuctop(["snapshot", "--from", file, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"pid\" : \(child.pid)"), r.stdout)
        XCTAssertTrue(r.stderr.isEmpty, "closed cleanly: \(r.stderr)")
        let bad = try Run.gpuctop(["--record", "/proc/no/such/file"], environment: [:])
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
    }
}
