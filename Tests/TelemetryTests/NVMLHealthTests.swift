// GPU health against the fake NVML: clock event reasons each refresh (a GPU that
// goes power-capped mid-run), the power violation share, ECC and row remapping on
// their slow schedule, each field degrading alone (a symbol the driver lacks,
// NOT_SUPPORTED), and XID events from the watcher thread attributed to who was on
// the GPU (XIDLog).
import Foundation
import Glibc
@testable import Model
@testable import Telemetry
import TestSupport
import XCTest

final class NVMLHealthTests: XCTestCase {
    var children: [Child] = []
    override func tearDown() { children.forEach { $0.stop() }; children = [] }

    func sampler(_ scenario: String, variant: FakeNVML.Variant = .current,
                 health: NVMLHealthSchedule = .everyRefresh, watchXID: Bool = true) throws -> SnapshotSampler {
        setenv("FAKE_NVML_SCENARIO", try FakeNVML.scenario(scenario), 1)
        var options = SamplerOptions(nvmlPath: try FakeNVML.privateCopy(variant), useDocker: false)
        options.healthSchedule = health
        options.watchXID = watchXID
        return SnapshotSampler(options: options)
    }

    /// An H200 with every health key, nothing wrong (the block ends with a newline).
    static let healthy = Scenarios.h200() + """
        throttle none
        violation_power 1000
        ecc_volatile 0
        ecc_aggregate 2
        remapped_rows corr=1 unc=0 pending=0 failure=0

        """

    /// Samples until `done` holds (at most `seconds`), returning the last snapshot.
    func sample(_ s: SnapshotSampler, every: Double = 0.1, for seconds: Double = 5, until done: (Snapshot) -> Bool) -> Snapshot {
        let deadline = Date().addingTimeInterval(seconds)
        var last = s.sample()
        while !done(last) && Date() < deadline {
            usleep(UInt32(every * 1e6))
            last = s.sample()
        }
        return last
    }

    func testGPUGoesPowerCappedMidRun() throws {
        let s = try sampler(Scenarios.h200() + "throttle none\nthrottle power_cap at=800ms\nviolation_power 0\n")
        let before = s.sample()
        XCTAssertEqual(before.gpus[0].clockEventReasons, 0)
        XCTAssertEqual(before.gpus[0].clockEvents?.words, [])
        let after = sample(s, until: { $0.gpus[0].clockEventReasons == 0x4 })
        XCTAssertEqual(after.gpus[0].clockEvents?.words, ["power cap"])
        // Held all along since then: the violation counter grows as fast as time (the share is ~100 %).
        usleep(300_000)
        let capped = s.sample()
        XCTAssertGreaterThanOrEqual(capped.gpus[0].powerCappedPercent ?? 0, 80, "\(capped.gpus[0])")
        XCTAssertGreaterThan(capped.gpus[0].powerViolationTime ?? 0, 300_000_000)
    }

    /// The violation counter costs 0.5-0.9 ms a read on an H200 and only grows while the
    /// power cap holds: while the reasons (read each refresh, 5 µs) have not shown the
    /// cap since its last read and it last read 0 %, it is read every
    /// `violationQuietPeriod`; from the refresh that shows the cap, every `violationPeriod`.
    func testViolationCounterIsQuietUntilTheReasonsShowThePowerCap() throws {
        XCTAssertEqual(NVMLHealthSchedule().violationQuietPeriod, 300)
        // The cap comes 3 s in: the first four refreshes (0.75 s) fall well before it.
        let s = try sampler(Self.healthy + "throttle power_cap at=3s\n",
                            health: NVMLHealthSchedule(violationPeriod: 0.2, violationQuietPeriod: 60, memoryErrorPeriod: 60))
        let clock = CallClock()
        s.callClock = clock
        func reads() -> Int { clock.entries.first { $0.name == "nvmlDeviceGetViolationStatus" }?.calls ?? 0 }
        XCTAssertNil(s.sample().gpus[0].powerCappedPercent, "one read gives no share yet")
        usleep(250_000)
        XCTAssertEqual(s.sample().gpus[0].powerCappedPercent, 0)
        XCTAssertEqual(reads(), 2, "a second read for the first share")
        usleep(250_000)
        _ = s.sample()
        usleep(250_000)
        XCTAssertEqual(s.sample().gpus[0].powerCappedPercent, 0, "the last share holds")
        XCTAssertEqual(reads(), 2, "no cap in the reasons and 0 % last: not read")
        let capped = sample(s, every: 0.25, for: 8, until: { $0.gpus[0].clockEventReasons == 0x4 })
        XCTAssertEqual(reads(), 3, "the refresh that shows the cap reads it")
        XCTAssertNotNil(capped.gpus[0].powerViolationTime)
        let held = sample(s, every: 0.25, until: { ($0.gpus[0].powerCappedPercent ?? 0) >= 50 })
        XCTAssertGreaterThanOrEqual(held.gpus[0].powerCappedPercent ?? 0, 50, "then every violationPeriod while capped")
        XCTAssertGreaterThanOrEqual(reads(), 4)
    }

    /// Where XIDs are watched, ECC and remapping are read at the start, at the refresh
    /// after an XID on that GPU (an uncorrected error or a remap raises one), and every
    /// `memoryErrorQuietPeriod` (10 minutes) besides: a change with no XID stays unseen.
    func testECCAndRemappingAreReadAgainAfterAnXID() throws {
        XCTAssertEqual(NVMLHealthSchedule().memoryErrorQuietPeriod, 600)
        let scenario = Scenarios.h200() + """
            ecc_volatile 0
            ecc_volatile 2 at=1s
            ecc_aggregate 5
            ecc_aggregate 7 at=1s
            remapped_rows corr=0 unc=0 pending=0
            remapped_rows corr=0 unc=1 pending=1 at=1s
            xid code=48 at=3s

            """
        let s = try sampler(scenario, health: NVMLHealthSchedule())
        let clock = CallClock()
        s.callClock = clock
        let start = Date()
        XCTAssertEqual(s.sample().gpus[0].eccUncorrectedVolatile, 0)
        // Between the change (1 s in) and the XID (3 s in).
        usleep(UInt32(max(0, 1.8 - Date().timeIntervalSince(start)) * 1e6))
        let before = s.sample()
        XCTAssertEqual(before.gpus[0].eccUncorrectedVolatile, 0, "changed, but no XID yet: not read")
        XCTAssertEqual(before.gpus[0].rowRemapPending, false)
        let after = sample(s, for: 8, until: { $0.gpus[0].eccUncorrectedVolatile == 2 })
        XCTAssertEqual(after.gpus[0].lastXID, 48)
        XCTAssertEqual(after.gpus[0].eccUncorrectedAggregate, 7)
        XCTAssertEqual(after.gpus[0].rowRemapPending, true, "reset needed, seen with the XID")
        XCTAssertEqual(clock.entries.first { $0.name == "nvmlDeviceGetTotalEccErrors" }?.calls, 4,
                       "volatile and aggregate at the start and after the XID, nothing between")
    }

    func testReasonsInWordsMostSeriousFirst() {
        let r = ClockEventReasons(rawValue: 0x1 | 0x4 | 0x20 | 0x80 | 0x1000)
        XCTAssertEqual(r.words, ["power brake", "thermal", "power cap"])
        XCTAssertEqual(r.allNames, ["idle", "power cap", "thermal", "power brake", "0x1000"])
        XCTAssertEqual(ClockEventReasons(rawValue: 0x1).words, [], "an idle GPU is not held back")
    }

    func testECCAndRemappingOnTheirSlowSchedule() throws {
        let scenario = Scenarios.h200() + """
            ecc_volatile 0
            ecc_volatile 3 at=300ms
            ecc_aggregate 5
            remapped_rows corr=2 unc=1 pending=0
            remapped_rows corr=2 unc=2 pending=1 at=300ms

            """
        // The default schedule reads them at the first refresh and then every 30 s: the change stays unseen.
        let slow = try sampler(scenario, health: NVMLHealthSchedule())
        let first = slow.sample()
        XCTAssertEqual(first.gpus[0].eccUncorrectedVolatile, 0)
        XCTAssertEqual(first.gpus[0].eccUncorrectedAggregate, 5)
        XCTAssertEqual(first.gpus[0].remappedRowsUncorrectable, 1)
        XCTAssertEqual(first.gpus[0].rowRemapPending, false)
        usleep(500_000)
        let later = slow.sample()
        XCTAssertEqual(later.gpus[0].eccUncorrectedVolatile, 0, "not re-read within 30 s")
        XCTAssertEqual(later.gpus[0].rowRemapPending, false)
        // Read every refresh, the same scenario shows the change: the test can fail.
        let eager = try sampler(scenario)
        _ = eager.sample()
        usleep(500_000)
        let changed = eager.sample()
        XCTAssertEqual(changed.gpus[0].eccUncorrectedVolatile, 3)
        XCTAssertEqual(changed.gpus[0].remappedRowsCorrectable, 2)
        XCTAssertEqual(changed.gpus[0].remappedRowsUncorrectable, 2)
        XCTAssertEqual(changed.gpus[0].rowRemapPending, true)
        XCTAssertEqual(changed.gpus[0].rowRemapFailure, false)
    }

    /// NOT_SUPPORTED turns off one field for good (the next call would succeed: it is
    /// never made), an absent key answers NOT_SUPPORTED, and the other fields go on.
    func testNotSupportedTurnsOffOnlyItsField() throws {
        let s = try sampler(Self.healthy + "error ecc NOT_SUPPORTED times=1\nerror clocks_event_reasons UNKNOWN times=1\n"
                            + Scenarios.h200(uuid: "GPU-plain"))
        let first = s.sample(), second = s.sample()
        for snap in [first, second] {
            XCTAssertNil(snap.gpus[0].eccUncorrectedVolatile)
            // Aggregate ECC is the same call (and error counter) with another argument: the
            // volatile read met the one injected error, the aggregate one answers.
            XCTAssertEqual(snap.gpus[0].eccUncorrectedAggregate, 2)
            XCTAssertEqual(snap.gpus[0].remappedRowsCorrectable, 1)
            XCTAssertEqual(snap.gpus[0].powerViolationTime, 1000)
            // The second GPU has no health keys at all: every health field nil, the rest there.
            XCTAssertNil(snap.gpus[1].clockEventReasons)
            XCTAssertNil(snap.gpus[1].eccUncorrectedAggregate)
            XCTAssertNil(snap.gpus[1].remappedRowsCorrectable)
            XCTAssertNil(snap.gpus[1].rowRemapPending)
            XCTAssertNil(snap.gpus[1].powerViolationTime)
            XCTAssertEqual(snap.gpus[1].powerDraw, 250000)
            XCTAssertEqual(snap.gpus[1].temperature, 44)
        }
        // Any other error leaves the field nil for that refresh only.
        XCTAssertNil(first.gpus[0].clockEventReasons)
        XCTAssertEqual(second.gpus[0].clockEventReasons, 0)
    }

    /// An old driver (the legacy fake): the reasons through the older name, no row
    /// remapping, XIDs through the v1 wait, without MIG instance ids.
    func testOldDriverDegradesOnlyWhatItLacks() throws {
        children = [try Child(["/bin/sleep", "60"])]
        let s = try sampler(Self.healthy + "xid code=43 gi=1 ci=0\nprocess compute pid=\(children[0].pid) mem=1GiB\n",
                            variant: .legacy)
        XCTAssertEqual(s.nvml?.library.resolved["clocksEventReasons"], "nvmlDeviceGetCurrentClocksThrottleReasons")
        XCTAssertEqual(s.nvml?.library.resolved["eventSetWait"], "nvmlEventSetWait")
        let snap = sample(s, until: { $0.xidEvents != nil })
        let g = snap.gpus[0]
        XCTAssertEqual(g.clockEventReasons, 0)
        XCTAssertEqual(g.eccUncorrectedAggregate, 2)
        XCTAssertNil(g.remappedRowsCorrectable)
        XCTAssertNil(g.rowRemapPending)
        let e = try XCTUnwrap(snap.xidEvents?.first)
        XCTAssertEqual(e.code, 43)
        XCTAssertNil(e.gpuInstanceId, "the v1 wait has no instance ids")
        XCTAssertEqual(e.processes.map(\.pid), [children[0].pid])
    }

    func testXIDEventsCarryWhoWasOnTheGPU() throws {
        let a = try Child(["/bin/sleep", "60"]), b = try Child(["/bin/sleep", "60"]), c = try Child(["/bin/sleep", "60"])
        children = [a, b, c]
        let scenario = Self.healthy + """
        process compute pid=\(a.pid) mem=1GiB
        xid code=79 at=1500ms
        xid code=13 at=1500ms gi=3 ci=0
        gpu
        name NVIDIA H200
        memory_total 80GiB
        process compute pid=\(b.pid) mem=1GiB
        process compute pid=\(c.pid) mem=1GiB gi=3 ci=0
        xid code=31 at=1500ms gi=3 ci=0

        """
        let s = try sampler(scenario)
        let first = s.sample()
        XCTAssertNil(first.xidEvents)
        XCTAssertEqual(first.gpus.map(\.xidCounts), [[], []], "watched, nothing yet")
        XCTAssertEqual(first.gpus.map(\.lastXID), [nil, nil])
        let snap = sample(s, for: 10, until: { ($0.xidEvents?.count ?? 0) >= 3 })
        let events = try XCTUnwrap(snap.xidEvents)
        XCTAssertEqual(events.count, 3)
        let byCode = Dictionary(uniqueKeysWithValues: events.map { ($0.code, $0) })
        XCTAssertEqual(byCode[79]?.gpuIndex, 0)
        XCTAssertEqual(byCode[79]?.processes.map(\.pid), [a.pid])
        XCTAssertEqual(byCode[79]?.containers.map(\.id), ["host"])
        XCTAssertEqual(byCode[79]?.processes.first?.info?.command, "/bin/sleep 60")
        // GPU 0 has no process on MIG instance 3: nobody was there.
        XCTAssertEqual(byCode[13]?.gpuInstanceId, 3)
        XCTAssertEqual(byCode[13]?.processes.map(\.pid), [])
        // GPU 1's instance 3/0 held c, not b.
        XCTAssertEqual(byCode[31]?.gpuIndex, 1)
        XCTAssertEqual(byCode[31]?.place, "GPU 1 MIG 3/0")
        XCTAssertEqual(byCode[31]?.processes.map(\.pid), [c.pid])
        XCTAssertEqual(snap.gpus[0].xidCounts, [XIDCount(code: 13, count: 1), XIDCount(code: 79, count: 1)])
        XCTAssertEqual(snap.gpus[1].lastXID, 31)
        // Each event once: later refreshes carry the same three.
        usleep(300_000)
        XCTAssertEqual(s.sample().xidEvents, events)
    }

    func testNoEventAPIOrNoGPURegisteredLeavesTheRestAlone() throws {
        let refused = try sampler(Self.healthy + "error register_events NOT_SUPPORTED\n")
        XCTAssertEqual(refused.xidProblem, "XID events not watched: GPU 0: Not Supported")
        let snap = refused.sample()
        XCTAssertNil(snap.gpus[0].xidCounts, "not watched: no counts, not zero")
        XCTAssertEqual(snap.gpus[0].eccUncorrectedAggregate, 2)
        XCTAssertTrue(snap.degraded.isEmpty, "\(snap.degraded)")
        let off = try sampler(Self.healthy, watchXID: false)
        XCTAssertNil(off.xidProblem)
        XCTAssertNil(off.sample().gpus[0].xidCounts)
    }

    /// The watcher's thread ends within one wait when stopped, and a dropped sampler stops it.
    func testWatcherStopsWithinOneWait() throws {
        setenv("FAKE_NVML_SCENARIO", try FakeNVML.scenario(Self.healthy), 1)
        let library = try NVMLLibrary(path: try FakeNVML.privateCopy())
        let nvml = try NVMLSampler(library: library)
        let watcher = try XIDEventWatcher.start(library: library, gpus: [(0, XCTUnwrap(nvml.handle(ofGPU: 0)))]).get()
        XCTAssertEqual(watcher.watchedGPUs, [0])
        usleep(100_000)
        let t0 = Date()
        watcher.stop()
        let took = Date().timeIntervalSince(t0)
        XCTAssertLessThan(took, Double(XIDEventWatcher.waitMilliseconds) / 1000 + 0.3)
        watcher.stop()  // idempotent
        XCTAssertEqual(watcher.drain().events, [])
    }

    /// XID threads of this process now (/proc/self/task/*/comm): only those, since the
    /// test process's other threads (dispatch workers, a dropped catalog's events thread)
    /// come and go on their own schedule.
    func threadCount() -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { task in
            (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) == "xid-events\n"
        }.count
    }

    /// The XID thread count once it is `expected` (`within` seconds at most): a new thread
    /// names itself once it runs, which may be after the sampler's first refresh.
    func threadCount(becoming expected: Int, within: Double = 3) -> Int {
        let deadline = Date().addingTimeInterval(within)
        var n = threadCount()
        while n != expected && Date() < deadline {
            usleep(10_000)
            n = threadCount()
        }
        return n
    }

    /// Dropping the sampler ends the XID thread (and only then does NVML shut down).
    func testDroppedSamplerEndsItsThread() throws {
        let baseline = threadCount()
        var s: SnapshotSampler? = try sampler(Self.healthy)
        XCTAssertNotNil(s?.sample().gpus[0].xidCounts)
        XCTAssertEqual(threadCount(becoming: baseline + 1), baseline + 1, "the XID thread runs")
        let t0 = Date()
        s = nil
        let took = Date().timeIntervalSince(t0)
        // Joined; the kernel lists a thread for a moment after it let its joiner go (a thread
        // left to end at its wait's timeout would still be there at 0.2 s).
        XCTAssertEqual(threadCount(becoming: baseline, within: 0.2), baseline, "the XID thread ended")
        XCTAssertLessThan(took, Double(XIDEventWatcher.waitMilliseconds) / 1000 + 0.5, "within one wait")
    }

    /// NVML shut down under the watcher ends its thread: from then on its GPUs are not
    /// shown as watched (no empty XID counts claiming "none came"), ECC is read on the
    /// unwatched period again (here 0.3 s; 600 s while an XID would trigger the read),
    /// and the snapshot says why.
    func testAWatcherEndedByNVMLLeavesItsGPUsUnwatched() throws {
        let baseline = threadCount()
        let scenario = try FakeNVML.scenario(Self.healthy)
        setenv("FAKE_NVML_SCENARIO", scenario, 1)
        func change(_ text: String) throws { try FakeNVML.replaceScenario(at: scenario, with: text) }
        let path = try FakeNVML.privateCopy()
        var options = SamplerOptions(nvmlPath: path, useDocker: false)
        options.healthSchedule = NVMLHealthSchedule(memoryErrorPeriod: 0.3, memoryErrorQuietPeriod: 600)
        let s = SnapshotSampler(options: options)
        func eccSeen(_ count: UInt64) -> Bool {
            let deadline = Date().addingTimeInterval(1.5)
            while Date() < deadline {
                if s.sample().gpus.first?.eccUncorrectedAggregate == count { return true }
                usleep(100_000)
            }
            return false
        }
        XCTAssertEqual(s.sample().gpus[0].xidCounts, [], "watched, nothing yet")
        XCTAssertEqual(threadCount(becoming: baseline + 1), baseline + 1, "the XID thread runs")
        try change(Self.healthy.replacingOccurrences(of: "ecc_aggregate 2", with: "ecc_aggregate 3"))
        XCTAssertFalse(eccSeen(3), "watched: ECC waits for an XID or 600 s")

        // The sampler's reference is the only one: a second shutdown would end NVML for
        // it too; the fake answers the waiting thread UNINITIALIZED within 100 ms.
        let lib = try XCTUnwrap(dlopen(path, RTLD_NOW | RTLD_NOLOAD))
        defer { dlclose(lib) }
        typealias Call = @convention(c) () -> Int32
        let shutdown = unsafeBitCast(try XCTUnwrap(dlsym(lib, "nvmlShutdown")), to: Call.self)
        let initialise = unsafeBitCast(try XCTUnwrap(dlsym(lib, "nvmlInit_v2")), to: Call.self)
        XCTAssertEqual(shutdown(), 0)
        let deadline = Date().addingTimeInterval(3)
        while threadCount() > baseline && Date() < deadline { usleep(20_000) }
        XCTAssertEqual(initialise(), 0)   // the sampler's reads work again; the thread stays ended
        XCTAssertEqual(threadCount(), baseline, "the XID thread ended")

        let after = s.sample()
        XCTAssertEqual(after.gpus.count, 1)
        XCTAssertNil(after.gpus.first?.xidCounts, "no longer watched: no counts, not zero")
        XCTAssertEqual(after.degraded.filter { $0.source == "xid" }.map(\.reason),
                       ["XID events no longer watched: nvmlEventSetWait: Uninitialized"])
        try change(Self.healthy.replacingOccurrences(of: "ecc_aggregate 2", with: "ecc_aggregate 4"))
        XCTAssertTrue(eccSeen(4), "no longer watched: ECC read every 0.3 s again")
    }

    // MARK: - Who was there (XIDLog)

    func process(_ pid: Int32, gpu: Int, started: Double?, container: String? = nil, gi: Int? = nil) -> GPUProcess {
        var p = GPUProcess(pid: pid, gpuIndex: gpu, kind: .compute)
        p.gpuInstanceId = gi
        p.computeInstanceId = gi.map { _ in 0 }
        if let started {
            var info = ProcessInfoSample(command: "job \(pid)", user: "root", uid: 0, startTime: started)
            info.container = container.map { ContainerRef(runtime: .docker, id: $0) }
            p.info = info
        }
        return p
    }

    func testOccupantsFromBeforeAndStartedBeforeTheEvent() throws {
        var log = XIDLog()
        var before = Snapshot(time: 100, host: "h")
        before.gpus = [GPU(index: 0), GPU(index: 1)]
        // The victim: on GPU 0 in the refresh before the XID, gone after it.
        before.processes = [process(10, gpu: 0, started: 50, container: "c1"), process(11, gpu: 1, started: 50)]
        var named = ContainerUsage(id: "c1")
        named.name = "trainer"
        named.labels = ["big": "annotation"]
        before.containers = [named, ContainerUsage(id: "host")]
        log.record([], dropped: 0, watched: [0, 1], into: &before)

        var after = Snapshot(time: 102, host: "h")
        after.gpus = [GPU(index: 0), GPU(index: 1)]
        // Seen only after: 20 had started before the event (it was there), 21 started after.
        after.processes = [process(20, gpu: 0, started: 99, container: "c2"), process(21, gpu: 0, started: 101.5),
                           process(22, gpu: 0, started: nil), process(11, gpu: 1, started: 50)]
        after.containers = [ContainerUsage(id: "c2"), ContainerUsage(id: "host")]
        log.record([XIDEventWatcher.Received(time: 100.4, gpuIndex: 0, code: 43)], dropped: 0, watched: [0, 1], into: &after)
        let e = try XCTUnwrap(after.xidEvents?.first)
        XCTAssertEqual(e.processes.map(\.pid), [10, 20, 22], "before, started before, and unknown start")
        XCTAssertEqual(e.containers.map(\.id), ["c1", "c2", "host"])
        XCTAssertEqual(e.containers.first?.name, "trainer", "named from the refresh before")
        XCTAssertNil(e.containers.first?.labels, "labels left out")
        XCTAssertEqual(after.gpus[0].lastXID, 43)
        XCTAssertEqual(after.gpus[1].xidCounts, [])
        XCTAssertEqual(after.gpus[1].lastXID, nil)
    }

    func testTheLogKeepsTheNewestAndCountsAll() {
        var log = XIDLog()
        var s = Snapshot(time: 1, host: "h")
        s.gpus = [GPU(index: 0)]
        let many = (0..<40).map { XIDEventWatcher.Received(time: Double($0), gpuIndex: 0, code: $0 % 2 == 0 ? 13 : 31) }
        log.record(many, dropped: 5, watched: [0], into: &s)
        XCTAssertEqual(s.xidEvents?.count, XIDLog.kept)
        XCTAssertEqual(s.xidEvents?.first?.time, Double(40 - XIDLog.kept))
        XCTAssertEqual(s.xidEvents?.last?.time, 39)
        XCTAssertEqual(s.gpus[0].xidCounts, [XIDCount(code: 13, count: 20), XIDCount(code: 31, count: 20)])
        XCTAssertEqual(s.degraded.map(\.source), ["xid"])
        XCTAssertTrue(s.degraded[0].reason.hasPrefix("5 XID events dropped"), s.degraded[0].reason)
        XCTAssertNil(SnapshotLimits.violation(s))
    }
}
