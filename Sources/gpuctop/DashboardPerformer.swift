// Carries out the dashboard's confirmed actions through the same audited use case
// as the command line (AuditedActions). Runs on the dashboard's worker thread, one
// action at a time.
import Actions
import DockerSocket
import Model
import TUI
import Telemetry

final class DashboardPerformer: DashboardActionPerformer {
    private let options: Options
    private let audited: AuditedActions
    private var power: PowerControl?

    init(options: Options) {
        self.options = options
        audited = AuditedActions(environment: Environment.current(), warn: { _ in })
    }

    func perform(_ request: ActionRequest) -> String {
        switch request {
        case .container(let id, let name, let verb): return container(id: id, name: name, verb: verb)
        case .signal(let pid, let sig, let name, let command, let startTicks):
            return signal(pid: pid, sig, name, command: command, startTicks: startTicks)
        case .power(let target, let setting): return setPower(target, setting)
        case .onHost(let host, _): return "\(host) is a remote host; this dashboard acts on this machine only"
        }
    }

    private func container(id: String, name: String, verb: ContainerVerb) -> String {
        let action: ContainerAction
        switch verb {
        case .stop: action = .stop(timeout: nil)
        case .restart: action = .restart(timeout: nil)
        case .kill: action = .kill(signal: nil)
        }
        let endpoints: [EngineEndpoint]
        do {
            endpoints = try EngineSockets.endpoints(dockerHost: options.dockerHost, podmanHost: options.podmanHost,
                                                       environment: Environment.current(),
                                                       hostPaths: HostPaths(root: options.hostRoot ?? "/"))
        } catch {
            audited.record(verb.rawValue, .container(name: name, id: id), previous: nil, .failed("\(error)"))
            return "\(verb.rawValue) \(name) failed: \(error)"
        }
        // Fresh clients per action: the sampler's client belongs to the sampler thread.
        let actions = ContainerActions(endpoints: endpoints, options: .init(readTimeout: 5))
        defer { actions.close() }
        let listing = actions.list()
        // The full id names one container in whichever engine has it (Docker or Podman).
        guard let container = listing.containers.first(where: { $0.id == id }) else {
            // The engine could not be asked, or no longer has it: nothing was done, and the log says why.
            let reason = listing.failures.first.map { "\($0.error)" } ?? "no such container"
            audited.record(verb.rawValue, .container(name: name, id: id), previous: nil, .failed(reason))
            return listing.failures.isEmpty ? "\(verb.rawValue) \(name): no such container (it is gone)"
                                            : "\(verb.rawValue) \(name) failed: \(reason)"
        }
        do {
            // The policy was asked before the question; AuditedActions asks again with the
            // engine's own labels, so what the dashboard did not know cannot slip through.
            let outcome = try audited.container(verb.rawValue, action, on: container, using: actions)
            return "\(name): \(outcome)"
        } catch {
            if case .refused(let line) = error { return line }
            return "\(verb.rawValue) \(name) failed: \(error)"
        }
    }

    /// Sent only while the PID is still the process the question named (its start time).
    private func signal(pid: Int32, _ sig: Int32, _ name: String, command: String, startTicks: UInt64?) -> String {
        do {
            try audited.signal(sig, to: pid, startedAt: startTicks, command: command, procRoot: options.procRoot)
            return "sent SIG\(name) to \(pid)"
        } catch {
            return "SIG\(name) to \(pid): \(error)"
        }
    }

    private func setPower(_ target: PowerTarget, _ setting: PowerSetting) -> String {
        let action = AuditedActions.powerSet
        do {
            if power == nil { power = try PowerControl.open(nvmlPath: options.nvmlPath) }
        } catch {
            audited.record(action, .argument("\(target)"), previous: nil, .failed(error.description))
            return "power limit: \(error)"
        }
        guard let control = power else { return "power limit: NVML is not available" }
        let changes: [PowerChange]
        do {
            changes = try control.plan(target, setting)
        } catch {
            audited.record(action, .argument("\(target)"), previous: nil, error.isRefusal ? .refused(error.description) : .failed(error.description))
            return "power limit: \(error)"
        }
        let run = audited.setPower(changes, on: control)
        let done = run.applied.map { c, result in
            "GPU \(c.gpu) \(c.previousLimit.map(PowerFormat.watts) ?? "?") -> \(result.enforced.map(PowerFormat.watts) ?? "unknown")"
        }
        if let failure = run.failure {
            return (done.isEmpty ? "" : done.joined(separator: ", ") + "; then ") + "GPU \(failure.change.gpu): \(failure.error)"
        }
        return "power limit set: " + done.joined(separator: ", ") + " (until the driver reloads or the machine reboots)"
    }
}
