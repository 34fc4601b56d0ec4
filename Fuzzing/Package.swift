// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for StreamPorts, built outside `swift test` by scripts/fuzz.sh:
//
//   swift build --package-path Fuzzing --scratch-path .build-fuzz -c release \
//       --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=address \
//       -Xswiftc -enable-testing
//
// Each executable defines `LLVMFuzzerTestOneInput`; with `--sanitize=fuzzer` SwiftPM links
// libFuzzer's `main` instead of the executable's entry point. The Swift driver keeps only the
// last `-sanitize=` option, so ASan is added with fuzzer in one `-Xswiftc -sanitize=`. The
// targets use `@testable import` to reach internal and package seams (ClientStream's
// initializer, the ICU-only UTF-8 codec, ScalarDecoder, EOLTranslator, decodeLine), hence
// `-enable-testing`: `package` declarations are not visible across packages otherwise.
//
// This directory must not be named like the repository's directory: SwiftPM names both
// packages after their directories and would take the dependency for the package itself.

/// The root package's identity: SwiftPM names a path dependency after its directory, which is
/// wherever the repository was cloned.
let root = String(#filePath.split(separator: "/").dropLast(2).last ?? "StreamPorts")

let package = Package(
    name: "StreamPortsFuzz",
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // Input slicing, chunking, the decoder properties and the failure report; the
        // decode-and-resume drivers come from the root package's StreamPortsTestSupport.
        .target(
            name: "FuzzSupport",
            dependencies: [
                .product(name: "Transcoders", package: root),
                .product(name: "StreamPortsTestSupport", package: root),
            ]
        ),
        // StreamAddress.parse (with and without port:) and StreamAddress.raw.
        .executableTarget(
            name: "AddressFuzzer",
            dependencies: ["FuzzSupport", .product(name: "StreamPorts", package: root)]
        ),
        // TextDecoder's UTF-8 fast path: every error mode and EOL style, any chunking.
        .executableTarget(
            name: "UTF8DecoderFuzzer",
            dependencies: ["FuzzSupport", .product(name: "Transcoders", package: root)]
        ),
        // TextDecoder and ScalarDecoder over ICU: Shift_JIS, UTF-16 (BOM, LE, BE), ISO-2022-JP, ….
        .executableTarget(
            name: "ICUDecoderFuzzer",
            dependencies: ["FuzzSupport", .product(name: "Transcoders", package: root)]
        ),
        // ProxyHeaderParser (v1 and v2, any chunking, any limit) and CIDR.
        .executableTarget(
            name: "ProxyHeaderFuzzer",
            dependencies: [
                "FuzzSupport",
                .product(name: "StreamPorts", package: root),
                .product(name: "StreamPortsTestSupport", package: root),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // ClientStream.readLine (and character / byte reads) over an EmbeddedChannel.
        .executableTarget(
            name: "LineReaderFuzzer",
            dependencies: [
                "FuzzSupport",
                .product(name: "StreamPorts", package: root),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        // A server-side TLS stream fed TLS-record garbage: before the handshake, after it, and
        // as tampered records (EmbeddedChannels, virtual time). Needs the openssl tool.
        .executableTarget(
            name: "TLSRecordFuzzer",
            dependencies: [
                "FuzzSupport",
                .product(name: "StreamPorts", package: root),
                .product(name: "StreamPortsTestSupport", package: root),
                .product(name: "StreamPortsTLS", package: root),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ]
)
