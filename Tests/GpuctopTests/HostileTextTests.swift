// Text that other people control (labels, command lines) is shown, never
// interpreted: a real container whose label and command line carry escape
// sequences, checked in the frame, in the bytes sent to the terminal, and in JSON.
import Foundation
import XCTest
import TestSupport

final class HostileTextTests: XCTestCase {
    let container = "evil-\(UUID().uuidString.prefix(6).lowercased())"
    override func tearDown() { _ = try? Docker.run(["rm", "-f", container]) }

    static let esc = "\u{1b}"
    /// A title change, a screen clear and a colour, each of which a terminal would obey.
    static let service = "svc\(esc)]0;pwned\u{07}\(esc)[2Jx"
    static let commandTail = "\(esc)[31mred\(esc)]0;owned\u{07}"

    func testEscapesInLabelsAndCommandLinesNeverReachTheTerminal() throws {
        try Docker.runContainer(container, labels: ["com.docker.compose.project": "p", "com.docker.compose.service": Self.service],
                                command: ["sh", "-c", "sleep 1000; echo '\(Self.commandTail)'"])
        let pid = try Docker.pid(container)
        let scenario = """
        gpu
        name NVIDIA H200
        uuid GPU-evil
        util 10
        memory_total 1000000000
        memory_used 1000
        mig 0 0
        process compute pid=\(pid) mem=1048576 sm=10

        """
        let lib = try FakeNVML.privateCopy()
        let scen = try FakeNVML.scenario(scenario)
        let dir = TestEnv.temporaryDirectory("evil")
        let bytesFile = dir.appendingPathComponent("bytes").path
        let t = try TmuxSession(command: "\(TestEnv.gpuctopBinary.path) --nvml \(lib) --docker-host \(try Docker.host()) --interval 0.5; sleep 600",
                                environment: ["FAKE_NVML_SCENARIO": scen, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"])
        _ = try t.tmux(["pipe-pane", "-t", t.name, "-o", "cat >> \(bytesFile)"])
        // Sort by name so the container is on screen, then wait for it and its process row.
        let screen = try t.waitFor("the hostile container") { $0.contains(self.container) && $0.contains("sleep 1000") }
        XCTAssertTrue(screen.contains("^[") , "escapes are shown visibly:\n\(screen)")
        XCTAssertTrue(screen.contains("p/svc^[]0;pwned^G^[[2Jx") || screen.contains("p/svc^[]0;pwn"), screen)
        XCTAssertTrue(screen.contains("^[[31mred"), "the command line's escape is visible:\n\(screen)")
        try t.send("Enter")   // the detail view shows labels in full
        try t.waitFor("the labels") { $0.contains("com.docker.compose.service=svc^[]0;pwned^G^[[2Jx") }
        usleep(600_000)
        try t.send("q", "q")
        usleep(300_000)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: bytesFile))
        for bad in ["\(Self.esc)]0;pwned", "\(Self.esc)]0;owned", "\(Self.esc)[2Jx", "\(Self.esc)[31mred"] {
            XCTAssertNil(bytes.range(of: Data(bad.utf8)), "raw \(bad.debugDescription) reached the terminal")
        }
        XCTAssertGreaterThan(bytes.count, 1000, "the pipe captured the session")

        // JSON escapes them properly (and the text output shows them visibly).
        let json = try Run.gpuctop(["snapshot", "--json", "--nvml", lib, "--docker-host", try Docker.host()],
                                   environment: ["FAKE_NVML_SCENARIO": scen])
        XCTAssertEqual(json.status, 0, json.stderr)
        XCTAssertFalse(json.stdout.contains(Self.esc), "raw ESC in JSON")
        XCTAssertTrue(json.stdout.contains("\\u001b]0;pwned"), json.stdout)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let containers = object?["containers"] as? [[String: Any]] ?? []
        XCTAssertEqual(containers.first { ($0["name"] as? String) == container }?["composeService"] as? String, Self.service,
                       "the JSON round-trips the exact label")
        let text = try Run.gpuctop(["snapshot", "--nvml", lib, "--docker-host", try Docker.host()],
                                   environment: ["FAKE_NVML_SCENARIO": scen])
        XCTAssertFalse(text.stdout.contains(Self.esc), "raw ESC in the text output:\n\(text.stdout)")
        XCTAssertTrue(text.stdout.contains("^[[31mred"), text.stdout)
    }
}
