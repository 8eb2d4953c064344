// DockerSocket: a small Docker Engine API client over a unix socket, with no dependencies.
//
// Why our own client: the binary is static and must start fast, so no Foundation networking and
// no third-party HTTP stack. We only need a handful of calls on a local socket, which plain
// POSIX sockets and a strict little HTTP/1.1 parser cover.
//
// Layout, one concern per file:
//   DockerEndpoint.swift      which socket to talk to (--docker-host, DOCKER_HOST, defaults, Podman)
//   UnixSocket.swift          POSIX socket I/O: connect/read/write with poll() deadlines
//   HTTPRequest.swift         request serialisation and percent-encoding
//   HTTPResponseParser.swift  pure, incremental HTTP/1.1 response parser (fuzzable, no I/O)
//   APIVersion.swift          API version parsing and negotiation
//   Models.swift              decoded values: containers, inspect details, server info, events
//   Timestamp.swift           RFC 3339 timestamps without Foundation's formatters
//   DockerClient.swift        the request/response client and the container calls
//   DockerEventStream.swift   /events on its own connection and thread
//   DockerError.swift         every failure as a typed error with a one-line description
//   Lock.swift                a pthread mutex/condition pair
