// stop/restart/kill across engines, end to end through the real binary: the private test
// dockerd (scripts/test-dockerd.sh) and the private Podman service (scripts/test-podman.sh)
// side by side, a container in each. Podman's containers are acted on through Podman's own
// API; a name in both engines is refused; containers Kubernetes manages are refused with the
// kubectl line (labelled under Docker, or known only from a pod cgroup through a snapshot),
// while their processes can still be signalled. The dashboard shows the same refusal line in
// place of the question, and stops a Podman container through the same path.
import Foundation
import TestSupport
import XCTest

final class EngineActionTests: XCTestCase {
    var dockerContainers: [String] = []
    var podmanContainers: [String] = []
    var children: [Child] = []
    let cgroups = CgroupScratch()
    var stateHome = ""

    override func setUp() {
        stateHome = TestEnv.temporaryDirectory("engine-actions").appendingPathComponent("state").path
    }

    override func tearDown() {
        if !dockerContainers.isEmpty { _ = try? Docker.run(["rm", "-f"] + dockerContainers) }
        dockerContainers = []
        Podman.remove(podmanContainers)
        podmanContainers = []
        children.forEach { $0.stop() }
        children = []
        cgroups.cleanUp()
    }

    var auditLines: [String] {
        let text = (try? String(contentsOfFile: stateHome + "/gpuctop/actions.log", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    func unique(_ role: String) -> String { "ge-\(role)-\(UUID().uuidString.prefix(8).lowercased())" }

    /// gpuctop with both test engines: `--docker-host` and `--podman-host` unless `engines` says otherwise.
    func gpuctop(_ args: [String], engines: [String]? = nil, env: [String: String] = [:]) throws -> RunResult {
        var environment = ["XDG_STATE_HOME": stateHome, "GPUCTOP_READ_ONLY": "", "GPUCTOP_PODMAN_HOST": ""]
        environment.merge(env) { $1 }
        let hosts = try engines ?? ["--docker-host", Docker.host(), "--podman-host", Podman.host()]
        return try Run.gpuctop(args + hosts, environment: environment, timeout: 60)
    }

    func dockerState(_ name: String) throws -> String { try Docker.run(["inspect", "-f", "{{.State.Status}}", name]) }

    @discardableResult
    func podmanContainer(_ name: String, labels: [String: String] = [:], command: [String] = ["sleep", "1000"]) throws -> String {
        podmanContainers.append(name)
        return try Podman.runContainer(name, labels: labels, command: command)
    }

    @discardableResult
    func dockerContainer(_ name: String, labels: [String: String] = [:], command: [String] = ["sleep", "1000"]) throws -> String {
        dockerContainers.append(name)
        return try Docker.runContainer(name, labels: labels, command: command)
    }

    /// Polls `read` until it returns `expected` (a state change the engine reports a moment later).
    func waitFor(_ expected: String, timeout: Double = 20, _ read: () throws -> String) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        repeat {
            last = try read()
            if last == expected { return }
            usleep(100_000)
        } while Date() < deadline
        XCTFail("expected \(expected), still \(last) after \(timeout) s")
    }

    // MARK: - Podman beside Docker

    func testStopRestartKillAPodmanContainerThroughPodmansAPI() throws {
        let pm = unique("pm"), dk = unique("dk")
        let pmId = try podmanContainer(pm)
        let dkId = try dockerContainer(dk)

        let stop = try gpuctop(["stop", pm, "--yes", "--time", "1"])
        XCTAssertEqual(stop.status, 0, stop.stderr)
        XCTAssertEqual(stop.stdout, "\(pm) [\(pmId.prefix(12))]: stopped\n")
        XCTAssertEqual(stop.stderr, "")
        XCTAssertEqual(try Podman.state(pm), "exited", "Podman itself says it is stopped")
        XCTAssertEqual(try dockerState(dk), "running", "the Docker container is not touched")

        let startedAt = try Podman.run(["inspect", "-f", "{{.State.StartedAt}}", pm])
        let restart = try gpuctop(["restart", String(pmId.prefix(10)), "--yes", "--time", "1"])
        XCTAssertEqual(restart.status, 0, restart.stderr)
        XCTAssertEqual(restart.stdout, "\(pm) [\(pmId.prefix(12))]: restarted\n")
        XCTAssertEqual(try Podman.state(pm), "running")
        XCTAssertNotEqual(try Podman.run(["inspect", "-f", "{{.State.StartedAt}}", pm]), startedAt, "started again")

        // One command, one container in each engine.
        let kill = try gpuctop(["kill", pm, dk, "--yes"])
        XCTAssertEqual(kill.status, 0, kill.stderr)
        XCTAssertEqual(kill.stdout, "\(pm) [\(pmId.prefix(12))]: sent SIGKILL\n\(dk) [\(dkId.prefix(12))]: sent SIGKILL\n")
        try waitFor("exited") { try Podman.state(pm) }
        try waitFor("exited") { try dockerState(dk) }

        let lines = auditLines
        XCTAssertEqual(lines.count, 4, "\(lines)")
        XCTAssertTrue(lines[0].contains(" action=stop container=\(pm) container_id=\(pmId) engine=podman previous=\"running"), lines[0])
        XCTAssertTrue(lines[0].contains("result=ok detail=stopped"), lines[0])
        XCTAssertTrue(lines[1].contains(" action=restart container=\(pm) container_id=\(pmId) engine=podman ")
                      && lines[1].contains("result=ok"), lines[1])
        XCTAssertTrue(lines[2].contains(" action=kill container=\(pm) container_id=\(pmId) engine=podman "), lines[2])
        XCTAssertTrue(lines[3].contains(" action=kill container=\(dk) container_id=\(dkId) engine=docker "), lines[3])
    }

    func testTheSameNameInDockerAndPodmanIsRefused() throws {
        let name = unique("both")
        let pmId = try podmanContainer(name)
        let dkId = try dockerContainer(name)

        let r = try gpuctop(["stop", name, "--yes"])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("'\(name)' matches 2 containers"), r.stderr)
        XCTAssertTrue(r.stderr.contains("\(name) [\(dkId.prefix(12))] (Docker)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("\(name) [\(pmId.prefix(12))] (Podman)"), r.stderr)
        XCTAssertEqual(try Podman.state(name), "running")
        XCTAssertEqual(try dockerState(name), "running")
        XCTAssertTrue(auditLines.last?.contains("action=stop target=\(name) result=refused") == true, "\(auditLines)")

        // The id tells them apart.
        let byId = try gpuctop(["stop", String(pmId.prefix(12)), "--yes", "--time", "0"])
        XCTAssertEqual(byId.status, 0, byId.stderr)
        XCTAssertEqual(try Podman.state(name), "exited")
        XCTAssertEqual(try dockerState(name), "running")
    }

    func testPodmanFromTheEnvironmentAndAnUnreachablePodmanIsAWarning() throws {
        let pm = unique("env"), dk = unique("dk")
        try podmanContainer(pm)
        try dockerContainer(dk)
        // GPUCTOP_PODMAN_HOST, as a test or a user sets it.
        let viaEnv = try gpuctop(["kill", pm, "--yes"], engines: ["--docker-host", Docker.host()],
                                 env: ["GPUCTOP_PODMAN_HOST": Podman.host()])
        XCTAssertEqual(viaEnv.status, 0, viaEnv.stderr)
        try waitFor("exited") { try Podman.state(pm) }

        // A Podman socket named but not there: Docker's container is still found, with a warning.
        let missing = try gpuctop(["kill", dk, "--yes"],
                                  engines: ["--docker-host", Docker.host(), "--podman-host", "unix:///nonexistent/podman.sock"])
        XCTAssertEqual(missing.status, 0, missing.stderr)
        XCTAssertEqual(missing.stderr, "gpuctop: warning: cannot list the containers at /nonexistent/podman.sock: no such socket; its containers were not considered\n")
        try waitFor("exited") { try dockerState(dk) }
        // Not found anywhere: a failure, and the unreachable engine is named once.
        let nowhere = try gpuctop(["stop", "ge-nothing-here", "--yes"],
                                  engines: ["--docker-host", Docker.host(), "--podman-host", "unix:///nonexistent/podman.sock"])
        XCTAssertEqual(nowhere.status, 1, nowhere.stderr)
        XCTAssertEqual(nowhere.stderr.split(separator: "\n").map(String.init), [
            "gpuctop: warning: cannot list the containers at /nonexistent/podman.sock: no such socket; its containers were not considered",
            "gpuctop: no such container: ge-nothing-here",
        ])
        // Neither engine there: a failure naming both.
        let none = try gpuctop(["stop", dk, "--yes"],
                               engines: ["--docker-host", "unix:///nonexistent/docker.sock", "--podman-host", "unix:///nonexistent/podman.sock"])
        XCTAssertEqual(none.status, 1, none.stderr)
        XCTAssertTrue(none.stderr.contains("/nonexistent/docker.sock: no such socket; cannot list the containers at /nonexistent/podman.sock"), none.stderr)
    }

    // MARK: - Kubernetes' containers

    static let podLabels = ["io.kubernetes.pod.name": "trainer-0", "io.kubernetes.pod.namespace": "research",
                            "io.kubernetes.container.name": "pytorch",
                            "io.kubernetes.pod.uid": "0f1e2d3c-4b5a-4697-8a1b-2c3d4e5f6a7b"]
    /// Exits 7 on SIGTERM: shows that a signal reached it (init in its PID namespace gets only
    /// the signals it has a handler for).
    static let trapsTerm = ["sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.2; done"]

    func testAKubernetesContainerUnderDockerIsRefusedAndItsProcessCanBeSignalled() throws {
        let name = unique("k8s")
        let id = try dockerContainer(name, labels: Self.podLabels, command: Self.trapsTerm)
        let line = "refusing to stop \(name) [\(id.prefix(12))]: Kubernetes manages it (pod research/trainer-0) and would undo that; use kubectl delete pod -n research trainer-0"

        let stop = try gpuctop(["stop", name, "--yes"])
        XCTAssertEqual(stop.status, 3, stop.stderr)
        XCTAssertEqual(stop.stderr, "gpuctop: \(line)\n")
        XCTAssertEqual(stop.stdout, "")
        for verb in ["restart", "kill"] {
            let r = try gpuctop([verb, String(id.prefix(12)), "--yes"])
            XCTAssertEqual(r.status, 3, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("gpuctop: refusing to \(verb) \(name) ["), r.stderr)
            XCTAssertTrue(r.stderr.hasSuffix("; use kubectl delete pod -n research trainer-0\n"), r.stderr)
        }
        XCTAssertEqual(try dockerState(name), "running", "nothing was stopped")
        // Refused with another, acceptable argument: that one is not done either.
        let other = unique("ok")
        try dockerContainer(other)
        let mixed = try gpuctop(["stop", other, name, "--yes"])
        XCTAssertEqual(mixed.status, 3, mixed.stderr)
        XCTAssertEqual(try dockerState(other), "running")

        let lines = auditLines
        XCTAssertEqual(lines.count, 5, "\(lines)")
        XCTAssertTrue(lines[0].contains(" action=stop container=\(name) container_id=\(id) engine=docker previous=\"running"), lines[0])
        XCTAssertTrue(lines[0].hasSuffix(" result=refused detail=\"\(line)\""), lines[0])
        XCTAssertTrue(lines[1].contains("action=restart") && lines[1].contains("result=refused"), lines[1])
        XCTAssertTrue(lines[3].contains("container=\(name)") && lines[3].contains("result=refused"), lines[3])
        XCTAssertTrue(lines[4].contains("container=\(other)") && lines[4].contains("result=refused detail=\"not done: another CONTAINER argument"), lines[4])

        // Its process is still ours to signal: `signal` does not go through the engine.
        let pid = try Docker.pid(name)
        let signal = try gpuctop(["signal", String(pid), "--yes"])
        XCTAssertEqual(signal.status, 0, signal.stderr)
        XCTAssertEqual(signal.stdout, "PID \(pid): sent SIGTERM\n")
        try waitFor("exited") { try dockerState(name) }
        XCTAssertEqual(try Docker.run(["inspect", "-f", "{{.State.ExitCode}}", name]), "7", "its TERM trap ran")
    }

    /// A pod's container under containerd, as kubelet lays out its cgroup (no engine we speak
    /// knows it): the CLI finds it in a one-shot snapshot and refuses with the kubectl line.
    func testAPodsContainerOnlyASnapshotKnowsIsRefused() throws {
        let podUID = UUID().uuidString.lowercased()
        var id = ""
        for _ in 0..<2 { id += UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased() }
        let child = try Child(["/bin/sleep", "300"])
        children.append(child)
        try cgroups.move(child.pid, into: "/kubepods/besteffort/pod\(podUID)/\(id)")
        let scenario = Scenarios.h200() + Scenarios.computeProcesses(pids: [child.pid]).dropFirst() + "\n"
        let nvml = ["--nvml", try FakeNVML.privateCopy()]
        let env = ["FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario)]

        let r = try gpuctop(["stop", String(id.prefix(12)), "--yes"] + nvml, env: env)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertEqual(r.stderr, "gpuctop: refusing to stop \(id.prefix(12)): Kubernetes manages it (pod uid \(podUID)) and would undo that; use kubectl delete pod <pod with uid \(podUID)>\n")
        XCTAssertEqual(auditLines.count, 1, "\(auditLines)")
        XCTAssertTrue(auditLines[0].contains(" action=stop container_id=\(id) engine=containerd result=refused detail="), auditLines[0])
        XCTAssertTrue(child.process.isRunning)
        // What neither the engines nor the snapshot know is still simply not found.
        let unknown = try gpuctop(["stop", "ge-nowhere", "--yes"] + nvml, env: env)
        XCTAssertEqual(unknown.status, 1, unknown.stderr)
        XCTAssertEqual(unknown.stderr, "gpuctop: no such container: ge-nowhere\n")
    }

    // MARK: - The dashboard

    func dashboard(_ pids: [Int32], hosts: String) throws -> (TmuxSession, URL) {
        let dir = TestEnv.temporaryDirectory("engine-dash")
        let scenario = Scenarios.h200() + Scenarios.computeProcesses(pids: pids).dropFirst() + "\n"
        let t = try TmuxSession(
            command: "\(TestEnv.gpuctopBinary.path) --nvml \(try FakeNVML.privateCopy()) \(hosts) --interval 0.5; echo EXITED; sleep 600",
            environment: ["FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario), "XDG_STATE_HOME": dir.path,
                          "GPUCTOP_PODMAN_HOST": "", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"])
        return (t, dir)
    }

    func audit(_ dir: URL) -> String {
        (try? String(contentsOf: dir.appendingPathComponent("gpuctop/actions.log"), encoding: .utf8)) ?? ""
    }

    func testTheDashboardShowsTheKubectlLineInsteadOfTheQuestion() throws {
        let name = unique("dk8s")
        try dockerContainer(name, labels: Self.podLabels, command: Self.trapsTerm)
        let pid = try Docker.pid(name)
        let (t, dir) = try dashboard([pid], hosts: "--docker-host \(try Docker.host())")
        try t.waitFor("the pod's container") { $0.contains("research/traine") && $0.contains("pid \(pid)") }
        try t.send("x")
        let screen = try t.waitFor("the refusal") { $0.contains("kubectl delete pod -n research trainer-0") }
        XCTAssertTrue(screen.contains("refusing to stop \(name)"), screen)
        XCTAssertFalse(screen.contains("y: yes"), screen)
        try t.send("y")   // no question is open: nothing to say yes to
        usleep(700_000)
        XCTAssertEqual(try dockerState(name), "running")
        XCTAssertEqual(audit(dir), "", "a refusal before any question sends nothing")

        // Its process: the question, and y sends the signal.
        try t.send("Down")
        try t.send("T")
        try t.waitFor("the signal question") { $0.contains("Send SIGTERM to host PID \(pid)") }
        try t.send("y")
        try t.waitFor("sent SIGTERM to \(pid)")
        try waitFor("exited") { try dockerState(name) }
        XCTAssertTrue(audit(dir).contains("action=signal pid=\(pid)"), audit(dir))
        try t.send("q")
        try t.waitFor("EXITED")
    }

    func testTheDashboardStopsAPodmanContainerThroughPodman() throws {
        let name = unique("dpm")
        let id = try podmanContainer(name)
        let pid = try Podman.pid(name)
        // The dashboard reads names from the socket --docker-host names: here Podman's.
        let (t, dir) = try dashboard([pid], hosts: "--docker-host \(try Podman.host())")
        try t.waitFor("the Podman container") { $0.contains(name) }
        try t.send("x")
        try t.waitFor("the question") { $0.contains("Stop container \(name)") }
        try t.send("y")
        try t.waitFor("the result", timeout: 30) { $0.contains("\(name): stopped") }
        XCTAssertEqual(try Podman.state(name), "exited")
        let log = audit(dir)
        XCTAssertTrue(log.contains("action=stop container=\(name) container_id=\(id) engine=podman"), log)
        XCTAssertTrue(log.contains("result=ok detail=stopped"), log)
        try t.send("q")
        try t.waitFor("EXITED")
    }
}
