// Docker API versions are "major.minor" and compare numerically: 1.9 < 1.41.

public struct APIVersion: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// Parses "1.41"; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2,
              parts.allSatisfy({ !$0.isEmpty && $0.count <= 6 && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }),
              let major = Int(parts[0]), let minor = Int(parts[1])
        else { return nil }
        self.init(major, minor)
    }

    public static func < (lhs: APIVersion, rhs: APIVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    public var description: String { "\(major).\(minor)" }

    /// The newest API version this client knows (Docker 27). Newer daemons still accept it:
    /// current Docker's minimum is 1.44 (1.24 before Docker 25).
    public static let newestSupported = APIVersion(1, 47)

    /// The version to put in /v1.xx/ paths: the lower of ours and the server's. Throws
    /// `apiTooOld` when that is below the server's minimum. Returns nil when the server does
    /// not say its version (then unversioned paths are used, which mean the server's current one).
    public static func negotiate(serverVersion: String?, serverMinimum: String?, ours: APIVersion = newestSupported) throws -> APIVersion? {
        guard let serverText = serverVersion, let server = APIVersion(serverText) else { return nil }
        let chosen = min(ours, server)
        if let minimumText = serverMinimum, let minimum = APIVersion(minimumText), chosen < minimum {
            throw DockerError.apiTooOld(ours: ours.description, serverMinimum: minimum.description)
        }
        return chosen
    }
}
