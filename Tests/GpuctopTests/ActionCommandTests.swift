// The action commands end to end through the real binary: `power` against the fake NVML
// (its set log records every set call), `signal` against real child processes, and
// `stop`/`restart`/`kill` against the private test dockerd (GPUCTOP_TEST_DOCKER_HOST).
// Every test points XDG_STATE_HOME at its own directory and reads the audit log there.
import Actions
import Foundation
import Model
import TestSupport
import XCTest

final class ActionCommandTests: XCTestCase {
    var children: [Child] = []
    var containers: [String] = []
    var stateHome = ""
    var setLog = ""

    override func setUp() {
        let dir = TestEnv.temporaryDirectory("actions")
        stateHome = dir.appendingPathComponent("state").path
        setLog = dir.appendingPathComponent("set.log").path
    }

    override func tearDown() {
        children.forEach { $0.stop() }
        children = []
        if !containers.isEmpty { _ = try? Docker.run(["rm", "-f"] + containers) }
        containers = []
    }

    var auditLines: [String] {
        let text = (try? String(contentsOfFile: stateHome + "/gpuctop/actions.log", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    /// The fake's set calls as "gpu=N mw=M result=R".
    var setCalls: [String] {
        guard let text = try? String(contentsOfFile: setLog, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map { line in
            line.split(separator: " ").filter { !$0.hasPrefix("uuid=") && $0 != "set_power_limit" }.joined(separator: " ")
        }
    }

    func gpuctop(_ args: [String], env: [String: String] = [:]) throws -> RunResult {
        var environment = ["XDG_STATE_HOME": stateHome, "GPUCTOP_READ_ONLY": ""]
        environment.merge(env) { $1 }
        return try Run.gpuctop(args, environment: environment, timeout: 60)
    }

    func assertOneLineErrors(_ r: RunResult, file: StaticString = #filePath, line: UInt = #line) {
        for l in r.stderr.split(separator: "\n") {
            XCTAssertTrue(l.hasPrefix("gpuctop: "), "stderr line without prefix: \(l)", file: file, line: line)
        }
    }

    // MARK: - power

    /// GPU 0: 100..400 W, default 300 W, limit 250 W. GPU 1: 150..350 W, default 350 W, limit 350 W.
    static let twoGPUs = Scenarios.twoPowerGPUs + "\n"

    func power(_ args: [String], scenario: String = twoGPUs, env: [String: String] = [:]) throws -> RunResult {
        var environment = ["FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario), "FAKE_NVML_SET_LOG": setLog]
        environment.merge(env) { $1 }
        return try gpuctop(["power"] + args + ["--nvml", try FakeNVML.privateCopy()], env: environment)
    }

    func testPowerTableAndJSON() throws {
        let r = try power([])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, r.stdout)
        for header in ["GPU", "NAME", "DRAW", "LIMIT", "ENFORCED", "DEFAULT", "RANGE"] {
            XCTAssertTrue(lines[0].contains(header), lines[0])
        }
        XCTAssertTrue(lines[1].contains("NVIDIA A") && lines[1].contains("120 W") && lines[1].contains("250 W")
                      && lines[1].contains("300 W") && lines[1].contains("100..400 W"), lines[1])
        XCTAssertTrue(lines[2].contains("150..350 W"), lines[2])

        let j = try power(["--json"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        let gpus = try XCTUnwrap(json["gpus"] as? [[String: Any]])
        XCTAssertEqual(gpus.count, 2)
        XCTAssertEqual(gpus[0]["powerDraw"] as? Int, 120_000)
        XCTAssertEqual(gpus[0]["powerLimit"] as? Int, 250_000)
        XCTAssertEqual(gpus[0]["powerLimitEnforced"] as? Int, 250_000)
        XCTAssertEqual(gpus[0]["powerLimitDefault"] as? Int, 300_000)
        XCTAssertEqual(gpus[0]["powerLimitMin"] as? Int, 100_000)
        XCTAssertEqual(gpus[1]["powerLimitMax"] as? Int, 350_000)
        XCTAssertEqual(gpus[1]["uuid"] as? String, "GPU-bbbbbbbb-0000-0000-0000-000000000000")
        XCTAssertTrue(setCalls.isEmpty)
        XCTAssertTrue(auditLines.isEmpty, "reading is not an action")

        let none = try gpuctop(["power", "--nvml", "/nonexistent/libnvidia-ml.so.1"])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("no NVIDIA driver"), none.stderr)
    }

    func testSetOneGPU() throws {
        let r = try power(["set", "0", "200W", "--yes"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "GPU 0 (NVIDIA A): power limit 250 W -> 200 W (enforced 200 W)\n")
        XCTAssertEqual(setCalls, ["gpu=0 mw=200000 result=SUCCESS"])
        XCTAssertEqual(auditLines.count, 1)
        let line = auditLines[0]
        XCTAssertTrue(line.contains("action=power-set gpu=0 gpu_uuid=GPU-aaaaaaaa-0000-0000-0000-000000000000"), line)
        XCTAssertTrue(line.contains(#"previous="250 W" result=ok detail="set to 200 W, enforced 200 W""#), line)
        XCTAssertTrue(line.contains(" uid=\(getuid()) "), line)
        XCTAssertTrue(line.hasPrefix("time=20"), line)
    }

    func testSetWithDecimalsPercentAndDefault() throws {
        XCTAssertEqual(try power(["set", "1", "200.5", "--yes"]).status, 0)
        XCTAssertEqual(try power(["set", "0", "80%", "--yes"]).status, 0)          // 80 % of 300 W
        let d = try power(["set", "0", "default", "--yes"])                         // 300 W
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertEqual(d.stdout, "GPU 0 (NVIDIA A): power limit 250 W -> 300 W (enforced 300 W)\n")
        XCTAssertEqual(setCalls, ["gpu=1 mw=200500 result=SUCCESS", "gpu=0 mw=240000 result=SUCCESS",
                                  "gpu=0 mw=300000 result=SUCCESS"])
        XCTAssertEqual(auditLines.count, 3)
    }

    func testSetAllWithDifferentRanges() throws {
        // 380 W fits GPU 0 (100..400 W) but not GPU 1 (150..350 W): nothing is set.
        let refused = try power(["set", "all", "380", "--yes"])
        XCTAssertEqual(refused.status, 3, refused.stderr)
        XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("GPU 1 (NVIDIA B): 380 W is outside its range 150..350 W"), refused.stderr)
        XCTAssertFalse(refused.stderr.contains("GPU 0"), refused.stderr)
        XCTAssertTrue(setCalls.isEmpty, "\(setCalls)")
        XCTAssertTrue(auditLines.last?.contains("target=all result=refused") == true, "\(auditLines)")

        let below = try power(["set", "all", "120", "--yes"])
        XCTAssertEqual(below.status, 3)
        XCTAssertTrue(below.stderr.contains("GPU 1") && !below.stderr.contains("GPU 0"), below.stderr)
        XCTAssertTrue(setCalls.isEmpty)

        let ok = try power(["set", "all", "300", "--yes"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, """
            GPU 0 (NVIDIA A): power limit 250 W -> 300 W (enforced 300 W)
            GPU 1 (NVIDIA B): power limit 350 W -> 300 W (enforced 300 W)

            """)
        XCTAssertEqual(setCalls, ["gpu=0 mw=300000 result=SUCCESS", "gpu=1 mw=300000 result=SUCCESS"])

        let defaults = try power(["set", "all", "default", "--yes"])
        XCTAssertEqual(defaults.status, 0, defaults.stderr)
        XCTAssertEqual(Array(setCalls.suffix(2)), ["gpu=0 mw=300000 result=SUCCESS", "gpu=1 mw=350000 result=SUCCESS"])
        let lines = auditLines
        XCTAssertEqual(lines.count, 2 + 2 + 2, "\(lines)")
        XCTAssertTrue(lines[lines.count - 1].contains("gpu=1 gpu_uuid=GPU-bbbbbbbb"), lines[lines.count - 1])
    }

    func testOutOfRangeRefusedWithoutAnyCall() throws {
        for value in ["99.999", "401", "80000", "10%", "200%"] {
            let r = try power(["set", "0", value, "--yes"])
            XCTAssertEqual(r.status, 3, "\(value): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("outside its range 100..400 W"), r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertEqual(r.stdout, "")
        }
        XCTAssertTrue(setCalls.isEmpty, "\(setCalls)")
        XCTAssertEqual(auditLines.count, 5)
        XCTAssertTrue(auditLines.allSatisfy { $0.contains("result=refused") }, "\(auditLines)")
    }

    func testNoPermissionAndNotSupported() throws {
        for (code, message) in [("NO_PERMISSION", "setting a power limit needs root"),
                                ("NOT_SUPPORTED", "this GPU does not allow changing its power limit")] {
            let before = setCalls.count
            // The error line follows GPU 1's keys, so it is GPU 1's; GPU 0 sets normally.
            let scenario = Self.twoGPUs + "error set_power_limit \(code)\n"
            XCTAssertEqual(try power(["set", "0", "200", "--yes"], scenario: scenario).status, 0)
            let g = try power(["set", "1", "200", "--yes"], scenario: scenario)
            XCTAssertEqual(g.status, 1, g.stderr)
            XCTAssertEqual(g.stderr.split(separator: "\n").count, 1, g.stderr)
            XCTAssertTrue(g.stderr.contains(message), g.stderr)
            XCTAssertTrue(g.stderr.contains("the limit is still 350 W"), g.stderr)
            XCTAssertEqual(Array(setCalls[before...]), ["gpu=0 mw=200000 result=SUCCESS", "gpu=1 mw=200000 result=\(code)"])
            let line = try XCTUnwrap(auditLines.last)
            XCTAssertTrue(line.contains("gpu=1") && line.contains("result=failed") && line.contains(message), line)
        }
    }

    func testAllStopsAtTheFirstFailure() throws {
        // GPU 0 refuses the set: GPU 1 is not tried.
        let scenario = Self.twoGPUs.replacingOccurrences(of: "gpu\nname NVIDIA B", with: "error set_power_limit NO_PERMISSION\ngpu\nname NVIDIA B")
        let r = try power(["set", "all", "300", "--yes"], scenario: scenario)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(setCalls, ["gpu=0 mw=300000 result=NO_PERMISSION"])
        XCTAssertTrue(r.stderr.contains("needs root"), r.stderr)
        XCTAssertTrue(r.stderr.contains("not tried after that failure: GPU 1"), r.stderr)
        XCTAssertEqual(auditLines.count, 2)
        XCTAssertTrue(auditLines[1].contains("gpu=1") && auditLines[1].contains("result=refused"), auditLines[1])
    }

    func testDryRunSetsNothing() throws {
        let r = try power(["set", "all", "80%", "--dry-run"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, """
            dry run: would set GPU 0 (NVIDIA A) from 250 W to 240 W (range 100..400 W)
            dry run: would set GPU 1 (NVIDIA B) from 350 W to 280 W (range 150..350 W)

            """)
        let bad = try power(["set", "1", "400", "--dry-run"])
        XCTAssertEqual(bad.status, 3, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("150..350 W"), bad.stderr)
        let readOnly = try power(["set", "0", "300", "--dry-run", "--read-only"])
        XCTAssertEqual(readOnly.status, 0, "a dry run only reads: read-only mode allows it")
        XCTAssertTrue(setCalls.isEmpty, "\(setCalls)")
        XCTAssertTrue(auditLines.isEmpty, "\(auditLines)")
    }

    func testRefusalsWithoutYesAndReadOnly() throws {
        let noYes = try power(["set", "0", "200"])
        XCTAssertEqual(noYes.status, 3)
        XCTAssertEqual(noYes.stderr, "gpuctop: refusing without --yes when not on a terminal\n")
        let flag = try power(["set", "0", "200", "--yes", "--read-only"])
        XCTAssertEqual(flag.status, 3)
        XCTAssertTrue(flag.stderr.contains("read-only"), flag.stderr)
        let env = try power(["set", "all", "200", "--yes"], env: ["GPUCTOP_READ_ONLY": "1"])
        XCTAssertEqual(env.status, 3)
        XCTAssertTrue(env.stderr.contains("read-only"), env.stderr)
        XCTAssertTrue(setCalls.isEmpty)
        XCTAssertEqual(auditLines.count, 3)
        XCTAssertTrue(auditLines.allSatisfy { $0.contains("result=refused") }, "\(auditLines)")
    }

    func testPowerUsageErrors() throws {
        for args in [["set"], ["set", "0"], ["set", "0", "abc", "--yes"], ["set", "x", "200"], ["set", "0", "200", "extra"],
                     ["bogus"], ["set", "0", "-5"], ["--dry-run"], ["set", "0", "200", "--json"], ["set", "0", "200", "--frob"]] {
            let r = try power(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(args): \(r.stderr)")
            assertOneLineErrors(r)
        }
        XCTAssertTrue(setCalls.isEmpty)
        XCTAssertTrue(auditLines.isEmpty, "usage errors are not actions")
    }

    /// On a terminal the question is asked; only y/yes proceeds. `script` gives us a pty.
    func testConfirmationOnATerminal() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            throw XCTSkip("util-linux script is not installed")
        }
        let lib = try FakeNVML.privateCopy()
        let scenario = try FakeNVML.scenario(Self.twoGPUs)
        func ask(_ answer: String) throws -> RunResult {
            let command = "printf '\(answer)\\n' | /usr/bin/script -qec '\(TestEnv.gpuctopBinary.path) power set 1 200 --nvml \(lib)' /dev/null"
            return try Run.command(["/bin/sh", "-c", command], environment: [
                "FAKE_NVML_SCENARIO": scenario, "FAKE_NVML_SET_LOG": setLog, "XDG_STATE_HOME": stateHome, "GPUCTOP_READ_ONLY": ""])
        }
        for answer in ["n", "", "no", "yess"] {
            let r = try ask(answer)
            XCTAssertEqual(r.status, 3, "\(answer): \(r.stdout)")
            XCTAssertTrue(r.stdout.contains("Set the power limit of GPU 1 (NVIDIA B) from 350 W to 200 W?"), r.stdout)
            XCTAssertTrue(r.stdout.contains("until the driver is reloaded or the machine reboots"), r.stdout)
            XCTAssertTrue(r.stdout.contains("[y/N]"), r.stdout)
            XCTAssertTrue(r.stdout.contains("not confirmed"), r.stdout)
        }
        XCTAssertTrue(setCalls.isEmpty)
        for answer in ["y", "YES"] {
            let r = try ask(answer)
            XCTAssertEqual(r.status, 0, "\(answer): \(r.stdout)")
            XCTAssertTrue(r.stdout.contains("power limit 350 W -> 200 W"), r.stdout)
        }
        XCTAssertEqual(setCalls, ["gpu=1 mw=200000 result=SUCCESS", "gpu=1 mw=200000 result=SUCCESS"])
        XCTAssertEqual(auditLines.filter { $0.contains("not confirmed") }.count, 4)
    }

    // MARK: - signal

    func terminationSignal(_ child: Child) -> Int32? {
        child.process.waitUntilExit()
        return child.process.terminationReason == .uncaughtSignal ? child.process.terminationStatus : nil
    }

    func testSignalsAreDelivered() throws {
        for (name, number) in [("TERM", SIGTERM), ("INT", SIGINT), ("KILL", SIGKILL), ("hup", SIGHUP), ("10", SIGUSR1)] {
            let child = try Child(["/bin/sleep", "120"])
            children.append(child)
            usleep(20_000)
            let r = try gpuctop(["signal", "\(child.pid)", "--signal", name, "--yes"])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            XCTAssertEqual(r.stdout, "PID \(child.pid): sent \(signalName(number))\n")
            XCTAssertEqual(terminationSignal(child), number, name)
        }
        // TERM is the default.
        let child = try Child(["/bin/sleep", "121"])
        children.append(child)
        usleep(20_000)
        let r = try gpuctop(["signal", "\(child.pid)", "--yes"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(terminationSignal(child), SIGTERM)
        let line = try XCTUnwrap(auditLines.last)
        XCTAssertTrue(line.contains("action=signal pid=\(child.pid) previous=\"/bin/sleep 121\" result=ok detail=\"sent SIGTERM\""), line)
        XCTAssertEqual(auditLines.count, 6)
    }

    func signalName(_ n: Int32) -> String {
        [SIGTERM: "SIGTERM", SIGINT: "SIGINT", SIGKILL: "SIGKILL", SIGHUP: "SIGHUP", SIGUSR1: "SIGUSR1"][n] ?? "signal \(n)"
    }

    func testSignalRefusalsAndErrors() throws {
        // A process that has exited and been reaped: ESRCH.
        let dead = try Child(["/bin/true"])
        dead.process.waitUntilExit()
        let gone = try gpuctop(["signal", "\(dead.pid)", "--yes"])
        XCTAssertEqual(gone.status, 1, gone.stderr)
        XCTAssertEqual(gone.stderr, "gpuctop: PID \(dead.pid): no such process\n")

        for pid in ["1", "0"] {
            let r = try gpuctop(["signal", pid, "--signal", "KILL", "--yes"])
            XCTAssertEqual(r.status, 3, r.stderr)
            XCTAssertTrue(r.stderr.contains("refusing to signal PID \(pid)"), r.stderr)
        }

        let child = try Child(["/bin/sleep", "120"])
        children.append(child)
        let noYes = try gpuctop(["signal", "\(child.pid)"])
        XCTAssertEqual(noYes.status, 3)
        XCTAssertEqual(noYes.stderr, "gpuctop: refusing without --yes when not on a terminal\n")
        let readOnly = try gpuctop(["signal", "\(child.pid)", "--yes"], env: ["GPUCTOP_READ_ONLY": "1"])
        XCTAssertEqual(readOnly.status, 3)
        XCTAssertTrue(readOnly.stderr.contains("read-only"), readOnly.stderr)
        XCTAssertTrue(child.process.isRunning, "nothing was sent")

        for args in [["signal"], ["signal", "abc"], ["signal", "12", "13"], ["signal", "\(child.pid)", "--signal", "STOP"],
                     ["signal", "\(child.pid)", "--signal", "0"], ["signal", "-9"], ["signal", "\(child.pid)", "--signal"]] {
            let r = try gpuctop(args + ["--yes"])
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            assertOneLineErrors(r)
        }
        XCTAssertTrue(child.process.isRunning)
        let results = auditLines.map { $0.components(separatedBy: " result=").last ?? "" }
        XCTAssertEqual(results.count, 5, "\(auditLines)")
        XCTAssertTrue(results[0].hasPrefix("failed"), results[0])
        XCTAssertTrue(results[1...].allSatisfy { $0.hasPrefix("refused") }, "\(results)")
    }

    /// `--start-time` names the process (a dashboard forwards the start time its question
    /// was asked with): any other process with the PID is refused and nothing is sent.
    func testSignalWithAStartTimeGoesOnlyToThatProcess() throws {
        let child = try Child(["/bin/sleep", "122"])
        children.append(child)
        usleep(20_000)
        let ticks = try XCTUnwrap(ProcessSignal.startTicks(pid: child.pid))
        for other in [ticks + 1, ticks - 1] {
            let r = try gpuctop(["signal", "\(child.pid)", "--signal", "KILL", "--start-time", "\(other)", "--yes"])
            XCTAssertEqual(r.status, 3, r.stderr)
            XCTAssertEqual(r.stderr, "gpuctop: PID \(child.pid) is now another process (it started at another time); not signalled\n")
        }
        for bad in ["", "x", "-1", "1e3", "123456789012345678901", "18446744073709551616"] {
            let r = try gpuctop(["signal", "\(child.pid)", "--start-time", bad, "--yes"])
            XCTAssertEqual(r.status, 2, "'\(bad)': \(r.stderr)")
            assertOneLineErrors(r)
        }
        usleep(100_000)
        XCTAssertTrue(child.process.isRunning, "nothing was sent")
        XCTAssertEqual(auditLines.count, 2, "\(auditLines)")
        XCTAssertTrue(auditLines.allSatisfy { $0.contains("action=signal pid=\(child.pid)") && $0.contains("result=refused") }, "\(auditLines)")

        let r = try gpuctop(["signal", "\(child.pid)", "--start-time", "\(ticks)", "--yes"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(terminationSignal(child), SIGTERM)
        XCTAssertTrue(try XCTUnwrap(auditLines.last).contains("previous=\"/bin/sleep 122\" result=ok"), "\(auditLines)")
    }

    /// A PID /proc does not show (here a procfs without it) has no start time to check
    /// against: refused, not signalled.
    func testSignalToAProcessNotVisibleInProcIsRefused() throws {
        let child = try Child(["/bin/sleep", "123"])
        children.append(child)
        let emptyProc = TestEnv.temporaryDirectory("proc").path
        let r = try gpuctop(["signal", "\(child.pid)", "--proc-root", emptyProc, "--yes"])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertEqual(r.stderr, "gpuctop: PID \(child.pid): its start time is unknown (not visible in /proc), so it may be another process; not signalled\n")
        usleep(100_000)
        XCTAssertTrue(child.process.isRunning)
    }

    func testUnwritableAuditLogIsReportedButDoesNotDecideTheStatus() throws {
        // A file where the state directory should be.
        _ = FileManager.default.createFile(atPath: stateHome, contents: Data("x".utf8))
        let child = try Child(["/bin/sleep", "120"])
        children.append(child)
        let r = try gpuctop(["signal", "\(child.pid)", "--yes"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(terminationSignal(child), SIGTERM)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("gpuctop: warning: cannot write the audit log \(stateHome)/gpuctop/actions.log"), r.stderr)

        let refused = try gpuctop(["signal", "1", "--yes"])
        XCTAssertEqual(refused.status, 3)
        XCTAssertEqual(refused.stderr.split(separator: "\n").count, 2, refused.stderr)
    }

    // MARK: - containers (the test dockerd)

    /// `docker run -d --network none --name NAME busybox sleep 1000` (`create` without `start`); returns the id.
    @discardableResult
    func runContainer(_ name: String, start: Bool = true) throws -> String {
        containers.append(name)
        return try start ? Docker.runContainer(name) : Docker.createContainer(name)
    }

    func state(_ name: String) throws -> String { try Docker.run(["inspect", "-f", "{{.State.Status}}", name]) }

    func uniqueName(_ role: String) -> String {
        "gpuctop-test-act-\(role)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    func containerCommand(_ args: [String], env: [String: String] = [:]) throws -> RunResult {
        try gpuctop(args + ["--docker-host", try Docker.host()], env: env)
    }

    func testStopRestartKill() throws {
        let name = uniqueName("cycle")
        let id = try runContainer(name)

        let stop = try containerCommand(["stop", name, "--yes", "--time", "1"])
        XCTAssertEqual(stop.status, 0, stop.stderr)
        XCTAssertEqual(stop.stdout, "\(name) [\(id.prefix(12))]: stopped\n")
        XCTAssertEqual(try state(name), "exited")

        let again = try containerCommand(["stop", String(id.prefix(10)), "--yes"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout, "\(name) [\(id.prefix(12))]: already stopped\n")

        let restart = try containerCommand(["restart", name, "--yes", "--time=1"])
        XCTAssertEqual(restart.status, 0, restart.stderr)
        XCTAssertTrue(restart.stdout.hasSuffix(": restarted\n"), restart.stdout)
        XCTAssertEqual(try state(name), "running")

        let kill = try containerCommand(["kill", name, "--yes", "--signal", "KILL"])
        XCTAssertEqual(kill.status, 0, kill.stderr)
        XCTAssertTrue(kill.stdout.hasSuffix(": sent SIGKILL\n"), kill.stdout)
        XCTAssertEqual(try state(name), "exited")

        // Killing a container that is not running: the daemon's conflict, a failure.
        let notRunning = try containerCommand(["kill", name, "--yes"])
        XCTAssertEqual(notRunning.status, 1, notRunning.stderr)
        XCTAssertEqual(notRunning.stderr.split(separator: "\n").count, 1, notRunning.stderr)
        XCTAssertTrue(notRunning.stderr.contains("is not running"), notRunning.stderr)

        let lines = auditLines
        XCTAssertEqual(lines.count, 5, "\(lines)")
        let expected = [("stop", "previous=\"running (Up", "result=ok detail=stopped"),
                        ("stop", "previous=\"exited (Exited", "result=ok detail=\"already stopped\""),
                        ("restart", "previous=\"exited (Exited", "result=ok detail=restarted"),
                        ("kill", "previous=\"running (Up", "result=ok detail=\"sent SIGKILL\""),
                        ("kill", "previous=\"exited (Exited", "result=failed")]
        for (line, (action, previous, result)) in zip(lines, expected) {
            XCTAssertTrue(line.contains(" action=\(action) container=\(name) container_id=\(id) "), line)
            XCTAssertTrue(line.contains(previous), line)
            XCTAssertTrue(line.contains(result), line)
        }
    }

    func testMissingAndAmbiguousContainers() throws {
        let base = uniqueName("amb")
        let exactId = try runContainer(base, start: false)
        let aId = try runContainer(base + "-a", start: false)
        let bId = try runContainer(base + "-b", start: false)

        let missing = try containerCommand(["stop", base + "-zzz", "--yes"])
        XCTAssertEqual(missing.status, 1, missing.stderr)
        XCTAssertEqual(missing.stderr, "gpuctop: no such container: \(base)-zzz\n")

        let ambiguous = try containerCommand(["stop", base + "-", "--yes"])
        XCTAssertEqual(ambiguous.status, 3, ambiguous.stderr)
        XCTAssertEqual(ambiguous.stderr.split(separator: "\n").count, 1, ambiguous.stderr)
        XCTAssertTrue(ambiguous.stderr.contains("matches 2 containers"), ambiguous.stderr)
        XCTAssertTrue(ambiguous.stderr.contains("\(base)-a [\(aId.prefix(12))]"), ambiguous.stderr)
        XCTAssertTrue(ambiguous.stderr.contains("\(base)-b [\(bId.prefix(12))]"), ambiguous.stderr)
        XCTAssertFalse(ambiguous.stderr.contains(exactId.prefix(12)), ambiguous.stderr)

        // An exact name wins over the longer names it prefixes; one bad argument stops them all.
        let mixed = try containerCommand(["kill", base, base + "-", "--yes"])
        XCTAssertEqual(mixed.status, 3, mixed.stderr)
        XCTAssertEqual(mixed.stdout, "")

        let exact = try containerCommand(["stop", base, "--yes"])
        XCTAssertEqual(exact.status, 0, exact.stderr)
        XCTAssertEqual(exact.stdout, "\(base) [\(exactId.prefix(12))]: already stopped\n", "a created container was never started")

        let lines = auditLines
        XCTAssertEqual(lines.count, 5, "\(lines)")
        XCTAssertTrue(lines[0].contains("target=\(base)-zzz result=failed"), lines[0])
        XCTAssertTrue(lines[1].contains("target=\(base)- result=refused"), lines[1])
        XCTAssertTrue(lines[2].contains("target=\(base)- result=refused"), lines[2])
        XCTAssertTrue(lines[3].contains("container=\(base) container_id=\(exactId)") && lines[3].contains("result=refused"), lines[3])
        XCTAssertTrue(lines[4].contains("container_id=\(exactId)") && lines[4].contains("result=ok"), lines[4])
    }

    func testContainerRefusals() throws {
        let name = uniqueName("refuse")
        let id = try runContainer(name)

        let noYes = try containerCommand(["stop", name])
        XCTAssertEqual(noYes.status, 3, noYes.stderr)
        XCTAssertEqual(noYes.stderr, "gpuctop: refusing without --yes when not on a terminal\n")
        let flag = try containerCommand(["kill", name, "--yes", "--read-only"])
        XCTAssertEqual(flag.status, 3, flag.stderr)
        XCTAssertTrue(flag.stderr.contains("read-only"), flag.stderr)
        let env = try containerCommand(["restart", name, "--yes"], env: ["GPUCTOP_READ_ONLY": "1"])
        XCTAssertEqual(env.status, 3, env.stderr)
        XCTAssertEqual(try state(name), "running", "nothing was done")

        for args in [["stop"], ["stop", name, "--signal", "HUP"], ["kill", name, "--time", "3"], ["stop", name, "--time", "-1"],
                     ["stop", name, "--time", "x"], ["kill", name, "--signal", "a b"], ["restart", name, "--frob"]] {
            let r = try containerCommand(args + ["--yes"])
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            assertOneLineErrors(r)
        }
        XCTAssertEqual(try state(name), "running")

        let lines = auditLines
        XCTAssertEqual(lines.count, 3, "\(lines)")
        XCTAssertTrue(lines[0].contains("action=stop container=\(name) container_id=\(id)") && lines[0].contains("result=refused"), lines[0])
        XCTAssertTrue(lines[1].contains("action=kill target=\(name) result=refused"), lines[1])
        XCTAssertTrue(lines[2].contains("action=restart target=\(name) result=refused"), lines[2])
    }

    func testUnwritableAuditLogWithAContainerAction() throws {
        let name = uniqueName("nolog")
        try runContainer(name)
        _ = FileManager.default.createFile(atPath: stateHome, contents: Data())
        let r = try containerCommand(["kill", name, "--yes"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasSuffix(": sent SIGKILL\n"), r.stdout)
        XCTAssertTrue(r.stderr.hasPrefix("gpuctop: warning: cannot write the audit log"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }

    func testUnreachableDaemonFails() throws {
        let r = try gpuctop(["stop", "anything", "--yes", "--docker-host", "unix:///nonexistent/docker.sock"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("no Docker socket"), r.stderr)
        XCTAssertTrue(auditLines.first?.contains("result=failed") == true, "\(auditLines)")
    }
}
