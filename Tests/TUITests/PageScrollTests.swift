// Help and detail at 80x24: pages taller than the screen scroll (arrows, j/k, PgUp/PgDn,
// Home/End), the footer says where the view is, and long values end in "…".
import Model
@testable import TUI
import XCTest

final class PageScrollTests: XCTestCase {
    private func snapshot(labels: Int) -> Snapshot {
        var s = Snapshot(time: 1_800_000_000, host: "page-test")
        var g = GPU(index: 0)
        g.name = "NVIDIA H200"
        s.gpus = [g]
        var p = GPUProcess(pid: 4242, gpuIndex: 0, kind: .compute)
        var info = ProcessInfoSample(command: "/opt/torch/.venv/bin/python3 " + String(repeating: "--flag ", count: 20) + "/work/load.py",
                                     user: "root", uid: 0, startTime: 1_799_999_000)
        info.container = ContainerRef(runtime: .docker, id: String(repeating: "ab", count: 32))
        p.info = info
        s.processes = [p]
        var c = ContainerUsage(id: String(repeating: "ab", count: 32))
        c.name = "trainer"
        c.image = "nvcr.io/nvidia/pytorch:25.01-py3"
        c.gpus = [0]
        c.processCount = 1
        var l: [String: String] = [:]
        for i in 0..<labels { l[String(format: "io.kubernetes.label-%02d", i)] = "value-\(i)" }
        l["zz.long"] = String(repeating: "x", count: 200) + "END"
        c.labels = l
        s.containers = [c]
        return s
    }

    private func model(_ s: Snapshot, readOnly: Bool = false) -> DashboardModel {
        var m = DashboardModel(width: 80, height: 24, readOnly: readOnly)
        _ = m.update(.tick(s.time))
        _ = m.update(.snapshot(s))
        return m
    }

    func testLiveHelpAtEightyByTwentyFourReachesItsEnd() {
        var m = model(snapshot(labels: 0))
        _ = m.update(.key(.char("?")))
        var text = DashboardView.render(m).text
        XCTAssertTrue(text.contains("more below"), text)
        XCTAssertFalse(text.contains("replay:"), "live help lists live keys only:\n\(text)")
        _ = m.update(.key(.end))
        text = DashboardView.render(m).text
        XCTAssertTrue(text.contains("power limit of the selected row's GPU"), "the p key is reachable:\n\(text)")
        XCTAssertTrue(text.contains("idle in the GPU column"), "so are the notes:\n\(text)")
        XCTAssertFalse(text.contains("more below"), text)
        _ = m.update(.key(.home))
        XCTAssertTrue(DashboardView.render(m).text.contains("Keys"))
        // Down one line at a time, and never past the end.
        for _ in 0..<100 { _ = m.update(.key(.char("j"))) }
        XCTAssertTrue(DashboardView.render(m).text.contains("idle in the GPU column"))
    }

    func testDetailScrollsToItsLastLabelAndCutsLongValuesVisibly() {
        var m = model(snapshot(labels: 30))
        _ = m.update(.key(.enter))
        var f = DashboardView.render(m)
        XCTAssertTrue(f.text.contains("container"), f.text)
        XCTAssertTrue(f.text.contains("more below"), f.text)
        XCTAssertFalse(f.text.contains("zz.long"), f.text)
        _ = m.update(.key(.pageDown))
        _ = m.update(.key(.pageDown))
        _ = m.update(.key(.pageDown))
        f = DashboardView.render(m)
        XCTAssertTrue(f.text.contains("zz.long"), "the last label is reachable:\n\(f.text)")
        let long = f.text.split(separator: "\n").first { $0.contains("zz.long") } ?? ""
        XCTAssertTrue(long.hasSuffix("…"), "a cut value says so: \(long)")
        XCTAssertFalse(f.text.contains("more below"), f.text)
        // The process line is cut with an ellipsis too.
        _ = m.update(.key(.home))
        let process = DashboardView.render(m).text.split(separator: "\n").first { $0.contains("pid 4242") } ?? ""
        XCTAssertTrue(process.hasSuffix("…"), String(process))
        // Back and in again: from the top.
        _ = m.update(.key(.end))
        _ = m.update(.key(.escape))
        _ = m.update(.key(.enter))
        XCTAssertEqual(m.pageScroll, 0)
    }
}
