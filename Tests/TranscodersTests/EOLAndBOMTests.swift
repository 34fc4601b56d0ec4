import StreamPortsTestSupport
import Testing

@testable import Transcoders

@Suite struct EOLTests {
    static let r6rs: [UInt8] = [
        0x61, 0x0A, 0x62, 0x0D, 0x63, 0x0D, 0x0A, 0x64, 0xC2, 0x85, 0x65, 0xE2, 0x80, 0xA8, 0x66, 0x0D, 0xC2, 0x85,
        0x67,
    ]

    @Test func r6rsVectors() throws {
        let bytes = Self.r6rs
        #expect(try Transcoder(codec: .utf8, eolStyle: .nel).decode(bytes) == "a\nb\nc\nd\ne\nf\ng")
        #expect(try Transcoder(codec: .utf8, eolStyle: .lf).decode(bytes) == "a\nb\nc\nd\u{85}e\u{2028}f\n\u{85}g")
        #expect(try Transcoder(codec: .utf8, eolStyle: .none).decode(bytes) == String(decoding: bytes, as: UTF8.self))
        #expect(try Transcoder(codec: .utf8, eolStyle: .crnel).encode("a\nb") == [0x61, 0x0D, 0xC2, 0x85, 0x62])
        #expect(try Transcoder(codec: .utf8, eolStyle: .nel).encode("a\nb") == [0x61, 0xC2, 0x85, 0x62])
        #expect(try Transcoder(codec: .utf8, eolStyle: .ls).encode("a\nb") == [0x61, 0xE2, 0x80, 0xA8, 0x62])
        #expect(try Transcoder(codec: .utf8, eolStyle: .crlf).encode("a\nb") == [0x61, 0x0D, 0x0A, 0x62])
        #expect(try Transcoder(codec: .utf8, eolStyle: .cr).encode("a\nb") == [0x61, 0x0D, 0x62])
        #expect(try Transcoder(codec: .utf8, eolStyle: .lf).encode("a\nb") == [0x61, 0x0A, 0x62])
        #expect(try Transcoder(codec: .utf8, eolStyle: .none).encode("a\nb\r") == [0x61, 0x0A, 0x62, 0x0D])
        for style in [EOLStyle.nel, .crnel, .ls] {
            #expect(try Transcoder(codec: .utf8, eolStyle: style).decode(bytes) == "a\nb\nc\nd\ne\nf\ng")
        }
        for style in [EOLStyle.lf, .cr, .crlf] {
            #expect(
                try Transcoder(codec: .utf8, eolStyle: style).decode(bytes) == "a\nb\nc\nd\u{85}e\u{2028}f\n\u{85}g")
        }
    }

    @Test(arguments: [EOLStyle.lf, .cr, .crlf, .nel, .crnel, .ls, .none])
    func r6rsVectorsEverySplitAndPath(style: EOLStyle) throws {
        let t = Transcoder(codec: .utf8, eolStyle: style)
        let expected = try t.decode(Self.r6rs)
        for i in 0...Self.r6rs.count {
            for j in i...Self.r6rs.count {
                let pieces = [Array(Self.r6rs[..<i]), Array(Self.r6rs[i..<j]), Array(Self.r6rs[j...])]
                #expect(try streamDecode(t, pieces).text == expected, "\(style) \(i) \(j)")
            }
        }
        #expect(try scalarDecode(t, byteByByte(Self.r6rs)).text == expected)
        // The same text in other codecs decodes the same way.
        let text = String(decoding: Self.r6rs, as: UTF8.self)
        for codec in [Codec.utf16LE, .utf32BE, .gb18030] {
            let bytes = try Transcoder(codec: codec, eolStyle: .none).encode(text)
            let tc = Transcoder(codec: codec, eolStyle: style)
            #expect(try tc.decode(bytes) == expected, "\(codec)")
            #expect(try streamDecode(tc, byteByByte(bytes)).text == expected, "\(codec)")
        }
    }

    @Test func latin1NELAndWindows1252Ellipsis() throws {
        let bytes: [UInt8] = [0x61, 0x85, 0x62, 0x0D, 0x85, 0x63]
        #expect(try Transcoder(codec: .latin1, eolStyle: .nel).decode(bytes) == "a\nb\nc")
        #expect(try Transcoder(codec: .latin1, eolStyle: .lf).decode(bytes) == "a\u{85}b\n\u{85}c")
        #expect(try Transcoder(codec: .latin1, eolStyle: .nel).encode("a\n") == [0x61, 0x85])
        #expect(try Transcoder(codec: .latin1, eolStyle: .crnel).encode("a\n") == [0x61, 0x0D, 0x85])
        for style in EOLStyle.allCases {
            #expect(try Transcoder(codec: .windows1252, eolStyle: style).decode([0x61, 0x85, 0x62]) == "a…b")
        }
        #expect(try Transcoder(codec: .windows1252, eolStyle: .lf).encode("…") == [0x85])
        // windows-1252 cannot encode NEL: .nel falls back per error mode
        #expect(throws: TranscoderError.self) {
            try Transcoder(codec: .windows1252, eolStyle: .nel, errorMode: .raise).encode("a\n")
        }
    }

    @Test func ebcdic() throws {
        #expect(try Transcoder(codec: .ibm037, eolStyle: .lf).encode("a\n") == [0x81, 0x25])
        #expect(try Transcoder(codec: .ibm037, eolStyle: .nel).encode("a\n") == [0x81, 0x15])
        #expect(try Transcoder(codec: .ibm037, eolStyle: .crlf).encode("a\n") == [0x81, 0x0D, 0x25])
        let bytes: [UInt8] = [0x81, 0x25, 0x82, 0x15, 0x83, 0x0D, 0x25, 0x84]
        #expect(try Transcoder(codec: .ibm037, eolStyle: .nel).decode(bytes) == "a\nb\nc\nd")
        #expect(try Transcoder(codec: .ibm037, eolStyle: .lf).decode(bytes) == "a\nb\u{85}c\nd")
        #expect(try Transcoder(codec: .ibm037, eolStyle: .none).decode(bytes) == "a\nb\u{85}c\r\nd")
    }

    @Test func gb18030FourByteLineEnds() throws {
        let bytes: [UInt8] = [0x61, 0x81, 0x30, 0x81, 0x35, 0x62, 0x81, 0x36, 0xA6, 0x35, 0x63, 0x0D, 0x0A]
        #expect(try Transcoder(codec: .gb18030, eolStyle: .nel).decode(bytes) == "a\nb\nc\n")
        #expect(try Transcoder(codec: .gb18030, eolStyle: .lf).decode(bytes) == "a\u{85}b\u{2028}c\n")
        #expect(try Transcoder(codec: .gb18030, eolStyle: .nel).encode("a\n") == [0x61, 0x81, 0x30, 0x81, 0x35])
        #expect(try Transcoder(codec: .gb18030, eolStyle: .ls).encode("a\n") == [0x61, 0x81, 0x36, 0xA6, 0x35])
        for i in 0...bytes.count {
            #expect(
                try streamDecode(Transcoder(codec: .gb18030, eolStyle: .nel), splitAt(bytes, i)).text == "a\nb\nc\n")
        }
    }

    /// `decodeLine` is codec only: a CR, NEL or LS in the line stays, also when the line holds
    /// bytes that cannot be decoded (found by the UTF-8 decoder fuzzer: invalid bytes sent the
    /// line through the streaming path, which translated line ends).
    @Test(arguments: [EOLStyle.lf, .crlf, .nel, .ls])
    func decodeLineTranslatesNothing(style: EOLStyle) throws {
        for (codec, bytes, expected) in [
            (Codec.utf8, [0x61, 0x0D, 0xFF, 0xC2, 0x85, 0x0D, 0x0A] as [UInt8], "a\r\u{FFFD}\u{85}\r\n"),
            (Codec.ascii, [0x0D, 0xFF, 0x0A], "\r\u{FFFD}\n"),
            (Codec.latin1, [0x0D, 0x85, 0x0A], "\r\u{85}\n"),
            (Codec.shiftJIS, [0x61, 0x0D, 0x0A, 0x82], "a\r\n\u{FFFD}"),
            (try Codec("UTF-8", nativeFastPaths: false), [0xE2, 0x80, 0xA8, 0x0D, 0xFF], "\u{2028}\r\u{FFFD}"),
        ] {
            let decoder = try Transcoder(codec: codec, eolStyle: style, errorMode: .replace).makeDecoder()
            var text = ""
            try decoder.decode([0x0D], into: &text)  // a CR pending before the line
            let line = try bytes.withUnsafeBytes { try decoder.decodeLine($0, streamOffset: 0) }
            #expect(line == expected, "\(codec) \(style) \(hex(bytes))")
        }
    }

    @Test func translatorScalarByScalar() {
        var t = EOLTranslator(style: .crlf)
        #expect(t.translate("\r") == "\n")
        #expect(t.translate("\n") == nil)
        #expect(t.translate("\n") == "\n")
        #expect(t.translate("\u{85}") == "\u{85}")
        var u = EOLTranslator(style: .ls)
        #expect(u.translate("\r") == "\n")
        #expect(u.translate("\u{85}") == nil)
        #expect(u.translate("\u{2028}") == "\n")
        #expect(
            EOLStyle.crlf.isLineEnd("\r") && !EOLStyle.crlf.isLineEnd("\u{85}") && EOLStyle.nel.isLineEnd("\u{2028}"))
    }
}

@Suite struct BOMTests {
    @Test func utf16AndUTF32HonourBOM() throws {
        #expect(try Transcoder(codec: .utf16).decode([0xFE, 0xFF, 0x00, 0x61]) == "a")
        #expect(try Transcoder(codec: .utf16).decode([0xFF, 0xFE, 0x61, 0x00]) == "a")
        #expect(try Transcoder(codec: .utf16).decode([0x00, 0x61]) == "a")  // big-endian by default
        #expect(try Transcoder(codec: .utf16).decode([0xFF, 0xFE, 0x61, 0x00, 0xFF, 0xFE]) == "a\u{FEFF}")
        #expect(try Transcoder(codec: .utf16).decode([0x00, 0x61, 0xFE, 0xFF, 0x00, 0x62]) == "a\u{FEFF}b")
        #expect(try Transcoder(codec: .utf32).decode([0, 0, 0xFE, 0xFF, 0, 0, 0, 0x61]) == "a")
        #expect(try Transcoder(codec: .utf32).decode([0xFF, 0xFE, 0, 0, 0x61, 0, 0, 0]) == "a")
        #expect(try Transcoder(codec: .utf32).decode([0, 0, 0, 0x61]) == "a")
        // explicit endianness: a BOM is an ordinary character
        #expect(try Transcoder(codec: .utf16LE).decode([0xFF, 0xFE, 0x61, 0x00]) == "\u{FEFF}a")
        #expect(try Transcoder(codec: .utf16BE).decode([0xFE, 0xFF, 0x00, 0x61]) == "\u{FEFF}a")
        // BOM split across chunks
        for i in 0...4 {
            #expect(try streamDecode(Transcoder(codec: .utf16), splitAt([0xFF, 0xFE, 0x61, 0x00], i)).text == "a")
        }
    }

    @Test func utf16AndUTF32WriteOneBOM() throws {
        #expect(try Transcoder(codec: .utf16).encode("ab") == [0xFE, 0xFF, 0x00, 0x61, 0x00, 0x62])
        #expect(try streamEncode(Transcoder(codec: .utf16), ["a", "", "b"]) == [0xFE, 0xFF, 0x00, 0x61, 0x00, 0x62])
        #expect(try Transcoder(codec: .utf32).encode("a") == [0, 0, 0xFE, 0xFF, 0, 0, 0, 0x61])
        #expect(try Transcoder(codec: .utf16LE).encode("a") == [0x61, 0x00])
        // A text's own U+FEFF is written as a character
        #expect(try Transcoder(codec: .utf16BE).encode("\u{FEFF}a") == [0xFE, 0xFF, 0x00, 0x61])
        // reset starts a new stream with a new BOM
        let encoder = try Transcoder(codec: .utf16).makeEncoder()
        var out: [UInt8] = []
        try encoder.encode("a", into: &out)
        encoder.reset()
        try encoder.encode("b", into: &out)
        #expect(out == [0xFE, 0xFF, 0x00, 0x61, 0xFE, 0xFF, 0x00, 0x62])
    }

    @Test func utf8BOMDroppedAtStartOnly() throws {
        let t = Transcoder(codec: .utf8)
        #expect(try t.decode([0xEF, 0xBB, 0xBF, 0x61]) == "a")
        #expect(try t.decode([0x61, 0xEF, 0xBB, 0xBF, 0x62]) == "a\u{FEFF}b")
        #expect(try t.decode([0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF]) == "\u{FEFF}")
        #expect(try t.decode([0xEF, 0xBB, 0xBF]) == "")
        #expect(try t.encode("a") == [0x61])
        #expect(try t.encode("\u{FEFF}a") == [0xEF, 0xBB, 0xBF, 0x61])  // the text's own character
        // ScalarDecoder drops it too, and offsets still count it
        let r = try scalarDecode(t, [[0xEF, 0xBB, 0xBF, 0x61, 0xEF, 0xBB, 0xBF]])
        #expect(r.text == "a\u{FEFF}")
        #expect(r.offsets == [3, 4])
        // decodeLine of a stream's first line drops it as well; later lines keep it
        let d = try t.makeDecoder()
        #expect(
            try ([0xEF, 0xBB, 0xBF, 0x61] as [UInt8]).withUnsafeBytes { try d.decodeLine($0, streamOffset: 0) } == "a")
        #expect(
            try ([0xEF, 0xBB, 0xBF, 0x61] as [UInt8]).withUnsafeBytes { try d.decodeLine($0, streamOffset: 9) }
                == "\u{FEFF}a")
        // after reset, a new stream starts
        let d2 = try t.makeDecoder()
        var s = ""
        try d2.decode([0xEF, 0xBB, 0xBF, 0x61], into: &s)
        d2.reset()
        try d2.decode([0xEF, 0xBB, 0xBF, 0x62], into: &s)
        #expect(s == "ab")
    }
}
