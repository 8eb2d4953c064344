// Which engine sockets a container action consults, and how an argument resolves across
// Docker and Podman: pure, with the machine's files and environment passed in.
import Actions
import DockerSocket
import Model
import XCTest

final class EngineSocketsTests: XCTestCase {
    let rootless = "/run/user/1000/podman/podman.sock"

    func endpoints(docker: String? = nil, podman: String? = nil, env: [String: String] = [:],
                   existing: Set<String>) throws -> [EngineEndpoint] {
        try EngineSockets.endpoints(dockerHost: docker, podmanHost: podman, environment: env,
                                       fileExists: { existing.contains($0) })
    }

    func testEverySocketThatExistsDockerFirst() throws {
        let all: Set<String> = ["/var/run/docker.sock", "/run/podman/podman.sock", rootless]
        XCTAssertEqual(try endpoints(env: ["XDG_RUNTIME_DIR": "/run/user/1000/"], existing: all), [
            EngineEndpoint(socketPath: "/var/run/docker.sock", explicit: false),
            EngineEndpoint(socketPath: "/run/podman/podman.sock", explicit: false),
            EngineEndpoint(socketPath: rootless, explicit: false),
        ])
        // Only Podman on the host: no Docker endpoint, so Docker's absence is no error.
        XCTAssertEqual(try endpoints(existing: ["/run/podman/podman.sock"]),
                       [EngineEndpoint(socketPath: "/run/podman/podman.sock", explicit: false)])
        // A relative XDG_RUNTIME_DIR is not a place (the XDG spec says to ignore it).
        XCTAssertEqual(try endpoints(env: ["XDG_RUNTIME_DIR": "run/user/1000"], existing: ["run/user/1000/podman/podman.sock"]),
                       [EngineEndpoint(socketPath: "/var/run/docker.sock", explicit: true)])
    }

    func testNothingThereNamesDockersUsualPath() throws {
        XCTAssertEqual(try endpoints(existing: []), [EngineEndpoint(socketPath: "/var/run/docker.sock", explicit: true)])
    }

    func testOptionsAndVariablesAreExplicitAndReplaceTheProbes() throws {
        let all: Set<String> = ["/var/run/docker.sock", "/run/podman/podman.sock"]
        XCTAssertEqual(try endpoints(docker: "unix:///tmp/d.sock", podman: "unix:///tmp/p.sock", existing: all), [
            EngineEndpoint(socketPath: "/tmp/d.sock", explicit: true),
            EngineEndpoint(socketPath: "/tmp/p.sock", explicit: true),
        ])
        XCTAssertEqual(try endpoints(env: ["DOCKER_HOST": "unix:///tmp/e.sock"], existing: all), [
            EngineEndpoint(socketPath: "/tmp/e.sock", explicit: true),
            EngineEndpoint(socketPath: "/run/podman/podman.sock", explicit: false),
        ])
        // DOCKER_HOST pointing at Podman's socket: one engine, consulted once.
        XCTAssertEqual(try endpoints(env: ["DOCKER_HOST": "unix:///run/podman/podman.sock"], existing: all),
                       [EngineEndpoint(socketPath: "/run/podman/podman.sock", explicit: true)])
        XCTAssertThrowsError(try endpoints(podman: "tcp://10.0.0.1:2375", existing: all)) { error in
            XCTAssertTrue("\(error)".contains("only unix:// sockets are supported"), "\(error)")
        }
    }

    func testTheSameNameInTwoEnginesIsAmbiguous() {
        func c(_ engine: ContainerRef.Runtime, _ id: String, _ name: String) -> EngineContainer {
            EngineContainer(engine: engine, socketPath: engine == .docker ? "/d.sock" : "/p.sock",
                            summary: ContainerSummary(id: id + String(repeating: "0", count: 64 - id.count), names: [name], state: "running"))
        }
        let dockerWeb = c(.docker, "aaaa", "web"), podmanWeb = c(.podman, "bbbb", "web")
        let podmanDb = c(.podman, "cccc", "db"), dockerDbx = c(.docker, "dddd", "dbx")
        let all = [dockerWeb, podmanWeb, podmanDb, dockerDbx]
        XCTAssertEqual(ContainerActions.resolve("web", among: all), .ambiguous([dockerWeb, podmanWeb]))
        let error = ContainerActionError.ambiguous(argument: "web", candidates: [dockerWeb, podmanWeb])
        XCTAssertEqual(error.description,
                       "'web' matches 2 containers: web [aaaa00000000] (Docker), web [bbbb00000000] (Podman); give more of the name or id")
        // An exact name in one engine wins over a longer name in the other.
        XCTAssertEqual(ContainerActions.resolve("db", among: all), .found(podmanDb))
        XCTAssertEqual(ContainerActions.resolve("bbbb", among: all), .found(podmanWeb))
        XCTAssertEqual(ContainerActions.resolve("we", among: all), .ambiguous([dockerWeb, podmanWeb]))
        XCTAssertEqual(ContainerActions.describe(podmanWeb), "web [bbbb00000000] (Podman, running)")
    }

    func testTheEnginesLabelsGoToThePolicy() {
        var summary = ContainerSummary(id: String(repeating: "e", count: 64), names: ["k8s_pytorch_trainer-0_research_u_0"], state: "running",
                                       labels: ["io.kubernetes.pod.name": "trainer-0", "io.kubernetes.pod.namespace": "research"])
        let k8s = EngineContainer(engine: .docker, socketPath: "/d.sock", summary: summary)
        XCTAssertEqual(ContainerActions.refusal(.stop(timeout: nil), on: k8s),
                       "refusing to stop k8s_pytorch_trainer-0_research_u_0 [eeeeeeeeeeee]: Kubernetes manages it (pod research/trainer-0) and would undo that; use kubectl delete pod -n research trainer-0")
        summary.labels = ["com.docker.compose.service": "web"]
        XCTAssertNil(ContainerActions.refusal(.kill(signal: nil), on: EngineContainer(engine: .podman, socketPath: "/p.sock", summary: summary)))
    }
}
