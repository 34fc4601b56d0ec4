import NIOCore
import Testing

@testable import StreamPorts
@testable import StreamPortsTLS

/// Writes `prefix` in front of the first bytes the connection sends (a TLS client's
/// ClientHello), in the same buffer: the PROXY header and the ClientHello leave in one
/// segment, as a load balancer passing TLS through sends them.
final class PrefixFirstWrite: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var prefix: [UInt8]?

    init(_ prefix: [UInt8]) { self.prefix = prefix }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard let prefix else { return context.write(data, promise: promise) }
        self.prefix = nil
        var body = unwrapOutboundIn(data)
        var joined = context.channel.allocator.buffer(capacity: prefix.count + body.readableBytes)
        joined.writeBytes(prefix)
        joined.writeBuffer(&body)
        context.write(wrapOutboundOut(joined), promise: promise)
    }
}

/// A TLS client whose first segment is a PROXY header followed by its ClientHello.
struct ProxiedTLSClient: ChannelSecurity {
    let header: [UInt8]
    let tls: TLSChannelSecurity

    func secure(_ channel: any Channel) throws -> EventLoopFuture<any Sendable> {
        let handshake = try tls.secure(channel)
        try channel.pipeline.syncOperations.addHandler(PrefixFirstWrite(header), position: .first)
        return handshake
    }

    func serverHandshakeFailed(_ error: any Error, peer: String) {}
}

@Suite("PROXY protocol in front of TLS", .timeLimit(.minutes(1)))
struct ProxyTLSTests {
    /// Connects to `server` sending `header` and the ClientHello in one segment.
    func connectProxied(_ server: ServerStream, header: [UInt8]) async throws -> ClientStream {
        let security = ProxiedTLSClient(header: header, tls: TLSChannelSecurity(context: clientTLS))
        return try await connect(
            StreamAddress.parse(loopback(server)), keepAlive: false, coalesce: false,
            transcoder: Transcoder(eolStyle: .lf), connectTimeout: .seconds(5), maxLineLength: 1 << 20,
            security: security)
    }

    @Test("a PROXY header then the ClientHello in the same segment: header, handshake, stream")
    func clientHelloRightAfterTheHeader() async throws {
        let log = CapturedLog()
        let server = try await tcpServerStream(
            "127.0.0.1:0", tls: serverTLS, transcoder: Transcoder(eolStyle: .lf), logger: log.logger,
            proxyProtocol: try .init(trustedSources: ["127.0.0.1/32"]))
        let accepted = Task { await server.read() }
        let header = Array("PROXY TCP4 192.0.2.44 198.51.100.2 50123 7443\r\n".utf8)
        let client = try await connectProxied(server, header: header)
        let serverSide = try #require(await accepted.value)
        #expect(serverSide.tls?.protocolVersion == "TLSv1.3")
        #expect(serverSide.remoteEndpoint == "192.0.2.44:50123")
        #expect(serverSide.localEndpoint == "198.51.100.2:7443")
        #expect(serverSide.socketRemoteEndpoint == client.localEndpoint)
        #expect(serverSide.proxyHeader?.version == 1)
        try client.showln("secret ✓")
        try await client.flushWriter()
        #expect(try await serverSide.readLine() == "secret ✓")
        try serverSide.showln("back")
        try await serverSide.flushWriter()
        #expect(try await client.readLine() == "back")
        await client.abort()
        await serverSide.abort()
        await server.close()
        #expect(log.text.contains("192.0.2.44:50123: connected"), "\(log.text)")
        #expect(server.proxyHeaderFailures == 0 && server.tlsHandshakeFailures == 0)
    }

    @Test("without a PROXY header a TLS client is refused before any handshake")
    func tlsWithoutHeaderIsRefused() async throws {
        let log = CapturedLog()
        let server = try await tcpServerStream(
            "127.0.0.1:0", tls: serverTLS, logger: log.logger, proxyProtocol: .init())
        await expectError(.tlsHandshakeFailed) {
            _ = try await tcpClientStream(loopback(server), tls: clientTLS)
        }
        #expect(server.proxyHeaderFailures == 1)
        #expect(server.tlsHandshakeFailures == 0)
        #expect(log.text.contains("invalid PROXY protocol header"), "\(log.text)")
        await server.close()
    }
}
