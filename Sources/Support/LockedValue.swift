// The one lock of gpuctop: a value that lives inside its lock, so it cannot be
// touched without it, plus a condition to wait on. Every room that shares state
// between threads (the sampler and the UI, the ssh readers, the exporter, the
// Docker event stream) uses this.
//
// Why not Synchronization.Mutex alone: half of our sharing waits on a condition
// (a refresh due, a stop request) with a deadline, which Mutex does not offer.
// Why heap-allocated pthread objects: a pthread_mutex_t must not move, and Swift
// does not promise a stored property keeps its address (`&storedProperty` may be
// a temporary copy).
import Glibc

public final class LockedValue<Value>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
        // Deadlines are monotonic: a wall-clock jump (NTP, a user's `date`) must not
        // make a waiter sleep for hours or spin.
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` with the value, the lock held.
    @discardableResult
    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// A copy of the value.
    public var current: Value { withLock { $0 } }

    /// Changes the value and wakes every waiter.
    public func update<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(cond)
            pthread_mutex_unlock(mutex)
        }
        return try body(&value)
    }

    /// Waits until `condition` holds or the monotonic `deadline` (seconds, as
    /// `MonotonicClock.now()`) passes; then runs `body` with the lock still held.
    /// The condition is re-checked after every `update`.
    public func wait<T>(until condition: (Value) -> Bool, deadline: Double? = nil,
                        then body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !condition(value) {
            guard let deadline else {
                pthread_cond_wait(cond, mutex)
                continue
            }
            if MonotonicClock.now() >= deadline { break }
            var ts = MonotonicClock.timespec(at: deadline)
            pthread_cond_timedwait(cond, mutex, &ts)
        }
        return try body(&value)
    }

    /// Waits until `condition` holds or the deadline passes; true when it holds.
    @discardableResult
    public func wait(until condition: (Value) -> Bool, deadline: Double? = nil) -> Bool {
        wait(until: condition, deadline: deadline) { condition($0) }
    }
}
