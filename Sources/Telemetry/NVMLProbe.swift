// Times each NVML entry point that a refresh uses, one by one, on every GPU.
//
// For `gpuctop profile`: when a refresh costs more than it should on a real GPU,
// this says which call is to blame. Only read calls are made (never a set call).
import CNVML
import Glibc
import Model
import Support

public struct NVMLCallTiming: Sendable {
    public var gpu: Int
    /// The entry point as NVML names it (with its variant).
    public var call: String
    /// Median over the iterations, in nanoseconds.
    public var medianWallNanoseconds: UInt64
    public var medianCPUNanoseconds: UInt64
    /// NVML's answer to the last call ("Success", "Not Supported", ...).
    public var result: String
}

public enum NVMLProbe {
    /// Calls each entry point `iterations` times per GPU, back to back.
    public static func measure(_ library: NVMLLibrary, iterations: Int) -> [NVMLCallTiming] {
        var count: UInt32 = 0
        guard library.deviceCount(&count) == NVML_SUCCESS else { return [] }
        var rows: [NVMLCallTiming] = []
        for index in 0..<Int(count) {
            var handle: nvmlDevice_t?
            guard library.handleByIndex(UInt32(index), &handle) == NVML_SUCCESS, let h = handle else { continue }
            func time(_ role: String, _ call: () -> nvmlReturn_t) {
                var walls: [UInt64] = [], cpus: [UInt64] = []
                var rc = NVML_SUCCESS
                for _ in 0..<max(1, iterations) {
                    var t = StageTimer()
                    rc = call()
                    let c = t.lap()
                    walls.append(c.wallNanoseconds)
                    cpus.append(c.cpuNanoseconds)
                }
                rows.append(NVMLCallTiming(gpu: index, call: library.resolved[role] ?? role,
                                           medianWallNanoseconds: median(walls), medianCPUNanoseconds: median(cpus),
                                           result: library.errorString(rc)))
            }
            func uint(_ role: String, _ f: cnvml_device_uint_fn?) {
                guard let f else { return }
                time(role) { var v: UInt32 = 0; return f(h, &v) }
            }
            func int(_ role: String, _ f: cnvml_device_int_fn?) {
                guard let f else { return }
                time(role) { var v: Int32 = 0; return f(h, &v) }
            }
            func pair(_ role: String, _ f: cnvml_device_uint_uint_fn?) {
                guard let f else { return }
                time(role) { var a: UInt32 = 0, b: UInt32 = 0; return f(h, &a, &b) }
            }
            pair("migMode", library.migMode)
            if let f = library.utilization { time("utilization") { var u = nvmlUtilization_t(); return f(h, &u) } }
            switch library.memoryInfo {
            case .v2(let f)?:
                time("memoryInfo") { var m = nvmlMemory_v2_t(); m.version = cnvml_memory_v2_version(); return f(h, &m) }
            case .v1(let f)?:
                time("memoryInfo") { var m = nvmlMemory_t(); return f(h, &m) }
            case nil: break
            }
            if let f = library.temperature { time("temperature") { var v: UInt32 = 0; return f(h, CNVML_TEMPERATURE_GPU, &v) } }
            uint("fanSpeed", library.fanSpeed)
            if let f = library.clockInfo {
                time("clockInfo") { var v: UInt32 = 0; return f(h, CNVML_CLOCK_SM, &v) }
            }
            int("performanceState", library.performanceState)
            uint("powerUsage", library.powerUsage)
            uint("enforcedPowerLimit", library.enforcedPowerLimit)
            uint("powerManagementLimit", library.powerManagementLimit)
            if let f = library.totalEnergy { time("totalEnergy") { var v: UInt64 = 0; return f(h, &v) } }
            int("persistenceMode", library.persistenceMode)
            int("computeMode", library.computeMode)
            pair("encoderUtilization", library.encoderUtilization)
            pair("decoderUtilization", library.decoderUtilization)
            for (role, fn) in [("nvmlDeviceGetComputeRunningProcesses", library.computeProcesses),
                               ("nvmlDeviceGetGraphicsRunningProcesses", library.graphicsProcesses),
                               ("nvmlDeviceGetMPSComputeRunningProcesses", library.mpsProcesses)] {
                switch fn {
                case .withInstanceIds(let f)?:
                    var buffer = [nvmlProcessInfo_t](repeating: nvmlProcessInfo_t(), count: 256)
                    time(role) { var n = UInt32(buffer.count); return buffer.withUnsafeMutableBufferPointer { f(h, &n, $0.baseAddress) } }
                case .v1(let f)?:
                    var buffer = [nvmlProcessInfo_v1_t](repeating: nvmlProcessInfo_v1_t(), count: 256)
                    time(role) { var n = UInt32(buffer.count); return buffer.withUnsafeMutableBufferPointer { f(h, &n, $0.baseAddress) } }
                case nil: break
                }
            }
            if let f = library.processUtilization {
                var buffer = [nvmlProcessUtilizationSample_t](repeating: nvmlProcessUtilizationSample_t(), count: 1024)
                // Every sample the driver keeps (since 0), and only the last second's, as a refresh asks.
                time("processUtilization") {
                    var n = UInt32(buffer.count)
                    return buffer.withUnsafeMutableBufferPointer { f(h, $0.baseAddress, &n, 0) }
                }
                rows[rows.count - 1].call += " (since 0)"
                let secondAgo = UInt64((WallClock.now() - 1) * 1e6)
                time("processUtilization") {
                    var n = UInt32(buffer.count)
                    return buffer.withUnsafeMutableBufferPointer { f(h, $0.baseAddress, &n, secondAgo) }
                }
                rows[rows.count - 1].call += " (last 1 s)"
                var small = [nvmlProcessUtilizationSample_t](repeating: nvmlProcessUtilizationSample_t(), count: 90)
                time("processUtilization") {
                    var n = UInt32(small.count)
                    return small.withUnsafeMutableBufferPointer { f(h, $0.baseAddress, &n, secondAgo) }
                }
                rows[rows.count - 1].call += " (90 slots)"
            }
            NVMLHealthProbe.measure(library.health, h, time: time)
            NVMLGPMProbe.measure(library.gpm, h, time: time)
            if let f = library.processesUtilizationInfo {
                var samples = [nvmlProcessUtilizationInfo_v1_t](repeating: nvmlProcessUtilizationInfo_v1_t(), count: 256)
                time("processesUtilizationInfo") {
                    samples.withUnsafeMutableBufferPointer { buffer in
                        var info = nvmlProcessesUtilizationInfo_v1_t()
                        info.version = cnvml_processes_utilization_info_v1_version()
                        info.processSamplesCount = UInt32(buffer.count)
                        info.lastSeenTimeStamp = 0
                        info.procUtilArray = buffer.baseAddress
                        return f(h, &info)
                    }
                }
            }
        }
        return rows
    }

    static func median(_ values: [UInt64]) -> UInt64 {
        guard !values.isEmpty else { return 0 }
        return values.sorted()[values.count / 2]
    }
}

/// One step of opening NVML, with its cost and the resident memory after it.
public struct NVMLStartupStep: Sendable {
    public var step: String
    public var cost: StageCost
    public var residentKiB: Int
    /// Shared libraries mapped by this step (NVML loads libcuda on some calls: whose?).
    public var newLibraries: [String] = []
}

extension NVMLProbe {
    /// Opens NVML step by step as `NVMLSampler` does (in a process that has not
    /// opened it yet), timing each step and reading VmRSS after it; then the first
    /// call of each sampling entry point. Shuts NVML down again at the end.
    public static func startup(path: String) -> (steps: [NVMLStartupStep], firstCalls: [NVMLCallTiming], problem: String?) {
        var steps: [NVMLStartupStep] = []
        var timer = StageTimer()
        var libraries = mappedLibraries()
        func note(_ step: String) {
            let cost = timer.lap()
            let now = mappedLibraries()
            steps.append(NVMLStartupStep(step: step, cost: cost, residentKiB: residentKiB(), newLibraries: now.subtracting(libraries).sorted()))
            libraries = now
            _ = timer.lap()  // reading /proc/self/maps is not the step's cost
        }
        _ = timer.lap()
        note("before NVML")
        let library: NVMLLibrary
        do {
            library = try NVMLLibrary(path: path)
        } catch {
            return (steps, [], error.description)
        }
        note("dlopen and symbols")
        guard library.initialize() == NVML_SUCCESS else { return (steps, [], "nvmlInit failed") }
        defer { library.stop() }
        note("nvmlInit")
        var count: UInt32 = 0
        _ = library.deviceCount(&count)
        note("device count (\(count))")
        var handles: [nvmlDevice_t] = []
        for i in 0..<count {
            var h: nvmlDevice_t?
            if library.handleByIndex(i, &h) == NVML_SUCCESS, let h { handles.append(h) }
        }
        note("device handles")
        _ = NVMLSampler.readString(CNVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE) { library.driverVersion?($0, $1) }
        note("driver version")
        if let f = library.cudaDriverVersion { var v: Int32 = 0; _ = f(&v) }
        note("CUDA version (\(library.resolved["cudaDriverVersion"] ?? "absent"))")
        for h in handles {
            _ = NVMLSampler.readString(CNVML_DEVICE_NAME_BUFFER_SIZE) { library.name?(h, $0, $1) }
            _ = NVMLSampler.readString(CNVML_DEVICE_UUID_BUFFER_SIZE) { library.uuid?(h, $0, $1) }
            if let f = library.pciInfo { var pci = nvmlPciInfo_t(); _ = f(h, &pci) }
        }
        note("name, UUID, PCI of each GPU")
        for h in handles {
            if let f = library.powerManagementLimitConstraints { var a: UInt32 = 0, b: UInt32 = 0; _ = f(h, &a, &b) }
            if let f = library.powerManagementDefaultLimit { var v: UInt32 = 0; _ = f(h, &v) }
            if let f = library.maxMigDeviceCount { var v: UInt32 = 0; _ = f(h, &v) }
        }
        note("power constraints, default, MIG slots")
        let first = measure(library, iterations: 1)
        note("first call of each sampling entry point")
        return (steps, first, nil)
    }

    /// File names of the shared libraries mapped into this process.
    static func mappedLibraries() -> Set<String> {
        let fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[0..<n]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        var names = Set<String>()
        for line in text.split(separator: "\n") {
            guard let slash = line.lastIndex(of: "/") else { continue }
            let name = line[line.index(after: slash)...]
            if name.includes(".so") { names.insert(String(name)) }
        }
        return names
    }

    /// VmRSS of this process in KiB (0 when unreadable).
    public static func residentKiB() -> Int {
        let fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 8192)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return 0 }
        let text = String(decoding: buffer[0..<n], as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return 0
    }
}
