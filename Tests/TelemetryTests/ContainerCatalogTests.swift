// ContainerCatalog in-process against real dockerds: the shared test daemon of
// scripts/test-dockerd.sh (GPUCTOP_TEST_DOCKER_HOST), and a private one this class starts
// with the same script in its own directory, for exact call counts (no other test's events)
// and for crashing and restarting the daemon under a live catalog.
import Foundation
import Model
import Telemetry
import TestSupport
import XCTest

final class ContainerCatalogTests: XCTestCase {
    nonisolated(unsafe) private static var privateDaemon: PrivateDockerd?
    nonisolated(unsafe) private static var privateDaemonError: Error?

    override class func tearDown() {
        privateDaemon?.stop()
        privateDaemon = nil
        super.tearDown()
    }

    /// The private daemon, started on first use (about 1.5 s) and stopped after the last test.
    private func privateDockerd() throws -> PrivateDockerd {
        _ = try Docker.host()  // the suite needs root and dockerd: same precondition, same failure
        if let daemon = Self.privateDaemon { return daemon }
        if let error = Self.privateDaemonError { throw error }
        do {
            let daemon = try PrivateDockerd()
            Self.privateDaemon = daemon
            return daemon
        } catch {
            Self.privateDaemonError = error
            throw error
        }
    }

    private var cleanups: [() -> Void] = []

    override func tearDown() {
        for cleanup in cleanups.reversed() { cleanup() }
        cleanups = []
        super.tearDown()
    }

    private static let image = "gpuctop-test/busybox"

    private func uniqueName(_ role: String) -> String {
        "gc-\(role.prefix(7))-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// `docker run -d` on the given daemon; removed (with -f) after the test.
    private func run(_ docker: @escaping ([String]) throws -> String, _ role: String,
                     _ options: [String] = []) throws -> (name: String, id: String) {
        let name = uniqueName(role)
        cleanups.append { _ = try? docker(["rm", "-f", name]) }
        let id = try docker(["run", "-d", "--network", "none", "--name", name] + options + [Self.image, "sleep", "1000"])
        return (name, id)
    }

    /// Calls refresh with a fake clock that advances by `step` each time, until `condition` holds
    /// (up to `seconds` of real time). Returns the last `now` used, or nil on a timeout.
    @discardableResult
    private func refreshUntil(_ catalog: ContainerCatalog, from now: inout Double, step: Double = 0.001,
                              seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            now += step
            catalog.refresh(now: now)
            if condition() { return true }
            usleep(20_000)
        } while Date() < deadline
        return false
    }

    /// What the join shows for a container with one GPU process, as the dashboard would.
    private func joined(_ catalog: ContainerCatalog, _ id: String) -> ContainerUsage? {
        var p = GPUProcess(pid: 1, gpuIndex: 0, kind: .compute)
        var info = ProcessInfoSample(command: "x", user: "root", uid: 0, startTime: 0)
        info.container = ContainerRef(runtime: .docker, id: id)
        p.info = info
        return ContainerJoin.join(processes: [p], gpus: [], lookup: { catalog.entry(id: $0) },
                                  gpuRequesters: catalog.gpuRequesters).first { $0.id == id }
    }

    private func runningIDs(_ docker: ([String]) throws -> String) throws -> Set<String> {
        Set(try docker(["ps", "-q", "--no-trunc"]).split(separator: "\n").map(String.init))
    }

    // MARK: - 4. Lists once, then follows the events stream

    func testSharedDaemonIsListedOnceAndFollowed() throws {
        let host = try Docker.host()
        let docker: ([String]) throws -> String = { try Docker.run($0) }
        let a = try run(docker, "shared", ["--label", "com.docker.compose.service=svc"])
        let catalog = ContainerCatalog(dockerHost: host)
        var now = 1000.0
        catalog.refresh(now: now)
        XCTAssertNil(catalog.problem)
        XCTAssertTrue(catalog.isConnected)
        XCTAssertEqual(catalog.listCalls, 1)
        // Others may start and stop containers on this daemon meanwhile; ours is there at least.
        XCTAssertGreaterThanOrEqual(catalog.inspectCalls, 1)
        let entry = try XCTUnwrap(catalog.entry(id: a.id))
        XCTAssertEqual(entry.summary.name, a.name)
        XCTAssertEqual(entry.details?.labels["com.docker.compose.service"], "svc")
        XCTAssertEqual(joined(catalog, a.id)?.status, "running")

        _ = try docker(["stop", "-t", "0", a.id])
        XCTAssertTrue(refreshUntil(catalog, from: &now) { catalog.entry(id: a.id)?.summary.state == "exited" },
                      "the catalog never saw the stop")
        XCTAssertEqual(joined(catalog, a.id)?.status, "exited")
        XCTAssertEqual(joined(catalog, a.id)?.name, a.name)
        XCTAssertNil(catalog.problem)
    }

    func testRefreshFollowsEventsNotPolling() throws {
        let daemon = try privateDockerd()
        let docker = { (args: [String]) throws -> String in try daemon.docker(args) }
        let a = try run(docker, "a")
        let b = try run(docker, "b", ["--device", "/dev/null:/dev/nvidia-fake"])
        let c = uniqueName("created")
        cleanups.append { _ = try? docker(["rm", "-f", c]) }
        let cid = try docker(["create", "--network", "none", "--name", c, Self.image, "sleep", "1000"])
        let running = try runningIDs(docker)
        XCTAssertEqual(running, [a.id, b.id])

        let catalog = ContainerCatalog(dockerHost: daemon.host)
        var now = 1000.0
        catalog.refresh(now: now)
        XCTAssertNil(catalog.problem)
        XCTAssertEqual(catalog.listCalls, 1)
        XCTAssertEqual(catalog.inspectCalls, running.count, "each running container inspected once, the created one not")
        XCTAssertEqual(catalog.entry(id: cid)?.summary.state, "created")
        XCTAssertNil(catalog.entry(id: cid)?.details)
        XCTAssertEqual(catalog.entry(id: a.id)?.summary.name, a.name)
        XCTAssertNotNil(catalog.entry(id: a.id)?.details?.state.startedAtDate)

        // Steady state: no event, no call, however often we refresh.
        usleep(200_000)
        for _ in 0..<50 { now += 0.1; catalog.refresh(now: now) }
        XCTAssertEqual(catalog.listCalls, 1)
        XCTAssertEqual(catalog.inspectCalls, 2)

        // A new container. `docker run -d` returns once it runs, its create and start events
        // sent; we give them a moment to arrive, so that one refresh sees both: one re-list, one
        // inspect (a slow event may cost one more of each, never one per refresh).
        let d = try run(docker, "d")
        usleep(300_000)
        XCTAssertTrue(refreshUntil(catalog, from: &now) { catalog.entry(id: d.id)?.summary.state == "running" },
                      "the catalog never saw the new container")
        let afterStart = catalog.listCalls, inspectsAfterStart = catalog.inspectCalls
        XCTAssertTrue((2...3).contains(afterStart), "list calls after create+start: \(afterStart)")
        XCTAssertTrue((3...4).contains(inspectsAfterStart), "only the new container is inspected: \(inspectsAfterStart)")
        XCTAssertEqual(catalog.entry(id: d.id)?.summary.name, d.name)
        XCTAssertNotNil(catalog.entry(id: d.id)?.details?.state.startedAtDate)
        for _ in 0..<50 { now += 0.1; catalog.refresh(now: now) }
        XCTAssertEqual(catalog.listCalls, afterStart, "no event, no call")
        XCTAssertEqual(catalog.inspectCalls, inspectsAfterStart)

        // Stopped: kill, die and stop events, re-listed once (or a few times if they straggle);
        // a stopped container is not inspected.
        _ = try docker(["stop", "-t", "0", d.id])
        usleep(300_000)
        XCTAssertTrue(refreshUntil(catalog, from: &now) { catalog.entry(id: d.id)?.summary.state == "exited" },
                      "the catalog never saw the stop")
        XCTAssertEqual(joined(catalog, d.id)?.status, "exited")
        XCTAssertNil(catalog.entry(id: d.id)?.details, "details of a running container dropped by its events")
        let afterStop = catalog.listCalls
        XCTAssertTrue((afterStart + 1...afterStart + 4).contains(afterStop), "list calls for the stop: \(afterStop - afterStart)")
        XCTAssertLessThanOrEqual(catalog.inspectCalls, inspectsAfterStart + 1)
        let inspectsAfterStop = catalog.inspectCalls
        for _ in 0..<50 { now += 0.1; catalog.refresh(now: now) }
        XCTAssertEqual(catalog.listCalls, afterStop, "no event, no call")

        // Removed: gone from the catalog, and nothing re-inspected for it. `b` maps
        // /dev/nvidia-fake, which is no GPU: no GPU requester here.
        _ = try docker(["rm", d.id])
        XCTAssertTrue(refreshUntil(catalog, from: &now) { catalog.entry(id: d.id) == nil })
        XCTAssertEqual(catalog.inspectCalls, inspectsAfterStop)
        XCTAssertEqual(catalog.gpuRequesters.map(\.summary.id), [])
        XCTAssertNil(catalog.problem)
        // All in all: a handful of calls for some 200 refreshes.
        XCTAssertLessThanOrEqual(catalog.listCalls, afterStop + 2)
    }

    // MARK: - 5. The daemon dies and comes back

    func testDaemonCrashKeepsNamesBacksOffAndRecovers() throws {
        let daemon = try privateDockerd()
        let docker = { (args: [String]) throws -> String in try daemon.docker(args) }
        // Restarted by dockerd when it comes back; and one that stays dead.
        let keep = try run(docker, "keep", ["--restart", "always"])
        let gone = try run(docker, "gone")
        let before = try docker(["inspect", "-f", "{{.State.Pid}} {{.State.StartedAt}}", keep.id]).split(separator: " ")
        let gonePID = try XCTUnwrap(Int32(try docker(["inspect", "-f", "{{.State.Pid}}", gone.id])))
        let keepPID = try XCTUnwrap(Int32(String(before[0])))

        let catalog = ContainerCatalog(dockerHost: daemon.host)
        var now = 5000.0
        catalog.refresh(now: now)
        XCTAssertNil(catalog.problem)
        let firstStart = try XCTUnwrap(catalog.entry(id: keep.id)?.details?.state.startedAtDate)
        let listsBefore = catalog.listCalls

        // dockerd dies; while it is away both containers' processes die too (no event can tell us).
        try daemon.crash()
        kill(keepPID, SIGKILL)
        kill(gonePID, SIGKILL)
        XCTAssertTrue(refreshUntil(catalog, from: &now) { catalog.problem != nil }, "the catalog never noticed the crash")
        let failedAt = now
        let problem = try XCTUnwrap(catalog.problem)
        XCTAssertTrue(problem.contains("connection refused on \(daemon.socketPath)"), problem)
        XCTAssertFalse(problem.contains("\n"), problem)
        XCTAssertFalse(catalog.isConnected)
        // The last known containers stay, names and all.
        XCTAssertEqual(catalog.entry(id: keep.id)?.summary.name, keep.name)
        XCTAssertEqual(joined(catalog, gone.id)?.name, gone.name)

        // Backoff: 1 s after the first failure, then 2 s.
        catalog.refresh(now: failedAt + 0.5)   // too early: no attempt
        catalog.refresh(now: failedAt + 1.01)  // attempt, fails: next one at +3.01
        XCTAssertNotNil(catalog.problem)

        try daemon.start()
        // dockerd restarts `keep` while it starts up; wait for that, so the list sees it settled.
        var status = ""
        let deadline = Date().addingTimeInterval(10)
        repeat {
            status = try docker(["inspect", "-f", "{{.State.Status}}", keep.id])
            if status == "running" { break }
            usleep(50_000)
        } while Date() < deadline
        XCTAssertEqual(status, "running", "dockerd did not restart the --restart always container")
        catalog.refresh(now: failedAt + 2)  // the daemon is back, but the backoff holds
        XCTAssertNotNil(catalog.problem, "refreshed before the backoff ran out")
        XCTAssertEqual(catalog.listCalls, listsBefore)
        catalog.refresh(now: failedAt + 3.1)
        XCTAssertNil(catalog.problem, "did not recover once the daemon was back")
        XCTAssertTrue(catalog.isConnected)
        XCTAssertEqual(catalog.listCalls, listsBefore + 1)

        // What happened while we were blind is seen: keep runs again (new pid, new start time),
        // gone is exited. Nothing stale from before the crash may survive.
        let after = try docker(["inspect", "-f", "{{.State.Status}} {{.State.Pid}}", keep.id]).split(separator: " ")
        let keepEntry = try XCTUnwrap(catalog.entry(id: keep.id))
        XCTAssertEqual(keepEntry.summary.state, "running")
        XCTAssertEqual(keepEntry.details?.state.pid, Int(after[1]), "details from before the crash survived")
        XCTAssertGreaterThan(keepEntry.details?.state.startedAtDate ?? .distantPast, firstStart)
        XCTAssertEqual(catalog.entry(id: gone.id)?.summary.state, "exited")
        XCTAssertEqual(joined(catalog, gone.id)?.status, "exited", "a dead container shown as running")
        XCTAssertEqual(joined(catalog, keep.id)?.startedAt, keepEntry.details?.state.startedAtDate?.timeIntervalSince1970)

        // And the new events stream works: a container started now is seen without polling.
        let later = try run(docker, "later")
        XCTAssertTrue(refreshUntil(catalog, from: &now) { catalog.entry(id: later.id)?.summary.state == "running" },
                      "no events after the reconnect")
        XCTAssertNil(catalog.problem)
    }

    /// The daemon dies mid-run and comes back, seen from the whole sampler: every refresh
    /// still returns at once with fresh GPU figures, Docker is reported degraded in one
    /// line meanwhile, the container keeps its last known name, and the degraded line goes
    /// once the daemon answers again (after the backoff).
    func testGPUFiguresKeepComingWhileDockerIsDownAndBack() throws {
        let daemon = try privateDockerd()
        let c = try run({ try daemon.docker($0) }, "sampled")
        let pid = try XCTUnwrap(Int32(try daemon.docker(["inspect", "-f", "{{.State.Pid}}", c.id])))
        setenv("FAKE_NVML_SCENARIO", try FakeNVML.scenario("""
        gpu
        name NVIDIA H200
        util 10 20 30
        memory_total 80GiB
        power 100000 200000 300000
        process compute pid=\(pid) mem=1GiB sm=50
        """), 1)
        let sampler = SnapshotSampler(options: SamplerOptions(nvmlPath: try FakeNVML.privateCopy(), dockerHost: daemon.host))
        let first = sampler.sample()
        XCTAssertTrue(first.degraded.isEmpty, "\(first.degraded)")
        XCTAssertEqual(first.containers.first { $0.id == c.id }?.name, c.name)

        try daemon.crash()
        var utils = Set<Int>()
        var sawDegraded = false
        for _ in 0..<8 {
            let start = Date()
            let s = sampler.sample()
            XCTAssertLessThan(Date().timeIntervalSince(start), 1, "a refresh waited for the dead daemon")
            utils.insert(s.gpus[0].utilizationGpu ?? -1)
            if let d = s.degraded.first(where: { $0.source == "docker" }) {
                sawDegraded = true
                XCTAssertFalse(d.reason.contains("\n"), d.reason)
                XCTAssertEqual(s.containers.first { $0.id == c.id }?.name, c.name, "last known name kept")
            }
            usleep(250_000)
        }
        XCTAssertTrue(sawDegraded, "the dead daemon was never reported")
        XCTAssertEqual(utils, [10, 20, 30], "GPU figures stopped updating while Docker was down")

        try daemon.start()
        let deadline = Date().addingTimeInterval(45)
        var recovered = false
        while Date() < deadline {
            if !sampler.sample().degraded.contains(where: { $0.source == "docker" }) { recovered = true; break }
            usleep(250_000)
        }
        XCTAssertTrue(recovered, "Docker still degraded after the daemon came back")
    }

    func testDaemonNeverThereThenStarted() throws {
        // A socket path nobody serves yet: noSocket, backoff, then a daemon appears there.
        let daemon = try privateDockerd()
        let catalog = ContainerCatalog(dockerHost: "unix://\(daemon.directory)/later.sock")
        catalog.refresh(now: 100)
        let problem = try XCTUnwrap(catalog.problem)
        XCTAssertTrue(problem.hasPrefix("no Docker socket at \(daemon.directory)/later.sock"), problem)
        XCTAssertEqual(catalog.listCalls, 0)
        XCTAssertNil(catalog.entry(id: "x"))
        // The real socket via a link created later: the catalog finds it at its next attempt.
        XCTAssertEqual(symlink(daemon.socketPath, "\(daemon.directory)/later.sock"), 0)
        catalog.refresh(now: 100.5)
        XCTAssertNotNil(catalog.problem, "retried inside the backoff")
        catalog.refresh(now: 101.1)
        XCTAssertNil(catalog.problem)
        XCTAssertEqual(catalog.listCalls, 1)
    }
}
