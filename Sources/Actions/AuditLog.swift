// The audit log of actions: one line per action, whatever its result, appended to
// `$XDG_STATE_HOME/gpuctop/actions.log` (else `~/.local/state/gpuctop/actions.log`).
// Under sudo (SudoInvocation.swift) the environment is the invoking user's (`sudo -E`),
// so root's own home from the password database is used instead: a user must not choose
// where root writes.
//
// The file is opened without following a symbolic link and without blocking (a FIFO
// there must not hang gpuctop after the action is done), and must be a regular file.
// When root writes, every directory on the way must be root's and not writable by
// others (unless sticky, like /tmp), and the file root's: else a user who can write one
// of them could swap in a link to any file. A log that fails these checks is an error
// (one line); the action it records has been done all the same.
//
// Each line is logfmt (`key=value`, values with spaces or quotes double-quoted with
// backslash escapes), written with one write(2) on an O_APPEND descriptor, so lines of
// concurrent gpuctop processes never interleave. Directories we create are 0700 and the
// file 0600: the log names users, hosts and command lines.
//
//   time=2026-11-22T03:04:05Z user=root uid=0 host=gpu-box action=stop container=web-1
//   container_id=4f2a... engine=podman previous="running (Up 5 minutes)" result=ok detail=stopped
import FoundationEssentials
import Glibc
import Support
import Telemetry

/// What an action was aimed at.
public enum AuditTarget: Equatable, Sendable {
    /// A resolved engine container, and its engine ("docker", "podman", "containerd", "crio").
    case container(name: String?, id: String, engine: String? = nil)
    /// A host process.
    case process(pid: Int32)
    /// One GPU.
    case gpu(index: Int, uuid: String?)
    /// What the user typed, when it was not (or could not be) resolved: an ambiguous or
    /// missing container, `all` GPUs refused before they were listed.
    case argument(String)
}

/// How an action ended.
public enum AuditOutcome: Equatable, Sendable {
    /// Done; the detail says what happened ("stopped", "set to 250 W, enforced 250 W").
    case ok(String)
    /// Tried and failed (daemon, NVML or kernel error).
    case failed(String)
    /// Not tried: read-only, not confirmed, ambiguous, out of range, no --yes.
    case refused(String)

    public var word: String {
        switch self {
        case .ok: return "ok"
        case .failed: return "failed"
        case .refused: return "refused"
        }
    }

    public var detail: String {
        switch self {
        case .ok(let s), .failed(let s), .refused(let s): return s
        }
    }
}

/// One line of the audit log.
public struct AuditRecord: Equatable, Sendable {
    /// Seconds since 1970.
    public var time: Double
    public var user: String
    public var uid: UInt32
    /// SUDO_USER, when gpuctop runs under sudo: who really asked.
    public var sudoUser: String?
    public var host: String
    /// "stop", "restart", "kill", "signal", "power-set".
    public var action: String
    public var target: AuditTarget
    /// What was there before: the container's status, the process's command, the old limit.
    public var previous: String?
    public var outcome: AuditOutcome

    public init(time: Double, user: String, uid: UInt32, sudoUser: String? = nil, host: String,
                action: String, target: AuditTarget, previous: String?, outcome: AuditOutcome) {
        self.time = time
        self.user = user
        self.uid = uid
        self.sudoUser = sudoUser
        self.host = host
        self.action = action
        self.target = target
        self.previous = previous
        self.outcome = outcome
    }

    /// A record for now, this process's user and this host. SUDO_USER is recorded only
    /// when gpuctop really runs under sudo (SudoInvocation), not because the environment says so.
    public static func now(action: String, target: AuditTarget, previous: String?, outcome: AuditOutcome,
                           environment: [String: String] = [:]) -> AuditRecord {
        now(action: action, target: target, previous: previous, outcome: outcome,
            sudoUser: SudoInvocation.invokingUser(environment: environment))
    }

    /// With the sudo user already decided (AuditedActions decides it once, not per line).
    public static func now(action: String, target: AuditTarget, previous: String?, outcome: AuditOutcome,
                           sudoUser sudo: String?) -> AuditRecord {
        let uid = getuid()
        return AuditRecord(time: WallClock.now(), user: AuditLog.userName(uid), uid: uid, sudoUser: sudo,
                           host: SnapshotSampler.readHostName(), action: action, target: target,
                           previous: previous, outcome: outcome)
    }

    /// The line as written, without the newline.
    public var line: String {
        var fields: [(String, String)] = [
            ("time", AuditLog.iso8601(time)),
            ("user", user),
            ("uid", String(uid)),
        ]
        if let sudoUser { fields.append(("sudo_user", sudoUser)) }
        fields.append(("host", host))
        fields.append(("action", action))
        switch target {
        case .container(let name, let id, let engine):
            if let name { fields.append(("container", name)) }
            fields.append(("container_id", id))
            if let engine { fields.append(("engine", engine)) }
        case .process(let pid):
            fields.append(("pid", String(pid)))
        case .gpu(let index, let uuid):
            fields.append(("gpu", String(index)))
            if let uuid { fields.append(("gpu_uuid", uuid)) }
        case .argument(let text):
            fields.append(("target", text))
        }
        if let previous { fields.append(("previous", previous)) }
        fields.append(("result", outcome.word))
        fields.append(("detail", outcome.detail))
        return fields.map { "\($0.0)=\(AuditLog.quote($0.1))" }.joined(separator: " ")
    }
}

/// Why the log could not be written; one line.
public struct AuditLogError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var errno: Int32
    /// Said instead of the operation and strerror, when those would not explain it.
    public var reason: String?

    public init(path: String, operation: String, errno: Int32, reason: String? = nil) {
        self.path = path
        self.operation = operation
        self.errno = errno
        self.reason = reason
    }

    public var description: String {
        if let reason { return "cannot write the audit log \(path): \(reason)" }
        return "cannot write the audit log \(path): \(operation): \(errnoText(errno))"
    }
}

public struct AuditLog: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// `$XDG_STATE_HOME/gpuctop/actions.log` when XDG_STATE_HOME is an absolute path (the XDG
    /// spec says to ignore a relative one), else `$HOME/.local/state/gpuctop/actions.log`,
    /// HOME from the environment or the password database. Under sudo, neither variable:
    /// they may be the invoking user's (`sudo -E`), and root would write where that user says.
    public static func defaultPath(environment: [String: String]) -> String {
        defaultPath(environment: environment, underSudo: SudoInvocation.runsForAnotherUser(environment: environment))
    }

    public static func defaultPath(environment: [String: String], underSudo: Bool) -> String {
        if underSudo {
            return join(passwordEntry(geteuid())?.home ?? "/root", ".local/state/gpuctop/actions.log")
        }
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
            return join(state, "gpuctop/actions.log")
        }
        var home = environment["HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        if home == nil { home = passwordEntry(getuid())?.home }
        return join(home ?? "/", ".local/state/gpuctop/actions.log")
    }

    /// The log for this environment.
    public static func standard(environment: [String: String]) -> AuditLog {
        AuditLog(path: defaultPath(environment: environment))
    }

    /// Appends one record: creates missing directories (0700) and the file (0600), then one
    /// write(2) of the whole line on an O_APPEND descriptor.
    public func append(_ record: AuditRecord) throws(AuditLogError) {
        try append(line: record.line)
    }

    public func append(line: String) throws(AuditLogError) {
        let directory = Self.parent(path)
        try Self.makeDirectories(directory, reportAs: path)
        // As root, the file is opened in the directory that was checked (its resolved path),
        // not through the path again: a link swapped after the check cannot redirect it.
        var target = path
        if geteuid() == 0 {
            let checked = try Self.checkOwnedByRoot(directory, reportAs: path)
            target = Self.join(checked, String(path.split(separator: "/").last ?? "actions.log"))
        }
        let fd = try openRegularFile(target)
        defer { close(fd) }
        let bytes = Array((line + "\n").utf8)
        while true {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n == bytes.count { return }
            if n < 0 && errno == EINTR { continue }
            // A short write (disk full) leaves a partial line: say so rather than write the rest
            // as a second write that another process's line could split.
            throw AuditLogError(path: path, operation: "write", errno: n < 0 ? errno : ENOSPC)
        }
    }

    /// Opens the log for appending: no link followed (ELOOP), no wait for a FIFO's reader
    /// (ENXIO), and nothing but a regular file accepted (a FIFO with a reader, a device).
    /// O_NONBLOCK is cleared afterwards, so that a full disk is an error, not EAGAIN.
    func openRegularFile(_ target: String? = nil) throws(AuditLogError) -> Int32 {
        let flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY
        let fd = open(target ?? path, flags, 0o600)
        guard fd >= 0 else {
            let e = errno
            switch e {
            case ELOOP: throw AuditLogError(path: path, operation: "open", errno: e, reason: "it is a symbolic link (not followed)")
            case ENXIO: throw AuditLogError(path: path, operation: "open", errno: e, reason: "it is not a regular file")
            default: throw AuditLogError(path: path, operation: "open", errno: e)
            }
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw AuditLogError(path: path, operation: "fstat", errno: e)
        }
        if let problem = Self.fileProblem(st) {
            close(fd)
            throw AuditLogError(path: path, operation: "open", errno: EINVAL, reason: problem)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return fd
    }

    /// What is wrong with the opened file, if anything: not a regular file, or (when root
    /// writes) someone else's, planted in a directory others may create files in.
    static func fileProblem(_ st: stat) -> String? {
        if st.st_mode & S_IFMT != S_IFREG { return "it is not a regular file" }
        if geteuid() == 0 && st.st_uid != 0 { return "it belongs to uid \(st.st_uid), not root" }
        // A second name for another of root's files, planted where the log goes.
        if st.st_nlink > 1 { return "it has \(st.st_nlink) hard links (another file's name)" }
        return nil
    }

    /// Root's log: every directory from / down to `directory` (links resolved) is owned by
    /// root and not writable by group or others unless sticky. Else whoever can write one of
    /// them could replace what lies below with a link to any file root then appends to.
    /// The directory's resolved path, once every component of it is root's alone.
    @discardableResult
    static func checkOwnedByRoot(_ directory: String, reportAs logPath: String) throws(AuditLogError) -> String {
        guard let resolved = realpath(directory, nil) else {
            throw AuditLogError(path: logPath, operation: "realpath \(directory)", errno: errno)
        }
        let real = String(cString: resolved)
        free(resolved)
        var prefix = ""
        for component in ([""] + real.split(separator: "/").map(String.init)) {
            prefix = component.isEmpty ? "/" : join(prefix, component)
            var st = stat()
            guard lstat(prefix, &st) == 0 else {
                throw AuditLogError(path: logPath, operation: "lstat \(prefix)", errno: errno)
            }
            if let problem = directoryProblem(st) {
                throw AuditLogError(path: logPath, operation: "check", errno: EPERM, reason: "\(prefix) \(problem)")
            }
        }
        return real
    }

    /// Why root must not trust this directory, if it must not.
    static func directoryProblem(_ st: stat) -> String? {
        if st.st_mode & S_IFMT != S_IFDIR { return "is not a directory (changed while checked)" }
        if st.st_uid != 0 { return "belongs to uid \(st.st_uid), not root" }
        if st.st_mode & 0o022 != 0 && st.st_mode & S_ISVTX == 0 { return "is writable by group or others and not sticky" }
        return nil
    }

    // MARK: - Helpers

    /// Creates `directory` and its missing parents with mode 0700 (existing ones are left as they are).
    static func makeDirectories(_ directory: String, reportAs logPath: String) throws(AuditLogError) {
        var st = stat()
        if stat(directory, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR { return }
            throw AuditLogError(path: logPath, operation: "\(directory) is not a directory", errno: ENOTDIR)
        }
        let parentDirectory = parent(directory)
        if parentDirectory != directory { try makeDirectories(parentDirectory, reportAs: logPath) }
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw AuditLogError(path: logPath, operation: "mkdir \(directory)", errno: errno)
        }
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    static func join(_ base: String, _ rest: String) -> String {
        base.hasSuffix("/") ? base + rest : base + "/" + rest
    }

    /// `2026-11-22T03:04:05Z`.
    public static func iso8601(_ seconds: Double) -> String {
        var t = time_t(seconds.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }

    /// A logfmt value: bare when it is plain, else double-quoted with `\"`, `\\` and control
    /// characters escaped (`\n`, `\t`, `\u{1b}`), so a value can never break the line. Line and
    /// paragraph separators (U+2028, U+2029; NEL is a C1 control) end a line for some readers,
    /// and format characters (the bidi overrides U+202E...) reorder what a terminal shows:
    /// both are escaped the same way.
    public static func quote(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { s in
            s.value > 0x20 && s != "\"" && s != "\\" && s != "=" && !isUnsafeForTerminal(s)
        }
        if plain { return value }
        var out = "\""
        for s in value.unicodeScalars {
            switch s {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if isUnsafeForTerminal(s) {
                    out += "\\u{\(String(s.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(s)
                }
            }
        }
        return out + "\""
    }


    /// The user name for `uid`, or the number.
    public static func userName(_ uid: UInt32) -> String {
        passwordEntry(uid)?.name ?? String(uid)
    }

    static func passwordEntry(_ uid: UInt32) -> (name: String, home: String?)? {
        var pwd = passwd()
        var found: UnsafeMutablePointer<passwd>? = nil
        var size = Int(sysconf(Int32(_SC_GETPW_R_SIZE_MAX)))
        if size <= 0 { size = 1024 }
        while size <= 1 << 20 {
            let scratch = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer { scratch.deallocate() }
            let rc = getpwuid_r(uid, &pwd, scratch, size, &found)
            if rc == ERANGE { size *= 2; continue }
            guard rc == 0, found != nil, let name = pwd.pw_name, name.pointee != 0 else { return nil }
            let home = pwd.pw_dir.flatMap { $0.pointee == 0 ? nil : String(cString: $0) }
            return (String(cString: name), home)
        }
        return nil
    }
}
