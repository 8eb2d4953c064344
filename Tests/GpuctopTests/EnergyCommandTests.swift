// The real binary records GPM figures and energy (record --energy) against the
// fake NVML with real processes on the GPU; the recording reads back field by
// field, `snapshot --from FILE --energy` prints each container's kWh and cost and
// checks the estimate against the GPU's counter, and the recorded snapshot
// exports under dcgm-exporter's profiling names, promtool-clean.
import Foundation
@testable import Export
@testable import Model
@testable import Recording
import TestSupport
import XCTest

final class EnergyCommandTests: XCTestCase {
    var children: [Child] = []
    override func tearDown() { children.forEach { $0.stop() }; children = [] }

    func record() throws -> String {
        children = [try Child(["/bin/sleep", "120"]), try Child(["/bin/sleep", "120"])]
        let scenario = Scenarios.h200(["power": "300000 650000 120000 500000", "energy": "1000000"])
            + "energy_follows_power\ngpm sm_util 45\ngpm tensor 30\ngpm dram 55\ngpm pcie_tx 1024\ngpm nvlink_rx 2\n"
            + Scenarios.computeProcesses(pids: children.map(\.pid)).dropFirst() + "\n"
        let dir = TestEnv.temporaryDirectory("energy")
        let path = dir.appendingPathComponent("r.gpuctop").path
        let r = try Run.gpuctop(["record", "-o", path, "--interval", "0.25", "--duration", "3", "--energy",
                                 "--nvml", try FakeNVML.privateCopy()],
                                // GPM every refresh (5 s by default): a figure within the 3 s.
                                environment: ["FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario), "GPUCTOP_GPM_PERIOD": "0.2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return path
    }

    func testRecordedGPMAndEnergyReadBackAndAddUp() throws {
        let path = try record()
        let snapshots = try RecordingReader(path: path).snapshots
        XCTAssertGreaterThan(snapshots.count, 8)
        let last = try XCTUnwrap(snapshots.last)
        let a = try XCTUnwrap(last.gpus[0].activity)
        XCTAssertEqual(a.smActive, 45)
        XCTAssertEqual(a.tensorActive, 30)
        XCTAssertEqual(a.dramActive, 55)
        XCTAssertEqual(a.pcieTxBytesPerSecond, 1024 * 1_048_576)
        XCTAssertEqual(a.nvlinkRxBytesPerSecond, 2 * 1_048_576)
        let count = try XCTUnwrap(last.gpus[0].energyCount)
        XCTAssertGreaterThan(count.joules, 700)
        XCTAssertEqual(count.attributedJoules / count.joules, 1, accuracy: 0.05, "\(count)")
        let host = try XCTUnwrap(last.containers.first { $0.isHost }?.energy)
        XCTAssertEqual(host.joules, count.attributedJoules, accuracy: 1e-6)
        XCTAssertEqual(host.byGPU, [GPUEnergyShare(gpu: 0, joules: host.joules)])

        // The same recording, integrated again by the command, over all of it and over a range.
        let json = try Run.gpuctop(["snapshot", "--from", path, "--energy", "--price", "0.30", "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let rows = try XCTUnwrap(report["containers"] as? [[String: Any]])
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows[0]["container"] as? String, "host")
        let kwh = try XCTUnwrap(rows[0]["kilowattHours"] as? Double)
        XCTAssertEqual(kwh, host.joules / 3.6e6, accuracy: 1e-9, "the recording and the live sampler count alike")
        XCTAssertEqual(try XCTUnwrap(rows[0]["cost"] as? Double), kwh * 0.30, accuracy: 1e-12)
        let gpus = try XCTUnwrap(report["gpus"] as? [[String: Any]])
        XCTAssertEqual(try XCTUnwrap(gpus.first?["attributedPercent"] as? Double), 100, accuracy: 5)

        let text = try Run.gpuctop(["snapshot", "--from", path, "--energy", "--since", "+1s", "--until", "+2s", "--price", "0.30"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.hasPrefix("Estimated energy per container, "), text.stdout)
        XCTAssertTrue(text.stdout.contains("\nhost "), text.stdout)
        XCTAssertTrue(text.stdout.contains("GPU 0: its counter "), text.stdout)
        let shorter = try Run.gpuctop(["snapshot", "--from", path, "--energy", "--since", "+1s", "--until", "+2s", "--json"])
        let part = try XCTUnwrap(((try JSONSerialization.jsonObject(with: Data(shorter.stdout.utf8)) as? [String: Any])?["containers"] as? [[String: Any]])?.first?["kilowattHours"] as? Double)
        XCTAssertLessThan(part, kwh * 0.6, "a second of three")
        XCTAssertGreaterThan(part, 0)

        // Bad input: a clear one-line refusal.
        let bad = try Run.gpuctop(["snapshot", "--from", path, "--energy", "--price", "cheap"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        let noEnergy = try Run.gpuctop(["snapshot", "--from", path, "--price", "0.3"])
        XCTAssertEqual(noEnergy.status, 2)

        // The recorded snapshot exports under dcgm-exporter's profiling names, promtool-clean.
        let exposition = PrometheusText.render(last, version: "test")
        let parsed = try PromParsed(exposition)
        XCTAssertEqual(parsed.samples.first { $0.name == "DCGM_FI_PROF_SM_ACTIVE" }?.value, "0.45")
        XCTAssertEqual(parsed.samples.first { $0.name == "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE" }?.value, "0.3")
        XCTAssertEqual(parsed.samples.first { $0.name == "DCGM_FI_PROF_DRAM_ACTIVE" }?.value, "0.55")
        XCTAssertEqual(parsed.samples.first { $0.name == "DCGM_FI_PROF_PCIE_TX_BYTES" }?.value, "1073741824")
        let energy = try XCTUnwrap(parsed.samples.first { $0.name == "gpuctop_container_energy_joules_total" })
        XCTAssertEqual(energy.labels["container"], "host")
        XCTAssertEqual(energy.labels["gpu"], "0")
        XCTAssertEqual(try XCTUnwrap(Double(energy.value)), host.joules, accuracy: 0.001)
        let file = TestEnv.temporaryDirectory("energyprom").appendingPathComponent("m.prom")
        try exposition.write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try PromtoolVerdict.check(file: file.path), [])
    }
}
