// ProcessSignal.send(_:to:ifStartedAt:), the one rule of every front end, against real
// child processes: a PID is signalled only while its start time (field 22 of
// /proc/PID/stat) is the one the question was asked with. A reused PID cannot be made
// on demand, so a reuse is played by asking with a start time that /proc does not show,
// which is exactly what the kill sees after one.
@testable import Actions
import Foundation
import TestSupport
import XCTest

final class ProcessSignalIdentityTests: XCTestCase {
    var children: [Child] = []

    override func tearDown() {
        children.forEach { $0.stop() }
        children = []
    }

    func sleeper() throws -> (Child, UInt64) {
        let child = try Child(["/bin/sleep", "100"])
        children.append(child)
        // Until exec has happened /proc shows the test runner's fork; the start time is the same.
        let ticks = try XCTUnwrap(ProcessSignal.startTicks(pid: child.pid))
        return (child, ticks)
    }

    /// True when `child` is still running a moment after a signal could have arrived.
    func stillRunning(_ child: Child) -> Bool {
        usleep(100_000)
        return child.process.isRunning
    }

    func testAnotherStartTimeIsRefusedAndNothingIsSent() throws {
        let (child, ticks) = try sleeper()
        for other in [ticks + 1, ticks - 1, 0, UInt64.max] {
            XCTAssertThrowsError(try ProcessSignal.send(SIGKILL, to: child.pid, ifStartedAt: other)) {
                XCTAssertEqual($0 as? SignalError, .pidReused(child.pid))
                XCTAssertEqual("\($0)", "PID \(child.pid) is now another process (it started at another time); not signalled")
                XCTAssertTrue(($0 as? SignalError)?.isRefusal == true)
            }
        }
        XCTAssertTrue(stillRunning(child), "no signal reached the process")
    }

    func testAnUnknownStartTimeIsRefused() throws {
        let (child, _) = try sleeper()
        XCTAssertThrowsError(try ProcessSignal.send(SIGKILL, to: child.pid, ifStartedAt: nil)) {
            XCTAssertEqual($0 as? SignalError, .startUnknown(child.pid))
            XCTAssertTrue("\($0)".hasSuffix("not signalled"), "\($0)")
        }
        XCTAssertTrue(stillRunning(child))
    }

    func testTheSameStartTimeIsSignalled() throws {
        let (child, ticks) = try sleeper()
        try ProcessSignal.send(SIGTERM, to: child.pid, ifStartedAt: ticks)
        child.process.waitUntilExit()
        XCTAssertEqual(child.process.terminationReason, .uncaughtSignal)
        XCTAssertEqual(child.process.terminationStatus, SIGTERM)
    }

    func testAProcessThatIsGoneIsNoSuchProcessWithOrWithoutAStartTime() throws {
        let (child, ticks) = try sleeper()
        child.process.terminate()
        child.process.waitUntilExit()
        for known in [ticks, nil] {
            XCTAssertThrowsError(try ProcessSignal.send(SIGTERM, to: child.pid, ifStartedAt: known)) {
                XCTAssertEqual($0 as? SignalError, .noSuchProcess(child.pid))
            }
        }
    }

    func testTheRefusalsOfCheckComeFirst() {
        XCTAssertThrowsError(try ProcessSignal.send(SIGTERM, to: 1, ifStartedAt: ProcessSignal.startTicks(pid: 1))) {
            XCTAssertEqual($0 as? SignalError, .refusedPid(1))
        }
        XCTAssertThrowsError(try ProcessSignal.send(SIGTERM, to: getpid(), ifStartedAt: ProcessSignal.startTicks(pid: getpid()))) {
            XCTAssertEqual($0 as? SignalError, .refusedSelf(getpid()))
        }
    }

    /// The procfs the start time is read from is the one asked (`--proc-root`): its start
    /// time, not the real one, decides.
    func testTheStartTimeComesFromTheGivenProcRoot() throws {
        let (child, ticks) = try sleeper()
        let root = TestEnv.temporaryDirectory("procroot")
        let dir = root.appendingPathComponent("\(child.pid)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let fields = (4...52).map { $0 == 22 ? "\(ticks + 500)" : "0" }.joined(separator: " ")
        try "\(child.pid) (sleep) S \(fields)\n".write(to: dir.appendingPathComponent("stat"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ProcessSignal.send(SIGKILL, to: child.pid, ifStartedAt: ticks, procRoot: root.path)) {
            XCTAssertEqual($0 as? SignalError, .pidReused(child.pid))
        }
        XCTAssertTrue(stillRunning(child))
        try ProcessSignal.send(SIGKILL, to: child.pid, ifStartedAt: ticks + 500, procRoot: root.path)
        child.process.waitUntilExit()
        XCTAssertEqual(child.process.terminationStatus, SIGKILL)
    }

    /// A pidfd keeps naming its process: once that process has gone, the descriptor
    /// reaches nothing, whatever has the PID by then.
    func testAPidfdNamesOneProcess() throws {
        let (child, _) = try sleeper()
        guard case .fd(let fd) = Pidfd.open(child.pid) else {
            throw XCTSkip("no pidfd_open here (kernel older than 5.3 or a seccomp filter): kill(2) is used")
        }
        defer { close(fd) }
        XCTAssertEqual(Pidfd.sendSignal(fd, 0), 0, "signal 0 reaches the live process")
        child.process.terminate()
        child.process.waitUntilExit()
        XCTAssertEqual(Pidfd.sendSignal(fd, 0), ESRCH)
        XCTAssertEqual(Pidfd.open(child.pid).isGone, true)
    }
}

extension Pidfd.Opened {
    var isGone: Bool {
        if case .gone = self { return true }
        return false
    }
}
