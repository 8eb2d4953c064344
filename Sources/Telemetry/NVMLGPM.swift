// GPU Performance Monitoring through NVML: SM activity and occupancy, tensor
// activity, DRAM bandwidth, PCIe and NVLink throughput, per GPU and per MIG GPU
// instance (Hopper and newer, drivers 525.60 and newer).
//
// GPM gives figures between two samples: each read takes a new sample and asks
// NVML for the metrics between it and the one before, so the first read of a
// GPU only primes it. Samples are taken at most every `period` seconds (NVML
// wants them some 100 ms apart at least; a shorter refresh reuses the figures).
// A GPU that says it lacks GPM, or a driver without the symbols, leaves the
// fields nil and is not asked again.
import CNVML
import Model
import Support

/// The GPM entry points, resolved with the rest of NVML (NVMLLibrary.gpm).
public struct NVMLGPMSymbols: @unchecked Sendable {
    public let querySupport: cnvml_gpm_support_fn?
    public let sampleAlloc: cnvml_gpm_sample_alloc_fn?
    public let sampleFree: cnvml_gpm_sample_free_fn?
    public let sampleGet: cnvml_gpm_sample_get_fn?
    public let migSampleGet: cnvml_gpm_mig_sample_get_fn?
    public let metricsGet: cnvml_gpm_metrics_get_fn?

    init(lookup: (String, [String]) -> UnsafeMutableRawPointer?) {
        func fn<T>(_ role: String, _ names: [String], _ type: T.Type) -> T? {
            lookup(role, names).map { unsafeBitCast($0, to: type) }
        }
        querySupport = fn("gpmQueryDeviceSupport", ["nvmlGpmQueryDeviceSupport"], cnvml_gpm_support_fn.self)
        sampleAlloc = fn("gpmSampleAlloc", ["nvmlGpmSampleAlloc"], cnvml_gpm_sample_alloc_fn.self)
        sampleFree = fn("gpmSampleFree", ["nvmlGpmSampleFree"], cnvml_gpm_sample_free_fn.self)
        sampleGet = fn("gpmSampleGet", ["nvmlGpmSampleGet"], cnvml_gpm_sample_get_fn.self)
        migSampleGet = fn("gpmMigSampleGet", ["nvmlGpmMigSampleGet"], cnvml_gpm_mig_sample_get_fn.self)
        metricsGet = fn("gpmMetricsGet", ["nvmlGpmMetricsGet"], cnvml_gpm_metrics_get_fn.self)
    }

    /// All that a whole-GPU read needs.
    var usable: Bool { querySupport != nil && sampleAlloc != nil && sampleFree != nil && sampleGet != nil && metricsGet != nil }
}

/// The metrics asked for, and where each lands.
enum GPMMetric: CaseIterable {
    case graphics, sm, occupancy, tensor, dram, pcieTx, pcieRx, nvlinkTx, nvlinkRx

    var id: UInt32 {
        switch self {
        case .graphics: return UInt32(CNVML_GPM_METRIC_GRAPHICS_UTIL)
        case .sm: return UInt32(CNVML_GPM_METRIC_SM_UTIL)
        case .occupancy: return UInt32(CNVML_GPM_METRIC_SM_OCCUPANCY)
        case .tensor: return UInt32(CNVML_GPM_METRIC_ANY_TENSOR_UTIL)
        case .dram: return UInt32(CNVML_GPM_METRIC_DRAM_BW_UTIL)
        case .pcieTx: return UInt32(CNVML_GPM_METRIC_PCIE_TX_PER_SEC)
        case .pcieRx: return UInt32(CNVML_GPM_METRIC_PCIE_RX_PER_SEC)
        case .nvlinkTx: return UInt32(CNVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC)
        case .nvlinkRx: return UInt32(CNVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC)
        }
    }

    func store(_ v: Double, into a: inout GPUActivity) {
        let mib = 1_048_576.0  // NVML's throughputs are MiB/s; we keep bytes/s as dcgm-exporter does
        switch self {
        case .graphics: a.graphicsActive = v
        case .sm: a.smActive = v
        case .occupancy: a.smOccupancy = v
        case .tensor: a.tensorActive = v
        case .dram: a.dramActive = v
        case .pcieTx: a.pcieTxBytesPerSecond = v * mib
        case .pcieRx: a.pcieRxBytesPerSecond = v * mib
        case .nvlinkTx: a.nvlinkTxBytesPerSecond = v * mib
        case .nvlinkRx: a.nvlinkRxBytesPerSecond = v * mib
        }
    }
}

/// Reads GPM figures into the GPUs (and their MIG devices) NVMLSampler just read.
public final class NVMLGPMReader {
    public let symbols: NVMLGPMSymbols
    /// Seconds between two samples of one GPU at least.
    public let period: Double
    /// GPU index -> nil when it has no GPM, else its samplers.
    private var devices: [Int: DeviceGPM?] = [:]
    private let request: UnsafeMutablePointer<nvmlGpmMetricsGet_t>

    public init(symbols: NVMLGPMSymbols, period: Double = 1) {
        self.symbols = symbols
        self.period = period
        request = .allocate(capacity: 1)
        request.initialize(to: nvmlGpmMetricsGet_t())
    }

    deinit {
        for case let device? in devices.values { device.free(symbols) }
        request.deallocate()
    }

    public func read(_ gpus: inout [GPU], handle: (Int) -> nvmlDevice_t?, now: Double) {
        guard symbols.usable else { return }
        for i in gpus.indices where !gpus[i].lost {
            guard let h = handle(gpus[i].index) else { continue }
            let device: DeviceGPM
            switch devices[gpus[i].index] {
            case .some(.some(let known)): device = known
            case .some(.none): continue
            case .none:
                let made = DeviceGPM.open(h, symbols)
                devices[gpus[i].index] = .some(made)
                guard let made else { continue }
                device = made
            }
            device.read(h, symbols, request, period: period, now: now, into: &gpus[i])
        }
    }
}

/// One GPU's GPM samplers: the whole GPU, and one per MIG GPU instance.
final class DeviceGPM {
    private var whole = SamplePair()
    private var instances: [Int: SamplePair] = [:]
    private var migUnsupported = false

    /// The GPU's GPM state when it supports GPM; nil when it does not.
    static func open(_ h: nvmlDevice_t, _ s: NVMLGPMSymbols) -> DeviceGPM? {
        var support = nvmlGpmSupport_t()
        support.version = CNVML_GPM_SUPPORT_VERSION
        guard let query = s.querySupport, query(h, &support) == NVML_SUCCESS, support.isSupportedDevice != 0 else { return nil }
        return DeviceGPM()
    }

    func free(_ s: NVMLGPMSymbols) {
        whole.free(s)
        for pair in instances.values { pair.free(s) }
    }

    func read(_ h: nvmlDevice_t, _ s: NVMLGPMSymbols, _ request: UnsafeMutablePointer<nvmlGpmMetricsGet_t>,
              period: Double, now: Double, into gpu: inout GPU) {
        if gpu.migMode?.current == true {
            // Under MIG the whole-GPU sample answers nothing useful: each GPU instance is read.
            guard let migGet = s.migSampleGet, !migUnsupported else { return }
            var seen: [Int: GPUActivity?] = [:]
            for m in gpu.migDevices.indices {
                guard let gi = gpu.migDevices[m].gpuInstanceId, gi >= 0 else { continue }
                if seen[gi] == nil {
                    let pair = instances[gi] ?? SamplePair()
                    instances[gi] = pair
                    let activity = pair.read(s, request, period: period, now: now) { migGet(h, UInt32(gi), $0) }
                    if pair.unsupported { migUnsupported = true }
                    seen[gi] = activity
                }
                gpu.migDevices[m].activity = seen[gi] ?? nil
            }
            // Instances destroyed since: free their samples.
            for gi in instances.keys where seen[gi] == nil {
                instances[gi]?.free(s)
                instances[gi] = nil
            }
            return
        }
        let get = s.sampleGet!
        gpu.activity = whole.read(s, request, period: period, now: now) { get(h, $0) }
    }
}

/// Two sample buffers taking turns; the figures between the latest two.
final class SamplePair {
    private var older: nvmlGpmSample_t?
    private var newer: nvmlGpmSample_t?
    private var haveOlder = false
    private var takenAt = -Double.infinity
    private var samplesTaken = 0
    private var last: GPUActivity?
    private(set) var unsupported = false

    func free(_ s: NVMLGPMSymbols) {
        if let older { _ = s.sampleFree?(older) }
        if let newer { _ = s.sampleFree?(newer) }
        older = nil
        newer = nil
    }

    /// `take` fills a sample buffer (whole GPU or one GPU instance).
    func read(_ s: NVMLGPMSymbols, _ request: UnsafeMutablePointer<nvmlGpmMetricsGet_t>, period: Double, now: Double,
              take: (nvmlGpmSample_t) -> nvmlReturn_t) -> GPUActivity? {
        guard !unsupported else { return nil }
        // The first figures one second after the first sample (they need two), not a
        // whole period: the GPU line takes its final shape at once.
        if now - takenAt < (samplesTaken >= 2 ? period : min(period, 1)) { return last }
        guard let alloc = s.sampleAlloc, let metricsGet = s.metricsGet else { return nil }
        if older == nil { var p: nvmlGpmSample_t?; if alloc(&p) == NVML_SUCCESS { older = p } }
        if newer == nil { var p: nvmlGpmSample_t?; if alloc(&p) == NVML_SUCCESS { newer = p } }
        guard let older, let newer else { return nil }
        let rc = take(newer)
        guard rc == NVML_SUCCESS else {
            if rc == NVML_ERROR_NOT_SUPPORTED || rc == NVML_ERROR_FUNCTION_NOT_FOUND { unsupported = true }
            haveOlder = false
            samplesTaken = 0  // the next pair a second apart again, not a whole period
            last = nil
            return nil
        }
        takenAt = now
        samplesTaken += 1
        defer {
            // The sample just taken is the older one of the next pair.
            self.older = newer
            self.newer = older
            haveOlder = true
        }
        guard haveOlder else { return nil }
        let metrics = GPMMetric.allCases
        request.pointee.version = CNVML_GPM_METRICS_GET_VERSION
        request.pointee.numMetrics = UInt32(metrics.count)
        request.pointee.sample1 = older
        request.pointee.sample2 = newer
        for (i, m) in metrics.enumerated() {
            let slot = cnvml_gpm_metric(request, UInt32(i))!
            slot.pointee.metricId = m.id
            slot.pointee.nvmlReturn = NVML_ERROR_UNKNOWN
            slot.pointee.value = 0
        }
        guard metricsGet(request) == NVML_SUCCESS else {
            last = nil
            return nil
        }
        var activity = GPUActivity()
        for (i, m) in metrics.enumerated() {
            let slot = cnvml_gpm_metric(request, UInt32(i))!.pointee
            if slot.nvmlReturn == NVML_SUCCESS, slot.value.isFinite { m.store(slot.value, into: &activity) }
        }
        last = activity.isEmpty ? nil : activity.sanitized()
        return last
    }
}

/// The GPM calls for `gpuctop profile` (NVMLProbe.measure): support, one sample,
/// and the metrics between two samples, as a refresh makes them.
enum NVMLGPMProbe {
    static func measure(_ s: NVMLGPMSymbols, _ h: nvmlDevice_t, time: (String, () -> nvmlReturn_t) -> Void) {
        guard let query = s.querySupport else { return }
        var support = nvmlGpmSupport_t()
        support.version = CNVML_GPM_SUPPORT_VERSION
        time("gpmQueryDeviceSupport") { query(h, &support) }
        guard support.isSupportedDevice != 0, let alloc = s.sampleAlloc, let free = s.sampleFree,
              let get = s.sampleGet, let metricsGet = s.metricsGet else { return }
        var a: nvmlGpmSample_t?, b: nvmlGpmSample_t?
        guard alloc(&a) == NVML_SUCCESS, let a else { return }
        defer { _ = free(a) }
        guard alloc(&b) == NVML_SUCCESS, let b else { return }
        defer { _ = free(b) }
        time("gpmSampleGet") { get(h, a) }
        let request = UnsafeMutablePointer<nvmlGpmMetricsGet_t>.allocate(capacity: 1)
        request.initialize(to: nvmlGpmMetricsGet_t())
        defer { request.deallocate() }
        var first = true
        time("gpmSampleGet+MetricsGet (\(GPMMetric.allCases.count) metrics)") {
            // Alternate the buffers so each timing compares a fresh sample with the one before.
            let (older, newer) = first ? (a, b) : (b, a)
            first.toggle()
            let rc = get(h, newer)
            guard rc == NVML_SUCCESS else { return rc }
            request.pointee.version = CNVML_GPM_METRICS_GET_VERSION
            request.pointee.numMetrics = UInt32(GPMMetric.allCases.count)
            request.pointee.sample1 = older
            request.pointee.sample2 = newer
            for (i, m) in GPMMetric.allCases.enumerated() { cnvml_gpm_metric(request, UInt32(i))!.pointee.metricId = m.id }
            return metricsGet(request)
        }
    }
}
