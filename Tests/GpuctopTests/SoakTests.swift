// The soak (bench/soak.sh), two minutes of it in every test run: the release
// dashboard at a 0.1 s refresh while containers and processes come and go (in a
// private dockerd the script starts and stops). Fails if
// the dashboard dies, its peak RSS grows more than 1 MiB after a 40 s warm-up, or its
// file descriptors grow. The hour-long figures are in BENCHMARKS.md.
import Foundation
import XCTest
import TestSupport

final class SoakTests: XCTestCase {
    func testTwoMinutesOfChurnAtATenthOfASecond() throws {
        guard let bin = ProcessInfo.processInfo.environment["GPUCTOP_RELEASE_BIN"], !bin.isEmpty else {
            throw XCTSkip("GPUCTOP_RELEASE_BIN is unset: scripts/test.sh builds the release binary and sets it")
        }
        _ = try Docker.host()
        let script = TestEnv.repoRoot.appendingPathComponent("bench/soak.sh").path
        // Its own private dockerd, apart from the suite's and from a long soak running beside it.
        let r = try Run.leavingDaemons(["/bin/bash", script, "--duration", "120", "--sample", "10",
                                        "--warmup", "40", "--binary", bin],
                                       environment: ["GPUCTOP_SOAK_DOCKER_DIR": "/tmp/gpuctop-soak-test-\(getpid())"],
                                       timeout: 300)
        print(r.output)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("soak: passed"), r.output)
    }
}
