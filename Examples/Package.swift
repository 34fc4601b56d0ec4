// swift-tools-version:6.0
import PackageDescription

// Example programs built on StreamPorts, each run for real by ExamplesTests (scripts/examples.sh):
//
//   swift build --package-path Examples --scratch-path .build-examples
//   swift test  --package-path Examples --scratch-path .build-examples
//
// - EchoServer: the seed's echo server (Slogan's tcp_server_stream), as in the README tour.
// - CharsetGateway: a line gateway between two charsets (Shift_JIS clients, a UTF-8 upstream).
// - ChatRoom: lines broadcast to every client, each in the charset of the port it joined on.
//
// A separate package, as Fuzzing/ is, so that `swift build` of the library builds no examples,
// while the examples use the library only through its public API, as a user's package would.
// This directory must not be named like the repository's directory: SwiftPM names both
// packages after their directories and would take the dependency for the package itself.

/// The root package's identity: SwiftPM names a path dependency after its directory, which is
/// wherever the repository was cloned.
let root = String(#filePath.split(separator: "/").dropLast(2).last ?? "StreamPorts")

let streamPorts: Target.Dependency = .product(name: "StreamPorts", package: root)

let package = Package(
    name: "StreamPortsExamples",
    dependencies: [
        .package(path: "..")
    ],
    targets: [
        .executableTarget(name: "EchoServer", dependencies: [streamPorts]),
        .executableTarget(name: "CharsetGateway", dependencies: [streamPorts]),
        .executableTarget(name: "ChatRoom", dependencies: [streamPorts]),
        // Starts the three executables as child processes and talks to them over 127.0.0.1
        // with raw sockets. It depends on them so that `swift test` builds them first; it
        // imports none of their code.
        .testTarget(
            name: "ExamplesTests",
            dependencies: ["EchoServer", "CharsetGateway", "ChatRoom"]
        ),
    ]
)
