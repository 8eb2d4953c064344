// Waits for XID critical errors on a thread of its own.
//
// nvmlEventSetWait blocks until an event arrives or its timeout passes, so it
// cannot run on the sampler's thread; here it waits at most `waitMilliseconds`
// at a time, so `stop()` is heard within that. Each event is queued with the
// time it arrived; the sampler drains the queue each refresh and attaches who
// was on the GPU (XIDLog). The queue is bounded: a GPU that floods XIDs costs a
// fixed amount of memory, and the count of dropped events is kept.
import CNVML
import Glibc
import Model
import Support

public final class XIDEventWatcher: @unchecked Sendable {
    /// One event as NVML delivered it.
    public struct Received: Sendable, Equatable {
        public var time: Double          // seconds since 1970, when it arrived
        public var gpuIndex: Int
        public var gpuInstanceId: Int?
        public var computeInstanceId: Int?
        public var code: Int

        public init(time: Double, gpuIndex: Int, gpuInstanceId: Int? = nil, computeInstanceId: Int? = nil, code: Int) {
            self.time = time; self.gpuIndex = gpuIndex; self.code = code
            self.gpuInstanceId = gpuInstanceId; self.computeInstanceId = computeInstanceId
        }
    }

    private struct State {
        var pending: [Received] = []
        var dropped = 0
        var stopping = false
        var running = false
        /// Why the thread ended on its own, if it did: its GPUs are no longer watched.
        var ended: String?
    }

    /// Most events held between two drains (a refresh is at most a minute apart).
    static let queueLimit = 1_024
    /// How long one wait may block: the longest `stop()` waits for the thread (the
    /// dashboard quits without waiting for it). Each wait costs the driver's setup of it,
    /// 35-55 µs on the H200: at 200 ms the thread took 0.2-0.3 ms of CPU a second, at
    /// 500 ms 0.07-0.11 (bench/results, 2026-12-02); at a second, half that.
    public static let waitMilliseconds: UInt32 = 1000

    private let library: NVMLLibrary
    private let set: nvmlEventSet_t
    /// (GPU index, handle) of each GPU registered for XID events.
    private let handles: [(index: Int, handle: nvmlDevice_t)]
    private let state = LockedValue(State())
    private var thread: pthread_t?

    /// The GPUs registered for XID events (`drain()` says when the thread has ended).
    public var watchedGPUs: [Int] { handles.map(\.index) }

    /// Registers every GPU that supports XID events and starts the thread; nil (with
    /// the reason) when the driver has no event API, no GPU supports the event, or
    /// the thread cannot start. A GPU that refuses registration is left out alone.
    public static func start(library: NVMLLibrary, gpus: [(index: Int, handle: nvmlDevice_t)]) -> Result<XIDEventWatcher, WatchProblem> {
        let s = library.health
        guard let create = s.eventSetCreate, let register = s.registerEvents, s.eventSetWait != nil,
              let free = s.eventSetFree else {
            return .failure(WatchProblem(reason: "the NVML library has no event API"))
        }
        var created: nvmlEventSet_t?
        let rc = create(&created)
        guard rc == NVML_SUCCESS, let set = created else {
            return .failure(WatchProblem(reason: "nvmlEventSetCreate: \(library.errorString(rc))"))
        }
        var registered: [(index: Int, handle: nvmlDevice_t)] = []
        var refusals: [String] = []
        for (index, h) in gpus {
            if let f = s.supportedEventTypes {
                var types: UInt64 = 0
                if f(h, &types) == NVML_SUCCESS, types & CNVML_EVENT_TYPE_XID_CRITICAL_ERROR == 0 {
                    refusals.append("GPU \(index): XID events not supported")
                    continue
                }
            }
            let r = register(h, CNVML_EVENT_TYPE_XID_CRITICAL_ERROR, set)
            if r == NVML_SUCCESS {
                registered.append((index, h))
            } else {
                refusals.append("GPU \(index): \(library.errorString(r))")
            }
        }
        guard !registered.isEmpty else {
            _ = free(set)
            return .failure(WatchProblem(reason: refusals.isEmpty ? "no GPU" : refusals.joined(separator: "; ")))
        }
        let watcher = XIDEventWatcher(library: library, set: set, handles: registered)
        guard watcher.startThread() else {
            return .failure(WatchProblem(reason: "cannot start the XID thread"))
        }
        return .success(watcher)
    }

    public struct WatchProblem: Error, Sendable, Equatable, CustomStringConvertible {
        public let reason: String
        public var description: String { "XID events not watched: \(reason)" }
    }

    private init(library: NVMLLibrary, set: nvmlEventSet_t, handles: [(index: Int, handle: nvmlDevice_t)]) {
        self.library = library
        self.set = set
        self.handles = handles
    }

    deinit { stop() }

    private func startThread() -> Bool {
        state.withLock { $0.running = true }
        // The thread holds what it uses, not the watcher: dropping the watcher stops it.
        let (library, set, handles, state) = (library, set, handles, state)
        thread = spawnThread(name: "xid-events") { Self.run(library: library, set: set, handles: handles, state: state) }
        if thread == nil {
            state.withLock { $0.running = false }
            _ = library.health.eventSetFree?(set)
        }
        return thread != nil
    }

    /// What one drain hands the sampler, read under one lock so the three agree.
    public struct Drained: Sendable, Equatable {
        /// Every event received since the last drain, oldest first.
        public var events: [Received]
        /// How many were dropped because the queue was full.
        public var dropped: Int
        /// Why the thread ended on its own, if it did (events before it are still here).
        public var ended: String?
    }

    public func drain() -> Drained {
        state.withLock { s in
            defer { s.pending = []; s.dropped = 0 }
            return Drained(events: s.pending, dropped: s.dropped, ended: s.ended)
        }
    }

    /// Ends the thread (within one wait) and frees the event set. Idempotent.
    public func stop() {
        let join: pthread_t? = state.withLock { s in
            guard s.running, !s.stopping else { return nil }
            s.stopping = true
            return thread
        }
        guard let join else { return }
        // Wakes a back-off sleep at once; an NVML wait ends by its timeout.
        state.update { _ in }
        pthread_join(join, nil)
        _ = library.health.eventSetFree?(set)
        state.withLock { $0.running = false }
    }

    private static func run(library: NVMLLibrary, set: nvmlEventSet_t, handles: [(index: Int, handle: nvmlDevice_t)],
                            state: LockedValue<State>) {
        guard let wait = library.health.eventSetWait else { return }
        let fillsInstances = library.health.eventWaitFillsInstances
        var failures = 0
        while !state.withLock({ $0.stopping }) {
            var data = nvmlEventData_t()
            data.gpuInstanceId = CNVML_NO_INSTANCE_ID
            data.computeInstanceId = CNVML_NO_INSTANCE_ID
            let rc = wait(set, &data, Self.waitMilliseconds)
            if rc == NVML_SUCCESS {
                failures = 0
                guard data.eventType & CNVML_EVENT_TYPE_XID_CRITICAL_ERROR != 0,
                      let index = handles.first(where: { $0.handle == data.device })?.index else { continue }
                var event = Received(time: WallClock.now(), gpuIndex: index, code: Int(clamping: data.eventData))
                if fillsInstances, data.gpuInstanceId != CNVML_NO_INSTANCE_ID {
                    event.gpuInstanceId = Int(data.gpuInstanceId)
                    if data.computeInstanceId != CNVML_NO_INSTANCE_ID { event.computeInstanceId = Int(data.computeInstanceId) }
                }
                state.withLock { s in
                    if s.pending.count >= Self.queueLimit {
                        s.pending.removeFirst()
                        s.dropped += 1
                    }
                    s.pending.append(event)
                }
            } else if rc == NVML_ERROR_TIMEOUT {
                failures = 0
            } else if rc == NVML_ERROR_UNINITIALIZED {
                // NVML was shut down under us: nothing more will come, and the sampler
                // must stop counting these GPUs as watched (their ECC back on its timer).
                state.withLock { $0.ended = "nvmlEventSetWait: \(library.errorString(rc))" }
                return
            } else {
                // GPU_IS_LOST and the like answer at once: back off (up to 5 s) rather than spin.
                failures += 1
                let pause = min(5.0, 0.1 * Double(1 << min(failures, 6)))
                state.wait(until: { $0.stopping }, deadline: MonotonicClock.now() + pause)
            }
        }
    }
}
