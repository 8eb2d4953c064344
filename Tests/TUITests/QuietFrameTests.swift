// What changes on screen from one refresh to the next is what changed on the GPU,
// not measurement noise: every cell that changes costs terminal bytes (over ssh, on
// every refresh), so noise the eye cannot use must not reach the frame.
import Model
import Support
@testable import TUI
import XCTest

final class QuietFrameTests: XCTestCase {
    func model(_ s: Snapshot, replay: Bool = false) -> DashboardModel {
        var m = DashboardModel(width: 200, height: 50)
        if replay { _ = m.update(.replayStatus(ReplayStatus(index: 0, count: 10, paused: true, speed: 1))) }
        _ = m.update(.tick(s.time))
        _ = m.update(.snapshot(s))
        return m
    }

    func rows(_ f: Frame) -> [String] { (0..<f.height).map { f.line($0) } }

    /// 60 idle processes whose CPU% wavers between 0.0 and 0.4 (a tick now and then),
    /// and a busy one at 99.6 to 100.4: the frames are the same. (A container's sum is
    /// real information: here the idle ones trade places, so the sums stay.)
    func testCPUTickNoiseDrawsNothing() {
        func snapshot(flip: Bool, busy: Double) -> Snapshot {
            var s = DashboardFrameTests.containerSnapshot()
            for pid in 1000..<1060 {
                var p = GPUProcess(pid: Int32(pid), gpuIndex: 0, kind: .compute)
                p.info = ProcessInfoSample(command: "python idle.py", user: "alice", uid: 1000, startTime: 1_799_999_000)
                s.processes.append(p)
            }
            for i in s.processes.indices {
                s.processes[i].info?.cpuPercent = i == 0 ? busy : (i == 1 ? 0 : ((i % 2 == 0) != flip ? 0.4 : 0.0))
            }
            return s
        }
        let a = rows(DashboardView.render(model(snapshot(flip: false, busy: 99.6))))
        let b = rows(DashboardView.render(model(snapshot(flip: true, busy: 100.4))))
        for (y, (x, z)) in zip(a, b).enumerated() { XCTAssertEqual(x, z, "row \(y)") }
        XCTAssertTrue(a.contains { $0.contains("  100%  ") }, a.joined(separator: "\n"))
        XCTAssertEqual(Format.cpuPercent(0.49), "0%")
        XCTAssertEqual(Format.cpuPercent(2.5), "3%")
        XCTAssertEqual(Format.cpuPercent(-0.0), "0%")
        XCTAssertEqual(Format.cpuPercent(nil), "n/a")
        XCTAssertEqual(Format.cpuPercent(.nan), "n/a")
    }

    /// The utilisation figure is drawn in its bar's colour, as the power figure is: when
    /// utilisation wavers (14, 15, 16 %), the bar's last cell and the figure change every
    /// second, and one colour between them spares ncurses a colour change each time
    /// (device run 9: 105 B/s at 4 processes; the same load on the fake NVML 92 -> 79).
    func testUtilisationFigureSharesItsBarsColour() {
        for util in [15, 70, 95] {
            var s = DashboardFrameTests.containerSnapshot()
            s.gpus[0].utilizationGpu = util
            let f = DashboardView.render(model(s))
            let line = f.line(1)
            guard let figure = line.firstRange(ofText: "\(util)%") else { return XCTFail(line) }
            let x = line.distance(from: line.startIndex, to: figure.lowerBound)
            let barEnd = (0..<x).last { f.text($0, 1) != " " && ![.dim, .barFree, .normal].contains(f.cells[1 * f.width + $0].style) }
            guard let barEnd else { return XCTFail("no bar before the figure: \(line)") }
            XCTAssertEqual(f.cells[1 * f.width + x].style, f.cells[1 * f.width + barEnd].style, "\(util)%: \(line)")
            XCTAssertEqual(f.cells[1 * f.width + x].style, DashboardView.fractionStyle(Double(util) / 100), line)
        }
    }

    /// The live header's clock is to the minute (the data age warns when samples stop);
    /// a replay shows the recorded second.
    func testLiveClockChangesOncePerMinute() {
        var s = DashboardFrameTests.containerSnapshot()
        s.time = 1_800_000_000 - 1_800_000_000.truncatingRemainder(dividingBy: 60) + 10
        let a = DashboardView.render(model(s)).line(0)
        s.time += 1
        let b = DashboardView.render(model(s)).line(0)
        for (y, (x, z)) in zip(a, b).enumerated() { XCTAssertEqual(x, z, "row \(y)") }
        XCTAssertTrue(a.contains(String(Format.localTime(s.time).prefix(16)) + "  "), a)
        let replay = DashboardView.render(model(s, replay: true)).line(0)
        XCTAssertTrue(replay.contains(Format.localTime(s.time)), replay)
        s.time += 60
        XCTAssertNotEqual(DashboardView.render(model(s)).line(0), a)
    }
}

/// The fast path of `Frame.putFitted` for printable ASCII (what nearly every table cell
/// is) writes the same cells as the general one: cut with an ellipsis, padded, aligned,
/// clipped at both edges of the frame.
final class FittedTextTests: XCTestCase {
    func testASCIIFastPathMatchesTheGeneralPath() {
        let texts = ["", "a", "12.5 GiB", "python3 /work/load.py --epochs 10", "  spaces  ", "~tilde|pipe"]
        for ascii in [false, true] {
            for text in texts {
                for w in 0...12 {
                    for x in [-3, 0, 5, 36] {
                        for right in [false, true] {
                            var fast = Frame(width: 40, height: 2, ascii: ascii)
                            var general = Frame(width: 40, height: 2, ascii: ascii)
                            let end = fast.putFitted(x, 1, text, width: w, .accent, alignRight: right)
                            general.put(x, 1, TextWidth.fit(text, w, alignRight: right, ascii: ascii), .accent, maxWidth: w)
                            XCTAssertEqual(end, x + w)
                            XCTAssertEqual(fast.line(1), general.line(1), "\(text) w \(w) x \(x) right \(right)")
                            XCTAssertEqual((0..<40).map { fast[$0, 1].style }, (0..<40).map { general[$0, 1].style },
                                           "\(text) w \(w) x \(x)")
                        }
                    }
                }
            }
        }
    }
}
