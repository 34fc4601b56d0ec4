import Logging
import ServiceLifecycle
import StreamPorts
import StreamPortsService
import Synchronization
import Testing

/// A value behind a lock that closures can share.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}

/// `StreamService` in a real `ServiceGroup`: graceful shutdown with idle, busy and stuck
/// connections.
@Suite("StreamService", .timeLimit(.minutes(1)))
struct StreamServiceTests {
    static let lf = Transcoder(eolStyle: .lf)

    static func connect(_ port: Int) async throws -> ClientStream {
        try await tcpClientStream("127.0.0.1:\(port)", coalesce: false, transcoder: lf)
    }

    @Test func gracefulShutdownLetsBusyConnectionsFinishAndFreesThePortAtOnce() async throws {
        let server = try await tcpServerStream("127.0.0.1:0", transcoder: Self.lf)
        let port = server.localPort
        // Each line takes 100 ms to answer: a client that sent 8 lines is busy for 0.8 s.
        let service = StreamService(server: server, gracePeriod: .seconds(20)) { client in
            while let line = try await client.readLine() {
                try await Task.sleep(for: .milliseconds(100))
                try client.showln(line)
                try await client.flushWriter()
            }
        }
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let running = Task { try await group.run() }

        let idle = try await Self.connect(port)
        let busy = try await Self.connect(port)
        try idle.showln("hello")
        try await idle.flushWriter()
        #expect(try await idle.readLine() == "hello")
        for i in 0..<8 { try busy.showln("line \(i)") }
        try await busy.flushWriter()
        try await Task.sleep(for: .milliseconds(150))  // the lines have arrived
        let shutdownStart = ContinuousClock.now
        await group.triggerGracefulShutdown()

        // The idle connection ends at once (long before the grace period).
        #expect(try await idle.readLine() == nil)
        #expect(ContinuousClock.now - shutdownStart < .seconds(10))  // the grace period is 20 s
        // The port can be listened on again while the busy connection is still being served
        // (with SO_REUSEADDR, as a restarted server sets it: the busy connection's socket holds
        // the port too, and only another *listening* socket would make this fail).
        try await Task.sleep(for: .milliseconds(100))
        let rebound = try await tcpServerStream("127.0.0.1:\(port)")
        await rebound.close()
        // Every line the busy client had sent is answered, then the stream ends.
        var answers: [String] = []
        while let line = try await busy.readLine() { answers.append(line) }
        #expect(answers == (0..<8).map { "line \($0)" })
        // The server lingers on each connection until its peer closes (so that no reset can
        // destroy replies in flight): once both have, the service ends, well inside the grace.
        try await idle.close()
        try await busy.close()
        try await running.value
        #expect(ContinuousClock.now - shutdownStart < .seconds(10))
    }

    @Test func handlersStillRunningAfterTheGracePeriodAreCancelledAndReset() async throws {
        let server = try await tcpServerStream("127.0.0.1:0", transcoder: Self.lf)
        let cancelled = Locked(false)
        let working = Locked(false)
        let service = StreamService(server: server, gracePeriod: .milliseconds(500)) { client in
            _ = try await client.readLine()
            working.withLock { $0 = true }
            // Ignores the end of input and works on until cancelled.
            do { try await Task.sleep(for: .seconds(30)) } catch {
                cancelled.withLock { $0 = true }
                throw error
            }
        }
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        let client = try await Self.connect(server.localPort)
        try client.showln("work")
        try await client.flushWriter()
        for _ in 0..<500 where !working.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(working.withLock { $0 })
        let start = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await running.value
        let took = ContinuousClock.now - start
        #expect(took >= .milliseconds(450) && took < .seconds(10))  // far below the handler's 30 s
        #expect(cancelled.withLock { $0 })
        // The connection was reset (or closed): the client sees its end.
        let end: String?
        client.readTimeout = .seconds(5)
        do { end = try await client.readLine() } catch { end = nil }
        #expect(end == nil)
        await client.abort()
    }

    @Test func maxConnectionsBelowOneFailsTheService() async throws {
        let server = try await tcpServerStream("127.0.0.1:0", transcoder: Self.lf)
        let service = StreamService(server: server, maxConnections: 0) { _ in }
        do {
            try await service.run()
            Issue.record("run() returned")
        } catch let error as StreamPortError {
            #expect(error.code == .invalidArgument)
        }
        await server.close()
    }
}
