// The OCI spec reader as hostile input meets it: a real CRI config.json, fields of the
// wrong shape, bytes that are no JSON, absurd nesting and sizes, and files that are links,
// FIFOs or too large. Each must give a spec, a clear refusal, or nothing, never a crash
// or a hang.
@testable import Telemetry
import Foundation
import TestSupport
import XCTest

final class OCISpecTests: XCTestCase {
    private var directories: [String] = []

    override func tearDown() {
        for d in directories { try? FileManager.default.removeItem(atPath: d) }
        directories = []
    }

    private func tempDir() -> String {
        let d = TestEnv.temporaryDirectory("oci-spec").path
        directories.append(d)
        return d
    }

    func testRealisticCRISpec() throws {
        let json = OCIBundles.specJSON(
            annotations: OCIBundles.criAnnotations(pod: "trainer-0", namespace: "research", uid: "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
                                                   container: "pytorch", image: "nvcr.io/nvidia/pytorch:25.01-py3"),
            env: ["NVIDIA_VISIBLE_DEVICES=void", "SECRET_TOKEN=hunter2"],
            devices: [("/dev/nvidia3", 195, 3), ("/dev/nvidiactl", 195, 255), ("/dev/nvidia-uvm", 510, 0)],
            mounts: [("/var/run/nvidia-container-devices/GPU-abc", "/dev/null")])
        let spec = try OCISpec.decode(Array(json.utf8))
        XCTAssertEqual(spec.annotations["io.kubernetes.cri.sandbox-name"], "trainer-0")
        XCTAssertEqual(spec.annotations["io.kubernetes.cri.image-name"], "nvcr.io/nvidia/pytorch:25.01-py3")
        XCTAssertEqual(spec.nvidiaVisibleDevices, "void")
        XCTAssertEqual(spec.devices.count, 3)
        XCTAssertEqual(spec.devices[0], OCISpec.Device(path: "/dev/nvidia3", type: "c", major: 195, minor: 3))
        XCTAssertTrue(spec.mounts.contains(OCISpec.Mount(destination: "/var/run/nvidia-container-devices/GPU-abc", source: "/dev/null")))
        XCTAssertFalse("\(spec)".contains("hunter2"), "only NVIDIA_VISIBLE_DEVICES is kept of the environment")
    }

    func testWrongShapesLoseOnlyThemselves() throws {
        let json = """
        {"annotations": {"good": "yes", "number": 5, "list": ["a"], "null": null},
         "process": {"env": ["NVIDIA_VISIBLE_DEVICES=0", 7, {"x": 1}, "NVIDIA_VISIBLE_DEVICES=1,2"]},
         "linux": {"devices": [42, {"type": "c"}, {"path": "/dev/nvidia1", "major": "195", "minor": 1.5},
                               {"path": "/dev/nvidia0", "type": "c", "major": 195, "minor": 0}]},
         "mounts": "not a list"}
        """
        let spec = try OCISpec.decode(Array(json.utf8))
        XCTAssertEqual(spec.annotations, ["good": "yes"])
        XCTAssertEqual(spec.nvidiaVisibleDevices, "1,2", "the last one wins, as for the runtime")
        XCTAssertEqual(spec.devices, [OCISpec.Device(path: "/dev/nvidia1", type: nil, major: nil, minor: nil),
                                      OCISpec.Device(path: "/dev/nvidia0", type: "c", major: 195, minor: 0)])
        XCTAssertEqual(spec.mounts, [])
        // Sections of the wrong type: an empty spec, not an error.
        let odd = try OCISpec.decode(Array(#"{"annotations": [], "process": 3, "linux": "x", "mounts": {}}"#.utf8))
        XCTAssertEqual(odd, OCISpec())
    }

    func testNotAnObjectIsAnErrorWithAShortReason() {
        for text in ["", "null", "[]", "\"x\"", "{", "{\"a\":}", "{} trailing", "\u{FEFF}{}x"] {
            XCTAssertThrowsError(try OCISpec.decode(Array(text.utf8)), text) { error in
                let line = "\(error)"
                XCTAssertFalse(line.contains("\n"), line)
                XCTAssertLessThan(line.count, 200, line)
            }
        }
        // Invalid UTF-8 inside an annotation: that annotation is lost, the rest stays.
        let bytes = Array(#"{"annotations": {"b": "ok", "a": "x"#.utf8) + [0xff, 0xfe] + Array(#""}}"#.utf8)
        let spec = try? OCISpec.decode(bytes)
        XCTAssertEqual(spec?.annotations, ["b": "ok"])
        XCTAssertThrowsError(try OCISpec.decode([0xC0, 0x80]))
    }

    func testDeepNestingIsRefusedNotACrash() {
        // Far beyond any decoder's stack: must be refused, not recursed into.
        let depth = 200_000
        let deep = Array(repeating: UInt8(ascii: "["), count: depth) + Array(repeating: UInt8(ascii: "]"), count: depth)
        XCTAssertThrowsError(try OCISpec.decode(deep))
        let inAnnotation = Array(#"{"annotations": {"a": "#.utf8) + deep + Array("}}".utf8)
        XCTAssertThrowsError(try OCISpec.decode(inAnnotation))
        let objects = Array(repeating: Array(#"{"a":"#.utf8), count: 50_000).flatMap { $0 } + Array(repeating: UInt8(ascii: "}"), count: 50_000)
        XCTAssertThrowsError(try OCISpec.decode(objects))
    }

    func testBoundsOnAnnotations() throws {
        var annotations: [String: String] = [:]
        for i in 0..<2_000 { annotations["key\(i)"] = "v" }
        annotations["huge"] = String(repeating: "x", count: OCISpec.maxValueBytes + 1)
        let spec = try OCISpec.decode(Array(OCIBundles.specJSON(annotations: annotations).utf8))
        XCTAssertEqual(spec.annotations.count, OCISpec.maxAnnotations)
        XCTAssertNil(spec.annotations["huge"])
    }

    /// Mutations of a real spec: flipped, dropped, duplicated and random bytes. Whatever comes
    /// of them, decoding answers.
    func testMutatedSpecsNeverCrash() {
        let base = Array(OCIBundles.specJSON(
            annotations: OCIBundles.criAnnotations(pod: "p", namespace: "n", uid: "u", container: "c", image: "i"),
            env: ["NVIDIA_VISIBLE_DEVICES=GPU-1"], devices: [("/dev/nvidia0", 195, 0)],
            mounts: [("/var/run/nvidia-container-devices/0", "/dev/null")]).utf8)
        var rng = SystemRandomNumberGenerator()
        var decoded = 0
        let interesting: [UInt8] = Array("{}[]\",:\\0123456789eE.-+ntfaul".utf8) + [0, 0x80, 0xff, 0xc3, 0x0a]
        for _ in 0..<3_000 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[i] = interesting.randomElement(using: &rng)!
                case 1: bytes.remove(at: i)
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: i)
                default:
                    let j = min(bytes.count, i + Int.random(in: 1...64, using: &rng))
                    bytes.insert(contentsOf: bytes[i..<j], at: i)
                }
                if bytes.isEmpty { bytes = [0] }
            }
            if let spec = try? OCISpec.decode(bytes) {
                decoded += 1
                _ = GPUClaim.from(spec)?.describe(GPUIdentities())
            }
        }
        XCTAssertGreaterThan(decoded, 0, "some mutations stay valid JSON")
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...512, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? OCISpec.decode(bytes)
        }
    }

    // MARK: - Files

    func testReadsARegularFileAndRefusesLinksFIFOsDirectoriesAndHugeFiles() throws {
        let dir = tempDir()
        try "{\"annotations\":{\"a\":\"b\"}}".write(toFile: "\(dir)/config.json", atomically: true, encoding: .utf8)
        XCTAssertEqual(symlink("/etc/passwd", "\(dir)/link.json"), 0)
        XCTAssertEqual(mkfifo("\(dir)/fifo.json", 0o644), 0)
        XCTAssertEqual(mkdir("\(dir)/dir.json", 0o755), 0)
        let huge = FileManager.default.createFile(atPath: "\(dir)/huge.json", contents: Data(count: OCISpec.maxBytes + 1))
        XCTAssertTrue(huge)
        let fd = open(dir, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }

        guard case .success(let bytes) = StateFiles.read(at: fd, "config.json", limit: OCISpec.maxBytes, shownAs: "x") else {
            return XCTFail("config.json not read")
        }
        XCTAssertEqual(try OCISpec.decode(bytes).annotations, ["a": "b"])
        XCTAssertEqual(StateFiles.read(at: fd, "link.json", limit: 1 << 20, shownAs: "x").failure, .refused("a symbolic link"))
        let start = Date()
        XCTAssertEqual(StateFiles.read(at: fd, "fifo.json", limit: 1 << 20, shownAs: "x").failure, .refused("not a regular file"))
        XCTAssertLessThan(Date().timeIntervalSince(start), 1, "a FIFO nobody writes to must not block")
        XCTAssertNotNil(StateFiles.read(at: fd, "dir.json", limit: 1 << 20, shownAs: "x").failure)
        XCTAssertEqual(StateFiles.read(at: fd, "huge.json", limit: OCISpec.maxBytes, shownAs: "x").failure,
                       .refused("larger than \(OCISpec.maxBytes) bytes"))
        XCTAssertEqual(StateFiles.read(at: fd, "missing.json", limit: 10, shownAs: "x").failure, .absent)
        for bad in ["", ".", "..", "../config.json", "a/b"] {
            XCTAssertEqual(StateFiles.read(at: fd, bad, limit: 10, shownAs: "x").failure, .refused("not a plain name"), bad)
        }
        // A directory link is not followed either.
        XCTAssertEqual(symlink("/etc", "\(dir)/dirlink"), 0)
        XCTAssertEqual(StateFiles.openDirectory(at: fd, "dirlink", shownAs: "x").failure, .refused("a symbolic link"))
    }

    func testPidFiles() {
        XCTAssertEqual(StateFiles.pid(Array("1234".utf8)), 1234)
        XCTAssertEqual(StateFiles.pid(Array("1234\n".utf8)), 1234)
        for bad in ["", "0", "-1", "12a", "99999999999", "\n"] {
            XCTAssertNil(StateFiles.pid(Array(bad.utf8)), bad)
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let f) = self { return f }
        return nil
    }
}
