// pidfd_open(2) and pidfd_send_signal(2): a descriptor names one process, not a PID,
// so a signal sent through it never reaches a process that took the PID later.
//
// Swift cannot call the variadic syscall(2), and glibc wraps these two only from 2.36
// on, so syscall is looked up with dlsym and called with a fixed list of long
// arguments. glibc's syscall is a few instructions that move argument registers into
// the kernel's (no va_list), so on x86-64 and arm64 this is the call C makes.
import Glibc

enum Pidfd {
    enum Opened {
        case fd(Int32)
        /// ESRCH: no process has the PID.
        case gone
        /// No pidfd here (an older kernel, a seccomp filter, another architecture): use kill(2).
        case unsupported
    }

    private typealias SyscallFunction = @convention(c) (CLong, CLong, CLong, CLong, CLong) -> CLong

    private static let syscallFunction: SyscallFunction? = {
        #if arch(x86_64) || arch(arm64)
        return dlsym(nil, "syscall").map { unsafeBitCast($0, to: SyscallFunction.self) }
        #else
        return nil
        #endif
    }()

    // The same numbers on x86-64 and arm64: both use the common table for new calls.
    private static let openNumber: CLong = 434
    private static let sendSignalNumber: CLong = 424

    /// A descriptor for the process that has `pid` now (close it).
    static func open(_ pid: Int32) -> Opened {
        guard let call = syscallFunction else { return .unsupported }
        let fd = call(openNumber, CLong(pid), 0, 0, 0)
        if fd >= 0 { return .fd(Int32(fd)) }
        // Any other error (ENOSYS, EPERM from a filter, EINVAL for a thread id) leaves kill(2).
        return errno == ESRCH ? .gone : .unsupported
    }

    /// 0, or the errno of pidfd_send_signal.
    static func sendSignal(_ fd: Int32, _ signal: Int32) -> Int32 {
        guard let call = syscallFunction else { return ENOSYS }
        return call(sendSignalNumber, CLong(fd), CLong(signal), 0, 0) == 0 ? 0 : errno
    }
}
