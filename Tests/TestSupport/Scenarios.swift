// Fake NVML scenario text shared by several test targets (the format: Tests/FakeNVML/SCENARIO.md).
import Foundation

public enum Scenarios {
    /// GPU 0: 100..400 W, default 300 W, limit 250 W. GPU 1: 150..350 W, default 350 W, limit 350 W.
    /// No newline after the last line.
    public static let twoPowerGPUs = """
    gpu
    name NVIDIA A
    uuid GPU-aaaaaaaa-0000-0000-0000-000000000000
    power 120000
    power_limit 250000
    power_default 300000
    power_min 100000
    power_max 400000
    gpu
    name NVIDIA B
    uuid GPU-bbbbbbbb-0000-0000-0000-000000000000
    power 80000
    power_limit 350000
    power_default 350000
    power_min 150000
    power_max 350000
    """

    /// One `process compute` line per pid, each after a newline: the i-th (from 0) uses
    /// (i + 1) GiB and (i + 1) * 10 % of the SMs.
    public static func computeProcesses(pids: [Int32]) -> String {
        var text = ""
        for (i, pid) in pids.enumerated() {
            text += "\nprocess compute pid=\(pid) mem=\(UInt64(i + 1) << 30) sm=\(10 * (i + 1))"
        }
        return text
    }

    /// What each NVML call cost an H200 with driver 580 and 64 GPU processes on it
    /// (`gpuctop profile`, issue #14): the fake burns it as the caller's CPU (`call_cost`).
    /// The process lists and per-process utilisation grow with the contexts on the GPU.
    public static let h200CallCosts64 = """
    call_cost nvmlDeviceGetComputeRunningProcesses_v3 1500us
    call_cost nvmlDeviceGetGraphicsRunningProcesses_v3 700us
    call_cost nvmlDeviceGetMPSComputeRunningProcesses_v3 900us
    call_cost nvmlDeviceGetProcessUtilization 1800us
    call_cost nvmlDeviceGetMigMode 81us
    call_cost nvmlDeviceGetPowerManagementLimit 84us
    call_cost nvmlDeviceGetFanSpeed 79us
    call_cost nvmlDeviceGetMemoryInfo_v2 6us
    call_cost nvmlDeviceGetPersistenceMode 3us
    call_cost nvmlDeviceGetComputeMode 3us

    """

    /// One H200 under load, as the device benchmark's: utilisation near 100 %, power
    /// changing every second, `pids` compute processes of which the first `busy` have
    /// per-process utilisation samples (the others are idle contexts). Costs: `costs`.
    public static func h200Loaded(pids: [Int32], busy: Int = 4, costs: String = h200CallCosts64) -> String {
        var text = "driver 580.159.04\ncuda 13000\n" + costs + h200(uuid: "GPU-a66de040-50ad-07c5-991d-4be90d4bdfdc", [
            "util": "100 100 100 99 100 100 100 100 100 100", "mem_util": "40 40 41 40 40 40 40 40 40 40",
            "memory_used": "64424509440", "temperature": "51", "fan": "", "energy": "",
            "power": "512000 530000 498000 541000", "mig": "0",
        ]) + "process_util_min 72\n"
        for (i, pid) in pids.enumerated() {
            text += i < busy ? "process compute pid=\(pid) mem=\(4 + i)GiB sm=\(90 - 20 * i) memutil=\(30 - 5 * i)\n"
                             : "process compute pid=\(pid) mem=\(500 + i)MiB\n"
        }
        return text
    }

    /// The H200 most tests sample: every field the fake NVML knows, with these values
    /// unless `values` says otherwise (a value of "" leaves the key out). Lines end with
    /// a newline.
    public static func h200(uuid: String = "GPU-aaaaaaaa-0000-0000-0000-000000000000",
                            _ values: KeyValuePairs<String, String> = [:]) -> String {
        gpuBlock(name: "NVIDIA H200", uuid: uuid, h200Values, values)
    }

    /// An H100 in MIG mode with one 1g.10gb instance.
    public static func h100MIG(uuid: String = "GPU-bbbbbbbb-0000-0000-0000-000000000000", migUUID: String = "MIG-1111",
                               _ values: KeyValuePairs<String, String> = [:]) -> String {
        gpuBlock(name: "NVIDIA H100 80GB HBM3", uuid: uuid, [
            ("memory_total", "85520809984"), ("memory_used", "1000"), ("mig", "1 1"),
            ("mig_device", "slot=0 gi=1 ci=0 slices=1 ci_slices=1 sms=16 memory=10737418240 used=104857600 uuid=\(migUUID) name=NVIDIA H100 80GB HBM3 MIG 1g.10gb"),
        ], values)
    }

    static let h200Values: [(String, String)] = [
        ("pci", "00000000:19:00.0"), ("util", "42"), ("mem_util", "17"), ("memory_total", "150754820096"),
        ("memory_reserved", "617611264"), ("memory_used", "25769803776"), ("temperature", "44"), ("fan", "0"),
        ("clock_sm", "1980"), ("clock_mem", "3201"), ("pstate", "0"), ("power", "250000"), ("power_limit", "700000"),
        ("power_default", "700000"), ("power_min", "200000"), ("power_max", "700000"), ("energy", "123456789"),
        ("persistence", "1"), ("compute_mode", "0"), ("encoder", "0"), ("decoder", "0"), ("mig", "0 0"),
    ]

    static func gpuBlock(name: String, uuid: String, _ base: [(String, String)],
                         _ values: KeyValuePairs<String, String>) -> String {
        var lines = ["gpu", "name \(name)", "uuid \(uuid)"]
        var keys = base.map(\.0)
        for (k, _) in values where !keys.contains(k) { keys.append(k) }
        for key in keys {
            let value = values.first { $0.key == key }?.value ?? base.first { $0.0 == key }?.1 ?? ""
            if !value.isEmpty { lines.append("\(key) \(value)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
