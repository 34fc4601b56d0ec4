import StreamPortsTestSupport
import Testing

@testable import Transcoders

/// Codecs and texts for streaming tests: multibyte characters, CR LF, lone CR, LF.
let streamingCases: [(codec: String, text: String)] = [
    ("UTF-8", "aé\r\n日😀\rx\n\r\r\ny"),
    ("UTF-16LE", "a😀\r\n日\r"),
    ("UTF-16BE", "😀😀\r\nb"),
    ("UTF-16", "x😀\r\ny"),
    ("UTF-32", "a😀\r\n"),
    ("UTF-32LE", "😀\r\nb"),
    ("ISO-8859-1", "café\r\nÿ\r"),
    ("US-ASCII", "ab\r\ncd\r"),
    ("windows-1252", "€…\r\nx"),
    ("Shift_JIS", "日本語\r\nｱｲ\rx"),
    ("EUC-JP", "日本\r\n語"),
    ("ISO-2022-JP", "日本a\r\n語b"),
    ("GB18030", "中文😀€\r\n\u{85}x"),
    ("Big5", "中文\r\n"),
    ("EUC-KR", "한국어\r\n"),
    ("KOI8-R", "Привет\r\n"),
    ("IBM037", "Hello\r\nWorld\u{85}"),
]

@Suite struct StreamingTests {
    @Test(arguments: streamingCases.map(\.codec), [EOLStyle.crlf, .nel, .none])
    func splitsEqualOneShot(codecName: String, style: EOLStyle) throws {
        let text = streamingCases.first { $0.codec == codecName }!.text
        let codec = try Codec(codecName)
        let bytes = try Transcoder(codec: codec, eolStyle: .lf, errorMode: .raise).encode(text)
        let t = Transcoder(codec: codec, eolStyle: style, errorMode: .raise)
        let expected = try t.decode(bytes)
        // Independent check of line-end translation on the decoded text.
        switch style {
        case .none: #expect(expected == text)
        case .crlf:
            var lf = ""
            var afterCR = false
            for s in text.unicodeScalars {
                if afterCR && s == "\n" { afterCR = false; continue }
                afterCR = s == "\r"
                lf.unicodeScalars.append(s == "\r" ? "\n" : s)
            }
            #expect(expected == lf)
        default: #expect(!expected.unicodeScalars.contains("\r"))
        }
        for i in 0...bytes.count {
            let r = try streamDecode(t, splitAt(bytes, i))
            #expect(r.text == expected, "\(codecName) split at \(i)")
            #expect(r.errors.isEmpty)
        }
        #expect(try streamDecode(t, byteByByte(bytes)).text == expected, "\(codecName) byte by byte")
        // Decoding into UTF-8 bytes gives the same text.
        for i in 0...bytes.count {
            #expect(
                try streamDecode(t, splitAt(bytes, i), utf8Output: true).text == expected, "\(codecName) UTF-8 at \(i)")
        }
        #expect(try streamDecode(t, byteByByte(bytes), utf8Output: true).text == expected, "\(codecName) UTF-8 bytes")
        var rng = SplitMix64(seed: 0x5EED_0000 &+ UInt64(bytes.count))
        for trial in 0..<30 {
            let pieces = randomChunks(bytes, rng: &rng)
            #expect(
                try streamDecode(t, pieces).text == expected,
                "\(codecName) random trial \(trial): \(pieces.map(\.count))")
        }
        // ScalarDecoder (ICU for every codec) agrees, however the input is cut.
        #expect(try scalarDecode(t, [bytes]).text == expected, "\(codecName) scalar")
        #expect(try scalarDecode(t, byteByByte(bytes)).text == expected, "\(codecName) scalar byte by byte")
        for i in 0...bytes.count {
            #expect(try scalarDecode(t, splitAt(bytes, i)).text == expected, "\(codecName) scalar split at \(i)")
        }
    }

    @Test(arguments: streamingCases.map(\.codec))
    func encoderPiecesEqualOneShot(codecName: String) throws {
        let text = streamingCases.first { $0.codec == codecName }!.text.replacingCRs
        for style in [EOLStyle.lf, .crlf] {
            let t = Transcoder(codec: try Codec(codecName), eolStyle: style, errorMode: .raise)
            let expected = try t.encode(text)
            let n = text.count
            for cut in 0...n {
                #expect(try streamEncode(t, characterPieces(text, cuts: [cut])) == expected, "\(codecName) cut \(cut)")
            }
            #expect(try streamEncode(t, text.map { String($0) }) == expected, "\(codecName) per character")
            #expect(try t.decode(expected) == text.replacingOccurrencesOfLF(style: style))
        }
    }

    @Test func crAtChunkEndThenLF() throws {
        for codec in [Codec.utf8, .latin1, .ascii, .shiftJIS, .utf16LE, .gb18030, .ibm037] {
            for style in [EOLStyle.crlf, .lf, .cr, .nel, .crnel, .ls] {
                let t = Transcoder(codec: codec, eolStyle: style, errorMode: .raise)
                let cr = try Transcoder(codec: codec, eolStyle: .none).encode("a\r")
                let lf = try Transcoder(codec: codec, eolStyle: .none).encode("\nb")
                let decoder = try t.makeDecoder()
                var text = ""
                try decoder.decode(cr, into: &text)
                #expect(text == "a\n", "\(codec) \(style): a CR ends the line at once")
                try decoder.decode(lf, into: &text)
                try decoder.finish(into: &text)
                #expect(text == "a\nb", "\(codec) \(style)")
                // CR, then an empty chunk, then LF
                let d2 = try t.makeDecoder()
                var t2 = ""
                try d2.decode(cr, into: &t2)
                try d2.decode([], into: &t2)
                try d2.decode(lf, into: &t2)
                try d2.finish(into: &t2)
                #expect(t2 == "a\nb")
            }
        }
        // CR | NEL under a Unicode style: the NEL is swallowed; under .crlf it stays.
        let crNel: [UInt8] = [0x61, 0x0D, 0xC2, 0x85, 0x62]
        for i in 0...crNel.count {
            #expect(try streamDecode(Transcoder(codec: .utf8, eolStyle: .crnel), splitAt(crNel, i)).text == "a\nb")
            #expect(try streamDecode(Transcoder(codec: .utf8, eolStyle: .crlf), splitAt(crNel, i)).text == "a\n\u{85}b")
        }
    }

    @Test func surrogatePairSplitInUTF16() throws {
        let le: [UInt8] = [0x61, 0x00, 0x3D, 0xD8, 0x00, 0xDE, 0x62, 0x00]
        let be: [UInt8] = [0x00, 0x61, 0xD8, 0x3D, 0xDE, 0x00, 0x00, 0x62]
        for (codec, bytes) in [(Codec.utf16LE, le), (.utf16BE, be), (.utf16, be)] {
            for mode in ErrorMode.allCases {
                let t = Transcoder(codec: codec, eolStyle: .lf, errorMode: mode)
                for i in 0...bytes.count {
                    let r = try streamDecode(t, splitAt(bytes, i))
                    #expect(r.text == "a😀b", "\(codec) \(mode) split \(i)")
                    #expect(r.errors.isEmpty)
                }
                // split into three: between the two surrogates and inside one
                #expect(try streamDecode(t, chunks(bytes, sizes: [3, 2, 1])).text == "a😀b")
            }
        }
    }

    @Test func utf8BOMSplitAcrossChunks() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF, 0x61, 0xEF, 0xBB, 0xBF, 0x62]
        for mode in ErrorMode.allCases {
            let t = Transcoder(codec: .utf8, eolStyle: .lf, errorMode: mode)
            for i in 0...bytes.count {
                #expect(try streamDecode(t, splitAt(bytes, i)).text == "a\u{FEFF}b", "split \(i)")
            }
            #expect(try streamDecode(t, byteByByte(bytes)).text == "a\u{FEFF}b")
            #expect(try streamDecode(t, [[], [0xEF], [], [0xBB], [0xBF], [0x61]]).text == "a")
            // A BOM prefix that turns out not to be one
            #expect(
                try streamDecode(t, [[0xEF, 0xBB], [0x61]]).text
                    == (mode == .ignore ? "a" : mode == .replace ? "\u{FFFD}a" : "a"))
            #expect(try streamDecode(t, [[0xEF], [0xBB]]).text == (mode == .replace ? "\u{FFFD}" : ""))
        }
        let r = try streamDecode(Transcoder(codec: .utf8, errorMode: .raise), [[0xEF, 0xBB], [0x61]])
        #expect(r.errors == [DecodeFailure(offset: 0, bytes: [0xEF, 0xBB])])
    }

    /// Output more than twice the input (3-byte UTF-8 per input byte) in one chunk.
    @Test func expandingOutput() throws {
        let katakana = [UInt8](repeating: 0xB1, count: 5000) + [0x0D, 0x0A, 0x61]
        let expected = String(repeating: "ｱ", count: 5000) + "\na"
        #expect(try Transcoder(codec: .shiftJIS).decode(katakana) == expected)
        #expect(
            try streamDecode(Transcoder(codec: .shiftJIS), [Array(katakana[..<4999]), Array(katakana[4999...])]).text
                == expected)
        // GB18030 0xFF is invalid: U+FFFD per byte; then an error after the expansion
        let bad = [UInt8](repeating: 0xFF, count: 3000) + [0x61]
        #expect(try Transcoder(codec: .gb18030).decode(bad) == String(repeating: "\u{FFFD}", count: 3000) + "a")
        let r = try streamDecode(
            Transcoder(codec: .shiftJIS, errorMode: .raise),
            [[UInt8](repeating: 0xB1, count: 3000) + [0x82, 0x20, 0x62]])
        #expect(r.text == String(repeating: "ｱ", count: 3000) + " b")
        #expect(r.errors == [DecodeFailure(offset: 3000, bytes: [0x82])])
    }

    @Test func tenMegabytes() throws {
        var text = ""
        var i = 0
        while text.utf8.count < 10_000_000 {
            text += "line \(i): 日本語のテキスト and ASCII, ｶﾀｶﾅ ～ “quotes”\r\n"
            i += 1
        }
        let expected = text.replacingCRs
        for codec in [Codec.utf8, .shiftJIS, .gb18030, .utf16LE] {
            let t = Transcoder(codec: codec, eolStyle: .crlf, errorMode: .raise)
            let bytes = try t.encode(text.replacingCRs)  // writes CRLF
            #expect(bytes.count > 5_000_000)
            #expect(try t.decode(bytes) == expected, "\(codec) one shot")
            let decoder = try t.makeDecoder()
            var out = ""
            var offset = 0
            var rng = SplitMix64(seed: 42)
            while offset < bytes.count {
                let n = min(bytes.count - offset, 65_536 + Int.random(in: -7...7, using: &rng))
                try bytes[offset..<(offset + n)].withUnsafeBytes { try decoder.decode($0, into: &out) }
                offset += n
            }
            try decoder.finish(into: &out)
            #expect(decoder.bytesAccepted == bytes.count)
            #expect(out == expected, "\(codec) chunked")
        }
    }
}

extension String {
    /// CR LF and lone CR become LF.
    var replacingCRs: String {
        var out = ""
        var afterCR = false
        for s in unicodeScalars {
            if afterCR && s == "\n" { afterCR = false; continue }
            afterCR = s == "\r"
            out.unicodeScalars.append(s == "\r" ? "\n" : s)
        }
        return out
    }

    /// What decoding text encoded with `style` gives back.
    func replacingOccurrencesOfLF(style: EOLStyle) -> String { self }
}
