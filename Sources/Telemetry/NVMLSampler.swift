// Reads every GPU through NVML once per refresh.
//
// What cannot change while the driver is loaded (name, UUID, PCI id, power-limit
// constraints, MIG slot count) is read once. A field that answers NOT_SUPPORTED
// is not asked again; any other error leaves the field nil for this refresh. A GPU
// that answers GPU_IS_LOST is marked lost and skipped from then on, while the
// others go on.
import CNVML
import Glibc
import Model
import Support

/// How often the costly or slowly changing fields are read. Measured with
/// `gpuctop profile` (BENCHMARKS.md), each call timed inside the refreshes at their
/// 1-s spacing (the driver caches many answers for a few ms, so calls made back to
/// back look cheaper than they are): on an H200 with driver 580 and 64 processes, the
/// compute list took 2.5 ms a call, the graphics and MPS lists 1.4 and 0.6 ms even
/// when empty, per-process utilisation 1.8 ms (as much with 4 processes); with 4
/// processes the compute list took 0.23 ms. The total energy counter takes 2.6 ms,
/// MIG mode and the management power limit 0.3-0.4 ms; the other fields 1-60 µs.
public struct NVMLSchedule: Sendable, Equatable {
    /// Read the total energy counter (only the Prometheus exporter shows it).
    public var energy: Bool
    /// Per-process utilisation at most this often (seconds; default 5). Each read
    /// averages the driver's samples since the previous timed read, so nothing is lost
    /// between reads, and the figures hold until the next one; a process seen for the
    /// first time triggers a read at once (which fills in only the newcomers).
    public var processUtilizationPeriod: Double
    /// MIG mode, the management power limit, persistence and compute mode (changed
    /// only by an administrator) at most this often; the limit is also re-read whenever the enforced limit,
    /// read each refresh, changes.
    public var slowFieldPeriod: Double
    /// The process lists while the GPU's used memory holds still (seconds; default 5).
    /// A process cannot start on a GPU, or end, without its context's memory (hundreds
    /// of MiB for a CUDA context) changing the used memory read each refresh: on any
    /// change the lists are asked at that refresh and for `settleSeconds` after, so a
    /// newcomer shows at the next refresh as before. While nothing moves, this period
    /// bounds how stale a process's own memory figure can get.
    public var processListPeriod: Double
    /// A list that was empty (usually graphics and MPS on a compute node), while the
    /// used memory holds still (seconds; default 10).
    public var emptyProcessListPeriod: Double

    /// After the used memory changes, the lists are asked on every refresh for this
    /// long (seconds; default 2): a context's memory may be counted a moment before the
    /// driver lists its process.
    public var settleSeconds: Double

    public init(energy: Bool = false, processUtilizationPeriod: Double = 5, slowFieldPeriod: Double = 30,
                processListPeriod: Double = 5, emptyProcessListPeriod: Double = 10, settleSeconds: Double = 2) {
        self.energy = energy
        self.settleSeconds = settleSeconds
        self.processUtilizationPeriod = processUtilizationPeriod
        self.slowFieldPeriod = slowFieldPeriod
        self.processListPeriod = processListPeriod
        self.emptyProcessListPeriod = emptyProcessListPeriod
    }

    /// Every field on every refresh (tests, and one-off reads).
    public static let everyRefresh = NVMLSchedule(energy: true, processUtilizationPeriod: 0, slowFieldPeriod: 0,
                                                  processListPeriod: 0, emptyProcessListPeriod: 0)
}

public final class NVMLSampler {
    public let library: NVMLLibrary
    public let driverVersion: String?
    public let cudaVersion: String?
    private var devices: [DeviceState] = []

    /// Loads nothing itself: give it an opened library. Calls nvmlInit and enumerates GPUs.
    public init(library: NVMLLibrary, schedule: NVMLSchedule = .everyRefresh) throws(NVMLLoadError) {
        self.library = library
        try library.start()
        driverVersion = Self.readString(CNVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE) { library.driverVersion?($0, $1) }
        if let f = library.cudaDriverVersion {
            var v: Int32 = 0
            // CUDA version as an int: 12040 means 12.4.
            cudaVersion = f(&v) == NVML_SUCCESS ? "\(v / 1000).\((v % 1000) / 10)" : nil
        } else {
            cudaVersion = nil
        }
        var count: UInt32 = 0
        if library.deviceCount(&count) == NVML_SUCCESS {
            for i in 0..<count {
                devices.append(DeviceState(index: Int(i), library: library, schedule: schedule))
            }
        }
    }

    deinit { library.stop() }

    public var gpuCount: Int { devices.count }

    /// Times every call of every GPU's refresh (`gpuctop profile`); nil: nothing timed.
    public var callClock: CallClock? {
        didSet { for d in devices { d.clock = callClock } }
    }

    /// GPU index by the minor number of its /dev/nvidiaN (read once; GPUs whose
    /// nvmlDeviceGetMinorNumber failed are left out).
    public var minorNumbers: [Int: Int] {
        var map: [Int: Int] = [:]
        for d in devices { if let m = d.minorNumber { map[m] = d.index } }
        return map
    }

    /// One refresh: every GPU with its processes (processes of a lost GPU are dropped).
    public func sample() -> (gpus: [GPU], processes: [GPUProcess]) {
        var gpus: [GPU] = []
        var processes: [GPUProcess] = []
        gpus.reserveCapacity(devices.count)
        let now = MonotonicClock.now()
        for device in devices {
            let (gpu, procs) = device.sample(now: now)
            gpus.append(gpu)
            processes.append(contentsOf: procs)
        }
        return (gpus, processes)
    }

    /// What is read how often, in words, with the state of each GPU's graphics and MPS
    /// lists (`gpuctop profile` says it: a slower schedule must not go unnoticed).
    public func scheduleLines() -> [String] {
        let s = devices.first?.schedule ?? NVMLSchedule()
        func every(_ seconds: Double) -> String { seconds <= 0 ? "every refresh" : "every " + Self.seconds(seconds) }
        var lines = [
            "process lists (compute, graphics, MPS): every refresh while the GPU's used memory moves, at the next one and for \(Self.seconds(s.settleSeconds)) after (a process starting or ending moves it); while it holds still, \(every(s.processListPeriod)), an empty list \(every(s.emptyProcessListPeriod)); every refresh where used memory is unknown (empty lists then \(every(s.emptyProcessListPeriod)))",
            "per-process utilisation: \(every(s.processUtilizationPeriod)) (the mean since the last read; a new process at once; figures hold between reads)",
            "MIG mode, management power limit, persistence and compute mode: \(every(s.slowFieldPeriod)) (the limit also when the enforced limit changes)",
            "total energy counter: " + (s.energy ? "every refresh" : "not read"),
        ]
        for d in devices where !d.lost {
            let lists = d.listSchedule.map { "\($0.kind.listName) \($0.read ? ($0.empty ? "empty" : "listing") : "not read")" }.joined(separator: ", ")
            let memory: String
            switch d.memoryState {
            case .unknown: memory = "used memory unknown, compute list asked every refresh"
            case .moving: memory = "used memory moving, lists asked every refresh"
            case .still: memory = "used memory still, lists asked on the schedule"
            }
            lines.append("GPU \(d.index) now: \(memory); \(lists)")
        }
        return lines
    }

    /// "2s", "0.5s".
    static func seconds(_ v: Double) -> String {
        (v == v.rounded() && abs(v) < 1e9 ? String(Int(v)) : String(v)) + "s"
    }

    /// Handle of GPU `index` for actions (power limits); nil when unknown or lost.
    public func handle(ofGPU index: Int) -> nvmlDevice_t? {
        guard index >= 0, index < devices.count, !devices[index].lost else { return nil }
        return devices[index].handle
    }

    /// Reads an NVML string into a buffer of `size` bytes; nil on any error.
    public static func readString(_ size: Int32, _ call: (UnsafeMutablePointer<CChar>, UInt32) -> nvmlReturn_t?) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(size))
        let rc = buffer.withUnsafeMutableBufferPointer { call($0.baseAddress!, UInt32(size)) }
        guard rc == NVML_SUCCESS else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension ProcessKind {
    /// The list's name in `gpuctop profile`.
    var listName: String {
        switch self {
        case .compute: return "compute"
        case .graphics: return "graphics"
        case .mps: return "MPS"
        }
    }
}

/// Fields that can be switched off individually after NOT_SUPPORTED.
enum NVMLField: Hashable {
    case utilization, memory, temperature, fan, clockSM, clockMemory, pstate, power
    case enforcedLimit, managementLimit, energy, persistence, computeMode, encoder, decoder
    case computeProcesses, graphicsProcesses, mpsProcesses, processUtilization, migMode
}

/// NVML_VALUE_NOT_AVAILABLE for 64-bit values.
private let valueNotAvailable: UInt64 = ~0

/// One physical GPU: its handle, what was read once, and per-GPU sampling state.
final class DeviceState {
    let index: Int
    let library: NVMLLibrary
    let schedule: NVMLSchedule
    private(set) var handle: nvmlDevice_t?
    private(set) var lost = false
    /// Times each call when `gpuctop profile` installs it.
    var clock: CallClock?
    /// N of /dev/nvidiaN; kept out of the snapshot (only the engines' specs need it).
    private(set) var minorNumber: Int?
    private var staticInfo: GPU
    private var unsupported: Set<NVMLField> = []
    private var memoryUsesV1 = false
    private var maxMigDevices = 0
    private var migStatic: [MIGKey: MIGDevice] = [:]
    // Buffers kept between refreshes, sized by the last answer (with headroom), so one
    // call usually suffices: a size query costs as much as the call itself (the driver's
    // cost is per call). Sized from the start for a busy GPU, so that a one-shot sample
    // makes no size query either (per-process utilisation: 1.5 ms a call).
    private var processBuffer = [nvmlProcessInfo_t](repeating: nvmlProcessInfo_t(), count: 128)
    private var processBufferV1: [nvmlProcessInfo_v1_t] = []
    private var utilizationBuffer = [nvmlProcessUtilizationSample_t](repeating: nvmlProcessUtilizationSample_t(), count: 256)
    /// The newest sample of the last timed per-process utilisation read: the next timed
    /// read averages what came after it.
    private var lastUtilizationTimestamp: UInt64 = 0
    /// Per-process utilisation of the last read, by PID (nil: seen, but no figure yet),
    /// and when the last timed read was.
    private var processUtilization: [UInt32: ProcessUtilization?] = [:]
    private var processUtilizationReadAt = -Double.infinity
    /// When each process list (compute, graphics, MPS) was last asked, and what it said:
    /// a list not due at a refresh is taken as it was (NVMLSchedule.processListPeriod).
    private var listPolls = [ListPoll](repeating: ListPoll(), count: 3)
    struct ListPoll { var at = -Double.infinity; var empty = false; var processes: [GPUProcess] = [] }
    /// The GPU's used memory (with its MIG instances') at the last refresh, and when it
    /// last changed: a process starting or ending changes it.
    private var memorySignature: UInt64?
    private var memoryMovedAt = -Double.infinity
    private var refreshesSinceMove = 0
    enum MemoryState { case unknown, moving, still }
    private(set) var memoryState = MemoryState.unknown
    /// MIG mode and the management limit as last read, and when.
    private var slowFields: (migMode: MIGMode?, managementLimit: Int?, enforcedLimit: Int?, persistence: Bool?, computeMode: String?) = (nil, nil, nil, nil, nil)
    private var slowFieldsReadAt = -Double.infinity

    struct ProcessUtilization { var sm: Int, memory: Int, encoder: Int, decoder: Int }

    private struct MIGKey: Hashable { var slot: Int; var gi: Int?; var ci: Int? }

    init(index: Int, library: NVMLLibrary, schedule: NVMLSchedule) {
        self.index = index
        self.library = library
        self.schedule = schedule
        staticInfo = GPU(index: index)
        var h: nvmlDevice_t?
        let rc = library.handleByIndex(UInt32(index), &h)
        if rc == NVML_SUCCESS, let h {
            handle = h
            readStaticInfo(h)
        } else {
            // A GPU NVML counts but cannot open (lost, or no permission) is shown as lost.
            lost = true
            staticInfo.lost = true
        }
    }

    private func readStaticInfo(_ h: nvmlDevice_t) {
        staticInfo.name = NVMLSampler.readString(CNVML_DEVICE_NAME_BUFFER_SIZE) { library.name?(h, $0, $1) }
        staticInfo.uuid = NVMLSampler.readString(CNVML_DEVICE_UUID_BUFFER_SIZE) { library.uuid?(h, $0, $1) }
        if let f = library.minorNumber {
            var v: UInt32 = 0
            if f(h, &v) == NVML_SUCCESS { minorNumber = Int(v) }
        }
        if let f = library.pciInfo {
            var pci = nvmlPciInfo_t()
            if f(h, &pci) == NVML_SUCCESS {
                staticInfo.pciBusId = withUnsafeBytes(of: pci.busId) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
            }
        }
        if let f = library.powerManagementLimitConstraints {
            var lo: UInt32 = 0, hi: UInt32 = 0
            if f(h, &lo, &hi) == NVML_SUCCESS {
                staticInfo.powerLimitMin = Int(lo)
                staticInfo.powerLimitMax = Int(hi)
            }
        }
        if let f = library.powerManagementDefaultLimit {
            var v: UInt32 = 0
            if f(h, &v) == NVML_SUCCESS { staticInfo.powerLimitDefault = Int(v) }
        }
        if let f = library.maxMigDeviceCount {
            var v: UInt32 = 0
            if f(h, &v) == NVML_SUCCESS { maxMigDevices = Int(v) }
        }
    }

    /// Interprets one return code: true on success; marks the GPU lost or the
    /// field unsupported where that is what the code says.
    @discardableResult
    private func check(_ field: NVMLField, _ rc: nvmlReturn_t) -> Bool {
        if rc == NVML_SUCCESS { return true }
        if rc == NVML_ERROR_GPU_IS_LOST {
            lost = true
        } else if (rc == NVML_ERROR_NOT_SUPPORTED || rc == NVML_ERROR_FUNCTION_NOT_FOUND) {
            unsupported.insert(field)
        }
        return false
    }

    private func wanted(_ field: NVMLField) -> Bool { !lost && !unsupported.contains(field) }

    /// Reads a single unsigned value for `field`.
    private func readUInt(_ field: NVMLField, _ name: String, _ f: cnvml_device_uint_fn?, _ h: nvmlDevice_t) -> Int? {
        guard let f, wanted(field) else { return nil }
        var v: UInt32 = 0
        return check(field, clock.time(name) { f(h, &v) }) ? Int(v) : nil
    }

    private func readInt(_ field: NVMLField, _ name: String, _ f: cnvml_device_int_fn?, _ h: nvmlDevice_t) -> Int? {
        guard let f, wanted(field) else { return nil }
        var v: Int32 = 0
        return check(field, clock.time(name) { f(h, &v) }) ? Int(v) : nil
    }

    func sample(now: Double) -> (GPU, [GPUProcess]) {
        var gpu = staticInfo
        guard let h = handle, !lost else {
            gpu.lost = true
            return (gpu, [])
        }
        let lib = library
        let enforcedLimit = readUInt(.enforcedLimit, "nvmlDeviceGetEnforcedPowerLimit", lib.enforcedPowerLimit, h)
        if now - slowFieldsReadAt >= schedule.slowFieldPeriod || enforcedLimit != slowFields.enforcedLimit {
            slowFieldsReadAt = now
            slowFields = (nil, nil, enforcedLimit, nil, nil)
            if let f = lib.migMode, wanted(.migMode) {
                var current: UInt32 = 0, pending: UInt32 = 0
                if check(.migMode, clock.time("nvmlDeviceGetMigMode") { f(h, &current, &pending) }) {
                    slowFields.migMode = MIGMode(current: current == 1, pending: pending == 1)
                }
            }
            slowFields.managementLimit = readUInt(.managementLimit, "nvmlDeviceGetPowerManagementLimit", lib.powerManagementLimit, h)
            slowFields.persistence = readInt(.persistence, "nvmlDeviceGetPersistenceMode", lib.persistenceMode, h).map { $0 == 1 }
            slowFields.computeMode = readInt(.computeMode, "nvmlDeviceGetComputeMode", lib.computeMode, h).map(Self.computeModeName)
        }
        gpu.persistenceMode = slowFields.persistence
        gpu.computeMode = slowFields.computeMode
        gpu.migMode = slowFields.migMode
        gpu.powerLimitEnforced = enforcedLimit
        gpu.powerLimit = slowFields.managementLimit
        if let f = lib.utilization, wanted(.utilization) {
            var u = nvmlUtilization_t()
            // On a MIG GPU this answers NOT_SUPPORTED: the field stays nil ("n/a"), never 0.
            if check(.utilization, clock.time("nvmlDeviceGetUtilizationRates") { f(h, &u) }) {
                gpu.utilizationGpu = Int(u.gpu)
                gpu.utilizationMemory = Int(u.memory)
            }
        }
        readMemory(h, into: &gpu)
        if let f = lib.temperature, wanted(.temperature) {
            var v: UInt32 = 0
            if check(.temperature, clock.time("nvmlDeviceGetTemperature") { f(h, CNVML_TEMPERATURE_GPU, &v) }) { gpu.temperature = Int(v) }
        }
        gpu.fanSpeed = readUInt(.fan, "nvmlDeviceGetFanSpeed", lib.fanSpeed, h)
        if let f = lib.clockInfo {
            if wanted(.clockSM) {
                var v: UInt32 = 0
                if check(.clockSM, clock.time("nvmlDeviceGetClockInfo (SM)") { f(h, CNVML_CLOCK_SM, &v) }) { gpu.clockSM = Int(v) }
            }
            if wanted(.clockMemory) {
                var v: UInt32 = 0
                if check(.clockMemory, clock.time("nvmlDeviceGetClockInfo (memory)") { f(h, CNVML_CLOCK_MEM, &v) }) { gpu.clockMemory = Int(v) }
            }
        }
        if let p = readInt(.pstate, "nvmlDeviceGetPerformanceState", lib.performanceState, h), p >= 0, p <= 15 { gpu.performanceState = p }
        gpu.powerDraw = readUInt(.power, "nvmlDeviceGetPowerUsage", lib.powerUsage, h)
        if schedule.energy, let f = lib.totalEnergy, wanted(.energy) {
            var v: UInt64 = 0
            if check(.energy, clock.time("nvmlDeviceGetTotalEnergyConsumption") { f(h, &v) }) { gpu.energyTotal = v }
        }
        if let f = lib.encoderUtilization, wanted(.encoder) {
            var v: UInt32 = 0, period: UInt32 = 0
            if check(.encoder, clock.time("nvmlDeviceGetEncoderUtilization") { f(h, &v, &period) }) { gpu.encoderUtilization = Int(v) }
        }
        if let f = lib.decoderUtilization, wanted(.decoder) {
            var v: UInt32 = 0, period: UInt32 = 0
            if check(.decoder, clock.time("nvmlDeviceGetDecoderUtilization") { f(h, &v, &period) }) { gpu.decoderUtilization = Int(v) }
        }
        if gpu.migMode?.current == true { gpu.migDevices = readMIGDevices(h) }

        noteMemory(gpu, now: now)
        var processes: [GPUProcess] = []
        pollProcesses(.compute, lib.computeProcesses, .computeProcesses, h, now: now, into: &processes)
        pollProcesses(.graphics, lib.graphicsProcesses, .graphicsProcesses, h, now: now, into: &processes)
        pollProcesses(.mps, lib.mpsProcesses, .mpsProcesses, h, now: now, into: &processes)
        attachProcessUtilization(h, now: now, to: &processes)
        if lost {
            // Lost during this refresh: report it, and nothing half-read.
            var marked = staticInfo
            marked.lost = true
            return (marked, [])
        }
        return (gpu, processes)
    }

    /// Whether the GPU's used memory (and its MIG instances') moved since the last
    /// refresh; unknown when the GPU or an instance does not say.
    private func noteMemory(_ gpu: GPU, now: Double) {
        var signature = gpu.memoryUsed
        for d in gpu.migDevices {
            guard let used = d.memoryUsed, let sum = signature else { signature = nil; break }
            signature = sum &* 31 &+ used
        }
        if signature == nil || signature != memorySignature {
            memoryMovedAt = now
            refreshesSinceMove = 0
        } else {
            refreshesSinceMove &+= 1
        }
        memorySignature = signature
        // Moving: the refresh that saw the change and the one after it, whatever the
        // interval, and every refresh within `settleSeconds` of it.
        let moving = refreshesSinceMove <= 1 || now - memoryMovedAt < schedule.settleSeconds
        memoryState = signature == nil ? .unknown : (moving ? .moving : .still)
    }

    /// One process list, asked when due (NVMLSchedule.processListPeriod), else taken as it
    /// was: each call costs the driver per context on the GPU, empty or not (2.5 ms for
    /// the compute list with 64 processes on an H200), while a process cannot start or
    /// end without the used memory moving. Where used memory is unknown the compute
    /// list is asked every refresh, the others every refresh while they list processes.
    private func pollProcesses(_ kind: ProcessKind, _ fn: ProcessListFunction?, _ field: NVMLField,
                               _ h: nvmlDevice_t, now: Double, into out: inout [GPUProcess]) {
        let slot = Self.pollSlot(kind)
        let poll = listPolls[slot]
        let due: Bool
        switch memoryState {
        case .moving: due = true
        case .still: due = now - poll.at >= (poll.empty ? schedule.emptyProcessListPeriod : schedule.processListPeriod)
        case .unknown: due = kind == .compute || !poll.empty || now - poll.at >= schedule.emptyProcessListPeriod
        }
        guard due else {
            out += poll.processes
            return
        }
        var listed: [GPUProcess] = []
        // A failed read is not "empty": asked again at the next refresh, and lists nothing now.
        listPolls[slot] = readProcesses(kind, fn, field, h, into: &listed)
            ? ListPoll(at: now, empty: listed.isEmpty, processes: listed) : ListPoll()
        out += listed
    }

    private static func pollSlot(_ kind: ProcessKind) -> Int {
        switch kind {
        case .compute: return 0
        case .graphics: return 1
        case .mps: return 2
        }
    }

    /// What the schedule does with each process list now, for `gpuctop profile`.
    var listSchedule: [(kind: ProcessKind, empty: Bool, read: Bool)] {
        [ProcessKind.compute, .graphics, .mps].enumerated().map { i, kind in
            (kind, listPolls[i].empty, listPolls[i].at > -Double.infinity)
        }
    }

    /// Per-process utilisation: read every `processUtilizationPeriod` (a timed read,
    /// averaging the driver's samples since the last timed read: a process with no
    /// sample in a whole period did no work), and at once when a process is new (a
    /// read that fills in only the newcomers: a shorter window says nothing of the
    /// others). Between reads, and when a read fails, every process keeps its last
    /// figures, so the shown SM% (and the power share made from it) holds steady.
    private func attachProcessUtilization(_ h: nvmlDevice_t, now: Double, to processes: inout [GPUProcess]) {
        guard !processes.isEmpty else {
            processUtilization = [:]
            return
        }
        let newcomer = processes.contains { processUtilization[UInt32(bitPattern: $0.pid)] == nil }
        let due = now - processUtilizationReadAt >= schedule.processUtilizationPeriod
        if newcomer || due {
            if due { processUtilizationReadAt = now }  // also after a failure: retried next period
            let samples = readProcessUtilization(h, advance: due)
            let idle = ProcessUtilization(sm: 0, memory: 0, encoder: 0, decoder: 0)
            var fresh: [UInt32: ProcessUtilization?] = [:]
            fresh.reserveCapacity(processes.count)
            for p in processes {
                let pid = UInt32(bitPattern: p.pid)
                let last: ProcessUtilization? = processUtilization[pid] ?? nil
                if let samples {
                    fresh[pid] = due ? (samples[pid] ?? idle) : (last ?? samples[pid] ?? idle)
                } else {
                    fresh[pid] = .some(last)  // seen, so not a newcomer again at the next refresh
                }
            }
            processUtilization = wanted(.processUtilization) ? fresh : [:]
        }
        for i in processes.indices {
            guard let known = processUtilization[UInt32(bitPattern: processes[i].pid)], let u = known else { continue }
            processes[i].smUtilization = u.sm
            processes[i].memoryUtilization = u.memory
            processes[i].encoderUtilization = u.encoder
            processes[i].decoderUtilization = u.decoder
        }
    }

    static func computeModeName(_ v: Int) -> String {
        switch v {
        case 0: return "default"
        case 1: return "exclusive_thread"
        case 2: return "prohibited"
        case 3: return "exclusive_process"
        default: return "unknown(\(v))"
        }
    }

    /// Memory through the versioned v2 struct (reserved apart), else v1.
    private func readMemory(_ h: nvmlDevice_t, into gpu: inout GPU) {
        guard wanted(.memory), let fn = library.memoryInfo else { return }
        if case .v2(let f) = fn, !memoryUsesV1 {
            var m = nvmlMemory_v2_t()
            m.version = cnvml_memory_v2_version()
            let rc = clock.time("nvmlDeviceGetMemoryInfo_v2") { f(h, &m) }
            if rc == NVML_SUCCESS {
                gpu.memoryTotal = m.total
                gpu.memoryReserved = m.reserved
                gpu.memoryUsed = m.used
                gpu.memoryFree = m.free
                return
            }
            // An older driver that exports _v2 but rejects the struct version: use v1 from now on.
            guard rc == NVML_ERROR_ARGUMENT_VERSION_MISMATCH || rc == NVML_ERROR_NOT_SUPPORTED,
                  library.memoryInfoV1 != nil else {
                check(.memory, rc)
                return
            }
            memoryUsesV1 = true
        }
        guard let f = library.memoryInfoV1 else { return }
        var m = nvmlMemory_t()
        if check(.memory, clock.time("nvmlDeviceGetMemoryInfo") { f(h, &m) }) {
            gpu.memoryTotal = m.total
            gpu.memoryUsed = m.used
            gpu.memoryFree = m.free
        }
    }

    /// Appends the processes of one kind, growing the kept buffer while NVML
    /// answers INSUFFICIENT_SIZE (the list can grow between two calls). False when
    /// the list could not be read.
    @discardableResult
    private func readProcesses(_ kind: ProcessKind, _ fn: ProcessListFunction?, _ field: NVMLField,
                               _ h: nvmlDevice_t, into out: inout [GPUProcess]) -> Bool {
        guard let fn, wanted(field) else { return false }
        for _ in 0..<8 {
            var count = UInt32(0)
            let rc: nvmlReturn_t
            switch fn {
            case .withInstanceIds(let f):
                count = UInt32(processBuffer.count)
                rc = clock.time(Self.listCallName(kind)) { processBuffer.withUnsafeMutableBufferPointer { f(h, &count, $0.baseAddress) } }
                if rc == NVML_SUCCESS {
                    for info in processBuffer.prefix(Int(count)) {
                        var p = GPUProcess(pid: Int32(bitPattern: info.pid), gpuIndex: index, kind: kind)
                        p.usedGpuMemory = info.usedGpuMemory == valueNotAvailable ? nil : info.usedGpuMemory
                        p.gpuInstanceId = info.gpuInstanceId == CNVML_NO_INSTANCE_ID ? nil : Int(info.gpuInstanceId)
                        p.computeInstanceId = info.computeInstanceId == CNVML_NO_INSTANCE_ID ? nil : Int(info.computeInstanceId)
                        out.append(p)
                    }
                    return true
                }
                if rc == NVML_ERROR_INSUFFICIENT_SIZE {
                    processBuffer = Array(repeating: nvmlProcessInfo_t(), count: Self.grown(needed: count, had: processBuffer.count))
                    continue
                }
            case .v1(let f):
                if processBufferV1.isEmpty { processBufferV1 = Array(repeating: nvmlProcessInfo_v1_t(), count: 128) }
                count = UInt32(processBufferV1.count)
                rc = clock.time(Self.listCallName(kind)) { processBufferV1.withUnsafeMutableBufferPointer { f(h, &count, $0.baseAddress) } }
                if rc == NVML_SUCCESS {
                    for info in processBufferV1.prefix(Int(count)) {
                        var p = GPUProcess(pid: Int32(bitPattern: info.pid), gpuIndex: index, kind: kind)
                        p.usedGpuMemory = info.usedGpuMemory == valueNotAvailable ? nil : info.usedGpuMemory
                        out.append(p)
                    }
                    return true
                }
                if rc == NVML_ERROR_INSUFFICIENT_SIZE {
                    processBufferV1 = Array(repeating: nvmlProcessInfo_v1_t(), count: Self.grown(needed: count, had: processBufferV1.count))
                    continue
                }
            }
            check(field, rc)
            return false
        }
        return false
    }

    static func listCallName(_ kind: ProcessKind) -> String {
        switch kind {
        case .compute: return "nvmlDeviceGetComputeRunningProcesses"
        case .graphics: return "nvmlDeviceGetGraphicsRunningProcesses"
        case .mps: return "nvmlDeviceGetMPSComputeRunningProcesses"
        }
    }

    /// A new capacity: what NVML asked for plus headroom, and always more than before.
    static func grown(needed: UInt32, had: Int) -> Int {
        let n = Int(needed)
        return max(n + n / 4 + 4, had * 2, 8)
    }

    /// Per-process utilisation since the last timed read: the mean of the driver's
    /// samples newer than the last one seen, per PID. nil when the call is unavailable
    /// or fails; empty when nothing ran since. `advance`: a timed read, after which the
    /// next one starts from its newest sample.
    private func readProcessUtilization(_ h: nvmlDevice_t, advance: Bool) -> [UInt32: ProcessUtilization]? {
        guard let f = library.processUtilization, wanted(.processUtilization) else { return nil }
        for _ in 0..<4 {
            var count = UInt32(utilizationBuffer.count)
            let since = lastUtilizationTimestamp
            let rc = clock.time("nvmlDeviceGetProcessUtilization") { utilizationBuffer.withUnsafeMutableBufferPointer { f(h, $0.baseAddress, &count, since) } }
            if rc == NVML_SUCCESS {
                var sums: [UInt32: (sm: UInt64, memory: UInt64, encoder: UInt64, decoder: UInt64, n: UInt64)] = [:]
                var newest = since
                for s in utilizationBuffer.prefix(Int(count)) where s.timeStamp > since {
                    sums[s.pid, default: (0, 0, 0, 0, 0)].sm += UInt64(s.smUtil)
                    sums[s.pid]!.memory += UInt64(s.memUtil)
                    sums[s.pid]!.encoder += UInt64(s.encUtil)
                    sums[s.pid]!.decoder += UInt64(s.decUtil)
                    sums[s.pid]!.n += 1
                    newest = max(newest, s.timeStamp)
                }
                if advance { lastUtilizationTimestamp = newest }
                return sums.mapValues { t in
                    ProcessUtilization(sm: Int((t.sm + t.n / 2) / t.n), memory: Int((t.memory + t.n / 2) / t.n),
                                       encoder: Int((t.encoder + t.n / 2) / t.n), decoder: Int((t.decoder + t.n / 2) / t.n))
                }
            }
            if rc == NVML_ERROR_NOT_FOUND { return [:] }
            if rc == NVML_ERROR_INSUFFICIENT_SIZE {
                // The driver may ask for far more than there are processes (72 for 4 on
                // an H200 with driver 580): size the buffer from its answer, once.
                utilizationBuffer = Array(repeating: nvmlProcessUtilizationSample_t(),
                                          count: Self.grown(needed: count, had: utilizationBuffer.count))
                continue
            }
            check(.processUtilization, rc)
            return nil
        }
        return nil
    }

    /// Every MIG device of a MIG-enabled GPU. All slots are visited each refresh,
    /// since instances come and go; empty slots answer NOT_FOUND.
    private func readMIGDevices(_ h: nvmlDevice_t) -> [MIGDevice] {
        guard let handleAt = library.migDeviceHandle, maxMigDevices > 0 else { return [] }
        var result: [MIGDevice] = []
        for slot in 0..<maxMigDevices {
            var mh: nvmlDevice_t?
            let rc = handleAt(h, UInt32(slot), &mh)
            if rc == NVML_ERROR_GPU_IS_LOST { lost = true; return [] }
            guard rc == NVML_SUCCESS, let mh else { continue }
            var gi: Int?, ci: Int?
            if let f = library.gpuInstanceId {
                var v: UInt32 = 0
                if f(mh, &v) == NVML_SUCCESS { gi = Int(v) }
            }
            if let f = library.computeInstanceId {
                var v: UInt32 = 0
                if f(mh, &v) == NVML_SUCCESS { ci = Int(v) }
            }
            let key = MIGKey(slot: slot, gi: gi, ci: ci)
            var device: MIGDevice
            if let known = migStatic[key] {
                device = known
            } else {
                device = readMIGStatic(mh, slot: slot)
                device.gpuInstanceId = gi
                device.computeInstanceId = ci
                migStatic[key] = device
            }
            device.memoryUsed = readMIGMemoryUsed(mh)
            result.append(device)
        }
        return result
    }

    private func readMIGStatic(_ mh: nvmlDevice_t, slot: Int) -> MIGDevice {
        var d = MIGDevice(index: slot)
        d.name = NVMLSampler.readString(CNVML_DEVICE_NAME_BUFFER_SIZE) { library.name?(mh, $0, $1) }
        d.uuid = NVMLSampler.readString(CNVML_DEVICE_UUID_BUFFER_SIZE) { library.uuid?(mh, $0, $1) }
        if let f = library.attributes {
            var a = nvmlDeviceAttributes_t()
            if f(mh, &a) == NVML_SUCCESS {
                d.gpuInstanceSlices = Int(a.gpuInstanceSliceCount)
                d.computeInstanceSlices = Int(a.computeInstanceSliceCount)
                d.multiprocessors = Int(a.multiprocessorCount)
                d.memoryTotal = a.memorySizeMB.multipliedReportingOverflow(by: 1 << 20).partialValue
            }
        }
        return d
    }

    private func readMIGMemoryUsed(_ mh: nvmlDevice_t) -> UInt64? {
        if case .v2(let f) = library.memoryInfo, !memoryUsesV1 {
            var m = nvmlMemory_v2_t()
            m.version = cnvml_memory_v2_version()
            if f(mh, &m) == NVML_SUCCESS { return m.used }
        }
        if let f = library.memoryInfoV1 {
            var m = nvmlMemory_t()
            if f(mh, &m) == NVML_SUCCESS { return m.used }
        }
        return nil
    }
}
