import StreamPortsTestSupport
import Testing

@testable import StreamPorts

@Suite("Echo server and clients", .timeLimit(.minutes(2)))
struct EchoTests {
    /// Seed 002's echo server and its test client, in Swift.
    @Test(arguments: ["127.0.0.1:0", "[::1]:0"])
    func seedEchoServer(address: String) async throws {
        try await withServer(address, transcoder: .default) { server in
            #expect(server.localPort > 0)
            let echo = startEcho(server)
            defer { echo.cancel() }
            let client = try await connect(to: server, transcoder: .default)
            try await callWithStream(client) { s in
                try showln(stream: s, "hello")
                try showln(stream: s, "world ", 42)
                try await flushWriter(s)
                #expect(try await readLine(s) == "hello")
                #expect(try await readLine(s) == "world 42")
            }
        }
    }

    @Test func crlfOnTheWire() async throws {
        try await withServer(transcoder: .default) { server in
            let echo = startEcho(server)
            defer { echo.cancel() }
            let client = try await connect(to: server, transcoder: Transcoder(eolStyle: .none))
            try client.write(bytes: Array("a\r\nb\rc\n".utf8))
            try await client.closeWriter()
            #expect(try await client.readAllBytes() == Array("a\r\nb\r\nc\r\n".utf8))
            try await client.close()
        }
    }

    @Test func hundredClientsThousandLines() async throws {
        try await withServer { server in
            let echo = startEcho(server)
            defer { echo.cancel() }
            try await withThrowingTaskGroup(of: Int.self) { group in
                for c in 0..<100 {
                    group.addTask {
                        let client = try await connect(to: server)
                        var matched = 0
                        for batch in 0..<10 {
                            for i in 0..<100 { try client.showln("client \(c) line \(batch * 100 + i) é日本") }
                            try await client.flushWriter()
                            for i in 0..<100
                            where try await client.readLine() == "client \(c) line \(batch * 100 + i) é日本" {
                                matched += 1
                            }
                        }
                        try await client.close()
                        return matched
                    }
                }
                var total = 0
                for try await n in group { total += n }
                #expect(total == 100_000)
            }
        }
    }

    @Test(arguments: ["Shift_JIS", "UTF-16LE", "EUC-JP", "ISO-2022-JP", "UTF-16"])
    func transcodedRoundTrip(codec: String) async throws {
        let transcoder = Transcoder(codec: try Codec(codec), eolStyle: .crlf, errorMode: .raise)
        try await withServer(transcoder: transcoder) { server in
            let echo = startEcho(server)
            defer { echo.cancel() }
            let client = try await connect(to: server, transcoder: transcoder)
            let kana = codec == "ISO-2022-JP" ? "カタカナ" : "ｶﾀｶﾅ"  // no half-width kana in ISO-2022-JP
            let lines = ["日本語", "\(kana) and ASCII", "", "表示\\ソ"]
            for line in lines { try client.showln(line) }
            try await client.flushWriter()
            for line in lines { #expect(try await client.readLine() == line) }
            try await client.close()
        }
    }

    @Test func unencodableLineThrowsInRaiseMode() async throws {
        let latin1 = Transcoder(codec: .latin1, eolStyle: .lf, errorMode: .raise)
        try await withServer(transcoder: latin1) { server in
            let client = try await connect(to: server, transcoder: latin1)
            #expect(throws: StreamPortError.self) { try client.showln("a\u{185}b") }
            try await client.close()
        }
    }

    @Test func shiftJISBytesOnTheWire() async throws {
        let sjis = Transcoder(codec: .shiftJIS, eolStyle: .crlf)
        try await withServer(transcoder: sjis) { server in
            let echo = startEcho(server)
            defer { echo.cancel() }
            let client = try await connect(to: server, transcoder: Transcoder(codec: .latin1, eolStyle: .none))
            try client.write(bytes: [0x93, 0xFA, 0x96, 0x7B, 0x8C, 0xEA, 0x0A])
            try await client.closeWriter()
            #expect(try await client.readAllBytes() == [0x93, 0xFA, 0x96, 0x7B, 0x8C, 0xEA, 0x0D, 0x0A])
            try await client.close()
        }
    }

    /// A greeting written and closed the moment `read()` hands the stream over reaches the
    /// client: `read()` yields a stream only once its socket is registered and active. (It used
    /// to yield it from the channel's initializer; a handler that wrote and closed before NIO
    /// had registered the socket closed it with nothing sent.)
    @Test func aGreetingWrittenAtOnceIsDelivered() async throws {
        try await withServer { server in
            let greeter = Task {
                while let client = await server.read() {
                    Task(executorPreference: client.executor) {
                        try? client.showln("hello")
                        try? await client.close()
                    }
                }
            }
            defer { greeter.cancel() }
            var received: [String: Int] = [:]
            for _ in 0..<300 {
                let client = try TestClient("127.0.0.1", server.localPort)
                received[String(decoding: try await client.readToEnd(), as: UTF8.self), default: 0] += 1
            }
            #expect(received == ["hello\n": 300])
        }
    }
}
