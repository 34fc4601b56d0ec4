import NIOCore
import Synchronization

/// State shared between a connection's event loop (the handler) and the stream's user.
///
/// Waiters are `UnsafeContinuation`s (no checking object allocated per wait, on the per-line
/// path): each is stored and taken out under ``state``'s lock, so it is resumed exactly once.
final class StreamShared: Sendable {
    struct State {
        var inbound = CircularBuffer<ByteBuffer>(initialCapacity: 2)
        var inboundBytes = 0
        var inputEnded = false
        var failure: StreamPortError?
        var readWaiter: UnsafeContinuation<Void, Never>?
        var readInFlight = true  // the handler asks for the first read when active
        var waitTimedOut = false
        var writable = true
        /// Tasks waiting for writability, by ticket: the writing task's flushWriter and the
        /// reading task's automatic flush may wait at the same time.
        var writeWaiters: [Int: UnsafeContinuation<Void, Never>] = [:]
        var writeTickets = 0
        var closed = false
        /// The peer's end of input (its FIN) or the connection's end arrived; ``inputEnded``
        /// may also be set by ``stopReading()`` without it.
        var peerFinished = false
        /// Input is read and dropped (a lingering close), and the channel closed at the peer's
        /// end of input.
        var discarding = false
        /// ``stopReading()`` found the reader with nothing unread: an idle connection, which a
        /// lingering close closes at once.
        var idleAtStop = false
        /// The reader, about to wait, held no unread byte, and has taken none since.
        var readerDrained = false
        /// ``stopReading(waitingForFirstBytes:)`` came before any byte: the input ends after
        /// the first read that brings some.
        var stopAfterFirstBytes = false
        /// Bytes received, in all (the access log's figure).
        var bytesIn = 0
        /// Lines the reader has read, as of its last wait (it counts in its own state and
        /// adds here when it takes the lock anyway).
        var linesIn = 0
        /// Why the connection ended, as far as known: the last error thrown to the reader or
        /// writer, `shutdown`, or `eof`.
        var ending: String?
    }

    /// Unread input the handler keeps asking the socket for (TCP pushes back above it).
    static let inboundHighWater = 256 * 1024
    /// Buffered output handed to the channel without waiting for a flush, so that NIO's write
    /// watermarks see it (and the reader stops taking input while the channel is unwritable).
    static let outputHandOff = 256 * 1024

    let state = Mutex(State())
    /// Told about arrivals, closes and completed writes (``TCPSocket``'s events); nil for
    /// plain streams, which then pay nothing for it.
    let observer: (@Sendable (StreamObservation) -> Void)?
    /// What the security layer (TLS) reported when its handshake completed; nil in plaintext.
    let session = Mutex<(any Sendable)?>(nil)
    /// The PROXY protocol header the connection started with; nil without the protocol. Set
    /// on the event loop before the stream is handed out.
    let proxied = Mutex<ProxiedConnection?>(nil)

    /// The server's metrics, for an accepted connection when a backend is bootstrapped.
    let metrics: ServerMetrics?
    /// When the connection was set up (the access log's duration).
    let openedAt: ContinuousClock.Instant

    init(observer: (@Sendable (StreamObservation) -> Void)? = nil, metrics: ServerMetrics? = nil) {
        self.observer = observer
        self.metrics = metrics
        self.openedAt = .now
    }

    /// Records why the connection is ending: `reason` replaces an earlier one, unless
    /// `ifUnset`.
    func noteEnding(_ reason: String, ifUnset: Bool = false) {
        state.withLock { s in
            if !ifUnset || s.ending == nil { s.ending = reason }
        }
    }

    /// Records an error thrown to the stream's user: the connection's ending reason, and the
    /// server's error counter.
    func noteError(_ error: StreamPortError) {
        noteEnding(error.code == .timedOut ? "idle_timeout" : error.code.rawValue)
        metrics?.error(error.code)
    }

    // MARK: Event loop side

    func received(_ buffer: ByteBuffer) {
        let available = state.withLock { s -> Int? in
            s.bytesIn &+= buffer.readableBytes
            if s.discarding { return nil }  // a lingering close drops what still comes
            s.inboundBytes += buffer.readableBytes
            s.inbound.append(buffer)
            return s.inboundBytes
        }
        metrics?.bytesIn.increment(by: buffer.readableBytes)  // once per read from the socket
        if let available { observer?(.received(available)) }
    }

    /// Wakes the reader; returns true when the handler should read again at once.
    func readComplete() -> Bool {
        let (waiter, again) = state.withLock { s -> (UnsafeContinuation<Void, Never>?, Bool) in
            let w = s.readWaiter
            s.readWaiter = nil
            if s.stopAfterFirstBytes && s.bytesIn > 0 {
                s.stopAfterFirstBytes = false
                if !s.inputEnded { s.ending = "shutdown" }
                s.inputEnded = true
            }
            let again = s.discarding || (s.inboundBytes < StreamShared.inboundHighWater && !s.inputEnded)
            s.readInFlight = again
            return (w, again)
        }
        waiter?.resume()
        return again
    }

    func inputEnded(failure: StreamPortError? = nil, closed: Bool = false) {
        let (reader, writers) = state.withLock {
            s -> (UnsafeContinuation<Void, Never>?, [UnsafeContinuation<Void, Never>]) in
            s.inputEnded = true
            s.peerFinished = true
            if let failure { s.ending = failure.code.rawValue } else if s.ending == nil { s.ending = "eof" }
            if let failure, s.failure == nil { s.failure = failure }
            if closed { s.closed = true; s.writable = true }
            let r = s.readWaiter
            s.readWaiter = nil
            let w = closed ? Array(s.writeWaiters.values) : []
            if closed { s.writeWaiters.removeAll() }
            return (r, w)
        }
        reader?.resume()
        for writer in writers { writer.resume() }
        if let observer {
            if let failure { observer(.failed(failure)) }
            observer(closed ? .closed : .inputEnded)
        }
    }

    func writabilityChanged(_ writable: Bool) {
        let waiters = state.withLock { s -> [UnsafeContinuation<Void, Never>] in
            s.writable = writable
            guard writable else { return [] }
            let w = Array(s.writeWaiters.values)
            s.writeWaiters.removeAll()
            return w
        }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Shutdown

    /// Ends the input where it stands, as if the peer had finished: what was received is still
    /// read, then reads return end of stream, and no more is asked of the socket. A reader
    /// waiting for the network is woken. (A server's graceful shutdown; the peer may well still
    /// be sending, which a lingering close then takes care of.)
    ///
    /// `waitingForFirstBytes`: a connection that has received nothing yet (accepted just
    /// before the shutdown: its first line is in flight, or still in the socket) instead ends
    /// its input after the first read that brings bytes; returns true when it did so, and the
    /// caller stops it for good a little later.
    @discardableResult
    func stopReading(waitingForFirstBytes: Bool = false) -> Bool {
        let (reader, deferred) = state.withLock { s -> (UnsafeContinuation<Void, Never>?, Bool) in
            if waitingForFirstBytes && s.bytesIn == 0 && !s.inputEnded {
                s.stopAfterFirstBytes = true
                return (nil, true)
            }
            s.stopAfterFirstBytes = false
            s.idleAtStop = !s.inputEnded && s.readerDrained && s.inbound.isEmpty
            if !s.inputEnded { s.ending = "shutdown" }
            s.inputEnded = true
            let r = s.readWaiter
            s.readWaiter = nil
            return (r, false)
        }
        reader?.resume()
        return deferred
    }

    /// Starts dropping input until the peer's end of input; true when there is nothing to wait
    /// for (that end has come, or the connection was idle when its input was stopped), and
    /// whether a read must be requested to get things going.
    func beginDiscarding() -> (finished: Bool, requestRead: Bool) {
        state.withLock { s in
            if s.peerFinished || s.closed || s.idleAtStop { return (true, false) }
            s.discarding = true
            s.inbound.removeAll()
            s.inboundBytes = 0
            let request = !s.readInFlight
            s.readInFlight = true
            return (false, request)
        }
    }

    /// True while input is being dropped (the handler then closes at the peer's end).
    var isDiscarding: Bool { state.withLock { $0.discarding } }

    /// Resumes a waiting reader (timeout or cancellation).
    func interruptReader(timedOut: Bool) {
        let waiter = state.withLock { s -> UnsafeContinuation<Void, Never>? in
            let w = s.readWaiter
            s.readWaiter = nil
            if w != nil && timedOut { s.waitTimedOut = true }
            return w
        }
        waiter?.resume()
    }

    /// Resumes the writer waiting with `ticket` (timeout or cancellation).
    func interruptWriter(_ ticket: Int) {
        state.withLock { s -> UnsafeContinuation<Void, Never>? in
            s.writeWaiters.removeValue(forKey: ticket)
        }?.resume()
    }
}

/// What a ``StreamShared`` observer is told.
enum StreamObservation: Sendable {
    /// Bytes arrived; the count of unread received bytes.
    case received(Int)
    /// The peer closed its side (end of stream).
    case inputEnded
    /// The connection is closed.
    case closed
    /// The connection failed.
    case failed(StreamPortError)
    /// This many bytes were written to the socket.
    case wrote(Int)
}

/// Feeds a connection's bytes and events into its ``StreamShared``.
final class StreamHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let shared: StreamShared

    init(shared: StreamShared) { self.shared = shared }

    func channelActive(context: ChannelHandlerContext) {
        context.read()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        shared.received(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if shared.readComplete() { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            shared.inputEnded()
            if shared.isDiscarding { context.close(promise: nil) }  // a lingering close is over
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        shared.inputEnded(closed: true)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        shared.writabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let mapped = StreamPortError.from(error, context.remoteAddress?.streamDescription ?? "connection")
        shared.inputEnded(failure: mapped)
        context.close(promise: nil)
    }
}
