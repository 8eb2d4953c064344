import Actions
import Glibc

enum Environment {
    /// Variables that choose code gpuctop runs: the NVML library it loads, ssh's options
    /// (a ProxyCommand runs anything), the command run on remote hosts.
    static let choosingCode = ["GPUCTOP_NVML", "GPUCTOP_SSH", "GPUCTOP_REMOTE_COMMAND"]

    /// The process environment, less what must not be taken from another user: under
    /// sudo (`sudo -E`, or a sudoers rule with SETENV) these variables are the invoking
    /// user's, and root would load their library or run their command. They are dropped
    /// there (with a warning); the command-line options still work.
    static func current() -> [String: String] { trusted }

    /// Read once: the process's environment and its sudo ancestry do not change, and
    /// deciding the second walks /proc.
    private static let trusted: [String: String] = {
        let env = raw()
        let (trusted, dropped) = trusting(env, underSudoForAnotherUser: SudoInvocation.runsForAnotherUser(environment: env))
        if !dropped.isEmpty {
            printError("warning: under sudo, \(dropped.joined(separator: ", ")) from the environment \(dropped.count == 1 ? "is" : "are") ignored (use --nvml, or set them as root)")
        }
        return trusted
    }()

    /// `env` without the code-choosing variables when sudo runs gpuctop for another user
    /// (root running sudo keeps its own); and the names dropped.
    static func trusting(_ env: [String: String], underSudoForAnotherUser: Bool) -> ([String: String], [String]) {
        guard underSudoForAnotherUser else { return (env, []) }
        var kept = env
        let dropped = choosingCode.filter { env[$0] != nil }
        for name in dropped { kept[name] = nil }
        return (kept, dropped)
    }

    /// The process environment without Foundation's ProcessInfo.
    static func raw() -> [String: String] {
        var result: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            p += 1
        }
        return result
    }
}
