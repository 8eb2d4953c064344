// Opens libnvidia-ml with dlopen and resolves the symbols we use, newest first.
//
// gpuctop never links NVML: a host without the driver must still start and show
// its containers. Each entry point is looked up by a list of names, newest ABI
// first (`_v3` -> `_v2` -> v1, as nvtop does); a symbol that no name resolves is
// nil and the field it serves becomes "not available". Only nvmlInit and the
// device enumeration calls are required.
import CNVML
import Glibc

/// Why NVML is not usable; the description is one line for the header/stderr.
public enum NVMLLoadError: Error, CustomStringConvertible, Equatable {
    case libraryNotFound(path: String, detail: String)
    case missingSymbol(String)
    case initFailed(code: UInt32, message: String)

    public var description: String {
        switch self {
        case .libraryNotFound(let path, let detail):
            return "no NVIDIA driver: cannot load \(path) (\(detail))"
        case .missingSymbol(let name):
            return "NVML library lacks \(name); is it really libnvidia-ml?"
        case .initFailed(let code, let message):
            if code == NVML_ERROR_DRIVER_NOT_LOADED.rawValue {
                return "NVIDIA driver not loaded (nvmlInit: \(message))"
            }
            if code == NVML_ERROR_NO_PERMISSION.rawValue {
                return "no permission to open the NVIDIA device files (nvmlInit: \(message))"
            }
            return "nvmlInit failed: \(message) (code \(code))"
        }
    }
}

/// The process-list entry points come in two layouts: v1 without MIG ids, and
/// v2/v3 with them.
public enum ProcessListFunction {
    case withInstanceIds(cnvml_processes_fn)
    case v1(cnvml_processes_v1_fn)
}

public enum MemoryInfoFunction {
    case v2(cnvml_memory_v2_fn)
    case v1(cnvml_memory_v1_fn)
}

/// The resolved NVML entry points. Immutable after `open`, so any thread may call
/// through it (NVML itself is thread-safe).
public final class NVMLLibrary: @unchecked Sendable {
    public let path: String
    /// Which name each entry point resolved to, for diagnostics and tests.
    public let resolved: [String: String]

    private let handle: UnsafeMutableRawPointer
    public let initialize: cnvml_void_fn
    public let shutdownFn: cnvml_void_fn?
    public let errorStringFn: cnvml_error_string_fn?
    public let driverVersion: cnvml_string_fn?
    public let cudaDriverVersion: cnvml_int_out_fn?
    public let deviceCount: cnvml_uint_out_fn
    public let handleByIndex: cnvml_handle_by_index_fn
    public let name: cnvml_device_string_fn?
    public let uuid: cnvml_device_string_fn?
    /// N of the GPU's /dev/nvidiaN: how OCI specs name a GPU they hold.
    public let minorNumber: cnvml_device_uint_fn?
    public let pciInfo: cnvml_pci_fn?
    public let utilization: cnvml_utilization_fn?
    public let memoryInfo: MemoryInfoFunction?
    public let memoryInfoV1: cnvml_memory_v1_fn?
    public let temperature: cnvml_device_sensor_fn?
    public let fanSpeed: cnvml_device_uint_fn?
    public let clockInfo: cnvml_device_sensor_fn?
    public let performanceState: cnvml_device_int_fn?
    public let powerUsage: cnvml_device_uint_fn?
    public let enforcedPowerLimit: cnvml_device_uint_fn?
    public let powerManagementLimit: cnvml_device_uint_fn?
    public let powerManagementDefaultLimit: cnvml_device_uint_fn?
    public let powerManagementLimitConstraints: cnvml_device_uint_uint_fn?
    public let totalEnergy: cnvml_device_ull_fn?
    public let persistenceMode: cnvml_device_int_fn?
    public let computeMode: cnvml_device_int_fn?
    public let encoderUtilization: cnvml_device_uint_uint_fn?
    public let decoderUtilization: cnvml_device_uint_uint_fn?
    public let computeProcesses: ProcessListFunction?
    public let graphicsProcesses: ProcessListFunction?
    public let mpsProcesses: ProcessListFunction?
    public let processUtilization: cnvml_process_utilization_fn?
    /// The newer per-process call (drivers 550+); only timed by NVMLProbe for now.
    public let processesUtilizationInfo: cnvml_processes_utilization_info_fn?
    public let migMode: cnvml_device_uint_uint_fn?
    public let maxMigDeviceCount: cnvml_device_uint_fn?
    public let migDeviceHandle: cnvml_mig_handle_fn?
    public let gpuInstanceId: cnvml_device_uint_fn?
    public let computeInstanceId: cnvml_device_uint_fn?
    public let attributes: cnvml_attributes_fn?
    public let setPowerManagementLimit: cnvml_device_set_uint_fn?
    /// Throttle reasons, violation time, ECC, row remapping and XID events (NVMLHealth.swift).
    public let health: NVMLHealthSymbols
    /// GPU Performance Monitoring (NVMLGPM.swift).
    public let gpm: NVMLGPMSymbols

    /// The library name the dynamic loader finds on every driver install.
    public static let defaultPath = "libnvidia-ml.so.1"

    /// Loads the library and resolves symbols; does not call nvmlInit.
    public init(path: String = NVMLLibrary.defaultPath) throws(NVMLLoadError) {
        self.path = path
        // RTLD_LOCAL: NVML's symbols must not satisfy anything else in our process.
        guard let h = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let detail = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw .libraryNotFound(path: path, detail: NVMLLibrary.shorten(detail, path: path))
        }
        handle = h
        var names: [String: String] = [:]
        func lookup<T>(_ role: String, _ candidates: [String], as type: T.Type) -> T? {
            for candidate in candidates {
                if let p = dlsym(h, candidate) {
                    names[role] = candidate
                    return unsafeBitCast(p, to: type)
                }
            }
            return nil
        }
        func processList(_ base: String) -> ProcessListFunction? {
            if let f = lookup(base, [base + "_v3", base + "_v2"], as: cnvml_processes_fn.self) {
                return .withInstanceIds(f)
            }
            return lookup(base, [base], as: cnvml_processes_v1_fn.self).map { .v1($0) }
        }

        guard let initialize = lookup("init", ["nvmlInit_v2", "nvmlInit"], as: cnvml_void_fn.self) else {
            dlclose(h); throw .missingSymbol("nvmlInit_v2")
        }
        guard let count = lookup("deviceCount", ["nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"], as: cnvml_uint_out_fn.self) else {
            dlclose(h); throw .missingSymbol("nvmlDeviceGetCount_v2")
        }
        guard let byIndex = lookup("handleByIndex", ["nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"], as: cnvml_handle_by_index_fn.self) else {
            dlclose(h); throw .missingSymbol("nvmlDeviceGetHandleByIndex_v2")
        }
        self.initialize = initialize
        deviceCount = count
        handleByIndex = byIndex
        shutdownFn = lookup("shutdown", ["nvmlShutdown"], as: cnvml_void_fn.self)
        errorStringFn = lookup("errorString", ["nvmlErrorString"], as: cnvml_error_string_fn.self)
        driverVersion = lookup("driverVersion", ["nvmlSystemGetDriverVersion"], as: cnvml_string_fn.self)
        cudaDriverVersion = lookup("cudaDriverVersion", ["nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion"], as: cnvml_int_out_fn.self)
        name = lookup("name", ["nvmlDeviceGetName"], as: cnvml_device_string_fn.self)
        uuid = lookup("uuid", ["nvmlDeviceGetUUID"], as: cnvml_device_string_fn.self)
        minorNumber = lookup("minorNumber", ["nvmlDeviceGetMinorNumber"], as: cnvml_device_uint_fn.self)
        pciInfo = lookup("pciInfo", ["nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2", "nvmlDeviceGetPciInfo"], as: cnvml_pci_fn.self)
        utilization = lookup("utilization", ["nvmlDeviceGetUtilizationRates"], as: cnvml_utilization_fn.self)
        memoryInfoV1 = lookup("memoryInfoV1", ["nvmlDeviceGetMemoryInfo"], as: cnvml_memory_v1_fn.self)
        if let v2 = lookup("memoryInfo", ["nvmlDeviceGetMemoryInfo_v2"], as: cnvml_memory_v2_fn.self) {
            memoryInfo = .v2(v2)
        } else if let v1 = memoryInfoV1 {
            names["memoryInfo"] = "nvmlDeviceGetMemoryInfo"
            memoryInfo = .v1(v1)
        } else {
            memoryInfo = nil
        }
        temperature = lookup("temperature", ["nvmlDeviceGetTemperature"], as: cnvml_device_sensor_fn.self)
        fanSpeed = lookup("fanSpeed", ["nvmlDeviceGetFanSpeed"], as: cnvml_device_uint_fn.self)
        clockInfo = lookup("clockInfo", ["nvmlDeviceGetClockInfo"], as: cnvml_device_sensor_fn.self)
        performanceState = lookup("performanceState", ["nvmlDeviceGetPerformanceState"], as: cnvml_device_int_fn.self)
        powerUsage = lookup("powerUsage", ["nvmlDeviceGetPowerUsage"], as: cnvml_device_uint_fn.self)
        enforcedPowerLimit = lookup("enforcedPowerLimit", ["nvmlDeviceGetEnforcedPowerLimit"], as: cnvml_device_uint_fn.self)
        powerManagementLimit = lookup("powerManagementLimit", ["nvmlDeviceGetPowerManagementLimit"], as: cnvml_device_uint_fn.self)
        powerManagementDefaultLimit = lookup("powerManagementDefaultLimit", ["nvmlDeviceGetPowerManagementDefaultLimit"], as: cnvml_device_uint_fn.self)
        powerManagementLimitConstraints = lookup("powerManagementLimitConstraints", ["nvmlDeviceGetPowerManagementLimitConstraints"], as: cnvml_device_uint_uint_fn.self)
        totalEnergy = lookup("totalEnergy", ["nvmlDeviceGetTotalEnergyConsumption"], as: cnvml_device_ull_fn.self)
        persistenceMode = lookup("persistenceMode", ["nvmlDeviceGetPersistenceMode"], as: cnvml_device_int_fn.self)
        computeMode = lookup("computeMode", ["nvmlDeviceGetComputeMode"], as: cnvml_device_int_fn.self)
        encoderUtilization = lookup("encoderUtilization", ["nvmlDeviceGetEncoderUtilization"], as: cnvml_device_uint_uint_fn.self)
        decoderUtilization = lookup("decoderUtilization", ["nvmlDeviceGetDecoderUtilization"], as: cnvml_device_uint_uint_fn.self)
        processUtilization = lookup("processUtilization", ["nvmlDeviceGetProcessUtilization"], as: cnvml_process_utilization_fn.self)
        processesUtilizationInfo = lookup("processesUtilizationInfo", ["nvmlDeviceGetProcessesUtilizationInfo"], as: cnvml_processes_utilization_info_fn.self)
        migMode = lookup("migMode", ["nvmlDeviceGetMigMode"], as: cnvml_device_uint_uint_fn.self)
        maxMigDeviceCount = lookup("maxMigDeviceCount", ["nvmlDeviceGetMaxMigDeviceCount"], as: cnvml_device_uint_fn.self)
        migDeviceHandle = lookup("migDeviceHandle", ["nvmlDeviceGetMigDeviceHandleByIndex"], as: cnvml_mig_handle_fn.self)
        gpuInstanceId = lookup("gpuInstanceId", ["nvmlDeviceGetGpuInstanceId"], as: cnvml_device_uint_fn.self)
        computeInstanceId = lookup("computeInstanceId", ["nvmlDeviceGetComputeInstanceId"], as: cnvml_device_uint_fn.self)
        attributes = lookup("attributes", ["nvmlDeviceGetAttributes_v2", "nvmlDeviceGetAttributes"], as: cnvml_attributes_fn.self)
        setPowerManagementLimit = lookup("setPowerManagementLimit", ["nvmlDeviceSetPowerManagementLimit"], as: cnvml_device_set_uint_fn.self)
        computeProcesses = processList("nvmlDeviceGetComputeRunningProcesses")
        graphicsProcesses = processList("nvmlDeviceGetGraphicsRunningProcesses")
        mpsProcesses = processList("nvmlDeviceGetMPSComputeRunningProcesses")
        health = NVMLHealthSymbols { role, candidates in lookup(role, candidates, as: UnsafeMutableRawPointer.self) }
        gpm = NVMLGPMSymbols { role, candidates in lookup(role, candidates, as: UnsafeMutableRawPointer.self) }
        resolved = names
    }

    /// Calls nvmlInit; a failure carries NVML's own reason.
    public func start() throws(NVMLLoadError) {
        let rc = initialize()
        guard rc == NVML_SUCCESS else {
            throw .initFailed(code: rc.rawValue, message: errorString(rc))
        }
    }

    public func stop() { _ = shutdownFn?() }

    /// NVML's text for a return code ("Not Supported"), or the number.
    public func errorString(_ rc: nvmlReturn_t) -> String {
        if let f = errorStringFn, let s = f(rc) { return String(cString: s) }
        return "NVML error \(rc.rawValue)"
    }

    /// dlerror repeats the path; keep the part after it so the line stays short.
    private static func shorten(_ detail: String, path: String) -> String {
        if detail.hasPrefix(path + ": ") { return String(detail.dropFirst(path.count + 2)) }
        return detail
    }
}
