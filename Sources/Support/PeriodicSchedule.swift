// The tick schedule of the periodic commands (record, export): ticks at
// start + n * interval on the monotonic clock, so the period does not drift by the
// time each sample takes, and ticks that a slow sample overran are skipped rather
// than fired in a burst.
public struct PeriodicSchedule: Sendable {
    public let start: Double
    public let interval: Double
    private var tick = 0

    public init(interval: Double, start: Double = MonotonicClock.now()) {
        self.start = start
        self.interval = interval
    }

    /// The monotonic time of the next tick after the one just done.
    public mutating func next(now: Double = MonotonicClock.now()) -> Double {
        tick += 1
        var due = start + Double(tick) * interval
        if due < now {
            tick = Int(((now - start) / interval).rounded(.up))
            due = start + Double(tick) * interval
        }
        return due
    }
}
