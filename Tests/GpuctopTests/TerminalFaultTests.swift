// Faults seen from the terminal: an NVML call that hangs for seconds while the UI
// must stay responsive, and a storm of resizes down to a 1x1 terminal.
import Foundation
import XCTest
import TestSupport

extension DashboardTmuxTests {
    /// Every utilisation call sleeps 4 s in the fake NVML: the sampler thread is stuck,
    /// but keys are answered at once, the header says the data is old, and q quits
    /// without waiting for the call to return.
    func testSlowNVMLCallKeepsTheUIResponsive() throws {
        let s = try startDashboard(scenario([]) + "slow util 4000\n")
        try s.session.waitFor("the header") { $0.contains("gpuctop") }
        let start = Date()
        try s.session.send("?")
        // A UI waiting for the call would answer when it returns, up to 4 s after the header;
        // tmux's send-keys and capture-pane are processes of their own on a loaded machine.
        try s.session.waitFor("help while NVML is stuck", timeout: 2.5) { $0.contains("Keys") }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.5)
        try s.session.send("Escape")
        try s.session.waitFor("the table back") { $0.contains("CONTAINER") }
        // Between two 4 s calls the data goes stale, and the header says so.
        try s.session.waitFor("the stale-data warning", timeout: 12) { $0.contains("s old") }
        let quit = Date()
        try s.session.send("q")
        try waitForExit(s, timeout: 3)
        XCTAssertLessThan(Date().timeIntervalSince(quit), 3, "q must not wait for a hung NVML call")
        try assertTerminalRestored(s)
    }

    /// Sixty resizes as fast as tmux takes them, down to 1x1 and back: no crash, the
    /// last size wins, the terminal comes back intact.
    func testResizeStormDownToOneByOne() throws {
        let child = try Child(["/bin/sleep", "120"])
        children.append(child)
        let s = try startDashboard(scenario([(child.pid, 40)]))
        try s.session.waitFor("the dashboard") { $0.contains("CONTAINER") }
        let sizes = [(200, 50), (80, 24), (1, 1), (40, 10), (120, 30), (20, 5), (2, 1), (100, 40), (39, 9)]
        for i in 0..<60 {
            let (w, h) = sizes[i % sizes.count]
            try s.session.resize(width: w, height: h)
            usleep(20_000)
        }
        try s.session.resize(width: 1, height: 1)
        usleep(500_000)
        let tiny = try s.session.screen()
        XCTAssertFalse(FileManager.default.fileExists(atPath: s.exitFile), "gpuctop died in a 1x1 terminal:\n\(tiny)")
        try s.session.resize(width: 100, height: 30)
        let screen = try s.session.waitFor("the dashboard at 100x30") { $0.contains("CONTAINER") && $0.contains("sleep 120") }
        for line in screen.split(separator: "\n") {
            XCTAssertLessThanOrEqual(line.count, 100, "a line wider than the terminal: \(line)")
        }
        try s.session.send("q")
        try waitForExit(s)
        // `stty -a` names rows and columns on its first line: the size changed on purpose.
        let before = try String(contentsOf: s.dir.appendingPathComponent("stty-before"), encoding: .utf8)
        let after = try String(contentsOf: s.dir.appendingPathComponent("stty-after"), encoding: .utf8)
        XCTAssertEqual(before.split(separator: "\n").dropFirst(), after.split(separator: "\n").dropFirst())
        XCTAssertTrue(after.contains(" icanon") && after.contains(" echo "), after)
        XCTAssertFalse(try s.session.screen().contains("CONTAINER"), "the dashboard was left on screen")
    }
}
