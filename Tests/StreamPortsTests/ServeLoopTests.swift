import Synchronization
import Testing

@testable import StreamPorts

/// A value behind a lock that closures can share (a local `Mutex` cannot be captured by an
/// escaping closure).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}

/// `ServerStream.serve`: the structured accept loop, its connection limit and cancellation.
@Suite("Serve loop", .timeLimit(.minutes(2)))
struct ServeLoopTests {
    /// The seed's echo handler.
    static func echo(_ client: ClientStream) async throws {
        while let line = try await client.readLine() { try client.showln(line) }
    }

    @Test func thousandConcurrentClients() async throws {
        try await withServer { server in
            let serving = Task { try await server.serve(handler: { try await ServeLoopTests.echo($0) }) }
            defer { serving.cancel() }
            // All 1,000 connected at once before any of them finishes.
            let clients = try await withThrowingTaskGroup(of: ClientStream.self) { group in
                for _ in 0..<1000 { group.addTask { try await connect(to: server) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let matched = try await withThrowingTaskGroup(of: Int.self) { group in
                for (c, client) in clients.enumerated() {
                    group.addTask {
                        for i in 0..<5 { try client.showln("client \(c) line \(i) 日本") }
                        try await client.flushWriter()
                        var matched = 0
                        for i in 0..<5 where try await client.readLine() == "client \(c) line \(i) 日本" { matched += 1 }
                        try await client.close()
                        return matched
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(matched == 5000)
        }
    }

    @Test func aThrowingHandlerClosesOnlyItsConnection() async throws {
        struct Refused: Error {}
        try await withServer { server in
            let serving = Task {
                try await server.serve { client in
                    guard let first = try await client.readLine(), first != "fail" else { throw Refused() }
                    try client.showln(first)
                    try await ServeLoopTests.echo(client)
                }
            }
            defer { serving.cancel() }
            let good = try await connect(to: server)
            let bad = try await connect(to: server)
            try bad.showln("fail")
            try await bad.flushWriter()
            // The failing handler's connection is reset: end of stream or a reset, nothing else.
            do { #expect(try await bad.readLine() == nil) } catch let error as StreamPortError {
                #expect(error.code == .connectionReset)
            }
            try good.showln("still here")
            try await good.flushWriter()
            #expect(try await good.readLine() == "still here")
            // And the server still accepts.
            let late = try await connect(to: server)
            try late.showln("late")
            try await late.flushWriter()
            #expect(try await late.readLine() == "late")
            try await good.close()
            try await late.close()
            await bad.abort()
        }
    }

    @Test func maxConnectionsBoundsTheHandlersRunning() async throws {
        let running = Locked((now: 0, most: 0, served: 0))
        try await withServer { server in
            let serving = Task {
                try await server.serve(maxConnections: 10) { client in
                    running.withLock {
                        $0.now += 1; $0.most = max($0.most, $0.now)
                    }
                    defer {
                        running.withLock {
                            $0.now -= 1; $0.served += 1
                        }
                    }
                    guard let line = try await client.readLine() else { return }
                    try await Task.sleep(for: .milliseconds(30))
                    try client.showln(line)
                }
            }
            defer { serving.cancel() }
            let answers = try await withThrowingTaskGroup(of: Bool.self) { group in
                for c in 0..<50 {
                    group.addTask {
                        let client = try await connect(to: server)
                        try client.showln("client \(c)")
                        try await client.flushWriter()
                        let answer = try await client.readLine()
                        try await client.close()
                        return answer == "client \(c)"
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(answers.count == 50 && answers.allSatisfy { $0 })
            // Never more streams handed out than the limit, and none accepted ahead of it.
            #expect(running.withLock { $0.most } <= 10)
            #expect(running.withLock { $0.most } >= 2)  // they did run side by side
            #expect(server.accepted.state.withLock { $0.active + $0.waiting } <= 10)
        }
        #expect(running.withLock { $0.served } == 50)
    }

    @Test func maxConnectionsBelowOneIsAnInvalidArgument() async throws {
        try await withServer { server in
            await #expect(throws: StreamPortError.self) {
                try await server.serve(maxConnections: 0, handler: { try await ServeLoopTests.echo($0) })
            }
            do {
                try await server.serve(maxConnections: -3, handler: { try await ServeLoopTests.echo($0) })
            } catch let error as StreamPortError {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains("maxConnections -3"))
            }
        }
    }

    @Test(arguments: ["127.0.0.1:0", "[::1]:0"])
    func cancellationStopsServingAndFreesThePort(address: String) async throws {
        let server = try await tcpServerStream(address, reuseAddress: false, transcoder: Transcoder(eolStyle: .lf))
        let port = server.localPort
        let handlerEnded = Locked(false)
        let serving = Task {
            try await server.serve { client in
                defer { handlerEnded.withLock { $0 = true } }
                try await ServeLoopTests.echo(client)
            }
        }
        let client = try await connect(to: server)
        try client.showln("one")
        try await client.flushWriter()
        #expect(try await client.readLine() == "one")
        serving.cancel()
        try await serving.value
        #expect(handlerEnded.withLock { $0 })  // the idle handler was cancelled, not left waiting
        // The port is free at once (no SO_REUSEADDR on either socket).
        let host = address.hasPrefix("[") ? "[::1]" : "127.0.0.1"
        let again = try await tcpServerStream("\(host):\(port)", reuseAddress: false)
        #expect(again.localPort == port)
        await again.close()
        await client.abort()
    }

    @Test func theFreeFunctionServesAsTheSeedsLoop() async throws {
        try await withServer { server in
            let serving = Task {
                try await serve(server) { s in
                    while let line = try await readLine(s) { try showln(stream: s, line) }
                }
            }
            defer { serving.cancel() }
            let client = try await connect(to: server)
            try showln(stream: client, "seed")
            try await flushWriter(client)
            #expect(try await readLine(client) == "seed")
            try await closeStream(client)
        }
    }
}
