import Foundation
import StreamPortsTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Many non-blocking loopback clients of one server, driven with poll(2) on a Dispatch thread
/// (through ``offPool(_:)``): thousands of connections without a thread or a task each. Every
/// loop has a deadline. Not thread-safe: one operation at a time.
final class Swarm: @unchecked Sendable {
    /// The sockets, -1 once closed.
    private(set) var fds: [Int32] = []
    let port: Int

    /// Opens `count` connections to 127.0.0.1:`port`, `batch` at a time, each batch's
    /// handshakes awaited before the next (so a listen backlog never overflows).
    /// - Throws: ``TestFailure`` when a connection fails or a batch takes longer than `timeout`.
    init(port: Int, count: Int, batch: Int = 250, timeout: Double = 20) async throws {
        self.port = port
        do {
            try await offPool { [self] in
                var opened = 0
                while opened < count {
                    let n = min(batch, count - opened)
                    try connectBatch(n, timeout: timeout)
                    opened += n
                }
            }
        } catch {
            close(reset: true)
            throw error
        }
    }

    deinit { close(reset: true) }

    var count: Int { fds.count }

    /// Every connection's index.
    var all: [Int] { Array(fds.indices) }

    private func connectBatch(_ n: Int, timeout: Double) throws {
        var pending: [pollfd] = []
        for _ in 0..<n {
            let (fd, inProgress): (Int32, Bool)
            do {
                (fd, inProgress) = try RawSocket.connect("127.0.0.1", port, nonBlocking: true)
            } catch {
                throw TestFailure("\(error) after \(fds.count) connections")
            }
            fds.append(fd)
            if inProgress { pending.append(pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)) }
        }
        let deadline = Date().addingTimeInterval(timeout)
        while !pending.isEmpty {
            guard Date() < deadline else {
                throw TestFailure("\(pending.count) connects still pending after \(timeout) s")
            }
            _ = poll(&pending, nfds_t(pending.count), 100)
            var still: [pollfd] = []
            for p in pending {
                if p.revents == 0 { still.append(pollfd(fd: p.fd, events: p.events, revents: 0)); continue }
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &error, &length)
                if error != 0 { throw TestFailure("connect failed: errno \(error)") }
            }
            pending = still
        }
    }

    /// Sends `bytes(i)` on connection `i`, for every `i` in `indices` (default: all; small
    /// payloads: a send that would block is an error).
    func send(_ indices: [Int]? = nil, _ bytes: @escaping @Sendable (Int) -> [UInt8]) async throws {
        try await offPool { [self] in
            for i in indices ?? Array(fds.indices) {
                let payload = bytes(i)
                let n = payload.withUnsafeBytes { Glibc.send(fds[i], $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard n == payload.count else {
                    throw TestFailure("send on connection \(i): \(n) of \(payload.count) bytes, errno \(errno)")
                }
            }
        }
    }

    /// Reads until every connection in `indices` (default: all) has received exactly
    /// `expected(i)` (anything else is a failure, at once), within `timeout` seconds. Returns
    /// the connections that did before the deadline, in order.
    func receive(
        _ indices: [Int]? = nil, timeout: Double = 30, _ expected: @escaping @Sendable (Int) -> [UInt8]
    ) async throws -> [Int] {
        try await offPool { [self] in
            var got = [Int: [UInt8]]()
            var waiting = Dictionary(uniqueKeysWithValues: (indices ?? Array(fds.indices)).map { ($0, expected($0)) })
            var done: [Int] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            let deadline = Date().addingTimeInterval(timeout)
            while !waiting.isEmpty && Date() < deadline {
                let order = Array(waiting.keys)
                var polls = order.map { pollfd(fd: fds[$0], events: Int16(POLLIN), revents: 0) }
                let ready = poll(&polls, nfds_t(polls.count), 100)
                if ready <= 0 { continue }
                for (k, p) in polls.enumerated() where p.revents != 0 {
                    let i = order[k]
                    let n = chunk.withUnsafeMutableBytes { recv(p.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    if n <= 0 {
                        if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
                        throw TestFailure(
                            "connection \(i) ended (recv \(n), errno \(errno)) after \(got[i, default: []].count) bytes"
                        )
                    }
                    got[i, default: []] += chunk[0..<n]
                    let want = waiting[i]!
                    if got[i]!.count >= want.count {
                        guard got[i]! == want else {
                            throw TestFailure("connection \(i) got \(preview(got[i]!)), expected \(preview(want))")
                        }
                        waiting[i] = nil
                        done.append(i)
                    }
                }
            }
            return done.sorted()
        }
    }

    /// Closes the connections in `indices` (default: all; each once); with `reset`, SO_LINGER 0
    /// first (a RST: no TIME_WAIT left behind on this side, so thousands of test connections
    /// do not use up ephemeral ports).
    func close(_ indices: [Int]? = nil, reset: Bool) {
        for i in indices ?? Array(fds.indices) where fds[i] >= 0 {
            if reset {
                var hard = linger(l_onoff: 1, l_linger: 0)
                setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &hard, socklen_t(MemoryLayout<linger>.size))
            }
            Glibc.close(fds[i])
            fds[i] = -1
        }
    }
}
