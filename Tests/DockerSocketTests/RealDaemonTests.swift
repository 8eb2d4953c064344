// Against the private dockerd of scripts/test-dockerd.sh (GPUCTOP_TEST_DOCKER_HOST). Containers
// are created with the docker CLI, as a user would, and removed afterwards.
@testable import DockerSocket
import Foundation
import TestSupport
import XCTest

final class RealDaemonTests: XCTestCase {
    private var containers: [String] = []
    /// Cgroup parents the tests invented; runc removes a container's own cgroup but not these.
    private var cgroupParents: [String] = []

    override func tearDown() {
        if !containers.isEmpty { _ = try? Docker.run(["rm", "-f"] + containers) }
        containers = []
        for parent in cgroupParents { removeCgroupEverywhere(parent) }
        cgroupParents = []
        super.tearDown()
    }

    /// rmdir of `path` in every hierarchy (cgroup v1 controllers, and the v2 root). Only the
    /// leaf we invented: its parents (/kubepods/besteffort) may belong to a real kubelet.
    private func removeCgroupEverywhere(_ path: String) {
        let root = "/sys/fs/cgroup"
        rmdir(root + path)
        for hierarchy in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            rmdir("\(root)/\(hierarchy)\(path)")
        }
    }

    /// `docker run -d --network none --name <unique> [options] busybox sleep 1000`; returns (name, id).
    private func run(_ role: String, _ options: [String] = [], command: [String] = ["sleep", "1000"]) throws -> (String, String) {
        let name = TestDaemon.uniqueName(role)
        containers.append(name)
        let id = try Docker.runContainer(name, options: options, command: command)
        return (name, id)
    }

    private func create(_ role: String, _ options: [String]) throws -> (String, String) {
        let name = TestDaemon.uniqueName(role)
        containers.append(name)
        let id = try Docker.createContainer(name, options: options)
        return (name, id)
    }

    func testNegotiateWithTheRealDaemon() throws {
        let client = try TestDaemon.client()
        let info = try client.negotiate()
        XCTAssertNotNil(info.version)
        XCTAssertFalse(info.isPodman)
        let server = try XCTUnwrap(info.apiVersion.flatMap { APIVersion($0) })
        XCTAssertEqual(info.negotiatedAPIVersion, min(server, .newestSupported))
        try client.ping()
    }

    func testListAndInspectComposeContainer() throws {
        let (name, id) = try run("compose", ["--label", "com.docker.compose.project=gpuproj",
                                             "--label", "com.docker.compose.service=trainer"])
        let client = try TestDaemon.client()
        let listed = try XCTUnwrap(client.listContainers().first { $0.id == id })
        XCTAssertEqual(listed.name, name)
        XCTAssertEqual(listed.image, Docker.image)
        XCTAssertEqual(listed.state, "running")
        XCTAssertTrue(listed.status?.hasPrefix("Up") ?? false, listed.status ?? "nil")
        XCTAssertEqual(listed.labels["com.docker.compose.project"], "gpuproj")
        XCTAssertEqual(listed.labels["com.docker.compose.service"], "trainer")
        XCTAssertGreaterThan(listed.created ?? 0, 1_600_000_000)
        XCTAssertTrue(try client.listContainers(all: false).contains { $0.id == id })

        for reference in [id, name, String(id.prefix(12))] {
            let details = try client.inspectContainer(reference)
            XCTAssertEqual(details.id, id)
            XCTAssertEqual(details.name, name)
            XCTAssertEqual(details.state.status, "running")
            XCTAssertEqual(details.state.running, true)
            XCTAssertNil(details.state.healthStatus)
            XCTAssertEqual(details.image, Docker.image)
            XCTAssertTrue(details.imageID?.hasPrefix("sha256:") ?? false)
            XCTAssertEqual(details.labels["com.docker.compose.service"], "trainer")
            XCTAssertEqual(details.deviceRequests, [])
            XCTAssertEqual(details.devices, [])
            let started = try XCTUnwrap(details.state.startedAtDate)
            XCTAssertLessThan(abs(started.timeIntervalSinceNow), 120)
            let pid = try XCTUnwrap(details.state.pid)
            XCTAssertGreaterThan(pid, 0)
            // The host PID really is the container's: its cgroup path names the container.
            let cgroup = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
            XCTAssertTrue(cgroup.contains(id), cgroup)
        }
    }

    func testInspectKubernetesStyleCgroupParent() throws {
        // With the cgroupfs driver an absolute path is accepted; the systemd driver would want a
        // "*.slice" name instead. The test daemon uses cgroupfs.
        let parent = "/kubepods/besteffort/pod\(UUID().uuidString.lowercased())"
        cgroupParents.append(parent)
        let (_, id) = try run("k8s", ["--cgroup-parent", parent])
        let client = try TestDaemon.client()
        let details = try client.inspectContainer(id)
        XCTAssertEqual(details.cgroupParent, parent)
        let pid = try XCTUnwrap(details.state.pid)
        let cgroup = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
        XCTAssertTrue(cgroup.contains("\(parent)/\(id)"), cgroup)
    }

    func testInspectDeviceRequestsAndDevices() throws {
        // Created, not started: --gpus needs the NVIDIA runtime hook only at start.
        let (_, some) = try create("gpus", ["--gpus", "\"device=0,GPU-1a2b\"", "--device", "/dev/null:/dev/nvidia-fake"])
        let (_, all) = try create("gpusall", ["--gpus", "all"])
        let client = try TestDaemon.client()

        let details = try client.inspectContainer(some)
        XCTAssertEqual(details.state.status, "created")
        XCTAssertNil(details.state.startedAtDate, "Go's zero time means never started")
        XCTAssertEqual(details.state.pid, 0)
        XCTAssertEqual(details.deviceRequests.count, 1)
        XCTAssertEqual(details.deviceRequests.first?.deviceIDs, ["0", "GPU-1a2b"])
        XCTAssertEqual(details.deviceRequests.first?.capabilities, [["gpu"]])
        XCTAssertEqual(details.devices, [DeviceMapping(pathOnHost: "/dev/null", pathInContainer: "/dev/nvidia-fake", cgroupPermissions: "rwm")])

        let everything = try client.inspectContainer(all)
        XCTAssertEqual(everything.deviceRequests.first?.count, -1)
        XCTAssertEqual(everything.deviceRequests.first?.deviceIDs, [])
    }

    func testStopRestartKill() throws {
        let (name, id) = try run("lifecycle")
        let client = try TestDaemon.client()

        // sleep is PID 1 in its namespace: a signal without a handler is ignored, so SIGUSR1 is
        // delivered successfully and the container keeps running.
        try client.killContainer(id, signal: "SIGUSR1")
        XCTAssertEqual(try client.inspectContainer(id).state.running, true)
        assertDockerError(try client.killContainer(id, signal: "SIGNOPE")) {
            if case .daemonError(400, let message) = $0 { return message.contains("SIGNOPE") } else { return false }
        }

        // SIGTERM is ignored too, so t=0 means SIGKILL at once.
        XCTAssertEqual(try client.stopContainer(name, timeout: 0), .stopped)
        XCTAssertEqual(try client.inspectContainer(id).state.status, "exited")
        XCTAssertEqual(try client.stopContainer(name, timeout: 0), .alreadyStopped)  // 304

        // dockerd 20.10: kill on a stopped container is 409.
        assertDockerError(try client.killContainer(id, signal: "SIGKILL")) {
            if case .conflict(let message) = $0 { return message.contains("not running") } else { return false }
        }

        let pidBefore = try client.inspectContainer(id).state.pid
        try client.restartContainer(id, timeout: 0)
        let restarted = try client.inspectContainer(id)
        XCTAssertEqual(restarted.state.running, true)
        XCTAssertNotEqual(restarted.state.pid, pidBefore)

        try client.killContainer(id)  // default SIGKILL
        XCTAssertEqual(try waitForState(client, id, "exited"), "exited")
    }

    func testMissingContainer() throws {
        let client = try TestDaemon.client()
        let missing = "gpuctop-test-missing-\(UUID().uuidString.prefix(8))"
        func isMissing(_ error: DockerError) -> Bool {
            if case .noSuchContainer(let id, let message) = error { return id == missing && message.contains("No such container") }
            return false
        }
        assertDockerError(try client.stopContainer(missing, timeout: 0), isMissing)
        assertDockerError(try client.restartContainer(missing, timeout: 0), isMissing)
        assertDockerError(try client.killContainer(missing, signal: "SIGTERM"), isMissing)
        assertDockerError(try client.inspectContainer(missing), isMissing)
    }

    func testEventsStreamSeesStartAndDie() throws {
        let client = try TestDaemon.client()
        let collector = EventCollector()
        let stream = try client.events(onEvent: { collector.add($0) }, onEnd: { collector.end($0) })
        defer { stream.stop() }

        let (name, id) = try run("events")
        let start = collector.waitFor(seconds: 10) { $0.actorID == id && $0.action == "start" }
        XCTAssertEqual(start?.type, "container")
        XCTAssertEqual(start?.containerName, name)

        // The client's own connection stays usable while the stream runs.
        XCTAssertEqual(try client.inspectContainer(id).state.running, true)
        try client.killContainer(id, signal: "SIGKILL")
        let die = collector.waitFor(seconds: 10) { $0.actorID == id && $0.action == "die" }
        XCTAssertEqual(die?.attributes["exitCode"], "137")
        XCTAssertTrue(collector.events.allSatisfy { $0.type == "container" })

        stream.stop()
        XCTAssertEqual(collector.ends, [.stopped])
    }

    private func waitForState(_ client: DockerClient, _ id: String, _ wanted: String) throws -> String? {
        let deadline = Date().addingTimeInterval(10)
        var status: String?
        repeat {
            status = try client.inspectContainer(id).state.status
            if status == wanted { break }
            usleep(50_000)
        } while Date() < deadline
        return status
    }
}
