// The one use case behind both front ends: carry out a resolved, confirmed action
// and record it in the audit log, whatever its result. The command line and the
// dashboard each resolve their target and ask their own way (a terminal question,
// a dialog); from there on they call this, so the two cannot drift in what they do
// or how the log names it.
import DockerSocket
import Model

public final class AuditedActions {
    public let log: AuditLog
    /// Decided once, with the log's path: the process's ancestry does not change.
    private let sudoUser: String?
    private let warn: (String) -> Void
    private var warnedAboutLog = false

    /// The audit action names, as the log writes them.
    public static let powerSet = "power-set"
    public static let signal = "signal"

    /// `warn` hears (once) that the log cannot be written: the action's own result
    /// still decides what the user is told and the exit status.
    public init(environment: [String: String], warn: @escaping (String) -> Void) {
        self.warn = warn
        sudoUser = SudoInvocation.invokingUser(environment: environment)
        log = AuditLog.standard(environment: environment)
    }

    /// Appends one record.
    public func record(_ action: String, _ target: AuditTarget, previous: String?, _ outcome: AuditOutcome) {
        let entry = AuditRecord.now(action: action, target: target, previous: previous, outcome: outcome,
                                    sudoUser: sudoUser)
        do {
            try log.append(entry)
        } catch {
            if !warnedAboutLog {
                warnedAboutLog = true
                warn("warning: \(error)")
            }
        }
    }

    /// The audit target of a listed container: its name, id and engine.
    public static func target(_ c: EngineContainer) -> AuditTarget {
        .container(name: c.name, id: c.id, engine: c.engine.rawValue)
    }

    /// Stops, restarts or kills one container, unless ContainerActionPolicy refuses it
    /// (Kubernetes manages it): then nothing is asked of the engine, and the log says why.
    public func container(_ verb: String, _ action: ContainerAction, on c: EngineContainer,
                          using actions: ContainerActions) throws(ContainerActionError) -> ContainerActionOutcome {
        let target = Self.target(c)
        let previous = ContainerActions.previousState(c.summary)
        do throws(ContainerActionError) {
            if let line = ContainerActions.refusal(action, on: c) { throw ContainerActionError.refused(line) }
            let outcome = try actions.perform(action, on: c)
            record(verb, target, previous: previous, .ok(outcome.description))
            return outcome
        } catch {
            record(verb, target, previous: previous, error.isRefusal ? .refused(error.description) : .failed(error.description))
            throw error
        }
    }

    /// Signals a host process, only while the PID is the process that started at
    /// `startTicks` (ProcessSignal's rule); `command` is what the question named.
    public func signal(_ sig: Int32, to pid: Int32, startedAt startTicks: UInt64?, command: String?,
                       procRoot: String) throws(SignalError) {
        do {
            try ProcessSignal.send(sig, to: pid, ifStartedAt: startTicks, procRoot: procRoot)
            record(Self.signal, .process(pid: pid), previous: command, .ok("sent \(ProcessSignal.name(sig))"))
        } catch {
            record(Self.signal, .process(pid: pid), previous: command,
                   error.isRefusal ? .refused(error.description) : .failed(error.description))
            throw error
        }
    }

    /// What setting a list of planned power limits did.
    public struct PowerRun {
        public var applied: [(change: PowerChange, result: PowerSetResult)] = []
        /// The change that failed, its error and the limit the GPU still has (read back).
        public var failure: (change: PowerChange, error: PowerControlError, stillLimit: Int?)?
        /// The changes after a failure, not tried.
        public var notTried: [PowerChange] = []
    }

    /// Sets the planned limits in order, recording each; the first failure stops the
    /// rest, which are recorded as not tried.
    public func setPower(_ changes: [PowerChange], on control: PowerControl) -> PowerRun {
        var run = PowerRun()
        for (n, c) in changes.enumerated() {
            let target = AuditTarget.gpu(index: c.gpu, uuid: c.uuid)
            let previous = c.previousLimit.map { PowerFormat.watts($0) } ?? "unknown"
            do {
                let result = try control.apply(c)
                let limit = result.limit.map { PowerFormat.watts($0) } ?? "unknown"
                let enforced = result.enforced.map { PowerFormat.watts($0) } ?? "unknown"
                record(Self.powerSet, target, previous: previous, .ok("set to \(limit), enforced \(enforced)"))
                run.applied.append((c, result))
            } catch {
                // What the driver holds now, read back: a failed set changed nothing.
                let still = control.reading(gpu: c.gpu).powerLimit
                let detail = error.description + (still.map { "; the limit is still \(PowerFormat.watts($0))" } ?? "")
                record(Self.powerSet, target, previous: previous, error.isRefusal ? .refused(error.description) : .failed(detail))
                run.failure = (c, error, still)
                run.notTried = Array(changes[(n + 1)...])
                for r in run.notTried {
                    record(Self.powerSet, .gpu(index: r.gpu, uuid: r.uuid),
                           previous: r.previousLimit.map { PowerFormat.watts($0) } ?? "unknown",
                           .refused("not tried after GPU \(c.gpu) failed"))
                }
                break
            }
        }
        return run
    }
}
