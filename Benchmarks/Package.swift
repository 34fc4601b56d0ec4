// swift-tools-version:6.0
import PackageDescription

// Benchmarks for StreamPorts, kept out of the root package so that `swift build` there builds no
// reference servers. scripts/bench.sh builds them:
//
//   swift build -c release --package-path Benchmarks --scratch-path .build-bench
//   swift run -c release --package-path Benchmarks --scratch-path .build-bench TranscoderBench
//
// (Benchmarks/c-epoll-echo, the C reference, is built by gcc in scripts/bench.sh.)
//
// This directory must not be named like the repository's directory: SwiftPM names both
// packages after their directories and would take the dependency for the package itself.

/// The root package's identity: SwiftPM names a path dependency after its directory, which is
/// wherever the repository was cloned.
let root = String(#filePath.split(separator: "/").dropLast(2).last ?? "StreamPorts")

let package = Package(
    name: "StreamPortsBenchmarks",
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // The system ICU, for the raw-ICU reference only (the root package's own is not a product).
        .systemLibrary(
            name: "CBenchICU",
            pkgConfig: "icu-uc",
            providers: [.apt(["libicu-dev"])]
        ),
        // Plain ucnv_convertEx of a whole buffer: what TranscoderBench measures Transcoders against.
        .target(name: "CICUReference", dependencies: ["CBenchICU"]),
        // Transcoder throughput against raw ICU, in the same run.
        .executableTarget(
            name: "TranscoderBench",
            dependencies: ["CICUReference", .product(name: "Transcoders", package: root)]
        ),
        // The reference SwiftNIO line echo of scripts/bench.sh.
        .executableTarget(
            name: "NIOLineEcho",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The same over TLS (NIOSSL): the reference of scripts/bench.sh's TLS scenarios.
        .executableTarget(
            name: "NIOSSLLineEcho",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ]
)
