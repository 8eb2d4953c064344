// The part of an OCI runtime spec (a bundle's config.json) that names a container and
// says which GPUs it holds: annotations, NVIDIA_VISIBLE_DEVICES from process.env,
// linux.devices and mounts. Nothing else is kept: the environment may hold secrets,
// so only that one variable is.
//
// Decoding is lenient field by field (a malformed device entry loses that entry, not the
// container's name) and bounded: the file is at most `maxBytes` (StateFiles refuses more),
// JSONDecoder refuses nesting deeper than it supports, and at most `maxAnnotations`
// annotations of at most `maxValueBytes` each are kept.
import FoundationEssentials

public struct OCISpec: Sendable, Equatable {
    public struct Device: Sendable, Equatable {
        public var path: String
        /// "c", "b", "u", "p"; nil when absent.
        public var type: String?
        public var major: Int64?
        public var minor: Int64?
        public init(path: String, type: String? = "c", major: Int64? = nil, minor: Int64? = nil) {
            self.path = path; self.type = type; self.major = major; self.minor = minor
        }
    }

    public struct Mount: Sendable, Equatable {
        public var destination: String
        public var source: String?
        public init(destination: String, source: String?) { self.destination = destination; self.source = source }
    }

    public var annotations: [String: String] = [:]
    /// The value of the last NVIDIA_VISIBLE_DEVICES in process.env (as the runtime reads it); nil when unset.
    public var nvidiaVisibleDevices: String?
    public var devices: [Device] = []
    public var mounts: [Mount] = []

    public init() {}

    /// config.json files are tens of kilobytes; one of megabytes is not a real bundle.
    public static let maxBytes = 4 << 20
    public static let maxAnnotations = 512
    public static let maxValueBytes = 16 << 10
    /// Devices and mounts kept (a real spec has a few dozen).
    public static let maxListItems = 4096

    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case notJSON(String)
        public var description: String {
            switch self {
            case .notJSON(let detail): return "not a valid config.json: \(detail)"
            }
        }
    }

    /// Decodes config.json bytes; throws only when they are not one JSON object.
    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> OCISpec {
        let raw: RawSpec
        do {
            raw = try JSONDecoder().decode(RawSpec.self, from: Data(bytes))
        } catch {
            throw .notJSON(Self.shortReason(error))
        }
        var spec = OCISpec()
        spec.annotations = raw.annotations
        spec.nvidiaVisibleDevices = raw.nvidiaVisibleDevices
        spec.devices = raw.devices
        spec.mounts = raw.mounts
        return spec
    }

    /// DecodingError descriptions run over several lines with the whole coding path.
    private static func shortReason(_ error: Error) -> String {
        if let e = error as? DecodingError {
            switch e {
            case .dataCorrupted(let c): return oneLineShort(c.debugDescription)
            case .typeMismatch(_, let c): return "wrong type: " + oneLineShort(c.debugDescription)
            case .keyNotFound(let k, _): return "missing \(k.stringValue)"
            case .valueNotFound(_, let c): return oneLineShort(c.debugDescription)
            @unknown default: break
            }
        }
        return oneLineShort("\(error)")
    }

    private static func oneLineShort(_ s: String) -> String {
        let flat = s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? " " : Character($0) }
        return String(String(flat).prefix(120))
    }
}

// MARK: - Lenient decoding

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// Any JSON value, skipped: lets an unkeyed container move past an element of the wrong shape.
private struct Skip: Decodable {
    init(from decoder: Decoder) throws {}
}

private struct RawSpec: Decodable {
    var annotations: [String: String] = [:]
    var nvidiaVisibleDevices: String?
    var devices: [OCISpec.Device] = []
    var mounts: [OCISpec.Mount] = []

    init(from decoder: Decoder) throws {
        // The document must be an object; everything in it is optional.
        let c = try decoder.container(keyedBy: AnyKey.self)
        if let a = try? c.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey(stringValue: "annotations")) {
            for key in a.allKeys {
                guard annotations.count < OCISpec.maxAnnotations else { break }
                guard key.stringValue.utf8.count <= OCISpec.maxValueBytes,
                      let value = try? a.decode(String.self, forKey: key),
                      value.utf8.count <= OCISpec.maxValueBytes else { continue }
                annotations[key.stringValue] = value
            }
        }
        if let p = try? c.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey(stringValue: "process")),
           var env = try? p.nestedUnkeyedContainer(forKey: AnyKey(stringValue: "env")) {
            var seen = 0
            while !env.isAtEnd && seen < OCISpec.maxListItems {
                seen += 1
                if let item = try? env.decode(String.self) {
                    if item.hasPrefix("NVIDIA_VISIBLE_DEVICES=") {
                        nvidiaVisibleDevices = String(item.dropFirst("NVIDIA_VISIBLE_DEVICES=".count))
                    }
                } else if (try? env.decode(Skip.self)) == nil {
                    break
                }
            }
        }
        if let l = try? c.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey(stringValue: "linux")),
           var list = try? l.nestedUnkeyedContainer(forKey: AnyKey(stringValue: "devices")) {
            while !list.isAtEnd && devices.count < OCISpec.maxListItems {
                if let d = try? list.nestedContainer(keyedBy: AnyKey.self) {
                    guard let path = try? d.decode(String.self, forKey: AnyKey(stringValue: "path")) else { continue }
                    devices.append(OCISpec.Device(
                        path: path,
                        type: try? d.decode(String.self, forKey: AnyKey(stringValue: "type")),
                        major: try? d.decode(Int64.self, forKey: AnyKey(stringValue: "major")),
                        minor: try? d.decode(Int64.self, forKey: AnyKey(stringValue: "minor"))))
                } else if (try? list.decode(Skip.self)) == nil {
                    break
                }
            }
        }
        if var list = try? c.nestedUnkeyedContainer(forKey: AnyKey(stringValue: "mounts")) {
            while !list.isAtEnd && mounts.count < OCISpec.maxListItems {
                if let m = try? list.nestedContainer(keyedBy: AnyKey.self) {
                    guard let destination = try? m.decode(String.self, forKey: AnyKey(stringValue: "destination")) else { continue }
                    mounts.append(OCISpec.Mount(destination: destination,
                                                source: try? m.decode(String.self, forKey: AnyKey(stringValue: "source"))))
                } else if (try? list.decode(Skip.self)) == nil {
                    break
                }
            }
        }
    }
}
