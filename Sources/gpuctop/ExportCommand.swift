// `gpuctop export [--listen ADDR:PORT] [--textfile DIR [--once]]`: the snapshot as
// Prometheus metrics (Telemetry/PrometheusText.swift), refreshed every --interval.
//
// --listen serves GET /metrics (MetricsServer.swift); without --listen and
// --textfile it listens on 127.0.0.1:9835, loopback only: any other address has to
// be asked for. --textfile writes DIR/gpuctop.prom atomically (DIR/.gpuctop.prom.tmp,
// then rename) for node_exporter's textfile collector; --once writes it once and
// exits. A sampler thread refreshes; the server's threads serve the latest body, so a
// scrape never waits for NVML or the container engine. The main thread waits for
// SIGINT/SIGTERM, which stop it even while a refresh hangs: the server stops
// accepting, the textfile is removed (so node_exporter does not go on serving figures
// nobody refreshes), exit status 0.
import Glibc
import Telemetry

enum ExportCommand {
    static let defaultListen = "127.0.0.1:9835"
    static let textfileName = "gpuctop.prom"
    static let temporaryName = ".gpuctop.prom.tmp"

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
            return 2
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
            var st = stat()
            guard stat(directory, &st) == 0 else {
                printError("cannot write metrics to \(directory): \(String(cString: strerror(errno)))")
                return 1
            }
            guard st.st_mode & S_IFMT == S_IFDIR else {
                printError("cannot write metrics to \(directory): not a directory")
                return 1
            }
            textfile = Textfile(directory: directory)
        }

        var server: MetricsServer?
        if let listen {
            do {
                server = try MetricsServer(address: listen, staleAfter: max(3 * options.interval, 10))
            } catch {
                printError("\(error)")
                return 1
            }
        }

        // The sampler runs on its own thread, so that a stop signal is answered at once
        // even while a refresh hangs in NVML or the container engine.
        let job = ExportJob(options: options, server: server, textfile: textfile, once: once,
                            mainThread: pthread_self())
        guard let thread = spawnThread({ job.run() }) else {
            printError("cannot start the sampler thread")
            return 1
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
        if let textfile { unlink(textfile.path) }
        return 0
    }

    static func formatSeconds(_ s: Double) -> String {
        s == s.rounded() ? String(Int(s)) : String(s)
    }
}

/// The sampler thread of `export`: samples every interval, publishes the rendered body
/// to the server and writes the textfile. Textfile writes and `stop()` share a lock, so
/// no write lands after the stop removed the file.
final class ExportJob: @unchecked Sendable {
    let options: Options
    let server: MetricsServer?
    let textfile: Textfile?
    let once: Bool
    let mainThread: pthread_t

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var stopped = false      // guarded by mutex
    private var status: Int32?       // guarded by mutex

    init(options: Options, server: MetricsServer?, textfile: Textfile?, once: Bool, mainThread: pthread_t) {
        self.options = options
        self.server = server
        self.textfile = textfile
        self.once = once
        self.mainThread = mainThread
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    /// The exit status the job asks for (after --once or a failed first write).
    var finished: Int32? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return status
    }

    func stop() {
        pthread_mutex_lock(mutex)
        stopped = true
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }

    private func finish(_ code: Int32) {
        pthread_mutex_lock(mutex)
        status = code
        pthread_mutex_unlock(mutex)
        pthread_kill(mainThread, SIGUSR1)
    }

    /// Writes the textfile unless stopped; nil when written or stopped.
    private func writeTextfile(_ textfile: Textfile, _ text: String) -> String? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return stopped ? nil : textfile.write(text)
    }

    /// Sleeps until the monotonic time `due`; false when stopped first.
    private func wait(until due: Double) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !stopped {
            let left = due - monotonicSeconds()
            if left <= 0 { return true }
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            let ns = Int(ts.tv_nsec) + Int(min(left, 1) * 1e9)
            ts.tv_sec += ns / 1_000_000_000
            ts.tv_nsec = ns % 1_000_000_000
            pthread_cond_timedwait(cond, mutex, &ts)
        }
        return false
    }

    func run() {
        let interval = options.interval
        var samplerOptions = SamplerOptions(nvmlPath: options.nvmlPath, procRoot: options.procRoot, dockerHost: options.dockerHost)
        // dcgm-exporter users expect the energy counter; the exporter pays its 2.6 ms a read.
        samplerOptions.nvmlSchedule.energy = true
        let sampler = SnapshotSampler(options: samplerOptions)
        let start = monotonicSeconds()
        var body = PrometheusText.render(sampler.sample(), up: nil, version: gpuctopVersion)
        if let textfile {
            // The first write decides: a directory we cannot write to is an error, not a warning.
            if let problem = writeTextfile(textfile, PrometheusText.upFamily(true) + body) {
                printError(problem)
                return finish(1)
            }
            if once { return finish(0) }
        }
        if let server {
            server.publish(body)
            pthread_mutex_lock(mutex)
            let stopping = stopped
            pthread_mutex_unlock(mutex)
            if stopping { return }
            server.start()
            writeOut("serving metrics on http://\(server.address.description)/metrics, refreshed every \(ExportCommand.formatSeconds(interval)) s\n")
        }
        if let textfile {
            writeOut("writing \(textfile.path) every \(ExportCommand.formatSeconds(interval)) s\n")
        }
        var tick = 0
        var lastProblem: String?
        while true {
            // Next tick on the schedule; skip ticks that sampling overran.
            tick += 1
            let now = monotonicSeconds()
            var due = start + Double(tick) * interval
            if due < now {
                tick = Int(((now - start) / interval).rounded(.up))
                due = start + Double(tick) * interval
            }
            guard wait(until: due) else { return }
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

/// DIR/gpuctop.prom, replaced atomically: written to DIR/.gpuctop.prom.tmp, then renamed.
struct Textfile {
    let directory: String
    var path: String { directory + "/" + ExportCommand.textfileName }
    var temporaryPath: String { directory + "/" + ExportCommand.temporaryName }

    /// nil when written; otherwise a one-line reason.
    func write(_ text: String) -> String? {
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return "cannot write \(temporaryPath): \(String(cString: strerror(errno)))" }
        let bytes = Array(text.utf8)
        var offset = 0
        var failure: Int32 = 0
        bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += n
            }
        }
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure != 0 {
            unlink(temporaryPath)
            return "cannot write \(temporaryPath): \(String(cString: strerror(failure)))"
        }
        guard rename(temporaryPath, path) == 0 else {
            let e = errno
            unlink(temporaryPath)
            return "cannot rename \(temporaryPath) to \(path): \(String(cString: strerror(e)))"
        }
        return nil
    }
}
