// `gpuctop replay FILE [--at TIME]`: the dashboard, driven by a recording.
import Glibc
import TUI

enum ReplayCommand: Command {
    static let names = ["replay"]
    static let usage = """
      gpuctop replay FILE [--at TIME]   the dashboard, replaying a recording
                                        (space pause, left/right step, [ ] one minute, +/- speed)
    """

    static func run(_ options: Options) -> Int32 {
        var args = CommandArguments(command: "replay", options.arguments)
        let path: String
        let at: String?
        do {
            at = try args.value("--at")
            let rest = try args.finish()
            guard rest.count == 1 else {
                throw UsageError(description: rest.isEmpty ? "replay needs a recording: gpuctop replay FILE" : "replay takes one recording, not '\(rest.joined(separator: " "))'")
            }
            path = rest[0]
        } catch {
            printError("\(error)")
            return ExitStatus.usage
        }
        guard let reader = openReadable(path) else { return ExitStatus.failure }
        let driver = ReplayDriver(reader: reader)
        if let at {
            guard let when = RecordingTime.parse(at), let time = when.resolve(start: reader.header.startTime) else {
                printError("--at takes seconds since 1970, 2026-11-22T03:04:05Z, HH:MM[:SS] or +90s/+5m, not '\(at)'")
                return ExitStatus.usage
            }
            _ = driver.apply(.jump(seconds: time - reader.times[0]))
        }
        let env = Environment.current()
        let config = DashboardRunner.Config(interval: options.interval, readOnly: true, ascii: options.ascii,
                                            noColor: env["NO_COLOR"].map { !$0.isEmpty } ?? false)
        let status = DashboardRunner(config: config, source: .replay(driver)).run()
        if let stop = reader.stopReason {
            printError("warning: \(path): \(stop); replayed the \(reader.count) snapshot\(reader.count == 1 ? "" : "s") before it")
        }
        return status
    }
}
