// POSIX threads for the few long-lived jobs (sampler, ssh readers, the exporter's
// sampling, dashboard actions, the Docker event stream): Foundation's Thread is
// not in FoundationEssentials.
import Glibc

private final class ThreadBody {
    let run: () -> Void
    let name: String?
    init(_ run: @escaping () -> Void, name: String?) { self.run = run; self.name = name }
}

/// A joinable pthread running `body`; nil (and `body` never runs) if it could not be created.
/// `name` (at most 15 bytes) is what `top -H` and /proc/PID/task/TID/comm show, so a
/// thread's CPU can be told from the others'.
public func spawnThread(name: String? = nil, _ body: @escaping () -> Void) -> pthread_t? {
    let box = Unmanaged.passRetained(ThreadBody(body, name: name))
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        let body = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
        if let name = body.name { nameThisThread(name) }
        body.run()
        return nil
    }, box.toOpaque())
    guard rc == 0 else { box.release(); return nil }
    return thread
}

/// A detached pthread running `body`; false if it could not be created.
@discardableResult
public func startDetachedThread(name: String? = nil, _ body: @escaping () -> Void) -> Bool {
    guard let thread = spawnThread(name: name, body) else { return false }
    pthread_detach(thread)
    return true
}

/// Names the calling thread (the kernel keeps 15 bytes). Through /proc/thread-self/comm:
/// pthread_setname_np and prctl are not visible from Swift's Glibc module.
func nameThisThread(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count) }
}
