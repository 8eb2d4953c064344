// swift-tools-version:6.0
// gpuctop: a terminal dashboard for GPU containers. No package dependencies:
// the toolchain and system C libraries (ncursesw) only.
//
// The rooms, bottom up (an arrow is "uses"; README "How it works" says the same):
//   Support            locks, threads, clocks, errno errors, one-line text, subprocesses
//   Model -> Support   the immutable Snapshot, its limits and sanity pass, power and action values
//   DockerSocket -> Support                     HTTP/1.1 over the engines' unix sockets
//   Telemetry -> Model, DockerSocket, CNVML     sampling: NVML, procfs, cgroups, engines, the join
//   Recording -> Model                          the recording file: writer, reader, codec
//   Fleet -> Model                              several hosts over ssh
//   Actions -> Telemetry, DockerSocket          containers, signals, power limits, the audit log
//   Export -> Model                             Prometheus text, the metrics server, the textfile
//   TUI -> Model, Recording, CNCurses           the dashboard: model, view, frame, screen
//   gpuctop -> all of them                      the command line
import PackageDescription

let package = Package(
    name: "gpuctop",
    products: [
        .executable(name: "gpuctop", targets: ["gpuctop"]),
        // For the fuzz targets in fuzz/ (a separate package that depends on this one).
        .library(name: "Telemetry", targets: ["Telemetry"]),
        .library(name: "DockerSocket", targets: ["DockerSocket"]),
        .library(name: "Model", targets: ["Model"]),
        .library(name: "Recording", targets: ["Recording"]),
        .library(name: "Fleet", targets: ["Fleet"]),
        .library(name: "TUI", targets: ["TUI"]),
    ],
    targets: [
        // Our own declarations of the NVML ABI we use. Nothing links libnvidia-ml:
        // Telemetry dlopens it and resolves symbols at run time.
        .target(name: "CNVML"),
        .systemLibrary(name: "CNCurses", path: "Sources/CNCurses"),
        // mallopt(3): <malloc.h> is not in Swift's Glibc module.
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        .target(name: "Support"),
        .target(name: "Model", dependencies: ["Support"]),
        .target(name: "DockerSocket", dependencies: ["Support"]),
        .target(name: "Telemetry", dependencies: ["CNVML", "DockerSocket", "Model", "Support"]),
        .target(name: "Recording", dependencies: ["Model", "Support"]),
        .target(name: "Fleet", dependencies: ["Model", "Support"]),
        .target(name: "Actions", dependencies: ["CNVML", "Telemetry", "DockerSocket", "Model", "Support"]),
        .target(name: "Export", dependencies: ["Model", "Support"]),
        .target(name: "TUI", dependencies: ["Model", "Recording", "Support", "CNCurses"]),
        .executableTarget(name: "gpuctop", dependencies: ["Support", "Model", "DockerSocket", "Telemetry", "Recording",
                                                          "Fleet", "Actions", "Export", "TUI", "CMalloc"]),
        // Helpers shared by the test targets: the fake NVML, child processes, the binary,
        // dockerd, sshd and Prometheus.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "SupportTests", dependencies: ["Support"]),
        .testTarget(name: "ModelTests", dependencies: ["Model"]),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry", "Model", "Support", "TestSupport"]),
        .testTarget(name: "RecordingTests", dependencies: ["Recording", "Telemetry", "Model", "TUI", "Support", "TestSupport"]),
        .testTarget(name: "FleetTests", dependencies: ["Fleet", "Model", "TUI", "Support", "TestSupport"]),
        .testTarget(name: "ActionsTests", dependencies: ["Actions", "Telemetry", "Model", "Support", "TestSupport"]),
        .testTarget(name: "ExportTests", dependencies: ["Export", "Telemetry", "Model", "Support", "TestSupport"]),
        .testTarget(name: "DockerSocketTests", dependencies: ["DockerSocket", "Support", "TestSupport"]),
        .testTarget(name: "TUITests", dependencies: ["TUI", "Model", "Recording", "Telemetry", "Support", "TestSupport"]),
        .testTarget(name: "GpuctopTests", dependencies: ["gpuctop", "Model", "Support", "Fleet", "Telemetry", "Actions", "Recording", "TestSupport"]),
    ],
    // Swift 5 language mode: the threading model is explicit (a sampler thread, the
    // UI thread, immutable snapshots between them) and checked with TSan in the tests.
    swiftLanguageModes: [.v5]
)
