// GPM figures under dcgm-exporter's profiling names and units (DCGM_FI_PROF_*:
// activities as a ratio 0-1, throughputs in bytes per second), so its dashboards
// (the tensor-core panel among them) fill; and each container's estimated energy
// as a counter per GPU.
import FoundationEssentials
import Model

extension PrometheusText.Family {
    // dcgm-exporter's etc/dcp-metrics-included.csv: names, types and help.
    static let grEngineActive = Self("DCGM_FI_PROF_GR_ENGINE_ACTIVE", .gauge, "Ratio of time the graphics engine is active.")
    static let smActive = Self("DCGM_FI_PROF_SM_ACTIVE", .gauge, "The ratio of cycles an SM has at least 1 warp assigned.")
    static let smOccupancy = Self("DCGM_FI_PROF_SM_OCCUPANCY", .gauge,
        "The ratio of number of warps resident on an SM.")
    static let tensorActive = Self("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", .gauge,
        "Ratio of cycles the tensor (HMMA) pipe is active.")
    static let dramActive = Self("DCGM_FI_PROF_DRAM_ACTIVE", .gauge,
        "Ratio of cycles the device memory interface is active sending or receiving data.")
    static let pcieTx = Self("DCGM_FI_PROF_PCIE_TX_BYTES", .gauge, "The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.")
    static let pcieRx = Self("DCGM_FI_PROF_PCIE_RX_BYTES", .gauge, "The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.")
    static let nvlinkTx = Self("DCGM_FI_PROF_NVLINK_TX_BYTES", .gauge, "The rate of data transmitted over NVLink, not including protocol headers, in bytes per second.")
    static let nvlinkRx = Self("DCGM_FI_PROF_NVLINK_RX_BYTES", .gauge, "The rate of data received over NVLink, not including protocol headers, in bytes per second.")

    static let containerEnergy = Self("gpuctop_container_energy_joules_total", .counter,
        "Estimate: a container's share of a GPU's power (as gpuctop_container_power_share_watts) integrated over time since gpuctop first saw it on the GPU, in joules.")
}

extension PrometheusText {
    /// GPM figures of each GPU, and of each MIG GPU instance with DCGM's GPU_I_ID/GPU_I_PROFILE labels.
    static func addActivity(_ s: Snapshot, to out: inout Exposition) {
        for g in s.gpus.sorted(by: { $0.index < $1.index }) {
            let d = dcgmLabels(g, host: s.host)
            if let a = g.activity { addActivity(a, d, to: &out) }
            var seen = Set<Int>()
            for m in g.migDevices.sorted(by: { $0.index < $1.index }) {
                guard let a = m.activity, let gi = m.gpuInstanceId, seen.insert(gi).inserted else { continue }
                addActivity(a, d + [("GPU_I_PROFILE", migProfile(m.name)), ("GPU_I_ID", String(gi))], to: &out)
            }
        }
    }

    static func addActivity(_ a: GPUActivity, _ labels: [(String, String?)], to out: inout Exposition) {
        func ratio(_ percent: Double?) -> String? { percent.flatMap { Value.fixed(min(1, max(0, $0 / 100)), places: 4) } }
        func rate(_ v: Double?) -> String? { v.flatMap { Value.fixed($0, places: 0) } }
        out.add(Family.grEngineActive, labels, ratio(a.graphicsActive))
        out.add(Family.smActive, labels, ratio(a.smActive))
        out.add(Family.smOccupancy, labels, ratio(a.smOccupancy))
        out.add(Family.tensorActive, labels, ratio(a.tensorActive))
        out.add(Family.dramActive, labels, ratio(a.dramActive))
        out.add(Family.pcieTx, labels, rate(a.pcieTxBytesPerSecond))
        out.add(Family.pcieRx, labels, rate(a.pcieRxBytesPerSecond))
        out.add(Family.nvlinkTx, labels, rate(a.nvlinkTxBytesPerSecond))
        out.add(Family.nvlinkRx, labels, rate(a.nvlinkRxBytesPerSecond))
    }

    /// Each container's estimated energy on each GPU, in the snapshot's container order.
    static func addEnergy(_ s: Snapshot, to out: inout Exposition) {
        for c in s.containers {
            guard let e = c.energy else { continue }
            for share in e.byGPU.sorted(by: { $0.gpu < $1.gpu }) {
                out.add(Family.containerEnergy, containerLabels(c, id: c.id, host: s.host, gpu: share.gpu),
                        Value.fixed(share.joules, places: 3))
            }
        }
    }
}

extension PrometheusText.Value {
    /// A non-negative finite number with at most `places` decimals, no exponent
    /// ("0.4525", "1073741824"); anything else is left out (nil).
    static func fixed(_ v: Double, places: Int) -> String? {
        guard v.isFinite, v >= 0, v < 1e17 else { return nil }
        var scale: UInt64 = 1
        for _ in 0..<places { scale *= 10 }
        let scaled = (v * Double(scale)).rounded()
        guard scaled < 1.8e19 else { return nil }
        let n = UInt64(scaled)
        var text = String(n / scale)
        let frac = n % scale
        if places > 0 && frac != 0 {
            var digits = String(frac)
            digits = String(repeating: "0", count: places - digits.count) + digits
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text
    }
}
