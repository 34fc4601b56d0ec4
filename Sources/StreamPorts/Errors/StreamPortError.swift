import NIOCore
import Transcoders

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one error type of StreamPorts: a code, the OS error number where there is one, and a
/// message naming the input and the reason (bytes from a peer in hex, control and format
/// characters escaped: safe to log).
///
/// StreamPorts reports its failures with this type only. A transcoder's own error
/// (`TranscoderError`) arrives wrapped, code for code, with the original in
/// ``transcoderError``; `Codec(_:)` and the `Transcoders` types, used on their own, throw
/// `TranscoderError`. Not StreamPorts' own: a read or flush waiting in a cancelled task throws
/// `CancellationError`, and `callWithStream` rethrows what its body throws.
///
/// ```swift
/// do {
///     _ = try await tcpServerStream("localhost:80x")
/// } catch let error as StreamPortError where error.code == .invalidAddress {
///     print(error)   // invalid address "localhost:80x": port "80x" is not a decimal number
/// }
/// ```
public struct StreamPortError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong. Codes that wrap a C error number name it; ``StreamPortError/errno`` then
    /// holds it.
    public enum Code: String, Sendable, Hashable {
        /// An address, port or service name is not acceptable: thrown before any socket opens,
        /// when parsing `"HOST:PORT"` forms, raw address bytes, ports out of 0–65535 or unknown
        /// service names. The message names the input and the reason (and, for an unbracketed
        /// IPv6 address, the bracketed form to write). Fix the input.
        case invalidAddress
        /// An argument other than an address is out of range: a negative backlog, a
        /// `maxLineLength` of 0 or less. Thrown before any socket opens. Fix the argument.
        case invalidArgument
        /// A host name does not resolve (`getaddrinfo` failed or gave no IPv4 or IPv6 address),
        /// or a reverse lookup found no name. Check the spelling and the resolver
        /// (`/etc/hosts`, DNS).
        case hostNotFound
        /// `EADDRINUSE`: the address and port are already bound (by another process, or a
        /// socket in TIME_WAIT without SO_REUSEADDR). Pick another port, or port 0 for a free one.
        case addressInUse
        /// `EACCES`, `EPERM` or `EADDRNOTAVAIL`: the OS refused to bind (a port below 1024
        /// without privilege, an address that is not this machine's). Use a port above 1023 or
        /// an address of one of this machine's interfaces.
        case bindFailed
        /// `ECONNREFUSED`: nothing listens at the address connected to. Check the address and
        /// that the server runs.
        case connectionRefused
        /// `ECONNRESET` or `EPIPE`: the peer reset the connection or closed it while data was
        /// being written. The connection is gone; close the stream and reconnect if needed.
        case connectionReset
        /// `ETIMEDOUT`, or a StreamPorts timeout with no errno: a connect took longer than its
        /// `connectTimeout`, a read longer than `readTimeout`, a flush longer than
        /// `writeTimeout`. Retry, or lengthen the timeout.
        case timedOut
        /// The stream's writer, the connection or the server is closed: writes after
        /// `closeWriter()` or `close()`, operations on a connection that has ended,
        /// `TCPServer.bind` after `dispose()`. (Reads after the end return nil instead.) Stop
        /// using the stream; reconnect if needed.
        case closed
        /// A line is longer than the stream's `maxLineLength` (bytes on the wire, line end
        /// excluded). The rest of that line is skipped; the next read returns the next line.
        /// Raise `maxLineLength` if such lines are legitimate.
        case lineTooLong
        /// The transcoder's codec name is unknown (wraps `TranscoderError.Code.unknownCodec`;
        /// its `suggestions` has the closest names). Use a name or alias `Codec.available` lists.
        case unknownCodec
        /// Bytes that cannot be decoded in the codec, in `.raise` mode (wraps
        /// `TranscoderError.Code.decoding`; ``StreamPortError/transcoderError`` has the byte
        /// offset and the bytes). To read past such bytes, use `.replace` (U+FFFD) or `.ignore`
        /// mode.
        case decoding
        /// A character that cannot be encoded in the codec, in `.raise` mode (wraps
        /// `TranscoderError.Code.encoding`; ``StreamPortError/transcoderError`` has the
        /// character). Use `.replace` mode, or a codec that has the character.
        case encoding
        /// ICU failed for a reason that is not about the data: out of memory, missing converter
        /// data (wraps `TranscoderError.Code.internalFailure`). Check the ICU installation
        /// and memory.
        case transcoderInternal
        /// A connection on a port that expects the PROXY protocol (v1 or v2) did not start with
        /// a valid header: missing, malformed, truncated, over-long, a CRC32C that does not
        /// match. The message names the reason and shows the first header bytes in hex. Only
        /// that connection is closed; check the load balancer's `send-proxy` setting.
        case proxyHeader
        /// The operation is not valid in the current state: `TCPSocket` reads and writes when not
        /// connected, `TCPSocket.connect` when already connected, `TCPServer.bind` twice,
        /// `setOption` after `bind` or with an unknown name, `listen` before `bind`. Follow the
        /// documented order of calls.
        case operation
        /// Any other OS error (`ENETUNREACH`, `EMFILE`, …) or NIO error;
        /// ``StreamPortError/errno`` has the number when there is one, and the message its
        /// `strerror` text.
        case system
        /// A TLS handshake failed: an untrusted, expired or wrongly named certificate, no
        /// common protocol version, a missing client certificate, the handshake timeout, or
        /// the peer closing mid-handshake. The message says which.
        case tlsHandshakeFailed
        /// A certificate, key or CA file (or PEM text) is missing, unreadable or malformed, a
        /// key does not match its certificate, or a server name is not valid for SNI; thrown
        /// when a TLS context is built. The message names the file and the reason.
        case tlsInvalidUserData
        /// Any other TLS failure (the TLS library's own error, a corrupt record after the
        /// handshake); the message carries the library's reason.
        case tlsInternal
    }

    /// The kind of error.
    public let code: Code
    /// The OS error number, where there is one.
    public let errno: Int32?
    /// A human-readable message naming the input and the reason.
    public let message: String
    /// The wrapped transcoder error for `.unknownCodec`, `.decoding`, `.encoding` and
    /// `.transcoderInternal` (byte offset, bytes, character, suggestions); nil otherwise.
    public let transcoderError: TranscoderError?

    /// Creates an error.
    /// - Parameters:
    ///   - code: the kind.
    ///   - errno: the OS error number, if any.
    ///   - message: the message; control and format characters in it (from quoted input) are
    ///     written as `\xNN` or `\u{NNNN}`, so that it is safe to log.
    ///   - transcoderError: the underlying transcoder error, if any.
    public init(_ code: Code, errno: Int32? = nil, _ message: String, transcoderError: TranscoderError? = nil) {
        self.code = code
        self.errno = errno
        self.message = escapingControls(message)
        self.transcoderError = transcoderError
    }

    public var description: String { message }

    /// `.invalidAddress` for `input`, with the reason.
    static func invalid(_ input: String, _ reason: String) -> StreamPortError {
        StreamPortError(.invalidAddress, "invalid address \"\(input)\": \(reason)")
    }

    /// `.invalidArgument`: `argument` (its name and value, as the caller wrote them) and the reason.
    static func invalidArgument(_ argument: String, _ reason: String) -> StreamPortError {
        StreamPortError(.invalidArgument, "invalid argument \(argument): \(reason)")
    }

    /// A transcoder error with the code that corresponds to its own, one to one.
    static func wrapping(_ error: TranscoderError) -> StreamPortError {
        let code: Code =
            switch error.code {
            case .unknownCodec: .unknownCodec
            case .decoding: .decoding
            case .encoding: .encoding
            case .internalFailure: .transcoderInternal
            }
        return StreamPortError(code, error.message, transcoderError: error)
    }

    /// Maps a NIO or OS error raised while working on `what` (an address or a stream name).
    static func from(_ error: any Error, _ what: String) -> StreamPortError {
        if let error = error as? StreamPortError { return error }
        if let error = error as? TranscoderError { return .wrapping(error) }
        if let io = error as? IOError { return fromErrno(io.errnoCode, what) }
        if let channelError = error as? ChannelError {
            switch channelError {
            case .connectTimeout: return StreamPortError(.timedOut, "connecting to \(what) timed out")
            case .ioOnClosedChannel, .alreadyClosed, .outputClosed, .inputClosed, .eof:
                return StreamPortError(.closed, "\(what): the connection is closed")
            default: return StreamPortError(.system, "\(what): \(channelError)")
            }
        }
        return StreamPortError(.system, "\(what): \(error)")
    }

    /// The error for C error number `number` while working on `what`; its code comes from
    /// ``ErrnoClass``.
    static func fromErrno(_ number: Int32, _ what: String) -> StreamPortError {
        let text = String(cString: strerror(number))
        let code = ErrnoClass(number).code
        let prefix =
            switch code {
            case .addressInUse: "address \(what) is already in use"
            case .bindFailed: "cannot bind \(what)"
            case .connectionRefused: "connection to \(what) refused"
            case .connectionReset: "connection \(what) reset by peer"
            case .timedOut: "\(what) timed out"
            default: "\(what)"
            }
        return StreamPortError(code, errno: number, "\(prefix): \(text) (errno \(number))")
    }
}
