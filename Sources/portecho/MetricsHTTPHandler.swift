import NIOCore
import NIOHTTP1
import Prometheus

/// One connection of the metrics endpoint, after NIO's HTTP/1 server pipeline (which decodes
/// requests, bounds their headers, answers malformed ones with 400, and holds pipelined
/// requests back until the previous response has ended):
/// - `GET /metrics` (a query string is ignored): 200, `text/plain; version=0.0.4;
///   charset=utf-8`, the registry in Prometheus text format; `HEAD` the same without a body;
/// - another path: 404; another method on `/metrics`: 405 with `Allow: GET, HEAD`;
/// - a body longer than `maxBodyBytes`: 413, and the connection closes;
/// - keep-alive as the request asks (HTTP/1.1 by default, HTTP/1.0 with `Connection:
///   keep-alive`); closed when idle for ``MetricsEndpoint/idleTimeout``.
final class MetricsHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The one path served.
    static let path = "/metrics"
    /// Prometheus's text exposition format, version 0.0.4.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private let registry: PrometheusCollectorRegistry
    private let maxBodyBytes: Int
    /// The request being received, until its end.
    private var request: HTTPRequestHead?
    private var bodyBytes = 0
    /// A response that closes the connection was sent: ignore whatever else comes.
    private var closing = false

    /// - Parameters:
    ///   - registry: what `GET /metrics` returns.
    ///   - maxBodyBytes: the longest request body accepted.
    init(registry: PrometheusCollectorRegistry, maxBodyBytes: Int) {
        self.registry = registry
        self.maxBodyBytes = maxBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
            bodyBytes = 0
        case .body(let chunk):
            bodyBytes += chunk.readableBytes
            if bodyBytes > maxBodyBytes, let head = request {
                respond(context, to: head, .payloadTooLarge, text: "request body too large\n", close: true)
            }
        case .end:
            guard let head = request else { return }
            request = nil
            answer(context, head)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// The response to a whole request.
    private func answer(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        let path = head.uri.prefix { $0 != "?" }
        guard path == Self.path else {
            respond(context, to: head, .notFound, text: "not found: only \(Self.path) is served\n")
            return
        }
        guard head.method == .GET || head.method == .HEAD else {
            respond(
                context, to: head, .methodNotAllowed, text: "method not allowed: GET or HEAD\n",
                extra: [("allow", "GET, HEAD")])
            return
        }
        let body = context.channel.allocator.buffer(bytes: registry.emitToBuffer())
        respond(context, to: head, .ok, body: body, contentType: Self.contentType)
    }

    private func respond(
        _ context: ChannelHandlerContext, to head: HTTPRequestHead, _ status: HTTPResponseStatus,
        text: String, extra: [(String, String)] = [], close: Bool = false
    ) {
        let body = context.channel.allocator.buffer(string: text)
        respond(
            context, to: head, status, body: body, contentType: "text/plain; charset=utf-8", extra: extra, close: close)
    }

    /// Writes one whole response; closes the connection after it unless the request keeps
    /// it alive (and `close` is false).
    private func respond(
        _ context: ChannelHandlerContext, to head: HTTPRequestHead, _ status: HTTPResponseStatus,
        body: ByteBuffer, contentType: String, extra: [(String, String)] = [], close: Bool = false
    ) {
        let keepAlive = head.isKeepAlive && !close
        var headers = HTTPHeaders([("content-type", contentType), ("content-length", "\(body.readableBytes)")] + extra)
        if !keepAlive {
            headers.add(name: "connection", value: "close")
        } else if head.version.major == 1 && head.version.minor == 0 {
            headers.add(name: "connection", value: "keep-alive")
        }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
            promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            closing = true
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
