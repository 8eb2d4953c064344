// GPU health end to end through the real binary: a real container on the test
// dockerd and a host process on a fake-NVML H200 that meets XID 79 mid-run, with a
// row remap pending and the power cap holding it. The JSON stream carries the event
// with its container; the exporter publishes it under dcgm-exporter's names and
// gpuctop's per-container series, and promtool accepts the scrape.
import Fleet
import Foundation
import Model
import TestSupport
import XCTest

final class HealthCommandTests: XCTestCase {
    private let container = "gh-\(UUID().uuidString.prefix(8).lowercased())"
    private var children: [Child] = []
    private var daemons: [Daemon] = []
    private var directories: [URL] = []

    override func tearDown() {
        daemons.forEach { $0.stop() }
        daemons = []
        children.forEach { $0.stop() }
        children = []
        _ = try? Docker.run(["rm", "-f", container])
        directories.forEach { try? FileManager.default.removeItem(at: $0) }
        directories = []
        super.tearDown()
    }

    /// The container (compose service research/trainer) and a host process on GPU 0,
    /// which is power-capped, has a pending row remap and meets XID 79 at 1.5 s.
    private func world() throws -> (scenario: String, containerID: String, hostPID: Int32) {
        try Docker.runContainer(container, labels: ["com.docker.compose.project": "research", "com.docker.compose.service": "trainer"])
        let id = try Docker.run(["inspect", "-f", "{{.Id}}", container])
        let host = try Child(["/bin/sleep", "300"])
        children.append(host)
        let scenario = "driver 580.95.05\ncuda 13000\n" + Scenarios.h200(uuid: "GPU-h0000000-0000-0000-0000-000000000000") + """
            process compute pid=\(try Docker.pid(container)) mem=4GiB sm=60
            process compute pid=\(host.pid) mem=1GiB sm=5
            throttle power_cap
            violation_power 2000000
            ecc_volatile 0
            ecc_aggregate 1
            remapped_rows corr=0 unc=1 pending=1 failure=0
            xid code=79 at=1500ms

            """
        return (scenario, id, host.pid)
    }

    private func fake(_ scenario: String) throws -> (args: [String], env: [String: String]) {
        (["--nvml", try FakeNVML.privateCopy(), "--docker-host", try Docker.host()],
         ["FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario)])
    }

    func testJSONStreamCarriesTheXIDWithWhoWasOnTheGPU() throws {
        let (scenario, containerID, hostPID) = try world()
        let (args, env) = try fake(scenario)
        // The stream ends on SIGINT between lines; every line is a whole snapshot.
        let r = try Run.command(["/usr/bin/timeout", "--preserve-status", "-s", "INT", "5", TestEnv.gpuctopBinary.path, "snapshot", "--json", "--stream",
                                 "--interval", "0.5"] + args, environment: env, timeout: 20)
        XCTAssertEqual(r.status, 0, r.stderr)
        let snapshots = try r.stdout.split(separator: "\n").map { try JSONDecoder().decode(Snapshot.self, from: Data($0.utf8)) }
        XCTAssertGreaterThanOrEqual(snapshots.count, 5, r.stdout)
        XCTAssertNil(snapshots[0].xidEvents, "nothing before 1.5 s")
        XCTAssertEqual(snapshots[0].gpus[0].xidCounts, [], "watched, none yet")
        let withEvent = try XCTUnwrap(snapshots.first { $0.xidEvents != nil }, r.stdout)
        let e = try XCTUnwrap(withEvent.xidEvents?.first)
        XCTAssertEqual(e.code, 79)
        XCTAssertEqual(e.gpuIndex, 0)
        XCTAssertEqual(Set(e.containers.map(\.id)), [containerID, "host"])
        let c = try XCTUnwrap(e.containers.first { $0.id == containerID })
        XCTAssertEqual(c.name, container)
        XCTAssertEqual(c.composeProject, "research")
        XCTAssertEqual(c.composeService, "trainer")
        XCTAssertNil(c.labels, "an event keeps names, not labels")
        XCTAssertTrue(e.processes.contains { $0.pid == hostPID && $0.info?.container == nil })
        XCTAssertTrue(e.processes.contains { $0.info?.container?.id == containerID })
        let g = withEvent.gpus[0]
        XCTAssertEqual(g.lastXID, 79)
        XCTAssertEqual(g.xidCounts, [XIDCount(code: 79, count: 1)])
        XCTAssertEqual(g.clockEventReasons, 0x4)
        XCTAssertEqual(g.rowRemapPending, true)
        XCTAssertEqual(g.remappedRowsUncorrectable, 1)
        XCTAssertEqual(g.eccUncorrectedAggregate, 1)
        XCTAssertEqual(snapshots.last?.xidEvents, withEvent.xidEvents, "later lines carry the same event, once")

        // A one-shot snapshot reads the health fields but does not wait for events: no counts at all.
        let once = try Run.gpuctop(["snapshot", "--json"] + args, environment: env)
        XCTAssertEqual(once.status, 0, once.stderr)
        let s = try JSONDecoder().decode(Snapshot.self, from: Data(once.stdout.utf8))
        XCTAssertNil(s.xidEvents)
        XCTAssertNil(s.gpus[0].xidCounts)
        XCTAssertEqual(s.gpus[0].rowRemapPending, true)
        XCTAssertTrue(once.stdout.contains(#""clockEventReasons" : 4"#), once.stdout)
        XCTAssertFalse(once.stdout.contains("xidEvents"), "absent, not null")
    }

    /// JSON from before GPU health (a remote host running an older gpuctop) still decodes.
    func testJSONWithoutHealthFieldsDecodes() throws {
        let old = #"{"schema":1,"time":1800000000,"host":"old","degraded":[],"processes":[],"containers":[],"gpus":[{"index":0,"lost":false,"migDevices":[]}]}"#
        let s = try JSONDecoder().decode(Snapshot.self, from: Data(old.utf8))
        XCTAssertNil(s.xidEvents)
        XCTAssertNil(s.gpus[0].clockEventReasons)
        XCTAssertNil(s.gpus[0].xidCounts)
    }

    func testExporterPublishesTheXIDWithItsContainer() throws {
        let (scenario, containerID, _) = try world()
        let (args, env) = try fake(scenario)
        let log = TestEnv.temporaryDirectory("health-export")
        directories.append(log)
        let d = try Daemon([TestEnv.gpuctopBinary.path, "export", "--listen", "127.0.0.1:0", "--interval", "0.5"] + args,
                           environment: env, log: log.appendingPathComponent("log").path)
        daemons.append(d)
        let port: UInt16 = try d.waitForLog("the serving line") { text in
            guard let r = text.range(of: #"serving metrics on http://127\.0\.0\.1:[0-9]+/metrics"#, options: .regularExpression) else { return nil }
            return UInt16(text[r].split(separator: ":").last!.dropLast("/metrics".count))
        }
        var body = ""
        let deadline = Date().addingTimeInterval(15)
        repeat {
            usleep(300_000)
            let r = try Run.command(["/usr/bin/curl", "-sS", "--max-time", "5", "http://127.0.0.1:\(port)/metrics"], timeout: 10)
            body = r.stdout
        } while !body.contains("gpuctop_container_last_xid_timestamp_seconds{") && Date() < deadline
        let parsed = try PromParsed(body)
        func samples(_ name: String) -> [PromSample] { parsed.samples.filter { $0.name == name } }
        XCTAssertEqual(samples("DCGM_FI_DEV_XID_ERRORS").first { $0.labels["gpu"] == "0" }?.value, "79", body)
        XCTAssertEqual(samples("DCGM_FI_DEV_XID_ERRORS").first { $0.labels["gpu"] == "0" }?.labels["modelName"], "NVIDIA H200")
        XCTAssertEqual(samples("gpuctop_xid_errors_total").map { [$0.labels["gpu"]!, $0.labels["code"]!, $0.value] }, [["0", "79", "1"]])
        XCTAssertEqual(parsed.type["gpuctop_xid_errors_total"], "counter")
        XCTAssertEqual(samples("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS").first?.value, "4")
        XCTAssertEqual(samples("DCGM_FI_DEV_ROW_REMAP_PENDING").first?.value, "1")
        XCTAssertEqual(samples("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS").first?.value, "1")
        XCTAssertEqual(samples("DCGM_FI_DEV_ECC_DBE_AGG_TOTAL").first?.value, "1")
        XCTAssertEqual(samples("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL").first?.value, "0")
        // ns -> us: the scenario's 2 ms, plus the time capped since the fake was loaded.
        XCTAssertGreaterThanOrEqual(Int(samples("DCGM_FI_DEV_POWER_VIOLATION").first?.value ?? "") ?? 0, 2000, body)
        let who = samples("gpuctop_container_last_xid_timestamp_seconds")
        let trainer = try XCTUnwrap(who.first { $0.labels["container_id"] == String(containerID.prefix(12)) }, body)
        XCTAssertEqual(trainer.labels["container"], container)
        XCTAssertEqual(trainer.labels["compose_service"], "trainer")
        XCTAssertEqual(trainer.labels["code"], "79")
        XCTAssertEqual(trainer.labels["gpu"], "0")
        XCTAssertGreaterThan(Double(trainer.value) ?? 0, 1_700_000_000)
        XCTAssertTrue(who.contains { $0.labels["container"] == "host" })
        let file = log.appendingPathComponent("scrape.prom")
        try body.write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try PromtoolVerdict.check(file: file.path), [])
    }

    /// Several hosts: the merged snapshot carries each host's XIDs, tagged with the host, oldest first.
    func testMergedSnapshotCarriesEachHostsXIDs() throws {
        let dir = TestEnv.temporaryDirectory("health-merge")
        directories.append(dir)
        let now = Date().timeIntervalSince1970
        for (host, code, offset) in [("gpu1", 79, 2.0), ("gpu2", 13, 1.0)] {
            var s = Snapshot(time: now, host: host)
            s.gpus = [GPU(index: 0)]
            var e = XIDEvent(time: now - offset, gpuIndex: 0, code: code)
            e.containers = [ContainerUsage(id: "host")]
            s.xidEvents = [e]
            try JSONEncoder().encode(s).write(to: dir.appendingPathComponent(host))
        }
        let ssh = dir.appendingPathComponent("ssh").path
        try """
            #!/bin/sh
            while [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done
            cd \(TmuxSession.quote(dir.path)) || exit 98
            while :; do cat "$2"; echo; sleep 0.3; done

            """.write(toFile: ssh, atomically: true, encoding: .utf8)
        chmod(ssh, 0o755)
        var config = RemoteConfig(environment: [:], interval: 1)
        config.ssh = [ssh]
        let remote = RemoteHosts(hosts: [HostSpec(host: "gpu1"), HostSpec(host: "gpu2")], config: config)
        remote.start()
        defer { remote.stop() }
        let deadline = Date().addingTimeInterval(10)
        var merged = remote.merged()
        while (merged.xidEvents?.count ?? 0) < 2 && Date() < deadline {
            usleep(50_000)
            merged = remote.merged()
        }
        XCTAssertEqual(merged.xidEvents?.map(\.code), [79, 13], "oldest first: \(String(describing: merged.xidEvents))")
        XCTAssertEqual(merged.xidEvents?.map(\.host), ["gpu1", "gpu2"])
    }
}
