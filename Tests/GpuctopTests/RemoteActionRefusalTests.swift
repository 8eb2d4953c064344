// What a several-host dashboard forwards over ssh, against a host whose snapshot is
// hostile: a fake `ssh` first in PATH streams a crafted snapshot and logs every other
// command it is asked to run. A container id that is not hex never reaches ssh; a
// signal carries the start time its question was asked with (`--start-time`), so the
// remote gpuctop refuses a PID that has become another process.
import Foundation
import Model
import TestSupport
import XCTest

final class RemoteActionRefusalTests: XCTestCase {
    /// One GPU; container `c0ffee;touch x` running `python evil.py` (PID 4242, start
    /// time 777 ticks); the host process `python ok.py` (PID 4343, start time 888).
    func hostileSnapshot() throws -> String {
        let now = Date().timeIntervalSince1970
        var s = Snapshot(time: now, host: "fake")
        var g = GPU(index: 0); g.name = "NVIDIA H200"; g.uuid = "GPU-fake"; g.memoryTotal = 150 << 30
        s.gpus = [g]
        let badId = "c0ffee;touch x"
        var evil = GPUProcess(pid: 4242, gpuIndex: 0, kind: .compute); evil.usedGpuMemory = 8 << 30
        evil.info = ProcessInfoSample(command: "python evil.py", user: "root", uid: 0, startTime: now - 100)
        evil.info?.startTicks = 777
        evil.info?.container = ContainerRef(runtime: .docker, id: badId)
        var ok = GPUProcess(pid: 4343, gpuIndex: 0, kind: .compute); ok.usedGpuMemory = 1 << 30
        ok.info = ProcessInfoSample(command: "python ok.py", user: "root", uid: 0, startTime: now - 100)
        ok.info?.startTicks = 888
        s.processes = [evil, ok]
        var c = ContainerUsage(id: badId); c.name = "evil"; c.gpus = [0]; c.processCount = 1; c.gpuMemory = 8 << 30
        var h = ContainerUsage(id: "host"); h.gpus = [0]; h.processCount = 1; h.gpuMemory = 1 << 30
        s.containers = [c, h]
        return String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
    }

    /// A directory with an `ssh` that streams `snapshot` and logs any other remote command.
    func fakeSSH(_ dir: URL, snapshot: String) throws -> (bin: URL, calls: URL) {
        let bin = dir.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let snapshotFile = dir.appendingPathComponent("snapshot.json")
        try (snapshot + "\n").write(to: snapshotFile, atomically: true, encoding: .utf8)
        let calls = dir.appendingPathComponent("calls.log")
        let script = """
        #!/bin/bash
        # ssh [options] -- DESTINATION gpuctop ARGUMENTS...
        while [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done
        shift 3
        case "$*" in
          snapshot*) while true; do cat '\(snapshotFile.path)' || exit 1; sleep 0.5; done ;;
          *) printf '%s\\n' "$*" >> '\(calls.path)'; echo "done: $*" ;;
        esac

        """
        let ssh = bin.appendingPathComponent("ssh")
        try script.write(to: ssh, atomically: true, encoding: .utf8)
        chmod(ssh.path, 0o755)
        return (bin, calls)
    }

    func testANonHexContainerIdIsNeverForwardedAndASignalCarriesItsStartTime() throws {
        let dir = TestEnv.temporaryDirectory("remote-act")
        let (bin, calls) = try fakeSSH(dir, snapshot: try hostileSnapshot())
        let path = bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let t = try TmuxSession(
            command: "\(TestEnv.gpuctopBinary.path) --host fake --interval 0.5; echo EXITED; sleep 600",
            environment: ["PATH": path, "XDG_STATE_HOME": dir.appendingPathComponent("state").path,
                          "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"])
        defer { _ = try? t.tmux(["kill-server"]) }
        try t.waitFor("the hostile container", timeout: 20) { $0.contains("evil") && $0.contains("pid 4343") }

        // The first row is the container with the most GPU memory: its id is not hex.
        try t.send("x")
        try t.waitFor("the question") { $0.contains("Stop container evil") }
        try t.send("y")
        try t.waitFor("the refusal") { $0.contains("fake: stop evil: refusing a container id that is not 1 to 64 hex digits") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: calls.path), "ssh never ran a stop")

        // A signal goes with the start time of the process the question named.
        try t.send("/")
        try t.type("ok.py")
        try t.send("Enter")
        try t.waitFor("filtered") { $0.contains("filter \"ok.py\"") }
        try t.send("Down")
        try t.send("T")
        try t.waitFor("the signal question") { $0.contains("Send SIGTERM to host PID 4343") && $0.contains(": python ok.py") }
        try t.send("y")
        try t.waitFor("the remote's answer") { $0.contains("fake: done: signal 4343") }
        let log = try String(contentsOf: calls, encoding: .utf8)
        XCTAssertEqual(log, "signal 4343 --signal TERM --start-time 888 --yes\n")
        try t.send("q")
        try t.waitFor("EXITED")
    }
}
