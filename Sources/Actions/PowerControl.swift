// Reading and setting GPU power limits through NVML.
//
// A limit is only ever set after checking it against the GPU's own constraints
// (nvmlDeviceGetPowerManagementLimitConstraints, read fresh each time): a value outside
// min..max is refused with the range, never clamped. After a set the limit is read back,
// so the caller reports what the driver enforces, not what was asked. For `all`, every
// GPU is planned and checked first and nothing is set when any of them would be out of
// range. A limit set this way lasts until the driver is reloaded or the machine reboots.
import CNVML
import FoundationEssentials
import Glibc
import Model
import Telemetry

/// One planned change, checked against the GPU's range.
public struct PowerChange: Equatable, Sendable {
    public var gpu: Int
    public var name: String?
    public var uuid: String?
    /// The power-management limit before (nil when it could not be read).
    public var previousLimit: Int?
    /// The limit to set, in milliwatts.
    public var newLimit: Int
    public var minLimit: Int
    public var maxLimit: Int

    /// "GPU 0 (NVIDIA H200)".
    public var label: String { PowerFormat.gpuLabel(gpu: gpu, name: name) }
}

/// A limit that was set, with what the driver reports afterwards.
public struct PowerSetResult: Equatable, Sendable {
    public var change: PowerChange
    /// The power-management limit read back.
    public var limit: Int?
    /// The enforced limit read back.
    public var enforced: Int?
}

/// One GPU whose range does not admit the requested limit.
public struct PowerRangeViolation: Equatable, Sendable {
    public var gpu: Int
    public var name: String?
    public var requested: Int
    public var minLimit: Int
    public var maxLimit: Int
}

public enum PowerControlError: Error, Equatable, CustomStringConvertible {
    /// NVML_ERROR_NO_PERMISSION on the set.
    case noPermission(gpu: Int)
    /// NOT_SUPPORTED on the set or the constraints, or a library without the set call.
    case notSupported(gpu: Int)
    /// Outside the range of one or more GPUs; nothing was set.
    case outOfRange([PowerRangeViolation])
    /// `default` or a percentage, but the GPU does not report its default limit.
    case noDefault(gpu: Int)
    case noSuchGPU(index: Int, count: Int)
    case gpuLost(gpu: Int)
    /// Any other NVML error, with what we were doing.
    case nvml(gpu: Int, operation: String, code: UInt32, message: String)

    /// True when nothing was tried because the request itself was refused (exit status 3).
    public var isRefusal: Bool {
        if case .outOfRange = self { return true }
        return false
    }

    /// The GPU concerned, when there is one.
    public var gpu: Int? {
        switch self {
        case .noPermission(let g), .notSupported(let g), .noDefault(let g), .gpuLost(let g): return g
        case .nvml(let g, _, _, _): return g
        case .noSuchGPU(let i, _): return i
        case .outOfRange(let v): return v.count == 1 ? v[0].gpu : nil
        }
    }

    public var description: String {
        switch self {
        case .noPermission(let g):
            return "GPU \(g): setting a power limit needs root"
        case .notSupported(let g):
            return "GPU \(g): this GPU does not allow changing its power limit"
        case .outOfRange(let violations):
            let parts = violations.map {
                "\(PowerFormat.gpuLabel(gpu: $0.gpu, name: $0.name)): \(PowerFormat.watts($0.requested)) is outside its range \(PowerFormat.range($0.minLimit, $0.maxLimit))"
            }
            return parts.joined(separator: "; ") + "; nothing was set"
        case .noDefault(let g):
            return "GPU \(g): the GPU does not report a default power limit"
        case .noSuchGPU(let i, let count):
            return count == 0 ? "no GPU \(i): NVML reports no GPUs" : "no GPU \(i): the GPUs are 0..\(count - 1)"
        case .gpuLost(let g):
            return "GPU \(g) has fallen off the bus (GPU_IS_LOST)"
        case .nvml(let g, let operation, let code, let message):
            return "GPU \(g): \(operation) failed: \(message) (NVML error \(code))"
        }
    }
}

/// Reads and sets power limits on the GPUs of an NVMLSampler (the dashboard's own, or one
/// opened for a command). Calls go straight to NVML; nothing is cached, so every reading
/// and every range check is current.
///
/// Thread-safety: the device handles are taken from the sampler once, at init, and NVML
/// itself is thread-safe, so a PowerControl may be used from another thread than the one
/// sampling (the dashboard's UI thread), one call at a time.
public final class PowerControl {
    public let sampler: NVMLSampler
    private let library: NVMLLibrary
    /// Per GPU index; nil for a GPU that was already lost (later losses answer GPU_IS_LOST).
    private let handles: [nvmlDevice_t?]

    public init(sampler: NVMLSampler) {
        self.sampler = sampler
        library = sampler.library
        handles = (0..<sampler.gpuCount).map { sampler.handle(ofGPU: $0) }
    }

    private func handle(_ index: Int) -> nvmlDevice_t? {
        index >= 0 && index < handles.count ? handles[index] : nil
    }

    /// Loads NVML from `nvmlPath` (nil: the default library), initialises it and lists the GPUs.
    public static func open(nvmlPath: String?) throws(NVMLLoadError) -> PowerControl {
        let library = try NVMLLibrary(path: nvmlPath ?? NVMLLibrary.defaultPath)
        return PowerControl(sampler: try NVMLSampler(library: library))
    }

    public var gpuCount: Int { handles.count }

    /// False when the loaded library lacks nvmlDeviceSetPowerManagementLimit.
    public var canSetLimits: Bool { library.setPowerManagementLimit != nil }

    // MARK: - Reading

    /// Every GPU's power figures.
    public func readings() -> [PowerReading] {
        (0..<gpuCount).map { reading(gpu: $0) }
    }

    /// One GPU's power figures; a lost or unknown GPU gives `lost` and nothing else.
    public func reading(gpu index: Int) -> PowerReading {
        var r = PowerReading(index: index)
        guard let h = handle(index) else {
            r.lost = true
            return r
        }
        let lib = library
        r.name = NVMLSampler.readString(CNVML_DEVICE_NAME_BUFFER_SIZE) { lib.name?(h, $0, $1) }
        r.uuid = NVMLSampler.readString(CNVML_DEVICE_UUID_BUFFER_SIZE) { lib.uuid?(h, $0, $1) }
        var lost = false
        func value(_ result: Result<Int, NVMLCode>) -> Int? {
            switch result {
            case .success(let v): return v
            case .failure(let code):
                if code.rc == NVML_ERROR_GPU_IS_LOST { lost = true }
                return nil
            }
        }
        r.powerDraw = value(readUInt(lib.powerUsage, h))
        r.powerLimit = value(readUInt(lib.powerManagementLimit, h))
        r.powerLimitEnforced = value(readUInt(lib.enforcedPowerLimit, h))
        r.powerLimitDefault = value(readUInt(lib.powerManagementDefaultLimit, h))
        switch readConstraints(h) {
        case .success(let range):
            r.powerLimitMin = range.min
            r.powerLimitMax = range.max
        case .failure(let code):
            if code.rc == NVML_ERROR_GPU_IS_LOST { lost = true }
        }
        if lost {
            // Fell off the bus during this reading: report that, and nothing half-read.
            var gone = PowerReading(index: index)
            gone.lost = true
            return gone
        }
        return r
    }

    // MARK: - Planning

    /// Works out and checks the change for every targeted GPU without setting anything (a
    /// dry run is exactly this). Throws `.outOfRange` naming every GPU that would be out of
    /// its range, or the first other problem.
    public func plan(_ target: PowerTarget, _ setting: PowerSetting) throws(PowerControlError) -> [PowerChange] {
        let indices: [Int]
        switch target {
        case .gpu(let i):
            guard i >= 0, i < gpuCount else { throw .noSuchGPU(index: i, count: gpuCount) }
            indices = [i]
        case .all:
            indices = Array(0..<gpuCount)
        }
        var changes: [PowerChange] = []
        var violations: [PowerRangeViolation] = []
        for i in indices {
            let change = try candidate(gpu: i, setting: setting)
            if change.newLimit < change.minLimit || change.newLimit > change.maxLimit {
                violations.append(PowerRangeViolation(gpu: i, name: change.name, requested: change.newLimit,
                                                      minLimit: change.minLimit, maxLimit: change.maxLimit))
            }
            changes.append(change)
        }
        if !violations.isEmpty { throw .outOfRange(violations) }
        return changes
    }

    /// The change for one GPU, with its current range; not yet checked against it.
    private func candidate(gpu index: Int, setting: PowerSetting) throws(PowerControlError) -> PowerChange {
        guard let h = handle(index) else { throw .gpuLost(gpu: index) }
        guard canSetLimits else { throw .notSupported(gpu: index) }
        let lib = library
        let range: (min: Int, max: Int)
        switch readConstraints(h) {
        case .success(let r): range = r
        case .failure(let rc): throw error(rc, gpu: index, operation: "reading the power limit range")
        }
        let mw: Int
        switch setting {
        case .milliwatts(let v):
            mw = v
        case .defaultLimit, .percentOfDefault:
            let defaultLimit: Int
            switch readUInt(lib.powerManagementDefaultLimit, h) {
            case .success(let v): defaultLimit = v
            case .failure(let rc):
                if rc.rc == NVML_ERROR_NOT_SUPPORTED || rc.rc == NVML_ERROR_FUNCTION_NOT_FOUND { throw .noDefault(gpu: index) }
                throw error(rc, gpu: index, operation: "reading the default power limit")
            }
            if case .percentOfDefault(let p) = setting {
                mw = Int((Double(defaultLimit) * p / 100).rounded())
            } else {
                mw = defaultLimit
            }
        }
        let name = NVMLSampler.readString(CNVML_DEVICE_NAME_BUFFER_SIZE) { lib.name?(h, $0, $1) }
        let uuid = NVMLSampler.readString(CNVML_DEVICE_UUID_BUFFER_SIZE) { lib.uuid?(h, $0, $1) }
        let previous = try? readUInt(lib.powerManagementLimit, h).get()
        return PowerChange(gpu: index, name: name, uuid: uuid, previousLimit: previous, newLimit: mw,
                           minLimit: range.min, maxLimit: range.max)
    }

    // MARK: - Setting

    /// Sets one planned change: checks the range again (read fresh), calls
    /// nvmlDeviceSetPowerManagementLimit, and reads the limits back. On any error nothing
    /// was changed.
    public func apply(_ change: PowerChange) throws(PowerControlError) -> PowerSetResult {
        let index = change.gpu
        guard let h = handle(index) else { throw .gpuLost(gpu: index) }
        guard let set = library.setPowerManagementLimit else { throw .notSupported(gpu: index) }
        let range: (min: Int, max: Int)
        switch readConstraints(h) {
        case .success(let r): range = r
        case .failure(let rc): throw error(rc, gpu: index, operation: "reading the power limit range")
        }
        guard change.newLimit >= range.min, change.newLimit <= range.max, change.newLimit <= Int(UInt32.max) else {
            throw .outOfRange([PowerRangeViolation(gpu: index, name: change.name, requested: change.newLimit,
                                                   minLimit: range.min, maxLimit: range.max)])
        }
        let rc = set(h, UInt32(change.newLimit))
        guard rc == NVML_SUCCESS else {
            if rc == NVML_ERROR_INVALID_ARGUMENT {
                throw .nvml(gpu: index, operation: "setting the power limit to \(PowerFormat.watts(change.newLimit))",
                            code: rc.rawValue, message: library.errorString(rc))
            }
            throw error(rc, gpu: index, operation: "setting the power limit")
        }
        var result = PowerSetResult(change: change)
        result.limit = try? readUInt(library.powerManagementLimit, h).get()
        result.enforced = try? readUInt(library.enforcedPowerLimit, h).get()
        return result
    }

    /// Plans and sets one GPU's limit.
    @discardableResult
    public func set(gpu index: Int, _ setting: PowerSetting) throws(PowerControlError) -> PowerSetResult {
        let changes = try plan(.gpu(index), setting)
        return try apply(changes[0])
    }

    // MARK: - NVML plumbing

    private func readUInt(_ f: cnvml_device_uint_fn?, _ h: nvmlDevice_t) -> Result<Int, NVMLCode> {
        guard let f else { return .failure(NVMLCode(NVML_ERROR_FUNCTION_NOT_FOUND)) }
        var v: UInt32 = 0
        let rc = f(h, &v)
        return rc == NVML_SUCCESS ? .success(Int(v)) : .failure(NVMLCode(rc))
    }

    private func readConstraints(_ h: nvmlDevice_t) -> Result<(min: Int, max: Int), NVMLCode> {
        guard let f = library.powerManagementLimitConstraints else { return .failure(NVMLCode(NVML_ERROR_FUNCTION_NOT_FOUND)) }
        var lo: UInt32 = 0, hi: UInt32 = 0
        let rc = f(h, &lo, &hi)
        return rc == NVML_SUCCESS ? .success((Int(lo), Int(hi))) : .failure(NVMLCode(rc))
    }

    private func error(_ code: NVMLCode, gpu: Int, operation: String) -> PowerControlError {
        error(code.rc, gpu: gpu, operation: operation)
    }

    private func error(_ rc: nvmlReturn_t, gpu: Int, operation: String) -> PowerControlError {
        switch rc {
        case NVML_ERROR_NO_PERMISSION: return .noPermission(gpu: gpu)
        case NVML_ERROR_NOT_SUPPORTED, NVML_ERROR_FUNCTION_NOT_FOUND: return .notSupported(gpu: gpu)
        case NVML_ERROR_GPU_IS_LOST: return .gpuLost(gpu: gpu)
        default: return .nvml(gpu: gpu, operation: operation, code: rc.rawValue, message: library.errorString(rc))
        }
    }
}

/// An NVML return code as an Error, for Result.
struct NVMLCode: Error {
    let rc: nvmlReturn_t
    init(_ rc: nvmlReturn_t) { self.rc = rc }
}
