// Record what the real samplers see (fake NVML with changing values, real
// processes in real containers of the test dockerd), read it back, and compare
// every snapshot field by field.
import Foundation
@testable import Model
@testable import Recording
@testable import Telemetry
import TestSupport
import XCTest

final class RecordingRoundTripTests: XCTestCase {
    let container = "rt-\(UUID().uuidString.prefix(6).lowercased())"
    override func tearDown() { _ = try? Docker.run(["rm", "-f", container]) }

    func testLiveSnapshotsSurviveARecordingFieldByField() throws {
        try Docker.runContainer(container, labels: ["com.docker.compose.project": "rt", "com.docker.compose.service": "job"])
        let pid = try Docker.pid(container)
        let host = try Child(["/bin/sleep", "60"])
        setenv("FAKE_NVML_SCENARIO", try FakeNVML.scenario("""
        gpu
        name NVIDIA H200
        uuid GPU-rt
        util 10 55 90
        mem_util 3 4
        memory_total 150754820096
        memory_used 1000 2000 3000
        temperature 40 41
        power 100000 200000 300000
        power_limit 700000
        power_min 200000
        power_max 700000
        energy 1000 7
        mig 1 0
        mig_device slot=0 gi=1 ci=0 slices=1 ci_slices=1 sms=16 memory=10737418240 used=1000 uuid=MIG-rt name=NVIDIA H200 MIG 1g.18gb
        process compute pid=\(pid) mem=1073741824 gi=1 ci=0 sm=40
        process compute pid=\(host.pid) mem=2048 sm=5

        """), 1)
        let sampler = SnapshotSampler(options: SamplerOptions(nvmlPath: try FakeNVML.privateCopy(), dockerHost: try Docker.host()))
        var live: [Snapshot] = []
        for _ in 0..<8 {
            live.append(sampler.sample())
            usleep(50_000)
        }
        XCTAssertTrue(live.last!.containers.contains { $0.name == container }, "the container is joined")
        XCTAssertEqual(live.last!.engines?.first, "docker", "the engines read are recorded too")
        let file = TestEnv.temporaryDirectory("rt").appendingPathComponent("r.gpuctop").path
        let writer = try RecordingWriter(path: file, header: RecordingHeader(host: live[0].host, driverVersion: live[0].driverVersion,
                                                                             gpuctopVersion: "test", startTime: live[0].time),
                                         keyframeInterval: 3)
        for s in live { try writer.append(s) }
        try writer.close()
        let reader = try RecordingReader(path: file)
        XCTAssertNil(reader.stopReason)
        let back = reader.snapshots
        XCTAssertEqual(back.count, live.count)
        for (i, (a, b)) in zip(live, back).enumerated() {
            XCTAssertEqual(a.gpus, b.gpus, "snapshot \(i): GPUs")
            XCTAssertEqual(a.processes, b.processes, "snapshot \(i): processes")
            XCTAssertEqual(a.containers, b.containers, "snapshot \(i): containers")
            XCTAssertEqual(a.degraded, b.degraded, "snapshot \(i): degraded")
            XCTAssertEqual(a, b, "snapshot \(i): everything else")
        }
    }
}
