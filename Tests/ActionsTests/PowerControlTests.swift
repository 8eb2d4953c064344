// PowerControl against the fake NVML (never a real GPU): reading, planning, range checks,
// setting with read-back, and the NVML errors; the fake's set log shows exactly which set
// calls were made. ActionLogicTests: the audit log, container resolution, signal parsing.
@testable import Actions
@testable import DockerSocket
import Foundation
@testable import Model
@testable import Telemetry
import TestSupport
import XCTest

final class PowerControlTests: XCTestCase {
    var setLog = ""

    override func setUp() {
        setLog = TestEnv.temporaryDirectory("setlog").appendingPathComponent("set.log").path
        setenv("FAKE_NVML_SET_LOG", setLog, 1)
    }

    override func tearDown() {
        unsetenv("FAKE_NVML_SET_LOG")
    }

    /// A private copy of the fake library (fresh set limits and counters) with `scenario`.
    func control(_ scenario: String) throws -> PowerControl {
        setenv("FAKE_NVML_SCENARIO", try FakeNVML.scenario(scenario), 1)
        return PowerControl(sampler: try NVMLSampler(library: try NVMLLibrary(path: try FakeNVML.privateCopy())))
    }

    /// The set calls the fake recorded, as "gpu=N mw=M result=R".
    func setCalls() -> [String] {
        guard let text = try? String(contentsOfFile: setLog, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map { line in
            line.split(separator: " ").filter { !$0.hasPrefix("uuid=") && $0 != "set_power_limit" }.joined(separator: " ")
        }
    }

    /// GPU 0: 100..400 W, default 300 W, limit 250 W. GPU 1: 150..350 W, default 350 W, limit 350 W.
    static let twoGPUs = Scenarios.twoPowerGPUs

    // MARK: - Parsing

    func testSettingParsesWattsPercentAndDefault() throws {
        XCTAssertEqual(try PowerSetting(parsing: "250"), .milliwatts(250_000))
        XCTAssertEqual(try PowerSetting(parsing: "250W"), .milliwatts(250_000))
        XCTAssertEqual(try PowerSetting(parsing: "250w"), .milliwatts(250_000))
        XCTAssertEqual(try PowerSetting(parsing: "250.5"), .milliwatts(250_500))
        XCTAssertEqual(try PowerSetting(parsing: "250.5 W"), .milliwatts(250_500))
        XCTAssertEqual(try PowerSetting(parsing: "0.125"), .milliwatts(125))
        XCTAssertEqual(try PowerSetting(parsing: "80%"), .percentOfDefault(80))
        XCTAssertEqual(try PowerSetting(parsing: "62.5%"), .percentOfDefault(62.5))
        XCTAssertEqual(try PowerSetting(parsing: "default"), .defaultLimit)
        XCTAssertEqual(try PowerSetting(parsing: "DEFAULT"), .defaultLimit)
        for bad in ["", "W", "-5", "+5", "0", "0%", "1e3", "0x10", "250.1234", "250.", ".5", "abc", "80%%", "nan", "inf", "1,5", "5 5"] {
            XCTAssertThrowsError(try PowerSetting(parsing: bad), "'\(bad)' should be refused")
        }
        XCTAssertEqual(try PowerTarget(parsing: "all"), .all)
        XCTAssertEqual(try PowerTarget(parsing: "3"), .gpu(3))
        for bad in ["", "-1", "x", "1.0", "GPU0"] {
            XCTAssertThrowsError(try PowerTarget(parsing: bad), "'\(bad)' should be refused")
        }
        XCTAssertEqual(PowerFormat.watts(250_500), "250.5 W")
        XCTAssertEqual(PowerFormat.watts(57_600), "57.6 W")
        XCTAssertEqual(PowerFormat.watts(125), "0.125 W")
        XCTAssertEqual(PowerFormat.range(100_000, 400_000), "100..400 W")
    }

    // MARK: - Reading

    func testReadingsOfEveryGPU() throws {
        let c = try control(Self.twoGPUs)
        let r = c.readings()
        XCTAssertEqual(r.count, 2)
        XCTAssertEqual(r[0].name, "NVIDIA A")
        XCTAssertEqual(r[0].uuid, "GPU-aaaaaaaa-0000-0000-0000-000000000000")
        XCTAssertEqual(r[0].powerDraw, 120_000)
        XCTAssertEqual(r[0].powerLimit, 250_000)
        XCTAssertEqual(r[0].powerLimitEnforced, 250_000)
        XCTAssertEqual(r[0].powerLimitDefault, 300_000)
        XCTAssertEqual(r[0].powerLimitMin, 100_000)
        XCTAssertEqual(r[0].powerLimitMax, 400_000)
        XCTAssertEqual(r[1].powerLimitMin, 150_000)
        XCTAssertEqual(r[1].powerLimitMax, 350_000)
        XCTAssertFalse(r[0].lost)
        XCTAssertTrue(setCalls().isEmpty)
    }

    // MARK: - Setting

    func testSetReadsBackTheNewLimit() throws {
        let c = try control(Self.twoGPUs)
        let result = try c.set(gpu: 0, .milliwatts(200_000))
        XCTAssertEqual(result.change.previousLimit, 250_000)
        XCTAssertEqual(result.limit, 200_000)
        XCTAssertEqual(result.enforced, 200_000)
        XCTAssertEqual(c.reading(gpu: 0).powerLimit, 200_000)
        XCTAssertEqual(c.reading(gpu: 1).powerLimit, 350_000, "the other GPU is untouched")
        XCTAssertEqual(setCalls(), ["gpu=0 mw=200000 result=SUCCESS"])
    }

    func testPercentDefaultAndRounding() throws {
        let c = try control(Self.twoGPUs)
        XCTAssertEqual(try c.set(gpu: 0, .percentOfDefault(80)).limit, 240_000)
        XCTAssertEqual(try c.set(gpu: 0, .percentOfDefault(57.143)).limit, 171_429)
        XCTAssertThrowsError(try c.set(gpu: 0, .percentOfDefault(33.3))) { error in
            guard case .outOfRange(let v) = error as? PowerControlError else { return XCTFail("\(error)") }
            XCTAssertEqual(v.first?.requested, 99_900)
        }
        XCTAssertEqual(try c.set(gpu: 0, .defaultLimit).limit, 300_000)
        XCTAssertEqual(c.reading(gpu: 0).powerLimitEnforced, 300_000)
        XCTAssertEqual(setCalls(), ["gpu=0 mw=240000 result=SUCCESS", "gpu=0 mw=171429 result=SUCCESS",
                                    "gpu=0 mw=300000 result=SUCCESS"])
    }

    func testAllChecksEachGPUAgainstItsOwnRange() throws {
        let c = try control(Self.twoGPUs)
        // 380 W fits GPU 0 (100..400) but not GPU 1 (150..350): refused whole, naming GPU 1 only.
        XCTAssertThrowsError(try c.plan(.all, .milliwatts(380_000))) { error in
            let e = error as? PowerControlError
            XCTAssertEqual(e, .outOfRange([PowerRangeViolation(gpu: 1, name: "NVIDIA B", requested: 380_000,
                                                               minLimit: 150_000, maxLimit: 350_000)]))
            XCTAssertTrue(e?.isRefusal == true)
            let text = e?.description ?? ""
            XCTAssertTrue(text.contains("GPU 1 (NVIDIA B): 380 W is outside its range 150..350 W"), text)
            XCTAssertFalse(text.contains("GPU 0"), text)
            XCTAssertTrue(text.contains("nothing was set"), text)
        }
        // 120 W: below GPU 1's minimum.
        XCTAssertThrowsError(try c.plan(.all, .milliwatts(120_000)))
        // 500 W: outside both: both named.
        XCTAssertThrowsError(try c.plan(.all, .milliwatts(500_000))) { error in
            guard case .outOfRange(let v) = error as? PowerControlError else { return XCTFail("\(error)") }
            XCTAssertEqual(v.map(\.gpu), [0, 1])
        }
        XCTAssertTrue(setCalls().isEmpty, "a refused plan sets nothing")

        let changes = try c.plan(.all, .milliwatts(300_000))
        XCTAssertEqual(changes.map(\.gpu), [0, 1])
        XCTAssertEqual(changes.map(\.previousLimit), [250_000, 350_000])
        XCTAssertEqual(changes.map(\.uuid), ["GPU-aaaaaaaa-0000-0000-0000-000000000000", "GPU-bbbbbbbb-0000-0000-0000-000000000000"])
        XCTAssertTrue(setCalls().isEmpty, "planning (a dry run) sets nothing")
        for change in changes { XCTAssertEqual(try c.apply(change).enforced, 300_000) }
        XCTAssertEqual(setCalls(), ["gpu=0 mw=300000 result=SUCCESS", "gpu=1 mw=300000 result=SUCCESS"])

        // default and percent with all: each GPU's own default.
        let defaults = try c.plan(.all, .defaultLimit)
        XCTAssertEqual(defaults.map(\.newLimit), [300_000, 350_000])
        XCTAssertEqual(defaults.map(\.previousLimit), [300_000, 300_000])
        XCTAssertEqual(try c.plan(.all, .percentOfDefault(50)).map(\.newLimit), [150_000, 175_000])
    }

    func testOutOfRangeIsRefusedWithTheRangeAndNeverClamped() throws {
        let c = try control(Self.twoGPUs)
        for mw in [99_999, 400_001, 1_000_000_000] {
            XCTAssertThrowsError(try c.set(gpu: 0, .milliwatts(mw))) { error in
                let e = error as? PowerControlError
                XCTAssertTrue(e?.isRefusal == true, "\(error)")
                XCTAssertTrue(e?.description.contains("100..400 W") == true, "\(error)")
            }
        }
        XCTAssertEqual(c.reading(gpu: 0).powerLimit, 250_000)
        XCTAssertTrue(setCalls().isEmpty, "out-of-range values never reach NVML")
        // The bounds themselves are allowed.
        XCTAssertEqual(try c.set(gpu: 0, .milliwatts(100_000)).limit, 100_000)
        XCTAssertEqual(try c.set(gpu: 0, .milliwatts(400_000)).limit, 400_000)
    }

    func testApplyChecksTheRangeAgain() throws {
        let c = try control(Self.twoGPUs)
        var change = try c.plan(.gpu(1), .milliwatts(300_000))[0]
        change.newLimit = 360_000   // a stale or forged plan
        XCTAssertThrowsError(try c.apply(change)) { error in
            XCTAssertTrue((error as? PowerControlError)?.isRefusal == true, "\(error)")
        }
        XCTAssertTrue(setCalls().isEmpty)
    }

    func testNoPermissionLeavesTheLimit() throws {
        let c = try control(Self.twoGPUs + "\nerror set_power_limit NO_PERMISSION\n")
        XCTAssertThrowsError(try c.set(gpu: 1, .milliwatts(200_000))) { error in
            XCTAssertEqual(error as? PowerControlError, .noPermission(gpu: 1))
            XCTAssertTrue("\(error)".contains("setting a power limit needs root"), "\(error)")
        }
        XCTAssertEqual(c.reading(gpu: 1).powerLimit, 350_000)
        XCTAssertEqual(c.reading(gpu: 1).powerLimitEnforced, 350_000)
        XCTAssertEqual(setCalls(), ["gpu=1 mw=200000 result=NO_PERMISSION"])
    }

    func testNotSupportedLeavesTheLimit() throws {
        let c = try control(Self.twoGPUs.replacingOccurrences(of: "gpu\nname NVIDIA B", with: "error set_power_limit NOT_SUPPORTED\ngpu\nname NVIDIA B"))
        XCTAssertThrowsError(try c.set(gpu: 0, .milliwatts(200_000))) { error in
            XCTAssertEqual(error as? PowerControlError, .notSupported(gpu: 0))
            XCTAssertTrue("\(error)".contains("this GPU does not allow changing its power limit"), "\(error)")
            XCTAssertFalse((error as? PowerControlError)?.isRefusal ?? true)
        }
        XCTAssertEqual(c.reading(gpu: 0).powerLimit, 250_000)
        XCTAssertEqual(try c.set(gpu: 1, .milliwatts(200_000)).limit, 200_000, "GPU 1 has no injected error")
        XCTAssertEqual(setCalls(), ["gpu=0 mw=200000 result=NOT_SUPPORTED", "gpu=1 mw=200000 result=SUCCESS"])
    }

    func testGPUWithoutConstraintsIsNotSupportedAndNotCalled() throws {
        let c = try control("""
        gpu
        name NVIDIA Fixed
        power 50000
        power_limit 75000
        """)
        XCTAssertThrowsError(try c.set(gpu: 0, .milliwatts(60_000))) { error in
            XCTAssertEqual(error as? PowerControlError, .notSupported(gpu: 0))
        }
        XCTAssertThrowsError(try c.plan(.gpu(0), .defaultLimit))
        XCTAssertTrue(setCalls().isEmpty)
        XCTAssertNil(c.reading(gpu: 0).powerLimitMin)
    }

    func testNoDefaultAndNoSuchGPU() throws {
        let c = try control("""
        gpu
        power_limit 75000
        power_min 40000
        power_max 80000
        """)
        XCTAssertThrowsError(try c.plan(.gpu(0), .defaultLimit)) { error in
            XCTAssertEqual(error as? PowerControlError, .noDefault(gpu: 0))
        }
        XCTAssertThrowsError(try c.plan(.gpu(0), .percentOfDefault(90)))
        XCTAssertThrowsError(try c.plan(.gpu(1), .milliwatts(50_000))) { error in
            XCTAssertEqual(error as? PowerControlError, .noSuchGPU(index: 1, count: 1))
            XCTAssertFalse((error as? PowerControlError)?.isRefusal ?? true)
        }
        XCTAssertTrue(setCalls().isEmpty)
    }

    func testLostGPU() throws {
        let c = try control(Self.twoGPUs + "\nlost_after 0\n")
        XCTAssertTrue(c.reading(gpu: 1).lost)
        XCTAssertThrowsError(try c.plan(.all, .milliwatts(200_000))) { error in
            XCTAssertEqual(error as? PowerControlError, .gpuLost(gpu: 1))
        }
        XCTAssertTrue(setCalls().isEmpty)
    }

    func testGPULostWhileReading() throws {
        let c = try control(Self.twoGPUs + "\nerror power_limit GPU_IS_LOST\n")
        let r = c.reading(gpu: 1)
        XCTAssertTrue(r.lost)
        XCTAssertNil(r.powerDraw, "nothing half-read")
        XCTAssertFalse(c.reading(gpu: 0).lost)
    }
}

/// The audit log, container resolution and signal parsing: no daemon, no GPU.
final class ActionLogicTests: XCTestCase {
    func record(_ target: AuditTarget, previous: String?, _ outcome: AuditOutcome) -> AuditRecord {
        AuditRecord(time: 1_795_057_445.9, user: "ops", uid: 1000, sudoUser: nil, host: "gpu-box", action: "stop",
                    target: target, previous: previous, outcome: outcome)
    }

    func testAuditLineFormat() {
        XCTAssertEqual(AuditLog.iso8601(0), "1970-01-01T00:00:00Z")
        XCTAssertEqual(AuditLog.iso8601(1_795_057_445.9), "2026-11-19T03:04:05Z")
        let line = record(.container(name: "web-1", id: "4f2a"), previous: "running (Up 5 minutes)", .ok("stopped")).line
        XCTAssertEqual(line, #"time=2026-11-19T03:04:05Z user=ops uid=1000 host=gpu-box action=stop container=web-1 container_id=4f2a previous="running (Up 5 minutes)" result=ok detail=stopped"#)
        let pid = record(.process(pid: 42), previous: "sh -c \"x\"\nrm\u{1b}[2J", .failed("PID 42: no such process")).line
        XCTAssertEqual(pid, #"time=2026-11-19T03:04:05Z user=ops uid=1000 host=gpu-box action=stop pid=42 previous="sh -c \"x\"\nrm\u{1b}[2J" result=failed detail="PID 42: no such process""#)
        XCTAssertFalse(pid.contains("\n"))
        var sudo = record(.gpu(index: 1, uuid: "GPU-1"), previous: "700 W", .refused("not confirmed"))
        sudo.sudoUser = "alice"
        XCTAssertTrue(sudo.line.contains("uid=1000 sudo_user=alice host=gpu-box"), sudo.line)
        XCTAssertTrue(sudo.line.contains(#"gpu=1 gpu_uuid=GPU-1 previous="700 W" result=refused detail="not confirmed""#), sudo.line)
        XCTAssertTrue(record(.argument(""), previous: nil, .refused("x")).line.contains(#"target="""#))
    }

    func testAuditLogPathAndPermissions() throws {
        XCTAssertEqual(AuditLog.defaultPath(environment: ["XDG_STATE_HOME": "/s", "HOME": "/h"]), "/s/gpuctop/actions.log")
        XCTAssertEqual(AuditLog.defaultPath(environment: ["XDG_STATE_HOME": "rel", "HOME": "/h"]), "/h/.local/state/gpuctop/actions.log")
        XCTAssertEqual(AuditLog.defaultPath(environment: ["HOME": "/h/"]), "/h/.local/state/gpuctop/actions.log")

        let dir = TestEnv.temporaryDirectory("audit")
        let path = dir.path + "/a/b/gpuctop/actions.log"
        let log = AuditLog(path: path)
        let old = umask(0)
        defer { umask(old) }
        try log.append(record(.process(pid: 7), previous: nil, .ok("sent SIGTERM")))
        try log.append(record(.process(pid: 8), previous: nil, .ok("sent SIGKILL")))
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines[1].contains("pid=8"))
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        for d in ["/a", "/a/b", "/a/b/gpuctop"] {
            XCTAssertEqual(stat(dir.path + d, &st), 0)
            XCTAssertEqual(st.st_mode & 0o777, 0o700, d)
        }

        // A file where a directory should be: the error names the log and is one line.
        let blocker = dir.path + "/file"
        _ = FileManager.default.createFile(atPath: blocker, contents: Data())
        XCTAssertThrowsError(try AuditLog(path: blocker + "/gpuctop/actions.log").append(line: "x")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("cannot write the audit log \(blocker)/gpuctop/actions.log"), text)
            XCTAssertFalse(text.contains("\n"))
        }
    }

    func testResolutionExactFirstThenPrefixes() {
        func docker(_ s: ContainerSummary) -> EngineContainer { EngineContainer(engine: .docker, socketPath: "/d.sock", summary: s) }
        let a = docker(ContainerSummary(id: "aaaa1111" + String(repeating: "0", count: 56), names: ["train"], image: "img", state: "running"))
        let b = docker(ContainerSummary(id: "aaaa2222" + String(repeating: "0", count: 56), names: ["train-2"], state: "exited"))
        let c = docker(ContainerSummary(id: "bbbb3333" + String(repeating: "0", count: 56), names: ["infer"], state: "running"))
        let d = docker(ContainerSummary(id: "cccc4444" + String(repeating: "0", count: 56), names: ["aaaa"], state: "running"))
        let all = [a, b, c, d]
        XCTAssertEqual(ContainerActions.resolve("train", among: all), .found(a), "an exact name wins over a prefix")
        XCTAssertEqual(ContainerActions.resolve("/train", among: all), .found(a))
        XCTAssertEqual(ContainerActions.resolve("train-", among: all), .found(b))
        XCTAssertEqual(ContainerActions.resolve("inf", among: all), .found(c))
        XCTAssertEqual(ContainerActions.resolve("bbbb", among: all), .found(c))
        XCTAssertEqual(ContainerActions.resolve(c.id, among: all), .found(c))
        XCTAssertEqual(ContainerActions.resolve("aaaa", among: all), .found(d), "an exact name wins over id prefixes")
        XCTAssertEqual(ContainerActions.resolve("aaaa1", among: all), .found(a))
        XCTAssertEqual(ContainerActions.resolve("aaa", among: all), .ambiguous([d, a, b]))
        XCTAssertEqual(ContainerActions.resolve("tra", among: all), .ambiguous([a, b]))
        XCTAssertEqual(ContainerActions.resolve("nope", among: all), .notFound)
        XCTAssertEqual(ContainerActions.resolve("", among: all), .notFound)
        let error = ContainerActionError.ambiguous(argument: "tra", candidates: [a, b])
        XCTAssertEqual(error.description, "'tra' matches 2 containers: train [aaaa11110000], train-2 [aaaa22220000]; give more of the name or id")
        XCTAssertTrue(error.isRefusal)
        XCTAssertFalse(ContainerActionError.notFound(argument: "x").isRefusal)
        XCTAssertEqual(ContainerActions.describe(a), "train [aaaa11110000] (image img, running)")
        XCTAssertEqual(ContainerActions.describe(docker(ContainerSummary(id: "ff", names: ["x\u{1b}[31m"]))), "x [31m [ff] (state unknown)")
    }

    func testSignalParsingAndRefusals() {
        XCTAssertEqual(ProcessSignal.parse("TERM"), SIGTERM)
        XCTAssertEqual(ProcessSignal.parse("sigint"), SIGINT)
        XCTAssertEqual(ProcessSignal.parse("SIGKILL"), SIGKILL)
        XCTAssertEqual(ProcessSignal.parse("HUP"), SIGHUP)
        XCTAssertEqual(ProcessSignal.parse("USR1"), SIGUSR1)
        XCTAssertEqual(ProcessSignal.parse("usr2"), SIGUSR2)
        XCTAssertEqual(ProcessSignal.parse("9"), 9)
        XCTAssertEqual(ProcessSignal.parse("64"), 64)
        for bad in ["", "0", "65", "STOP", "-9", "TERM ", "999"] { XCTAssertNil(ProcessSignal.parse(bad), bad) }
        XCTAssertEqual(ProcessSignal.name(SIGTERM), "SIGTERM")
        XCTAssertEqual(ProcessSignal.name(34), "signal 34")
        XCTAssertThrowsError(try ProcessSignal.send(SIGTERM, to: 1)) { XCTAssertEqual($0 as? SignalError, .refusedPid(1)) }
        XCTAssertThrowsError(try ProcessSignal.send(SIGTERM, to: 0)) { XCTAssertEqual($0 as? SignalError, .refusedPid(0)) }
        XCTAssertThrowsError(try ProcessSignal.send(SIGTERM, to: -5)) { XCTAssertEqual($0 as? SignalError, .refusedPid(-5)) }
        XCTAssertThrowsError(try ProcessSignal.send(SIGTERM, to: getpid())) { XCTAssertEqual($0 as? SignalError, .refusedSelf(getpid())) }
        XCTAssertNotNil(ProcessSignal.startTicks(pid: getpid()))
        XCTAssertNil(ProcessSignal.startTicks(pid: 0x3fff_fff0))
        XCTAssertEqual(ContainerActions.signalLabel(nil), "SIGKILL")
        XCTAssertEqual(ContainerActions.signalLabel("hup"), "SIGHUP")
        XCTAssertEqual(ContainerActions.signalLabel("9"), "signal 9")
    }
}
