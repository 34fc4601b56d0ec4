import NIOCore
import NIOSSL
import NIOTLS
import StreamPorts
import Synchronization

/// The first handler of a secured pipeline: lets ``TLSSessionHandler`` close the socket
/// directly, without a TLS shutdown (a handshake that failed or timed out, an abort).
final class TLSRawGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Closes the socket now; pending TLS output is dropped.
    func closeNow(promise: EventLoopPromise<Void>?) {
        if let context { context.close(mode: .all, promise: promise) } else { promise?.succeed(()) }
    }
}

/// Sits between `NIOSSLHandler` and the stream's handler. It:
/// - completes the handshake promise (with a ``TLSSession``) or fails it with a
///   ``StreamPortError`` that says why;
/// - enforces the handshake timeout;
/// - asks the channel for reads while it handshakes and while closing waits for the peer's
///   close_notify (`autoRead` is off, and the stream asks only while it wants bytes);
/// - ends the stream on an EOF without close_notify as on a FIN, remembering which it was;
/// - closes the socket directly, without a TLS shutdown, when the handshake did not complete
///   or the stream is being aborted (SO_LINGER 0).
final class TLSSessionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase { case handshaking, established, failed }

    private let promise: EventLoopPromise<any Sendable>
    private let timeout: Duration
    private let gate: TLSRawGate
    /// A client's server name, verified against the certificate's DNS names only.
    private let verifiedName: String?
    private var phase = Phase.handshaking
    private var timer: Scheduled<Void>?
    private var closing = false
    private var closingAll = false
    private var session: TLSSession?
    private var peer = "the peer"

    init(promise: EventLoopPromise<any Sendable>, timeout: Duration, gate: TLSRawGate, verifiedName: String?) {
        self.verifiedName = verifiedName
        self.promise = promise
        self.timeout = timeout
        self.gate = gate
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        start(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // A channel torn down before it became active (a refused connect) never handshook.
        guard phase == .handshaking else { return }
        phase = .failed
        timer?.cancel()
        promise.fail(
            StreamPortError(
                .tlsHandshakeFailed, "TLS handshake with \(peer) failed: the connection closed before the handshake"))
    }

    private func start(context: ChannelHandlerContext) {
        guard timer == nil, phase == .handshaking else { return }
        if let remote = context.channel.remoteAddress { peer = TLSInfo.describe(remote) }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds(timeout))) {
            let (handler, context) = loopBound.value
            handler.timedOut(context: context)
        }
        context.read()
    }

    private func timedOut(context: ChannelHandlerContext) {
        guard phase == .handshaking else { return }
        fail(
            StreamPortError(
                .tlsHandshakeFailed, "TLS handshake with \(peer) failed: it did not complete within \(timeout)"),
            context: context)
    }

    private func fail(_ error: StreamPortError, context: ChannelHandlerContext) {
        phase = .failed
        timer?.cancel()
        promise.fail(error)
        context.fireErrorCaught(error)  // the stream ends with it and closes the channel
        gate.closeNow(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted(let alpn) = event, phase == .handshaking {
            let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self)
            if let name = verifiedName, let certificate = tls?.peerCertificate,
                !NameCheck.matches(certificate, name: name)
            {
                let names = NameCheck.dnsNames(certificate).joined(separator: ", ")
                let why =
                    "name mismatch: \(name) is not a DNS name of the peer's certificate (\(TLSInfo.subject(of: certificate)); DNS names: \(names.isEmpty ? "none" : names))"
                fail(
                    StreamPortError(.tlsHandshakeFailed, "TLS handshake with \(peer) failed: \(why)"), context: context)
                return
            }
            phase = .established
            timer?.cancel()
            let info = TLSInfo(
                version: tls?.tlsVersion, peerCertificate: tls?.peerCertificate, negotiatedProtocol: alpn)
            let session = TLSSession(info: info)
            self.session = session
            promise.succeed(session)
        } else if case TLSUserEvent.shutdownCompleted = event {
            // Both close_notify alerts have crossed. When this side had closed its output
            // first, NIOSSLHandler closes the channel at once and fires `inputClosed` only
            // after `channelInactive`, which a reader may already have seen: record the clean
            // ending now, before the channel closes.
            session?.inputEnded(.closeNotify)
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            session?.inputEnded(.closeNotify)  // no effect after an unclean shutdown
            // Closing, our close_notify sent, the peer's received: with half-closure allowed,
            // NIOSSLHandler would wait for its shutdown timeout before closing the socket.
            if closingAll { gate.closeNow(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch phase {
        case .handshaking:
            let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate()
            fail(TLSErrorMapping.handshakeError(error, peer: peer, peerCertificate: certificate), context: context)
        case .failed:
            break  // the first failure is the one reported
        case .established:
            if case .uncleanShutdown? = error as? NIOSSLError {
                // EOF without close_notify: the stream ends as on a FIN (the inputClosed event
                // or channelInactive follows); `tlsInputEnding` tells the two apart.
                session?.inputEnded(.uncleanShutdown)
                return
            }
            if error is NIOSSLCloseTimedOutError { return }
            context.fireErrorCaught(TLSErrorMapping.sessionError(error, peer: peer) ?? error)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if phase == .handshaking {
            phase = .failed
            timer?.cancel()
            let error = StreamPortError(
                .tlsHandshakeFailed, "TLS handshake with \(peer) failed: the connection closed during the handshake")
            promise.fail(error)
            context.fireErrorCaught(error)
        }
        context.fireChannelInactive()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        // Closing: the peer's close_notify has to be read even if the stream reads no more.
        if closing { context.read() }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all else {
            if mode == .output, phase == .established { startClosing(context: context) }
            context.close(mode: mode, promise: promise)
            return
        }
        guard phase == .established else {
            gate.closeNow(promise: promise)
            return
        }
        // ClientStream.abort() sets SO_LINGER 0 before closing: reset at once, no shutdown.
        guard let provider = context.channel as? any SocketOptionProvider else {
            startClosing(context: context)
            closingAll = true
            context.close(mode: .all, promise: promise)
            return
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        provider.getSoLinger().whenComplete { result in
            let (handler, context) = loopBound.value
            if case .success(let linger) = result, linger.l_onoff != 0, linger.l_linger == 0 {
                handler.gate.closeNow(promise: promise)
            } else {
                handler.startClosing(context: context)
                handler.closingAll = true
                context.close(mode: .all, promise: promise)
            }
        }
    }

    private func startClosing(context: ChannelHandlerContext) {
        closing = true
        context.read()
    }
}

/// The shared state of one secured connection: what the handshake settled, and how the peer
/// ended its input.
final class TLSSession: Sendable {
    let info: TLSInfo
    private let ending = Mutex<TLSInputEnding?>(nil)

    init(info: TLSInfo) { self.info = info }

    /// How the peer's input ended, once it has.
    var inputEnding: TLSInputEnding? { ending.withLock { $0 } }

    func inputEnded(_ how: TLSInputEnding) {
        ending.withLock { if $0 == nil { $0 = how } }
    }
}

/// The ``ChannelSecurity`` StreamPortsTLS plugs into the core: a context, the name to verify
/// (clients), and the failure log and count (servers).
final class TLSChannelSecurity: ChannelSecurity {
    let context: TLSContext
    /// SNI and the name verified (clients); nil: verify the IP address connected to.
    let serverName: String?
    let failureLog: HandshakeFailureLog?

    init(context: TLSContext, serverName: String? = nil, failureLog: HandshakeFailureLog? = nil) {
        self.context = context
        self.serverName = serverName
        self.failureLog = failureLog
    }

    func secure(_ channel: any Channel) throws -> EventLoopFuture<any Sendable> {
        let tls: NIOSSLHandler
        switch context.role {
        case .server:
            tls = NIOSSLServerHandler(context: context.ssl)
        case .client:
            do {
                tls = try NIOSSLClientHandler(context: context.ssl, serverHostname: serverName)
            } catch {
                throw StreamPortError(
                    .tlsInvalidUserData, "server name \"\(serverName ?? "")\" cannot be used for SNI: \(error)")
            }
        }
        let promise = channel.eventLoop.makePromise(of: (any Sendable).self)
        let gate = TLSRawGate()
        let operations = channel.pipeline.syncOperations
        let session = TLSSessionHandler(
            promise: promise, timeout: context.handshakeTimeout, gate: gate,
            verifiedName: context.role == .client ? serverName : nil)
        try operations.addHandler(session, position: .first)
        try operations.addHandler(tls, position: .first)
        try operations.addHandler(gate, position: .first)
        return promise.futureResult
    }

    func serverHandshakeFailed(_ error: any Error, peer: String) {
        failureLog?.record(error, peer: peer)
    }
}
