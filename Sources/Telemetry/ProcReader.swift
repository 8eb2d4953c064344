// Host-side facts about processes, read from /proc (or another procfs mount given
// with --proc-root, e.g. the host's /proc bind-mounted into a container).
//
// Per refresh and per process, one file is read: `<pid>/stat`, which gives the
// start time (to detect PID reuse), utime+stime and the resident set. With more
// processes than `statReadsPerRefresh` (50), they take turns: each refresh reads
// that many, the others keep their last CPU% and RSS (CPU% is measured over the time
// since the process's own last read, so it stays a true average). At 1,000
// processes, reading every stat file on every refresh cost 14 ms (the kernel's
// do_task_stat, open and close); the budget keeps a refresh near constant. The static
// part (cmdline, uid and user name, start time, container, namespace PID) is read
// once per (pid, start time) and cached; entries for pids not asked for in a
// sample are dropped. CPU% is measured over a window of `cpuWindowSeconds` (the
// dashboard: between 5 and 10 s), not since the last read: the kernel counts CPU time
// in 10 ms ticks, so over 2 s an idle PyTorch context reads 0.0% or 0.5% by turns,
// and 60 of them rewrote 60 rows of the terminal on every refresh.
// Files are read with open/read into one reusable buffer, the
// paths are built in a reusable C buffer relative to a directory fd on the root.
//
// Not thread-safe: use one ProcReader from one thread at a time (the sampler's; for a
// refresh with many new processes, SnapshotSampler's helper thread, which it joins
// before it touches the reader again).
import FoundationEssentials
import Glibc
import Model
import Support

public final class ProcReader {
    public let procRoot: String
    /// How many times the static part of a process was read (a cache miss).
    public private(set) var staticReads: Int = 0
    /// How many `<pid>/stat` reads `sample` made (one per pid per sample, plus one
    /// more for each static read).
    public private(set) var statReads: Int = 0
    /// Processes now cached.
    public var cachedProcesses: Int { cache.count }
    /// How many of `pids` this reader has not read yet (their first read costs the most).
    public func unknownCount(_ pids: [Int32]) -> Int { pids.reduce(0) { $0 + (cache[$1] == nil ? 1 : 0) } }

    private struct Entry {
        var startTicks: UInt64
        var info: ProcessInfoSample
        var lastCpuTicks: UInt64
        var lastTime: Double
        var lastPercent: Double?
        /// The window's start and its next start (time, CPU ticks); see `cpuWindowSeconds`.
        var windowTime: Double
        var windowTicks: UInt64
        var nextWindowTime: Double
        var nextWindowTicks: UInt64
        var lastResident: UInt64
        var generation: UInt64
        /// The sample that last read its stat (turns are by position, which moves as
        /// processes come and go: an entry overdue by two turns is read regardless).
        var readGeneration: UInt64
    }

    /// At most this many `<pid>/stat` reads of known processes per sample (new
    /// processes are always read).
    public let statReadsPerRefresh: Int
    /// A known process's stat is read again only this many seconds after its last
    /// read (the dashboard: 2 s). `<pid>/stat` of a process with many threads (a
    /// PyTorch job has dozens) costs tens of microseconds: the kernel sums every thread.
    public let minimumRereadSeconds: Double
    /// CPU% covers between half of this and all of it (plus up to one re-read
    /// period): the window's start moves on by half a window at a time. 0: CPU% since
    /// the last read. A process seen for the first time has its lifetime average
    /// until its first window is complete, like `ps`.
    public let cpuWindowSeconds: Double

    private var rootFd: Int32 = -1
    private var buf: UnsafeMutablePointer<UInt8>
    private var bufCapacity: Int
    private let pathBuf: UnsafeMutablePointer<CChar>
    private static let pathCapacity = 64
    private var cache: [Int32: Entry] = [:]
    private var userNames: [UInt32: String] = [:]
    private var bootTime: Double? = nil
    private let ticksPerSecond: Double
    private let pageSize: UInt64
    private var generation: UInt64 = 0
    private var staleKeys: [Int32] = []
    private var touched = 0
    private var lastErrno: Int32 = 0

    /// Longest command line kept (longer ones are cut).
    private static let cmdlineLimit = 64 * 1024
    /// Longest other file read (`<root>/stat` on a large machine is tens of KiB).
    private static let fileLimit = 4 * 1024 * 1024

    public init(procRoot: String = "/proc", statReadsPerRefresh: Int = 50, minimumRereadSeconds: Double = 0,
                cpuWindowSeconds: Double = 0) {
        self.procRoot = procRoot
        self.statReadsPerRefresh = max(1, statReadsPerRefresh)
        self.minimumRereadSeconds = minimumRereadSeconds
        self.cpuWindowSeconds = max(0, cpuWindowSeconds)
        bufCapacity = 16 * 1024
        buf = UnsafeMutablePointer<UInt8>.allocate(capacity: bufCapacity)
        pathBuf = UnsafeMutablePointer<CChar>.allocate(capacity: ProcReader.pathCapacity)
        let tck = sysconf(Int32(_SC_CLK_TCK))
        ticksPerSecond = tck > 0 ? Double(tck) : 100
        let ps = sysconf(Int32(_SC_PAGESIZE))
        pageSize = ps > 0 ? UInt64(ps) : 4096
        openRoot()
    }

    deinit {
        if rootFd >= 0 { close(rootFd) }
        buf.deallocate()
        pathBuf.deallocate()
    }

    // MARK: - Public

    /// Nil when `procRoot` looks like a procfs, else a one-line reason (for a
    /// `DegradedSource`). It must be a directory with a `self` entry and a `stat`
    /// file that has a `btime` line.
    public func procRootProblem() -> String? {
        openRoot()
        guard rootFd >= 0 else {
            return "cannot open \(procRoot): \(errnoText(lastErrno))"
        }
        var st = stat()
        if fstatat(rootFd, "self", &st, 0) != 0 || (st.st_mode & S_IFMT) != S_IFDIR {
            return "\(procRoot) is not a procfs mount (no \(procRoot)/self)"
        }
        if loadBootTime() == nil {
            return "\(procRoot)/stat has no btime line"
        }
        return nil
    }

    /// True when `procRoot` looks like a procfs mount (see `procRootProblem`).
    public func procRootLooksValid() -> Bool { procRootProblem() == nil }

    /// What /proc says of each pid. Pids that are absent, unreadable or whose files
    /// make no sense are missing from the result. `now` is seconds since 1970; CPU
    /// percent is measured between this reader's samples of the same process (on
    /// the first sample, its lifetime average, like `ps`).
    public func sample(pids: [Int32], now: Double) -> [Int32: ProcessInfoSample] {
        var unique = pids
        unique.sort()
        unique.removeDuplicates()
        let infos = sample(sortedUniquePids: unique, now: now)
        var result: [Int32: ProcessInfoSample] = [:]
        result.reserveCapacity(unique.count)
        for (pid, info) in zip(unique, infos) { if let info { result[pid] = info } }
        return result
    }

    /// The same for pids sorted ascending without duplicates, answered in their order
    /// (nil where absent): no dictionary to build, for thousands of processes per refresh.
    public func sample(sortedUniquePids pids: [Int32], now: Double) -> [ProcessInfoSample?] {
        generation &+= 1
        touched = 0
        var result = [ProcessInfoSample?](repeating: nil, count: pids.count)
        if rootFd < 0 { openRoot() }
        guard rootFd >= 0, let btime = loadBootTime() else {
            evictStale()
            return result
        }
        // Known processes are read in turns of `rotation` samples when there are many.
        let rotation = (pids.count + statReadsPerRefresh - 1) / statReadsPerRefresh
        let turn = rotation > 1 ? Int(generation % UInt64(rotation)) : 0

        for (position, pid) in pids.enumerated() where pid > 0 {
            if let i = cache.index(forKey: pid),
               (rotation > 1 && position % rotation != turn && generation &- cache.values[i].readGeneration < UInt64(2 * rotation))
                || recentlyRead(cache.values[i], now: now) {
                cache.values[i].generation = generation
                touched += 1
                var info = cache.values[i].info
                info.cpuPercent = cache.values[i].lastPercent
                info.residentBytes = cache.values[i].lastResident
                result[position] = info
                continue
            }
            var index = cache.index(forKey: pid)
            var fresh: (info: ProcessInfoSample, stat: StatFields)?
            let st: StatFields
            if let i = index {
                setPath(pid: pid, file: "stat")
                statReads += 1
                guard let n = readFile(dirFd: rootFd, path: pathBuf, limit: 4096, shortReadIsEOF: true),
                      let known = parseStat(count: n) else { continue }
                if cache.values[i].startTicks != known.startTicks {
                    cache.remove(at: i)   // PID reused
                    index = nil
                    guard let new = readStatic(pid: pid, btime: btime) else { continue }
                    fresh = new
                    st = new.stat
                } else {
                    st = known
                }
            } else {
                // New: its stat is read with the rest, through its directory (one stat read).
                guard let new = readStatic(pid: pid, btime: btime) else { continue }
                fresh = new
                st = new.stat
            }
            let percent: Double?
            if let i = index {
                let e = cache.values[i]
                let (fromTime, fromTicks) = cpuWindowSeconds > 0 ? (e.windowTime, e.windowTicks) : (e.lastTime, e.lastCpuTicks)
                let dt = now - fromTime
                if dt > 0 {
                    let ticks = st.cpuTicks >= fromTicks ? st.cpuTicks - fromTicks : 0
                    percent = Double(ticks) / ticksPerSecond / dt * 100
                } else {
                    percent = e.lastPercent
                }
                if now - e.nextWindowTime >= cpuWindowSeconds / 2 || now < e.nextWindowTime {
                    cache.values[i].windowTime = e.nextWindowTime
                    cache.values[i].windowTicks = e.nextWindowTicks
                    cache.values[i].nextWindowTime = now
                    cache.values[i].nextWindowTicks = st.cpuTicks
                }
            } else {
                guard let info = fresh?.info else { continue }
                let elapsed = now - info.startTime
                percent = elapsed > 0 ? Double(st.cpuTicks) / ticksPerSecond / elapsed * 100 : nil
                // The first window starts at the process's start: its lifetime average.
                cache[pid] = Entry(startTicks: st.startTicks, info: info, lastCpuTicks: st.cpuTicks,
                                   lastTime: now, lastPercent: percent,
                                   windowTime: min(info.startTime, now), windowTicks: 0,
                                   nextWindowTime: now, nextWindowTicks: st.cpuTicks,
                                   lastResident: 0, generation: generation, readGeneration: generation)
                index = cache.index(forKey: pid)
            }
            guard let i = index else { continue }
            cache.values[i].lastCpuTicks = st.cpuTicks
            cache.values[i].lastTime = now
            cache.values[i].lastPercent = percent
            cache.values[i].lastResident = st.rssPages &* pageSize
            cache.values[i].generation = generation
            cache.values[i].readGeneration = generation
            touched += 1
            var info = cache.values[i].info
            info.cpuPercent = percent
            info.residentBytes = st.rssPages &* pageSize
            result[position] = info
        }
        evictStale()
        return result
    }

    /// Read less than `minimumRereadSeconds` ago (a clock that went back forces a read).
    private func recentlyRead(_ e: Entry, now: Double) -> Bool {
        let age = now - e.lastTime
        return age >= 0 && age < minimumRereadSeconds
    }

    // MARK: - Static part

    /// The static part of a process seen for the first time, and its stat: every file
    /// is read through one open directory of the process, so all of them describe the
    /// same process even if its PID is reused meanwhile (the directory then reads as gone).
    private func readStatic(pid: Int32, btime: Double) -> (info: ProcessInfoSample, stat: StatFields)? {
        setPath(pid: pid, file: nil)
        let dir = openat(rootFd, pathBuf, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { return nil }
        defer { close(dir) }

        statReads += 1
        guard let n = readFile(dirFd: dir, path: "stat", limit: 4096, shortReadIsEOF: true),
              let st = parseStat(count: n) else { return nil }
        staticReads += 1
        let startTicks = st.startTicks
        let comm = sanitizedString(start: st.commStart, end: st.commEnd)

        // status: uid, NSpid (required)
        guard let sn = readFile(dirFd: dir, path: "status", limit: ProcReader.fileLimit, shortReadIsEOF: false),
              let status = parseStatus(count: sn) else { return nil }

        // cmdline (may be empty: kernel threads, zombies)
        var command: String
        if let cn = readFile(dirFd: dir, path: "cmdline", limit: ProcReader.cmdlineLimit, shortReadIsEOF: false) {
            command = sanitizedString(start: 0, end: cn)
        } else {
            guard stillAlive(dir: dir, startTicks: startTicks) else { return nil }
            command = ""
        }
        if command.isEmpty { command = "[" + comm + "]" }

        // cgroup (absent on kernels without cgroups: a host process)
        var container: ContainerRef? = nil
        if let gn = readFile(dirFd: dir, path: "cgroup", limit: ProcReader.fileLimit, shortReadIsEOF: false) {
            container = CgroupParser.containerRef(cgroupBytes: UnsafeBufferPointer(start: buf, count: gn))
        } else if !stillAlive(dir: dir, startTicks: startTicks) {
            return nil
        }

        let startTime = btime + Double(startTicks) / ticksPerSecond
        var info = ProcessInfoSample(command: command, user: userName(status.uid), uid: status.uid,
                                     startTime: startTime)
        info.namespacePid = status.nspid
        info.startTicks = startTicks
        info.container = container
        return (info, st)
    }

    /// After an optional file failed to read: is the process still there (then the
    /// file is merely unreadable), or gone?
    private func stillAlive(dir: Int32, startTicks: UInt64) -> Bool {
        statReads += 1
        guard let n = readFile(dirFd: dir, path: "stat", limit: 4096, shortReadIsEOF: true),
              let st = parseStat(count: n) else { return false }
        return st.startTicks == startTicks
    }

    private func userName(_ uid: UInt32) -> String {
        if let name = userNames[uid] { return name }
        var name = String(uid)
        var pwd = passwd()
        var found: UnsafeMutablePointer<passwd>? = nil
        var size = sysconf(Int32(_SC_GETPW_R_SIZE_MAX))
        if size <= 0 { size = 1024 }
        while size <= 1 << 20 {
            let scratch = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            let rc = getpwuid_r(uid, &pwd, scratch, size, &found)
            if rc == 0, found != nil, let pwName = pwd.pw_name, pwName.pointee != 0 {
                name = String(cString: pwName)
            }
            scratch.deallocate()
            if rc == ERANGE { size *= 2; continue }
            break
        }
        userNames[uid] = name
        return name
    }

    // MARK: - Parsing

    private struct StatFields {
        var commStart: Int
        var commEnd: Int
        var cpuTicks: UInt64      // utime + stime
        var startTicks: UInt64    // since boot
        var rssPages: UInt64
    }

    /// `pid (comm) state ppid ...`: comm may hold spaces and ')', so the fields
    /// are counted from the last ')'.
    private func parseStat(count n: Int) -> StatFields? {
        let p = buf
        var rp = n - 1
        while rp >= 0 && p[rp] != UInt8(ascii: ")") { rp -= 1 }
        guard rp > 0 else { return nil }
        var lp = 0
        while lp < rp && p[lp] != UInt8(ascii: "(") { lp += 1 }
        guard lp < rp else { return nil }

        var utime: UInt64? = nil, stime: UInt64? = nil, start: UInt64? = nil, rss: UInt64? = nil
        var field = 2          // comm
        var i = rp + 1
        while i < n && field < 24 {
            while i < n && (p[i] == 0x20 || p[i] == 0x0A) { i += 1 }
            guard i < n else { break }
            var j = i
            while j < n && p[j] != 0x20 && p[j] != 0x0A { j += 1 }
            field += 1
            switch field {
            case 14: utime = parseUInt(i, j)
            case 15: stime = parseUInt(i, j)
            case 22: start = parseUInt(i, j)
            case 24:
                // a long; negative never happens, count it as 0
                rss = (j > i && p[i] == UInt8(ascii: "-")) ? 0 : parseUInt(i, j)
            default: break
            }
            i = j
        }
        guard let u = utime, let s = stime, let st = start, let r = rss else { return nil }
        let (cpu, overflow) = u.addingReportingOverflow(s)
        guard !overflow else { return nil }
        return StatFields(commStart: lp + 1, commEnd: rp, cpuTicks: cpu, startTicks: st,
                          rssPages: r)
    }

    private struct StatusFields {
        var uid: UInt32
        var nspid: Int32?
    }

    /// `Uid:` (the real uid: first number) and `NSpid:` (the innermost: last number).
    private func parseStatus(count n: Int) -> StatusFields? {
        let p = buf
        var uid: UInt32? = nil
        var nspid: Int32? = nil
        var sawNSpid = false
        var i = 0
        while i < n {
            var e = i
            while e < n && p[e] != 0x0A { e += 1 }
            if startsWith(i, e, "Uid:") {
                let nums = i + 4
                if let (s, t) = nextToken(nums, e), let v = parseUInt(s, t), v <= UInt64(UInt32.max) {
                    uid = UInt32(v)
                } else {
                    return nil
                }
            } else if startsWith(i, e, "NSpid:") {
                sawNSpid = true
                var k = i + 6
                var last: (Int, Int)? = nil
                while let tok = nextToken(k, e) { last = tok; k = tok.1 }
                if let (s, t) = last, let v = parseUInt(s, t), v <= UInt64(Int32.max) {
                    nspid = Int32(v)
                }
            }
            if uid != nil && sawNSpid { break }
            i = e + 1
        }
        guard let u = uid else { return nil }
        return StatusFields(uid: u, nspid: nspid)
    }

    @inline(__always)
    private func startsWith(_ s: Int, _ e: Int, _ word: StaticString) -> Bool {
        let w = word.utf8Start
        let len = word.utf8CodeUnitCount
        guard e - s >= len else { return false }
        for k in 0..<len where buf[s + k] != w[k] { return false }
        return true
    }

    /// The next run of non-blank bytes in [s, e), as (start, end).
    private func nextToken(_ s: Int, _ e: Int) -> (Int, Int)? {
        var i = s
        while i < e && (buf[i] == 0x20 || buf[i] == 0x09) { i += 1 }
        guard i < e else { return nil }
        var j = i
        while j < e && buf[j] != 0x20 && buf[j] != 0x09 { j += 1 }
        return (i, j)
    }

    /// Decimal digits in [s, e); nil for anything else, empty, or overflow.
    private func parseUInt(_ s: Int, _ e: Int) -> UInt64? {
        guard e > s, e - s <= 20 else { return nil }
        var v: UInt64 = 0
        var i = s
        while i < e {
            let c = buf[i]
            guard c >= 0x30 && c <= 0x39 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - 0x30))
            guard !o1 && !o2 else { return nil }
            v = a
            i += 1
        }
        return v
    }

    /// buf[s..<e] as text: NUL (the argv separator) and blanks become spaces; trimmed.
    /// Other control characters are kept as they are, so that JSON carries the real
    /// command line: every view sanitises at display time (TUI's Sanitize shows ESC
    /// as ^[), the one place that decides what reaches a terminal. Rewrites buf in place.
    private func sanitizedString(start s: Int, end e: Int) -> String {
        let p = buf
        var i = s
        while i < e {
            let c = p[i]
            if c == 0 || c == 0x09 || c == 0x0A || c == 0x0B || c == 0x0C || c == 0x0D {
                p[i] = 0x20
            }
            i += 1
        }
        var a = s, b = e
        while a < b && p[a] == 0x20 { a += 1 }
        while b > a && p[b - 1] == 0x20 { b -= 1 }
        return String(decoding: UnsafeBufferPointer(start: p + a, count: b - a), as: UTF8.self)
    }

    // MARK: - Files

    private func openRoot() {
        guard rootFd < 0 else { return }
        rootFd = open(procRoot, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if rootFd < 0 { lastErrno = errno }
    }

    /// btime from `<root>/stat`, read once.
    private func loadBootTime() -> Double? {
        if let b = bootTime { return b }
        guard rootFd >= 0,
              let n = readFile(dirFd: rootFd, path: "stat", limit: ProcReader.fileLimit, shortReadIsEOF: false)
        else { return nil }
        var i = 0
        while i < n {
            var e = i
            while e < n && buf[e] != 0x0A { e += 1 }
            if startsWith(i, e, "btime "), let (s, t) = nextToken(i + 6, e), let v = parseUInt(s, t) {
                bootTime = Double(v)
                return bootTime
            }
            i = e + 1
        }
        return nil
    }

    /// pathBuf = "<pid>" or "<pid>/<file>", NUL-terminated.
    private func setPath(pid: Int32, file: StaticString?) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var len = 0
        withUnsafeMutableBytes(of: &digits) { d in
            var v = UInt32(bitPattern: pid)
            repeat {
                d[len] = UInt8(0x30 + v % 10)
                v /= 10
                len += 1
            } while v > 0
        }
        var k = 0
        withUnsafeBytes(of: &digits) { d in
            while k < len { pathBuf[k] = CChar(bitPattern: d[len - 1 - k]); k += 1 }
        }
        if let f = file {
            pathBuf[k] = CChar(bitPattern: UInt8(ascii: "/")); k += 1
            let w = f.utf8Start
            for m in 0..<f.utf8CodeUnitCount where k < ProcReader.pathCapacity - 1 {
                pathBuf[k] = CChar(bitPattern: w[m]); k += 1
            }
        }
        pathBuf[k] = 0
    }

    /// Reads a whole file (up to `limit` bytes) into buf; the byte count, or nil
    /// (errno in lastErrno). With `shortReadIsEOF`, a read that does not fill the
    /// buffer ends it (true of regular files and of procfs single-record files such
    /// as `<pid>/stat`), which saves a read() call.
    private func readFile(dirFd: Int32, path: UnsafePointer<CChar>, limit: Int, shortReadIsEOF: Bool) -> Int? {
        let fd = openat(dirFd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { lastErrno = errno; return nil }
        defer { close(fd) }
        var total = 0
        while true {
            if total == bufCapacity {
                guard bufCapacity < limit else { return total }   // cut at the limit
                growBuffer(to: min(bufCapacity * 2, max(limit, bufCapacity)))
            }
            let want = min(bufCapacity, limit) - total
            guard want > 0 else { return total }
            let r = read(fd, buf + total, want)
            if r < 0 {
                if errno == EINTR { continue }
                lastErrno = errno
                return nil
            }
            if r == 0 { return total }
            total += r
            if shortReadIsEOF && r < want { return total }
        }
    }

    private func readFile(dirFd: Int32, path: StaticString, limit: Int, shortReadIsEOF: Bool) -> Int? {
        let p = UnsafeRawPointer(path.utf8Start).assumingMemoryBound(to: CChar.self)
        return readFile(dirFd: dirFd, path: p, limit: limit, shortReadIsEOF: shortReadIsEOF)
    }

    private func growBuffer(to capacity: Int) {
        guard capacity > bufCapacity else { return }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        bigger.update(from: buf, count: bufCapacity)
        buf.deallocate()
        buf = bigger
        bufCapacity = capacity
    }

    private func evictStale() {
        guard cache.count > touched else { return }
        staleKeys.removeAll(keepingCapacity: true)
        for (pid, e) in cache where e.generation != generation { staleKeys.append(pid) }
        for pid in staleKeys { cache.removeValue(forKey: pid) }
    }
}
