// The model's own rules: the limits and sanity pass every untrusted snapshot goes
// through, one entry per process context, the power shares, and the power values.
import Model
import XCTest

final class SnapshotLimitsTests: XCTestCase {
    func testEachListIsHeldToItsLimit() {
        var s = Snapshot(time: 1_800_000_000, host: "h")
        XCTAssertNil(SnapshotLimits.violation(s))
        s.processes = Array(repeating: GPUProcess(pid: 1, gpuIndex: 0, kind: .compute), count: SnapshotLimits.processes + 1)
        XCTAssertEqual(SnapshotLimits.violation(s), "65537 processes in one snapshot (at most 65536)")
        s.processes = []
        s.gpus = (0...SnapshotLimits.gpus).map { GPU(index: $0) }
        XCTAssertEqual(SnapshotLimits.violation(s), "1025 GPUs in one snapshot (at most 1024)")
    }

    func testSanitizedTurnsAbsurdNumbersIntoUnknown() {
        var s = Snapshot(time: .nan, host: "h")
        var g = GPU(index: 0)
        g.temperature = Int.max
        g.powerDraw = -5
        g.utilizationGpu = 55
        s.gpus = [g]
        var p = GPUProcess(pid: 7, gpuIndex: 0, kind: .compute)
        p.info = ProcessInfoSample(command: "x", user: "u", uid: 0, startTime: -1e300)
        p.info?.cpuPercent = .infinity
        s.processes = [p]
        let clean = s.sanitized()
        XCTAssertEqual(clean.time, 0, "a required time that is absurd becomes 0: unknown")
        XCTAssertNil(clean.gpus[0].temperature)
        XCTAssertNil(clean.gpus[0].powerDraw)
        XCTAssertEqual(clean.gpus[0].utilizationGpu, 55, "sane values stay")
        XCTAssertEqual(clean.processes[0].info?.startTime, 0)
        XCTAssertNil(clean.processes[0].info?.cpuPercent)
        // The engines a hostile source claims: a header's worth is kept.
        s.engines = Array(repeating: String(repeating: "x", count: 1000), count: 10_000)
        let engines = s.sanitized().engines ?? []
        XCTAssertEqual(engines.count, 8)
        XCTAssertEqual(engines.map(\.count).max(), 32)
        s.engines = ["docker", "containerd"]
        XCTAssertEqual(s.sanitized().engines, ["docker", "containerd"], "real ones stay")
    }

    /// GPM figures and energy from a remote host or a recording: NaN, infinite, negative
    /// or absurdly large figures become "not reported"; sane ones stay.
    func testSanitizedDropsAbsurdActivityAndEnergy() {
        var s = Snapshot(time: 1_700_000_000, host: "h")
        var g = GPU(index: 0)
        var a = GPUActivity()
        a.smActive = .nan
        a.tensorActive = 1e300
        a.dramActive = -3
        a.smOccupancy = 42.5
        a.pcieTxBytesPerSecond = .infinity
        a.nvlinkRxBytesPerSecond = 2e9
        g.activity = a
        g.energyCount = GPUEnergyCount(joules: .infinity, since: 1_700_000_000, attributedJoules: 1)
        s.gpus = [g]
        var c = ContainerUsage(id: String(repeating: "a", count: 64))
        c.energy = ContainerEnergy(joules: 3_600, since: 1_700_000_000, sinceContainerStart: true,
                                   byGPU: [GPUEnergyShare(gpu: -1, joules: 1), GPUEnergyShare(gpu: 0, joules: .nan),
                                           GPUEnergyShare(gpu: 1, joules: 3_600)])
        s.containers = [c]
        let clean = s.sanitized()
        let activity = clean.gpus[0].activity
        XCTAssertNil(activity?.smActive)
        XCTAssertNil(activity?.tensorActive)
        XCTAssertNil(activity?.dramActive)
        XCTAssertNil(activity?.pcieTxBytesPerSecond)
        XCTAssertEqual(activity?.smOccupancy, 42.5, "sane values stay")
        XCTAssertEqual(activity?.nvlinkRxBytesPerSecond, 2e9)
        XCTAssertNil(clean.gpus[0].energyCount, "an infinite counter is no counter")
        XCTAssertEqual(clean.containers[0].energy?.joules, 3_600)
        XCTAssertEqual(clean.containers[0].energy?.byGPU, [GPUEnergyShare(gpu: 1, joules: 3_600)],
                       "a share for GPU -1 or of NaN joules is dropped")
    }
}

final class ProcessContextsTests: XCTestCase {
    func testAComputeAndGraphicsContextIsCountedOnce() {
        var c = GPUProcess(pid: 10, gpuIndex: 0, kind: .compute)
        c.usedGpuMemory = 100
        c.smUtilization = 30
        var g = GPUProcess(pid: 10, gpuIndex: 0, kind: .graphics)
        g.usedGpuMemory = 100
        g.smUtilization = 40
        let other = GPUProcess(pid: 10, gpuIndex: 1, kind: .compute)
        let merged = ProcessContexts.merged([c, g, other])
        XCTAssertEqual(merged.count, 2)
        XCTAssertEqual(merged[0].smUtilization, 40, "the larger figure is kept")
        XCTAssertEqual(merged[0].usedGpuMemory, 100)
    }

    func testPowerIsSharedBySMUseThenByMemory() {
        var gpu = GPU(index: 0)
        gpu.powerDraw = 300_000
        var a = GPUProcess(pid: 1, gpuIndex: 0, kind: .compute)
        a.smUtilization = 20
        var b = GPUProcess(pid: 2, gpuIndex: 0, kind: .compute)
        b.smUtilization = 40
        let shares = PowerShares(processes: [a, b], gpus: [gpu])
        XCTAssertEqual(shares.share(of: a), 100_000)
        XCTAssertEqual(shares.share(of: b), 200_000)
        a.smUtilization = 0; b.smUtilization = 0
        a.usedGpuMemory = 1 << 30; b.usedGpuMemory = 3 << 30
        let byMemory = PowerShares(processes: [a, b], gpus: [gpu])
        XCTAssertEqual(byMemory.share(of: a), 75_000)
        XCTAssertEqual(byMemory.share(of: b), 225_000)
    }
}

final class PowerValuesTests: XCTestCase {
    func testSettingsParseAndFormat() throws {
        XCTAssertEqual(try PowerSetting(parsing: "250.5 W"), .milliwatts(250_500))
        XCTAssertEqual(try PowerSetting(parsing: "80%"), .percentOfDefault(80))
        XCTAssertEqual(try PowerSetting(parsing: "default"), .defaultLimit)
        XCTAssertThrowsError(try PowerSetting(parsing: "-5"))
        XCTAssertThrowsError(try PowerSetting(parsing: "1e3"))
        XCTAssertEqual(try PowerTarget(parsing: "all"), .all)
        XCTAssertThrowsError(try PowerTarget(parsing: "0x1"))
        XCTAssertEqual(PowerFormat.watts(57_600), "57.6 W")
        XCTAssertEqual(PowerFormat.range(100_000, 400_000), "100..400 W")
        XCTAssertEqual(PowerFormat.gpuLabel(gpu: 1, name: "H200"), "GPU 1 (H200)")
    }
}
