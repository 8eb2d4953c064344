// Kubernetes pods and other engines end to end, with the real `gpuctop snapshot` binary:
// - containerd: tasks of the private test containerd (scripts/test-dockerd.sh), run with
//   ctr as the CRI plugin leaves them (namespace k8s.io, CRI annotations, both kubelet
//   cgroup shapes), beside a nerdctl-annotated task in namespace default and the test dockerd;
// - CRI-O (not packaged for Debian 12): real processes in `crio-<id>.scope` cgroups and
//   bundles laid out as CRI-O writes them, in a state directory of the test's own;
// - as a user who is not root, and through --host-root.
// The fake NVML lists the tasks' real host PIDs; GPUs are matched by UUID and minor number.
import Foundation
import Model
import TestSupport
import XCTest

final class KubernetesEnginesTests: XCTestCase {
    private var tasks: [(namespace: String, id: String)] = []
    private var directories: [String] = []
    private var deviceNodes: [String] = []
    private var children: [Child] = []
    private let cgroups = CgroupScratch()

    override func tearDown() {
        for t in tasks { Containerd.remove(namespace: t.namespace, id: t.id) }
        tasks = []
        children.forEach { $0.stop() }
        children = []
        cgroups.cleanUp()
        for node in deviceNodes { unlink(node) }
        deviceNodes = []
        for d in directories {
            chmod(d, 0o700)
            try? FileManager.default.removeItem(atPath: d)
        }
        directories = []
        super.tearDown()
    }

    static let gpu0 = "GPU-c0000000-1111-2222-3333-444444444444"
    static let gpu1 = "GPU-c1000000-1111-2222-3333-444444444444"
    static let image = "nvcr.io/nvidia/pytorch:25.01-py3"

    /// Two H200s: GPU 0 is /dev/nvidia3 (minor 3), GPU 1 minor 57; `processes` on GPU 0 and 1.
    static func scenario(gpu0 processes0: [String], gpu1 processes1: [String]) -> String {
        var text = "driver 580.95.05\ncuda 12080\n"
        for (i, (uuid, minor, procs)) in [(gpu0, 3, processes0), (gpu1, 57, processes1)].enumerated() {
            text += "gpu\nname NVIDIA H200\nuuid \(uuid)\nminor \(minor)\nmemory_total 150754820096\nmemory_used 1000\n"
            text += "util 50\npower \(200_000 + i * 100_000)\npower_limit 700000\n"
            for p in procs { text += "process \(p)\n" }
        }
        return text
    }

    private func gpuctop(_ args: [String], scenario: String, wrapper: [String] = [],
                         environment: [String: String] = [:]) throws -> RunResult {
        let lib = try FakeNVML.privateCopy()
        let scenarioPath = try FakeNVML.scenario(scenario)
        for path in [lib, scenarioPath] {
            let dir = (path as NSString).deletingLastPathComponent
            chmod(dir, 0o755)
            chmod(path, 0o644)
            directories.append(dir)
        }
        var env = ["FAKE_NVML_SCENARIO": scenarioPath, "DOCKER_HOST": "", "XDG_RUNTIME_DIR": ""]
        env.merge(environment) { $1 }
        return try Run.command(wrapper + [TestEnv.gpuctopBinary.path] + args + ["--nvml", lib], environment: env, timeout: 30)
    }

    private func snapshot(_ args: [String], scenario: String, wrapper: [String] = [],
                          file: StaticString = #filePath, line: UInt = #line) throws -> Snapshot {
        let r = try gpuctop(["snapshot", "--json"] + args, scenario: scenario, wrapper: wrapper)
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        XCTAssertEqual(r.stderr, "", file: file, line: line)
        return try decodeSnapshot(r)
    }

    /// Runs a task whose cgroup path (given its id) is `cgroup`; nil: ctr's default /<namespace>/<id>.
    private func runTask(_ namespace: String, rootfs: String, cgroup: (String) -> String?,
                         annotations: [String: String] = [:], env: [String] = [],
                         devices: [String] = []) throws -> (id: String, pid: Int32) {
        let id = OCIBundles.randomID()
        let path = cgroup(id)
        cgroups.claim(path ?? "/\(namespace)/\(id)")
        tasks.append((namespace, id))
        let pid = try Containerd.run(namespace: namespace, id: id, rootfs: rootfs, cgroup: path,
                                     annotations: annotations, env: env, devices: devices)
        return (id, pid)
    }

    private func rootfs() throws -> String {
        let dir = try Containerd.makeRootfs()
        directories.append(dir)
        return dir
    }

    /// A character device /dev/nvidiaN (N unused) with major 195 and `minor`: a GPU's node as
    /// far as the spec goes. No driver serves major 195 here, so it opens nothing.
    private func fakeGPUNode(minor: Int) throws -> String {
        var node = ""
        repeat { node = "/dev/nvidia\(Int.random(in: 900...9999))" } while FileManager.default.fileExists(atPath: node)
        let made = try Run.command(["/usr/bin/mknod", "-m", "0666", node, "c", "195", "\(minor)"])
        guard made.status == 0 else { throw TestFailure("mknod \(node): \(made.stderr)") }
        deviceNodes.append(node)
        return node
    }

    // MARK: - containerd

    func testKubernetesPodsOnContainerdAreNamedWithTheirAllocations() throws {
        let state = try Containerd.state()
        let dockerHost = try Docker.host()
        let fs = try rootfs()
        let trainerUID = UUID().uuidString.lowercased(), vllmUID = UUID().uuidString.lowercased()
        let idleUID = UUID().uuidString.lowercased()
        let trainerParent = "/kubepods/besteffort/pod\(trainerUID)"
        let vllmSlice = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(vllmUID.replacingOccurrences(of: "-", with: "_")).slice"

        // The pod's sandbox, which holds every GPU as far as its spec goes: never a row.
        let sandbox = try runTask("k8s.io", rootfs: fs, cgroup: { "\(trainerParent)/\($0)" },
                                  annotations: OCIBundles.criAnnotations(pod: "trainer-0", namespace: "research", uid: trainerUID),
                                  env: ["NVIDIA_VISIBLE_DEVICES=all"])
        let sandboxID = sandbox.id
        // cgroupfs kubelet shape; holds GPU 0 by UUID, and runs on it.
        let trainer = try runTask("k8s.io", rootfs: fs, cgroup: { "\(trainerParent)/\($0)" },
                                  annotations: OCIBundles.criAnnotations(pod: "trainer-0", namespace: "research", uid: trainerUID,
                                                                        container: "pytorch", image: Self.image, sandboxID: sandboxID),
                                  env: ["NVIDIA_VISIBLE_DEVICES=\(Self.gpu0)"])
        let (trainerID, trainerPID) = trainer
        // systemd kubelet shape (cri-containerd-<id>.scope), on GPU 1.
        let (vllmID, vllmPID) = try runTask("k8s.io", rootfs: fs, cgroup: { "\(vllmSlice)/cri-containerd-\($0).scope" },
                                            annotations: OCIBundles.criAnnotations(pod: "vllm-0", namespace: "inference", uid: vllmUID,
                                                                                  container: "server", image: "vllm/vllm-openai:v0.8"))
        // Idle: the toolkit's CDI way (the device injected, NVIDIA_VISIBLE_DEVICES=void), GPU 1 by minor 57.
        let node = try fakeGPUNode(minor: 57)
        let idleDeviceID = try runTask("k8s.io", rootfs: fs, cgroup: { "/kubepods/besteffort/pod\(idleUID)/\($0)" },
                                       annotations: OCIBundles.criAnnotations(pod: "idle-0", namespace: "research", uid: idleUID,
                                                                             container: "waiter", image: "busybox"),
                                       env: ["NVIDIA_VISIBLE_DEVICES=void"], devices: [node]).id
        // Idle: the device plugin's environment only, GPU 0 by UUID.
        let idleEnvID = try runTask("k8s.io", rootfs: fs, cgroup: { "/kubepods/besteffort/pod\(idleUID)/\($0)" },
                                    annotations: OCIBundles.criAnnotations(pod: "idle-0", namespace: "research", uid: idleUID,
                                                                          container: "holder", image: "busybox"),
                                    env: ["NVIDIA_VISIBLE_DEVICES=\(Self.gpu0)"]).id
        // nerdctl in namespace default, with ctr's (and nerdctl's cgroupfs) default cgroup /default/<id>.
        let web = try runTask("default", rootfs: fs, cgroup: { _ in nil },
                              annotations: ["nerdctl/name": "web", "nerdctl/namespace": "default",
                                            "com.docker.compose.project": "shop", "com.docker.compose.service": "api"])
        // A Docker container beside them.
        let dockerName = "gk-\(UUID().uuidString.prefix(8).lowercased())"
        let dockerID = try Docker.runContainer(dockerName)
        defer { _ = try? Docker.run(["rm", "-f", dockerID]) }
        let dockerPID = try Docker.pid(dockerID)

        let scenario = Self.scenario(
            gpu0: ["compute pid=\(trainerPID) mem=8GiB sm=60", "compute pid=\(web.pid) mem=1GiB sm=5", "compute pid=\(dockerPID) mem=1GiB sm=5"],
            gpu1: ["compute pid=\(vllmPID) mem=20GiB sm=90"])
        let args = ["--containerd-state", state, "--docker-host", dockerHost]
        let s = try snapshot(args, scenario: scenario)
        XCTAssertEqual(s.degraded, [], "\(s.degraded)")
        XCTAssertEqual(s.engines, ["docker", "containerd"])

        let t = try usage(s, trainerID)
        XCTAssertEqual(t.runtime, .containerd)
        XCTAssertEqual(t.podName, "trainer-0")
        XCTAssertEqual(t.podNamespace, "research")
        XCTAssertEqual(t.podContainer, "pytorch")
        XCTAssertEqual(t.podUID, trainerUID)
        XCTAssertEqual(t.image, Self.image)
        XCTAssertEqual(t.gpuRequest, "GPU 0")
        XCTAssertEqual(t.status, "running")
        XCTAssertEqual(t.labels?["io.kubernetes.cri.sandbox-id"], sandboxID)
        XCTAssertEqual(t.gpus, [0])
        XCTAssertFalse(t.idleAllocation)
        XCTAssertEqual(s.processes.first { $0.pid == trainerPID }?.info?.container?.podUID, trainerUID)

        let v = try usage(s, vllmID)
        XCTAssertEqual(v.runtime, .containerd)
        XCTAssertEqual(v.podName, "vllm-0")
        XCTAssertEqual(v.podNamespace, "inference")
        XCTAssertEqual(v.podContainer, "server")
        XCTAssertEqual(v.podUID, vllmUID)
        XCTAssertEqual(v.image, "vllm/vllm-openai:v0.8")
        XCTAssertNil(v.gpuRequest, "its spec holds no GPU")
        XCTAssertEqual(v.gpus, [1])

        let d = try usage(s, idleDeviceID)
        XCTAssertTrue(d.idleAllocation)
        XCTAssertEqual(d.gpuRequest, "GPU 1", "the device's minor number 57 is GPU 1's")
        XCTAssertEqual(d.podName, "idle-0")
        XCTAssertEqual(d.podContainer, "waiter")
        XCTAssertEqual(d.processCount, 0)
        let e = try usage(s, idleEnvID)
        XCTAssertTrue(e.idleAllocation)
        XCTAssertEqual(e.gpuRequest, "GPU 0")
        XCTAssertNil(s.containers.first { $0.id == sandboxID }, "a pod's sandbox is never a row")

        let w = try usage(s, web.id)
        XCTAssertEqual(w.runtime, .containerd)
        XCTAssertEqual(w.name, "web")
        XCTAssertEqual(w.composeProject, "shop")
        XCTAssertEqual(w.composeService, "api")
        XCTAssertNil(w.podName)
        XCTAssertEqual(w.labels?["nerdctl/name"], "web")

        let k = try usage(s, dockerID)
        XCTAssertEqual(k.runtime, .docker)
        XCTAssertEqual(k.name, dockerName)

        // The text form: the header says what is read; pods by namespace/pod, idle ones with their GPUs.
        let r = try gpuctop(["snapshot"] + args, scenario: scenario)
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].contains("engines: docker, containerd"), lines[0])
        let rowT = try XCTUnwrap(lines.first { $0.hasPrefix("pytorch ") }, r.stdout)
        XCTAssertTrue(rowT.contains("research/trainer-0"), rowT)
        XCTAssertTrue(rowT.contains("nvcr.io/nvidia/pyt"), rowT)
        let rowV = try XCTUnwrap(lines.first { $0.hasPrefix("server ") }, r.stdout)
        XCTAssertTrue(rowV.contains("inference/vllm-0"), rowV)
        let rowD = try XCTUnwrap(lines.first { $0.hasPrefix("waiter ") }, r.stdout)
        XCTAssertTrue(rowD.contains("idle"), rowD)
        XCTAssertTrue(rowD.contains("GPU 1 requested, no GPU process"), rowD)
        XCTAssertTrue(lines.contains { $0.hasPrefix("web ") && $0.contains("shop/api") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.contains(" \(trainerPID) ") && $0.contains("pytorch") }, r.stdout)

        // Steady state: the bundles are read once; over 5.6 s of refreshes the state is listed
        // once more (every 5 s) and no bundle is read again.
        let p = try gpuctop(["profile", "--refreshes", "28", "--interval", "0.2", "--calls", "0"] + args, scenario: scenario)
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertTrue(p.stdout.contains("inspections, 0 config.json reads"), p.stdout)
        XCTAssertTrue(p.stdout.contains("engines: docker, containerd;"), p.stdout)
        XCTAssertTrue(p.stdout.contains("state listings in steady state: 1 (at most one every 5s)"), p.stdout)
    }

    // MARK: - Not root

    func testUnreadableStateAsAnotherUserIsOneLineNotACrash() throws {
        let state = try Containerd.state()
        let setpriv = "/usr/bin/setpriv"
        guard FileManager.default.isExecutableFile(atPath: setpriv) else {
            return XCTFail("\(setpriv) (util-linux) is needed to run gpuctop as another user")
        }
        let fs = try rootfs()
        let uid = UUID().uuidString.lowercased()
        let (id, pid) = try runTask("k8s.io", rootfs: fs, cgroup: { "/kubepods/besteffort/pod\(uid)/\($0)" },
                                    annotations: OCIBundles.criAnnotations(pod: "secret-0", namespace: "ops", uid: uid, container: "c"))
        let scenario = Self.scenario(gpu0: ["compute pid=\(pid) mem=1GiB sm=10"], gpu1: [])
        let nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        let s = try snapshot(["--containerd-state", state], scenario: scenario, wrapper: nobody)
        let lines = s.degraded.filter { $0.source == "containerd" }
        XCTAssertEqual(lines.count, 1, "\(s.degraded)")
        let reason = try XCTUnwrap(lines.first?.reason)
        XCTAssertTrue(reason.contains("run as root to see Kubernetes pod names"), reason)
        XCTAssertTrue(reason.contains("permission denied"), reason)
        XCTAssertFalse(reason.contains("\n"))
        XCTAssertFalse(s.engines?.contains("containerd") ?? true)
        // The process is still shown, by id and pod uid from its cgroup.
        let u = try usage(s, id)
        XCTAssertEqual(u.runtime, .containerd)
        XCTAssertEqual(u.podUID, uid)
        XCTAssertNil(u.podName)
        // Root reads the same state.
        XCTAssertEqual(try usage(try snapshot(["--containerd-state", state], scenario: scenario), id).podName, "secret-0")
        // A state directory nobody may enter at all.
        let closed = TestEnv.temporaryDirectory("closed-state").path
        directories.append(closed)
        try FileManager.default.createDirectory(atPath: "\(closed)/io.containerd.runtime.v2.task/k8s.io", withIntermediateDirectories: true)
        chmod(closed, 0o700)
        let t = try gpuctop(["snapshot", "--containerd-state", closed], scenario: scenario, wrapper: nobody)
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stdout.contains("! containerd: cannot read \(closed): permission denied (run as root to see Kubernetes pod names)"), t.stdout)
    }

    // MARK: - CRI-O

    func testCrioPodsFromTheirStateAndCgroups() throws {
        let root = TestEnv.temporaryDirectory("crio-state").path
        directories.append(root)
        let uid = UUID().uuidString.lowercased()
        let slice = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice"
        let sandbox = OCIBundles.randomID(), worker = OCIBundles.randomID(), idle = OCIBundles.randomID()
        let workerProcess = try Child(["/bin/sleep", "120"]), idleProcess = try Child(["/bin/sleep", "121"])
        let sandboxProcess = try Child(["/bin/sleep", "122"])
        children += [workerProcess, idleProcess, sandboxProcess]
        try cgroups.move(workerProcess.pid, into: "\(slice)/crio-\(worker).scope")
        try cgroups.move(idleProcess.pid, into: "\(slice)/crio-\(idle).scope")
        try cgroups.move(sandboxProcess.pid, into: "\(slice)/crio-\(sandbox).scope")
        try OCIBundles.writeCrio(root: root, id: sandbox, spec: OCIBundles.specJSON(
            annotations: OCIBundles.crioAnnotations(pod: "infer-0", namespace: "prod", uid: uid, container: nil),
            env: ["NVIDIA_VISIBLE_DEVICES=all"]), pid: sandboxProcess.pid)
        try OCIBundles.writeCrio(root: root, id: worker, spec: OCIBundles.specJSON(
            annotations: OCIBundles.crioAnnotations(pod: "infer-0", namespace: "prod", uid: uid, container: "vllm",
                                                   image: "docker.io/vllm/vllm-openai:v0.8"),
            mounts: [("/var/run/nvidia-container-devices/\(Self.gpu1)", "/dev/null")]), pid: workerProcess.pid)
        try OCIBundles.writeCrio(root: root, id: idle, spec: OCIBundles.specJSON(
            annotations: OCIBundles.crioAnnotations(pod: "infer-0", namespace: "prod", uid: uid, container: "warm",
                                                   image: "busybox").merging(["cdi.k8s.io/nvidia": "nvidia.com/gpu=0"]) { $1 }),
            pid: idleProcess.pid)
        let cgroupFile = try String(contentsOfFile: "/proc/\(workerProcess.pid)/cgroup", encoding: .utf8)
        XCTAssertTrue(cgroupFile.contains("crio-\(worker).scope"), cgroupFile)

        let scenario = Self.scenario(gpu0: [], gpu1: ["compute pid=\(workerProcess.pid) mem=4GiB sm=70"])
        let s = try snapshot(["--crio-state", root, "--containerd-state", "/nonexistent"], scenario: scenario)
        XCTAssertEqual(s.degraded.filter { $0.source != "docker" }, [], "\(s.degraded)")
        XCTAssertTrue(s.engines?.contains("crio") ?? false, "\(String(describing: s.engines))")
        let w = try usage(s, worker)
        XCTAssertEqual(w.runtime, .crio)
        XCTAssertEqual(w.podName, "infer-0")
        XCTAssertEqual(w.podNamespace, "prod")
        XCTAssertEqual(w.podContainer, "vllm")
        XCTAssertEqual(w.podUID, uid)
        XCTAssertEqual(w.image, "docker.io/vllm/vllm-openai:v0.8")
        XCTAssertEqual(w.gpuRequest, "GPU 1")
        XCTAssertEqual(w.gpus, [1])
        XCTAssertEqual(s.processes.first?.info?.container, ContainerRef(runtime: .crio, id: worker, podUID: uid))
        let i = try usage(s, idle)
        XCTAssertTrue(i.idleAllocation)
        XCTAssertEqual(i.gpuRequest, "GPU 0")
        XCTAssertEqual(i.runtime, .crio)
        XCTAssertNil(s.containers.first { $0.id == sandbox })
        // The idle container's process exits: no longer an allocation.
        idleProcess.stop()
        let after = try snapshot(["--crio-state", root, "--containerd-state", "/nonexistent"], scenario: scenario)
        XCTAssertNil(after.containers.first { $0.id == idle })
    }

    // MARK: - --host-root

    func testHostRootFindsProcStateAndSockets() throws {
        let dockerSocket = String(try Docker.host().dropFirst("unix://".count))
        let state = try Containerd.state()
        let fs = try rootfs()
        let uid = UUID().uuidString.lowercased()
        let (id, pid) = try runTask("k8s.io", rootfs: fs, cgroup: { "/kubepods/besteffort/pod\(uid)/\($0)" },
                                    annotations: OCIBundles.criAnnotations(pod: "hosted-0", namespace: "ml", uid: uid, container: "job"))
        // The host's / as a container with `-v /:/host:ro` sees it: here links to the real places.
        let host = TestEnv.temporaryDirectory("host-root").path
        directories.append(host)
        try FileManager.default.createDirectory(atPath: "\(host)/run", withIntermediateDirectories: true)
        XCTAssertEqual(symlink("/proc", "\(host)/proc"), 0)
        XCTAssertEqual(symlink(state, "\(host)/run/containerd"), 0)
        XCTAssertEqual(symlink(dockerSocket, "\(host)/run/docker.sock"), 0, "/var/run/docker.sock is reached as /run/docker.sock")
        let scenario = Self.scenario(gpu0: ["compute pid=\(pid) mem=1GiB sm=10"], gpu1: [])
        let s = try snapshot(["--host-root", host], scenario: scenario)
        XCTAssertEqual(s.degraded, [], "\(s.degraded)")
        XCTAssertEqual(s.engines, ["docker", "containerd"])
        XCTAssertEqual(try usage(s, id).podName, "hosted-0")
        XCTAssertNotNil(s.processes.first?.info, "/proc under the host root")
        // --proc-root still wins for /proc.
        let wrong = try snapshot(["--host-root", host, "--proc-root", "/tmp"], scenario: scenario)
        XCTAssertTrue(wrong.degraded.contains { $0.source == "procfs" }, "\(wrong.degraded)")
        // Relative directories are refused on the command line.
        let bad = try gpuctop(["snapshot", "--host-root", "host"], scenario: scenario)
        XCTAssertEqual(bad.status, 2)
        XCTAssertEqual(bad.stderr, "gpuctop: --host-root needs an absolute path, not 'host'\n")
    }
}
