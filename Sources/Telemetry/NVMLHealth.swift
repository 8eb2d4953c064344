// GPU health through NVML: clock event ("throttle") reasons, the time the power
// limit held the clocks down, uncorrected ECC errors and row remapping.
//
// Every entry point is optional: a symbol the driver lacks, or a call that answers
// NOT_SUPPORTED (MIG instances, consumer cards without ECC), turns off only its own
// field. The reasons are one call per GPU per refresh (4 µs on an H200); the violation
// counter every 5 s while the reasons show the power cap, else every 5 minutes; ECC
// and remapping after an XID on that GPU and every 10 minutes (every 30 s where XIDs
// are not watched): they change rarely, and a person reads them as "has it happened".
import CNVML
import Model
import Support

/// The health entry points, resolved with the rest of NVML (NVMLLibrary.health).
public struct NVMLHealthSymbols: @unchecked Sendable {
    public let clocksEventReasons: cnvml_device_ull_fn?
    public let violationStatus: cnvml_violation_fn?
    public let totalEccErrors: cnvml_total_ecc_fn?
    public let remappedRows: cnvml_remapped_rows_fn?
    public let supportedEventTypes: cnvml_device_ull_fn?
    public let eventSetCreate: cnvml_event_set_create_fn?
    public let registerEvents: cnvml_register_events_fn?
    public let eventSetWait: cnvml_event_set_wait_fn?
    /// True when the wait is nvmlEventSetWait_v2, which fills the MIG instance ids.
    public let eventWaitFillsInstances: Bool
    public let eventSetFree: cnvml_event_set_free_fn?

    /// `lookup(role, names)` returns the first of `names` the library exports (and
    /// records which under `role`), newest name first.
    init(lookup: (String, [String]) -> UnsafeMutableRawPointer?) {
        func fn<T>(_ role: String, _ names: [String], _ type: T.Type) -> T? {
            lookup(role, names).map { unsafeBitCast($0, to: type) }
        }
        // Renamed in CUDA 12.2: "clocks event" reasons; the throttle name stays exported for old callers.
        clocksEventReasons = fn("clocksEventReasons", ["nvmlDeviceGetCurrentClocksEventReasons",
                                                        "nvmlDeviceGetCurrentClocksThrottleReasons"], cnvml_device_ull_fn.self)
        violationStatus = fn("violationStatus", ["nvmlDeviceGetViolationStatus"], cnvml_violation_fn.self)
        totalEccErrors = fn("totalEccErrors", ["nvmlDeviceGetTotalEccErrors"], cnvml_total_ecc_fn.self)
        remappedRows = fn("remappedRows", ["nvmlDeviceGetRemappedRows"], cnvml_remapped_rows_fn.self)
        supportedEventTypes = fn("supportedEventTypes", ["nvmlDeviceGetSupportedEventTypes"], cnvml_device_ull_fn.self)
        eventSetCreate = fn("eventSetCreate", ["nvmlEventSetCreate"], cnvml_event_set_create_fn.self)
        registerEvents = fn("registerEvents", ["nvmlDeviceRegisterEvents"], cnvml_register_events_fn.self)
        if let v2 = fn("eventSetWait", ["nvmlEventSetWait_v2"], cnvml_event_set_wait_fn.self) {
            eventSetWait = v2
            eventWaitFillsInstances = true
        } else {
            eventSetWait = fn("eventSetWait", ["nvmlEventSetWait"], cnvml_event_set_wait_fn.self)
            eventWaitFillsInstances = false
        }
        eventSetFree = fn("eventSetFree", ["nvmlEventSetFree"], cnvml_event_set_free_fn.self)
    }
}

/// How often the slowly changing health fields are read (seconds).
public struct NVMLHealthSchedule: Sendable, Equatable {
    /// The power violation counter (its change is the "power cap N%" of the GPU line)
    /// while the GPU is or was just power-capped, or when its reasons are unknown.
    public var violationPeriod: Double
    /// The counter while the clock-event reasons, read each refresh, have not shown
    /// the power cap since its last read and it last read 0 %: a read costs 0.5-0.9 ms
    /// on an H200, the reasons 5 µs, and the counter only grows while the cap holds.
    /// (A cap shorter than a refresh is still counted, at this period.)
    public var violationQuietPeriod: Double
    /// Uncorrected ECC counts and remapped rows where XID events are not watched.
    public var memoryErrorPeriod: Double
    /// The same where they are: an uncorrected ECC error or a row remap raises an XID
    /// (48, 63, 64, 92, 94, 95), so the counters are read at the start, at the refresh
    /// after any XID on that GPU, and this often besides (seconds; default 600). Two ECC
    /// reads cost 1-3 ms on an H200: every 30 s that was 70 µs a refresh.
    public var memoryErrorQuietPeriod: Double
    /// False: the violation counter is not read at all (a one-shot `snapshot`: its share
    /// needs two reads, and the first costs 0.7 ms on an H200).
    public var readsViolation = true

    public init(violationPeriod: Double = 5, violationQuietPeriod: Double = 300, memoryErrorPeriod: Double = 30,
                memoryErrorQuietPeriod: Double = 600) {
        self.violationPeriod = violationPeriod
        self.violationQuietPeriod = violationQuietPeriod
        self.memoryErrorQuietPeriod = memoryErrorQuietPeriod
        self.memoryErrorPeriod = memoryErrorPeriod
    }

    /// Every field on every refresh (tests).
    public static let everyRefresh = NVMLHealthSchedule(violationPeriod: 0, violationQuietPeriod: 0, memoryErrorPeriod: 0,
                                                        memoryErrorQuietPeriod: 0)
}

/// Reads the health fields of every GPU into the GPUs NVMLSampler just read.
public final class NVMLHealthReader {
    public let symbols: NVMLHealthSymbols
    public let schedule: NVMLHealthSchedule
    private var devices: [Int: DeviceHealth] = [:]
    /// Times each call when `gpuctop profile` installs it.
    public var callClock: CallClock?

    public init(symbols: NVMLHealthSymbols, schedule: NVMLHealthSchedule = NVMLHealthSchedule()) {
        self.symbols = symbols
        self.schedule = schedule
    }

    /// Fills the health fields of each GPU that is not lost; `handle` gives a GPU's
    /// NVML handle by index. `now` is monotonic seconds. `xidWatched`: the GPUs whose XID
    /// events are watched; `xidArrived`: those that had one since the last refresh.
    public func read(_ gpus: inout [GPU], handle: (Int) -> nvmlDevice_t?, now: Double,
                     xidWatched: Set<Int>, xidArrived: Set<Int>) {
        for i in gpus.indices where !gpus[i].lost {
            guard let h = handle(gpus[i].index) else { continue }
            let device: DeviceHealth
            if let known = devices[gpus[i].index] {
                device = known
            } else {
                device = DeviceHealth()
                devices[gpus[i].index] = device
            }
            device.clock = callClock
            let index = gpus[i].index
            device.read(h, symbols, schedule, now: now, xidWatched: xidWatched.contains(index),
                        xidArrived: xidArrived.contains(index), into: &gpus[i])
        }
    }
}

/// One GPU's health fields: what answered NOT_SUPPORTED, and the slow fields as last read.
final class DeviceHealth {
    enum Field: Hashable { case reasons, violation, eccVolatile, eccAggregate, remap }

    private var unsupported: Set<Field> = []
    var clock: CallClock?
    private var violation: nvmlViolationTime_t?
    private var cappedPercent: Int?
    private var violationReadAt = -Double.infinity
    /// Whether the reasons showed the software power cap since the counter's last read.
    private var capSeenSinceRead = false
    private var memory: (volatile: UInt64?, aggregate: UInt64?, rows: (UInt32, UInt32, UInt32, UInt32)?) = (nil, nil, nil)
    private var memoryReadAt = -Double.infinity

    /// True when `rc` is success; NOT_SUPPORTED (or a symbol the driver lacks) turns the field off.
    private func check(_ field: Field, _ rc: nvmlReturn_t) -> Bool {
        if rc == NVML_SUCCESS { return true }
        if rc == NVML_ERROR_NOT_SUPPORTED || rc == NVML_ERROR_FUNCTION_NOT_FOUND { unsupported.insert(field) }
        return false
    }

    private func wanted(_ field: Field) -> Bool { !unsupported.contains(field) }

    func read(_ h: nvmlDevice_t, _ s: NVMLHealthSymbols, _ schedule: NVMLHealthSchedule, now: Double,
              xidWatched: Bool, xidArrived: Bool, into gpu: inout GPU) {
        if let f = s.clocksEventReasons, wanted(.reasons) {
            var v: UInt64 = 0
            if check(.reasons, clock.time("nvmlDeviceGetCurrentClocksEventReasons") { f(h, &v) }) { gpu.clockEventReasons = v }
        }
        let reasons = gpu.clockEventReasons
        if let reasons, reasons & Self.softwarePowerCap != 0 { capSeenSinceRead = true }
        let quiet = reasons != nil && !capSeenSinceRead && cappedPercent == 0
        if schedule.readsViolation, let f = s.violationStatus, wanted(.violation),
           now - violationReadAt >= (quiet ? schedule.violationQuietPeriod : schedule.violationPeriod) {
            violationReadAt = now
            capSeenSinceRead = false
            var v = nvmlViolationTime_t()
            if check(.violation, clock.time("nvmlDeviceGetViolationStatus") { f(h, CNVML_PERF_POLICY_POWER, &v) }) {
                if let before = violation { cappedPercent = Self.percent(before, v) ?? cappedPercent }
                violation = v
            } else {
                violation = nil
                cappedPercent = nil
            }
        }
        gpu.powerViolationTime = violation?.violationTime
        gpu.powerCappedPercent = cappedPercent
        if xidArrived || now - memoryReadAt >= (xidWatched ? schedule.memoryErrorQuietPeriod : schedule.memoryErrorPeriod) {
            memoryReadAt = now
            memory = (ecc(.eccVolatile, CNVML_VOLATILE_ECC, h, s), ecc(.eccAggregate, CNVML_AGGREGATE_ECC, h, s), nil)
            if let f = s.remappedRows, wanted(.remap) {
                var corrected: UInt32 = 0, uncorrected: UInt32 = 0, pending: UInt32 = 0, failure: UInt32 = 0
                if check(.remap, clock.time("nvmlDeviceGetRemappedRows") { f(h, &corrected, &uncorrected, &pending, &failure) }) {
                    memory.rows = (corrected, uncorrected, pending, failure)
                }
            }
        }
        gpu.eccUncorrectedVolatile = memory.volatile
        gpu.eccUncorrectedAggregate = memory.aggregate
        if let (corrected, uncorrected, pending, failure) = memory.rows {
            gpu.remappedRowsCorrectable = Int(corrected)
            gpu.remappedRowsUncorrectable = Int(uncorrected)
            gpu.rowRemapPending = pending != 0
            gpu.rowRemapFailure = failure != 0
        }
    }

    private func ecc(_ field: Field, _ counter: Int32, _ h: nvmlDevice_t, _ s: NVMLHealthSymbols) -> UInt64? {
        guard let f = s.totalEccErrors, wanted(field) else { return nil }
        var v: UInt64 = 0
        return check(field, clock.time("nvmlDeviceGetTotalEccErrors") { f(h, CNVML_MEMORY_ERROR_TYPE_UNCORRECTED, counter, &v) }) ? v : nil
    }

    /// nvmlClocksEventReasonSwPowerCap: what the power violation counter counts.
    static let softwarePowerCap: UInt64 = 0x4

    /// Percent of the time between two reads that the power limit held the clocks:
    /// the violation counter's growth (ns) over the reference clock's (µs). nil when
    /// no time passed or a counter went backwards (a driver reload).
    static func percent(_ a: nvmlViolationTime_t, _ b: nvmlViolationTime_t) -> Int? {
        guard b.referenceTime > a.referenceTime, b.violationTime >= a.violationTime else { return nil }
        let held = Double(b.violationTime - a.violationTime)
        let span = Double(b.referenceTime - a.referenceTime) * 1000
        return Int(min(100, (held / span * 100).rounded()))
    }
}

/// The health calls for `gpuctop profile` (NVMLProbe.measure): each entry point
/// once per timing, as a refresh or the XID thread makes it.
enum NVMLHealthProbe {
    static func measure(_ s: NVMLHealthSymbols, _ h: nvmlDevice_t, time: (String, () -> nvmlReturn_t) -> Void) {
        if let f = s.clocksEventReasons { time("clocksEventReasons") { var v: UInt64 = 0; return f(h, &v) } }
        if let f = s.violationStatus {
            time("violationStatus") { var v = nvmlViolationTime_t(); return f(h, CNVML_PERF_POLICY_POWER, &v) }
        }
        if let f = s.totalEccErrors {
            time("totalEccErrors") { var v: UInt64 = 0; return f(h, CNVML_MEMORY_ERROR_TYPE_UNCORRECTED, CNVML_VOLATILE_ECC, &v) }
        }
        if let f = s.remappedRows {
            time("remappedRows") {
                var a: UInt32 = 0, b: UInt32 = 0, c: UInt32 = 0, d: UInt32 = 0
                return f(h, &a, &b, &c, &d)
            }
        }
        if let f = s.supportedEventTypes { time("supportedEventTypes") { var v: UInt64 = 0; return f(h, &v) } }
        // What the XID thread does: at start, a set with the GPU registered; then waits.
        if let create = s.eventSetCreate, let register = s.registerEvents, let wait = s.eventSetWait, let free = s.eventSetFree {
            time("nvmlEventSetCreate+RegisterEvents+Free") {
                var set: nvmlEventSet_t?
                let rc = create(&set)
                guard rc == NVML_SUCCESS, let set else { return rc }
                defer { _ = free(set) }
                return register(h, CNVML_EVENT_TYPE_XID_CRITICAL_ERROR, set)
            }
            var set: nvmlEventSet_t?
            guard create(&set) == NVML_SUCCESS, let set else { return }
            defer { _ = free(set) }
            _ = register(h, CNVML_EVENT_TYPE_XID_CRITICAL_ERROR, set)
            time("eventSetWait") { var d = nvmlEventData_t(); return wait(set, &d, 0) }
        }
    }
}
