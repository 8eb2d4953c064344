// Decoded answers. Every field but a container's Id is optional or defaults to empty: daemons
// differ by version and by vendor (Podman), Labels may be null, and a field we do not get must
// not cost the whole list. Fields of an unexpected type are treated as missing for the same reason.
import FoundationEssentials
import Support

extension KeyedDecodingContainer {
    /// The value if present and of the expected type; nil if missing, null or mistyped.
    func lenient<T: Decodable>(_ type: T.Type, _ key: Key) -> T? {
        (try? decodeIfPresent(type, forKey: key)) ?? nil
    }
}

/// A string-keyed CodingKey, so each model lists its Docker field names inline.
struct DockerKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// Docker prefixes names with "/" ("/web-1"); we show them without.
func stripSlash(_ name: String) -> String {
    name.hasPrefix("/") ? String(name.dropFirst()) : name
}

/// One entry of `GET /containers/json`.
public struct ContainerSummary: Decodable, Equatable, Sendable {
    public var id: String
    /// Names without the leading "/".
    public var names: [String]
    public var image: String?
    /// "created", "running", "paused", "restarting", "removing", "exited", "dead".
    public var state: String?
    /// Human text such as "Up 5 minutes" or "Exited (0) 2 hours ago".
    public var status: String?
    public var labels: [String: String]
    /// Seconds since 1970.
    public var created: Int64?

    public var name: String? { names.first }

    public init(id: String, names: [String] = [], image: String? = nil, state: String? = nil,
                status: String? = nil, labels: [String: String] = [:], created: Int64? = nil) {
        self.id = id
        self.names = names
        self.image = image
        self.state = state
        self.status = status
        self.labels = labels
        self.created = created
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: DockerKey.self)
        id = try c.decode(String.self, forKey: DockerKey("Id"))
        names = (c.lenient([String].self, DockerKey("Names")) ?? []).map(stripSlash)
        image = c.lenient(String.self, DockerKey("Image"))
        state = c.lenient(String.self, DockerKey("State"))
        status = c.lenient(String.self, DockerKey("Status"))
        labels = c.lenient([String: String].self, DockerKey("Labels")) ?? [:]
        created = c.lenient(Int64.self, DockerKey("Created"))
    }
}

/// `HostConfig.DeviceRequests[]`: how `--gpus` is recorded (Driver "nvidia" or "", Count -1 = all).
public struct DeviceRequest: Decodable, Equatable, Sendable {
    public var driver: String?
    public var count: Int?
    public var deviceIDs: [String]
    /// OR of ANDs, e.g. [["gpu"]].
    public var capabilities: [[String]]
    public var options: [String: String]

    public init(driver: String? = nil, count: Int? = nil, deviceIDs: [String] = [], capabilities: [[String]] = [], options: [String: String] = [:]) {
        self.driver = driver
        self.count = count
        self.deviceIDs = deviceIDs
        self.capabilities = capabilities
        self.options = options
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: DockerKey.self)
        driver = c.lenient(String.self, DockerKey("Driver"))
        count = c.lenient(Int.self, DockerKey("Count"))
        deviceIDs = c.lenient([String].self, DockerKey("DeviceIDs")) ?? []
        capabilities = c.lenient([[String]].self, DockerKey("Capabilities")) ?? []
        options = c.lenient([String: String].self, DockerKey("Options")) ?? [:]
    }
}

/// `HostConfig.Devices[]`: a `--device /dev/nvidia0` mapping.
public struct DeviceMapping: Decodable, Equatable, Sendable {
    public var pathOnHost: String?
    public var pathInContainer: String?
    public var cgroupPermissions: String?

    public init(pathOnHost: String? = nil, pathInContainer: String? = nil, cgroupPermissions: String? = nil) {
        self.pathOnHost = pathOnHost
        self.pathInContainer = pathInContainer
        self.cgroupPermissions = cgroupPermissions
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: DockerKey.self)
        pathOnHost = c.lenient(String.self, DockerKey("PathOnHost"))
        pathInContainer = c.lenient(String.self, DockerKey("PathInContainer"))
        cgroupPermissions = c.lenient(String.self, DockerKey("CgroupPermissions"))
    }
}

/// `GET /containers/{id}/json`, reduced to what gpuctop shows and acts on.
public struct ContainerDetails: Decodable, Equatable, Sendable {
    public struct State: Equatable, Sendable {
        public var status: String?
        public var running: Bool?
        /// Host PID of the container's init process; 0 or nil when not running.
        public var pid: Int?
        public var exitCode: Int?
        /// "healthy", "unhealthy", "starting"; nil without a HEALTHCHECK.
        public var healthStatus: String?
        /// As sent, RFC 3339 with nanoseconds; "0001-01-01T00:00:00Z" means never.
        public var startedAt: String?
        public var finishedAt: String?

        public init(status: String? = nil, running: Bool? = nil, pid: Int? = nil, exitCode: Int? = nil,
                    healthStatus: String? = nil, startedAt: String? = nil, finishedAt: String? = nil) {
            self.status = status
            self.running = running
            self.pid = pid
            self.exitCode = exitCode
            self.healthStatus = healthStatus
            self.startedAt = startedAt
            self.finishedAt = finishedAt
        }

        /// `startedAt` as a Date; nil if never started or unparsable.
        public var startedAtDate: Date? { startedAt.flatMap(Timestamp.parse) }
        public var finishedAtDate: Date? { finishedAt.flatMap(Timestamp.parse) }
    }

    public var id: String
    /// Without the leading "/".
    public var name: String?
    /// The image ID ("sha256:..."), top-level `Image`.
    public var imageID: String?
    /// The image as the user named it, `Config.Image`.
    public var image: String?
    public var labels: [String: String]
    public var state: State
    public var deviceRequests: [DeviceRequest]
    public var devices: [DeviceMapping]
    /// `HostConfig.CgroupParent`, e.g. "/kubepods/besteffort/pod<uid>"; empty for the default.
    public var cgroupParent: String?

    public init(id: String, name: String? = nil, imageID: String? = nil, image: String? = nil,
                labels: [String: String] = [:], state: State = State(), deviceRequests: [DeviceRequest] = [],
                devices: [DeviceMapping] = [], cgroupParent: String? = nil) {
        self.id = id
        self.name = name
        self.imageID = imageID
        self.image = image
        self.labels = labels
        self.state = state
        self.deviceRequests = deviceRequests
        self.devices = devices
        self.cgroupParent = cgroupParent
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: DockerKey.self)
        id = try c.decode(String.self, forKey: DockerKey("Id"))
        name = c.lenient(String.self, DockerKey("Name")).map(stripSlash)
        imageID = c.lenient(String.self, DockerKey("Image"))

        let stateKey = DockerKey("State")
        if let s = try? c.nestedContainer(keyedBy: DockerKey.self, forKey: stateKey) {
            var health: String?
            if let h = try? s.nestedContainer(keyedBy: DockerKey.self, forKey: DockerKey("Health")) {
                health = h.lenient(String.self, DockerKey("Status"))
            }
            state = State(status: s.lenient(String.self, DockerKey("Status")),
                          running: s.lenient(Bool.self, DockerKey("Running")),
                          pid: s.lenient(Int.self, DockerKey("Pid")),
                          exitCode: s.lenient(Int.self, DockerKey("ExitCode")),
                          healthStatus: health,
                          startedAt: s.lenient(String.self, DockerKey("StartedAt")),
                          finishedAt: s.lenient(String.self, DockerKey("FinishedAt")))
        } else {
            state = State()
        }

        if let config = try? c.nestedContainer(keyedBy: DockerKey.self, forKey: DockerKey("Config")) {
            image = config.lenient(String.self, DockerKey("Image"))
            labels = config.lenient([String: String].self, DockerKey("Labels")) ?? [:]
        } else {
            image = nil
            labels = [:]
        }

        if let host = try? c.nestedContainer(keyedBy: DockerKey.self, forKey: DockerKey("HostConfig")) {
            deviceRequests = host.lenient([DeviceRequest].self, DockerKey("DeviceRequests")) ?? []
            devices = host.lenient([DeviceMapping].self, DockerKey("Devices")) ?? []
            cgroupParent = host.lenient(String.self, DockerKey("CgroupParent"))
        } else {
            deviceRequests = []
            devices = []
            cgroupParent = nil
        }
    }
}

/// `GET /version`, plus what negotiation chose.
public struct DockerServerInfo: Equatable, Sendable {
    /// Product version, e.g. "20.10.24+dfsg1", "27.3.1" or Podman's "4.9.3".
    public var version: String?
    public var apiVersion: String?
    public var minAPIVersion: String?
    public var os: String?
    public var arch: String?
    public var kernelVersion: String?
    public var platformName: String?
    public var componentNames: [String]
    /// Podman's Docker-compatible service rather than dockerd.
    public var isPodman: Bool
    /// The version used in /v1.xx/ paths; nil means unversioned paths.
    public var negotiatedAPIVersion: APIVersion?

    public init(version: String? = nil, apiVersion: String? = nil, minAPIVersion: String? = nil, os: String? = nil,
                arch: String? = nil, kernelVersion: String? = nil, platformName: String? = nil,
                componentNames: [String] = [], isPodman: Bool = false, negotiatedAPIVersion: APIVersion? = nil) {
        self.version = version
        self.apiVersion = apiVersion
        self.minAPIVersion = minAPIVersion
        self.os = os
        self.arch = arch
        self.kernelVersion = kernelVersion
        self.platformName = platformName
        self.componentNames = componentNames
        self.isPodman = isPodman
        self.negotiatedAPIVersion = negotiatedAPIVersion
    }
}

/// The raw /version document.
struct VersionDocument: Decodable {
    var version: String?
    var apiVersion: String?
    var minAPIVersion: String?
    var os: String?
    var arch: String?
    var kernelVersion: String?
    var platformName: String?
    var componentNames: [String]

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: DockerKey.self)
        version = c.lenient(String.self, DockerKey("Version"))
        apiVersion = c.lenient(String.self, DockerKey("ApiVersion"))
        minAPIVersion = c.lenient(String.self, DockerKey("MinAPIVersion"))
        os = c.lenient(String.self, DockerKey("Os"))
        arch = c.lenient(String.self, DockerKey("Arch"))
        kernelVersion = c.lenient(String.self, DockerKey("KernelVersion"))
        if let platform = try? c.nestedContainer(keyedBy: DockerKey.self, forKey: DockerKey("Platform")) {
            platformName = platform.lenient(String.self, DockerKey("Name"))
        }
        componentNames = (c.lenient([NamedComponent].self, DockerKey("Components")) ?? []).compactMap(\.name)
    }

    struct NamedComponent: Decodable {
        var name: String?
        init(from decoder: Decoder) throws {
            name = try decoder.container(keyedBy: DockerKey.self).lenient(String.self, DockerKey("Name"))
        }
    }

    /// Podman names its component "Podman Engine"; some builds say so only in Platform.Name.
    var isPodman: Bool {
        (componentNames + [platformName ?? ""]).contains { $0.lowercased().includes("podman") }
    }
}

/// Result of a stop: Docker answers 304 when the container was not running.
public enum StopResult: Equatable, Sendable {
    case stopped
    case alreadyStopped
}

/// One object of the /events stream.
public struct DockerEvent: Decodable, Equatable, Sendable {
    /// "container", "image", "network", ... (the stream is filtered to "container").
    public var type: String?
    /// "create", "start", "die", "stop", "kill", "destroy", "health_status: healthy", ...
    public var action: String?
    /// The container id for container events.
    public var actorID: String?
    /// Includes "name", "image", the container's labels, "exitCode" on die, "signal" on kill.
    public var attributes: [String: String]
    /// Seconds since 1970.
    public var time: Int64?
    public var timeNano: Int64?

    public init(type: String? = nil, action: String? = nil, actorID: String? = nil,
                attributes: [String: String] = [:], time: Int64? = nil, timeNano: Int64? = nil) {
        self.type = type
        self.action = action
        self.actorID = actorID
        self.attributes = attributes
        self.time = time
        self.timeNano = timeNano
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: DockerKey.self)
        // Old daemons (API < 1.22) only had "status"/"id"; current ones send both forms.
        type = c.lenient(String.self, DockerKey("Type"))
        action = c.lenient(String.self, DockerKey("Action")) ?? c.lenient(String.self, DockerKey("status"))
        var actor: String?
        var attributes: [String: String] = [:]
        if let a = try? c.nestedContainer(keyedBy: DockerKey.self, forKey: DockerKey("Actor")) {
            actor = a.lenient(String.self, DockerKey("ID"))
            attributes = a.lenient([String: String].self, DockerKey("Attributes")) ?? [:]
        }
        actorID = actor ?? c.lenient(String.self, DockerKey("id"))
        self.attributes = attributes
        time = c.lenient(Int64.self, DockerKey("time"))
        timeNano = c.lenient(Int64.self, DockerKey("timeNano"))
    }

    public var containerName: String? { attributes["name"] }
}
