// deploy/kubernetes/gpuctop.yaml, checked as far as this machine allows (no cluster, no
// kubectl): parsed by a YAML parser (python3-yaml), then every field the deployment depends on
// asserted: the host PID namespace, the NVIDIA runtime class, the exporter's arguments, host
// paths read-only at the same path under --host-root, no privileges, resources from
// BENCHMARKS.md, scrape annotations, and a Service that selects the pods.
@testable import gpuctop
import Foundation
import TestSupport
import XCTest

final class KubernetesManifestTests: XCTestCase {
    typealias Object = [String: Any]

    private func documents() throws -> [Object] {
        let path = TestEnv.repoRoot.appendingPathComponent("deploy/kubernetes/gpuctop.yaml").path
        let toJSON = "import json, sys, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)"
        let r = try Run.command(["/usr/bin/python3", "-c", toJSON, path])
        guard r.status == 0 else { throw TestFailure("the manifest does not parse as YAML (python3-yaml): \(r.stderr)") }
        let parsed = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
        return try XCTUnwrap(parsed as? [Object])
    }

    private func find(_ docs: [Object], kind: String) throws -> Object {
        try XCTUnwrap(docs.first { $0["kind"] as? String == kind }, "no \(kind)")
    }

    /// "10m" -> 0.01, "2" -> 2 (cores); "48Mi" -> bytes.
    static func cores(_ q: Any?) -> Double? {
        guard let s = q as? String else { return (q as? NSNumber)?.doubleValue }
        return s.hasSuffix("m") ? Double(s.dropLast()).map { $0 / 1000 } : Double(s)
    }

    static func bytes(_ q: Any?) -> Double? {
        guard let s = q as? String else { return nil }
        for (suffix, factor) in [("Ki", 1024.0), ("Mi", 1024.0 * 1024), ("Gi", 1024.0 * 1024 * 1024)] where s.hasSuffix(suffix) {
            return Double(s.dropLast(2)).map { $0 * factor }
        }
        return Double(s)
    }

    func testTheDaemonSetRunsTheExporterWithHostPIDAndTheNVIDIARuntime() throws {
        let docs = try documents()
        XCTAssertEqual(docs.compactMap { $0["kind"] as? String }, ["Namespace", "DaemonSet", "Service"])
        let ds = try find(docs, kind: "DaemonSet")
        XCTAssertEqual(ds["apiVersion"] as? String, "apps/v1")
        let spec = try XCTUnwrap(ds["spec"] as? Object)
        let template = try XCTUnwrap(spec["template"] as? Object)
        let podSpec = try XCTUnwrap(template["spec"] as? Object)
        let podLabels = try XCTUnwrap((template["metadata"] as? Object)?["labels"] as? [String: String])
        let selector = try XCTUnwrap((spec["selector"] as? Object)?["matchLabels"] as? [String: String])
        XCTAssertTrue(selector.allSatisfy { podLabels[$0.key] == $0.value }, "the selector picks the template's pods")

        XCTAssertEqual(podSpec["hostPID"] as? Bool, true)
        XCTAssertEqual(podSpec["runtimeClassName"] as? String, "nvidia")
        XCTAssertNil(podSpec["hostNetwork"], "the exporter needs no host network")
        XCTAssertEqual(podSpec["automountServiceAccountToken"] as? Bool, false)

        let containers = try XCTUnwrap(podSpec["containers"] as? [Object])
        XCTAssertEqual(containers.count, 1)
        let c = containers[0]
        XCTAssertEqual(c["image"] as? String, "gpuctop:\(gpuctopVersion)", "the image scripts/build-image.sh tags for this version")
        let args = try XCTUnwrap(c["args"] as? [String])
        XCTAssertEqual(args.first, "export")
        XCTAssertEqual(args.firstIndex(of: "--listen").map { args[$0 + 1] }, "0.0.0.0:9835")
        XCTAssertEqual(args.firstIndex(of: "--host-root").map { args[$0 + 1] }, "/host")
        XCTAssertTrue(args.contains("--read-only"), "actions off")
        // Every option is one gpuctop knows. --host-root comes with the engines work; once the
        // help names it, nothing may be missing.
        let known = Set(HelpText.current.options.flatMap { HelpText.options(in: $0.term).flatMap(\.names) }
                        + HelpText.current.commands.flatMap { $0.entries.flatMap { HelpText.options(in: $0.term).flatMap(\.names) } })
        let unknown = args.filter { $0.hasPrefix("-") && !known.contains($0) }
        XCTAssertEqual(unknown, known.contains("--host-root") ? [] : ["--host-root"])
        let env = Dictionary(uniqueKeysWithValues: try XCTUnwrap(c["env"] as? [Object]).compactMap { e -> (String, String)? in
            guard let n = e["name"] as? String, let v = e["value"] as? String else { return nil }
            return (n, v)
        })
        XCTAssertEqual(env["NVIDIA_VISIBLE_DEVICES"], "all")
        XCTAssertEqual(env["NVIDIA_DRIVER_CAPABILITIES"], "utility", "libnvidia-ml, nothing for compute")

        let ports = try XCTUnwrap(c["ports"] as? [Object])
        XCTAssertEqual(ports.first?["containerPort"] as? Int, 9835)
        XCTAssertEqual(ports.first?["name"] as? String, "metrics")
        for probe in ["readinessProbe", "livenessProbe"] {
            let get = (c[probe] as? Object)?["httpGet"] as? Object
            XCTAssertEqual(get?["path"] as? String, "/metrics", probe)
        }

        // Prometheus finds the pods by their annotations.
        let annotations = try XCTUnwrap((template["metadata"] as? Object)?["annotations"] as? [String: String])
        XCTAssertEqual(annotations["prometheus.io/scrape"], "true")
        XCTAssertEqual(annotations["prometheus.io/port"], "9835")
        XCTAssertEqual(annotations["prometheus.io/path"], "/metrics")

        // Sized from BENCHMARKS.md: peak RSS 30.3 MiB with NVML on an H100, 1 to 5 ms of CPU per refresh.
        let resources = try XCTUnwrap(c["resources"] as? Object)
        let requests = try XCTUnwrap(resources["requests"] as? Object), limits = try XCTUnwrap(resources["limits"] as? Object)
        let memRequest = try XCTUnwrap(Self.bytes(requests["memory"])), memLimit = try XCTUnwrap(Self.bytes(limits["memory"]))
        XCTAssertGreaterThanOrEqual(memRequest, 30.3 * 1024 * 1024)
        XCTAssertGreaterThanOrEqual(memLimit, 2 * memRequest)
        XCTAssertLessThanOrEqual(memLimit, 512 * 1024 * 1024, "a monitor should not be allowed a node's memory")
        let cpuRequest = try XCTUnwrap(Self.cores(requests["cpu"])), cpuLimit = try XCTUnwrap(Self.cores(limits["cpu"]))
        XCTAssertGreaterThanOrEqual(cpuRequest, 0.005, "5 ms per 1 s refresh")
        XCTAssertGreaterThanOrEqual(cpuLimit, 10 * cpuRequest)
    }

    func testNoPrivilegesBeyondReadingAndEveryHostPathReadOnlyUnderHostRoot() throws {
        let ds = try find(try documents(), kind: "DaemonSet")
        let podSpec = try XCTUnwrap(((ds["spec"] as? Object)?["template"] as? Object)?["spec"] as? Object)
        let c = try XCTUnwrap((podSpec["containers"] as? [Object])?.first)
        let security = try XCTUnwrap(c["securityContext"] as? Object)
        XCTAssertEqual(security["privileged"] as? Bool, false)
        XCTAssertEqual(security["allowPrivilegeEscalation"] as? Bool, false)
        XCTAssertEqual(security["readOnlyRootFilesystem"] as? Bool, true)
        let caps = try XCTUnwrap(security["capabilities"] as? Object)
        XCTAssertEqual(caps["drop"] as? [String], ["ALL"])
        XCTAssertNil(caps["add"], "no capability added back (see the manifest's comment)")
        XCTAssertEqual(((podSpec["securityContext"] as? Object)?["seccompProfile"] as? Object)?["type"] as? String, "RuntimeDefault")
        for forbidden in ["hostNetwork", "hostIPC"] { XCTAssertNil(podSpec[forbidden], forbidden) }

        let volumes = try XCTUnwrap(podSpec["volumes"] as? [Object])
        var hostPaths: [String: String] = [:]
        for v in volumes {
            let name = try XCTUnwrap(v["name"] as? String)
            let hostPath = try XCTUnwrap(v["hostPath"] as? Object, "\(name) is not a hostPath")
            hostPaths[name] = try XCTUnwrap(hostPath["path"] as? String)
        }
        XCTAssertFalse(hostPaths.values.contains("/"), "not the whole host")
        XCTAssertFalse(hostPaths.values.contains { $0.hasSuffix(".sock") || $0 == "/run" || $0 == "/run/containerd" },
                       "no engine socket: reaching one is root on the node")
        XCTAssertTrue(hostPaths.values.contains("/proc"))
        let mounts = try XCTUnwrap(c["volumeMounts"] as? [Object])
        XCTAssertEqual(mounts.count, volumes.count)
        for m in mounts {
            let name = try XCTUnwrap(m["name"] as? String)
            XCTAssertEqual(m["readOnly"] as? Bool, true, "\(name) must be read-only")
            // --host-root /host looks a host path P up at /host/P.
            XCTAssertEqual(m["mountPath"] as? String, "/host" + (hostPaths[name] ?? "?"), name)
        }
    }

    func testTheServiceSelectsThePodsMetricsPort() throws {
        let docs = try documents()
        let service = try find(docs, kind: "Service")
        let ds = try find(docs, kind: "DaemonSet")
        let namespace = (ds["metadata"] as? Object)?["namespace"] as? String
        XCTAssertEqual((service["metadata"] as? Object)?["namespace"] as? String, namespace)
        XCTAssertEqual((try find(docs, kind: "Namespace")["metadata"] as? Object)?["name"] as? String, namespace)
        let spec = try XCTUnwrap(service["spec"] as? Object)
        let template = try XCTUnwrap((ds["spec"] as? Object)?["template"] as? Object)
        let podLabels = try XCTUnwrap((template["metadata"] as? Object)?["labels"] as? [String: String])
        let selector = try XCTUnwrap(spec["selector"] as? [String: String])
        XCTAssertFalse(selector.isEmpty)
        XCTAssertTrue(selector.allSatisfy { podLabels[$0.key] == $0.value })
        let port = try XCTUnwrap((spec["ports"] as? [Object])?.first)
        XCTAssertEqual(port["port"] as? Int, 9835)
        XCTAssertEqual(port["targetPort"] as? String, "metrics", "the container's named port")
    }
}
