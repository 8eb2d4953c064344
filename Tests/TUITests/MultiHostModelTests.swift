// A several-host dashboard as state: rows keyed by host, the HOST column, and
// actions and questions that name the row's host.
import Model
@testable import TUI
import XCTest

final class MultiHostModelTests: XCTestCase {
    /// gpu1: a host process; gpu2: a container. Both hosts have GPU 0 with the same uuid.
    static func merged() -> Snapshot {
        var s = Snapshot(time: 1_000, host: "2 of 2 hosts up")
        for (host, name) in [("gpu1", "NVIDIA H200"), ("gpu2", "NVIDIA A100")] {
            var g = GPU(index: 0); g.name = name; g.uuid = "GPU-same"; g.host = host
            g.utilizationGpu = host == "gpu1" ? 10 : 55
            g.powerLimitMin = 200_000; g.powerLimitMax = 700_000; g.powerLimitDefault = 700_000
            s.gpus.append(g)
        }
        var p1 = GPUProcess(pid: 301, gpuIndex: 0, kind: .compute); p1.host = "gpu1"; p1.usedGpuMemory = 2 << 30
        p1.info = ProcessInfoSample(command: "/bin/sleep 301", user: "root", uid: 0, startTime: 900)
        p1.info?.startTicks = 90_000
        var p2 = GPUProcess(pid: 400, gpuIndex: 0, kind: .compute); p2.host = "gpu2"; p2.usedGpuMemory = 8 << 30
        p2.info = ProcessInfoSample(command: "sleep 1000", user: "root", uid: 0, startTime: 900)
        let id = String(repeating: "b", count: 64)
        p2.info?.container = ContainerRef(runtime: .docker, id: id)
        s.processes = [p1, p2]
        var c1 = ContainerUsage(id: "host"); c1.host = "gpu1"; c1.gpus = [0]; c1.processCount = 1; c1.gpuMemory = 2 << 30
        var c2 = ContainerUsage(id: id); c2.host = "gpu2"; c2.name = "box"; c2.gpus = [0]; c2.processCount = 1; c2.gpuMemory = 8 << 30
        var c3 = ContainerUsage(id: "host"); c3.host = "gpu2"; c3.idleAllocation = false
        s.containers = [c1, c2, c3]
        return s
    }

    func model() -> DashboardModel {
        var m = DashboardModel(width: 200, height: 50)
        m.hostCount = 2
        _ = m.update(.snapshot(Self.merged()))
        return m
    }

    func testHostColumnGPUNamesAndHeader() {
        let text = DashboardView.render(model()).text
        XCTAssertTrue(text.contains("HOST"), text)
        XCTAssertTrue(text.contains("gpu1 H200") && text.contains("gpu2 A100"), text)
        XCTAssertTrue(text.contains("2 of 2 hosts up"), text)
        let boxRow = text.split(separator: "\n").first { $0.contains("box") } ?? ""
        XCTAssertTrue(boxRow.hasPrefix("gpu2"), String(boxRow))
        var single = DashboardModel(width: 200, height: 50)
        _ = single.update(.snapshot(DashboardFrameTests.containerSnapshot()))
        XCTAssertFalse(DashboardView.render(single).text.split(separator: "\n").contains { $0.hasPrefix("HOST") }, "one host: no HOST column")
    }

    func testEachHostKeepsItsOwnHostGroupAndHistory() {
        let m = model()
        let groups = m.rows.compactMap { row -> String? in
            if case .container(let c, let ps) = row { return "\(c.host ?? "-") \(c.id.prefix(4)) \(ps.count)" }
            return nil
        }
        XCTAssertEqual(groups, ["gpu2 bbbb 1", "gpu1 host 1", "gpu2 host 0"])
        XCTAssertEqual(m.history.gpus.count, 2, "same uuid on two hosts: two series")
    }

    func testActionsAndQuestionsNameTheHost() {
        var m = model()
        _ = m.update(.key(.char("x")))
        guard case .confirm(let request, let lines)? = m.dialog else { return XCTFail("no confirmation") }
        XCTAssertEqual(request, .onHost("gpu2", .container(id: String(repeating: "b", count: 64), name: "box", verb: .stop)))
        XCTAssertTrue(lines[0].hasSuffix("on host gpu2?"), lines[0])
        _ = m.update(.key(.escape))
        // Filter to the gpu1 process, then signal it.
        _ = m.update(.key(.char("/")))
        for c in "sleep 301" { _ = m.update(.key(.char(c))) }
        _ = m.update(.key(.enter))
        _ = m.update(.key(.down))
        _ = m.update(.key(.char("T")))
        guard case .confirm(let r2, let l2)? = m.dialog else { return XCTFail("no confirmation: \(m.rows.map(\.id))") }
        XCTAssertEqual(r2, .onHost("gpu1", .signal(pid: 301, signal: 15, signalName: "TERM", command: "/bin/sleep 301", startTicks: 90_000)))
        XCTAssertTrue(l2[0].contains("on host gpu1?"), l2[0])
        _ = m.update(.key(.escape))
        _ = m.update(.key(.char("p")))
        guard case .power(let d)? = m.dialog else { return XCTFail("no power dialog") }
        XCTAssertEqual(d.host, "gpu1")
        for c in "300" { _ = m.update(.key(.char(c))) }
        XCTAssertEqual(m.update(.key(.enter)), [.perform(.onHost("gpu1", .power(target: .gpu(0), setting: .milliwatts(300_000))))])
    }
}
