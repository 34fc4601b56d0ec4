import StreamPortsTestSupport
import Synchronization
import Testing

@testable import StreamPorts

#if canImport(Glibc)
    import Glibc
#endif

/// Output must push back on input: a stream whose peer does not read its replies stops reading
/// that peer's requests, whichever task or thread its echo loop runs on.
@Suite("Backpressure", .timeLimit(.minutes(1)))
struct BackpressureTests {
    /// 64 MB of 64-byte lines, sent by a peer that reads nothing until the server stops taking them.
    static let total = 64 << 20
    static let line = Array((String(repeating: "backpressure ", count: 4) + "0123456789\n").utf8)

    /// The kernel's largest TCP send buffer (the third field of net.ipv4.tcp_wmem), 4 MiB if unreadable.
    static func sendBufferMax() -> Int {
        let fd = open("/proc/sys/net/ipv4/tcp_wmem", O_RDONLY)
        guard fd >= 0 else { return 4 << 20 }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 128)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        let fields = String(decoding: bytes.prefix(max(0, n)), as: UTF8.self).split(whereSeparator: {
            $0 == " " || $0 == "\t" || $0 == "\n"
        })
        return fields.count == 3 ? Int(fields[2]) ?? 4 << 20 : 4 << 20
    }

    @Test("An echo loop on a plain task (no executor preference) stops reading from a peer that does not read")
    func echoOnPlainTask() async throws {
        try await echoAgainstNonReader(onEventLoop: false)
    }

    @Test("An echo loop on the connection's event loop stops reading from a peer that does not read")
    func echoOnEventLoop() async throws {
        try await echoAgainstNonReader(onEventLoop: true)
    }

    func echoAgainstNonReader(onEventLoop: Bool) async throws {
        try await withServer { server in
            let peer = try TestClient("127.0.0.1", server.localPort, timeout: 30, receiveBuffer: 65536)
            guard let accepted = await server.read(timeout: .seconds(10)) else {
                throw StreamPortError(.timedOut, "no connection")
            }
            let consumed = Mutex(0)
            let body: @Sendable () async throws -> Void = {
                while let text = try await accepted.readLine() {
                    try accepted.showln(text)
                    consumed.withLock { $0 += text.utf8.count + 1 }
                }
                try await accepted.close()
            }
            let echo =
                onEventLoop ? Task(executorPreference: accepted.executor, operation: body) : Task(operation: body)

            let sent = try await peer.sendUntilStalled(Self.line, total: Self.total)
            // What the loop has read but the peer has not received sits in the server's kernel
            // send buffer (at most net.ipv4.tcp_wmem's maximum) or in user space: the stream's
            // output buffer and NIO's pending writes. The latter must stay within a few hundred
            // KiB (256 KiB hand-off, 64 KiB NIO high watermark), not grow with what the peer sends.
            let undelivered = consumed.withLock { $0 } - peer.unread
            let kernelMax = Self.sendBufferMax()
            print(
                "[faults] backpressure (\(onEventLoop ? "event-loop task" : "plain task")): peer sent \(sent >> 10) KiB of \(Self.total >> 20) MiB before stalling; echoed but undelivered \(undelivered >> 10) KiB (kernel send buffer at most \(kernelMax >> 10) KiB)"
            )
            #expect(sent < Self.total, "the server read all \(Self.total >> 20) MiB from a peer that reads nothing")
            #expect(
                undelivered < kernelMax + (1 << 20),
                "\(undelivered) bytes echoed and not delivered: output is piling up")

            // The peer reads now: the echo of every whole line sent arrives, in order.
            if sent < Self.total {
                let whole = sent - sent % Self.line.count
                let echoed = try await peer.read(whole, timeout: 30)
                #expect(echoed.count == whole)
                #expect(
                    echoed == Array(repeating: Self.line, count: whole / Self.line.count).flatMap { $0 },
                    "the echo differs from the lines sent")
            }
            echo.cancel()
            await accepted.abort()
        }
    }
}
