// The daemons the tests start, each started one way, here: a private dockerd (through
// scripts/test-dockerd.sh, in a directory of its own), sshd, and any long-running
// process whose output goes to a log (Prometheus, node_exporter, gpuctop export).
// Every one is on loopback or a unix socket, and every test stops what it started.
import Foundation

/// A long-running process whose output goes to a file (no pipe for anyone to hold).
public final class Daemon {
    public let process = Process()
    public let logPath: String
    public var pid: Int32 { process.processIdentifier }

    public init(_ arguments: [String], environment: [String: String] = [:], log: String) throws {
        logPath = log
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try? handle.close()
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits up to `timeout` s for the process to exit; its status, or nil if it still runs.
    public func waitExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { return nil }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Polls the log until `predicate` finds what it wants, or fails after `timeout` s.
    public func waitForLog<T>(_ what: String, timeout: Double = 30, _ predicate: (String) -> T?) throws -> T {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if let found = predicate(log) { return found }
            if !process.isRunning { break }
            usleep(50_000)
        } while Date() < deadline
        throw TestFailure("no \(what) within \(timeout) s; log:\n\(log)")
    }

    /// SIGTERM, then SIGKILL after 5 s.
    public func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        if waitExit(timeout: 5) == nil {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// A private sshd on 127.0.0.1:port, run with `-D -e -f CONFIG`.
public final class TestSSHD {
    public let port: Int
    public let config: String
    public let log: String
    public private(set) var pid: pid_t = 0

    public init(dir: URL, name: String, port: Int, authorizedKeys: String, environment: [String: String]) throws {
        self.port = port
        let hostKey = dir.appendingPathComponent("\(name)-hostkey").path
        let r = try Run.command(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey])
        guard r.status == 0 else { throw TestFailure("ssh-keygen: \(r.stderr)") }
        config = dir.appendingPathComponent("\(name)-sshd_config").path
        log = dir.appendingPathComponent("\(name)-sshd.log").path
        let setEnv = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        try """
        Port \(port)
        ListenAddress 127.0.0.1
        HostKey \(hostKey)
        PidFile none
        PermitRootLogin prohibit-password
        PubkeyAuthentication yes
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        AuthorizedKeysFile \(authorizedKeys)
        UsePAM no
        StrictModes no
        SetEnv \(setEnv)

        """.write(toFile: config, atomically: true, encoding: .utf8)
    }

    public func start() throws {
        // sshd refuses to start without its privilege separation directory.
        try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        pid = try Run.detached(["/usr/sbin/sshd", "-D", "-e", "-f", config], log: log)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if Loopback.canConnect(port) { return }
            usleep(50_000)
        }
        throw TestFailure("sshd on port \(port) did not listen: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    /// Kills sshd and every session it started (the per-connection sshd, the shell, the remote gpuctop).
    public func stop() {
        guard pid > 0 else { return }
        for p in TestSSHD.descendants(of: pid) { kill(p, SIGKILL) }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }

    public static func descendants(of root: Int32) -> [Int32] {
        var parent: [Int32: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = Int32(fields[1]) { parent[pid] = ppid }
        }
        var result: [Int32] = []
        var frontier: Set<Int32> = [root]
        while !frontier.isEmpty {
            let next = parent.filter { frontier.contains($0.value) }.map(\.key)
            result += next
            frontier = Set(next)
        }
        return result
    }
}

/// A dockerd (and containerd) of our own, in a directory of our own: stopping it disturbs nobody.
public final class PrivateDockerd: @unchecked Sendable {
    public let directory: String
    public var host: String { "unix://\(directory)/docker.sock" }
    public var socketPath: String { "\(directory)/docker.sock" }

    public init() throws {
        directory = "/tmp/gpuctop-cat-\(UUID().uuidString.prefix(8).lowercased())"
        try start()
    }

    /// Runs scripts/test-dockerd.sh VERB for our directory; returns (exit status, output).
    private func script(_ verb: String, timeout: Double = 60) throws -> (status: Int32, output: String) {
        try Run.leavingDaemons([TestEnv.repoRoot.appendingPathComponent("scripts/test-dockerd.sh").path, verb],
                               environment: ["GPUCTOP_TEST_DOCKER_DIR": directory], timeout: timeout)
    }

    /// Starts dockerd (reusing our containerd when it runs); returns when it answers.
    public func start() throws {
        let r = try script("start")
        guard r.status == 0 else { throw TestFailure("starting the private dockerd failed: \(r.output)") }
    }

    /// Removes containers, stops dockerd and containerd, deletes the directory.
    public func stop() { _ = try? script("stop") }

    /// SIGKILL to dockerd, as a crash or the OOM killer does it: the socket file stays behind,
    /// containers keep running under containerd, and nothing tells the event stream's readers why.
    public func crash() throws {
        let text = try String(contentsOfFile: "\(directory)/dockerd.run.pid", encoding: .utf8)
        guard let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestFailure("no dockerd pid in \(directory)")
        }
        kill(pid, SIGKILL)
        let deadline = Date().addingTimeInterval(10)
        // Until init has reaped it too: the script takes a zombie named dockerd for a live one.
        while Date() < deadline {
            if kill(pid, 0) != 0 && errno == ESRCH { return }
            usleep(20_000)
        }
        throw TestFailure("dockerd \(pid) did not die")
    }

    @discardableResult
    public func docker(_ args: [String]) throws -> String {
        let r = try Run.command(["/usr/bin/env", "docker", "-H", host] + args, timeout: 60)
        guard r.status == 0 else { throw TestFailure("docker \(args.joined(separator: " ")) failed: \(r.stderr)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Loopback TCP ports.
public enum Loopback {
    public static func canConnect(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// A loopback port that was free a moment ago.
    public static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw TestFailure("cannot find a free port: errno \(errno)") }
        return UInt16(bigEndian: addr.sin_port)
    }
}

extension Daemon {
    /// A real Prometheus scraping 127.0.0.1:`port` every second, with its config and
    /// storage in `dir` (the config checked by promtool first); and its web port.
    public static func prometheus(scraping port: UInt16, in dir: URL) throws -> (Daemon, UInt16) {
        let prometheus = "/usr/bin/prometheus"
        guard FileManager.default.isExecutableFile(atPath: prometheus) else {
            throw TestFailure("\(prometheus) is missing: scripts/test.sh installs the prometheus package")
        }
        let config = dir.appendingPathComponent("prometheus.yml").path
        try """
        global:
          scrape_interval: 1s
          scrape_timeout: 1s
        scrape_configs:
          - job_name: gpuctop
            static_configs:
              - targets: ['127.0.0.1:\(port)']

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let check = try Run.command(["/usr/bin/promtool", "check", "config", config])
        guard check.status == 0 else { throw TestFailure("promtool check config: \(check.stdout)\(check.stderr)") }
        let webPort = try Loopback.freePort()
        let daemon = try Daemon([prometheus, "--config.file=\(config)", "--storage.tsdb.path=\(dir.path)/data",
                                 "--web.listen-address=127.0.0.1:\(webPort)"],
                                log: dir.appendingPathComponent("prometheus.log").path)
        return (daemon, webPort)
    }
}

/// Raw HTTP over a loopback TCP socket.
public enum RawHTTP {
    public static func connect(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw TestFailure("connect to 127.0.0.1:\(port): errno \(e)")
        }
        return fd
    }

    public static func send(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestFailure("send: errno \(errno)") }
            offset += n
        }
    }

    /// Reads until the server closes, within `timeout` s.
    public static func readAll(_ fd: Int32, timeout: Double = 10) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw TestFailure("no end of response within \(timeout) s; got \(data.count) bytes") }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(left * 1000) + 1) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// One request, the whole response.
    public static func exchange(port: UInt16, _ request: String, timeout: Double = 10) throws -> String {
        let fd = try connect(port: port)
        defer { close(fd) }
        try send(fd, Array(request.utf8))
        return try readAll(fd, timeout: timeout)
    }

    public static func statusLine(_ response: String) -> String {
        // "\r\n" is one Character in Swift: split on scalars.
        String(String.UnicodeScalarView(response.unicodeScalars.prefix { $0 != "\r" && $0 != "\n" }))
    }

    public static func body(_ response: String) -> String {
        guard let r = response.range(of: "\r\n\r\n") else { return "" }
        return String(response[r.upperBound...])
    }

    public static func header(_ name: String, in response: String) -> String? {
        let head = response.components(separatedBy: "\r\n\r\n").first ?? ""
        for line in head.components(separatedBy: "\r\n").dropFirst() {
            if let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == name.lowercased() {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    /// A port nobody listens on now (bound to port 0, then closed).
}
