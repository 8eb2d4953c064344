// Makes sure the terminal is given back in a usable state, whatever happens:
// q, Ctrl-C, SIGTERM, SIGHUP (an ssh connection dropping), or a crash.
//
// Quit signals only set a flag and wake the run loop through a pipe (both
// async-signal-safe); the loop then leaves and calls endwin. Fatal signals
// cannot return to Swift code, so their handler writes the saved terminfo exit
// sequences and restores the saved termios with write(2) and tcsetattr(3), both
// async-signal-safe, then re-raises the signal with its default action.
import Glibc

enum TerminalGuard {
    /// Set by SIGINT, SIGTERM and SIGHUP; read by the run loop.
    nonisolated(unsafe) static var quitSignal: sig_atomic_t = 0
    /// Written by signal handlers and the sampler thread to wake the run loop.
    nonisolated(unsafe) static var wakeWrite: Int32 = -1
    nonisolated(unsafe) static var wakeRead: Int32 = -1
    /// On the heap, not a `termios` global: Swift emits a global C struct with a constant
    /// initializer without its interior padding (57 bytes for termios' 60 here), so
    /// tcgetattr wrote 3 bytes past it (ASan: global-buffer-overflow in prepare()).
    nonisolated(unsafe) static var savedTermios: UnsafeMutablePointer<termios>?
    nonisolated(unsafe) static var haveTermios = false
    nonisolated(unsafe) static var restoreBytes: UnsafeMutablePointer<UInt8>?
    nonisolated(unsafe) static var restoreCount = 0

    static let fatalSignals: [Int32] = [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP]
    static let quitSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Before initscr: remember the terminal modes and make the wake pipe.
    static func prepare() {
        let saved = savedTermios ?? UnsafeMutablePointer<termios>.allocate(capacity: 1)
        saved.initialize(to: termios())
        savedTermios = saved
        haveTermios = tcgetattr(STDIN_FILENO, saved) == 0
        makeWakePipe()
    }

    /// The pipe that wakes the run loop (a snapshot, an action's result, a signal).
    static func makeWakePipe() {
        guard wakeRead < 0 else { return }
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
            wakeRead = fds[0]
            wakeWrite = fds[1]
        }
    }

    /// After initscr: the bytes that leave the alternate screen, show the cursor
    /// and reset attributes, from terminfo; then install the handlers.
    static func install(exitSequence: [UInt8]) {
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, exitSequence.count))
        buffer.initialize(from: exitSequence, count: exitSequence.count)
        restoreBytes = buffer
        restoreCount = exitSequence.count
        for sig in quitSignals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                TerminalGuard.quitSignal = sig
                TerminalGuard.wake()
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(sig, &action, nil)
        }
        for sig in fatalSignals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                TerminalGuard.restoreFromSignal()
                signal(sig, SIG_DFL)
                raise(sig)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = Int32(truncatingIfNeeded: SA_RESETHAND)
            sigaction(sig, &action, nil)
        }
        // A write to a terminal that went away must not kill us before we clean up.
        signal(SIGPIPE, SIG_IGN)
    }

    static func wake() {
        guard wakeWrite >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    static func drainWake() {
        guard wakeRead >= 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    /// Async-signal-safe restore, for fatal signals.
    static func restoreFromSignal() {
        if let bytes = restoreBytes, restoreCount > 0 {
            _ = write(STDOUT_FILENO, bytes, restoreCount)
        }
        if haveTermios, let saved = savedTermios { tcsetattr(STDIN_FILENO, TCSANOW, saved) }
    }

    /// After endwin, on the normal path: put the default handlers back.
    static func uninstall() {
        for sig in quitSignals + fatalSignals { signal(sig, SIG_DFL) }
        if haveTermios, let saved = savedTermios { tcsetattr(STDIN_FILENO, TCSANOW, saved) }
    }
}
