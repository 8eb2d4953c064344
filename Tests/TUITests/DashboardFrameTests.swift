// Frame tests: the dashboard rendered in memory from real samples (fake NVML,
// real processes) and from synthetic container data, checked as text.
import Foundation
import Model
@testable import TUI
import Telemetry
import TestSupport
import XCTest

final class DashboardFrameTests: XCTestCase, FrameTestHelpers {
    var children: [Child] = []
    override func tearDown() { children.forEach { $0.stop() }; children = [] }

    /// GPU `index` of the frame tests: 45 % busy, 41 C, fan 30 %.
    static func gpuBlock(_ index: Int) -> String {
        Scenarios.h200(uuid: "GPU-\(index)", ["pci": "", "util": "45", "mem_util": "10", "memory_reserved": "",
                                              "temperature": "41", "fan": "30", "energy": "", "persistence": "",
                                              "compute_mode": "", "encoder": "", "decoder": ""]) + "\n"
    }

    func sample(_ scenario: String) throws -> Snapshot {
        let lib = try FakeNVML.privateCopy()
        setenv("FAKE_NVML_SCENARIO", try FakeNVML.scenario(scenario), 1)
        let sampler = SnapshotSampler(options: SamplerOptions(nvmlPath: lib, useDocker: false))
        return sampler.sample()
    }

    func assertFits(_ f: Frame, file: StaticString = #filePath, line: UInt = #line) {
        for y in 0..<f.height {
            let text = f.line(y)
            XCTAssertLessThanOrEqual(TextWidth.of(text), f.width, "row \(y) overflows", file: file, line: line)
            XCTAssertFalse(text.unicodeScalars.contains { $0.value < 0x20 }, "control character on row \(y)", file: file, line: line)
        }
    }

    func testOneGPUAtEverySize() throws {
        children = [try Child(["/bin/sleep", "60"])]
        let pid = children[0].pid
        let s = try sample("driver 580.95.05\ncuda 13000\n" + Self.gpuBlock(0)
                           + "process compute pid=\(pid) mem=5368709120 sm=77\n")
        for (w, h) in [(200, 50), (80, 24), (40, 10)] {
            let f = DashboardView.render(model(s, w, h))
            let text = f.text
            assertFits(f)
            XCTAssertTrue(text.hasPrefix("gpuctop"), "\(w)x\(h):\n\(text)")
            XCTAssertTrue(text.contains("H200"), "\(w)x\(h):\n\(text)")
            XCTAssertTrue(text.contains("45%"), "\(w)x\(h):\n\(text)")
            XCTAssertTrue(text.contains("host"), "\(w)x\(h):\n\(text)")
            XCTAssertTrue(text.contains("5.0 GiB"), "\(w)x\(h):\n\(text)")
            XCTAssertTrue(text.contains("q"), "\(w)x\(h):\n\(text)")
            if w >= 80 {
                XCTAssertTrue(text.contains("\(pid)"), "\(w)x\(h):\n\(text)")
                XCTAssertTrue(text.contains("77%"), "\(w)x\(h):\n\(text)")
            }
            if w == 200 {
                XCTAssertTrue(text.contains("driver 580.95.05"))
                XCTAssertTrue(text.contains("250 W/700 W"), text)
                XCTAssertTrue(text.contains("limit 200..700 W"), text)
                XCTAssertTrue(text.contains("41C"), text)
                XCTAssertTrue(text.contains("SM 1980"), text)
                XCTAssertTrue(text.contains("MEM 3201 MHz"), text)
                XCTAssertTrue(text.contains("sleep 60"), text)
                XCTAssertTrue(text.contains("actions on"), text)
            }
        }
    }

    func testTooSmallSaysSoInsteadOfGarbage() throws {
        let s = try sample(Self.gpuBlock(0))
        for (w, h) in [(39, 24), (80, 9), (1, 1), (0, 0)] {
            let f = DashboardView.render(model(s, w, h))
            assertFits(f)
            if w >= 18 && h >= 3 { XCTAssertTrue(f.text.contains("too small"), f.text) }
        }
    }

    /// The power range under a GPU keeps its unit at every width, or is left out whole.
    func testPowerRangeNeverLosesItsUnit() throws {
        let s = try sample(Self.gpuBlock(0))
        for w in 100...200 {
            let text = DashboardView.render(model(s, w, 40)).text
            for line in text.split(separator: "\n") where line.contains("200..") {
                XCTAssertTrue(line.contains("200..700 W"), "\(w) columns: \(line)")
            }
        }
    }

    func testEightGPUs() throws {
        var scenario = ""
        for i in 0..<8 { scenario += Self.gpuBlock(i) }
        let s = try sample(scenario)
        XCTAssertEqual(s.gpus.count, 8)
        let big = DashboardView.render(model(s, 200, 50)).text
        for i in 0..<8 { XCTAssertTrue(big.contains("\n \(i) H200"), "GPU \(i) missing:\n\(big)") }
        let small = DashboardView.render(model(s, 80, 24))
        assertFits(small)
        // Compact: one line per GPU, and the table header still shows.
        for i in 0..<8 { XCTAssertTrue(small.text.contains("\n \(i) H200"), small.text) }
        XCTAssertTrue(small.text.contains("CONTAINER"), small.text)
        let tiny = DashboardView.render(model(s, 40, 10))
        assertFits(tiny)
        XCTAssertTrue(tiny.text.contains("CONTAINER"), "the table keeps rows when GPUs do not fit:\n\(tiny.text)")
    }

    func testMIGLayoutAndUnavailableUtilisation() throws {
        let s = try sample("""
        gpu
        name NVIDIA H100 80GB HBM3
        memory_total 85520809984
        memory_used 1000
        power 90000
        power_limit 350000
        mig 1 1
        mig_device slot=0 gi=1 ci=0 slices=1 ci_slices=1 sms=16 memory=10737418240 used=104857600 uuid=MIG-1 name=NVIDIA H100 80GB HBM3 MIG 1g.10gb
        mig_device slot=1 gi=2 ci=0 slices=3 ci_slices=3 sms=60 memory=42949672960 used=0 uuid=MIG-2 name=NVIDIA H100 80GB HBM3 MIG 3g.40gb
        process compute pid=\(getpid()) mem=1073741824 gi=1 ci=0 sm=30
        """)
        let text = DashboardView.render(model(s, 200, 50)).text
        XCTAssertTrue(text.contains("n/a (MIG)"), text)
        XCTAssertTrue(text.contains("MIG 1g.10gb"), text)
        XCTAssertTrue(text.contains("MIG 3g.40gb"), text)
        XCTAssertTrue(text.contains("GI 1 CI 0"), text)
        XCTAssertTrue(text.contains("16 SMs"), text)
        let migLine = try XCTUnwrap(text.split(separator: "\n").first { $0.contains("1g.10gb") })
        XCTAssertTrue(migLine.contains("host"), "which containers run on the instance: \(migLine)")
        let idleLine = try XCTUnwrap(text.split(separator: "\n").first { $0.contains("3g.40gb") })
        XCTAssertTrue(idleLine.contains("idle"), String(idleLine))
        XCTAssertTrue(text.contains("0:1/0"), "process on GPU 0, GI 1, CI 0:\n\(text)")
    }

    func testLostGPUAndNoDriver() throws {
        let s = try sample(Self.gpuBlock(0) + Self.gpuBlock(1) + "lost_after 0\n")
        let text = DashboardView.render(model(s, 200, 50)).text
        let lostLine = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix(" 1 ") }, text)
        XCTAssertTrue(lostLine.contains("LOST"), String(lostLine))
        XCTAssertTrue(text.contains("45%"), "GPU 0 still shown:\n\(text)")

        let none = SnapshotSampler(options: SamplerOptions(nvmlPath: "/nonexistent/libnvidia-ml.so.1", useDocker: false)).sample()
        for (w, h) in [(200, 50), (80, 24), (40, 10)] {
            let f = DashboardView.render(model(none, w, h))
            assertFits(f)
            XCTAssertTrue(f.text.contains("no NVIDIA driver"), "\(w)x\(h):\n\(f.text)")
        }
    }

    // MARK: Containers, keys and screens (synthetic data)

    static func containerSnapshot() -> Snapshot {
        var s = Snapshot(time: 1_800_000_000, host: "gpu-box")
        var g = GPU(index: 0)
        g.name = "NVIDIA H200"; g.utilizationGpu = 90; g.memoryTotal = 150 << 30; g.memoryUsed = 40 << 30
        g.powerDraw = 600_000; g.powerLimitEnforced = 700_000
        s.gpus = [g]
        func proc(_ pid: Int32, _ mem: UInt64, _ sm: Int, _ container: String?, _ cmd: String) -> GPUProcess {
            var p = GPUProcess(pid: pid, gpuIndex: 0, kind: .compute)
            p.usedGpuMemory = mem << 30; p.smUtilization = sm
            var info = ProcessInfoSample(command: cmd, user: "alice", uid: 1000, startTime: 1_799_999_000)
            info.container = container.map { ContainerRef(runtime: .docker, id: $0) }
            info.cpuPercent = 99; info.residentBytes = 2 << 30; info.namespacePid = 7
            p.info = info
            return p
        }
        let a = String(repeating: "a", count: 64), b = String(repeating: "b", count: 64), c = String(repeating: "c", count: 64)
        s.processes = [proc(100, 20, 70, a, "python train.py --big"), proc(101, 10, 20, a, "python worker.py"),
                       proc(200, 8, 10, b, "python serve.py"), proc(300, 1, 0, nil, "nvtop")]
        func usage(_ id: String, _ name: String, service: String? = nil, pod: String? = nil) -> ContainerUsage {
            var u = ContainerUsage(id: id)
            u.runtime = .docker; u.name = name; u.image = "pytorch:2.4"; u.status = "running"
            u.composeProject = service.map { _ in "ml" }; u.composeService = service
            u.podName = pod; u.podNamespace = pod.map { _ in "team" }
            u.labels = ["com.docker.compose.service": service ?? "", "owner": "alice"]
            u.startedAt = 1_799_990_000
            return u
        }
        s.processes.sort { $0.pid < $1.pid }
        s.containers = ContainerJoin.join(processes: s.processes, gpus: s.gpus, lookup: { _ in nil }, gpuRequesters: [])
        for i in s.containers.indices {
            let id = s.containers[i].id
            let known: ContainerUsage? = id == a ? usage(a, "trainer", service: "train") : id == b ? usage(b, "server", pod: "serve-7d9") : nil
            if let k = known {
                var merged = k
                merged.gpus = s.containers[i].gpus; merged.processCount = s.containers[i].processCount
                merged.gpuMemory = s.containers[i].gpuMemory; merged.smUtilization = s.containers[i].smUtilization
                merged.estimatedPowerShare = s.containers[i].estimatedPowerShare
                s.containers[i] = merged
            }
        }
        var idle = usage(c, "notebook\u{1b}[31mRED")
        idle.idleAllocation = true; idle.gpuRequest = "all GPUs"
        s.containers.append(idle)
        return s
    }

    func testContainerTableGroupsSortsAndFilters() {
        var m = model(Self.containerSnapshot(), 200, 50)
        var text = DashboardView.render(m).text
        let lines = text.split(separator: "\n").map(String.init)
        let trainer = try! XCTUnwrap(lines.firstIndex { $0.hasPrefix("trainer") }, text)
        XCTAssertTrue(lines[trainer].contains("ml/train"), lines[trainer])
        XCTAssertTrue(lines[trainer].contains("30.0 GiB"), lines[trainer])
        XCTAssertTrue(lines[trainer].contains("pytorch:2.4"), lines[trainer])
        XCTAssertTrue(lines[trainer + 1].contains("pid 100"), "processes grouped beneath: \(lines[trainer + 1])")
        XCTAssertTrue(lines[trainer + 2].contains("pid 101"))
        XCTAssertTrue(text.contains("team/serve-7d9"), text)
        XCTAssertTrue(lines[trainer].contains("~540 W"), "90 of the 100 SM% points of 600 W, estimated: \(lines[trainer])")
        let idle = try! XCTUnwrap(lines.first { $0.contains("notebook") }, text)
        XCTAssertTrue(idle.contains(" idle "), idle)
        XCTAssertTrue(idle.contains("notebook^[[31mRED"), "escape shown, not sent: \(idle)")
        XCTAssertTrue(idle.contains("all GPUs requested, no GPU process"), idle)
        let host = try! XCTUnwrap(lines.firstIndex { $0.hasPrefix("host") }, text)
        XCTAssertGreaterThan(host, trainer)

        // Sort by SM% ascending: the server (10%) before the trainer (90%).
        while m.sortColumn != .sm { _ = m.update(.key(.char("s"))) }
        _ = m.update(.key(.char("S")))
        text = DashboardView.render(m).text
        XCTAssertLessThan(text.range(of: "server")!.lowerBound, text.range(of: "trainer")!.lowerBound, text)
        XCTAssertTrue(text.contains("SM%↑"), text)

        // Flat view: process rows only, each naming its container.
        _ = m.update(.key(.char("g")))
        text = DashboardView.render(m).text
        XCTAssertFalse(text.contains("pid 100"), text)
        XCTAssertTrue(text.contains("python train.py"), text)

        // Filter by command text.
        _ = m.update(.key(.char("/")))
        for ch in "serve.py" { _ = m.update(.key(.char(ch))) }
        _ = m.update(.key(.enter))
        text = DashboardView.render(m).text
        XCTAssertTrue(text.contains("python serve.py"), text)
        XCTAssertFalse(text.contains("python train.py"), text)
        XCTAssertTrue(text.contains("filter \"serve.py\""), text)
        _ = m.update(.key(.escape))
        XCTAssertEqual(m.filter, "")
        // Ctrl-U clears what is typed, and the prompt stays open.
        _ = m.update(.key(.char("/")))
        for ch in "typo" { _ = m.update(.key(.char(ch))) }
        _ = m.update(.key(.clearLine))
        XCTAssertEqual(m.filter, "")
        XCTAssertTrue(m.editingFilter)
        _ = m.update(.key(.escape))
    }

    func testDetailHelpIntervalAndSelection() {
        var m = model(Self.containerSnapshot(), 120, 40)
        _ = m.update(.key(.enter))
        XCTAssertEqual(m.screen, .detail(containerId: String(repeating: "a", count: 64)))
        var text = DashboardView.render(m).text
        XCTAssertTrue(text.contains("trainer"), text)
        XCTAssertTrue(text.contains("owner=alice"), "labels: \(text)")
        XCTAssertTrue(text.contains("python train.py --big"), text)
        XCTAssertTrue(text.contains("SM history"), text)
        _ = m.update(.key(.escape))
        XCTAssertEqual(m.screen, .main)
        _ = m.update(.key(.down)); _ = m.update(.key(.down)); _ = m.update(.key(.down))
        _ = m.update(.key(.enter))
        XCTAssertEqual(m.screen, .detail(containerId: String(repeating: "b", count: 64)), "row 4 is the server container")
        _ = m.update(.key(.char("q")))
        XCTAssertEqual(m.screen, .main, "q leaves the detail view, it does not quit")
        _ = m.update(.key(.char("?")))
        text = DashboardView.render(m).text
        XCTAssertTrue(text.contains("Keys"), text)
        XCTAssertTrue(text.contains("Actions"), text)
        _ = m.update(.key(.char("?")))
        XCTAssertEqual(m.update(.key(.char("+"))), [.setInterval(2)])
        XCTAssertEqual(m.update(.key(.char("-"))), [.setInterval(1)])
        XCTAssertEqual(m.update(.key(.char("-"))), [.setInterval(0.5)])
        XCTAssertEqual(m.update(.key(.char("-"))), [.setInterval(0.25)])
        XCTAssertEqual(m.update(.key(.char("-"))), [.setInterval(0.1)])
        XCTAssertEqual(m.update(.key(.char("-"))), [], "0.1 s is the floor")
        XCTAssertEqual(m.update(.key(.char("q"))), [.quit])
        _ = m.update(.resize(width: 60, height: 15))
        let f = DashboardView.render(m)
        XCTAssertEqual(f.width, 60)
        assertFits(f)
    }

    func testReadOnlyAndStaleData() {
        var m = DashboardModel(width: 200, height: 50, interval: 1, readOnly: true)
        let s = Self.containerSnapshot()
        _ = m.update(.tick(s.time))
        _ = m.update(.snapshot(s))
        XCTAssertTrue(DashboardView.render(m).text.contains("read-only"))
        _ = m.update(.tick(s.time + 10))
        XCTAssertTrue(DashboardView.render(m).text.contains("data 10s old"), DashboardView.render(m).text)
    }

    func testHeaderNamesTheEnginesRead() {
        var s = Self.containerSnapshot()
        s.engines = ["docker", "containerd"]
        var m = DashboardModel(width: 200, height: 50, interval: 1)
        _ = m.update(.tick(s.time))
        _ = m.update(.snapshot(s))
        let header = DashboardView.render(m).text.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertTrue(header.contains("engines: docker, containerd"), header)
        XCTAssertTrue(header.contains("every 1s"), "the rest of the header stays: \(header)")
        // Last on the line: on a narrow terminal it goes first, the clock stays.
        var narrow = DashboardModel(width: 100, height: 30, interval: 1)
        _ = narrow.update(.tick(s.time))
        _ = narrow.update(.snapshot(s))
        let short = DashboardView.render(narrow).text.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertTrue(short.contains(Format.localTime(s.time, withSeconds: false)), short)  // live: to the minute
        // A recording from before engines were recorded: nothing about them.
        s.engines = nil
        _ = m.update(.snapshot(s))
        XCTAssertFalse(DashboardView.render(m).text.contains("engines"))
    }

    func testASCIIGlyphs() {
        var m = DashboardModel(width: 200, height: 50, ascii: true)
        let s = Self.containerSnapshot()
        _ = m.update(.snapshot(s))
        let text = DashboardView.render(m).text
        XCTAssertFalse(text.unicodeScalars.contains { $0.value > 0x7E }, "ASCII only:\n\(text)")
        XCTAssertTrue(text.contains("#"), text)
    }
}
