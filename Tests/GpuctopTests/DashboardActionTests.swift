// Actions from the dashboard, end to end in tmux: a real container stopped
// through the confirmation, a refusal, a signal to a real process (and none to a
// PID that became another process), a power limit set against the fake NVML
// (never a real GPU), and read-only mode.
import Foundation
import XCTest
import TestSupport

final class DashboardActionTests: XCTestCase {
    let tag = "act-\(UUID().uuidString.prefix(6).lowercased())"
    var containers: [String] = []
    var children: [Child] = []

    override func tearDown() {
        for c in containers { _ = try? Docker.run(["rm", "-f", c]) }
        children.forEach { $0.stop() }
    }

    func scenario(_ procs: [(Int32, Int)]) -> String {
        var s = """
        gpu
        name NVIDIA H200
        uuid GPU-act
        util 50
        memory_total 150754820096
        memory_used 25769803776
        power 300000
        power_limit 700000
        power_default 700000
        power_min 200000
        power_max 700000
        mig 0 0
        """
        for (pid, gib) in procs { s += "\nprocess compute pid=\(pid) mem=\(gib << 30) sm=\(gib * 10)" }
        return s + "\n"
    }

    /// gpuctop in tmux with a private audit log and set log; returns the session and dir.
    func start(_ scenario: String, extra: String = "") throws -> (TmuxSession, URL) {
        let dir = TestEnv.temporaryDirectory("act")
        let lib = try FakeNVML.privateCopy()
        let t = try TmuxSession(
            command: "\(TestEnv.gpuctopBinary.path) --nvml \(lib) --docker-host \(try Docker.host()) --interval 0.5 \(extra); echo EXITED; sleep 600",
            environment: ["FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario), "FAKE_NVML_SET_LOG": dir.appendingPathComponent("set.log").path,
                          "XDG_STATE_HOME": dir.path, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"])
        return (t, dir)
    }

    func audit(_ dir: URL) -> String {
        (try? String(contentsOf: dir.appendingPathComponent("gpuctop/actions.log"), encoding: .utf8)) ?? ""
    }

    func testStopContainerThroughTheConfirmationAndRefuseWithNo() throws {
        let big = "\(tag)-big", small = "\(tag)-small", mid = "\(tag)-mid"
        try Docker.runContainer(big)
        try Docker.runContainer(small)
        try Docker.runContainer(mid)
        containers = [big, small, mid]
        let (t, dir) = try start(scenario([(try Docker.pid(big), 8), (try Docker.pid(small), 2), (try Docker.pid(mid), 4)]))
        try t.waitFor("containers") { $0.contains(big) && $0.contains(small) }
        // The first row is the container with the most GPU memory: big.
        try t.send("x")
        var screen = try t.waitFor("the question") { $0.contains("Stop container \(big)") }
        XCTAssertTrue(screen.contains("gpuctop-test/busybox"), screen)
        XCTAssertTrue(screen.contains("8.0 GiB"), screen)
        XCTAssertTrue(screen.contains("y: yes"), screen)
        try t.send("n")
        try t.waitFor("cancelled: nothing done")
        XCTAssertEqual(try Docker.run(["inspect", "-f", "{{.State.Status}}", big]), "running")
        XCTAssertTrue(audit(dir).isEmpty, "a declined question sends nothing: \(audit(dir))")

        try t.send("x")
        try t.waitFor("the question again") { $0.contains("Stop container \(big)") }
        try t.send("y")
        screen = try t.waitFor("the result", timeout: 20) { $0.contains("\(big): stopped") }
        XCTAssertEqual(try Docker.run(["inspect", "-f", "{{.State.Status}}", big]), "exited")
        // Its process is gone, so the table (all but the status line) no longer lists it as a GPU user.
        try t.waitFor("the table updated", timeout: 10) { screen in
            screen.split(separator: "\n").dropLast().allSatisfy { !$0.hasPrefix(big) }
        }
        // Restart and kill the other containers the same way (a filter selects each:
        // the stopped container's vanished PID now shows under "host").
        let startedAt = try Docker.run(["inspect", "-f", "{{.State.StartedAt}}", mid])
        try t.send("/")
        try t.type("mid")
        try t.send("Enter")
        try t.waitFor("filtered to mid") { $0.contains("filter \"mid\"") }
        try t.send("R")
        try t.waitFor("the restart question") { $0.contains("Restart container \(mid)") }
        try t.send("y")
        try t.waitFor("restarted", timeout: 30) { $0.contains("\(mid): restarted") }
        XCTAssertNotEqual(try Docker.run(["inspect", "-f", "{{.State.StartedAt}}", mid]), startedAt)
        try t.send("Escape")
        try t.send("/")
        try t.type("small")
        try t.send("Enter")
        try t.waitFor("filtered to small") { $0.contains("filter \"small\"") && $0.contains(small) }
        try t.send("K")
        try t.waitFor("the kill question") { $0.contains("Kill container \(small)") }
        try t.send("y")
        try t.waitFor("killed", timeout: 20) { $0.contains("\(small): sent SIGKILL") }
        XCTAssertEqual(try Docker.run(["inspect", "-f", "{{.State.Status}}", small]), "exited")
        let log = audit(dir)
        XCTAssertTrue(log.contains("action=restart"), log)
        XCTAssertTrue(log.contains("action=kill"), log)
        XCTAssertTrue(log.contains("action=stop"), log)
        XCTAssertTrue(log.contains(big), log)
        XCTAssertTrue(log.contains("result=ok"), log)
        try t.send("q")
        try t.waitFor("EXITED")
    }

    func testSignalAndPowerLimitFromTheDashboard() throws {
        children = [try Child(["/bin/sleep", "300"])]
        let pid = children[0].pid
        let (t, dir) = try start(scenario([(pid, 4)]))
        try t.waitFor("the process") { $0.contains("pid \(pid)") }
        try t.send("Down")
        try t.send("T")
        try t.waitFor("the question") { $0.contains("Send SIGTERM to host PID \(pid)") }
        try t.send("y")
        try t.waitFor("sent SIGTERM to \(pid)")
        children[0].process.waitUntilExit()
        XCTAssertEqual(children[0].process.terminationReason, .uncaughtSignal)
        XCTAssertEqual(children[0].process.terminationStatus, SIGTERM)

        // Power: out of range refused (nothing set), then 450 W set, then default restored.
        try t.send("p")
        try t.waitFor("the power dialog") { $0.contains("allowed 200..700 W") }
        try t.type("900")
        try t.send("Enter")
        try t.waitFor("900 W is out of range for GPU 0 (200..700 W)")
        try t.send("BSpace", "BSpace", "BSpace")
        try t.type("450")
        try t.send("Enter")
        try t.waitFor("power limit set")
        try t.send("p")
        try t.waitFor("the power dialog again") { $0.contains("allowed 200..700 W") }
        try t.send("d")
        try t.waitFor("restored") { $0.contains("-> 700 W") }
        let sets = try String(contentsOf: dir.appendingPathComponent("set.log"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        XCTAssertEqual(sets.count, 2, "exactly two set calls: \(sets)")
        XCTAssertTrue(sets[0].contains("mw=450000") && sets[0].contains("result=SUCCESS"), sets[0])
        XCTAssertTrue(sets[1].contains("mw=700000") && sets[1].contains("result=SUCCESS"), sets[1])
        let log = audit(dir)
        XCTAssertTrue(log.contains("action=signal"), log)
        XCTAssertTrue(log.contains("action=\"power set\"") || log.contains("action=power"), log)
        try t.send("q")
        try t.waitFor("EXITED")
    }

    /// A procfs of our own (`--proc-root`) that shows `pid` as `/bin/sleep 300` started at
    /// `startTicks`: rewriting its stat is what a reused PID looks like to gpuctop.
    func writeProc(_ root: URL, pid: Int32, startTicks: UInt64) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("1"), withIntermediateDirectories: true)
        if (try? fm.destinationOfSymbolicLink(atPath: root.appendingPathComponent("self").path)) == nil {
            try fm.createSymbolicLink(atPath: root.appendingPathComponent("self").path, withDestinationPath: "1")
        }
        try "cpu  1 2 3 4 5 6 7 0 0 0\nbtime 1700000000\n".write(to: root.appendingPathComponent("stat"), atomically: true, encoding: .utf8)
        let d = root.appendingPathComponent("\(pid)")
        try fm.createDirectory(at: d, withIntermediateDirectories: true)
        try "\(pid) (sleep) S 1 \(pid) \(pid) 0 -1 4194304 100 0 0 0 3 2 0 0 20 0 1 0 \(startTicks) 12345678 256 0 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
            .write(to: d.appendingPathComponent("stat"), atomically: true, encoding: .utf8)
        try "Name:\tsleep\nUid:\t0\t0\t0\t0\nNSpid:\t\(pid)\nVmRSS:\t1024 kB\n".write(to: d.appendingPathComponent("status"), atomically: true, encoding: .utf8)
        try Data("/bin/sleep\u{0}300\u{0}".utf8).write(to: d.appendingPathComponent("cmdline"))
        try "0::/\n".write(to: d.appendingPathComponent("cgroup"), atomically: true, encoding: .utf8)
    }

    /// The question names a process; if its PID becomes another process before the answer,
    /// "y" sends nothing and says why, on the status line and in the audit log.
    func testASignalIsNotSentToAPIDThatBecameAnotherProcess() throws {
        children = [try Child(["/bin/sleep", "300"])]
        let pid = children[0].pid
        let root = TestEnv.temporaryDirectory("proc")
        try writeProc(root, pid: pid, startTicks: 4_000)
        let (t, dir) = try start(scenario([(pid, 4)]), extra: "--proc-root \(root.path)")
        try t.waitFor("the process") { $0.contains("pid \(pid)") }
        try t.send("Down")
        try t.send("T")
        try t.waitFor("the question naming the command") { $0.contains("Send SIGTERM to host PID \(pid)") && $0.contains(": /bin/sleep 300?") }
        try writeProc(root, pid: pid, startTicks: 9_000)   // another process has the PID now
        try t.send("y")
        try t.waitFor("the refusal") { $0.contains("PID \(pid) is now another process (it started at another time); not signalled") }
        usleep(200_000)
        XCTAssertTrue(children[0].process.isRunning, "nothing was sent")
        let refused = audit(dir)
        XCTAssertTrue(refused.contains("action=signal pid=\(pid) previous=\"/bin/sleep 300\" result=refused"), refused)

        // A new question is about the process the refreshed table shows (a known process's
        // stat is read again every 5 s, and its last read may have come just before the new
        // one was written; then a refresh, and the snapshot's way to the screen): that one
        // is signalled.
        usleep(8_000_000)
        try t.send("T")
        try t.waitFor("the question again") { $0.contains("Send SIGTERM to host PID \(pid)") && $0.contains(": /bin/sleep 300?") }
        try t.send("y")
        try t.waitFor("sent SIGTERM to \(pid)")
        children[0].process.waitUntilExit()
        XCTAssertEqual(children[0].process.terminationStatus, SIGTERM)
        XCTAssertTrue(audit(dir).contains("action=signal pid=\(pid) previous=\"/bin/sleep 300\" result=ok"), audit(dir))
        try t.send("q")
        try t.waitFor("EXITED")
    }

    func testReadOnlyHasNoActions() throws {
        let name = "\(tag)-ro"
        try Docker.runContainer(name)
        containers = [name]
        let (t, dir) = try start(scenario([(try Docker.pid(name), 1)]), extra: "--read-only")
        var screen = try t.waitFor("the container") { $0.contains(name) }
        XCTAssertTrue(screen.contains("read-only"), screen)
        XCTAssertFalse(screen.contains("stop/restart/kill"), screen)
        try t.send("x")
        try t.send("p")
        try t.send("?")
        screen = try t.waitFor("help") { $0.contains("Keys") }
        XCTAssertFalse(screen.contains("Actions"), screen)
        XCTAssertFalse(screen.contains("y: yes"), screen)
        XCTAssertEqual(try Docker.run(["inspect", "-f", "{{.State.Status}}", name]), "running")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("set.log").path))
        try t.send("q", "q")
        try t.waitFor("EXITED")
    }
}
