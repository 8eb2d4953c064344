// The one place the sampler thread and the UI thread meet: the newest snapshot
// goes in, the UI takes it; the interval and the stop request go the other way.
import Glibc
import Telemetry

final class Mailbox: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var latest: Snapshot?
    private var intervalSeconds: Double
    private var stopping = false
    private var actionResult: String?

    init(interval: Double) {
        intervalSeconds = interval
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    func post(_ s: Snapshot) {
        pthread_mutex_lock(&mutex)
        latest = s
        pthread_mutex_unlock(&mutex)
        TerminalGuard.wake()
    }

    func take() -> Snapshot? {
        pthread_mutex_lock(&mutex)
        defer { latest = nil; pthread_mutex_unlock(&mutex) }
        return latest
    }

    func postActionResult(_ text: String) {
        pthread_mutex_lock(&mutex)
        actionResult = text
        pthread_mutex_unlock(&mutex)
        TerminalGuard.wake()
    }

    func takeActionResult() -> String? {
        pthread_mutex_lock(&mutex)
        defer { actionResult = nil; pthread_mutex_unlock(&mutex) }
        return actionResult
    }

    func setInterval(_ seconds: Double) {
        pthread_mutex_lock(&mutex)
        intervalSeconds = seconds
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    func stop() {
        pthread_mutex_lock(&mutex)
        stopping = true
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    var isStopping: Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return stopping
    }

    /// Sleeps until `start + interval` (re-read when it changes), or until stop.
    /// Returns false when stopping.
    func waitForNextRefresh(since start: Double) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while !stopping {
            let deadline = start + intervalSeconds
            let now = Clock.now()
            if now >= deadline { return true }
            var ts = timespec()
            let wholeSeconds = deadline.rounded(.down)
            ts.tv_sec = Int(wholeSeconds)
            ts.tv_nsec = Int((deadline - wholeSeconds) * 1e9)
            pthread_cond_timedwait(&condition, &mutex, &ts)
        }
        return false
    }
}

enum Clock {
    /// Wall-clock seconds (CLOCK_REALTIME, as pthread_cond_timedwait uses).
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
