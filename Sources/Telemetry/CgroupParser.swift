// Which container a process belongs to, read from its /proc/<pid>/cgroup.
//
// Each line of that file is `hierarchy-ID:controller-list:cgroup-path` (the path
// itself may contain ':'). cgroup v2 has one line `0::/path`; v1 has one line per
// hierarchy; hybrid has both. We look at every line and prefer, among those that
// name a container: `name=systemd`, then the v2 line, then pids/memory/cpu/...,
// then any other.
//
// Within one path, each component is matched against the shapes below; the LAST
// (innermost) match wins, so nested containers give the inner one and sub-cgroups
// such as `docker-<id>.scope/init.scope` or `libpod-<id>.scope/container` still
// give the container above them. `..` components (a private cgroup namespace seen
// from outside it) simply match nothing.
//
//   <parent>/<64hex>                     parent `docker`: docker (cgroupfs driver)
//                                        parent `pod<uid>`: Kubernetes cgroupfs; the
//                                        runtime cannot be told from the path, we
//                                        say containerd (dockershim is gone since
//                                        Kubernetes 1.24; CRI-O names its own
//                                        cgroups `crio-<id>`)
//   /<namespace>/<64hex>                 containerd: ctr and nerdctl with the cgroupfs
//                                        driver, for the namespaces `default` and
//                                        `k8s.io` (at the top of the hierarchy; other
//                                        parents stay unclaimed, e.g. `/actions_job`)
//   docker-<64hex>[.scope]               docker
//   cri-containerd-<64hex>[.scope]       containerd
//   nerdctl-<64hex>[.scope]              containerd (nerdctl, systemd driver)
//   crio-<64hex>[.scope]                 crio (`crio-conmon-<id>` is the monitor: host)
//   libpod-<64hex>[.scope]               podman (`libpod-conmon-<id>`: host)
//   <pod slice>:<prefix>:<64hex>         containerd/crio/docker, the systemd
//                                        cgroupsPath form seen under
//                                        `containerd.service` on v1 hosts
//
// The pod uid comes from the component right above the container: `pod<uid>`
// (cgroupfs) or `...-pod<uid with _>.slice` (systemd; `kubepods-burstable-pod...`,
// `kubepods-pod...`, kind's `kubelet-kubepods-...`). A uid is 36 characters in
// 8-4-4-4-12 form, or 32 hex (static pods); it is returned with dashes.
//
// Everything else (user sessions, `containerd.service` itself, `/`) is a host
// process: nil. Ids are 64 lowercase hex digits, never anything else.
import FoundationEssentials
import Model

public enum CgroupParser {
    /// The container named by the text of a /proc/<pid>/cgroup file, or nil.
    public static func containerRef(cgroupFile: String) -> ContainerRef? {
        var text = cgroupFile
        return text.withUTF8 { containerRef(cgroupBytes: $0) }
    }

    /// The container named by one cgroup path (`/system.slice/docker-<id>.scope`), or nil.
    public static func containerRef(path: String) -> ContainerRef? {
        var text = path
        return text.withUTF8 { b -> ContainerRef? in
            guard let base = b.baseAddress else { return nil }
            return matchPath(base, 0, b.count)?.make(base)
        }
    }

    /// Same as `containerRef(cgroupFile:)` on raw bytes (no String is made unless a
    /// container is found).
    public static func containerRef(cgroupBytes b: UnsafeBufferPointer<UInt8>) -> ContainerRef? {
        guard let p = b.baseAddress else { return nil }
        let n = b.count
        var best: Match? = nil
        var bestRank = Int.max
        var lineStart = 0
        while lineStart < n {
            var lineEnd = lineStart
            while lineEnd < n && p[lineEnd] != nl { lineEnd += 1 }
            defer { lineStart = lineEnd + 1 }
            // hierarchy-ID: digits
            var c1 = lineStart
            while c1 < lineEnd && p[c1] != colon { c1 += 1 }
            guard c1 < lineEnd, c1 > lineStart, allDigits(p, lineStart, c1) else { continue }
            var c2 = c1 + 1
            while c2 < lineEnd && p[c2] != colon { c2 += 1 }
            guard c2 < lineEnd else { continue }
            let rank = controllerRank(p, c1 + 1, c2)
            guard rank < bestRank else { continue }
            var pathEnd = lineEnd
            if pathEnd > c2 + 1 && p[pathEnd - 1] == cr { pathEnd -= 1 }
            if let m = matchPath(p, c2 + 1, pathEnd) {
                best = m
                bestRank = rank
                if rank == 0 { break }
            }
        }
        return best?.make(p)
    }
}

// MARK: - Implementation

private let nl = UInt8(ascii: "\n")
private let cr = UInt8(ascii: "\r")
private let colon = UInt8(ascii: ":")
private let slash = UInt8(ascii: "/")
private let dash = UInt8(ascii: "-")
private let underscore = UInt8(ascii: "_")
private let idLength = 64

/// A match, as offsets into the buffer being parsed; strings are made only at the end.
private struct Match {
    var runtime: ContainerRef.Runtime
    var idStart: Int
    var podStart: Int = -1
    var podEnd: Int = -1

    func make(_ p: UnsafePointer<UInt8>) -> ContainerRef {
        let id = String(decoding: UnsafeBufferPointer(start: p + idStart, count: idLength), as: UTF8.self)
        var pod: String? = nil
        if podStart >= 0 && podEnd > podStart {
            var bytes = [UInt8](UnsafeBufferPointer(start: p + podStart, count: podEnd - podStart))
            for i in bytes.indices where bytes[i] == underscore { bytes[i] = dash }
            pod = String(decoding: bytes, as: UTF8.self)
        }
        return ContainerRef(runtime: runtime, id: id, podUID: pod)
    }
}

private struct Prefix {
    let bytes: [UInt8]
    let runtime: ContainerRef.Runtime
    init(_ s: String, _ r: ContainerRef.Runtime) { bytes = Array(s.utf8); runtime = r }
}

/// `<prefix><64hex>` or `<prefix><64hex>.scope`.
private let prefixes: [Prefix] = [
    Prefix("docker-", .docker),
    Prefix("cri-containerd-", .containerd),
    Prefix("crio-", .crio),
    Prefix("libpod-", .podman),
    Prefix("nerdctl-", .containerd),
]

/// The middle part of `<pod slice>:<prefix>:<64hex>`.
private let colonPrefixes: [Prefix] = [
    Prefix("cri-containerd", .containerd),
    Prefix("crio", .crio),
    Prefix("docker", .docker),
]

private let scopeSuffix = Array(".scope".utf8)
private let sliceSuffix = Array(".slice".utf8)
private let dockerWord = Array("docker".utf8)
/// containerd namespaces whose cgroupfs default `/<namespace>/<id>` we claim.
private let containerdNamespaces: [[UInt8]] = ["default", "k8s.io"].map { Array($0.utf8) }
private let dotDot = Array("..".utf8)
private let podWord = Array("pod".utf8)
private let dashPodWord = Array("-pod".utf8)
private let systemdWord = Array("name=systemd".utf8)
private let mainControllers: [[UInt8]] = ["pids", "memory", "cpu", "cpuacct", "cpu,cpuacct", "devices"].map { Array($0.utf8) }

@inline(__always)
private func isLowerHex(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)
}

private func allHex(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> Bool {
    var i = s
    while i < e { if !isLowerHex(p[i]) { return false }; i += 1 }
    return true
}

private func allDigits(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> Bool {
    var i = s
    while i < e { if p[i] < 0x30 || p[i] > 0x39 { return false }; i += 1 }
    return true
}

private func equals(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, _ word: [UInt8]) -> Bool {
    guard e - s == word.count else { return false }
    var i = 0
    while i < word.count { if p[s + i] != word[i] { return false }; i += 1 }
    return true
}

private func hasPrefix(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, _ word: [UInt8]) -> Bool {
    guard e - s >= word.count else { return false }
    var i = 0
    while i < word.count { if p[s + i] != word[i] { return false }; i += 1 }
    return true
}

private func hasSuffix(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, _ word: [UInt8]) -> Bool {
    guard e - s >= word.count else { return false }
    return equals(p, e - word.count, e, word)
}

/// 0: name=systemd, 1: the v2 line, 2: a main v1 controller, 3: anything else.
private func controllerRank(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> Int {
    if s == e { return 1 }
    if equals(p, s, e, systemdWord) { return 0 }
    // controller list: comma separated; a main one anywhere in it ranks 2
    var i = s
    while i < e {
        var j = i
        while j < e && p[j] != UInt8(ascii: ",") { j += 1 }
        for c in mainControllers where equals(p, i, j, c) { return 2 }
        i = j + 1
    }
    return 3
}

/// A Kubernetes pod uid: 8-4-4-4-12 with `sep` between groups, or 32 hex.
private func isPodUID(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, sep: UInt8) -> Bool {
    let n = e - s
    if n == 32 { return allHex(p, s, e) }
    guard n == 36 else { return false }
    for i in 0..<36 {
        let c = p[s + i]
        if i == 8 || i == 13 || i == 18 || i == 23 {
            if c != sep { return false }
        } else if !isLowerHex(c) {
            return false
        }
    }
    return true
}

/// The pod uid named by a cgroup component, as (start, end), or nil.
/// cgroupfs: `pod<uid>`; systemd: `<anything>-pod<uid with _>.slice`.
private func podUID(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> (Int, Int)? {
    guard e > s else { return nil }
    if hasPrefix(p, s, e, podWord), isPodUID(p, s + 3, e, sep: dash) {
        return (s + 3, e)
    }
    guard hasSuffix(p, s, e, sliceSuffix) else { return nil }
    let end = e - sliceSuffix.count
    // the last "-pod" before .slice
    var i = end - dashPodWord.count
    while i >= s {
        if equals(p, i, i + dashPodWord.count, dashPodWord) {
            let us = i + dashPodWord.count
            return isPodUID(p, us, end, sep: underscore) ? (us, end) : nil
        }
        i -= 1
    }
    return nil
}

/// The innermost container named by the path p[s..<e].
private func matchPath(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> Match? {
    var result: Match? = nil
    var prevStart = s, prevEnd = s   // empty: no parent yet
    var depth = 0                    // components so far, `..` not counted
    var i = s
    while i < e {
        while i < e && p[i] == slash { i += 1 }
        guard i < e else { break }
        var j = i
        while j < e && p[j] != slash { j += 1 }
        if let m = matchComponent(p, i, j, prevStart, prevEnd, parentIsTop: depth == 1) { result = m }
        if !equals(p, i, j, dotDot) { depth += 1 }
        prevStart = i; prevEnd = j
        i = j
    }
    return result
}

private func matchComponent(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, _ ps: Int, _ pe: Int,
                            parentIsTop: Bool) -> Match? {
    let n = e - s
    if n < idLength { return nil }

    // <parent>/<64hex>
    if n == idLength {
        guard allHex(p, s, e) else { return nil }
        if equals(p, ps, pe, dockerWord) { return Match(runtime: .docker, idStart: s) }
        if hasPrefix(p, ps, pe, podWord), isPodUID(p, ps + 3, pe, sep: dash) {
            return Match(runtime: .containerd, idStart: s, podStart: ps + 3, podEnd: pe)
        }
        if parentIsTop, containerdNamespaces.contains(where: { equals(p, ps, pe, $0) }) {
            return Match(runtime: .containerd, idStart: s)
        }
        return nil
    }

    // <pod slice>:<prefix>:<64hex>
    var c1 = s
    while c1 < e && p[c1] != colon { c1 += 1 }
    if c1 < e {
        var c2 = c1 + 1
        while c2 < e && p[c2] != colon { c2 += 1 }
        guard c2 < e, e - (c2 + 1) == idLength, allHex(p, c2 + 1, e) else { return nil }
        for pre in colonPrefixes where equals(p, c1 + 1, c2, pre.bytes) {
            var m = Match(runtime: pre.runtime, idStart: c2 + 1)
            if let (us, ue) = podUID(p, s, c1) { m.podStart = us; m.podEnd = ue }
            return m
        }
        return nil
    }

    // <prefix><64hex>[.scope]
    for pre in prefixes where hasPrefix(p, s, e, pre.bytes) {
        let idStart = s + pre.bytes.count
        let rest = e - idStart
        guard rest == idLength || (rest == idLength + scopeSuffix.count && hasSuffix(p, s, e, scopeSuffix)),
              allHex(p, idStart, idStart + idLength) else { return nil }
        var m = Match(runtime: pre.runtime, idStart: idStart)
        if let (us, ue) = podUID(p, ps, pe) { m.podStart = us; m.podEnd = ue }
        return m
    }
    return nil
}
