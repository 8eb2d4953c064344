// GPU health in recordings: what the real samplers see of a GPU that meets an XID
// while a real container's process is on it (and then goes power-capped, with ECC
// errors and a pending row remap) survives a recording field by field; recordings
// made before health fields existed still read, with those fields absent; a
// hostile XID list is refused with a one-line reason.
import Foundation
@testable import Model
@testable import Recording
@testable import Telemetry
import TestSupport
import XCTest

final class RecordingHealthTests: XCTestCase {
    let container = "rh-\(UUID().uuidString.prefix(6).lowercased())"
    override func tearDown() { _ = try? Docker.run(["rm", "-f", container]) }

    func header(_ time: Double) -> RecordingHeader {
        RecordingHeader(host: "h", driverVersion: "580.95.05", gpuctopVersion: "test", startTime: time)
    }

    func testXIDWithItsContainerSurvivesARecording() throws {
        try Docker.runContainer(container, labels: ["com.docker.compose.project": "serving", "com.docker.compose.service": "infer"])
        let pid = try Docker.pid(container)
        setenv("FAKE_NVML_SCENARIO", try FakeNVML.scenario(Scenarios.h200() + """
            process compute pid=\(pid) mem=1GiB sm=40
            throttle none
            throttle power_cap,thermal at=1s
            violation_power 0
            ecc_volatile 0
            ecc_volatile 1 at=1s
            ecc_aggregate 4
            remapped_rows corr=1 unc=0 pending=0
            remapped_rows corr=1 unc=1 pending=1 at=1s
            xid code=48 at=1200ms
            xid code=63 at=1300ms

            """), 1)
        var options = SamplerOptions(nvmlPath: try FakeNVML.privateCopy(), dockerHost: try Docker.host())
        options.healthSchedule = .everyRefresh
        let sampler = SnapshotSampler(options: options)
        var live: [Snapshot] = []
        let deadline = Date().addingTimeInterval(10)
        while (live.last?.xidEvents?.count ?? 0) < 2 || live.count < 8 {
            guard Date() < deadline else { throw TestFailure("no two XIDs within 10 s") }
            live.append(sampler.sample())
            usleep(200_000)
        }
        let last = try XCTUnwrap(live.last)
        let events = try XCTUnwrap(last.xidEvents)
        XCTAssertEqual(events.map(\.code), [48, 63])
        XCTAssertEqual(events[0].containers.first { !$0.isHost }?.composeService, "infer", "\(events[0].containers)")
        XCTAssertEqual(events[0].processes.map(\.pid), [pid])
        XCTAssertEqual(last.gpus[0].clockEventReasons, 0x24)
        XCTAssertEqual(last.gpus[0].rowRemapPending, true)
        XCTAssertEqual(live.first?.gpus[0].rowRemapPending, false)

        let file = TestEnv.temporaryDirectory("rh").appendingPathComponent("r.gpuctop").path
        let writer = try RecordingWriter(path: file, header: header(live[0].time), keyframeInterval: 3)
        for s in live { try writer.append(s) }
        try writer.close()
        let reader = try RecordingReader(path: file)
        XCTAssertNil(reader.stopReason)
        let back = reader.snapshots
        XCTAssertEqual(back.count, live.count)
        for (i, (a, b)) in zip(live, back).enumerated() {
            XCTAssertEqual(a.gpus, b.gpus, "snapshot \(i): GPUs")
            XCTAssertEqual(a.xidEvents, b.xidEvents, "snapshot \(i): XID events")
            XCTAssertEqual(a, b, "snapshot \(i): everything else")
        }
        // An event carried from one snapshot to the next costs almost nothing in a delta.
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: file)).count
        XCTAssertLessThan(bytes, 40_000, "\(bytes) bytes for \(live.count) snapshots")
    }

    /// The shipped example, recorded on the H200 with health watched: the clock-event
    /// reasons and ECC counters are in it, and no XID (the run provoked none).
    func testTheExampleRecordingCarriesHealth() throws {
        let path = TestEnv.repoRoot.appendingPathComponent("examples/h200-containers.gpuctop").path
        let reader = try RecordingReader(path: path)
        XCTAssertGreaterThan(reader.snapshots.count, 100)
        let gpus = reader.snapshots.flatMap(\.gpus)
        XCTAssertTrue(gpus.allSatisfy { $0.clockEventReasons != nil }, "reasons in every snapshot")
        XCTAssertTrue(gpus.contains { $0.eccUncorrectedAggregate != nil })
        XCTAssertTrue(gpus.allSatisfy { ($0.xidCounts ?? []).isEmpty })
    }

    /// A recording made before GPU health (the example of 2026-11-22): it reads, every health field absent.
    func testOldRecordingReadsWithoutHealthFields() throws {
        let path = TestEnv.repoRoot.appendingPathComponent("Tests/Fixtures/h200-containers-2026-11-22.gpuctop").path
        let reader = try RecordingReader(path: path)
        XCTAssertGreaterThan(reader.snapshots.count, 100)
        for s in reader.snapshots {
            XCTAssertNil(s.xidEvents)
            for g in s.gpus {
                XCTAssertNil(g.clockEventReasons)
                XCTAssertNil(g.eccUncorrectedAggregate)
                XCTAssertNil(g.rowRemapPending)
                XCTAssertNil(g.xidCounts)
            }
        }
    }

    /// More XID events than a snapshot may hold: refused where they are read, in one line.
    func testTooManyXIDEventsAreRefused() throws {
        var s = Snapshot(time: 1_800_000_000, host: "h")
        s.gpus = [GPU(index: 0)]
        s.xidEvents = (0..<(SnapshotLimits.xidEvents + 1)).map { XIDEvent(time: 1_800_000_000 + Double($0), gpuIndex: 0, code: 13) }
        let file = TestEnv.temporaryDirectory("rh").appendingPathComponent("many.gpuctop").path
        let writer = try RecordingWriter(path: file, header: header(s.time))
        try writer.append(s)
        try writer.close()
        let reader = try RecordingReader(path: file)
        XCTAssertEqual(reader.snapshots.count, 0)
        let reason = try XCTUnwrap(reader.stopReason).description
        XCTAssertTrue(reason.contains("65 XID events in one snapshot (at most 64)"), reason)
        XCTAssertFalse(reason.contains("\n"), reason)
    }
}
