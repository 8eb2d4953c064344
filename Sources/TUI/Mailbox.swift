// The one place the sampler thread and the UI thread meet: the newest snapshot
// goes in, the UI takes it; the interval and the stop request go the other way.
import Model
import Support

final class Mailbox: Sendable {
    private struct State {
        var latest: Snapshot?
        var intervalSeconds: Double
        var stopping = false
        var actionResult: String?
    }
    private let state: LockedValue<State>

    init(interval: Double) {
        state = LockedValue(State(intervalSeconds: interval))
    }

    func post(_ s: Snapshot) {
        state.withLock { $0.latest = s }
        TerminalGuard.wake()
    }

    func take() -> Snapshot? {
        state.withLock { state in
            defer { state.latest = nil }
            return state.latest
        }
    }

    func postActionResult(_ text: String) {
        state.withLock { $0.actionResult = text }
        TerminalGuard.wake()
    }

    func takeActionResult() -> String? {
        state.withLock { state in
            defer { state.actionResult = nil }
            return state.actionResult
        }
    }

    /// Wakes the sampler, which then waits for the new interval from its last start.
    func setInterval(_ seconds: Double) {
        state.update { $0.intervalSeconds = seconds }
    }

    func stop() {
        state.update { $0.stopping = true }
    }

    var isStopping: Bool { state.withLock { $0.stopping } }

    /// Sleeps until `start + interval` on the monotonic clock (re-read when it
    /// changes), or until stop. Returns false when stopping.
    func waitForNextRefresh(since start: Double) -> Bool {
        while true {
            let (stopping, interval) = state.withLock { ($0.stopping, $0.intervalSeconds) }
            if stopping { return false }
            let deadline = start + interval
            if MonotonicClock.now() >= deadline { return true }
            // Wakes on stop, on a new interval, or at the deadline; then look again.
            state.wait(until: { $0.stopping || $0.intervalSeconds != interval }, deadline: deadline)
        }
    }
}
