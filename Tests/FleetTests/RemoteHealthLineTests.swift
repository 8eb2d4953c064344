// GPU health in a remote host's line: XID events past the limit are refused with the
// reason, absurd health numbers arrive as unavailable, and a line from a gpuctop
// that predates health decodes with those fields absent.
import Fleet
import Foundation
import Model
import XCTest

final class RemoteHealthLineTests: XCTestCase {
    func line(gpu: String = #"{"index":0,"lost":false,"migDevices":[]}"#, events: String? = nil) -> [UInt8] {
        var text = #"{"schema":1,"time":1800000000,"host":"h","degraded":[],"processes":[],"containers":[],"gpus":["# + gpu + "]"
        if let events { text += #","xidEvents":["# + events + "]" }
        return Array((text + "}").utf8)
    }

    func testTooManyXIDEventsAreRefusedWithTheReason() {
        let n = SnapshotLimits.xidEvents + 1
        let event = #"{"time":1800000000,"gpuIndex":0,"code":79,"processes":[],"containers":[]}"#
        switch RemoteHosts.decodeLine(line(events: Array(repeating: event, count: n).joined(separator: ","))) {
        case .success: XCTFail("\(n) XID events accepted")
        case .failure(let why):
            XCTAssertEqual(why.description, "refused: \(n) XID events in one snapshot (at most \(SnapshotLimits.xidEvents))")
        }
    }

    func testAbsurdHealthNumbersAreMadeUnavailable() throws {
        let gpu = #"{"index":0,"lost":false,"migDevices":[],"powerCappedPercent":1000000,"remappedRowsUncorrectable":-3,"lastXID":-1,"xidCounts":[{"code":79,"count":2},{"code":13,"count":-5}]}"#
        let event = #"{"time":-1e300,"gpuIndex":0,"gpuInstanceId":-2,"code":79,"processes":[{"pid":1,"gpuIndex":0,"kind":"compute","smUtilization":900}],"containers":[]}"#
        guard case .success(let s) = RemoteHosts.decodeLine(line(gpu: gpu, events: event)) else { return XCTFail("refused") }
        let g = s.gpus[0]
        XCTAssertNil(g.powerCappedPercent)
        XCTAssertNil(g.remappedRowsUncorrectable)
        XCTAssertNil(g.lastXID)
        XCTAssertEqual(g.xidCounts, [XIDCount(code: 79, count: 2)])
        let e = try XCTUnwrap(s.xidEvents?.first)
        XCTAssertEqual(e.time, 0, "unknown")
        XCTAssertNil(e.gpuInstanceId)
        XCTAssertNil(e.processes.first?.smUtilization)
    }

    func testALineFromBeforeHealthDecodes() {
        guard case .success(let s) = RemoteHosts.decodeLine(line()) else { return XCTFail("refused") }
        XCTAssertNil(s.xidEvents)
        XCTAssertNil(s.gpus[0].clockEventReasons)
        XCTAssertNil(s.gpus[0].xidCounts)
    }
}
