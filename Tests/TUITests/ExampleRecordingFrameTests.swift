// Frame tests at 80x24 and 200x50 with the example recording's containers (read
// through the Recording module from examples/h200-containers.gpuctop): names not cut
// where there is room, commands shortened from the interpreter's path, header
// warnings that keep their hint, a truncated recording said once and short, help and
// detail reachable to their end, one uptime everywhere.
import Model
import Recording
@testable import TUI
import Telemetry
import TestSupport
import XCTest

final class ExampleRecordingFrameTests: XCTestCase {
    static let examplePath = TestEnv.repoRoot.appendingPathComponent("examples/h200-containers.gpuctop").path

    func reader() throws -> RecordingReader {
        try RecordingReader(path: Self.examplePath)
    }

    /// A replaying dashboard of `w`x`h` at the snapshot `seconds` into the recording.
    func replayModel(_ driver: ReplayDriver, _ w: Int, _ h: Int, paused: Bool = true) -> DashboardModel {
        var m = DashboardModel(width: w, height: h, readOnly: true)
        if paused { _ = driver.apply(.togglePause) }
        _ = m.update(.replayStatus(driver.status))
        let s = driver.current
        _ = m.update(.tick(s.time))
        _ = m.update(.snapshot(s))
        return m
    }

    func driver(at seconds: Double) throws -> ReplayDriver {
        let d = ReplayDriver(reader: try reader())
        _ = d.apply(.jump(seconds: seconds))
        return d
    }

    func lines(_ f: Frame) -> [String] { (0..<f.height).map { f.line($0) } }

    func assertFits(_ f: Frame, file: StaticString = #filePath, line: UInt = #line) {
        for y in 0..<f.height {
            XCTAssertLessThanOrEqual(TextWidth.of(f.line(y)), f.width, "row \(y) overflows", file: file, line: line)
        }
    }

    // MARK: Column widths

    func testNamesAreWholeAt200Columns() throws {
        let m = replayModel(try driver(at: 100), 200, 50)
        let f = DashboardView.render(m)
        assertFits(f)
        let text = f.text
        let rows = lines(f).filter { $0.hasPrefix("research-") || $0.hasPrefix("server ") }
        XCTAssertEqual(rows.count, 5, text)
        for row in rows {
            XCTAssertTrue(row.contains("gpuctop-device/base:latest"), "IMAGE whole: \(row)")
            XCTAssertFalse(row.contains("…"), "nothing cut on a 200-column line: \(row)")
        }
        XCTAssertTrue(text.contains("serving/inference-7f9c"), "a pod as namespace/pod, whole:\n\(text)")
        XCTAssertTrue(text.contains("research/inference "), text)
        XCTAssertTrue(text.contains("research/trainer-0 "), "a containerd pod as namespace/pod:\n\(text)")
        // The pods' images (up to 50 characters) take the room the command had: it keeps
        // the script, and shortens the interpreter's directory.
        XCTAssertTrue(text.contains("python3 /work/load.py"), "the script whole:\n\(text)")
    }

    /// `snapshot`'s text sizes its name columns the same way: nothing cut, columns aligned.
    func testSnapshotTextNamesAreWhole() throws {
        let s = try driver(at: 100).current
        let text = SnapshotText.render(s)
        let lines = text.split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(lines.first { $0.hasPrefix("CONTAINER ") }, text)
        let imageColumn = try XCTUnwrap(header.firstRange(of: "IMAGE")).lowerBound
        let offset = header.distance(from: header.startIndex, to: imageColumn)
        for name in ["research-trainer-1", "research-notebook-1", "server "] {
            let row = try XCTUnwrap(lines.first { $0.hasPrefix(name) }, text)
            XCTAssertTrue(row.dropFirst(offset).hasPrefix("gpuctop-device/base:latest "), "IMAGE whole, under its title: \(row)")
        }
        XCTAssertTrue(text.contains("serving/inference-7f9c "), text)
        XCTAssertFalse(text.contains("…"), text)
    }

    func testCommandKeepsTheScriptAt80Columns() throws {
        var m = replayModel(try driver(at: 100), 80, 24)
        var f = DashboardView.render(m)
        assertFits(f)
        let processRows = lines(f).filter { $0.contains("pid ") }
        XCTAssertEqual(processRows.count, 5, f.text)
        for row in processRows {
            XCTAssertTrue(row.hasSuffix("python3 /work/load.py") || row.contains("python3 /work/load.py "),
                          "the part that differs is shown, the interpreter's directory is not: \(row)")
            XCTAssertFalse(row.contains("/opt/torch"), row)
        }
        // Flat: one row per process, the same.
        _ = m.update(.key(.char("g")))
        f = DashboardView.render(m)
        assertFits(f)
        let flat = lines(f).filter { $0.contains("/work/load.py") }
        XCTAssertEqual(flat.count, 5, f.text)
    }

    /// The filter finds an accent as it is read: typed composed (as keyboards send it),
    /// stored decomposed in a container's name or a command (as macOS file names are).
    func testTheFilterFindsAccentsStoredDecomposed() {
        var c = ContainerUsage(id: "abc")
        c.name = "Cafe\u{301}-trainer"
        XCTAssertTrue(TableRows.matches("caf\u{E9}", container: c))
        XCTAssertFalse(TableRows.matches("caf\u{E8}", container: c))
        var p = GPUProcess(pid: 7, gpuIndex: 0, kind: .compute)
        p.info = ProcessInfoSample(command: "python re\u{301}sume\u{301}.py", user: "root", uid: 0, startTime: 0)
        XCTAssertTrue(TableRows.matches("r\u{C9}sum\u{E9}".lowercased(), process: p, container: nil))
    }

    /// The command is shortened from the program's directory first, then cut at its end.
    func testCommandShortening() {
        let cmd = "/opt/torch/.venv/bin/python /work/load.py 3"
        XCTAssertEqual(Columns.command(cmd, width: 60, ascii: false), cmd)
        XCTAssertEqual(Columns.command(cmd, width: 24, ascii: false), "…/python /work/load.py 3")
        XCTAssertEqual(Columns.command(cmd, width: 23, ascii: false), "python /work/load.py 3")
        XCTAssertEqual(Columns.command(cmd, width: 24, ascii: true), "python /work/load.py 3", "no '~/' in ASCII")
        XCTAssertEqual(Columns.command(cmd, width: 10, ascii: false), "python /work/load.py 3", "the caller cuts the end")
        XCTAssertEqual(Columns.command("nvtop --delay 10 --no-color", width: 10, ascii: false), "nvtop --delay 10 --no-color")
        XCTAssertEqual(Columns.command("/bin/ --x", width: 3, ascii: false), "/bin/ --x", "no program name: left alone")
    }

    // MARK: Header

    func testHeaderWarningKeepsItsHintAndNVMLIsSaidOnce() throws {
        let sampler = SnapshotSampler(options: SamplerOptions(nvmlPath: "/nonexistent/libnvidia-ml.so.1",
                                                              dockerHost: "unix:///nonexistent/docker.sock"))
        let s = sampler.sample()
        XCTAssertEqual(s.degraded.map(\.source), ["nvml", "docker"], "\(s.degraded)")
        for (w, h) in [(80, 24), (200, 50)] {
            var m = DashboardModel(width: w, height: h)
            _ = m.update(.tick(s.time))
            _ = m.update(.snapshot(s))
            let f = DashboardView.render(m)
            assertFits(f)
            let docker = try XCTUnwrap(lines(f).first { $0.hasPrefix("! docker:") }, f.text)
            XCTAssertTrue(docker.trimmingSpaces.hasSuffix("set --docker-host or DOCKER_HOST)"), "\(w) columns: the hint is kept: \(docker)")
            XCTAssertEqual(f.text.components(separatedBy: "cannot load /nonexistent/libnvidia-ml.so.1").count, 2,
                           "\(w) columns: NVML's reason once:\n\(f.text)")
            XCTAssertTrue(f.text.contains("No GPUs: no NVIDIA driver"), f.text)
        }
    }

    func testWarningFitting() {
        let hint = " (is the daemon running? set --docker-host or DOCKER_HOST)"
        let reason = "no Docker socket at /var/run/docker.sock" + hint
        XCTAssertEqual(DashboardView.warning("! docker: ", reason, width: 200, ascii: false), "! docker: " + reason)
        let cut = DashboardView.warning("! docker: ", reason, width: 80, ascii: false)
        XCTAssertEqual(TextWidth.of(cut), 80, cut)
        XCTAssertTrue(cut.hasPrefix("! docker: no Docker"), cut)
        XCTAssertTrue(cut.hasSuffix(hint), cut)
        // A parenthesis that is no hint (no option in it) is cut at the end as any text.
        let dl = "no NVIDIA driver: cannot load /x/libnvidia-ml.so.1 (cannot open shared object file: No such file or directory)"
        let nv = DashboardView.warning("No GPUs: ", dl, width: 60, ascii: false)
        XCTAssertTrue(nv.hasPrefix("No GPUs: no NVIDIA driver: cannot load"), nv)
        XCTAssertTrue(nv.hasSuffix("…"), nv)
        // Escapes are shown, and counted as shown.
        let hostile = DashboardView.warning("! x: ", "\u{1b}[2J" + String(repeating: "a", count: 100) + " (use --x)", width: 40, ascii: true)
        XCTAssertFalse(hostile.unicodeScalars.contains { $0.value < 0x20 }, hostile)
        XCTAssertEqual(TextWidth.of(hostile), 40, hostile)
    }

    func testTruncatedRecordingSaysSoOnceAndFits() throws {
        let whole = try XCTUnwrap(FileManager.default.contents(atPath: Self.examplePath))
        let reader = try RecordingReader(bytes: [UInt8](whole.prefix(12_000)), path: "cut.gpuctop")
        let stop = try XCTUnwrap(reader.stopReason)
        XCTAssertEqual(stop.record, reader.count)
        for w in [80, 120, 200] {
            let d = ReplayDriver(reader: reader)
            _ = d.apply(.jump(seconds: 3600))
            XCTAssertEqual(d.index + 1, d.count)
            let m = replayModel(d, w, 24)
            let f = DashboardView.render(m)
            assertFits(f)
            let header = f.line(0).trimmingSpaces
            XCTAssertTrue(header.contains("REPLAY \(reader.count)/\(reader.count)"), header)
            let note = w == 200 ? "recording truncated after record \(reader.count)" : "recording truncated"
            // The engines come after, whole or not at all.
            XCTAssertTrue(header.hasSuffix(note) || header.hasSuffix(note + "  engines: docker, containerd"),
                          "\(w) columns, said whole: \(header)")
            XCTAssertEqual(header.components(separatedBy: "stop").count, 1, "said once: \(header)")
        }
        // Before the end, nothing is wrong with what is shown.
        let d = ReplayDriver(reader: reader)
        XCTAssertFalse(DashboardView.render(replayModel(d, 200, 50)).line(0).contains("truncated"))
    }

    // MARK: Help and detail at 80x24

    func testHelpAndPodDetailReachTheirEndAt80x24() throws {
        let d = try driver(at: 100)
        var m = replayModel(d, 80, 24)
        // A replay's help: every line whole, long ones wrapped under themselves; since the
        // XID key, the GPU health note and the GPM note it is three lines taller than 80x24 has, and scrolls.
        _ = m.update(.key(.char("?")))
        var f = DashboardView.render(m)
        assertFits(f)
        XCTAssertTrue(f.text.contains("                 enter keeps it, esc clears\n"), "wrapped, not cut:\n\(f.text)")
        XCTAssertTrue(f.text.contains("                 processes, history\n"), f.text)
        XCTAssertTrue(f.text.contains("lines 1-22 of 25, more below"), f.text)
        _ = m.update(.key(.end))
        f = DashboardView.render(m)
        XCTAssertTrue(f.text.contains("idle in the GPU column"), f.text)
        XCTAssertTrue(f.text.contains("GPU line's end: power cap N% (held by its limit lately), thermal, reset needed."), f.text)
        XCTAssertFalse(f.text.contains("more below"), f.text)
        _ = m.update(.key(.escape))

        // Live, with actions, the same snapshot: the help scrolls to its last note.
        var live = DashboardModel(width: 80, height: 24)
        _ = live.update(.tick(d.current.time))
        _ = live.update(.snapshot(d.current))
        _ = live.update(.key(.char("?")))
        f = DashboardView.render(live)
        XCTAssertTrue(f.text.contains("more below"), f.text)
        XCTAssertFalse(f.text.contains("idle in the GPU column"), f.text)
        _ = live.update(.key(.end))
        f = DashboardView.render(live)
        assertFits(f)
        XCTAssertTrue(f.text.contains("power limit of the selected row's GPU"), f.text)
        XCTAssertTrue(f.text.contains("idle in the GPU column"), "the notes are reachable:\n\(f.text)")
        XCTAssertFalse(f.text.contains("more below"), f.text)

        // The Kubernetes-labelled Docker container: every label, the last one by scrolling.
        let server = try XCTUnwrap(m.rows.firstIndex { if case .container(let c, _) = $0 { return c.podName == "inference-7f9c" }; return false })
        _ = m.update(.key(.home))
        for _ in 0..<server { _ = m.update(.key(.down)) }
        _ = m.update(.key(.enter))
        guard case .detail = m.screen else { return XCTFail("no detail view") }
        f = DashboardView.render(m)
        assertFits(f)
        XCTAssertTrue(f.text.contains("serving/inference-7f9c"), f.text)
        XCTAssertTrue(f.text.contains("more below"), f.text)
        XCTAssertFalse(f.text.contains("io.kubernetes.pod.uid"), f.text)
        _ = m.update(.key(.end))
        f = DashboardView.render(m)
        assertFits(f)
        XCTAssertTrue(f.text.contains("Labels"), f.text)
        XCTAssertTrue(f.text.contains("io.kubernetes.pod.uid=3f0c1d2e-7a4b-4c5d-9e8f-0a1b2c3d4e5f"), "the last label:\n\(f.text)")
        XCTAssertFalse(f.text.contains("more below"), f.text)
    }

    // MARK: Detail

    func testUptimeIsTheSameInTheTableAndTheDetail() throws {
        // 52 s in: the containers are 53 s up, under a minute.
        for seconds in [52.0, 100.0] {
            var m = replayModel(try driver(at: seconds), 200, 50)
            let table = DashboardView.render(m)
            let row = try XCTUnwrap(lines(table).first { $0.hasPrefix("research-finetune-1") }, table.text)
            // UPTIME is right-aligned under its title: the same cells of the row.
            let titles = Array(try XCTUnwrap(lines(table).first { $0.hasPrefix("CONTAINER") }))
            let start = try XCTUnwrap((0..<titles.count - 6).first { String(titles[$0..<$0 + 6]) == "UPTIME" })
            let uptime = String(Array(row)[start..<start + 6]).trimmingSpaces
            XCTAssertEqual(uptime, seconds < 60 ? "<1m" : "1m", row)
            let index = try XCTUnwrap(m.rows.firstIndex { if case .container(let c, _) = $0 { return c.name == "research-finetune-1" }; return false })
            _ = m.update(.key(.home))
            for _ in 0..<index { _ = m.update(.key(.down)) }
            _ = m.update(.key(.enter))
            let detail = DashboardView.render(m)
            let up = try XCTUnwrap(lines(detail).first { $0.hasPrefix("up ") }, detail.text)
            XCTAssertTrue(up.dropFirst(15).hasPrefix(uptime + " (since "), "the detail says what the table says (\(uptime)): \(up)")
        }
    }

    func testContainerdPodShowsNamespacePodAndAnnotationsHeading() {
        var s = Snapshot(time: 1_800_000_000, host: "k8s-node")
        var g = GPU(index: 0)
        g.name = "NVIDIA H200"
        s.gpus = [g]
        var p = GPUProcess(pid: 4242, gpuIndex: 0, kind: .compute)
        var info = ProcessInfoSample(command: "/usr/bin/python3 serve.py", user: "root", uid: 0, startTime: 1_799_999_000)
        let id = String(repeating: "c", count: 64)
        info.container = ContainerRef(runtime: .containerd, id: id)
        p.info = info
        s.processes = [p]
        var c = ContainerUsage(id: id)
        c.runtime = .containerd
        c.podName = "vllm-6d8f7c9b4-x2kqp"; c.podNamespace = "inference"; c.podContainer = "vllm"
        c.image = "docker.io/vllm/vllm-openai:v0.6.3"
        c.labels = ["io.kubernetes.cri.container-type": "container", "io.kubernetes.pod.namespace": "inference"]
        c.gpus = [0]; c.processCount = 1
        s.containers = [c]
        var m = DashboardModel(width: 200, height: 50)
        _ = m.update(.tick(s.time))
        _ = m.update(.snapshot(s))
        let text = DashboardView.render(m).text
        let row = text.split(separator: "\n").first { $0.hasPrefix("vllm ") } ?? ""
        XCTAssertTrue(row.contains("inference/vllm-6d8f7c9b4-x2kqp"), String(row))
        XCTAssertTrue(row.contains("docker.io/vllm/vllm-openai:v0.6.3"), String(row))
        _ = m.update(.key(.enter))
        let detail = DashboardView.render(m).text
        XCTAssertTrue(detail.contains("Labels and annotations"), detail)
        XCTAssertTrue(detail.contains("io.kubernetes.cri.container-type=container"), detail)

        // Docker's are labels only.
        s.containers[0].runtime = .docker
        var docker = DashboardModel(width: 200, height: 50)
        _ = docker.update(.snapshot(s))
        _ = docker.update(.key(.enter))
        let dockerDetail = DashboardView.render(docker).text
        XCTAssertTrue(dockerDetail.contains("\nLabels"), dockerDetail)
        XCTAssertFalse(dockerDetail.contains("annotations"), dockerDetail)
    }
}

private extension StringProtocol {
    var trimmingSpaces: String {
        var s = String(self)
        while s.last == " " { s.removeLast() }
        while s.first == " " { s.removeFirst() }
        return s
    }
}
