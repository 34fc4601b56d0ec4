import Logging
import NIOCore
import Synchronization

/// A server's PROXY protocol settings and its failure log and count, shared by its
/// connections' ``ProxyHeaderHandler``s.
package final class ProxyProtocolGate: Sendable {
    /// The trusted sources and the header timeout.
    package let configuration: ProxyProtocolConfiguration
    private let logger: Logger
    private let failureLog = LogRateLimiter()
    private let failureCount = Atomic<Int>(0)

    /// - Parameters:
    ///   - configuration: the trusted sources and the header timeout.
    ///   - logger: where refused connections are logged (rate-limited, at `.warning`).
    package init(configuration: ProxyProtocolConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// How many connections were closed for their PROXY header so far.
    package var failures: Int { failureCount.load(ordering: .relaxed) }

    /// Counts and logs (rate-limited) a connection refused for its header.
    func refused(peer: String, reason: String, metrics: ServerMetrics?) {
        failureCount.add(1, ordering: .relaxed)
        metrics?.error(.proxyHeader)
        failureLog.log(logger, .warning, "\(peer): connection closed: \(reason)")
    }
}

/// The header a connection's PROXY protocol step received, kept for its stream.
final class ProxiedConnection: Sendable {
    /// The header (LOCAL included).
    let header: ProxyHeader

    init(header: ProxyHeader) { self.header = header }

    /// The original client, when the header tells it (PROXY with addresses).
    var source: ProxyHeader.Endpoint? { header.command == .proxy ? header.source : nil }
    /// The original destination, when the header tells it.
    var destination: ProxyHeader.Endpoint? { header.command == .proxy ? header.destination : nil }
}

/// The first handler of an accepted connection on a server with the PROXY protocol on: reads
/// (asking for reads itself: `autoRead` is off) until ``ProxyHeaderParser`` has a complete
/// header, within the header timeout, from a trusted source only. Then it removes itself,
/// calls `admit` (which adds the TLS handlers, if any, and queues the stream) and passes the
/// bytes that followed the header down the pipeline: nothing after the header is lost. On any
/// failure the connection is closed, counted and logged, and never admitted.
final class ProxyHeaderHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum Phase { case waiting, admitted, refused }

    private let gate: ProxyProtocolGate
    private let metrics: ServerMetrics?
    private let admit: (ProxyHeader) throws -> Void
    private var parser = ProxyHeaderParser()
    private var phase = Phase.waiting
    private var started = false
    private var received = 0
    private var timer: Scheduled<Void>?

    /// - Parameters:
    ///   - gate: the server's settings, log and count.
    ///   - metrics: the server's metrics, if collected.
    ///   - admit: called on the event loop with the header, once this handler has left the
    ///     pipeline and before the bytes after the header are passed on.
    init(
        gate: ProxyProtocolGate, metrics: ServerMetrics?,
        admit: @escaping (ProxyHeader) throws -> Void
    ) {
        self.gate = gate
        self.metrics = metrics
        self.admit = admit
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        start(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    private func start(context: ChannelHandlerContext) {
        guard !started, phase == .waiting else { return }
        started = true
        guard let peer = context.channel.remoteAddress, gate.configuration.trusts(peer) else {
            refuse("PROXY protocol: untrusted source (not in the trusted sources)", context: context)
            return
        }
        let timeout = gate.configuration.headerTimeout
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            let (handler, context) = loopBound.value
            handler.refuse(
                "PROXY protocol: no complete header within \(timeout) (\(handler.received) byte(s) received)",
                context: context)
        }
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase == .waiting else { return }  // refused: drop whatever still comes
        var buffer = unwrapInboundIn(data)
        received += buffer.readableBytes
        let result: ProxyHeaderParser.Result
        do {
            result = try parser.parse(buffer)
        } catch {
            refuse(error.message, context: context)
            return
        }
        guard case .header(let header, let consumed) = result else { return }
        buffer.moveReaderIndex(forwardBy: consumed)
        phase = .admitted
        timer?.cancel()
        timer = nil
        let pipeline = context.pipeline.syncOperations
        pipeline.removeHandler(context: context, promise: nil)
        do {
            try admit(header)
        } catch {
            refuse("PROXY protocol: cannot set up the connection after the header: \(error)", context: context)
            return
        }
        // The bytes behind the header (pipelined lines, a TLS ClientHello) go down the
        // pipeline from its head, through the handlers `admit` may have added.
        if buffer.readableBytes > 0 { pipeline.fireChannelRead(NIOAny(buffer)) }
        pipeline.fireChannelReadComplete()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Swallowed while waiting: the stream's handler asks for reads only once admitted.
        if phase == .waiting { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if phase == .waiting, let event = event as? ChannelEvent, event == .inputClosed {
            refuse(
                "PROXY protocol: the peer ended its input after \(received) byte(s), before a complete header",
                context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard phase == .waiting else { return }
        refuse("PROXY protocol: \(error) after \(received) byte(s), before a complete header", context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if phase == .waiting, started {
            refuse(
                "PROXY protocol: the connection closed after \(received) byte(s), before a complete header",
                context: context)
        }
        context.fireChannelInactive()
    }

    private func refuse(_ reason: String, context: ChannelHandlerContext) {
        guard phase != .refused else { return }
        phase = .refused
        timer?.cancel()
        timer = nil
        let channel = context.channel  // `context` may have left the pipeline (admit failed)
        gate.refused(peer: channel.remoteAddress?.streamDescription ?? "a client", reason: reason, metrics: metrics)
        channel.close(promise: nil)
    }
}
