// Arithmetic on a snapshot's processes that the sampler's join and the Prometheus
// export must do alike: one entry per process context, and each GPU's power draw
// apportioned to its processes.

public enum ProcessContexts {
    /// One entry per process context: NVML lists a process that has both a compute and a
    /// graphics context (nvidia-smi's "C+G") in both lists, with the same memory and the same
    /// utilisation sample. Counting it twice would double its memory and SM and skew the power
    /// shares of everyone else on that GPU. Keyed by pid, GPU and MIG instance.
    public static func merged(_ processes: [GPUProcess]) -> [GPUProcess] {
        // One integer per context (hashing a struct of optionals was a visible cost at
        // thousands of processes): pid, GPU, and the MIG ids (255 = none).
        // Values outside those ranges (never seen from NVML) take a struct key instead.
        func packed(_ p: GPUProcess) -> UInt64? {
            func small(_ v: Int?) -> UInt64? {
                guard let v else { return 255 }
                return (0...254).contains(v) ? UInt64(v) : nil
            }
            guard (0..<65_536).contains(p.gpuIndex), let gi = small(p.gpuInstanceId), let ci = small(p.computeInstanceId) else { return nil }
            return UInt64(UInt32(bitPattern: p.pid)) << 32 | UInt64(p.gpuIndex) << 16 | gi << 8 | ci
        }
        struct Key: Hashable { var pid: Int32; var gpu: Int; var gi: Int?; var ci: Int? }
        var index: [UInt64: Int] = [:]
        var unusual: [Key: Int] = [:]
        index.reserveCapacity(processes.count)
        var result: [GPUProcess] = []
        result.reserveCapacity(processes.count)
        for p in processes {
            let key = packed(p)
            let known = key.map { index[$0] } ?? unusual[Key(pid: p.pid, gpu: p.gpuIndex, gi: p.gpuInstanceId, ci: p.computeInstanceId)]
            if let i = known {
                // Keep the larger figures, should the two lists ever disagree.
                if let m = p.usedGpuMemory { result[i].usedGpuMemory = max(result[i].usedGpuMemory ?? 0, m) }
                if let sm = p.smUtilization { result[i].smUtilization = max(result[i].smUtilization ?? 0, sm) }
                continue
            }
            if let key {
                index[key] = result.count
            } else {
                unusual[Key(pid: p.pid, gpu: p.gpuIndex, gi: p.gpuInstanceId, ci: p.computeInstanceId)] = result.count
            }
            result.append(p)
        }
        return result
    }
}

/// Each GPU's power draw apportioned to its processes by SM utilisation, or by
/// GPU memory when no process reports SM activity. An estimate, labelled so.
public struct PowerShares {
    // Indexed by GPU index (arrays, not dictionaries: asked once per process per refresh).
    private var drawByGPU: [Int?] = []
    private var smTotal: [Int] = []
    private var memoryTotal: [UInt64] = []

    public init(processes: [GPUProcess], gpus: [GPU]) {
        let count = max(gpus.map(\.index).max() ?? -1, processes.map(\.gpuIndex).max() ?? -1) + 1
        guard count > 0, count <= 4096 else { return }
        drawByGPU = Array(repeating: nil, count: count)
        smTotal = Array(repeating: 0, count: count)
        memoryTotal = Array(repeating: 0, count: count)
        for g in gpus where g.index >= 0 { if let d = g.powerDraw { drawByGPU[g.index] = d } }
        for p in processes where p.gpuIndex >= 0 {
            smTotal[p.gpuIndex] += p.smUtilization ?? 0
            memoryTotal[p.gpuIndex] &+= p.usedGpuMemory ?? 0
        }
    }

    public func share(of p: GPUProcess) -> Int? {
        guard p.gpuIndex >= 0, p.gpuIndex < drawByGPU.count, let draw = drawByGPU[p.gpuIndex] else { return nil }
        let sm = smTotal[p.gpuIndex]
        if sm > 0 {
            return draw * (p.smUtilization ?? 0) / sm
        }
        let mem = memoryTotal[p.gpuIndex]
        guard mem > 0 else { return nil }
        return Int(Double(draw) * Double(p.usedGpuMemory ?? 0) / Double(mem))
    }
}
