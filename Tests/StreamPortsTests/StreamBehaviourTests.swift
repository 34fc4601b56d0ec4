import Testing

@testable import StreamPorts

/// Accepts one connection and hands both ends to `body`.
func withPair<R>(
    server serverTranscoder: Transcoder = Transcoder(eolStyle: .crlf),
    client clientTranscoder: Transcoder = Transcoder(eolStyle: .none),
    maxLineLength: Int = StreamDefaults.maxLineLength,
    _ body: (_ accepted: ClientStream, _ peer: ClientStream) async throws -> R
) async throws -> R {
    try await withServer(transcoder: serverTranscoder, maxLineLength: maxLineLength) { server in
        let peer = try await connect(to: server, transcoder: clientTranscoder)
        guard let accepted = await server.read(timeout: .seconds(10)) else {
            throw StreamPortError(.timedOut, "no connection accepted")
        }
        defer {
            Task {
                await accepted.abort(); await peer.abort()
            }
        }
        return try await body(accepted, peer)
    }
}

/// Sends `bytes` in its own TCP write, then pauses so the next write is a separate segment.
func send(_ peer: ClientStream, _ bytes: [UInt8]) async throws {
    try peer.write(bytes: bytes)
    try await peer.flushWriter()
    try await Task.sleep(for: .milliseconds(30))
}

@Suite("Stream behaviour", .timeLimit(.minutes(1)))
struct StreamBehaviourTests {
    @Test func multibyteAndCRLFSplitAcrossWrites() async throws {
        try await withPair { server, peer in
            // "日" = E6 97 A5, split; then CR | LF split; then a CR-only line end.
            try await send(peer, [0x61, 0xE6, 0x97])
            try await send(peer, [0xA5, 0x0D])
            #expect(try await server.readLine() == "a日")  // a CR ends the line at once
            try await send(peer, [0x0A, 0x62, 0x0D])
            #expect(try await server.readLine() == "b")  // the LF after CR was swallowed
            try await send(peer, [0x63, 0x0A])
            #expect(try await server.readLine() == "c")
        }
    }

    @Test func splitUTF16SurrogatePair() async throws {
        let utf16 = Transcoder(codec: .utf16LE, eolStyle: .lf)
        try await withPair(server: utf16) { server, peer in
            let bytes = try utf16.encode("x😀y\n")
            try await send(peer, Array(bytes[0..<3]))
            try await send(peer, Array(bytes[3..<5]))
            try await send(peer, Array(bytes[5...]))
            #expect(try await server.readLine() == "x😀y")
        }
    }

    @Test func interleavedBytesAndCharacters() async throws {
        try await withPair { server, peer in
            try await send(peer, Array("first line\r\n".utf8) + [0x00, 0xFF, 0x10] + Array("é second\nrest".utf8))
            #expect(try await server.readLine() == "first line")
            #expect(try await server.readBytes(3) == [0x00, 0xFF, 0x10])
            #expect(try await server.readChar() == "é")
            #expect(try await server.peekChar() == " ")
            #expect(try await server.readChars(7) == " second")
            #expect(try await server.readByte() == 0x0A)
            #expect(try await server.readChars(2) == "re")
            #expect(try await server.readBytes(2) == Array("st".utf8))
        }
    }

    @Test func bytesAfterLineInDecodedCodec() async throws {
        let utf16 = Transcoder(codec: .utf16BE, eolStyle: .lf)
        try await withPair(server: utf16) { server, peer in
            try await send(peer, try utf16.encode("ab\ncd") + [0xDE, 0xAD])
            #expect(try await server.readLine() == "ab")
            #expect(try await server.readBytes(6) == [0x00, 0x63, 0x00, 0x64, 0xDE, 0xAD])
        }
    }

    /// In `.raise` mode the decoder may stop at bad bytes past the line it delivered; reading
    /// bytes then starts at those bytes (found by the line reader fuzzer: they were skipped
    /// when they had arrived with the line, and returned when they came later).
    @Test func bytesAfterLineBeforeUndecodableBytes() async throws {
        let utf16 = Transcoder(codec: .utf16BE, eolStyle: .lf, errorMode: .raise)
        try await withPair(server: utf16) { server, peer in
            try await send(peer, try utf16.encode("ab\n") + [0xDE, 0xAD, 0x00, 0x63])
            try await peer.closeWriter()
            #expect(try await server.readLine() == "ab")
            #expect(try await server.readBytes(4) == [0xDE, 0xAD, 0x00, 0x63])
        }
        let utf8 = Transcoder(codec: .utf8, eolStyle: .lf, errorMode: .raise)
        try await withPair(server: utf8) { server, peer in
            try await send(peer, [0x61, 0x0A, 0xFE, 0x62])
            try await peer.closeWriter()
            #expect(try await server.readChar() == "a")
            #expect(try await server.readChar() == "\n")
            #expect(try await server.readBytes(2) == [0xFE, 0x62])
        }
    }

    @Test func lastUnterminatedLineThenNil() async throws {
        try await withPair { server, peer in
            try await send(peer, Array("one\ntwo".utf8))
            try await peer.closeWriter()
            #expect(try await server.readLine() == "one")
            #expect(try await server.readLine() == "two")
            #expect(try await server.readLine() == nil)
            #expect(server.eof)
        }
    }

    @Test func halfCloseBothWays() async throws {
        try await withPair { server, peer in
            // The peer closes its writer; the server still writes back to it.
            try await send(peer, Array("ping\n".utf8))
            try await peer.closeWriter()
            #expect(try await server.readLine() == "ping")
            #expect(try await server.readLine() == nil)
            try server.showln("pong")
            try await server.closeWriter()
            #expect(try await peer.readAllBytes() == Array("pong\r\n".utf8))
        }
        try await withPair { server, peer in
            // The server closes its writer first; the peer keeps sending.
            try await server.closeWriter()
            #expect(try await peer.readAllBytes() == [])
            try await send(peer, Array("late\n".utf8))
            #expect(try await server.readLine() == "late")
        }
    }

    @Test func abortResetsThePeer() async throws {
        try await withPair { server, peer in
            try server.showln("never sent")
            await server.abort()
            do {
                let rest = try await peer.readAllBytes()
                #expect(rest.isEmpty)
            } catch let error as StreamPortError {
                #expect(error.code == .connectionReset)
            }
        }
    }

    @Test func acceptTimeoutReturnsNil() async throws {
        try await withServer { server in
            #expect(await server.read(timeout: .zero) == nil)
            #expect(await server.read(timeout: .milliseconds(50)) == nil)
        }
    }

    @Test func closedServerReadsNil() async throws {
        let server = try await tcpServerStream(0)
        #expect(server.localAddress == "127.0.0.1")
        #expect(server.localEndpoint == "127.0.0.1:\(server.localPort)")
        await server.close()
        await server.close()
        #expect(await server.read() == nil)
    }

    @Test func readTimeoutKeepsStreamUsable() async throws {
        try await withPair { server, peer in
            server.readTimeout = .milliseconds(50)
            await #expect(throws: StreamPortError.self) { _ = try await server.readLine() }
            server.readTimeout = .seconds(10)  // bytes on their way get time (sanitizers, load)
            try await send(peer, Array("later\n".utf8))
            #expect(try await server.readLine() == "later")
        }
    }

    @Test func lineTooLongThenNextLine() async throws {
        try await withPair(maxLineLength: 8) { server, peer in
            try await send(peer, Array("12345678\n123456789\nok\n".utf8))
            #expect(try await server.readLine() == "12345678")
            do {
                _ = try await server.readLine()
                Issue.record("no lineTooLong")
            } catch let error as StreamPortError {
                #expect(error.code == .lineTooLong)
            }
            #expect(try await server.readLine() == "ok")
        }
    }

    @Test func lineTooLongWithoutLineEnd() async throws {
        try await withPair(maxLineLength: 1000) { server, peer in
            try await send(peer, [UInt8](repeating: 0x41, count: 5000))
            await #expect(throws: StreamPortError.self) { _ = try await server.readLine() }
            try await send(peer, Array("tail\nnext\n".utf8))
            #expect(try await server.readLine() == "next")
        }
    }

    /// A CR ends a line at once, also when the first byte of a possible NEL (C2) came with it
    /// (found by the line reader fuzzer: the reader waited for the byte after C2, and at the end
    /// of the stream returned the CR inside the line).
    @Test func crThenHalfANELEndsTheLineAtOnce() async throws {
        let crnel = Transcoder(codec: .utf8, eolStyle: .crnel)
        try await withPair(server: crnel) { server, peer in
            server.readTimeout = .seconds(2)
            try await send(peer, [0x61, 0x62, 0x0D, 0xC2])
            #expect(try await server.readLine() == "ab")
            try await send(peer, [0x85, 0x63, 0x0A])  // CR NEL: one line end
            #expect(try await server.readLine() == "c")
            try await send(peer, [0x64, 0x0D, 0xC2])
            try await peer.closeWriter()
            #expect(try await server.readLine() == "d")
            #expect(try await server.readLine() == "\u{FFFD}")
            #expect(try await server.readLine() == nil)
        }
    }

    /// Bytes after a line that ended in CR wait for the rest of a NEL begun after it (found
    /// by the line reader fuzzer: `readBytes` returned C2 when 85 had not arrived yet, and
    /// skipped the NEL when it had).
    @Test func bytesAfterCRWaitForHalfANEL() async throws {
        let nel = Transcoder(codec: .utf8, eolStyle: .nel)
        try await withPair(server: nel) { server, peer in
            server.readTimeout = .seconds(10)
            try await send(peer, [0x61, 0x62, 0x0D, 0xC2])
            #expect(try await server.readLine() == "ab")
            async let next = server.readBytes(1)
            try await send(peer, [0x85, 0x6F])  // CR NEL: the NEL belongs to the line end
            #expect(try await next == [0x6F])
        }
    }

    /// A long line arriving in several reads is reported once (found by the line reader fuzzer:
    /// each read of more than the limit while skipping the line threw again).
    @Test func lineTooLongReportedOnceWhateverTheReads() async throws {
        try await withPair(maxLineLength: 8) { server, peer in
            try await send(peer, [UInt8](repeating: 0x41, count: 20))
            await #expect(throws: StreamPortError.self) { _ = try await server.readLine() }
            async let next = server.readLine()  // waits while the rest of the line arrives
            try await send(peer, [UInt8](repeating: 0x42, count: 20))
            try await send(peer, Array("CC\nnext\n".utf8))
            #expect(try await next == "next")
        }
    }

    /// Lines framed on decoded characters (UTF-16, or a separator other than "\n") obey the
    /// same limit, in bytes on the wire: a complete line over it throws, and after a line found
    /// too long before its end arrived, the rest of it is skipped (found by the line reader
    /// fuzzer: one delivery returned the long line, another threw and then returned its tail).
    @Test func lineTooLongOnDecodedCharacters() async throws {
        let utf16 = Transcoder(codec: .utf16LE, eolStyle: .lf)
        try await withPair(server: utf16, client: utf16, maxLineLength: 8) { server, peer in
            try await send(peer, try utf16.encode("1234\n12345\nok\n"))
            #expect(try await server.readLine() == "1234")  // 8 bytes: at the limit
            await #expect(throws: StreamPortError.self) { _ = try await server.readLine() }
            #expect(try await server.readLine() == "ok")
            try await send(peer, try utf16.encode("123456"))
            await #expect(throws: StreamPortError.self) { _ = try await server.readLine() }
            try await send(peer, try utf16.encode("78\nnext\n"))
            #expect(try await server.readLine() == "next")
        }
        try await withPair(maxLineLength: 8) { server, peer in
            try await send(peer, Array("abcdefghi;ok;12345678;".utf8))
            await #expect(throws: StreamPortError.self) { _ = try await server.readLine(separator: ";") }
            #expect(try await server.readLine(separator: ";") == "ok")
            #expect(try await server.readLine(separator: ";") == "12345678")
            try await send(peer, Array("abcdefghi".utf8))
            await #expect(throws: StreamPortError.self) { _ = try await server.readLine(separator: ";") }
            try await send(peer, Array("jk;next;tail".utf8))
            #expect(try await server.readLine(separator: ";") == "next")
        }
    }

    @Test func decodingErrorAfterGoodLines() async throws {
        let raise = Transcoder(codec: .utf8, eolStyle: .lf, errorMode: .raise)
        try await withPair(server: raise) { server, peer in
            try await send(peer, Array("good\nap".utf8) + [0xCE] + Array("e\nafter\n".utf8))
            #expect(try await server.readLine() == "good")
            do {
                _ = try await server.readLine()
                Issue.record("no decoding error")
            } catch let error as StreamPortError {
                #expect(error.code == .decoding)
                #expect(error.transcoderError?.byteOffset == 7)
            }
            #expect(try await server.readLine() == "after")
        }
    }

    @Test func connectionRefused() async throws {
        let server = try await tcpServerStream(0)
        let port = server.localPort
        await server.close()
        do {
            _ = try await tcpClientStream("127.0.0.1:\(port)")
            Issue.record("connected")
        } catch let error as StreamPortError {
            #expect(error.code == .connectionRefused)
            #expect(error.errno != nil)
        }
    }

    @Test func addressInUse() async throws {
        try await withServer { server in
            do {
                _ = try await tcpServerStream("127.0.0.1:\(server.localPort)", reuseAddress: false)
                Issue.record("bound twice")
            } catch let error as StreamPortError {
                #expect(error.code == .addressInUse)
                #expect(error.message.contains("127.0.0.1:\(server.localPort)"))
            }
        }
    }

    @Test func unknownHost() async throws {
        let error = await #expect(throws: StreamPortError.self) {
            _ = try await tcpClientStream("no-such-host.invalid:80")
        }
        #expect(error?.code == .hostNotFound, "\(String(describing: error))")
    }

    @Test func linesSequence() async throws {
        try await withPair { server, peer in
            try await send(peer, Array("a\nb\nc\n".utf8))
            try await peer.closeWriter()
            var seen: [String] = []
            for try await line in server.lines { seen.append(line) }
            #expect(seen == ["a", "b", "c"])
        }
    }
}
