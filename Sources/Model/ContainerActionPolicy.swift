// May `stop`, `restart` or `kill` act on a container, and if not, the one line that says
// why and names the command that would do it. One pure function, asked by the command line
// (about a container an engine lists or a snapshot names) and by the dashboard (about the
// selected row, before any question): the two cannot disagree. It lives in Model because
// both rooms see Model, and the dashboard's room does not see Actions.
//
// Refused:
// - A container Kubernetes manages (io.kubernetes.* labels under Docker/cri-dockerd, the CRI
//   annotations, or a pod UID in its cgroup path): kubelet starts again what we stop and
//   its idea of the pod goes wrong. Deleting the pod is the way; the line names kubectl.
// - A container no API we speak reaches: gpuctop speaks the Docker Engine API, which Docker
//   and Podman serve; containerd (nerdctl, ctr) and CRI-O do not. The line names their tool.
// Signalling a container's process (`signal`, T/I/9) is not a container action: allowed.
import Support

public enum ContainerActionPolicy {
    public enum Decision: Equatable, Sendable {
        /// Act through the Docker-compatible API of this engine (.docker or .podman).
        case allowed(ContainerRef.Runtime)
        /// Nothing is done; the one line to show.
        case refused(String)
    }

    /// The pod of a container Kubernetes manages; any part may be unknown.
    public struct Pod: Equatable, Sendable {
        public var namespace: String?
        public var name: String?
        public var uid: String?
    }

    public static func decide(_ verb: ContainerVerb, _ c: ContainerUsage) -> Decision {
        if c.isHost { return .refused("host processes are not a container; signal a process instead") }
        let subject = "refusing to \(verb.rawValue) \(label(c))"
        if let pod = kubernetesPod(c) {
            return .refused("\(subject): Kubernetes manages it (\(describe(pod))) and would undo that; use \(kubectl(pod))")
        }
        switch c.runtime {
        case .docker?, nil: return .allowed(.docker)
        case .podman?: return .allowed(.podman)
        case .containerd?:
            return .refused("\(subject): a containerd container, and gpuctop speaks only Docker's and Podman's API; use \(containerdCommand(verb, c))")
        case .crio?:
            return .refused("\(subject): a CRI-O container, and gpuctop speaks only Docker's and Podman's API; use \(crictlCommand(verb, c))")
        }
    }

    /// The pod, when anything says Kubernetes manages the container: the pod fields the
    /// join filled, or any io.kubernetes.* key among its labels (and annotations, where
    /// the engine reports them as labels). Nil for every other container.
    public static func kubernetesPod(_ c: ContainerUsage) -> Pod? {
        let labels = c.labels ?? [:]
        func first(_ keys: String...) -> String? {
            for key in keys { if let v = labels[key], !v.isEmpty { return v } }
            return nil
        }
        let pod = Pod(
            namespace: c.podNamespace ?? first("io.kubernetes.pod.namespace", "io.kubernetes.cri.sandbox-namespace"),
            name: c.podName ?? first("io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name"),
            uid: c.podUID ?? first("io.kubernetes.pod.uid", "io.kubernetes.cri.sandbox-uid"))
        let labelled = labels.keys.contains { $0.hasPrefix("io.kubernetes.") }
        guard labelled || pod.name != nil || pod.uid != nil || pod.namespace != nil else { return nil }
        return pod
    }

    /// "kubectl delete pod -n NS POD", or by its UID when the name is unknown.
    static func kubectl(_ pod: Pod) -> String {
        if let name = pod.name {
            return "kubectl delete pod -n \(pod.namespace.map(shellWord) ?? "<namespace>") \(shellWord(name))"
        }
        if let uid = pod.uid { return "kubectl delete pod <pod with uid \(oneLine(uid, limit: 64))>" }
        return "kubectl delete pod <its pod>"
    }

    static func describe(_ pod: Pod) -> String {
        if let name = pod.name {
            return "pod " + (pod.namespace.map { oneLine($0, limit: 64) + "/" } ?? "") + oneLine(name, limit: 64)
        }
        if let uid = pod.uid { return "pod uid \(oneLine(uid, limit: 64))" }
        return "io.kubernetes labels"
    }

    /// nerdctl by name when nerdctl made it (its name and namespace are in the labels),
    /// else ctr by id in its namespace (ctr has no restart: stop it, the owner starts it).
    static func containerdCommand(_ verb: ContainerVerb, _ c: ContainerUsage) -> String {
        let labels = c.labels ?? [:]
        let namespace = labels["nerdctl/namespace"].flatMap { $0.isEmpty ? nil : $0 }
        if let name = labels["nerdctl/name"] ?? c.name, !name.isEmpty {
            let n = namespace.map { $0 == "default" ? "" : "-n \(shellWord($0)) " } ?? ""
            return "nerdctl \(n)\(verb.rawValue) \(shellWord(name))"
        }
        let ctr = "ctr -n \(namespace.map(shellWord) ?? "<namespace>") task kill"
        switch verb {
        case .stop, .restart: return "\(ctr) \(shellWord(c.id))"
        case .kill: return "\(ctr) -s SIGKILL \(shellWord(c.id))"
        }
    }

    /// crictl by id (CRI has no restart or kill: a stop, with no grace period for kill).
    static func crictlCommand(_ verb: ContainerVerb, _ c: ContainerUsage) -> String {
        let id = shellWord(c.id)
        switch verb {
        case .stop: return "crictl stop \(id)"
        case .restart: return "crictl stop \(id) && crictl start \(id)"
        case .kill: return "crictl stop --timeout 0 \(id)"
        }
    }

    /// "trainer [4f2a1c0d9e8b]", or the short id alone.
    static func label(_ c: ContainerUsage) -> String {
        guard let name = c.name, !name.isEmpty else { return c.shortId }
        return "\(oneLine(name, limit: 80)) [\(c.shortId)]"
    }

    /// A word a shell takes as itself: names from engines and labels are anyone's text, and
    /// the line is meant to be copied into a shell. Plain words stay; others are single-quoted.
    static func shellWord(_ text: String) -> String { shellQuoted(oneLine(text, limit: 128)) }
}
