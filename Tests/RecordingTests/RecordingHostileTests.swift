// Recordings made by someone else: a file that is no recording (/dev/zero, a huge
// sparse file), a small record that would expand into millions of rows, a cut
// file, and absurd numbers. Each gives a one-line answer quickly, in bounded
// memory, and what can be shown is shown without a trap.
import Foundation
@testable import Model
@testable import Recording
@testable import TUI
import XCTest

final class RecordingHostileTests: XCTestCase {
    private var dir: URL!

    override func setUp() {
        dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("rec-hostile-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    private func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    private func header() -> RecordingHeader {
        RecordingHeader(host: "gpu-box", driverVersion: "580.95.05", gpuctopVersion: "0.1.0-test", startTime: 1_800_000_000)
    }

    private func oneProcessSnapshot(_ time: Double = 1_800_000_000) -> Snapshot {
        var s = Snapshot(time: time, host: "gpu-box")
        var g = GPU(index: 0)
        g.memoryTotal = 80 << 30
        s.gpus = [g]
        var p = GPUProcess(pid: 42, gpuIndex: 0, kind: .compute)
        p.info = ProcessInfoSample(command: "python train.py", user: "alice", uid: 1000, startTime: time - 60)
        s.processes = [p]
        return s
    }

    /// A recording's bytes: header and `snapshots`, without the end record.
    private func recordingBytes(_ snapshots: [Snapshot], name: String = "base.rec") throws -> [UInt8] {
        let p = path(name)
        let writer = try RecordingWriter(path: p, header: header())
        for s in snapshots { try writer.append(s) }
        _ = writer   // not closed: a hostile tail follows
        return Array(try Data(contentsOf: URL(fileURLWithPath: p)))
    }

    /// Kilobytes of a line of /proc/self/status ("VmHWM", "VmRSS").
    private func statusKB(_ key: String) -> Int {
        let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        return 0
    }

    /// Bytes by which this process's peak RSS grew while `body` ran (Linux: clear_refs 5 resets the peak).
    private func peakGrowth(_ body: () throws -> Void) rethrows -> Int {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        let before = statusKB("VmRSS")
        try body()
        return (statusKB("VmHWM") - before) * 1024
    }

    private func elapsed(_ body: () throws -> Void) rethrows -> Double {
        let start = Date()
        try body()
        return Date().timeIntervalSince(start)
    }

    /// Opens `path` for reading on another thread; the error, or nil when it opened, or
    /// "hung" when it did not return within 2 s (then a writer is opened to release it).
    private func openWithin2s(_ body: @escaping () throws -> Void, release path: String) -> String? {
        final class Outcome: @unchecked Sendable {
            let lock = NSLock()
            var text: String?
            func set(_ t: String?) { lock.lock(); text = t; lock.unlock() }
            func get() -> String? { lock.lock(); defer { lock.unlock() }; return text }
        }
        let done = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        DispatchQueue.global().async {
            do { try body(); outcome.set(nil) } catch { outcome.set("\(error)") }
            done.signal()
        }
        if done.wait(timeout: .now() + 2) == .timedOut {
            let fd = open(path, O_RDWR | O_NONBLOCK)   // a writer and reader at once: releases either side
            _ = done.wait(timeout: .now() + 5)
            if fd >= 0 { close(fd) }
            return "hung"
        }
        return outcome.get()
    }

    func testAFIFONobodyWritesIsAnEmptyFileNotAHang() throws {
        let fifo = path("in.fifo")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let outcome = openWithin2s({ _ = try RecordingReader(path: fifo) }, release: fifo)
        XCTAssertNotEqual(outcome, "hung")
        XCTAssertTrue(outcome?.contains("empty") ?? false, outcome ?? "opened")
    }

    func testTheWriterFollowsNoLinkAndTakesNoFIFO() throws {
        let victim = path("victim")
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        let link = path("planted.rec")
        XCTAssertEqual(symlink(victim, link), 0)
        XCTAssertThrowsError(try RecordingWriter(path: link, header: header())) { error in
            XCTAssertTrue("\(error)".contains("it is a symbolic link (not followed)"), "\(error)")
        }
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "precious\n")
        let fifo = path("out.fifo")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let outcome = openWithin2s({ _ = try RecordingWriter(path: fifo, header: self.header()) }, release: fifo)
        XCTAssertNotEqual(outcome, "hung")
        XCTAssertTrue(outcome?.contains("not a regular file") ?? false, outcome ?? "opened")
    }

    func testDevZeroIsRefusedAtOnce() throws {
        var failure: RecordingError?
        let seconds = elapsed {
            do { _ = try RecordingReader(path: "/dev/zero") } catch { failure = error as? RecordingError }
        }
        XCTAssertLessThan(seconds, 2, "the magic is checked before reading on")
        guard case .notARecording(let p, _)? = failure else { return XCTFail("\(String(describing: failure))") }
        XCTAssertEqual(p, "/dev/zero")
        XCTAssertFalse(failure!.description.contains("\n"))
        XCTAssertTrue(failure!.description.contains("is not a gpuctop recording"), failure!.description)
    }

    /// A valid start, then a damaged record, then a gigabyte (sparse, so it costs
    /// no disk): the reader stops at the damage without reading the rest.
    func testADamagedRecordStopsReadingThere() throws {
        var bytes = try recordingBytes([oneProcessSnapshot()])
        bytes += [2, 0, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF, 0x4B, 1]   // a 2-byte record whose checksum is wrong
        let p = path("sparse.rec")
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        XCTAssertEqual(truncate(p, 1 << 30), 0)
        var reader: RecordingReader?
        let grown = try peakGrowth { reader = try RecordingReader(path: p) }
        let r = try XCTUnwrap(reader)
        XCTAssertEqual(r.count, 1)
        XCTAssertTrue(r.stopReason?.reason.contains("checksum mismatch") == true, "\(String(describing: r.stopReason))")
        XCTAssertEqual(r.stopReason?.record, 1)
        XCTAssertLessThan(grown, 64 << 20, "read frame by frame, not the whole gigabyte")
    }

    /// 2,000,000 two-byte "same as row 0" process entries: a 4 MB record that
    /// would decode into 2 M processes (1.65 GB). Refused on the count, naming the record.
    func testMillionsOfSameAsRowZeroEntriesAreRefusedInBoundedMemory() throws {
        let entries = 2_000_000
        var body = ByteWriter()
        body.u8(RecordingFile.Kind.delta.rawValue)
        body.u8(UInt8(recordingFormatVersion))
        body.varint(UInt64(snapshotSchemaVersion))
        body.varint((1 << 6) << 1)         // the snapshot row: field 6 (processes) changed, no nils
        body.varint(UInt64(entries))
        body.bytes.reserveCapacity(body.bytes.count + 2 * entries)
        for _ in 0..<entries { body.u8(2); body.u8(0) }   // base row 0, unchanged
        let snapshots = [oneProcessSnapshot(), oneProcessSnapshot(1_800_000_001)]
        let bytes = try recordingBytes(snapshots) + RecordingFile.frame(body.bytes)
        XCTAssertLessThan(bytes.count, 5 << 20)
        let p = path("expand.rec")
        try Data(bytes).write(to: URL(fileURLWithPath: p))

        var reader: RecordingReader?
        let grown = try peakGrowth { reader = try RecordingReader(path: p) }
        let r = try XCTUnwrap(reader)
        XCTAssertEqual(r.count, 2, "the records before it are kept")
        let stop = try XCTUnwrap(r.stopReason)
        XCTAssertEqual(stop.record, 2)
        XCTAssertTrue(stop.description.contains("stopped at record 2"), stop.description)
        XCTAssertTrue(stop.description.contains("2000000 processes in one snapshot (at most \(SnapshotLimits.processes))"), stop.description)
        XCTAssertFalse(stop.description.contains("\n"))
        XCTAssertLessThan(grown, 100 << 20, "peak memory grew by \(grown >> 20) MiB")
        XCTAssertEqual(r.snapshots, snapshots)
    }

    /// Within the limits, many list items of one record still cost a bounded amount.
    func testListsBeyondTheValueBudgetAreRefused() throws {
        var decoder = RecRowDecoder(input: ByteReader([]), strings: [])
        decoder.budget = 10
        XCTAssertNoThrow(try decoder.spend(10))
        XCTAssertThrowsError(try decoder.spend(1)) { error in
            XCTAssertTrue("\(error)".contains("values in one record"), "\(error)")
        }
        XCTAssertEqual(RecSchemas.gpu.maxRows, SnapshotLimits.gpus)
        XCTAssertEqual(RecSchemas.container.maxRows, SnapshotLimits.containers)
        XCTAssertEqual(RecSchemas.process.maxRows, SnapshotLimits.processes)
    }

    /// A file cut in the middle of a record, read from disk: the records before the cut.
    /// Tiny deltas that each stand for a whole snapshot: the rows the file decodes to are
    /// bounded for the file as a whole (here with a budget of 2,000 rows, where the real
    /// one is 10 rows a byte and at least 20 million), so opening stops early with a reason.
    func testTinyDeltasStandingForWholeSnapshotsAreBoundedPerFile() throws {
        var big = oneProcessSnapshot()
        big.processes = (0..<100).map { i in
            var p = GPUProcess(pid: Int32(1000 + i), gpuIndex: 0, kind: .compute)
            p.usedGpuMemory = UInt64(i) << 20
            return p
        }
        let p = path("deltas.rec")
        let writer = try RecordingWriter(path: p, header: header(), keyframeInterval: 1_000_000)
        for n in 0..<50 {
            big.time = 1_800_000_000 + Double(n)   // only the time changes: each delta is a few bytes
            try writer.append(big)
        }
        try writer.close()
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: p)))
        let whole = try RecordingReader(bytes: bytes)
        XCTAssertEqual(whole.count, 50, "the real budget leaves an ordinary file alone")
        XCTAssertNil(whole.stopReason)
        let bounded = try RecordingReader(input: RecordingInput(bytes: bytes), path: "deltas.rec", rowBudget: { _ in 2_000 })
        XCTAssertEqual(bounded.count, 19, "101 rows a snapshot: the 20th passes 2,000")
        let stop = try XCTUnwrap(bounded.stopReason)
        XCTAssertTrue(stop.reason.contains("decode to more than 2000 rows"), stop.reason)
        XCTAssertEqual(bounded.snapshot(index: 18).processes.count, 100, "the records before are kept")
    }

    func testATruncatedFileGivesTheRecordsBeforeTheCut() throws {
        let snapshots = (0..<10).map { oneProcessSnapshot(1_800_000_000 + Double($0)) }
        let full = try recordingBytes(snapshots)
        let offsets = try RecordingReader(bytes: full).offsets
        let p = path("cut.rec")
        try Data(full[0..<(offsets[6] + 5)]).write(to: URL(fileURLWithPath: p))
        let r = try RecordingReader(path: p)
        XCTAssertEqual(r.count, 6)
        XCTAssertEqual(r.stopReason?.record, 6)
        XCTAssertTrue(r.stopReason?.reason.contains("ends inside a record") == true, "\(String(describing: r.stopReason))")
        XCTAssertEqual(r.snapshots, Array(snapshots[0..<6]))
        XCTAssertEqual(r.fileSize, offsets[6] + 5)
    }

    /// Absurd numbers in a recording are unavailable once read, and render.
    func testAbsurdNumbersInARecordingAreUnavailable() throws {
        var values: [Double] = [1e300, -1e300, .nan, .infinity, -.infinity]
        var snapshots: [Snapshot] = []
        for (i, v) in values.enumerated() {
            var s = oneProcessSnapshot(v)
            s.processes[0].info?.startTime = -v
            s.processes[0].info?.cpuPercent = v
            var c = ContainerUsage(id: String(repeating: "a", count: 64))
            c.startedAt = v
            c.smUtilization = Int.max
            c.estimatedPowerShare = Int.min
            s.containers = [c]
            s.gpus[0].temperature = i % 2 == 0 ? Int.max : Int.min
            s.gpus[0].powerDraw = Int.max
            snapshots.append(s)
        }
        values.append(1_800_000_000)
        snapshots.append(oneProcessSnapshot())
        let p = path("absurd.rec")
        let writer = try RecordingWriter(path: p, header: header())
        for s in snapshots { try writer.append(s) }
        try writer.close()

        let r = try RecordingReader(path: p)
        XCTAssertNil(r.stopReason)
        XCTAssertEqual(r.times, [0, 0, 0, 0, 0, 1_800_000_000], "an absurd time is unknown")
        for i in 0..<5 {
            let s = r.snapshot(index: i)
            XCTAssertEqual(s.time, 0)
            XCTAssertEqual(s.processes[0].info?.startTime, 0)
            XCTAssertNil(s.processes[0].info?.cpuPercent)
            XCTAssertNil(s.containers[0].startedAt)
            XCTAssertNil(s.containers[0].smUtilization)
            XCTAssertNil(s.containers[0].estimatedPowerShare)
            XCTAssertNil(s.gpus[0].temperature)
            XCTAssertNil(s.gpus[0].powerDraw)
            let text = SnapshotText.render(s)
            XCTAssertTrue(text.contains("python train.py"), text)
            XCTAssertTrue(text.hasPrefix("host gpu-box  n/a"), text)
            XCTAssertNoThrow(try JSONEncoder().encode(s), "JSON refuses NaN and infinity: none is left")
        }
        XCTAssertEqual(r.snapshot(index: 5), snapshots[5])
        XCTAssertEqual(r.nearestIndex(to: 1_800_000_000), 5)
    }
}
