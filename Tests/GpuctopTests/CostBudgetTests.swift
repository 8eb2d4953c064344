// The cost of watching a full GPU (#14): one H200 with 64 GPU processes, 4 busy and
// 60 idle contexts, the fake NVML charging each call the CPU it costs the real driver
// then (Scenarios.h200CallCosts64). The processes are real: shells that wake twice a
// second for a few ms of CPU, so their CPU% has the tick noise an idle PyTorch
// context has. bench/cost-bench.sh and BENCHMARKS.md have the figures.
import Foundation
import XCTest
import TestSupport

final class CostBudgetTests: XCTestCase {
    var parent: Child?
    var pids: [Int32] = []
    override func tearDown() {
        for pid in pids { kill(pid, SIGKILL) }
        parent?.stop()
        pids = []
    }

    /// `n` shells that wake twice a second for 2 to 3 ms of CPU (about 0.3 %), started by
    /// one parent shell (64 `Process` launches took longer than the test).
    func startProcesses(_ n: Int = 64) throws -> [Int32] {
        let loop = "while :; do i=0; while [ $i -lt 1500 ]; do i=$((i+1)); done; sleep 0.5; done"
        let p = try Child(["/bin/sh", "-c", "i=0; while [ $i -lt \(n) ]; do sh -c '\(loop)' & i=$((i+1)); done; wait"])
        parent = p
        let deadline = Date().addingTimeInterval(20)
        while pids.count < n && Date() < deadline {
            let text = (try? String(contentsOfFile: "/proc/\(p.pid)/task/\(p.pid)/children", encoding: .utf8)) ?? ""
            pids = text.split(separator: " ").compactMap { Int32($0) }
            if pids.count < n { usleep(50_000) }
        }
        XCTAssertEqual(pids.count, n)
        return pids
    }

    /// What the fake NVML charges a refresh, on average, when the schedule is kept: the
    /// GPU's used memory holds still here, so the compute list every 5 s and the empty
    /// graphics and MPS lists every 10 s; per-process utilisation every 5 s (and about
    /// 10 µs of small calls). Before the lists followed the used memory it charged 2.4 ms.
    static let chargedMicroseconds = 1_500 / 5 + 1_800 / 5 + (700 + 900) / 10 + 10
    /// gpuctop's own share of a refresh at 64 processes (sampling and rendering a 200x50
    /// frame) on the 2-core development VM, beside the 64 busy shells: the whole refresh
    /// measured 1.79, 1.96 and 2.51 ms in three clean-clone runs (the window's edges charge
    /// up to 0.98 ms, not 0.83), so gpuctop's own 0.8 to 1.5 ms; the budget allows 2.2 ms.
    /// The code before the lists followed the used memory is charged 2.43 ms alone plus
    /// its own: over 3.3 ms, so it still fails.
    static let ownBudgetMicroseconds = 2_200
    /// The code before #14 asked the empty lists on every refresh, read every process's
    /// stat every 2 s, and rendered in 750 µs: 4.5 ms a refresh here, far above the budget.
    static var budgetMicroseconds: Int { chargedMicroseconds + ownBudgetMicroseconds }

    /// The release binary's CPU per refresh (all threads, mean of 12 refreshes at 1 s,
    /// `gpuctop profile`) stays within the budget, and the profile says the schedule.
    func testSixtyFourProcessesStayWithinTheCPUBudget() throws {
        guard let bin = ProcessInfo.processInfo.environment["GPUCTOP_RELEASE_BIN"], !bin.isEmpty else {
            throw XCTSkip("GPUCTOP_RELEASE_BIN is unset: scripts/test.sh builds the release binary and sets it")
        }
        let pids = try startProcesses()
        let scenario = try FakeNVML.scenario(Scenarios.h200Loaded(pids: pids))
        let r = try Run.command([bin, "profile", "--nvml", try FakeNVML.privateCopy(), "--docker-host", "unix:///nonexistent/docker.sock",
                                 "--interval", "1", "--refreshes", "12", "--calls", "0"],
                                // Without the XID thread: the fake's event wait re-reads its
                                // scenario every 100 ms (0.8 ms of CPU a second here), which the
                                // driver's does not (its cost is measured on the H200).
                                environment: ["FAKE_NVML_SCENARIO": scenario, "GPUCTOP_WATCH_XID": "0"], timeout: 120)
        XCTAssertEqual(r.status, 0, r.stderr)
        print(r.stdout)
        XCTAssertTrue(r.stdout.contains("1 GPU(s)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("64 GPU processes"), r.stdout)
        XCTAssertTrue(r.stdout.contains("process lists (compute, graphics, MPS): every refresh while the GPU's used memory moves, at the next one and for 2s after"), r.stdout)
        XCTAssertTrue(r.stdout.contains("GPU 0 now: used memory still, lists asked on the schedule; compute listing, graphics empty, MPS empty"), r.stdout)
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.contains("process CPU per refresh, all threads (mean)") })
        let cpu = try XCTUnwrap(line.split(separator: " ").compactMap { Int($0) }.first)
        XCTAssertLessThanOrEqual(cpu, Self.budgetMicroseconds,
                                 "\(cpu) µs CPU a refresh at 64 processes: over the budget (\(Self.chargedMicroseconds) µs charged by NVML + \(Self.ownBudgetMicroseconds) µs our own)")
    }

    /// The dashboard in a 200x50 terminal at 1 s with the 64 processes writes at most
    /// 150 bytes a second (about 90 measured, BENCHMARKS.md): what changes each second
    /// is the power and its bar, not 60 idle rows' CPU tick noise or the clock's seconds.
    /// The code before #14 wrote 193 here (517 on the H200, whose idle contexts tick
    /// more often than these shells); #14's target is 200.
    func testSixtyFourProcessesWriteLittleToTheTerminal() throws {
        let pids = try startProcesses()
        let dir = TestEnv.temporaryDirectory("bytes")
        let stream = dir.appendingPathComponent("stream").path
        let scenario = try FakeNVML.scenario(Scenarios.h200Loaded(pids: pids, costs: ""))
        let session = try TmuxSession(
            command: "exec \(TestEnv.gpuctopBinary.path) --nvml \(try FakeNVML.privateCopy()) --docker-host unix:///nonexistent/docker.sock --interval 1",
            width: 200, height: 50, environment: ["FAKE_NVML_SCENARIO": scenario, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"])
        try session.waitFor("64 GPU processes", timeout: 20)
        _ = try session.tmux(["pipe-pane", "-t", session.name, "-o", "cat >> \(TmuxSession.quote(stream))"])
        sleep(6)   // every process's CPU% window filled; the first refreshes' changes drawn
        let size = { ((try? FileManager.default.attributesOfItem(atPath: stream)[.size]) as? Int) ?? 0 }
        let start = Date(), before = size()
        sleep(15)
        let rate = Double(size() - before) / Date().timeIntervalSince(start)
        print("terminal: \(Int(rate)) bytes/s at 64 processes")
        XCTAssertGreaterThan(rate, 5, "the dashboard kept drawing (power changes every second)")
        let screen = (try? session.screen()) ?? ""
        XCTAssertLessThanOrEqual(rate, 150, "\(Int(rate)) bytes/s at 64 processes; screen:\n\(screen)")
    }
}
