// The metrics server in-process (it moved out of the executable into Export): it
// binds, serves what was published with gpuctop_up, answers 404 and 405, says down
// when the body is stale, and stops.
import Export
import Foundation
import TestSupport
import XCTest

final class MetricsServerTests: XCTestCase {
    private func get(_ port: UInt16, _ request: String) throws -> String {
        try RawHTTP.exchange(port: port, request)
    }

    func testServesThePublishedBodyAndRefusesTheRest() throws {
        let server = try MetricsServer(address: try ListenAddress.parse("127.0.0.1:0"), workers: 2, staleAfter: 2)
        defer { server.stop(grace: 1) }
        XCTAssertNotEqual(server.address.port, 0, "the kernel's port is reported")
        server.publish("gpuctop_test_metric 42\n")
        server.start()
        let port = server.address.port
        let ok = try get(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(ok.hasPrefix("HTTP/1.1 200 OK"), ok)
        XCTAssertTrue(ok.contains("gpuctop_test_metric 42"), ok)
        XCTAssertTrue(ok.contains("gpuctop_up 1"), ok)
        XCTAssertTrue(try get(port, "GET /other HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 404"))
        XCTAssertTrue(try get(port, "POST /metrics HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 405"))
        // The first requests must come within staleAfter of the publish: 2 s, not 0.5, on a
        // loaded machine.
        usleep(2_200_000)
        let stale = try get(port, "GET /metrics HTTP/1.1\r\n\r\n")
        XCTAssertTrue(stale.contains("gpuctop_up 0"), "a body older than staleAfter is served as down:\n\(stale)")
    }

    func testBadListenAddressesAreOneLineErrors() {
        for bad in ["", "9835", "host:", "[::1]", "::1:80", "x:99999", "x:-1"] {
            XCTAssertThrowsError(try ListenAddress.parse(bad), bad)
        }
        let any = try? ListenAddress.parse(":9835")
        XCTAssertEqual(any?.host, "0.0.0.0")
        XCTAssertEqual(any?.port, 9835)
    }
}
