// GPU health on the dashboard, from real samples: a real container on the test
// dockerd and a host process on a fake-NVML GPU that meets an XID, has a row
// remap pending and goes power-capped mid-run. The banner names who was on the
// GPU until `a` acknowledges it; the GPU line says what holds it back.
import Foundation
import Model
@testable import TUI
import Telemetry
import TestSupport
import XCTest

final class HealthFrameTests: XCTestCase, FrameTestHelpers {
    let container = "hf-\(UUID().uuidString.prefix(6).lowercased())"
    var children: [Child] = []
    override func tearDown() {
        children.forEach { $0.stop() }
        children = []
        _ = try? Docker.run(["rm", "-f", container])
    }

    func sampler(_ scenario: String, docker: Bool) throws -> SnapshotSampler {
        setenv("FAKE_NVML_SCENARIO", try FakeNVML.scenario(scenario), 1)
        var options = SamplerOptions(nvmlPath: try FakeNVML.privateCopy(), dockerHost: docker ? try Docker.host() : nil,
                                     useDocker: docker)
        options.healthSchedule = .everyRefresh
        return SnapshotSampler(options: options)
    }

    /// Samples every 0.1 s until `done` holds (10 s at most).
    func sample(_ s: SnapshotSampler, until done: (Snapshot) -> Bool) throws -> Snapshot {
        let deadline = Date().addingTimeInterval(10)
        var last = s.sample()
        while !done(last) {
            guard Date() < deadline else { throw TestFailure("not within 10 s; last snapshot: \(last)") }
            usleep(100_000)
            last = s.sample()
        }
        return last
    }

    func testXIDBannerNamesWhoWasOnTheGPUUntilAcknowledged() throws {
        try Docker.runContainer(container, labels: ["com.docker.compose.project": "research", "com.docker.compose.service": "trainer"])
        let inContainer = try Docker.pid(container)
        let host = try Child(["/bin/sleep", "60"])
        children = [host]
        let s = try sampler(Scenarios.h200() + """
            remapped_rows corr=0 unc=1 pending=1 failure=0
            process compute pid=\(inContainer) mem=4GiB sm=50
            process compute pid=\(host.pid) mem=1GiB sm=5
            xid code=79 at=1500ms

            """ + Scenarios.h200(uuid: "GPU-other"), docker: true)
        let snap = try sample(s) { $0.xidEvents != nil && $0.containers.contains { $0.name == self.container } }
        var m = model(snap, 200, 50)
        var text = DashboardView.render(m).text
        let lines = text.split(separator: "\n").map(String.init)
        let banner = try XCTUnwrap(lines.first { $0.hasPrefix("! XID 79 GPU 0 ") }, text)
        XCTAssertTrue(banner.contains("GPU has fallen off the bus"), banner)
        XCTAssertTrue(banner.contains("research/trainer"), banner)
        XCTAssertTrue(banner.contains("host pid \(host.pid)"), banner)
        XCTAssertEqual(lines.firstIndex(of: banner), 1, "right under the header")
        let gpu0 = try XCTUnwrap(lines.first { $0.hasPrefix(" 0 H200") }, text)
        XCTAssertTrue(gpu0.hasSuffix("XID 79  reset needed"), gpu0)
        let gpu1 = try XCTUnwrap(lines.first { $0.hasPrefix(" 1 H200") }, text)
        XCTAssertFalse(gpu1.contains("XID"), gpu1)
        XCTAssertTrue(lines.last!.contains("a ack XID"), lines.last!)

        // 80x24: the banner is cut where it must be, visibly, and the GPU line keeps its words.
        var small = model(snap, 80, 24)
        let f = DashboardView.render(small)
        assertRowsFit(f)
        XCTAssertTrue(f.text.contains("! XID 79 GPU 0"), f.text)
        XCTAssertTrue(f.text.contains("XID 79  reset needed"), f.text)

        // The container's detail lists the XID it was there for.
        _ = small.update(.key(.char("a")))
        let row = try XCTUnwrap(m.rows.firstIndex { $0.containerId == snap.containers.first { $0.name == self.container }?.id })
        for _ in 0..<row { _ = m.update(.key(.down)) }
        _ = m.update(.key(.enter))
        text = DashboardView.render(m).text
        XCTAssertTrue(text.contains("XID 79         GPU 0 at "), text)
        XCTAssertTrue(text.contains(": GPU has fallen off the bus"), text)
        _ = m.update(.key(.escape))

        // Acknowledged: the banner and the hint go, the GPU keeps "reset needed"; later
        // refreshes carry the same event and it stays acknowledged.
        _ = m.update(.key(.char("a")))
        XCTAssertEqual(m.status, "1 XID error acknowledged (still in JSON, recordings and the export)")
        _ = m.update(.key(.char("j")))  // any key clears the status line
        _ = m.update(.snapshot(s.sample()))
        text = DashboardView.render(m).text
        XCTAssertFalse(text.contains("! XID"), text)
        XCTAssertFalse(text.contains("ack XID"), text)
        let again = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix(" 0 H200") })
        XCTAssertTrue(again.hasSuffix("  reset needed") && !again.contains("XID"), String(again))
        _ = m.update(.key(.char("a")))
        XCTAssertEqual(m.status, "no XID error to acknowledge")
    }

    func testAGPUThatGoesPowerCappedMidRunSaysSo() throws {
        let s = try sampler(Scenarios.h200() + "throttle none\nthrottle power_cap at=1s\nviolation_power 0\n", docker: false)
        let before = s.sample()
        for (w, h) in [(200, 50), (80, 24)] {
            let text = DashboardView.render(model(before, w, h)).text
            XCTAssertFalse(text.contains("power cap"), "\(w)x\(h):\n\(text)")
        }
        _ = try sample(s) { $0.gpus[0].clockEventReasons == 0x4 }
        usleep(300_000)
        let after = s.sample()
        for (w, h) in [(200, 50), (80, 24)] {
            let f = DashboardView.render(model(after, w, h))
            assertRowsFit(f)
            let line = try XCTUnwrap(f.text.split(separator: "\n").first { $0.hasPrefix(" 0 H200") }, f.text)
            // Held by its limit all along since it started: nearly all of the last read's span.
            XCTAssertNotNil(line.range(of: #"power cap (8|9|10)[0-9]?%$"#, options: .regularExpression), "\(w)x\(h): \(line)")
        }
    }

    /// Synthetic values the fake does not reach: the most serious words first, what
    /// does not fit cut visibly, never past the edge.
    func testHealthWordsInOrderAndFitted() {
        var g = GPU(index: 0)
        g.name = "NVIDIA H200"
        g.clockEventReasons = 0x4 | 0x40 | 0x80
        g.powerCappedPercent = 37
        g.rowRemapPending = true
        g.rowRemapFailure = true
        g.eccUncorrectedVolatile = 2
        XCTAssertEqual(HealthView.gpuWords(g, unacknowledged: []).map(\.text),
                       ["reset needed", "row remap failed", "2 uncorrected ECC", "power brake", "HW thermal", "power cap 37%"])
        var s = Snapshot(time: 1_800_000_000, host: "h")
        s.gpus = [g]
        for w in [200, 120, 100, 80, 60, 40] {
            let f = DashboardView.render(model(s, w, 24))
            assertRowsFit(f)
            let line = f.text.split(separator: "\n").first { $0.hasPrefix(" 0 H200") }.map(String.init) ?? ""
            // The bars give way to the words (up to 40 cells); what still does not fit is cut visibly.
            if w == 200 { XCTAssertTrue(line.contains("reset needed  row remap failed  2 uncorrected"), "\(w): \(line)") }
            if w >= 60 { XCTAssertTrue(line.contains("reset"), "\(w): \(line)") }
            if w >= 100 { XCTAssertTrue(line.hasSuffix("…"), "\(w): \(line)") }
        }
    }
}
