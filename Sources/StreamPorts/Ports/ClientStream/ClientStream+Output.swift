import NIOCore

// Output: writes go into the OutputBuffer under its lock, and are handed to the channel by
// flushWriter(), before a read waits, per the buffering mode, and on close.
extension ClientStream {
    /// Writes `string` through the transcoder (each `"\n"` in the EOL style).
    /// - Parameter string: the text.
    /// - Throws: ``StreamPortError`` `.encoding` (`.raise` mode) or `.closed`.
    public func write(_ string: String) throws {
        let pending: Int
        do {
            pending = try output.withLock { (w: inout OutputBuffer) throws(StreamPortError) -> Int in
                guard !w.isClosed else { throw writerClosed() }
                do throws(TranscoderError) { return try w.write(string) } catch { throw .wrapping(error) }
            }
        } catch {
            if error.code == .encoding { shared.noteError(error) }
            throw error
        }
        afterWrite(newline: settings.buffering == .line && string.utf8.contains(0x0A), pending: pending)
    }

    /// Writes raw bytes, bypassing the transcoder.
    /// - Parameter bytes: the bytes.
    /// - Throws: ``StreamPortError`` `.closed`.
    public func write(bytes: some Sequence<UInt8>) throws {
        let pending = try output.withLock { (w: inout OutputBuffer) throws(StreamPortError) -> Int in
            guard !w.isClosed else { throw writerClosed() }
            return w.write(bytes: bytes)
        }
        afterWrite(newline: settings.buffering == .line, pending: pending)
    }

    /// Writes `string` then a line end, in one step (the hot path of a line server).
    /// - Parameter string: the line.
    /// - Throws: ``StreamPortError`` `.encoding` (`.raise` mode; nothing of the line is
    ///   written after the unencodable character) or `.closed`.
    public func showln(_ string: String) throws {
        let pending: Int
        do {
            pending = try output.withLock { (w: inout OutputBuffer) throws(StreamPortError) -> Int in
                guard !w.isClosed else { throw writerClosed() }
                do throws(TranscoderError) { return try w.writeLine(string) } catch { throw .wrapping(error) }
            }
        } catch {
            if error.code == .encoding { shared.noteError(error) }
            throw error
        }
        afterWrite(newline: settings.buffering == .line, pending: pending)
    }

    /// Writes the items' textual forms, one after another, like Slogan's `show`.
    /// - Parameter items: the values to show.
    /// - Throws: ``StreamPortError`` `.encoding` (`.raise` mode) or `.closed`.
    public func show(_ items: Any...) throws {
        try write(items.map { $0 as? String ?? String(describing: $0) }.joined())
    }

    /// ``show(_:)`` then a line end.
    /// - Parameter items: the values to show.
    /// - Throws: ``StreamPortError`` `.encoding` (`.raise` mode) or `.closed`.
    public func showln(_ items: Any...) throws {
        try showln(items.map { $0 as? String ?? String(describing: $0) }.joined())
    }

    /// Writes a line (seed 003's `writeLn`).
    /// - Parameter string: the line, without its end.
    /// - Throws: ``StreamPortError`` `.encoding` (`.raise` mode) or `.closed`.
    public func writeLine(_ string: String) throws {
        try showln(string)
    }

    @inline(never)
    private func writerClosed() -> StreamPortError {
        StreamPortError(.closed, "write to \(remoteEndpoint): the writer is closed")
    }

    private func afterWrite(newline: Bool, pending: Int) {
        if settings.buffering == .unbuffered || newline || pending >= StreamShared.outputHandOff { handOff() }
    }

    // MARK: Hand-off

    /// Gives pending output to the socket without waiting.
    @discardableResult
    func handOff() -> Bool {
        guard let (taken, lines) = output.withLock({ $0.takePending() }) else { return false }
        var pending = taken
        if let metrics = shared.metrics {  // once per hand-off, not per line
            metrics.bytesOut.increment(by: pending.readableBytes)
            metrics.linesOut.increment(by: lines)
        }
        if let observer = shared.observer {
            let count = pending.readableBytes
            let promise = channel.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenSuccess { observer(.wrote(count)) }
            channel.writeAndFlush(pending, promise: promise)
        } else {
            channel.writeAndFlush(pending, promise: nil)
        }
        // On the event loop the socket usually takes it all at once and lets go of the
        // buffer: it becomes the next output buffer, without an allocation.
        // If the channel still holds it (a hand-off from off the event loop, a partial
        // write), `clear(minimumCapacity: 0)` starts an empty buffer instead of copying its
        // capacity.
        guard pending.capacity <= ClientStream.recycledOutputCapacity else { return true }
        pending.clear(minimumCapacity: 0)
        output.withLock { $0.recycle(pending) }
        return true
    }

    /// Hands pending output to the socket and waits while the peer is not reading (the
    /// channel's write buffer is over its high watermark).
    /// - Throws: ``StreamPortError`` `.timedOut` after ``writeTimeout``; `CancellationError`.
    ///   A connection closed meanwhile ends the wait without an error.
    public func flushWriter() async throws {
        handOff()
        try await waitWritable()
    }

    /// Waits until the channel is writable (or closed), at most ``writeTimeout``.
    func waitWritable() async throws {
        let shared = self.shared
        guard
            let ticket = shared.state.withLock({ s -> Int? in
                if s.writable || s.closed { return nil }
                s.writeTickets += 1
                return s.writeTickets
            })
        else { return }
        let timeout = settings.writeTimeout
        let scheduled: Scheduled<Void>? = timeout.map { t in
            channel.eventLoop.scheduleTask(in: TimeAmount(t)) {
                shared.interruptWriter(ticket)
            }
        }
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                let ready = shared.state.withLock { s -> Bool in
                    if s.writable || s.closed || Task.isCancelled { return true }
                    s.writeWaiters[ticket] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            shared.interruptWriter(ticket)
        }
        scheduled?.cancel()
        try Task.checkCancellation()
        if !shared.state.withLock({ $0.writable || $0.closed }) {
            throw StreamPortError(
                .timedOut, "write to \(remoteEndpoint) timed out after \(timeout!): the peer is not reading")
        }
    }
}
