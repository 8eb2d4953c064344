// What a user can plant where gpuctop writes, and what they can set in its environment
// (#15), through the real binary: links and FIFOs in the textfile directory and at the
// audit log, a umask that would hide the metrics from node_exporter, a textfile
// directory anyone can write, a write blocked in a frozen filesystem at the stop, a
// GPUCTOP_READ_ONLY spelled other than `1`, SUDO_USER without sudo.
import Foundation
import XCTest
import TestSupport

final class HostileFilesTests: XCTestCase {
    private var directories: [URL] = []
    private var daemons: [Daemon] = []
    private var children: [Child] = []
    private var cleanups: [() -> Void] = []

    override func tearDown() {
        cleanups.reversed().forEach { $0() }
        cleanups = []
        daemons.forEach { $0.stop() }
        daemons = []
        children.forEach { $0.stop() }
        children = []
        directories.forEach { try? FileManager.default.removeItem(at: $0) }
        directories = []
    }

    private func directory(_ label: String) -> String {
        let d = TestEnv.temporaryDirectory(label)
        directories.append(d)
        return d.path
    }

    private func fake() throws -> (args: [String], env: [String: String]) {
        (["--nvml", try FakeNVML.privateCopy()], ["FAKE_NVML_SCENARIO": try FakeNVML.scenario(ExportCommandTests.scenario([]))])
    }

    private func contents(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? "<unreadable>"
    }

    private func lstatMode(_ path: String) -> mode_t? {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode : nil
    }

    // MARK: - export --textfile (#15 point 3)

    func testTextfileWritesThroughNoPlantedLinkAndIsReadableWhateverTheUmask() throws {
        let (args, env) = try fake()
        let dir = directory("textfile-links")
        let elsewhere = directory("textfile-victims")
        // Links at the old fixed temporary name and at the final name, to files root owns.
        for (link, victim) in [(".gpuctop.prom.tmp", "shadow"), ("gpuctop.prom", "passwd")] {
            try "precious \(victim)\n".write(toFile: elsewhere + "/" + victim, atomically: false, encoding: .utf8)
            XCTAssertEqual(symlink(elsewhere + "/" + victim, dir + "/" + link), 0)
        }
        // umask 077, as a hardened root shell has it: the metrics must still be 0644.
        let command = #"umask 077; exec "$0" "$@""#
        let r = try Run.command(["/bin/sh", "-c", command, TestEnv.gpuctopBinary.path, "export", "--textfile", dir, "--once"] + args,
                                environment: env, timeout: 30)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(contents(elsewhere + "/shadow"), "precious shadow\n")
        XCTAssertEqual(contents(elsewhere + "/passwd"), "precious passwd\n")
        let mode = try XCTUnwrap(lstatMode(dir + "/gpuctop.prom"))
        XCTAssertEqual(mode & S_IFMT, S_IFREG, "the link at the final name is replaced by the file")
        XCTAssertEqual(mode & 0o7777, 0o644)
        XCTAssertTrue(contents(dir + "/gpuctop.prom").contains("DCGM_FI_DEV_GPU_UTIL"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), [".gpuctop.prom.tmp", "gpuctop.prom"],
                       "no temporary file left; the planted link is left alone")
    }

    func testTextfileDirectoryOthersCanWriteIsRefusedUnlessSticky() throws {
        let (args, env) = try fake()
        let dir = directory("textfile-open")
        for mode: mode_t in [0o777, 0o775, 0o757] {
            XCTAssertEqual(chmod(dir, mode), 0)
            let r = try Run.gpuctop(["export", "--textfile", dir, "--once"] + args, environment: env)
            XCTAssertEqual(r.status, 1, "mode \(String(mode, radix: 8)): \(r.stderr)")
            XCTAssertEqual(r.stderr, "gpuctop: cannot write metrics to \(dir): it is writable by group or others and not sticky (chmod go-w or +t)\n")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
        }
        // Sticky, like /tmp: others cannot replace or remove root's files there.
        XCTAssertEqual(chmod(dir, 0o1777), 0)
        let r = try Run.gpuctop(["export", "--textfile", dir, "--once"] + args, environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["gpuctop.prom"])
    }

    // MARK: - export stop during a blocked write (#15 point 5)

    /// `sh -c` with a time limit; its status.
    @discardableResult
    private func shell(_ script: String) throws -> Int32 {
        try Run.command(["/bin/sh", "-c", script], timeout: 30).status
    }

    /// /proc/PID/stat's state letter ("R", "S", "D", "Z"), or nil when the process is gone.
    private func state(_ pid: Int32) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ").first.map(String.init)
    }

    /// Whether one of the process's threads sleeps uninterruptibly (here: in the frozen filesystem).
    private func hasThreadInDiskSleep(_ pid: Int32) -> Bool {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.contains { task in
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { return false }
            return text[text.index(after: close)...].split(separator: " ").first == "D"
        }
    }

    /// A hung filesystem, for real: a loop-mounted ext4 frozen with fsfreeze(8), in which
    /// every write blocks until it is thawed. SIGTERM must still end gpuctop within 2 s.
    func testStopIsNotHeldByAWriteBlockedInAFrozenFilesystem() throws {
        guard geteuid() == 0 else { throw XCTSkip("needs root to mount and freeze a filesystem") }
        let work = directory("frozen")
        let mount = work + "/mnt"
        XCTAssertEqual(mkdir(mount, 0o755), 0)
        guard try shell("truncate -s 16M \(work)/fs.img && mkfs.ext4 -q -F \(work)/fs.img && mount -o loop \(work)/fs.img \(mount)") == 0 else {
            throw XCTSkip("cannot loop-mount an ext4 image here")
        }
        cleanups.append { [self] in
            _ = try? shell("fsfreeze -u \(mount) 2>/dev/null; umount \(mount) || umount -l \(mount)")
        }
        let (args, env) = try fake()
        let d = try Daemon([TestEnv.gpuctopBinary.path, "export", "--textfile", mount, "--interval", "0.2"] + args,
                           environment: env, log: work + "/export.log")
        daemons.append(d)
        _ = try d.waitForLog("the first textfile") { _ in FileManager.default.fileExists(atPath: mount + "/gpuctop.prom") ? true : nil }

        guard try shell("fsfreeze -f \(mount)") == 0 else { throw XCTSkip("fsfreeze is not supported here") }
        let blockedBy = Date().addingTimeInterval(5)
        while !hasThreadInDiskSleep(d.pid) && Date() < blockedBy { usleep(20_000) }
        XCTAssertTrue(hasThreadInDiskSleep(d.pid), "the next write did not block in the frozen filesystem")

        let start = Date()
        kill(d.pid, SIGTERM)
        // The blocked thread cannot be killed before the thaw, so the process cannot be reaped
        // yet; gpuctop itself has exited when its main thread is a zombie.
        // gpuctop gives the frozen write 1 s by design; 3 s leaves room for a loaded machine.
        while let s = state(d.pid), s != "Z", Date().timeIntervalSince(start) < 3 { usleep(20_000) }
        let took = Date().timeIntervalSince(start)
        XCTAssertEqual(state(d.pid) ?? "Z", "Z", "gpuctop is still running \(String(format: "%.1f", took)) s after SIGTERM; log:\n\(d.log)")
        XCTAssertLessThan(took, 3)

        XCTAssertEqual(try shell("fsfreeze -u \(mount)"), 0)
        XCTAssertEqual(d.waitExit(timeout: 5), 1, d.log)
        XCTAssertEqual(d.log.components(separatedBy: "\n").filter { $0.hasPrefix("gpuctop: ") },
                       ["gpuctop: stopped, but \(mount)/gpuctop.prom may be left: a write to it did not finish within 1 s (is its filesystem hung?)"],
                       d.log)
    }

    // MARK: - the audit log (#15 points 4 and 9)

    private func signalCommand(_ pid: Int32, stateHome: String, env: [String: String] = [:]) throws -> RunResult {
        var environment = ["XDG_STATE_HOME": stateHome, "GPUCTOP_READ_ONLY": ""]
        environment.merge(env) { $1 }
        return try Run.gpuctop(["signal", "\(pid)", "--yes"], environment: environment, timeout: 10)
    }

    func testAFIFOAtTheAuditLogDoesNotHangTheAction() throws {
        let stateHome = directory("audit-fifo")
        XCTAssertEqual(mkdir(stateHome + "/gpuctop", 0o700), 0)
        XCTAssertEqual(mkfifo(stateHome + "/gpuctop/actions.log", 0o600), 0)
        let child = try Child(["/bin/sleep", "120"])
        children.append(child)
        // Without a reader, an open for writing would wait for one forever.
        let r = try signalCommand(child.pid, stateHome: stateHome)
        XCTAssertEqual(r.status, 0, r.stderr)
        child.process.waitUntilExit()
        XCTAssertEqual(child.process.terminationReason, .uncaughtSignal)
        XCTAssertEqual(child.process.terminationStatus, SIGTERM)
        XCTAssertEqual(r.stderr, "gpuctop: warning: cannot write the audit log \(stateHome)/gpuctop/actions.log: it is not a regular file\n")
        XCTAssertLessThan(r.seconds, 5)
    }

    func testSudoUserIsNotTakenFromTheEnvironmentAlone() throws {
        let stateHome = directory("audit-sudo")
        let child = try Child(["/bin/sleep", "120"])
        children.append(child)
        // What sudo would set, with no sudo anywhere above gpuctop.
        let r = try signalCommand(child.pid, stateHome: stateHome, env: ["SUDO_USER": "root", "SUDO_UID": "0", "SUDO_GID": "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let log = contents(stateHome + "/gpuctop/actions.log")
        XCTAssertTrue(log.contains(" action=signal pid=\(child.pid) "), log)
        XCTAssertFalse(log.contains("sudo_user"), log)
    }

    // MARK: - GPUCTOP_READ_ONLY (#15 point 8)

    func testReadOnlyAcceptsTheUsualSpellingsAndRefusesOthers() throws {
        let setLog = directory("read-only") + "/set.log"
        let stateHome = directory("read-only-state")
        func power(_ readOnly: String) throws -> RunResult {
            try Run.gpuctop(["power", "set", "0", "200", "--yes", "--nvml", try FakeNVML.privateCopy()],
                            environment: ["FAKE_NVML_SCENARIO": try FakeNVML.scenario(Scenarios.twoPowerGPUs + "\n"),
                                          "FAKE_NVML_SET_LOG": setLog, "XDG_STATE_HOME": stateHome,
                                          "GPUCTOP_READ_ONLY": readOnly])
        }
        for on in ["1", "true", "TRUE", "yes", "Yes", "on", "ON"] {
            let r = try power(on)
            XCTAssertEqual(r.status, 3, "GPUCTOP_READ_ONLY=\(on): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("read-only"), r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: setLog), "no power limit was set: \(contents(setLog))")
        for bad in ["maybe", "2", " 1", "enabled", "\u{1b}[2J"] {
            let r = try power(bad)
            XCTAssertEqual(r.status, 2, "GPUCTOP_READ_ONLY=\(bad): \(r.stderr)")
            let shown = bad == "\u{1b}[2J" ? "^[[2J" : bad
            XCTAssertEqual(r.stderr, "gpuctop: GPUCTOP_READ_ONLY=\(shown): expected 1, true, yes, on, 0, false, no or off\n")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: setLog))
        for off in ["", "0", "false", "No", "OFF"] {
            let r = try power(off)
            XCTAssertEqual(r.status, 0, "GPUCTOP_READ_ONLY=\(off): \(r.stderr)")
        }
        XCTAssertEqual(contents(setLog).split(separator: "\n").count, 5, contents(setLog))
    }
}
