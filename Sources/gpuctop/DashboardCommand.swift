// `gpuctop` with no command: the ncurses dashboard over live samples.
import Glibc
import Telemetry
import TUI

enum DashboardCommand {
    static func run(_ options: Options) -> Int32 {
        let args = CommandArguments(command: "gpuctop", options.arguments)
        do {
            if let extra = try args.finish().first {
                throw UsageError(description: "unexpected argument '\(extra)' (see gpuctop --help)")
            }
        } catch {
            printError("\(error)")
            return 2
        }
        let sampler = SnapshotSampler(options: SamplerOptions(nvmlPath: options.nvmlPath, procRoot: options.procRoot,
                                                              dockerHost: options.dockerHost))
        let env = Environment.current()
        let config = DashboardRunner.Config(interval: options.interval, readOnly: options.readOnly,
                                            ascii: options.ascii, noColor: env["NO_COLOR"].map { !$0.isEmpty } ?? false)
        let performer = options.readOnly ? nil : DashboardPerformer(options: options)
        return DashboardRunner(config: config, source: .live({ sampler.sample() }), performer: performer).run()
    }
}
