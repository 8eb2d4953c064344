// `gpuctop record -o FILE [--interval S] [--duration D]`: sample every interval
// into a recording (Telemetry/Recording.swift) until the duration is over or
// SIGINT/SIGTERM arrives, then close the file and print one summary line.
// Also the recorded side of `gpuctop snapshot --from FILE [--at TIME]`.
import DockerSocket
import FoundationEssentials
import Glibc
import Recording
import Support
import Telemetry
import TUI

enum RecordCommand: Command {
    static let names = ["record"]
    static let usage = """
      gpuctop record -o|--output FILE [--interval S] [--duration D] [--energy]
                                        record one snapshot per refresh (D: 90s, 5m, 1h;
                                        --energy: also each GPU's energy counter, to check
                                        the containers' estimates against)
    """

    static func run(_ options: Options) -> Int32 {
        var args = CommandArguments(command: "record", options.arguments)
        let output: String?
        var duration: Double?
        let energy = args.flag("--energy")
        do {
            output = try args.value("-o") ?? args.value("--output")
            if let text = try args.value("--duration") {
                guard let d = RecordingTime.duration(text), d > 0 else {
                    throw UsageError(description: "--duration must be a time like 90s, 5m, 1h or a number of seconds, not '\(text)'")
                }
                duration = d
            }
            let extra = try args.finish()
            if let first = extra.first { throw UsageError(description: "unexpected argument '\(first)' for 'record'") }
            if output == nil || output!.isEmpty { throw UsageError(description: "record needs -o FILE") }
        } catch {
            printError("\(error)")
            return ExitStatus.usage
        }
        let path = output!

        // SIGINT and SIGTERM stay pending until the wait below collects them. Block
        // them before any thread starts, so that every thread inherits the mask.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)
        // A file size limit then fails a write (EFBIG) instead of killing us.
        signal(SIGXFSZ, SIG_IGN)

        var samplerOptions = options.samplerOptions()
        // The counter costs milliseconds a read (BENCHMARKS.md): only when asked for.
        samplerOptions.nvmlSchedule.energy = energy
        let sampler = SnapshotSampler(options: samplerOptions)
        let start = MonotonicClock.now()
        var snapshot = sampler.sample()
        let header = RecordingHeader(host: snapshot.host, driverVersion: snapshot.driverVersion,
                                     gpuctopVersion: gpuctopVersion, startTime: snapshot.time)
        let writer: RecordingWriter
        do {
            writer = try RecordingWriter(path: path, header: header)
        } catch {
            printError("\(error)")
            return ExitStatus.failure
        }

        let interval = options.interval
        let deadline = duration.map { start + $0 }
        var schedule = PeriodicSchedule(interval: interval, start: start)
        var lastProblem: String?
        while true {
            do {
                try writer.append(snapshot)
                lastProblem = nil
            } catch {
                // Keep sampling: the disk may get space again. Say so once per problem.
                let text = "\(error)"
                if text != lastProblem { printError("warning: \(text); still recording") }
                lastProblem = text
            }
            let due = schedule.next()
            if let deadline, due >= deadline {
                _ = waitForSignal(stopSignals, until: deadline)
                break
            }
            if waitForSignal(stopSignals, until: due) { break }
            snapshot = sampler.sample()
        }

        var status = ExitStatus.ok
        do {
            try writer.close()
        } catch {
            printError("\(error)")
            status = ExitStatus.failure
        }
        let records = writer.recordsWritten
        let average = records > 0 ? writer.bytesWritten / records : 0
        var line = "\(path): \(records) record\(records == 1 ? "" : "s"), \(writer.bytesWritten) bytes, \(average) bytes per record"
        if writer.failedAppends > 0 {
            line += " (\(writer.failedAppends) not written)"
            status = ExitStatus.failure
        }
        writeOut(line + "\n")
        // Leave at once (the file is closed, the line flushed): returning would drop the
        // sampler, whose XID thread may be a second into an NVML wait that nothing can cut short.
        _exit(status)
    }

    /// Waits until the monotonic time `deadline`; true if a stop signal came first.
    static func waitForSignal(_ set: sigset_t, until deadline: Double) -> Bool {
        var set = set
        while true {
            let left = deadline - MonotonicClock.now()
            if left <= 0 { return false }
            var ts = relativeTimespec(left)
            let signal = sigtimedwait(&set, nil, &ts)
            if signal > 0 { return true }
            // EAGAIN: the time is up (checked above); EINTR: another signal, wait on.
        }
    }
}

// MARK: - Replaying one snapshot

/// Opens a recording that holds at least one snapshot; nil after a one-line error.
func openReadable(_ path: String) -> RecordingReader? {
    let reader: RecordingReader
    do {
        reader = try RecordingReader(path: path)
    } catch {
        printError("\(error)")
        return nil
    }
    guard reader.count > 0 else {
        printError("\(path) holds no readable snapshot" + (reader.stopReason.map { ": \($0)" } ?? ""))
        return nil
    }
    return reader
}

enum ReplaySnapshot {
    static func run(path: String, at: String?, json: Bool) -> Int32 {
        var when: RecordingTime?
        if let at {
            guard let parsed = RecordingTime.parse(at) else {
                printError("--at takes seconds since 1970, 2026-11-22T03:04:05Z, HH:MM[:SS] or +90s/+5m, not '\(at)'")
                return ExitStatus.usage
            }
            when = parsed
        }
        guard let reader = openReadable(path) else { return ExitStatus.failure }
        var index = reader.count - 1
        if let when {
            let start = reader.header.startTime
            guard let time = when.resolve(start: start), let nearest = reader.nearestIndex(to: time) else {
                printError("cannot place the time '\(at!)' on the recording's first day")
                return ExitStatus.usage
            }
            index = nearest
            // Outside the recording, the nearest snapshot is its first or last: say so, so a
            // time past the end is not taken for a quiet moment.
            if let first = reader.times.first, let last = reader.times.last, time < first || time > last {
                let which = time < first ? "before it starts" : "after it ends"
                printError("warning: \(at!) lies outside \(path) (\(Format.localTime(first)) to \(Format.localTime(last))), "
                           + "\(which); showing its \(time < first ? "first" : "last") snapshot, of \(Format.localTime(reader.times[index]))")
            }
        }
        let status = SnapshotCommand.printSnapshot(reader.snapshot(index: index), json: json)
        if let stop = reader.stopReason {
            printError("warning: \(path): \(stop); read \(reader.count) snapshot\(reader.count == 1 ? "" : "s") before it")
        }
        return status
    }
}

/// A TIME for `--at`: absolute, relative to the recording's start, or a clock
/// time on the recording's first day (local time).
enum RecordingTime: Equatable {
    case absolute(Double)
    case sinceStart(Double)
    case clock(hour: Int, minute: Int, second: Double)
    case localDate(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Double)

    /// `90s`, `5m`, `1h`, `1.5h` or plain seconds.
    static func duration(_ text: String) -> Double? {
        var number = Substring(text)
        var unit = 1.0
        switch text.last {
        case "s": unit = 1; number = number.dropLast()
        case "m": unit = 60; number = number.dropLast()
        case "h": unit = 3600; number = number.dropLast()
        default: break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let v = Double(number), v.isFinite else { return nil }
        return v * unit
    }

    static func parse(_ text: String) -> RecordingTime? {
        if text.hasPrefix("+") {
            return duration(String(text.dropFirst())).map { .sinceStart($0) }
        }
        if text.contains("-") && (text.contains("T") || text.contains(" ")) {
            return parseISO(text)
        }
        if text.contains(":") {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 || parts.count == 3,
                  let h = Int(parts[0]), let m = Int(parts[1]), (0...23).contains(h), (0...59).contains(m) else { return nil }
            let s = parts.count == 3 ? Double(parts[2]) : 0
            guard let s, s >= 0, s < 61, parts[0].count <= 2, parts[1].count == 2 else { return nil }
            return .clock(hour: h, minute: m, second: s)
        }
        guard text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let v = Double(text), v.isFinite else { return nil }
        return .absolute(v)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM|±HHMM]` (a space may replace the T;
    /// without a zone it is local time).
    static func parseISO(_ text: String) -> RecordingTime? {
        let chars = Array(text)
        guard chars.count >= 19, chars[4] == "-", chars[7] == "-", chars[10] == "T" || chars[10] == " ",
              chars[13] == ":", chars[16] == ":" else { return nil }
        func int(_ r: Range<Int>) -> Int? {
            let s = String(chars[r])
            return s.allSatisfy({ $0.isASCII && $0.isNumber }) ? Int(s) : nil
        }
        guard let y = int(0..<4), let mo = int(5..<7), let d = int(8..<10),
              let h = int(11..<13), let mi = int(14..<16), let s = int(17..<19),
              (1...12).contains(mo), (1...31).contains(d), (0...23).contains(h), (0...59).contains(mi), (0...60).contains(s)
        else { return nil }
        var i = 19
        var second = Double(s)
        if i < chars.count && chars[i] == "." {
            var j = i + 1
            while j < chars.count && chars[j].isASCII && chars[j].isNumber { j += 1 }
            guard j > i + 1, let frac = Double("0" + String(chars[i..<j])) else { return nil }
            second += frac
            i = j
        }
        let zone = String(chars[i...])
        if zone.isEmpty {
            return .localDate(year: y, month: mo, day: d, hour: h, minute: mi, second: second)
        }
        var offset = 0
        if zone != "Z" && zone != "z" {
            let sign = zone.first == "+" ? 1 : zone.first == "-" ? -1 : 0
            let digits = zone.dropFirst().filter { $0 != ":" }
            guard sign != 0, digits.count == 4, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let zh = Int(digits.prefix(2)), let zm = Int(digits.suffix(2)), zh <= 23, zm <= 59 else { return nil }
            offset = sign * (zh * 3600 + zm * 60)
        }
        let days = Timestamp.daysFromCivil(year: y, month: mo, day: d)
        return .absolute(Double(days * 86400 + h * 3600 + mi * 60 - offset) + second)
    }

    /// Seconds since 1970, given the recording's start (seconds since 1970).
    func resolve(start: Double) -> Double? {
        switch self {
        case .absolute(let t): return t
        case .sinceStart(let d): return start + d
        case .clock(let h, let m, let s):
            var t = time_t(start.rounded(.down))
            var parts = tm()
            guard localtime_r(&t, &parts) != nil else { return nil }
            return Self.local(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
                              hour: h, minute: m, second: s)
        case .localDate(let y, let mo, let d, let h, let mi, let s):
            return Self.local(year: y, month: mo, day: d, hour: h, minute: mi, second: s)
        }
    }

    static func local(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Double) -> Double? {
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = 0
        parts.tm_isdst = -1
        let t = mktime(&parts)
        guard t != -1 else { return nil }
        return Double(t) + second
    }
}
