// The key table is the one source of what a key does and how it is documented.
@testable import TUI
import XCTest

final class KeyBindingsTests: XCTestCase {
    private let modes = [(replaying: false, actions: true), (replaying: false, actions: false), (replaying: true, actions: false)]

    func testNoKeyMeansTwoThingsInOneMode() {
        for mode in modes {
            var seen: [Key] = []
            for b in KeyBindings.all where KeyBindings.isActive(b, replaying: mode.replaying, actionsEnabled: mode.actions) {
                for k in b.keys {
                    XCTAssertFalse(seen.contains(k), "\(k) bound twice in \(mode)")
                    seen.append(k)
                }
            }
        }
    }

    func testLiveHelpHasNoReplayKeysAndReadOnlyNoActions() {
        let live = KeyBindings.helpLines(replaying: false, actionsEnabled: true, actions: false).map(\.what)
        XCTAssertFalse(live.contains { $0.hasPrefix("replay:") }, "\(live)")
        XCTAssertTrue(live.contains("refresh faster or slower (0.1 s to 60 s)"))
        let replay = KeyBindings.helpLines(replaying: true, actionsEnabled: false, actions: false).map(\.what)
        XCTAssertTrue(replay.contains("replay: pause or play"))
        XCTAssertFalse(replay.contains("refresh faster or slower (0.1 s to 60 s)"))
        XCTAssertEqual(KeyBindings.helpLines(replaying: false, actionsEnabled: true, actions: true).map(\.key),
                       ["x", "R", "K", "T  I  9", "p"])
        XCTAssertTrue(KeyBindings.helpLines(replaying: false, actionsEnabled: false, actions: true).isEmpty)
    }

    func testReadOnlyAndReplayLeaveActionKeysInert() {
        XCTAssertEqual(KeyBindings.binding(for: .char("x"), replaying: false, actionsEnabled: true)?.command, .stopContainer)
        XCTAssertNil(KeyBindings.binding(for: .char("x"), replaying: false, actionsEnabled: false))
        XCTAssertNil(KeyBindings.binding(for: .char("9"), replaying: true, actionsEnabled: true))
        XCTAssertEqual(KeyBindings.binding(for: .char("+"), replaying: true, actionsEnabled: false)?.command, .replay(.faster))
        XCTAssertEqual(KeyBindings.binding(for: .char("+"), replaying: false, actionsEnabled: false)?.command, .faster)
    }
}
