import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Faults {
    /// A line over the maximum length and undecodable bytes in `.raise` mode close only the
    /// connection that sent them; the others keep echoing, memory stays near the line limit,
    /// the log shows the bad bytes in hex only.
    @Suite("Bad input")
    struct BadInput {
        @Test("An over-long line and invalid bytes (--errors raise) affect only their own connection")
        func onlyTheFaultyConnection() async throws {
            let server = try await FaultServer(["--errors", "raise", "--log-level", "info"])
            defer { server.process.kill() }
            try await server.warmUp()
            let baseline = try await server.stats.settledFDs()
            let others = try (0..<4).map { _ in try server.client() }
            server.stats.resetPeak()
            let before = try server.stats.memory()

            // The others talk throughout, each 60 round trips 10 ms apart.
            let talking = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (k, c) in others.enumerated() {
                        group.addTask {
                            for i in 0..<60 {
                                try await expectEcho(c, "other \(k) line \(i) ✓")
                                try await Task.sleep(for: .milliseconds(10))
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }

            // 32 MB without a line end against the default 1 MiB limit.
            let long = try server.client()
            try await long.send("short line first\n")
            #expect(try await long.read(17) == Array("short line first\n".utf8))
            let flood = [UInt8](repeating: UInt8(ascii: "x"), count: 32 << 20)
            let taken = try await long.sendWhileAccepted(flood, seconds: 5)
            #expect(
                try await long.closedByPeer(timeout: 10), "the server kept the connection of an over-long line open")
            long.close()
            let afterLong = try server.stats.memory()

            // Undecodable bytes, with a terminal escape sequence before them: "ok", then
            // ESC [ 3 1 m and FF at byte offset 8.
            let bad = try server.client()
            try await bad.send([0x6F, 0x6B, 0x0A, 0x1B, 0x5B, 0x33, 0x31, 0x6D, 0xFF, 0x0A, 0x6E, 0x6F, 0x0A])
            #expect(try await bad.readToEnd() == Array("ok\n".utf8))
            bad.close()

            try await talking.value
            for (k, c) in others.enumerated() { try await expectEcho(c, "other \(k) still here") }
            #expect(
                try await server.process.stderrContains("cannot decode byte sequence FF at byte offset 8"),
                "stderr: \(server.process.stderr.text)")
            #expect(
                try await server.process.stderrContains("is longer than 1048576 bytes"),
                "stderr: \(server.process.stderr.text)")
            print(
                "[faults] bad input: a 32 MB line (\(taken / 1024) KiB taken before the reset) against --max-line-length 1 MiB: server RSS \(mib(before.rss)) → peak \(mib(afterLong.peak)) MiB; 4 other clients × 60 round trips meanwhile, all exact"
            )
            #expect(
                afterLong.peak - before.rss < 8 * 1024,
                "server peak grew by \(mib(afterLong.peak - before.rss)) MiB for a 1 MiB line limit")
            for c in others { c.close() }
            #expect(try await server.stats.waitForFDs(baseline) == baseline)
            try await server.stop()
        }

        @Test("An over-long line in a codec framed on decoded characters (UTF-16LE): memory bounded, others served")
        func overLongDecodedLine() async throws {
            let server = try await FaultServer(["--encoding", "UTF-16LE", "--max-line-length", "65536"])
            defer { server.process.kill() }
            let other = try server.client()
            let hello = Array("hello\n".utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
            try await other.send(hello)
            #expect(try await other.read(hello.count) == hello)
            server.stats.resetPeak()
            let before = try server.stats.memory()
            let long = try server.client()
            let flood = [UInt8](repeating: 0, count: 16 << 20).enumerated().map {
                $0.offset % 2 == 0 ? UInt8(ascii: "A") : 0
            }
            let taken = try await long.sendWhileAccepted(flood, seconds: 5)
            #expect(
                try await long.closedByPeer(timeout: 10), "the server kept the connection of an over-long line open")
            long.close()
            let after = try server.stats.memory()
            try await other.send(hello)
            #expect(try await other.read(hello.count) == hello)
            #expect(
                try await server.process.stderrContains("is longer than 65536 bytes"),
                "stderr: \(server.process.stderr.text)")
            print(
                "[faults] bad input: a 16 MB UTF-16LE line (\(taken / 1024) KiB taken) against --max-line-length 64 KiB: server RSS \(mib(before.rss)) → peak \(mib(after.peak)) MiB"
            )
            #expect(
                after.peak - before.rss < 8 * 1024,
                "server peak grew by \(mib(after.peak - before.rss)) MiB for a 64 KiB line limit")
            other.close()
            try await server.stop()
        }
    }
}
