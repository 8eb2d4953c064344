// The NVML loader and sampler against the fake NVML: every field, every
// injected error, the symbol fallbacks, and the buffer-size protocol.
import Foundation
@testable import Model
@testable import Telemetry
import Support
import TestSupport
import XCTest

final class NVMLSamplerTests: XCTestCase {
    /// Opens a private copy of the fake library with `scenario` and starts NVML.
    func sampler(_ scenario: String, variant: FakeNVML.Variant = .current,
                 schedule: NVMLSchedule = .everyRefresh) throws -> NVMLSampler {
        setenv("FAKE_NVML_SCENARIO", try FakeNVML.scenario(scenario), 1)
        let library = try NVMLLibrary(path: try FakeNVML.privateCopy(variant))
        return try NVMLSampler(library: library, schedule: schedule)
    }

    /// The dashboard's schedule: the slow calls (energy, per-process utilisation,
    /// MIG mode, management limit) are not made on every refresh. Calls after the
    /// first read fail here (per-process utilisation: NOT_SUPPORTED, which clears the
    /// figures; a failure of another kind would keep them), so a field read again
    /// would turn nil.
    func testScheduleSkipsSlowCallsBetweenPeriods() throws {
        let a = try Child(["/bin/sleep", "60"])
        let scenario = Self.h200 + """

        process compute pid=\(a.pid) mem=1GiB sm=55 memutil=12
        error process_util NOT_SUPPORTED after=1
        error mig_mode UNKNOWN after=1
        """
        let dashboard = try sampler(scenario, schedule: NVMLSchedule())
        for round in 0..<3 {
            let r = dashboard.sample()
            XCTAssertNil(r.gpus[0].energyTotal, "energy is not read by default")
            XCTAssertEqual(r.gpus[0].migMode, MIGMode(current: false, pending: false), "round \(round)")
            XCTAssertEqual(r.gpus[0].powerLimit, 700000)
            XCTAssertEqual(r.processes.first?.smUtilization, 55, "round \(round): kept from the first read")
        }
        // The same scenario read on every refresh meets the injected errors: the test can fail.
        let eager = try sampler(scenario, schedule: .everyRefresh)
        _ = eager.sample()
        let second = eager.sample()
        XCTAssertNil(second.processes.first?.smUtilization)
        XCTAssertNil(second.gpus[0].migMode)
        XCTAssertNotNil(second.gpus[0].energyTotal)
    }

    /// The fake's scenario file, changed mid-run: a later init re-reads it.
    struct World {
        let path: String
        let library: NVMLLibrary
        func change(to scenario: String) throws {
            try scenario.write(toFile: path, atomically: true, encoding: .utf8)
            library.stop()
            try library.start()
        }
    }

    /// A sampler of `scenario` with `schedule`, and the fake's world to change under it.
    func changingSampler(_ scenario: String, schedule: NVMLSchedule) throws -> (NVMLSampler, World) {
        let path = try FakeNVML.scenario(scenario)
        setenv("FAKE_NVML_SCENARIO", path, 1)
        let library = try NVMLLibrary(path: try FakeNVML.privateCopy())
        return (try NVMLSampler(library: library, schedule: schedule), World(path: path, library: library))
    }

    /// The H200 with its used memory at `used` and the `costly` process lists (of
    /// "Compute", "Graphics", "MPSCompute") costing 25 ms a call: CPU time says which were asked.
    static func listWorld(used: String, costly: [String], _ processes: String) -> String {
        h200.replacingOccurrences(of: "memory_used 1000000 2000000", with: "memory_used \(used)") + "\n"
            + costly.map { "call_cost nvmlDeviceGet\($0)RunningProcesses_v3 25ms\n" }.joined()
            + processes
    }

    /// A sampler whose slow fields (per-process utilisation, MIG mode, management
    /// limit) are due only once an hour: any later read of them was forced.
    func slowScheduleSampler(_ scenario: String) throws -> (NVMLSampler, World) {
        try changingSampler(scenario, schedule: NVMLSchedule(processUtilizationPeriod: 3600, slowFieldPeriod: 3600))
    }

    /// A read forced early by a newcomer covers too short a time to call a quiet
    /// process idle: it keeps its figures until the next timed read.
    func testNewcomerReadKeepsTheOthersFigures() throws {
        let a = try Child(["/bin/sleep", "60"])
        let b = try Child(["/bin/sleep", "60"])
        let (s, world) = try slowScheduleSampler(Self.h200 + "\nprocess compute pid=\(a.pid) mem=1GiB sm=55\n")
        XCTAssertEqual(s.sample().processes.map(\.smUtilization), [55])
        // b appears; a has no new utilisation sample (no sm= now).
        try world.change(to: Self.h200 + """

        process compute pid=\(a.pid) mem=1GiB
        process compute pid=\(b.pid) mem=1GiB sm=33
        """)
        let after = s.sample().processes
        XCTAssertEqual(after.first { $0.pid == b.pid }?.smUtilization, 33)
        XCTAssertEqual(after.first { $0.pid == a.pid }?.smUtilization, 55, "a forced read must not zero a")
    }

    /// The CPU time `body` takes on this thread, in milliseconds.
    func cpuMilliseconds(_ body: () -> Void) -> Double {
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a)
        body()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b)
        return Double(b.tv_sec - a.tv_sec) * 1e3 + Double(b.tv_nsec - a.tv_nsec) / 1e6
    }

    /// The driver charges per call (the fake's `call_cost`): the first sample, as a
    /// one-shot `snapshot` makes it, asks each process list and the per-process
    /// utilisation once, with no size query first, even with 100 processes.
    func testFirstSampleMakesOneCallPerList() throws {
        var scenario = Self.h200 + """

        call_cost nvmlDeviceGetComputeRunningProcesses_v3 30ms
        call_cost nvmlDeviceGetGraphicsRunningProcesses_v3 30ms
        call_cost nvmlDeviceGetMPSComputeRunningProcesses_v3 30ms
        call_cost nvmlDeviceGetProcessUtilization 30ms
        process_util_min 72
        """
        for pid in 5000..<5100 { scenario += "\nprocess compute pid=\(pid) mem=1GiB sm=\(pid % 90)" }
        let s = try sampler(scenario, schedule: NVMLSchedule())
        var first: [GPUProcess] = []
        let ms = cpuMilliseconds { first = s.sample().processes }
        XCTAssertEqual(first.count, 100)
        XCTAssertEqual(first.last?.smUtilization, 5099 % 90)
        XCTAssertGreaterThanOrEqual(ms, 120, "four calls of 30 ms each")
        XCTAssertLessThan(ms, 140, "a size query before any of them would cost 30 ms more")
    }

    /// The process lists cost the driver per context on the GPU, empty or not (on an
    /// H200 with 64 processes, timed a second apart: compute 2.5 ms, graphics 1.4, MPS
    /// 0.6). A process cannot start or end without its context's memory moving the
    /// GPU's used memory, read each refresh: the lists are asked while it moves (and
    /// for `settleSeconds` after), else every `processListPeriod` (an empty one every
    /// `emptyProcessListPeriod`); where used memory is unknown, the compute list every
    /// refresh. Each list here costs 25 ms, so the CPU time of a refresh says which
    /// were asked.
    func testProcessListsAreAskedWhenTheUsedMemoryMoves() throws {
        let a = try Child(["/bin/sleep", "60"])
        let b = try Child(["/bin/sleep", "60"])
        let g = try Child(["/bin/sleep", "60"])
        let m = try Child(["/bin/sleep", "60"])
        let lists = ["Compute", "Graphics", "MPSCompute"]
        func world(used: String, _ processes: String) -> String { Self.listWorld(used: used, costly: lists, processes) }
        XCTAssertEqual(NVMLSchedule().processListPeriod, 5, "the README and profile promise 5 s")
        XCTAssertEqual(NVMLSchedule().emptyProcessListPeriod, 10)
        XCTAssertEqual(NVMLSchedule().settleSeconds, 2)
        let schedule = NVMLSchedule(processListPeriod: 1.5, emptyProcessListPeriod: 3, settleSeconds: 0.3)
        let (s, fake) = try changingSampler(world(used: "10GiB", "process compute pid=\(a.pid) mem=10GiB sm=50"), schedule: schedule)
        func change(_ scenario: String) throws { try fake.change(to: scenario) }
        var pids: [Int32] = []
        XCTAssertGreaterThanOrEqual(cpuMilliseconds { pids = s.sample().processes.map(\.pid) }, 75, "the first refresh asks all three")
        XCTAssertEqual(pids, [a.pid])
        XCTAssertGreaterThanOrEqual(cpuMilliseconds { _ = s.sample() }, 75, "within the settling time: all three again")
        usleep(400_000)
        var still: [GPUProcess] = []
        XCTAssertLessThan(cpuMilliseconds { still = s.sample().processes }, 25, "used memory still: no list asked")
        XCTAssertEqual(still.map(\.pid), [a.pid], "the compute list is taken as it was")
        XCTAssertEqual(still.first?.usedGpuMemory, 10 << 30)
        XCTAssertTrue(s.scheduleLines().contains("GPU 0 now: used memory still, lists asked on the schedule; compute listing, graphics empty, MPS empty"),
                      "\(s.scheduleLines())")

        // A compute, a graphics and an MPS process start: their contexts move the used memory.
        try change(world(used: "13GiB", """
        process compute pid=\(a.pid) mem=10GiB sm=50
        process compute pid=\(b.pid) mem=1GiB
        process graphics pid=\(g.pid) mem=1GiB
        process mps pid=\(m.pid) mem=1GiB
        """))
        XCTAssertEqual(Set(s.sample().processes.map(\.pid)), [a.pid, b.pid, g.pid, m.pid], "every newcomer at the next refresh")
        XCTAssertTrue(s.scheduleLines().contains { $0.hasPrefix("GPU 0 now: used memory moving, lists asked every refresh") })

        // b ends while another process grows by as much (used memory unchanged to the byte):
        // seen when the compute list is due again, within processListPeriod.
        usleep(400_000)
        _ = s.sample()
        try change(world(used: "13GiB", """
        process compute pid=\(a.pid) mem=11GiB sm=50
        process graphics pid=\(g.pid) mem=1GiB
        process mps pid=\(m.pid) mem=1GiB
        """))
        XCTAssertTrue(s.sample().processes.contains { $0.pid == b.pid }, "not asked yet: the lists are as they were")
        let started = MonotonicClock.now()
        while s.sample().processes.contains(where: { $0.pid == b.pid }) && MonotonicClock.now() - started < 3 { usleep(100_000) }
        XCTAssertFalse(s.sample().processes.contains { $0.pid == b.pid }, "gone within the period")
        // A refresh's charged calls stretch in wall time on a loaded machine: half a second more.
        XCTAssertLessThan(MonotonicClock.now() - started, schedule.processListPeriod + 1.0)
        XCTAssertEqual(s.sample().processes.first { $0.pid == a.pid }?.usedGpuMemory, 11 << 30)
    }

    /// The refresh after the used memory moved asks the lists again whatever the interval
    /// (a 10-s interval outlasts any settling time): a process the driver lists a moment
    /// after its context's memory is counted shows at that refresh.
    func testTheRefreshAfterTheMemoryMovedAsksAgain() throws {
        let a = try Child(["/bin/sleep", "60"])
        let b = try Child(["/bin/sleep", "60"])
        func world(used: String, _ processes: String) -> String { Self.listWorld(used: used, costly: ["Compute"], processes) }
        let (s, fake) = try changingSampler(world(used: "10GiB", "process compute pid=\(a.pid) mem=10GiB"),
                                            schedule: NVMLSchedule(processListPeriod: 60, emptyProcessListPeriod: 60, settleSeconds: 0))
        func change(_ scenario: String) throws { try fake.change(to: scenario) }
        XCTAssertGreaterThanOrEqual(cpuMilliseconds { _ = s.sample() }, 25, "the first refresh asks")
        XCTAssertGreaterThanOrEqual(cpuMilliseconds { _ = s.sample() }, 25, "and the one after it")
        XCTAssertLessThan(cpuMilliseconds { _ = s.sample() }, 25, "then nothing while the memory holds still")
        // b's context is counted before the driver lists b...
        try change(world(used: "11GiB", "process compute pid=\(a.pid) mem=10GiB"))
        XCTAssertEqual(s.sample().processes.map(\.pid), [a.pid])
        // ...which it does by the next refresh, the used memory unchanged since.
        try change(world(used: "11GiB", "process compute pid=\(a.pid) mem=10GiB\nprocess compute pid=\(b.pid) mem=1GiB"))
        XCTAssertEqual(Set(s.sample().processes.map(\.pid)), [a.pid, b.pid], "seen at the refresh after the move")
        XCTAssertLessThan(cpuMilliseconds { _ = s.sample() }, 25, "still again")
    }

    /// Where the GPU does not report used memory, nothing says when a process starts:
    /// the compute list is asked on every refresh, an empty graphics or MPS list every
    /// `emptyProcessListPeriod`, one that lists processes every refresh.
    func testUnknownUsedMemoryAsksTheComputeListEveryRefresh() throws {
        let a = try Child(["/bin/sleep", "60"])
        let scenario = Self.h200.replacingOccurrences(of: "memory_total 150754820096\n", with: "") + """

        call_cost nvmlDeviceGetComputeRunningProcesses_v3 25ms
        call_cost nvmlDeviceGetGraphicsRunningProcesses_v3 25ms
        call_cost nvmlDeviceGetMPSComputeRunningProcesses_v3 25ms
        process compute pid=\(a.pid) mem=1GiB
        """
        let s = try sampler(scenario, schedule: NVMLSchedule(processListPeriod: 1.5, emptyProcessListPeriod: 30, settleSeconds: 0.3))
        XCTAssertNil(s.sample().gpus[0].memoryUsed)
        for _ in 0..<3 {
            usleep(400_000)
            let ms = cpuMilliseconds { _ = s.sample() }
            XCTAssertGreaterThanOrEqual(ms, 25, "the compute list each refresh")
            XCTAssertLessThan(ms, 50, "the empty lists only every 30 s")
        }
        XCTAssertTrue(s.scheduleLines().contains { $0.hasPrefix("GPU 0 now: used memory unknown, compute list asked every refresh") })
    }

    /// Between timed reads, and after a read that fails (other than NOT_SUPPORTED), a
    /// process keeps its last per-process figures: the SM% shown (and the power share
    /// made from it) holds the last timed read's mean instead of dropping to nothing.
    func testProcessUtilizationHoldsThroughAFailedRead() throws {
        let a = try Child(["/bin/sleep", "60"])
        let s = try sampler(Self.h200 + """

        process compute pid=\(a.pid) mem=1GiB sm=55 memutil=12
        error process_util UNKNOWN after=1 times=2
        """, schedule: .everyRefresh)
        XCTAssertEqual(s.sample().processes.first?.smUtilization, 55)
        XCTAssertEqual(s.sample().processes.first?.smUtilization, 55, "a failed read keeps the figure")
        XCTAssertEqual(s.sample().processes.first?.memoryUtilization, 12)
        XCTAssertEqual(s.sample().processes.first?.smUtilization, 55, "read again")
    }

    /// A new process is read at once, not after the period; a changed enforced
    /// limit brings the management limit with it.
    func testNewProcessAndChangedLimitAreReadAtOnce() throws {
        let a = try Child(["/bin/sleep", "60"])
        let b = try Child(["/bin/sleep", "60"])
        let (s, world) = try slowScheduleSampler(Self.h200 + "\nprocess compute pid=\(a.pid) mem=1GiB sm=55\n")
        XCTAssertEqual(s.sample().processes.map(\.smUtilization), [55])
        // Add a process, change the limit.
        try world.change(to: Self.h200.replacingOccurrences(of: "power_limit 700000", with: "power_limit 450000") + """

        process compute pid=\(a.pid) mem=1GiB sm=55
        process compute pid=\(b.pid) mem=1GiB sm=33
        """)
        let after = s.sample()
        XCTAssertEqual(after.processes.first { $0.pid == b.pid }?.smUtilization, 33)
        XCTAssertEqual(after.gpus[0].powerLimitEnforced, 450000)
        XCTAssertEqual(after.gpus[0].powerLimit, 450000)
    }

    static let h200 = """
    driver 580.95.05
    cuda 13000
    gpu
    name NVIDIA H200
    uuid GPU-11111111-2222-3333-4444-555555555555
    pci 00000000:19:00.0
    util 10 20 30
    mem_util 5 6
    memory_total 150754820096
    memory_reserved 617611264
    memory_used 1000000 2000000
    temperature 41
    fan 30
    clock_sm 1980
    clock_mem 3201
    pstate 0
    power 120000 130000
    power_limit 700000
    power_default 700000
    power_min 200000
    power_max 700000
    energy 5000000 1000
    persistence 1
    compute_mode 3
    encoder 7
    decoder 8
    mig 0 0
    """

    func testEveryGPUFieldAndValuesChangeBetweenCalls() throws {
        let s = try sampler(Self.h200)
        XCTAssertEqual(s.driverVersion, "580.95.05")
        XCTAssertEqual(s.cudaVersion, "13.0")
        XCTAssertEqual(s.gpuCount, 1)
        let first = s.sample().gpus[0]
        XCTAssertEqual(first.index, 0)
        XCTAssertEqual(first.name, "NVIDIA H200")
        XCTAssertEqual(first.uuid, "GPU-11111111-2222-3333-4444-555555555555")
        XCTAssertEqual(first.pciBusId, "00000000:19:00.0")
        XCTAssertFalse(first.lost)
        XCTAssertEqual(first.utilizationGpu, 10)
        XCTAssertEqual(first.utilizationMemory, 5)
        XCTAssertEqual(first.memoryTotal, 150754820096)
        XCTAssertEqual(first.memoryReserved, 617611264)
        XCTAssertEqual(first.memoryUsed, 1000000)
        XCTAssertNotNil(first.memoryFree)
        XCTAssertEqual(first.temperature, 41)
        XCTAssertEqual(first.fanSpeed, 30)
        XCTAssertEqual(first.clockSM, 1980)
        XCTAssertEqual(first.clockMemory, 3201)
        XCTAssertEqual(first.performanceState, 0)
        XCTAssertEqual(first.powerDraw, 120000)
        XCTAssertEqual(first.powerLimitEnforced, 700000)
        XCTAssertEqual(first.powerLimit, 700000)
        XCTAssertEqual(first.powerLimitDefault, 700000)
        XCTAssertEqual(first.powerLimitMin, 200000)
        XCTAssertEqual(first.powerLimitMax, 700000)
        XCTAssertEqual(first.energyTotal, 5000000)
        XCTAssertEqual(first.persistenceMode, true)
        XCTAssertEqual(first.computeMode, "exclusive_process")
        XCTAssertEqual(first.encoderUtilization, 7)
        XCTAssertEqual(first.decoderUtilization, 8)
        XCTAssertEqual(first.migMode, MIGMode(current: false, pending: false))
        XCTAssertTrue(first.migDevices.isEmpty)

        let second = s.sample().gpus[0]
        XCTAssertEqual(second.utilizationGpu, 20)
        XCTAssertEqual(second.utilizationMemory, 6)
        XCTAssertEqual(second.memoryUsed, 2000000)
        XCTAssertEqual(second.powerDraw, 130000)
        XCTAssertEqual(second.energyTotal, 5001000)
        XCTAssertEqual(s.library.resolved["memoryInfo"], "nvmlDeviceGetMemoryInfo_v2")
        XCTAssertEqual(s.library.resolved["nvmlDeviceGetComputeRunningProcesses"], "nvmlDeviceGetComputeRunningProcesses_v3")
    }

    func testProcessesOfEveryKindWithUtilisation() throws {
        let a = try Child(["/bin/sleep", "60"])
        let b = try Child(["/bin/sleep", "60"])
        let c = try Child(["/bin/sleep", "60"])
        let s = try sampler(Self.h200 + """

        process compute pid=\(a.pid) mem=1073741824 sm=55 memutil=12 enc=1 dec=2
        process graphics pid=\(b.pid) mem=na
        process mps pid=\(c.pid) mem=4096
        process_util_min 72
        """)
        let procs = s.sample().processes
        XCTAssertEqual(procs.count, 3)
        let compute = try XCTUnwrap(procs.first { $0.kind == .compute })
        XCTAssertEqual(compute.pid, a.pid)
        XCTAssertEqual(compute.gpuIndex, 0)
        XCTAssertEqual(compute.usedGpuMemory, 1073741824)
        XCTAssertNil(compute.gpuInstanceId)
        XCTAssertNil(compute.computeInstanceId)
        XCTAssertEqual(compute.smUtilization, 55)
        XCTAssertEqual(compute.memoryUtilization, 12)
        XCTAssertEqual(compute.encoderUtilization, 1)
        XCTAssertEqual(compute.decoderUtilization, 2)
        let graphics = try XCTUnwrap(procs.first { $0.kind == .graphics })
        XCTAssertEqual(graphics.pid, b.pid)
        XCTAssertNil(graphics.usedGpuMemory, "NVML_VALUE_NOT_AVAILABLE must read as unknown, not 16 EiB")
        let mps = try XCTUnwrap(procs.first { $0.kind == .mps })
        XCTAssertEqual(mps.pid, c.pid)
        XCTAssertEqual(mps.usedGpuMemory, 4096)
    }

    func testProcessListGrowingBetweenSizeQueryAndFetch() throws {
        let s = try sampler(Self.h200 + """

        process compute pid=101 mem=1
        process compute pid=102 mem=2
        process_growth 3
        growth_pids 201 202 203
        """)
        let pids = Set(s.sample().processes.map(\.pid))
        XCTAssertTrue(pids.isSuperset(of: [101, 102]), "got \(pids)")
        XCTAssertTrue(pids.count >= 2)
        // The steady state keeps working with the grown buffer.
        XCTAssertTrue(Set(s.sample().processes.map(\.pid)).isSuperset(of: [101, 102]))
    }

    func testManyProcessesNeedNoFixedMaximum() throws {
        var lines = Self.h200
        for pid in 1000..<1600 { lines += "\nprocess compute pid=\(pid) mem=\(pid)" }
        let s = try sampler(lines)
        let procs = s.sample().processes
        XCTAssertEqual(procs.count, 600)
        XCTAssertEqual(procs.last?.usedGpuMemory, 1599)
    }

    func testMIGDevicesAndUnavailableDeviceUtilisation() throws {
        let s = try sampler("""
        driver 580.95.05
        gpu
        name NVIDIA H100 80GB HBM3
        uuid GPU-aaaa
        memory_total 85520809984
        memory_used 1000
        mig 1 1
        mig_max 7
        mig_device slot=0 gi=1 ci=0 slices=1 ci_slices=1 sms=16 memory=10200547328 used=5000 uuid=MIG-one name=NVIDIA H100 80GB HBM3 MIG 1g.10gb
        mig_device slot=3 gi=2 ci=0 slices=3 ci_slices=3 sms=60 memory=42949672960 used=7000 uuid=MIG-two name=NVIDIA H100 80GB HBM3 MIG 3g.40gb
        process compute pid=4242 mem=1000 gi=2 ci=0
        """)
        let snap = s.sample()
        let gpu = snap.gpus[0]
        XCTAssertEqual(gpu.migMode, MIGMode(current: true, pending: true))
        XCTAssertNil(gpu.utilizationGpu, "device utilisation on a MIG GPU is not available, not 0")
        XCTAssertEqual(gpu.migDevices.count, 2)
        let first = gpu.migDevices[0]
        XCTAssertEqual(first.index, 0)
        XCTAssertEqual(first.gpuInstanceId, 1)
        XCTAssertEqual(first.computeInstanceId, 0)
        XCTAssertEqual(first.gpuInstanceSlices, 1)
        XCTAssertEqual(first.computeInstanceSlices, 1)
        XCTAssertEqual(first.multiprocessors, 16)
        XCTAssertEqual(first.memoryTotal, 10200547328 / (1 << 20) * (1 << 20))
        XCTAssertEqual(first.uuid, "MIG-one")
        XCTAssertEqual(first.name, "NVIDIA H100 80GB HBM3 MIG 1g.10gb")
        XCTAssertEqual(gpu.migDevices[1].index, 3)
        XCTAssertEqual(gpu.migDevices[1].gpuInstanceId, 2)
        XCTAssertEqual(gpu.migDevices[1].multiprocessors, 60)
        let p = try XCTUnwrap(snap.processes.first)
        XCTAssertEqual(p.gpuInstanceId, 2)
        XCTAssertEqual(p.computeInstanceId, 0)
    }

    func testNotSupportedAndNoPermissionBecomeNotAvailable() throws {
        let s = try sampler(Self.h200 + """

        error fan NOT_SUPPORTED
        error temperature NO_PERMISSION
        error energy UNKNOWN
        error power_default NOT_SUPPORTED
        error process_util NOT_SUPPORTED
        process compute pid=77 mem=5
        """)
        for _ in 0..<2 {
            let snap = s.sample()
            let g = snap.gpus[0]
            XCTAssertNil(g.fanSpeed)
            XCTAssertNil(g.temperature)
            XCTAssertNil(g.energyTotal)
            XCTAssertNil(g.powerLimitDefault)
            XCTAssertEqual(g.powerDraw.map { $0 > 0 }, true, "other fields still read")
            XCTAssertFalse(g.lost)
            XCTAssertEqual(snap.processes.first?.pid, 77)
            XCTAssertNil(snap.processes.first?.smUtilization)
        }
    }

    func testTransientErrorRecovers() throws {
        let s = try sampler(Self.h200 + "\nerror temperature UNKNOWN after=1 times=1\n")
        XCTAssertEqual(s.sample().gpus[0].temperature, 41)
        XCTAssertNil(s.sample().gpus[0].temperature)
        XCTAssertEqual(s.sample().gpus[0].temperature, 41)
    }

    func testLostGPUIsMarkedAndOthersGoOn() throws {
        let s = try sampler(Self.h200 + """

        process compute pid=11 mem=1
        gpu
        name NVIDIA H200
        uuid GPU-second
        util 50
        memory_total 1000
        memory_used 10
        lost_after 30
        process compute pid=12 mem=1
        """)
        var last = s.sample()
        XCTAssertFalse(last.gpus[1].lost)
        for _ in 0..<10 { last = s.sample() }
        XCTAssertTrue(last.gpus[1].lost, "GPU 1 answers GPU_IS_LOST after 30 calls")
        XCTAssertEqual(last.gpus[1].uuid, "GPU-second", "a lost GPU keeps its identity")
        XCTAssertNil(last.gpus[1].utilizationGpu)
        XCTAssertFalse(last.gpus[0].lost)
        XCTAssertNotNil(last.gpus[0].utilizationGpu)
        XCTAssertEqual(last.processes.map(\.pid), [11])
    }

    func testLegacyLibraryFallsBackToV1Symbols() throws {
        let a = try Child(["/bin/sleep", "60"])
        let s = try sampler(Self.h200 + "\nprocess compute pid=\(a.pid) mem=2048\n", variant: .legacy)
        XCTAssertEqual(s.library.resolved["nvmlDeviceGetComputeRunningProcesses"], "nvmlDeviceGetComputeRunningProcesses")
        XCTAssertEqual(s.library.resolved["memoryInfo"], "nvmlDeviceGetMemoryInfo")
        XCTAssertNil(s.library.resolved["processUtilization"])
        let snap = s.sample()
        let g = snap.gpus[0]
        XCTAssertEqual(g.memoryTotal, 150754820096)
        XCTAssertNil(g.memoryReserved, "v1 has no reserved figure")
        XCTAssertNil(g.energyTotal, "missing optional symbol disables the field")
        XCTAssertNil(g.migMode)
        XCTAssertEqual(g.pciBusId, "00000000:19:00.0")
        XCTAssertEqual(snap.processes.first?.pid, a.pid)
        XCTAssertEqual(snap.processes.first?.usedGpuMemory, 2048)
        XCTAssertNil(snap.processes.first?.gpuInstanceId)
        XCTAssertNil(snap.processes.first?.smUtilization)
    }

    func testDriverNotLoadedGivesOneLineReason() throws {
        setenv("FAKE_NVML_SCENARIO", try FakeNVML.scenario("init_error DRIVER_NOT_LOADED\n"), 1)
        let library = try NVMLLibrary(path: try FakeNVML.privateCopy())
        XCTAssertThrowsError(try NVMLSampler(library: library)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("driver not loaded"), text)
            XCTAssertFalse(text.contains("\n"))
        }
    }

    func testMissingLibraryGivesOneLineReason() {
        XCTAssertThrowsError(try NVMLLibrary(path: "/nonexistent/libnvidia-ml.so.1")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("no NVIDIA driver"), text)
            XCTAssertFalse(text.contains("\n"))
        }
    }

    /// A refresh that meets many processes new to /proc (a one-shot, the first refresh)
    /// reads /proc on a helper thread while NVML reads the health fields: every process
    /// still gets its facts, the procfs stage its own cost, and the next refresh (nothing
    /// new) reads /proc as before. The two ECC reads take 10 ms each here (`slow`);
    /// /proc is read meanwhile, so the refresh takes less than both one after the other.
    func testManyNewProcessesAreReadFromProcAlongsideNVML() throws {
        var children: [Child] = []
        defer { children.forEach { $0.stop() } }
        for _ in 0..<100 { children.append(try Child(["/bin/sleep", "60"])) }
        var scenario = Self.h200 + """

        slow ecc 10
        ecc_volatile 0
        ecc_aggregate 0
        """
        for c in children { scenario += "\nprocess compute pid=\(c.pid) mem=1GiB" }
        setenv("FAKE_NVML_SCENARIO", try FakeNVML.scenario(scenario), 1)
        var options = SamplerOptions(nvmlPath: try FakeNVML.privateCopy(), useDocker: false)
        options.watchXID = false
        let sampler = SnapshotSampler(options: options)
        let clock = CallClock()
        sampler.callClock = clock
        var timer = StageTimer()
        let first = sampler.sample()
        let whole = timer.lap()
        XCTAssertEqual(first.processes.count, 100)
        XCTAssertEqual(first.processes.filter { $0.info?.command == "/bin/sleep 60" }.count, 100)
        let cost = sampler.lastCost
        XCTAssertGreaterThanOrEqual(cost.nvml.wallNanoseconds, 20_000_000, "two ECC reads of 10 ms")
        XCTAssertGreaterThan(cost.procfs.wallNanoseconds, 1_000_000, "100 processes read for the first time")
        // One after the other, the refresh would take every NVML call plus /proc (and a
        // little more); overlapped with the health reads, less the shorter of the two.
        // The engines and join stages, measured, are taken out of the whole: they are
        // neither, and under the thread sanitizer they are slow enough to hide the overlap.
        let calls = clock.entries.reduce(0) { $0 + $1.totalWallNanoseconds }
        let health = clock.entries.first { $0.name == "nvmlDeviceGetTotalEccErrors" }?.totalWallNanoseconds ?? 0
        let procfs = cost.procfs.wallNanoseconds
        XCTAssertGreaterThanOrEqual(health, 20_000_000)
        XCTAssertLessThan(whole.wallNanoseconds - cost.docker.wallNanoseconds - cost.join.wallNanoseconds,
                          calls + procfs - min(health, procfs) / 2,
                          "/proc was read while NVML waited: \(whole), calls \(calls), \(cost)")
        let second = sampler.sample()
        XCTAssertEqual(second.processes.filter { $0.info?.command == "/bin/sleep 60" }.count, 100, "read as before")
        XCTAssertEqual(sampler.procReader.unknownCount(children.map(\.pid)), 0)
    }

    func testSnapshotSamplerContinuesWithoutNVML() throws {
        let sampler = SnapshotSampler(options: SamplerOptions(nvmlPath: "/nonexistent/libnvidia-ml.so.1"))
        let snap = sampler.sample()
        XCTAssertTrue(snap.gpus.isEmpty)
        XCTAssertEqual(snap.degraded.first?.source, "nvml")
        XCTAssertNil(sampler.nvml)
    }
}
