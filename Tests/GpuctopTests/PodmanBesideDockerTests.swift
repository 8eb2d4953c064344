// A real Podman (Debian's podman 4.3, `podman system service` on a socket of this test's
// own, with its own storage) beside the real test dockerd: both engines are read at once
// and each names its own container in one snapshot.
import Foundation
import Model
import TestSupport
import XCTest

final class PodmanBesideDockerTests: XCTestCase {
    private var directory = ""
    private var service: pid_t = 0
    private var dockerContainers: [String] = []

    override func tearDown() {
        if !directory.isEmpty {
            _ = try? Run.leavingDaemons(podman(["rm", "-f", "-a", "-t", "0"]), timeout: 60)
        }
        if service > 0 {
            kill(service, SIGTERM)
            var status: Int32 = 0
            waitpid(service, &status, 0)
            service = 0
        }
        if !dockerContainers.isEmpty { _ = try? Docker.run(["rm", "-f"] + dockerContainers) }
        dockerContainers = []
        if !directory.isEmpty {
            // Podman's overlay and shm mounts below its root go first.
            _ = try? Run.command(["/bin/sh", "-c", "awk -v d='\(directory)/' 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | xargs -r -n1 umount -l"])
            try? FileManager.default.removeItem(atPath: directory)
            directory = ""
        }
        super.tearDown()
    }

    /// podman with this test's storage and the options these machines need.
    private func podman(_ args: [String]) -> [String] {
        ["/usr/bin/podman", "--root", "\(directory)/root", "--runroot", "\(directory)/run",
         "--cgroup-manager=cgroupfs", "--events-backend=file"] + args
    }

    /// podman ARGS to completion. Not with Foundation's Process: `podman run -d` leaves conmon
    /// behind holding what Process waits on (Run.leavingDaemons says why).
    @discardableResult
    private func runPodman(_ args: [String]) throws -> String {
        let r = try Run.leavingDaemons(podman(args), timeout: 120)
        guard r.status == 0 else { throw TestFailure("podman \(args.joined(separator: " ")): \(r.output)") }
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testDockerAndPodmanContainersInOneSnapshot() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/podman") else {
            return XCTFail("/usr/bin/podman is missing (apt-get install podman)")
        }
        let dockerHost = try Docker.host()
        directory = TestEnv.temporaryDirectory("podman-engines").path
        // An image from a busybox rootfs, as the test dockerd's is made.
        let rootfs = try Containerd.makeRootfs()
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        let tar = "\(directory)/rootfs.tar"
        XCTAssertEqual(try Run.command(["/bin/tar", "-C", rootfs, "-cf", tar, "."]).status, 0)
        try runPodman(["import", "--quiet", "--change", "CMD [\"sh\"]", tar, "localhost/gpuctop-engines"])
        let socket = "\(directory)/podman.sock"
        service = try Run.detached(podman(["system", "service", "--time=0", "unix://\(socket)"]), log: "\(directory)/service.log")
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: socket) && Date() < deadline { usleep(50_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: socket), (try? String(contentsOfFile: "\(directory)/service.log", encoding: .utf8)) ?? "")

        let podName = "gpe-\(UUID().uuidString.prefix(8).lowercased())"
        try runPodman(["run", "-d", "--name", podName, "--network", "none", "--label", "com.docker.compose.service=infer",
                       "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
                       "localhost/gpuctop-engines", "sleep", "1000"])
        let podID = try runPodman(["inspect", "-f", "{{.Id}}", podName])
        let podPID = try XCTUnwrap(Int32(try runPodman(["inspect", "-f", "{{.State.Pid}}", podName])))
        let dockerName = "gpe-\(UUID().uuidString.prefix(8).lowercased())"
        dockerContainers.append(dockerName)
        let dockerID = try Docker.runContainer(dockerName)
        let dockerPID = try Docker.pid(dockerID)

        let scenario = "gpu\nname NVIDIA H200\nmemory_total 150754820096\npower 300000\n"
            + "process compute pid=\(podPID) mem=2GiB sm=30\nprocess compute pid=\(dockerPID) mem=1GiB sm=10\n"
        let lib = try FakeNVML.privateCopy()
        let env = ["FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario), "DOCKER_HOST": "", "XDG_RUNTIME_DIR": ""]
        let args = ["--nvml", lib, "--docker-host", dockerHost, "--podman-host", "unix://\(socket)",
                    "--containerd-state", "/nonexistent"]
        let r = try Run.gpuctop(["snapshot", "--json"] + args, environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        let s = try JSONDecoder().decode(Snapshot.self, from: Data(r.stdout.utf8))
        XCTAssertEqual(s.degraded, [], "\(s.degraded)")
        XCTAssertEqual(s.engines, ["docker", "podman"])
        let p = try XCTUnwrap(s.containers.first { $0.id == podID }, "\(s.containers.map(\.id))")
        XCTAssertEqual(p.runtime, .podman)
        XCTAssertEqual(p.name, podName)
        XCTAssertEqual(p.image, "localhost/gpuctop-engines:latest")
        XCTAssertEqual(p.composeService, "infer")
        XCTAssertEqual(s.processes.first { $0.pid == podPID }?.info?.container?.runtime, .podman)
        let d = try XCTUnwrap(s.containers.first { $0.id == dockerID })
        XCTAssertEqual(d.runtime, .docker)
        XCTAssertEqual(d.name, dockerName)

        let text = try Run.gpuctop(["snapshot"] + args, environment: env)
        XCTAssertTrue(text.stdout.split(separator: "\n").first?.contains("engines: docker, podman") ?? false, text.stdout)
        XCTAssertTrue(text.stdout.split(separator: "\n").contains { $0.hasPrefix(podName) }, text.stdout)

        // The same socket named twice is read once.
        let twice = try Run.gpuctop(["snapshot", "--json", "--nvml", lib, "--docker-host", dockerHost, "--podman-host", dockerHost,
                                     "--containerd-state", "/nonexistent"], environment: env)
        let t = try JSONDecoder().decode(Snapshot.self, from: Data(twice.stdout.utf8))
        XCTAssertEqual(t.engines, ["docker"])
        XCTAssertEqual(t.degraded, [])
    }
}
