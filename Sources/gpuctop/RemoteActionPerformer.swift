// Actions of a several-host dashboard (`--host`): each goes to its row's host as
//   ssh HOST gpuctop stop|restart|kill ID --yes
//   ssh HOST gpuctop signal PID --signal NAME --start-time TICKS --yes
//   ssh HOST gpuctop power set GPU|all W|P%|default --yes
// The remote gpuctop checks, acts and writes its own audit log there; its last
// line of output is the dashboard's status line. Runs on the action thread.
// The remote's snapshot is not trusted: a container id that is not hex, or a process
// whose start time it did not give, goes nowhere.
import Actions
import Fleet
import FoundationEssentials
import Model
import Support
import TUI

final class RemoteActionPerformer: DashboardActionPerformer {
    private let hosts: [String: HostSpec]
    private let config: RemoteConfig
    private let timeout: Double

    init(hosts: [HostSpec], config: RemoteConfig, timeout: Double = 60) {
        var byName: [String: HostSpec] = [:]
        for h in hosts { byName[h.name] = h }
        self.hosts = byName
        self.config = config
        self.timeout = timeout
    }

    /// Why a request must not be forwarded; nil when it may.
    static func refusal(_ request: ActionRequest) -> String? {
        switch request {
        case .container(let id, let name, let verb) where !RemoteConfig.isSafeContainerID(id):
            return "\(verb.rawValue) \(name): refusing a container id that is not 1 to 64 hex digits"
        case .signal(let pid, _, _, _, nil):
            // Without it the remote gpuctop could not tell the process from a later one with its PID.
            return SignalError.startUnknown(pid).description
        case .onHost:
            return "nested host request"
        default:
            return nil
        }
    }

    /// The remote gpuctop arguments for a request that `refusal` lets through.
    static func arguments(_ request: ActionRequest) -> [String]? {
        guard refusal(request) == nil else { return nil }
        switch request {
        case .container(let id, _, let verb): return [verb.rawValue, id, "--yes"]
        case .signal(let pid, _, let name, _, let startTicks?):
            return ["signal", "\(pid)", "--signal", name, "--start-time", "\(startTicks)", "--yes"]
        case .power(let target, let setting):
            let t: String
            switch target {
            case .all: t = "all"
            case .gpu(let i): t = "\(i)"
            }
            let v: String
            switch setting {
            case .milliwatts(let mw): v = mw % 1000 == 0 ? "\(mw / 1000)" : "\(mw / 1000).\(String(1000 + mw % 1000).dropFirst())"
            case .percentOfDefault(let p): v = (p == p.rounded() ? "\(Int(p))" : "\(p)") + "%"
            case .defaultLimit: v = "default"
            }
            return ["power", "set", t, v, "--yes"]
        case .signal, .onHost: return nil
        }
    }

    func perform(_ request: ActionRequest) -> String {
        guard case .onHost(let name, let inner) = request else {
            return "this dashboard watches remote hosts; the row has no host"
        }
        guard let host = hosts[name] else { return "\(name): unknown host" }
        if let refusal = Self.refusal(inner) { return "\(name): " + Sanitize.visible(refusal) }
        guard let args = Self.arguments(inner) else { return "\(name): not forwarded" }
        let (status, output) = Subprocess.run(config.command(for: host, args, keepAlive: false), timeout: timeout)
        let lines = output.split(whereSeparator: { $0.isNewline })
            .map { String($0.drop(while: { $0 == " " })) }
            .filter { !$0.isEmpty && !$0.hasPrefix("Warning: Permanently added") }
        var last = lines.last ?? (status == 0 ? "done" : "failed with status \(status)")
        if last.hasPrefix("gpuctop: ") { last.removeFirst("gpuctop: ".count) }
        if status == 127 { last = "\(config.remoteCommand) not found on \(name)" }
        return "\(name): " + Sanitize.visible(last) + (status == 0 || last.includes("status") ? "" : " (status \(status))")
    }
}
