// The private test dockerd started by scripts/test-dockerd.sh, driven through
// the docker CLI as a person would.
import Foundation

public enum Docker {
    public static let environmentName = "GPUCTOP_TEST_DOCKER_HOST"
    public static let image = "gpuctop-test/busybox:latest"

    /// unix:///... of the test daemon; a test that needs it fails without it.
    public static func host() throws -> String {
        guard let host = ProcessInfo.processInfo.environment[environmentName], !host.isEmpty else {
            throw TestFailure("\(environmentName) is not set: run scripts/test-dockerd.sh start and eval \"$(scripts/test-dockerd.sh env)\" (scripts/test.sh does both)")
        }
        return host
    }

    /// Runs the docker CLI against the test daemon; throws with its stderr on failure.
    @discardableResult
    public static func run(_ args: [String], timeout: Double = 60) throws -> String {
        let r = try Run.command(["/usr/bin/docker", "-H", try host()] + args, timeout: timeout)
        guard r.status == 0 else {
            throw TestFailure("docker \(args.joined(separator: " ")) failed: \(r.stderr)")
        }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts `sleep 1000` (or `command`) in a detached container without network; returns its id.
    @discardableResult
    public static func runContainer(_ name: String, labels: [String: String] = [:], options: [String] = [],
                                    image: String = Docker.image, command: [String] = ["sleep", "1000"]) throws -> String {
        try run(["run", "-d"] + containerArguments(name, labels: labels, options: options) + [image] + command)
    }

    /// Creates (without starting) a container as `runContainer` would run it; returns its id.
    @discardableResult
    public static func createContainer(_ name: String, labels: [String: String] = [:], options: [String] = [],
                                       image: String = Docker.image, command: [String] = ["sleep", "1000"]) throws -> String {
        try run(["create"] + containerArguments(name, labels: labels, options: options) + [image] + command)
    }

    /// `--network none --name NAME [--label K=V...] [options]`, labels sorted by key.
    private static func containerArguments(_ name: String, labels: [String: String], options: [String]) -> [String] {
        var args = ["--network", "none", "--name", name]
        for (k, v) in labels.sorted(by: { $0.key < $1.key }) { args += ["--label", "\(k)=\(v)"] }
        return args + options
    }

    /// The host PID of the container's main process.
    public static func pid(_ name: String) throws -> Int32 {
        guard let pid = Int32(try run(["inspect", "-f", "{{.State.Pid}}", name])), pid > 0 else {
            throw TestFailure("container \(name) has no PID")
        }
        return pid
    }
}
