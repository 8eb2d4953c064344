// Clocks, read in one place. Monotonic time for deadlines and durations (it never
// jumps); wall time only for what a person reads (timestamps in snapshots and logs).
import Glibc

public enum MonotonicClock {
    /// Seconds since an arbitrary point (boot); for deadlines and durations.
    public static func now() -> Double { clockSeconds(CLOCK_MONOTONIC) }

    /// The timespec of a monotonic `deadline`, for pthread_cond_timedwait on a
    /// monotonic condition (LockedValue).
    public static func timespec(at deadline: Double) -> Glibc.timespec {
        let whole = deadline.rounded(.down)
        return Glibc.timespec(tv_sec: Int(whole), tv_nsec: Int((deadline - whole) * 1e9))
    }
}

public enum WallClock {
    /// Seconds since 1970 (UTC).
    public static func now() -> Double { clockSeconds(CLOCK_REALTIME) }
}

/// CPU time of this process or thread (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID),
/// or any other clock, in seconds.
public func clockSeconds(_ clock: clockid_t) -> Double {
    var ts = timespec()
    clock_gettime(clock, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// The same in nanoseconds, for cost accounting that sums many short intervals.
public func clockNanoseconds(_ clock: clockid_t) -> UInt64 {
    var ts = timespec()
    clock_gettime(clock, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// A relative timespec for `seconds` (negative counts as zero), for sigtimedwait and friends.
public func relativeTimespec(_ seconds: Double) -> timespec {
    let s = max(0, seconds)
    let whole = s.rounded(.down)
    return timespec(tv_sec: Int(whole), tv_nsec: Int((s - whole) * 1e9))
}
