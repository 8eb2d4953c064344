// A test case that owns scratch directories and child processes, and removes and stops
// them after each test (the engines' state-directory tests share this).
import Foundation
import XCTest

open class ScratchTestCase: XCTestCase {
    public var directories: [String] = []
    public var children: [Child] = []

    override open func tearDown() {
        children.forEach { $0.stop() }
        children = []
        for d in directories { try? FileManager.default.removeItem(atPath: d) }
        directories = []
        super.tearDown()
    }

    /// A new empty directory, removed after the test.
    public func scratchDirectory(_ label: String) -> String {
        let d = TestEnv.temporaryDirectory(label).path
        directories.append(d)
        return d
    }
}
