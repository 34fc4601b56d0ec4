import FuzzSupport
import NIOCore
import NIOEmbedded
import NIOSSL
import StreamPortsTestSupport
import Synchronization

@testable import StreamPorts
@testable import StreamPortsTLS

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A server-side TLS stream fed random TLS-record garbage, over EmbeddedChannels (no sockets,
/// no threads, virtual time). Header: the mode, then the chunking (see ``Chunking``); the rest
/// is the payload.
///
/// - Mode 0 (`byte % 3 == 0`), garbage before any handshake: the payload is delivered to a fresh
///   server stream as what a client sent. Properties: no crash; no plaintext reaches the
///   stream; the handshake never succeeds; once the handshake timeout has passed (virtual
///   time), the connection is closed.
/// - Mode 1, garbage after a real handshake: a real client (swift-nio-ssl) completes the
///   handshake, then the payload is delivered as further records. Properties: no crash; no
///   plaintext reaches the stream (nothing can be forged without the keys).
/// - Mode 2, records tampered with: after a real handshake the client sends a known plaintext;
///   its records are XORed with the payload (as offset/mask byte pairs) before delivery.
///   Properties: what reaches the stream is a prefix of the plaintext sent, and all of it when
///   no byte was changed.
@_cdecl("LLVMFuzzerTestOneInput")
public func tlsRecordFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte() % 3
    let chunking = Chunking(&input)
    let payload = input.rest
    let label = "mode \(mode), \(chunking), payload [\(hex(payload.prefix(256)))\(payload.count > 256 ? " …" : "")]"

    let server = ServerSide()
    defer { server.finish() }
    switch mode {
    case 0:
        for chunk in chunking.split(payload) { server.deliver(chunk) }
        require(server.received.isEmpty, "\(label): plaintext \(hex(server.received)) from garbage")
        require(server.handshake != .succeeded, "\(label): a handshake completed on garbage")
        server.loop.advanceTime(by: .nanoseconds(nanoseconds(serverContext.handshakeTimeout)) + .seconds(1))
        require(!server.channel.isActive, "\(label): still open after the handshake timeout")
        require(server.handshake == .failed, "\(label): handshake not failed after the timeout")
    default:
        let client = ClientSide()
        defer { client.finish() }
        shuttle(client.channel, server)
        require(server.handshake == .succeeded, "\(label): the real handshake failed")
        if mode == 1 {
            for chunk in chunking.split(payload) { server.deliver(chunk) }
            require(server.received.isEmpty, "\(label): plaintext \(hex(server.received)) from garbage records")
        } else {
            client.channel.writeAndFlush(ByteBuffer(bytes: plaintext), promise: nil)
            var records = client.outbound()
            var changed = false
            if !records.isEmpty {
                var pairs = payload[...]
                while pairs.count >= 2 {
                    let offset = Int(pairs.removeFirst()) * 7 % records.count
                    let mask = pairs.removeFirst()
                    records[offset] ^= mask
                    changed = changed || mask != 0
                }
            }
            for chunk in chunking.split(records) { server.deliver(chunk) }
            let got = server.received
            require(
                got.count <= plaintext.count && Array(plaintext.prefix(got.count)) == got,
                "\(label): received \(hex(got)) is not a prefix of what was sent")
            if !changed { require(got == plaintext, "\(label): untampered records gave \(hex(got))") }
        }
    }
    return 0
}

/// What the client sends in mode 2: several lines, more than one record's worth.
private let plaintext: [UInt8] = Array((0..<40).map { "line \($0) ✓ of the tamper test\n" }.joined().utf8)

enum Outcome { case pending, succeeded, failed }

final class OutcomeBox: Sendable {
    let value = Mutex(Outcome.pending)
}

/// A server-side stream's channel: StreamHandler behind the TLS handlers, as `tcpServerStream(_:tls:)` makes it.
final class ServerSide {
    let loop = EmbeddedEventLoop()
    let channel: EmbeddedChannel
    let shared = StreamShared()
    private let outcome = OutcomeBox()
    var handshake: Outcome { outcome.value.withLock { $0 } }

    init() {
        channel = EmbeddedChannel(loop: loop)
        try! channel.pipeline.syncOperations.addHandler(StreamHandler(shared: shared))
        let future = try! TLSChannelSecurity(context: serverContext).secure(channel)
        future.whenComplete { [outcome] result in
            outcome.value.withLock { if case .success = result { $0 = .succeeded } else { $0 = .failed } }
        }
        try! channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
    }

    /// Delivers bytes as received from the network (dropped once closed).
    func deliver(_ bytes: [UInt8]) {
        guard channel.isActive, !bytes.isEmpty else { return }
        _ = try? channel.writeInbound(ByteBuffer(bytes: bytes))
    }

    /// What the server wrote to the network since last asked.
    func outbound() -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
        return bytes
    }

    /// The plaintext that reached the stream.
    var received: [UInt8] {
        shared.state.withLock { s in s.inbound.flatMap { Array($0.readableBytesView) } }
    }

    /// Closes (a TLS shutdown waits for the peer's close_notify: virtual time passes it) and
    /// tears down.
    func finish() {
        channel.close(promise: nil)
        loop.advanceTime(by: .seconds(60))
        _ = try? channel.finish(acceptAlreadyClosed: true)
        try? loop.syncShutdownGracefully()
    }
}

/// A real TLS client (no certificate verification: the fuzzer's certificate is throwaway).
final class ClientSide {
    let channel = EmbeddedChannel()

    init() {
        try! channel.pipeline.syncOperations.addHandler(
            try! NIOSSLClientHandler(context: clientContext, serverHostname: nil))
        try! channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40001)).wait()
    }

    func outbound() -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
        return bytes
    }

    func finish() {
        channel.close(promise: nil)
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        _ = try? channel.finish(acceptAlreadyClosed: true)
    }
}

/// Moves bytes both ways until neither side has more to say.
func shuttle(_ client: EmbeddedChannel, _ server: ServerSide) {
    for _ in 0..<20 {
        let toServer = ClientSide.drain(client)
        server.deliver(toServer)
        let toClient = server.outbound()
        if !toClient.isEmpty { _ = try? client.writeInbound(ByteBuffer(bytes: toClient)) }
        if toServer.isEmpty && toClient.isEmpty { return }
    }
}

extension ClientSide {
    static func drain(_ channel: EmbeddedChannel) -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
        return bytes
    }
}

let clientContext: NIOSSLContext = {
    var configuration = TLSConfiguration.makeClientConfiguration()
    configuration.certificateVerification = .none
    return try! NIOSSLContext(configuration: configuration)
}()

/// A throwaway self-signed certificate made with the `openssl` tool at start-up (no key is
/// committed), read into a server context, then deleted.
let serverContext: TLSContext = {
    var template = Array("/tmp/tls-fuzz-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { fail("mkdtemp: errno \(errno)") }
    let dir = String(cString: made)
    let command =
        "cd '\(dir)' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out c.pem -subj /CN=localhost -days 2 >/dev/null 2>&1"
    var pid: pid_t = 0
    let words: [String] = ["/bin/sh", "-c", command]
    let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    require(posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ) == 0, "cannot run /bin/sh")
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    defer { _ = unlink("\(dir)/k.pem"); _ = unlink("\(dir)/c.pem"); _ = rmdir(dir) }
    do {
        return try TLSContext.server(
            certificateChain: "\(dir)/c.pem", privateKey: "\(dir)/k.pem", handshakeTimeout: .seconds(10))
    } catch {
        fail("the openssl tool did not make a certificate (status \(status)): \(error)")
    }
}()
