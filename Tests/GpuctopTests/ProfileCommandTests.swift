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
                     "degraded docker",
                     // Each call as the refreshes made it, a refresh apart.
                     "NVML calls in the refreshes above (at their spacing)", "calls/refresh",
                     "nvmlDeviceGetComputeRunningProcesses", "all of them"] {
            XCTAssertTrue(r.stdout.contains(part), "missing \(part):\n\(r.stdout)")
        }
        let startup = try run(["profile", "--startup"], scenario: scenario(pids: []))
        XCTAssertEqual(startup.status, 0, startup.stderr)
        XCTAssertTrue(startup.stdout.contains("nvmlInit"), startup.stdout)
        XCTAssertTrue(startup.stdout.contains("first call of each entry point"), startup.stdout)
        XCTAssertTrue(startup.stdout.contains("+ libnvidia-ml.so.1"), "the library each step maps:\n\(startup.stdout)")
        // What `snapshot --json` spends, call by call, and the shutdown it skips.
        let oneShot = try run(["profile", "--one-shot", "--docker-host", "unix:///nonexistent/docker.sock"],
                              scenario: scenario(pids: [children[0].pid]))
        XCTAssertEqual(oneShot.status, 0, oneShot.stderr)
        for part in ["gpuctop profile --one-shot: 2 GPU(s), 1 GPU processes", "nvmlInit, GPUs, static facts", "refresh: NVML",
                     "JSON encoding", "nvmlShutdown (snapshot exits without it)", "NVML calls of the refresh",
                     "nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetProcessUtilization"] {
            XCTAssertTrue(oneShot.stdout.contains(part), "missing \(part):\n\(oneShot.stdout)")
        }
        XCTAssertFalse(oneShot.stdout.contains("nvmlDeviceGetViolationStatus"), "a one-shot reads no violation counter")
        for bad in [["profile", "--refreshes", "0"], ["profile", "--size", "200"], ["profile", "--calls", "x"], ["profile", "extra"]] {
            let b = try run(bad, scenario: scenario(pids: []))
            XCTAssertEqual(b.status, 2, "\(bad)")
            XCTAssertEqual(b.stderr.split(separator: "\n").count, 1, b.stderr)
        }
    }
}
