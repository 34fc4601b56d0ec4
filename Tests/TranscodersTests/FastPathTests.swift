import StreamPortsTestSupport
import Testing

@testable import Transcoders

/// UTF-8, Latin-1 and US-ASCII are converted in Swift; the same codecs forced through ICU
/// (and ScalarDecoder, which always uses ICU) must give identical results.
@Suite struct FastPathTests {
    static let inputs: [[UInt8]] = [
        [],
        Array("plain ASCII\r\nline two\rthree\n".utf8),
        EOLTests.r6rs,
        [0x61, 0x70, 0x70, 0xCE, 0x65],
        [0xE0, 0x67, 0x0A],
        [0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2, 0x62, 0x80, 0x63, 0x80, 0xBF, 0x64],
        [0xED, 0xA0, 0x80, 0xC0, 0xAF, 0xF4, 0x90, 0x80, 0x80, 0xF8, 0x88, 0x80, 0x80, 0x80],
        [0xEF, 0xBB, 0xBF, 0x61, 0xEF, 0xBB, 0xBF],
        [0xEF, 0xBB, 0x61],
        [0x0D, 0xC2, 0x85, 0x0D, 0x85, 0x0D, 0x0D, 0x0A, 0x85, 0xFF, 0x80, 0x7F, 0x00],
        Array("aé日😀\r\n".utf8) + [0xF0, 0x9F, 0x98],
        Array(0...255),
    ]

    @Test(arguments: ["UTF-8", "ISO-8859-1", "US-ASCII"], ErrorMode.allCases)
    func decodeMatchesICU(codecName: String, mode: ErrorMode) throws {
        let fast = try Codec(codecName)
        let slow = try Codec(codecName, nativeFastPaths: false)
        #expect(fast.family != .icu && slow.family == .icu)
        #expect(fast == slow)
        for style in EOLStyle.allCases {
            for input in Self.inputs {
                let tf = Transcoder(codec: fast, eolStyle: style, errorMode: mode)
                let ts = Transcoder(codec: slow, eolStyle: style, errorMode: mode)
                let f = try streamDecode(tf, [input])
                let s = try streamDecode(ts, [input])
                let label = "\(codecName) \(mode) \(style) \(hex(input))"
                #expect(f.text == s.text, "\(label)")
                #expect(f.errors == s.errors, "\(label)")
                let sc = try scalarDecode(tf, [input])
                #expect(f.text == sc.text, "\(label) scalar")
                #expect(f.errors == sc.errors, "\(label) scalar")
                let fb = try streamDecode(tf, byteByByte(input))
                #expect(fb.text == f.text && fb.errors == f.errors, "\(label) byte by byte")
                // decodeLine too (codec only: style .none semantics)
                if style == .none {
                    let lf = try tf.makeDecoder()
                    let ls = try ts.makeDecoder()
                    let a = Result { try input.withUnsafeBytes { try lf.decodeLine($0, streamOffset: 10) } }
                    let b = Result { try input.withUnsafeBytes { try ls.decodeLine($0, streamOffset: 10) } }
                    switch (a, b) {
                    case (.success(let x), .success(let y)): #expect(x == y, "\(label) decodeLine")
                    case (.failure(let x as TranscoderError), .failure(let y as TranscoderError)):
                        #expect(x.byteOffset == y.byteOffset && x.bytes == y.bytes, "\(label) decodeLine")
                    default: Issue.record("\(label) decodeLine: \(a) vs \(b)")
                    }
                }
            }
        }
    }

    @Test(arguments: ["UTF-8", "ISO-8859-1", "US-ASCII"], ErrorMode.allCases)
    func encodeMatchesICU(codecName: String, mode: ErrorMode) throws {
        let fast = try Codec(codecName)
        let slow = try Codec(codecName, nativeFastPaths: false)
        for style in EOLStyle.allCases {
            for text in ["", "plain\nascii\n", "café\nÿ", "a\u{185}b\n", "日本😀\u{85}\u{2028}\r\n", "\u{FEFF}x"] {
                let tf = Transcoder(codec: fast, eolStyle: style, errorMode: mode)
                let ts = Transcoder(codec: slow, eolStyle: style, errorMode: mode)
                let a = Result { try tf.encode(text) }
                let b = Result { try ts.encode(text) }
                switch (a, b) {
                case (.success(let x), .success(let y)): #expect(x == y, "\(codecName) \(mode) \(style) \(text)")
                case (.failure(let x as TranscoderError), .failure(let y as TranscoderError)):
                    #expect(x.character == y.character)
                default: Issue.record("\(codecName) \(mode) \(style) \(text): \(a) vs \(b)")
                }
            }
        }
    }

    /// ICU's "UTF-32" keeps a stream's first bytes, while they may still be a BOM, outside its
    /// pending count: ScalarDecoder must count them anyway and place what they decode to at their
    /// offset (found by the ICU decoder fuzzer: [00 00], then the end, gave U+FFFD at offset 2).
    @Test func utf32BOMPrefixHeldAcrossChunks() throws {
        let t = Transcoder(codec: .utf32, eolStyle: .lf, errorMode: .replace)
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        for bytes: [UInt8] in [
            [0xFF], [0x00, 0x00], [0xFF, 0xFE], [0x00, 0x00, 0xFE], [0xFF, 0xFE, 0x00], [0x00, 0x00, 0x00, 0x61, 0x00],
        ] {
            var expected: ([Unicode.Scalar], [Int]) = ([], [])
            _ = bytes.withUnsafeBytes {
                try! ScalarDecoder(t).decode(
                    $0, streamOffset: 0, final: true, scalars: &expected.0, offsets: &expected.1)
            }
            let decoder = try ScalarDecoder(t)
            var scalars: [Unicode.Scalar] = []
            var offsets: [Int] = []
            let first = bytes.withUnsafeBytes {
                decoder.decode($0, streamOffset: 0, final: false, scalars: &scalars, offsets: &offsets)
            }
            #expect(first.consumed == bytes.count)
            #expect(decoder.pendingByteCount == bytes.count - scalars.count * 4, "\(hex(bytes))")
            _ = decoder.decode(empty, streamOffset: bytes.count, final: true, scalars: &scalars, offsets: &offsets)
            #expect(scalars == expected.0 && offsets == expected.1, "\(hex(bytes)): \(offsets), one shot \(expected.1)")
        }
        // A prefix that turns out not to be a BOM is replayed: "a" starts at 0.
        let replay = try ScalarDecoder(t)
        var scalars: [Unicode.Scalar] = []
        var offsets: [Int] = []
        _ = ([0x00, 0x00] as [UInt8]).withUnsafeBytes {
            replay.decode($0, streamOffset: 0, final: false, scalars: &scalars, offsets: &offsets)
        }
        _ = ([0x00, 0x61] as [UInt8]).withUnsafeBytes {
            replay.decode($0, streamOffset: 2, final: false, scalars: &scalars, offsets: &offsets)
        }
        #expect(scalars == ["a"] && offsets == [0] && replay.pendingByteCount == 0)
        // A complete BOM is held no more.
        let bom = try ScalarDecoder(t)
        scalars = []
        offsets = []
        _ = ([0xFF, 0xFE, 0x00, 0x00, 0x61] as [UInt8]).withUnsafeBytes {
            bom.decode($0, streamOffset: 0, final: false, scalars: &scalars, offsets: &offsets)
        }
        #expect(scalars.isEmpty && bom.pendingByteCount == 1)
    }

    /// After replaying held bytes (an invalid sequence cut across chunks), ICU computes the
    /// offsets of the units that follow from the distance between its replay buffer and the
    /// caller's buffer, so they can be anything; ScalarDecoder's offsets must still be the
    /// bytes' (found by the line reader fuzzer: a 9-byte GB18030 line was "longer than 1 MiB").
    /// Each chunk is decoded from a stack buffer, which makes that distance small and positive.
    @Test func offsetsAfterReplayedBytes() throws {
        for bytes: [UInt8] in [
            [0x41, 0xF6, 0x34, 0xF3, 0x00, 0x42], [0x41, 0x81, 0x30, 0x81, 0x0A, 0x42, 0x81, 0x30, 0x41, 0x43],
        ] {
            let t = Transcoder(codec: .gb18030, eolStyle: .lf)
            let whole = try scalarDecode(t, [bytes])
            #expect(whole.offsets == Array(0..<bytes.count))
            for sizes in [[1], [2], [3]] {
                let decoder = try ScalarDecoder(t)
                var scalars: [Unicode.Scalar] = []
                var offsets: [Int] = []
                var at = 0
                while at < bytes.count {
                    let piece = bytes[at..<min(bytes.count, at + sizes[0])]
                    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: piece.count) { stack in
                        _ = stack.initialize(from: piece)
                        _ = decoder.decode(
                            UnsafeRawBufferPointer(stack), streamOffset: at, final: at + piece.count == bytes.count,
                            scalars: &scalars, offsets: &offsets)
                    }
                    at += piece.count
                }
                #expect(offsets == whole.offsets, "\(hex(bytes)) in chunks of \(sizes[0]): \(offsets)")
            }
        }
    }

    /// A character after held bytes starts with them only if they were part of it: in `.ignore`
    /// mode they are dropped, and a UTF-16 unit replayed after an unpaired surrogate is two bytes
    /// on (found by the decoder fuzzers: chunked offsets differed from one-shot ones).
    @Test func offsetsAfterDroppedOrReplayedHeldBytes() throws {
        for (codec, mode, bytes, expected) in [
            (Codec.shiftJIS, ErrorMode.ignore, [0xF9, 0x0D, 0x61] as [UInt8], [1, 2]),
            (.utf8, .ignore, [0xF0, 0x98, 0x9A, 0x41, 0x09], [3, 4]),
            (.utf8, .replace, [0xF0, 0x98, 0x9A, 0x41, 0x09], [0, 3, 4]),
            (.utf16LE, .replace, [0x00, 0xD8, 0x41, 0x00, 0x42, 0x00], [0, 2, 4]),
            (.utf16LE, .ignore, [0x00, 0xD8, 0x00, 0xD8, 0x41, 0x00, 0x42, 0x00], [4, 6]),
            (.utf16BE, .replace, [0xD8, 0x00, 0xD8, 0x3D, 0xDE, 0x00, 0x00, 0x41], [0, 2, 6]),
            (.utf16LE, .raise, [0x23, 0xDB, 0x00, 0x13, 0xFF], [2]),
        ] {
            let t = Transcoder(codec: codec, eolStyle: .none, errorMode: mode)
            #expect(try scalarDecode(t, [bytes]).offsets == expected, "\(codec) \(mode) \(hex(bytes)) one shot")
            for pieces in [byteByByte(bytes), chunks(bytes, sizes: [3]), chunks(bytes, sizes: [1, 2, 1])] {
                let r = try scalarDecode(t, pieces)
                #expect(r.offsets == expected, "\(codec) \(mode) \(hex(bytes)) in \(pieces.map(\.count)): \(r.offsets)")
            }
        }
    }

    @Test func scalarOffsets() throws {
        let t = Transcoder(codec: .utf8, eolStyle: .crlf)
        let bytes = Array("aé日😀\r\nb".utf8)
        for pieces in [[bytes], byteByByte(bytes), splitAt(bytes, 4), splitAt(bytes, 8)] {
            let r = try scalarDecode(t, pieces)
            #expect(r.text == "aé日😀\nb")
            #expect(r.offsets == [0, 1, 3, 6, 10, 12], "\(pieces.map(\.count))")
        }
        let sjis = try scalarDecode(
            Transcoder(codec: .shiftJIS, eolStyle: .lf), byteByByte([0x61, 0x93, 0xFA, 0xB1, 0x96, 0x7B]))
        #expect(sjis.text == "a日ｱ本")
        #expect(sjis.offsets == [0, 1, 3, 4])
        let u16 = try scalarDecode(
            Transcoder(codec: .utf16, eolStyle: .lf), splitAt([0xFF, 0xFE, 0x61, 0x00, 0x3D, 0xD8, 0x00, 0xDE], 5))
        #expect(u16.text == "a😀")
        #expect(u16.offsets == [2, 4])
        // stream offsets continue from the caller's position, and errors carry stream offsets
        let d = try ScalarDecoder(Transcoder(codec: .shiftJIS, eolStyle: .lf, errorMode: .raise))
        var scalars: [Unicode.Scalar] = []
        var offsets: [Int] = []
        let r = ([0x61, 0x62, 0x82, 0x20] as [UInt8]).withUnsafeBytes {
            d.decode($0, streamOffset: 1000, final: true, scalars: &scalars, offsets: &offsets)
        }
        #expect(r.error?.byteOffset == 1002)
        #expect(r.error?.bytes == [0x82])
        #expect(offsets == [1000, 1001])
    }
}
