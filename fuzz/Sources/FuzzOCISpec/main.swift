// libFuzzer target: the OCI spec reader (OCISpec.decode) and the GPU claim made from it.
//
// Any bytes must give an error or a spec within its bounds (annotations, their sizes, the
// device and mount lists), and a claim that describes itself in a non-empty line. A broken
// invariant aborts, which libFuzzer reports as a crash.
import Model
import Telemetry

private func fail(_ why: String, _ data: UnsafeRawBufferPointer) -> Never {
    fatalError("FuzzOCISpec: \(why) for \(data.count) bytes")
}

/// One GPU with a MIG instance, so that identifiers can match.
private let gpus: GPUIdentities = {
    var g = GPU(index: 0)
    g.uuid = "GPU-aaaaaaaa-0000-0000-0000-000000000000"
    var m = MIGDevice(index: 0)
    m.uuid = "MIG-11111111-2222-3333-4444-555555555555"
    m.gpuInstanceId = 1
    m.computeInstanceId = 0
    g.migDevices = [m]
    return GPUIdentities(gpus: [g], minorNumbers: [0: 0])
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOCISpec(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let data = UnsafeRawBufferPointer(start: start, count: count)
    let spec: OCISpec
    do {
        spec = try OCISpec.decode(Array(data))
    } catch {
        let line = "\(error)"
        if line.contains("\n") || line.count > 200 { fail("error is not one short line: \(line.count) characters", data) }
        return 0
    }
    if spec.annotations.count > OCISpec.maxAnnotations { fail("\(spec.annotations.count) annotations", data) }
    for (k, v) in spec.annotations where k.utf8.count > OCISpec.maxValueBytes || v.utf8.count > OCISpec.maxValueBytes {
        fail("annotation over the size bound", data)
    }
    if spec.devices.count > OCISpec.maxListItems || spec.mounts.count > OCISpec.maxListItems { fail("list over its bound", data) }
    if let claim = GPUClaim.from(spec) {
        if claim.describe(gpus).isEmpty || claim.describe(GPUIdentities()).isEmpty { fail("a claim described as nothing", data) }
    }
    return 0
}
