// A remote host's stream, without ssh: the line splitter (linear time, bounded
// memory, over-long lines dropped and reported) and the decoder the reader uses
// (RemoteHosts.decodeLine: JSON, then SnapshotLimits).
import Fleet
import Foundation
import Model
import XCTest

final class RemoteLineTests: XCTestCase {
    /// CPU seconds this thread has used.
    func threadCPU() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    func lines(_ pieces: [LineSplitter.Piece]) -> [String] {
        pieces.map {
            switch $0 {
            case .line(let b): return String(decoding: b, as: UTF8.self)
            case .overflow: return "<overflow>"
            }
        }
    }

    /// 64 MiB without a newline, read 64 KiB at a time: each read is scanned once and
    /// the buffer stops at the limit (the old reader rescanned its whole buffer on
    /// every read: 20 s of CPU, and it held all 64 MiB).
    func testA64MiBLineWithoutNewlineIsLinearAndBounded() {
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 << 10)
        var splitter = LineSplitter(limit: RemoteHosts.maxLineBytes)
        var overflows = 0, maxBuffered = 0
        let start = threadCPU()
        for _ in 0..<1024 {
            for piece in splitter.append(chunk) {
                if case .overflow = piece { overflows += 1 } else { XCTFail("no line ends here") }
            }
            maxBuffered = max(maxBuffered, splitter.buffered)
        }
        let cpu = threadCPU() - start
        XCTAssertLessThan(cpu, 2, "64 MiB in 64 KiB reads took \(cpu) s of CPU")
        XCTAssertEqual(overflows, 1, "one report per over-long line")
        XCTAssertLessThanOrEqual(maxBuffered, RemoteHosts.maxLineBytes + chunk.count)
        // The newline ends the dropped line; the next line is whole again.
        XCTAssertEqual(lines(splitter.append(Array("tail\nnext\n".utf8))), ["next"])
        XCTAssertEqual(splitter.buffered, 0)
    }

    func testLinesAcrossReadsAndEmptyLines() {
        var s = LineSplitter(limit: 16)
        XCTAssertEqual(lines(s.append(Array("ab".utf8))), [])
        XCTAssertEqual(lines(s.append(Array("c\n\nde\nf".utf8))), ["abc", "", "de"])
        XCTAssertEqual(lines(s.append(Array("\n".utf8))), ["f"])
        // Exactly the limit is a line; one byte more is not, however it arrives.
        XCTAssertEqual(lines(s.append(Array(String(repeating: "y", count: 16).utf8) + [10])), [String(repeating: "y", count: 16)])
        XCTAssertEqual(lines(s.append(Array(String(repeating: "z", count: 10).utf8))), [])
        XCTAssertEqual(lines(s.append(Array(String(repeating: "z", count: 7).utf8) + Array("\nok\n".utf8))), ["<overflow>", "ok"])
    }

    /// A line over the limit is reported with the host and the reason, and the good
    /// line after it is decoded.
    func testAnOverLongLineIsReportedAndTheNextGoodLineDecoded() throws {
        let good = try JSONEncoder().encode(Snapshot(time: 1_700_000_000, host: "gpu9"))
        var s = LineSplitter(limit: RemoteHosts.maxLineBytes)
        var pieces = s.append([UInt8](repeating: UInt8(ascii: "{"), count: RemoteHosts.maxLineBytes + 1))
        pieces += s.append([10] + Array(good) + [10])
        XCTAssertEqual(pieces.count, 2)
        let host = try HostSpec(parsing: "gpu9")
        guard case .failure(let why)? = RemoteHosts.take(pieces[0], from: host) else { return XCTFail("\(pieces[0])") }
        XCTAssertEqual(why.description, "line longer than 8 MiB from gpu9; not a gpuctop stream?")
        guard case .success(let snapshot)? = RemoteHosts.take(pieces[1], from: host) else { return XCTFail("the good line") }
        XCTAssertEqual(snapshot.host, "gpu9")
    }

    /// Past SnapshotLimits a line is refused with the count, not decoded into memory use.
    func testASnapshotPastTheLimitsIsRefusedWithTheReason() {
        let process = #"{"pid":1,"gpuIndex":0,"kind":"compute"}"#
        let n = SnapshotLimits.processes + 1
        let line = #"{"schema":1,"time":1,"host":"h","degraded":[],"gpus":[],"containers":[],"processes":["#
            + Array(repeating: process, count: n).joined(separator: ",") + "]}"
        switch RemoteHosts.decodeLine(Array(line.utf8)) {
        case .success: XCTFail("\(n) processes accepted")
        case .failure(let why):
            XCTAssertEqual(why.description, "refused: \(n) processes in one snapshot (at most \(SnapshotLimits.processes))")
        }
    }

    /// Absurd numbers from the other end arrive as unavailable, not as traps waiting in a formatter.
    func testAbsurdNumbersAreMadeUnavailable() {
        let line = #"{"schema":1,"time":1700000000,"host":"h","degraded":[],"gpus":[],"containers":[],"processes":[{"pid":1,"gpuIndex":0,"kind":"compute","info":{"command":"x","user":"u","uid":0,"startTime":-1e300,"cpuPercent":1e300}}]}"#
        guard case .success(let s) = RemoteHosts.decodeLine(Array(line.utf8)) else { return XCTFail("refused") }
        XCTAssertNil(s.processes.first?.info?.cpuPercent)
        XCTAssertEqual(s.processes.first?.info?.startTime, 0, "\(String(describing: s.processes.first?.info))")
    }

    func testJunkIsRefusedInOneLine() {
        for junk in ["Welcome to gpu1!", "{\"time\": 1}", "[1,2,3]", "{\"schema\":1,\"time\":\"x\"}", "\u{1B}[2J\n"] {
            guard case .failure(let why) = RemoteHosts.decodeLine(Array(junk.utf8)) else { XCTFail(junk); continue }
            XCTAssertTrue(why.description.hasPrefix("a line that is not a gpuctop snapshot"), why.description)
            XCTAssertFalse(why.description.contains("\n") || why.description.contains("\u{1B}"), why.description)
        }
    }

    /// Where the 8 MiB limit comes from: a large real machine's line is a fraction of it.
    func testABusyHostsLineIsFarBelowTheLimit() throws {
        var s = Snapshot(time: 1_700_000_000.123, host: "gpu-node-017.cluster.example.com")
        s.driverVersion = "570.124.06"
        s.cudaVersion = "12.8"
        for i in 0..<8 {
            var g = GPU(index: i)
            g.name = "NVIDIA H200"; g.uuid = "GPU-\(UUID().uuidString.lowercased())"; g.pciBusId = "00000000:\(10 + i):00.0"
            g.utilizationGpu = 97; g.memoryTotal = 150_754_820_096; g.memoryUsed = 140_000_000_000; g.powerDraw = 650_123
            s.gpus.append(g)
        }
        let id = { String(repeating: UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased(), count: 2) }
        var ids: [String] = []
        for c in 0..<500 {
            var u = ContainerUsage(id: id())
            ids.append(u.id)
            u.runtime = .containerd; u.name = "trainer-\(c)"; u.image = "registry.example.com/ml/trainer:2026.11.3-cuda12.8"
            u.podName = "trainer-job-\(c)-worker-0"; u.podNamespace = "research-team"; u.podContainer = "pytorch"
            u.podUID = UUID().uuidString.lowercased(); u.status = "running"; u.startedAt = 1_699_990_000
            u.labels = ["app": "trainer", "team": "research"]; u.gpus = [c % 8]; u.processCount = 10
            u.gpuMemory = 17_179_869_184; u.smUtilization = 90
            s.containers.append(u)
        }
        for p in 0..<5_000 {
            var gp = GPUProcess(pid: Int32(100_000 + p), gpuIndex: p % 8, kind: .compute)
            gp.usedGpuMemory = 1_717_986_918; gp.smUtilization = 9; gp.memoryUtilization = 3
            var info = ProcessInfoSample(command: "/opt/conda/bin/python -m torch.distributed.run --nproc_per_node=8 train.py --config configs/llm-70b.yaml --rank \(p)",
                                         user: "research-svc", uid: 1_000_123, startTime: 1_699_990_123.45)
            info.cpuPercent = 99.7; info.residentBytes = 12_884_901_888; info.namespacePid = Int32(p % 64 + 1)
            info.container = ContainerRef(runtime: .containerd, id: ids[p / 10], podUID: UUID().uuidString.lowercased())
            gp.info = info
            s.processes.append(gp)
        }
        let bytes = try JSONEncoder().encode(s).count
        print("a 5,000-process, 500-container, 8-GPU snapshot line: \(bytes) bytes")
        XCTAssertLessThan(bytes, RemoteHosts.maxLineBytes / 2)
        guard case .success = RemoteHosts.decodeLine(Array(try JSONEncoder().encode(s))) else { return XCTFail("refused") }
    }
}
