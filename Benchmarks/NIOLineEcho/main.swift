// NIOLineEcho: the reference SwiftNIO line echo used by scripts/bench.sh.
//
// A minimal, idiomatic channel-handler server: one event loop per core, a ByteToMessageDecoder
// that frames on "\n" (what swift-nio-extras' LineBasedFrameDecoder does), and a handler that
// echoes every complete line + "\n", coalescing one read batch into a single write that it
// flushes in channelReadComplete. NIOCore's BackPressureHandler stops reading while the peer
// does not drain its echoes. A trailing partial line at EOF is dropped.
//
//     NIOLineEcho [--host 127.0.0.1] [--port 0]
//
// The first stdout line is `listening on HOST:PORT` (port 0 picks a free port).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix

/// Splits the inbound byte stream on "\n"; emits each line without its terminator.
struct NewlineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            return .needMoreData
        }
        let line = buffer.readSlice(length: newline - buffer.readerIndex)!
        buffer.moveReaderIndex(forwardBy: 1)
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

/// Writes each line + "\n" back; one coalesced write + flush per read batch.
final class LineEchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var pending: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = Self.unwrapInboundIn(data)
        if self.pending == nil {
            self.pending = context.channel.allocator.buffer(capacity: max(line.readableBytes + 1, 4096))
        }
        self.pending!.writeImmutableBuffer(line)
        self.pending!.writeInteger(UInt8(ascii: "\n"))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let out = self.pending {
            self.pending = nil
            context.write(Self.wrapOutboundOut(out), promise: nil)
        }
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension LineEchoHandler: Sendable {}

func usage() -> Never {
    fputs("usage: NIOLineEcho [--host 127.0.0.1] [--port 0]\n", stderr)
    exit(2)
}

var host = "127.0.0.1"
var port = 0
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    switch arg {
    case "--host":
        guard let value = args.popFirst() else { usage() }
        host = value
    case "--port":
        guard let value = args.popFirst(), let p = Int(value), (0...65535).contains(p) else { usage() }
        port = p
    default:
        usage()
    }
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandlers(
                BackPressureHandler(),
                ByteToMessageHandler(NewlineFrameDecoder()),
                LineEchoHandler()
            )
        }
    }
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelOption(.maxMessagesPerRead, value: 16)
    .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator())

let serverChannel = try bootstrap.bind(host: host, port: port).wait()
let boundPort = serverChannel.localAddress?.port ?? port
print("listening on \(host):\(boundPort)")
fflush(nil)  // flush stdout now, even when it is a pipe

try serverChannel.closeFuture.wait()
try group.syncShutdownGracefully()
