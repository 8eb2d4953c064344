// Shared by the test targets: where the repository is, the fake NVML library,
// scenario files, real child processes, and running the gpuctop binary.
import Foundation

public enum TestEnv {
    /// The repository root, found from this file's path.
    public static let repoRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// A fresh temporary directory, removed by the caller (or left in /tmp).
    public static func temporaryDirectory(_ label: String = "gpuctop-test") -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The debug build of the gpuctop binary (built by `swift build` before `swift test`).
    public static var gpuctopBinary: URL {
        if let dir = ProcessInfo.processInfo.environment["GPUCTOP_BIN_DIR"] {
            return URL(fileURLWithPath: dir).appendingPathComponent("gpuctop")
        }
        return repoRoot.appendingPathComponent(".build/debug/gpuctop")
    }
}

public enum FakeNVML {
    public enum Variant { case current, legacy }

    static let lock = NSLock()

    /// Directory holding the built fake libraries; built on first use if missing.
    public static func builtDirectory() throws -> URL {
        lock.lock(); defer { lock.unlock() }
        let dir: URL
        if let env = ProcessInfo.processInfo.environment["GPUCTOP_FAKE_NVML_DIR"] {
            dir = URL(fileURLWithPath: env)
        } else {
            dir = TestEnv.repoRoot.appendingPathComponent(".build/fake-nvml")
        }
        if !FileManager.default.fileExists(atPath: dir.appendingPathComponent("libnvidia-ml.so.1").path) {
            let r = try Run.command([TestEnv.repoRoot.appendingPathComponent("scripts/build-fake-nvml.sh").path, dir.path])
            guard r.status == 0 else {
                throw TestFailure("building the fake NVML failed: \(r.stderr)")
            }
        }
        return dir
    }

    /// A private copy of the fake library: dlopen of a new path gives fresh global
    /// state, so tests in one process do not share call counters.
    public static func privateCopy(_ variant: Variant = .current) throws -> String {
        var source = try builtDirectory()
        if variant == .legacy { source.appendPathComponent("legacy") }
        source.appendPathComponent("libnvidia-ml.so.1")
        let dir = TestEnv.temporaryDirectory("fake-nvml")
        let target = dir.appendingPathComponent("libnvidia-ml.so.1")
        try FileManager.default.copyItem(at: source, to: target)
        return target.path
    }

    /// Writes a scenario file and returns its path.
    public static func scenario(_ text: String) throws -> String {
        let url = TestEnv.temporaryDirectory("scenario").appendingPathComponent("scenario.txt")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Changes the world of a running fake: a new scenario file renamed over the one at
    /// `path`, as the fake watches for (SCENARIO.md, "Changing the world mid-run").
    public static func replaceScenario(at path: String, with text: String) throws {
        try text.write(toFile: path + ".new", atomically: false, encoding: .utf8)
        guard rename(path + ".new", path) == 0 else { throw TestFailure("rename over \(path): errno \(errno)") }
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A real child process, killed and reaped when the test is done with it.
public final class Child {
    public let process: Process
    public var pid: Int32 { process.processIdentifier }

    public init(_ arguments: [String], environment: [String: String]? = nil) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        if let environment { process.environment = environment }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    public func stop() {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

public struct RunResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    public let seconds: Double
}

public enum Run {
    /// Runs a command to completion, with a time limit so a hang fails the test.
    public static func command(_ arguments: [String], environment: [String: String]? = nil,
                               timeout: Double = 60) throws -> RunResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: arguments[0])
        p.arguments = Array(arguments.dropFirst())
        if let environment {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        let start = Date()
        try p.run()
        // Drain both pipes while waiting, so a chatty child cannot block on a full pipe.
        let outBox = DataBox(), errBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outBox.set(out.fileHandleForReading.readDataToEndOfFile()); group.leave() }
        group.enter()
        DispatchQueue.global().async { errBox.set(err.fileHandleForReading.readDataToEndOfFile()); group.leave() }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            group.wait()
            throw TestFailure("\(arguments.joined(separator: " ")) did not finish within \(timeout) s")
        }
        p.waitUntilExit()
        // A daemon the command started (tmux's server) may hold the pipes open: do not wait for it.
        if group.wait(timeout: .now() + 5) == .timedOut {
            try? out.fileHandleForReading.close()
            try? err.fileHandleForReading.close()
        }
        return RunResult(status: p.terminationStatus,
                         stdout: String(decoding: outBox.get(), as: UTF8.self),
                         stderr: String(decoding: errBox.get(), as: UTF8.self),
                         seconds: Date().timeIntervalSince(start))
    }

    /// Runs the gpuctop binary with extra environment.
    public static func gpuctop(_ arguments: [String], environment: [String: String] = [:],
                               timeout: Double = 30) throws -> RunResult {
        try command([TestEnv.gpuctopBinary.path] + arguments, environment: environment, timeout: timeout)
    }
}

extension Run {
    /// Runs a command that leaves daemons behind (tmux's server, dockerd), and
    /// returns its status and output.
    ///
    /// Not with Foundation's Process: it learns that a child exited when a socket it
    /// hands the child is closed, and daemons would inherit that socket, so
    /// waitUntilExit would hang for as long as they live. Here the command runs under
    /// posix_spawn, with every descriptor above 2 closed first, and is reaped with waitpid.
    public static func leavingDaemons(_ arguments: [String], environment: [String: String] = [:],
                                      timeout: Double = 60) throws -> (status: Int32, output: String) {
        let log = "/tmp/gpuctop-spawn-\(UUID().uuidString.prefix(8)).log"
        defer { unlink(log) }
        let pid = try detached(arguments, environment: environment, log: log, truncate: true)
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(timeout)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                throw TestFailure("\(arguments.joined(separator: " ")) did not finish within \(timeout) s")
            }
            usleep(20_000)
        }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output)
    }
}

extension Run {
    /// Starts `arguments` with every descriptor above 2 closed, stdin from /dev/null and
    /// stdout and stderr to `log`; returns its pid (reap it with waitpid).
    /// Not with Foundation's Process: a daemon holding the sockets Process hands its
    /// children would keep other children from ever being seen to exit.
    public static func detached(_ arguments: [String], environment: [String: String] = [:], log: String,
                                truncate: Bool = false) throws -> pid_t {
        let closeAndRun = #"for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; exec "$0" "$@""#
        let argv0 = ["/bin/bash", "-c", closeAndRun] + arguments
        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | (truncate ? O_TRUNC : O_APPEND), 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = argv0.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv0[0], &actions, nil, argv, envp)
        guard spawned == 0 else { throw TestFailure("posix_spawn \(arguments[0]): \(spawned)") }
        return pid
    }
}

/// What a reader thread hands back, behind a lock (the readers run on other threads).
private final class DataBox: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}
