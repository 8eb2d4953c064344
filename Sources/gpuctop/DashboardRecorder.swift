// `gpuctop --record FILE`: the dashboard also appends each snapshot to a recording.
import Glibc
// A write that fails (disk full, file size limit) is shown in the header as a
// degraded source and the dashboard keeps running; the next writes try again.
import Telemetry

final class DashboardRecorder {
    private let writer: RecordingWriter
    private var problem: String?
    /// The sampler thread appends; the main thread closes when the dashboard ends.
    private var lock = pthread_mutex_t()

    /// Opens FILE for recording; a one-line error when it cannot be created.
    init(path: String, host: String, driverVersion: String?) throws {
        writer = try RecordingWriter(path: path, header: RecordingHeader(
            host: host, driverVersion: driverVersion, gpuctopVersion: gpuctopVersion,
            startTime: SnapshotSamplerClock.now()))
        pthread_mutex_init(&lock, nil)
    }

    /// Records `snapshot` and returns it, with the recorder's trouble if it has any.
    func record(_ snapshot: Snapshot) -> Snapshot {
        var s = snapshot
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        do {
            try writer.append(snapshot)
            problem = nil
        } catch {
            problem = "\(error)"
        }
        if let problem { s.degraded.append(DegradedSource(source: "record", reason: problem)) }
        return s
    }

    func close() {
        pthread_mutex_lock(&lock)
        try? writer.close()
        pthread_mutex_unlock(&lock)
    }
}

enum SnapshotSamplerClock {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
