// Drives the dashboard from a recording instead of live samplers: the position,
// pause, stepping, jumps and speed of a replay. The UI thread owns it.
import Model
import Recording

/// What the header shows of a replay.
public struct ReplayStatus: Sendable, Equatable {
    public var index: Int
    public var count: Int
    public var paused: Bool
    public var speed: Double
    /// When the recording stopped early: the records read before the one that did not
    /// read (the header says so; the reason goes to stderr when the replay ends).
    public var truncatedAfter: Int?
}

public enum ReplayCommand: Equatable, Sendable {
    case togglePause
    case step(Int)
    case jump(seconds: Double)
    case faster, slower
}

public final class ReplayDriver {
    private let reader: RecordingReader
    public private(set) var index = 0
    public private(set) var paused = false
    public private(set) var speed = 1.0
    static let speeds: [Double] = [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64]

    public init(reader: RecordingReader) {
        self.reader = reader
    }

    public var count: Int { reader.count }

    public var status: ReplayStatus {
        ReplayStatus(index: index, count: count, paused: paused, speed: speed,
                      truncatedAfter: reader.stopReason?.record)
    }

    public var current: Snapshot { reader.snapshot(index: index) }

    /// Seconds of wall time until the next snapshot is due at the current speed;
    /// nil when paused or at the end.
    public var secondsToNext: Double? {
        guard !paused, index + 1 < count else { return nil }
        let gap = reader.times[index + 1] - reader.times[index]
        return max(0.01, min(60, gap) / speed)
    }

    /// Moves one snapshot forward (playing); false at the end.
    public func advance() -> Bool {
        guard index + 1 < count else { return false }
        index += 1
        return true
    }

    /// Applies a key's command; returns true when the position changed.
    public func apply(_ command: ReplayCommand) -> Bool {
        switch command {
        case .togglePause:
            paused.toggle()
            return false
        case .step(let n):
            paused = true
            let next = min(count - 1, max(0, index + n))
            defer { index = next }
            return next != index
        case .jump(let seconds):
            let target = reader.times[index] + seconds
            let next = reader.nearestIndex(to: target) ?? index
            defer { index = next }
            return next != index
        case .faster, .slower:
            let i = Self.speeds.firstIndex(of: speed) ?? 2
            speed = Self.speeds[min(Self.speeds.count - 1, max(0, i + (command == .faster ? 1 : -1)))]
            return false
        }
    }

    /// The history of the snapshots before the current one, for after a jump, so
    /// sparklines show the recorded past, not the path the user took. Built one snapshot
    /// at a time: a window of large snapshots is never all in memory at once.
    public func historyBeforeCurrent(_ length: Int = Series.capacity) -> History {
        var history = History()
        let start = max(0, index - length + 1)
        for i in start..<index { history.record(reader.snapshot(index: i)) }
        return history
    }
}
