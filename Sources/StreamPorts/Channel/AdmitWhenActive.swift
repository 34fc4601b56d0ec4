import NIOCore

/// Hands an accepted connection to the server's queue once its channel is active.
///
/// NIO runs a server's child-channel initializer before it registers the accepted socket with
/// its event loop; registration and `channelActive` come later, in a task of their own. A
/// stream pushed to `read()` from the initializer could be written to and closed by its
/// handler before that: its output then went nowhere and the client saw the connection close
/// with nothing sent. This handler runs `admit` from `channelActive` instead (or at once if the
/// channel is active already), then leaves the pipeline.
final class AdmitWhenActive: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private var admit: (() throws -> Void)?

    /// - Parameter admit: called once, on the event loop, when the channel is active; if it
    ///   throws, the connection is closed.
    init(admit: @escaping () throws -> Void) {
        self.admit = admit
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        run(context: context)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelActive(context: ChannelHandlerContext) {
        run(context: context)
        // The handlers after this one (the stream's, which asks for the first read) see the
        // event before this one leaves: a removed context passes nothing on.
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func run(context: ChannelHandlerContext) {
        guard let admit else { return }
        self.admit = nil
        do {
            try admit()
        } catch {
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension AdmitWhenActive: Sendable {}
