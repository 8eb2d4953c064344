// Pure pieces: socket selection, API version negotiation, timestamps, error descriptions, JSON models.
@testable import DockerSocket
import Foundation
import XCTest

final class EndpointTests: XCTestCase {
    func testResolutionOrder() throws {
        let none: (String) -> Bool = { _ in false }
        XCTAssertEqual(try DockerEndpoint.resolve(dockerHost: "unix:///opt/d.sock", environment: ["DOCKER_HOST": "unix:///env.sock"], fileExists: none),
                       DockerEndpoint(socketPath: "/opt/d.sock", source: .option))
        XCTAssertEqual(try DockerEndpoint.resolve(dockerHost: nil, environment: ["DOCKER_HOST": "unix:///env.sock"], fileExists: none),
                       DockerEndpoint(socketPath: "/env.sock", source: .environment))
        XCTAssertEqual(try DockerEndpoint.resolve(dockerHost: "", environment: ["DOCKER_HOST": ""], fileExists: { $0 == "/var/run/docker.sock" }),
                       DockerEndpoint(socketPath: "/var/run/docker.sock", source: .dockerDefault))
        XCTAssertEqual(try DockerEndpoint.resolve(dockerHost: nil, environment: [:], fileExists: { $0 == "/run/podman/podman.sock" }),
                       DockerEndpoint(socketPath: "/run/podman/podman.sock", source: .podmanRootful))
        XCTAssertEqual(try DockerEndpoint.resolve(dockerHost: nil, environment: ["XDG_RUNTIME_DIR": "/run/user/1000/"],
                                                  fileExists: { $0 == "/run/user/1000/podman/podman.sock" }),
                       DockerEndpoint(socketPath: "/run/user/1000/podman/podman.sock", source: .podmanRootless))
        XCTAssertEqual(try DockerEndpoint.resolve(dockerHost: nil, environment: ["XDG_RUNTIME_DIR": "/run/user/1000"], fileExists: none),
                       DockerEndpoint(socketPath: "/var/run/docker.sock", source: .fallback))
        XCTAssertEqual(try DockerEndpoint.socketPath(fromHost: "/plain/path.sock"), "/plain/path.sock")
    }

    func testUnsupportedHosts() {
        for host in ["tcp://127.0.0.1:2375", "ssh://user@host", "npipe:////./pipe/docker_engine", "fd://", "unix://relative.sock", "localhost:2375"] {
            let error = assertDockerError(try DockerEndpoint.resolve(dockerHost: host, environment: [:], fileExists: { _ in true })) {
                if case .unsupportedHost = $0 { return true } else { return false }
            }
            XCTAssertTrue(error?.description.contains("not supported") ?? false)
        }
        assertDockerError(try DockerEndpoint.resolve(dockerHost: nil, environment: ["DOCKER_HOST": "tcp://10.0.0.1:2376"])) {
            if case .unsupportedHost(let host, _) = $0 { return host == "tcp://10.0.0.1:2376" } else { return false }
        }
    }
}

final class APIVersionTests: XCTestCase {
    func testParsingAndOrdering() {
        XCTAssertEqual(APIVersion("1.41"), APIVersion(1, 41))
        XCTAssertLessThan(APIVersion("1.9")!, APIVersion("1.41")!)
        XCTAssertNil(APIVersion("1"))
        XCTAssertNil(APIVersion("1.x"))
        XCTAssertNil(APIVersion("v1.41"))
        XCTAssertNil(APIVersion(""))
        XCTAssertEqual(APIVersion(1, 47).description, "1.47")
    }

    func testNegotiation() throws {
        // Debian 12's dockerd.
        XCTAssertEqual(try APIVersion.negotiate(serverVersion: "1.41", serverMinimum: "1.12"), APIVersion(1, 41))
        // Current Docker: newer than us, minimum 1.44.
        XCTAssertEqual(try APIVersion.negotiate(serverVersion: "1.51", serverMinimum: "1.44"), APIVersion(1, 47))
        XCTAssertEqual(try APIVersion.negotiate(serverVersion: "1.47", serverMinimum: "1.24"), APIVersion(1, 47))
        // No version given: unversioned paths.
        XCTAssertNil(try APIVersion.negotiate(serverVersion: nil, serverMinimum: nil))
        let error = assertDockerError(try APIVersion.negotiate(serverVersion: "1.60", serverMinimum: "1.50")) {
            $0 == .apiTooOld(ours: "1.47", serverMinimum: "1.50")
        }
        XCTAssertEqual(error?.description, "the daemon requires Docker API 1.50 or newer; gpuctop speaks at most 1.47")
    }
}

final class TimestampTests: XCTestCase {
    func testParsing() {
        XCTAssertEqual(Timestamp.parse("1970-01-01T00:00:00Z")?.timeIntervalSince1970, 0)
        XCTAssertEqual(Timestamp.parse("2024-02-29T12:34:56Z")?.timeIntervalSince1970, 1_709_210_096)
        XCTAssertEqual(Timestamp.parse("2024-02-29T12:34:56.5+01:00")?.timeIntervalSince1970, 1_709_206_496.5)
        XCTAssertEqual(Timestamp.parse("2026-11-22T02:47:30.714370954Z")!.timeIntervalSince1970, 1_795_315_650.714370954, accuracy: 1e-6)
        XCTAssertNil(Timestamp.parse("0001-01-01T00:00:00Z"))
        XCTAssertNil(Timestamp.parse("yesterday"))
        XCTAssertNil(Timestamp.parse("2024-13-01T00:00:00Z"))
        XCTAssertNil(Timestamp.parse("2024-01-01T00:00:00"))
        XCTAssertNil(Timestamp.parse("2024-01-01T00:00:00.Z"))
    }
}

final class ModelDecodingTests: XCTestCase {
    private func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try DockerClient.decode(type, from: Array(json.utf8), what: "test")
    }

    func testListToleratesNullsAndMissingFields() throws {
        let list = try decode([ContainerSummary].self, #"""
        [{"Id":"a","Names":["/web-1"],"Image":"nginx","State":"running","Status":"Up 2 minutes","Labels":null,"Created":1700000000},
         {"Id":"b"},
         {"Id":"c","Names":null,"Labels":{"com.docker.compose.project":"p"},"Created":"not a number"}]
        """#)
        XCTAssertEqual(list[0], ContainerSummary(id: "a", names: ["web-1"], image: "nginx", state: "running",
                                                 status: "Up 2 minutes", labels: [:], created: 1_700_000_000))
        XCTAssertEqual(list[1], ContainerSummary(id: "b"))
        XCTAssertEqual(list[2].labels, ["com.docker.compose.project": "p"])
        XCTAssertNil(list[2].created)
    }

    func testInspectFields() throws {
        let details = try decode(ContainerDetails.self, #"""
        {"Id":"abc","Name":"/train","Image":"sha256:1","State":{"Status":"running","Running":true,"Pid":4242,
         "StartedAt":"2024-02-29T12:34:56.123Z","Health":{"Status":"healthy","FailingStreak":0}},
         "Config":{"Image":"pytorch:latest","Labels":null},
         "HostConfig":{"CgroupParent":"/kubepods/pod1","DeviceRequests":[{"Driver":"nvidia","Count":-1,"DeviceIDs":null,"Capabilities":[["gpu"]],"Options":{}}],
                       "Devices":[{"PathOnHost":"/dev/nvidia0","PathInContainer":"/dev/nvidia0","CgroupPermissions":"rwm"}]}}
        """#)
        XCTAssertEqual(details.name, "train")
        XCTAssertEqual(details.state.pid, 4242)
        XCTAssertEqual(details.state.healthStatus, "healthy")
        XCTAssertEqual(details.state.startedAtDate!.timeIntervalSince1970, 1_709_210_096.123, accuracy: 1e-6)
        XCTAssertEqual(details.image, "pytorch:latest")
        XCTAssertEqual(details.labels, [:])
        XCTAssertEqual(details.deviceRequests, [DeviceRequest(driver: "nvidia", count: -1, deviceIDs: [], capabilities: [["gpu"]])])
        XCTAssertEqual(details.devices, [DeviceMapping(pathOnHost: "/dev/nvidia0", pathInContainer: "/dev/nvidia0", cgroupPermissions: "rwm")])
        XCTAssertEqual(details.cgroupParent, "/kubepods/pod1")

        let bare = try decode(ContainerDetails.self, #"{"Id":"x","State":null,"HostConfig":{"DeviceRequests":null,"Devices":null}}"#)
        XCTAssertEqual(bare, ContainerDetails(id: "x"))
    }

    func testBrokenJSONIsTyped() {
        assertDockerError(try decode([ContainerSummary].self, "{not json")) { if case .malformedJSON = $0 { return true }; return false }
        assertDockerError(try decode([ContainerSummary].self, #"[{"Names":[]}]"#)) { if case .malformedJSON = $0 { return true }; return false }
        assertDockerError(try decode([ContainerSummary].self, "")) { if case .malformedJSON = $0 { return true }; return false }
    }

    func testEventDecoding() throws {
        let event = try decode(DockerEvent.self, #"{"status":"die","id":"abc","from":"img","Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"exitCode":"137","name":"web"}},"scope":"local","time":1700000000,"timeNano":1700000000123456789}"#)
        XCTAssertEqual(event, DockerEvent(type: "container", action: "die", actorID: "abc", attributes: ["exitCode": "137", "name": "web"],
                                          time: 1_700_000_000, timeNano: 1_700_000_000_123_456_789))
        XCTAssertEqual(event.containerName, "web")
        let old = try decode(DockerEvent.self, #"{"status":"start","id":"def"}"#)
        XCTAssertEqual(old.action, "start")
        XCTAssertEqual(old.actorID, "def")
    }
}

final class ErrorDescriptionTests: XCTestCase {
    func testEveryErrorIsOneLine() {
        let errors: [DockerError] = [
            .noSocket(path: "/var/run/docker.sock"), .permissionDenied(path: "/var/run/docker.sock"),
            .connectionRefused(path: "/x"), .timeout(operation: "connecting to /x", seconds: 0.3),
            .connectionClosed(detail: "before\nsending"), .socketError(operation: "reading", errno: EIO),
            .malformedHTTP(detail: "bad\r\nline"), .malformedJSON(what: "list", detail: "x\ny"), .bodyTooLarge(limit: 16 << 20),
            .unsupportedHost(host: "tcp://h\n:1", reason: "only unix"), .apiTooOld(ours: "1.47", serverMinimum: "1.50"),
            .noSuchContainer(id: "x", message: ""), .noSuchContainer(id: "x", message: "No such container: x"),
            .conflict(message: "is not\nrunning"), .daemonError(status: 500, message: String(repeating: "long\n", count: 200)),
            .daemonError(status: 502, message: ""),
        ]
        for error in errors {
            XCTAssertFalse(error.description.isEmpty)
            XCTAssertFalse(error.description.contains("\n") || error.description.contains("\r"), error.description)
            XCTAssertLessThan(error.description.count, 420, error.description)
        }
        XCTAssertEqual(DockerError.timeout(operation: "connecting to /x", seconds: 0.3).description, "timed out after 0.3 s while connecting to /x")
        XCTAssertEqual(DockerError.timeout(operation: "reading", seconds: 2).description, "timed out after 2 s while reading")
    }

    func testDaemonMessageExtraction() {
        XCTAssertEqual(DockerClient.daemonMessage(Array(#"{"message":"No such container: x"}"#.utf8)), "No such container: x")
        XCTAssertEqual(DockerClient.daemonMessage(Array("page not found\n".utf8)), "page not found")
        XCTAssertEqual(DockerClient.daemonMessage(Array("line one\nline two\n".utf8)), "line one line two")
        XCTAssertEqual(DockerClient.daemonMessage([]), "")
    }
}
