// gpuctop's exit statuses, the same for every command (README "Exit status").
// Int32: what exit(3) takes. A dashboard killed by a signal restores the terminal and
// dies of that signal, so the shell sees 128 + the signal as usual.
enum ExitStatus {
    /// Done.
    static let ok: Int32 = 0
    /// A daemon, NVML or kernel error, or a target that does not exist.
    static let failure: Int32 = 1
    /// A bad command line.
    static let usage: Int32 = 2
    /// Refused: the question answered no, read-only mode, ambiguous, out of range, no --yes.
    static let refused: Int32 = 3
}
