// Names from the annotations of an OCI spec, for the engines that have nothing else
// on disk: containerd (Kubernetes through its CRI plugin, nerdctl, ctr) and CRI-O.
// The annotations are also what the detail view shows as the container's labels.
//
//   containerd, namespace k8s.io (the CRI plugin; same keys in 1.6, 1.7 and 2.x):
//     io.kubernetes.cri.container-type   "sandbox" (the pod's pause container) or "container"
//     io.kubernetes.cri.sandbox-name / -namespace / -uid      pod, namespace, pod uid
//     io.kubernetes.cri.container-name / image-name           container, image
//   containerd, other namespaces: the container's labels are its annotations (nerdctl
//     copies them: nerdctl/name, compose's com.docker.compose.project/service).
//   CRI-O: the kubelet's labels as annotations (io.kubernetes.pod.name/namespace/uid,
//     io.kubernetes.container.name) and its own io.kubernetes.cri-o.ContainerType
//     ("sandbox" or "container") and io.kubernetes.cri-o.ImageName.
import Model

enum OCIContainerNames {
    /// What one spec says of its container.
    struct Named: Equatable {
        /// Identity fields of the usage row: name, image, pod, labels (no usage figures).
        var usage: ContainerUsage
        /// The pod's sandbox (pause) container: never a row of its own.
        var isSandbox: Bool
    }

    static let criType = "io.kubernetes.cri.container-type"
    static let crioType = "io.kubernetes.cri-o.ContainerType"

    /// A containerd task of `namespace`.
    static func containerd(id: String, namespace: String, spec: OCISpec) -> Named {
        let a = spec.annotations
        var u = base(id: id, runtime: .containerd, annotations: a)
        if a[criType] != nil {
            u.podName = a["io.kubernetes.cri.sandbox-name"] ?? u.podName
            u.podNamespace = a["io.kubernetes.cri.sandbox-namespace"] ?? u.podNamespace
            u.podUID = a["io.kubernetes.cri.sandbox-uid"] ?? u.podUID
            u.podContainer = a["io.kubernetes.cri.container-name"] ?? u.podContainer
            u.image = a["io.kubernetes.cri.image-name"] ?? u.image
        }
        u.name = u.podContainer ?? a["nerdctl/name"]
        return Named(usage: u, isSandbox: a[criType] == "sandbox")
    }

    /// A CRI-O container; nil when the spec is not CRI-O's (Podman and Buildah share its storage).
    static func crio(id: String, spec: OCISpec) -> Named? {
        let a = spec.annotations
        guard let type = a[crioType] else { return nil }
        var u = base(id: id, runtime: .crio, annotations: a)
        u.image = a["io.kubernetes.cri-o.ImageName"] ?? a["io.kubernetes.cri-o.Image"]
        u.name = u.podContainer
        return Named(usage: u, isSandbox: type == "sandbox")
    }

    /// The keys both share, as Docker's labels carry them (ContainerJoin.fill).
    private static func base(id: String, runtime: ContainerRef.Runtime, annotations a: [String: String]) -> ContainerUsage {
        var u = ContainerUsage(id: id)
        u.runtime = runtime
        u.composeProject = a["com.docker.compose.project"]
        u.composeService = a["com.docker.compose.service"]
        u.podName = a["io.kubernetes.pod.name"]
        u.podNamespace = a["io.kubernetes.pod.namespace"]
        u.podContainer = a["io.kubernetes.container.name"]
        u.podUID = a["io.kubernetes.pod.uid"]
        u.labels = a.isEmpty ? nil : a
        return u
    }
}
