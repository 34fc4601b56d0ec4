import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// Closing: flush and drain before closing either direction; abort resets at once.
extension ClientStream {
    /// Flushes pending output (and a stateful encoding's reset sequence), waits until the
    /// socket has taken all of it (at most ``writeTimeout``; ``abort()`` from another task also
    /// ends the wait), then closes both directions. Idempotent.
    /// - Throws: nothing in practice; a connection already gone is not an error.
    public func close() async throws {
        closeOutput()
        await drainWrites()
        try? await channel.close()
    }

    /// Closes the input side: later reads return end of stream. The peer may still read what
    /// this side writes. Call it from the reading task, as a read.
    /// - Throws: nothing in practice.
    public func closeReader() async throws {
        input.close()
        try? await channel.close(mode: .input)
    }

    /// Flushes and waits as ``close()`` does, then closes the output side (the peer sees end
    /// of stream and may keep sending; this side keeps reading).
    /// - Throws: nothing in practice.
    public func closeWriter() async throws {
        closeOutput()
        await drainWrites()
        try? await channel.close(mode: .output)
    }

    /// Discards pending output and resets the connection (RST).
    public func abort() async {
        output.withLock { $0.discardAndClose() }
        if let provider = channel as? any SocketOptionProvider {
            try? await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        try? await channel.close()
    }

    /// Ends the encoding, hands everything pending to the channel and refuses later writes.
    private func closeOutput() {
        output.withLock { $0.finishEncoding() }
        handOff()
        output.withLock { $0.close() }
    }

    /// Waits until every write handed to the channel has reached the socket: NIO's
    /// `close()` fails writes still pending, and once the peer has half-closed so does
    /// `close(mode: .output)`.
    private func drainWrites() async {
        let channel = self.channel
        guard channel.isActive else { return }
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(channel.allocator.buffer(capacity: 0), promise: written)
        let timer = settings.writeTimeout.map { t in
            channel.eventLoop.scheduleTask(in: TimeAmount(t)) {
                channel.close(promise: nil)
            }
        }
        try? await written.futureResult.get()
        timer?.cancel()
    }
}
