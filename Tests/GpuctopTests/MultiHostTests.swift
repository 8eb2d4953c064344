// Several hosts over ssh, end to end: two real sshd (Debian's openssh-server) on
// loopback ports, each giving the remote gpuctop its own fake NVML scenario
// (sshd_config SetEnv), the merged dashboard in tmux, actions forwarded to the
// right host, a host going down and coming back. Plus `snapshot --json --stream`.
import Fleet
import Foundation
import Model
import Support
import TestSupport
import XCTest

/// Two loopback "hosts", gpu1 and gpu2, reached through an ssh config of their own.
final class TwoHosts {
    let dir = TestEnv.temporaryDirectory("multihost")
    var sshds: [TestSSHD] = []
    let sshConfig: String
    let key: String

    init(scenarios: [String], dockerHost: String?) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd"),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh") else {
            throw XCTSkip("needs openssh-server and openssh-client (scripts/test.sh installs them)")
        }
        key = dir.appendingPathComponent("key").path
        let r = try Run.command(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key])
        guard r.status == 0 else { throw TestFailure("ssh-keygen: \(r.stderr)") }
        let authorized = dir.appendingPathComponent("authorized_keys").path
        try FileManager.default.copyItem(atPath: key + ".pub", toPath: authorized)
        let lib = try FakeNVML.builtDirectory().appendingPathComponent("libnvidia-ml.so.1").path
        var config = ""
        for (i, scenario) in scenarios.enumerated() {
            let name = "gpu\(i + 1)"
            let state = dir.appendingPathComponent("\(name)-state")
            try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
            var env = ["FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario), "GPUCTOP_NVML": lib,
                       "XDG_STATE_HOME": state.path]
            if let dockerHost { env["DOCKER_HOST"] = dockerHost }
            let sshd = try TestSSHD(dir: dir, name: name, port: Int(try Loopback.freePort()), authorizedKeys: authorized, environment: env)
            sshds.append(sshd)
            config += "Host \(name)\n  HostName 127.0.0.1\n  Port \(sshd.port)\n"
        }
        config += "Host *\n  User root\n  IdentitiesOnly yes\n  LogLevel ERROR\n"
        sshConfig = dir.appendingPathComponent("ssh_config").path
        try config.write(toFile: sshConfig, atomically: true, encoding: .utf8)
        for s in sshds { try s.start() }
    }

    /// What GPUCTOP_SSH carries: the config, the test key, no host key checks.
    var sshOptions: String {
        "-F \(sshConfig) -i \(key) -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
    }

    func audit(_ host: String) -> String {
        (try? String(contentsOf: dir.appendingPathComponent("\(host)-state/gpuctop/actions.log"), encoding: .utf8)) ?? ""
    }

    func stop() { sshds.forEach { $0.stop() } }
}

final class MultiHostTests: XCTestCase {
    let tag = "mh-\(UUID().uuidString.prefix(6).lowercased())"
    var hosts: TwoHosts?
    var containers: [String] = []
    var children: [Child] = []

    override func tearDown() {
        hosts?.stop()
        for c in containers { _ = try? Docker.run(["rm", "-f", c]) }
        children.forEach { $0.stop() }
    }

    static func scenario(name: String, uuid: String, util: String, process: (pid: Int32, gib: Int)) -> String {
        """
        gpu
        name \(name)
        uuid \(uuid)
        util \(util)
        memory_total 85899345920
        memory_used 12884901888
        power 300000
        power_limit 700000
        power_default 700000
        power_min 200000
        power_max 700000
        process compute pid=\(process.pid) mem=\(process.gib)GiB sm=\(process.gib * 10)

        """
    }

    /// The gpu line of `host` on the screen.
    func gpuLine(_ screen: String, _ host: String) -> String {
        screen.split(separator: "\n").first { $0.contains("\(host) H200") || $0.contains("\(host) A100") }.map(String.init) ?? ""
    }

    func testMergedDashboardForwardedActionsAndAHostGoingDown() throws {
        let box = "\(tag)-box"
        try Docker.runContainer(box)
        containers = [box]
        children = [try Child(["/bin/sleep", "301"])]
        let sleeper = children[0].pid
        let h = try TwoHosts(scenarios: [
            Self.scenario(name: "NVIDIA H200", uuid: "GPU-same", util: "10 20 30", process: (sleeper, 2)),
            // The same uuid on purpose: GPUs are told apart by host, not only by uuid.
            Self.scenario(name: "NVIDIA A100", uuid: "GPU-same", util: "55", process: (try Docker.pid(box), 8)),
        ], dockerHost: try Docker.host())
        hosts = h
        let t = try TmuxSession(
            command: "\(TestEnv.gpuctopBinary.path) --host gpu1 --host gpu2 --interval 1; echo EXITED; sleep 600",
            environment: ["GPUCTOP_SSH": h.sshOptions, "GPUCTOP_REMOTE_COMMAND": TestEnv.gpuctopBinary.path,
                          "XDG_STATE_HOME": h.dir.appendingPathComponent("local-state").path,
                          "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"])
        defer { _ = try? t.tmux(["kill-server"]) }

        // Both hosts' GPUs and processes, a HOST column, and the header's count.
        var screen = try t.waitFor("both hosts", timeout: 30) {
            $0.contains("2 of 2 hosts up") && $0.contains("gpu1 H200") && $0.contains("gpu2 A100")
                && $0.contains(box) && $0.contains("pid \(sleeper)")
        }
        XCTAssertTrue(screen.contains("HOST"), screen)
        let boxRow = screen.split(separator: "\n").first { $0.contains(box) }.map(String.init) ?? ""
        XCTAssertTrue(boxRow.hasPrefix("gpu2"), "the container's row starts with its host: \(boxRow)\n\(screen)")
        let sleeperGroup = screen.split(separator: "\n").first { $0.hasPrefix("gpu1") && $0.contains("host") }
        XCTAssertNotNil(sleeperGroup, screen)

        // A stop goes to gpu2 (the container's host), and the question names it.
        try t.send("x")
        screen = try t.waitFor("the question") { $0.contains("Stop container \(box)") }
        XCTAssertTrue(screen.contains("on host gpu2?"), screen)
        try t.send("y")
        screen = try t.waitFor("the result", timeout: 30) { $0.contains("gpu2: ") && $0.contains("stopped") }
        XCTAssertEqual(try Docker.run(["inspect", "-f", "{{.State.Status}}", box]), "exited")
        XCTAssertTrue(h.audit("gpu2").contains("action=stop"), h.audit("gpu2"))
        XCTAssertTrue(h.audit("gpu1").isEmpty, "nothing went to gpu1: \(h.audit("gpu1"))")

        // A signal goes to gpu1 (the process's host).
        try t.send("/")
        try t.type("sleep 301")
        try t.send("Enter")
        try t.waitFor("the filter") { $0.contains("filter \"sleep 301\"") && !$0.contains(box) }
        try t.send("Down")
        try t.send("T")
        screen = try t.waitFor("the signal question") { $0.contains("Send SIGTERM to host PID \(sleeper)") }
        XCTAssertTrue(screen.contains("on host gpu1?"), screen)
        try t.send("y")
        try t.waitFor("the signal result", timeout: 30) { $0.contains("gpu1: ") && $0.contains("SIGTERM") }
        children[0].process.waitUntilExit()
        XCTAssertEqual(children[0].process.terminationStatus, SIGTERM)
        XCTAssertTrue(h.audit("gpu1").contains("action=signal"), h.audit("gpu1"))
        try t.send("Escape")

        // gpu2 goes down: marked with the reason, while gpu1 keeps updating.
        h.sshds[1].stop()
        screen = try t.waitFor("gpu2 marked down", timeout: 20) {
            $0.contains("1 of 2 hosts up") && $0.contains("host gpu2: ") && $0.contains("retrying")
        }
        XCTAssertFalse(screen.contains("gpu2 A100"), "a down host's GPUs are not shown as current: \(screen)")
        try t.waitFor("the refused connection", timeout: 20) { $0.contains("host gpu2: ") && $0.contains("Connection refused") }
        let first = gpuLine(try t.screen(), "gpu1")
        try t.waitFor("gpu1 still updating", timeout: 10) { screen in
            let now = self.gpuLine(screen, "gpu1")
            return !now.isEmpty && now != first
        }

        // gpu2 comes back.
        try h.sshds[1].start()
        try t.waitFor("gpu2 back", timeout: 45) { $0.contains("2 of 2 hosts up") && $0.contains("gpu2 A100") }
        try t.send("q")
        try t.waitFor("EXITED")
    }

    func testHostSpecParsing() throws {
        XCTAssertEqual(try HostSpec(parsing: "gpu1"), HostSpec(host: "gpu1"))
        XCTAssertEqual(try HostSpec(parsing: "ops@gpu2:2222"), HostSpec(user: "ops", host: "gpu2", port: 2222))
        XCTAssertEqual(try HostSpec(parsing: "[::1]:22").host, "::1")
        XCTAssertEqual(try HostSpec(parsing: "ops@gpu2:2222").name, "gpu2:2222")
        XCTAssertEqual(try HostSpec(parsing: "ops@gpu2:2222").destination, "ops@gpu2")
        XCTAssertThrowsError(try HostSpec(parsing: "gpu1:99999"))
        XCTAssertThrowsError(try HostSpec(parsing: "-oProxyCommand=x"))
        let list = try HostSpec.parseList("# fleet\ngpu1\n\n  gpu2:2200   # rack 2\n")
        XCTAssertEqual(list.map(\.name), ["gpu1", "gpu2:2200"])
        XCTAssertThrowsError(try HostSpec.parseList("gpu1\ngpu2:x\n")) { error in
            XCTAssertTrue("\(error)".contains("line 2"), "\(error)")
        }
    }

    /// ssh reads a destination that starts with `-` as an option (`-oProxyCommand=...`
    /// runs a local command); a shell reads `;`, `$`, quotes and blanks. Users and
    /// hosts are refused unless made of what real names use.
    func testHostSpecRefusesWhatSshOrAShellWouldTakeForSomethingElse() throws {
        let bad = ["-oProxyCommand=touch /tmp/pwned@x", "-oProxyCommand=x@gpu1", "al ice@gpu1", "alice@gpu 1",
                   "al\tice@gpu1", "alice@gpu1\u{1B}[2J", "al\u{7}ice@gpu1", "a;id@gpu1", "alice@gpu1;id", "a$(id)@gpu1",
                   "alice$@gpu1", "alice@$HOST", "a`id`@gpu1", "a'b@gpu1", "a\"b@gpu1", "alice@-gpu1", "alice@.gpu1",
                   "alice@gpu1/x", "ålice@gpu1", "alice@gpu1\u{202E}", "[::1;id]:22", "[gpu1]:22", "[::1%eth0;x]",
                   "alice@gpu1:22;id", "gpu1:+22"]
        for raw in bad {
            XCTAssertThrowsError(try HostSpec(parsing: raw), raw) { error in
                let text = "\(error)"
                XCTAssertFalse(text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f || $0.value == 0x202E },
                               "the error shows no control or format character: \(text.debugDescription)")
            }
        }
        let line = #"-oProxyCommand=sh -c "id > /tmp/p"@gpu2"#
        XCTAssertThrowsError(try HostSpec.parseList("gpu1\n\(line)\n")) { error in
            XCTAssertTrue("\(error)".hasPrefix("line 2: bad user name"), "\(error)")
        }
        XCTAssertEqual(try HostSpec(parsing: "alice@gpu-1.example.com:2222"),
                       HostSpec(user: "alice", host: "gpu-1.example.com", port: 2222))
        XCTAssertEqual(try HostSpec(parsing: "[::1]:2222"), HostSpec(host: "::1", port: 2222))
        XCTAssertEqual(try HostSpec(parsing: "bob_x@10.0.0.1"), HostSpec(user: "bob_x", host: "10.0.0.1"))
        XCTAssertEqual(try HostSpec(parsing: "[fe80::1%eth0]").host, "fe80::1%eth0")
        XCTAssertEqual(try HostSpec(parsing: "first.last-2@gpu_rack3").destination, "first.last-2@gpu_rack3")
    }

    /// A fake `ssh` that checks `--` comes before the destination, then does what sshd
    /// does with the rest: joins the words with spaces and runs them with `sh -c`, in `dir`.
    func fakeSSH(in dir: URL, body: String? = nil) throws -> String {
        let path = dir.appendingPathComponent("ssh").path
        try """
        #!/bin/sh
        while [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done
        [ "$1" = "--" ] || { echo "fake ssh: no -- before the destination" >&2; exit 99; }
        dest=$2; shift 2
        cd \(TmuxSession.quote(dir.path)) || exit 98
        \(body ?? #"exec /bin/sh -c "$*""#)

        """.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    /// Every argument after the remote command reaches the remote shell as one word:
    /// a remote's container id `c0ffee;touch x` is an argument, never a command.
    func testTheRemoteCommandLineEndsSshOptionsAndQuotesEveryArgument() throws {
        let dir = TestEnv.temporaryDirectory("remote-quote")
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = RemoteConfig(environment: ["GPUCTOP_SSH": "-F /dev/null", "GPUCTOP_REMOTE_COMMAND": "printf '%s\\n'"],
                                  interval: 1)
        let host = try HostSpec(parsing: "ops@gpu1:2222")
        let args = ["stop", "c0ffee;touch x", "$(touch y)", "`touch z`", "it's", "a b", "", "*", "new\nline", "a|b&c>w", "--yes"]
        let argv = config.command(for: host, args, keepAlive: false)
        let at = try XCTUnwrap(argv.firstIndex(of: "ops@gpu1"), "\(argv)")
        XCTAssertEqual(argv[at - 1], "--", "\(argv)")
        XCTAssertEqual(Array(argv[(at + 1)...]).first, "printf '%s\\n'", "the user's own remote command goes as given")
        XCTAssertEqual(argv[argv.count - 1], "--yes", "safe words stay readable")
        XCTAssertEqual(argv[at + 3], "'c0ffee;touch x'", "\(argv)")

        config.ssh = [try fakeSSH(in: dir)]
        let (status, output) = Subprocess.run(config.command(for: host, args, keepAlive: false), timeout: 10)
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(output, args.joined(separator: "\n") + "\n", "each argument arrived as one word, unchanged")
        for file in ["x", "y", "z", "w"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), "\(file) was created")
        }
        XCTAssertTrue(RemoteConfig.isSafeContainerID("c0ffee"))
        XCTAssertTrue(RemoteConfig.isSafeContainerID(String(repeating: "aB3", count: 21) + "f"))
        for id in ["", "c0ffee;touch x", "c0ffee ", "-c0ffee", "g00d", String(repeating: "a", count: 65), "ｃ0ffee"] {
            XCTAssertFalse(RemoteConfig.isSafeContainerID(id), id)
        }
    }

    /// The real binary, as the issue ran it: the file is not made, and the command
    /// line is refused (status 2, one `gpuctop:` line). In a terminal, since without
    /// one the dashboard stops before ssh anyway.
    func testAnOptionInTheUserPartRunsNothing() throws {
        let dir = TestEnv.temporaryDirectory("remote-inject")
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("pwned").path
        let err = dir.appendingPathComponent("stderr").path
        let hostArg = TmuxSession.quote("-oProxyCommand=touch \(target)@x")
        let t = try TmuxSession(
            command: "\(TestEnv.gpuctopBinary.path) --host \(hostArg) 2>\(TmuxSession.quote(err)); echo EXITED=$?; sleep 600",
            environment: ["GPUCTOP_SSH": "-F /dev/null", "XDG_STATE_HOME": dir.path, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"])
        defer { _ = try? t.send("q"); _ = try? t.tmux(["kill-server"]) }
        let made = { FileManager.default.fileExists(atPath: target) || FileManager.default.fileExists(atPath: target + "@x") }
        let deadline = Date().addingTimeInterval(15)
        var screen = ""
        while Date() < deadline && !made() && !screen.contains("EXITED=") {
            usleep(100_000)
            screen = try t.screen()
        }
        usleep(500_000)
        XCTAssertFalse(made(), "ssh ran the ProxyCommand")
        screen = try t.screen()
        XCTAssertTrue(screen.contains("EXITED=2"), screen)
        let text = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        XCTAssertTrue(text.hasPrefix("gpuctop: bad user name '-oProxyCommand=touch "), text)
        XCTAssertEqual(text.filter { $0 == "\n" }.count, 1, "one line: \(text)")
    }

    /// A host whose stream goes wrong (a line past 8 MiB, a snapshot past the limits)
    /// is marked with the reason while its connection stays, its next good line brings
    /// it back, and the other host stays up throughout.
    func testABadStreamMarksItsHostWithTheReasonAndSparesTheOthers() throws {
        let dir = TestEnv.temporaryDirectory("remote-stream")
        defer { try? FileManager.default.removeItem(at: dir) }
        var good = Snapshot(time: Date().timeIntervalSince1970, host: "x")
        good.gpus = [GPU(index: 0)]
        try JSONEncoder().encode(good).write(to: dir.appendingPathComponent("good"))
        let process = #"{"pid":1,"gpuIndex":0,"kind":"compute"}"#
        let big = #"{"schema":1,"time":1,"host":"h","degraded":[],"gpus":[],"containers":[],"processes":["#
            + Array(repeating: process, count: SnapshotLimits.processes + 1).joined(separator: ",") + "]}"
        try big.write(to: dir.appendingPathComponent("big"), atomically: true, encoding: .utf8)
        let ssh = try fakeSSH(in: dir, body: """
            if [ "$dest" = bad ]; then
                head -c 9000000 /dev/zero | tr '\\0' x; echo; sleep 2
                cat good; echo; sleep 2
                cat big; echo; sleep 2
                cat good; echo; sleep 60
            else
                while :; do cat good; echo; sleep 0.3; done
            fi
            """)
        var config = RemoteConfig(environment: [:], interval: 1)
        config.ssh = [ssh]
        let remote = RemoteHosts(hosts: [HostSpec(host: "bad"), HostSpec(host: "good")], config: config)
        remote.start()
        defer { remote.stop() }
        let steps: [(String, (HostState) -> Bool)] = [
            ("the over-long line", { if case .down(let r, _) = $0 { return r == "line longer than 8 MiB from bad; not a gpuctop stream?" }; return false }),
            ("the good line after it", { if case .up = $0 { return true }; return false }),
            ("the refused snapshot", { if case .down(let r, _) = $0 { return r.hasPrefix("refused: \(SnapshotLimits.processes + 1) processes") }; return false }),
            ("the good line after that", { if case .up = $0 { return true }; return false }),
        ]
        for (what, holds) in steps {
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline && !holds(remote.state(0)) { usleep(20_000) }
            XCTAssertTrue(holds(remote.state(0)), "\(what): \(remote.state(0))")
            if case .up = remote.state(1) {} else { XCTFail("the good host during \(what): \(remote.state(1))") }
        }
        XCTAssertEqual(remote.merged().gpus.count, 2)
    }

    func testAHostWithoutGpuctopIsMarkedAndTheCommandLineIsChecked() throws {
        let r = try Run.gpuctop(["snapshot", "--host", "gpu1"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("for the dashboard"), r.stderr)
        // The merge, without a terminal: a host whose remote command is missing.
        let h = try TwoHosts(scenarios: [Self.scenario(name: "NVIDIA H200", uuid: "GPU-x", util: "10", process: (1, 1))],
                             dockerHost: nil)
        hosts = h
        let remote = RemoteHosts(hosts: [HostSpec(host: "gpu1")],
                                 config: RemoteConfig(environment: ["GPUCTOP_SSH": h.sshOptions,
                                                                    "GPUCTOP_REMOTE_COMMAND": "/nonexistent/gpuctop"], interval: 1))
        remote.start()
        defer { remote.stop() }
        let deadline = Date().addingTimeInterval(20)
        var merged = remote.merged()
        while Date() < deadline, !(merged.degraded.first?.reason.contains("not found") ?? false) {
            usleep(100_000)
            merged = remote.merged()
        }
        XCTAssertEqual(merged.degraded.first?.source, "host gpu1", "\(merged.degraded)")
        XCTAssertTrue(merged.degraded.first?.reason.contains("/nonexistent/gpuctop not found on gpu1") ?? false, "\(merged.degraded)")
        XCTAssertTrue(merged.degraded.first?.reason.contains("retrying") ?? false, "\(merged.degraded)")
        XCTAssertEqual(merged.host, "0 of 1 host up")
    }
}

/// `gpuctop snapshot --json --stream`: one JSON line per interval until stdout closes.
final class SnapshotStreamTests: XCTestCase {
    func streamEnvironment() throws -> [String: String] {
        let scenario = try FakeNVML.scenario("gpu\nname NVIDIA H200\nuuid GPU-s\nutil 10 20 30\nmemory_total 1000\nmemory_used 10\n")
        return ["FAKE_NVML_SCENARIO": scenario, "GPUCTOP_NVML": try FakeNVML.privateCopy(), "DOCKER_HOST": "unix:///nonexistent.sock"]
    }

    func testLinesAreJSONAtTheIntervalAndAClosedReaderEndsIt() throws {
        let bin = TestEnv.gpuctopBinary.path
        let r = try Run.command(["/bin/bash", "-c",
                                 "\(bin) snapshot --json --stream --interval 0.5 | head -n 3; echo \"status=${PIPESTATUS[0]}\" >&2"],
                                environment: try streamEnvironment(), timeout: 30)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3, r.stdout)
        var utils: [Int] = []
        for line in lines {
            let s = try JSONDecoder().decode(Snapshot.self, from: Data(line.utf8))
            utils.append(s.gpus.first?.utilizationGpu ?? -1)
        }
        XCTAssertEqual(utils, [10, 20, 30], "one sample per line")
        // Three lines at 0.5 s need two intervals; the fourth write meets EPIPE and exits 0, quietly.
        XCTAssertGreaterThanOrEqual(r.seconds, 1.4, "interval respected")
        XCTAssertLessThan(r.seconds, 10)
        XCTAssertTrue(r.stderr.contains("status=0"), r.stderr)
        XCTAssertFalse(r.stderr.contains("gpuctop:"), "quiet on a closed stdout: \(r.stderr)")
    }

    /// `snapshot --json --stream` at `interval`, once its first line (a JSON object) came.
    func startStream(interval: String) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = TestEnv.gpuctopBinary
        p.arguments = ["snapshot", "--json", "--stream", "--interval", interval]
        p.environment = ProcessInfo.processInfo.environment.merging(try streamEnvironment()) { $1 }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let firstLine = out.fileHandleForReading.availableData
        XCTAssertTrue(firstLine.starts(with: Data("{".utf8)), String(decoding: firstLine, as: UTF8.self))
        return (p, out)
    }

    /// Waits (10 s at most) for the stream to end with status 0; the seconds it took from `since`.
    func assertEndsCleanly(_ p: Process, since: Date) -> Double {
        let deadline = since.addingTimeInterval(10)
        while p.isRunning && Date() < deadline { usleep(5_000) }
        let took = Date().timeIntervalSince(since)
        XCTAssertFalse(p.isRunning)
        if p.isRunning { p.terminate() } else { XCTAssertEqual(p.terminationStatus, 0) }
        return took
    }

    /// The stream ends as soon as a write meets the closed reader, not when the XID
    /// thread's NVML wait (a second) next ends: the first line comes right after that wait
    /// began, so the next write, 0.1 s later, would otherwise wait 0.9 s more.
    func testAClosedReaderEndsTheStreamAtOnce() throws {
        let (p, out) = try startStream(interval: "0.1")
        try out.fileHandleForReading.close()
        let took = assertEndsCleanly(p, since: Date())
        XCTAssertLessThan(took, 0.75, "one interval and the write, not the XID wait (1.0 s measured)")
    }

    func testSIGTERMEndsTheStream() throws {
        let (p, _) = try startStream(interval: "0.25")
        kill(p.processIdentifier, SIGTERM)
        _ = assertEndsCleanly(p, since: Date())
    }

    func testStreamNeedsJSON() throws {
        let r = try Run.gpuctop(["snapshot", "--stream"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("--stream needs --json"), r.stderr)
    }
}
