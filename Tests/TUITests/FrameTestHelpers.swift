// What the frame tests share: a dashboard model showing one snapshot at a size, and
// the check that every row of a frame fits its width.
import Model
@testable import TUI
import XCTest

protocol FrameTestHelpers {}

extension FrameTestHelpers {
    /// A dashboard of `w`x`h` cells that has just received `s`.
    func model(_ s: Snapshot, _ w: Int, _ h: Int) -> DashboardModel {
        var m = DashboardModel(width: w, height: h)
        _ = m.update(.tick(s.time))
        _ = m.update(.snapshot(s))
        return m
    }

    func assertRowsFit(_ f: Frame, file: StaticString = #filePath, line: UInt = #line) {
        for y in 0..<f.height {
            XCTAssertLessThanOrEqual(TextWidth.of(f.line(y)), f.width, "row \(y) overflows", file: file, line: line)
        }
    }
}
