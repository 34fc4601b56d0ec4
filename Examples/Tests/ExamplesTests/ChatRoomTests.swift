import Testing

/// ChatRoom with a UTF-8 port and a Shift_JIS port, run as a child process.
@Suite struct ChatRoomTests {
    /// A room on two ports: (UTF-8 port, Shift_JIS port).
    private func room() async throws -> (Example, utf8: Int, sjis: Int) {
        let room = try Example("ChatRoom", ["127.0.0.1:0=UTF-8", "127.0.0.1:0=Shift_JIS"])
        let ports = try await room.listeningPorts(2, suffixes: [" UTF-8", " Shift_JIS"])
        return (room, ports[0], ports[1])
    }

    @Test func linesReachEveryMemberInTheirOwnCharset() async throws {
        let (room, utf8Port, sjisPort) = try await room()
        defer { room.stop() }

        let taro = try RawSocket.connect(port: sjisPort)
        #expect(try await taro.readLines() == utf8("* welcome #1 (Shift_JIS), 1 here\r\n"))
        let alice = try RawSocket.connect(port: utf8Port)
        #expect(try await alice.readLines() == utf8("* welcome #2 (UTF-8), 2 here\r\n"))
        #expect(try await taro.readLines() == utf8("* #2 joined (UTF-8)\r\n"))

        // Shift_JIS bytes in; UTF-8 bytes out to Alice, the same Shift_JIS bytes back to Taro.
        try await taro.send(sjis("こんにちは\r\n"))
        #expect(try await alice.readLines() == utf8("#1: こんにちは\r\n"))
        #expect(try await taro.readLines() == sjis("#1: こんにちは\r\n"))

        // UTF-8 in; Shift_JIS out (93 FA 96 7B 8C EA); the emoji has no Shift_JIS form.
        try await alice.send(utf8("日本語 😀\n"))
        #expect(try await taro.readLines() == sjis("#2: 日本語 ?\r\n"))
        #expect(try await alice.readLines() == utf8("#2: 日本語 😀\r\n"))

        alice.shutdownOutput()
        #expect(try await taro.readLines() == utf8("* #2 left\r\n"))
        #expect(try await alice.readToEnd() == [])
    }

    @Test func anOverlongLineIsSkippedAndTheMemberStays() async throws {
        let (room, utf8Port, _) = try await room()
        defer { room.stop() }

        let member = try RawSocket.connect(port: utf8Port)
        _ = try await member.readLines()  // the welcome
        try await member.send(utf8(String(repeating: "x", count: 5000) + "\r\nstill here\r\n"))
        #expect(
            try await member.readLines(2) == utf8("* line too long (over 4096 bytes), skipped\r\n#1: still here\r\n"))
    }

    @Test func aMemberThatStopsReadingIsDroppedWithoutStallingTheRoom() async throws {
        let (room, utf8Port, _) = try await room()
        defer { room.stop() }

        // The silent member reads its welcome, then nothing more: its socket fills (a small
        // receive buffer), then its queue in the room.
        let silent = try RawSocket.connect(port: utf8Port, receiveBuffer: 4096)
        #expect(try await silent.readLines() == utf8("* welcome #1 (UTF-8), 1 here\r\n"))
        let talker = try RawSocket.connect(port: utf8Port)
        #expect(try await talker.readLines() == utf8("* welcome #2 (UTF-8), 2 here\r\n"))

        // The talker sends lines of 4,000 bytes and reads each one back before sending the
        // next, until the silent member has been dropped and 300 lines more (beyond the 256 a
        // queue holds) have gone round. How many it takes depends on how far the kernel grows
        // the server's socket send buffer (here about 1,000 lines, 4 MB); 8,000 is the cap. If
        // the room waited for the silent member, a reply would stop coming and readLines
        // would time out.
        let body = String(repeating: "a", count: 3990)
        var droppedAt: [Int] = []
        var sent = 0
        let start = ContinuousClock.now
        while sent < 8000 && (droppedAt.isEmpty || sent < droppedAt[0] + 300) {
            let line = "\(sent) " + body
            try await talker.send(utf8(line + "\r\n"))
            while true {
                let reply = try await talker.readLines(1, timeout: 10)
                if reply == utf8("* #1 dropped: not reading\r\n") {
                    droppedAt.append(sent)
                    continue
                }
                // Compared here, not in #expect, which would print all 4,000 bytes twice.
                let expected = utf8("#2: \(line)\r\n")
                guard reply == expected else {
                    Issue.record("line \(sent): expected \(preview(expected)), got \(preview(reply))")
                    return
                }
                break
            }
            sent += 1
        }
        #expect(droppedAt.count == 1, "dropped at lines \(droppedAt) of \(sent)")
        #expect(ContinuousClock.now - start < .seconds(120))
        // The silent member's connection was reset: reading it now ends.
        _ = try await silent.readToEnd(timeout: 10)
    }

    @Test func rejectsAnArgumentWithoutCodec() async throws {
        let room = try Example("ChatRoom", ["127.0.0.1:0"])
        defer { room.stop() }
        #expect(try await room.exitStatus() == 64)
        #expect(room.standardError.contains("\"127.0.0.1:0\" is not ADDRESS=CODEC"), "\(room.standardError)")
    }
}
