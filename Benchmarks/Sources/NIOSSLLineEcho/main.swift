// NIOSSLLineEcho: the reference SwiftNIO + NIOSSL line echo used by scripts/bench.sh's TLS
// scenarios: NIOLineEcho's pipeline (BackPressureHandler, a "\n" frame decoder, a handler that
// writes each frame back and flushes once per read batch) behind an NIOSSLServerHandler, with
// one NIOSSLContext built at start-up (TLS 1.2 minimum, as StreamPortsTLS's default) and
// shared. It is what a Swift developer would write with channel handlers: the best Swift peer.
//
//     NIOSSLLineEcho --cert PEM --key PEM [--host 127.0.0.1] [--port 0]
//
// The first stdout line is `listening on HOST:PORT` (port 0 picks a free port).

import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Splits the inbound byte stream after each "\n"; emits each line with its terminator.
struct NewlineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    /// How many readable bytes are already known to hold no "\n" (a long line arrives in
    /// several reads: do not rescan its start each time).
    private var scanned = 0

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let unscanned = buffer.readableBytesView.dropFirst(self.scanned)
        guard let newline = unscanned.firstIndex(of: UInt8(ascii: "\n")) else {
            self.scanned = buffer.readableBytes
            return .needMoreData
        }
        self.scanned = 0
        let line = buffer.readSlice(length: newline - buffer.readerIndex + 1)!
        context.fireChannelRead(Self.wrapInboundOut(line))
        return .continue
    }

    mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData  // an unterminated last line is not echoed
    }
}

/// Writes each line (with its "\n") back; one flush per read batch.
final class LineEchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The inbound ByteBuffer is the outbound one: pass it on as is (no promise: no allocation).
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension LineEchoHandler: Sendable {}

func usage() -> Never {
    var message = "usage: NIOSSLLineEcho --cert PEM --key PEM [--host 127.0.0.1] [--port 0]\n"
    message.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(2)
}

var host = "127.0.0.1"
var port = 0
var certPath: String?
var keyPath: String?
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    switch arg {
    case "--host":
        guard let value = args.popFirst() else { usage() }
        host = value
    case "--port":
        guard let value = args.popFirst(), let p = Int(value), (0...65535).contains(p) else { usage() }
        port = p
    case "--cert":
        certPath = args.popFirst() ?? { usage() }()
    case "--key":
        keyPath = args.popFirst() ?? { usage() }()
    default:
        usage()
    }
}
guard let certPath, let keyPath else { usage() }

var configuration = TLSConfiguration.makeServerConfiguration(
    certificateChain: try NIOSSLCertificate.fromPEMFile(certPath).map { .certificate($0) },
    privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem)))
configuration.minimumTLSVersion = .tlsv12
let sslContext = try NIOSSLContext(configuration: configuration)

let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelInitializer { [sslContext] channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandlers(
                NIOSSLServerHandler(context: sslContext),
                BackPressureHandler(),
                ByteToMessageHandler(NewlineFrameDecoder()),
                LineEchoHandler()
            )
        }
    }
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelOption(.maxMessagesPerRead, value: 16)

let serverChannel = try bootstrap.bind(host: host, port: port).wait()
let boundPort = serverChannel.localAddress?.port ?? port
print("listening on \(host):\(boundPort)")
fflush(nil)  // flush stdout now, even when it is a pipe

try serverChannel.closeFuture.wait()
try group.syncShutdownGracefully()
