// OCI bundles laid out as the engines lay them out, for tests of the state catalogs:
// containerd's task state and CRI-O's userdata (CRI-O is not packaged for Debian 12, so
// its layout is written here from what CRI-O writes), and the kubelet's log directories.
import Foundation

public enum OCIBundles {
    /// A config.json as runc's spec generator and the CRI plugins write it, with the parts
    /// gpuctop reads filled from the arguments.
    public static func specJSON(annotations: [String: String] = [:], env: [String] = [],
                                devices: [(path: String, major: Int, minor: Int)] = [],
                                mounts: [(destination: String, source: String)] = []) -> String {
        var mountList: [[String: Any]] = [
            ["destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]],
            ["destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]],
        ]
        for m in mounts {
            mountList.append(["destination": m.destination, "type": "bind", "source": m.source, "options": ["rbind", "ro"]])
        }
        let spec: [String: Any] = [
            "ociVersion": "1.0.2-dev",
            "process": [
                "user": ["uid": 0, "gid": 0],
                "args": ["/pause"],
                "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=trainer-0"] + env,
                "cwd": "/",
                "capabilities": ["bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"]],
                "noNewPrivileges": true,
                "oomScoreAdj": 1000,
            ],
            "root": ["path": "rootfs"],
            "hostname": "trainer-0",
            "mounts": mountList,
            "annotations": annotations,
            "linux": [
                "resources": [
                    "devices": [["allow": false, "access": "rwm"]] + devices.map {
                        ["allow": true, "type": "c", "major": $0.major, "minor": $0.minor, "access": "rw"] as [String: Any]
                    },
                    "memory": ["limit": 0],
                ],
                "cgroupsPath": "kubepods-besteffort-pod.slice:cri-containerd:x",
                "namespaces": [["type": "pid"], ["type": "ipc"], ["type": "uts"], ["type": "mount"]],
                "devices": devices.map {
                    ["path": $0.path, "type": "c", "major": $0.major, "minor": $0.minor, "fileMode": 438, "uid": 0, "gid": 0] as [String: Any]
                },
                "maskedPaths": ["/proc/acpi", "/proc/kcore"],
                "readonlyPaths": ["/proc/bus", "/proc/fs"],
            ],
        ]
        let data = try! JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys, .prettyPrinted])
        return String(decoding: data, as: UTF8.self)
    }

    /// The CRI plugin's annotations for a pod container (or its sandbox).
    public static func criAnnotations(pod: String, namespace: String, uid: String, container: String? = nil,
                                      image: String? = nil, sandboxID: String = String(repeating: "5", count: 64))
        -> [String: String] {
        var a = [
            "io.kubernetes.cri.container-type": container == nil ? "sandbox" : "container",
            "io.kubernetes.cri.sandbox-id": sandboxID,
            "io.kubernetes.cri.sandbox-name": pod,
            "io.kubernetes.cri.sandbox-namespace": namespace,
            "io.kubernetes.cri.sandbox-uid": uid,
        ]
        if let container { a["io.kubernetes.cri.container-name"] = container }
        if let image { a["io.kubernetes.cri.image-name"] = image }
        return a
    }

    /// CRI-O's annotations (the kubelet's labels and CRI-O's own).
    public static func crioAnnotations(pod: String, namespace: String, uid: String, container: String?,
                                       image: String? = nil) -> [String: String] {
        var a = [
            "io.kubernetes.cri-o.ContainerType": container == nil ? "sandbox" : "container",
            "io.kubernetes.cri-o.SandboxName": "k8s_POD_\(pod)_\(namespace)_\(uid)_0",
            "io.kubernetes.pod.name": pod,
            "io.kubernetes.pod.namespace": namespace,
            "io.kubernetes.pod.uid": uid,
            "io.kubernetes.cri-o.Created": "2026-01-05T10:11:12.123456789Z",
        ]
        if let container {
            a["io.kubernetes.container.name"] = container
            a["io.kubernetes.cri-o.Name"] = "k8s_\(container)_\(pod)_\(namespace)_\(uid)_0"
        }
        if let image { a["io.kubernetes.cri-o.ImageName"] = image }
        return a
    }

    /// `<state>/io.containerd.runtime.v2.task/<namespace>/<id>/` with config.json and init.pid.
    @discardableResult
    public static func writeContainerd(state: String, namespace: String, id: String, spec: String,
                                       pid: Int32?) throws -> String {
        let dir = "\(state)/io.containerd.runtime.v2.task/\(namespace)/\(id)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try spec.write(toFile: "\(dir)/config.json", atomically: true, encoding: .utf8)
        if let pid { try "\(pid)".write(toFile: "\(dir)/init.pid", atomically: true, encoding: .utf8) }
        return dir
    }

    /// `<root>/overlay-containers/<id>/userdata/` with config.json and pidfile, as CRI-O writes them.
    @discardableResult
    public static func writeCrio(root: String, id: String, spec: String, pid: Int32?) throws -> String {
        let dir = "\(root)/overlay-containers/\(id)/userdata"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try spec.write(toFile: "\(dir)/config.json", atomically: true, encoding: .utf8)
        if let pid { try "\(pid)".write(toFile: "\(dir)/pidfile", atomically: true, encoding: .utf8) }
        return dir
    }

    /// A random 64-hex container id.
    public static func randomID() -> String {
        var id = ""
        while id.count < 64 { id += UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased() }
        return String(id.prefix(64))
    }
}
