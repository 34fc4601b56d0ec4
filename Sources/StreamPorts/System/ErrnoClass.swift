#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one classifier of C error numbers. ``StreamPortError`` takes its code from it,
/// `TCPSocket.ErrorKind` its kind, and the accept loop (``AcceptController``) its decision to
/// pause; so a number means the same thing on every path.
///
/// | class | errno |
/// |---|---|
/// | ``addressInUse`` | `EADDRINUSE` |
/// | ``accessDenied`` | `EACCES`, `EPERM` |
/// | ``addressNotAvailable`` | `EADDRNOTAVAIL` |
/// | ``connectionRefused`` | `ECONNREFUSED` |
/// | ``connectionReset`` | `ECONNRESET`, `EPIPE` |
/// | ``connectionAborted`` | `ECONNABORTED` |
/// | ``unreachable`` | `ENETUNREACH`, `EHOSTUNREACH`, `ENETDOWN` |
/// | ``timedOut`` | `ETIMEDOUT` |
/// | ``resourceExhausted`` | `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM` |
/// | ``unsupported`` | `EOPNOTSUPP` |
/// | ``unfinished`` | `EALREADY`, `EINPROGRESS` |
/// | ``temporary`` | `EAGAIN` (`EWOULDBLOCK`), `EINTR` |
/// | ``other`` | anything else |
enum ErrnoClass: Sendable, Hashable {
    case addressInUse
    case accessDenied
    case addressNotAvailable
    case connectionRefused
    case connectionReset
    case connectionAborted
    case unreachable
    case timedOut
    /// Out of descriptors or kernel memory: the condition passes when other sockets close, so
    /// the accept loop pauses rather than retrying at once.
    case resourceExhausted
    case unsupported
    case unfinished
    case temporary
    case other

    /// The class of `number`.
    init(_ number: Int32) {
        switch number {
        case EADDRINUSE: self = .addressInUse
        case EACCES, EPERM: self = .accessDenied
        case EADDRNOTAVAIL: self = .addressNotAvailable
        case ECONNREFUSED: self = .connectionRefused
        case ECONNRESET, EPIPE: self = .connectionReset
        case ECONNABORTED: self = .connectionAborted
        case ENETUNREACH, EHOSTUNREACH, ENETDOWN: self = .unreachable
        case ETIMEDOUT: self = .timedOut
        case EMFILE, ENFILE, ENOBUFS, ENOMEM: self = .resourceExhausted
        case EOPNOTSUPP: self = .unsupported
        case EALREADY, EINPROGRESS: self = .unfinished
        case EAGAIN, EINTR: self = .temporary  // EWOULDBLOCK is EAGAIN on Linux
        default: self = .other
        }
    }

    /// The ``StreamPortError`` code for an error with this number.
    var code: StreamPortError.Code {
        switch self {
        case .addressInUse: .addressInUse
        case .accessDenied, .addressNotAvailable: .bindFailed
        case .connectionRefused: .connectionRefused
        case .connectionReset: .connectionReset
        case .timedOut: .timedOut
        case .connectionAborted, .unreachable, .resourceExhausted, .unsupported, .unfinished, .temporary, .other:
            .system
        }
    }
}
