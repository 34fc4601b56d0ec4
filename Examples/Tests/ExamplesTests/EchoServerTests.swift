import Testing

/// EchoServer, the seed's echo server, run as a child process.
@Suite struct EchoServerTests {
    @Test func echoesEachLineWithCRLF() async throws {
        let server = try Example("EchoServer", ["127.0.0.1:0"])
        defer { server.stop() }
        let port = try await server.listeningPorts()[0]

        let client = try RawSocket.connect(port: port)
        // LF, CRLF and CR line ends, a non-ASCII line, and a last line with no end at all.
        try await client.send(utf8("hello\nwörld\r\ncr only\rlast"))
        #expect(try await client.readLines(3) == utf8("hello\r\nwörld\r\ncr only\r\n"))
        // The unterminated line comes back once the client ends its output, then the server
        // closes the connection (callWithStream closes it when the loop ends).
        client.shutdownOutput()
        #expect(try await client.readToEnd() == utf8("last\r\n"))
    }

    @Test func servesClientsConcurrently() async throws {
        let server = try Example("EchoServer", ["127.0.0.1:0"])
        defer { server.stop() }
        let port = try await server.listeningPorts()[0]

        // The first client stays connected, idle, while the second is served.
        let first = try RawSocket.connect(port: port)
        try await first.send(utf8("one\n"))
        #expect(try await first.readLines() == utf8("one\r\n"))
        let second = try RawSocket.connect(port: port)
        try await second.send(utf8("two\n"))
        #expect(try await second.readLines() == utf8("two\r\n"))
        try await first.send(utf8("three\n"))
        #expect(try await first.readLines() == utf8("three\r\n"))
    }

    @Test func reportsABadAddressAndExits() async throws {
        let server = try Example("EchoServer", ["127.0.0.1:80x"])
        defer { server.stop() }
        #expect(try await server.exitStatus() == 1)
        #expect(server.standardError.contains("invalid address \"127.0.0.1:80x\""), "\(server.standardError)")
        #expect(server.standardOutput.isEmpty)
    }
}
