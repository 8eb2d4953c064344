// The seam under the run loop (as bubbletea's renderer interface): what the loop
// draws frames on and reads keys from. CursesScreen is the terminal; the tests'
// MemoryScreen keeps frames in memory and takes keys from a queue, so the whole run
// loop (sampler thread, mailbox, keys, actions, quit) is tested in-process.

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
