// What a person asked gpuctop to do, as a value: the dashboard builds it from a
// confirmed question, the command line from its arguments, and the actions room
// carries it out and audits it.

public enum ContainerVerb: String, Sendable {
    case stop, restart, kill
}

public indirect enum ActionRequest: Equatable, Sendable {
    case container(id: String, name: String, verb: ContainerVerb)
    /// Always the host PID: the in-container PID means nothing to kill(2) here. The
    /// start time (clock ticks, from the snapshot the question was asked from) goes to
    /// the kill, which is refused if the PID has since become another process.
    case signal(pid: Int32, signal: Int32, signalName: String, command: String, startTicks: UInt64?)
    case power(target: PowerTarget, setting: PowerSetting)
    /// Several hosts (`--host`): the request is for that host, carried out over ssh.
    case onHost(String, ActionRequest)

    /// Wraps the request for `host`, when there is one.
    public static func on(_ host: String?, _ request: ActionRequest) -> ActionRequest {
        host.map { .onHost($0, request) } ?? request
    }
}
