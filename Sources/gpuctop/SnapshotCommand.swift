// `gpuctop snapshot [--json]`: sample once, print, exit.
// `gpuctop snapshot --from FILE [--at TIME] [--json]`: print a recorded snapshot
// (see RecordCommand.swift) exactly as a live one.
import FoundationEssentials
import Glibc
import Telemetry
import TUI

enum SnapshotCommand {
    static func run(_ options: Options) -> Int32 {
        var args = CommandArguments(command: "snapshot", options.arguments)
        let json = args.flag("--json")
        let from: String?
        let at: String?
        do {
            from = try args.value("--from")
            at = try args.value("--at")
            let extra = try args.finish()
            if let first = extra.first { throw UsageError(description: "unexpected argument '\(first)' for 'snapshot'") }
            if at != nil && from == nil { throw UsageError(description: "--at needs --from FILE") }
        } catch {
            printError("\(error)")
            return 2
        }
        if let from {
            return ReplaySnapshot.run(path: from, at: at, json: json)
        }
        let sampler = SnapshotSampler(options: SamplerOptions(nvmlPath: options.nvmlPath, procRoot: options.procRoot, dockerHost: options.dockerHost))
        return printSnapshot(sampler.sample(), json: json)
    }

    /// Prints one snapshot as text or JSON; the live and the recorded path share it.
    static func printSnapshot(_ snapshot: Snapshot, json: Bool) -> Int32 {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            do {
                let data = try encoder.encode(snapshot)
                writeOut(String(decoding: data, as: UTF8.self) + "\n")
            } catch {
                printError("cannot encode the snapshot as JSON: \(error)")
                return 1
            }
        } else {
            writeOut(SnapshotText.render(snapshot))
        }
        return 0
    }
}
