// What the container engine knows about its containers, kept current by the
// events stream so that a steady-state refresh asks the daemon nothing.
//
// The catalog lists containers once, inspects each running one once (for GPU
// requests and start time), and then only re-lists when an event says something
// changed or the stream broke. A daemon that is down or hung costs at most one
// timed-out attempt per backoff period; the GPU side of the dashboard never waits
// longer than that.
import DockerSocket
import FoundationEssentials
import Glibc
import Model
import Support

public final class ContainerCatalog {
    /// What we show about one engine container.
    public struct Entry: Sendable, Equatable {
        public var summary: ContainerSummary
        public var details: ContainerDetails?
        /// The engine that knows it: docker, or podman behind a Docker-compatible socket.
        public var engine: ContainerRef.Runtime = .docker
    }

    private let dockerHost: String?
    private let clientOptions: DockerClient.Options
    private var client: DockerClient?
    private var stream: DockerEventStream?
    private let pending = PendingChanges()
    private var entries: [String: Entry] = [:]
    private var listedOnce = false
    /// Events may have been missed (the stream broke or the daemon was unreachable): details
    /// inspected before then may be stale, so the next list inspects every running container again.
    private var detailsSuspect = false
    private var nextAttempt = 0.0
    private var backoff = 0.0

    /// Why the engine cannot be read right now (nil when it can).
    public private(set) var problem: String?
    /// What answered the last list: docker, or podman behind a Docker-compatible socket.
    public private(set) var engine: ContainerRef.Runtime?
    /// Calls made, for tests and benchmarks: a steady state makes none.
    public private(set) var listCalls = 0
    public private(set) var inspectCalls = 0
    /// Changes whenever any entry may have changed (what is derived from entries can be kept until then).
    public private(set) var version = 0

    public init(dockerHost: String?, options: DockerClient.Options = DockerClient.Options()) {
        self.dockerHost = dockerHost
        self.clientOptions = options
    }

    deinit {
        stream?.stop()
        client?.close()
    }

    public var isConnected: Bool { client != nil && problem == nil }

    /// The engine's container with this full id, if it knows it.
    public func entry(id: String) -> Entry? { entries[id] }

    /// Running containers that asked for GPUs (for idle GPU allocations).
    public var gpuRequesters: [Entry] {
        if let (v, list) = requestersCache, v == version { return list }
        let list = entries.values.filter { $0.summary.state == "running" && GPURequest.describe($0.details) != nil }
        requestersCache = (version, list)
        return list
    }
    private var requestersCache: (Int, [Entry])?

    /// Brings the catalog up to date; cheap when nothing changed.
    public func refresh(now: Double) {
        let change = pending.take()
        if change.streamEnded {
            stream = nil
            detailsSuspect = true
        }
        for id in change.invalidated { entries[id]?.details = nil }
        if !change.invalidated.isEmpty { version &+= 1 }
        if listedOnce && stream != nil && !change.dirty && problem == nil {
            return
        }
        if problem != nil && now < nextAttempt { return }
        do {
            try connectIfNeeded()
            // Open the stream before listing, so nothing that happens in between is missed.
            if stream == nil { try openStream() }
            try relist()
            problem = nil
            backoff = 0
        } catch {
            fail(error, now: now)
        }
    }

    private func connectIfNeeded() throws {
        if client == nil {
            client = try DockerClient(dockerHost: dockerHost, options: clientOptions)
        }
    }

    private func openStream() throws {
        guard let client else { return }
        let pending = self.pending
        stream = try client.events(onEvent: { event in
            pending.note(event)
        }, onEnd: { _ in
            pending.noteStreamEnded()
        })
    }

    private func relist() throws {
        guard let client else { return }
        listCalls += 1
        let list = try client.listContainers(all: true)
        let engine: ContainerRef.Runtime = client.server?.isPodman == true ? .podman : .docker
        self.engine = engine
        var fresh: [String: Entry] = [:]
        fresh.reserveCapacity(list.count)
        for summary in list {
            // Details are kept only while the events stream vouches for them: a container that
            // died or was restarted while we were not listening has a new state, pid and start time.
            let kept = detailsSuspect ? nil : entries[summary.id]?.details
            var entry = Entry(summary: summary, details: kept, engine: engine)
            // Inspect running containers once: their GPU request and start time do not change while they run.
            if entry.details == nil && summary.state == "running" {
                inspectCalls += 1
                do {
                    entry.details = try client.inspectContainer(summary.id)
                } catch DockerError.noSuchContainer {
                    continue  // removed since the list: the events stream will tell us
                }
            }
            fresh[summary.id] = entry
        }
        entries = fresh
        version &+= 1
        listedOnce = true
        detailsSuspect = false
    }

    private func fail(_ error: Error, now: Double) {
        stream?.stop()
        stream = nil
        client?.close()
        // Keep the last known containers: names stay on screen while the daemon restarts. Their
        // details are re-read once it is back (events are missed meanwhile).
        detailsSuspect = true
        backoff = backoff == 0 ? 1 : min(backoff * 2, 30)
        nextAttempt = now + backoff
        problem = "\(error)"
    }
}

/// Changes reported by the events thread, taken by the sampler thread.
final class PendingChanges: Sendable {
    private struct State {
        var dirty = false
        var streamEnded = false
        var invalidated: Set<String> = []
    }
    private let state = LockedValue(State())

    func note(_ event: DockerEvent) {
        state.withLock {
            $0.dirty = true
            if let id = event.actorID { $0.invalidated.insert(id) }
        }
    }

    func noteStreamEnded() {
        state.withLock {
            $0.dirty = true
            $0.streamEnded = true
        }
    }

    func take() -> (dirty: Bool, streamEnded: Bool, invalidated: Set<String>) {
        state.withLock { state in
            defer { state = State() }
            return (state.dirty, state.streamEnded, state.invalidated)
        }
    }
}

/// How a container asked for GPUs, in words; nil when it did not.
public enum GPURequest {
    public static func describe(_ details: ContainerDetails?) -> String? {
        guard let details else { return nil }
        for request in details.deviceRequests {
            let wantsGPU = request.driver == "nvidia"
                || request.capabilities.contains { $0.contains("gpu") }
            guard wantsGPU else { continue }
            if !request.deviceIDs.isEmpty { return "GPU " + request.deviceIDs.joined(separator: ",") }
            if let n = request.count { return n < 0 ? "all GPUs" : (n == 1 ? "1 GPU" : "\(n) GPUs") }
            return "GPUs"
        }
        let gpuDevices = details.devices.compactMap(\.pathOnHost).filter(isGPUDevice)
        if !gpuDevices.isEmpty {
            return gpuDevices.map { $0.replacingPrefix("/dev/", with: "") }.joined(separator: ",")
        }
        return nil
    }

    /// /dev/nvidia0, /dev/nvidia1, ...: a GPU, not the control or UVM device.
    static func isGPUDevice(_ path: String) -> Bool {
        guard path.hasPrefix("/dev/nvidia") else { return false }
        let rest = path.dropFirst("/dev/nvidia".count)
        return !rest.isEmpty && rest.allSatisfy(\.isNumber)
    }
}

extension String {
    func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
