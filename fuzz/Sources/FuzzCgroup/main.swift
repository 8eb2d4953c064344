// libFuzzer target: the /proc/<pid>/cgroup parser (CgroupParser).
//
// Any bytes must give nil or a well-formed reference (64 lowercase hex id, pod uid
// in 8-4-4-4-12 form), the same through the bytes, String and (for one line) path
// entry points. A broken invariant aborts, which libFuzzer reports as a crash.
import Model
import Telemetry

private func fail(_ why: String, _ data: UnsafeRawBufferPointer) -> Never {
    fatalError("FuzzCgroup: \(why) for \(Array(data))")
}

private func isLowerHex(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) }

private func check(_ ref: ContainerRef?, _ data: UnsafeRawBufferPointer) {
    guard let ref else { return }
    let id = Array(ref.id.utf8)
    if id.count != 64 || !id.allSatisfy(isLowerHex) { fail("bad id \(ref.id)", data) }
    if let pod = ref.podUID {
        let p = Array(pod.utf8)
        guard p.count == 36 || p.count == 32 else { fail("bad pod uid \(pod)", data) }
        for (i, c) in p.enumerated() {
            let sep = p.count == 36 && (i == 8 || i == 13 || i == 18 || i == 23)
            if sep ? c != UInt8(ascii: "-") : !isLowerHex(c) { fail("bad pod uid \(pod)", data) }
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCgroup(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let data = UnsafeRawBufferPointer(start: start, count: count)
    let bytes = data.bindMemory(to: UInt8.self)
    let fromBytes = CgroupParser.containerRef(cgroupBytes: bytes)
    check(fromBytes, data)

    // The String entry point must agree wherever the bytes are valid UTF-8.
    if let text = String(validating: bytes, as: UTF8.self) {
        let fromString = CgroupParser.containerRef(cgroupFile: text)
        if fromString != fromBytes { fail("String \(String(describing: fromString)) != bytes \(String(describing: fromBytes))", data) }

        // One path alone, as the v2 line would carry it.
        if !text.utf8.contains(UInt8(ascii: "\n")) {
            let fromPath = CgroupParser.containerRef(path: text)
            check(fromPath, data)
            let asLine = CgroupParser.containerRef(cgroupFile: "0::" + text + "\n")
            if fromPath != asLine && !text.utf8.contains(UInt8(ascii: "\r")) {
                fail("path \(String(describing: fromPath)) != line \(String(describing: asLine))", data)
            }
        }
    }
    return 0
}
