import Logging
import NIOCore
import Synchronization

/// What a security layer (StreamPortsTLS) plugs into the core, so that StreamPorts itself
/// never depends on a TLS library.
///
/// The core calls ``secure(_:)`` on a connection's event loop, with the connection's
/// ``StreamHandler`` already in its pipeline: for an accepted connection in the child channel
/// initializer, for an outgoing one in the channel initializer, for STARTTLS once the stream
/// has been checked and flushed. The implementation adds its handlers in front of everything
/// else, and is responsible for:
/// - asking the channel for reads while it handshakes and while it waits for the peer's
///   close_notify (our channels have `autoRead` off, and the stream asks for reads only while
///   it wants bytes);
/// - its own handshake timeout (closing the connection when it passes);
/// - turning its errors into ``StreamPortError``s before they reach ``StreamHandler``.
package protocol ChannelSecurity: Sendable {
    /// Adds the security handlers to `channel`'s pipeline, in front of everything else.
    ///
    /// Called on the channel's event loop.
    /// - Parameter channel: the connection.
    /// - Returns: a future that succeeds, with a description of the session the stream exposes
    ///   (``ClientStream/securitySession``), once the handshake has completed; or fails with a
    ///   ``StreamPortError`` (the connection is then being closed).
    /// - Throws: a ``StreamPortError`` when the handlers cannot be made or added.
    func secure(_ channel: any Channel) throws -> EventLoopFuture<any Sendable>

    /// A server-side handshake failed: the core has closed the connection; the implementation
    /// logs (rate-limited) and counts it.
    /// - Parameters:
    ///   - error: why.
    ///   - peer: the peer's address.
    func serverHandshakeFailed(_ error: any Error, peer: String)
}

extension ChannelSecurity {
    /// Secures an accepted connection, then hands its stream to `queue` once the handshake is
    /// done; a failed handshake closes only that connection. Called in the child channel
    /// initializer, on the channel's event loop.
    func secureAccepted(
        _ channel: any Channel, stream: ClientStream, queue: AcceptQueue, metrics: ServerMetrics?, logger: Logger
    ) throws {
        let handshake = try secure(channel)
        handshake.whenComplete { result in
            switch result {
            case .success(let session):
                stream.shared.session.withLock { $0 = session }
                ConnectionLog.opened(stream, metrics: metrics, logger: logger)  // counted once secured
                if !queue.push(stream) { channel.close(promise: nil) }
            case .failure(let error):
                channel.close(promise: nil)
                metrics?.error(.tlsHandshakeFailed)
                let peer = stream.remoteEndpoint  // behind the PROXY protocol: the original client
                serverHandshakeFailed(error, peer: peer.isEmpty ? "a client" : peer)
            }
        }
    }
}

extension ClientStream {
    /// What the security layer reported when the handshake completed; nil on a plaintext
    /// stream.
    package var securitySession: (any Sendable)? {
        shared.session.withLock { $0 }
    }

    /// Secures this connected stream in place (STARTTLS), at exactly its current position.
    ///
    /// Pending output is flushed first. Bytes received but not yet read, whether buffered by
    /// the stream or arriving before the security handlers are in place, refuse the upgrade:
    /// they were sent in plaintext after the request to upgrade (CVE-2011-0411's command
    /// injection). The same transcoder and line state continue afterwards.
    /// - Parameter security: the security layer.
    /// - Throws: ``StreamPortError`` `.operation` (unread input, already secured, or closed;
    ///   the stream is unchanged), or the handshake's failure (the connection is then closed).
    package func upgradeSecurity(_ security: any ChannelSecurity) async throws {
        try checkUpgradable()
        try await flushWriter()
        try checkUpgradable()
        let channel = self.channel
        let shared = self.shared
        let remote = remoteEndpoint
        // The check for unread input and the addition of the handlers happen in one event-loop
        // step: every byte that arrives later goes through the security handlers.
        let handshake = channel.eventLoop.flatSubmit { () -> EventLoopFuture<any Sendable> in
            let refusal = shared.state.withLock { s -> String? in
                if s.closed || s.inputEnded { return "the connection is closed" }
                if !s.inbound.isEmpty {
                    return "\(s.inboundBytes) byte(s) arrived after the upgrade request and are unread"
                }
                return nil
            }
            if let refusal {
                return channel.eventLoop.makeFailedFuture(
                    StreamPortError(.operation, "cannot secure \(remote): \(refusal)"))
            }
            do {
                return try security.secure(channel)
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }
        let session: any Sendable
        do {
            session = try await handshake.get()
        } catch {
            throw StreamPortError.from(error, remote)
        }
        shared.session.withLock { $0 = session }
    }

    private func checkUpgradable() throws(StreamPortError) {
        if securitySession != nil {
            throw StreamPortError(.operation, "cannot secure \(remoteEndpoint): the stream is already secured")
        }
        if holdsUnreadInput {
            throw StreamPortError(
                .operation,
                "cannot secure \(remoteEndpoint): bytes after the upgrade request are buffered and unread (\(bytesAvailable) byte(s)); refusing to upgrade"
            )
        }
    }
}

/// The handshake of an outgoing connection, from its channel initializer to `connect`.
final class HandshakeSlot: Sendable {
    private let future = Mutex<EventLoopFuture<any Sendable>?>(nil)

    func set(_ handshake: EventLoopFuture<any Sendable>) { future.withLock { $0 = handshake } }
    func get() -> EventLoopFuture<any Sendable>? { future.withLock { $0 } }
}
