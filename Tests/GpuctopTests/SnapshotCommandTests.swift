// `gpuctop snapshot` end to end: the real binary, the fake NVML, real processes.
import Foundation
import XCTest
import TestSupport

final class SnapshotCommandTests: XCTestCase {
    var children: [Child] = []

    override func tearDown() {
        children.forEach { $0.stop() }
        children = []
    }

    func scenario(pids: [Int32]) -> String {
        let text = "driver 580.95.05\ncuda 12080\n" + Scenarios.h200()
            + Scenarios.h100MIG(["pci": "00000000:2A:00.0", "power": "90000", "power_limit": "350000",
                                 "power_min": "200000", "power_max": "700000"])

        return String(text.dropLast()) + Scenarios.computeProcesses(pids: pids) + "\n"
    }

    func run(_ args: [String], scenario: String, extraEnv: [String: String] = [:]) throws -> RunResult {
        let lib = try FakeNVML.privateCopy()
        var env = ["FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario)]
        env.merge(extraEnv) { $1 }
        return try Run.gpuctop(args + ["--nvml", lib], environment: env)
    }

    func testTextTableShowsGPUsMIGAndProcesses() throws {
        children = [try Child(["/bin/sleep", "120"]), try Child(["/bin/sh", "-c", "exec sleep 121"])]
        usleep(50_000)
        let r = try run(["snapshot"], scenario: scenario(pids: children.map(\.pid)))
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = r.stdout
        XCTAssertTrue(out.contains("driver 580.95.05"), out)
        XCTAssertTrue(out.contains("CUDA 12.8"), out)
        XCTAssertTrue(out.contains("NVIDIA H200"), out)
        XCTAssertTrue(out.contains("42%"), out)
        XCTAssertTrue(out.contains("250/700 W"), out)
        XCTAssertTrue(out.contains("200..700 W"), out)
        XCTAssertTrue(out.contains("1g.10gb"), out)
        XCTAssertTrue(out.contains("MIG-1111"), out)
        for child in children {
            let line = try XCTUnwrap(out.split(separator: "\n").first { $0.contains(" \(child.pid) ") }, out)
            XCTAssertTrue(line.contains("sleep 12"), String(line))
            XCTAssertTrue(line.contains("host"), String(line))
            XCTAssertTrue(line.contains("root"), String(line))
        }
        XCTAssertTrue(out.contains("1.0 GiB"), out)
    }

    func testJSONHasSchemaAndEveryField() throws {
        children = [try Child(["/bin/sleep", "120"])]
        let pid = children[0].pid
        let r = try run(["snapshot", "--json", "--energy"], scenario: scenario(pids: [pid]))
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["schema"] as? Int, 1)
        // Without --energy the slow energy counter is not read.
        let plain = try run(["snapshot", "--json"], scenario: scenario(pids: [pid]))
        let plainGPU = try XCTUnwrap(((JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any])?["gpus"] as? [[String: Any]])?.first)
        XCTAssertNil(plainGPU["energyTotal"])
        XCTAssertNotNil(plainGPU["powerDraw"])
        XCTAssertEqual(json["driverVersion"] as? String, "580.95.05")
        let gpus = try XCTUnwrap(json["gpus"] as? [[String: Any]])
        XCTAssertEqual(gpus.count, 2)
        let g = gpus[0]
        for key in ["index", "name", "uuid", "pciBusId", "utilizationGpu", "utilizationMemory", "memoryTotal",
                    "memoryReserved", "memoryUsed", "memoryFree", "temperature", "fanSpeed", "clockSM", "clockMemory",
                    "performanceState", "powerDraw", "powerLimitEnforced", "powerLimit", "powerLimitDefault",
                    "powerLimitMin", "powerLimitMax", "energyTotal", "persistenceMode", "computeMode",
                    "encoderUtilization", "decoderUtilization", "migMode"] {
            XCTAssertNotNil(g[key], "gpus[0].\(key) missing")
        }
        XCTAssertEqual(g["powerLimitEnforced"] as? Int, 700000)
        XCTAssertEqual(g["memoryReserved"] as? Int, 617611264)
        let mig = try XCTUnwrap((gpus[1]["migDevices"] as? [[String: Any]])?.first)
        XCTAssertEqual(mig["uuid"] as? String, "MIG-1111")
        XCTAssertEqual(mig["gpuInstanceId"] as? Int, 1)
        XCTAssertNil(gpus[1]["utilizationGpu"], "MIG GPU utilisation is not available, so absent")
        let procs = try XCTUnwrap(json["processes"] as? [[String: Any]])
        let p = try XCTUnwrap(procs.first)
        XCTAssertEqual(p["pid"] as? Int, Int(pid))
        XCTAssertEqual(p["kind"] as? String, "compute")
        XCTAssertEqual(p["usedGpuMemory"] as? Int, 1 << 30)
        XCTAssertEqual(p["smUtilization"] as? Int, 10)
        let info = try XCTUnwrap(p["info"] as? [String: Any])
        XCTAssertEqual(info["command"] as? String, "/bin/sleep 120")
        XCTAssertEqual(info["user"] as? String, "root")
        XCTAssertEqual(info["namespacePid"] as? Int, Int(pid))
        XCTAssertNotNil(info["startTime"])
        XCTAssertNotNil(info["residentBytes"])
        XCTAssertNil(info["container"], "a host process has no container")
    }

    func testMissingDriverStillPrintsAndSaysWhy() throws {
        let r = try Run.gpuctop(["snapshot", "--nvml", "/nonexistent/libnvidia-ml.so.1"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("no NVIDIA driver"), r.stdout)
        XCTAssertTrue(r.stdout.contains("No GPUs."), r.stdout)
    }

    func testDriverNotLoadedAtInit() throws {
        let r = try run(["snapshot", "--json"], scenario: "init_error DRIVER_NOT_LOADED\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("NVIDIA driver not loaded"), r.stdout)
    }

    func testNVMLPathFromEnvironment() throws {
        let lib = try FakeNVML.privateCopy()
        let r = try Run.gpuctop(["snapshot"], environment: [
            "GPUCTOP_NVML": lib, "FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario(pids: []))])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("NVIDIA H200"), r.stdout)
    }

    func testWrongProcRootIsReported() throws {
        children = [try Child(["/bin/sleep", "120"])]
        let r = try run(["snapshot", "--proc-root", "/tmp"], scenario: scenario(pids: [children[0].pid]))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("is not a procfs mount"), r.stdout)
    }

    func testPIDsInvisibleInProcRootAreReportedOnce() throws {
        // PIDs that exist in no /proc: as if NVML saw processes of another PID namespace.
        let r = try run(["snapshot"], scenario: scenario(pids: [999_990, 999_991]))
        XCTAssertEqual(r.status, 0, r.stderr)
        let mentions = r.stdout.components(separatedBy: "none of the 2 GPU processes is visible").count - 1
        XCTAssertEqual(mentions, 1, r.stdout)
    }

    func testBadCommandLineIsOneLineAndStatus2() throws {
        for args in [["bogus"], ["--interval", "0.05"], ["--nvml"], ["snapshot", "--frobnicate"]] {
            let r = try Run.gpuctop(args)
            XCTAssertEqual(r.status, 2, "\(args)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("gpuctop: "), r.stderr)
        }
    }
}
