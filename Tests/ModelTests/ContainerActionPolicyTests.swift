// ContainerActionPolicy: which containers stop/restart/kill may act on, and the one line
// (why, and the command that would do it) for those it may not.
@testable import Model
import XCTest

final class ContainerActionPolicyTests: XCTestCase {
    let id = "4f2a1c0d9e8b" + String(repeating: "7", count: 52)
    let uid = "1f2e3d4c-5b6a-4789-8abc-0123456789ab"

    func container(_ runtime: ContainerRef.Runtime?, name: String? = "trainer", labels: [String: String] = [:]) -> ContainerUsage {
        var c = ContainerUsage(id: id)
        c.runtime = runtime
        c.name = name
        c.labels = labels.isEmpty ? nil : labels
        return c
    }

    func refusal(_ verb: ContainerVerb, _ c: ContainerUsage, file: StaticString = #filePath, line: UInt = #line) -> String {
        guard case .refused(let text) = ContainerActionPolicy.decide(verb, c) else {
            XCTFail("not refused: \(c)", file: file, line: line)
            return ""
        }
        XCTAssertFalse(text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }, text, file: file, line: line)
        return text
    }

    func testDockerAndPodmanContainersAreActedOnThroughTheirEngine() {
        XCTAssertEqual(ContainerActionPolicy.decide(.stop, container(.docker)), .allowed(.docker))
        XCTAssertEqual(ContainerActionPolicy.decide(.restart, container(.podman)), .allowed(.podman))
        XCTAssertEqual(ContainerActionPolicy.decide(.kill, container(nil)), .allowed(.docker))
        XCTAssertEqual(ContainerActionPolicy.decide(.stop, container(.docker, labels: ["com.docker.compose.service": "web"])), .allowed(.docker))
        XCTAssertNil(ContainerActionPolicy.kubernetesPod(container(.podman, labels: ["io.podman.annotation": "x"])))
        XCTAssertEqual(refusal(.stop, ContainerUsage(id: "host")), "host processes are not a container; signal a process instead")
    }

    func testKubernetesLabelsUnderDockerNameThePod() {
        let c = container(.docker, name: "k8s_pytorch_trainer-0_research_\(uid)_0",
                          labels: ["io.kubernetes.pod.name": "trainer-0", "io.kubernetes.pod.namespace": "research",
                                   "io.kubernetes.container.name": "pytorch", "io.kubernetes.pod.uid": uid])
        XCTAssertEqual(refusal(.stop, c),
                       "refusing to stop k8s_pytorch_trainer-0_research_\(uid)_0 [4f2a1c0d9e8b]: Kubernetes manages it (pod research/trainer-0) and would undo that; use kubectl delete pod -n research trainer-0")
        XCTAssertTrue(refusal(.restart, c).hasPrefix("refusing to restart "))
        XCTAssertTrue(refusal(.kill, c).hasSuffix("; use kubectl delete pod -n research trainer-0"))
        XCTAssertEqual(ContainerActionPolicy.kubernetesPod(c), .init(namespace: "research", name: "trainer-0", uid: uid))
    }

    func testThePodFieldsTheCRIAnnotationsAndTheCgroupUID() {
        // The join's fields (from CRI annotations, or the engine's labels).
        var c = container(.containerd, name: nil)
        c.podName = "vllm-0"
        c.podNamespace = "inference"
        XCTAssertTrue(refusal(.stop, c).hasSuffix("use kubectl delete pod -n inference vllm-0"))
        // CRI annotations reported among the labels.
        let cri = container(.containerd, name: nil, labels: ["io.kubernetes.cri.sandbox-name": "job-7",
                                                             "io.kubernetes.cri.sandbox-namespace": "batch",
                                                             "io.kubernetes.cri.container-type": "container"])
        XCTAssertEqual(refusal(.kill, cri),
                       "refusing to kill 4f2a1c0d9e8b: Kubernetes manages it (pod batch/job-7) and would undo that; use kubectl delete pod -n batch job-7")
        // Nothing but the pod UID in the cgroup path: the command names it by UID.
        var byCgroup = container(.containerd, name: nil)
        byCgroup.podUID = uid
        XCTAssertEqual(refusal(.stop, byCgroup),
                       "refusing to stop 4f2a1c0d9e8b: Kubernetes manages it (pod uid \(uid)) and would undo that; use kubectl delete pod <pod with uid \(uid)>")
        // A pod UID on a Docker container (cri-dockerd) counts the same.
        byCgroup.runtime = .docker
        XCTAssertTrue(refusal(.restart, byCgroup).contains("kubectl delete pod <pod with uid \(uid)>"))
        // A name without a namespace; any io.kubernetes.* label alone.
        var noNamespace = container(.crio)
        noNamespace.podName = "p"
        XCTAssertTrue(refusal(.stop, noNamespace).hasSuffix("use kubectl delete pod -n <namespace> p"))
        let typeOnly = container(.docker, labels: ["io.kubernetes.docker.type": "container"])
        XCTAssertTrue(refusal(.stop, typeOnly).hasSuffix("(io.kubernetes labels) and would undo that; use kubectl delete pod <its pod>"))
    }

    func testContainersOfNoAPIWeSpeakNameTheirTool() {
        let nerdctl = container(.containerd, name: "web", labels: ["nerdctl/name": "web", "nerdctl/namespace": "default"])
        XCTAssertEqual(refusal(.stop, nerdctl),
                       "refusing to stop web [4f2a1c0d9e8b]: a containerd container, and gpuctop speaks only Docker's and Podman's API; use nerdctl stop web")
        XCTAssertTrue(refusal(.kill, nerdctl).hasSuffix("use nerdctl kill web"))
        let team = container(.containerd, name: nil, labels: ["nerdctl/name": "web", "nerdctl/namespace": "team"])
        XCTAssertTrue(refusal(.restart, team).hasSuffix("use nerdctl -n team restart web"))
        let ctr = container(.containerd, name: nil)
        XCTAssertTrue(refusal(.stop, ctr).hasSuffix("use ctr -n <namespace> task kill \(id)"))
        let ctrNamespaced = container(.containerd, name: nil, labels: ["nerdctl/namespace": "ml"])
        XCTAssertTrue(refusal(.kill, ctrNamespaced).hasSuffix("use ctr -n ml task kill -s SIGKILL \(id)"))
        let crio = container(.crio, name: nil)
        XCTAssertEqual(refusal(.stop, crio),
                       "refusing to stop 4f2a1c0d9e8b: a CRI-O container, and gpuctop speaks only Docker's and Podman's API; use crictl stop \(id)")
        XCTAssertTrue(refusal(.kill, crio).hasSuffix("use crictl stop --timeout 0 \(id)"))
        XCTAssertTrue(refusal(.restart, crio).hasSuffix("use crictl stop \(id) && crictl start \(id)"))
    }

    func testHostileNamesStayOneLineAndOneShellWord() {
        var c = container(.docker, name: "evil\u{1b}[2J\nname")
        c.podName = "x; rm -rf / #"
        c.podNamespace = "it's"
        let text = refusal(.stop, c)
        XCTAssertTrue(text.hasPrefix("refusing to stop evil"), text)
        XCTAssertTrue(text.hasSuffix(#"use kubectl delete pod -n 'it'\''s' 'x; rm -rf / #'"#), text)
        let nerd = container(.containerd, name: "$(reboot)")
        XCTAssertTrue(refusal(.stop, nerd).hasSuffix("use nerdctl stop '$(reboot)'"))
        XCTAssertEqual(ContainerActionPolicy.shellWord("trainer-0"), "trainer-0")
        XCTAssertEqual(ContainerActionPolicy.shellWord(""), "''")
    }
}
