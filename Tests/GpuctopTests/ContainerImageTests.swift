// The container image as an operator runs it: scripts/build-image.sh builds gpuctop:<version>
// from the release binary (GPUCTOP_RELEASE_BIN) against the test dockerd, then the image runs
// there with the host's root mounted (`--pid=host -v /:/host:ro`) and the fake NVML mounted in
// place of the one the NVIDIA container toolkit would provide (GPUCTOP_NVML): its snapshot
// joins host PIDs to the test daemon's containers, its exporter serves /metrics with a
// read-only root and no capabilities, and its dashboard draws in a terminal.
//
// The host's files are found with --host-root /host (its /proc and the engines' state);
// the test daemon's socket is not at Docker's usual path, so --docker-host names it under /host.
import Foundation
import Model
import TestSupport
import XCTest

final class ContainerImageTests: XCTestCase {
    /// The image's tag, built once for the class.
    private static var built: String?
    private var containers: [String] = []
    private var directories: [URL] = []

    override func tearDown() {
        if !containers.isEmpty { _ = try? Docker.run(["rm", "-f"] + containers) }
        containers = []
        directories.forEach { try? FileManager.default.removeItem(at: $0) }
        directories = []
        super.tearDown()
    }

    private func image() throws -> String {
        if let built = Self.built { return built }
        let version = try ReleaseBinary.version()
        let r = try Run.command([TestEnv.repoRoot.appendingPathComponent("scripts/build-image.sh").path,
                                 "--binary", try ReleaseBinary.path()],
                                environment: ["DOCKER_HOST": try Docker.host()], timeout: 300)
        guard r.status == 0 else { throw TestFailure("build-image.sh failed (\(r.status)):\n\(r.stdout)\n\(r.stderr)") }
        XCTAssertEqual(r.stdout, "gpuctop:\(version)\ngpuctop:latest\n")
        Self.built = "gpuctop:\(version)"
        return Self.built!
    }

    /// A busybox container of the test daemon and the host PID of its process.
    private func workload(_ role: String) throws -> (name: String, id: String, pid: Int32) {
        let name = "img-\(role)-\(UUID().uuidString.prefix(8).lowercased())"
        containers.append(name)
        let id = try Docker.runContainer(name)
        return (name, id, try Docker.pid(name))
    }

    /// A directory for the container's /nvml: the fake libnvidia-ml.so.1 and a scenario in
    /// which `pid` computes on an H200.
    private func nvmlDirectory(pid: Int32) throws -> URL {
        let dir = TestEnv.temporaryDirectory("image-nvml")
        directories.append(dir)
        try FileManager.default.copyItem(atPath: try FakeNVML.builtDirectory().appendingPathComponent("libnvidia-ml.so.1").path,
                                         toPath: dir.appendingPathComponent("libnvidia-ml.so.1").path)
        try (Scenarios.h200() + Scenarios.computeProcesses(pids: [pid]) + "\n")
            .write(to: dir.appendingPathComponent("scenario"), atomically: true, encoding: .utf8)
        chmod(dir.path, 0o755)
        return dir
    }

    /// `docker run` options: the host's PIDs and root, the fake NVML, and the options that
    /// point gpuctop at the host's /proc and the test daemon's socket under /host.
    private func hostOptions(nvml: URL) throws -> (docker: [String], gpuctop: [String]) {
        let socket = String(try Docker.host().dropFirst("unix://".count))
        return (["--pid=host", "-v", "/:/host:ro", "-v", "\(nvml.path):/nvml:ro",
                 "-e", "GPUCTOP_NVML=/nvml/libnvidia-ml.so.1", "-e", "FAKE_NVML_SCENARIO=/nvml/scenario"],
                ["--host-root", "/host", "--docker-host", "unix:///host\(socket)"])
    }

    func testTheImageIsTheBinaryItsLibrariesAndTerminfoOnly() throws {
        let tag = try image()
        XCTAssertEqual(try Docker.run(["image", "inspect", "-f", "{{len .RootFS.Layers}} {{json .Config.Entrypoint}}", tag]),
                       "1 [\"/usr/bin/gpuctop\"]", "one layer of our own: no base image")
        XCTAssertEqual(try Docker.run(["image", "inspect", "-f", "{{.Id}}", "gpuctop:latest"]),
                       try Docker.run(["image", "inspect", "-f", "{{.Id}}", tag]))
        let size = Int(try Docker.run(["image", "inspect", "-f", "{{.Size}}", tag])) ?? 0
        XCTAssertLessThan(size, 40 << 20, "the image holds more than the binary and its libraries")

        // Every file in it.
        let name = "img-files-\(UUID().uuidString.prefix(8).lowercased())"
        containers.append(name)
        try Docker.run(["create", "--name", name, tag])
        let dir = TestEnv.temporaryDirectory("image-export")
        directories.append(dir)
        let tarPath = dir.appendingPathComponent("fs.tar").path
        try Docker.run(["export", "-o", tarPath, name])
        let files = try Run.command(["/bin/tar", "-tf", tarPath]).stdout.split(separator: "\n").map(String.init)
            .filter { !$0.hasSuffix("/") }
        // What Docker itself puts into every container.
        let docker: Set<String> = [".dockerenv", "etc/hostname", "etc/hosts", "etc/resolv.conf", "etc/mtab", "dev/console", "dev/shm",
                                   "dev/pts", "proc", "sys"]
        let libs = ["libc.so.6", "libm.so.6", "libncursesw.so.6", "libtinfo.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1"]
        let terms = ["x/xterm", "x/xterm-256color", "s/screen", "s/screen-256color", "t/tmux", "t/tmux-256color", "l/linux",
                     "v/vt100", "v/vt220", "d/dumb"]
        let ours = Set(["usr/bin/gpuctop", "lib", "lib64/ld-linux-x86-64.so.2", "etc/passwd", "etc/group", "etc/nsswitch.conf"]
                       + libs.map { "usr/lib/x86_64-linux-gnu/\($0)" } + terms.map { "usr/share/terminfo/\($0)" })
        XCTAssertEqual(Set(files).subtracting(docker), ours)
        XCTAssertFalse(files.contains("bin/sh"), "no shell")
    }

    func testSnapshotInTheImageJoinsTheHostsGPUProcessesToItsContainers() throws {
        let tag = try image()
        let busy = try workload("busy")
        let options = try hostOptions(nvml: try nvmlDirectory(pid: busy.pid))
        let out = try Docker.run(["run", "--rm", "--network", "none", "--read-only", "--cap-drop", "ALL"] + options.docker
                                 + [tag, "snapshot", "--json"] + options.gpuctop, timeout: 60)
        let snapshot = try JSONDecoder().decode(Snapshot.self, from: Data(out.utf8))
        XCTAssertEqual(snapshot.gpus.map(\.name), ["NVIDIA H200"], "NVML read in the image")
        // NVML, /proc and Docker are read; the machine may also hold containerd state that a
        // root without capabilities cannot open (its shims make /run/containerd 0600), which is
        // that engine's own line and not this test's business.
        XCTAssertFalse(snapshot.degraded.contains { ["nvml", "procfs", "docker"].contains($0.source) }, "\(snapshot.degraded)")
        let process = try XCTUnwrap(snapshot.processes.first { $0.pid == busy.pid }, "the host PID in the scenario")
        XCTAssertEqual(process.info?.container?.id, busy.id, "joined through the host's /proc to the container")
        XCTAssertEqual(process.info?.command, "sleep 1000")
        let container = try XCTUnwrap(snapshot.containers.first { $0.id == busy.id })
        XCTAssertEqual(container.name, busy.name, "named by the host's Docker daemon")
        XCTAssertEqual(container.processCount, 1)
    }

    func testExportInTheImageServesMetrics() throws {
        let tag = try image()
        let busy = try workload("exp")
        let options = try hostOptions(nvml: try nvmlDirectory(pid: busy.pid))
        let name = "img-export-\(UUID().uuidString.prefix(8).lowercased())"
        containers.append(name)
        // As the DaemonSet runs it: read-only root, no capabilities, no new privileges, --read-only.
        try Docker.run(["run", "-d", "--name", name, "--network", "host", "--read-only", "--cap-drop", "ALL",
                        "--security-opt", "no-new-privileges"] + options.docker
                       + [tag, "export", "--listen", "127.0.0.1:0", "--read-only", "--interval", "0.5"] + options.gpuctop)
        var port: UInt16 = 0
        let deadline = Date().addingTimeInterval(20)
        while port == 0 && Date() < deadline {
            let logs = (try? Docker.run(["logs", name])) ?? ""
            if let range = logs.range(of: #"http://127\.0\.0\.1:[0-9]+/metrics"#, options: .regularExpression) {
                port = UInt16(logs[range].dropFirst("http://127.0.0.1:".count).dropLast("/metrics".count)) ?? 0
            }
            if port == 0 { usleep(100_000) }
        }
        XCTAssertNotEqual(port, 0, "export did not say where it serves: \((try? Docker.run(["logs", name])) ?? "")")
        guard port != 0 else { return }
        var body = ""
        let line = "gpuctop_container_gpu_memory_bytes{container=\"\(busy.name)\",container_id=\"\(busy.id.prefix(12))\",gpu=\"0\""
        while Date() < deadline + 10 && !body.contains(line) {
            let response = try RawHTTP.exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertEqual(RawHTTP.statusLine(response), "HTTP/1.1 200 OK")
            body = RawHTTP.body(response)
            if !body.contains(line) { usleep(200_000) }
        }
        XCTAssertTrue(body.contains(line), "no metric for \(busy.name):\n\(body)")
        XCTAssertTrue(body.contains("gpuctop_up 1"), body)
        XCTAssertTrue(body.contains("gpuctop_source_degraded{source=\"docker\""), body)
        XCTAssertFalse(body.contains("gpuctop_source_degraded{source=\"nvml\",Hostname=\"vm\"} 1"))
        XCTAssertEqual(try Docker.run(["inspect", "-f", "{{.State.Running}}", name]), "true")
    }

    func testTheDashboardInTheImageDrawsInATerminal() throws {
        let tag = try image()
        let busy = try workload("tty")
        let options = try hostOptions(nvml: try nvmlDirectory(pid: busy.pid))
        let name = "img-tty-\(UUID().uuidString.prefix(8).lowercased())"
        containers.append(name)
        let args = ["/usr/bin/docker", "-H", try Docker.host(), "run", "--rm", "-it", "--name", name, "--network", "none",
                    "-e", "TERM=xterm-256color"] + options.docker + [tag] + options.gpuctop + ["--read-only"]
        let command = args.map(TmuxSession.quote).joined(separator: " ") + "; echo EXITED:$?; sleep 600"
        let terminal = try TmuxSession(command: command, width: 160, height: 40, environment: ["LC_ALL": "C.UTF-8"])
        // ncurses found its terminfo entry and the dashboard drew the container.
        try terminal.waitFor(busy.name, timeout: 30)
        let screen = try terminal.screen()
        XCTAssertTrue(screen.contains("H200") && screen.contains("read-only"), screen)
        try terminal.send("q")
        try terminal.waitFor("EXITED:0", timeout: 20)
    }
}
