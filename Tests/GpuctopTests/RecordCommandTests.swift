// `gpuctop record` and `gpuctop snapshot --from` end to end: the real binary, the
// fake NVML, signals, a full disk.
import Foundation
import Model
import Recording
import TestSupport
import XCTest

final class RecordCommandTests: XCTestCase {
    var children: [Child] = []
    var tempDirs: [URL] = []

    override func tearDown() {
        children.forEach { $0.stop() }
        children = []
        for d in tempDirs { try? FileManager.default.removeItem(at: d) }
        tempDirs = []
    }

    func tempPath(_ name: String = "r.rec") -> String {
        let dir = TestEnv.temporaryDirectory("record")
        tempDirs.append(dir)
        return dir.appendingPathComponent(name).path
    }

    /// Values cycle from call to call, so consecutive records differ.
    func scenario(pids: [Int32]) -> String {
        let text = "driver 580.95.05\ncuda 12080\n"
            + Scenarios.h200(["util": "10 20 30 40 50 60 70", "memory_reserved": "", "memory_used": "25769803776 26843545600",
                              "temperature": "44 45", "fan": "", "pstate": "", "power": "250000 260000 270000",
                              "power_default": "", "energy": "123456789 250", "persistence": "", "compute_mode": "",
                              "encoder": "", "decoder": "", "mig": ""])
            + Scenarios.h100MIG(["power": "90000"])

        return String(text.dropLast()) + Scenarios.computeProcesses(pids: pids) + "\n"
    }

    /// Environment and arguments for a run against a private fake NVML.
    func fake(_ pids: [Int32] = []) throws -> (args: [String], env: [String: String]) {
        let lib = try FakeNVML.privateCopy()
        return (["--nvml", lib], ["FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario(pids: pids))])
    }

    /// A recording of about 8 snapshots, made by the binary.
    func record(duration: String = "2") throws -> (path: String, result: RunResult) {
        children = [try Child(["/bin/sleep", "120"])]
        let (args, env) = try fake(children.map(\.pid))
        let path = tempPath()
        let r = try Run.gpuctop(["record", "-o", path, "--interval", "0.25", "--duration", duration] + args, environment: env)
        return (path, r)
    }

    func testRecordWritesAboutEightRecordsAndReadsBack() throws {
        let (path, r) = try record()
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        XCTAssertGreaterThan(r.seconds, 1.9)
        XCTAssertLessThan(r.seconds, 10)
        let reader = try RecordingReader(path: path)
        XCTAssertNil(reader.stopReason)
        // 8 on time (at 0 s and every 0.25 s before 2 s); a refresh that overruns its tick
        // on a loaded machine skips one, by design.
        XCTAssertTrue((6...9).contains(reader.count), "\(reader.count) records")
        // One summary line: records, bytes, average.
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        XCTAssertEqual(r.stdout, "\(path): \(reader.count) records, \(size) bytes, \(size / reader.count) bytes per record\n")
        XCTAssertEqual(reader.header.driverVersion, "580.95.05")
        XCTAssertEqual(reader.header.formatVersion, recordingFormatVersion)
        XCTAssertFalse(reader.header.gpuctopVersion.isEmpty)
        let snapshots = reader.snapshots
        XCTAssertEqual(reader.header.startTime, snapshots[0].time)
        XCTAssertEqual(reader.header.host, snapshots[0].host)
        for (a, b) in zip(snapshots, snapshots.dropFirst()) {
            XCTAssertEqual(b.time - a.time, 0.25, accuracy: 0.2)
        }
        // The fake cycles its values per call: the records follow.
        XCTAssertEqual(snapshots.map { $0.gpus[0].utilizationGpu }.prefix(3), [10, 20, 30])
        XCTAssertEqual(snapshots[0].gpus[1].migDevices.first?.uuid, "MIG-1111")
        XCTAssertEqual(snapshots[0].processes.first?.pid, children[0].pid)
        XCTAssertEqual(snapshots[0].processes.first?.info?.command, "/bin/sleep 120")
    }

    func decode(_ json: String) throws -> Snapshot {
        try JSONDecoder().decode(Snapshot.self, from: Data(json.utf8))
    }

    func testSnapshotFromFilePrintsRecordedSnapshots() throws {
        let (path, r) = try record()
        XCTAssertEqual(r.status, 0, r.stderr)
        let reader = try RecordingReader(path: path)
        let snapshots = reader.snapshots
        let last = try XCTUnwrap(snapshots.last)

        // Default: the last one, as JSON identical to a live snapshot's.
        var s = try Run.gpuctop(["snapshot", "--from", path, "--json"])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertEqual(s.stderr, "")
        XCTAssertEqual(try decode(s.stdout), last)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(s.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["schema"] as? Int, 1)

        // Text: the same table as a live snapshot.
        s = try Run.gpuctop(["snapshot", "--from", path])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertTrue(s.stdout.contains("NVIDIA H200"), s.stdout)
        XCTAssertTrue(s.stdout.contains("1g.10gb"), s.stdout)
        XCTAssertTrue(s.stdout.contains("sleep 120"), s.stdout)

        // --at, every form of TIME.
        let t3 = snapshots[3].time
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let utc = DateFormatter()
        utc.dateFormat = "HH:mm:ss.SSS"
        utc.timeZone = TimeZone(identifier: "UTC")
        // Relative times: whichever snapshot was sampled nearest (the schedule may slip on a busy machine).
        func nearest(_ offset: Double) -> Int {
            let target = reader.header.startTime + offset
            return snapshots.indices.min { abs(snapshots[$0].time - target) < abs(snapshots[$1].time - target) }!
        }
        let cases: [(String, Int)] = [
            (String(format: "%.6f", t3), 3),
            (String(format: "%.6f", t3 + 0.01), 3),
            (iso.string(from: Date(timeIntervalSince1970: t3)), 3),
            (utc.string(from: Date(timeIntervalSince1970: snapshots[5].time)), 5),
            ("+0s", 0),
            ("+0.5s", nearest(0.5)),
            ("+1", nearest(1)),
            ("+1h", snapshots.count - 1),
            ("0", 0),
        ]
        for (at, index) in cases {
            let s = try Run.gpuctop(["snapshot", "--from", path, "--at", at, "--json"], environment: ["TZ": "UTC"])
            XCTAssertEqual(s.status, 0, "--at \(at): \(s.stderr)")
            XCTAssertEqual(try decode(s.stdout), snapshots[index], "--at \(at)")
        }
        // Outside the recording: the nearest snapshot, and one line on stderr saying so.
        let past = try Run.gpuctop(["snapshot", "--from", path, "--at", "+1h", "--json"], environment: ["TZ": "UTC"])
        XCTAssertEqual(past.stderr.split(separator: "\n").count, 1, past.stderr)
        XCTAssertTrue(past.stderr.contains("+1h lies outside") && past.stderr.contains("after it ends")
                      && past.stderr.contains("showing its last snapshot"), past.stderr)
        let before = try Run.gpuctop(["snapshot", "--from", path, "--at", "0", "--json"], environment: ["TZ": "UTC"])
        XCTAssertTrue(before.stderr.contains("before it starts"), before.stderr)
        let inside = try Run.gpuctop(["snapshot", "--from", path, "--at", "+1", "--json"], environment: ["TZ": "UTC"])
        XCTAssertEqual(inside.stderr, "", "inside the recording nothing is said")
        // A whole-second ISO time in another zone, and HH:MM in local time.
        let z = try Run.gpuctop(["snapshot", "--from", path, "--at", "1970-01-01T01:00:00+01:00", "--json"])
        XCTAssertEqual(try decode(z.stdout), snapshots[0])
        let hm = try Run.gpuctop(["snapshot", "--from", path, "--at", "23:59", "--json"], environment: ["TZ": "UTC"])
        XCTAssertEqual(hm.status, 0, hm.stderr)

        for bad in ["yesterday", "25:00", "+5x", "2026-13-01T00:00:00Z", ""] {
            let b = try Run.gpuctop(["snapshot", "--from", path, "--at", bad])
            XCTAssertEqual(b.status, 2, "--at '\(bad)'")
            XCTAssertEqual(b.stderr.split(separator: "\n").count, 1, b.stderr)
        }
        let noFrom = try Run.gpuctop(["snapshot", "--at", "+1s"])
        XCTAssertEqual(noFrom.status, 2)
        XCTAssertTrue(noFrom.stderr.contains("--at needs --from"), noFrom.stderr)
    }

    func testSnapshotFromDamagedMissingOrForeignFiles() throws {
        let (path, r) = try record()
        XCTAssertEqual(r.status, 0, r.stderr)
        let reader = try RecordingReader(path: path)
        let snapshots = reader.snapshots
        // Cut in the middle of record 5: records 0-4 remain.
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data = data.prefix(reader.offsets[5] + 20)
        let cut = tempPath("cut.rec")
        try data.write(to: URL(fileURLWithPath: cut))
        let s = try Run.gpuctop(["snapshot", "--from", cut, "--json"])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertEqual(try decode(s.stdout), snapshots[4])
        XCTAssertEqual(s.stderr.split(separator: "\n").count, 1, s.stderr)
        XCTAssertTrue(s.stderr.hasPrefix("gpuctop: warning: \(cut): stopped at record 5 (byte \(reader.offsets[5])): the file ends inside a record"), s.stderr)

        // Missing, not a recording, empty: one line, status 1.
        let foreign = tempPath("foreign.rec")
        try "hello\n".write(toFile: foreign, atomically: true, encoding: .utf8)
        let empty = tempPath("empty.rec")
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        for (file, message) in [("/nonexistent/x.rec", "cannot read /nonexistent/x.rec: No such file or directory"),
                                (foreign, "\(foreign) is not a gpuctop recording"),
                                (empty, "\(empty) is not a gpuctop recording (the file is empty)")] {
            let e = try Run.gpuctop(["snapshot", "--from", file])
            XCTAssertEqual(e.status, 1, file)
            XCTAssertEqual(e.stdout, "")
            XCTAssertEqual(e.stderr.split(separator: "\n").count, 1, e.stderr)
            XCTAssertTrue(e.stderr.hasPrefix("gpuctop: \(message)"), e.stderr)
        }
        // Only a header: nothing to print.
        let header = tempPath("header.rec")
        try Data(data.prefix(reader.offsets[0])).write(to: URL(fileURLWithPath: header))
        let h = try Run.gpuctop(["snapshot", "--from", header])
        XCTAssertEqual(h.status, 1)
        XCTAssertTrue(h.stderr.contains("holds no readable snapshot"), h.stderr)
    }

    /// Starts `gpuctop record` in the background; returns the process and its output file.
    /// `inMemory`: the file on /dev/shm (where there is one), not on the disk.
    func startRecorder(_ extra: [String] = [], inMemory: Bool = false) throws -> (Process, String, Pipe, Pipe) {
        children = [try Child(["/bin/sleep", "120"])]
        let (args, env) = try fake(children.map(\.pid))
        var path = tempPath()
        if inMemory, FileManager.default.isWritableFile(atPath: "/dev/shm") {
            let dir = URL(fileURLWithPath: "/dev/shm").appendingPathComponent("gpuctop-record-\(getpid())-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            tempDirs.append(dir)
            path = dir.appendingPathComponent("r.rec").path
        }
        let p = Process()
        p.executableURL = TestEnv.gpuctopBinary
        p.arguments = ["record", "-o", path, "--interval", "0.25"] + extra + args
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        return (p, path, out, err)
    }

    func waitForRecords(_ path: String, atLeast n: Int, timeout: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let r = try? RecordingReader(path: path), r.count >= n { return }
            usleep(50_000)
        }
        throw TestFailure("no \(n) records in \(path) after \(timeout) s")
    }

    func testSignalsCloseTheRecordingCleanly() throws {
        for signal in [SIGTERM, SIGINT] {
            let (p, path, out, err) = try startRecorder()
            try waitForRecords(path, atLeast: 3)
            kill(p.processIdentifier, signal)
            p.waitUntilExit()
            let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            XCTAssertEqual(p.terminationReason, .exit, "signal \(signal)")
            XCTAssertEqual(p.terminationStatus, 0, stderr)
            let reader = try RecordingReader(path: path)
            XCTAssertNil(reader.stopReason, "signal \(signal): \(reader.stopReason!)")
            XCTAssertGreaterThanOrEqual(reader.count, 3)
            XCTAssertTrue(stdout.hasPrefix("\(path): \(reader.count) records, "), stdout)
            XCTAssertEqual(reader.snapshots.count, reader.count)
        }
    }

    /// A signal ends the recorder at once, not when the XID thread's NVML wait (a second,
    /// begun as the sampler started, just before the first record) next ends: the signal is
    /// sent 0.05 s into such a wait, so waiting for it would take 0.95 s more (0.85-0.90
    /// measured when sent at 0.15 s). The recording is on /dev/shm: a disk's fdatasync
    /// under load is not what this measures.
    func testASignalEndsTheRecorderAtOnce() throws {
        let (p, path, _, _) = try startRecorder(inMemory: true)
        try waitForRecords(path, atLeast: 3)
        let started = try RecordingReader(path: path).header.startTime
        let target = started + 2.05
        let now = Date().timeIntervalSince1970
        XCTAssertLessThan(now, target, "three records at 0.25 s took more than two seconds")
        if target > now { usleep(UInt32((target - now) * 1e6)) }
        let signalled = Date()
        kill(p.processIdentifier, SIGTERM)
        let deadline = signalled.addingTimeInterval(10)
        while p.isRunning && Date() < deadline { usleep(5_000) }
        let took = Date().timeIntervalSince(signalled)
        XCTAssertFalse(p.isRunning)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertLessThan(took, 0.7, "the recording closed and the line printed, not the XID wait")
    }

    func testKilledRecorderLeavesTheRecordsItWrote() throws {
        let (p, path, _, _) = try startRecorder()
        try waitForRecords(path, atLeast: 3)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let reader = try RecordingReader(path: path)
        XCTAssertGreaterThanOrEqual(reader.count, 3)
        XCTAssertTrue(reader.stopReason?.reason.contains("without an end record") == true, "\(String(describing: reader.stopReason))")
        let s = try Run.gpuctop(["snapshot", "--from", path])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertTrue(s.stdout.contains("NVIDIA H200"), s.stdout)
        XCTAssertEqual(s.stderr.split(separator: "\n").count, 1, s.stderr)
        XCTAssertTrue(s.stderr.contains("without an end record"), s.stderr)
    }

    func testUnwritableOutputIsOneLineAndStatus1() throws {
        let (args, env) = try fake()
        for path in ["/nonexistent-dir/x.rec", "/dev/full", NSTemporaryDirectory()] {
            let r = try Run.gpuctop(["record", "-o", path, "--duration", "1"] + args, environment: env)
            XCTAssertEqual(r.status, 1, path)
            XCTAssertEqual(r.stdout, "")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("gpuctop: cannot create the recording \(path): "), r.stderr)
        }
    }

    func testFullDiskMidRecordingKeepsRunningAndTheFileStaysValid() throws {
        // A 1 KiB file size limit: the header and the first keyframe take about 700
        // bytes (a fixed Docker problem included), each delta about 35: the recorder
        // runs into the limit after ten records or so, and goes on.
        children = [try Child(["/bin/sleep", "120"])]
        let (args, env) = try fake(children.map(\.pid))
        let path = tempPath()
        let command = ([TestEnv.gpuctopBinary.path, "record", "-o", path, "--interval", "0.25", "--duration", "4",
                        "--docker-host", "unix:///nonexistent/docker.sock"] + args)
            .map { "'\($0)'" }.joined(separator: " ")
        let r = try Run.command(["/bin/bash", "-c", "ulimit -f 1; exec \(command)"], environment: env)
        XCTAssertEqual(r.status, 1, r.stderr)
        let lines = r.stderr.split(separator: "\n")
        guard lines.count >= 1 else { return XCTFail("no warning; stdout: \(r.stdout)") }
        XCTAssertTrue(lines[0].hasPrefix("gpuctop: warning: cannot write to the recording \(path): File too large; still recording"), r.stderr)
        XCTAssertLessThanOrEqual(lines.count, 2, "one warning per problem, not one per record: \(r.stderr)")
        XCTAssertTrue(r.stdout.contains(" not written)"), r.stdout)
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        XCTAssertLessThanOrEqual(size, 1024)
        // What is in the file is whole: cut back to the last complete record.
        let reader = try RecordingReader(path: path)
        XCTAssertGreaterThanOrEqual(reader.count, 1)
        if let stop = reader.stopReason {
            XCTAssertTrue(stop.reason.contains("without an end record"), stop.description)
        }
        XCTAssertEqual(reader.snapshots.count, reader.count)
    }

    func testBadRecordCommandLines() throws {
        for args in [["record"], ["record", "-o"], ["record", "-o", "/tmp/x.rec", "--duration", "soon"],
                     ["record", "-o", "/tmp/x.rec", "--duration", "0"], ["record", "-o", "/tmp/x.rec", "--frobnicate"],
                     ["record", "-o", "/tmp/x.rec", "extra"], ["record", "-o", "/tmp/x.rec", "--interval", "0.05"]] {
            let r = try Run.gpuctop(args)
            XCTAssertEqual(r.status, 2, "\(args)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("gpuctop: "), r.stderr)
        }
    }

    func testDurationForms() throws {
        // 0.5s and 1 (seconds) both stop on time; 5m and 1h are accepted (stopped by SIGTERM elsewhere).
        let (args, env) = try fake()
        for (duration, records) in [("0.5s", 1...3), ("1", 3...5)] {
            let path = tempPath()
            let r = try Run.gpuctop(["record", "-o", path, "--interval", "0.25", "--duration", duration] + args, environment: env)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(records.contains(try RecordingReader(path: path).count), "--duration \(duration): \(r.stdout)")
        }
    }
}
