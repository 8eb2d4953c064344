// Runs the dashboard: a sampler thread produces snapshots, the UI thread turns
// keys, resizes and snapshots into model updates and draws the view. The UI
// never waits for a sample, so a slow NVML call or a hung daemon shows up as
// "data N s old" in the header, not as a frozen screen.
import Glibc
import Model
import Support

public final class DashboardRunner {
    public struct Config: Sendable {
        public var interval: Double
        public var readOnly: Bool
        public var ascii: Bool
        public var noColor: Bool
        /// Hosts watched over ssh (`--host`); more than one shows the HOST column.
        public var hostCount = 1
        public init(interval: Double, readOnly: Bool, ascii: Bool, noColor: Bool) {
            self.interval = interval; self.readOnly = readOnly; self.ascii = ascii; self.noColor = noColor
        }
    }

    /// Where snapshots come from: live samplers (called on the sampler thread) or a recording.
    public enum Source {
        case live(() -> Snapshot)
        case replay(ReplayDriver)
    }

    private let config: Config
    private let source: Source
    private let performer: DashboardActionPerformer?
    private let mailbox: Mailbox

    public init(config: Config, source: Source, performer: DashboardActionPerformer? = nil) {
        self.config = config
        self.source = source
        self.performer = performer
        mailbox = Mailbox(interval: config.interval)
    }

    public convenience init(config: Config, sample: @escaping () -> Snapshot) {
        self.init(config: config, source: .live(sample))
    }

    public func run() -> Int32 {
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            fputs("gpuctop: the dashboard needs a terminal; use 'gpuctop snapshot' in scripts\n", stderr)
            return 2
        }
        return run(on: CursesScreen(forceASCII: config.ascii, noColor: config.noColor))
    }

    /// The run loop on any screen; returns when q is pressed, a quit signal comes or
    /// the input goes away.
    public func run(on screen: ScreenBackend) -> Int32 {
        var model = DashboardModel(width: screen.size.width, height: screen.size.height,
                                   interval: config.interval, readOnly: config.readOnly, ascii: !screen.unicode)
        model.hostCount = config.hostCount
        var replay: ReplayDriver?
        switch source {
        case .live(let sample): startSampler(sample)
        case .replay(let driver): replay = driver
        }
        defer {
            // The sampler may be inside a slow call; it stops at its next check.
            mailbox.stop()
            screen.end()
            // Killed by a signal: after restoring the terminal, die of it, so that the
            // shell and ssh see the usual status (128 + signal) and react as usual.
            let sig = TerminalGuard.quitSignal
            if sig != 0 {
                signal(sig, SIG_DFL)
                raise(sig)
            }
        }
        model.now = WallClock.now()
        var nextReplayStep = Double.infinity
        func showReplayPosition(_ driver: ReplayDriver, rebuildHistory: Bool) {
            _ = model.update(.replayStatus(driver.status))
            if rebuildHistory { _ = model.update(.replaceHistory(driver.historyBeforeCurrent())) }
            _ = model.update(.snapshot(driver.current))
            nextReplayStep = driver.secondsToNext.map { MonotonicClock.now() + $0 } ?? .infinity
        }
        if let replay { showReplayPosition(replay, rebuildHistory: true) }
        screen.draw(DashboardView.render(model))
        var lastTick = model.now
        while TerminalGuard.quitSignal == 0 {
            // Wake at least once a second so the data age stays true; sooner for a replay step.
            let untilStep = nextReplayStep - MonotonicClock.now()
            let timeout = untilStep < 1 ? Int32(max(0, untilStep) * 1000) : 1000
            if !screen.waitForInput(milliseconds: timeout) { break }  // the terminal went away
            TerminalGuard.drainWake()
            var changed = false
            let (keys, resized) = screen.readKeys()
            if resized {
                let size = screen.size
                _ = model.update(.resize(width: size.width, height: size.height))
                screen.invalidate()
                changed = true
            }
            let now = WallClock.now()
            if now - lastTick >= 1 || !keys.isEmpty {
                _ = model.update(.tick(now))
                lastTick = now
                changed = changed || model.staleSeconds != nil
            }
            if let s = mailbox.take() {
                _ = model.update(.tick(now))
                _ = model.update(.snapshot(s))
                changed = true
            }
            if let result = mailbox.takeActionResult() {
                _ = model.update(.actionFinished(result))
                changed = true
            }
            if let replay, MonotonicClock.now() >= nextReplayStep {
                if replay.advance() { showReplayPosition(replay, rebuildHistory: false) } else { nextReplayStep = .infinity }
                changed = true
            }
            var quit = false
            for key in keys {
                for effect in model.update(.key(key)) {
                    switch effect {
                    case .quit: quit = true
                    case .setInterval(let v): mailbox.setInterval(v)
                    case .replay(let command):
                        guard let replay else { break }
                        let moved = replay.apply(command)
                        showReplayPosition(replay, rebuildHistory: moved)
                    case .perform(let request):
                        perform(request)
                    }
                }
                changed = true
            }
            if quit { break }
            if changed { screen.draw(DashboardView.render(model)) }
        }
        return 0
    }

    /// Runs an action on its own thread; its result comes back through the mailbox.
    private func perform(_ request: ActionRequest) {
        guard let performer else {
            mailbox.postActionResult("actions are not available here")
            return
        }
        let mailbox = self.mailbox
        detachedThread {
            mailbox.postActionResult(performer.perform(request))
        }
    }

    private func startSampler(_ sample: @escaping () -> Snapshot) {
        let job = SamplerJob(sample: sample, mailbox: mailbox)
        startDetachedThread(name: "sampler") { job.loop() }
    }
}

private final class SamplerJob {
    let sample: () -> Snapshot
    let mailbox: Mailbox
    init(sample: @escaping () -> Snapshot, mailbox: Mailbox) { self.sample = sample; self.mailbox = mailbox }

    func loop() {
        while !mailbox.isStopping {
            let start = MonotonicClock.now()
            let s = sample()
            if mailbox.isStopping { break }
            mailbox.post(s)
            if !mailbox.waitForNextRefresh(since: start) { break }
        }
    }
}

/// A detached pthread running `body`; where none can be created, `body` runs here.
func detachedThread(_ body: @escaping () -> Void) {
    if !startDetachedThread(body) { body() }
}
