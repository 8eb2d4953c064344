// `gpuctop snapshot [--json]`: sample once, print, exit.
import FoundationEssentials
import Glibc
import Telemetry
import TUI

enum SnapshotCommand {
    static func run(_ options: Options) -> Int32 {
        var args = CommandArguments(command: "snapshot", options.arguments)
        let json = args.flag("--json")
        do {
            let extra = try args.finish()
            if let first = extra.first { throw UsageError(description: "unexpected argument '\(first)' for 'snapshot'") }
        } catch {
            printError("\(error)")
            return 2
        }
        let sampler = SnapshotSampler(options: SamplerOptions(nvmlPath: options.nvmlPath, procRoot: options.procRoot, dockerHost: options.dockerHost))
        let snapshot = sampler.sample()
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
