// The sampler/UI hand-over without a terminal: a sampler thread posting through the
// Mailbox the way DashboardRunner's sampler loop does, a UI thread taking, changing
// the interval and stopping, and action threads posting results (detachedThread, as
// DashboardRunner.perform does). Meant to run under TSan too (scripts/test.sh).
import Glibc
import Model
import Support
@testable import TUI
import XCTest

/// A count that one thread raises and another waits for.
private final class Latch: Sendable {
    private let count = LockedValue(0)

    func raise() { count.update { $0 += 1 } }

    /// Waits until the count reaches `target` or `seconds` pass; returns whether it did.
    func wait(for target: Int, seconds: Double) -> Bool {
        count.wait(until: { $0 >= target }, deadline: MonotonicClock.now() + seconds)
    }
}

final class MailboxTests: XCTestCase {
    /// The sampler loop of DashboardRunner (SamplerJob.loop), on its own thread.
    private func startSampler(_ mailbox: Mailbox, samples: Latch, exited: Latch) {
        var n = 0.0
        detachedThread {
            while !mailbox.isStopping {
                let start = MonotonicClock.now()
                n += 1
                var s = Snapshot(time: n, host: "sampler")
                s.driverVersion = "580.95.05"
                if mailbox.isStopping { break }
                mailbox.post(s)
                samples.raise()
                if !mailbox.waitForNextRefresh(since: start) { break }
            }
            exited.raise()
        }
    }

    func testSamplerAndUIThreadsHandOverSnapshots() {
        let mailbox = Mailbox(interval: 0.001)
        let samples = Latch(), exited = Latch()
        startSampler(mailbox, samples: samples, exited: exited)

        // The UI side: take whatever is newest; times only go up, nothing is taken twice.
        var last = 0.0
        var taken = 0
        let deadline = MonotonicClock.now() + 10
        while taken < 50 && MonotonicClock.now() < deadline {
            if let s = mailbox.take() {
                XCTAssertGreaterThan(s.time, last)
                XCTAssertEqual(s.host, "sampler")
                last = s.time
                taken += 1
            } else {
                usleep(200)
            }
            if taken == 20 { mailbox.setInterval(0.002) }
        }
        XCTAssertGreaterThanOrEqual(taken, 50, "the sampler thread delivered too few snapshots")

        // A long interval, then stop: the sampler must leave its wait at once.
        mailbox.setInterval(60)
        usleep(20_000)  // the sampler is now in its 60 s wait
        let stopped = MonotonicClock.now()
        mailbox.stop()
        XCTAssertTrue(mailbox.isStopping)
        XCTAssertTrue(exited.wait(for: 1, seconds: 5), "the sampler did not stop while waiting for its next refresh")
        XCTAssertLessThan(MonotonicClock.now() - stopped, 5)
        XCTAssertTrue(samples.wait(for: Int(last), seconds: 0))
    }

    func testActionResultsFromManyThreads() {
        let mailbox = Mailbox(interval: 1)
        let done = Latch()
        let threads = 8
        for i in 0..<threads {
            detachedThread {
                for j in 0..<50 {
                    mailbox.postActionResult("thread \(i) result \(j)")
                    mailbox.post(Snapshot(time: Double(i * 100 + j), host: "t\(i)"))
                }
                done.raise()
            }
        }
        var results = 0
        var snapshots = 0
        while !done.wait(for: threads, seconds: 0.001) {
            if let text = mailbox.takeActionResult() { XCTAssertTrue(text.hasPrefix("thread ")); results += 1 }
            if mailbox.take() != nil { snapshots += 1 }
        }
        // Whatever was posted last is still there, exactly once.
        if mailbox.takeActionResult() != nil { results += 1 }
        XCTAssertNil(mailbox.takeActionResult())
        if mailbox.take() != nil { snapshots += 1 }
        XCTAssertNil(mailbox.take())
        XCTAssertGreaterThan(results, 0)
        XCTAssertGreaterThan(snapshots, 0)
    }

    func testWaitReturnsAtTheDeadlineAndIntervalChangesWakeIt() {
        let mailbox = Mailbox(interval: 0.05)
        let start = MonotonicClock.now()
        XCTAssertTrue(mailbox.waitForNextRefresh(since: start))
        XCTAssertGreaterThanOrEqual(MonotonicClock.now() - start, 0.049)

        // A waiter on a 60 s interval wakes when another thread shortens it.
        mailbox.setInterval(60)
        let woke = Latch()
        let waitStart = MonotonicClock.now()
        detachedThread {
            if mailbox.waitForNextRefresh(since: waitStart) { woke.raise() }
        }
        usleep(20_000)
        mailbox.setInterval(0.01)
        XCTAssertTrue(woke.wait(for: 1, seconds: 5), "setInterval did not wake the waiting sampler")
    }
}
