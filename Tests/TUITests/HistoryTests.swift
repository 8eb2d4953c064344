// Sparkline history: samples are averaged into wall-clock buckets and only whole
// buckets are shown, so a steady dashboard rewrites its sparklines once per bucket.
@testable import TUI
import XCTest

final class HistoryTests: XCTestCase {
    func testSamplesAverageIntoCompletedBuckets() {
        var s = Series()
        let t0 = 1_000_000.0   // a bucket boundary (multiple of 5 s)
        for i in 0..<5 { s.append(Double(10 * (i + 1)), at: t0 + Double(i)) }   // 10..50 in one bucket
        XCTAssertEqual(s.values, [], "the bucket is not complete yet")
        s.append(99, at: t0 + 5)
        XCTAssertEqual(s.values, [30], "mean of the first bucket, shown once complete")
        s.append(-1, at: t0 + 10)   // the 99 bucket completes; the next one knows nothing
        s.append(-1, at: t0 + 12)
        s.append(7, at: t0 + 15)
        XCTAssertEqual(s.values, [30, 99, -1], "unknown stays a gap, never a zero")
    }

    func testTimesOutOfRangeDoNotTrap() {
        var s = Series()
        s.append(5, at: 1_000_000)
        for t in [1e300, -1e300, .infinity, .nan] { s.append(7, at: t) }   // from a hostile recording
        s.append(9, at: 1_000_010)
        XCTAssertEqual(s.values.count, 1, "out-of-range times stay in the current bucket")
    }

    func testCapacityBoundsTheSeries() {
        var s = Series()
        for i in 0..<(Series.capacity + 50) { s.append(Double(i), at: Double(i) * Series.bucketSeconds) }
        XCTAssertEqual(s.values.count, Series.capacity)
        XCTAssertEqual(s.values.last, Double(Series.capacity + 48))
    }

    func testLiveUptimeChangesOncePerMinute() {
        XCTAssertEqual(Format.coarseDuration(42), "<1m")
        XCTAssertEqual(Format.coarseDuration(60 * 12 + 5), "12m")
        XCTAssertEqual(Format.coarseDuration(60 * 12 + 59), "12m")
        XCTAssertEqual(Format.coarseDuration(3600 * 4 + 5 * 60 + 7), "4h05m")
        XCTAssertEqual(Format.duration(60 * 12 + 5), "12m05s", "one-shot text keeps seconds")
    }
}

/// Overwriting half of a wide character blanks the other half, so a row always
/// spans exactly its width on the terminal.
final class WideCellTests: XCTestCase {
    func testOverwritingEitherHalfOfAWideCharacter() {
        var f = Frame(width: 6, height: 2)
        f.put(0, 0, "界界")
        f.put(1, 0, "a")              // over the first one's right half
        XCTAssertEqual(f.line(0), " a界  ")
        f.put(2, 0, "b")              // over the second one's left half
        XCTAssertEqual(f.line(0), " ab   ")
        f.put(0, 1, "ab界")
        f.put(1, 1, "界")             // a wide one over a narrow one and a left half
        XCTAssertEqual(f.line(1), "a界   ")
        for y in 0..<2 { XCTAssertEqual(TextWidth.of(f.line(y)), 6, "row \(y) must span the frame") }
    }
}
