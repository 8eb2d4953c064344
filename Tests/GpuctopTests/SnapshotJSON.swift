// What the end-to-end join tests read back from `gpuctop snapshot --json`.
import Foundation
import Model
import TestSupport
import XCTest

/// The run's standard output as a Snapshot; a failure that shows the output otherwise.
func decodeSnapshot(_ r: RunResult) throws -> Snapshot {
    do {
        return try JSONDecoder().decode(Snapshot.self, from: Data(r.stdout.utf8))
    } catch {
        throw TestFailure("cannot decode the snapshot: \(error)\n\(r.stdout)\n\(r.stderr)")
    }
}

/// The snapshot's containers[] entry for `id`.
func usage(_ s: Snapshot, _ id: String, file: StaticString = #filePath, line: UInt = #line) throws -> ContainerUsage {
    try XCTUnwrap(s.containers.first { $0.id == id }, "no containers[] entry for \(id): \(s.containers.map(\.id))",
                  file: file, line: line)
}
