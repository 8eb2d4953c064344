// The action dialogs as state: what a confirmation names, that the default is
// no, that read-only removes every action, and that the power dialog refuses
// out-of-range input with the range instead of clamping.
import Model
@testable import TUI
import XCTest

final class DashboardActionModelTests: XCTestCase {
    func model(readOnly: Bool = false) -> DashboardModel {
        var m = DashboardModel(width: 200, height: 50, readOnly: readOnly)
        var s = DashboardFrameTests.containerSnapshot()
        // What /proc gave the sampler: each process's start time in clock ticks.
        for i in s.processes.indices {
            let pid = s.processes[i].pid
            s.processes[i].info?.startTicks = 50_000 + UInt64(pid)
        }
        s.gpus[0].powerLimitMin = 200_000; s.gpus[0].powerLimitMax = 700_000; s.gpus[0].powerLimitDefault = 700_000
        var g1 = GPU(index: 1); g1.name = "NVIDIA H100"; g1.powerLimitMin = 100_000; g1.powerLimitMax = 350_000; g1.powerLimitDefault = 350_000
        s.gpus.append(g1)
        _ = m.update(.snapshot(s))
        return m
    }

    func testStopAsksNamingContainerImageProcessesAndMemory() {
        var m = model()
        XCTAssertEqual(m.update(.key(.char("x"))), [])
        guard case .confirm(let request, let lines)? = m.dialog else { return XCTFail("no confirmation") }
        XCTAssertEqual(request, .container(id: String(repeating: "a", count: 64), name: "trainer", verb: .stop))
        let text = lines.joined(separator: "\n")
        XCTAssertTrue(text.contains("Stop container trainer"), text)
        XCTAssertTrue(text.contains("pytorch:2.4"), text)
        XCTAssertTrue(text.contains("100 python train.py"), text)
        XCTAssertTrue(text.contains("30.0 GiB"), text)
        XCTAssertTrue(DashboardView.render(m).text.contains("y: yes"), "the dialog is drawn")
        // Anything but y is no.
        XCTAssertEqual(m.update(.key(.enter)), [])
        XCTAssertNil(m.dialog)
        XCTAssertEqual(m.status, "cancelled: nothing done")
        _ = m.update(.key(.char("x")))
        XCTAssertEqual(m.update(.key(.char("y"))), [.perform(request)])
        XCTAssertTrue(m.actionInFlight)
        _ = m.update(.key(.char("R")))
        XCTAssertNil(m.dialog, "one action at a time")
        _ = m.update(.actionFinished("trainer: stopped"))
        XCTAssertEqual(m.status, "trainer: stopped")
    }

    func testSignalGoesToTheHostPID() {
        var m = model()
        _ = m.update(.key(.down))   // the first process row under the first container
        _ = m.update(.key(.char("T")))
        guard case .confirm(let request, let lines)? = m.dialog else { return XCTFail("no confirmation") }
        XCTAssertEqual(request, .signal(pid: 100, signal: 15, signalName: "TERM", command: "python train.py --big", startTicks: 50_100))
        XCTAssertTrue(lines[0].contains("host PID 100 (PID 7 in its container)"), lines[0])
        _ = m.update(.key(.escape))
        _ = m.update(.key(.up))
        _ = m.update(.key(.char("9")))
        XCTAssertNil(m.dialog, "a container row has no PID to signal")
    }

    /// The question says which process it means, not only a number another process may take.
    func testTheSignalQuestionNamesTheCommand() throws {
        var m = model()
        _ = m.update(.key(.down))
        _ = m.update(.key(.char("I")))
        guard case .confirm(_, let lines)? = m.dialog else { return XCTFail("no confirmation") }
        XCTAssertEqual(lines[0], "Send SIGINT to host PID 100 (PID 7 in its container): python train.py --big?")
        let frame = DashboardView.render(m).text
        let title = try XCTUnwrap(frame.split(separator: "\n").first { $0.contains("Send SIGINT") })
        XCTAssertTrue(title.contains("Send SIGINT to host PID 100 (PID 7 in its container): python train.py --big?"), String(title))

        // A long command is cut in the title; the next line has it whole.
        var long = m.snapshot!
        long.processes[0].info?.command = "python " + String(repeating: "x", count: 60)
        _ = m.update(.key(.escape))
        _ = m.update(.snapshot(long))
        _ = m.update(.key(.char("T")))
        guard case .confirm(_, let cut)? = m.dialog else { return XCTFail("no confirmation") }
        XCTAssertTrue(cut[0].hasSuffix(": python " + String(repeating: "x", count: 32) + "…?"), cut[0])
        XCTAssertEqual(cut[1], "command python " + String(repeating: "x", count: 60))
    }

    /// A process /proc did not describe has no start time: nothing could tell it from a
    /// process that takes its PID later, so no question is asked and nothing is sent.
    func testAProcessWithoutAStartTimeIsRefused() {
        var m = model()
        var s = m.snapshot!
        s.processes[0].info?.startTicks = nil
        _ = m.update(.snapshot(s))
        _ = m.update(.key(.down))
        XCTAssertEqual(m.update(.key(.char("9"))), [])
        XCTAssertNil(m.dialog)
        XCTAssertEqual(m.status, "SIGKILL to 100: its start time is unknown (not visible in /proc); not signalled")
        XCTAssertFalse(m.actionInFlight)
        XCTAssertTrue(DashboardView.render(m).text.contains("SIGKILL to 100: its start time is unknown"))

        s.processes[0].info = nil
        _ = m.update(.snapshot(s))
        _ = m.update(.key(.char("T")))
        XCTAssertNil(m.dialog)
        XCTAssertEqual(m.status, "SIGTERM to 100: its start time is unknown (not visible in /proc); not signalled")
    }

    func testPowerDialogRefusesOutOfRangeAndAcceptsWattsPercentDefaultAll() {
        var m = model()
        _ = m.update(.key(.char("p")))
        guard case .power(let d)? = m.dialog else { return XCTFail("no power dialog") }
        XCTAssertEqual(d.gpu, 0)
        var text = DashboardView.render(m).text
        XCTAssertTrue(text.contains("allowed 200..700 W"), text)
        XCTAssertTrue(text.contains("does not survive a driver reload"), text)
        for ch in "800" { _ = m.update(.key(.char(ch))) }
        XCTAssertEqual(m.update(.key(.enter)), [], "out of range: nothing is set")
        text = DashboardView.render(m).text
        XCTAssertTrue(text.contains("800 W is out of range for GPU 0 (200..700 W)"), text)
        _ = m.update(.key(.clearLine))   // Ctrl-U: the whole input at once
        for ch in "450" { _ = m.update(.key(.char(ch))) }
        XCTAssertEqual(m.update(.key(.enter)), [.perform(.power(target: .gpu(0), setting: .milliwatts(450_000)))])
        _ = m.update(.actionFinished("ok"))

        _ = m.update(.key(.char("p")))
        for ch in "60%" { _ = m.update(.key(.char(ch))) }
        _ = m.update(.key(.char("a")))
        // 60% of each default: 420 W on GPU 0 (200..700), 210 W on GPU 1 (100..350): both fine.
        XCTAssertEqual(m.update(.key(.enter)), [.perform(.power(target: .all, setting: .percentOfDefault(60)))])
        _ = m.update(.actionFinished("ok"))

        _ = m.update(.key(.char("p")))
        _ = m.update(.key(.char("a")))
        for ch in "400" { _ = m.update(.key(.char(ch))) }
        XCTAssertEqual(m.update(.key(.enter)), [], "400 W is above GPU 1's 350 W maximum")
        XCTAssertTrue(DashboardView.render(m).text.contains("out of range for GPU 1 (100..350 W)"))
        XCTAssertEqual(m.update(.key(.char("d"))), [.perform(.power(target: .all, setting: .defaultLimit))])
    }

    func testReadOnlyRemovesEveryAction() {
        var m = model(readOnly: true)
        for key in ["x", "R", "K", "T", "I", "9", "p"] {
            _ = m.update(.key(.char(Character(key))))
            XCTAssertNil(m.dialog, "\(key) opened a dialog in read-only mode")
        }
        let main = DashboardView.render(m).text
        XCTAssertFalse(main.contains("stop/restart/kill"), main)
        XCTAssertTrue(main.contains("read-only"), main)
        _ = m.update(.key(.char("?")))
        let help = DashboardView.render(m).text
        XCTAssertFalse(help.contains("Actions"), help)
        XCTAssertFalse(help.contains("stop the selected container"), help)

        var live = model()
        _ = live.update(.key(.char("?")))
        XCTAssertTrue(DashboardView.render(live).text.contains("stop the selected container"))
    }
}
