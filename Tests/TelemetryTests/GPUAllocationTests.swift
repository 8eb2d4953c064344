// Which GPUs a spec holds, in every way the NVIDIA stack writes it, and how it reads in
// the GPU REQUEST column.
@testable import Model
@testable import Telemetry
import XCTest

final class GPUAllocationTests: XCTestCase {
    /// GPU 0 (minor 4), GPU 1 (minor 7) with a MIG instance.
    let gpus: GPUIdentities = {
        var g0 = GPU(index: 0)
        g0.uuid = "GPU-aaaaaaaa-0000-0000-0000-000000000000"
        var g1 = GPU(index: 1)
        g1.uuid = "GPU-bbbbbbbb-0000-0000-0000-000000000000"
        var mig = MIGDevice(index: 0)
        mig.uuid = "MIG-11111111-2222-3333-4444-555555555555"
        mig.gpuInstanceId = 1
        mig.computeInstanceId = 0
        g1.migDevices = [mig]
        return GPUIdentities(gpus: [g0, g1], minorNumbers: [4: 0, 7: 1])
    }()

    private func describe(env: String? = nil, devices: [OCISpec.Device] = [], mounts: [String] = [],
                          annotations: [String: String] = [:]) -> String? {
        var spec = OCISpec()
        spec.nvidiaVisibleDevices = env
        spec.devices = devices
        spec.mounts = mounts.map { OCISpec.Mount(destination: $0, source: "/dev/null") }
        spec.annotations = annotations
        return GPUClaim.from(spec)?.describe(gpus)
    }

    func testDevicesByMinorNumber() {
        XCTAssertEqual(describe(devices: [.init(path: "/dev/nvidia0", major: 195, minor: 7)]), "GPU 1",
                       "the minor number names the GPU, not the path's digit")
        XCTAssertEqual(describe(devices: [.init(path: "/dev/nvidia4", major: 195, minor: 4),
                                          .init(path: "/dev/nvidia7", major: 195, minor: 7)]), "GPU 0,1")
        XCTAssertEqual(describe(devices: [.init(path: "/dev/nvidia9", major: 195, minor: 9)]), "nvidia9", "no such GPU here")
        // Another major (a stand-in node): the path's number is the minor.
        XCTAssertEqual(describe(devices: [.init(path: "/dev/nvidia4", major: 1, minor: 3)]), "GPU 0")
        XCTAssertNil(describe(devices: [.init(path: "/dev/nvidiactl", major: 195, minor: 255),
                                        .init(path: "/dev/nvidia-uvm", major: 510, minor: 0),
                                        .init(path: "/dev/nvidia-caps/nvidia-cap1", major: 511, minor: 1),
                                        .init(path: "/dev/nvidia0", type: "b", major: 195, minor: 0)]))
    }

    func testVisibleDevices() {
        XCTAssertEqual(describe(env: "GPU-aaaaaaaa-0000-0000-0000-000000000000"), "GPU 0")
        XCTAssertEqual(describe(env: "gpu-BBBBBBBB-0000-0000-0000-000000000000, GPU-aaaaaaaa-0000-0000-0000-000000000000"), "GPU 1,0")
        XCTAssertEqual(describe(env: "MIG-11111111-2222-3333-4444-555555555555"), "GPU 1:1/0")
        XCTAssertEqual(describe(env: "0,1"), "GPU 0,1")
        XCTAssertEqual(describe(env: "1:0"), "GPU 1:0", "a MIG index is kept as given")
        XCTAssertEqual(describe(env: "GPU-ffffffff-0000-0000-0000-000000000000"), "GPU GPU-ffffffff-0000-0000-0000-000000000000",
                       "a GPU this host does not have is named as given")
        XCTAssertEqual(describe(env: "all"), "all GPUs")
        XCTAssertEqual(describe(env: " ALL "), "all GPUs")
        XCTAssertNil(describe(env: "none"))
        XCTAssertNil(describe(env: "void"))
        XCTAssertNil(describe(env: ""))
        XCTAssertNil(describe(env: " , ,"))
    }

    func testDevicesWinOverVoidAndTheEnvironment() {
        let device = OCISpec.Device(path: "/dev/nvidia4", major: 195, minor: 4)
        XCTAssertEqual(describe(env: "void", devices: [device]), "GPU 0")
        XCTAssertEqual(describe(env: "all", devices: [device]), "GPU 0", "the injected devices are what it holds")
        XCTAssertEqual(describe(env: "none", devices: [device]), "GPU 0")
    }

    func testVolumeMountStrategy() {
        XCTAssertEqual(describe(mounts: ["/var/run/nvidia-container-devices/GPU-bbbbbbbb-0000-0000-0000-000000000000",
                                         "/var/run/nvidia-container-devices/0", "/etc/hosts"]), "GPU 1,0")
        XCTAssertEqual(describe(mounts: ["/var/run/nvidia-container-devices/all"]), "all GPUs")
        XCTAssertNil(describe(mounts: ["/var/run/nvidia-container-devices/", "/var/run/nvidia-container-devices/a/b"]))
        XCTAssertNil(describe(env: "none", mounts: ["/var/run/nvidia-container-devices/0"]))
    }

    func testCDIAnnotations() {
        XCTAssertEqual(describe(annotations: ["cdi.k8s.io/nvidia-device-plugin_uuid": "nvidia.com/gpu=GPU-aaaaaaaa-0000-0000-0000-000000000000,nvidia.com/gpu=1"]),
                       "GPU 0,1")
        XCTAssertEqual(describe(annotations: ["cdi.k8s.io/x": "nvidia.com/gpu=all"]), "all GPUs")
        XCTAssertNil(describe(annotations: ["cdi.k8s.io/x": "vendor.com/fpga=0", "other": "nvidia.com/gpu=0"]))
        XCTAssertEqual(describe(env: "void", annotations: ["cdi.k8s.io/x": "nvidia.com/mig=MIG-11111111-2222-3333-4444-555555555555"]),
                       "GPU 1:1/0")
    }

    func testWithoutKnownGPUs() {
        var spec = OCISpec()
        spec.devices = [.init(path: "/dev/nvidia2", major: 195, minor: 2)]
        XCTAssertEqual(GPUClaim.from(spec)?.describe(GPUIdentities()), "nvidia2")
        spec.devices = []
        spec.nvidiaVisibleDevices = "0"
        XCTAssertEqual(GPUClaim.from(spec)?.describe(GPUIdentities()), "GPU 0")
    }
}
