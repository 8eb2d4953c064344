// Whether gpuctop runs under sudo, and for whom. sudo leaves SUDO_USER and SUDO_UID in
// the command's environment, but so can anything else: an environment inherited from a
// sudo shell long gone, or one written by hand. The audit log names the sudo user and,
// under sudo, ignores the environment's HOME and XDG_STATE_HOME (they may be the
// invoking user's, `sudo -E`), so both need more than the variables:
//
// - the real uid is 0 (sudo's target; `sudo -u bob` is not root's concern here),
// - SUDO_UID names, in the password database, the user SUDO_USER names,
// - and a sudo process is among gpuctop's ancestors (`sudo gpuctop`, or gpuctop run from
//   a `sudo -s` shell), found by walking /proc/PID/stat's parent field.
//
// A root shell can still forge all three, but root can also edit the log: the check is
// against stale or stray variables, not against root.
import Glibc

public enum SudoInvocation {
    /// How far up the process tree a sudo process is looked for.
    static let maxAncestors = 32

    /// SUDO_USER when gpuctop runs under sudo as described above; nil otherwise.
    public static func invokingUser(environment: [String: String]) -> String? {
        invokingUser(environment: environment, realUID: getuid(), hasSudoAncestor: hasSudoAncestor)
    }

    /// True when sudo runs gpuctop as root for another user (SUDO_UID set and not 0, a
    /// sudo among the ancestors), whether or not the password database knows that user:
    /// what the environment then says is that user's, not root's. Fails closed: an
    /// unresolvable SUDO_UID counts as another user.
    public static func runsForAnotherUser(environment: [String: String]) -> Bool {
        runsForAnotherUser(environment: environment, realUID: getuid(), hasSudoAncestor: hasSudoAncestor)
    }

    public static func runsForAnotherUser(environment: [String: String], realUID: UInt32,
                                          hasSudoAncestor: () -> Bool) -> Bool {
        guard realUID == 0, let uid = environment["SUDO_UID"], !uid.isEmpty, uid != "0" else { return false }
        return hasSudoAncestor()
    }

    /// The decision, with the process facts given (for tests).
    public static func invokingUser(environment: [String: String], realUID: UInt32,
                                    hasSudoAncestor: () -> Bool) -> String? {
        guard realUID == 0,
              let name = environment["SUDO_USER"], !name.isEmpty,
              let uidText = environment["SUDO_UID"], let uid = UInt32(uidText),
              AuditLog.passwordEntry(uid)?.name == name,
              hasSudoAncestor() else { return nil }
        return name
    }

    /// True when a process up the tree from ours (parent first) runs a `sudo` executable.
    static func hasSudoAncestor() -> Bool {
        var pid = getppid()
        for _ in 0..<maxAncestors where pid > 1 {
            if isSudo(executable(of: pid)) { return true }
            guard let parent = parentPID(of: pid) else { return false }
            pid = parent
        }
        return false
    }

    /// `sudo` or `sudo-rs`, by the executable's file name (not the process's settable name).
    static func isSudo(_ executable: String?) -> Bool {
        guard let executable else { return false }
        let name = executable.split(separator: "/").last.map(String.init) ?? executable
        return name == "sudo" || name == "sudo-rs"
    }

    /// /proc/PID/exe's target, or nil.
    static func executable(of pid: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The parent field of /proc/PID/stat: the fourth, counted after the command name's
    /// closing parenthesis (the name itself may hold spaces and parentheses).
    static func parentPID(of pid: Int32) -> Int32? {
        ProcessSignal.statField(4, pid: pid).flatMap { Int32($0) }
    }
}
