// `gpuctop profile [--refreshes N] [--size WxH] [--calls N]`: where a refresh's
// time goes, for BENCHMARKS.md and for anyone whose gpuctop costs more than it
// should. Samples like the dashboard does (same samplers, same interval), renders
// each snapshot into an in-memory frame of the dashboard's size, and prints:
// startup and first-refresh costs, the steady-state median of each stage (NVML,
// procfs/cgroups, Docker, join, render), what the steady state re-read, memory by
// mapping, and the median time of each NVML call on each GPU. Read-only.
import FoundationEssentials
import Glibc
import Model
import Support
import TUI
import Telemetry

enum ProfileCommand: Command {
    static let names = ["profile"]
    static let usage = """
      gpuctop profile [--refreshes N] [--size WxH] [--calls N]
                                        where a refresh's time and memory go, stage by stage,
                                        and the time of each NVML call (BENCHMARKS.md)
      gpuctop profile --startup         NVML opened step by step, with the memory each step adds
      gpuctop profile --one-shot        what `snapshot --json` spends, stage by stage and call by call
    """

    static func run(_ options: Options) -> Int32 {
        var args = CommandArguments(command: "profile", options.arguments)
        var refreshes = 20, calls = 50, width = 200, height = 50
        let startupOnly = args.flag("--startup")
        let oneShot = args.flag("--one-shot")
        do {
            if let v = try args.value("--refreshes") {
                guard let n = Int(v), n >= 1, n <= 100_000 else { throw UsageError(description: "--refreshes must be 1 to 100000, not '\(v)'") }
                refreshes = n
            }
            if let v = try args.value("--calls") {
                guard let n = Int(v), n >= 0, n <= 100_000 else { throw UsageError(description: "--calls must be 0 to 100000, not '\(v)'") }
                calls = n
            }
            if let v = try args.value("--size") {
                let parts = v.split(separator: "x")
                guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), (1...1000).contains(w), (1...1000).contains(h) else {
                    throw UsageError(description: "--size must be WIDTHxHEIGHT such as 200x50, not '\(v)'")
                }
                (width, height) = (w, h)
            }
            if let first = try args.finish().first { throw UsageError(description: "unexpected argument '\(first)' for 'profile'") }
        } catch {
            printError("\(error)")
            return ExitStatus.usage
        }

        if startupOnly { return startup(options) }
        if oneShot { return oneShotProfile(options) }
        var out = ""
        var timer = StageTimer()
        let sampler = SnapshotSampler(options: options.samplerOptions())
        let create = timer.lap()
        var model = DashboardModel(width: width, height: height, interval: options.interval, readOnly: options.readOnly, ascii: options.ascii)

        func refresh() -> (RefreshCost, StageCost, Snapshot) {
            let s = sampler.sample()
            var t = StageTimer()
            _ = model.update(.tick(s.time))
            _ = model.update(.snapshot(s))
            let frame = DashboardView.render(model)
            let render = t.lap()
            _ = frame.width
            return (sampler.lastCost, render, s)
        }

        let (first, firstRender, firstSnapshot) = refresh()
        let gpuCount = firstSnapshot.gpus.count
        out += "gpuctop profile: \(firstSnapshot.host), \(gpuCount) GPU(s), driver \(firstSnapshot.driverVersion ?? "none"); "
        out += "\(firstSnapshot.processes.count) GPU processes, \(firstSnapshot.containers.count) containers; "
        out += "\(refreshes) refreshes every \(Format.seconds(options.interval)), frame \(width)x\(height)\n"
        for d in firstSnapshot.degraded { out += "  degraded \(d.source): \(d.reason)\n" }
        if let problem = sampler.xidProblem { out += "  \(problem)\n" }

        out += "\n" + "startup".padding(52) + "   cpu ms   wall ms\n"
        out += row("load NVML (dlopen, symbols)", sampler.startupCost.load, unit: 1e6)
        out += row("nvmlInit, GPUs, static facts", sampler.startupCost.initialize, unit: 1e6)
        out += row("samplers created (all of the above)", create, unit: 1e6)
        out += row("first refresh: NVML", first.nvml, unit: 1e6)
        out += row("first refresh: procfs/cgroups", first.procfs, unit: 1e6)
        out += row("first refresh: engines (list, inspect, state)", first.docker, unit: 1e6)
        out += row("first refresh: join", first.join, unit: 1e6)
        out += row("first refresh: render", firstRender, unit: 1e6)

        let statBefore = sampler.procReader.staticReads
        let engines = sampler.engines
        let listBefore = engines?.listCalls ?? 0, inspectBefore = engines?.inspectCalls ?? 0
        let specBefore = engines?.specReads ?? 0, listingBefore = engines?.stateListings ?? 0
        var costs: [RefreshCost] = [], renders: [StageCost] = []
        let callClock = CallClock()
        sampler.callClock = callClock
        let usageBefore = processCPUNanoseconds()
        var nextStart = monotonicNanoseconds()
        for _ in 0..<refreshes {
            nextStart &+= UInt64(options.interval * 1e9)
            sleepUntil(nextStart)
            let (c, r, _) = refresh()
            costs.append(c)
            renders.append(r)
        }
        let processCPU = (processCPUNanoseconds() &- usageBefore) / UInt64(refreshes)

        out += "\n" + "steady state, median per refresh".padding(52) + "   cpu µs   wall µs\n"
        out += row("NVML", median(costs.map(\.nvml)), unit: 1e3)
        out += row("procfs/cgroups", median(costs.map(\.procfs)), unit: 1e3)
        out += row("engines (Docker, Podman, containerd, CRI-O)", median(costs.map(\.docker)), unit: 1e3)
        out += row("join", median(costs.map(\.join)), unit: 1e3)
        out += row("render (frame in memory)", median(renders), unit: 1e3)
        out += row("sampler + render", median(zip(costs, renders).map { $0.total + $1 }), unit: 1e3)
        // Slow calls made every few refreshes (per-process utilisation) hide from a median.
        out += row("sampler + render, mean", mean(zip(costs, renders).map { $0.total + $1 }), unit: 1e3)
        out += "  " + "process CPU per refresh, all threads (mean)".padding(50) + "\(Format.fixed(Double(processCPU) / 1e3, 0)) µs\n"
        out += "  re-read in steady state: /proc static files of \(sampler.procReader.staticReads - statBefore) processes, "
        out += "\((engines?.listCalls ?? 0) - listBefore) container lists, \((engines?.inspectCalls ?? 0) - inspectBefore) inspections, "
        out += "\((engines?.specReads ?? 0) - specBefore) config.json reads\n"
        out += "  engines: \(firstSnapshot.engines.map { $0.isEmpty ? "none" : $0.joined(separator: ", ") } ?? "not read"); "
        out += "\(engines?.specReads ?? 0) config.json read in all; state listings in steady state: "
        out += "\((engines?.stateListings ?? 0) - listingBefore) (at most one every \(Format.seconds(engines?.options.period ?? 0)))\n"

        if let nvml = sampler.nvml {
            out += "\nNVML schedule (what a refresh reads, and how often)\n"
            for line in nvml.scheduleLines() { out += "  \(line)\n" }
        }

        out += "\nmemory: " + memorySummary() + "\n"

        if !callClock.entries.isEmpty {
            // The same call costs more a second after the last than back to back (the
            // driver caches answers for a few ms): these are what the refreshes paid.
            out += "\n" + "NVML calls in the refreshes above (at their spacing)".padding(52) + "  calls/refresh  cpu µs/call  cpu µs/refresh\n"
            for e in callClock.entries {
                let perRefresh = Double(e.totalCPUNanoseconds) / Double(refreshes) / 1e3
                let median = Double(e.medianCPUNanoseconds) / 1e3
                out += "  " + e.name.padding(50) + "    " + num(Double(e.calls) / Double(refreshes)) + "    " + num(median) + "    " + num(perRefresh) + "\n"
            }
            let total = Double(callClock.entries.reduce(0) { $0 + $1.totalCPUNanoseconds }) / Double(refreshes) / 1e3
            out += "  " + "all of them".padding(50) + "                               " + num(total) + "\n"
        }

        if let library = sampler.nvml?.library, calls > 0 {
            out += "\n" + "NVML calls, median of \(calls) each".padding(52) + "   cpu µs   wall µs   result\n"
            for t in NVMLProbe.measure(library, iterations: calls) {
                let label = "GPU \(t.gpu) \(t.call)"
                out += "  " + label.padding(50) + num(Double(t.medianCPUNanoseconds) / 1e3) + num(Double(t.medianWallNanoseconds) / 1e3) + "   " + t.result + "\n"
            }
        }
        writeOut(out)
        // Leave at once (the report is flushed): returning would drop the sampler, whose
        // XID thread may be a second into an NVML wait that nothing can cut short.
        _exit(ExitStatus.ok)
    }

    /// `profile --startup`: opening NVML step by step, with the memory each step adds.
    static func startup(_ options: Options) -> Int32 {
        let (steps, firstCalls, problem) = NVMLProbe.startup(path: options.nvmlPath ?? NVMLLibrary.defaultPath)
        var out = "startup step".padding(52) + "   cpu ms   wall ms   VmRSS MiB\n"
        for s in steps {
            out += "  " + s.step.padding(50) + num(Double(s.cost.cpuNanoseconds) / 1e6) + num(Double(s.cost.wallNanoseconds) / 1e6)
            out += "  " + Format.fixed(Double(s.residentKiB) / 1024, 1)
            out += s.newLibraries.isEmpty ? "\n" : "   + " + s.newLibraries.joined(separator: ", ") + "\n"
        }
        if let problem { out += "  stopped: \(problem)\n" }
        if !firstCalls.isEmpty {
            out += "\n" + "first call of each entry point".padding(52) + "   cpu µs   wall µs   result\n"
            for t in firstCalls {
                out += "  " + "GPU \(t.gpu) \(t.call)".padding(50) + num(Double(t.medianCPUNanoseconds) / 1e3) + num(Double(t.medianWallNanoseconds) / 1e3) + "   " + t.result + "\n"
            }
        }
        out += "\nmemory: " + memorySummary() + "\n"
        writeOut(out)
        return problem == nil ? 0 : 1
    }

    /// `profile --one-shot`: a `snapshot --json` timed stage by stage, each NVML call of its
    /// one refresh as it made it (the first call of each entry point costs the most).
    static func oneShotProfile(_ options: Options) -> Int32 {
        var timer = StageTimer()
        var held: SnapshotSampler? = SnapshotSampler(options: SnapshotCommand.samplerOptions(options, stream: false, energy: false))
        let create = timer.lap()
        let clock = CallClock()
        held?.callClock = clock
        let snapshot = held!.sample()
        let refresh = timer.lap()
        let json = (try? SnapshotCommand.json(snapshot)) ?? ""
        let encode = timer.lap()
        let cost = held!.lastCost
        let startup = held!.startupCost
        held = nil  // the only reference: its deinit shuts NVML down
        let shutdown = timer.lap()
        var out = "gpuctop profile --one-shot: \(snapshot.gpus.count) GPU(s), \(snapshot.processes.count) GPU processes, "
        out += "\(snapshot.containers.count) containers; \(json.utf8.count) bytes of JSON\n\n"
        out += "stage".padding(52) + "   cpu ms   wall ms\n"
        out += row("load NVML (dlopen, symbols)", startup.load, unit: 1e6)
        out += row("nvmlInit, GPUs, static facts", startup.initialize, unit: 1e6)
        out += row("samplers created (all of the above)", create, unit: 1e6)
        out += row("refresh: NVML", cost.nvml, unit: 1e6)
        out += row("refresh: procfs/cgroups", cost.procfs, unit: 1e6)
        out += row("refresh: engines", cost.docker, unit: 1e6)
        out += row("refresh: join", cost.join, unit: 1e6)
        out += row("refresh (all of the above)", refresh, unit: 1e6)
        out += row("JSON encoding", encode, unit: 1e6)
        out += row("nvmlShutdown (snapshot exits without it)", shutdown, unit: 1e6)
        out += "\n" + "NVML calls of the refresh".padding(52) + "   cpu µs   wall µs\n"
        for e in clock.entries {
            let cpu = e.totalCPUNanoseconds, wall = e.totalWallNanoseconds
            let label = e.calls > 1 ? "\(e.name) (\(e.calls) calls)" : e.name
            out += "  " + label.padding(50) + num(Double(cpu) / 1e3) + num(Double(wall) / 1e3) + "\n"
        }
        writeOut(out)
        return ExitStatus.ok
    }

    private static func row(_ label: String, _ c: StageCost, unit: Double) -> String {
        "  " + label.padding(50) + num(Double(c.cpuNanoseconds) / unit) + num(Double(c.wallNanoseconds) / unit) + "\n"
    }

    private static func num(_ v: Double) -> String {
        let text = Format.fixed(v, v < 10 ? 2 : (v < 100 ? 1 : 0))
        return String(repeating: " ", count: max(0, 9 - text.count)) + text + " "
    }

    /// Median per field (CPU and wall separately).
    private static func median(_ values: [StageCost]) -> StageCost {
        StageCost(cpuNanoseconds: values.map(\.cpuNanoseconds).sorted()[values.count / 2],
                  wallNanoseconds: values.map(\.wallNanoseconds).sorted()[values.count / 2])
    }

    private static func mean(_ values: [StageCost]) -> StageCost {
        let n = UInt64(max(1, values.count))
        return StageCost(cpuNanoseconds: values.map(\.cpuNanoseconds).reduce(0, +) / n,
                         wallNanoseconds: values.map(\.wallNanoseconds).reduce(0, +) / n)
    }

    private static func processCPUNanoseconds() -> UInt64 { clockNanoseconds(CLOCK_PROCESS_CPUTIME_ID) }
    private static func monotonicNanoseconds() -> UInt64 { clockNanoseconds(CLOCK_MONOTONIC) }


    private static func sleepUntil(_ deadline: UInt64) {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }

    /// VmRSS, VmHWM and the largest resident mappings (from /proc/self/smaps).
    static func memorySummary() -> String {
        func read(_ path: String) -> String { DashboardCommand.readTextFile(path) ?? "" }
        var parts: [String] = []
        for line in read("/proc/self/status").split(separator: "\n") where line.hasPrefix("VmRSS") || line.hasPrefix("VmHWM") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kb = Double(fields[1]) {
                parts.append("\(fields[0].dropLast()) \(Format.fixed(kb / 1024, 1)) MiB")
            }
        }
        // Resident kB per mapping name ([heap], the binary, libnvidia-ml, anonymous).
        var byName: [String: Int] = [:]
        var current = "[anonymous]"
        for line in read("/proc/self/smaps").split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), first.first?.isHexDigit == true {
                current = fields.count >= 6 ? String(fields[5...].joined(separator: " ")) : "[anonymous]"
                if let slash = current.lastIndex(of: "/") { current = String(current[current.index(after: slash)...]) }
            } else if fields.first == "Rss:", fields.count >= 2, let kb = Int(fields[1]) {
                byName[current, default: 0] += kb
            }
        }
        let top = byName.sorted { $0.value > $1.value }.prefix(8).filter { $0.value > 0 }
        let mappings = top.map { "\($0.key) \(Format.fixed(Double($0.value) / 1024, 1))" }.joined(separator: ", ")
        return parts.joined(separator: ", ") + "; resident MiB by mapping: " + mappings
    }
}

private extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
