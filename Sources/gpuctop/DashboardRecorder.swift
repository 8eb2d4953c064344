// `gpuctop --record FILE`: the dashboard also appends each snapshot to a recording.
// A write that fails (disk full, file size limit) is shown in the header as a
// degraded source and the dashboard keeps running; the next writes try again.
import Model
import Recording
import Support

final class DashboardRecorder {
    /// The sampler thread appends; the main thread closes when the dashboard ends.
    private let writer: LockedValue<RecordingWriter>

    /// Opens FILE for recording; a one-line error when it cannot be created.
    init(path: String, host: String, driverVersion: String?) throws {
        writer = LockedValue(try RecordingWriter(path: path, header: RecordingHeader(
            host: host, driverVersion: driverVersion, gpuctopVersion: gpuctopVersion,
            startTime: WallClock.now())))
    }

    /// Records `snapshot` and returns it, with the recorder's trouble if it has any.
    func record(_ snapshot: Snapshot) -> Snapshot {
        var s = snapshot
        let problem: String? = writer.withLock {
            do {
                try $0.append(snapshot)
                return nil
            } catch {
                return "\(error)"
            }
        }
        if let problem { s.degraded.append(DegradedSource(source: "record", reason: problem)) }
        return s
    }

    func close() {
        writer.withLock { try? $0.close() }
    }
}
