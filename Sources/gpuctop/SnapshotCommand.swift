// `gpuctop snapshot [--json]`: sample once, print, exit.
// `gpuctop snapshot --from FILE [--at TIME] [--json]`: print a recorded snapshot
// (see RecordCommand.swift) exactly as a live one.
// `gpuctop snapshot --json --stream [--interval S]`: one compact JSON snapshot per
// line at each interval until stdout closes (then exit 0 quietly) or SIGINT/SIGTERM;
// what `gpuctop --host` reads over ssh (RemoteHosts.swift).
import FoundationEssentials
import Glibc
import Model
import Support
import TUI
import Telemetry

enum SnapshotCommand: Command {
    static let names = ["snapshot"]
    static let usage = """
      gpuctop snapshot [--json] [--energy]
                                        print one snapshot and exit (--energy: also read
                                        the total energy counter, a slow NVML call)
      gpuctop snapshot --from FILE [--at TIME] [--json]
                                        print the recorded snapshot nearest TIME
      gpuctop snapshot --from FILE --energy [--since TIME] [--until TIME] [--price PER_KWH] [--json]
                                        each container's estimated energy over the recording
                                        (or from --since to --until) in kWh, beside each GPU's
                                        own counter; with a price, the cost
      gpuctop snapshot --json --stream  one compact JSON snapshot per line, every --interval
    """

    static func run(_ options: Options) -> Int32 {
        var args = CommandArguments(command: "snapshot", options.arguments)
        let json = args.flag("--json")
        let stream = args.flag("--stream")
        let energy = args.flag("--energy")
        let from: String?
        let at: String?
        let since: String?, until: String?, price: String?
        do {
            from = try args.value("--from")
            at = try args.value("--at")
            since = try args.value("--since")
            until = try args.value("--until")
            price = try args.value("--price")
            if (since != nil || until != nil || price != nil) && !(energy && from != nil) {
                throw UsageError(description: "--since, --until and --price need --from FILE --energy")
            }
            if energy && at != nil { throw UsageError(description: "--at picks one snapshot; for energy over a range use --since/--until") }
            let extra = try args.finish()
            if let first = extra.first { throw UsageError(description: "unexpected argument '\(first)' for 'snapshot'") }
            if at != nil && from == nil { throw UsageError(description: "--at needs --from FILE") }
            if stream && !json { throw UsageError(description: "--stream needs --json") }
            if stream && from != nil { throw UsageError(description: "--stream is for live snapshots, not --from") }
        } catch {
            printError("\(error)")
            return ExitStatus.usage
        }
        if let from, energy {
            return EnergyReport.run(path: from, since: since, until: until, price: price, json: json)
        }
        if let from {
            return ReplaySnapshot.run(path: from, at: at, json: json)
        }
        let sampler = SnapshotSampler(options: samplerOptions(options, stream: stream, energy: energy))
        // Leave at once when the stream ends: returning would drop the sampler, whose XID
        // thread may be a second into an NVML wait that nothing can cut short.
        if stream { _exit(streamSnapshots(sampler, interval: options.interval)) }
        let status = printSnapshot(sampler.sample(), json: json)
        // Leave at once (the output is flushed): exiting closes the driver's files, which
        // frees whatever NVML holds, so nvmlShutdown and the teardown after it would only
        // make a one-shot slower (`gpuctop profile --one-shot` times it).
        _exit(status)
    }

    /// What a live `snapshot` reads (`gpuctop profile --one-shot` times the same).
    static func samplerOptions(_ options: Options, stream: Bool, energy: Bool) -> SamplerOptions {
        var samplerOptions = options.samplerOptions()
        // The energy counter costs 2.6 ms a read on an H100 (BENCHMARKS.md): only when asked for.
        samplerOptions.nvmlSchedule.energy = energy
        // XID events arrive only while gpuctop watches: a one-shot would register for nothing.
        samplerOptions.watchXID = stream
        // GPM figures need two samples: a one-shot would pay 4 ms (H200) for the first and show nothing.
        if !stream { samplerOptions.gpmPeriod = 0 }
        // Nor has the power-capped share: it is the violation counter's growth between two reads.
        if !stream { samplerOptions.healthSchedule.readsViolation = false }
        return samplerOptions
    }

    /// The snapshot as `snapshot --json` prints it.
    static func json(_ snapshot: Snapshot) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(snapshot)
        return Sanitize.jsonEscapingFormatCharacters(String(decoding: data, as: UTF8.self)) + "\n"
    }

    /// One compact JSON line per interval, written with write(2) so a closed
    /// reader shows up as EPIPE (SIGPIPE is ignored here) and ends the stream.
    static func streamSnapshots(_ sampler: SnapshotSampler, interval: Double) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        // INT and TERM end the stream between lines; a line half written is not worth keeping.
        signal(SIGINT) { _ in _exit(ExitStatus.ok) }
        signal(SIGTERM) { _ in _exit(ExitStatus.ok) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        while true {
            let start = MonotonicClock.now()
            let line: [UInt8]
            do {
                let json = String(decoding: try encoder.encode(sampler.sample()), as: UTF8.self)
                line = Array(Sanitize.jsonEscapingFormatCharacters(json).utf8) + [UInt8(ascii: "\n")]
            } catch {
                printError("cannot encode the snapshot as JSON: \(error)")
                return ExitStatus.failure
            }
            var offset = 0
            while offset < line.count {
                let n = line[offset...].withUnsafeBufferPointer { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return errno == EPIPE ? 0 : 1
                }
                offset += n
            }
            var left = start + interval - MonotonicClock.now()
            while left > 0 {
                var ts = relativeTimespec(left)
                _ = nanosleep(&ts, nil)
                left = start + interval - MonotonicClock.now()
            }
        }
    }

    /// Prints one snapshot as text or JSON; the live and the recorded path share it.
    static func printSnapshot(_ snapshot: Snapshot, json: Bool) -> Int32 {
        if json {
            do {
                writeOut(try Self.json(snapshot))
            } catch {
                printError("cannot encode the snapshot as JSON: \(error)")
                return ExitStatus.failure
            }
        } else {
            writeOut(SnapshotText.render(snapshot))
        }
        return ExitStatus.ok
    }
}
