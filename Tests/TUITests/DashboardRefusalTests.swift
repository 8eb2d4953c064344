// The dashboard asks ContainerActionPolicy before it asks the user: a container Kubernetes
// manages gets the line that names kubectl instead of a question, and its processes can
// still be signalled. The frame shows the line where the question would be answered.
import Model
@testable import TUI
import XCTest

final class DashboardRefusalTests: XCTestCase {
    func model(_ s: Snapshot) -> DashboardModel {
        var m = DashboardModel(width: 200, height: 50, readOnly: false)
        _ = m.update(.snapshot(s))
        return m
    }

    /// Moves the selection down to the first row `matches` accepts.
    func select(_ m: inout DashboardModel, _ matches: (TableRow) -> Bool, file: StaticString = #filePath, line: UInt = #line) {
        for _ in 0..<m.rows.count {
            if let i = m.selectedIndex, matches(m.rows[i]) { return }
            _ = m.update(.key(.down))
        }
        XCTFail("no such row", file: file, line: line)
    }

    func snapshot() -> Snapshot {
        var s = DashboardFrameTests.containerSnapshot()
        for i in s.processes.indices {
            let pid = s.processes[i].pid
            s.processes[i].info?.startTicks = 50_000 + UInt64(pid)
        }
        return s
    }

    func testAPodsContainerGetsTheKubectlLineInsteadOfTheQuestion() throws {
        var m = model(snapshot())
        select(&m) { if case .container(let c, _) = $0 { return c.name == "server" }; return false }
        for key in ["x", "R", "K"] {
            XCTAssertEqual(m.update(.key(.char(Character(key)))), [], key)
            XCTAssertNil(m.dialog, "no question for \(key)")
            XCTAssertFalse(m.actionInFlight)
        }
        XCTAssertEqual(m.status, "refusing to kill server [bbbbbbbbbbbb]: Kubernetes manages it (pod team/serve-7d9) and would undo that; use kubectl delete pod -n team serve-7d9")
        _ = m.update(.key(.char("x")))
        let frame = DashboardView.render(m).text
        XCTAssertTrue(frame.contains("refusing to stop server [bbbbbbbbbbbb]: Kubernetes manages it (pod team/serve-7d9)"), frame)
        XCTAssertTrue(frame.contains("kubectl delete pod -n team serve-7d9"), frame)
        XCTAssertFalse(frame.contains("y: yes"), frame)

        // Its process can still be signalled: the question, and y sends it.
        select(&m) { if case .process(let p, _, _) = $0 { return p.pid == 200 }; return false }
        _ = m.update(.key(.char("T")))
        guard case .confirm(let request, _)? = m.dialog else { return XCTFail("no question for T on a pod's process") }
        XCTAssertEqual(request, .signal(pid: 200, signal: 15, signalName: "TERM", command: "python serve.py", startTicks: 50_200))
        XCTAssertEqual(m.update(.key(.char("y"))), [.perform(request)])
    }

    func testAContainerdContainerNamesItsTool() {
        var s = snapshot()
        let i = s.containers.firstIndex { $0.name == "trainer" }!
        s.containers[i].runtime = .containerd
        s.containers[i].labels = ["nerdctl/name": "trainer", "nerdctl/namespace": "default"]
        var m = model(s)
        select(&m) { if case .container(let c, _) = $0 { return c.name == "trainer" }; return false }
        _ = m.update(.key(.char("x")))
        XCTAssertNil(m.dialog)
        XCTAssertEqual(m.status, "refusing to stop trainer [aaaaaaaaaaaa]: a containerd container, and gpuctop speaks only Docker's and Podman's API; use nerdctl stop trainer")
        // A Docker container of the same snapshot is still asked about.
        s.containers[i].runtime = .docker
        s.containers[i].labels = nil
        m = model(s)
        select(&m) { if case .container(let c, _) = $0 { return c.name == "trainer" }; return false }
        _ = m.update(.key(.char("x")))
        guard case .confirm(let request, _)? = m.dialog else { return XCTFail("no question for a Docker container") }
        XCTAssertEqual(request, .container(id: String(repeating: "a", count: 64), name: "trainer", verb: .stop))
    }
}
