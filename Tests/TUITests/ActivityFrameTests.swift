// GPM figures and container energy on the dashboard: from real samples of the
// fake NVML (GPM metrics, an energy counter, a real host process) and from the
// synthetic container snapshot, at 200x50 and 80x24; and a snapshot without GPM
// whose GPU lines are exactly what they were before GPM existed.
import Foundation
import Model
@testable import TUI
import Telemetry
import TestSupport
import XCTest

final class ActivityFrameTests: XCTestCase, FrameTestHelpers {
    var children: [Child] = []
    override func tearDown() { children.forEach { $0.stop() }; children = [] }

    /// Samples until GPM figures and energy are in (two GPM samples, two energy readings).
    func sample(_ scenario: String) throws -> Snapshot {
        setenv("FAKE_NVML_SCENARIO", try FakeNVML.scenario(scenario), 1)
        var options = SamplerOptions(nvmlPath: try FakeNVML.privateCopy(), useDocker: false)
        options.gpmPeriod = 0.000_001  // every refresh (0 turns GPM off)
        let sampler = SnapshotSampler(options: options)
        var last = sampler.sample()
        for _ in 0..<50 where last.gpus.first?.activity == nil || last.containers.first?.energy == nil {
            usleep(100_000)
            last = sampler.sample()
        }
        return last
    }

    func testGPULinesShowSMTensorAndDRAMBesideUtilAndMemory() throws {
        children = [try Child(["/bin/sleep", "60"])]
        let pid = children[0].pid
        let s = try sample("driver 580.95.05\n" + DashboardFrameTests.gpuBlock(0)
                           + "gpm sm_util 63.4\ngpm tensor 12\ngpm dram 55\n"
                           + DashboardFrameTests.gpuBlock(1)
                           + Scenarios.h100MIG(uuid: "GPU-mig") + "mig_gpm 1 sm_util 40\nmig_gpm 1 tensor 7\n"
                           + "process compute pid=\(pid) mem=5368709120 sm=77\n")
        XCTAssertEqual(s.gpus[0].activity?.smActive, 63.4)
        XCTAssertNil(s.gpus[1].activity, "GPU 1 has no GPM")

        let wide = DashboardView.render(model(s, 200, 50))
        assertRowsFit(wide)
        var lines = wide.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let gpm = try XCTUnwrap(lines.first { $0.hasPrefix(" 0 H200") }, wide.text)
        let plain = try XCTUnwrap(lines.first { $0.hasPrefix(" 1 H200") }, wide.text)
        XCTAssertTrue(gpm.contains("45%  SM 63% TC 12%"), "SM and tensor beside UTIL: \(gpm)")
        XCTAssertTrue(gpm.contains("DRAM 55%"), gpm)
        XCTAssertTrue(gpm.contains("250 W/700 W"), gpm)
        XCTAssertFalse(plain.contains("SM "), "no GPM, no figures: \(plain)")
        // The bars of a GPU with figures and one without line up.
        for label in ["MEM", "PWR"] {
            XCTAssertEqual(gpm.range(of: label).map { gpm.distance(from: gpm.startIndex, to: $0.lowerBound) },
                           plain.range(of: label).map { plain.distance(from: plain.startIndex, to: $0.lowerBound) }, label)
        }
        let migGPU = try XCTUnwrap(lines.first { $0.hasPrefix(" 2 H100") }, wide.text)
        XCTAssertTrue(migGPU.contains("n/a (MIG)"), "under MIG the GPU line has no figures: \(migGPU)")
        let mig = try XCTUnwrap(lines.first { $0.contains("MIG 1g.10gb") }, wide.text)
        XCTAssertTrue(mig.contains("SM 40% TC 7%"), "the instance's own figures: \(mig)")

        let narrow = DashboardView.render(model(s, 80, 24))
        assertRowsFit(narrow)
        lines = narrow.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let small = try XCTUnwrap(lines.first { $0.hasPrefix(" 0 H200") }, narrow.text)
        XCTAssertTrue(small.contains("45% SM 63% TC 12%"), small)
        XCTAssertTrue(small.contains("DRAM 55%"), small)
        XCTAssertTrue(small.hasSuffix("250 W"), "power still there, whole: \(small)")
        let smallPlain = try XCTUnwrap(lines.first { $0.hasPrefix(" 1 H200") }, narrow.text)
        XCTAssertTrue(smallPlain.hasSuffix("250 W"), smallPlain)
        XCTAssertEqual(small.count, smallPlain.count, "the same columns: \(small)\n\(smallPlain)")
    }

    /// A GPU line without GPM, as it was drawn before GPM figures existed.
    func testWithoutGPMTheGPULineIsUnchanged() {
        var s = DashboardFrameTests.containerSnapshot()
        let before = [
            (200, " 0 H200                 UTIL ███████████████████████████░░░ 90%       MEM ████████░░░░░░░░░░░░░░░░░░░░░░ 40.0 GiB/150 GiB    PWR █████████████████████████▋░░░░ 600 W/700 W"),
            (80, " 0 H200                 █████▍  90% █▌░░░░  40.0 GiB/150 GiB 600 W"),
        ]
        for (w, expected) in before {
            let h = w == 200 ? 50 : 24
            XCTAssertEqual(DashboardView.render(model(s, w, h)).text.split(separator: "\n")[1], Substring(expected), "\(w)x\(h)")
        }
        // An activity with no figure shown (only PCIe) is no reason to move the bars.
        s.gpus[0].activity = GPUActivity()
        s.gpus[0].activity?.pcieTxBytesPerSecond = 1e9
        for (w, expected) in before {
            let h = w == 200 ? 50 : 24
            XCTAssertEqual(DashboardView.render(model(s, w, h)).text.split(separator: "\n")[1], Substring(expected), "\(w)x\(h)")
        }
    }

    /// From 40 to 99 columns (compact) and from 100 to 200 (the full layout) the
    /// line never overflows, and the figures go before the power does.
    func testEveryWidthFits() {
        let plain = DashboardFrameTests.containerSnapshot()
        var s = plain
        var a = GPUActivity()
        a.smActive = 100; a.tensorActive = 100; a.dramActive = 100
        s.gpus[0].activity = a
        for w in stride(from: 40, through: 200, by: 1) {
            let f = DashboardView.render(model(s, w, 30))
            assertRowsFit(f)
            let line = String(f.text.split(separator: "\n")[1])
            let without = String(DashboardView.render(model(plain, w, 30)).text.split(separator: "\n")[1])
            XCTAssertEqual(line.contains("600 W"), without.contains("600 W"), "\(w): \(line)")
        }
        // The thresholds the README states: DRAM from 121 columns, SM/TC from 111.
        func shows(_ w: Int, _ text: String) -> Bool { DashboardView.render(model(s, w, 30)).text.contains(text) }
        XCTAssertEqual([110, 111, 120, 121].map { shows($0, "SM 100% TC 100%") }, [false, true, true, true])
        XCTAssertEqual([110, 111, 120, 121].map { shows($0, "DRAM 100%") }, [false, false, false, true])
        XCTAssertEqual([80, 99].map { shows($0, "SM 100% TC 100% ") && shows($0, "DRAM 100%") }, [true, true])
    }

    func testDetailShowsEnergyAndSMActiveHistory() throws {
        var s = DashboardFrameTests.containerSnapshot()
        var a = GPUActivity()
        a.smActive = 63; a.tensorActive = 12; a.dramActive = 55
        s.gpus[0].activity = a
        let trainer = try XCTUnwrap(s.containers.firstIndex { $0.name == "trainer" })
        s.containers[trainer].energy = ContainerEnergy(joules: 4.5e6, since: 1_799_990_100, sinceContainerStart: true,
                                                       byGPU: [GPUEnergyShare(gpu: 0, joules: 4.5e6)])
        let server = try XCTUnwrap(s.containers.firstIndex { $0.name == "server" })
        s.containers[server].energy = ContainerEnergy(joules: 36_000, since: 1_799_999_000, sinceContainerStart: false,
                                                      byGPU: [GPUEnergyShare(gpu: 0, joules: 27_000), GPUEnergyShare(gpu: 1, joules: 9_000)])
        for (w, h) in [(200, 50), (80, 24)] {
            var m = DashboardModel(width: w, height: h)
            // Three refreshes 5 s apart: two completed history cells.
            for i in 0..<3 {
                var step = s
                step.time += Double(i) * Series.bucketSeconds
                _ = m.update(.tick(step.time))
                _ = m.update(.snapshot(step))
            }
            _ = m.update(.key(.enter))
            let f = DashboardView.render(m)
            assertRowsFit(f)
            let text = f.text
            let energy = try XCTUnwrap(text.split(separator: "\n").map(String.init).first { $0.hasPrefix("energy") }, text)
            let expected = "~1.25 kWh since it started (\(Format.localTime(1_799_990_100)))  estimate"
            XCTAssertTrue(w == 80 ? energy.contains("~1.25 kWh since it started") : energy.hasSuffix(expected), "\(w)x\(h): \(energy)")
            let sm = try XCTUnwrap(text.split(separator: "\n").map(String.init).first { $0.hasPrefix("GPU 0 SM act") }, text)
            XCTAssertTrue(sm.contains("▅▅"), "two cells at 63 of 100: \(sm)")
            if w == 200 { XCTAssertTrue(sm.hasSuffix("▅▅  now SM 63% TC 12% DRAM 55%"), sm) } else { XCTAssertTrue(sm.hasSuffix("▅▅"), "no cut figures: \(sm)") }

            _ = m.update(.key(.escape))
            for _ in 0..<10 where m.selectedContainerId != s.containers[server].id { _ = m.update(.key(.down)) }
            _ = m.update(.key(.enter))
            let other = DashboardView.render(m).text
            let line = try XCTUnwrap(other.split(separator: "\n").map(String.init).first { $0.hasPrefix("energy") }, other)
            XCTAssertTrue(line.contains("~10 Wh since gpuctop started"), "\(w)x\(h): \(line)")
            if w == 200 { XCTAssertTrue(line.contains("GPU 0 7.5 Wh, GPU 1 2.5 Wh"), line) }
        }
    }

    /// Energy from a live sampler reaches the detail view: the fake NVML's host
    /// process, counted from the second refresh on.
    func testLiveEnergyInTheDetailView() throws {
        children = [try Child(["/bin/sleep", "60"])]
        let s = try sample(DashboardFrameTests.gpuBlock(0) + "gpm sm_util 50\n"
                           + "process compute pid=\(children[0].pid) mem=1GiB sm=50\n")
        let host = try XCTUnwrap(s.containers.first { $0.isHost })
        XCTAssertNotNil(host.energy, "\(s.containers)")
        var m = model(s, 120, 40)
        _ = m.update(.key(.enter))
        let text = DashboardView.render(m).text
        let line = try XCTUnwrap(text.split(separator: "\n").map(String.init).first { $0.hasPrefix("energy") }, text)
        XCTAssertTrue(line.contains(" Wh since gpuctop started"), line)
    }

    func testHelpSaysWhatTheFiguresAre() {
        var m = model(DashboardFrameTests.containerSnapshot(), 200, 50)
        _ = m.update(.key(.char("?")))
        XCTAssertTrue(DashboardView.render(m).text.contains("SM TC DRAM (GPM, Hopper on): SMs busy, tensor cores busy, memory bandwidth used."))
    }

    func testEnergyUnits() {
        XCTAssertEqual(ActivityText.energy(0), "0.0 Wh")
        XCTAssertEqual(ActivityText.energy(3600 * 4.24), "4.2 Wh")
        XCTAssertEqual(ActivityText.energy(3600 * 999), "999 Wh")
        XCTAssertEqual(ActivityText.energy(3.6e6 * 1.234), "1.23 kWh")
        XCTAssertEqual(ActivityText.energy(3.6e6 * 15.26), "15.3 kWh")
        XCTAssertEqual(ActivityText.energy(3.6e6 * 230), "230 kWh")
        XCTAssertEqual(ActivityText.energy(.nan), "n/a")
        XCTAssertEqual(ActivityText.energy(1e300), "n/a")
        XCTAssertEqual(ActivityText.percent(100.6), "100%")
    }
}
