// Carries out the dashboard's actions with the same Telemetry code as the
// command line (ContainerActions, ProcessSignal, PowerControl), and logs each
// to the audit log. Runs on the dashboard's worker thread, one action at a time.
import Actions
import DockerSocket
import Model
import TUI

final class DashboardPerformer: DashboardActionPerformer {
    private let options: Options
    private let context: ActionContext
    private var power: PowerControl?

    init(options: Options) {
        self.options = options
        context = ActionContext(options: options)
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
        do {
            // A fresh client per action: the sampler's client belongs to the sampler thread.
            let client = try DockerClient(dockerHost: options.dockerHost, options: .init(readTimeout: 5))
            defer { client.close() }
            let actions = ContainerActions(client: client)
            guard let summary = try client.listContainers(all: true).first(where: { $0.id == id }) else {
                context.audit(verb.rawValue, .container(name: name, id: id), previous: nil, .failed("no such container"))
                return "\(verb.rawValue) \(name): no such container (it is gone)"
            }
            let outcome = try actions.perform(action, on: summary)
            context.audit(verb.rawValue, .container(name: summary.name, id: id),
                          previous: ContainerActions.previousState(summary), .ok(outcome.description))
            return "\(name): \(outcome)"
        } catch {
            context.audit(verb.rawValue, .container(name: name, id: id), previous: nil, .failed("\(error)"))
            return "\(verb.rawValue) \(name) failed: \(error)"
        }
    }

    /// Sent only while the PID is still the process the question named (its start time).
    private func signal(pid: Int32, _ sig: Int32, _ name: String, command: String, startTicks: UInt64?) -> String {
        do {
            try ProcessSignal.send(sig, to: pid, ifStartedAt: startTicks, procRoot: options.procRoot)
            context.audit("signal", .process(pid: pid), previous: command, .ok("sent SIG\(name)"))
            return "sent SIG\(name) to \(pid)"
        } catch {
            context.audit("signal", .process(pid: pid), previous: command,
                          error.isRefusal ? .refused(error.description) : .failed(error.description))
            return "SIG\(name) to \(pid): \(error)"
        }
    }

    private func setPower(_ target: PowerTarget, _ setting: PowerSetting) -> String {
        let action = setting == .defaultLimit ? "power restore" : "power set"
        do {
            if power == nil { power = try PowerControl.open(nvmlPath: options.nvmlPath) }
        } catch {
            context.audit(action, .argument("\(target)"), previous: nil, .failed(error.description))
            return "power limit: \(error)"
        }
        guard let control = power else { return "power limit: NVML is not available" }
        var done: [String] = []
        do {
            for change in try control.plan(target, setting) {
                let previous = change.previousLimit.map(PowerFormat.watts)
                do {
                    let result = try control.apply(change)
                    let enforced = result.enforced.map(PowerFormat.watts) ?? "unknown"
                    context.audit(action, .gpu(index: change.gpu, uuid: change.uuid), previous: previous, .ok("enforced \(enforced)"))
                    done.append("GPU \(change.gpu) \(previous ?? "?") -> \(enforced)")
                } catch {
                    context.audit(action, .gpu(index: change.gpu, uuid: change.uuid), previous: previous,
                                  error.isRefusal ? .refused(error.description) : .failed(error.description))
                    return (done.isEmpty ? "" : done.joined(separator: ", ") + "; then ") + "GPU \(change.gpu): \(error)"
                }
            }
        } catch {
            context.audit(action, .argument("\(target)"), previous: nil, error.isRefusal ? .refused(error.description) : .failed(error.description))
            return "power limit: \(error)"
        }
        return "power limit set: " + done.joined(separator: ", ") + " (until the driver reloads or the machine reboots)"
    }
}
