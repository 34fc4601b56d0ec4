#if canImport(Glibc)
    import Glibc
#endif

// The raw POSIX sockets of the tests, in one place: clients (``TestClient``, and the swarms of
// the fault tests) and listeners. Nothing of the library is used on this side of a connection.

/// A numeric IPv4 or IPv6 address with a port, as a `sockaddr`.
struct RawAddress {
    let family: Int32
    private var storage = sockaddr_storage()
    private let length: socklen_t

    /// - Throws: ``TestFailure`` unless `host` is a numeric IPv4 or IPv6 address.
    init(_ host: String, _ port: Int) throws {
        var v4 = sockaddr_in(), v6 = sockaddr_in6()
        if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            family = AF_INET6
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeBytes(of: &v6) { src in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) } }
        } else if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            family = AF_INET
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeBytes(of: &v4) { src in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) } }
        } else {
            throw TestFailure("bad address \(host) (numeric IPv4 or IPv6 expected)")
        }
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) } }
    }
}

/// Opening and connecting raw TCP sockets.
public enum RawSocket {
    /// Opens a TCP socket (close-on-exec) and connects it to `host`:`port`.
    /// - Parameters:
    ///   - host: a numeric IPv4 or IPv6 address.
    ///   - port: the port.
    ///   - nonBlocking: open it non-blocking; the connect may then still be in progress.
    ///   - receiveBuffer: SO_RCVBUF, set before connecting (a small one makes the peer's
    ///     replies back up quickly).
    ///   - timeout: SO_RCVTIMEO and SO_SNDTIMEO in seconds (the latter also bounds a blocking
    ///     connect).
    /// - Returns: the descriptor, and whether the connect is still in progress (poll for
    ///   POLLOUT, then read SO_ERROR).
    /// - Throws: ``TestFailure`` naming the address and errno; the socket is closed then.
    public static func connect(
        _ host: String, _ port: Int, nonBlocking: Bool = false, receiveBuffer: Int32? = nil, timeout: Double? = nil
    ) throws -> (fd: Int32, inProgress: Bool) {
        let address = try RawAddress(host, port)
        let flags =
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
            | (nonBlocking ? Int32(SOCK_NONBLOCK.rawValue) : 0)
        let fd = socket(address.family, flags, 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if let timeout {
            var tv = timeval(tv_sec: Int(timeout), tv_usec: suseconds_t((timeout - timeout.rounded(.down)) * 1e6))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        let status = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if status == 0 { return (fd, false) }
        let e = errno
        if nonBlocking && e == EINPROGRESS { return (fd, true) }
        Glibc.close(fd)
        throw TestFailure("connect to \(host):\(port): errno \(e)")
    }
}

/// A listening TCP socket, closed when released.
public final class RawListener: Sendable {
    /// The socket.
    public let fd: Int32
    /// The port it listens on (the kernel's choice for port 0).
    public let port: Int

    /// Binds `host`:`port` and listens.
    /// - Parameters:
    ///   - host: a numeric IPv4 or IPv6 address.
    ///   - port: the port; 0 lets the kernel choose a free one.
    ///   - backlog: the listen backlog.
    /// - Throws: ``TestFailure`` naming the address and errno.
    public init(_ host: String = "127.0.0.1", port: Int = 0, backlog: Int32 = 4) throws {
        let address = try RawAddress(host, port)
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        guard address.withSockaddr({ bind(fd, $0, $1) }) == 0, listen(fd, backlog) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw TestFailure("listen on \(host):\(port): errno \(e)")
        }
        var bound = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        // sin_port and sin6_port sit at the same offset, right after the family.
        let portBytes = withUnsafeBytes(of: bound) { UInt16($0[2]) << 8 | UInt16($0[3]) }
        self.fd = fd
        self.port = Int(portBytes)
    }

    deinit { Glibc.close(fd) }
}

/// A port on `host` that nothing listens on now (bound, then released at once): for a test
/// that must name its port before the server under test binds it.
/// - Parameter host: a numeric IPv4 or IPv6 address.
/// - Throws: ``TestFailure`` when no port can be bound.
public func freePort(on host: String = "127.0.0.1") throws -> Int {
    try RawListener(host).port
}

/// Whether this machine has IPv6 loopback (`::1` can be bound).
public let ipv6Loopback: Bool = (try? RawListener("::1")) != nil
