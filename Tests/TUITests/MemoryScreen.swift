// A screen in memory for the run loop's tests (DashboardRunner.run(on:)).
import Glibc
import Support
@testable import TUI

/// A screen in memory: frames drawn are kept, keys come from `type(_:)`.
public final class MemoryScreen: ScreenBackend, @unchecked Sendable {
    private struct State {
        var keys: [Key] = []
        var frames: [Frame] = []
        var resize: (width: Int, height: Int)?
        var size: (width: Int, height: Int)
        var ended = false
    }
    private let state: LockedValue<State>
    public let unicode: Bool

    public init(width: Int, height: Int, unicode: Bool = true) {
        state = LockedValue(State(size: (width, height)))
        self.unicode = unicode
        TerminalGuard.makeWakePipe()
    }

    /// Queues keys for the run loop.
    public func type(_ keys: [Key]) {
        state.update { $0.keys += keys }
        TerminalGuard.wake()
    }

    /// Resizes the screen, as a terminal's SIGWINCH would.
    public func resize(width: Int, height: Int) {
        state.update { $0.resize = (width, height) }
        TerminalGuard.wake()
    }

    /// How many frames have been drawn: a mark for `waitForFrame(after:)`.
    public var frameCount: Int { state.withLock { $0.frames.count } }
    public var ended: Bool { state.withLock { $0.ended } }

    /// Waits until a frame drawn after the first `after` satisfies `condition` (frames
    /// from before a key was typed do not count); that frame, or nil after `seconds`.
    public func waitForFrame(after mark: Int = 0, seconds: Double, _ condition: (Frame) -> Bool) -> Frame? {
        var found: Frame?
        state.wait(until: { s in
            found = s.frames.dropFirst(mark).last(where: condition)
            return found != nil
        }, deadline: MonotonicClock.now() + seconds)
        return found
    }

    public var size: (width: Int, height: Int) { state.withLock { $0.size } }
    public func draw(_ frame: Frame) { state.update { $0.frames.append(frame) } }
    public func invalidate() {}
    public func end() { state.update { $0.ended = true } }

    public func readKeys() -> (keys: [Key], resized: Bool) {
        state.withLock { s in
            defer { s.keys = []; s.resize = nil }
            if let r = s.resize { s.size = r }
            return (s.keys, s.resize != nil)
        }
    }

    public func waitForInput(milliseconds: Int32) -> Bool {
        var fds = [pollfd(fd: TerminalGuard.wakeRead, events: Int16(POLLIN), revents: 0)]
        _ = poll(&fds, 1, milliseconds)
        return true
    }
}
