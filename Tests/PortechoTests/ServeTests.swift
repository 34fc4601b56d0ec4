import Foundation
import StreamPortsTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `portecho serve` end to end: a real process, real loopback sockets, exact bytes.
@Suite("portecho serve", .serialized, .timeLimit(.minutes(1)))
struct ServeTests {
    /// Starts `portecho serve ARGS` and returns it with its port.
    func serve(_ arguments: [String], host: String = "127.0.0.1") async throws -> (Portecho, Int) {
        let server = try Portecho(["serve"] + arguments)
        do {
            return (server, try await server.listeningPort(host: host))
        } catch {
            server.kill()
            throw error
        }
    }

    /// SIGTERM, then exit status 0 and nothing on stdout after the first line.
    func stop(_ server: Portecho) async throws {
        server.send(signal: SIGTERM)
        #expect(try await server.exitStatus() == 0, "stderr: \(server.stderr.text)")
        #expect(server.stdout.text.split(separator: "\n").count == 1, "stdout: \(server.stdout.text)")
    }

    @Test("UTF-8, LF: lines, a CR LF, a last line without its end; exact bytes back")
    func utf8() async throws {
        let (server, port) = try await serve(["127.0.0.1:0", "--eol", "lf"])
        defer { server.kill() }
        let client = try TestClient("127.0.0.1", port)
        try await client.send("hello\nwörld 😀\r\n")
        #expect(try await client.read(18) == Array("hello\nwörld 😀\n".utf8))
        try await client.send("last")
        client.shutdownWrite()
        #expect(try await client.readToEnd() == Array("last\n".utf8))
        try await stop(server)
    }

    @Test("No options: UTF-8, CRLF; all digits is a port on 127.0.0.1")
    func defaults() async throws {
        let (server, port) = try await serve(["0"])
        defer { server.kill() }
        let client = try TestClient("127.0.0.1", port)
        try await client.send("a\nb\r\nc\r")
        client.shutdownWrite()
        #expect(try await client.readToEnd() == Array("a\r\nb\r\nc\r\n".utf8))
        try await stop(server)
    }

    @Test("Shift_JIS server: multibyte characters with 0x5C trail bytes, split across writes")
    func shiftJIS() async throws {
        let (server, port) = try await serve(["127.0.0.1:0", "--encoding", "Shift_JIS", "--eol", "crlf"])
        defer { server.kill() }
        let client = try TestClient("127.0.0.1", port)
        // 日本語 / 表ソ (trail byte 0x5C) / ｶﾅ (half-width katakana), CR LF each.
        let line1: [UInt8] = [0x93, 0xFA, 0x96, 0x7B, 0x8C, 0xEA, 0x0D, 0x0A]
        let line2: [UInt8] = [0x95, 0x5C, 0x83, 0x5C, 0x0D, 0x0A]
        let line3: [UInt8] = [0xB6, 0xC5, 0x0D, 0x0A]
        try await client.send(line1 + [0x95])  // 表 split after its lead byte
        try await Task.sleep(for: .milliseconds(50))
        try await client.send(Array(line2[1..<5]))  // …ソ and CR; its LF comes next
        try await Task.sleep(for: .milliseconds(50))
        try await client.send([0x0A] + line3)
        client.shutdownWrite()
        #expect(try await client.readToEnd() == line1 + line2 + line3)
        try await stop(server)
    }

    @Test("UTF-16LE server: exact bytes back, a surrogate pair split across writes")
    func utf16LE() async throws {
        let (server, port) = try await serve(["127.0.0.1:0", "--encoding", "UTF-16LE", "--eol", "lf"])
        defer { server.kill() }
        let client = try TestClient("127.0.0.1", port)
        let text = "hé 😀\nline two\n"
        let bytes = text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        try await client.send(Array(bytes[..<7]))  // "hé " and half of the high surrogate
        try await Task.sleep(for: .milliseconds(50))
        try await client.send(Array(bytes[7...]))
        #expect(try await client.read(bytes.count) == bytes)
        client.shutdownWrite()
        #expect(try await client.closedByPeer())
        try await stop(server)
    }

    @Test("IPv6 loopback: [::1]:0", .enabled(if: ipv6Loopback))
    func ipv6() async throws {
        let (server, port) = try await serve(["[::1]:0", "--eol", "lf"], host: "[::1]")
        defer { server.kill() }
        let client = try TestClient("::1", port)
        try await client.send("over six\n")
        #expect(try await client.read(9) == Array("over six\n".utf8))
        try await stop(server)
    }

    @Test("A host without a port uses --port", .enabled(if: ipv6Loopback))
    func hostWithPortOption() async throws {
        let chosen = try freePort(on: "::1")
        let (server, port) = try await serve(["::1", "--port", "\(chosen)", "--eol", "lf"], host: "[::1]")
        defer { server.kill() }
        #expect(port == chosen, "listening on port \(port), --port \(chosen)")
        let client = try TestClient("::1", chosen)
        try await client.send("on the given port\n")
        #expect(try await client.read(18) == Array("on the given port\n".utf8))
        try await stop(server)
    }

    @Test("--errors raise: a bad byte closes that connection only, logged with its offset")
    func decodingError() async throws {
        let (server, port) = try await serve(["127.0.0.1:0", "--eol", "lf", "--errors", "raise", "--log-level", "info"])
        defer { server.kill() }
        let other = try TestClient("127.0.0.1", port)
        try await other.send("before\n")
        #expect(try await other.read(7) == Array("before\n".utf8))
        let bad = try TestClient("127.0.0.1", port)
        try await bad.send([0x6F, 0x6B, 0x0A, 0x61, 0xFF, 0x62, 0x0A])  // "ok\n" then a, FF at offset 4
        #expect(try await bad.readToEnd() == Array("ok\n".utf8))
        try await other.send("after\n")
        #expect(try await other.read(6) == Array("after\n".utf8))
        #expect(try await server.stderrContains("byte offset 4"), "stderr: \(server.stderr.text)")
        try await stop(server)
    }

    @Test("A line over --max-line-length closes that connection; exactly the limit is fine")
    func lineTooLong() async throws {
        let (server, port) = try await serve(["127.0.0.1:0", "--eol", "lf", "--max-line-length", "8"])
        defer { server.kill() }
        let client = try TestClient("127.0.0.1", port)
        try await client.send("12345678\n123456789\nnever\n")
        #expect(try await client.readToEnd() == Array("12345678\n".utf8))
        let next = try TestClient("127.0.0.1", port)
        try await next.send("fine\n")
        #expect(try await next.read(5) == Array("fine\n".utf8))
        try await stop(server)
    }

    @Test("--idle-timeout closes a silent connection, not a talking one")
    func idleTimeout() async throws {
        // The talking client speaks every 100 ms, well inside the 1.2 s limit even when
        // other tests load the machine; the silent one is closed after about 1.2 s.
        let (server, port) = try await serve(["127.0.0.1:0", "--eol", "lf", "--idle-timeout", "1.2"])
        defer { server.kill() }
        let silent = try TestClient("127.0.0.1", port)
        let talking = try TestClient("127.0.0.1", port)
        let start = ContinuousClock.now
        async let silentClosedAfter: Duration? =
            try await silent.closedByPeer(timeout: 8) ? ContinuousClock.now - start : nil
        for i in 0..<20 {
            try await talking.send("\(i % 10)\n")
            #expect(try await talking.read(2) == Array("\(i % 10)\n".utf8))
            try await Task.sleep(for: .milliseconds(100))
        }
        let closedAfter = try await silentClosedAfter
        #expect(
            closedAfter.map { $0 >= .milliseconds(1100) && $0 < .seconds(8) } == true,
            "closed after \(String(describing: closedAfter))")
        try await talking.send("still\n")
        #expect(try await talking.read(6) == Array("still\n".utf8))
        try await stop(server)
    }

    @Test("A client that half-closes gets every echo, then end of stream")
    func halfClose() async throws {
        let (server, port) = try await serve(["127.0.0.1:0", "--eol", "lf"])
        defer { server.kill() }
        let client = try TestClient("127.0.0.1", port)
        let lines = (0..<20_000).map { "line \($0) ✓ " + String(repeating: "x", count: $0 % 50) + "\n" }.joined()
        let sent = Array(lines.utf8)
        async let echoed = client.readToEnd(timeout: 30)
        try await client.send(sent)
        client.shutdownWrite()
        #expect(try await echoed == sent)
        try await stop(server)
    }

    @Test("SIGTERM: idle connections close at once, exit 0")
    func sigtermIdle() async throws {
        let (server, port) = try await serve(["127.0.0.1:0", "--eol", "lf", "--grace", "10"])
        defer { server.kill() }
        let idle = try TestClient("127.0.0.1", port)
        try await idle.send("hi\n")
        #expect(try await idle.read(3) == Array("hi\n".utf8))
        let start = ContinuousClock.now
        server.send(signal: SIGTERM)
        #expect(try await idle.closedByPeer(timeout: 5))
        #expect(try await server.exitStatus() == 0)
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect((try? TestClient("127.0.0.1", port, timeout: 1)) == nil, "still accepting")
    }

    @Test("SIGTERM: a busy connection flushes its pending echoes, whole lines, then closes")
    func sigtermBusy() async throws {
        let (server, port) = try await serve(["127.0.0.1:0", "--eol", "lf", "--grace", "10"])
        defer { server.kill() }
        let client = try TestClient("127.0.0.1", port)
        let line = String(repeating: "0123456789", count: 10) + "\n"
        let payload = Array(String(repeating: line, count: 200_000).utf8)  // 20 MB: fills every buffer
        let accepted = try await client.sendWhileAccepted(payload, seconds: 1)
        #expect(accepted > 0 && accepted < payload.count)
        server.send(signal: SIGTERM)
        try await Task.sleep(for: .milliseconds(300))
        let echoed = try await client.readToEnd(timeout: 20)
        #expect(echoed.count > 0 && echoed.count <= accepted)
        #expect(echoed.count % line.utf8.count == 0, "echoes end mid-line: \(echoed.count) bytes")
        #expect(echoed == Array(payload[..<echoed.count]))
        #expect(try await server.exitStatus() == 0)
    }

    /// Line `i` of a stream of numbered 64-byte lines.
    static func numberedLine(_ i: Int) -> [UInt8] {
        let digits = String(i)
        return Array(
            ("line " + String(repeating: "0", count: max(0, 10 - digits.count)) + digits
                + String(repeating: ".", count: 48) + "\n").utf8)
    }

    @Test(
        "SIGTERM: a client that goes on sending for seconds still gets every echo, whole lines, then a FIN, not a reset"
    )
    func sigtermWhileTheClientKeepsSending() async throws {
        let (server, port) = try await serve(["127.0.0.1:0", "--eol", "lf", "--grace", "10"])
        defer { server.kill() }
        let client = try TestClient("127.0.0.1", port)
        let fd = client.fd
        // Reads slowly (8 KiB every 20 ms, so echoes wait in its receive buffer) until end of
        // stream, noting a reset, which would destroy the echoes still waiting there.
        let reader = Task {
            try await offPool { () -> (bytes: [UInt8], reset: Bool) in
                var bytes: [UInt8] = []
                var chunk = [UInt8](repeating: 0, count: 8192)
                let deadline = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < deadline {
                    var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    if poll(&pfd, 1, 50) <= 0 { continue }
                    let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    if n > 0 {
                        bytes += chunk[0..<n]; usleep(20_000)
                    } else if n == 0 {
                        return (bytes, false)
                    } else if errno == ECONNRESET {
                        return (bytes, true)
                    }
                }
                throw TestFailure("no end of stream after 30 s (\(bytes.count) bytes)")
            }
        }
        // Sends numbered lines for 0.5 s before SIGTERM and 3 s after (three times the old
        // linger), never blocking; stops early only if the server resets.
        let sender = Task {
            try await offPool { () -> Int in
                var i = 0
                var pending: [UInt8] = []
                let end = ContinuousClock.now + .seconds(3.5)
                while ContinuousClock.now < end {
                    if pending.isEmpty { pending = ServeTests.numberedLine(i); i += 1 }
                    let n = pending.withUnsafeBytes {
                        send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                    }
                    if n > 0 {
                        pending.removeFirst(n)
                    } else if errno == EAGAIN || errno == EWOULDBLOCK {
                        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                        _ = poll(&pfd, 1, 10)
                    } else {
                        break
                    }
                }
                return i
            }
        }
        try await Task.sleep(for: .milliseconds(500))
        server.send(signal: SIGTERM)
        let linesStarted = try await sender.value
        client.shutdownWrite()  // the client is done at last
        let (echoed, reset) = try await reader.value
        #expect(!reset, "the server reset the connection: echoes in flight were lost")
        #expect(echoed.count % 64 == 0, "echoes end mid-line: \(echoed.count) bytes")
        let lines = echoed.count / 64
        #expect(lines > 0 && lines <= linesStarted)
        #expect(echoed == (0..<lines).flatMap { ServeTests.numberedLine($0) })
        #expect(try await server.exitStatus() == 0)
    }

    @Test("--max-connections N: the N+1th client is not served until one of the first N leaves")
    func maxConnections() async throws {
        let (server, port) = try await serve(["127.0.0.1:0", "--eol", "lf", "--max-connections", "2"])
        defer { server.kill() }
        let first = try TestClient("127.0.0.1", port)
        let second = try TestClient("127.0.0.1", port)
        try await first.send("a\n")
        try await second.send("b\n")
        #expect(try await first.read(2) == Array("a\n".utf8))
        #expect(try await second.read(2) == Array("b\n".utf8))
        // The third connects (the kernel's backlog takes it) but gets no echo yet.
        let third = try TestClient("127.0.0.1", port)
        try await third.send("c\n")
        await #expect(throws: (any Error).self) { try await third.read(2, timeout: 1) }
        first.close()
        #expect(try await third.read(2, timeout: 10) == Array("c\n".utf8))
        second.close()
        third.close()
        try await stop(server)
    }

    @Test("Warnings a peer can trigger are rate-limited: 40 bad clients log a few lines and a suppressed count")
    func peerWarningsAreRateLimited() async throws {
        let (server, port) = try await serve(["127.0.0.1:0", "--eol", "lf", "--errors", "raise"])
        defer { server.kill() }
        for _ in 0..<40 {
            let client = try TestClient("127.0.0.1", port)
            try await client.send([0xFF, 0x0A])
            #expect(try await client.closedByPeer(timeout: 5))
            client.close()
        }
        try await Task.sleep(for: .milliseconds(1100))  // a new second: the next warning says how many were dropped
        let last = try TestClient("127.0.0.1", port)
        try await last.send([0xFF, 0x0A])
        #expect(try await last.closedByPeer(timeout: 5))
        #expect(try await server.stderrContains("more suppressed"), "stderr: \(server.stderr.text)")
        let warnings = server.stderr.text.split(separator: "\n").filter { $0.contains("closing: cannot decode") }
        #expect(warnings.count < 20, "\(warnings.count) warnings for 41 bad clients")
        try await stop(server)
    }

    @Test("--max-connections 0 is a usage error")
    func maxConnectionsZero() async throws {
        let result = try await Portecho.run(["serve", "127.0.0.1:0", "--max-connections", "0"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--max-connections 0"), "stderr: \(result.stderr)")
    }

    @Test("SIGTERM: --grace bounds a connection whose peer never reads")
    func graceExpires() async throws {
        let (server, port) = try await serve(["127.0.0.1:0", "--eol", "lf", "--grace", "0.5"])
        defer { server.kill() }
        let client = try TestClient("127.0.0.1", port)
        let payload = Array(String(repeating: String(repeating: "z", count: 99) + "\n", count: 200_000).utf8)
        _ = try await client.sendWhileAccepted(payload, seconds: 1)
        let start = ContinuousClock.now
        server.send(signal: SIGINT)
        #expect(try await server.exitStatus(timeout: 10) == 0)
        #expect(ContinuousClock.now - start < .seconds(4))
        _ = client
    }

    @Test("Address in use: exit 1, naming the address and port")
    func addressInUse() async throws {
        let (server, port) = try await serve(["127.0.0.1:0"])
        defer { server.kill() }
        let second = try await Portecho.run(["serve", "127.0.0.1:\(port)"])
        #expect(second.status == 1)
        #expect(
            second.stderr.contains("127.0.0.1:\(port)") && second.stderr.contains("in use"), "stderr: \(second.stderr)")
        #expect(second.stdout.isEmpty)
        try await stop(server)
    }

    @Test("*:0 listens on every interface, reported as [::] or 0.0.0.0")
    func wildcard() async throws {
        let server = try Portecho(["serve", "*:0"])
        defer { server.kill() }
        let line = try await server.firstLine()
        #expect(line.wholeMatch(of: /listening on (\[::\]|0\.0\.0\.0):[1-9][0-9]*/) != nil, "\(line)")
        try await stop(server)
    }
}
