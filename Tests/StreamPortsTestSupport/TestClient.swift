import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP client on a raw POSIX socket: the other end of a test connection, so that bytes on the
/// wire are checked exactly and nothing of the library is trusted on that side. Every blocking
/// call runs on a Dispatch thread (``offPool(_:)``), not Swift's cooperative pool, and has a
/// deadline.
public final class TestClient: @unchecked Sendable {
    /// The socket (blocking, with SO_RCVTIMEO and SO_SNDTIMEO set to the connect timeout).
    public let fd: Int32
    private let isClosed = Mutex(false)

    /// Connects to `host` (a numeric IPv4 or IPv6 address) on `port`.
    /// - Parameters:
    ///   - timeout: bounds the connect and every later send and receive call, in seconds.
    ///   - receiveBuffer: SO_RCVBUF, set before connecting (a small one makes the peer's
    ///     replies back up quickly).
    /// - Throws: ``TestFailure`` naming the address and errno.
    public init(_ host: String, _ port: Int, timeout: Double = 10, receiveBuffer: Int32? = nil) throws {
        fd = try RawSocket.connect(host, port, receiveBuffer: receiveBuffer, timeout: timeout).fd
    }

    deinit { close() }

    /// Closes the socket (once; later calls do nothing).
    public func close() {
        let first = isClosed.withLock { closed -> Bool in
            defer { closed = true }
            return !closed
        }
        if first { Glibc.close(fd) }
    }

    /// Closes with SO_LINGER 0: the peer gets a reset (RST), whatever was in flight is dropped.
    public func reset() {
        var hard = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, socklen_t(MemoryLayout<linger>.size))
        close()
    }

    /// Half-closes: the peer reads end of stream, this side can still read.
    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Bytes received and not yet read (FIONREAD).
    public var unread: Int {
        var count: Int32 = 0
        _ = ioctl(fd, UInt(FIONREAD), &count)
        return Int(count)
    }

    // MARK: Sending

    /// Sends all of `bytes`.
    /// - Throws: ``TestFailure`` on an error, or when a send blocks past the timeout.
    public func send(_ bytes: [UInt8]) async throws {
        try await offPool { [self] in try sendNow(bytes) }
    }

    /// Sends `text` as UTF-8.
    public func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    private func sendNow(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TestFailure("send: errno \(errno) after \(offset) of \(bytes.count) bytes")
            }
            offset += n
        }
    }

    /// Sends what the peer takes within `seconds`, never blocking; returns the count sent.
    public func sendWhileAccepted(_ bytes: [UInt8], seconds: Double) async throws -> Int {
        try await offPool { [self] in
            let deadline = ContinuousClock.now + .seconds(seconds)
            var offset = 0
            while offset < bytes.count && ContinuousClock.now < deadline {
                let n = sendSome(bytes[offset...])
                if n > 0 { offset += n } else if n < 0 && !wouldBlock(errno) { break } else { waitWritable() }
            }
            return offset
        }
    }

    /// Sends `total` bytes made by `fill`, reading nothing and never blocking, until all are
    /// sent, the peer takes nothing more for `stall` seconds, `timeout` passes, or the peer
    /// resets the connection.
    /// - Parameter fill: writes the stream's bytes from an offset into its buffer (as many as
    ///   fit) and returns the count, so a long flood is never held in memory.
    /// - Returns: the count sent.
    /// - Throws: ``TestFailure`` on a send error other than a reset.
    public func sendUntilStalled(
        total: Int, stall: Double, timeout: Double, fill: @escaping @Sendable (inout [UInt8], Int) -> Int
    ) async throws -> Int {
        try await offPool { [self] in
            var chunk = [UInt8](repeating: 0, count: 65536)
            var offset = 0
            var progress = ContinuousClock.now
            let deadline = progress + .seconds(timeout)
            while offset < total && ContinuousClock.now < deadline && ContinuousClock.now - progress < .seconds(stall) {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                guard poll(&pfd, 1, 50) > 0 else { continue }
                let n = min(fill(&chunk, offset), total - offset)
                let sent = sendSome(chunk[..<n])
                if sent > 0 {
                    offset += sent
                    progress = ContinuousClock.now
                } else if sent < 0 && (errno == ECONNRESET || errno == EPIPE) {
                    break
                } else if sent < 0 && !wouldBlock(errno) {
                    throw TestFailure("send: errno \(errno) after \(offset) bytes")
                }
            }
            return offset
        }
    }

    /// Sends `total` bytes of `line` repeated, as ``sendUntilStalled(total:stall:timeout:fill:)``.
    /// - Returns: the count sent.
    public func sendUntilStalled(
        _ line: [UInt8], total: Int, stall: Double = 1, timeout: Double = 30
    ) async throws -> Int {
        precondition(!line.isEmpty)
        let pattern = Array(repeatElement(line, count: 65536 / line.count + 2).joined())
        return try await sendUntilStalled(total: total, stall: stall, timeout: timeout) { buffer, offset in
            let start = offset % line.count
            let n = min(buffer.count, pattern.count - start)
            buffer.replaceSubrange(0..<n, with: pattern[start..<(start + n)])
            return n
        }
    }

    /// One non-blocking send: the count taken, or -1 with errno.
    private func sendSome(_ bytes: ArraySlice<UInt8>) -> Int {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
    }

    private func wouldBlock(_ e: Int32) -> Bool { e == EAGAIN || e == EWOULDBLOCK || e == EINTR }

    /// Waits up to 50 ms for room in the send buffer.
    private func waitWritable() {
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        _ = poll(&pfd, 1, 50)
    }

    // MARK: Receiving

    /// Exactly `count` bytes (fewer only at end of stream).
    /// - Throws: ``TestFailure`` when `timeout` seconds pass first, with what came.
    public func read(_ count: Int, timeout: Double = 10) async throws -> [UInt8] {
        try await offPool { [self] in try readNow(upTo: count, timeout: timeout).bytes }
    }

    /// Everything until the peer closes.
    /// - Throws: ``TestFailure`` when `timeout` seconds pass first.
    public func readToEnd(timeout: Double = 10) async throws -> [UInt8] {
        try await offPool { [self] in try readNow(upTo: Int.max, timeout: timeout).bytes }
    }

    /// True when the peer closes (end of stream or reset) within `timeout` seconds with no more
    /// data.
    public func closedByPeer(timeout: Double = 10) async throws -> Bool {
        try await offPool { [self] in try readNow(upTo: Int.max, timeout: timeout).bytes.isEmpty }
    }

    private func readNow(upTo count: Int, timeout: Double) throws -> (bytes: [UInt8], ended: Bool) {
        let deadline = ContinuousClock.now + .seconds(timeout)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while bytes.count < count {
            guard ContinuousClock.now < deadline else {
                throw TestFailure("read timed out after \(timeout) s with \(bytes.count) bytes: \(preview(bytes))")
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 50) <= 0 { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - bytes.count), 0) }
            if n > 0 {
                bytes += chunk[0..<n]
            } else if n == 0 || errno == ECONNRESET {
                return (bytes, true)
            } else if errno != EINTR && errno != EAGAIN {
                throw TestFailure("recv: errno \(errno)")
            }
        }
        return (bytes, false)
    }
}
