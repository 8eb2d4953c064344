import Foundation
@testable import Model
@testable import Telemetry
import XCTest

final class ProcReaderTests: XCTestCase {
    private var children: [Process] = []
    private var tempDirs: [URL] = []

    override func tearDown() {
        for p in children where p.isRunning {
            p.terminate()
            p.waitUntilExit()
        }
        children.removeAll()
        for d in tempDirs { try? FileManager.default.removeItem(at: d) }
        tempDirs.removeAll()
        super.tearDown()
    }

    private var now: Double { Date().timeIntervalSince1970 }
    private let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    private let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))

    // MARK: - Helpers

    private func spawn(_ path: String, _ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        children.append(p)
        return p
    }

    /// Waits until the child has exec'd (its cmdline is the expected one).
    private func waitForExec(_ pid: Int32, cmdlinePrefix: String) {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if String(decoding: readBytes("/proc/\(pid)/cmdline"), as: UTF8.self)
                .replacingOccurrences(of: "\0", with: " ").hasPrefix(cmdlinePrefix) {
                return
            }
            usleep(10_000)
        }
    }

    /// The resident bytes the kernel shows in /proc/<pid>/stat (field 24, counted from the
    /// last ')' so a comm with spaces and parentheses cannot shift it) once the child sleeps
    /// and they are above zero (5 s at most; nil if never). Since Linux 6.2 that RSS is a
    /// per-CPU counter read without folding in the CPUs' pending deltas (statm's can differ
    /// from it by dozens of pages), so a process just past exec can read 0 for a while: a
    /// test comparing with the reader waits for the kernel's own figure.
    private func settledResidentBytes(_ pid: Int32) -> UInt64? {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let status = String(decoding: readBytes("/proc/\(pid)/status"), as: UTF8.self)
            if status.contains("State:\tS"), let fields = kernelStatFields(pid), fields.count > 21,
               let pages = UInt64(fields[21]), pages > 0 {
                return pages * pageSize
            }
            usleep(10_000)
        }
        return nil
    }

    /// The fields of /proc/<pid>/stat after the comm, from field 3 (the state) on: counted
    /// from the last ')', so a comm with spaces and parentheses cannot shift them.
    private func kernelStatFields(_ pid: Int32) -> [Substring]? {
        let stat = readBytes("/proc/\(pid)/stat")
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        return String(decoding: stat[(close + 1)...], as: UTF8.self).split(separator: " ")
    }

    /// utime + stime of `pid` in clock ticks (fields 14 and 15).
    private func kernelCPUTicks(_ pid: Int32) -> UInt64? {
        guard let fields = kernelStatFields(pid), fields.count > 12,
              let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        return user + system
    }

    private func readBytes(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var out = [UInt8](), chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if n <= 0 { return out }
            out += chunk[0..<n]
        }
    }

    private func makeTempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("procreader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        tempDirs.append(d)
        return d
    }

    private func selfInContainer() -> Bool {
        guard let s = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return false }
        return CgroupParser.containerRef(cgroupFile: s) != nil
    }

    // MARK: Fake proc root

    private let btime: Double = 1_700_000_000

    private struct FakeProc {
        var comm = "fake"
        var cmdline: [String]? = ["/usr/bin/fake", "--flag"]
        var uid: UInt32 = 0
        var nspid: [Int32]? = nil
        var utime: UInt64 = 300
        var stime: UInt64 = 200
        var start: UInt64 = 12_345
        var rss: UInt64 = 256
        var cgroup: String? = "0::/\n"
    }

    private func makeRoot(btime: Bool = true, selfLink: Bool = true) throws -> URL {
        let root = try makeTempDir()
        var stat = "cpu  1 2 3 4 5 6 7 0 0 0\ncpu0 1 2 3 4 5 6 7 0 0 0\nintr 12345 0 0\nctxt 999\n"
        if btime { stat += "btime \(Int(self.btime))\n" }
        stat += "processes 4242\nprocs_running 1\n"
        try stat.write(to: root.appendingPathComponent("stat"), atomically: true, encoding: .utf8)
        if selfLink {
            try FileManager.default.createDirectory(at: root.appendingPathComponent("1"), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("self").path, withDestinationPath: "1")
        }
        return root
    }

    private func statLine(_ pid: Int32, _ p: FakeProc) -> String {
        "\(pid) (\(p.comm)) S 1 \(pid) \(pid) 0 -1 4194304 100 0 0 0 \(p.utime) \(p.stime) 0 0 20 0 1 0 \(p.start) 12345678 \(p.rss) 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    }

    private func write(_ root: URL, _ pid: Int32, _ p: FakeProc) throws {
        let d = root.appendingPathComponent("\(pid)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        try statLine(pid, p).write(to: d.appendingPathComponent("stat"), atomically: true, encoding: .utf8)
        let nspid = (p.nspid ?? [pid]).map(String.init).joined(separator: "\t")
        let status = "Name:\t\(p.comm)\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t\(pid)\nPid:\t\(pid)\nPPid:\t1\n"
            + "Uid:\t\(p.uid)\t\(p.uid)\t\(p.uid)\t\(p.uid)\nGid:\t0\t0\t0\t0\nNStgid:\t\(nspid)\nNSpid:\t\(nspid)\nVmRSS:\t    1024 kB\n"
        try status.write(to: d.appendingPathComponent("status"), atomically: true, encoding: .utf8)
        let cmdURL = d.appendingPathComponent("cmdline")
        try? FileManager.default.removeItem(at: cmdURL)
        if let argv = p.cmdline {
            var bytes = Data()
            for a in argv { bytes.append(contentsOf: Array(a.utf8)); bytes.append(0) }
            try bytes.write(to: cmdURL)
        }
        let cgURL = d.appendingPathComponent("cgroup")
        try? FileManager.default.removeItem(at: cgURL)
        if let cg = p.cgroup { try cg.write(to: cgURL, atomically: true, encoding: .utf8) }
    }

    // MARK: - Real processes

    func testRealSleepProcess() throws {
        let t0 = now
        let child = try spawn("/bin/sleep", ["30"])
        let pid = child.processIdentifier
        waitForExec(pid, cmdlinePrefix: "/bin/sleep 30")

        let reader = ProcReader()
        XCTAssertTrue(reader.procRootLooksValid())
        XCTAssertNil(reader.procRootProblem())
        let resident = try XCTUnwrap(settledResidentBytes(pid), "the kernel never showed resident pages")
        let result = reader.sample(pids: [pid], now: now)
        let info = try XCTUnwrap(result[pid])
        XCTAssertEqual(info.command, "/bin/sleep 30")
        XCTAssertEqual(info.uid, getuid())
        if getuid() == 0 { XCTAssertEqual(info.user, "root") }
        XCTAssertEqual(info.startTime, t0, accuracy: 3)
        XCTAssertEqual(info.residentBytes, resident)   // a sleeping process's pages hold still
        XCTAssertEqual(info.namespacePid, pid)   // tests run in the host pid namespace of /proc
        if !selfInContainer() { XCTAssertNil(info.container) }
        XCTAssertNotNil(info.cpuPercent)
        XCTAssertLessThan(info.cpuPercent ?? 100, 50)
        XCTAssertEqual(reader.staticReads, 1)
    }

    func testCommWithSpacesAndParentheses() throws {
        // comm is the base name of the executed path: a symlink gives it ") (" and spaces
        let dir = try makeTempDir()
        let link = dir.appendingPathComponent("we) ir d (x").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/bin/sleep")
        let t0 = now
        let child = try spawn(link, ["30"])
        let pid = child.processIdentifier
        waitForExec(pid, cmdlinePrefix: link)
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        XCTAssertTrue(stat.contains("(we) ir d (x)"), stat)

        let resident = try XCTUnwrap(settledResidentBytes(pid), "the kernel never showed resident pages")
        let reader = ProcReader()
        let info = try XCTUnwrap(reader.sample(pids: [pid], now: now)[pid])
        XCTAssertEqual(info.command, "\(link) 30")
        XCTAssertEqual(info.startTime, t0, accuracy: 3)
        XCTAssertEqual(info.residentBytes, resident)   // fields after the comm read in their places
        XCTAssertEqual(info.namespacePid, pid)
    }

    func testExecDashAWeirdArgv0() throws {
        guard FileManager.default.isExecutableFile(atPath: "/bin/bash") else { throw XCTSkip("no bash") }
        let child = try spawn("/bin/bash", ["-c", "exec -a 'weird name (x)' sleep 30"])
        let pid = child.processIdentifier
        waitForExec(pid, cmdlinePrefix: "weird name (x)")
        let info = try XCTUnwrap(ProcReader().sample(pids: [pid], now: now)[pid])
        XCTAssertEqual(info.command, "weird name (x) 30")
    }

    func testKernelThreadGetsBracketedComm() throws {
        // pid 2 is kthreadd on a normal host: empty cmdline
        guard let stat = try? String(contentsOfFile: "/proc/2/stat", encoding: .utf8),
              readBytes("/proc/2/cmdline").isEmpty,
              let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else {
            throw XCTSkip("no kernel thread at pid 2")
        }
        let comm = String(stat[stat.index(after: open)..<close])
        let info = try XCTUnwrap(ProcReader().sample(pids: [2], now: now)[2])
        XCTAssertEqual(info.command, "[\(comm)]")
        XCTAssertEqual(info.residentBytes, 0)
    }

    func testBusyLoopCPUAndCache() throws {
        let child = try spawn("/bin/sh", ["-c", "while :; do :; done"])
        let pid = child.processIdentifier
        let sleeper = try spawn("/bin/sleep", ["30"])
        waitForExec(pid, cmdlinePrefix: "/bin/sh -c")
        waitForExec(sleeper.processIdentifier, cmdlinePrefix: "/bin/sleep")
        let reader = ProcReader()
        let first = reader.sample(pids: [pid, sleeper.processIdentifier], now: now)
        let (ticks0, t0) = (try XCTUnwrap(kernelCPUTicks(pid)), now)
        XCTAssertNotNil(first[pid])
        XCTAssertEqual(reader.staticReads, 2)
        usleep(1_200_000)
        let (ticks1, t1) = (try XCTUnwrap(kernelCPUTicks(pid)), now)
        let second = reader.sample(pids: [pid, sleeper.processIdentifier], now: now)
        XCTAssertEqual(reader.staticReads, 2, "second sample must come from the cache")
        let cpu = try XCTUnwrap(second[pid]?.cpuPercent)
        // What the kernel says the loop had over (nearly) the same window: a loaded machine
        // may give it less than a CPU, which is not the reader's doing.
        let kernel = Double(ticks1 - ticks0) / ticks / (t1 - t0) * 100
        XCTAssertGreaterThan(kernel, 5, "the loop ran")
        XCTAssertEqual(cpu, kernel, accuracy: 10)
        XCTAssertLessThan(cpu, 150)
        XCTAssertLessThan(try XCTUnwrap(second[sleeper.processIdentifier]?.cpuPercent), 5)
        XCTAssertEqual(second[pid]?.command, "/bin/sh -c while :; do :; done")
    }

    /// Many processes take turns: each sample reads at most the budget of known
    /// processes, every process is still answered, and each is re-read within
    /// `rotation` samples (its CPU% then covers the whole time since its last read).
    func testManyProcessesAreReadInTurns() throws {
        let sleepers = try (0..<10).map { _ in try spawn("/bin/sleep", ["30"]) }
        let busy = try spawn("/bin/sh", ["-c", "while :; do :; done"])
        defer { busy.terminate(); for s in sleepers { s.terminate() } }
        for s in sleepers { waitForExec(s.processIdentifier, cmdlinePrefix: "/bin/sleep") }
        waitForExec(busy.processIdentifier, cmdlinePrefix: "/bin/sh -c")
        let pids = (sleepers.map(\.processIdentifier) + [busy.processIdentifier]).sorted()
        let reader = ProcReader(statReadsPerRefresh: 4)   // 11 processes: turns of 3 samples
        let first = reader.sample(pids: pids, now: now)
        XCTAssertEqual(first.count, 11, "new processes are all read at once")
        var percents: [Double] = []
        let start = reader.statReads
        for round in 0..<3 {
            usleep(400_000)
            let before = reader.statReads
            let r = reader.sample(pids: pids, now: now)
            XCTAssertEqual(r.count, 11, "round \(round): every process answered")
            XCTAssertLessThanOrEqual(reader.statReads - before, 4, "round \(round): within the budget")
            XCTAssertGreaterThan(reader.statReads - before, 0)
            percents.append(try XCTUnwrap(r[busy.processIdentifier]?.cpuPercent))
        }
        XCTAssertEqual(reader.staticReads, 11, "turns never re-read the static part")
        XCTAssertEqual(reader.statReads - start, 11, "three samples: every process read exactly once")
        XCTAssertGreaterThan(percents.max() ?? 0, 40, "\(percents)")
    }

    /// The dashboard re-reads a known process's stat at most every 2 s: in between,
    /// its last CPU% and RSS are answered without touching /proc.
    func testKnownProcessIsNotReReadWithinThePeriod() throws {
        let sleeper = try spawn("/bin/sleep", ["30"])
        defer { sleeper.terminate() }
        let pid = sleeper.processIdentifier
        waitForExec(pid, cmdlinePrefix: "/bin/sleep")
        let reader = ProcReader(minimumRereadSeconds: 0.5)
        let t0 = now
        let first = try XCTUnwrap(reader.sample(pids: [pid], now: t0)[pid])
        let reads = reader.statReads
        let second = try XCTUnwrap(reader.sample(pids: [pid], now: t0 + 0.2)[pid])
        XCTAssertEqual(reader.statReads, reads, "within the period: no read")
        XCTAssertEqual(second.residentBytes, first.residentBytes)
        XCTAssertEqual(second.command, first.command)
        _ = reader.sample(pids: [pid], now: t0 + 0.6)
        XCTAssertEqual(reader.statReads, reads + 1, "after the period: read again")
    }

    func testExitedChildIsOmitted() throws {
        let child = try spawn("/bin/sleep", ["30"])
        let pid = child.processIdentifier
        waitForExec(pid, cmdlinePrefix: "/bin/sleep")
        let reader = ProcReader()
        XCTAssertNotNil(reader.sample(pids: [pid], now: now)[pid])
        child.terminate()
        child.waitUntilExit()
        XCTAssertNil(reader.sample(pids: [pid], now: now)[pid])
        XCTAssertEqual(reader.cachedProcesses, 0)
    }

    func testAbsentAndInvalidPids() {
        let reader = ProcReader()
        let r = reader.sample(pids: [0, -1, Int32.max, Int32.min, 4_194_304], now: now)
        XCTAssertTrue(r.isEmpty)
        // our own pid, twice
        let me = getpid()
        let r2 = reader.sample(pids: [me, me], now: now)
        XCTAssertEqual(r2.count, 1)
        XCTAssertEqual(reader.staticReads, 1)
        // A new process's stat is read once, with its other files through its directory
        // (a PyTorch process's stat costs tens of µs: the one-shot reads every process new).
        XCTAssertEqual(reader.statReads, 1)
    }

    // MARK: - Fake proc root

    func testFakeRootDockerContainer() throws {
        let root = try makeRoot()
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        var p = FakeProc()
        p.comm = "python3"
        p.cmdline = ["python3", "train.py", "--epochs", "3"]
        p.nspid = [100, 7]
        p.cgroup = "0::/system.slice/docker-\(id).scope\n"
        try write(root, 100, p)

        let reader = ProcReader(procRoot: root.path)
        XCTAssertTrue(reader.procRootLooksValid())
        let start = btime + Double(p.start) / ticks
        let t = start + 10
        let info = try XCTUnwrap(reader.sample(pids: [100], now: t)[100])
        XCTAssertEqual(info.command, "python3 train.py --epochs 3")
        XCTAssertEqual(info.uid, 0)
        XCTAssertEqual(info.user, "root")
        XCTAssertEqual(info.startTime, start, accuracy: 1e-6)
        XCTAssertEqual(info.namespacePid, 7)
        XCTAssertEqual(info.container, ContainerRef(runtime: .docker, id: id))
        XCTAssertEqual(info.residentBytes, 256 * pageSize)
        // first sample: lifetime average, (300 + 200) ticks over 10 s
        XCTAssertEqual(try XCTUnwrap(info.cpuPercent), 500 / ticks / 10 * 100, accuracy: 1e-9)

        // second sample: the delta
        p.utime += UInt64(ticks)          // one more CPU second over 2 s: 50%
        p.rss = 512
        try write(root, 100, p)
        let info2 = try XCTUnwrap(reader.sample(pids: [100], now: t + 2)[100])
        XCTAssertEqual(try XCTUnwrap(info2.cpuPercent), 50, accuracy: 1e-9)
        XCTAssertEqual(info2.residentBytes, 512 * pageSize)
        XCTAssertEqual(reader.staticReads, 1)

        // same time again: the previous percent, no division by zero
        XCTAssertEqual(try XCTUnwrap(reader.sample(pids: [100], now: t + 2)[100]?.cpuPercent), 50, accuracy: 1e-9)
    }

    func testFakeRootUnknownUidAndKubernetes() throws {
        let root = try makeRoot()
        var p = FakeProc()
        p.uid = 54_321
        p.cgroup = """
        12:pids:/kubepods/besteffort/pod8a4f1c2e-5b6d-4e7f-9a0b-1c2d3e4f5a6b/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
        1:name=systemd:/kubepods/besteffort/pod8a4f1c2e-5b6d-4e7f-9a0b-1c2d3e4f5a6b/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

        """
        try write(root, 200, p)
        let info = try XCTUnwrap(ProcReader(procRoot: root.path).sample(pids: [200], now: btime + 1000)[200])
        if getpwuid(54_321) == nil { XCTAssertEqual(info.user, "54321") }
        XCTAssertEqual(info.uid, 54_321)
        XCTAssertEqual(info.container?.runtime, .containerd)
        XCTAssertEqual(info.container?.podUID, "8a4f1c2e-5b6d-4e7f-9a0b-1c2d3e4f5a6b")
    }

    /// Turns go by position in the pid list, which shifts when processes come and go:
    /// a process that keeps missing its turn is read anyway once two turns overdue.
    /// Here lower pids exit and higher ones start each sample, so the watched process
    /// moves down one place as the turn moves up one: without the overdue rule it
    /// would never be read again.
    func testChurnCannotStarveAProcessOfItsReads() throws {
        let root = try makeRoot()
        var watched = FakeProc()
        try write(root, 5000, watched)
        var low: [Int32] = Array(stride(from: 100, through: 2000, by: 100))   // 20 below it
        for pid in low { try write(root, pid, FakeProc()) }
        var high: [Int32] = []
        let reader = ProcReader(procRoot: root.path, statReadsPerRefresh: 11)  // 21 pids: turns of 2
        var next: Int32 = 6000
        var seen: [Int] = []
        for round in 0..<16 {
            watched.rss = 1000 + UInt64(round)   // a read shows this sample's value
            try write(root, 5000, watched)
            let r = reader.sample(pids: low + [5000] + high, now: btime + 1000 + Double(round))
            seen.append(Int((r[5000]?.residentBytes ?? 0) / 4096))
            low.removeFirst()
            try write(root, next, FakeProc())
            high.append(next)
            next += 100
        }
        // Every value shown came from a read at most two turns (4 samples) before.
        for (round, rss) in seen.enumerated() {
            XCTAssertGreaterThanOrEqual(rss, 1000 + round - 4, "round \(round): \(seen)")
        }
    }

    /// CPU% over a window of 5 to 10 s, not since the last read: the kernel counts in
    /// 10 ms ticks, so a process using a tick every 4 s read 0.5% and 0.0% by turns
    /// over 2 s (every idle row rewritten on every refresh). Over the window it reads a
    /// steady 0.2 to 0.3%; a process that turns busy shows it within the window.
    func testCPUPercentOverAWindowHoldsStillForAnIdleProcess() throws {
        let root = try makeRoot()
        var p = FakeProc()
        p.utime = 0; p.stime = 0
        try write(root, 500, p)
        func run(window: Double) throws -> [Double] {
            let reader = ProcReader(procRoot: root.path, minimumRereadSeconds: 2, cpuWindowSeconds: window)
            var q = p
            try write(root, 500, q)
            var percents: [Double] = []
            for step in 0..<20 {
                if step % 2 == 1 { q.utime += 1 }                 // one tick every 4 s: 0.25%
                try write(root, 500, q)
                let info = try XCTUnwrap(reader.sample(pids: [500], now: btime + 10_000 + Double(step) * 2)[500])
                percents.append(try XCTUnwrap(info.cpuPercent))
            }
            return percents
        }
        let old = try run(window: 0)
        XCTAssertEqual(Set(old.dropFirst(2).map { ($0 * 10).rounded() / 10 }), [0, 0.5], "the flicker this fixes: \(old)")
        let windowed = try run(window: 10).dropFirst(4)      // the first window complete
        for v in windowed { XCTAssertTrue((0.1...0.4).contains(v), "\(Array(windowed))") }

        // Busy from now on: 200 ticks (2 s of CPU) every 2 s.
        let reader = ProcReader(procRoot: root.path, minimumRereadSeconds: 2, cpuWindowSeconds: 10)
        var q = p
        var last = 0.0
        for step in 0..<12 {
            if step >= 4 { q.utime += 200 }
            try write(root, 500, q)
            last = try XCTUnwrap(reader.sample(pids: [500], now: btime + 20_000 + Double(step) * 2)[500]?.cpuPercent)
        }
        XCTAssertEqual(last, 100, accuracy: 1, "busy for 16 s: the window holds only busy time")
    }

    func testFakeRootPidReuse() throws {
        let root = try makeRoot()
        var p = FakeProc()
        p.cmdline = ["old-process"]
        try write(root, 300, p)
        let reader = ProcReader(procRoot: root.path)
        XCTAssertEqual(reader.sample(pids: [300], now: btime + 500)[300]?.command, "old-process")
        XCTAssertEqual(reader.sample(pids: [300], now: btime + 501)[300]?.command, "old-process")
        XCTAssertEqual(reader.staticReads, 1)

        p.cmdline = ["new-process", "arg"]
        p.start = 40_000
        p.utime = 10; p.stime = 0
        try write(root, 300, p)
        let now = btime + 400 + 10   // 10 s after the new start (400 s since boot)
        let info = try XCTUnwrap(reader.sample(pids: [300], now: now)[300])
        XCTAssertEqual(reader.staticReads, 2)
        XCTAssertEqual(info.command, "new-process arg")
        XCTAssertEqual(info.startTime, btime + 400, accuracy: 1e-6)
        // a fresh process: the lifetime average, not a delta against the old one
        XCTAssertEqual(try XCTUnwrap(info.cpuPercent), 10 / ticks / 10 * 100, accuracy: 1e-9)
    }

    func testFakeRootUnreadableAndGarbage() throws {
        let root = try makeRoot()
        try write(root, 10, FakeProc())                      // fine

        try write(root, 11, FakeProc())                      // status is a directory
        let status11 = root.appendingPathComponent("11/status")
        try FileManager.default.removeItem(at: status11)
        try FileManager.default.createDirectory(at: status11, withIntermediateDirectories: true)

        try write(root, 12, FakeProc())                      // stat is missing
        try FileManager.default.removeItem(at: root.appendingPathComponent("12/stat"))

        try write(root, 13, FakeProc())                      // stat is garbage
        try "13 (x) S 1 2 3 garbage\n".write(to: root.appendingPathComponent("13/stat"), atomically: true, encoding: .utf8)

        try write(root, 14, FakeProc())                      // status without Uid
        try "Name:\tx\nNSpid:\t14\n".write(to: root.appendingPathComponent("14/status"), atomically: true, encoding: .utf8)

        var p15 = FakeProc()                                 // no cmdline, no cgroup: degrade
        p15.comm = "kworker/0:1"
        p15.cmdline = nil
        p15.cgroup = nil
        try write(root, 15, p15)

        var p16 = FakeProc()                                 // empty cmdline: [comm]
        p16.comm = "a) (b c"
        p16.cmdline = []
        try write(root, 16, p16)

        try write(root, 17, FakeProc())                      // stat is a directory
        let stat17 = root.appendingPathComponent("17/stat")
        try FileManager.default.removeItem(at: stat17)
        try FileManager.default.createDirectory(at: stat17, withIntermediateDirectories: true)

        try write(root, 18, FakeProc())                      // overflowing numbers
        try "18 (x) S 1 1 1 0 -1 0 0 0 0 0 99999999999999999999999 1 0 0 20 0 1 0 5 1 1\n"
            .write(to: root.appendingPathComponent("18/stat"), atomically: true, encoding: .utf8)

        try write(root, 19, FakeProc())                      // binary junk in every file
        for f in ["stat", "status", "cmdline", "cgroup"] {
            try Data((0..<300).map { _ in UInt8.random(in: 0...255) })
                .write(to: root.appendingPathComponent("19/\(f)"))
        }

        let reader = ProcReader(procRoot: root.path)
        let r = reader.sample(pids: Array(10...20), now: btime + 1000)
        XCTAssertNotNil(r[10])
        for pid: Int32 in [11, 12, 13, 14, 17, 18, 19, 20] { XCTAssertNil(r[pid], "pid \(pid)") }
        XCTAssertEqual(r[15]?.command, "[kworker/0:1]")
        XCTAssertNil(r[15]?.container)
        XCTAssertEqual(r[16]?.command, "[a) (b c]")
        XCTAssertEqual(Set(r.keys), [10, 15, 16])
    }

    func testFakeRootCmdlineSanitized() throws {
        let root = try makeRoot()
        var p = FakeProc()
        p.cmdline = ["  evil\u{1B}[2J", "tab\there", "line\nbreak", "c1\u{9B}31m", "ünï"]
        try write(root, 50, p)
        let info = try XCTUnwrap(ProcReader(procRoot: root.path).sample(pids: [50], now: btime + 1000)[50])
        // Separators become spaces; escapes are kept for JSON and made visible at display time.
        XCTAssertEqual(info.command, "evil\u{1B}[2J tab here line break c1\u{9B}31m ünï")
    }

    func testFakeRootVanishingAndEviction() throws {
        let root = try makeRoot()
        for pid: Int32 in [20, 21, 22] { try write(root, pid, FakeProc()) }
        let reader = ProcReader(procRoot: root.path)
        XCTAssertEqual(reader.sample(pids: [20, 21, 22], now: btime + 1000).count, 3)
        XCTAssertEqual(reader.cachedProcesses, 3)

        try FileManager.default.removeItem(at: root.appendingPathComponent("21"))   // exited
        let r = reader.sample(pids: [20, 21, 22], now: btime + 1001)
        XCTAssertEqual(Set(r.keys), [20, 22])
        XCTAssertEqual(reader.cachedProcesses, 2)

        _ = reader.sample(pids: [22], now: btime + 1002)                          // 20 no longer asked for
        XCTAssertEqual(reader.cachedProcesses, 1)
        XCTAssertEqual(reader.staticReads, 3)

        _ = reader.sample(pids: [20, 22], now: btime + 1003)                      // back: read again
        XCTAssertEqual(reader.staticReads, 4)
        _ = reader.sample(pids: [], now: btime + 1004)
        XCTAssertEqual(reader.cachedProcesses, 0)
    }

    func testWrongProcRoot() throws {
        let missing = ProcReader(procRoot: "/nonexistent/proc-\(UUID().uuidString)")
        XCTAssertFalse(missing.procRootLooksValid())
        XCTAssertNotNil(missing.procRootProblem())
        XCTAssertTrue(missing.sample(pids: [getpid(), 1], now: now).isEmpty)

        let slash = ProcReader(procRoot: "/")
        XCTAssertFalse(slash.procRootLooksValid())
        XCTAssertTrue(slash.sample(pids: [getpid()], now: now).isEmpty)

        let noBtime = try makeRoot(btime: false)
        try write(noBtime, 10, FakeProc())
        let r1 = ProcReader(procRoot: noBtime.path)
        XCTAssertFalse(r1.procRootLooksValid())
        XCTAssertTrue(r1.procRootProblem()?.contains("btime") ?? false)
        XCTAssertTrue(r1.sample(pids: [10], now: now).isEmpty)

        let noSelf = try makeRoot(selfLink: false)
        XCTAssertFalse(ProcReader(procRoot: noSelf.path).procRootLooksValid())

        let file = try makeTempDir().appendingPathComponent("plain")
        try "btime 1\n".write(to: file, atomically: true, encoding: .utf8)
        XCTAssertFalse(ProcReader(procRoot: file.path).procRootLooksValid())

        XCTAssertTrue(ProcReader(procRoot: try makeRoot().path).procRootLooksValid())
        XCTAssertTrue(ProcReader(procRoot: "/proc").procRootLooksValid())
    }

    func testLongCmdlineIsCut() throws {
        let root = try makeRoot()
        var p = FakeProc()
        p.cmdline = ["java", "-cp", String(repeating: "x", count: 200_000)]
        try write(root, 60, p)
        let info = try XCTUnwrap(ProcReader(procRoot: root.path).sample(pids: [60], now: btime + 1000)[60])
        XCTAssertTrue(info.command.hasPrefix("java -cp xxxx"))
        XCTAssertEqual(info.command.utf8.count, 64 * 1024)
    }

    /// All processes on this machine, twice: nothing crashes, the second pass reads
    /// nothing static for the ones that survived.
    func testWholeProcTwice() throws {
        let pids = (try FileManager.default.contentsOfDirectory(atPath: "/proc")).compactMap { Int32($0) }
        let reader = ProcReader()
        let first = reader.sample(pids: pids, now: now)
        XCTAssertGreaterThan(first.count, 0)
        let reads = reader.staticReads
        let second = reader.sample(pids: pids, now: now)
        XCTAssertLessThanOrEqual(reader.staticReads, reads + (pids.count - first.count) + 2)
        XCTAssertGreaterThan(second.count, 0)
    }
}
