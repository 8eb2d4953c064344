// `gpuctop export` end to end: the real binary with the fake NVML, real processes and
// a real container on the test dockerd, scraped by a real Prometheus (its HTTP API
// queried for the series), read by a real node_exporter's textfile collector, checked
// by promtool, and poked with raw sockets for the HTTP edge cases. Loopback only;
// every wait is bounded; every daemon is stopped in tearDown.
import Foundation
import XCTest
import TestSupport

final class ExportCommandTests: XCTestCase {
    private var daemons: [Daemon] = []
    private var children: [Child] = []
    private var containers: [String] = []
    private var deviceNodes: [String] = []
    private var directories: [URL] = []

    override func tearDown() {
        daemons.reversed().forEach { $0.stop() }
        daemons = []
        children.forEach { $0.stop() }
        children = []
        if !containers.isEmpty { _ = try? Docker.run(["rm", "-f"] + containers) }
        containers = []
        deviceNodes.forEach { unlink($0) }
        deviceNodes = []
        directories.forEach { try? FileManager.default.removeItem(at: $0) }
        directories = []
        super.tearDown()
    }

    private func directory(_ label: String) -> URL {
        let d = TestEnv.temporaryDirectory(label)
        directories.append(d)
        return d
    }

    static let uuid0 = "GPU-e0000000-0000-0000-0000-000000000000"

    /// One H200 at 300 W; `processes` are `process` lines.
    static func scenario(_ processes: [String]) -> String {
        "driver 580.95.05\ncuda 13000\n"
            + Scenarios.h200(uuid: uuid0, ["fan": "", "power": "300000", "energy": "123456789 1000",
                                           "persistence": "", "compute_mode": ""])
            + processes.map { "process \($0)\n" }.joined()
            + Scenarios.h100MIG(uuid: "GPU-e1000000-0000-0000-0000-000000000000", migUUID: "MIG-e1") + "\n"
    }

    /// The fake NVML and the scenario as gpuctop arguments and environment.
    private func fake(_ scenario: String) throws -> (args: [String], env: [String: String]) {
        (["--nvml", try FakeNVML.privateCopy()], ["FAKE_NVML_SCENARIO": try FakeNVML.scenario(scenario)])
    }

    /// Starts `gpuctop export --listen 127.0.0.1:0 ...` and returns it with the port it chose.
    private func startExporter(_ scenario: String, extra: [String] = [], dockerHost: String? = nil) throws -> (Daemon, UInt16) {
        let (args, env) = try fake(scenario)
        var all = [TestEnv.gpuctopBinary.path, "export", "--listen", "127.0.0.1:0"] + args + extra
        if let dockerHost { all += ["--docker-host", dockerHost] }
        let d = try Daemon(all, environment: env, log: directory("export-log").appendingPathComponent("log").path)
        daemons.append(d)
        let port: UInt16 = try d.waitForLog("the serving line") { log in
            guard let r = log.range(of: #"serving metrics on http://127\.0\.0\.1:[0-9]+/metrics"#, options: .regularExpression) else { return nil }
            return UInt16(log[r].split(separator: ":").last!.dropLast("/metrics".count))
        }
        return (d, port)
    }

    private func curl(_ url: String, query: String? = nil) throws -> String {
        var args = ["/usr/bin/curl", "-sS", "--max-time", "5", url]
        if let query { args = ["/usr/bin/curl", "-sS", "--max-time", "5", "-G", "--data-urlencode", "query=\(query)", url] }
        let r = try Run.command(args, timeout: 10)
        guard r.status == 0 else { throw TestFailure("curl \(url) failed (\(r.status)): \(r.stderr)") }
        return r.stdout
    }

    // MARK: - Prometheus

    func testPrometheusScrapesGPUAndContainerSeries() throws {
        let dockerHost = try Docker.host()
        // A container with a GPU process, whose compose service label needs escaping;
        // an idle allocation (a /dev/nvidiaN device node, as in ContainerJoinTests); a host process.
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let train = "gx-train-\(suffix)", idle = "gx-idle-\(suffix)"
        let service = "train \"v2\" \\ a\nb"
        containers += [train, idle]
        try Docker.runContainer(train, labels: ["com.docker.compose.service": service, "com.docker.compose.project": "gx"])
        var node = ""
        repeat { node = "/dev/nvidia\(Int.random(in: 900...9999))" } while FileManager.default.fileExists(atPath: node)
        let made = try Run.command(["/usr/bin/mknod", "-m", "0666", node, "c", "1", "3"])
        XCTAssertEqual(made.status, 0, made.stderr)
        deviceNodes.append(node)
        try Docker.runContainer(idle, options: ["--device", "\(node):/dev/nvidia0"])
        let trainID = try Docker.run(["inspect", "-f", "{{.Id}}", train])
        let child = try Child(["/bin/sleep", "300"])
        children.append(child)
        let scenario = Self.scenario(["compute pid=\(try Docker.pid(train)) mem=2GiB sm=60",
                                      "compute pid=\(child.pid) mem=1GiB sm=20"])

        let (exporter, port) = try startExporter(scenario, extra: ["--interval", "0.5"], dockerHost: dockerHost)

        // promtool on a live scrape, with the container's escaped label in it.
        let scraped = try curl("http://127.0.0.1:\(port)/metrics")
        XCTAssertTrue(scraped.contains(#"compose_service="train \"v2\" \\ a\nb""#), scraped)
        let scrapeFile = directory("scrape").appendingPathComponent("scrape.prom")
        try scraped.write(to: scrapeFile, atomically: true, encoding: .utf8)
        XCTAssertEqual(try PromtoolVerdict.check(file: scrapeFile.path), [])

        // A real Prometheus scraping it every second, storage and config of its own.
        let started = Date()
        let (prom, webPort) = try Daemon.prometheus(scraping: port, in: directory("prometheus"))
        daemons.append(prom)
        let api = "http://127.0.0.1:\(webPort)/api/v1/query"

        /// Polls an instant query until it has a result that `accept` takes (30 s at most).
        func query(_ q: String, _ accept: ([String: String], String) -> Bool = { _, _ in true }) throws -> ([String: String], String) {
            let deadline = Date().addingTimeInterval(30)
            var last = ""
            while Date() < deadline {
                if let text = try? curl(api, query: q) {
                    last = text
                    if let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                       let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]] {
                        for r in result {
                            if let metric = r["metric"] as? [String: String], let value = r["value"] as? [Any],
                               value.count == 2, let v = value[1] as? String, accept(metric, v) {
                                return (metric, v)
                            }
                        }
                    }
                }
                guard prom.process.isRunning else { throw TestFailure("prometheus exited:\n\(prom.log)") }
                usleep(250_000)
            }
            throw TestFailure("no result for \(q) within 30 s; last answer: \(last)\nprometheus log:\n\(prom.log)\nexporter log:\n\(exporter.log)")
        }

        let (m, v) = try query("gpuctop_container_gpu_memory_bytes{container=\"\(train)\"}")
        let firstSeries = Date().timeIntervalSince(started)
        XCTAssertEqual(v, String(2 << 30))
        XCTAssertEqual(m["container_id"], String(trainID.prefix(12)))
        XCTAssertEqual(m["compose_service"], service, "the escaped label arrives whole")
        XCTAssertEqual(m["gpu"], "0")
        let hostname = try String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8)
        XCTAssertEqual(m["Hostname"], hostname.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(m["job"], "gpuctop")
        XCTAssertEqual(m["instance"], "127.0.0.1:\(port)")
        // 300 W shared by SM: 60 of 80.
        XCTAssertEqual(try query("gpuctop_container_power_share_watts{container=\"\(train)\"}").1, "225")
        XCTAssertEqual(try query("gpuctop_container_sm_utilization_percent{container=\"\(train)\"}").1, "60")
        XCTAssertEqual(try query("gpuctop_container_gpu_processes{container=\"\(train)\"}").1, "1")
        XCTAssertEqual(try query("gpuctop_container_gpu_memory_bytes{container_id=\"host\"}").1, String(1 << 30))
        let idleSeries = try query("gpuctop_container_idle_gpu_allocation{container=\"\(idle)\"}")
        XCTAssertEqual(idleSeries.1, "1")
        XCTAssertNil(idleSeries.0["gpu"])

        let (util, u) = try query("DCGM_FI_DEV_GPU_UTIL{gpu=\"0\"}")
        XCTAssertEqual(u, "42")
        XCTAssertEqual(util["UUID"], Self.uuid0)
        XCTAssertEqual(util["modelName"], "NVIDIA H200")
        XCTAssertEqual(util["device"], "nvidia0")
        XCTAssertEqual(util["pci_bus_id"], "00000000:19:00.0")
        XCTAssertEqual(try query("DCGM_FI_DEV_FB_USED{gpu=\"0\"}").1, "24576")
        XCTAssertEqual(try query("DCGM_FI_DEV_POWER_USAGE{gpu=\"0\"}").1, "300")
        XCTAssertEqual(try query("gpuctop_gpu_power_limit_max_watts{gpu=\"0\"}").1, "700")
        XCTAssertEqual(try query("gpuctop_mig_instance_memory_total_bytes{profile=\"1g.10gb\"}").1, "10737418240")
        // The energy counter grows by 1000 mJ per NVML call: Prometheus sees it increase.
        _ = try query("increase(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu=\"0\"}[5s])") { _, v in (Double(v) ?? 0) > 0 }
        XCTAssertEqual(try query("gpuctop_up").1, "1")
        XCTAssertEqual(try query("gpuctop_source_degraded{source=\"docker\"}").1, "0")
        XCTAssertEqual(try query("up{job=\"gpuctop\"}").1, "1")
        print("prometheus: first container series \(String(format: "%.1f", firstSeries)) s after start")

        prom.stop()
        XCTAssertEqual(exporter.waitExit(timeout: 0), nil, "the exporter outlives its scraper")
    }

    // MARK: - Textfile

    func testTextfileThroughNodeExporter() throws {
        let exporterPath = "/usr/bin/prometheus-node-exporter"
        guard FileManager.default.isExecutableFile(atPath: exporterPath) else {
            throw TestFailure("\(exporterPath) is missing: scripts/test.sh installs prometheus-node-exporter")
        }
        let child = try Child(["/bin/sleep", "300"])
        children.append(child)
        let (args, env) = try fake(Self.scenario(["compute pid=\(child.pid) mem=1GiB sm=20"]))
        let dir = directory("textfile")
        let export = try Daemon([TestEnv.gpuctopBinary.path, "export", "--textfile", dir.path, "--interval", "0.5"] + args,
                                environment: env, log: directory("export-log").appendingPathComponent("log").path)
        daemons.append(export)
        let file = dir.appendingPathComponent("gpuctop.prom").path
        _ = try export.waitForLog("the writing line") { $0.contains("writing \(file) every 0.5 s") ? true : nil }
        var st = stat()
        XCTAssertEqual(stat(file, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o644)
        XCTAssertEqual(try PromtoolVerdict.check(file: file), [])

        // It is replaced by rename: the inode changes between refreshes.
        let firstInode = st.st_ino
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, stat(file, &st) == 0, st.st_ino == firstInode { usleep(50_000) }
        XCTAssertNotEqual(st.st_ino, firstInode, "the file was not replaced within 10 s")

        let port = try Loopback.freePort()
        let node = try Daemon([exporterPath, "--collector.disable-defaults", "--collector.textfile",
                               "--collector.textfile.directory=\(dir.path)", "--web.listen-address=127.0.0.1:\(port)"],
                              log: directory("node-log").appendingPathComponent("log").path)
        daemons.append(node)
        var metrics = ""
        let until = Date().addingTimeInterval(30)
        while Date() < until {
            metrics = (try? curl("http://127.0.0.1:\(port)/metrics")) ?? ""
            if metrics.contains("DCGM_FI_DEV_GPU_UTIL{") { break }
            guard node.process.isRunning else { throw TestFailure("node_exporter exited:\n\(node.log)") }
            usleep(200_000)
        }
        let lines = metrics.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.hasPrefix("DCGM_FI_DEV_GPU_UTIL{") && $0.contains("UUID=\"\(Self.uuid0)\"") && $0.hasSuffix(" 42") },
                      metrics)
        // node_exporter writes the value its own way (1.073741824e+09): compare numbers.
        XCTAssertTrue(lines.contains { $0.hasPrefix("gpuctop_container_gpu_memory_bytes{") && $0.contains("container_id=\"host\"")
                                       && Double($0.split(separator: " ").last!) == Double(1 << 30) }, metrics)
        XCTAssertTrue(lines.contains("gpuctop_up 1"), metrics)
        XCTAssertTrue(lines.contains("node_textfile_scrape_error 0"), metrics)

        // SIGTERM: exit 0, and the file goes, so node_exporter stops serving stale figures.
        kill(export.pid, SIGTERM)
        XCTAssertEqual(export.waitExit(timeout: 5), 0, export.log)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "no file, no temporary left")
        XCTAssertFalse(try curl("http://127.0.0.1:\(port)/metrics").contains("DCGM_FI_DEV_GPU_UTIL"))
    }

    func testTextfileOnceAndUnwritableDirectory() throws {
        let (args, env) = try fake(Self.scenario([]))
        let dir = directory("once")
        let r = try Run.gpuctop(["export", "--textfile", dir.path, "--once"] + args, environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "")
        let text = try String(contentsOf: dir.appendingPathComponent("gpuctop.prom"), encoding: .utf8)
        let parsed = try PromParsed(text)
        XCTAssertEqual(try parsed.sample("DCGM_FI_DEV_GPU_UTIL", ["gpu": "0"]).value, "42")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["gpuctop.prom"])

        // Missing, not a directory, and a directory even root cannot write to.
        let file = dir.appendingPathComponent("gpuctop.prom").path
        for target in ["/nonexistent/gpuctop-\(UUID().uuidString.prefix(6))", file, "/proc"] {
            let bad = try Run.gpuctop(["export", "--textfile", target, "--interval", "0.25"] + args, environment: env, timeout: 10)
            XCTAssertEqual(bad.status, 1, "\(target): \(bad.stderr)")
            XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
            XCTAssertTrue(bad.stderr.hasPrefix("gpuctop: cannot "), bad.stderr)
            XCTAssertTrue(bad.stderr.contains(target), bad.stderr)
        }
    }

    // MARK: - HTTP

    func testHTTPStatusesWithRawSockets() throws {
        let (_, port) = try startExporter(Self.scenario([]))
        let ok = try RawHTTP.exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(RawHTTP.statusLine(ok), "HTTP/1.1 200 OK")
        XCTAssertEqual(RawHTTP.header("Content-Type", in: ok), "text/plain; version=0.0.4; charset=utf-8")
        let body = RawHTTP.body(ok)
        XCTAssertEqual(RawHTTP.header("Content-Length", in: ok), String(body.utf8.count))
        XCTAssertEqual(try PromParsed(body).sample("gpuctop_up").value, "1")
        // A query string and HTTP/1.0 are fine; bare LF line ends too.
        XCTAssertEqual(RawHTTP.statusLine(try RawHTTP.exchange(port: port, "GET /metrics?x=1 HTTP/1.0\n\n")), "HTTP/1.1 200 OK")

        for path in ["/", "/metricsx", "/metrics/", "/favicon.ico"] {
            let r = try RawHTTP.exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertEqual(RawHTTP.statusLine(r), "HTTP/1.1 404 Not Found", path)
        }
        for method in ["POST", "HEAD", "PUT", "DELETE", "OPTIONS"] {
            let r = try RawHTTP.exchange(port: port, "\(method) /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            XCTAssertEqual(RawHTTP.statusLine(r), "HTTP/1.1 405 Method Not Allowed", method)
            XCTAssertEqual(RawHTTP.header("Allow", in: r), "GET", method)
        }
        XCTAssertEqual(RawHTTP.statusLine(try RawHTTP.exchange(port: port, "HELLO\r\n\r\n")), "HTTP/1.1 400 Bad Request")
        XCTAssertEqual(RawHTTP.statusLine(try RawHTTP.exchange(port: port, "GET /metrics SMTP/1.0\r\n\r\n")), "HTTP/1.1 400 Bad Request")

        // Headers over 8 KiB: 431, and the connection is closed (the answer arrives whole).
        let big = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 9000) + "\r\n\r\n"
        let r431 = try RawHTTP.exchange(port: port, big)
        XCTAssertEqual(RawHTTP.statusLine(r431), "HTTP/1.1 431 Request Header Fields Too Large")
        XCTAssertEqual(RawHTTP.header("Connection", in: r431), "close")
        // Endless headers, never a blank line: 431 after 8 KiB too, not a wait for more.
        let fd = try RawHTTP.connect(port: port)
        defer { close(fd) }
        try RawHTTP.send(fd, Array(("GET /metrics HTTP/1.1\r\n" + String(repeating: "X-A: b\r\n", count: 1200)).utf8))
        XCTAssertEqual(RawHTTP.statusLine(try RawHTTP.readAll(fd, timeout: 5)), "HTTP/1.1 431 Request Header Fields Too Large")
        // And the server still answers.
        XCTAssertEqual(RawHTTP.statusLine(try RawHTTP.exchange(port: port, "GET /metrics HTTP/1.1\r\n\r\n")), "HTTP/1.1 200 OK")
    }

    func testSilentClientTimesOutWithoutBlockingScrapes() throws {
        let (_, port) = try startExporter(Self.scenario([]))
        // Five connections that send half a request and stall: more than the worker pool.
        var stalled: [Int32] = []
        defer { stalled.forEach { close($0) } }
        for _ in 0..<5 {
            let fd = try RawHTTP.connect(port: port)
            try RawHTTP.send(fd, Array("GET /metrics HTTP/1.1\r\n".utf8))
            stalled.append(fd)
        }
        usleep(200_000)
        // A scrape waits at most for a worker to come free (the read timeout, 5 s).
        var start = Date()
        let ok = try RawHTTP.exchange(port: port, "GET /metrics HTTP/1.1\r\n\r\n", timeout: 15)
        let waited = Date().timeIntervalSince(start)
        XCTAssertEqual(RawHTTP.statusLine(ok), "HTTP/1.1 200 OK")
        XCTAssertLessThan(waited, 7)
        // Each stalled connection gets 408 after the read timeout and is closed.
        start = Date()
        for fd in stalled {
            XCTAssertEqual(RawHTTP.statusLine(try RawHTTP.readAll(fd, timeout: 15)), "HTTP/1.1 408 Request Timeout")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 12)
        print("export: scrape behind 5 stalled connections answered in \(String(format: "%.2f", waited)) s")
    }

    func testConcurrentScrapes() throws {
        let (_, port) = try startExporter(Self.scenario([]))
        // Deterministic: A holds a worker with half a request while B is answered in full.
        let a = try RawHTTP.connect(port: port)
        defer { close(a) }
        try RawHTTP.send(a, Array("GET /metrics HTTP/1.1\r\nHost: x\r\n".utf8))
        usleep(100_000)
        let start = Date()
        let b = try RawHTTP.exchange(port: port, "GET /metrics HTTP/1.1\r\n\r\n", timeout: 3)
        XCTAssertEqual(RawHTTP.statusLine(b), "HTTP/1.1 200 OK")
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
        try RawHTTP.send(a, Array("\r\n".utf8))
        let ra = try RawHTTP.readAll(a, timeout: 3)
        XCTAssertEqual(RawHTTP.statusLine(ra), "HTTP/1.1 200 OK")

        // Then 2 and 16 scrapes at once: every one whole and parseable.
        for n in [2, 16] {
            var results = [String](repeating: "", count: n)
            let lock = NSLock()
            let begin = Date()
            DispatchQueue.concurrentPerform(iterations: n) { i in
                let r = (try? RawHTTP.exchange(port: port, "GET /metrics HTTP/1.1\r\n\r\n", timeout: 10)) ?? ""
                lock.lock(); results[i] = r; lock.unlock()
            }
            let elapsed = Date().timeIntervalSince(begin)
            for r in results {
                XCTAssertEqual(RawHTTP.statusLine(r), "HTTP/1.1 200 OK")
                XCTAssertEqual(RawHTTP.header("Content-Length", in: r), String(RawHTTP.body(r).utf8.count))
                XCTAssertNoThrow(try PromParsed(RawHTTP.body(r)))
            }
            print("export: \(n) concurrent scrapes in \(String(format: "%.3f", elapsed)) s")
        }
    }

    /// A refresh that hangs in NVML (the fake's `slow`) holds up no scrape: scrapes get the
    /// last body at once, and gpuctop_up turns 0 once it is more than 10 s old, 1 again after.
    func testScrapesDoNotWaitForAStuckSampler() throws {
        let normal = Self.scenario([])
        let lib = try FakeNVML.privateCopy()
        let path = try FakeNVML.scenario(normal)
        let d = try Daemon([TestEnv.gpuctopBinary.path, "export", "--listen", "127.0.0.1:0", "--interval", "0.25", "--nvml", lib],
                           environment: ["FAKE_NVML_SCENARIO": path], log: directory("export-log").appendingPathComponent("log").path)
        daemons.append(d)
        let port: UInt16 = try d.waitForLog("the serving line") { log in
            guard let r = log.range(of: #"127\.0\.0\.1:[0-9]+/"#, options: .regularExpression) else { return nil }
            return UInt16(log[r].dropFirst("127.0.0.1:".count).dropLast())
        }
        func swap(_ text: String) throws { try FakeNVML.replaceScenario(at: path, with: text) }
        func scrape() throws -> (up: String, seconds: Double) {
            let start = Date()
            let r = try RawHTTP.exchange(port: port, "GET /metrics HTTP/1.1\r\n\r\n", timeout: 5)
            return (try PromParsed(RawHTTP.body(r)).sample("gpuctop_up").value, Date().timeIntervalSince(start))
        }
        XCTAssertEqual(try scrape().up, "1")
        try swap(normal.replacingOccurrences(of: "util 42\n", with: "util 42\nslow util 11000\n"))
        let stuck = Date()
        var slowest = 0.0
        var up = "1"
        while up == "1" && Date().timeIntervalSince(stuck) < 15 {
            let s = try scrape()
            up = s.up
            slowest = max(slowest, s.seconds)
            usleep(250_000)
        }
        let downAfter = Date().timeIntervalSince(stuck)
        XCTAssertEqual(up, "0", "gpuctop_up stayed 1 while the sampler was stuck")
        // Stale 10 s after the last body, which came up to an interval and a refresh before
        // the swap (later still when the loaded machine runs the sampler late).
        XCTAssertGreaterThan(downAfter, 9.0)
        XCTAssertLessThan(slowest, 2, "a scrape waited for the stuck refresh (11 s)")
        try swap(normal)
        while up == "0" && Date().timeIntervalSince(stuck) < 30 {
            up = try scrape().up
            usleep(250_000)
        }
        XCTAssertEqual(up, "1", "gpuctop_up did not come back after the refresh finished")
        print("export: stuck sampler: gpuctop_up 0 after \(String(format: "%.1f", downAfter)) s, slowest scrape \(String(format: "%.3f", slowest)) s")
    }

    func testSignalsStopCleanly() throws {
        for sig in [SIGINT, SIGTERM] {
            let (d, port) = try startExporter(Self.scenario([]))
            let start = Date()
            kill(d.pid, sig)
            XCTAssertEqual(d.waitExit(timeout: 5), 0, d.log)
            let took = Date().timeIntervalSince(start)
            XCTAssertLessThan(took, 3)
            XCTAssertThrowsError(try RawHTTP.connect(port: port), "nothing listens after the stop")
            print("export: stopped by signal \(sig) in \(String(format: "%.2f", took)) s")
        }
        // Even while a refresh hangs in NVML (here the first, 20 s long), a signal stops it at once.
        let (args, env) = try fake(Self.scenario([]).replacingOccurrences(of: "util 42\n", with: "util 42\nslow util 20000\n"))
        let dir = directory("hung")
        let d = try Daemon([TestEnv.gpuctopBinary.path, "export", "--listen", "127.0.0.1:0", "--textfile", dir.path] + args,
                           environment: env, log: dir.appendingPathComponent("log").path)
        daemons.append(d)
        usleep(500_000)
        let start = Date()
        kill(d.pid, SIGTERM)
        XCTAssertEqual(d.waitExit(timeout: 5), 0, d.log)
        XCTAssertLessThan(Date().timeIntervalSince(start), 3)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["log"])
    }

    func testCommandLine() throws {
        for args in [["export", "--listen", "9835"], ["export", "--listen", "::1:9835"], ["export", "--listen", "127.0.0.1:70000"],
                     ["export", "--listen", "127.0.0.1:"], ["export", "--once"], ["export", "--listen", ":0", "--textfile", "/tmp", "--once"],
                     ["export", "--textfile"], ["export", "extra"], ["export", "--frobnicate"]] {
            let r = try Run.gpuctop(args, timeout: 10)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("gpuctop: "), r.stderr)
        }
        // A port already taken: one line, status 1.
        let (_, port) = try startExporter(Self.scenario([]))
        let r = try Run.gpuctop(["export", "--listen", "127.0.0.1:\(port)", "--nvml", "/nonexistent/libnvidia-ml.so.1"], timeout: 10)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stderr, "gpuctop: cannot listen on 127.0.0.1:\(port): Address already in use\n")
        // Help names the command.
        XCTAssertTrue(try Run.gpuctop(["--help"]).stdout.contains("gpuctop export [--listen ADDR:PORT]"))
    }
}
