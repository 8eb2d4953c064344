// The bottom room: the lock and its timed wait, one-line text, the tick schedule,
// errno kept as data, and child processes.
import Glibc
import Support
import XCTest

final class LockedValueTests: XCTestCase {
    func testTwoThreadsCountingLoseNothing() {
        let counter = LockedValue(0)
        let done = LockedValue(0)
        for _ in 0..<2 {
            startDetachedThread {
                for _ in 0..<10_000 { counter.withLock { $0 += 1 } }
                done.update { $0 += 1 }
            }
        }
        XCTAssertTrue(done.wait(until: { $0 == 2 }, deadline: MonotonicClock.now() + 10))
        XCTAssertEqual(counter.current, 20_000)
    }

    func testWaitEndsAtTheDeadlineOrWhenTheConditionHolds() {
        let flag = LockedValue(false)
        let start = MonotonicClock.now()
        XCTAssertFalse(flag.wait(until: { $0 }, deadline: start + 0.2))
        let waited = MonotonicClock.now() - start
        XCTAssertGreaterThanOrEqual(waited, 0.19)
        XCTAssertLessThan(waited, 2)
        startDetachedThread { usleep(50_000); flag.update { $0 = true } }
        let before = MonotonicClock.now()
        XCTAssertTrue(flag.wait(until: { $0 }, deadline: before + 10))
        XCTAssertLessThan(MonotonicClock.now() - before, 2, "woken by the update, not by the deadline")
    }
}

final class TextTests: XCTestCase {
    func testOneLineFlattensControlsAndSeparatorsAndCuts() {
        XCTAssertEqual(oneLine("  a\nb\r\n\tc\u{1b}[31m  "), "a b c [31m")
        XCTAssertEqual(oneLine("x\u{2028}y\u{85}z"), "x y z")
        XCTAssertEqual(oneLine("evil\u{202E}gpj.exe\u{200B}"), "evil gpj.exe", "format characters too: no Trojan Source on stderr")
        XCTAssertEqual(oneLine(String(repeating: "a", count: 10), limit: 4), "aaaa…")
        XCTAssertEqual(oneLine(""), "")
    }

    func testTrimBlanks() {
        XCTAssertEqual(trimBlanks(" \t x y \r"), "x y")
        XCTAssertEqual(trimBlanks("   "), "")
    }
}

final class TextSearchTests: XCTestCase {
    func testFindsTheFirstAndLastMatchByBytes() {
        let text = "tensorrt (exited 1) (oom)"
        XCTAssertEqual(text.firstRange(ofText: " (").map { text[$0.lowerBound...] }, " (exited 1) (oom)")
        XCTAssertEqual(text.lastRange(ofText: " (").map { text[$0.lowerBound...] }, " (oom)")
        XCTAssertNil(text.firstRange(ofText: "(OOM)"))
        XCTAssertNil("ab".firstRange(ofText: "abc"), "a needle longer than the text")
        XCTAssertEqual("aaa".lastRange(ofText: "aa").map { "aaa".utf8.distance(from: "aaa".startIndex, to: $0.lowerBound) }, 0,
                       "matches do not overlap")
        XCTAssertEqual("".firstRange(ofText: ""), "".startIndex..<"".startIndex)
    }

    func testSubstringsAndNonASCIIText() {
        let line = "GPU 0: NVIDIA H200 MIG 1g.18gb Device 0"
        let tail = line[line.index(line.startIndex, offsetBy: 7)...]
        XCTAssertEqual(tail.firstRange(ofText: "MIG ").map { String(tail[$0.upperBound...]) }, "1g.18gb Device 0")
        let word = "größe → Zähler"
        XCTAssertTrue(word.includes("→ Z"))
        XCTAssertEqual(word.firstRange(ofText: "Zähler").map { String(word[$0]) }, "Zähler")
        XCTAssertFalse(word.includes("zähler"))
    }

    /// Engine text is anyone's: a 4 MiB near-miss haystack, NULs, escapes and a needle at
    /// the very end are found in one pass, and nothing past the end is read.
    func testHostileTextIsSearchedInOnePass() {
        let near = String(repeating: "container state imprope", count: 180_000)
        let text = near + "\u{0}\u{1B}[2J" + "container state improper"
        XCTAssertTrue(text.includes("container state improper"))
        XCTAssertEqual(text.lastRange(ofText: "\u{1B}[2J").map { text.utf8.distance(from: text.startIndex, to: $0.lowerBound) },
                       near.utf8.count + 1)
        XCTAssertFalse(near.includes("container state improper"))
        XCTAssertNil("abc\u{0}".firstRange(ofText: "\u{0}d"), "a needle running past the end")
    }

    /// The filter finds what a person reads: an accent typed composed finds it stored
    /// decomposed and the other way round; whole Characters, not bytes, for such needles.
    func testTheFilterMatchesAccentsAsRead() {
        let composed = "caf\u{E9} r\u{E9}sum\u{E9}", decomposed = "cafe\u{301} re\u{301}sume\u{301}"
        XCTAssertTrue(decomposed.includesAsRead("f\u{E9} r"))
        XCTAssertTrue(composed.includesAsRead("fe\u{301} r"))
        XCTAssertTrue(decomposed.includesAsRead("sum\u{E9}"), "at the very end")
        XCTAssertTrue(composed.includesAsRead(composed))
        XCTAssertFalse(composed.includesAsRead("f\u{E9}s"))
        XCTAssertFalse("caf".includesAsRead("caf\u{E9}"), "a needle longer than the text")
        XCTAssertFalse(decomposed.includesAsRead("\u{301}"), "a lone accent is no Character of the text")
        XCTAssertTrue("gr\u{F6}\u{DF}e".includesAsRead("\u{F6}\u{DF}"))
        XCTAssertTrue(decomposed.includesAsRead("re"), "ASCII needles are the byte search")
        XCTAssertTrue("".includesAsRead(""))
    }

    /// The filter meets whatever a process or an engine named things: a command as long as
    /// the reader keeps (64 KiB) made of the needle's first Character, decomposed, with a
    /// needle that never matches, and one that matches only at the very end.
    func testTheFilterOnHostileTextAsRead() {
        let text = String(repeating: "e\u{301}", count: 32 * 1024) + "\u{0}\u{1B}[2J"
        let start = Date()
        XCTAssertFalse(text.includesAsRead("\u{E9}x"))
        XCTAssertTrue(text.includesAsRead("\u{E9}\u{0}\u{1B}[2J"))
        XCTAssertFalse(text.includesAsRead(String(repeating: "\u{E9}", count: 40_000)), "a needle longer than the text")
        print("includesAsRead on 64 KiB of matching first Characters: \(String(format: "%.1f", Date().timeIntervalSince(start) * 1000)) ms")
    }

    func testReplacingEveryMatch() {
        XCTAssertEqual("it's Bob's".replacingText("'", with: "'\\''"), "it'\\''s Bob'\\''s")
        XCTAssertEqual("aaaa".replacingText("aa", with: "b"), "bb")
        XCTAssertEqual("none here".replacingText("x", with: "y"), "none here")
        XCTAssertEqual("abc".replacingText("", with: "y"), "abc")
    }
}

final class PeriodicScheduleTests: XCTestCase {
    func testTicksStayOnTheGridAndSkipWhatWasOverrun() {
        var s = PeriodicSchedule(interval: 1, start: 100)
        XCTAssertEqual(s.next(now: 100.2), 101)
        XCTAssertEqual(s.next(now: 101.1), 102)
        // A sample that took 3.5 s: the ticks it overran are skipped, not fired at once.
        XCTAssertEqual(s.next(now: 105.5), 106)
        XCTAssertEqual(s.next(now: 106.0), 107)
    }
}

final class SystemErrorTests: XCTestCase {
    func testErrnoIsKeptAsData() {
        let fd = open("/nonexistent/gpuctop", O_RDONLY)
        let e = SystemError("open /nonexistent/gpuctop")   // errno as open left it
        XCTAssertEqual(fd, -1)
        XCTAssertEqual(e.errno, ENOENT)
        XCTAssertEqual(e.description, "open /nonexistent/gpuctop: No such file or directory")
    }
}

final class SubprocessTests: XCTestCase {
    func testRunCollectsOutputAndStatus() {
        let r = Subprocess.run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], timeout: 10)
        XCTAssertEqual(r.status, 3)
        XCTAssertTrue(r.output.contains("out") && r.output.contains("err"), r.output)
    }

    func testRunKillsWhatOutlivesItsTimeout() {
        let start = MonotonicClock.now()
        let r = Subprocess.run(["/bin/sleep", "30"], timeout: 0.3)
        XCTAssertLessThan(MonotonicClock.now() - start, 5)
        XCTAssertTrue(r.output.contains("no answer within"), r.output)
        XCTAssertGreaterThanOrEqual(r.status, 128, "killed by a signal")
    }

    func testAMissingProgramIsAnErrorNotACrash() {
        XCTAssertThrowsError(try Subprocess(["/nonexistent/program"]))
    }
}
