import Testing

/// CharsetGateway between Shift_JIS clients and a UTF-8 upstream, run as a child process.
@Suite struct CharsetGatewayTests {
    /// A gateway listening in Shift_JIS whose upstream (UTF-8) is `upstreamPort`.
    private func gateway(upstreamPort: Int) async throws -> (Example, port: Int) {
        let gateway = try Example("CharsetGateway", ["127.0.0.1:0", "Shift_JIS", "127.0.0.1:\(upstreamPort)", "UTF-8"])
        return (gateway, try await gateway.listeningPorts()[0])
    }

    @Test func shiftJISInUTF8OutAndBack() async throws {
        let upstream = try RawListener()
        let (gateway, port) = try await gateway(upstreamPort: upstream.port)
        defer { gateway.stop() }

        let client = try RawSocket.connect(port: port)
        let server = try await upstream.accept()
        try await client.send(sjis("日本語\r\nｶﾀｶﾅ and ASCII\n"))
        #expect(try await server.readLines(2) == utf8("日本語\r\nｶﾀｶﾅ and ASCII\r\n"))

        try await server.send(utf8("こんにちは\r\n"))
        #expect(try await client.readLines() == sjis("こんにちは\r\n"))
    }

    @Test func badBytesAndUnmappableCharactersAreReplaced() async throws {
        let upstream = try RawListener()
        let (gateway, port) = try await gateway(upstreamPort: upstream.port)
        defer { gateway.stop() }

        let client = try RawSocket.connect(port: port)
        let server = try await upstream.accept()
        // 0x80 is no Shift_JIS byte, and 0x82 starts a pair that 0x20 cannot end: each
        // becomes U+FFFD (EF BF BD), and the space after 0x82 is kept.
        try await client.send([0x80, 0x41, 0x82, 0x20, 0x42, 0x0D, 0x0A])
        #expect(try await server.readLines() == [0xEF, 0xBF, 0xBD, 0x41, 0xEF, 0xBF, 0xBD, 0x20, 0x42, 0x0D, 0x0A])
        // Shift_JIS has neither an emoji nor "é": each becomes "?". The connection goes on.
        try await server.send(utf8("😀 é ok\r\n"))
        #expect(try await client.readLines() == utf8("? ? ok\r\n"))
    }

    @Test func endOfStreamIsPassedOnBothWays() async throws {
        let upstream = try RawListener()
        let (gateway, port) = try await gateway(upstreamPort: upstream.port)
        defer { gateway.stop() }

        let client = try RawSocket.connect(port: port)
        let server = try await upstream.accept()
        try await client.send(sjis("日本\n"))
        client.shutdownOutput()
        // The upstream gets the line, then the end of stream (a half-close), ...
        #expect(try await server.readToEnd() == utf8("日本\r\n"))
        // ... and may still answer; its own end then closes the client's connection.
        try await server.send(utf8("語\r\n"))
        server.shutdownOutput()
        #expect(try await client.readToEnd() == sjis("語\r\n"))
    }

    @Test func tellsTheClientWhenTheUpstreamIsDown() async throws {
        // A port held by a socket that does not listen: connections to it are refused, and no
        // other socket (the gateway's own listener among them) can be given it meanwhile.
        let holder = try RawListener(listening: false)
        let closedPort = holder.port
        let (gateway, port) = try await gateway(upstreamPort: closedPort)
        defer { gateway.stop() }

        let client = try RawSocket.connect(port: port)
        let reply = String(decoding: try await client.readToEnd(), as: UTF8.self)
        #expect(
            reply.hasPrefix("gateway: upstream unavailable: connection to 127.0.0.1:\(closedPort) refused"),
            "\(reply) stderr: \(gateway.standardError)")
        #expect(reply.hasSuffix("\r\n"))
        withExtendedLifetime(holder) {}  // the port stays held until here
    }

    @Test func chainedToTheEchoServer() async throws {
        // Shift_JIS client → gateway → UTF-8 EchoServer → gateway → the same Shift_JIS bytes.
        let echo = try Example("EchoServer", ["127.0.0.1:0"])
        defer { echo.stop() }
        let (gateway, port) = try await gateway(upstreamPort: try await echo.listeningPorts()[0])
        defer { gateway.stop() }

        let client = try RawSocket.connect(port: port)
        try await client.send(sjis("こんにちは\r\n日本語\r\n"))
        #expect(try await client.readLines(2) == sjis("こんにちは\r\n日本語\r\n"))
    }

    @Test func rejectsAnUnknownCodecWithSuggestions() async throws {
        let gateway = try Example("CharsetGateway", ["127.0.0.1:0", "Shift-JSI", "127.0.0.1:1", "UTF-8"])
        defer { gateway.stop() }
        #expect(try await gateway.exitStatus() == 64)
        #expect(gateway.standardError.contains("unknown codec \"Shift-JSI\""), "\(gateway.standardError)")
        #expect(gateway.standardError.contains("did you mean"), "\(gateway.standardError)")
    }
}
