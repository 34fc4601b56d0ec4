import Foundation
import StreamPortsTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A steady stream of new connections to 127.0.0.1:`port`, each sending one line and reading
/// its echo, from `clients` threads, until stopped; every attempt's outcome is counted.
final class ConnectionStream: @unchecked Sendable {
    struct Counts: Sendable, CustomStringConvertible {
        var echoed = 0
        var echoedAfterStop = 0
        var wrongEcho = 0
        var connectFailed = 0
        var endedBeforeEcho = 0
        var failed: Int { wrongEcho + connectFailed + endedBeforeEcho }
        var description: String {
            "\(echoed) echoed, \(failed) failed (\(connectFailed) connect, \(endedBeforeEcho) closed or reset before the echo, \(wrongEcho) wrong echo)"
        }
    }

    private let counts = Mutex(Counts())
    private let running = Atomic<Bool>(true)
    private let marked = Atomic<Bool>(false)
    private let done = DispatchGroup()

    init(port: Int, clients: Int = 4) {
        for client in 0..<clients {
            done.enter()
            Thread.detachNewThread { [self] in
                var n = 0
                while running.load(ordering: .relaxed) {
                    n += 1
                    let outcome = ConnectionStream.attempt(port: port, line: "client \(client) attempt \(n)")
                    let after = marked.load(ordering: .relaxed)
                    counts.withLock { c in
                        switch outcome {
                        case .echoed:
                            c.echoed += 1
                            if after { c.echoedAfterStop += 1 }
                        case .wrongEcho: c.wrongEcho += 1
                        case .connectFailed: c.connectFailed += 1
                        case .endedBeforeEcho: c.endedBeforeEcho += 1
                        }
                    }
                }
                done.leave()
            }
        }
    }

    /// From now on, echoes are also counted in ``Counts/echoedAfterStop``.
    func markOldStopped() { marked.store(true, ordering: .relaxed) }

    /// Stops the clients and returns the counts.
    func stop() async -> Counts {
        running.store(false, ordering: .relaxed)
        await withCheckedContinuation { continuation in done.notify(queue: .global()) { continuation.resume() } }
        return counts.withLock { $0 }
    }

    var current: Counts { counts.withLock { $0 } }

    private enum Outcome { case echoed, wrongEcho, connectFailed, endedBeforeEcho }

    private static func attempt(port: Int, line: String) -> Outcome {
        guard let fd = try? RawSocket.connect("127.0.0.1", port, timeout: 5).fd else { return .connectFailed }
        defer { close(fd) }
        let bytes = Array((line + "\n").utf8)
        let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == bytes.count else { return .endedBeforeEcho }
        let expected = Array((line + "\r\n").utf8)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while received.count < expected.count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return .endedBeforeEcho }
            received += buffer[0..<n]
        }
        return received == expected ? .echoed : .wrongEcho
    }
}

/// `net.ipv4.tcp_migrate_req`, nil where the kernel has no such setting (before Linux 5.14).
let tcpMigrateReq: Int? = (try? String(contentsOfFile: "/proc/sys/net/ipv4/tcp_migrate_req", encoding: .utf8))
    .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }

@Suite("portecho serve --reuse-port: a restart under a steady stream of connections", .timeLimit(.minutes(2)))
struct RestartTests {
    @Test func restartWithReusePort() async throws {
        let port = try freePort()
        let address = "127.0.0.1:\(port)"
        let old = try Portecho(["serve", address, "--reuse-port", "--grace", "5"])
        #expect(try await old.listeningPort(host: "127.0.0.1") == port)
        // Without --reuse-port nobody else can listen there.
        let refused = try await Portecho.run(["serve", address])
        #expect(refused.status == 1)

        let load = ConnectionStream(port: port)
        try await Task.sleep(for: .milliseconds(500))
        let new = try Portecho(["serve", address, "--reuse-port", "--grace", "5"])
        #expect(try await new.listeningPort(host: "127.0.0.1") == port)
        try await Task.sleep(for: .milliseconds(300))
        old.send(signal: SIGTERM)
        #expect(try await old.exitStatus() == 0)
        load.markOldStopped()
        try await Task.sleep(for: .milliseconds(500))
        let counts = await load.stop()
        print("restart with tcp_migrate_req=\(tcpMigrateReq.map(String.init) ?? "n/a"): \(counts)")

        // Every echo received was the right one, and the new process went on serving.
        #expect(counts.wrongEcho == 0)
        #expect(counts.echoed > 0 && counts.echoedAfterStop > 0, "\(counts)")
        // With queued connections migrated to the new listener, none may fail.
        if tcpMigrateReq == 1 { #expect(counts.failed == 0, "\(counts)") }

        let client = try TestClient("127.0.0.1", port)
        try await client.send("after\n")
        #expect(String(decoding: try await client.read(7), as: UTF8.self) == "after\r\n")
        client.close()
        new.send(signal: SIGTERM)
        #expect(try await new.exitStatus() == 0)
    }
}
