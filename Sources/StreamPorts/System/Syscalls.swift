import NIOCore

#if canImport(Glibc)
    import Glibc
#else
    #error("unsupported platform: StreamPorts' system calls are written for Glibc (Linux)")
#endif

// Every system call StreamPorts makes itself (NIO makes the rest), in one place, with its
// result checked: a failure throws a ``StreamPortError`` carrying the errno, classified by
// ``ErrnoClass``. The C functions are bound to names of their own first, as NIOPosix's
// System.swift does: inside a type with a `bind` or `listen` method the bare name would mean the
// method, and the module-qualified name (`Glibc.bind`) would tie every call site to one libc.

private let sysSocket: @convention(c) (CInt, CInt, CInt) -> CInt = socket
private let sysSetsockopt: @convention(c) (CInt, CInt, CInt, UnsafeRawPointer?, socklen_t) -> CInt = setsockopt
private let sysGetsockopt:
    @convention(c) (CInt, CInt, CInt, UnsafeMutableRawPointer?, UnsafeMutablePointer<socklen_t>?) -> CInt = getsockopt
private let sysBind: @convention(c) (CInt, UnsafePointer<sockaddr>?, socklen_t) -> CInt = bind
private let sysListen: @convention(c) (CInt, CInt) -> CInt = listen
private let sysGetsockname:
    @convention(c) (CInt, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?) -> CInt =
        getsockname
private let sysClose: @convention(c) (CInt) -> CInt = close
private let sysRead: @convention(c) (CInt, UnsafeMutableRawPointer?, Int) -> Int = read
private let sysWrite: @convention(c) (CInt, UnsafeRawPointer?, Int) -> Int = write

/// Checked system calls. `what` names the socket or file in error messages.
package enum Syscalls {
    /// `socket(2)`: a close-on-exec stream socket of `family` (`AF_INET`, `AF_INET6`).
    /// - Throws: ``StreamPortError`` from the errno (`.system` for `EMFILE`, …).
    static func streamSocket(family: CInt, what: String) throws(StreamPortError) -> CInt {
        let fd = sysSocket(family, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .fromErrno(errno, what) }
        return fd
    }

    /// `setsockopt(2)` of an integer option.
    /// - Throws: ``StreamPortError`` from the errno.
    static func setOption(_ fd: CInt, level: CInt, name: CInt, value: CInt, what: String) throws(StreamPortError) {
        var value = value
        let result = sysSetsockopt(fd, level, name, &value, socklen_t(MemoryLayout<CInt>.size))
        guard result == 0 else { throw .fromErrno(errno, what) }
    }

    /// `getsockopt(2)` of an integer option.
    /// - Throws: ``StreamPortError`` from the errno (`EBADF`: not open, `ENOTSOCK`: not a socket).
    static func option(_ fd: CInt, level: CInt, name: CInt, what: String) throws(StreamPortError) -> CInt {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        guard sysGetsockopt(fd, level, name, &value, &length) == 0 else { throw .fromErrno(errno, what) }
        return value
    }

    /// Sets `FD_CLOEXEC` on `fd` (`fcntl(2)`), as `sd_listen_fds(3)` does to inherited sockets.
    /// - Throws: ``StreamPortError`` from the errno.
    package static func setCloseOnExec(_ fd: CInt, what: String) throws(StreamPortError) {
        let flags = fcntl(fd, F_GETFD)
        guard flags >= 0, fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0 else { throw .fromErrno(errno, what) }
    }

    /// `bind(2)` to `address`.
    /// - Throws: ``StreamPortError`` `.addressInUse`, `.bindFailed`, or another code from the
    ///   errno.
    static func bind(_ fd: CInt, to address: SocketAddress, what: String) throws(StreamPortError) {
        let result = address.withSockAddr { sysBind(fd, $0, socklen_t($1)) }
        guard result == 0 else { throw .fromErrno(errno, what) }
    }

    /// `listen(2)`.
    /// - Throws: ``StreamPortError`` from the errno.
    static func listen(_ fd: CInt, backlog: CInt, what: String) throws(StreamPortError) {
        guard sysListen(fd, backlog) == 0 else { throw .fromErrno(errno, what) }
    }

    /// The port `fd` is bound to (`getsockname(2)`); IPv4 and IPv6.
    /// - Throws: ``StreamPortError`` from the errno.
    static func boundPort(_ fd: CInt, what: String) throws(StreamPortError) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sysGetsockname(fd, $0, &length) }
        }
        guard result == 0 else { throw .fromErrno(errno, what) }
        // sin_port and sin6_port sit at the same offset, after the family.
        return withUnsafeBytes(of: storage) {
            Int(UInt16(bigEndian: $0.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        }
    }

    /// `close(2)`. On Linux the descriptor is released even when close reports an error
    /// (`EINTR`, `EIO`), so it is never retried.
    /// - Throws: ``StreamPortError`` from the errno.
    static func close(_ fd: CInt, what: String) throws(StreamPortError) {
        guard sysClose(fd) == 0 else { throw .fromErrno(errno, what) }
    }

    /// One `read(2)` into `buffer`, retrying `EINTR`.
    /// - Returns: the byte count, 0 at end of file.
    /// - Throws: ``StreamPortError`` from the errno.
    package static func read(
        _ fd: CInt, into buffer: UnsafeMutableRawBufferPointer, what: String
    ) throws(StreamPortError) -> Int {
        while true {
            let count = sysRead(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw .fromErrno(errno, what) }
        }
    }

    /// One `write(2)` from `buffer`, retrying `EINTR`.
    /// - Returns: the byte count written (may be fewer than `buffer.count`).
    /// - Throws: ``StreamPortError`` from the errno (`.connectionReset` for `EPIPE`).
    package static func write(
        _ fd: CInt, from buffer: UnsafeRawBufferPointer, what: String
    ) throws(StreamPortError) -> Int {
        while true {
            let count = sysWrite(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw .fromErrno(errno, what) }
        }
    }
}
