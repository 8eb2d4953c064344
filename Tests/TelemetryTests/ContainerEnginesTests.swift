// Every engine at once, without daemons: containerd and CRI-O state directories and the
// kubelet's log directories under a host root, as a container running gpuctop with the
// host's / mounted sees them. Which source names a process's container, which runtime
// the row says, what is degraded and what is simply absent. (The Docker and Podman
// sockets are covered with real daemons in ContainerCatalogTests and GpuctopTests.)
@testable import Model
@testable import Telemetry
import Foundation
import TestSupport
import XCTest

final class ContainerEnginesTests: ScratchTestCase {
    let podUID = "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b"

    private func hostRoot() -> String { scratchDirectory("host-root") }

    private func options(_ root: String) -> EngineOptions {
        var o = EngineOptions()
        o.hostPaths = HostPaths(root: root)
        o.environment = [:]
        return o
    }

    func testHostPaths() {
        XCTAssertEqual(HostPaths().path("/run/containerd"), "/run/containerd")
        XCTAssertEqual(HostPaths(root: "/host/").path("/run/containerd"), "/host/run/containerd")
        XCTAssertEqual(HostPaths(root: "/host").path("/var/run/docker.sock"), "/host/run/docker.sock",
                       "the host's /var/run is a link to /run that would lead out of /host")
        XCTAssertEqual(HostPaths(root: "/").path("/var/run/docker.sock"), "/var/run/docker.sock")
        XCTAssertEqual(HostPaths(root: "").root, "/")
    }

    func testNothingInstalledSaysNothing() {
        let engines = ContainerEngines(options: options(hostRoot()))
        engines.refresh(now: 1, gpus: GPUIdentities())
        XCTAssertEqual(engines.engines, [])
        XCTAssertEqual(engines.degraded, [])
        XCTAssertNil(engines.docker)
        XCTAssertTrue(engines.podman.isEmpty)
        XCTAssertNil(engines.crio)
        let id = OCIBundles.randomID()
        let u = engines.describe(ContainerRef(runtime: .containerd, id: id, podUID: podUID))
        XCTAssertEqual(u.id, id)
        XCTAssertEqual(u.runtime, .containerd)
        XCTAssertEqual(u.podUID, podUID)
        XCTAssertNil(u.name)
    }

    func testContainerdCrioAndKubeletUnderAHostRoot() throws {
        let root = hostRoot()
        let child = try Child(["/bin/sleep", "120"])
        children.append(child)
        let ctrID = OCIBundles.randomID(), crioID = OCIBundles.randomID(), logsOnly = OCIBundles.randomID()
        try OCIBundles.writeContainerd(state: "\(root)/run/containerd", namespace: "k8s.io", id: ctrID, spec: OCIBundles.specJSON(
            annotations: OCIBundles.criAnnotations(pod: "train-0", namespace: "ml", uid: podUID, container: "pytorch", image: "pt:1"),
            env: ["NVIDIA_VISIBLE_DEVICES=0"]), pid: child.pid)
        // CRI-O is read only where it runs: /run/crio.
        try FileManager.default.createDirectory(atPath: "\(root)/run/crio", withIntermediateDirectories: true)
        try OCIBundles.writeCrio(root: "\(root)/run/containers/storage", id: crioID, spec: OCIBundles.specJSON(
            annotations: OCIBundles.crioAnnotations(pod: "serve-0", namespace: "web", uid: podUID, container: "vllm", image: "vllm:1"),
            env: ["NVIDIA_VISIBLE_DEVICES=1"]), pid: child.pid)
        // A container only the kubelet's logs know (its runtime's state unreadable or unknown).
        try FileManager.default.createDirectory(atPath: "\(root)/var/log/containers", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(root)/var/log/pods/ops_mon-0_\(podUID)/agent", withIntermediateDirectories: true)
        XCTAssertEqual(symlink("/var/log/pods/ops_mon-0_\(podUID)/agent/0.log",
                               "\(root)/var/log/containers/mon-0_ops_agent-\(logsOnly).log"), 0)

        let engines = ContainerEngines(options: options(root))
        engines.refresh(now: 1, gpus: GPUIdentities())
        XCTAssertEqual(engines.degraded, [])
        XCTAssertEqual(engines.engines, ["containerd", "crio"])

        // Each found in its own engine's state, whatever runtime the cgroup guessed.
        let c = engines.describe(ContainerRef(runtime: .containerd, id: ctrID, podUID: podUID))
        XCTAssertEqual(c.runtime, .containerd)
        XCTAssertEqual(c.podName, "train-0")
        XCTAssertEqual(c.gpuRequest, "GPU 0")
        let r = engines.describe(ContainerRef(runtime: .containerd, id: crioID, podUID: podUID))
        XCTAssertEqual(r.runtime, .crio, "a pod<uid>/<id> cgroup says containerd; CRI-O's state knows better")
        XCTAssertEqual(r.podName, "serve-0")
        XCTAssertEqual(r.image, "vllm:1")

        // The kubelet's logs are read only when needed, and named as the last resort.
        XCTAssertEqual(engines.kubelet.listings, 0)
        let k = engines.describe(ContainerRef(runtime: .containerd, id: logsOnly, podUID: podUID))
        XCTAssertEqual(k.runtime, .containerd)
        XCTAssertNil(k.podName, "not listed yet: the next refresh lists")
        let v = engines.version
        engines.refresh(now: 2, gpus: GPUIdentities())
        XCTAssertEqual(engines.kubelet.listings, 1)
        XCTAssertNotEqual(engines.version, v, "what lookups answer changed")
        let k2 = engines.describe(ContainerRef(runtime: .containerd, id: logsOnly, podUID: podUID))
        XCTAssertEqual(k2.podName, "mon-0")
        XCTAssertEqual(k2.podNamespace, "ops")
        XCTAssertEqual(k2.podContainer, "agent")
        XCTAssertEqual(k2.name, "agent")
        XCTAssertEqual(engines.engines, ["containerd", "crio", "kubelet"])
        // A container whose own link is missing: its pod, by uid.
        let other = "9a8b7c6d-0000-4000-8000-000000000001"
        try FileManager.default.createDirectory(atPath: "\(root)/var/log/pods/ops_batch-1_\(other)", withIntermediateDirectories: true)
        engines.refresh(now: 10, gpus: GPUIdentities())
        _ = engines.describe(ContainerRef(runtime: .crio, id: OCIBundles.randomID(), podUID: other))
        engines.refresh(now: 20, gpus: GPUIdentities())
        let byPod = engines.describe(ContainerRef(runtime: .crio, id: OCIBundles.randomID(), podUID: other))
        XCTAssertEqual(byPod.podName, "batch-1")
        XCTAssertNil(byPod.podContainer)

        // Idle allocations from both: running pod containers holding GPUs.
        XCTAssertEqual(engines.idleAllocations.map(\.id).sorted(), [ctrID, crioID].sorted())
        XCTAssertEqual(Set(engines.idleAllocations.compactMap(\.runtime)), [.containerd, .crio])
    }

    func testKubeletNames() {
        let id = OCIBundles.randomID()
        let parsed = KubeletLogs.parseContainerLink("my-pod-7d9f_kube-system_side-car-\(id).log")
        XCTAssertEqual(parsed?.0, id)
        XCTAssertEqual(parsed?.1, KubeletLogs.Names(pod: "my-pod-7d9f", namespace: "kube-system", container: "side-car"))
        for bad in ["a_b_c.log", "a_b_c-\(id).txt", "a_b_c_d-\(id).log", "_b_c-\(id).log", "a_b_-\(id).log",
                    "a_b_c-\(id.uppercased()).log", "a_b_c\(id).log", "a_b_c-\(id.dropLast()).log"] {
            XCTAssertNil(KubeletLogs.parseContainerLink(bad), bad)
        }
        XCTAssertEqual(KubeletLogs.parsePodDirectory("ml_train-0_\(podUID)"),
                       KubeletLogs.Names(pod: "train-0", namespace: "ml", container: nil, podUID: podUID))
        XCTAssertEqual(KubeletLogs.parsePodDirectory("kube-system_etcd-node_0123456789abcdef0123456789abcdef")?.pod, "etcd-node")
        for bad in ["ml_train-0", "ml_train-0_notauid", "ml__\(podUID)", "a_b_c_\(podUID)"] {
            XCTAssertNil(KubeletLogs.parsePodDirectory(bad), bad)
        }
    }

    func testExplicitSocketsAreReportedWhenBroken() {
        var o = options(hostRoot())
        o.dockerHost = "unix:///nonexistent/docker.sock"
        o.podmanHost = "unix:///nonexistent/podman.sock"
        let engines = ContainerEngines(options: o)
        engines.refresh(now: 1, gpus: GPUIdentities())
        XCTAssertEqual(engines.degraded.map(\.source), ["docker", "podman"])
        XCTAssertTrue(engines.degraded[1].reason.contains("/nonexistent/podman.sock"), engines.degraded[1].reason)
        XCTAssertEqual(engines.engines, [])
    }
}
