// A CONTAINER argument that no Docker-API engine lists may still name a container gpuctop
// sees: a Kubernetes pod's container under containerd or CRI-O, or a nerdctl/ctr container,
// which a snapshot knows from cgroups and the runtimes' state. Found there, the action is
// refused with the line ContainerActionPolicy gives (kubectl, nerdctl, ctr or crictl),
// rather than "no such container", which would be wrong and unhelpful.
import Model
import Support

public enum SnapshotContainerLookup {
    /// The snapshot's containers the argument names: an exact id, name, pod name or
    /// namespace/pod wins; else the containers whose id starts with it (hex, any case).
    public static func matching(_ argument: String, in snapshot: Snapshot) -> [ContainerUsage] {
        var key = argument
        if key.hasPrefix("/") { key.removeFirst() }
        guard !key.isEmpty else { return [] }
        let containers = snapshot.containers.filter { !$0.isHost }
        let exact = containers.filter { c in
            c.id == key || c.name == key || c.podName == key
                || (c.podName != nil && c.podNamespace.map { "\($0)/\(c.podName!)" } == key)
        }
        if !exact.isEmpty { return exact }
        let lower = key.lowercased()
        guard lower.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { return [] }
        return containers.filter { $0.id.hasPrefix(lower) }
    }

    /// Why `verb` is not done to what the argument names in the snapshot: the policy's line,
    /// or the candidates when it names several. Nil when it names nothing the policy refuses
    /// (nothing at all, or a Docker/Podman container the engines did not list: not found).
    public static func refusal(_ verb: ContainerVerb, _ argument: String, in snapshot: Snapshot) -> (line: String, target: ContainerUsage?)? {
        let found = matching(argument, in: snapshot)
        if found.count > 1 {
            let shown = found.prefix(8).map(label).joined(separator: ", ")
            let more = found.count > 8 ? ", and \(found.count - 8) more" : ""
            return ("'\(oneLine(argument))' matches \(found.count) containers: \(shown)\(more); give more of the name or id", nil)
        }
        guard let c = found.first, case .refused(let line) = ContainerActionPolicy.decide(verb, c) else { return nil }
        return (line, c)
    }

    /// "research/trainer-0 pytorch [4f2a1c0d9e8b]", "web [4f2a1c0d9e8b]" or the short id.
    static func label(_ c: ContainerUsage) -> String {
        var words: [String] = []
        if let pod = c.podName { words.append(oneLine((c.podNamespace.map { $0 + "/" } ?? "") + pod, limit: 80)) }
        if let name = c.podContainer ?? c.name { words.append(oneLine(name, limit: 80)) }
        words.append("[\(c.shortId)]")
        return words.joined(separator: " ")
    }
}
