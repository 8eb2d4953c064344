// The Docker join end to end: real containers on the private test dockerd of
// scripts/test-dockerd.sh (GPUCTOP_TEST_DOCKER_HOST), a fake NVML scenario whose PIDs are the
// host PIDs of processes inside those containers, and the real `gpuctop snapshot` binary.
//
// Another test run may use the same daemon at the same time: every container gets a unique
// name, assertions look containers up by id, and everything is removed in tearDown.
import Foundation
import Model
import TestSupport
import XCTest

/// What the join tests need of the shared test daemon beyond TestSupport's `Docker`.
enum JoinTestDaemon {
    /// As typed on the command line, which is what `Config.Image` (and so `image`) reports.
    static let image = "gpuctop-test/busybox"

    static func uniqueName(_ role: String) -> String {
        // Short enough (<= 20) that the text tables show it whole.
        "gj-\(role.prefix(7))-\(UUID().uuidString.prefix(8).lowercased())"
    }
}

final class ContainerJoinTests: XCTestCase {
    private var containers: [String] = []
    private var children: [Child] = []
    /// Cgroups we invent: for a process of our own, and parents for `docker run --cgroup-parent`
    /// (dockerd creates them in every hierarchy, runc removes only the container's own below).
    private let cgroups = CgroupScratch()
    private var deviceNodes: [String] = []
    private var temporaryDirectories: [String] = []

    override func tearDown() {
        children.forEach { $0.stop() }
        children = []
        if !containers.isEmpty { _ = try? Docker.run(["rm", "-f"] + containers) }
        containers = []
        cgroups.cleanUp()  // after the containers: runc has removed their own cgroups below
        for node in deviceNodes { unlink(node) }
        deviceNodes = []
        for directory in temporaryDirectories {
            chmod(directory, 0o700)
            try? FileManager.default.removeItem(atPath: directory)
        }
        temporaryDirectories = []
        super.tearDown()
    }

    // MARK: - Helpers

    /// `docker run -d --network none --name <unique> [options] image sleep 1000`; returns (name, id).
    private func runContainer(_ role: String, _ options: [String] = []) throws -> (name: String, id: String) {
        let name = JoinTestDaemon.uniqueName(role)
        containers.append(name)
        let id = try Docker.runContainer(name, options: options, image: JoinTestDaemon.image)
        return (name, id)
    }

    private func createContainer(_ role: String, _ options: [String]) throws -> (name: String, id: String) {
        let name = JoinTestDaemon.uniqueName(role)
        containers.append(name)
        let id = try Docker.createContainer(name, options: options, image: JoinTestDaemon.image)
        return (name, id)
    }

    /// Host PIDs of every process in the container (`docker top`), waiting until there are `count`.
    private func hostPIDs(_ id: String, count: Int) throws -> [Int32] {
        let deadline = Date().addingTimeInterval(10)
        var pids: [Int32] = []
        repeat {
            let text = try Docker.run(["top", id, "-o", "pid"])
            pids = text.split(separator: "\n").dropFirst().compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
            if pids.count >= count { return pids.sorted() }
            usleep(50_000)
        } while Date() < deadline
        throw TestFailure("container \(id) has \(pids.count) processes, expected \(count)")
    }

    /// Runs the gpuctop binary (optionally under a wrapper such as setpriv or strace) with a
    /// private copy of the fake NVML and the scenario.
    private func gpuctop(_ args: [String], scenario: String, dockerHost: String,
                         wrapper: [String] = []) throws -> RunResult {
        let lib = try FakeNVML.privateCopy()
        let scenarioPath = try FakeNVML.scenario(scenario)
        // The copies' directories must be readable by a non-root wrapper too.
        for path in [lib, scenarioPath] {
            let directory = (path as NSString).deletingLastPathComponent
            chmod(directory, 0o755)
            chmod(path, 0o644)
            temporaryDirectories.append(directory)
        }
        let command = wrapper + [TestEnv.gpuctopBinary.path] + args + ["--nvml", lib, "--docker-host", dockerHost]
        return try Run.command(command, environment: ["FAKE_NVML_SCENARIO": scenarioPath], timeout: 30)
    }

    private func snapshotJSON(scenario: String, dockerHost: String, wrapper: [String] = [],
                              file: StaticString = #filePath, line: UInt = #line) throws -> Snapshot {
        let r = try gpuctop(["snapshot", "--json"], scenario: scenario, dockerHost: dockerHost, wrapper: wrapper)
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return try decodeSnapshot(r)
    }

    private static let gpuHeader = """
        driver 580.95.05
        cuda 12080
        """

    private static func gpu(index: Int, power: Int, processes: [String]) -> String {
        var text = """

            gpu
            name NVIDIA H200
            uuid GPU-c0\(index)00000-0000-0000-0000-000000000000
            util 50
            memory_total 150754820096
            memory_used 25769803776
            power \(power)
            power_limit 700000
            """
        for p in processes { text += "\nprocess \(p)" }
        return text
    }

    // MARK: - 1. Compose, Kubernetes-shaped and host processes

    func testJoinComposeKubernetesAndHostProcesses() throws {
        let host = try Docker.host()
        let compose = ["--label", "com.docker.compose.project=proj", "--label", "com.docker.compose.service=trainer"]
        let a = try runContainer("tr1", compose)
        let b = try runContainer("tr2", compose)
        let podUID = UUID().uuidString.lowercased()
        let parent = "/kubepods/besteffort/pod\(podUID)"
        cgroups.claim(parent)  // before dockerd makes it: only what did not exist is removed
        let k = try runContainer("k8s", [
            "--cgroup-parent", parent,
            "--label", "io.kubernetes.pod.name=vllm-0",
            "--label", "io.kubernetes.pod.namespace=inference",
            "--label", "io.kubernetes.container.name=server",
            "--label", "io.kubernetes.pod.uid=\(podUID)",
        ])
        // A second process in container A, as `docker exec` starts it.
        try Docker.run(["exec", "-d", a.id, "sleep", "1001"])
        let aPIDs = try hostPIDs(a.id, count: 2)
        let a1 = try Docker.pid(a.id)
        let a2 = try XCTUnwrap(aPIDs.first { $0 != a1 })
        let b1 = try Docker.pid(b.id)
        let k1 = try Docker.pid(k.id)
        let child = try Child(["/bin/sleep", "120"])
        children.append(child)
        let h = child.pid

        // GPU 0 draws 300 W, SM 30+10 (A) + 20 (B) + 15 (K) + 5 (host) = 80. B's process is both a
        // compute and a graphics context (nvidia-smi's "C+G"): NVML lists it twice with the same
        // memory, and it must count once. GPU 1 (100 W) runs only A's first process.
        let scenario = Self.gpuHeader
            + Self.gpu(index: 0, power: 300_000, processes: [
                "compute pid=\(a1) mem=4GiB sm=30",
                "compute pid=\(a2) mem=1GiB sm=10",
                "compute pid=\(b1) mem=2GiB sm=20",
                "graphics pid=\(b1) mem=2GiB",
                "compute pid=\(k1) mem=3GiB sm=15",
                "compute pid=\(h) mem=512MiB sm=5",
            ])
            + Self.gpu(index: 1, power: 100_000, processes: ["compute pid=\(a1) mem=2GiB sm=50"])
            + "\n"
        let s = try snapshotJSON(scenario: scenario, dockerHost: host)
        XCTAssertEqual(s.degraded, [], "\(s.degraded)")
        XCTAssertEqual(s.gpus.map(\.powerDraw), [300_000, 100_000])

        let ua = try usage(s, a.id)
        XCTAssertEqual(ua.name, a.name)
        XCTAssertEqual(ua.runtime, .docker)
        XCTAssertEqual(ua.image, JoinTestDaemon.image)
        XCTAssertEqual(ua.composeProject, "proj")
        XCTAssertEqual(ua.composeService, "trainer")
        XCTAssertNil(ua.podName)
        XCTAssertEqual(ua.status, "running")
        XCTAssertLessThan(abs((ua.startedAt ?? 0) - s.time), 60, "startedAt \(String(describing: ua.startedAt)) vs now \(s.time)")
        XCTAssertEqual(ua.processCount, 2)
        XCTAssertEqual(ua.gpus, [0, 1])
        XCTAssertEqual(ua.gpuMemory, (4 + 1 + 2) << 30)
        XCTAssertEqual(ua.smUtilization, 30 + 10 + 50)
        XCTAssertEqual(ua.estimatedPowerShare, 300_000 * 40 / 80 + 100_000)
        XCTAssertFalse(ua.idleAllocation)
        XCTAssertNil(ua.gpuRequest)

        let ub = try usage(s, b.id)
        XCTAssertEqual(ub.name, b.name)
        XCTAssertEqual(ub.composeService, "trainer")
        XCTAssertEqual(ub.processCount, 1)
        XCTAssertEqual(ub.gpus, [0])
        XCTAssertEqual(ub.gpuMemory, 2 << 30, "a C+G process's memory counts once")
        XCTAssertEqual(ub.smUtilization, 20, "a C+G process's SM counts once")
        XCTAssertEqual(ub.estimatedPowerShare, 300_000 * 20 / 80)

        let uk = try usage(s, k.id)
        XCTAssertEqual(uk.name, k.name)
        XCTAssertEqual(uk.runtime, .docker, "the Docker engine knows it: a Docker container, whatever its cgroup parent")
        XCTAssertEqual(uk.podName, "vllm-0")
        XCTAssertEqual(uk.podNamespace, "inference")
        XCTAssertEqual(uk.podContainer, "server")
        XCTAssertEqual(uk.podUID, podUID)
        XCTAssertNil(uk.composeService)
        XCTAssertEqual(uk.status, "running")
        XCTAssertEqual(uk.processCount, 1)
        XCTAssertEqual(uk.gpuMemory, 3 << 30)
        XCTAssertEqual(uk.smUtilization, 15)
        XCTAssertEqual(uk.estimatedPowerShare, 300_000 * 15 / 80)

        let uh = try usage(s, "host")
        XCTAssertNil(uh.name)
        XCTAssertNil(uh.runtime)
        XCTAssertEqual(uh.processCount, 1)
        XCTAssertEqual(uh.gpuMemory, 512 << 20)
        XCTAssertEqual(uh.smUtilization, 5)
        XCTAssertEqual(uh.estimatedPowerShare, 300_000 * 5 / 80)

        // Every GPU's draw is shared out in full (to the milliwatt here, the divisions are exact).
        let users = s.containers.filter { [a.id, b.id, k.id, "host"].contains($0.id) }
        XCTAssertEqual(users.compactMap(\.estimatedPowerShare).reduce(0, +), 300_000 + 100_000)
        // Users by GPU memory, the host group after the containers.
        XCTAssertEqual(users.map(\.id), [a.id, k.id, b.id, "host"])
        XCTAssertEqual(Array(s.containers.prefix(4).map(\.id)), [a.id, k.id, b.id, "host"])

        // Each process row names its container.
        func containerID(_ pid: Int32) -> String? {
            s.processes.first { $0.pid == pid }?.info?.container?.id
        }
        XCTAssertEqual(containerID(a1), a.id)
        XCTAssertEqual(containerID(a2), a.id)
        XCTAssertEqual(containerID(b1), b.id)
        XCTAssertEqual(containerID(k1), k.id)
        XCTAssertEqual(s.processes.first { $0.pid == k1 }?.info?.container?.podUID, podUID)
        XCTAssertNotNil(s.processes.first { $0.pid == h }?.info)
        XCTAssertNil(containerID(h))
        XCTAssertEqual(s.processes.first { $0.pid == a2 }?.info?.command, "sleep 1001")

        // The text form: the container table and the process table name the containers.
        let r = try gpuctop(["snapshot"], scenario: scenario, dockerHost: host)
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let rowA = try XCTUnwrap(lines.first { $0.hasPrefix(a.name) }, r.stdout)
        XCTAssertTrue(rowA.contains("proj/trainer"), rowA)
        XCTAssertTrue(rowA.contains("7.0 GiB"), rowA)
        XCTAssertTrue(rowA.contains("running"), rowA)
        // A Kubernetes container is shown by its container name; the pod is in SERVICE/POD.
        let rowK = try XCTUnwrap(lines.first { $0.hasPrefix("server ") && $0.contains("inference/vllm-0") }, r.stdout)
        XCTAssertTrue(rowK.contains("inference/vllm-0"), rowK)
        XCTAssertTrue(lines.contains { $0.hasPrefix(b.name) && $0.contains("proj/trainer") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("host ") }, r.stdout)
        for (pid, name) in [(a1, a.name), (a2, a.name), (b1, b.name), (k1, "server"), (h, "host")] {
            let row = try XCTUnwrap(lines.first { $0.contains(" \(pid) ") && $0.contains("sleep") }, r.stdout)
            XCTAssertTrue(row.contains(" \(name) "), "\(name) not in: \(row)")
        }
        XCTAssertFalse(r.stdout.contains("! docker"), r.stdout)
    }

    // MARK: - 2. Idle GPU allocation

    func testIdleGPUAllocationIsListed() throws {
        let host = try Docker.host()
        // dockerd checks that --device names a device node, and GPURequest only counts
        // /dev/nvidiaN: make a node with /dev/null's numbers under an unused nvidia name.
        var node = ""
        repeat { node = "/dev/nvidia\(Int.random(in: 900...9999))" } while FileManager.default.fileExists(atPath: node)
        let made = try Run.command(["/usr/bin/mknod", "-m", "0666", node, "c", "1", "3"])
        XCTAssertEqual(made.status, 0, made.stderr)
        deviceNodes.append(node)
        let device = ["--device", "\(node):/dev/nvidia0"]
        let idle = try runContainer("idle", device)
        let busy = try runContainer("busy", device)
        // Asked for GPUs but never started: not an allocation.
        let created = try createContainer("made", ["--gpus", "all"])
        // Runs, but asked for no GPU.
        let plain = try runContainer("plain")
        let child = try Child(["/bin/sleep", "120"])
        children.append(child)

        let scenario = Self.gpuHeader + Self.gpu(index: 0, power: 200_000, processes: [
            "compute pid=\(try Docker.pid(busy.id)) mem=1GiB sm=40",
            "compute pid=\(child.pid) mem=1GiB sm=10",
        ]) + "\n"
        let s = try snapshotJSON(scenario: scenario, dockerHost: host)
        XCTAssertEqual(s.degraded, [], "\(s.degraded)")
        let nodeName = String(node.dropFirst("/dev/".count))

        let u = try usage(s, idle.id)
        XCTAssertTrue(u.idleAllocation)
        XCTAssertEqual(u.gpuRequest, nodeName)
        XCTAssertEqual(u.name, idle.name)
        XCTAssertEqual(u.runtime, .docker)
        XCTAssertEqual(u.status, "running")
        XCTAssertEqual(u.processCount, 0)
        XCTAssertEqual(u.gpus, [])
        XCTAssertEqual(u.gpuMemory, 0)
        XCTAssertNil(u.estimatedPowerShare)
        XCTAssertLessThan(abs((u.startedAt ?? 0) - s.time), 60)

        let ub = try usage(s, busy.id)
        XCTAssertFalse(ub.idleAllocation, "it has a GPU process")
        XCTAssertEqual(ub.gpuRequest, nodeName)
        XCTAssertEqual(ub.estimatedPowerShare, 160_000)
        XCTAssertNil(s.containers.first { $0.id == created.id }, "a created container holds no GPU")
        XCTAssertNil(s.containers.first { $0.id == plain.id }, "a container without GPU request or process is not listed")
        // Idle allocations come after every GPU user.
        let idleIndex = try XCTUnwrap(s.containers.firstIndex { $0.id == idle.id })
        let hostIndex = try XCTUnwrap(s.containers.firstIndex { $0.id == "host" })
        XCTAssertGreaterThan(idleIndex, hostIndex)

        let r = try gpuctop(["snapshot"], scenario: scenario, dockerHost: host)
        XCTAssertEqual(r.status, 0, r.stderr)
        let row = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix(idle.name) }, r.stdout)
        XCTAssertTrue(row.contains("idle"), String(row))
        XCTAssertTrue(row.contains("\(nodeName) requested, no GPU process"), String(row))
    }

    // MARK: - 3. A container the engine does not know

    func testProcessInAContainerTheEngineDoesNotKnow() throws {
        let host = try Docker.host()
        // A containerd-managed Kubernetes container (cgroupfs driver) as the kubelet lays it out:
        // /kubepods/besteffort/pod<uid>/<64 hex>. The Docker engine has never heard of it.
        let podUID = UUID().uuidString.lowercased()
        var id = ""
        for _ in 0..<4 { id += UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased() }
        id = String(id.prefix(64))
        let path = "/kubepods/besteffort/pod\(podUID)/\(id)"
        let child = try Child(["/bin/sleep", "120"])
        children.append(child)
        let host2 = try Child(["/bin/sleep", "121"])
        children.append(host2)
        try cgroups.move(child.pid, into: path)
        let cgroupFile = try String(contentsOfFile: "/proc/\(child.pid)/cgroup", encoding: .utf8)
        XCTAssertTrue(cgroupFile.contains(path), cgroupFile)

        let scenario = Self.gpuHeader + Self.gpu(index: 0, power: 100_000, processes: [
            "compute pid=\(child.pid) mem=6GiB sm=75",
            "compute pid=\(host2.pid) mem=1GiB sm=25",
        ]) + "\n"
        let s = try snapshotJSON(scenario: scenario, dockerHost: host)
        XCTAssertEqual(s.degraded, [], "the engine answered; not knowing a container is not a problem")
        let ref = try XCTUnwrap(s.processes.first { $0.pid == child.pid }?.info?.container)
        XCTAssertEqual(ref, ContainerRef(runtime: .containerd, id: id, podUID: podUID))
        let u = try usage(s, id)
        XCTAssertEqual(u.runtime, .containerd)
        XCTAssertEqual(u.podUID, podUID)
        XCTAssertNil(u.name)
        XCTAssertNil(u.image)
        XCTAssertNil(u.status)
        XCTAssertNil(u.podName)
        XCTAssertEqual(u.processCount, 1)
        XCTAssertEqual(u.gpuMemory, 6 << 30)
        XCTAssertEqual(u.estimatedPowerShare, 75_000)
        XCTAssertEqual(try usage(s, "host").processCount, 1)

        let r = try gpuctop(["snapshot"], scenario: scenario, dockerHost: host)
        XCTAssertEqual(r.status, 0, r.stderr)
        let short = String(id.prefix(12))
        let row = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("containerd:\(short)") }, r.stdout)
        XCTAssertTrue(row.contains("pod \(podUID.prefix(8))"), String(row))
        XCTAssertTrue(r.stdout.split(separator: "\n").contains { $0.contains(" \(child.pid) ") && $0.contains("containerd:\(short.prefix(6))") }, r.stdout)
    }

    // MARK: - 5. The engine unreachable

    private func degradedDocker(_ s: Snapshot, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let docker = s.degraded.filter { $0.source == "docker" }
        XCTAssertEqual(docker.count, 1, "\(s.degraded)", file: file, line: line)
        let reason = try XCTUnwrap(docker.first?.reason, file: file, line: line)
        XCTAssertFalse(reason.contains("\n"), reason, file: file, line: line)
        XCTAssertLessThan(reason.count, 200, reason, file: file, line: line)
        return reason
    }

    func testMissingSocketAndTCPHostDegradeToOneLine() throws {
        _ = try Docker.host()
        let c = try runContainer("nod")
        let cpid = try Docker.pid(c.id)
        let child = try Child(["/bin/sleep", "120"])
        children.append(child)
        let scenario = Self.gpuHeader + Self.gpu(index: 0, power: 100_000, processes: [
            "compute pid=\(cpid) mem=1GiB sm=20",
            "compute pid=\(child.pid) mem=1GiB sm=20",
        ]) + "\n"

        // No daemon at the path: GPUs, processes and cgroup-derived containers still there.
        let s = try snapshotJSON(scenario: scenario, dockerHost: "unix:///nonexistent.sock")
        let reason = try degradedDocker(s)
        XCTAssertTrue(reason.contains("no Docker socket at /nonexistent.sock"), reason)
        XCTAssertEqual(s.gpus.count, 1)
        XCTAssertEqual(s.processes.count, 2)
        let u = try usage(s, c.id)
        XCTAssertEqual(u.runtime, .docker)
        XCTAssertNil(u.name)
        XCTAssertEqual(u.estimatedPowerShare, 50_000)
        let r = try gpuctop(["snapshot"], scenario: scenario, dockerHost: "unix:///nonexistent.sock")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.components(separatedBy: "! docker: ").count - 1, 1, r.stdout)
        XCTAssertTrue(r.stdout.contains("NVIDIA H200"), r.stdout)
        XCTAssertTrue(r.stdout.contains("docker:\(c.id.prefix(12))"), r.stdout)

        // tcp:// is refused before any socket is made. strace proves no inet connect is tried.
        let tcp = "tcp://1.2.3.4:2375"
        let trace = TestEnv.temporaryDirectory("strace").appendingPathComponent("connect.txt").path
        temporaryDirectories.append((trace as NSString).deletingLastPathComponent)
        let strace = FileManager.default.isExecutableFile(atPath: "/usr/bin/strace")
            ? ["/usr/bin/strace", "-f", "-qq", "-e", "trace=connect,sendto", "-o", trace] : []
        let start = Date()
        let t = try snapshotJSON(scenario: scenario, dockerHost: tcp, wrapper: strace)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        let tcpReason = try degradedDocker(t)
        XCTAssertTrue(tcpReason.contains("not supported"), tcpReason)
        XCTAssertTrue(tcpReason.contains("tcp://1.2.3.4:2375"), tcpReason)
        XCTAssertEqual(t.processes.count, 2)
        if !strace.isEmpty {
            let calls = try String(contentsOfFile: trace, encoding: .utf8)
            XCTAssertFalse(calls.contains("AF_INET"), calls)
            XCTAssertFalse(calls.contains("1.2.3.4"), calls)
        }
        let rt = try gpuctop(["snapshot"], scenario: scenario, dockerHost: tcp)
        XCTAssertEqual(rt.status, 0, rt.stderr)
        XCTAssertTrue(rt.stdout.contains("! docker: Docker host tcp://1.2.3.4:2375 is not supported"), rt.stdout)
    }

    func testPermissionDeniedIsOneLine() throws {
        let host = try Docker.host()
        let setpriv = "/usr/bin/setpriv"
        guard FileManager.default.isExecutableFile(atPath: setpriv) else {
            XCTFail("\(setpriv) (util-linux) is needed to run gpuctop as another user")
            return
        }
        let socket = String(host.dropFirst("unix://".count))
        // A root-only directory holding a link to the socket: whatever the socket's own mode,
        // a non-root user gets EACCES on the way to it.
        let directory = TestEnv.temporaryDirectory("private-sock").path
        temporaryDirectories.append(directory)
        let link = "\(directory)/docker.sock"
        XCTAssertEqual(symlink(socket, link), 0)
        XCTAssertEqual(chmod(directory, 0o700), 0)
        let child = try Child(["/bin/sleep", "120"])
        children.append(child)
        let scenario = Self.gpuHeader + Self.gpu(index: 0, power: 100_000, processes: ["compute pid=\(child.pid) mem=1GiB sm=20"]) + "\n"

        let nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        let s = try snapshotJSON(scenario: scenario, dockerHost: "unix://\(link)", wrapper: nobody)
        let reason = try degradedDocker(s)
        XCTAssertTrue(reason.contains("permission denied on \(link)"), reason)
        XCTAssertEqual(s.gpus.count, 1)
        XCTAssertEqual(s.processes.map(\.pid), [child.pid])
        XCTAssertEqual(s.processes.first?.info?.user, "root", "/proc is still read as another user")
        // Root, through the same link, gets in: the failure was the permission, not the path.
        let asRoot = try snapshotJSON(scenario: scenario, dockerHost: "unix://\(link)")
        XCTAssertEqual(asRoot.degraded, [])
    }
}
