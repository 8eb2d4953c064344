// Child processes with pipes (ssh to remote hosts, remote actions, tests), started
// with posix_spawnp: Foundation's Process is not in FoundationEssentials. Pipes are
// close-on-exec, so one child never holds another's pipe open.
import Glibc

/// A child process with pipes, started with posix_spawnp (PATH lookup).
public final class Subprocess {
    public let pid: pid_t
    /// Its stdout (and stderr, when merged), or -1.
    public private(set) var stdout: Int32
    /// Its stderr when kept apart, or -1.
    public private(set) var stderr: Int32
    private var reaped: Int32?

    public struct SpawnError: Error, CustomStringConvertible {
        public let description: String
    }

    /// stdin is /dev/null; the child runs in its own process group, so the
    /// terminal's keys (^C) never reach it; SIGPIPE, SIGINT, SIGTERM at default.
    public init(_ argv: [String], mergeStderr: Bool = false) throws(SpawnError) {
        // One spawn at a time: a pipe made by another thread must be close-on-exec
        // before any child is started, or that child would hold it open.
        let spawned = Self.spawnLock.withLock { _ in Self.spawn(argv, mergeStderr: mergeStderr) }
        let child = try spawned.get()
        pid = child.pid
        stdout = child.stdout
        stderr = child.stderr
    }

    private static func spawn(_ argv: [String], mergeStderr: Bool) -> Result<(pid: pid_t, stdout: Int32, stderr: Int32), SpawnError> {
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard Self.cloexecPipe(&outPipe) else { return .failure(SpawnError(description: "pipe: \(errnoText(errno))")) }
        if !mergeStderr {
            guard Self.cloexecPipe(&errPipe) else {
                close(outPipe[0]); close(outPipe[1])
                return .failure(SpawnError(description: "pipe: \(errnoText(errno))"))
            }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, mergeStderr ? outPipe[1] : errPipe[1], 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawnp(&child, argv[0], &actions, &attr, cArgs, environ)
        close(outPipe[1])
        if !mergeStderr { close(errPipe[1]) }
        guard rc == 0 else {
            close(outPipe[0])
            if !mergeStderr { close(errPipe[0]) }
            return .failure(SpawnError(description: "cannot run \(argv[0]): \(errnoText(rc))"))
        }
        return .success((child, outPipe[0], mergeStderr ? -1 : errPipe[0]))
    }

    private static let spawnLock = LockedValue(())

    private static func cloexecPipe(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return true
    }

    /// Exit status (128 + signal when killed); nil while running.
    public func poll() -> Int32? {
        if let reaped { return reaped }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        guard r == pid else { return nil }
        reaped = Self.decode(status)
        return reaped
    }

    /// Sends `signal` to its process group, waits up to `grace` s, then KILLs; returns the status.
    @discardableResult
    public func terminate(grace: Double = 1) -> Int32 {
        if let s = poll() { return s }
        kill(-pid, SIGTERM)
        kill(pid, SIGTERM)
        let deadline = MonotonicClock.now() + grace
        while MonotonicClock.now() < deadline {
            if let s = poll() { return s }
            usleep(10_000)
        }
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        return wait()
    }

    /// Waits for exit; returns the status.
    @discardableResult
    public func wait() -> Int32 {
        if let reaped { return reaped }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaped = Self.decode(status)
        return reaped!
    }

    public func closePipes() {
        if stdout >= 0 { close(stdout); stdout = -1 }
        if stderr >= 0 { close(stderr); stderr = -1 }
    }

    deinit {
        closePipes()
        if reaped == nil { terminate(grace: 0.2) }
    }

    static func decode(_ status: Int32) -> Int32 {
        status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Runs `argv` to the end (stderr merged into the output), killing it after `timeout` s.
    public static func run(_ argv: [String], timeout: Double) -> (status: Int32, output: String) {
        let p: Subprocess
        do { p = try Subprocess(argv, mergeStderr: true) } catch { return (127, error.description) }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = MonotonicClock.now() + timeout
        var timedOut = false
        while true {
            let left = deadline - MonotonicClock.now()
            if left <= 0 { timedOut = true; break }
            var fds = [pollfd(fd: p.stdout, events: Int16(POLLIN), revents: 0)]
            let r = Glibc.poll(&fds, 1, Int32(min(left, 1) * 1000))
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { continue }
            let n = read(p.stdout, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            if output.count < 1 << 20 { output.append(contentsOf: buffer[0..<n]) }
        }
        let status = timedOut ? p.terminate(grace: 0.5) : p.wait()
        p.closePipes()
        var text = String(decoding: output, as: UTF8.self)
        if timedOut { text += "\n(no answer within \(Int(timeout)) s)" }
        return (status, text)
    }
}
