// swift-tools-version:6.0
// gpuctop: a terminal dashboard for GPU containers. No package dependencies:
// the toolchain and system C libraries (ncursesw) only.
import PackageDescription

let package = Package(
    name: "gpuctop",
    products: [
        .executable(name: "gpuctop", targets: ["gpuctop"]),
        // For the fuzz targets in fuzz/ (a separate package that depends on this one).
        .library(name: "Telemetry", targets: ["Telemetry"]),
        .library(name: "DockerSocket", targets: ["DockerSocket"]),
        // For FuzzRemoteLine: a remote host's snapshot down to the text formatter.
        .library(name: "TUI", targets: ["TUI"]),
    ],
    targets: [
        // Our own declarations of the NVML ABI we use. Nothing links libnvidia-ml:
        // Telemetry dlopens it and resolves symbols at run time.
        .target(name: "CNVML"),
        // The bottom room: one lock, threads, clocks, errno-carrying errors, one-line
        // text, subprocesses, the periodic tick. Every other target may use it.
        .target(name: "Support"),
        .systemLibrary(name: "CNCurses", path: "Sources/CNCurses"),
        // mallopt(3): <malloc.h> is not in Swift's Glibc module.
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        .target(name: "Telemetry", dependencies: ["CNVML", "DockerSocket"]),
        .target(name: "DockerSocket", dependencies: ["Support"]),
        .target(name: "TUI", dependencies: ["Telemetry", "CNCurses"]),
        .executableTarget(name: "gpuctop", dependencies: ["Telemetry", "DockerSocket", "TUI", "CMalloc"]),
        // Helpers shared by the test targets: the fake NVML, child processes, the binary.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry", "TUI", "TestSupport"]),
        .testTarget(name: "DockerSocketTests", dependencies: ["DockerSocket", "TestSupport"]),
        .testTarget(name: "TUITests", dependencies: ["TUI", "Telemetry", "TestSupport"]),
        .testTarget(name: "GpuctopTests", dependencies: ["Telemetry", "TestSupport"]),
    ],
    // Swift 5 language mode: the threading model is explicit (a sampler thread, the
    // UI thread, immutable snapshots between them) and checked with TSan in the tests.
    swiftLanguageModes: [.v5]
)
