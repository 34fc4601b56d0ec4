import NIOCore

// Waiting for input: moving received bytes into the reader's buffer, parking the reading task
// until the handler has more, read timeouts. The reading task alone runs these.
extension ClientStream {
    /// Moves received bytes into the buffer, waiting for the network if there are none.
    /// Returns false once no more bytes will come.
    ///
    /// The synchronous steps live in separate functions that are not inlined, so that the
    /// async frame a waiting connection keeps stays small.
    /// - Throws: ``StreamPortError`` `.timedOut` (``readTimeout``, or ``writeTimeout`` while
    ///   the automatic flush waits), the connection's failure (`.connectionReset`, `.system`);
    ///   `CancellationError`.
    func fill() async throws -> Bool {
        while true {
            if let more = try takeInboundOrEnd() { return more }
            if prepareToWait() { try await waitWritable() }
            try await waitForInput()
        }
    }

    /// True when bytes were taken, false at the end of input, nil when there are none yet.
    /// - Throws: the connection's failure (a reset), if it ended with one.
    @inline(never)
    private func takeInboundOrEnd() throws -> Bool? {
        if takeInbound() { return true }
        let lines = input.linesRead &- input.linesReported
        input.linesReported = input.linesRead
        let (ended, failure, peerFinished) = shared.state.withLock {
            $0.linesIn &+= lines
            return ($0.inputEnded && $0.inbound.isEmpty, $0.failure, $0.peerFinished)
        }
        shared.metrics?.linesIn.increment(by: lines)
        guard ended else { return nil }
        if let failure, failure.code != .closed {
            throw failure
        }
        input.finish(cutShort: !peerFinished)
        return false
    }

    /// Before waiting for the network: hands pending output to the socket and lets go of the
    /// consumed receive buffer (the channel then reads into it again instead of allocating
    /// another, and an idle connection holds none). True when the socket is not writable.
    ///
    /// The reader says it is drained before it hands its output off: a peer that gets the
    /// last reply and at once triggers a graceful shutdown (SIGTERM after its echo) must find
    /// the connection idle, not busy, or the shutdown lingers on it for the whole grace period.
    @inline(never)
    private func prepareToWait() -> Bool {
        if !characters.isActive { input.releaseIfEmpty() }
        let lines = input.linesRead &- input.linesReported
        input.linesReported = input.linesRead
        shared.metrics?.linesIn.increment(by: lines)
        let drained = input.readableBytes == 0 && !characters.isActive
        shared.state.withLock {
            $0.linesIn &+= lines
            $0.readerDrained = drained
        }
        handOff()
        return shared.state.withLock { !$0.writable && !$0.closed }
    }

    /// Appends everything the handler received; true if anything was.
    func takeInbound() -> Bool {
        guard let needRead = input.take(from: shared, mayReplace: !characters.isActive) else { return false }
        if needRead { channel.read() }
        return true
    }

    /// Waits until input arrives, the input ends, ``readTimeout`` passes or the task is
    /// cancelled. The work is in synchronous helpers: the async frames a waiting connection
    /// keeps stay small (the whole chain of a waiting echo task fits one task-allocator slab).
    private func waitForInput() async throws {
        let timer = startReadTimer()
        await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in self.parkReader(continuation) }
        } onCancel: { [shared] in
            shared.interruptReader(timedOut: false)
        }
        try endWait(timer)
    }

    @inline(never)
    private func startReadTimer() -> Scheduled<Void>? {
        guard let timeout = settings.readTimeout else { return nil }
        let shared = self.shared
        return channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            shared.interruptReader(timedOut: true)
        }
    }

    /// Stores the reader's continuation (or resumes it at once) and asks for a read if none is
    /// in flight.
    @inline(never)
    private func parkReader(_ continuation: UnsafeContinuation<Void, Never>) {
        let (ready, requestRead) = shared.state.withLock { s -> (Bool, Bool) in
            // Checked under the lock: a cancellation handler that ran before the waiter was
            // stored (an already-cancelled task) found nothing to resume.
            if !s.inbound.isEmpty || s.inputEnded || Task.isCancelled { return (true, false) }
            s.readWaiter = continuation
            let request = !s.readInFlight
            if request { s.readInFlight = true }
            return (false, request)
        }
        if ready { continuation.resume() }
        if requestRead { channel.read() }
    }

    @inline(never)
    private func endWait(_ timer: Scheduled<Void>?) throws {
        timer?.cancel()
        let timedOut = shared.state.withLock { s -> Bool in
            let t = s.waitTimedOut
            s.waitTimedOut = false
            return t
        }
        try Task.checkCancellation()
        if timedOut {
            let limit = settings.readTimeout.map { "\($0)" } ?? "its timeout"
            let error = StreamPortError(.timedOut, "read from \(remoteEndpoint) timed out after \(limit)")
            shared.noteError(error)
            throw error
        }
    }
}
