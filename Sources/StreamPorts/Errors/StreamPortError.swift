#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import Transcoders

/// The one error type of StreamPorts: a code, the OS error number where there is one, and a
/// message naming the input and the reason (bytes from a peer in hex, control and format
/// characters escaped: safe to log).
///
/// ```swift
/// do {
///     _ = try await tcpServerStream("localhost:80x")
/// } catch let error as StreamPortError where error.code == .invalidAddress {
///     print(error)   // invalid address "localhost:80x": port "80x" is not a decimal number
/// }
/// ```
public struct StreamPortError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable {
        /// The address, port, byte count or backlog is not acceptable (nothing was opened).
        case invalidAddress
        /// The host name does not resolve.
        case hostNotFound
        /// The port is already taken (EADDRINUSE).
        case addressInUse
        /// Binding was refused by the OS (EACCES, EADDRNOTAVAIL, …).
        case bindFailed
        /// The peer refused the connection.
        case connectionRefused
        /// The peer reset the connection.
        case connectionReset
        /// A connect, read or write took longer than its timeout.
        case timedOut
        /// The stream or server is closed.
        case closed
        /// A line is longer than the stream's `maxLineLength` (bytes, line end excluded).
        case lineTooLong
        /// Bytes that cannot be decoded (`.raise` mode); `transcoderError` has the offset.
        case decoding
        /// A character that cannot be encoded (`.raise` mode).
        case encoding
        /// The operation is not valid now (for example, reading after `closeReader()`).
        case operation
        /// Any other OS error; `errno` has it.
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
    /// The underlying transcoder error for `.decoding` and `.encoding`.
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

    static func invalid(_ input: String, _ reason: String) -> StreamPortError {
        StreamPortError(.invalidAddress, "invalid address \"\(input)\": \(reason)")
    }

    static func wrapping(_ error: TranscoderError) -> StreamPortError {
        StreamPortError(error.code == .encoding ? .encoding : .decoding, error.message, transcoderError: error)
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

    static func fromErrno(_ number: Int32, _ what: String) -> StreamPortError {
        let text = String(cString: strerror(number))
        let code: Code = switch number {
        case EADDRINUSE: .addressInUse
        case EACCES, EADDRNOTAVAIL, EPERM: .bindFailed
        case ECONNREFUSED: .connectionRefused
        case ECONNRESET, EPIPE: .connectionReset
        case ETIMEDOUT: .timedOut
        default: .system
        }
        let prefix = switch code {
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
