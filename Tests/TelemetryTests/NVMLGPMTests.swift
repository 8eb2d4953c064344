// GPM against the fake NVML: figures between two samples per GPU and per MIG GPU
// instance, nothing on a GPU or driver without GPM; and each container's energy,
// integrated from its power share, adding up to the GPU's own energy counter.
import Foundation
@testable import Model
@testable import Telemetry
import TestSupport
import Support
import XCTest

final class NVMLGPMTests: XCTestCase {
    var children: [Child] = []
    override func tearDown() { children.forEach { $0.stop() }; children = [] }

    func sampler(_ scenario: String, variant: FakeNVML.Variant = .current, gpmPeriod: Double = 0.000_001,
                 energy: Bool = false) throws -> SnapshotSampler {
        setenv("FAKE_NVML_SCENARIO", try FakeNVML.scenario(scenario), 1)
        var options = SamplerOptions(nvmlPath: try FakeNVML.privateCopy(variant), useDocker: false)
        options.gpmPeriod = gpmPeriod
        options.watchXID = false
        options.nvmlSchedule.energy = energy
        return SnapshotSampler(options: options)
    }

    static let gpm = """
        gpm sm_util 45 80.5
        gpm sm_occupancy 20
        gpm tensor 30.25
        gpm dram 55
        gpm graphics_util 99
        gpm pcie_tx 1024
        gpm pcie_rx 2
        gpm nvlink_tx 512
        gpm nvlink_rx 0

        """

    func testFiguresBetweenTwoSamples() throws {
        let s = try sampler(Scenarios.h200() + Self.gpm)
        XCTAssertNil(s.sample().gpus[0].activity, "the first sample only primes")
        let a = try XCTUnwrap(s.sample().gpus[0].activity)
        XCTAssertEqual(a.smActive, 45)
        XCTAssertEqual(a.smOccupancy, 20)
        XCTAssertEqual(a.tensorActive, 30.25)
        XCTAssertEqual(a.dramActive, 55)
        XCTAssertEqual(a.graphicsActive, 99)
        XCTAssertEqual(a.pcieTxBytesPerSecond, 1024 * 1_048_576, "NVML's MiB/s kept as bytes/s")
        XCTAssertEqual(a.pcieRxBytesPerSecond, 2 * 1_048_576)
        XCTAssertEqual(a.nvlinkTxBytesPerSecond, 512 * 1_048_576)
        XCTAssertEqual(a.nvlinkRxBytesPerSecond, 0)
        XCTAssertEqual(s.sample().gpus[0].activity?.smActive, 80.5, "the next pair: the next value")
    }

    func testPeriodReusesFiguresBetweenSamples() throws {
        let s = try sampler(Scenarios.h200() + Self.gpm, gpmPeriod: 0.4)
        _ = s.sample()
        XCTAssertNil(s.sample().gpus[0].activity, "within the period no second sample is taken")
        usleep(450_000)
        XCTAssertEqual(s.sample().gpus[0].activity?.smActive, 45)
        XCTAssertEqual(s.sample().gpus[0].activity?.smActive, 45, "reused until the period is over")
    }

    /// The first figures need a second sample: taken a second after the first, not a
    /// whole period later (30 s by default), so the GPU line takes its shape at once.
    func testFirstFiguresComeASecondAfterTheStart() throws {
        XCTAssertEqual(SamplerOptions().gpmPeriod, 30)
        let s = try sampler(Scenarios.h200() + Self.gpm, gpmPeriod: 30)
        let start = MonotonicClock.now()
        XCTAssertNil(s.sample().gpus[0].activity)
        usleep(500_000)
        let early = s.sample().gpus[0].activity
        if MonotonicClock.now() - start < 0.95 { XCTAssertNil(early, "within the first second: none yet") }
        usleep(600_000)
        XCTAssertEqual(s.sample().gpus[0].activity?.smActive, 45, "a second after the first sample")
    }

    func testMetricsTheGPUDoesNotGiveStayAbsent() throws {
        let s = try sampler(Scenarios.h200() + "gpm sm_util 10\n")
        _ = s.sample()
        let a = try XCTUnwrap(s.sample().gpus[0].activity)
        XCTAssertEqual(a.smActive, 10)
        XCTAssertNil(a.tensorActive)
        XCTAssertNil(a.pcieTxBytesPerSecond)
    }

    func testNoGPMOnOlderGPUsAndDrivers() throws {
        // A pre-Hopper GPU: the support query says no; an old driver: no GPM symbols at all.
        for (scenario, variant) in [(Scenarios.h200(), FakeNVML.Variant.current),
                                    (Scenarios.h200() + "gpm_supported 0\n", .current),
                                    (Scenarios.h200() + Self.gpm, .legacy)] {
            let s = try sampler(scenario, variant: variant)
            _ = s.sample()
            let snap = s.sample()
            XCTAssertNil(snap.gpus[0].activity, "\(variant)")
            XCTAssertEqual(snap.gpus[0].utilizationGpu, 42, "the rest is read as before")
        }
    }

    func testMIGInstancesEachTheirOwn() throws {
        let s = try sampler(Scenarios.h100MIG() + "mig_gpm 1 sm_util 33\nmig_gpm 1 tensor 12\ngpm sm_util 99\n")
        _ = s.sample()
        let g = s.sample().gpus[0]
        XCTAssertNil(g.activity, "under MIG the whole GPU is not read")
        XCTAssertEqual(g.migDevices[0].activity?.smActive, 33)
        XCTAssertEqual(g.migDevices[0].activity?.tensorActive, 12)
    }

    func testJSONCarriesActivityAndOldJSONDecodes() throws {
        let s = try sampler(Scenarios.h200() + Self.gpm)
        _ = s.sample()
        let snap = s.sample()
        let data = try JSONEncoder().encode(snap)
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertTrue(text.contains("\"smActive\":45"), text)
        XCTAssertEqual(try JSONDecoder().decode(Snapshot.self, from: data), snap)
        var old = snap
        old.gpus[0].activity = nil
        let oldText = String(decoding: try JSONEncoder().encode(old), as: UTF8.self)
        XCTAssertFalse(oldText.contains("activity"))
        XCTAssertNil(try JSONDecoder().decode(Snapshot.self, from: Data(oldText.utf8)).gpus[0].activity)
    }

    /// Two real processes share an H200 whose power moves every refresh and whose
    /// energy counter integrates that power: the processes' shares, integrated by the
    /// sampler, add up to what the counter says the GPU used, within 5 %.
    func testContainerEnergyAddsUpToTheGPUCounter() throws {
        let a = try Child(["/bin/sleep", "60"]), b = try Child(["/bin/sleep", "60"])
        children = [a, b]
        let scenario = Scenarios.h200(["power": "300000 650000 120000 500000", "energy": "1000000"])
            + "energy_follows_power\n" + Scenarios.computeProcesses(pids: [a.pid, b.pid]).dropFirst() + "\n"
        let s = try sampler(scenario, energy: true)
        var last = s.sample()
        for _ in 0..<16 {
            usleep(200_000)
            last = s.sample()
        }
        let count = try XCTUnwrap(last.gpus[0].energyCount)
        // About 3.2 s at 300-650 W: roughly a kilojoule.
        XCTAssertGreaterThan(count.joules, 800, "\(count)")
        XCTAssertLessThan(count.joules, 2500, "\(count)")
        XCTAssertEqual(count.attributedJoules / count.joules, 1, accuracy: 0.05, "\(count)")
        let host = try XCTUnwrap(last.containers.first { $0.isHost }?.energy)
        XCTAssertEqual(host.joules, count.attributedJoules, accuracy: 1e-6, "both processes are the host group")
        XCTAssertEqual(host.byGPU.map(\.gpu), [0])
        XCTAssertFalse(host.sinceContainerStart, "the processes were there before the sampler")
        XCTAssertEqual(host.since, try XCTUnwrap(s.sample().containers.first { $0.isHost }?.energy?.since), "counting began once")
    }
}
