import NIOCore

extension ClientStream {
    /// Closes the stream without losing output to a peer that is still sending.
    ///
    /// Closing a socket that holds unread input makes the kernel send a reset, and the peer's
    /// kernel then drops whatever it had received and not yet handed to its application: the
    /// last replies vanish. So this flushes the output (and a stateful encoding's reset
    /// sequence), sends a FIN after it, then reads and drops input until the peer closes its
    /// side, and only then closes; after `linger` it closes regardless (the peer has not
    /// stopped sending in that time).
    ///
    /// A peer that has already finished sending costs no wait, and neither does a connection
    /// that was idle (its reader waiting, nothing unread) when ``stopReading()`` ended its input.
    /// - Parameter linger: the longest wait for the peer's end of input.
    package func closeLingering(upTo linger: Duration) async {
        reportLinesRead()
        try? await closeWriter()
        let (finished, requestRead) = shared.beginDiscarding()
        if !finished {
            let channel = self.channel
            if requestRead { channel.read() }
            let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(linger)) {
                channel.close(promise: nil)
            }
            // The handler closes the channel when the peer's end of input arrives.
            try? await channel.closeFuture.get()
            deadline.cancel()
        }
        try? await channel.close()
    }

    /// True once the peer has finished sending (its FIN, a reset or the connection's end), as
    /// opposed to input ended by a server's shutdown.
    package var peerFinished: Bool { shared.state.withLock { $0.peerFinished } }

    /// Ends the stream's input where it stands: the bytes already received are still read,
    /// then reads return end of stream, and a read waiting for the network returns at once.
    /// A server's graceful shutdown does this to every connection, so that a handler looping
    /// on ``readLine(separator:includeSeparator:maxLength:)`` ends by itself.
    ///
    /// A connection that has received nothing yet (accepted just before, its first line
    /// still in flight: a client of a process being restarted) is not taken for idle: its
    /// input ends after its first bytes, or after ``firstBytesWait`` without any.
    package func stopReading() {
        guard shared.stopReading(waitingForFirstBytes: true) else { return }
        let shared = self.shared
        channel.eventLoop.scheduleTask(in: TimeAmount(ClientStream.firstBytesWait)) { shared.stopReading() }
    }

    /// How long a graceful shutdown waits for the first bytes of a connection that has
    /// received none, before it ends its input.
    package static let firstBytesWait: Duration = .milliseconds(250)
}
