// The private Podman API service started by scripts/test-podman.sh, driven through the
// podman CLI in remote mode (its requests go to that service), as a person would.
import Foundation

public enum Podman {
    public static let environmentName = "GPUCTOP_TEST_PODMAN_HOST"
    public static let image = "localhost/gpuctop-test/busybox:latest"

    /// unix:///... of the test service; a test that needs it fails without it.
    public static func host() throws -> String {
        guard let host = ProcessInfo.processInfo.environment[environmentName], !host.isEmpty else {
            throw TestFailure("\(environmentName) is not set: run scripts/test-podman.sh start and eval \"$(scripts/test-podman.sh env)\" (scripts/test.sh does both)")
        }
        return host
    }

    /// The socket's path, as `--podman-host` also takes it.
    public static func socketPath() throws -> String {
        let h = try host()
        return h.hasPrefix("unix://") ? String(h.dropFirst("unix://".count)) : h
    }

    /// Runs `podman --remote` against the test service; throws with its stderr on failure.
    @discardableResult
    public static func run(_ args: [String], timeout: Double = 60) throws -> String {
        let r = try Run.command(["/usr/bin/podman", "--remote", "--url", try host()] + args, timeout: timeout)
        guard r.status == 0 else {
            throw TestFailure("podman \(args.joined(separator: " ")) failed: \(r.stderr)")
        }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts `sleep 1000` (or `command`) detached, without network and with the ulimits these
    /// machines accept (Podman's defaults are refused here); returns its full id.
    @discardableResult
    public static func runContainer(_ name: String, labels: [String: String] = [:],
                                    command: [String] = ["sleep", "1000"]) throws -> String {
        var args = ["run", "-d", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
                    "--name", name]
        for (k, v) in labels.sorted(by: { $0.key < $1.key }) { args += ["--label", "\(k)=\(v)"] }
        return try run(args + [image] + command)
    }

    /// "running", "exited", ...: the container's state as Podman reports it.
    public static func state(_ name: String) throws -> String {
        try run(["inspect", "-f", "{{.State.Status}}", name])
    }

    /// The host PID of the container's main process.
    public static func pid(_ name: String) throws -> Int32 {
        guard let pid = Int32(try run(["inspect", "-f", "{{.State.Pid}}", name])), pid > 0 else {
            throw TestFailure("container \(name) has no PID")
        }
        return pid
    }

    /// Removes containers, ignoring those already gone.
    public static func remove(_ names: [String]) {
        guard !names.isEmpty else { return }
        _ = try? run(["rm", "--force", "--ignore", "--time", "0"] + names)
    }
}
