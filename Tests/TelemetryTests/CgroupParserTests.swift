@testable import Model
@testable import Telemetry
import XCTest

final class CgroupParserTests: XCTestCase {
    let id1 = "3f4d2b1c0a9e8d7c6b5a49382716059483726150a9b8c7d6e5f4a3b2c1d0e9f8"
    let id2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    let podDash = "8a4f1c2e-5b6d-4e7f-9a0b-1c2d3e4f5a6b"
    var podUnder: String { podDash.replacingOccurrences(of: "-", with: "_") }

    private func v2(_ path: String) -> ContainerRef? {
        CgroupParser.containerRef(cgroupFile: "0::\(path)\n")
    }

    // MARK: Docker

    func testDockerCgroupfs() {
        XCTAssertEqual(v2("/docker/\(id1)"), ContainerRef(runtime: .docker, id: id1))
        XCTAssertEqual(CgroupParser.containerRef(path: "/docker/\(id1)"), ContainerRef(runtime: .docker, id: id1))
    }

    func testDockerSystemd() {
        XCTAssertEqual(v2("/system.slice/docker-\(id1).scope"), ContainerRef(runtime: .docker, id: id1))
    }

    func testDockerSubCgroups() {
        XCTAssertEqual(v2("/system.slice/docker-\(id1).scope/init.scope"), ContainerRef(runtime: .docker, id: id1))
        XCTAssertEqual(v2("/docker/\(id1)/some/sub/group"), ContainerRef(runtime: .docker, id: id1))
    }

    func testNestedDockerGivesInnermost() {
        XCTAssertEqual(v2("/docker/\(id1)/docker/\(id2)"), ContainerRef(runtime: .docker, id: id2))
        XCTAssertEqual(v2("/system.slice/docker-\(id1).scope/docker/\(id2)"), ContainerRef(runtime: .docker, id: id2))
        XCTAssertEqual(v2("/system.slice/docker-\(id1).scope/system.slice/docker-\(id2).scope/init.scope"),
                       ContainerRef(runtime: .docker, id: id2))
    }

    func testPrivateCgroupNamespace() {
        XCTAssertEqual(v2("/../../system.slice/docker-\(id1).scope"), ContainerRef(runtime: .docker, id: id1))
        XCTAssertNil(v2("/"))
        XCTAssertNil(v2("/.."))
        XCTAssertNil(v2("/../../user.slice/user-1000.slice/session-2.scope"))
    }

    func testRootlessDocker() {
        XCTAssertEqual(v2("/user.slice/user-1000.slice/user@1000.service/user.slice/docker-\(id1).scope"),
                       ContainerRef(runtime: .docker, id: id1))
    }

    // MARK: Kubernetes

    func testKubernetesCgroupfs() {
        for qos in ["burstable", "besteffort"] {
            XCTAssertEqual(v2("/kubepods/\(qos)/pod\(podDash)/\(id1)"),
                           ContainerRef(runtime: .containerd, id: id1, podUID: podDash))
        }
        // guaranteed pods: no qos level
        XCTAssertEqual(v2("/kubepods/pod\(podDash)/\(id1)"), ContainerRef(runtime: .containerd, id: id1, podUID: podDash))
        // CRI-O under cgroupfs names its cgroups itself
        XCTAssertEqual(v2("/kubepods/burstable/pod\(podDash)/crio-\(id1)"),
                       ContainerRef(runtime: .crio, id: id1, podUID: podDash))
        // the pod cgroup itself is not a container
        XCTAssertNil(v2("/kubepods/burstable/pod\(podDash)"))
    }

    func testKubernetesSystemd() {
        let cases: [(String, ContainerRef.Runtime)] = [("cri-containerd", .containerd), ("crio", .crio), ("docker", .docker)]
        for (prefix, runtime) in cases {
            let path = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(podUnder).slice/\(prefix)-\(id1).scope"
            XCTAssertEqual(v2(path), ContainerRef(runtime: runtime, id: id1, podUID: podDash), path)
        }
        // guaranteed
        XCTAssertEqual(v2("/kubepods.slice/kubepods-pod\(podUnder).slice/cri-containerd-\(id1).scope"),
                       ContainerRef(runtime: .containerd, id: id1, podUID: podDash))
        // besteffort, v1 multi-line file
        let file = """
        12:pids:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(podUnder).slice/cri-containerd-\(id1).scope
        11:memory:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(podUnder).slice/cri-containerd-\(id1).scope
        1:name=systemd:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(podUnder).slice/cri-containerd-\(id1).scope
        """
        XCTAssertEqual(CgroupParser.containerRef(cgroupFile: file), ContainerRef(runtime: .containerd, id: id1, podUID: podDash))
    }

    func testKubernetesStaticPodUID() {
        let md5 = "6f5b6c5a0e4f4c3d9a1b2c3d4e5f6a7b"
        XCTAssertEqual(v2("/kubepods/burstable/pod\(md5)/\(id1)"), ContainerRef(runtime: .containerd, id: id1, podUID: md5))
        XCTAssertEqual(v2("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(md5).slice/cri-containerd-\(id1).scope"),
                       ContainerRef(runtime: .containerd, id: id1, podUID: md5))
    }

    func testKindNestedKubernetes() {
        // a kind node is a docker container running kubelet with its own slices
        let path = "/system.slice/docker-\(id2).scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod\(podUnder).slice/cri-containerd-\(id1).scope"
        XCTAssertEqual(v2(path), ContainerRef(runtime: .containerd, id: id1, podUID: podDash))
    }

    func testContainerdServiceColonForm() {
        let path = "/system.slice/containerd.service/kubepods-burstable-pod\(podUnder).slice:cri-containerd:\(id1)"
        XCTAssertEqual(v2(path), ContainerRef(runtime: .containerd, id: id1, podUID: podDash))
        XCTAssertNil(v2("/system.slice/containerd.service/kubepods-burstable-pod\(podUnder).slice:weird:\(id1)"))
    }

    func testMalformedPodUIDStillGivesContainerWithoutPod() {
        XCTAssertEqual(v2("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podnotauid.slice/cri-containerd-\(id1).scope"),
                       ContainerRef(runtime: .containerd, id: id1))
        // but a bare id needs a real pod (or docker) parent
        XCTAssertNil(v2("/kubepods/burstable/podnotauid/\(id1)"))
    }

    // MARK: CRI-O, Podman, containerd

    func testCrio() {
        XCTAssertEqual(v2("/machine.slice/crio-\(id1).scope"), ContainerRef(runtime: .crio, id: id1))
        XCTAssertNil(v2("/machine.slice/crio-conmon-\(id1).scope"))
        XCTAssertNil(v2("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(podUnder).slice/crio-conmon-\(id1).scope"))
    }

    func testPodman() {
        let ref = ContainerRef(runtime: .podman, id: id1)
        XCTAssertEqual(v2("/machine.slice/libpod-\(id1).scope"), ref)
        XCTAssertEqual(v2("/machine.slice/libpod-\(id1).scope/container"), ref)
        XCTAssertEqual(v2("/libpod_parent/libpod-\(id1)"), ref)
        XCTAssertEqual(v2("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-\(id1).scope"), ref)
        XCTAssertEqual(v2("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-\(id1).scope/container"), ref)
        XCTAssertEqual(v2("/machine.slice/machine-libpod_pod_\(id2).slice/libpod-\(id1).scope/container"), ref)
        XCTAssertNil(v2("/machine.slice/libpod-conmon-\(id1).scope"))
        XCTAssertNil(v2("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-\(id1).scope"))
    }

    func testNerdctl() {
        XCTAssertEqual(v2("/system.slice/nerdctl-\(id1).scope"), ContainerRef(runtime: .containerd, id: id1))
        // The cgroupfs driver: containerd's default /<namespace>/<id> (ctr and nerdctl).
        XCTAssertEqual(v2("/default/\(id1)"), ContainerRef(runtime: .containerd, id: id1))
        XCTAssertEqual(v2("/k8s.io/\(id1)"), ContainerRef(runtime: .containerd, id: id1))
        XCTAssertEqual(v2("/../default/\(id1)"), ContainerRef(runtime: .containerd, id: id1), "seen from another cgroup namespace")
        XCTAssertEqual(v2("/default/\(id1)/sub"), ContainerRef(runtime: .containerd, id: id1))
        // Only at the top, and only those namespaces.
        XCTAssertNil(v2("/system.slice/default/\(id1)"))
        XCTAssertNil(v2("/buildkit/\(id1)"))
    }

    func testHostProcesses() {
        XCTAssertNil(v2("/system.slice/containerd.service"))
        XCTAssertNil(v2("/system.slice/docker.service"))
        XCTAssertNil(v2("/system.slice/containerd.service/some-shim"))
        XCTAssertNil(v2("/user.slice/user-1000.slice/session-3.scope"))
        XCTAssertNil(v2("/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/vte-spawn-1.scope"))
        XCTAssertNil(v2("/init.scope"))
        XCTAssertNil(v2("/kubepods.slice/kubepods-burstable.slice"))
        // a bare id with an unknown parent is not claimed
        XCTAssertNil(v2("/actions_job/\(id1)"))
        XCTAssertNil(v2("/\(id1)"))
    }

    // MARK: Id validation

    func testIdsMustBe64LowercaseHex() {
        let short = String(id1.dropLast())
        let long = id1 + "0"
        let nonHex = String(id1.dropLast()) + "g"
        let upper = id1.uppercased()
        for bad in [short, long, nonHex, upper, ""] {
            XCTAssertNil(v2("/docker/\(bad)"), bad)
            XCTAssertNil(v2("/system.slice/docker-\(bad).scope"), bad)
            XCTAssertNil(v2("/machine.slice/libpod-\(bad).scope"), bad)
            XCTAssertNil(v2("/machine.slice/crio-\(bad).scope"), bad)
            XCTAssertNil(v2("/kubepods/burstable/pod\(podDash)/\(bad)"), bad)
        }
        XCTAssertNil(v2("/system.slice/docker-\(id1).scopex"))
        XCTAssertNil(v2("/system.slice/docker-\(id1).slice"))
        XCTAssertNil(v2("/system.slice/docker-\(id1)-x.scope"))
    }

    // MARK: Files: v1, hybrid, line choice

    func testV1MultiLineFile() {
        let file = """
        12:rdma:/
        11:hugetlb:/docker/\(id1)
        10:cpuset:/docker/\(id1)
        9:devices:/docker/\(id1)
        8:pids:/docker/\(id1)
        7:memory:/docker/\(id1)
        6:net_cls,net_prio:/docker/\(id1)
        5:cpu,cpuacct:/docker/\(id1)
        4:perf_event:/docker/\(id1)
        3:blkio:/docker/\(id1)
        2:freezer:/docker/\(id1)
        1:name=systemd:/docker/\(id1)
        0::/system.slice/containerd.service

        """
        XCTAssertEqual(CgroupParser.containerRef(cgroupFile: file), ContainerRef(runtime: .docker, id: id1))
    }

    func testHybrid() {
        let file = """
        5:memory:/system.slice/docker-\(id1).scope
        1:name=systemd:/system.slice/docker-\(id1).scope
        0::/system.slice/docker-\(id1).scope
        """
        XCTAssertEqual(CgroupParser.containerRef(cgroupFile: file), ContainerRef(runtime: .docker, id: id1))
    }

    func testLinePreference() {
        // name=systemd beats memory when they disagree
        let file = """
        4:memory:/docker/\(id2)
        1:name=systemd:/docker/\(id1)
        """
        XCTAssertEqual(CgroupParser.containerRef(cgroupFile: file), ContainerRef(runtime: .docker, id: id1))
        // a line that names nothing does not hide one that does
        let file2 = """
        1:name=systemd:/
        4:memory:/docker/\(id2)
        0::/
        """
        XCTAssertEqual(CgroupParser.containerRef(cgroupFile: file2), ContainerRef(runtime: .docker, id: id2))
        // v2 line beats a minor controller
        let file3 = """
        3:hugetlb:/docker/\(id2)
        0::/docker/\(id1)
        """
        XCTAssertEqual(CgroupParser.containerRef(cgroupFile: file3), ContainerRef(runtime: .docker, id: id1))
    }

    func testHostFiles() {
        XCTAssertNil(CgroupParser.containerRef(cgroupFile: "0::/\n"))
        XCTAssertNil(CgroupParser.containerRef(cgroupFile: ""))
        XCTAssertNil(CgroupParser.containerRef(cgroupFile: "\n\n"))
        XCTAssertNil(CgroupParser.containerRef(cgroupFile: "0::/user.slice/user-0.slice/session-1.scope\n"))
        let v1 = """
        9:name=systemd:/
        8:pids:/
        4:memory:/process_api/6d5b796db4555b0cf3cc72be1d4e691a
        1:cpu:/
        0::/
        """
        XCTAssertNil(CgroupParser.containerRef(cgroupFile: v1))
    }

    func testPathMayContainColonsAndCRLF() {
        XCTAssertEqual(CgroupParser.containerRef(cgroupFile: "0::/docker/\(id1)\r\n"), ContainerRef(runtime: .docker, id: id1))
        XCTAssertEqual(CgroupParser.containerRef(cgroupFile: "0::/a:b/docker/\(id1)\n"), ContainerRef(runtime: .docker, id: id1))
    }

    func testMalformedLines() {
        XCTAssertNil(CgroupParser.containerRef(cgroupFile: "/docker/\(id1)"))
        XCTAssertNil(CgroupParser.containerRef(cgroupFile: "0:/docker/\(id1)"))
        XCTAssertNil(CgroupParser.containerRef(cgroupFile: "x::/docker/\(id1)"))
        XCTAssertNil(CgroupParser.containerRef(cgroupFile: "::/docker/\(id1)"))
        XCTAssertNil(CgroupParser.containerRef(cgroupFile: ":::::::"))
        XCTAssertNil(CgroupParser.containerRef(path: ""))
        XCTAssertNil(CgroupParser.containerRef(path: "////"))
    }

    func testGarbageBytesNeverCrash() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789abcdef:/-_.\nkubepods-pod.slicedocker-crio-libpod-scope\0\u{FF}".utf8)
        for _ in 0..<3000 {
            let n = Int.random(in: 0..<300, using: &rng)
            var bytes = [UInt8]()
            bytes.reserveCapacity(n)
            for _ in 0..<n {
                bytes.append(Bool.random(using: &rng) ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng))
            }
            let r = bytes.withUnsafeBufferPointer { CgroupParser.containerRef(cgroupBytes: $0) }
            if let r {
                XCTAssertEqual(r.id.utf8.count, 64)
                XCTAssertTrue(r.id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
            }
            _ = CgroupParser.containerRef(path: String(decoding: bytes, as: UTF8.self))
        }
        // mutations of a valid file
        let good = Array("1:name=systemd:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(podUnder).slice/cri-containerd-\(id1).scope\n0::/system.slice/containerd.service/kubepods-pod\(podUnder).slice:crio:\(id2)\n".utf8)
        for _ in 0..<3000 {
            var bytes = good
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[i] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: i)
                default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: i)
                }
                if bytes.isEmpty { break }
            }
            _ = bytes.withUnsafeBufferPointer { CgroupParser.containerRef(cgroupBytes: $0) }
        }
        XCTAssertNil(CgroupParser.containerRef(cgroupBytes: UnsafeBufferPointer(start: nil, count: 0)))
    }

    func testNonASCIIDoesNotMatch() {
        XCTAssertNil(v2("/docker/\(String(id1.dropLast()))é"))
        XCTAssertNil(v2("/système.slice/docker-\(String(id1.dropLast(2)))é.scope"))
    }
}
