import NIOCore
import Testing

@testable import StreamPorts

/// What a reader sees from the framer: a line's content bytes, or a line reported too long.
private enum Event: Equatable, CustomStringConvertible {
    case line([UInt8])
    case tooLong

    static func text(_ s: String) -> Event { .line(Array(s.utf8)) }

    var description: String {
        switch self {
        case .line(let bytes):
            "line(\(bytes.map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : "<\(String($0, radix: 16))>" }.joined()))"
        case .tooLong: "tooLong"
        }
    }
}

/// A reader's side of framing, on an array instead of a socket: holds the unread bytes, drops
/// what each frame names and tells the framer, as ``InputBuffer`` does.
private struct Reader {
    var framer: LineFramer
    var unread: [UInt8] = []
    var base = 0
    var finished = false
    let limit: Int

    init(_ codec: Codec = .utf8, _ style: EOLStyle = .lf, limit: Int = 1 << 20) {
        framer = LineFramer(codec: codec, eolStyle: style)
        self.limit = limit
    }

    /// Appends `chunk` and returns the events it completes.
    mutating func feed(_ chunk: [UInt8]) -> [Event] {
        unread += chunk
        return drain()
    }

    /// Ends the input and returns the last events.
    mutating func end() -> [Event] {
        finished = true
        var events = drain()
        while true {
            switch framer.finish(unread.count, limit: limit) {
            case .needMore: return events
            case .skip(let n): drop(n)
            case .tooLong(let n): drop(n); events.append(.tooLong)
            case .line(let contentEnd, let next): events.append(.line(Array(unread[..<contentEnd]))); drop(next)
            }
        }
    }

    /// Reads up to `count` bytes as bytes (``ClientStream/readBytes(_:)``): first drops an LF
    /// or NEL that belongs to a line end begun by a CR; nothing while half a NEL waits.
    mutating func readBytes(_ count: Int) -> [UInt8] {
        drop(unread.withUnsafeBytes { framer.swallowAfterCR($0) })
        if framer.afterCR && !unread.isEmpty { return [] }
        let bytes = Array(unread.prefix(count))
        drop(bytes.count)
        return bytes
    }

    mutating func drain() -> [Event] {
        var events: [Event] = []
        while true {
            let frame = unread.withUnsafeBytes {
                framer.next($0, atStreamStart: base == 0, inputFinished: finished, limit: limit)
            }
            switch frame {
            case .needMore: return events
            case .skip(let n): drop(n)
            case .tooLong(let n): drop(n); events.append(.tooLong)
            case .line(let contentEnd, let next): events.append(.line(Array(unread[..<contentEnd]))); drop(next)
            }
        }
    }

    mutating func drop(_ n: Int) {
        unread.removeFirst(n)
        base += n
        framer.consumed(n)
    }
}

/// Every event of `chunks` delivered one by one, then the end of input.
private func frames(
    _ chunks: [[UInt8]], _ codec: Codec = .utf8, _ style: EOLStyle = .lf, limit: Int = 1 << 20
) -> [Event] {
    var reader = Reader(codec, style, limit: limit)
    return chunks.flatMap { reader.feed($0) } + reader.end()
}

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite("Line framing on bytes")
struct LineFramerTests {
    // a LF b CR c CR LF d NEL e LS f, in UTF-8
    static let mixedUTF8 = bytes("a\nb\rc\r\nd") + [0xC2, 0x85] + bytes("e") + [0xE2, 0x80, 0xA8] + bytes("f")

    @Test(arguments: [EOLStyle.lf, .cr, .crlf])
    func classicStylesEndLinesAtLFCRAndCRLF(style: EOLStyle) {
        #expect(
            frames([Self.mixedUTF8], .utf8, style) == [
                .text("a"), .text("b"), .text("c"),
                .line(bytes("d") + [0xC2, 0x85] + bytes("e") + [0xE2, 0x80, 0xA8] + bytes("f")),
            ])
    }

    @Test(arguments: [EOLStyle.nel, .crnel, .ls])
    func unicodeStylesAlsoEndLinesAtNELAndLSInUTF8(style: EOLStyle) {
        #expect(
            frames([Self.mixedUTF8], .utf8, style) == [
                .text("a"), .text("b"), .text("c"), .text("d"), .text("e"), .text("f"),
            ])
    }

    @Test func styleNoneEndsLinesAtLFOnly() {
        #expect(
            frames([Self.mixedUTF8], .utf8, .none) == [
                .text("a"), .text("b\rc\r"),
                .line(bytes("d") + [0xC2, 0x85] + bytes("e") + [0xE2, 0x80, 0xA8] + bytes("f")),
            ])
    }

    @Test func latin1NELEndsLinesOnlyWithAUnicodeStyle() {
        let input = bytes("a\r\nb") + [0x85] + bytes("c") + [0x0D, 0x85] + bytes("d\n")
        #expect(frames([input], .latin1, .nel) == [.text("a"), .text("b"), .text("c"), .text("d")])
        #expect(
            frames([input], .latin1, .crlf) == [
                .text("a"), .line(bytes("b") + [0x85] + bytes("c")), .line([0x85] + bytes("d")),
            ])
    }

    @Test func emptyLines() {
        #expect(frames([bytes("\n\r\n\r\r\n")], .utf8, .crlf) == [.text(""), .text(""), .text(""), .text("")])
    }

    @Test func crAndLFFoundWhicheverComesFirst() {
        // memchr looks for LF, then for a CR before it.
        let long = [UInt8](repeating: 0x78, count: 300)
        #expect(
            frames([long + bytes("\rab\ncd\r\n") + long + bytes("\n")], .utf8, .crlf) == [
                .line(long), .text("ab"), .text("cd"), .line(long),
            ])
    }

    // MARK: CR then LF across chunks

    @Test func crEndsTheLineAtOnceAndTheLFInTheNextChunkIsSwallowed() {
        var reader = Reader(.utf8, .crlf)
        #expect(reader.feed(bytes("a\r")) == [.text("a")])
        #expect(reader.framer.afterCR)
        #expect(reader.feed(bytes("\nb\n")) == [.text("b")])
        #expect(!reader.framer.afterCR)
        #expect(reader.end() == [])
    }

    @Test func crThenOtherBytesStartTheNextLine() {
        #expect(
            frames([bytes("a\r"), bytes("b\r"), bytes("\r\n")], .utf8, .crlf) == [.text("a"), .text("b"), .text("")])
        #expect(frames([bytes("a\r")], .utf8, .crlf) == [.text("a")])
    }

    @Test func aLoneLFAfterALineEndedByCRInTheSameChunk() {
        #expect(frames([bytes("a\r\n\n")], .utf8, .crlf) == [.text("a"), .text("")])
    }

    // MARK: Half a NEL after CR

    @Test func halfANELAfterCRWaitsForItsSecondByte() {
        var reader = Reader(.utf8, .crnel)
        #expect(reader.feed(bytes("a\r") + [0xC2]) == [.text("a")])
        #expect(reader.framer.afterCR)
        #expect(reader.feed([0x85] + bytes("b\n")) == [.text("b")])  // CR NEL: one line end
        #expect(reader.end() == [])
    }

    @Test func halfANELAfterCRFollowedByAnotherByteIsContent() {
        #expect(
            frames([bytes("a\r") + [0xC2], bytes("xb\n")], .utf8, .crnel) == [.text("a"), .line([0xC2] + bytes("xb"))])
    }

    @Test func halfANELAfterCRAtTheEndIsTheLastLine() {
        #expect(frames([bytes("d\r") + [0xC2]], .utf8, .crnel) == [.text("d"), .line([0xC2])])
    }

    @Test func aNELAfterCRIsNotSwallowedWithAClassicStyle() {
        #expect(
            frames([bytes("a\r"), [0xC2, 0x85] + bytes("b\n")], .utf8, .crlf) == [
                .text("a"), .line([0xC2, 0x85] + bytes("b")),
            ])
    }

    @Test func byteReadsAfterCRSkipTheLFOrNEL() {
        var reader = Reader(.utf8, .nel)
        #expect(reader.feed(bytes("a\r")) == [.text("a")])
        _ = reader.feed([0xC2])
        #expect(reader.readBytes(1) == [])  // half a NEL: wait for the rest
        #expect(reader.framer.afterCR)
        _ = reader.feed([0x85, 0x6F])
        #expect(reader.readBytes(1) == [0x6F])
        #expect(!reader.framer.afterCR)
    }

    @Test func partialLineEndsAreContentAtTheEnd() {
        #expect(frames([bytes("x") + [0xE2, 0x80]], .utf8, .ls) == [.line(bytes("x") + [0xE2, 0x80])])
        #expect(frames([bytes("x") + [0xC2]], .utf8, .nel) == [.line(bytes("x") + [0xC2])])
        #expect(frames([bytes("x") + [0xE2, 0x80], [0xA8] + bytes("y\n")], .utf8, .ls) == [.text("x"), .text("y")])
        #expect(frames([bytes("x") + [0xE2, 0x41, 0x0A]], .utf8, .ls) == [.line(bytes("x") + [0xE2, 0x41])])
    }

    // MARK: BOM

    @Test func utf8BOMAtStreamStartIsDropped() {
        #expect(frames([[0xEF, 0xBB, 0xBF] + bytes("a\n")]) == [.text("a")])
        #expect(frames([[0xEF, 0xBB, 0xBF]]) == [])
    }

    @Test func splitBOMWaitsForItsLastByte() {
        var reader = Reader()
        #expect(reader.feed([0xEF]) == [])
        #expect(reader.feed([0xBB]) == [])
        #expect(reader.unread == [0xEF, 0xBB])
        #expect(reader.feed([0xBF] + bytes("a\n")) == [.text("a")])
        #expect(frames([[0xEF, 0xBB], [0xBF] + bytes("a\nb\n")]) == [.text("a"), .text("b")])
    }

    @Test func partialBOMAtTheEndIsContent() {
        #expect(frames([[0xEF, 0xBB]]) == [.line([0xEF, 0xBB])])
        #expect(frames([[0xEF, 0xBB] + bytes("\n")]) == [.line([0xEF, 0xBB])])
    }

    @Test func aBOMLaterOrInLatin1IsContent() {
        #expect(
            frames([bytes("x\n") + [0xEF, 0xBB, 0xBF] + bytes("y\n")]) == [
                .text("x"), .line([0xEF, 0xBB, 0xBF] + bytes("y")),
            ])
        #expect(frames([[0xEF, 0xBB, 0xBF] + bytes("a\n")], .latin1) == [.line([0xEF, 0xBB, 0xBF] + bytes("a"))])
    }

    @Test func bomOnlyAtStreamStart() {
        var framer = LineFramer(codec: .utf8, eolStyle: .lf)
        let frame = [UInt8]([0xEF, 0xBB, 0xBF, 0x61]).withUnsafeBytes {
            framer.next($0, atStreamStart: true, inputFinished: false, limit: 10)
        }
        #expect(frame == .skip(3))
        let later = [UInt8]([0xEF, 0xBB]).withUnsafeBytes {
            framer.next($0, atStreamStart: false, inputFinished: false, limit: 10)
        }
        #expect(later == .needMore)
    }

    // MARK: maxLineLength

    @Test func aLineOfExactlyTheLimitIsDelivered() {
        #expect(frames([bytes("abcd\n")], limit: 4) == [.text("abcd")])
        #expect(frames([bytes("abcd\r\n")], .utf8, .crlf, limit: 4) == [.text("abcd")])  // line end excluded
        #expect(frames([bytes("ab") + [0xC2, 0x85]], .utf8, .nel, limit: 2) == [.text("ab")])
        #expect(frames([bytes("abcd")], limit: 4) == [.text("abcd")])
    }

    @Test func aLineOneOverTheLimitIsTooLongAndTheNextIsDelivered() {
        #expect(frames([bytes("abcde\nok\n")], limit: 4) == [.tooLong, .text("ok")])
        #expect(frames([bytes("abcde")], limit: 4) == [.tooLong])
        #expect(frames([bytes("ok\nabcde")], limit: 4) == [.text("ok"), .tooLong])
    }

    @Test func limitBytesWithoutALineEndWaitOneMoreIsTooLong() {
        var reader = Reader(limit: 4)
        #expect(reader.feed(bytes("abcd")) == [])  // may still be a line of exactly 4
        #expect(reader.feed(bytes("e")) == [.tooLong])
        #expect(reader.unread == [])
    }

    @Test func anOverLongLineIsReportedOnceAndItsRestSkipped() {
        var reader = Reader(limit: 4)
        #expect(reader.feed(bytes("abcdefgh")) == [.tooLong])
        #expect(reader.framer.discardingLine)
        #expect(reader.feed(bytes("ijkl")) == [])
        #expect(reader.feed(bytes("mnopqrstuvwxyz")) == [])
        #expect(reader.feed(bytes("0\r\nnext\n")) == [.text("next")])
        #expect(!reader.framer.discardingLine)
        #expect(reader.end() == [])
    }

    @Test func theRestOfAnOverLongLineAtTheEndIsSkipped() {
        #expect(frames([bytes("abcdefgh"), bytes("ij")], limit: 4) == [.tooLong])
    }

    @Test func aCompleteOverLongLineSkipsNothingAfterIt() {
        var reader = Reader(limit: 4)
        #expect(reader.feed(bytes("abcdefgh\nab")) == [.tooLong])
        #expect(!reader.framer.discardingLine)
        #expect(reader.feed(bytes("\n")) == [.text("ab")])
    }

    // MARK: The last line

    @Test func theFinalUnterminatedLineIsDelivered() {
        #expect(frames([bytes("a\nla"), bytes("st")]) == [.text("a"), .text("last")])
        #expect(frames([bytes("a\n")]) == [.text("a")])
        #expect(frames([]) == [])
        #expect(frames([bytes("a\nlast")], limit: 3) == [.text("a"), .tooLong])
    }

    // MARK: Search position

    @Test func bytesReadAfterAPartialLineDoNotHideItsEnd() {
        var reader = Reader()
        #expect(reader.feed(bytes("abcd")) == [])  // searched 4 bytes, no line end
        #expect(reader.readBytes(2) == bytes("ab"))
        #expect(reader.feed(bytes("\nx\n")) == [.text("cd"), .text("x")])
    }

    @Test func chunksOneByteAtATime() {
        let input =
            [0xEF, 0xBB, 0xBF] + bytes("ab\r\ncd\r") + [0xC2, 0x85] + bytes("e") + [0xE2, 0x80, 0xA8] + bytes("\nf")
        #expect(
            frames(input.map { [$0] }, .utf8, .crnel) == [.text("ab"), .text("cd"), .text("e"), .text(""), .text("f")])
    }
}

@Suite("Input buffer")
struct InputBufferTests {
    private func received(_ shared: StreamShared, _ bytes: [UInt8]) {
        shared.received(ByteBufferAllocator().buffer(bytes: bytes))
    }

    /// Bytes read while part of a line is buffered keep the framer's search position in step
    /// (it was left stale, and the line end in the next bytes could be missed).
    @Test func bytesReadAfterAPartialLineDoNotHideItsEnd() throws {
        let transcoder = Transcoder(eolStyle: .lf)
        let decoder = try transcoder.makeDecoder()
        let shared = StreamShared()
        var input = InputBuffer(framer: LineFramer(codec: .utf8, eolStyle: .lf))
        received(shared, Array("abcd".utf8))
        #expect(input.take(from: shared, mayReplace: true) != nil)
        #expect(try input.nextLine(limit: 100, includeSeparator: false, decoder: decoder) == nil)
        #expect(input.readBytes(upTo: 2) == Array("ab".utf8))
        #expect(input.base == 2)
        received(shared, Array("\nx\n".utf8))
        #expect(input.take(from: shared, mayReplace: true) != nil)
        #expect(try input.nextLine(limit: 100, includeSeparator: true, decoder: decoder) == "cd\n")
        #expect(try input.nextLine(limit: 100, includeSeparator: false, decoder: decoder) == "x")
        #expect(input.base == 7)
        input.finish()
        #expect(try input.finalLine(limit: 100, decoder: decoder) == nil)
    }

    @Test func tooLongAndUndecodableLinesAreDropped() throws {
        let transcoder = Transcoder(eolStyle: .lf, errorMode: .raise)
        let decoder = try transcoder.makeDecoder()
        let shared = StreamShared()
        var input = InputBuffer(framer: LineFramer(codec: .utf8, eolStyle: .lf))
        received(shared, Array("toolong\n".utf8) + [0xFF] + Array("\nok\nend".utf8))
        _ = input.take(from: shared, mayReplace: true)
        let tooLong = #expect(throws: InputBuffer.LineFailure.self) {
            try input.nextLine(limit: 4, includeSeparator: false, decoder: decoder)
        }
        guard case .tooLong? = tooLong else { Issue.record("not tooLong: \(String(describing: tooLong))"); return }
        let undecodable = #expect(throws: InputBuffer.LineFailure.self) {
            try input.nextLine(limit: 4, includeSeparator: false, decoder: decoder)
        }
        guard case .undecodable(let error)? = undecodable else {
            Issue.record("not undecodable: \(String(describing: undecodable))"); return
        }
        #expect(error.byteOffset == 8)
        #expect(error.bytes == [0xFF])
        #expect(try input.nextLine(limit: 4, includeSeparator: false, decoder: decoder) == "ok")
        #expect(try input.nextLine(limit: 4, includeSeparator: false, decoder: decoder) == nil)
        input.finish()
        #expect(try input.finalLine(limit: 4, decoder: decoder) == "end")
        #expect(input.readableBytes == 0)
    }
}
