extension TCPSocket {
    /// The seed's error kinds (seed 004's table), derived from a ``StreamPortError``.
    ///
    /// An error that carries an errno takes its kind from the errno, through the same
    /// classifier that gives ``StreamPortError`` its code and tells the accept loop to pause;
    /// other errors take it from their code:
    ///
    /// | errno | kind |
    /// |---|---|
    /// | `ECONNREFUSED` | ``connectionRefused`` |
    /// | `ETIMEDOUT` | ``socketTimeout`` |
    /// | `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM` | ``socketResource`` |
    /// | `ECONNRESET`, `EPIPE`, `ECONNABORTED`, `ENETUNREACH`, `EHOSTUNREACH`, `ENETDOWN` | ``network`` |
    /// | `EADDRINUSE` | ``addressInUse`` |
    /// | `EACCES`, `EPERM` | ``socketAccess`` |
    /// | `EADDRNOTAVAIL` | ``addressNotAvailable`` |
    /// | `EOPNOTSUPP` | ``unsupportedSocketOperation`` |
    /// | `EALREADY`, `EINPROGRESS` | ``unfinishedSocketOperation`` |
    /// | `EAGAIN`, `EINTR` | ``temporary`` |
    /// | any other | ``unknown`` |
    ///
    /// | code (no errno) | kind |
    /// |---|---|
    /// | `.connectionRefused` | ``connectionRefused`` |
    /// | `.hostNotFound` | ``hostNotFound`` |
    /// | `.invalidAddress` | ``invalidAddress`` |
    /// | `.invalidArgument` | ``invalidArgument`` |
    /// | `.timedOut` | ``socketTimeout`` |
    /// | `.connectionReset` | ``network`` |
    /// | `.addressInUse` | ``addressInUse`` |
    /// | `.bindFailed` | ``socketAccess`` |
    /// | `.closed`, `.operation` | ``operation`` |
    /// | `.lineTooLong` | ``lineTooLong`` |
    /// | `.unknownCodec`, `.decoding`, `.encoding`, `.transcoderInternal` | ``transcoding`` |
    /// | `.proxyHeader` | ``proxyProtocol`` |
    /// | `.tlsHandshakeFailed`, `.tlsInvalidUserData`, `.tlsInternal` | ``sslHandshakeFailed``, ``sslInvalidUserData``, ``sslInternal`` |
    /// | `.system` | ``unknown`` |
    ///
    /// ``remoteHostClosed`` comes from the connection's end, not from an error. Seed 004's table
    /// is Qt's `QAbstractSocket::SocketError` with gaps; ``socketAccess``,
    /// ``addressInUse`` and ``addressNotAvailable`` fill three of them with Qt's kinds, and
    /// ``invalidAddress``, ``invalidArgument``, ``lineTooLong`` and ``transcoding`` are this
    /// library's own, for errors a plain socket cannot have.
    public enum ErrorKind: String, Sendable, Hashable, CaseIterable {
        /// The peer refused the connection (`ECONNREFUSED`).
        case connectionRefused
        /// The remote host closed the connection; the socket closes after this.
        case remoteHostClosed
        /// The host name was not found.
        case hostNotFound
        /// Out of sockets or memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`).
        case socketResource
        /// The operation timed out (`ETIMEDOUT`, `connectTimeout`, a read or write timeout).
        case socketTimeout
        /// Never raised for TCP (a datagram error, kept for the seed's table).
        case datagramTooLarge
        /// The network failed: reset, aborted, unreachable or down (`ECONNRESET`, `EPIPE`,
        /// `ECONNABORTED`, `ENETUNREACH`, `EHOSTUNREACH`, `ENETDOWN`).
        case network
        /// Not supported (`EOPNOTSUPP`).
        case unsupportedSocketOperation
        /// The last operation has not finished yet (`EALREADY`, `EINPROGRESS`).
        case unfinishedSocketOperation
        /// A TLS handshake failed (``StreamPortError/Code/tlsHandshakeFailed``).
        case sslHandshakeFailed
        /// A TLS library error (``StreamPortError/Code/tlsInternal``).
        case sslInternal
        /// A bad certificate, key or CA (``StreamPortError/Code/tlsInvalidUserData``).
        case sslInvalidUserData
        /// Not permitted in the socket's current state, or the connection is closed.
        case operation
        /// A temporary condition (`EAGAIN`, `EINTR`).
        case temporary
        /// Anything else.
        case unknown
        /// Permission denied (`EACCES`, `EPERM`): binding a privileged port, a firewall rule.
        /// Qt's `SocketAccessError`, absent from the seed's table.
        case socketAccess
        /// The local port chosen with ``TCPSocket/bind(_:)`` is taken (`EADDRINUSE`). Qt's
        /// `AddressInUseError`.
        case addressInUse
        /// The local address is not this machine's (`EADDRNOTAVAIL`). Qt's
        /// `SocketAddressNotAvailableError`.
        case addressNotAvailable
        /// A PROXY protocol header was missing or malformed (`.proxyHeader`). Qt's
        /// `ProxyProtocolError`.
        case proxyProtocol
        /// The host or port given is malformed (``StreamPortError/Code/invalidAddress``); no
        /// lookup was made.
        case invalidAddress
        /// Another argument is out of range (``StreamPortError/Code/invalidArgument``).
        case invalidArgument
        /// A line was longer than the stream's `maxLineLength`
        /// (``StreamPortError/Code/lineTooLong``).
        case lineTooLong
        /// A codec, decoding or encoding error of the stream's transcoder
        /// (``StreamPortError/Code/unknownCodec``, `.decoding`, `.encoding`,
        /// `.transcoderInternal`).
        case transcoding

        /// The kind of a ``StreamPortError``, by the tables above.
        /// - Parameter error: the error.
        public init(_ error: StreamPortError) {
            if let number = error.errno {
                self.init(ErrnoClass(number))
                return
            }
            switch error.code {
            case .connectionRefused: self = .connectionRefused
            case .hostNotFound: self = .hostNotFound
            case .invalidAddress: self = .invalidAddress
            case .invalidArgument: self = .invalidArgument
            case .timedOut: self = .socketTimeout
            case .connectionReset: self = .network
            case .addressInUse: self = .addressInUse
            case .bindFailed: self = .socketAccess
            case .closed, .operation: self = .operation
            case .lineTooLong: self = .lineTooLong
            case .unknownCodec, .decoding, .encoding, .transcoderInternal: self = .transcoding
            case .proxyHeader: self = .proxyProtocol
            case .tlsHandshakeFailed: self = .sslHandshakeFailed
            case .tlsInvalidUserData: self = .sslInvalidUserData
            case .tlsInternal: self = .sslInternal
            case .system: self = .unknown
            }
        }

        /// The kind of an errno class.
        init(_ errnoClass: ErrnoClass) {
            switch errnoClass {
            case .connectionRefused: self = .connectionRefused
            case .timedOut: self = .socketTimeout
            case .resourceExhausted: self = .socketResource
            case .connectionReset, .connectionAborted, .unreachable: self = .network
            case .addressInUse: self = .addressInUse
            case .accessDenied: self = .socketAccess
            case .addressNotAvailable: self = .addressNotAvailable
            case .unsupported: self = .unsupportedSocketOperation
            case .unfinished: self = .unfinishedSocketOperation
            case .temporary: self = .temporary
            case .other: self = .unknown
            }
        }
    }
}
