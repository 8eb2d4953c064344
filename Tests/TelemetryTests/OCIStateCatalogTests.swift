// The on-disk catalogs of containerd and CRI-O, over state directories laid out as those
// engines lay them out (OCIBundles), with real processes standing for the tasks: names,
// sandboxes, idle allocations, what is read when, and hostile bundles.
@testable import Model
@testable import Telemetry
import Foundation
import TestSupport
import XCTest

final class OCIStateCatalogTests: ScratchTestCase {
    let podUID = "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b"

    private func tempDir(_ label: String) -> String { scratchDirectory(label) }

    private func sleeper() throws -> Int32 {
        let c = try Child(["/bin/sleep", "120"])
        children.append(c)
        return c.pid
    }

    /// A pid that named a process a moment ago and names none now.
    private func deadPID() throws -> Int32 {
        let c = try Child(["/bin/true"])
        c.process.waitUntilExit()
        return c.pid
    }

    private let oneGPU = GPUIdentities(gpus: [{ var g = GPU(index: 0); g.uuid = "GPU-aaaa"; return g }()], minorNumbers: [0: 0])

    func testContainerdPodsSandboxesNerdctlAndDocker() throws {
        let state = tempDir("ctrd-state")
        let running = try sleeper()
        let sandbox = OCIBundles.randomID(), trainer = OCIBundles.randomID(), idle = OCIBundles.randomID()
        let nerd = OCIBundles.randomID(), moby = OCIBundles.randomID(), stopped = OCIBundles.randomID()
        try OCIBundles.writeContainerd(state: state, namespace: "k8s.io", id: sandbox, spec: OCIBundles.specJSON(
            annotations: OCIBundles.criAnnotations(pod: "trainer-0", namespace: "research", uid: podUID),
            env: ["NVIDIA_VISIBLE_DEVICES=all"]), pid: running)
        try OCIBundles.writeContainerd(state: state, namespace: "k8s.io", id: trainer, spec: OCIBundles.specJSON(
            annotations: OCIBundles.criAnnotations(pod: "trainer-0", namespace: "research", uid: podUID, container: "pytorch",
                                                   image: "nvcr.io/nvidia/pytorch:25.01-py3"),
            env: ["NVIDIA_VISIBLE_DEVICES=GPU-aaaa"]), pid: running)
        try OCIBundles.writeContainerd(state: state, namespace: "k8s.io", id: idle, spec: OCIBundles.specJSON(
            annotations: OCIBundles.criAnnotations(pod: "idle-0", namespace: "research", uid: podUID, container: "waiter", image: "busybox"),
            env: ["NVIDIA_VISIBLE_DEVICES=void"], devices: [("/dev/nvidia0", 195, 0)]), pid: running)
        try OCIBundles.writeContainerd(state: state, namespace: "default", id: nerd, spec: OCIBundles.specJSON(
            annotations: ["nerdctl/name": "web", "com.docker.compose.project": "proj", "com.docker.compose.service": "api"]), pid: running)
        try OCIBundles.writeContainerd(state: state, namespace: "moby", id: moby, spec: OCIBundles.specJSON(env: ["NVIDIA_VISIBLE_DEVICES=all"]), pid: running)
        try OCIBundles.writeContainerd(state: state, namespace: "k8s.io", id: stopped, spec: OCIBundles.specJSON(
            annotations: OCIBundles.criAnnotations(pod: "done", namespace: "x", uid: podUID, container: "c"),
            env: ["NVIDIA_VISIBLE_DEVICES=all"]), pid: try deadPID())

        let catalog = OCIStateCatalog(layout: .containerd(state: state), period: 5)
        catalog.refresh(now: 100, gpus: oneGPU)
        XCTAssertTrue(catalog.present)
        XCTAssertNil(catalog.problem)
        XCTAssertEqual(catalog.specReads, 5, "moby's bundles are the Docker API's")

        let t = try XCTUnwrap(catalog.entry(id: trainer)).named
        XCTAssertFalse(t.isSandbox)
        XCTAssertEqual(t.usage.runtime, .containerd)
        XCTAssertEqual(t.usage.podName, "trainer-0")
        XCTAssertEqual(t.usage.podNamespace, "research")
        XCTAssertEqual(t.usage.podContainer, "pytorch")
        XCTAssertEqual(t.usage.podUID, podUID)
        XCTAssertEqual(t.usage.name, "pytorch")
        XCTAssertEqual(t.usage.image, "nvcr.io/nvidia/pytorch:25.01-py3")
        XCTAssertEqual(t.usage.gpuRequest, "GPU 0")
        XCTAssertEqual(t.usage.status, "running")
        XCTAssertEqual(t.usage.labels?["io.kubernetes.cri.container-type"], "container", "the annotations are the labels")
        XCTAssertLessThan(abs((t.usage.startedAt ?? 0) - Date().timeIntervalSince1970), 60)
        XCTAssertTrue(try XCTUnwrap(catalog.entry(id: sandbox)).named.isSandbox)

        let n = try XCTUnwrap(catalog.entry(id: nerd)).named.usage
        XCTAssertEqual(n.name, "web")
        XCTAssertEqual(n.composeProject, "proj")
        XCTAssertEqual(n.composeService, "api")
        XCTAssertNil(n.podName)
        XCTAssertNil(n.gpuRequest)

        XCTAssertEqual(try XCTUnwrap(catalog.entry(id: stopped)).named.usage.status, "stopped")
        XCTAssertEqual(catalog.idleAllocations.map(\.id).sorted(), [trainer, idle].sorted(),
                       "running, not a sandbox, holding a GPU; not moby's, not the stopped one")
        XCTAssertEqual(catalog.idleAllocations.first { $0.id == idle }?.gpuRequest, "GPU 0")
    }

    func testReadsEachBundleOnceAndListsAtMostEveryPeriod() throws {
        let state = tempDir("ctrd-cost")
        let pid = try sleeper()
        let a = OCIBundles.randomID(), b = OCIBundles.randomID()
        let dirA = try OCIBundles.writeContainerd(state: state, namespace: "k8s.io", id: a, spec: OCIBundles.specJSON(
            annotations: OCIBundles.criAnnotations(pod: "a", namespace: "n", uid: podUID, container: "c")), pid: pid)
        let catalog = OCIStateCatalog(layout: .containerd(state: state), period: 5)
        catalog.refresh(now: 100, gpus: oneGPU)
        XCTAssertEqual(catalog.specReads, 1)
        XCTAssertEqual(catalog.listings, 1)
        let v = catalog.version
        // Steady state: within the period nothing is listed; after it, listed but not re-read.
        for t in stride(from: 100.5, to: 104.9, by: 0.5) { catalog.refresh(now: t, gpus: oneGPU) }
        XCTAssertEqual(catalog.listings, 1)
        catalog.refresh(now: 105, gpus: oneGPU)
        catalog.refresh(now: 110, gpus: oneGPU)
        XCTAssertEqual(catalog.listings, 3)
        XCTAssertEqual(catalog.specReads, 1, "a bundle is read once per container id")
        XCTAssertEqual(catalog.version, v, "nothing changed")

        // A container that started since the last listing: read directly once when a process
        // in it is seen, and not read again at the next listing.
        try OCIBundles.writeContainerd(state: state, namespace: "k8s.io", id: b, spec: OCIBundles.specJSON(
            annotations: OCIBundles.criAnnotations(pod: "b", namespace: "n", uid: podUID, container: "c")), pid: pid)
        XCTAssertEqual(catalog.entry(id: b)?.named.usage.podName, "b")
        XCTAssertEqual(catalog.specReads, 2)
        // An id no engine knows: looked for once, then not until the next listing.
        let unknown = OCIBundles.randomID()
        XCTAssertNil(catalog.entry(id: unknown))
        let reads = catalog.specReads
        for _ in 0..<5 { XCTAssertNil(catalog.entry(id: unknown)) }
        XCTAssertEqual(catalog.specReads, reads)
        catalog.refresh(now: 115, gpus: oneGPU)
        XCTAssertEqual(catalog.specReads, 2)

        // A container that went is forgotten at the next listing.
        try FileManager.default.removeItem(atPath: dirA)
        catalog.refresh(now: 120, gpus: oneGPU)
        XCTAssertNil(catalog.entry(id: a))
        XCTAssertNotEqual(catalog.version, v)
        // The same id again (restarted with a new spec) is read anew.
        try OCIBundles.writeContainerd(state: state, namespace: "k8s.io", id: a, spec: OCIBundles.specJSON(
            annotations: OCIBundles.criAnnotations(pod: "a2", namespace: "n", uid: podUID, container: "c")), pid: pid)
        catalog.refresh(now: 125, gpus: oneGPU)
        XCTAssertEqual(catalog.entry(id: a)?.named.usage.podName, "a2")
        XCTAssertEqual(catalog.specReads, 3)
    }

    func testAbsentStateIsNotAProblem() {
        let catalog = OCIStateCatalog(layout: .containerd(state: "/nonexistent/containerd"))
        catalog.refresh(now: 1, gpus: GPUIdentities())
        XCTAssertFalse(catalog.present)
        XCTAssertNil(catalog.problem)
        XCTAssertNil(catalog.entry(id: OCIBundles.randomID()))
        let crio = OCIStateCatalog(layout: .crio(roots: ["/nonexistent/a", "/nonexistent/b"]))
        crio.refresh(now: 1, gpus: GPUIdentities())
        XCTAssertFalse(crio.present)
        XCTAssertNil(crio.problem)
    }

    func testStateThatIsNotADirectoryIsAProblem() throws {
        let state = tempDir("ctrd-file")
        try "x".write(toFile: "\(state)/io.containerd.runtime.v2.task", atomically: true, encoding: .utf8)
        let catalog = OCIStateCatalog(layout: .containerd(state: state))
        catalog.refresh(now: 1, gpus: GPUIdentities())
        // ENOTDIR reads as absent: a file where the directory should be is no containerd.
        XCTAssertFalse(catalog.present)
        // A link where the task directory should be is refused, not followed.
        let linked = tempDir("ctrd-link")
        let real = tempDir("ctrd-real")
        try FileManager.default.createDirectory(atPath: "\(real)/k8s.io", withIntermediateDirectories: true)
        XCTAssertEqual(symlink(real, "\(linked)/io.containerd.runtime.v2.task"), 0)
        let viaLink = OCIStateCatalog(layout: .containerd(state: linked))
        viaLink.refresh(now: 1, gpus: GPUIdentities())
        XCTAssertTrue(viaLink.present)
        let problem = try XCTUnwrap(viaLink.problem)
        XCTAssertTrue(problem.contains("a symbolic link"), problem)
    }

    func testHostileBundlesAreSkippedOneByOne() throws {
        let state = tempDir("ctrd-hostile")
        let pid = try sleeper()
        let good = OCIBundles.randomID()
        try OCIBundles.writeContainerd(state: state, namespace: "k8s.io", id: good, spec: OCIBundles.specJSON(
            annotations: OCIBundles.criAnnotations(pod: "good", namespace: "n", uid: podUID, container: "c")), pid: pid)
        let ns = "\(state)/io.containerd.runtime.v2.task/k8s.io"
        // config.json a link to another file, a FIFO, too large, not JSON; the bundle a link;
        // an init.pid that is a FIFO.
        let link = OCIBundles.randomID(), fifo = OCIBundles.randomID(), huge = OCIBundles.randomID()
        let garbage = OCIBundles.randomID(), dirLink = OCIBundles.randomID(), pidFifo = OCIBundles.randomID()
        for id in [link, fifo, huge, garbage, pidFifo] { try FileManager.default.createDirectory(atPath: "\(ns)/\(id)", withIntermediateDirectories: true) }
        let secret = tempDir("secret")
        try OCIBundles.specJSON(annotations: OCIBundles.criAnnotations(pod: "stolen", namespace: "n", uid: podUID, container: "c"))
            .write(toFile: "\(secret)/config.json", atomically: true, encoding: .utf8)
        XCTAssertEqual(symlink("\(secret)/config.json", "\(ns)/\(link)/config.json"), 0)
        XCTAssertEqual(mkfifo("\(ns)/\(fifo)/config.json", 0o600), 0)
        XCTAssertTrue(FileManager.default.createFile(atPath: "\(ns)/\(huge)/config.json", contents: Data(count: OCISpec.maxBytes + 10)))
        try "\u{1b}[2J not json".write(toFile: "\(ns)/\(garbage)/config.json", atomically: true, encoding: .utf8)
        XCTAssertEqual(symlink(secret, "\(ns)/\(dirLink)"), 0)
        try OCIBundles.specJSON(annotations: OCIBundles.criAnnotations(pod: "pidfifo", namespace: "n", uid: podUID, container: "c"))
            .write(toFile: "\(ns)/\(pidFifo)/config.json", atomically: true, encoding: .utf8)
        XCTAssertEqual(mkfifo("\(ns)/\(pidFifo)/init.pid", 0o600), 0)

        let catalog = OCIStateCatalog(layout: .containerd(state: state), period: 5)
        let start = Date()
        catalog.refresh(now: 1, gpus: GPUIdentities())
        XCTAssertLessThan(Date().timeIntervalSince(start), 2, "nothing blocks")
        XCTAssertNil(catalog.problem, "one container's bundle is not the engine's problem")
        XCTAssertEqual(catalog.entry(id: good)?.named.usage.podName, "good")
        for id in [link, fifo, huge, garbage, dirLink] { XCTAssertNil(catalog.entry(id: id), id) }
        XCTAssertFalse(catalog.allUsages.contains { $0.podName == "stolen" })
        XCTAssertEqual(catalog.refusedSpecs, 5)
        let p = try XCTUnwrap(catalog.entry(id: pidFifo)).named.usage
        XCTAssertEqual(p.podName, "pidfifo")
        XCTAssertNil(p.status, "no readable pid file: not known to run")
        // Refused bundles are not read again at the next listing.
        let reads = catalog.specReads
        catalog.refresh(now: 10, gpus: GPUIdentities())
        XCTAssertEqual(catalog.specReads, reads)
    }

    func testCrioLayout() throws {
        let run = tempDir("crio-run"), graph = tempDir("crio-graph")
        let pid = try sleeper()
        let sandbox = OCIBundles.randomID(), worker = OCIBundles.randomID(), podman = OCIBundles.randomID()
        try OCIBundles.writeCrio(root: run, id: sandbox, spec: OCIBundles.specJSON(
            annotations: OCIBundles.crioAnnotations(pod: "infer-0", namespace: "prod", uid: podUID, container: nil),
            env: ["NVIDIA_VISIBLE_DEVICES=all"]), pid: pid)
        try OCIBundles.writeCrio(root: run, id: worker, spec: OCIBundles.specJSON(
            annotations: OCIBundles.crioAnnotations(pod: "infer-0", namespace: "prod", uid: podUID, container: "vllm",
                                                   image: "docker.io/vllm/vllm-openai:v0.8"),
            env: ["NVIDIA_VISIBLE_DEVICES=all"]), pid: pid)
        // Podman shares containers/storage: its bundles are not CRI-O's.
        try OCIBundles.writeCrio(root: run, id: podman, spec: OCIBundles.specJSON(
            annotations: ["io.container.manager": "libpod"], env: ["NVIDIA_VISIBLE_DEVICES=all"]), pid: pid)
        let catalog = OCIStateCatalog(layout: .crio(roots: [run, graph]))
        catalog.refresh(now: 1, gpus: GPUIdentities())
        XCTAssertTrue(catalog.present)
        let w = try XCTUnwrap(catalog.entry(id: worker)).named.usage
        XCTAssertEqual(w.runtime, .crio)
        XCTAssertEqual(w.podName, "infer-0")
        XCTAssertEqual(w.podNamespace, "prod")
        XCTAssertEqual(w.podContainer, "vllm")
        XCTAssertEqual(w.name, "vllm")
        XCTAssertEqual(w.podUID, podUID)
        XCTAssertEqual(w.image, "docker.io/vllm/vllm-openai:v0.8")
        XCTAssertEqual(w.gpuRequest, "all GPUs")
        XCTAssertTrue(try XCTUnwrap(catalog.entry(id: sandbox)).named.isSandbox)
        XCTAssertNil(catalog.entry(id: podman))
        XCTAssertEqual(catalog.idleAllocations.map(\.id), [worker])
        XCTAssertEqual(catalog.specReads, 3)
        catalog.refresh(now: 10, gpus: GPUIdentities())
        XCTAssertEqual(catalog.specReads, 3, "Podman's bundle is not read again either")

        // Only the graph root there (the run root is a tmpfs, gone after a reboot): it is listed.
        let onlyGraph = tempDir("crio-graph-only")
        try OCIBundles.writeCrio(root: onlyGraph, id: worker, spec: OCIBundles.specJSON(
            annotations: OCIBundles.crioAnnotations(pod: "p", namespace: "n", uid: podUID, container: "c")), pid: pid)
        let second = OCIStateCatalog(layout: .crio(roots: ["/nonexistent/run", onlyGraph]))
        second.refresh(now: 1, gpus: GPUIdentities())
        XCTAssertEqual(second.entry(id: worker)?.named.usage.podName, "p")
    }
}
