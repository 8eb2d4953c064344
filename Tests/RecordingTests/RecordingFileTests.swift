// Recordings: round trips of varied snapshots (keyframes and deltas), every kind
// of damage a file can suffer, typed writer errors, and the size per refresh.
import Foundation
@testable import Model
@testable import Recording
import XCTest

/// A small deterministic generator (SplitMix64), so failures reproduce.
struct SeededRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }
    mutating func chance(_ p: Double) -> Bool { Double(next() % 1_000_000) / 1_000_000 < p }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

final class RecordingFileTests: XCTestCase {
    private var tempDirs: [URL] = []

    override func tearDown() {
        for d in tempDirs { try? FileManager.default.removeItem(at: d) }
        tempDirs.removeAll()
        super.tearDown()
    }

    private func tempPath(_ name: String = "r.rec") -> String {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("rec-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        tempDirs.append(dir)
        return dir.appendingPathComponent(name).path
    }

    private func header(_ start: Double = 1_795_000_000) -> RecordingHeader {
        RecordingHeader(host: "gpu-box", driverVersion: "580.95.05", gpuctopVersion: "0.1.0-test", startTime: start)
    }

    private func write(_ snapshots: [Snapshot], to path: String, keyframeInterval: Int = 60, close: Bool = true) throws -> RecordingWriter {
        let writer = try RecordingWriter(path: path, header: header(snapshots.first?.time ?? 0), keyframeInterval: keyframeInterval)
        for s in snapshots { try writer.append(s) }
        if close { try writer.close() }
        return writer
    }

    private func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    private func reader(_ bytes: [UInt8]) throws -> RecordingReader { try RecordingReader(bytes: bytes, path: "test.rec") }

    // MARK: - Varied snapshots

    /// Snapshots with every field in use: MIG devices, processes that come and go
    /// (one PID on two GPUs, duplicates, MIG instances, no /proc info), containers
    /// with labels that change, degraded sources, odd values; something changes every frame.
    static func variedSequence(count: Int, seed: UInt64 = 1) -> [Snapshot] {
        var rng = SeededRandom(seed)
        var result: [Snapshot] = []
        for k in 0..<count {
            var s = Snapshot(time: 1_795_000_000.123456789 + Double(k) * 1.000_37 + Double(rng.int(0...999)) * 1e-7,
                             host: k < count / 2 ? "gpu-box" : "gpu-box-renamed")
            if k % 23 == 5 { s.schema = 0 }   // an older schema still round-trips
            s.driverVersion = k % 17 == 3 ? nil : "580.95.05"
            s.cudaVersion = "13.0"
            if k % 5 == 1 { s.degraded.append(DegradedSource(source: "docker", reason: "no Docker socket (frame \(k / 10))")) }
            if k % 7 == 2 { s.degraded.append(DegradedSource(source: "procfs", reason: "ünïcödé réason ✓ \u{1F680}")) }
            for i in 0..<3 {
                var g = GPU(index: i)
                g.name = i == 2 ? "NVIDIA H100 80GB HBM3" : "NVIDIA H200"
                g.uuid = "GPU-\(i)aaaaaaa-0000-0000-0000-000000000000"
                g.pciBusId = "00000000:\(19 + i):00.0"
                g.lost = i == 1 && k > count - 5
                g.utilizationGpu = i == 2 ? nil : rng.int(0...100)
                g.utilizationMemory = rng.int(0...100)
                g.memoryTotal = 150_754_820_096
                g.memoryReserved = 617_611_264
                g.memoryUsed = UInt64(rng.int(0...140_000)) << 20
                g.memoryFree = g.memoryTotal! - g.memoryReserved! - g.memoryUsed!
                g.temperature = k % 11 == 0 ? nil : 40 + rng.int(0...20)
                g.fanSpeed = i == 0 ? nil : rng.int(0...100)
                g.clockSM = [1980, 1755, 345][rng.int(0...2)]
                g.clockMemory = 3201
                g.performanceState = k % 9 == 0 ? 2 : 0
                g.powerDraw = rng.int(80_000...700_000)
                g.powerLimitEnforced = 700_000
                g.powerLimit = k > count / 3 ? 600_000 : 700_000
                g.powerLimitDefault = 700_000
                g.powerLimitMin = 200_000
                g.powerLimitMax = 700_000
                g.energyTotal = i == 1 ? UInt64.max - UInt64(k) : 123_456_789 + UInt64(k) * 400_000
                g.persistenceMode = i != 1
                g.computeMode = i == 2 ? "exclusive_process" : "default"
                g.encoderUtilization = k % 4 == 0 ? nil : rng.int(0...10)
                g.decoderUtilization = rng.int(0...3)
                if i == 2 {
                    g.migMode = MIGMode(current: true, pending: k % 13 != 0)
                    for slot in 0..<(k % 10 == 9 ? 1 : 2) {
                        var m = MIGDevice(index: slot)
                        m.uuid = "MIG-\(slot)111-2222"
                        m.name = "NVIDIA H100 80GB HBM3 MIG \(slot == 0 ? 3 : 1)g.\(slot == 0 ? 40 : 10)gb"
                        m.gpuInstanceId = slot == 0 ? 1 : 5
                        m.computeInstanceId = 0
                        m.gpuInstanceSlices = slot == 0 ? 3 : 1
                        m.computeInstanceSlices = slot == 0 ? 3 : 1
                        m.multiprocessors = slot == 0 ? 60 : 16
                        m.memoryTotal = slot == 0 ? 40_192 << 20 : 9_856 << 20
                        m.memoryUsed = UInt64(rng.int(0...9000)) << 20
                        g.migDevices.append(m)
                    }
                } else if i == 1 {
                    g.migMode = MIGMode(current: false, pending: false)
                }
                s.gpus.append(g)
            }
            let containerIds = (0..<4).map { String(repeating: "\($0)abc", count: 16) }
            // Processes: a stable set, one that comes and goes, one on two GPUs, one without /proc info.
            var pids: [(Int32, Int, ProcessKind)] = [(4242, 0, .compute), (4243, 0, .graphics), (5000, 1, .compute), (5000, 0, .compute),
                                                    (6000, 2, .compute), (6001, 2, .compute), (7000, 1, .mps)]
            if k % 6 < 3 { pids.append((8000 + Int32(k / 6), 1, .compute)) }
            if k % 8 == 7 { pids.append((4242, 0, .compute)) }     // a duplicate row
            if k % 10 == 4 { pids.swapAt(0, 2) }                   // order changes
            for (n, (pid, gpu, kind)) in pids.enumerated() {
                var p = GPUProcess(pid: pid, gpuIndex: gpu, kind: kind)
                p.usedGpuMemory = kind == .graphics ? nil : UInt64(1 + n) << 30 + UInt64(k % 3) << 20
                if gpu == 2 {
                    p.gpuInstanceId = pid == 6000 ? 1 : 5
                    p.computeInstanceId = 0
                }
                p.smUtilization = rng.int(0...100)
                p.memoryUtilization = rng.chance(0.2) ? nil : rng.int(0...100)
                p.encoderUtilization = 0
                p.decoderUtilization = 0
                if pid != 7000 {
                    var info = ProcessInfoSample(command: pid == 4243 ? "Xorg :0" : "python train.py --rank \(n) — ✓",
                                                 user: pid == 5000 ? "1001" : "root", uid: pid == 5000 ? 1001 : 0,
                                                 startTime: 1_794_999_000 + Double(pid) / 100)
                    info.namespacePid = pid == 4243 ? nil : Int32(n + 1)
                    info.cpuPercent = [nil, 0.0, -0.0, 99.5, Double(rng.int(0...400)) / 100 / 1.000_37 * 100][rng.int(0...4)]
                    info.residentBytes = UInt64(rng.int(100_000...4_000_000)) * 4096
                    if pid != 4243 {
                        let c = containerIds[Int(pid) % 4]
                        info.container = ContainerRef(runtime: pid == 6001 ? .containerd : .docker, id: c,
                                                      podUID: pid == 6001 ? "0b6d2b1e-5f33-4bde-9b4b-2f1d7e3c9a10" : nil)
                    }
                    p.info = info
                }
                s.processes.append(p)
            }
            for (n, id) in containerIds.enumerated() where !(n == 3 && k % 9 > 5) {
                var c = ContainerUsage(id: id)
                c.runtime = n == 1 ? .containerd : .docker
                c.name = "trainer-\(n)"
                c.image = "nvcr.io/nvidia/pytorch:25.01-py3"
                c.composeProject = n == 0 ? "ml" : nil
                c.composeService = n == 0 ? "trainer" : nil
                c.podName = n == 1 ? "trainer-7d9f" : nil
                c.podNamespace = n == 1 ? "default" : nil
                c.podContainer = n == 1 ? "main" : nil
                c.podUID = n == 1 ? "0b6d2b1e-5f33-4bde-9b4b-2f1d7e3c9a10" : nil
                c.status = "running"
                c.health = n == 2 ? (k % 12 < 6 ? "healthy" : "unhealthy") : nil
                c.startedAt = 1_794_990_000.123_456 + Double(n)
                c.gpuRequest = ["all GPUs", "2 GPUs", "GPU 0,1", nil][n]
                c.labels = n == 3 ? nil : ["com.docker.compose.project": "ml", "team": "vision",
                                          "frame.bucket": "\(k / 25)", "empty": ""]
                if n == 2 { c.labels = [:] }
                c.gpus = n == 0 ? [0, 1] : [n % 3]
                c.migInstances = n == 1 ? ["2:1/0", "2:5/0"] : []
                c.processCount = rng.int(0...5)
                c.gpuMemory = UInt64(rng.int(0...80_000)) << 20
                c.smUtilization = rng.chance(0.1) ? nil : rng.int(0...200)
                c.estimatedPowerShare = rng.int(0...700_000)
                c.idleAllocation = n == 3
                s.containers.append(c)
            }
            var host = ContainerUsage(id: "host")
            host.processCount = 1
            host.gpus = [0]
            s.containers.append(host)
            if k % 31 == 30 { s.gpus = []; s.processes = []; s.containers = [] }   // NVML lost for a frame
            result.append(s)
        }
        return result
    }

    /// Field group by field group first, so a failure names what differs.
    private func assertSame(_ a: Snapshot, _ b: Snapshot, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.schema, b.schema, "\(label): schema", file: file, line: line)
        XCTAssertEqual(a.time.bitPattern, b.time.bitPattern, "\(label): time", file: file, line: line)
        XCTAssertEqual(a.host, b.host, "\(label): host", file: file, line: line)
        XCTAssertEqual(a.driverVersion, b.driverVersion, "\(label): driverVersion", file: file, line: line)
        XCTAssertEqual(a.cudaVersion, b.cudaVersion, "\(label): cudaVersion", file: file, line: line)
        XCTAssertEqual(a.degraded, b.degraded, "\(label): degraded", file: file, line: line)
        XCTAssertEqual(a.gpus.count, b.gpus.count, "\(label): GPU count", file: file, line: line)
        for (x, y) in zip(a.gpus, b.gpus) {
            XCTAssertEqual(x.migDevices, y.migDevices, "\(label): GPU \(x.index) MIG devices", file: file, line: line)
            XCTAssertEqual(x, y, "\(label): GPU \(x.index)", file: file, line: line)
        }
        XCTAssertEqual(a.processes.count, b.processes.count, "\(label): process count", file: file, line: line)
        for (n, (x, y)) in zip(a.processes, b.processes).enumerated() {
            XCTAssertEqual(x.info, y.info, "\(label): process \(n) (pid \(x.pid)) info", file: file, line: line)
            XCTAssertEqual(x.info?.cpuPercent?.bitPattern, y.info?.cpuPercent?.bitPattern,
                           "\(label): process \(n) cpuPercent bits", file: file, line: line)
            XCTAssertEqual(x, y, "\(label): process \(n) (pid \(x.pid))", file: file, line: line)
        }
        XCTAssertEqual(a.containers.count, b.containers.count, "\(label): container count", file: file, line: line)
        for (x, y) in zip(a.containers, b.containers) {
            XCTAssertEqual(x.labels, y.labels, "\(label): container \(x.shortId) labels", file: file, line: line)
            XCTAssertEqual(x, y, "\(label): container \(x.shortId)", file: file, line: line)
        }
        XCTAssertEqual(a, b, "\(label): whole snapshot", file: file, line: line)
    }

    // MARK: - Round trips

    func testRoundTripKeyframesAndDeltas() throws {
        let original = Self.variedSequence(count: 150)
        for interval in [1, 7, 60, 1000] {
            let path = tempPath()
            let writer = try write(original, to: path, keyframeInterval: interval)
            XCTAssertEqual(writer.recordsWritten, original.count)
            let r = try RecordingReader(path: path)
            XCTAssertNil(r.stopReason, "interval \(interval): \(r.stopReason!)")
            XCTAssertEqual(r.header.host, "gpu-box")
            XCTAssertEqual(r.header.driverVersion, "580.95.05")
            XCTAssertEqual(r.header.gpuctopVersion, "0.1.0-test")
            XCTAssertEqual(r.header.formatVersion, recordingFormatVersion)
            XCTAssertEqual(r.header.schema, snapshotSchemaVersion)
            XCTAssertEqual(r.header.keyframeInterval, interval)
            XCTAssertEqual(r.fileSize, writer.bytesWritten)
            let decoded = r.snapshots
            XCTAssertEqual(decoded.count, original.count)
            for (i, (a, b)) in zip(original, decoded).enumerated() { assertSame(a, b, "interval \(interval), snapshot \(i)") }
            XCTAssertEqual(r.times, original.map(\.time))
        }
    }

    func testRandomAccessAndNearestTime() throws {
        let original = Self.variedSequence(count: 130, seed: 7)
        let path = tempPath()
        _ = try write(original, to: path, keyframeInterval: 20)
        let r = try RecordingReader(path: path)
        var rng = SeededRandom(3)
        // Jumps back and forth, within a keyframe's span and across keyframes.
        for _ in 0..<60 {
            let i = rng.int(0...(original.count - 1))
            assertSame(try XCTUnwrap(r.snapshot(at: original[i].time)), original[i], "at snapshot \(i)")
        }
        for i in [5, 5, 6, 19, 20, 21, 129, 0] { assertSame(r.snapshot(index: i), original[i], "index \(i)") }
        // Between two snapshots: the nearer one.
        XCTAssertEqual(r.nearestIndex(to: original[10].time + 0.3), 10)
        XCTAssertEqual(r.nearestIndex(to: original[10].time + 0.7), 11)
        XCTAssertEqual(r.nearestIndex(to: 0), 0)
        XCTAssertEqual(r.nearestIndex(to: .greatestFiniteMagnitude), original.count - 1)
    }

    func testEmptyRecordingAndExactValues() throws {
        let path = tempPath()
        _ = try write([], to: path)
        let r = try RecordingReader(path: path)
        XCTAssertNil(r.stopReason)
        XCTAssertEqual(r.count, 0)
        XCTAssertNil(r.snapshot(at: 0))

        // Extreme values survive exactly.
        var s = Snapshot(time: -0.0, host: "")
        var g = GPU(index: Int.min)
        g.memoryTotal = UInt64.max
        g.memoryUsed = 0
        g.temperature = Int.max
        g.powerDraw = -1
        s.gpus = [g]
        var p = GPUProcess(pid: Int32.min, gpuIndex: Int.max, kind: .mps)
        var info = ProcessInfoSample(command: "", user: "", uid: UInt32.max, startTime: .greatestFiniteMagnitude)
        info.cpuPercent = .leastNonzeroMagnitude
        info.namespacePid = Int32.max
        p.info = info
        s.processes = [p]
        var t = s
        t.time = 1e300
        t.gpus[0].temperature = Int.min
        t.gpus[0].memoryTotal = 1
        t.processes[0].info?.cpuPercent = -.infinity
        t.processes[0].info?.startTime = 12.34
        let path2 = tempPath()
        _ = try write([s, t, s], to: path2)
        let decoded = try RecordingReader(path: path2).snapshots
        XCTAssertEqual(decoded.count, 3)
        // The codec keeps every value exactly; the reader then makes the absurd ones
        // unavailable (Snapshot.sanitized()), as any decoder of untrusted bytes does.
        for (i, (a, b)) in zip([s, t, s], decoded).enumerated() { assertSame(a.sanitized(), b, "extreme \(i)") }
        for (i, a) in [s, t].enumerated() {
            var encoder = RecRowEncoder(strings: [:])
            encoder.row(RecRows.row(a), base: RecSchemas.snapshot.nullRow, schema: RecSchemas.snapshot)
            var decoder = RecRowDecoder(input: ByteReader(encoder.out.bytes), strings: [])
            let row = try decoder.row(base: RecSchemas.snapshot.nullRow, schema: RecSchemas.snapshot)
            assertSame(a, try RecRows.snapshot(row, schema: a.schema), "codec, extreme \(i)")
        }
        XCTAssertEqual(decoded[0].time.sign, .minus, "-0.0 keeps its sign")
        XCTAssertEqual(decoded[1].time, 0, "1e300 is no time: unknown")
        XCTAssertNil(decoded[0].gpus[0].temperature, "Int.max degrees is unavailable")
        XCTAssertEqual(decoded[0].processes[0].info?.startTime, 0, "greatestFiniteMagnitude is no start time")
        XCTAssertNil(decoded[1].processes[0].info?.cpuPercent, "-infinity is unavailable")
        XCTAssertEqual(decoded[0].gpus[0].memoryTotal, UInt64.max, "any byte count is kept: the views sum it saturating")
    }

    // MARK: - Damage

    /// A closed recording of `n` snapshots, its bytes and the offset of each record (the end record last).
    private func recording(_ n: Int, keyframeInterval: Int = 10) throws -> (bytes: [UInt8], offsets: [Int], original: [Snapshot]) {
        let original = Self.variedSequence(count: n, seed: 11)
        let path = tempPath()
        _ = try write(original, to: path, keyframeInterval: keyframeInterval)
        let data = try bytes(path)
        let r = try reader(data)
        XCTAssertNil(r.stopReason)
        XCTAssertEqual(r.count, n)
        // The end record: 8 frame bytes, kind, version, varint count.
        let endLength = 8 + 2 + (n < 128 ? 1 : 2)
        return (data, r.offsets + [data.count - endLength], original)
    }

    func testTruncatedAtEveryRecordBoundary() throws {
        let (data, offsets, original) = try recording(25)
        for (k, offset) in offsets.enumerated() {
            let r = try reader(Array(data[0..<offset]))
            XCTAssertEqual(r.count, k, "cut before record \(k)")
            let stop = try XCTUnwrap(r.stopReason, "cut before record \(k)")
            XCTAssertEqual(stop.record, k)
            XCTAssertEqual(stop.offset, offset)
            XCTAssertTrue(stop.reason.contains("without an end record"), stop.description)
            XCTAssertFalse(stop.description.contains("\n"))
            if k > 0 { assertSame(r.snapshot(index: k - 1), original[k - 1], "last of \(k)") }
        }
    }

    func testTruncatedInsideRecords() throws {
        let (data, offsets, original) = try recording(25)
        for k in [0, 1, 9, 10, 11, 24, 25] {
            let start = offsets[k]
            let next = k + 1 < offsets.count ? offsets[k + 1] : data.count
            for cut in Set([start + 1, start + 4, start + 7, start + 8, start + 9, (start + next) / 2, next - 1]) where cut < next {
                let r = try reader(Array(data[0..<cut]))
                XCTAssertEqual(r.count, k, "cut at byte \(cut) inside record \(k)")
                let stop = try XCTUnwrap(r.stopReason)
                XCTAssertEqual(stop.record, k, stop.description)
                XCTAssertEqual(stop.offset, start, stop.description)
                XCTAssertTrue(stop.reason.contains("ends inside a record"), stop.description)
                XCTAssertEqual(r.snapshots, Array(original.prefix(k)))
            }
        }
    }

    func testGarbageInTheMiddle() throws {
        let (data, offsets, original) = try recording(30)
        // Overwritten bytes inside record 12: its checksum fails.
        var damaged = data
        for i in (offsets[12] + 10)..<(offsets[12] + 20) { damaged[i] ^= 0x5A }
        var r = try reader(damaged)
        XCTAssertEqual(r.count, 12)
        XCTAssertEqual(r.stopReason?.record, 12)
        XCTAssertEqual(r.stopReason?.offset, offsets[12])
        XCTAssertTrue(r.stopReason!.reason.contains("checksum mismatch"), r.stopReason!.description)
        XCTAssertEqual(r.snapshots, Array(original.prefix(12)))

        // A flipped checksum byte.
        damaged = data
        damaged[offsets[3] + 5] ^= 1
        r = try reader(damaged)
        XCTAssertEqual(r.stopReason?.record, 3)
        XCTAssertTrue(r.stopReason!.reason.contains("checksum"), r.stopReason!.description)

        // Garbage inserted between records 20 and 21.
        for garbage: [UInt8] in [Array(repeating: 0xFF, count: 40), Array("hello, world! this is not a record".utf8), [0, 0, 0, 0, 1, 2, 3, 4], [9]] {
            damaged = data
            damaged.insert(contentsOf: garbage, at: offsets[21])
            r = try reader(damaged)
            XCTAssertEqual(r.count, 21, "garbage \(garbage.prefix(4))")
            XCTAssertEqual(r.stopReason?.record, 21)
            XCTAssertEqual(r.stopReason?.offset, offsets[21])
            XCTAssertEqual(r.snapshots, Array(original.prefix(21)))
        }

        // Data after the end record.
        r = try reader(data + [1, 2, 3])
        XCTAssertEqual(r.count, 30)
        XCTAssertTrue(r.stopReason?.reason.contains("follow the end record") == true, "\(String(describing: r.stopReason))")
    }

    func testRecordsFromANewerFormatOrSchema() throws {
        let (data, offsets, original) = try recording(15)
        let cut = Array(data[0..<offsets[15]])   // no end record
        func body(kind: UInt8, version: UInt8, schema: UInt8) -> [UInt8] {
            // A copy of record 0 with another kind, version or schema.
            var b = Array(data[(offsets[0] + 8)..<offsets[1]])
            b[0] = kind; b[1] = version; b[2] = schema
            return RecordingFile.frame(b)
        }
        var r = try reader(cut + body(kind: 0x4B, version: 2, schema: 1))
        XCTAssertEqual(r.count, 15)
        XCTAssertEqual(r.stopReason?.record, 15)
        XCTAssertTrue(r.stopReason!.reason.contains("format version 2"), r.stopReason!.description)

        r = try reader(cut + body(kind: 0x4B, version: 1, schema: UInt8(snapshotSchemaVersion + 1)))
        XCTAssertEqual(r.stopReason?.record, 15)
        XCTAssertTrue(r.stopReason!.reason.contains("snapshot schema \(snapshotSchemaVersion + 1)"), r.stopReason!.description)

        r = try reader(cut + body(kind: 0x58, version: 1, schema: 1))
        XCTAssertTrue(r.stopReason!.reason.contains("unknown record kind"), r.stopReason!.description)
        XCTAssertEqual(r.snapshots, original)

        // A well-formed frame whose content does not decode.
        r = try reader(cut + RecordingFile.frame([0x44, 1, 1, 0xFF, 0xFF, 0xFF]))
        XCTAssertEqual(r.count, 15)
        XCTAssertTrue(r.stopReason!.reason.contains("does not decode"), r.stopReason!.description)
    }

    func testHeaderProblems() throws {
        // Empty.
        XCTAssertThrowsError(try reader([])) { error in
            XCTAssertEqual("\(error)", "test.rec is not a gpuctop recording (the file is empty)")
        }
        // Not a recording at all.
        let json = Array(#"{"schema":1,"time":0,"host":"x"}"#.utf8)
        XCTAssertThrowsError(try reader(json)) { error in
            guard case RecordingError.notARecording = error else { return XCTFail("\(error)") }
        }
        // A header from a newer format.
        let newer = Array(#"{"format":"gpuctop-recording","formatVersion":2,"host":"x","gpuctopVersion":"9","startTime":0,"fancy":true}"#.utf8)
        XCTAssertThrowsError(try reader(RecordingFile.magic + RecordingFile.frame(newer))) { error in
            XCTAssertEqual(error as? RecordingError, .newerFormat(path: "test.rec", version: 2))
            XCTAssertTrue("\(error)".contains("format version 2; this gpuctop reads version 1"), "\(error)")
        }
        // Cut inside the header, or a damaged header.
        let (data, offsets, _) = try recording(3)
        for cut in [5, 12, 15, 20, offsets[0] - 1] {
            XCTAssertThrowsError(try reader(Array(data[0..<cut])), "cut at \(cut)") { error in
                guard case RecordingError.badHeader = error else { return XCTFail("\(error)") }
            }
        }
        var damaged = data
        damaged[30] ^= 0x20
        XCTAssertThrowsError(try reader(damaged)) { error in
            XCTAssertTrue("\(error)".contains("checksum mismatch"), "\(error)")
        }
        // Only the header: readable, no snapshots, says it has no end record.
        let r = try reader(Array(data[0..<offsets[0]]))
        XCTAssertEqual(r.count, 0)
        XCTAssertEqual(r.stopReason?.record, 0)
        // Missing and unreadable files.
        XCTAssertThrowsError(try RecordingReader(path: "/nonexistent/x.rec")) { error in
            XCTAssertEqual("\(error)", "cannot read /nonexistent/x.rec: No such file or directory")
        }
        XCTAssertThrowsError(try RecordingReader(path: NSTemporaryDirectory())) { error in
            XCTAssertTrue("\(error)".contains("Is a directory"), "\(error)")
        }
    }

    // MARK: - Writer errors

    func testWriterErrorsAreTypedAndOneLine() throws {
        XCTAssertThrowsError(try RecordingWriter(path: "/nonexistent-dir/x.rec", header: header())) { error in
            XCTAssertEqual(error as? RecordingError,
                           .cannotCreate(path: "/nonexistent-dir/x.rec", reason: "No such file or directory"))
            XCTAssertEqual("\(error)", "cannot create the recording /nonexistent-dir/x.rec: No such file or directory")
        }
        // A full disk.
        XCTAssertThrowsError(try RecordingWriter(path: "/dev/full", header: header())) { error in
            XCTAssertEqual("\(error)", "cannot create the recording /dev/full: No space left on device")
        }
        let path = tempPath()
        let writer = try RecordingWriter(path: path, header: header())
        try writer.append(Self.variedSequence(count: 1)[0])
        try writer.close()
        XCTAssertThrowsError(try writer.append(Self.variedSequence(count: 1)[0])) { error in
            XCTAssertEqual(error as? RecordingError, .closed(path: path))
        }
        XCTAssertEqual(try RecordingReader(path: path).count, 1)
        // Control characters from a path or a damaged file never break the line (Support's
        // one rule for one-line messages: they become spaces).
        XCTAssertEqual("\(RecordingError.cannotRead(path: "a\nb", reason: "r\u{1B}[2J"))", "cannot read a b: r [2J")
        XCTAssertEqual(RecordingStop(record: 1, offset: 2, reason: "x\ny").description, "stopped at record 1 (byte 2): x y")
    }

    func testUnclosedWriterLeavesAReadableFile() throws {
        let original = Self.variedSequence(count: 40)
        let path = tempPath()
        var writer: RecordingWriter? = try write(original, to: path, keyframeInterval: 15, close: false)
        // Before close: everything is on disk already, without the end record.
        let r = try RecordingReader(path: path)
        XCTAssertEqual(r.snapshots, original)
        XCTAssertTrue(r.stopReason?.reason.contains("without an end record") == true)
        // Dropping the writer closes it.
        writer = nil
        XCTAssertNil(writer)
        XCTAssertNil(try RecordingReader(path: path).stopReason)
    }

    // MARK: - Size

    /// 8 GPUs, 50 processes in 10 containers, values changing as they do on a busy box.
    static func busySequence(count: Int) -> [Snapshot] {
        var rng = SeededRandom(42)
        var containerIds: [String] = []
        for _ in 0..<10 { containerIds.append((0..<4).map { _ in String(format: "%016llx", rng.next()) }.joined()) }
        struct Proc { var pid: Int32; var gpu: Int; var container: Int; var mem: UInt64; var rss: UInt64; var start: Double; var ticks: UInt64 }
        var nextPid: Int32 = 100_000
        func newProc(_ n: Int) -> Proc {
            nextPid += Int32(rng.int(1...300))
            return Proc(pid: nextPid, gpu: n % 8, container: n % 10, mem: UInt64(rng.int(2_000...70_000)) << 20,
                        rss: UInt64(rng.int(500_000...3_000_000)) * 4096,
                        start: 1_794_990_000 + Double(rng.int(0...900_000)) / 100, ticks: UInt64(rng.int(0...9_000_000)))
        }
        var procs = (0..<50).map(newProc)
        var used = (0..<8).map { _ in UInt64(rng.int(20_000...120_000)) << 20 }
        var energy = (0..<8).map { _ in UInt64(rng.int(1_000_000...900_000_000)) * 1000 }
        var temps = (0..<8).map { _ in rng.int(35...70) }
        var time = 1_795_000_000.0 + rng.unit()
        var result: [Snapshot] = []
        for k in 0..<count {
            let dt = 1.0 + (rng.unit() - 0.5) * 0.002
            time += dt
            var s = Snapshot(time: time, host: "dgx-h200-07")
            s.driverVersion = "580.95.05"
            s.cudaVersion = "13.0"
            // A process ends and another starts now and then.
            if k % 40 == 39 { procs[rng.int(0...49)] = newProc(rng.int(0...49)) }
            var power = [Int](repeating: 0, count: 8)
            for i in 0..<8 {
                var g = GPU(index: i)
                g.name = "NVIDIA H200"
                g.uuid = "GPU-\(String(format: "%08x", i * 0x1111_1111))-6a1e-0f3b-93f5-c1d0e1b2a3f4"
                g.pciBusId = String(format: "00000000:%02X:00.0", 0x19 + i * 0x10)
                g.utilizationGpu = rng.int(85...100)
                g.utilizationMemory = rng.int(20...60)
                g.memoryTotal = 150_754_820_096
                g.memoryReserved = 617_611_264
                if rng.chance(0.3) { used[i] = UInt64(Int64(used[i]) + Int64(rng.int(-512...512)) << 20) }
                g.memoryUsed = used[i]
                g.memoryFree = g.memoryTotal! - g.memoryReserved! - used[i]
                if rng.chance(0.2) { temps[i] += rng.int(-1...1) }
                g.temperature = temps[i]
                g.clockSM = rng.chance(0.8) ? 1980 : rng.int(1700...1980)
                g.clockMemory = 3201
                g.performanceState = 0
                power[i] = rng.int(550_000...700_000)
                g.powerDraw = power[i]
                g.powerLimitEnforced = 700_000
                g.powerLimit = 700_000
                g.powerLimitDefault = 700_000
                g.powerLimitMin = 200_000
                g.powerLimitMax = 700_000
                energy[i] += UInt64(Double(power[i]) * dt)
                g.energyTotal = energy[i]
                g.persistenceMode = true
                g.computeMode = "default"
                g.encoderUtilization = 0
                g.decoderUtilization = 0
                g.migMode = MIGMode(current: false, pending: false)
                s.gpus.append(g)
            }
            for n in procs.indices {
                if rng.chance(0.1) { procs[n].mem = UInt64(Int64(procs[n].mem) + Int64(rng.int(-256...256)) << 20) }
                procs[n].rss += UInt64(rng.int(0...64)) * 4096
                let cpuTicks = UInt64(rng.int(90...100))
                procs[n].ticks += cpuTicks
                let pr = procs[n]
                var p = GPUProcess(pid: pr.pid, gpuIndex: pr.gpu, kind: .compute)
                p.usedGpuMemory = pr.mem
                p.smUtilization = rng.int(0...100)
                p.memoryUtilization = rng.int(0...60)
                p.encoderUtilization = 0
                p.decoderUtilization = 0
                var info = ProcessInfoSample(command: "python -m torch.distributed.run --nproc_per_node=8 train.py --config configs/llama-70b.yaml --rank \(n % 5)",
                                             user: "mlops", uid: 1001, startTime: pr.start)
                info.namespacePid = Int32(100 + n % 5)
                // As ProcReader computes it: ticks over a measured interval.
                info.cpuPercent = Double(cpuTicks) / 100 / dt * 100
                info.residentBytes = pr.rss
                info.container = ContainerRef(runtime: .docker, id: containerIds[pr.container])
                p.info = info
                s.processes.append(p)
            }
            for (n, id) in containerIds.enumerated() {
                var c = ContainerUsage(id: id)
                c.runtime = .docker
                c.name = "llama70b-trainer-\(n)"
                c.image = "nvcr.io/nvidia/pytorch:25.01-py3"
                c.composeProject = "llm-training"
                c.composeService = "trainer-\(n)"
                c.status = "running"
                c.health = "healthy"
                c.startedAt = 1_794_989_000.812_345 + Double(n) * 13.7
                c.gpuRequest = "all GPUs"
                c.labels = ["com.docker.compose.project": "llm-training", "com.docker.compose.service": "trainer-\(n)",
                            "com.docker.compose.version": "2.29.7", "com.docker.compose.oneoff": "False",
                            "com.docker.compose.project.working_dir": "/srv/llm-training",
                            "com.docker.compose.config-hash": "9f2c8e0d4b7a61f3c5e2d8b0a4f6c1e3d7b9a2f5c8e1d4b7a0f3c6e9d2b5a8f1",
                            "org.opencontainers.image.version": "25.01", "maintainer": "NVIDIA CORPORATION <cudatools@nvidia.com>"]
                let mine = s.processes.filter { $0.info?.container?.id == id }
                c.gpus = Array(Set(mine.map(\.gpuIndex))).sorted()
                c.processCount = mine.count
                c.gpuMemory = mine.reduce(0) { $0 + ($1.usedGpuMemory ?? 0) }
                c.smUtilization = mine.reduce(0) { $0 + ($1.smUtilization ?? 0) }
                c.estimatedPowerShare = mine.reduce(0) { $0 + power[$1.gpuIndex] * ($1.smUtilization ?? 0) / 300 }
                s.containers.append(c)
            }
            s.containers.sort { $0.gpuMemory > $1.gpuMemory }
            result.append(s)
        }
        return result
    }

    func testSizePerRefreshFor8GPUs50Processes10Containers() throws {
        let original = Self.busySequence(count: 600)
        XCTAssertEqual(original[0].gpus.count, 8)
        XCTAssertEqual(original[0].processes.count, 50)
        XCTAssertEqual(original[0].containers.count, 10)
        let path = tempPath()
        let writer = try write(original, to: path)
        let average = Double(writer.bytesWritten) / Double(original.count)
        let json = try JSONEncoder().encode(original[300]).count
        print("recording size: \(original.count) records, \(writer.bytesWritten) bytes, \(String(format: "%.0f", average)) bytes per record on average (one snapshot as compact JSON: \(json) bytes)")
        XCTAssertLessThanOrEqual(average, 2048)
        let r = try RecordingReader(path: path)
        XCTAssertNil(r.stopReason)
        XCTAssertEqual(r.count, 600)
        for i in [0, 1, 59, 60, 61, 299, 599] { assertSame(r.snapshot(index: i), original[i], "busy \(i)") }
        XCTAssertEqual(r.snapshots, original)
    }
}
