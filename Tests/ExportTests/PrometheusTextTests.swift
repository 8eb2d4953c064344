// The Prometheus text format of a snapshot: dcgm-exporter's names, units and labels,
// gpuctop's own families, escaping, grouping, omitted fields, and promtool's verdict.
@testable import Export
import Foundation
@testable import Model
import TestSupport
import XCTest

final class PrometheusTextTests: XCTestCase {
    /// Two GPUs (one full of fields, one MIG GPU with almost nothing), processes in two
    /// containers and on the host, an idle allocation, a degraded source.
    static func snapshot() -> Snapshot {
        var s = Snapshot(time: 1_795_317_092.25, host: "gpu-box")
        s.driverVersion = "580.95.05"
        s.cudaVersion = "13.0"
        s.degraded = [DegradedSource(source: "docker", reason: "cannot connect")]
        var g = GPU(index: 0)
        g.name = "NVIDIA H200"
        g.uuid = "GPU-aaaaaaaa-0000-0000-0000-000000000000"
        g.pciBusId = "00000000:19:00.0"
        g.utilizationGpu = 42
        g.utilizationMemory = 17
        g.memoryTotal = 150_754_820_096
        g.memoryReserved = 617_611_264
        g.memoryUsed = 25_769_803_776
        g.memoryFree = 150_754_820_096 - 617_611_264 - 25_769_803_776
        g.temperature = 44
        g.fanSpeed = 30
        g.clockSM = 1980
        g.clockMemory = 3201
        g.performanceState = 0
        g.powerDraw = 250_500
        g.powerLimitEnforced = 650_000
        g.powerLimit = 700_000
        g.powerLimitDefault = 700_000
        g.powerLimitMin = 200_000
        g.powerLimitMax = 700_000
        g.energyTotal = 123_456_789
        g.encoderUtilization = 0
        g.decoderUtilization = 5
        g.migMode = MIGMode(current: false, pending: false)
        var h = GPU(index: 1)
        h.name = "NVIDIA H100 80GB HBM3"
        h.uuid = "GPU-bbbbbbbb-0000-0000-0000-000000000000"
        h.lost = true
        h.migMode = MIGMode(current: true, pending: true)
        var m = MIGDevice(index: 0)
        m.uuid = "MIG-1111"
        m.name = "NVIDIA H100 80GB HBM3 MIG 1g.10gb"
        m.gpuInstanceId = 7
        m.computeInstanceId = 0
        m.multiprocessors = 16
        m.memoryTotal = 10_737_418_240
        m.memoryUsed = 104_857_600
        h.migDevices = [m]
        s.gpus = [g, h]

        let idA = String(repeating: "a", count: 64), idB = String(repeating: "b", count: 64)
        func process(_ pid: Int32, _ gpu: Int, _ kind: ProcessKind = .compute, mem: UInt64, sm: Int?, container: String?) -> GPUProcess {
            var p = GPUProcess(pid: pid, gpuIndex: gpu, kind: kind)
            p.usedGpuMemory = mem
            p.smUtilization = sm
            var info = ProcessInfoSample(command: "python", user: "root", uid: 0, startTime: 1)
            info.container = container.map { ContainerRef(runtime: .docker, id: $0) }
            p.info = info
            return p
        }
        s.processes = [
            process(100, 0, mem: 4 << 30, sm: 60, container: idA),
            process(101, 0, mem: 2 << 30, sm: 20, container: idA),
            // The same process as a graphics context too (nvidia-smi's C+G): counted once.
            process(101, 0, .graphics, mem: 2 << 30, sm: 20, container: idA),
            process(200, 0, mem: 1 << 30, sm: 20, container: idB),
            process(200, 1, mem: 3 << 30, sm: nil, container: idB),
            process(300, 0, mem: 512 << 20, sm: nil, container: nil),
        ]
        var a = ContainerUsage(id: idA)
        a.name = "trainer-1"
        a.composeService = "train \"v2\" \\ a\nb"
        a.composeProject = "proj"
        var b = ContainerUsage(id: idB)
        // A pod's container under cri-dockerd: the label is the pod's container name, not the engine's.
        b.name = "k8s_vllm_vllm-0_inference_0f1e2d3c-0000-4000-8000-000000000001_0"
        b.podContainer = "vllm"
        b.podName = "vllm-0"
        b.podNamespace = "inference"
        var idle = ContainerUsage(id: String(repeating: "c", count: 64))
        idle.name = "idle-one"
        idle.idleAllocation = true
        s.containers = [a, b, ContainerUsage(id: "host"), idle]
        return s
    }

    func testDCGMNamesUnitsAndLabels() throws {
        let p = try PromParsed(PrometheusText.render(Self.snapshot(), version: "0.1.0"))
        let gpu0 = ["gpu": "0", "UUID": "GPU-aaaaaaaa-0000-0000-0000-000000000000", "pci_bus_id": "00000000:19:00.0",
                    "device": "nvidia0", "modelName": "NVIDIA H200", "Hostname": "gpu-box"]
        let expected: [(String, String, String)] = [
            ("DCGM_FI_DEV_GPU_UTIL", "42", "gauge"),
            ("DCGM_FI_DEV_MEM_COPY_UTIL", "17", "gauge"),
            ("DCGM_FI_DEV_FB_USED", "24576", "gauge"),                 // MiB
            ("DCGM_FI_DEV_FB_FREE", String((150_754_820_096 - 617_611_264 - 25_769_803_776) >> 20), "gauge"),
            ("DCGM_FI_DEV_FB_TOTAL", "143771", "gauge"),
            ("DCGM_FI_DEV_FB_RESERVED", "589", "gauge"),
            ("DCGM_FI_DEV_POWER_USAGE", "250.5", "gauge"),             // W
            ("DCGM_FI_DEV_GPU_TEMP", "44", "gauge"),
            ("DCGM_FI_DEV_SM_CLOCK", "1980", "gauge"),
            ("DCGM_FI_DEV_MEM_CLOCK", "3201", "gauge"),
            ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "123456789", "counter"),   // mJ
            ("DCGM_FI_DEV_ENC_UTIL", "0", "gauge"),
            ("DCGM_FI_DEV_DEC_UTIL", "5", "gauge"),
            ("DCGM_FI_DEV_FAN_SPEED", "30", "gauge"),
            ("DCGM_FI_DEV_PSTATE", "0", "gauge"),
        ]
        for (name, value, type) in expected {
            let s = try p.sample(name, ["gpu": "0"])
            XCTAssertEqual(s.value, value, name)
            XCTAssertEqual(s.labels, gpu0, name)
            XCTAssertEqual(p.type[name], type, name)
        }
        XCTAssertEqual(p.help["DCGM_FI_DEV_GPU_UTIL"], "GPU utilization (in %).")
        XCTAssertEqual(p.help["DCGM_FI_DEV_FB_USED"], "Framebuffer memory used (in MiB).")
        XCTAssertEqual(p.help["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"], "Total energy consumption since boot (in mJ).")
    }

    func testMissingFieldsAreOmittedNeverNaN() throws {
        let text = PrometheusText.render(Self.snapshot())
        XCTAssertFalse(text.contains("NaN"), text)
        XCTAssertFalse(text.contains("Inf"), text)
        let p = try PromParsed(text)
        // GPU 1 reports next to nothing: only what it has.
        for name in ["DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_GPU_TEMP",
                     "gpuctop_gpu_power_limit_watts", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"] {
            XCTAssertEqual(p.values(name).filter { $0.labels["gpu"] == "1" }, [], name)
        }
        XCTAssertEqual(try p.sample("gpuctop_gpu_lost", ["gpu": "1"]).value, "1")
        XCTAssertEqual(try p.sample("gpuctop_gpu_lost", ["gpu": "0"]).value, "0")
        XCTAssertEqual(try p.sample("gpuctop_gpu_mig_enabled", ["gpu": "1"]).value, "1")
        // A GPU without a model name or PCI id has no empty labels either.
        XCTAssertNil(try p.sample("gpuctop_gpu_lost", ["gpu": "1"]).labels["pci_bus_id"])
        XCTAssertFalse(text.contains("=\"\""), "no empty label values")
    }

    func testGpuctopFamilies() throws {
        let p = try PromParsed(PrometheusText.render(Self.snapshot(), version: "0.1.0"))
        XCTAssertEqual(try p.sample("gpuctop_up").value, "1")
        XCTAssertEqual(try p.sample("gpuctop_up").labels, [:])
        XCTAssertEqual(p.familyOrder.first, "gpuctop_up")
        XCTAssertEqual(try p.sample("gpuctop_info").labels,
                       ["version": "0.1.0", "driver_version": "580.95.05", "cuda_version": "13.0", "Hostname": "gpu-box"])
        XCTAssertEqual(try p.sample("gpuctop_source_degraded", ["source": "docker"]).value, "1")
        XCTAssertEqual(try p.sample("gpuctop_source_degraded", ["source": "nvml"]).value, "0")
        XCTAssertEqual(try p.sample("gpuctop_source_degraded", ["source": "procfs"]).value, "0")
        XCTAssertEqual(try p.sample("gpuctop_last_refresh_timestamp_seconds").value, "1795317092.25")
        XCTAssertEqual(try p.sample("gpuctop_gpus").value, "2")
        let limits = ["gpuctop_gpu_power_limit_watts": "700", "gpuctop_gpu_power_limit_enforced_watts": "650",
                      "gpuctop_gpu_power_limit_default_watts": "700", "gpuctop_gpu_power_limit_min_watts": "200",
                      "gpuctop_gpu_power_limit_max_watts": "700"]
        for (name, value) in limits {
            let s = try p.sample(name, ["gpu": "0"])
            XCTAssertEqual(s.value, value, name)
            XCTAssertEqual(s.labels, ["gpu": "0", "UUID": "GPU-aaaaaaaa-0000-0000-0000-000000000000", "Hostname": "gpu-box"])
        }
        let mig = ["gpu": "1", "UUID": "GPU-bbbbbbbb-0000-0000-0000-000000000000", "mig_uuid": "MIG-1111",
                   "gpu_instance": "7", "compute_instance": "0", "profile": "1g.10gb", "Hostname": "gpu-box"]
        XCTAssertEqual(try p.sample("gpuctop_mig_instance_memory_used_bytes").labels, mig)
        XCTAssertEqual(try p.sample("gpuctop_mig_instance_memory_used_bytes").value, "104857600")
        XCTAssertEqual(try p.sample("gpuctop_mig_instance_memory_total_bytes").value, "10737418240")
        XCTAssertEqual(try p.sample("gpuctop_mig_instance_multiprocessors").value, "16")
        // Without NVML there is no GPU count (rather than a misleading 0).
        var s = Self.snapshot()
        s.gpus = []
        s.degraded = [DegradedSource(source: "nvml", reason: "no driver")]
        let q = try PromParsed(PrometheusText.render(s))
        XCTAssertEqual(q.values("gpuctop_gpus"), [])
        XCTAssertEqual(try q.sample("gpuctop_source_degraded", ["source": "nvml"]).value, "1")
    }

    func testContainerFamiliesPerGPU() throws {
        let p = try PromParsed(PrometheusText.render(Self.snapshot()))
        let a = ["container": "trainer-1", "container_id": "aaaaaaaaaaaa", "compose_service": "train \"v2\" \\ a\nb",
                 "gpu": "0", "Hostname": "gpu-box"]
        XCTAssertEqual(try p.sample("gpuctop_container_gpu_memory_bytes", ["container": "trainer-1"]).labels, a)
        // 4 GiB + 2 GiB; the graphics context of pid 101 is the same memory, counted once.
        XCTAssertEqual(try p.sample("gpuctop_container_gpu_memory_bytes", ["container": "trainer-1"]).value, String(6 << 30))
        XCTAssertEqual(try p.sample("gpuctop_container_gpu_processes", ["container": "trainer-1"]).value, "2")
        XCTAssertEqual(try p.sample("gpuctop_container_sm_utilization_percent", ["container": "trainer-1"]).value, "80")
        // GPU 0 draws 250.5 W; SM 60+20 of 100 -> 80 % = 200.4 W.
        XCTAssertEqual(try p.sample("gpuctop_container_power_share_watts", ["container": "trainer-1"]).value, "200.4")
        XCTAssertEqual(try p.sample("gpuctop_container_power_share_watts", ["container": "vllm", "gpu": "0"]).value, "50.1")

        let b1 = try p.sample("gpuctop_container_gpu_memory_bytes", ["container": "vllm", "gpu": "1"])
        XCTAssertEqual(b1.value, String(3 << 30))
        XCTAssertEqual(b1.labels, ["container": "vllm", "container_id": "bbbbbbbbbbbb", "pod": "vllm-0",
                                   "namespace": "inference", "gpu": "1", "Hostname": "gpu-box"])
        // No SM sample on GPU 1 and no power draw there: both omitted.
        XCTAssertEqual(p.values("gpuctop_container_sm_utilization_percent").filter { $0.labels["gpu"] == "1" }, [])
        XCTAssertEqual(p.values("gpuctop_container_power_share_watts").filter { $0.labels["gpu"] == "1" }, [])

        let host = try p.sample("gpuctop_container_gpu_memory_bytes", ["container_id": "host"])
        XCTAssertEqual(host.labels["container"], "host")
        XCTAssertEqual(host.value, String(512 << 20))
        XCTAssertEqual(try p.sample("gpuctop_container_gpu_processes", ["container_id": "host"]).value, "1")

        let idle = try p.sample("gpuctop_container_idle_gpu_allocation")
        XCTAssertEqual(idle.value, "1")
        XCTAssertEqual(idle.labels, ["container": "idle-one", "container_id": "cccccccccccc", "Hostname": "gpu-box"])
        // Order: the snapshot's containers (by memory, host last), then GPU.
        XCTAssertEqual(p.values("gpuctop_container_gpu_memory_bytes").map { $0.labels["container"]! + "/" + $0.labels["gpu"]! },
                       ["trainer-1/0", "vllm/0", "vllm/1", "host/0"])
    }

    func testEscaping() throws {
        XCTAssertEqual(PrometheusText.escapeLabelValue(#"a\b"c"# + "\nd"), #"a\\b\"c\nd"#)
        XCTAssertEqual(PrometheusText.escapeLabelValue("plain ünïcode ✓"), "plain ünïcode ✓")
        XCTAssertEqual(PrometheusText.escapeHelp("x\\y\n\"z\""), #"x\\y\n"z""#)
        let text = PrometheusText.render(Self.snapshot())
        XCTAssertTrue(text.contains(#"compose_service="train \"v2\" \\ a\nb""#), text)
        // Every line is one sample or comment: the newline in the label did not split it.
        let p = try PromParsed(text)
        XCTAssertEqual(try p.sample("gpuctop_container_gpu_processes", ["container": "trainer-1"]).labels["compose_service"],
                       "train \"v2\" \\ a\nb")
    }

    func testEveryFamilyHasHelpAndTypeOnceAndIsGrouped() throws {
        let text = PrometheusText.render(Self.snapshot())
        let p = try PromParsed(text)
        XCTAssertEqual(Set(p.help.keys), Set(p.familyOrder))
        XCTAssertEqual(Set(p.type.keys), Set(p.familyOrder))
        XCTAssertEqual(Set(p.samples.map(\.name)), Set(p.familyOrder), "no family without samples")
        for name in p.familyOrder {
            XCTAssertTrue(name.hasPrefix("gpuctop_") || name.hasPrefix("DCGM_FI_DEV_"), name)
            XCTAssertEqual(text.components(separatedBy: "# HELP \(name) ").count, 2, name)
            XCTAssertEqual(text.components(separatedBy: "# TYPE \(name) ").count, 2, name)
        }
        // Without `up`, the family is left to the server; upFamily renders it alone.
        let bare = try PromParsed(PrometheusText.render(Self.snapshot(), up: nil))
        XCTAssertEqual(bare.values("gpuctop_up"), [])
        XCTAssertEqual(PrometheusText.upFamily(false).split(separator: "\n").last, "gpuctop_up 0")
        XCTAssertEqual(PrometheusText.contentType, "text/plain; version=0.0.4; charset=utf-8")
    }

    func testValueFormatting() {
        typealias V = PrometheusText.Value
        XCTAssertEqual(V.milliToUnit(250_000), "250")
        XCTAssertEqual(V.milliToUnit(250_500), "250.5")
        XCTAssertEqual(V.milliToUnit(1), "0.001")
        XCTAssertEqual(V.milliToUnit(12_050), "12.05")
        XCTAssertEqual(V.milliToUnit(0), "0")
        XCTAssertEqual(V.milliToUnit(-1500), "-1.5")
        XCTAssertEqual(V.mebibytes((1 << 20) - 1), 0)
        XCTAssertEqual(V.mebibytes(3 << 20), 3)
        XCTAssertEqual(V.seconds(1_795_317_092.25), "1795317092.25")
        XCTAssertEqual(V.seconds(.nan), "0")
        XCTAssertEqual(PrometheusText.migProfile("NVIDIA H100 80GB HBM3 MIG 3g.40gb"), "3g.40gb")
        XCTAssertEqual(PrometheusText.migProfile("NVIDIA H100"), nil)
        XCTAssertEqual(PrometheusText.migProfile(nil), nil)
    }

    /// A full host (8 GPUs, 16 containers with 4 processes each): size and time of one
    /// rendering, printed; bounded generously (a debug build on a shared machine).
    func testRenderSizeAndTime() throws {
        var s = Self.snapshot()
        let g = s.gpus[0]
        s.gpus = (0..<8).map { i in var x = g; x.index = i; x.uuid = "GPU-\(i)"; return x }
        s.processes = []
        s.containers = []
        for c in 0..<16 {
            let id = String(format: "%064x", c + 1)
            var u = ContainerUsage(id: id)
            u.name = "worker-\(c)"
            u.composeService = "svc-\(c % 4)"
            s.containers.append(u)
            for k in 0..<4 {
                var p = GPUProcess(pid: Int32(1000 + c * 4 + k), gpuIndex: (c + k) % 8, kind: .compute)
                p.usedGpuMemory = UInt64(k + 1) << 30
                p.smUtilization = 10 + k
                var info = ProcessInfoSample(command: "python", user: "root", uid: 0, startTime: 1)
                info.container = ContainerRef(runtime: .docker, id: id)
                p.info = info
                s.processes.append(p)
            }
        }
        let rounds = 50
        let start = Date()
        var text = ""
        for _ in 0..<rounds { text = PrometheusText.render(s) }
        let each = Date().timeIntervalSince(start) / Double(rounds)
        let parsed = try PromParsed(text)
        XCTAssertEqual(parsed.values("gpuctop_container_gpu_memory_bytes").count, 64)
        XCTAssertLessThan(each, 0.1)
        print("prometheus text: 8 GPUs, 16 containers, 64 processes: \(text.utf8.count) bytes, \(parsed.samples.count) samples, \(String(format: "%.2f", each * 1000)) ms per rendering")
    }

    /// promtool parses it and finds nothing to lint but what dcgm-exporter's own names bring.
    func testPromtoolCheckMetrics() throws {
        let file = TestEnv.temporaryDirectory("promtext").appendingPathComponent("m.prom")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        try PrometheusText.render(Self.snapshot(), version: "0.1.0").write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try PromtoolVerdict.check(file: file.path), [])
    }
}
