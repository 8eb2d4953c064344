// Actions from the dashboard: what the user asked for, the confirmation that
// names what it will hit (default answer: no), and the power-limit dialog.
// Performing them is the executable's job (DashboardActionPerformer), on a
// worker thread, so a slow daemon never freezes the screen.
import Model

/// Carries out requests; returns one line for the status line. Called on a worker thread.
public protocol DashboardActionPerformer: AnyObject {
    func perform(_ request: ActionRequest) -> String
}

public struct PowerDialog: Equatable, Sendable {
    public var gpu: Int
    public var input = ""
    public var allGPUs = false
    public var error: String?
    /// The host of the GPU, in a several-host dashboard.
    public var host: String?
}

public enum Dialog: Equatable, Sendable {
    /// A yes/no question about `request`; `lines` say exactly what it will hit.
    case confirm(request: ActionRequest, lines: [String])
    case power(PowerDialog)
}

extension DashboardModel {
    /// Keys that start actions; none in read-only mode or a replay.
    var actionsEnabled: Bool { !readOnly && replay == nil }

    /// Asks the question of an action key (KeyBindings, scope .action).
    mutating func startAction(_ command: KeyCommand) {
        switch command {
        case .stopContainer: askContainer(.stop)
        case .restartContainer: askContainer(.restart)
        case .killContainer: askContainer(.kill)
        case .signal(let number, let name): askSignal(number, name)
        case .power: openPowerDialog()
        default: break
        }
    }

    private var selectedRowValue: TableRow? {
        guard let i = selectedIndex else { return nil }
        return rows[i]
    }

    private mutating func askContainer(_ verb: ContainerVerb) {
        guard case .container(let c, let ps)? = selectedRowValue else {
            status = "select a container row first"
            return
        }
        guard !c.isHost else { status = "host processes are not a container; select a process and use T, I or 9"; return }
        // Kubernetes' containers and those no API we speak reaches: the line that says so and
        // names the command that would do it, instead of a question (ContainerActionPolicy).
        // A remote host's row is judged the same way (its gpuctop would refuse it too).
        if case .refused(let line) = ContainerActionPolicy.decide(verb, c) {
            status = line
            return
        }
        let name = SnapshotText.containerName(c)
        let onHost = c.host.map { " on host \($0)" } ?? ""
        var lines = ["\(verb.rawValue.capitalized) container \(name) (\(c.shortId))\(onHost)?",
                     "image \(c.image ?? "unknown"), status \(c.status ?? "unknown")"]
        let unique = Columns.uniqueProcesses(ps)
        if unique.isEmpty {
            lines.append("It has no GPU process now" + (c.gpuRequest.map { " (asked for \($0))" } ?? "") + ".")
        } else {
            let pids = unique.prefix(6).map { "\($0.pid) \($0.info?.command.prefix(24) ?? "")" }.joined(separator: ", ")
            lines.append("GPU processes: \(pids)\(unique.count > 6 ? ", …" : "")")
            lines.append("GPU memory freed: \(Format.bytes(c.gpuMemory)) on GPU \(SnapshotText.gpuList(c))")
        }
        dialog = .confirm(request: .on(c.host, .container(id: c.id, name: name, verb: verb)), lines: lines)
    }

    private mutating func askSignal(_ number: Int32, _ name: String) {
        guard let row = selectedRowValue, case .process(let p, let listed, _) = row else {
            status = "select a process row first (g shows a flat list)"
            return
        }
        // Without its start time the kill could not tell this process from one that takes
        // the PID later: refuse now rather than ask a question whose answer would be refused.
        guard let info = p.info, let startTicks = info.startTicks else {
            status = "SIG\(name) to \(p.pid): its start time is unknown (not visible in /proc); not signalled"
            return
        }
        // A grouped child row carries no container: find it in the snapshot.
        let c = listed ?? snapshot?.containers.first { $0.id == row.containerId && $0.host == p.host }
        let lines = ["Send SIG\(name) to host PID \(p.pid)" + (info.namespacePid.map { " (PID \($0) in its container)" } ?? "")
                        + ": \(Self.shortCommand(info.command))" + (p.host.map { ", on host \($0)" } ?? "") + "?",
                     "command \(info.command)",
                     "container \(c.map(SnapshotText.containerName) ?? "host"), \(Format.bytes(p.usedGpuMemory)) on GPU \(p.gpuIndex)"]
        let request = ActionRequest.signal(pid: p.pid, signal: number, signalName: name, command: info.command, startTicks: startTicks)
        dialog = .confirm(request: .on(p.host, request), lines: lines)
    }

    /// The command as the question's title names it: the first 40 characters.
    static func shortCommand(_ command: String) -> String {
        command.count > 40 ? command.prefix(39) + "…" : command
    }

    private mutating func openPowerDialog() {
        guard let s = snapshot, !s.gpus.isEmpty else { status = "no GPU to set a power limit on"; return }
        var gpu = 0
        var host = s.gpus[0].host
        switch selectedRowValue {
        case .process(let p, _, _)?: gpu = p.gpuIndex; host = p.host
        case .container(let c, _)?: gpu = c.gpus.first ?? 0; host = c.host
        case nil: break
        }
        var d = PowerDialog(gpu: gpu)
        d.host = host
        dialog = .power(d)
    }

    /// Keys while a dialog is open. The default answer of a question is no.
    mutating func handleDialog(_ key: Key) -> [DashboardEffect] {
        switch dialog {
        case .confirm(let request, _)?:
            dialog = nil
            if key == .char("y") || key == .char("Y") {
                status = "working: " + Self.describe(request) + "…"
                return [.perform(request)]
            }
            status = "cancelled: nothing done"
            return []
        case .power(var d)?:
            d.error = nil
            switch key {
            case .escape, .char("q"):
                dialog = nil
                status = "cancelled: nothing done"
                return []
            case .tab:
                if d.host == nil {
                    d.gpu = (d.gpu + 1) % max(1, snapshot?.gpus.count ?? 1)
                } else {
                    // Several hosts: the next GPU of any host, in the panel's order.
                    let gpus = snapshot?.gpus ?? []
                    if let i = gpus.firstIndex(where: { $0.index == d.gpu && $0.host == d.host }), !gpus.isEmpty {
                        let next = gpus[(i + 1) % gpus.count]
                        d.gpu = next.index
                        d.host = next.host
                    }
                }
            case .char("a"):
                d.allGPUs.toggle()
            case .char("d"):
                return submitPower(d, setting: .defaultLimit)
            case .backspace:
                if !d.input.isEmpty { d.input.removeLast() }
            case .clearLine:
                d.input = ""
            case .enter:
                do {
                    return submitPower(d, setting: try PowerSetting(parsing: d.input))
                } catch {
                    d.error = "\(error)"
                }
            case .char(let c) where c.isNumber || c == "." || c == "%" || c == "W" || c == "w":
                d.input.append(c)
            default:
                break
            }
            dialog = .power(d)
            return []
        case nil:
            return []
        }
    }

    /// Checks the range here, so out-of-range input is refused with the range and
    /// nothing is asked of NVML; PowerControl checks again before setting.
    private mutating func submitPower(_ d: PowerDialog, setting: PowerSetting) -> [DashboardEffect] {
        guard let gpus = snapshot?.gpus.filter({ $0.host == d.host }) else { return [] }
        let targets = d.allGPUs ? gpus : gpus.filter { $0.index == d.gpu }
        var problems: [String] = []
        for g in targets {
            guard let lo = g.powerLimitMin, let hi = g.powerLimitMax else {
                problems.append("GPU \(g.index) does not report its allowed range")
                continue
            }
            let mw: Int?
            switch setting {
            case .milliwatts(let v): mw = v
            case .percentOfDefault(let p): mw = g.powerLimitDefault.map { Int((Double($0) * p / 100).rounded()) }
            case .defaultLimit: mw = g.powerLimitDefault
            }
            guard let mw else { problems.append("GPU \(g.index) reports no default limit"); continue }
            if mw < lo || mw > hi {
                problems.append("\(Format.watts(mw)) is out of range for GPU \(g.index) (\(Format.watts(lo).dropLast(2))..\(Format.watts(hi)))")
            }
        }
        if let first = problems.first {
            var refused = d
            refused.error = first + (problems.count > 1 ? " (and \(problems.count - 1) more)" : "") + "; nothing set"
            dialog = .power(refused)
            return []
        }
        dialog = nil
        let request = ActionRequest.on(d.host, .power(target: d.allGPUs ? .all : .gpu(d.gpu), setting: setting))
        status = "working: " + Self.describe(request) + "…"
        return [.perform(request)]
    }

    static func describe(_ r: ActionRequest) -> String {
        switch r {
        case .container(_, let name, let verb): return "\(verb.rawValue) \(name)"
        case .signal(let pid, _, let name, _, _): return "SIG\(name) to \(pid)"
        case .power(let target, let setting): return "power limit of \(target) to \(setting)"
        case .onHost(let host, let request): return describe(request) + " on \(host)"
        }
    }
}
