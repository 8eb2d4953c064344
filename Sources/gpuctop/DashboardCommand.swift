// `gpuctop` with no command: the ncurses dashboard over live samples.
import Fleet
import Glibc
import Model
import TUI
import Telemetry

enum DashboardCommand: Command {
    static let names = ["dashboard"]
    static let usage = """
      gpuctop [OPTIONS]                 the dashboard
      gpuctop --host [USER@]HOST[:PORT]... | --hosts-file FILE
                                        the dashboard of several hosts over ssh (each runs
                                        'gpuctop snapshot --json --stream'); actions go to the row's host
    """

    static func run(_ options: Options) -> Int32 {
        var args = CommandArguments(command: "gpuctop", options.arguments)
        let recordPath: String?
        do {
            recordPath = try args.value("--record")
            if let extra = try args.finish().first {
                throw UsageError(description: "unexpected argument '\(extra)' (see gpuctop --help)")
            }
        } catch {
            printError("\(error)")
            return ExitStatus.usage
        }
        if !options.hosts.isEmpty || options.hostsFile != nil {
            // Said, not silently ignored: the recorder records this machine's samples.
            if recordPath != nil {
                printError("--record records this machine's dashboard; it does not go with --host or --hosts-file")
                return ExitStatus.usage
            }
            return runRemote(options)
        }
        let sampler = SnapshotSampler(options: options.samplerOptions())
        let env = Environment.current()
        let config = DashboardRunner.Config(interval: options.interval, readOnly: options.readOnly,
                                            ascii: options.ascii, noColor: env["NO_COLOR"].map { !$0.isEmpty } ?? false)
        let performer = options.readOnly ? nil : DashboardPerformer(options: options)
        var recorder: DashboardRecorder?
        if let recordPath {
            do {
                recorder = try DashboardRecorder(path: recordPath, host: SnapshotSampler.readHostName(),
                                                 driverVersion: sampler.nvml?.driverVersion)
            } catch {
                printError("\(error)")
                return ExitStatus.failure
            }
        }
        let sample: () -> Snapshot = recorder.map { r in { r.record(sampler.sample()) } } ?? { sampler.sample() }
        let status = DashboardRunner(config: config, source: .live(sample), performer: performer).run()
        recorder?.close()
        // Leave with the sampler still held: dropping it would wait for the XID thread to
        // finish its current wait (up to a second) before the shell gets its prompt back.
        // Exiting closes the driver's files, which frees what NVML holds.
        exit(status)
    }

    /// `--host`/`--hosts-file`: one ssh per host, their snapshots merged (RemoteHosts.swift).
    static func runRemote(_ options: Options) -> Int32 {
        var specs: [HostSpec] = []
        do {
            for h in options.hosts { specs.append(try HostSpec(parsing: h)) }
            if let file = options.hostsFile {
                guard let text = readTextFile(file) else { throw UsageError(description: "cannot read --hosts-file \(file)") }
                do { specs += try HostSpec.parseList(text) } catch { throw UsageError(description: "\(file): \(error)") }
            }
            guard !specs.isEmpty else { throw UsageError(description: "no host given (--hosts-file is empty)") }
            var seen = Set<String>()
            for s in specs where !seen.insert(s.name).inserted {
                throw UsageError(description: "host '\(s.name)' is given twice")
            }
        } catch {
            printError("\(error)")
            return ExitStatus.usage
        }
        let env = Environment.current()
        let remote = RemoteHosts(hosts: specs, config: RemoteConfig(environment: env, interval: options.interval))
        var config = DashboardRunner.Config(interval: options.interval, readOnly: options.readOnly,
                                            ascii: options.ascii, noColor: env["NO_COLOR"].map { !$0.isEmpty } ?? false)
        config.hostCount = specs.count
        let performer = options.readOnly ? nil : RemoteActionPerformer(hosts: specs, config: remote.config)
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            printError("the dashboard needs a terminal; use 'gpuctop snapshot' in scripts")
            return ExitStatus.usage
        }
        remote.start()
        let status = DashboardRunner(config: config, source: .live({ remote.merged() }), performer: performer).run()
        remote.stop()
        return status
    }

    static func readTextFile(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
