// A Snapshot as the Prometheus text exposition format, version 0.0.4, for
// `gpuctop export` (a /metrics endpoint or node_exporter's textfile collector).
//
// Per-GPU metrics reuse dcgm-exporter's names, units and labels where the two
// overlap (DCGM_FI_DEV_*, with `gpu`, `UUID`, `pci_bus_id`, `device`, `modelName`,
// `Hostname`), so dashboards and alerts written for dcgm-exporter work unchanged.
// Everything dcgm-exporter does not have (power limits, lost GPUs, MIG instances,
// containers, gpuctop's own health) is `gpuctop_*` in base units.
//
// Each family is written once, HELP and TYPE first, its samples together. A field
// NVML could not give is omitted (never NaN); a family without samples is left out.
import FoundationEssentials
import Model

public enum PrometheusText {
    /// The Content-Type of the 0.0.4 text format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The whole exposition of one snapshot. `up` adds the `gpuctop_up` family
    /// (nil leaves it to the caller, who may decide it when the body is served).
    public static func render(_ snapshot: Snapshot, up: Bool? = true, version: String? = nil) -> String {
        var out = Exposition()
        if let up { out.add(Family.up, [], up ? 1 : 0) }
        addHealth(snapshot, version: version, to: &out)
        addGPUs(snapshot, to: &out)
        addMIG(snapshot, to: &out)
        addContainers(snapshot, to: &out)
        addXIDContainers(snapshot, to: &out)
        addActivity(snapshot, to: &out)
        addEnergy(snapshot, to: &out)
        return out.text
    }

    /// Only the `gpuctop_up` family, for a server that decides it per scrape.
    public static func upFamily(_ up: Bool) -> String {
        var out = Exposition()
        out.add(Family.up, [], up ? 1 : 0)
        return out.text
    }

    // MARK: - Families

    enum Kind: String { case gauge, counter }

    struct Family {
        let name: String
        let type: Kind
        let help: String
        init(_ name: String, _ type: Kind, _ help: String) { self.name = name; self.type = type; self.help = help }

        static let up = Family("gpuctop_up", .gauge,
            "1 while gpuctop's sampler refreshes on time; 0 when the latest refresh is more than 3 intervals (at least 10 s) old.")
        static let info = Family("gpuctop_info", .gauge,
            "Always 1; labels: gpuctop version, NVIDIA driver and CUDA versions.")
        static let degraded = Family("gpuctop_source_degraded", .gauge,
            "1 when a source (nvml, procfs, docker) could not be read in the latest refresh, else 0.")
        static let refreshTime = Family("gpuctop_last_refresh_timestamp_seconds", .gauge,
            "When the latest refresh began, in seconds since 1970.")
        static let gpuCount = Family("gpuctop_gpus", .gauge, "Number of GPUs NVML lists.")

        // dcgm-exporter's names, help and units (etc/default-counters.csv; FB_TOTAL,
        // FB_RESERVED, FAN_SPEED and PSTATE are DCGM fields outside its default set).
        static let smClock = Family("DCGM_FI_DEV_SM_CLOCK", .gauge, "SM clock frequency (in MHz).")
        static let memClock = Family("DCGM_FI_DEV_MEM_CLOCK", .gauge, "Memory clock frequency (in MHz).")
        static let gpuTemp = Family("DCGM_FI_DEV_GPU_TEMP", .gauge, "GPU temperature (in C).")
        static let power = Family("DCGM_FI_DEV_POWER_USAGE", .gauge, "Power draw (in W).")
        static let energy = Family("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", .counter,
            "Total energy consumption since boot (in mJ).")
        static let gpuUtil = Family("DCGM_FI_DEV_GPU_UTIL", .gauge, "GPU utilization (in %).")
        static let memCopyUtil = Family("DCGM_FI_DEV_MEM_COPY_UTIL", .gauge, "Memory utilization (in %).")
        static let encUtil = Family("DCGM_FI_DEV_ENC_UTIL", .gauge, "Encoder utilization (in %).")
        static let decUtil = Family("DCGM_FI_DEV_DEC_UTIL", .gauge, "Decoder utilization (in %).")
        static let fbFree = Family("DCGM_FI_DEV_FB_FREE", .gauge, "Framebuffer memory free (in MiB).")
        static let fbUsed = Family("DCGM_FI_DEV_FB_USED", .gauge, "Framebuffer memory used (in MiB).")
        static let fbTotal = Family("DCGM_FI_DEV_FB_TOTAL", .gauge, "Framebuffer memory total (in MiB).")
        static let fbReserved = Family("DCGM_FI_DEV_FB_RESERVED", .gauge, "Framebuffer memory reserved (in MiB).")
        static let fan = Family("DCGM_FI_DEV_FAN_SPEED", .gauge, "Fan speed (in 0-100%).")
        static let pstate = Family("DCGM_FI_DEV_PSTATE", .gauge, "Performance state (P-State) 0-15. 0=highest.")

        static let lost = Family("gpuctop_gpu_lost", .gauge, "1 when the GPU has fallen off the bus (NVML GPU_IS_LOST), else 0.")
        static let powerLimit = Family("gpuctop_gpu_power_limit_watts", .gauge,
            "Power management limit set on the GPU, in watts.")
        static let powerEnforced = Family("gpuctop_gpu_power_limit_enforced_watts", .gauge,
            "Power limit the GPU enforces (the lowest of all limiters), in watts.")
        static let powerDefault = Family("gpuctop_gpu_power_limit_default_watts", .gauge,
            "Default power management limit of the GPU, in watts.")
        static let powerMin = Family("gpuctop_gpu_power_limit_min_watts", .gauge,
            "Lowest power management limit the GPU accepts, in watts.")
        static let powerMax = Family("gpuctop_gpu_power_limit_max_watts", .gauge,
            "Highest power management limit the GPU accepts, in watts.")
        static let migEnabled = Family("gpuctop_gpu_mig_enabled", .gauge,
            "1 when MIG mode is on (current mode), 0 when off; absent on GPUs without MIG.")

        static let migUsed = Family("gpuctop_mig_instance_memory_used_bytes", .gauge,
            "Memory used on a MIG instance, in bytes.")
        static let migTotal = Family("gpuctop_mig_instance_memory_total_bytes", .gauge,
            "Memory of a MIG instance, in bytes.")
        static let migSMs = Family("gpuctop_mig_instance_multiprocessors", .gauge,
            "Streaming multiprocessors of a MIG instance.")

        static let containerMemory = Family("gpuctop_container_gpu_memory_bytes", .gauge,
            "GPU memory used by a container's processes on one GPU, in bytes (container=\"host\": processes in no container).")
        static let containerSM = Family("gpuctop_container_sm_utilization_percent", .gauge,
            "Sum of a container's processes' SM utilization on one GPU, in percent.")
        static let containerPower = Family("gpuctop_container_power_share_watts", .gauge,
            "Estimate: the GPU's power draw apportioned to a container by SM utilization (by GPU memory when the GPU is idle), in watts.")
        static let containerProcesses = Family("gpuctop_container_gpu_processes", .gauge,
            "Number of a container's processes on one GPU.")
        static let idleAllocation = Family("gpuctop_container_idle_gpu_allocation", .gauge,
            "1 for a running container that asked for GPUs and has no GPU process.")

        // GPU health: dcgm-exporter's names, types and help (etc/default-counters.csv and
        // dcp-metrics-included.csv), where it has them.
        static let xidLast = Family("DCGM_FI_DEV_XID_ERRORS", .gauge, "Value of the last XID error encountered.")
        static let throttleReasons = Family("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", .gauge,
            "Current clock throttle reasons (bitmask: 0x4 SW power cap, 0x8 HW slowdown, 0x20 SW thermal, 0x40 HW thermal, 0x80 HW power brake).")
        static let powerViolation = Family("DCGM_FI_DEV_POWER_VIOLATION", .counter,
            "Throttling duration due to power constraints (in us).")
        static let eccDBEVolatile = Family("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", .counter,
            "Total number of double-bit volatile ECC errors.")
        static let eccDBEAggregate = Family("DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", .counter,
            "Total number of double-bit persistent ECC errors.")
        static let remappedUncorrectable = Family("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", .counter,
            "Number of remapped rows for uncorrectable errors")
        static let remappedCorrectable = Family("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", .counter,
            "Number of remapped rows for correctable errors")
        static let remapPending = Family("DCGM_FI_DEV_ROW_REMAP_PENDING", .gauge,
            "Whether remapping of rows is pending")
        static let remapFailure = Family("DCGM_FI_DEV_ROW_REMAP_FAILURE", .gauge,
            "Whether remapping of rows has failed")
        static let xidTotal = Family("gpuctop_xid_errors_total", .counter,
            "XID errors the GPU reported since gpuctop started watching, by XID code.")
        static let powerCapped = Family("gpuctop_gpu_power_capped_percent", .gauge,
            "Share of the last few seconds the power limit held the GPU's clocks down, in percent.")
        static let containerXID = Family("gpuctop_container_last_xid_timestamp_seconds", .gauge,
            "When an XID (code) last happened on a GPU while the container's processes were on it, in seconds since 1970 (over gpuctop's latest XIDs; container=\"host\": processes in no container).")
    }

    // MARK: - Sections

    static func addHealth(_ s: Snapshot, version: String?, to out: inout Exposition) {
        out.add(Family.info, [("version", version), ("driver_version", s.driverVersion),
                              ("cuda_version", s.cudaVersion), ("Hostname", s.host)], 1)
        var sources = ["nvml", "procfs", "docker"]
        for d in s.degraded where !sources.contains(d.source) { sources.append(d.source) }
        for source in sources {
            let degraded = s.degraded.contains { $0.source == source }
            out.add(Family.degraded, [("source", source), ("Hostname", s.host)], degraded ? 1 : 0)
        }
        out.add(Family.refreshTime, [("Hostname", s.host)], Value.seconds(s.time))
        if !s.degraded.contains(where: { $0.source == "nvml" }) {
            out.add(Family.gpuCount, [("Hostname", s.host)], s.gpus.count)
        }
    }

    /// dcgm-exporter's label set for a GPU: gpu, UUID, pci_bus_id, device, modelName, Hostname.
    static func dcgmLabels(_ g: GPU, host: String) -> [(String, String?)] {
        [("gpu", String(g.index)), ("UUID", g.uuid), ("pci_bus_id", g.pciBusId),
         ("device", "nvidia\(g.index)"), ("modelName", g.name), ("Hostname", host)]
    }

    /// gpuctop's own GPU labels: the same identity without the camelCase label.
    static func gpuLabels(_ g: GPU, host: String) -> [(String, String?)] {
        [("gpu", String(g.index)), ("UUID", g.uuid), ("Hostname", host)]
    }

    static func addGPUs(_ s: Snapshot, to out: inout Exposition) {
        for g in s.gpus.sorted(by: { $0.index < $1.index }) {
            let d = dcgmLabels(g, host: s.host)
            out.add(Family.smClock, d, g.clockSM)
            out.add(Family.memClock, d, g.clockMemory)
            out.add(Family.gpuTemp, d, g.temperature)
            out.add(Family.power, d, g.powerDraw.map(Value.milliToUnit))
            out.add(Family.energy, d, g.energyTotal)
            out.add(Family.gpuUtil, d, g.utilizationGpu)
            out.add(Family.memCopyUtil, d, g.utilizationMemory)
            out.add(Family.encUtil, d, g.encoderUtilization)
            out.add(Family.decUtil, d, g.decoderUtilization)
            out.add(Family.fbFree, d, g.memoryFree.map(Value.mebibytes))
            out.add(Family.fbUsed, d, g.memoryUsed.map(Value.mebibytes))
            out.add(Family.fbTotal, d, g.memoryTotal.map(Value.mebibytes))
            out.add(Family.fbReserved, d, g.memoryReserved.map(Value.mebibytes))
            out.add(Family.fan, d, g.fanSpeed)
            out.add(Family.pstate, d, g.performanceState)

            let l = gpuLabels(g, host: s.host)
            out.add(Family.lost, l, g.lost ? 1 : 0)
            out.add(Family.powerLimit, l, g.powerLimit.map(Value.milliToUnit))
            out.add(Family.powerEnforced, l, g.powerLimitEnforced.map(Value.milliToUnit))
            out.add(Family.powerDefault, l, g.powerLimitDefault.map(Value.milliToUnit))
            out.add(Family.powerMin, l, g.powerLimitMin.map(Value.milliToUnit))
            out.add(Family.powerMax, l, g.powerLimitMax.map(Value.milliToUnit))
            out.add(Family.migEnabled, l, g.migMode.map { $0.current ? 1 : 0 })
            addHealth(g, dcgm: d, own: l, to: &out)
        }
    }

    /// dcgm-exporter keeps XID_ERRORS at the last XID forever (NVIDIA/DCGM #277); so
    /// does this gauge (0 while none came), and gpuctop_xid_errors_total counts them.
    static func addHealth(_ g: GPU, dcgm d: [(String, String?)], own l: [(String, String?)], to out: inout Exposition) {
        if g.xidCounts != nil { out.add(Family.xidLast, d, g.lastXID ?? 0) }
        out.add(Family.throttleReasons, d, g.clockEventReasons)
        out.add(Family.powerViolation, d, g.powerViolationTime.map { $0 / 1000 })
        out.add(Family.eccDBEVolatile, d, g.eccUncorrectedVolatile)
        out.add(Family.eccDBEAggregate, d, g.eccUncorrectedAggregate)
        out.add(Family.remappedUncorrectable, d, g.remappedRowsUncorrectable)
        out.add(Family.remappedCorrectable, d, g.remappedRowsCorrectable)
        out.add(Family.remapPending, d, g.rowRemapPending.map { $0 ? 1 : 0 })
        out.add(Family.remapFailure, d, g.rowRemapFailure.map { $0 ? 1 : 0 })
        for c in g.xidCounts ?? [] {
            out.add(Family.xidTotal, l + [("code", String(c.code))], c.count)
        }
        out.add(Family.powerCapped, l, g.powerCappedPercent)
    }

    /// The profile at the end of a MIG device's name: "NVIDIA H100 80GB HBM3 MIG 1g.10gb" -> "1g.10gb".
    static func migProfile(_ name: String?) -> String? {
        guard let words = name?.split(separator: " "), let i = words.lastIndex(of: "MIG"), i + 1 < words.count else {
            return nil
        }
        return String(words[i + 1])
    }

    static func addMIG(_ s: Snapshot, to out: inout Exposition) {
        for g in s.gpus.sorted(by: { $0.index < $1.index }) {
            for m in g.migDevices.sorted(by: { $0.index < $1.index }) {
                let labels: [(String, String?)] = [
                    ("gpu", String(g.index)), ("UUID", g.uuid), ("mig_uuid", m.uuid),
                    ("gpu_instance", m.gpuInstanceId.map(String.init)),
                    ("compute_instance", m.computeInstanceId.map(String.init)),
                    ("profile", migProfile(m.name)), ("Hostname", s.host)]
                out.add(Family.migUsed, labels, m.memoryUsed)
                out.add(Family.migTotal, labels, m.memoryTotal)
                out.add(Family.migSMs, labels, m.multiprocessors)
            }
        }
    }

    /// One container's use of one GPU.
    struct ContainerGPU {
        var pids = Set<Int32>()
        var memory: UInt64 = 0
        var sm: Int?
        var powerMilliwatts: Int?
    }

    /// `container` is a pod's container name ("pytorch") where Kubernetes runs it, as kubelet,
    /// cAdvisor and dcgm-exporter label it (the engine's name, cri-dockerd's k8s_pytorch_trainer-0_...,
    /// would join with nothing); else the engine's name.
    static func containerLabels(_ c: ContainerUsage?, id: String, host: String, gpu: Int?) -> [(String, String?)] {
        let isHost = id == "host"
        return [("container", isHost ? "host" : c?.podContainer ?? c?.name), ("container_id", isHost ? "host" : String(id.prefix(12))),
                ("compose_service", c?.composeService), ("pod", c?.podName), ("namespace", c?.podNamespace),
                ("gpu", gpu.map(String.init)), ("Hostname", host)]
    }

    static func addContainers(_ s: Snapshot, to out: inout Exposition) {
        // Per (container, GPU), from the processes, counted as ContainerJoin counts them:
        // one entry per process context, power shares from the same apportioning.
        let processes = ProcessContexts.merged(s.processes)
        let shares = PowerShares(processes: processes, gpus: s.gpus)
        struct Key: Hashable { var id: String; var gpu: Int }
        var usage: [Key: ContainerGPU] = [:]
        for p in processes {
            let key = Key(id: p.info?.container?.id ?? "host", gpu: p.gpuIndex)
            var u = usage[key] ?? ContainerGPU()
            u.pids.insert(p.pid)
            u.memory &+= p.usedGpuMemory ?? 0
            if let sm = p.smUtilization { u.sm = (u.sm ?? 0) + sm }
            if let share = shares.share(of: p) { u.powerMilliwatts = (u.powerMilliwatts ?? 0) + share }
            usage[key] = u
        }
        // In the snapshot's order (by memory, host last), then by GPU; any key the
        // snapshot's container list lacks comes after, by id.
        var order: [String] = []
        var byId: [String: ContainerUsage] = [:]
        for c in s.containers where byId[c.id] == nil {
            byId[c.id] = c
            order.append(c.id)
        }
        let rank = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        let keys = usage.keys.sorted { a, b in
            let ra = rank[a.id] ?? Int.max, rb = rank[b.id] ?? Int.max
            if ra != rb { return ra < rb }
            if a.id != b.id { return a.id < b.id }
            return a.gpu < b.gpu
        }
        for key in keys {
            let u = usage[key]!
            let labels = containerLabels(byId[key.id], id: key.id, host: s.host, gpu: key.gpu)
            out.add(Family.containerMemory, labels, u.memory)
            out.add(Family.containerSM, labels, u.sm)
            out.add(Family.containerPower, labels, u.powerMilliwatts.map(Value.milliToUnit))
            out.add(Family.containerProcesses, labels, u.pids.count)
        }
        for c in s.containers where c.idleAllocation {
            out.add(Family.idleAllocation, containerLabels(c, id: c.id, host: s.host, gpu: nil), 1)
        }
    }

    /// Who was on a GPU when an XID came: per (container, GPU, code) the latest time.
    static func addXIDContainers(_ s: Snapshot, to out: inout Exposition) {
        struct Key: Hashable { var id: String; var gpu: Int; var code: Int }
        var latest: [Key: (time: Double, container: ContainerUsage)] = [:]
        var order: [Key] = []
        for e in s.xidEvents ?? [] {
            for c in e.containers {
                let key = Key(id: c.id, gpu: e.gpuIndex, code: e.code)
                if latest[key] == nil { order.append(key) }
                if latest[key].map({ $0.time <= e.time }) ?? true { latest[key] = (e.time, c) }
            }
        }
        for key in order {
            let (time, c) = latest[key]!
            let labels = containerLabels(c, id: key.id, host: s.host, gpu: key.gpu) + [("code", String(key.code))]
            out.add(Family.containerXID, labels, Value.seconds(time))
        }
    }

    // MARK: - Escaping

    /// A label value: backslash, double quote and line feed escaped.
    public static func escapeLabelValue(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == 10 }) else {
            return value
        }
        var result = ""
        result.reserveCapacity(value.utf8.count + 8)
        for ch in value.unicodeScalars {
            switch ch {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.unicodeScalars.append(ch)
            }
        }
        return result
    }

    /// HELP text: backslash and line feed escaped.
    public static func escapeHelp(_ text: String) -> String {
        var result = ""
        for ch in text.unicodeScalars {
            switch ch {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            default: result.unicodeScalars.append(ch)
            }
        }
        return result
    }

    // MARK: - Values

    enum Value {
        /// Milli-units (mW) to units (W), exactly: 250500 -> "250.5".
        static func milliToUnit(_ milli: Int) -> String {
            let sign = milli < 0 ? "-" : ""
            let m = milli.magnitude
            var text = sign + String(m / 1000)
            let frac = m % 1000
            if frac != 0 {
                var digits = String(frac)
                digits = String(repeating: "0", count: 3 - digits.count) + digits
                while digits.hasSuffix("0") { digits.removeLast() }
                text += "." + digits
            }
            return text
        }

        /// Bytes to whole MiB, rounded down, as DCGM reports framebuffer memory.
        static func mebibytes(_ bytes: UInt64) -> UInt64 { bytes >> 20 }

        /// Seconds with millisecond precision, without an exponent.
        static func seconds(_ t: Double) -> String {
            guard t.isFinite, t >= 0, t < 1e15 else { return "0" }
            let ms = Int((t * 1000).rounded())
            return milliToUnit(ms)
        }
    }

    // MARK: - The writer

    /// Families in first-use order; each written once with all its samples.
    struct Exposition {
        private var families: [Family] = []
        private var samples: [String: [String]] = [:]

        mutating func add(_ family: Family, _ labels: [(String, String?)], _ value: String?) {
            guard let value else { return }
            if samples[family.name] == nil {
                families.append(family)
                samples[family.name] = []
            }
            var line = family.name
            var first = true
            for (name, v) in labels {
                guard let v, !v.isEmpty else { continue }
                line += first ? "{" : ","
                first = false
                line += name + "=\"" + PrometheusText.escapeLabelValue(v) + "\""
            }
            if !first { line += "}" }
            line += " " + value
            samples[family.name]!.append(line)
        }

        mutating func add<T: BinaryInteger>(_ family: Family, _ labels: [(String, String?)], _ value: T?) {
            add(family, labels, value.map { String($0) })
        }

        var text: String {
            var out = ""
            for f in families {
                out += "# HELP \(f.name) \(PrometheusText.escapeHelp(f.help))\n"
                out += "# TYPE \(f.name) \(f.type.rawValue)\n"
                for line in samples[f.name]! { out += line + "\n" }
            }
            return out
        }
    }
}
