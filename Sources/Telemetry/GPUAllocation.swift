// Which GPUs a container holds, from its OCI spec: what makes an idle allocation
// visible for containers no Docker API describes (Kubernetes pods on containerd or
// CRI-O, nerdctl), and what the GPU REQUEST column says about them.
//
// Where the NVIDIA stack puts the answer, strongest first:
//   linux.devices  /dev/nvidiaN character devices (major 195): the CDI and "jit-cdi"
//                  modes of the NVIDIA Container Toolkit inject the devices themselves,
//                  and set NVIDIA_VISIBLE_DEVICES=void so the legacy hook stays out;
//                  the minor number names the GPU (nvmlDeviceGetMinorNumber).
//   process.env    NVIDIA_VISIBLE_DEVICES: GPU UUIDs, MIG UUIDs, indexes (`0`, `0:1`),
//                  `all`; `none` means the driver but no GPU; `void` or empty means
//                  "not this way" (the legacy hook and the device plugin's default).
//   mounts         /dev/null onto /var/run/nvidia-container-devices/<id>: the device
//                  plugin's `volume-mounts` strategy, one mount per device.
//   annotations    cdi.k8s.io/*: `nvidia.com/gpu=0,nvidia.com/gpu=GPU-...`: CDI devices
//                  asked for; containerd applies them before writing config.json, so
//                  they only matter when nothing above is there.
import Model
import Support

/// What a spec says the container holds, before it is matched to this host's GPUs.
public struct GPUClaim: Sendable, Equatable {
    public enum Item: Sendable, Equatable, Hashable {
        /// A /dev/nvidiaN device: its minor number, and N from its path.
        case device(minor: Int64, name: String)
        /// An identifier as NVIDIA_VISIBLE_DEVICES or CDI give it: UUID, MIG UUID, index.
        case id(String)
    }
    /// `all` GPUs (items are then empty).
    public var all = false
    public var items: [Item] = []

    /// The claim a spec makes; nil when it holds no GPU.
    public static func from(_ spec: OCISpec) -> GPUClaim? {
        var devices: [Item] = []
        for d in spec.devices where d.type == nil || d.type == "c" {
            guard let n = gpuNumber(d.path) else { continue }
            let minor = (d.major == nvidiaMajor ? d.minor : nil) ?? n
            let item = Item.device(minor: minor, name: "nvidia\(n)")
            if !devices.contains(item) { devices.append(item) }
        }
        if !devices.isEmpty { return GPUClaim(items: devices) }

        if let value = spec.nvidiaVisibleDevices {
            let trimmed = trimBlanks(value)
            switch trimmed.lowercased() {
            case "none": return nil
            case "", "void": break
            case "all": return GPUClaim(all: true)
            default:
                let ids = list(trimmed)
                if ids.contains("all") { return GPUClaim(all: true) }
                if !ids.isEmpty { return GPUClaim(items: ids.map { .id($0) }) }
            }
        }

        var mounted: [String] = []
        for m in spec.mounts {
            let dest = m.destination
            for prefix in mountPrefixes where dest.hasPrefix(prefix) {
                let id = String(dest.dropFirst(prefix.count))
                if !id.isEmpty, !id.contains("/"), !mounted.contains(id) { mounted.append(id) }
            }
        }
        if mounted.contains("all") { return GPUClaim(all: true) }
        if !mounted.isEmpty { return GPUClaim(items: mounted.map { .id($0) }) }

        var cdi: [String] = []
        for (key, value) in spec.annotations.sorted(by: { $0.key < $1.key }) where key.hasPrefix("cdi.k8s.io/") {
            for device in list(value) {
                // vendor/class=name; only NVIDIA's classes (gpu, mig, ...) hold GPUs.
                guard device.hasPrefix("nvidia.com/"), let eq = device.firstIndex(of: "=") else { continue }
                let name = String(device[device.index(after: eq)...])
                if !name.isEmpty, !cdi.contains(name) { cdi.append(name) }
            }
        }
        if cdi.contains("all") { return GPUClaim(all: true) }
        if !cdi.isEmpty { return GPUClaim(items: cdi.map { .id($0) }) }
        return nil
    }

    /// In words, in the style of Docker's requests (GPURequest): "all GPUs", "GPU 0,1",
    /// "GPU 0:1/0" for a MIG instance (GPU:GI/CI), the identifier itself when this host
    /// has no such GPU, "nvidiaN" for a device whose minor number no GPU has.
    public func describe(_ gpus: GPUIdentities) -> String {
        if all { return "all GPUs" }
        var names: [String] = []
        var unmatchedDevices: [String] = []
        for item in items {
            switch item {
            case .device(let minor, let name):
                if let index = gpus.indexByMinor[minor] {
                    if !names.contains("\(index)") { names.append("\(index)") }
                } else if !unmatchedDevices.contains(name) {
                    unmatchedDevices.append(name)
                }
            case .id(let id):
                let label = gpus.label(for: id) ?? id
                if !names.contains(label) { names.append(label) }
            }
        }
        var parts: [String] = []
        if !names.isEmpty { parts.append("GPU " + names.joined(separator: ",")) }
        if !unmatchedDevices.isEmpty { parts.append(unmatchedDevices.joined(separator: ",")) }
        return parts.joined(separator: " ")
    }

    static let nvidiaMajor: Int64 = 195
    static let mountPrefixes = ["/var/run/nvidia-container-devices/", "/run/nvidia-container-devices/"]

    /// N of /dev/nvidiaN (not nvidiactl, nvidia-uvm, nvidia-caps/...).
    static func gpuNumber(_ path: String) -> Int64? {
        guard path.hasPrefix("/dev/nvidia") else { return nil }
        let rest = path.dropFirst("/dev/nvidia".count)
        guard !rest.isEmpty, rest.count <= 9, rest.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int64(rest)
    }

    /// Comma separated, blanks around items dropped, empty items skipped.
    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { trimBlanks($0) }.filter { !$0.isEmpty }
    }
}

/// This host's GPUs as the identifiers of a spec name them: UUIDs (GPU and MIG, any
/// case), indexes, and the minor numbers of their /dev/nvidiaN devices.
public struct GPUIdentities: Sendable, Equatable {
    var indexByMinor: [Int64: Int] = [:]
    var labelByUUID: [String: String] = [:]
    var indexes: Set<String> = []

    public init() {}

    /// - minorNumbers: GPU index by the minor number of its device (NVMLSampler.minorNumbers).
    public init(gpus: [GPU], minorNumbers: [Int: Int]) {
        for (minor, index) in minorNumbers { indexByMinor[Int64(minor)] = index }
        for gpu in gpus {
            indexes.insert("\(gpu.index)")
            if let uuid = gpu.uuid { labelByUUID[uuid.lowercased()] = "\(gpu.index)" }
            for mig in gpu.migDevices {
                guard let uuid = mig.uuid else { continue }
                let gi = mig.gpuInstanceId.map(String.init) ?? "?"
                let ci = mig.computeInstanceId.map(String.init) ?? "?"
                labelByUUID[uuid.lowercased()] = "\(gpu.index):\(gi)/\(ci)"
            }
        }
    }

    /// "0" for GPU 0's UUID or for "0"; "0:1/0" for a MIG UUID; nil when unknown here.
    func label(for id: String) -> String? {
        if let label = labelByUUID[id.lowercased()] { return label }
        if indexes.contains(id) { return id }
        return nil
    }
}
