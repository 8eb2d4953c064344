// What the GPU's units really did between two GPM samples (GPU Performance
// Monitoring, Hopper and newer). "GPU util 100%" only says a kernel ran during the
// sample; SM activity says how many SMs were busy, tensor activity whether the
// tensor cores did the work, DRAM activity how much of the memory bandwidth went.
import FoundationEssentials

/// One GPU's or MIG instance's GPM figures; each nil where the driver did not give it.
public struct GPUActivity: Codable, Sendable, Equatable {
    /// Percent of the time anything ran on the graphics/compute engine (GPM GRAPHICS_UTIL).
    public var graphicsActive: Double?
    /// Percent of SMs busy, averaged over the interval (GPM SM_UTIL; DCGM's SM_ACTIVE).
    public var smActive: Double?
    /// Percent of the warps resident out of the SMs' maximum (SM_OCCUPANCY).
    public var smOccupancy: Double?
    /// Percent of the time any tensor pipe was busy (ANY_TENSOR_UTIL).
    public var tensorActive: Double?
    /// Percent of peak DRAM bandwidth used (DRAM_BW_UTIL).
    public var dramActive: Double?
    /// Bytes per second over PCIe and over all NVLinks (NVML gives MiB/s).
    public var pcieTxBytesPerSecond: Double?
    public var pcieRxBytesPerSecond: Double?
    public var nvlinkTxBytesPerSecond: Double?
    public var nvlinkRxBytesPerSecond: Double?

    public init() {}

    /// True when no figure came (nothing worth keeping).
    public var isEmpty: Bool { self == GPUActivity() }
}

/// Bounds for GPM figures from a source we do not control (a recording, a remote
/// host): a percent is 0-100 (a little above, from rounding, is kept); a byte rate
/// is finite and below 100 TB/s. Anything else is dropped to "not reported".
extension GPUActivity {
    public func sanitized() -> GPUActivity {
        func percent(_ v: Double?) -> Double? { v.flatMap { $0.isFinite && $0 >= 0 && $0 <= 101 ? $0 : nil } }
        func rate(_ v: Double?) -> Double? { v.flatMap { $0.isFinite && $0 >= 0 && $0 < 1e14 ? $0 : nil } }
        var a = GPUActivity()
        a.graphicsActive = percent(graphicsActive)
        a.smActive = percent(smActive)
        a.smOccupancy = percent(smOccupancy)
        a.tensorActive = percent(tensorActive)
        a.dramActive = percent(dramActive)
        a.pcieTxBytesPerSecond = rate(pcieTxBytesPerSecond)
        a.pcieRxBytesPerSecond = rate(pcieRxBytesPerSecond)
        a.nvlinkTxBytesPerSecond = rate(nvlinkTxBytesPerSecond)
        a.nvlinkRxBytesPerSecond = rate(nvlinkRxBytesPerSecond)
        return a
    }
}
