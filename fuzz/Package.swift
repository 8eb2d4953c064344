// swift-tools-version:6.0
// libFuzzer targets for gpuctop's parsers. A package of its own so that the fuzz-only
// executables and their flags never touch the main package's builds; it uses the
// main package's library products (Telemetry, DockerSocket) by path.
//
// Build and run them all with bench/fuzz. By hand:
//   swift build -c release --sanitize=fuzzer --sanitize=address --disable-dead-strip \
//       -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing \
//       --package-path fuzz
//   mkdir -p fuzz/.build/corpus/cgroup
//   fuzz/.build/release/FuzzCgroup -runs=100000 fuzz/.build/corpus/cgroup fuzz/corpus/cgroup
// (libFuzzer adds what it finds to the FIRST directory: keep the seeds in fuzz/corpus/ second.)
// -parse-as-library: libFuzzer brings its own main(), so main.swift must not define one.
// --disable-dead-strip: --gc-sections loses the coverage counters' registration.
// -sanitize=fuzzer,address: swiftc keeps only its last -sanitize= flag.
// -enable-testing: FuzzDockerJSON reaches the internal /version document.
import PackageDescription

let package = Package(
    name: "gpuctop-fuzz",
    dependencies: [
        .package(name: "gpuctop", path: ".."),
    ],
    targets: [
        .executableTarget(name: "FuzzCgroup", dependencies: [.product(name: "Telemetry", package: "gpuctop"),
                                                             .product(name: "Model", package: "gpuctop")]),
        .executableTarget(name: "FuzzOCISpec", dependencies: [.product(name: "Telemetry", package: "gpuctop"),
                                                              .product(name: "Model", package: "gpuctop")]),
        .executableTarget(name: "FuzzHTTP", dependencies: [.product(name: "DockerSocket", package: "gpuctop")]),
        .executableTarget(name: "FuzzDockerJSON", dependencies: [.product(name: "DockerSocket", package: "gpuctop")]),
        .executableTarget(name: "FuzzRecording", dependencies: [.product(name: "Recording", package: "gpuctop"),
                                                                .product(name: "Model", package: "gpuctop")]),
        .executableTarget(name: "FuzzRemoteLine", dependencies: [.product(name: "Fleet", package: "gpuctop"),
                                                                 .product(name: "Model", package: "gpuctop"),
                                                                 .product(name: "TUI", package: "gpuctop")]),
    ],
    swiftLanguageModes: [.v5]
)
