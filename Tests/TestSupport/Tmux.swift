// A real terminal for end-to-end tests: a private tmux server, keys sent with
// send-keys, the screen read with capture-pane.
import Foundation

public final class TmuxSession {
    public let socket: String
    public let name = "t"

    /// Starts `command` (run by /bin/sh) in a detached session of the given size.
    public init(command: String, width: Int = 200, height: Int = 50, environment: [String: String] = [:]) throws {
        socket = TestEnv.temporaryDirectory("tmux").appendingPathComponent("sock").path
        var env = environment
        env["TERM"] = env["TERM"] ?? "xterm-256color"
        // The test runner's own NO_COLOR must not leak into the terminal under test.
        let exports = (env["NO_COLOR"] == nil ? "unset NO_COLOR; " : "")
            + env.map { "export \($0.key)=\(Self.quote($0.value));" }.joined(separator: " ")
        // The tmux server outlives this call: start it without our descriptors.
        let r = try Run.leavingDaemons(["/usr/bin/tmux", "-S", socket, "-f", "/dev/null", "new-session", "-d",
                                        "-x", "\(width)", "-y", "\(height)", "-s", name,
                                        "/bin/sh -c \(Self.quote(exports + " " + command))"])
        guard r.status == 0 else { throw TestFailure("tmux new-session failed: \(r.output)") }
        _ = try? Run.command(["/usr/bin/tmux", "-S", socket, "set-option", "-t", name, "remain-on-exit", "on"])
    }

    public static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    public func tmux(_ args: [String]) throws -> RunResult {
        try Run.command(["/usr/bin/tmux", "-S", socket] + args)
    }

    /// Sends keys as tmux names them ("q", "Enter", "Down", "C-c").
    public func send(_ keys: String...) throws {
        _ = try tmux(["send-keys", "-t", name] + keys)
    }

    /// Sends literal text.
    public func type(_ text: String) throws {
        _ = try tmux(["send-keys", "-t", name, "-l", text])
    }

    public func screen(colors: Bool = false) throws -> String {
        try tmux(["capture-pane", "-p", "-t", name] + (colors ? ["-e"] : [])).stdout
    }

    public func resize(width: Int, height: Int) throws {
        _ = try tmux(["resize-window", "-t", name, "-x", "\(width)", "-y", "\(height)"])
    }

    /// Polls the screen until `predicate` holds, or fails after `timeout` seconds.
    @discardableResult
    public func waitFor(_ what: String, timeout: Double = 10, _ predicate: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = try screen()
            if predicate(last) { return last }
            usleep(100_000)
        }
        throw TestFailure("timed out waiting for \(what); screen was:\n\(last)")
    }

    @discardableResult
    public func waitFor(_ text: String, timeout: Double = 10) throws -> String {
        try waitFor("\"\(text)\"", timeout: timeout) { $0.contains(text) }
    }

    /// The pane's first process id (the shell running the command).
    public func panePID() throws -> Int32 {
        Int32(try tmux(["display-message", "-p", "-t", name, "#{pane_pid}"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    deinit {
        _ = try? Run.command(["/usr/bin/tmux", "-S", socket, "kill-server"])
    }
}
