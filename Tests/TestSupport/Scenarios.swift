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
}
