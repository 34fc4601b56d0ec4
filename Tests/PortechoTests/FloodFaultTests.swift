import Foundation
import StreamPortsTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Faults {
    /// A client that sends and never reads: the server must stop reading from it once its
    /// echoes cannot be delivered, so its memory stays bounded, and keep serving the others.
    @Suite("Flood")
    struct Flood {
        /// How much the flooding client tries to send (`FAULTS_FLOOD_MB`, default 100).
        static let megabytes = environmentInt("FAULTS_FLOOD_MB", 100)

        @Test("A client sends 100 MB and never reads: server memory bounded, others served, then every byte echoed")
        func floodWithoutReading() async throws {
            let server = try await FaultServer()
            defer { server.process.kill() }
            try await server.warmUp()
            let witness = try server.client()
            try await expectEcho(witness, "witness")
            server.stats.resetPeak()
            let before = try server.stats.memory()

            // Lines of 100 bytes whose text names their position, so any loss or reordering shows.
            let total = Flood.megabytes << 20
            let flood = FloodPattern(total: total)
            let flooder = try server.client(receiveBuffer: 65536)
            let start = ContinuousClock.now
            let sent = try await flooder.sendUntilStalled(flood, stall: 2, timeout: 30)
            let stalled = try server.stats.memory()
            let cpuAtStall = try server.stats.cpuSeconds()

            // The witness is served while the flooder is stalled.
            let echoStart = ContinuousClock.now
            try await expectEcho(witness, "served while flooded")
            let echoTime = seconds(since: echoStart)
            try await Task.sleep(for: .seconds(1))
            let idleCPU = try server.stats.cpuSeconds() - cpuAtStall

            print(
                "[faults] flood: client sent \(sent >> 20) of \(Flood.megabytes) MB before stalling (\(seconds(since: start)) s, the rest is in socket buffers); server RSS \(mib(before.rss)) → \(mib(stalled.rss)) MiB, peak \(mib(stalled.peak)) MiB; another client's echo took \(echoTime) s; server CPU while stalled \(String(format: "%.2f", idleCPU)) s in 1 s"
            )
            #expect(sent < total, "the server read all \(Flood.megabytes) MB from a client that never reads")
            #expect(
                stalled.peak - before.rss < 32 * 1024,
                "server peak grew by \(mib(stalled.peak - before.rss)) MiB while flooded")
            #expect(idleCPU < 0.5, "server busy while the flooder is stalled: \(idleCPU) s CPU in 1 s")

            // Now the flooder reads: everything arrives, exactly, and memory stayed bounded.
            let received = try await flooder.sendAndVerifyEcho(flood, alreadySent: sent, timeout: 120)
            let after = try server.stats.memory()
            print(
                "[faults] flood: then \(received >> 20) MB echoed exactly in \(seconds(since: start)) s in all; server peak \(mib(after.peak)) MiB"
            )
            #expect(received == total)
            #expect(after.peak - before.rss < 32 * 1024, "server peak grew by \(mib(after.peak - before.rss)) MiB")
            flooder.close()
            witness.close()
            try await server.stop()
        }

        @Test("With --idle-timeout, a client that sends and never reads is closed once its echoes stall that long")
        func idleTimeoutClosesANonReader() async throws {
            let server = try await FaultServer(["--idle-timeout", "0.5", "--log-level", "info"])
            defer { server.process.kill() }
            try await server.warmUp()
            let baseline = try await server.stats.settledFDs()
            let flooder = try server.client(receiveBuffer: 65536)
            let start = ContinuousClock.now
            let sent = try await flooder.sendUntilStalled(FloodPattern(total: 64 << 20), stall: 5, timeout: 20)
            // Closed within twice the timeout (echoes stalled, then the close's own drain), plus slack.
            #expect(
                try await server.stats.waitForFDs(baseline, timeout: 10) == baseline,
                "the non-reading client's connection is still open")
            let closedAfter = seconds(since: start)
            let witness = try server.client()
            try await expectEcho(witness, "still served")
            #expect(
                try await server.process.stderrContains("the peer is not reading"),
                "stderr: \(server.process.stderr.text)")
            print(
                "[faults] flood with --idle-timeout 0.5: \(sent >> 20) MB taken, then the server closed the connection (\(closedAfter) s after the flood began)"
            )
            flooder.close()
            witness.close()
            try await server.stop()
        }
    }
}

/// The flood's bytes: 100-byte lines `NNNNNNNNNN abc…\n` (the line number, zero-padded),
/// generated on demand so 100 MB is never held in memory.
struct FloodPattern: Sendable {
    static let lineLength = 100
    let total: Int

    /// Fills `buffer` with the stream's bytes from `offset` (no further than `total`); returns the count.
    func fill(_ buffer: inout [UInt8], from offset: Int) -> Int {
        let n = min(buffer.count, total - offset)
        var line = [UInt8](repeating: 0, count: FloodPattern.lineLength)
        for column in 10..<FloodPattern.lineLength - 1 {
            line[column] = column == 10 ? 0x20 : UInt8(ascii: "a") + UInt8(column % 26)
        }
        line[FloodPattern.lineLength - 1] = 0x0A
        var number = offset / FloodPattern.lineLength
        var column = offset % FloodPattern.lineLength
        var i = 0
        buffer.withUnsafeMutableBytes { out in
            line.withUnsafeMutableBytes { template in
                while i < n {
                    var value = number
                    for digit in stride(from: 9, through: 0, by: -1) {
                        template[digit] = UInt8(ascii: "0") + UInt8(value % 10)
                        value /= 10
                    }
                    let k = min(FloodPattern.lineLength - column, n - i)
                    (out.baseAddress! + i).copyMemory(from: template.baseAddress! + column, byteCount: k)
                    i += k
                    number += 1
                    column = 0
                }
            }
        }
        return n
    }
}

extension TestClient {
    /// Sends `pattern` without reading, until all of it is sent, nothing more is taken for
    /// `stall` seconds (at most `timeout`), or the peer resets; returns the bytes sent.
    func sendUntilStalled(_ pattern: FloodPattern, stall: Double, timeout: Double) async throws -> Int {
        try await sendUntilStalled(total: pattern.total, stall: stall, timeout: timeout) { pattern.fill(&$0, from: $1) }
    }

    /// Sends the rest of `pattern` from `alreadySent` while reading the echo, checking every
    /// byte against the pattern; returns the bytes received (all of `pattern.total` unless the
    /// deadline passes).
    func sendAndVerifyEcho(_ pattern: FloodPattern, alreadySent: Int, timeout: Double) async throws -> Int {
        try await offPool { [self] in
            var out = [UInt8](repeating: 0, count: 65536)
            var expected = [UInt8](repeating: 0, count: 65536)
            var input = [UInt8](repeating: 0, count: 65536)
            var sent = alreadySent
            var received = 0
            let deadline = Date().addingTimeInterval(timeout)
            while received < pattern.total {
                guard Date() < deadline else {
                    throw TestFailure("echo incomplete after \(timeout) s: \(received) of \(pattern.total) bytes")
                }
                var pfd = pollfd(
                    fd: fd, events: Int16(POLLIN) | (sent < pattern.total ? Int16(POLLOUT) : 0), revents: 0)
                guard poll(&pfd, 1, 100) > 0 else { continue }
                if sent < pattern.total && pfd.revents & Int16(POLLOUT) != 0 {
                    let n = pattern.fill(&out, from: sent)
                    let k = out.withUnsafeBytes {
                        Glibc.send(fd, $0.baseAddress, n, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                    }
                    if k > 0 { sent += k }
                }
                if pfd.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                    let k = input.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    if k == 0 { throw TestFailure("end of stream after \(received) of \(pattern.total) echoed bytes") }
                    if k < 0 {
                        if errno == EAGAIN || errno == EINTR { continue }
                        throw TestFailure("recv: errno \(errno) after \(received) bytes")
                    }
                    _ = pattern.fill(&expected, from: received)
                    let same = input.withUnsafeBytes { a in
                        expected.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, k) == 0 }
                    }
                    if !same {
                        let bad = (0..<k).first { input[$0] != expected[$0] }!
                        throw TestFailure(
                            "echo differs at byte \(received + bad): \(preview(Array(input[bad..<min(k, bad + 32)])))")
                    }
                    received += k
                }
            }
            return received
        }
    }
}
