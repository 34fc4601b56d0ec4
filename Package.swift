// swift-tools-version:6.0
import PackageDescription

/// Async functions run on their caller's executor (SE-0461): a stream read on a connection's
/// event loop stays there, with no executor switch on every call and return.
let callerIsolated: [SwiftSetting] = [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]

let package = Package(
    name: "StreamPorts",
    products: [
        .library(name: "StreamPorts", targets: ["StreamPorts"]),
        .library(name: "Transcoders", targets: ["Transcoders"]),
        .library(name: "StreamPortsTLS", targets: ["StreamPortsTLS"]),
        .executable(name: "portecho", targets: ["portecho"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // The system ICU (libicu-dev). Only the C bridge below includes its headers.
        .systemLibrary(
            name: "CICU",
            pkgConfig: "icu-uc",
            providers: [.apt(["libicu-dev"])]
        ),
        // A thin C layer over ICU converters whose header uses plain C types only, so Swift
        // never sees ICU's headers (which clash with Foundation's bundled ICU) or its
        // version-renamed symbols.
        .target(name: "CStreamPortsICU", dependencies: ["CICU"]),
        // R6RS transcoders: codec + end-of-line style + error mode. Standard library only.
        .target(name: "Transcoders", dependencies: ["CStreamPortsICU"]),
        // Stream ports over SwiftNIO.
        .target(
            name: "StreamPorts",
            dependencies: [
                "Transcoders",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: callerIsolated
        ),
        // TLS for stream ports (swift-nio-ssl), in its own module so that a user who needs no
        // TLS never builds BoringSSL.
        .target(
            name: "StreamPortsTLS",
            dependencies: [
                "StreamPorts",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: callerIsolated
        ),
        .executableTarget(
            name: "portecho",
            dependencies: [
                "StreamPorts",
                "StreamPortsTLS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: callerIsolated
        ),
        // Benchmarks: a transcoder throughput benchmark and a reference SwiftNIO line echo.
        .executableTarget(
            name: "TranscoderBench",
            dependencies: ["Transcoders", "CStreamPortsICU"],
            path: "Benchmarks/TranscoderBench"
        ),
        .executableTarget(
            name: "NIOLineEcho",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/NIOLineEcho"
        ),
        .executableTarget(
            name: "NIOSSLLineEcho",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Benchmarks/NIOSSLLineEcho"
        ),
        .testTarget(name: "TranscodersTests", dependencies: ["Transcoders"]),
        .testTarget(
            name: "StreamPortsTests",
            dependencies: [
                "StreamPorts",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "PortechoTests", dependencies: ["portecho"]),
        .testTarget(
            name: "StreamPortsTLSTests",
            dependencies: [
                "StreamPorts",
                "StreamPortsTLS",
                "portecho",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: callerIsolated
        ),
    ]
)
