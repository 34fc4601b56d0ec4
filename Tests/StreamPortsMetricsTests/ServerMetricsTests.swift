import Logging
import Metrics
import MetricsTestKit
import Synchronization
import Testing

@testable import StreamPorts

/// A swift-metrics backend for this test process (bootstrapping is once per process).
let testMetrics: TestMetrics = {
    let metrics = TestMetrics()
    MetricsSystem.bootstrap(metrics)
    return metrics
}()

/// Log lines kept in memory.
final class CapturedLog: Sendable {
    let lines = Mutex<[String]>([])

    struct Handler: LogHandler {
        let log: CapturedLog
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            log.lines.withLock { $0.append("\(event.level) \(event.message)") }
        }
    }

    var logger: Logger { Logger(label: "test") { _ in Handler(log: self) } }
    var all: [String] { lines.withLock { $0 } }
}

@Suite("Server metrics and access log", .timeLimit(.minutes(1)))
struct ServerMetricsTests {
    @Test func countersAddUpWithWhatClientsSent() async throws {
        _ = testMetrics
        let server = try await tcpServerStream("127.0.0.1:0", transcoder: Transcoder(eolStyle: .lf))
        let serving = Task {
            try await server.serve { client in
                while let line = try await client.readLine() { try client.showln(line) }
            }
        }
        let lines = (0..<100).map { "line \($0) 日本" }
        let bytesPerClient = lines.reduce(0) { $0 + $1.utf8.count + 1 }
        for _ in 0..<3 {
            let client = try await tcpClientStream(
                "127.0.0.1:\(server.localPort)", transcoder: Transcoder(eolStyle: .lf))
            for line in lines { try client.showln(line) }
            try await client.closeWriter()
            #expect(try await client.readLines() == lines)
            try await client.close()
        }
        let dims = [("server", server.localEndpoint)]
        // The server closes each connection just after its client: wait for the third.
        for _ in 0..<200
        where testMetrics.counterTotal(
            label: "streamports_connections_closed_total", dimensions: dims + [("reason", "eof")]) < 3
        {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(testMetrics.counterTotal(label: "streamports_connections_accepted_total", dimensions: dims) == 3)
        #expect(
            testMetrics.counterTotal(
                label: "streamports_connections_closed_total", dimensions: dims + [("reason", "eof")]) == 3)
        #expect(testMetrics.counterTotal(label: "streamports_lines_in_total", dimensions: dims) == 300)
        #expect(testMetrics.counterTotal(label: "streamports_lines_out_total", dimensions: dims) == 300)
        #expect(
            testMetrics.counterTotal(label: "streamports_bytes_in_total", dimensions: dims) == Int64(3 * bytesPerClient)
        )
        #expect(
            testMetrics.counterTotal(label: "streamports_bytes_out_total", dimensions: dims)
                == Int64(3 * bytesPerClient))
        #expect(try testMetrics.expectMeter("streamports_connections_active", dims).values.last == 0)
        #expect(try testMetrics.expectTimer("streamports_connection_duration_seconds", dims).values.count == 3)
        serving.cancel()
        try await serving.value
    }

    @Test func errorsAreCountedByCodeAndEndTheConnectionWithThatReason() async throws {
        _ = testMetrics
        let server = try await tcpServerStream("127.0.0.1:0", transcoder: Transcoder(eolStyle: .lf), maxLineLength: 8)
        let serving = Task {
            try await server.serve { client in
                while let line = try await client.readLine() { try client.showln(line) }
            }
        }
        let client = try await tcpClientStream("127.0.0.1:\(server.localPort)", transcoder: Transcoder(eolStyle: .lf))
        try client.showln("far too long for eight bytes")
        try await client.flushWriter()
        let end: String?
        do { end = try await client.readLine() } catch { end = nil }
        #expect(end == nil)
        let dims = [("server", server.localEndpoint)]
        for _ in 0..<200
        where testMetrics.counterTotal(
            label: "streamports_connections_closed_total", dimensions: dims + [("reason", "lineTooLong")]) < 1
        {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(
            testMetrics.counterTotal(label: "streamports_errors_total", dimensions: dims + [("code", "lineTooLong")])
                == 1)
        #expect(
            testMetrics.counterTotal(
                label: "streamports_connections_closed_total", dimensions: dims + [("reason", "lineTooLong")]) == 1)
        await client.abort()
        serving.cancel()
        try await serving.value
    }

    @Test func theAccessLogHasALineWhenAConnectionOpensAndOneWhenItCloses() async throws {
        let log = CapturedLog()
        let server = try await tcpServerStream("127.0.0.1:0", transcoder: Transcoder(eolStyle: .lf), logger: log.logger)
        let serving = Task {
            try await server.serve { client in
                while let line = try await client.readLine() { try client.showln(line) }
            }
        }
        let client = try await tcpClientStream("127.0.0.1:\(server.localPort)", transcoder: Transcoder(eolStyle: .lf))
        let peer = client.localEndpoint
        try client.showln("hello")
        try client.showln("wörld")
        try await client.closeWriter()
        #expect(try await client.readLines() == ["hello", "wörld"])
        try await client.close()
        for _ in 0..<200 where !log.all.contains(where: { $0.contains("closed (") }) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(log.all.contains("info \(peer): connected"), "\(log.all)")
        let closed = log.all.first { $0.hasPrefix("info \(peer): closed (eof) after ") }
        #expect(closed?.hasSuffix("s; in 2 lines, 13 bytes; out 2 lines, 13 bytes") == true, "\(log.all)")
        serving.cancel()
        try await serving.value
    }
}
