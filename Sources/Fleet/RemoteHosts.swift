// Several hosts over ssh: `gpuctop --host gpu1 --host gpu2` runs, for each host,
//   ssh -o BatchMode=yes -o ServerAliveInterval=5 -o ServerAliveCountMax=2 [-p PORT] HOST \
//       gpuctop snapshot --json --stream --interval I
// and reads one JSON snapshot per line on a thread per host. A host that is down,
// slow (no line for 3 intervals) or lacks gpuctop is marked with the reason and
// retried with backoff (1, 2, 4 ... 30 s); the others keep updating. `merged()`
// gives one Snapshot in which every GPU, process and container carries its host.
//
// ssh comes from PATH and uses the user's own config and agent; GPUCTOP_SSH adds
// options (tests: `-F config -i key`), GPUCTOP_REMOTE_COMMAND replaces the remote
// `gpuctop`. Processes are started with posix_spawn (Foundation's Process is not in
// FoundationEssentials), their pipes close-on-exec so one host's ssh never holds
// another's pipe open.
import FoundationEssentials
import Glibc
import Model
import Support

public struct HostSpecError: Error, CustomStringConvertible {
    public let description: String
}

/// Why a line from a host's stream was refused (one line, for the host's entry).
public struct RemoteStreamError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

/// `[user@]HOST[:PORT]` (an IPv6 address in brackets: `[::1]:2222`).
public struct HostSpec: Equatable, Sendable {
    public var user: String?
    public var host: String
    public var port: Int?

    /// What the dashboard shows: HOST, or HOST:PORT when a port was given.
    public var name: String { port.map { "\(host):\($0)" } ?? host }
    /// What ssh is given as the destination.
    public var destination: String { user.map { "\($0)@\(host)" } ?? host }

    public init(user: String? = nil, host: String, port: Int? = nil) {
        self.user = user; self.host = host; self.port = port
    }

    /// Refuses what ssh or a shell could take for something else: a user or host
    /// that starts with `-` (ssh reads `-oProxyCommand=...@x` as an option and runs
    /// it), blanks, control characters and shell characters (`;`, `$`, quotes, ...).
    public init(parsing raw: String) throws(HostSpecError) {
        var text = Substring(trimBlanks(raw))
        guard !text.isEmpty else { throw HostSpecError(description: "empty host") }
        if let at = text.lastIndex(of: "@") {
            let u = String(text[..<at])
            guard !u.isEmpty else { throw HostSpecError(description: "empty user in '\(Self.shown(raw))'") }
            guard Self.isValidUser(u) else {
                throw HostSpecError(description: "bad user name '\(Self.shown(u))' (letters, digits, '.', '_', '-' not first)")
            }
            user = u
            text = text[text.index(after: at)...]
        }
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw HostSpecError(description: "missing ']' in '\(Self.shown(raw))'") }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") { portText = rest.dropFirst() } else if !rest.isEmpty {
                throw HostSpecError(description: "unexpected '\(Self.shown(String(rest)))' in '\(Self.shown(raw))'")
            }
            guard Self.isValidIPv6(host) else { throw HostSpecError(description: "bad IPv6 address '\(Self.shown(host))'") }
        } else {
            if let colon = text.firstIndex(of: ":") {
                host = String(text[..<colon])
                portText = text[text.index(after: colon)...]
            } else {
                host = String(text)
            }
            guard !host.isEmpty else { throw HostSpecError(description: "empty host in '\(Self.shown(raw))'") }
            guard Self.isValidHostName(host) else {
                throw HostSpecError(description: "bad host name '\(Self.shown(host))' (letters, digits, '.', '_', '-' not first)")
            }
        }
        if let portText {
            // Digits only: Int() would also take "+22".
            guard portText.count <= 5, portText.allSatisfy({ $0 >= "0" && $0 <= "9" }), let p = Int(portText), p > 0, p < 65536 else {
                throw HostSpecError(description: "bad port '\(Self.shown(String(portText)))' in '\(Self.shown(raw))' (1 to 65535)")
            }
            port = p
        }
    }

    /// A user name as login names are made: ASCII letters, digits, `.`, `_`, `-` (not first).
    static func isValidUser(_ u: String) -> Bool {
        u.utf8.count <= 255 && u.first != "-" && u.unicodeScalars.allSatisfy { isNameScalar($0) }
    }

    /// A DNS name, an ssh config alias or an IPv4 address: the same characters as a
    /// user name, and neither `-` nor `.` first.
    static func isValidHostName(_ h: String) -> Bool {
        h.utf8.count <= 255 && h.first != "-" && h.first != "." && h.unicodeScalars.allSatisfy { isNameScalar($0) }
    }

    /// What stood in brackets: hex digits, `:` and `.` (an IPv4 tail), at least one
    /// `:`, and optionally `%ZONE` with a zone named like a network interface.
    static func isValidIPv6(_ h: String) -> Bool {
        let parts = h.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
        let address = parts[0]
        guard address.contains(":"), address.utf8.count <= 45,
              address.unicodeScalars.allSatisfy({ $0.properties.isASCIIHexDigit || $0 == ":" || $0 == "." }) else { return false }
        guard parts.count == 2 else { return true }
        let zone = String(parts[1])
        return !zone.isEmpty && zone.utf8.count <= 64 && isValidHostName(zone)
    }

    private static func isNameScalar(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-": return true
        default: return false
        }
    }

    /// `text` for an error message: printable ASCII as it is, anything else as \u{HEX},
    /// so a control character in a hosts file cannot reach the terminal.
    static func shown(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            if c.value >= 0x20 && c.value < 0x7f { out.unicodeScalars.append(c) } else { out += "\\u{\(String(c.value, radix: 16))}" }
        }
        return out
    }

    /// One host per line; `#` starts a comment; blank lines are skipped.
    public static func parseList(_ text: String) throws(HostSpecError) -> [HostSpec] {
        var result: [HostSpec] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let trimmed = trimBlanks(content)
            if trimmed.isEmpty { continue }
            do {
                result.append(try HostSpec(parsing: trimmed))
            } catch {
                throw HostSpecError(description: "line \(n + 1): \(error)")
            }
        }
        return result
    }
}

/// How hosts are reached: the ssh command and the remote gpuctop.
public struct RemoteConfig: Sendable {
    /// ssh and the options from GPUCTOP_SSH, e.g. ["ssh", "-F", "config"].
    public var ssh: [String]
    /// The remote command that stands for `gpuctop` (GPUCTOP_REMOTE_COMMAND).
    public var remoteCommand: String
    public var interval: Double

    public init(environment: [String: String], interval: Double) {
        let extra = (environment["GPUCTOP_SSH"] ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        ssh = ["ssh"] + extra
        let remote = environment["GPUCTOP_REMOTE_COMMAND"] ?? ""
        remoteCommand = remote.isEmpty ? "gpuctop" : remote
        self.interval = interval
    }

    /// The full ssh command line that runs `gpuctop ARGUMENTS` on `host`.
    ///
    /// `--` ends ssh's options, so the destination is never read as one. ssh joins the
    /// words after the destination with spaces and the remote sshd hands that line to
    /// the user's shell: each argument is quoted for it, so whatever an argument holds
    /// (a remote's container id `c0ffee;touch x`) arrives as one word. The remote
    /// command itself is the local user's own setting (GPUCTOP_REMOTE_COMMAND) and
    /// goes as given, so it may carry its own words (`sudo gpuctop`).
    public func command(for host: HostSpec, _ arguments: [String], keepAlive: Bool = true) -> [String] {
        var argv = ssh + ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
        if keepAlive { argv += ["-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2"] }
        if let port = host.port { argv += ["-p", "\(port)"] }
        return argv + ["--", host.destination, remoteCommand] + arguments.map(shellQuoted)
    }

    /// A container id that may be sent to a remote host's action: 1 to 64 hex digits,
    /// as Docker and Podman make them. A remote's snapshot is not trusted to hold one.
    public static func isSafeContainerID(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count) && id.unicodeScalars.allSatisfy { $0.properties.isASCIIHexDigit }
    }

    public var streamArguments: [String] {
        ["snapshot", "--json", "--stream", "--interval", Self.format(interval)]
    }

    static func format(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(v)
    }
}

// MARK: - Hosts

/// Where one host stands.
public enum HostState: Equatable, Sendable {
    /// Starting ssh for the first time.
    case connecting
    /// Lines arrive; the newest snapshot.
    case up(Snapshot)
    /// Down (or retrying): why, and when the next try starts (wall-clock seconds).
    case down(reason: String, retryAt: Double)
}

/// Runs one ssh per host and merges what they send.
public final class RemoteHosts: Sendable {
    public let hosts: [HostSpec]
    public let config: RemoteConfig

    /// What the reader threads, stop() and merged() share.
    private struct Shared {
        var states: [HostState]
        var running: [Subprocess?]
        var stopping = false
        var threadsLeft = 0
    }
    private let shared: LockedValue<Shared>

    public init(hosts: [HostSpec], config: RemoteConfig) {
        self.hosts = hosts
        self.config = config
        shared = LockedValue(Shared(states: Array(repeating: .connecting, count: hosts.count),
                                    running: Array(repeating: nil, count: hosts.count)))
    }

    /// Starts one reader thread per host.
    public func start() {
        for i in hosts.indices {
            shared.withLock { $0.threadsLeft += 1 }
            startDetachedThread { [self] in
                self.follow(i)
                self.shared.update { $0.threadsLeft -= 1 }
            }
        }
    }

    /// Stops every ssh and waits (briefly) for the threads.
    public func stop() {
        let children: [Subprocess] = shared.update {
            $0.stopping = true
            return $0.running.compactMap { $0 }
        }
        for c in children {
            kill(-c.pid, SIGTERM)
            kill(c.pid, SIGTERM)
        }
        shared.wait(until: { $0.threadsLeft == 0 }, deadline: MonotonicClock.now() + 3)
    }

    public var isStopping: Bool { shared.withLock { $0.stopping } }

    public func state(_ i: Int) -> HostState { shared.withLock { $0.states[i] } }

    private func set(_ i: Int, _ s: HostState) { shared.withLock { $0.states[i] = s } }

    /// Marks host `i` down with `reason` and sleeps `seconds` (on the monotonic clock) or
    /// until stop; the wall-clock retry time is only what the header shows.
    private func retry(_ i: Int, _ reason: String, after seconds: Double) {
        set(i, .down(reason: reason, retryAt: WallClock.now() + seconds))
        shared.wait(until: { $0.stopping }, deadline: MonotonicClock.now() + seconds)
    }

    /// One host's life: connect, read lines, and on any failure retry with backoff.
    private func follow(_ i: Int) {
        let host = hosts[i]
        var backoff = 1.0
        while !isStopping {
            let argv = config.command(for: host, config.streamArguments)
            let child: Subprocess
            do {
                child = try Subprocess(argv)
            } catch {
                retry(i, error.description, after: backoff)
                backoff = min(30, backoff * 2)
                continue
            }
            let registered: Bool = shared.withLock {
                if $0.stopping { return false }
                $0.running[i] = child
                return true
            }
            if !registered { child.terminate(grace: 0.2); break }
            var lines = LineSplitter(limit: Self.maxLineBytes)
            var errText: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            var lastLine = MonotonicClock.now()
            var gotLine = false
            var timeoutReason: String?
            // Why the latest line was refused; shown instead of "no data" if nothing good follows.
            var refusal: String?
            var outOpen = true, errOpen = true
            let slowLimit = 3 * config.interval
            // The first line may wait for the connection as well.
            let firstLimit = slowLimit + 12
            while outOpen && !isStopping {
                var fds = [pollfd(fd: child.stdout, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: errOpen ? child.stderr : -1, events: Int16(POLLIN), revents: 0)]
                let r = Glibc.poll(&fds, 2, 250)
                if r < 0 && errno != EINTR { break }
                if r > 0 && fds[0].revents != 0 {
                    let n = read(child.stdout, &chunk, chunk.count)
                    if n <= 0 {
                        if n < 0 && errno == EINTR { continue }
                        outOpen = false
                    } else {
                        let pieces = chunk.withUnsafeBytes { lines.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                        for piece in pieces {
                            switch Self.take(piece, from: host) {
                            case nil: continue
                            case .success(let s)?:
                                set(i, .up(s))
                                gotLine = true
                                lastLine = MonotonicClock.now()
                                backoff = 1
                                refusal = nil
                            case .failure(let why)?:
                                // The connection stays: the next good line brings the host back.
                                refusal = why.description
                                set(i, .down(reason: why.description, retryAt: WallClock.now()))
                            }
                        }
                    }
                }
                if r > 0 && errOpen && fds[1].revents != 0 {
                    let n = read(child.stderr, &chunk, chunk.count)
                    if n <= 0 { if !(n < 0 && errno == EINTR) { errOpen = false } } else {
                        errText.append(contentsOf: chunk[0..<n])
                        if errText.count > 8192 { errText.removeFirst(errText.count - 8192) }
                    }
                }
                let quiet = MonotonicClock.now() - lastLine
                if quiet > (gotLine ? slowLimit : firstLimit) {
                    timeoutReason = refusal ?? (gotLine ? "no data for \(Int(quiet.rounded())) s (slow or hung)"
                                                        : "no answer within \(Int(quiet.rounded())) s")
                    break
                }
            }
            // Collect the last words on stderr (ssh writes its reason just before it exits).
            let drainUntil = MonotonicClock.now() + 1
            while errOpen && timeoutReason == nil && MonotonicClock.now() < drainUntil {
                var fds = [pollfd(fd: child.stderr, events: Int16(POLLIN), revents: 0)]
                guard Glibc.poll(&fds, 1, 100) > 0 else { continue }
                let n = read(child.stderr, &chunk, chunk.count)
                if n <= 0 { errOpen = false } else {
                    errText.append(contentsOf: chunk[0..<n])
                    // The same bound as while reading: a host that floods stderr costs 8 KiB.
                    if errText.count > 8192 { errText.removeFirst(errText.count - 8192) }
                }
            }
            let status = timeoutReason == nil ? waitBriefly(child) : child.terminate(grace: 0.5)
            child.closePipes()
            shared.withLock { $0.running[i] = nil }
            if isStopping { break }
            let reason = timeoutReason ?? Self.reason(status: status, stderr: String(decoding: errText, as: UTF8.self),
                                                     host: host, remote: config.remoteCommand)
            retry(i, reason, after: backoff)
            backoff = min(30, backoff * 2)
        }
    }

    /// The longest line taken from a host. A real line is far shorter: a snapshot of
    /// 5,000 processes in 500 containers on 8 GPUs, with long command lines, is 2.8 MiB
    /// of JSON (RemoteLineTests measures it: some 500 bytes a process). A longer line
    /// is not a gpuctop stream, and decoding it would take memory out of all proportion
    /// (10^6 processes in one line took 1.45 GB).
    public static let maxLineBytes = 8 << 20

    /// A line from a host's stream as a snapshot, or why it is refused (one line).
    /// nil for an empty line.
    public static func take(_ piece: LineSplitter.Piece, from host: HostSpec) -> Result<Snapshot, RemoteStreamError>? {
        switch piece {
        case .overflow:
            return .failure(RemoteStreamError(description:
                "line longer than \(maxLineBytes >> 20) MiB from \(host.name); not a gpuctop stream?"))
        case .line(let bytes):
            return bytes.isEmpty ? nil : decodeLine(bytes)
        }
    }

    /// One line of `gpuctop snapshot --json --stream` as the dashboard may use it:
    /// decoded, refused when it holds more rows than SnapshotLimits allows, and with
    /// absurd numbers (non-finite, out of range) made unavailable, since the other
    /// end is not trusted. The fuzz target (fuzz/Sources/FuzzRemoteLine) runs this.
    public static func decodeLine(_ line: [UInt8]) -> Result<Snapshot, RemoteStreamError> {
        let s: Snapshot
        do {
            s = try JSONDecoder().decode(Snapshot.self, from: Data(line))
        } catch {
            return .failure(RemoteStreamError(description: "a line that is not a gpuctop snapshot (\(Self.kind(of: error)))"))
        }
        if let why = SnapshotLimits.violation(s) { return .failure(RemoteStreamError(description: "refused: " + why)) }
        return .success(s.sanitized())
    }

    /// A short, one-line name for a decoding error (its full text quotes the input).
    private static func kind(of error: Error) -> String {
        switch error as? DecodingError {
        case .dataCorrupted?: return "not JSON"
        case .keyNotFound(let key, _)?: return "no '\(HostSpec.shown(key.stringValue))'"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?:
            return "bad '\(HostSpec.shown(context.codingPath.last?.stringValue ?? "?"))'"
        default: return "undecodable"
        }
    }

    /// ssh closed its output: give it a moment to exit, then make it.
    private func waitBriefly(_ child: Subprocess) -> Int32 {
        let deadline = MonotonicClock.now() + 2
        while MonotonicClock.now() < deadline {
            if let s = child.poll() { return s }
            usleep(10_000)
        }
        return child.terminate(grace: 0.5)
    }

    /// One line on why a host's ssh ended.
    static func reason(status: Int32, stderr: String, host: HostSpec, remote: String) -> String {
        let lines = stderr.split(whereSeparator: { $0.isNewline })
            .map { trimBlanks($0) }
            .filter { !$0.isEmpty && !$0.hasPrefix("Warning: Permanently added") }
        if status == 127 || lines.contains(where: { $0.includes("command not found") || $0.hasSuffix("No such file or directory") }) {
            return "\(remote) not found on \(host.name) (install gpuctop there or set GPUCTOP_REMOTE_COMMAND)"
        }
        if let last = lines.last {
            return status == 255 && !last.hasPrefix("ssh:") ? "ssh: " + last : last
        }
        return status == 0 ? "the stream ended" : "ssh exited with status \(status)"
    }

    /// One snapshot of all hosts: every GPU, process and container tagged with its
    /// host; hosts that are down as degraded entries "host NAME".
    public func merged() -> Snapshot {
        let now = WallClock.now()
        let current = shared.withLock { $0.states }
        var out = Snapshot(time: now, host: "")
        var up = 0
        var drivers = Set<String>(), cudas = Set<String>()
        for (i, state) in current.enumerated() {
            let name = hosts[i].name
            switch state {
            case .connecting:
                out.degraded.append(DegradedSource(source: "host \(name)", reason: "connecting…"))
            case .down(let reason, let retryAt):
                let wait = Int((retryAt - now).rounded(.up))
                out.degraded.append(DegradedSource(source: "host \(name)",
                                                   reason: reason + (wait > 0 ? " (retrying in \(wait) s)" : " (retrying now)")))
            case .up(let s):
                up += 1
                if let d = s.driverVersion { drivers.insert(d) }
                if let c = s.cudaVersion { cudas.insert(c) }
                for d in s.degraded { out.degraded.append(DegradedSource(source: "\(name) \(d.source)", reason: d.reason)) }
                for var g in s.gpus { g.host = name; out.gpus.append(g) }
                for var p in s.processes { p.host = name; out.processes.append(p) }
                for var c in s.containers { c.host = name; out.containers.append(c) }
                for var e in s.xidEvents ?? [] { e.host = name; out.xidEvents = (out.xidEvents ?? []) + [e] }
            }
        }
        // The newest XIDs of all hosts, oldest first, as one host's snapshot holds them.
        if let events = out.xidEvents {
            out.xidEvents = Array(events.sorted { $0.time < $1.time }.suffix(SnapshotLimits.xidEvents))
        }
        out.host = "\(up) of \(hosts.count) host\(hosts.count == 1 ? "" : "s") up"
        out.driverVersion = drivers.count == 1 ? drivers.first : (drivers.isEmpty ? nil : "mixed")
        out.cudaVersion = cudas.count == 1 ? cudas.first : (cudas.isEmpty ? nil : "mixed")
        // Down hosts first: they are what needs attention.
        out.degraded = out.degraded.filter { $0.source.hasPrefix("host ") } + out.degraded.filter { !$0.source.hasPrefix("host ") }
        return out
    }
}
