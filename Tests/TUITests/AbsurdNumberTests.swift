// Absurd numbers from a remote host or a recording (1e300, -1e300, NaN, infinity,
// sums past 2^64) reach the text output and the dashboard without a trap: the
// display is safe on its own, and decoders make such values unavailable first.
import Foundation
import Model
@testable import TUI
import XCTest

final class AbsurdNumberTests: XCTestCase {
    /// The container snapshot of the frame tests, with `value` in every Double a
    /// remote host or a recording may set, and Int extremes in the Int fields.
    static func absurd(_ value: Double) -> Snapshot {
        var s = DashboardFrameTests.containerSnapshot()
        s.time = value
        for i in s.processes.indices {
            s.processes[i].info?.startTime = value
            s.processes[i].info?.cpuPercent = value
            s.processes[i].smUtilization = Int.max
        }
        for i in s.containers.indices {
            s.containers[i].startedAt = value
            s.containers[i].estimatedPowerShare = Int.min
            s.containers[i].smUtilization = Int.max
        }
        s.gpus[0].powerDraw = Int.max
        s.gpus[0].powerLimitEnforced = Int.max
        s.gpus[0].powerLimitMin = Int.min
        s.gpus[0].powerLimitMax = Int.max
        s.gpus[0].temperature = Int.min
        s.gpus[0].utilizationGpu = Int.min
        return s
    }

    static let values: [Double] = [1e300, -1e300, .nan, .infinity, -.infinity, 9.3e18, -9.3e18]

    func render(_ s: Snapshot, _ w: Int, _ h: Int, keys: [Key] = []) -> String {
        var m = DashboardModel(width: w, height: h)
        _ = m.update(.tick(1_800_000_000))
        _ = m.update(.snapshot(s))
        for k in keys { _ = m.update(.key(k)) }
        return DashboardView.render(m).text
    }

    func testTheTextOutputShowsNAForAbsurdNumbers() {
        for v in Self.values {
            let text = SnapshotText.render(Self.absurd(v))
            XCTAssertTrue(text.contains("trainer"), "\(v): \(text)")
            // Each process line: its CPU% and uptime (from the absurd Doubles) are n/a.
            for pid in [100, 101, 200, 300] {
                let line = text.split(separator: "\n").first { $0.contains(" \(pid) ") }.map(String.init) ?? ""
                XCTAssertEqual(line.components(separatedBy: "n/a").count - 1, 2, "\(v), PID \(pid): \(line)")
            }
        }
        // The header's time, a process's CPU% and uptime: each unavailable, not a trap.
        let text = SnapshotText.render(Self.absurd(1e300))
        XCTAssertTrue(text.hasPrefix("host gpu-box  n/a  driver"), text)
    }

    func testTheDashboardRendersAbsurdNumbers() {
        for v in Self.values {
            for (w, h) in [(200, 50), (80, 24)] {
                let text = render(Self.absurd(v), w, h)
                XCTAssertTrue(text.contains("trainer"), "\(v) \(w)x\(h):\n\(text)")
            }
            // The detail view: uptime and start of the container.
            let detail = render(Self.absurd(v), 120, 40, keys: [.enter])
            XCTAssertTrue(detail.contains("up             n/a"), "\(v):\n\(detail)")
        }
    }

    /// Two GPUs a host claims have UInt64.max / 2 + 1 bytes each: their sum, the
    /// scale of the detail view's memory history, would pass 2^64.
    func testTheDetailViewSumsMemoryPast64Bits() {
        var s = DashboardFrameTests.containerSnapshot()
        var second = s.gpus[0]
        second.index = 1
        s.gpus.append(second)
        for i in s.gpus.indices { s.gpus[i].memoryTotal = UInt64.max / 2 + 1 }
        let a = String(repeating: "a", count: 64)
        let i = s.containers.firstIndex { $0.id == a }!
        s.containers[i].gpus = [0, 1]
        let text = render(s, 120, 40, keys: [.enter])
        XCTAssertTrue(text.contains("mem history"), text)
        XCTAssertEqual(Format.saturatingSum([UInt64.max / 2 + 1, UInt64.max / 2 + 1]), UInt64.max)
        XCTAssertEqual(Format.saturatingSum([1, 2, 3]), 6)
    }

    func testFormattersNeverTrap() {
        for v in Self.values {
            XCTAssertNil(v.isFinite && abs(v) < 9e18 ? nil : Format.safeInt(v), "\(v)")
            _ = Format.duration(v)
            _ = Format.coarseDuration(v)
            _ = Format.seconds(v)
            _ = Format.speed(v)
            XCTAssertEqual(Format.localTime(v), "n/a", "\(v)")
            XCTAssertEqual(Format.percent(v), "n/a", "\(v)")
            XCTAssertEqual(Format.fixed(v, 1), "n/a", "\(v)")
        }
        XCTAssertEqual(Format.duration(1e300), "n/a")
        XCTAssertEqual(Format.fixed(-3.4, 0), "-3")
        XCTAssertEqual(Format.fixed(-3.45, 1), "-3.5")
        XCTAssertEqual(Format.wattsRounded(Int.max), "9223372036854776 W")
        XCTAssertEqual(Format.wattsRounded(Int.min), "-9223372036854776 W")
        XCTAssertEqual(Format.elapsed(since: 0, now: 1_800_000_000), nil, "0 is a decoder's 'unknown'")
        XCTAssertEqual(Format.elapsed(since: 1_799_999_000, now: 1_800_000_000), 1000)
    }

    /// The other end: a remote host's JSON with absurd numbers decodes into a
    /// snapshot whose absurd values are unavailable, and which renders.
    func testJSONWithAbsurdNumbersDecodesSanitised() throws {
        var s = DashboardFrameTests.containerSnapshot()
        s.time = 1e300
        s.processes[0].info?.startTime = -1e300
        s.processes[0].info?.cpuPercent = 1e300
        s.containers[0].startedAt = -1e300
        s.gpus[0].temperature = Int.max
        s.gpus[0].powerDraw = Int.min
        let json = try JSONEncoder().encode(s)
        let text = String(decoding: json, as: UTF8.self)
        XCTAssertTrue(text.contains("1e+300") || text.contains("1e300"), text)
        let decoded = try JSONDecoder().decode(Snapshot.self, from: json).sanitized()
        XCTAssertEqual(decoded.time, 0, "an absurd required time is 0, unknown")
        XCTAssertEqual(decoded.processes[0].info?.startTime, 0)
        XCTAssertNil(decoded.processes[0].info?.cpuPercent)
        XCTAssertNil(decoded.containers[0].startedAt)
        XCTAssertNil(decoded.gpus[0].temperature)
        XCTAssertNil(decoded.gpus[0].powerDraw)
        XCTAssertEqual(decoded.processes[1], s.processes[1], "sane values are kept")
        XCTAssertEqual(DashboardFrameTests.containerSnapshot().sanitized(), DashboardFrameTests.containerSnapshot(),
                       "a real snapshot is unchanged")
        _ = SnapshotText.render(decoded)
        XCTAssertTrue(render(decoded, 200, 50).contains("trainer"))
    }
}
