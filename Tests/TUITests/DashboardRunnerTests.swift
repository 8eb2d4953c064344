// The run loop in-process, on a screen in memory: the sampler thread's snapshots
// reach the screen, keys change it, an action runs on its own thread and its result
// comes back, and q ends the loop.
import Model
import Support
@testable import TUI
import XCTest

private final class RecordingPerformer: DashboardActionPerformer, @unchecked Sendable {
    let requests = LockedValue<[ActionRequest]>([])
    func perform(_ request: ActionRequest) -> String {
        requests.update { $0.append(request) }
        return "performed in a test"
    }
}

final class DashboardRunnerTests: XCTestCase {
    private func snapshot(_ n: Int) -> Snapshot {
        var s = Snapshot(time: 1_800_000_000 + Double(n), host: "runner-test-\(n)")
        var g = GPU(index: 0)
        g.name = "Test GPU"
        g.utilizationGpu = n % 100
        s.gpus = [g]
        var p = GPUProcess(pid: 4242, gpuIndex: 0, kind: .compute)
        p.info = ProcessInfoSample(command: "python train.py", user: "root", uid: 0, startTime: 1_799_999_000)
        p.info?.startTicks = 12345
        s.processes = [p]
        var host = ContainerUsage(id: "host")
        host.gpus = [0]
        host.processCount = 1
        s.containers = [host]
        return s
    }

    func testSnapshotsKeysActionsAndQuitWithoutATerminal() throws {
        let counter = LockedValue(0)
        var config = DashboardRunner.Config(interval: 0.1, readOnly: false, ascii: false, noColor: true)
        config.hostCount = 1
        let performer = RecordingPerformer()
        let runner = DashboardRunner(config: config, source: .live({ [self] in
            snapshot(counter.update { $0 += 1; return $0 })
        }), performer: performer)
        let screen = MemoryScreen(width: 120, height: 30)
        let done = LockedValue<Int32?>(nil)
        startDetachedThread { done.update { $0 = runner.run(on: screen) } }

        XCTAssertNotNil(screen.waitForFrame(seconds: 10) { $0.text.contains("runner-test-") && $0.text.contains("python train.py") },
                        "a sampled snapshot reaches the screen")
        let later = "runner-test-\(counter.current + 3) "
        XCTAssertNotNil(screen.waitForFrame(seconds: 10) { $0.text.contains(later) }, "the sampler keeps refreshing the screen")

        /// Types `keys`; frames drawn before them do not count for what follows.
        func press(_ keys: Key...) -> Int {
            let mark = screen.frameCount
            screen.type(keys)
            return mark
        }
        var mark = press(.char("?"))
        XCTAssertNotNil(screen.waitForFrame(after: mark, seconds: 5) { $0.text.contains("this help") }, "help opens")
        mark = press(.char("q"))
        XCTAssertNotNil(screen.waitForFrame(after: mark, seconds: 5) { !$0.text.contains("this help") && $0.text.contains("CONTAINER") },
                        "q leaves help first")
        mark = press(.char("g"))  // a flat list: the first row is the process
        XCTAssertNotNil(screen.waitForFrame(after: mark, seconds: 5) { $0.text.contains("g grouped") }, "g switches to the flat list")
        mark = press(.char("T"))
        XCTAssertNotNil(screen.waitForFrame(after: mark, seconds: 5) { $0.text.contains("python train.py") && $0.text.contains("SIGTERM") },
                        "the question names the command")
        mark = press(.char("y"))
        XCTAssertNotNil(screen.waitForFrame(after: mark, seconds: 5) { $0.text.contains("performed in a test") }, "the result comes back")
        XCTAssertEqual(performer.requests.current.count, 1)
        if case .signal(let pid, let sig, _, _, let ticks)? = performer.requests.current.first {
            XCTAssertEqual(pid, 4242); XCTAssertEqual(sig, 15); XCTAssertEqual(ticks, 12345)
        } else {
            XCTFail("\(performer.requests.current)")
        }

        mark = screen.frameCount
        screen.resize(width: 80, height: 24)
        XCTAssertNotNil(screen.waitForFrame(after: mark, seconds: 5) { $0.width == 80 && $0.height == 24 }, "a resize relays out")

        screen.type([.char("q")])
        XCTAssertTrue(done.wait(until: { $0 != nil }, deadline: MonotonicClock.now() + 5), "q ends the loop")
        XCTAssertEqual(done.current, 0)
        XCTAssertTrue(screen.ended)
    }
}
