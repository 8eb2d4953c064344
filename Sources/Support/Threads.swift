// POSIX threads for the few long-lived jobs (sampler, ssh readers, the exporter's
// sampling, dashboard actions, the Docker event stream): Foundation's Thread is
// not in FoundationEssentials.
import Glibc

private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// A joinable pthread running `body`; nil (and `body` never runs) if it could not be created.
public func spawnThread(_ body: @escaping () -> Void) -> pthread_t? {
    let box = Unmanaged.passRetained(ThreadBody(body))
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().run()
        return nil
    }, box.toOpaque())
    guard rc == 0 else { box.release(); return nil }
    return thread
}

/// A detached pthread running `body`; false if it could not be created.
@discardableResult
public func startDetachedThread(_ body: @escaping () -> Void) -> Bool {
    guard let thread = spawnThread(body) else { return false }
    pthread_detach(thread)
    return true
}
