// The action commands: `stop`, `restart`, `kill` (containers), `signal` (a host process)
// and `power` (read or set GPU power limits). The logic lives in Telemetry
// (ContainerActions, ProcessSignal, PowerControl, AuditLog), shared with the dashboard;
// this file parses arguments, asks for confirmation and prints.
//
// Every action, whatever its result, is appended to the audit log. Exit status: 0 done,
// 1 failed (daemon, NVML or kernel error), 2 usage, 3 refused (not confirmed, read-only,
// ambiguous, out of range, no --yes without a terminal). Each message is one line.
import Actions
import DockerSocket
import FoundationEssentials
import Glibc
import Model
import Support
import TUI
import Telemetry

/// What every action command needs: the audited use case (shared with the
/// dashboard) and confirmation on the terminal.
final class ActionContext {
    let options: Options
    let audited: AuditedActions

    init(options: Options, environment: [String: String] = Environment.current()) {
        self.options = options
        audited = AuditedActions(environment: environment, warn: { printError($0) })
    }

    /// Records a refusal or failure found before anything was done.
    func audit(_ action: String, _ target: AuditTarget, previous: String?, _ outcome: AuditOutcome) {
        audited.record(action, target, previous: previous, outcome)
    }

    enum Answer { case proceed, declined, noTerminal }

    /// `--yes` proceeds; on a terminal (stdin and stdout) the question is asked and only
    /// y or yes proceeds; anywhere else the action is refused.
    func confirm(_ question: String, yes: Bool) -> Answer {
        if yes { return .proceed }
        guard isatty(0) != 0, isatty(1) != 0 else { return .noTerminal }
        writeOut(question + " [y/N] ")
        guard let line = readLine(strippingNewline: true) else {
            writeOut("\n")
            return .declined
        }
        let answer = trimBlanks(line).lowercased()
        return answer == "y" || answer == "yes" ? .proceed : .declined
    }

    static let noTerminalMessage = "refusing without --yes when not on a terminal"
    static let declinedMessage = "not confirmed; nothing done"
    static let readOnlyMessage = "read-only mode (--read-only or GPUCTOP_READ_ONLY=1)"
}

enum ActionCommands {
    // MARK: - stop / restart / kill

    static func runContainer(_ verb: String, _ options: Options) -> Int32 {
        var args = CommandArguments(command: verb, options.arguments)
        let action: ContainerAction
        let yes: Bool
        let names: [String]
        do {
            yes = args.flag("--yes") || args.flag("-y")
            let time = try args.value("--time")
            let signal = try args.value("--signal")
            names = try args.finish()
            if names.isEmpty { throw UsageError(description: "\(verb) needs at least one CONTAINER (name or id)") }
            if let empty = names.first(where: { $0.isEmpty || $0 == "/" }) {
                throw UsageError(description: "'\(empty)' is not a container name or id")
            }
            var timeout: Int?
            if let time {
                guard verb != "kill" else { throw UsageError(description: "--time is for stop and restart, not kill") }
                guard let t = Int(time), t >= 0, t <= 86_400 else {
                    throw UsageError(description: "--time must be whole seconds from 0 to 86400, not '\(Sanitize.visible(time))'")
                }
                timeout = t
            }
            if let signal {
                guard verb == "kill" else { throw UsageError(description: "--signal is for kill, not \(verb)") }
                guard !signal.isEmpty, signal.count <= 16,
                      signal.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) || $0 == 0x2b }) else {
                    throw UsageError(description: "'\(Sanitize.visible(signal))' is not a signal name or number")
                }
            }
            switch verb {
            case "stop": action = .stop(timeout: timeout)
            case "restart": action = .restart(timeout: timeout)
            default: action = .kill(signal: signal)
            }
        } catch {
            printError("\(error)")
            return ExitStatus.usage
        }

        let context = ActionContext(options: options)
        if options.readOnly {
            for name in names { context.audit(verb, .argument(name), previous: nil, .refused(ActionContext.readOnlyMessage)) }
            printError("refusing to \(verb): \(ActionContext.readOnlyMessage)")
            return ExitStatus.refused
        }

        let endpoints: [EngineEndpoint]
        do {
            endpoints = try EngineSockets.endpoints(dockerHost: options.dockerHost, podmanHost: options.podmanHost,
                                                       environment: Environment.current(),
                                                       hostPaths: HostPaths(root: options.hostRoot ?? "/"))
        } catch {
            let message = "\(error)"
            for name in names { context.audit(verb, .argument(name), previous: nil, .failed(message)) }
            printError(message)
            return ExitStatus.failure
        }
        let actions = ContainerActions(endpoints: endpoints, options: .init(connectTimeout: 2, readTimeout: 10))
        defer { actions.close() }
        let listing = actions.list()
        func failureText(_ f: (socketPath: String, error: DockerError)) -> String {
            ContainerActions.listingFailure(socketPath: f.socketPath, f.error, only: endpoints.count == 1)
        }
        if listing.failures.count == endpoints.count {
            let message = listing.failures.map(failureText).joined(separator: "; ")
            for name in names { context.audit(verb, .argument(name), previous: nil, .failed(message)) }
            printError(message)
            return ExitStatus.failure
        }
        // An engine named by an option or variable that cannot be read is news; one found at
        // its usual path (a rootful Podman socket a user may not open) only when it matters.
        for f in listing.failures where endpoints.contains(where: { $0.socketPath == f.socketPath && $0.explicit }) {
            printError("warning: \(failureText(f)); its containers were not considered")
        }

        // Every argument must name exactly one container the policy lets us act on before
        // anything is done.
        var targets: [EngineContainer] = []
        var problems: [(target: AuditTarget, previous: String?, error: ContainerActionError)] = []
        var unknown: [String] = []
        for argument in names {
            switch ContainerActions.resolve(argument, among: listing.containers) {
            case .found(let c):
                if let line = ContainerActions.refusal(action, on: c) {
                    problems.append((AuditedActions.target(c), ContainerActions.previousState(c.summary), .refused(line)))
                } else if !targets.contains(where: { $0.id == c.id && $0.socketPath == c.socketPath }) {
                    targets.append(c)
                }
            case .ambiguous(let candidates):
                problems.append((.argument(argument), nil, .ambiguous(argument: argument, candidates: candidates)))
            case .notFound:
                unknown.append(argument)
            }
        }
        if !unknown.isEmpty {
            // Not an engine's: perhaps a containerd or CRI-O container (a Kubernetes pod's), which
            // only a snapshot names; refused with the command that would do it.
            // Every engine's state (containerd and CRI-O among them), as the dashboard reads it.
            var once = options.samplerOptions()
            once.watchXID = false  // one sample: no XID can arrive in it
            let snapshot = SnapshotSampler(options: once).sample()
            for argument in unknown {
                if let (line, c) = SnapshotContainerLookup.refusal(action.containerVerb, argument, in: snapshot) {
                    let target = c.map { AuditTarget.container(name: $0.name, id: $0.id, engine: $0.runtime?.rawValue) } ?? .argument(argument)
                    problems.append((target, c?.status, .refused(line)))
                } else {
                    problems.append((.argument(argument), nil, .notFound(argument: argument)))
                }
            }
            // Not found while an engine could not be read: it may be that engine's.
            if problems.contains(where: { if case .notFound = $0.error { return true }; return false }) {
                for f in listing.failures where !endpoints.contains(where: { $0.socketPath == f.socketPath && $0.explicit }) {
                    printError("warning: \(failureText(f)); its containers were not considered")
                }
            }
        }
        if !problems.isEmpty {
            for problem in problems {
                let error = problem.error
                context.audit(verb, problem.target, previous: problem.previous,
                              error.isRefusal ? .refused(error.description) : .failed(error.description))
                printError(Sanitize.visible(error.description))
            }
            for c in targets {
                context.audit(verb, AuditedActions.target(c), previous: ContainerActions.previousState(c.summary),
                              .refused("not done: another CONTAINER argument was not found or refused"))
            }
            return problems.contains(where: \.error.isRefusal) ? ExitStatus.refused : ExitStatus.failure
        }

        let described = targets.map { ContainerActions.describe($0) }
        let subject = targets.count == 1 ? described[0] : "\(targets.count) containers: " + described.joined(separator: ", ")
        let question: String
        switch action {
        case .stop(let t): question = "Stop \(subject)\(t.map { " (SIGKILL after \($0) s)" } ?? "")?"
        case .restart: question = "Restart \(subject)?"
        case .kill(let s): question = "Send \(ContainerActions.signalLabel(s)) to \(subject)?"
        }
        if let refusal = refusal(context.confirm(Sanitize.visible(question), yes: yes)) {
            for c in targets {
                context.audit(verb, AuditedActions.target(c), previous: ContainerActions.previousState(c.summary), .refused(refusal))
            }
            printError(refusal)
            return ExitStatus.refused
        }

        var status = ExitStatus.ok
        for c in targets {
            let label = Sanitize.visible(ContainerActions.shortLabel(c.summary))
            do {
                let outcome = try context.audited.container(verb, action, on: c, using: actions)
                writeOut("\(label): \(outcome)\n")
            } catch {
                printError("\(label): \(Sanitize.visible(error.description))")
                status = ExitStatus.failure
            }
        }
        return status
    }

    /// The refusal message for an answer, nil to proceed.
    private static func refusal(_ answer: ActionContext.Answer) -> String? {
        switch answer {
        case .proceed: return nil
        case .declined: return ActionContext.declinedMessage
        case .noTerminal: return ActionContext.noTerminalMessage
        }
    }

    // MARK: - signal

    static func runSignal(_ options: Options) -> Int32 {
        var args = CommandArguments(command: "signal", options.arguments)
        let pid: Int32
        let signal: Int32
        let yes: Bool
        let givenStart: UInt64?
        do {
            yes = args.flag("--yes") || args.flag("-y")
            let name = try args.value("--signal") ?? "TERM"
            givenStart = try args.value("--start-time").map(parseStartTicks)
            let positionals = try args.finish()
            guard positionals.count == 1 else {
                throw UsageError(description: positionals.isEmpty ? "signal needs a PID" : "signal takes one PID, not \(positionals.count) arguments")
            }
            let text = positionals[0]
            guard !text.isEmpty, text.count <= 10, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let p = Int32(text) else {
                throw UsageError(description: "'\(Sanitize.visible(text))' is not a PID")
            }
            guard let s = ProcessSignal.parse(name) else {
                throw UsageError(description: "unknown signal '\(Sanitize.visible(name))' (TERM, INT, KILL, HUP, USR1, USR2 or a number 1..64)")
            }
            pid = p
            signal = s
        } catch {
            printError("\(error)")
            return ExitStatus.usage
        }
        let context = ActionContext(options: options)
        let signalName = ProcessSignal.name(signal)
        if options.readOnly {
            context.audit(AuditedActions.signal, .process(pid: pid), previous: nil, .refused(ActionContext.readOnlyMessage))
            printError("refusing to send \(signalName): \(ActionContext.readOnlyMessage)")
            return ExitStatus.refused
        }
        do {
            try ProcessSignal.check(pid: pid)
            // A caller that names the process (a dashboard forwarding its question) is told
            // at once when the PID is no longer it, before anything is asked.
            if let givenStart { try ProcessSignal.verify(pid: pid, startedAt: givenStart, procRoot: options.procRoot) }
        } catch {
            context.audit(AuditedActions.signal, .process(pid: pid), previous: nil, error.isRefusal ? .refused(error.description) : .failed(error.description))
            printError(error.description)
            return error.isRefusal ? ExitStatus.refused : ExitStatus.failure
        }

        let reader = ProcReader(procRoot: options.procRoot)
        let info = reader.sample(pids: [pid], now: WallClock.now())[pid]
        // The process the question describes: the one named, or the one that has the PID now,
        // from the same read of /proc as the command shown (a PID reused between two reads
        // could otherwise be described as one process and signalled as another).
        let started = givenStart ?? info?.startTicks
        let previous = info?.command
        let who = info.map { "user \($0.user): \(Sanitize.visible($0.command))" } ?? "not visible in \(options.procRoot)"
        if let refusal = refusal(context.confirm("Send \(signalName) to PID \(pid) (\(who))?", yes: yes)) {
            context.audit(AuditedActions.signal, .process(pid: pid), previous: previous, .refused(refusal))
            printError(refusal)
            return ExitStatus.refused
        }
        do {
            // The PID must still be the process we described.
            try context.audited.signal(signal, to: pid, startedAt: started, command: previous, procRoot: options.procRoot)
        } catch {
            printError(error.description)
            return error.isRefusal ? ExitStatus.refused : ExitStatus.failure
        }
        writeOut("PID \(pid): sent \(signalName)\n")
        return ExitStatus.ok
    }

    /// `--start-time`: clock ticks since boot, digits only (field 22 of /proc/PID/stat).
    private static func parseStartTicks(_ text: String) throws -> UInt64 {
        guard !text.isEmpty, text.count <= 20, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let ticks = UInt64(text) else {
            throw UsageError(description: "--start-time '\(Sanitize.visible(text))' is not a start time (clock ticks since boot, as snapshot --json's startTicks)")
        }
        return ticks
    }

    // MARK: - power

    static func runPower(_ options: Options) -> Int32 {
        var args = CommandArguments(command: "power", options.arguments)
        let json = args.flag("--json")
        let dryRun = args.flag("--dry-run")
        let yes = args.flag("--yes") || args.flag("-y")
        let positionals: [String]
        do {
            positionals = try args.finish()
        } catch {
            printError("\(error)")
            return ExitStatus.usage
        }
        if positionals.isEmpty {
            if dryRun || yes {
                printError("--dry-run and --yes are for 'power set' (see gpuctop --help)")
                return ExitStatus.usage
            }
            return showPower(options, json: json)
        }
        guard positionals[0] == "set" else {
            printError("unexpected argument '\(Sanitize.visible(positionals[0]))' for 'power' (did you mean 'power set'?)")
            return ExitStatus.usage
        }
        guard !json else {
            printError("--json is for 'power' without 'set'")
            return ExitStatus.usage
        }
        guard positionals.count == 3 else {
            printError("usage: gpuctop power set GPU|all WATTS|PERCENT%|default [--dry-run] [--yes]")
            return ExitStatus.usage
        }
        let target: PowerTarget
        let setting: PowerSetting
        do {
            target = try PowerTarget(parsing: positionals[1])
            setting = try PowerSetting(parsing: positionals[2])
        } catch {
            printError(Sanitize.visible(error.description))
            return ExitStatus.usage
        }
        return setPower(options, target: target, setting: setting, dryRun: dryRun, yes: yes)
    }

    private static func showPower(_ options: Options, json: Bool) -> Int32 {
        let control: PowerControl
        do {
            control = try PowerControl.open(nvmlPath: options.nvmlPath)
        } catch {
            printError(error.description)
            return ExitStatus.failure
        }
        let readings = control.readings()
        if json {
            struct Document: Encodable { var gpus: [PowerReading] }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            do {
                writeOut(String(decoding: try encoder.encode(Document(gpus: readings)), as: UTF8.self) + "\n")
            } catch {
                printError("cannot encode the power readings as JSON: \(error)")
                return ExitStatus.failure
            }
            return ExitStatus.ok
        }
        if readings.isEmpty {
            writeOut("No GPUs.\n")
            return ExitStatus.ok
        }
        func w(_ mw: Int?) -> String { mw.map { PowerFormat.watts($0) } ?? "n/a" }
        var rows = [["GPU", "NAME", "DRAW", "LIMIT", "ENFORCED", "DEFAULT", "RANGE"]]
        for r in readings {
            let range: String
            if let lo = r.powerLimitMin, let hi = r.powerLimitMax { range = PowerFormat.range(lo, hi) } else { range = "n/a" }
            if r.lost {
                rows.append(["\(r.index)", "(lost)", "", "", "", "", ""])
            } else {
                rows.append(["\(r.index)", Sanitize.visible(r.name ?? "n/a"), w(r.powerDraw), w(r.powerLimit),
                             w(r.powerLimitEnforced), w(r.powerLimitDefault), range])
            }
        }
        let widths = (0..<rows[0].count).map { col in rows.map { $0[col].count }.max() ?? 0 }
        var out = ""
        for row in rows {
            var line = ""
            for (col, cell) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[col] - cell.count)
                // Numbers right-aligned, the name left-aligned.
                line += col == 1 ? cell + pad : pad + cell
                if col < row.count - 1 { line += "  " }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        writeOut(out)
        return ExitStatus.ok
    }

    private static func setPower(_ options: Options, target: PowerTarget, setting: PowerSetting,
                                 dryRun: Bool, yes: Bool) -> Int32 {
        let context = ActionContext(options: options)
        let action = AuditedActions.powerSet
        let requested: AuditTarget
        switch target {
        case .gpu(let i): requested = .gpu(index: i, uuid: nil)
        case .all: requested = .argument("all")
        }
        // A dry run only reads, so read-only mode allows it, and it is not logged.
        if options.readOnly && !dryRun {
            context.audit(action, requested, previous: nil, .refused(ActionContext.readOnlyMessage))
            printError("refusing to set a power limit: \(ActionContext.readOnlyMessage)")
            return ExitStatus.refused
        }
        let control: PowerControl
        do {
            control = try PowerControl.open(nvmlPath: options.nvmlPath)
        } catch {
            if !dryRun { context.audit(action, requested, previous: nil, .failed(error.description)) }
            printError(error.description)
            return ExitStatus.failure
        }
        let changes: [PowerChange]
        do {
            changes = try control.plan(target, setting)
        } catch {
            if !dryRun {
                var auditTarget = requested
                if case .gpu(let i) = target, i >= 0, i < control.gpuCount {
                    auditTarget = .gpu(index: i, uuid: control.reading(gpu: i).uuid)
                }
                context.audit(action, auditTarget, previous: nil,
                              error.isRefusal ? .refused(error.description) : .failed(error.description))
            }
            printError(Sanitize.visible(error.description))
            return error.isRefusal ? ExitStatus.refused : ExitStatus.failure
        }
        if changes.isEmpty {
            if !dryRun { context.audit(action, requested, previous: nil, .failed("NVML reports no GPUs")) }
            printError("NVML reports no GPUs")
            return ExitStatus.failure
        }
        func from(_ c: PowerChange) -> String { c.previousLimit.map { PowerFormat.watts($0) } ?? "unknown" }
        if dryRun {
            for c in changes {
                writeOut("dry run: would set \(Sanitize.visible(c.label)) from \(from(c)) to \(PowerFormat.watts(c.newLimit)) (range \(PowerFormat.range(c.minLimit, c.maxLimit)))\n")
            }
            return ExitStatus.ok
        }

        let subject: String
        if changes.count == 1 {
            let c = changes[0]
            subject = "the power limit of \(c.label) from \(from(c)) to \(PowerFormat.watts(c.newLimit))"
        } else {
            subject = "the power limit of \(changes.count) GPUs: "
                + changes.map { "GPU \($0.gpu) \(from($0)) -> \(PowerFormat.watts($0.newLimit))" }.joined(separator: ", ")
        }
        let question = "Set \(subject)? It lasts until the driver is reloaded or the machine reboots."
        if let refusal = refusal(context.confirm(Sanitize.visible(question), yes: yes)) {
            for c in changes {
                context.audit(action, .gpu(index: c.gpu, uuid: c.uuid), previous: from(c), .refused(refusal))
            }
            printError(refusal)
            return ExitStatus.refused
        }

        let run = context.audited.setPower(changes, on: control)
        for (c, result) in run.applied {
            let limit = result.limit.map { PowerFormat.watts($0) } ?? "unknown"
            let enforced = result.enforced.map { PowerFormat.watts($0) } ?? "unknown"
            writeOut("\(Sanitize.visible(c.label)): power limit \(from(c)) -> \(limit) (enforced \(enforced))\n")
        }
        if let failure = run.failure {
            let still = failure.stillLimit.map { "; the limit is still \(PowerFormat.watts($0))" } ?? ""
            printError(Sanitize.visible(failure.error.description) + still)
            if !run.notTried.isEmpty {
                printError("not tried after that failure: " + run.notTried.map { "GPU \($0.gpu)" }.joined(separator: ", "))
            }
            return failure.error.isRefusal ? ExitStatus.refused : ExitStatus.failure
        }
        return ExitStatus.ok
    }
}
