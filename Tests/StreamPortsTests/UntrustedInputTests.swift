import Testing

@testable import StreamPorts

/// Addresses and names may come from a peer: a NUL cannot smuggle a different address past the
/// parser, and error messages never carry control or format characters raw, so logging them
/// cannot inject terminal escapes or forge lines.
@Suite("Untrusted input", .timeLimit(.minutes(1)))
struct UntrustedInputTests {
    static func isRaw(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
            || [.format, .lineSeparator, .paragraphSeparator].contains(scalar.properties.generalCategory)
    }

    @Test(arguments: ["evil\u{1B}[31mhost:80x", "a\nforged log line:1x", "x\u{202E}gnp.exe:80x", "[::1\u{7}]:80"])
    func invalidAddressesAreEscaped(address: String) async {
        do {
            _ = try await tcpClientStream(address, connectTimeout: .seconds(1))
            Issue.record("\(address.debugDescription) connected")
        } catch let error as StreamPortError {
            #expect(error.code == .invalidAddress, "\(error)")
            #expect(
                !error.message.unicodeScalars.contains(where: Self.isRaw),
                "raw control in \(error.message.debugDescription)")
            #expect(error.message.contains("\\x") || error.message.contains("\\u{"), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test(arguments: ["127.0.0.1\u{0}.evil.example:80", "[::1\u{0}junk]:80", "::1\u{0}", "10.0.0.1\u{0}"])
    func aNULNeverTruncatesAnAddress(address: String) {
        #expect(throws: StreamPortError.self, "\(address.debugDescription) parsed") {
            _ = try StreamAddress.parse(address, port: address.hasSuffix("\u{0}") ? 80 : nil)
        }
        #expect(throws: StreamPortError.self) { _ = try hostByAddress(address) }
    }

    @Test func initializerEscapes() {
        let error = StreamPortError(.system, "peer said \u{1B}]0;owned\u{7} and \u{2028}more")
        #expect(error.message == "peer said \\x1B]0;owned\\x07 and \\u{2028}more")
    }

    @Test func decodingErrorsShowBadBytesInHexOnly() async throws {
        let raise = Transcoder(codec: .utf8, eolStyle: .lf, errorMode: .raise)
        try await withPair(server: raise) { server, peer in
            try await send(peer, [0x1B, 0x5B, 0x32, 0x4A, 0xFF, 0x1B, 0x0A])
            do {
                _ = try await server.readLine()
                Issue.record("no decoding error")
            } catch let error as StreamPortError {
                #expect(error.code == .decoding)
                #expect(
                    error.message == "cannot decode byte sequence FF at byte offset 4 as UTF-8: invalid sequence",
                    "\(error.message)")
            }
        }
    }
}

/// A peer drives TCPSocket's `.readyRead` events: they must not pile up without bound when the
/// application reads the data but never iterates the events.
@Suite("TCPSocket event buffer", .timeLimit(.minutes(1)))
struct TCPSocketEventBufferTests {
    @Test("5,000 reads, events never consumed: at most eventBufferLimit wait, the newest ones")
    func eventsAreBounded() async throws {
        try await withServer { server in
            let socket = TCPSocket(transcoder: Transcoder(eolStyle: .lf))
            try await socket.connect("127.0.0.1", server.localPort)
            let accepted = try #require(await server.read(timeout: .seconds(5)))
            for i in 0..<5000 {
                try accepted.write(bytes: [UInt8(truncatingIfNeeded: i)])
                try await accepted.flushWriter()
                #expect(try await socket.readAll() == [UInt8(truncatingIfNeeded: i)])
            }
            await socket.abort()
            await accepted.abort()
            var count = 0
            var last: TCPSocket.Event?
            for await event in socket.events {
                count += 1
                last = event
                if event == .disconnected { break }
            }
            #expect(count <= TCPSocket.eventBufferLimit, "\(count) events buffered")
            #expect(last == .disconnected)
        }
    }
}
