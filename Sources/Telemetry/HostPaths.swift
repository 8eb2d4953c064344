// Where the host's files are when gpuctop runs in a container with the host's root
// mounted somewhere (`--host-root /host`, as a DaemonSet pod or
// `docker run --pid=host -v /:/host:ro` has it).
public struct HostPaths: Sendable, Equatable {
    /// The host's `/` as we see it; "/" when we run on the host itself.
    public let root: String

    public init(root: String = "/") {
        var r = root.isEmpty ? "/" : root
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
    }

    /// The host's absolute `path` as we reach it. Under another root, `/var/run/...` becomes
    /// `/run/...`: on the host /var/run is a link to the absolute /run, which would lead out
    /// of the mounted tree into our own.
    public func path(_ path: String) -> String {
        guard root != "/" else { return path }
        var p = path
        if p.hasPrefix("/var/run/") { p = "/run/" + p.dropFirst("/var/run/".count) }
        return root + p
    }
}
