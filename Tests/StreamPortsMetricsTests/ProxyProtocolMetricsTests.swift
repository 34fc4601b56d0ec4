import Testing

@testable import StreamPorts

@Suite("PROXY protocol in the metrics and the access log", .timeLimit(.minutes(1)))
struct ProxyProtocolMetricsTests {
    @Test func theHeaderSourceIsLoggedAndRefusedHeadersAreCountedNotAccepted() async throws {
        _ = testMetrics
        let log = CapturedLog()
        let server = try await tcpServerStream(
            "127.0.0.1:0", transcoder: Transcoder(eolStyle: .lf), logger: log.logger, proxyProtocol: .init())
        let serving = Task {
            try await server.serve { client in
                while let line = try await client.readLine() { try client.showln(line) }
            }
        }
        let address = "127.0.0.1:\(server.localPort)"
        let proxied = try await tcpClientStream(address, transcoder: Transcoder(eolStyle: .lf))
        try proxied.write("PROXY TCP4 198.51.100.77 127.0.0.1 40404 \(server.localPort)\r\nhello\n")
        try await proxied.closeWriter()
        #expect(try await proxied.readLines() == ["hello"])
        try await proxied.close()
        for bad in ["hello\n", "PROXY TCP4 1.2.3.4\r\n"] {
            let client = try await tcpClientStream(address, transcoder: Transcoder(eolStyle: .lf))
            try client.write(bad)
            try await client.flushWriter()
            #expect(try await client.readAllBytes().isEmpty, "refused without an echo")
            await client.abort()
        }
        let dims = [("server", server.localEndpoint)]
        for _ in 0..<200 where !log.all.contains(where: { $0.contains("198.51.100.77:40404: closed (") }) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(log.all.contains("info 198.51.100.77:40404: connected"), "\(log.all)")
        #expect(
            log.all.contains { $0.hasPrefix("info 198.51.100.77:40404: closed (eof) after ") }, "\(log.all)")
        #expect(log.all.filter { $0.contains("connection closed: invalid PROXY protocol header") }.count == 2)
        #expect(
            testMetrics.counterTotal(label: "streamports_errors_total", dimensions: dims + [("code", "proxyHeader")])
                == 2)
        #expect(testMetrics.counterTotal(label: "streamports_connections_accepted_total", dimensions: dims) == 1)
        #expect(server.proxyHeaderFailures == 2)
        serving.cancel()
        try await serving.value
    }
}
