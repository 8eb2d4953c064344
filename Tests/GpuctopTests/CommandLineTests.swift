// The command line parsed in-process: the command list is the one source of the
// parser's words, main's dispatch and the help's usage lines.
@testable import gpuctop
import TestSupport
import XCTest

final class CommandLineTests: XCTestCase {
    private func parse(_ args: [String], _ env: [String: String] = [:]) throws -> Options {
        try CommandLineParser.parse(args, environment: env)
    }

    func testEveryCommandWordParsesAndIsInTheHelp() throws {
        let help = CommandLineParser.help
        for command in Commands.all {
            for word in command.names {
                let o = try parse(word == "dashboard" ? [] : [word])
                XCTAssertEqual(o.command, word)
                XCTAssertTrue(Commands.named(word) == command)
            }
            XCTAssertTrue(help.contains(command.usage), "\(command.names) missing from --help")
        }
    }

    func testUnknownCommandsAndOptionsAreUsageErrors() {
        XCTAssertThrowsError(try parse(["frobnicate"])) { XCTAssertEqual("\($0)", "unknown command 'frobnicate' (see gpuctop --help)") }
        XCTAssertThrowsError(try parse(["--frobnicate"])) { XCTAssertEqual("\($0)", "unknown option '--frobnicate' (see gpuctop --help)") }
        XCTAssertThrowsError(try parse(["--interval", "0.01"]))
        XCTAssertThrowsError(try parse(["--interval"])) { XCTAssertEqual("\($0)", "--interval needs a value") }
    }

    func testGlobalOptionsAnywhereAndEqualsForm() throws {
        let o = try parse(["snapshot", "--json", "--interval=2.5", "--proc-root", "/host/proc", "--read-only"])
        XCTAssertEqual(o.command, "snapshot")
        XCTAssertEqual(o.arguments, ["--json"])
        XCTAssertEqual(o.interval, 2.5)
        XCTAssertEqual(o.procRoot, "/host/proc")
        XCTAssertTrue(o.readOnly)
        XCTAssertEqual(try parse(["-h"]).command, "help")
        XCTAssertEqual(try parse(["--version"]).command, "version")
    }

    func testReadOnlyFromTheEnvironment() throws {
        for on in ["1", "true", "YES", "On"] { XCTAssertTrue(try parse([], ["GPUCTOP_READ_ONLY": on]).readOnly, on) }
        for off in ["", "0", "false", "no", "OFF"] { XCTAssertFalse(try parse([], ["GPUCTOP_READ_ONLY": off]).readOnly, off) }
        XCTAssertThrowsError(try parse([], ["GPUCTOP_READ_ONLY": "maybe"]))
    }

    /// The dashboard of several hosts records nothing: `--record` there is refused, not ignored.
    func testRecordWithHostsIsAUsageError() throws {
        let out = TestEnv.temporaryDirectory("record-hosts").appendingPathComponent("r.gpuctop").path
        let r = try Run.gpuctop(["--host", "gpu1", "--record", out])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("--record records this machine's dashboard"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testExitStatusesAreTheDocumentedOnes() {
        XCTAssertEqual([ExitStatus.ok, ExitStatus.failure, ExitStatus.usage, ExitStatus.refused], [0, 1, 2, 3])
    }

    func testUnderSudoTheCodeChoosingVariablesAreNotTheInvokingUsers() {
        let env = ["GPUCTOP_NVML": "/home/alice/evil.so", "GPUCTOP_SSH": "-oProxyCommand=sh", "GPUCTOP_REMOTE_COMMAND": "x",
                   "GPUCTOP_READ_ONLY": "1", "HOME": "/root"]
        let (kept, dropped) = Environment.trusting(env, underSudoForAnotherUser: true)
        XCTAssertEqual(Set(dropped), ["GPUCTOP_NVML", "GPUCTOP_SSH", "GPUCTOP_REMOTE_COMMAND"])
        XCTAssertNil(kept["GPUCTOP_NVML"]); XCTAssertNil(kept["GPUCTOP_SSH"]); XCTAssertNil(kept["GPUCTOP_REMOTE_COMMAND"])
        XCTAssertEqual(kept["GPUCTOP_READ_ONLY"], "1", "settings that only restrict are kept")
        XCTAssertEqual(Environment.trusting(env, underSudoForAnotherUser: false).0, env, "not under sudo, or root's own sudo: all kept")
    }
}
