// The private containerd that scripts/test-dockerd.sh starts under its dockerd, driven with
// ctr as a Kubernetes node's CRI plugin would leave its tasks: namespace k8s.io, CRI
// annotations, kubelet-shaped cgroup paths. Containers run busybox from a plain rootfs
// directory (`ctr run --rootfs`), so no image has to be imported.
import Foundation

public enum Containerd {
    public static let socketVariable = "GPUCTOP_TEST_CONTAINERD_SOCK"
    public static let stateVariable = "GPUCTOP_TEST_CONTAINERD_STATE"

    private static func variable(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw TestFailure("\(name) is not set: run scripts/test-dockerd.sh start and eval \"$(scripts/test-dockerd.sh env)\" (scripts/test.sh does both)")
        }
        return value
    }

    /// The private containerd's socket and state directory.
    public static func socket() throws -> String { try variable(socketVariable) }
    public static func state() throws -> String { try variable(stateVariable) }

    /// A busybox rootfs (sh, sleep) in a fresh directory; the caller removes it.
    public static func makeRootfs() throws -> String {
        let dir = TestEnv.temporaryDirectory("ctr-rootfs").path
        for sub in ["bin", "proc", "dev", "sys", "tmp", "etc"] {
            try FileManager.default.createDirectory(atPath: "\(dir)/\(sub)", withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: "\(dir)/bin/busybox")
        for applet in ["sh", "sleep"] {
            try FileManager.default.createSymbolicLink(atPath: "\(dir)/bin/\(applet)", withDestinationPath: "busybox")
        }
        chmod(dir, 0o755)
        return dir
    }

    /// `ctr -n NAMESPACE run -d --rootfs ...`: a task running `sleep 1000`; returns its host PID.
    @discardableResult
    public static func run(namespace: String, id: String, rootfs: String, cgroup: String?,
                           annotations: [String: String] = [:], env: [String] = [], devices: [String] = [],
                           mounts: [String] = []) throws -> Int32 {
        var args = ["/usr/bin/ctr", "--address", try socket(), "-n", namespace, "run", "-d", "--rootfs"]
        for (k, v) in annotations.sorted(by: { $0.key < $1.key }) { args += ["--annotation", "\(k)=\(v)"] }
        for e in env { args += ["--env", e] }
        for d in devices { args += ["--device", d] }
        for m in mounts { args += ["--mount", m] }
        if let cgroup { args += ["--cgroup", cgroup] }
        args += [rootfs, id, "/bin/sleep", "1000"]
        // ctr -d leaves the shim behind: not with Foundation's Process (it would wait for it).
        let r = try Run.leavingDaemons(args, timeout: 60)
        guard r.status == 0 else { throw TestFailure("ctr run \(id) failed: \(r.output)") }
        return try pid(namespace: namespace, id: id)
    }

    /// The task's host PID, from its bundle's init.pid.
    public static func pid(namespace: String, id: String) throws -> Int32 {
        let path = "\(try state())/io.containerd.runtime.v2.task/\(namespace)/\(id)/init.pid"
        let deadline = Date().addingTimeInterval(10)
        repeat {
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
               let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 { return pid }
            usleep(50_000)
        } while Date() < deadline
        throw TestFailure("no init.pid for \(namespace)/\(id)")
    }

    /// Kills and deletes the task and the container (errors ignored: it may be gone already).
    public static func remove(namespace: String, id: String) {
        guard let socket = try? socket() else { return }
        _ = try? Run.command(["/usr/bin/ctr", "--address", socket, "-n", namespace, "task", "delete", "-f", id], timeout: 30)
        _ = try? Run.command(["/usr/bin/ctr", "--address", socket, "-n", namespace, "container", "rm", id], timeout: 30)
    }
}
