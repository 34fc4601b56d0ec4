import NIOCore
import Synchronization

/// Accepted streams not yet handed out by ``ServerStream/read()``, the task waiting for one, and
/// whether the listening channel may accept more.
///
/// At most `limit` accepted connections wait (queued, or still being set up on their event
/// loops): at the limit the listening channel stops accepting (`autoRead` off), so further
/// connections wait in the kernel's listen backlog, and it starts again as soon as `read()`
/// takes one. NIO may accept up to 3 more in the readiness event that reached the limit (it
/// accepts up to 4 per event). Accepting also pauses while ``AcceptController`` backs off.
///
/// Under a connection limit (``ServerStream/serve(maxConnections:logger:handler:)``) the streams
/// handed out and still being served count too: at `maxConnections` accepted-and-unfinished
/// connections the listening channel stops accepting, so the next ones wait in the kernel's
/// backlog, never in this queue; ``connectionEnded()`` makes room again.
final class AcceptQueue: Sendable {
    struct State {
        var queue = CircularBuffer<ClientStream>()
        var waiter: UnsafeContinuation<ClientStream?, Never>?
        var waiterID = 0
        var closed = false
        /// The listening socket has closed gracefully: no connection comes any more, and
        /// ``ServerStream/read()`` returns nil once those accepted before are handed out.
        var drained = false
        /// A graceful shutdown has stopped accepting for good (the listening socket closes once
        /// the connections being set up have passed through it).
        var quiescing = false
        /// Accepted channels whose streams are still being set up.
        var settingUp = Set<ObjectIdentifier>()
        /// Accepting is paused: `limit` connections wait.
        var full = false
        /// Accepting is paused after an accept failed for want of resources.
        var backingOff = false
        /// The listening channel, once its pipeline is being set up.
        var server: (any Channel)?

        /// The most connections accepted and not yet finished, when serving with a limit.
        var maxConnections: Int?
        /// Connections handed out and not yet finished (counted only under `maxConnections`).
        var active = 0
        /// The serve loop, waiting for a connection to finish before it hands out another.
        var slotWaiter: UnsafeContinuation<Void, Never>?

        /// Connections accepted and not yet handed out.
        var waiting: Int { queue.count + settingUp.count }

        /// True when no more connections may be accepted now.
        func atCapacity(_ limit: Int) -> Bool {
            if waiting >= limit { return true }
            guard let maxConnections else { return false }
            return waiting + active >= maxConnections
        }

        /// The waiting reader, taken out, when the listening socket has closed and nothing
        /// accepted is left to hand out.
        mutating func takeWaiterIfDrained() -> UnsafeContinuation<ClientStream?, Never>? {
            guard drained, queue.isEmpty, settingUp.isEmpty, let w = waiter else { return nil }
            waiter = nil
            return w
        }

        /// Counts a stream handed out, under a connection limit.
        mutating func handedOut() {
            if maxConnections != nil { active += 1 }
        }

        /// Clears `full` once there is room again; true if it did (accepting may resume).
        mutating func roomAgain(_ limit: Int) -> Bool {
            guard full, !atCapacity(limit) else { return false }
            full = false
            return true
        }
    }

    /// The most accepted connections that wait for ``ServerStream/read()`` (the listen backlog,
    /// at least 1).
    let limit: Int
    let state = Mutex(State())

    /// Creates a queue that stops accepting while `limit` connections wait.
    init(limit: Int) {
        self.limit = max(1, limit)
    }

    // MARK: The listening channel's event loop

    /// The listening channel whose accepting this queue controls.
    func attach(_ server: any Channel) {
        state.withLock { $0.server = server }
    }

    /// Counts a connection NIO has just accepted, whose stream is being set up; stops accepting
    /// when `limit` connections wait.
    func accepted(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let pause = state.withLock { s -> Bool in
            s.settingUp.insert(id)
            guard !s.full, s.atCapacity(limit) else { return false }
            s.full = true
            return true
        }
        channel.closeFuture.whenComplete { [self] _ in
            // Closed before its stream was queued: its setup failed, or the server closed.
            let (resume, waiter) = state.withLock { s -> (Bool, UnsafeContinuation<ClientStream?, Never>?) in
                let resume = s.settingUp.remove(id) != nil && s.roomAgain(limit)
                return (resume, s.takeWaiterIfDrained())
            }
            waiter?.resume(returning: nil)
            if resume { updateAccepting() }
        }
        if pause { updateAccepting() }
    }

    /// Counts from now on the streams handed out against `maxConnections`, and stops accepting
    /// at once if that many wait already.
    func limitConnections(to maxConnections: Int) {
        let pause = state.withLock { s -> Bool in
            s.maxConnections = maxConnections
            guard !s.full, s.atCapacity(limit) else { return false }
            s.full = true
            return true
        }
        if pause { updateAccepting() }
    }

    /// A stream handed out under a connection limit has finished: accepting may resume.
    func connectionEnded() {
        let (resume, waiter) = state.withLock { s -> (Bool, UnsafeContinuation<Void, Never>?) in
            guard s.maxConnections != nil else { return (false, nil) }
            s.active -= 1
            let w = s.slotWaiter
            s.slotWaiter = nil
            return (s.roomAgain(limit), w)
        }
        waiter?.resume()
        if resume { updateAccepting() }
    }

    /// Waits until fewer than `maxConnections` streams are out (at once without a limit).
    /// Connections accepted before the limit was set (while nobody served them) wait here in the
    /// queue, not in handlers. Returns early when the task is cancelled or the server closes.
    func waitForSlot() async {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                let ready = self.state.withLock { s -> Bool in
                    guard let max = s.maxConnections, s.active >= max, !s.closed, !Task.isCancelled else { return true }
                    s.slotWaiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            self.state.withLock { s -> UnsafeContinuation<Void, Never>? in
                defer { s.slotWaiter = nil }
                return s.slotWaiter
            }?.resume()
        }
    }

    /// Pauses or resumes accepting for ``AcceptController``'s backoff.
    func setBackingOff(_ backingOff: Bool) {
        state.withLock { $0.backingOff = backingOff }
        updateAccepting()
    }

    /// Turns the listening channel's `autoRead` on or off to match the state, on its event
    /// loop (at once when already there). Each call applies the state of the moment it runs,
    /// so calls racing from several threads end with the latest state applied.
    private func updateAccepting() {
        guard let server = state.withLock({ $0.server }) else { return }
        let apply: @Sendable () -> Void = { [self] in
            let accept = state.withLock { !$0.full && !$0.backingOff && !$0.quiescing }
            server.setOption(.autoRead, value: accept).whenFailure { _ in }  // closed: nothing to do
        }
        if server.eventLoop.inEventLoop { apply() } else { server.eventLoop.execute(apply) }
    }

    /// Stops accepting for good (a graceful shutdown); true while connections accepted by the
    /// listening channel are still being set up.
    func quiesce() -> Bool {
        let settingUp = state.withLock { s in
            s.quiescing = true
            return !s.settingUp.isEmpty
        }
        updateAccepting()
        return settingUp
    }

    /// The listening socket has closed (gracefully): a reader gets the connections accepted
    /// before, then nil.
    func listenerClosed() {
        state.withLock { s -> UnsafeContinuation<ClientStream?, Never>? in
            s.drained = true
            return s.takeWaiterIfDrained()
        }?.resume(returning: nil)
    }

    // MARK: Any thread

    /// Hands `stream` to a waiting reader or queues it; false when the server is closed.
    func push(_ stream: ClientStream) -> Bool {
        let id = ObjectIdentifier(stream.channel)
        let (accepted, waiter, resume) = state.withLock {
            s -> (Bool, UnsafeContinuation<ClientStream?, Never>?, Bool) in
            s.settingUp.remove(id)
            if s.closed { return (false, nil, false) }
            if let w = s.waiter {
                s.waiter = nil
                s.handedOut()
                return (true, w, s.roomAgain(limit))
            }
            s.queue.append(stream)
            return (true, nil, false)
        }
        waiter?.resume(returning: stream)
        if resume { updateAccepting() }
        return accepted
    }

    /// The next queued stream; `.some(nil)` once closed (or, with a `waiter`, when the task is
    /// cancelled); nil when none waits, after storing `waiter` (if given) to be resumed with
    /// the next one.
    func take(orWait waiter: UnsafeContinuation<ClientStream?, Never>? = nil) -> ClientStream?? {
        let (result, resume) = state.withLock { s -> (ClientStream??, Bool) in
            if let first = s.queue.popFirst() {
                s.handedOut()
                return (.some(first), s.roomAgain(limit))
            }
            if s.closed || (s.drained && s.settingUp.isEmpty) { return (.some(nil), false) }
            guard let waiter else { return (nil, false) }
            if Task.isCancelled { return (.some(nil), false) }
            s.waiter = waiter
            return (nil, false)
        }
        if resume { updateAccepting() }
        return result
    }
}
