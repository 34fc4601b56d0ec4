import Foundation
import NIOCore
import Testing

@testable import StreamPorts
@testable import Transcoders

/// Lines read through ``InputBuffer`` on bytes alone: a whole input decoded in runs of lines
/// (``DecodedLines``, one converter call per run) against the same input read line by line
/// (no runs) and arriving in small chunks. Every line, error, error offset and byte count must
/// be the same.
@Suite("Lines decoded in runs")
struct DecodedLinesTests {
    /// What a reader saw: a line, or an error's code and offset.
    enum Event: Equatable {
        case line(String)
        case failure(String)
    }

    /// Reads every line of `chunks` (each taken as one read brings it).
    static func read(
        _ chunks: [[UInt8]], _ transcoder: Transcoder, runs: Bool, limit: Int = 1 << 20
    ) throws -> (events: [Event], linesFromRuns: Int) {
        let decoder = try transcoder.makeDecoder()
        var input = InputBuffer(
            framer: LineFramer(codec: transcoder.codec, eolStyle: transcoder.eolStyle),
            batchDecoding: runs ? DecodedLines(crEndsLines: transcoder.eolStyle != .none) : nil)
        let shared = StreamShared(metrics: nil)
        var events: [Event] = []
        func record(_ body: () throws(InputBuffer.LineFailure) -> String?) -> Bool {
            do {
                guard let line = try body() else { return false }
                events.append(.line(line))
            } catch {
                switch error {
                case .tooLong: events.append(.failure("tooLong"))
                case .undecodable(let e): events.append(.failure("\(e.code) @\(e.byteOffset ?? -1) \(e.bytes)"))
                }
            }
            return true
        }
        for chunk in chunks {
            shared.received(ByteBuffer(bytes: chunk))
            _ = input.take(from: shared, mayReplace: true)
            while record({ () throws(InputBuffer.LineFailure) in
                try input.nextLine(limit: limit, includeSeparator: false, decoder: decoder)
            }) {}
        }
        input.finish()
        while record({ () throws(InputBuffer.LineFailure) in try input.finalLine(limit: limit, decoder: decoder) }) {}
        return (events, input.decoded?.linesFromRuns ?? 0)
    }

    /// The sample text (the load generator's: 0x5C trail bytes, half-width kana, an empty
    /// line), in `codec`, with `lineEnd` after each line.
    static func sample(_ codec: Codec, lineEnd: String) throws -> [UInt8] {
        let lines = [
            "日本語のテキスト、表示とソース", "ｶﾀｶﾅ and ASCII", "", "能力\\予定 ― 〜 ①",
            "中文：简体字和繁體字", "Ελληνικά and кириллица", String(repeating: "長い行", count: 40),
        ]
        let encoder = Transcoder(codec: codec, eolStyle: .none, errorMode: .replace)
        var bytes: [UInt8] = []
        for _ in 0..<20 {
            for line in lines { bytes += try encoder.encode(line) + Array(lineEnd.utf8) }
        }
        return bytes
    }

    @Test(arguments: ["Shift_JIS", "EUC-JP", "GB18030", "Big5", "windows-1251"], ["\n", "\r\n", "\r"])
    func cleanTextComesFromRunsAndEqualsLineByLine(codec: String, lineEnd: String) throws {
        let transcoder = Transcoder(codec: try Codec(codec), eolStyle: .crlf, errorMode: .raise)
        let bytes = try Self.sample(transcoder.codec, lineEnd: lineEnd)
        let inRuns = try Self.read([bytes], transcoder, runs: true)
        let lineByLine = try Self.read([bytes], transcoder, runs: false)
        let trickled = try Self.read(bytes.map { [$0] }, transcoder, runs: true)
        #expect(inRuns.events == lineByLine.events)
        #expect(trickled.events == lineByLine.events)
        #expect(inRuns.events.count == 140)
        // All but the last line of the single read came from one run ("\r" at the very end
        // may still be followed by an LF, and is a line at once all the same).
        #expect(inRuns.linesFromRuns >= 139, "lines from runs: \(inRuns.linesFromRuns)")
        #expect(lineByLine.linesFromRuns == 0)
    }

    /// An invalid sequence anywhere: the run it is in is read line by line, so the error (or
    /// the U+FFFD) lands exactly where it did, and the lines before and after are unchanged.
    @Test(arguments: [ErrorMode.raise, .replace, .ignore])
    func invalidBytesGiveTheSameLinesAndErrors(mode: ErrorMode) throws {
        for codec in [Codec.shiftJIS, .eucJP, .gb18030] {
            let transcoder = Transcoder(codec: codec, eolStyle: .crlf, errorMode: mode)
            let clean = try Self.sample(codec, lineEnd: "\r\n")
            for position in stride(from: 0, to: clean.count, by: 97) {
                for bad: [UInt8] in [[0x80], [0xFF], [0x82], [0x81, 0x30, 0x81], [0x8E]] {
                    let bytes = Array(clean[..<position]) + bad + Array(clean[position...])
                    let inRuns = try Self.read([bytes], transcoder, runs: true)
                    let lineByLine = try Self.read([bytes], transcoder, runs: false)
                    let chunked = try Self.read(
                        stride(from: 0, to: bytes.count, by: 61).map {
                            Array(bytes[$0..<min($0 + 61, bytes.count)])
                        }, transcoder, runs: true)
                    #expect(inRuns.events == lineByLine.events, "\(codec) \(mode) \(bad) at \(position)")
                    #expect(chunked.events == lineByLine.events, "\(codec) \(mode) \(bad) at \(position), chunks")
                }
            }
        }
    }

    /// Lines over the limit, and the discard rule, between lines decoded in runs.
    @Test func overlongLinesBetweenRuns() throws {
        let transcoder = Transcoder(codec: .shiftJIS, eolStyle: .crlf, errorMode: .replace)
        let bytes = try Self.sample(.shiftJIS, lineEnd: "\n")
        for limit in [0, 10, 30, 119, 120, 1000] {
            let inRuns = try Self.read([bytes], transcoder, runs: true, limit: limit)
            let lineByLine = try Self.read([bytes], transcoder, runs: false, limit: limit)
            #expect(inRuns.events == lineByLine.events, "limit \(limit)")
        }
    }
}
