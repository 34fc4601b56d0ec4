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
        .library(name: "StreamPortsService", targets: ["StreamPortsService"]),
        .library(name: "StreamPortsTLS", targets: ["StreamPortsTLS"]),
        .executable(name: "portecho", targets: ["portecho"]),
        // Test helpers, a product only so that the fuzzers of Fuzzing/ (a package of their own)
        // can share them: not API, no compatibility promised.
        .library(name: "StreamPortsTestSupport", targets: ["StreamPortsTestSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
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
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: callerIsolated
        ),
        // StreamService: a server stream as a swift-service-lifecycle Service (graceful shutdown).
        .target(
            name: "StreamPortsService",
            dependencies: [
                "StreamPorts",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
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
                "StreamPortsService",
                "StreamPortsTLS",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                // --metrics: swift-metrics' backend is a Prometheus registry, served over HTTP/1.
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: callerIsolated
        ),
        // Shared by the test targets and the fuzzers: raw POSIX sockets as the other end of a
        // test connection, and the decode drivers (stream a decoder, resume after errors).
        .target(
            name: "StreamPortsTestSupport",
            dependencies: ["Transcoders"],
            path: "Tests/StreamPortsTestSupport"
        ),
        .testTarget(name: "TranscodersTests", dependencies: ["Transcoders", "StreamPortsTestSupport"]),
        .testTarget(
            name: "StreamPortsTests",
            dependencies: [
                "StreamPorts",
                "StreamPortsTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "PortechoTests", dependencies: ["portecho", "StreamPortsTestSupport"]),
        .testTarget(
            name: "StreamPortsMetricsTests",
            dependencies: [
                "StreamPorts",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "StreamPortsServiceTests",
            dependencies: [
                "StreamPortsService",
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
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
