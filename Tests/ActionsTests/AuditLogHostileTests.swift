// The audit log against what a user can plant where root writes it (#15): symbolic
// links, FIFOs with and without a reader, directories others own or can write, a file
// that is someone else's; line and paragraph separators in values; SUDO_USER that does
// not come from sudo. Real links, real FIFOs (mkfifo), real ownership (chown, as root).
import Actions
import Foundation
import Glibc
import Support
import TestSupport
import XCTest

final class AuditLogHostileTests: XCTestCase {
    private var directories: [URL] = []

    override func tearDown() {
        directories.forEach { try? FileManager.default.removeItem(at: $0) }
        directories = []
    }

    private func directory() -> String {
        let d = TestEnv.temporaryDirectory("audit-hostile")
        directories.append(d)
        return d.path
    }

    private func requireRoot() throws {
        guard geteuid() == 0 else { throw XCTSkip("needs root: the checks are root's") }
    }

    private func contents(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? "<unreadable>"
    }

    /// Runs `append` on a thread of its own: the error it threw, or a failure if it has not
    /// returned within 2 s (then `unblock` runs, so that the test does not hang with it).
    private func appendWithin2s(_ log: AuditLog, unblock: () -> Void) -> Error? {
        let done = DispatchSemaphore(value: 0)
        let result = LockedValue<Error?>(nil)
        Thread.detachNewThread {
            do { try log.append(line: "time=x action=stop") } catch { result.withLock { $0 = error } }
            done.signal()
        }
        if done.wait(timeout: .now() + 2) == .timedOut {
            XCTFail("the append blocked")
            unblock()
            _ = done.wait(timeout: .now() + 5)
        }
        return result.current
    }

    func testASymbolicLinkIsNotFollowed() throws {
        let dir = directory()
        let victim = dir + "/victim"
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        XCTAssertEqual(symlink(victim, dir + "/actions.log"), 0)
        XCTAssertThrowsError(try AuditLog(path: dir + "/actions.log").append(line: "x=1")) { error in
            XCTAssertEqual("\(error)", "cannot write the audit log \(dir)/actions.log: it is a symbolic link (not followed)")
        }
        XCTAssertEqual(contents(victim), "precious\n")
    }

    func testAHardLinkToAnotherFileIsRefused() throws {
        let dir = directory()
        let victim = dir + "/victim"
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        XCTAssertEqual(link(victim, dir + "/actions.log"), 0)
        XCTAssertThrowsError(try AuditLog(path: dir + "/actions.log").append(line: "x=1")) { error in
            XCTAssertEqual("\(error)", "cannot write the audit log \(dir)/actions.log: it has 2 hard links (another file's name)")
        }
        XCTAssertEqual(contents(victim), "precious\n")
    }

    func testAFIFOWithoutAReaderDoesNotBlock() throws {
        let dir = directory()
        let path = dir + "/actions.log"
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        let error = appendWithin2s(AuditLog(path: path)) {
            // Release the blocked writer: a reader that opens and goes away.
            let fd = open(path, O_RDONLY | O_NONBLOCK)
            if fd >= 0 { usleep(500_000); close(fd) }
        }
        XCTAssertEqual(error.map { "\($0)" }, "cannot write the audit log \(path): it is not a regular file")
    }

    func testAFIFOWithAReaderGetsNothing() throws {
        let dir = directory()
        let path = dir + "/actions.log"
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        let reader = open(path, O_RDONLY | O_NONBLOCK)
        XCTAssertGreaterThanOrEqual(reader, 0)
        defer { close(reader) }
        let error = appendWithin2s(AuditLog(path: path)) {}
        XCTAssertEqual(error.map { "\($0)" }, "cannot write the audit log \(path): it is not a regular file")
        var byte: UInt8 = 0
        XCTAssertLessThanOrEqual(read(reader, &byte, 1), 0, "nothing was written into the FIFO")
    }

    func testRootRefusesDirectoriesOthersControl() throws {
        try requireRoot()
        let dir = directory()
        let victim = dir + "/victim"
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)

        // A user's own directory (sudo -E: XDG_STATE_HOME or HOME is theirs): they could
        // put a link there at any moment.
        let users = dir + "/home-alice"
        XCTAssertEqual(mkdir(users, 0o755), 0)
        XCTAssertEqual(chown(users, 1000, 1000), 0)
        XCTAssertThrowsError(try AuditLog(path: users + "/gpuctop/actions.log").append(line: "x=1")) { error in
            XCTAssertEqual("\(error)", "cannot write the audit log \(users)/gpuctop/actions.log: \(users) belongs to uid 1000, not root")
        }

        // Root's, but anyone may rename what is inside.
        let shared = dir + "/shared"
        XCTAssertEqual(mkdir(shared, 0o777), 0)
        XCTAssertEqual(chmod(shared, 0o777), 0)
        XCTAssertThrowsError(try AuditLog(path: shared + "/actions.log").append(line: "x=1")) { error in
            XCTAssertEqual("\(error)", "cannot write the audit log \(shared)/actions.log: \(shared) is writable by group or others and not sticky")
        }

        // Through a link to such a directory: the resolved path is what is checked.
        XCTAssertEqual(symlink(shared, dir + "/link"), 0)
        XCTAssertThrowsError(try AuditLog(path: dir + "/link/actions.log").append(line: "x=1"))

        // Sticky (like /tmp): others cannot touch root's entries, but they can plant their
        // own file under the name before root creates it.
        let sticky = dir + "/sticky"
        XCTAssertEqual(mkdir(sticky, 0o777), 0)
        XCTAssertEqual(chmod(sticky, 0o1777), 0)
        let planted = sticky + "/actions.log"
        XCTAssertTrue(FileManager.default.createFile(atPath: planted, contents: Data()))
        XCTAssertEqual(chown(planted, 1000, 1000), 0)
        XCTAssertThrowsError(try AuditLog(path: planted).append(line: "x=1")) { error in
            XCTAssertEqual("\(error)", "cannot write the audit log \(planted): it belongs to uid 1000, not root")
        }
        XCTAssertEqual(contents(planted), "")
        // Root's own directory in the sticky one is fine.
        try AuditLog(path: sticky + "/root-owned/actions.log").append(line: "x=1")
        XCTAssertEqual(contents(sticky + "/root-owned/actions.log"), "x=1\n")
        XCTAssertEqual(contents(victim), "precious\n")
    }

    func testSeparatorsAndFormatCharactersAreEscaped() {
        for (raw, escaped) in [("a\u{2028}b", #""a\u{2028}b""#), ("a\u{2029}b", #""a\u{2029}b""#),
                               ("a\u{85}b", #""a\u{85}b""#), ("rm \u{202E}txt.sh", #""rm \u{202e}txt.sh""#),
                               ("x\u{2066}y", #""x\u{2066}y""#)] {
            XCTAssertEqual(AuditLog.quote(raw), escaped)
        }
        XCTAssertEqual(AuditLog.quote("café"), "café", "letters stay as they are")
        let line = AuditRecord(time: 0, user: "ops", uid: 0, host: "h", action: "signal", target: .process(pid: 7),
                               previous: "sleep\u{2028}time=forged", outcome: .ok("sent SIGTERM")).line
        XCTAssertTrue(line.contains(#"previous="sleep\u{2028}time=forged""#), line)
        XCTAssertFalse(line.unicodeScalars.contains { $0.value == 0x2028 }, line)
    }

    func testSudoUserOnlyUnderSudo() {
        let root = ["SUDO_USER": "root", "SUDO_UID": "0"]
        XCTAssertEqual(SudoInvocation.invokingUser(environment: root, realUID: 0, hasSudoAncestor: { true }), "root")
        // No sudo among the ancestors: stale or written by hand.
        XCTAssertNil(SudoInvocation.invokingUser(environment: root, realUID: 0, hasSudoAncestor: { false }))
        // Not root: sudo -u someone, or no sudo at all.
        XCTAssertNil(SudoInvocation.invokingUser(environment: root, realUID: 1000, hasSudoAncestor: { true }))
        // SUDO_UID and SUDO_USER disagree, or one is missing.
        XCTAssertNil(SudoInvocation.invokingUser(environment: ["SUDO_USER": "mallory", "SUDO_UID": "0"], realUID: 0, hasSudoAncestor: { true }))
        XCTAssertNil(SudoInvocation.invokingUser(environment: ["SUDO_USER": "root"], realUID: 0, hasSudoAncestor: { true }))
        XCTAssertNil(SudoInvocation.invokingUser(environment: ["SUDO_USER": "", "SUDO_UID": "0"], realUID: 0, hasSudoAncestor: { true }))
        // This test process has no sudo above it.
        XCTAssertNil(SudoInvocation.invokingUser(environment: root))
        let record = AuditRecord.now(action: "stop", target: .argument("x"), previous: nil, outcome: .refused("x"), environment: root)
        XCTAssertNil(record.sudoUser)
    }

    /// Whose environment it is, for the variables that choose code to run: fails closed,
    /// so a sudo user the password database does not know (LDAP) still counts as another.
    func testRunsForAnotherUserFailsClosed() {
        let unknown = ["SUDO_USER": "ldap-alice", "SUDO_UID": "99999"]
        XCTAssertNil(SudoInvocation.invokingUser(environment: unknown, realUID: 0, hasSudoAncestor: { true }),
                     "not recorded as sudo_user: it cannot be verified")
        XCTAssertTrue(SudoInvocation.runsForAnotherUser(environment: unknown, realUID: 0, hasSudoAncestor: { true }))
        XCTAssertFalse(SudoInvocation.runsForAnotherUser(environment: ["SUDO_UID": "0"], realUID: 0, hasSudoAncestor: { true }),
                       "root's own sudo")
        XCTAssertFalse(SudoInvocation.runsForAnotherUser(environment: unknown, realUID: 0, hasSudoAncestor: { false }),
                       "stale variables, no sudo above")
        XCTAssertFalse(SudoInvocation.runsForAnotherUser(environment: unknown, realUID: 1000, hasSudoAncestor: { true }))
    }

    func testUnderSudoTheLogIsRootsWhateverTheEnvironmentSays() throws {
        let users = ["XDG_STATE_HOME": "/home/alice/.local/state", "HOME": "/home/alice"]
        let home = String(cString: try XCTUnwrap(getpwuid(geteuid())?.pointee.pw_dir))
        XCTAssertEqual(AuditLog.defaultPath(environment: users, underSudo: true),
                       (home.hasSuffix("/") ? home : home + "/") + ".local/state/gpuctop/actions.log")
        XCTAssertEqual(AuditLog.defaultPath(environment: users, underSudo: false), "/home/alice/.local/state/gpuctop/actions.log")
    }
}
