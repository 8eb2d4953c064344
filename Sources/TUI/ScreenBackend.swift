// The seam under the run loop (as bubbletea's renderer interface): what the loop
// draws frames on and reads keys from. CursesScreen is the terminal; MemoryScreen
// keeps frames in memory and takes keys from a queue, so the whole run loop
// (sampler thread, mailbox, keys, actions, quit) is tested in-process.
import Glibc
import Support

public protocol ScreenBackend: AnyObject {
    var size: (width: Int, height: Int) { get }
    /// True when wide and box-drawing characters may be drawn.
    var unicode: Bool { get }
    func draw(_ frame: Frame)
    /// Keys since the last call, and whether the screen was resized.
    func readKeys() -> (keys: [Key], resized: Bool)
    /// The next draw repaints everything.
    func invalidate()
    /// Waits for input or a wake-up (a snapshot, an action's result) for at most
    /// `milliseconds`; false when the input is gone (the terminal hung up).
    func waitForInput(milliseconds: Int32) -> Bool
    func end()
}

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

    /// The frames drawn so far.
    public var frames: [Frame] { state.withLock { $0.frames } }
    public var ended: Bool { state.withLock { $0.ended } }

    /// Waits until a drawn frame satisfies `condition`; that frame, or nil after `seconds`.
    public func waitForFrame(seconds: Double, _ condition: (Frame) -> Bool) -> Frame? {
        var found: Frame?
        state.wait(until: { s in
            found = s.frames.last(where: condition)
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
