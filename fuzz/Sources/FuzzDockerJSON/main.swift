// libFuzzer target: decoding the Docker API's JSON the way DockerClient does
// (DockerClient.decode, i.e. JSONDecoder with the lenient models).
//
// Every input is decoded as each document gpuctop reads: the container list
// (GET /containers/json), one container (GET /containers/{id}/json), the version
// document (GET /version, then API version negotiation), an error body, and the
// events stream (one JSON object per line). Decoding may throw a DockerError; it
// must never trap.
import FoundationEssentials
@testable import DockerSocket

private func fail(_ why: String, _ data: UnsafeRawBufferPointer) -> Never {
    fatalError("FuzzDockerJSON: \(why) for \(Array(data))")
}

private func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8], _ data: UnsafeRawBufferPointer) -> T? {
    do {
        return try DockerClient.decode(T.self, from: body, what: "fuzz")
    } catch is DockerError {
        return nil
    } catch {
        fail("non-DockerError \(error)", data)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDockerJSON(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let data = UnsafeRawBufferPointer(start: start, count: count)
    let body = Array(data)

    if let list = decode([ContainerSummary].self, body, data) {
        for c in list { _ = (c.name, c.names.count, c.labels.count) }
    }
    if let details = decode(ContainerDetails.self, body, data) {
        _ = (details.state.startedAtDate, details.state.finishedAtDate, details.deviceRequests.count)
    }
    if let version = decode(VersionDocument.self, body, data) {
        _ = version.isPodman
        do {
            _ = try APIVersion.negotiate(serverVersion: version.apiVersion, serverMinimum: version.minAPIVersion)
        } catch is DockerError {
        } catch {
            fail("negotiate: non-DockerError \(error)", data)
        }
    }
    _ = DockerClient.daemonMessage(body)

    // The events stream: one object per line, blank lines skipped (as EventStreamCore.consume).
    for line in body.split(separator: 0x0A, omittingEmptySubsequences: true).prefix(64) {
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
        if let event = decode(DockerEvent.self, Array(line), data) { _ = event.containerName }
    }
    return 0
}
