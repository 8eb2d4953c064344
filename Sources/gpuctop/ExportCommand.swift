// `gpuctop export [--listen ADDR:PORT] [--textfile DIR [--once]]`: the snapshot as
// Prometheus metrics (Telemetry/PrometheusText.swift), refreshed every --interval.
//
// --listen serves GET /metrics (MetricsServer.swift); without --listen and
// --textfile it listens on 127.0.0.1:9835, loopback only: any other address has to
// be asked for. --textfile writes DIR/gpuctop.prom atomically (a fresh temporary file,
// then rename: Textfile.swift) for node_exporter's textfile collector; --once writes it
// once and exits. A sampler thread refreshes; the server's threads serve the latest
// body, so a scrape never waits for NVML or the container engine. The main thread waits
// for SIGINT/SIGTERM, which stop it even while a refresh hangs: the server stops
// accepting, the textfile is removed (so node_exporter does not go on serving figures
// nobody refreshes), exit status 0. Even a write blocked in a hung filesystem does not
// hold the stop: the removal waits for it at most a second, then gpuctop says the file
// may be left and exits with status 1.
import Export
import Glibc
import Support
import Telemetry

enum ExportCommand: Command {
    static let names = ["export"]
    static let usage = """
      gpuctop export [--listen ADDR:PORT] [--textfile DIR [--once]]
                                        Prometheus metrics: serve GET /metrics (default
                                        127.0.0.1:9835) or write DIR/gpuctop.prom
    """

    static let defaultListen = "127.0.0.1:9835"
    /// How long the stop waits for a blocked textfile write before giving up on the removal.
    static let removalDeadline = 1.0

    static func run(_ options: Options) -> Int32 {
        var args = CommandArguments(command: "export", options.arguments)
        var listen: ListenAddress?
        var directory: String?
        let once: Bool
        do {
            once = args.flag("--once")
            if let text = try args.value("--listen") { listen = try ListenAddress.parse(text) }
            directory = try args.value("--textfile")
            let extra = try args.finish()
            if let first = extra.first { throw UsageError(description: "unexpected argument '\(first)' for 'export'") }
            if directory?.isEmpty == true { throw UsageError(description: "--textfile needs a directory") }
            if once && (directory == nil || listen != nil) {
                throw UsageError(description: "--once goes with --textfile DIR (and without --listen)")
            }
            if listen == nil && directory == nil { listen = try ListenAddress.parse(defaultListen) }
        } catch {
            printError("\(error)")
            return ExitStatus.usage
        }

        // SIGINT and SIGTERM are collected by the main thread's wait below (SIGUSR1 is the
        // sampler's "I am done" for --once and a failed first write); block them before
        // any thread starts so that every thread inherits the mask. A scraper that goes
        // away mid-answer must not kill us.
        var waitSignals = sigset_t()
        sigemptyset(&waitSignals)
        sigaddset(&waitSignals, SIGINT)
        sigaddset(&waitSignals, SIGTERM)
        sigaddset(&waitSignals, SIGUSR1)
        pthread_sigmask(SIG_BLOCK, &waitSignals, nil)
        signal(SIGPIPE, SIG_IGN)
        // A file size limit then fails a write (EFBIG) instead of killing us.
        signal(SIGXFSZ, SIG_IGN)

        var textfile: Textfile?
        if let directory {
            do {
                textfile = try Textfile(directory: directory)
            } catch {
                printError("\(error)")
                return ExitStatus.failure
            }
        }

        var server: MetricsServer?
        if let listen {
            do {
                server = try MetricsServer(address: listen, staleAfter: max(3 * options.interval, 10))
            } catch {
                printError("\(error)")
                return ExitStatus.failure
            }
        }

        // The sampler runs on its own thread, so that a stop signal is answered at once
        // even while a refresh hangs in NVML or the container engine.
        let job = ExportJob(options: options, server: server, textfile: textfile, once: once,
                            mainThread: pthread_self())
        guard let thread = spawnThread({ job.run() }) else {
            printError("cannot start the sampler thread")
            return ExitStatus.failure
        }
        pthread_detach(thread)
        while true {
            var received: Int32 = 0
            guard sigwait(&waitSignals, &received) == 0 else { continue }
            if received == SIGINT || received == SIGTERM { break }
            if let status = job.finished { return status }
        }
        job.stop()
        server?.stop()
        if let textfile, !job.removeTextfile(within: removalDeadline) {
            printError("stopped, but \(textfile.path) may be left: a write to it did not finish within "
                       + "\(formatSeconds(removalDeadline)) s (is its filesystem hung?)")
            return ExitStatus.failure
        }
        return ExitStatus.ok
    }

    static func formatSeconds(_ s: Double) -> String {
        s == s.rounded() ? String(Int(s)) : String(s)
    }
}

/// The sampler thread of `export`: samples every interval, publishes the rendered body
/// to the server and writes the textfile. Textfile writes and the removal at the stop
/// share `writeLock`, so no write lands after the removal; `stop()` itself takes only
/// `mutex`, which nobody holds across I/O, so a write blocked in a hung filesystem
/// cannot hold up the stop.
final class ExportJob: @unchecked Sendable {
    let options: Options
    let server: MetricsServer?
    let textfile: Textfile?
    let once: Bool
    let mainThread: pthread_t

    /// Stop, the exit status the job asks for, and whether the textfile was removed.
    /// Nobody holds this across I/O.
    private struct State {
        var stopped = false
        var status: Int32?
        var removed = false
    }
    private let state = LockedValue(State())
    /// Held across every textfile write and the removal, so no write lands after it.
    private let writeLock = LockedValue(())

    init(options: Options, server: MetricsServer?, textfile: Textfile?, once: Bool, mainThread: pthread_t) {
        self.options = options
        self.server = server
        self.textfile = textfile
        self.once = once
        self.mainThread = mainThread
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    /// The exit status the job asks for (after --once or a failed first write).
    var finished: Int32? { state.withLock { $0.status } }

    func stop() {
        state.update { $0.stopped = true }
    }

    private func finish(_ code: Int32) {
        state.withLock { $0.status = code }
        pthread_kill(mainThread, SIGUSR1)
    }

    /// Writes the textfile unless stopped; nil when written or stopped.
    private func writeTextfile(_ textfile: Textfile, _ text: String) -> String? {
        writeLock.withLock { _ in isStopped ? nil : textfile.write(text) }
    }

    /// After `stop()`: removes the textfile once no write is in progress, on a thread of
    /// its own (the removal can block too), waiting for it at most `seconds`. False when
    /// it did not happen in time.
    func removeTextfile(within seconds: Double) -> Bool {
        guard let textfile else { return true }
        let started = startDetachedThread { [self] in
            writeLock.withLock { _ in textfile.remove() }
            state.update { $0.removed = true }
        }
        guard started else { return false }
        return state.wait(until: { $0.removed }, deadline: MonotonicClock.now() + seconds)
    }

    /// Sleeps until the monotonic time `due`; false when stopped first.
    private func wait(until due: Double) -> Bool {
        state.wait(until: { $0.stopped }, deadline: due)
        return !isStopped
    }

    func run() {
        let interval = options.interval
        var samplerOptions = options.samplerOptions()
        // dcgm-exporter users expect the energy counter; the exporter pays its 2.6 ms a read.
        samplerOptions.nvmlSchedule.energy = true
        samplerOptions.watchXID = !once  // --once samples once: no XID can arrive in it
        if once { samplerOptions.gpmPeriod = 0 }  // and GPM needs two samples for a figure
        let sampler = SnapshotSampler(options: samplerOptions)
        let start = MonotonicClock.now()
        var body = PrometheusText.render(sampler.sample(), up: nil, version: gpuctopVersion)
        if let textfile {
            // The first write decides: a directory we cannot write to is an error, not a warning.
            if let problem = writeTextfile(textfile, PrometheusText.upFamily(true) + body) {
                printError(problem)
                return finish(ExitStatus.failure)
            }
            if once { return finish(ExitStatus.ok) }
        }
        if let server {
            server.publish(body)
            if isStopped { return }
            server.start()
            writeOut("serving metrics on http://\(server.address.description)/metrics, refreshed every \(ExportCommand.formatSeconds(interval)) s\n")
        }
        if let textfile {
            writeOut("writing \(textfile.path) every \(ExportCommand.formatSeconds(interval)) s\n")
        }
        var schedule = PeriodicSchedule(interval: interval, start: start)
        var lastProblem: String?
        while true {
            guard wait(until: schedule.next()) else { return }
            body = PrometheusText.render(sampler.sample(), up: nil, version: gpuctopVersion)
            server?.publish(body)
            if let textfile {
                let problem = writeTextfile(textfile, PrometheusText.upFamily(true) + body)
                // Keep going (the disk may get space again); say so once per problem.
                if let problem, problem != lastProblem { printError("warning: \(problem); still exporting") }
                lastProblem = problem
            }
        }
    }
}
