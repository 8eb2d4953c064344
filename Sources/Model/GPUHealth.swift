// What a GPU's health readings mean: the clock event ("throttle") reasons NVML
// reports as a bitmask, the XID codes of critical errors, and one XID event with
// whoever was on the GPU when it happened. Samplers fill them (Telemetry's
// NVMLHealth and XIDEventWatcher); views and the exporter name them from here,
// so the dashboard, JSON and Prometheus say the same thing.
import FoundationEssentials

/// nvmlDeviceGetCurrentClocksEventReasons: why the clocks are below their maximum.
public struct ClockEventReasons: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let gpuIdle = ClockEventReasons(rawValue: 0x1)
    public static let applicationsClocks = ClockEventReasons(rawValue: 0x2)
    public static let swPowerCap = ClockEventReasons(rawValue: 0x4)
    public static let hwSlowdown = ClockEventReasons(rawValue: 0x8)
    public static let syncBoost = ClockEventReasons(rawValue: 0x10)
    public static let swThermal = ClockEventReasons(rawValue: 0x20)
    public static let hwThermal = ClockEventReasons(rawValue: 0x40)
    public static let hwPowerBrake = ClockEventReasons(rawValue: 0x80)
    public static let displayClocks = ClockEventReasons(rawValue: 0x100)

    /// Reasons that hold a busy GPU back, most serious first, each with its word on
    /// the GPU line. Idle, application clocks, sync boost and display clocks are the
    /// GPU doing what it was asked to: not said.
    public static let holdingBack: [(reason: ClockEventReasons, word: String, serious: Bool)] = [
        (.hwPowerBrake, "power brake", true),
        (.hwThermal, "HW thermal", true),
        (.hwSlowdown, "HW slowdown", true),
        (.swThermal, "thermal", true),
        (.swPowerCap, "power cap", false),
    ]

    /// The words for what holds the GPU back, most serious first; empty when nothing does.
    public var words: [String] { Self.holdingBack.filter { contains($0.reason) }.map(\.word) }

    /// Every set bit by name, for the detail and JSON readers ("idle", "power cap", ...).
    public var allNames: [String] {
        let names: [(ClockEventReasons, String)] = [
            (.gpuIdle, "idle"), (.applicationsClocks, "application clocks"), (.swPowerCap, "power cap"),
            (.hwSlowdown, "HW slowdown"), (.syncBoost, "sync boost"), (.swThermal, "thermal"),
            (.hwThermal, "HW thermal"), (.hwPowerBrake, "power brake"), (.displayClocks, "display clocks"),
        ]
        var out = names.filter { contains($0.0) }.map(\.1)
        let unknown = rawValue & ~0x1FF
        if unknown != 0 { out.append("0x" + String(unknown, radix: 16)) }
        return out
    }
}

/// Short meanings of the XID codes people meet most (NVIDIA's XID catalogue).
public enum XIDCodes {
    public static let meanings: [Int: String] = [
        8: "GPU stopped processing (timeout)",
        13: "graphics engine exception (often the application's fault)",
        31: "GPU memory page fault (often the application's fault)",
        32: "invalid or corrupted push buffer stream",
        38: "driver firmware error",
        43: "GPU stopped processing (application fault)",
        45: "preemptive cleanup after earlier errors (process ended)",
        48: "double-bit ECC error",
        61: "internal micro-controller breakpoint/warning",
        62: "internal micro-controller halt",
        63: "ECC page retirement or row remapping recorded",
        64: "ECC page retirement or row remapping failed",
        68: "video processor exception",
        69: "graphics engine class error",
        74: "NVLink error",
        79: "GPU has fallen off the bus",
        92: "high single-bit ECC error rate",
        94: "contained ECC error (the application that hit it must restart)",
        95: "uncontained ECC error (GPU reset needed)",
        109: "context switch timeout",
        119: "GSP RPC timeout",
        120: "GSP error",
        121: "C2C link error",
        140: "unrecovered ECC error",
        999: "unknown XID (the driver did not say which)",
    ]

    public static func meaning(_ code: Int) -> String? { meanings[code] }
}

/// One XID critical error: when gpuctop received it, on which GPU (and MIG
/// instance when the driver could attribute it), the code, and the processes and
/// containers that were on that GPU (or instance) at that moment.
public struct XIDEvent: Codable, Sendable, Equatable {
    /// Seconds since 1970 when gpuctop received the event.
    public var time: Double
    public var gpuIndex: Int
    /// Set when the driver attributes the error to one MIG instance.
    public var gpuInstanceId: Int?
    public var computeInstanceId: Int?
    /// The XID (999: the driver did not know which).
    public var code: Int
    /// The processes on the GPU (or instance) when it happened: those seen in the
    /// refresh before, and those seen after that had already started.
    public var processes: [GPUProcess] = []
    /// Their containers ("host" for processes in no container), labels left out.
    public var containers: [ContainerUsage] = []
    /// The host it happened on, in a merged several-host snapshot (`--host`); absent otherwise.
    public var host: String?

    public init(time: Double, gpuIndex: Int, code: Int) {
        self.time = time; self.gpuIndex = gpuIndex; self.code = code
    }

    /// "GPU 3" or "GPU 3 MIG 1/0".
    public var place: String {
        var text = "GPU \(gpuIndex)"
        if let gi = gpuInstanceId { text += " MIG \(gi)/\(computeInstanceId.map(String.init) ?? "*")" }
        return text
    }
}

/// How many XIDs of one code a GPU reported since gpuctop started watching.
public struct XIDCount: Codable, Sendable, Equatable {
    public var code: Int
    public var count: Int
    public init(code: Int, count: Int) { self.code = code; self.count = count }
}
