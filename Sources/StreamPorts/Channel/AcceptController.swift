import Logging
import NIOCore

/// The first handler of every listening channel: counts accepted connections into its
/// ``AcceptQueue`` (which stops accepting while its limit of connections wait for `read()`),
/// logs failed accepts, and pauses accepting for ``backoff`` after a failure for want of
/// resources (``ErrnoClass/resourceExhausted``: EMFILE, ENFILE, ENOBUFS, ENOMEM), until an
/// accept succeeds again.
///
/// Why not NIO's `AcceptBackoffHandler`: when the *first* accept of a readiness event fails,
/// NIO's server channel keeps its read pending and stays registered for readability, so the
/// event loop calls `accept` again at once, for ever (one core busy, one error per call); the
/// backoff handler's delayed read never comes into play. Turning `autoRead` off unregisters the
/// channel; turning it back on after the pause accepts again.
final class AcceptController: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    /// How long accepting pauses after a failure for want of resources.
    static let backoff: TimeAmount = .seconds(1)

    private let queue: AcceptQueue
    private let logger: Logger
    private var failures = 0
    private var failingSince: NIODeadline = .now()

    init(queue: AcceptQueue, logger: Logger) {
        self.queue = queue
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        queue.attach(context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        queue.accepted(unwrapInboundIn(data))
        if failures > 0 {
            let tenths = (NIODeadline.now() - failingSince).nanoseconds / 100_000_000
            logger.notice(
                "accepting again on \(listening(context)) after \(failures) failed attempt(s) over \(tenths / 10).\(tenths % 10) s"
            )
            failures = 0
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let io = error as? IOError else {
            context.fireErrorCaught(error)
            return
        }
        let reason = StreamPortError.fromErrno(io.errnoCode, "accepting on \(listening(context))").message
        switch ErrnoClass(io.errnoCode) {
        case .resourceExhausted:
            failures += 1
            if failures == 1 {
                failingSince = .now()
                logger.warning("\(reason); not accepting for 1 s at a time until an accept succeeds")
            } else {
                logger.debug("\(reason) (attempt \(failures))")
            }
            pause(context.eventLoop)
        case .connectionAborted:
            // A peer gave up before its connection was accepted; NIO goes on to the next one.
            logger.debug("\(reason)")
        default:
            logger.warning("\(reason)")  // NIO closes the listening channel after this one
        }
    }

    private func pause(_ eventLoop: any EventLoop) {
        let queue = self.queue
        queue.setBackingOff(true)  // on the loop: at once
        eventLoop.scheduleTask(in: AcceptController.backoff) {
            queue.setBackingOff(false)
        }
    }

    private func listening(_ context: ChannelHandlerContext) -> String {
        context.channel.localAddress?.streamDescription ?? "the listening socket"
    }
}
