// `gpuctop profile`: the per-stage report BENCHMARKS.md is made of, against the fake
// NVML and a real process.
import Foundation
import XCTest
import TestSupport

extension SnapshotCommandTests {
    func testProfileReportsStagesCallsAndReReads() throws {
        children = [try Child(["/bin/sleep", "120"])]
        let r = try run(["profile", "--refreshes", "3", "--interval", "0.1", "--calls", "5", "--size", "120x40",
                         "--docker-host", "unix:///nonexistent/docker.sock"],
                        scenario: scenario(pids: [children[0].pid]))
        XCTAssertEqual(r.status, 0, r.stderr)
        for part in ["2 GPU(s)", "1 GPU processes", "first refresh: NVML", "steady state, median per refresh",
                     "procfs/cgroups", "render (frame in memory)", "sampler + render, mean",
                     "re-read in steady state: /proc static files of 0 processes", "VmHWM",
                     "GPU 0 nvmlDeviceGetUtilizationRates", "GPU 0 nvmlDeviceGetProcessUtilization (since 0)",
                     "degraded docker"] {
            XCTAssertTrue(r.stdout.contains(part), "missing \(part):\n\(r.stdout)")
        }
        let startup = try run(["profile", "--startup"], scenario: scenario(pids: []))
        XCTAssertEqual(startup.status, 0, startup.stderr)
        XCTAssertTrue(startup.stdout.contains("nvmlInit"), startup.stdout)
        XCTAssertTrue(startup.stdout.contains("first call of each entry point"), startup.stdout)
        for bad in [["profile", "--refreshes", "0"], ["profile", "--size", "200"], ["profile", "--calls", "x"], ["profile", "extra"]] {
            let b = try run(bad, scenario: scenario(pids: []))
            XCTAssertEqual(b.status, 2, "\(bad)")
            XCTAssertEqual(b.stderr.split(separator: "\n").count, 1, b.stderr)
        }
    }
}
