import Dispatch
import StreamPorts
#if canImport(Glibc)
import Glibc
#endif

/// A plain POSIX socket as the other end of a test connection, so that nothing of the library
/// is trusted on that side. Blocking work runs on Dispatch threads, every loop has a deadline.
final class RawPeer: @unchecked Sendable {
    let fd: Int32

    /// Connects to 127.0.0.1:`port` (non-blocking afterwards); `receiveBuffer` sets SO_RCVBUF first.
    init(port: Int, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw StreamPortError(.system, "socket: errno \(errno)") }
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else {
            let e = errno
            Glibc.close(fd)
            throw StreamPortError(.system, "connect to 127.0.0.1:\(port): errno \(e)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit { Glibc.close(fd) }

    /// Bytes received and not yet read (FIONREAD).
    var unread: Int {
        var count: Int32 = 0
        _ = ioctl(fd, UInt(FIONREAD), &count)
        return Int(count)
    }

    /// Sends `total` bytes of `line` repeated, without reading, until all are sent or nothing
    /// more is taken for `stall` seconds; returns the count sent.
    func sendUntilStalled(_ line: [UInt8], total: Int, stall: Double = 1, timeout: Double = 30) async -> Int {
        await onThread { [self] in
            let chunk = Array((0..<(65536 / line.count)).lazy.flatMap { _ in line })
            var sent = 0
            var progress = ContinuousClock.now
            let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
            while sent < total && ContinuousClock.now < deadline && ContinuousClock.now - progress < .milliseconds(Int(stall * 1000)) {
                let offset = sent % chunk.count
                let n = chunk[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, min($0.count, total - sent), Int32(MSG_NOSIGNAL)) }
                if n > 0 {
                    sent += n
                    progress = ContinuousClock.now
                } else {
                    var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&pfd, 1, 50)
                }
            }
            return sent
        }
    }

    /// Reads `count` bytes (fewer if the connection ends or `timeout` passes).
    func read(_ count: Int, timeout: Double = 30) async -> [UInt8] {
        await onThread { [self] in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(count)
            var chunk = [UInt8](repeating: 0, count: 65536)
            let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
            while bytes.count < count && ContinuousClock.now < deadline {
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&pfd, 1, 50) > 0 else { continue }
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - bytes.count), 0) }
                if n > 0 { bytes += chunk[0..<n] } else if n == 0 || (errno != EAGAIN && errno != EINTR) { break }
            }
            return bytes
        }
    }

    private func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: body()) }
        }
    }
}
