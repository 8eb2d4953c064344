// ContainerCatalog pointed at the real Podman service of scripts/test-podman.sh
// (GPUCTOP_TEST_PODMAN_HOST), in-process: Podman's Docker-compatible API names its
// containers, the catalog says the engine is Podman (from /version), the join gives
// runtime .podman, the cgroup of the container's real process says podman too, and the
// catalog follows Podman's events stream.
import Foundation
import Model
import Support
import Telemetry
import TestSupport
import XCTest

final class PodmanCatalogTests: XCTestCase {
    var names: [String] = []

    override func tearDown() {
        Podman.remove(names)
        names = []
    }

    func testThePodmanSocketNamesItsContainersAsPodman() throws {
        let name = "pc-\(UUID().uuidString.prefix(8).lowercased())"
        names.append(name)
        let id = try Podman.runContainer(name, labels: ["com.docker.compose.service": "trainer"])
        let pid = try Podman.pid(name)

        let catalog = ContainerCatalog(dockerHost: try Podman.host())
        var now = 1000.0
        catalog.refresh(now: now)
        XCTAssertNil(catalog.problem)
        let entry = try XCTUnwrap(catalog.entry(id: id), "the Podman container is listed")
        XCTAssertEqual(entry.engine, .podman)
        XCTAssertEqual(entry.summary.name, name)
        XCTAssertEqual(entry.summary.state, "running")

        // The real process: its cgroup (libpod-<id>) names Podman as well.
        let info = try XCTUnwrap(ProcReader(procRoot: "/proc").sample(pids: [pid], now: WallClock.now())[pid])
        XCTAssertEqual(info.container, ContainerRef(runtime: .podman, id: id))
        var p = GPUProcess(pid: pid, gpuIndex: 0, kind: .compute)
        p.info = info
        let usage = try XCTUnwrap(ContainerJoin.join(processes: [p], gpus: [], lookup: { catalog.entry(id: $0) },
                                                     gpuRequesters: catalog.gpuRequesters).first { $0.id == id })
        XCTAssertEqual(usage.runtime, .podman)
        XCTAssertEqual(usage.name, name)
        XCTAssertEqual(usage.image, Podman.image)
        XCTAssertEqual(usage.composeService, "trainer")

        // Podman's events (a file-backed log here) reach the catalog like Docker's.
        try Podman.run(["stop", "--time", "0", name])
        let deadline = Date().addingTimeInterval(10)
        while catalog.entry(id: id)?.summary.state != "exited" && Date() < deadline {
            now += 0.001
            catalog.refresh(now: now)
            usleep(50_000)
        }
        XCTAssertEqual(catalog.entry(id: id)?.summary.state, "exited", "the catalog never saw the stop")
        XCTAssertNil(catalog.problem)
    }
}
