import StreamPortsTestSupport
import Testing

@testable import Transcoders

@Suite struct DecodingErrorTests {
    @Test func invalidUTF8EachMode() throws {
        let bytes: [UInt8] = [0x61, 0x70, 0x70, 0xCE, 0x65]
        do {
            _ = try Transcoder(codec: .utf8, errorMode: .raise).decode(bytes)
            Issue.record("no error")
        } catch {
            #expect(error.code == .decoding)
            #expect(error.byteOffset == 3)
            #expect(error.bytes == [0xCE])
            #expect(error.message.contains("CE") && error.message.contains("3"))
        }
        #expect(try Transcoder(codec: .utf8, errorMode: .replace).decode(bytes) == "app\u{FFFD}e")
        #expect(try Transcoder(codec: .utf8, errorMode: .ignore).decode(bytes) == "appe")
        let r = try streamDecode(Transcoder(codec: .utf8, errorMode: .raise), [bytes])
        #expect(r.text == "appe")
        #expect(r.errors == [DecodeFailure(offset: 3, bytes: [0xCE])])
    }

    @Test func maximalSubparts() throws {
        let t = Transcoder(codec: .utf8, eolStyle: .lf)
        #expect(try t.decode([0xE0, 0x67, 0x0A]) == "\u{FFFD}g\n")
        // Unicode Table 3-8's example: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64
        #expect(
            try t.decode([0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2, 0x62, 0x80, 0x63, 0x80, 0xBF, 0x64])
                == "a\u{FFFD}\u{FFFD}\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}d")
        #expect(try t.decode([0xED, 0xA0, 0x80]) == "\u{FFFD}\u{FFFD}\u{FFFD}")  // surrogate
        #expect(try t.decode([0xC0, 0xAF]) == "\u{FFFD}\u{FFFD}")  // overlong
        #expect(try t.decode([0xF4, 0x90, 0x80, 0x80]) == "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}")
        #expect(try t.decode([0x61, 0xF0, 0x9F, 0x98]) == "a\u{FFFD}")  // truncated at end
    }

    @Test func raiseOffsetsAndResumption() throws {
        // errors in the middle, at a chunk boundary and at the end
        let bytes: [UInt8] = [0x61, 0xFF, 0x62, 0xE0, 0x67, 0xC3, 0xA9, 0x80, 0x80, 0x63, 0xF0, 0x9F]
        let t = Transcoder(codec: .utf8, eolStyle: .lf, errorMode: .raise)
        let expectedErrors = [
            DecodeFailure(offset: 1, bytes: [0xFF]), DecodeFailure(offset: 3, bytes: [0xE0]),
            DecodeFailure(offset: 7, bytes: [0x80]), DecodeFailure(offset: 8, bytes: [0x80]),
            DecodeFailure(offset: 10, bytes: [0xF0, 0x9F]),
        ]
        for i in 0...bytes.count {
            let r = try streamDecode(t, splitAt(bytes, i))
            #expect(r.text == "abgéc", "split \(i)")
            #expect(r.errors == expectedErrors, "split \(i)")
        }
        let r = try streamDecode(t, byteByByte(bytes))
        #expect(r.errors == expectedErrors)
        #expect(
            try Transcoder(codec: .utf8, eolStyle: .lf, errorMode: .replace).decode(bytes)
                == "a\u{FFFD}b\u{FFFD}gé\u{FFFD}\u{FFFD}c\u{FFFD}")
    }

    /// The same property in every codec: raise-and-resume sees exactly the errors whose
    /// bytes sit at their offsets, its text equals `.ignore`'s, and `.replace` puts one
    /// U+FFFD where each error was.
    @Test(arguments: invalidInputs)
    func errorModesAgree(_ input: InvalidInput) throws {
        let codec = try Codec(input.codec)
        let raise = Transcoder(codec: codec, eolStyle: .lf, errorMode: .raise)
        let replace = Transcoder(codec: codec, eolStyle: .lf, errorMode: .replace)
        let ignore = Transcoder(codec: codec, eolStyle: .lf, errorMode: .ignore)
        let r = try streamDecode(raise, [input.bytes])
        #expect(!r.errors.isEmpty)
        for e in r.errors {
            #expect(e.offset >= 0 && e.offset + e.bytes.count <= input.bytes.count, "\(e)")
            if e.offset >= 0 && e.offset + e.bytes.count <= input.bytes.count {
                #expect(Array(input.bytes[e.offset..<(e.offset + e.bytes.count)]) == e.bytes, "\(input.codec) \(e)")
            }
        }
        #expect(r.errors.map(\.offset) == r.errors.map(\.offset).sorted())
        #expect(r.errors.map(\.offset) == input.offsets, "\(input.codec) offsets \(r.errors)")
        let ignored = try ignore.decode(input.bytes)
        let replaced = try replace.decode(input.bytes)
        #expect(r.text == ignored)
        #expect(
            replaced == input.replaced, "\(input.codec): \(replaced.unicodeScalars.map { String($0.value, radix: 16) })"
        )
        #expect(replaced.unicodeScalars.filter { $0 == "\u{FFFD}" }.count == r.errors.count)
        #expect(!replaced.unicodeScalars.contains("\u{1A}"))
        for mode in ErrorMode.allCases {
            let t = Transcoder(codec: codec, eolStyle: .lf, errorMode: mode)
            let oneShot = try streamDecode(t, [input.bytes])
            for i in 0...input.bytes.count {
                let split = try streamDecode(t, splitAt(input.bytes, i))
                #expect(split.text == oneShot.text, "\(input.codec) \(mode) split \(i)")
                #expect(split.errors == oneShot.errors, "\(input.codec) \(mode) split \(i)")
            }
            let bb = try streamDecode(t, byteByByte(input.bytes))
            #expect(bb.text == oneShot.text && bb.errors == oneShot.errors, "\(input.codec) \(mode) byte by byte")
            // Into UTF-8 bytes: the same text, the same errors at the same offsets.
            for pieces in [[input.bytes], byteByByte(input.bytes)] {
                let bytes = try streamDecode(t, pieces, utf8Output: true)
                #expect(bytes == oneShot, "\(input.codec) \(mode) into UTF-8, \(pieces.count) piece(s)")
            }
            var rng = SplitMix64(seed: 7)
            for _ in 0..<10 {
                let rc = try streamDecode(t, randomChunks(input.bytes, rng: &rng, maxSize: 4))
                #expect(rc.text == oneShot.text && rc.errors == oneShot.errors, "\(input.codec) \(mode) random")
            }
            // ScalarDecoder (always ICU) agrees, errors included.
            let s = try scalarDecode(t, [input.bytes])
            #expect(s.text == oneShot.text, "\(input.codec) \(mode) scalar")
            #expect(s.errors == oneShot.errors, "\(input.codec) \(mode) scalar")
            let sb = try scalarDecode(t, byteByByte(input.bytes))
            #expect(
                sb.text == oneShot.text && sb.errors == oneShot.errors,
                "\(input.codec) \(mode) scalar byte by byte: \(sb.errors)")
        }
    }

    /// ISO-2022-JP holds "ESC $ (" as a possible escape; a "Z" after it makes ICU replay the
    /// held bytes (U+FFFD for ESC, one double-byte character for "$(") and then decode the Z:
    /// its U+FFFD is at the Z's offset however the input is cut (the ICU decoder fuzzer found
    /// 16, the "(", when the Z came in a read of its own).
    @Test func replayedEscapeKeepsTheNewByteOffset() throws {
        let payload: [UInt8] = [
            0x38, 0x30, 0x33, 0x30, 0x00, 0x61, 0x1B, 0x24, 0x42, 0x78, 0x78, 0x1B, 0x04, 0x00, 0x1B, 0x24, 0x28, 0x5A,
        ]
        // And "ESC (" held, then Z: U+FFFD for ESC, then "(Z" is one double-byte character
        // that starts in the held bytes.
        let second: [UInt8] = [
            0x61, 0x1B, 0x24, 0x42, 0x95, 0x95, 0x95, 0x95, 0x95, 0x78, 0x78, 0x1B, 0x28, 0x5A, 0x62, 0x1B, 0x28, 0x42,
        ]
        let t = Transcoder(codec: .iso2022JP, eolStyle: .lf, errorMode: .replace)
        for (bytes, offsets) in [
            (payload, [0, 1, 2, 3, 4, 5, 9, 11, 12, 14, 15, 17]), (second, [0, 4, 6, 8, 9, 11, 12, 14]),
        ] {
            let oneShot = try scalarDecode(t, [bytes])
            #expect(oneShot.offsets == offsets)
            #expect(try scalarDecode(t, byteByByte(bytes)).offsets == oneShot.offsets)
            for i in 0...bytes.count {
                #expect(try scalarDecode(t, splitAt(bytes, i)).offsets == oneShot.offsets, "split at \(i)")
            }
        }
    }

    @Test func decodeLineOffsets() throws {
        for (codec, line, offset, bad) in [
            (Codec.utf8, [0x61, 0x70, 0x70, 0xCE, 0x65] as [UInt8], 103, [0xCE] as [UInt8]),
            (Codec.utf8, [0x61, 0xE2, 0x82], 101, [0xE2, 0x82]),
            (Codec.ascii, [0x61, 0x62, 0x80], 102, [0x80]),
            (Codec.shiftJIS, [0x61, 0x93, 0xFA, 0x82, 0x20], 103, [0x82]),
            (Codec.shiftJIS, [0x61, 0x62, 0x93], 102, [0x93]),
            (Codec.eucJP, [0x61, 0xC6, 0xFC, 0x8E], 103, [0x8E]),
            (Codec.gb18030, [0x61, 0x81, 0x30, 0x81], 101, [0x81, 0x30, 0x81]),
        ] {
            let decoder = try Transcoder(codec: codec, eolStyle: .lf, errorMode: .raise).makeDecoder()
            // a previous good line must not shift offsets
            _ = try ([0x61, 0x62] as [UInt8]).withUnsafeBytes { try decoder.decodeLine($0, streamOffset: 50) }
            do {
                _ = try line.withUnsafeBytes { try decoder.decodeLine($0, streamOffset: 100) }
                Issue.record("\(codec): no error")
            } catch let error as TranscoderError {
                #expect(error.byteOffset == offset, "\(codec) \(hex(line))")
                #expect(error.bytes == bad, "\(codec) \(hex(line))")
            } catch {
                Issue.record("\(error)")
            }
            // and the decoder still works afterwards
            #expect(try ([0x61] as [UInt8]).withUnsafeBytes { try decoder.decodeLine($0, streamOffset: 200) } == "a")
            let replace = try Transcoder(codec: codec, eolStyle: .lf, errorMode: .replace).makeDecoder()
            #expect(
                try line.withUnsafeBytes { try replace.decodeLine($0, streamOffset: 100) }.unicodeScalars.last
                    == "\u{FFFD}"
                    || codec == .shiftJIS && line.last == 0x20 || codec == .utf8 && line.last == 0x65)
        }
    }

    @Test func incompleteAtEnd() throws {
        for (codec, bytes) in [
            (Codec.utf8, [0x61, 0xE6, 0x97] as [UInt8]), (.shiftJIS, [0x61, 0x93]), (.shiftJIS, [0x61, 0x82]),
            (.utf16LE, [0x61, 0x00, 0x3D]),
            (.utf16LE, [0x61, 0x00, 0x3D, 0xD8]), (.gb18030, [0x61, 0x81, 0x30]),
        ] {
            let raise = Transcoder(codec: codec, eolStyle: .lf, errorMode: .raise)
            let r = try streamDecode(raise, [bytes])
            #expect(r.text == "a", "\(codec)")
            #expect(r.errors.count == 1, "\(codec)")
            #expect(r.errors.first?.offset == (codec == .utf16LE ? 2 : 1), "\(codec) \(r.errors)")
            #expect(try Transcoder(codec: codec, eolStyle: .lf).decode(bytes) == "a\u{FFFD}", "\(codec)")
            #expect(try Transcoder(codec: codec, eolStyle: .lf, errorMode: .ignore).decode(bytes) == "a", "\(codec)")
        }
    }
}

struct InvalidInput: Sendable, CustomTestStringConvertible {
    let codec: String
    let bytes: [UInt8]
    let offsets: [Int]
    let replaced: String
    var testDescription: String { "\(codec) \(hex(bytes))" }
}

let invalidInputs: [InvalidInput] = [
    InvalidInput(
        codec: "UTF-8",
        bytes: [0x61, 0x70, 0x70, 0xCE, 0x65, 0xE0, 0x67, 0x0A, 0xFF, 0xC3, 0xA9, 0xED, 0xA0, 0x80, 0xF0, 0x9F],
        offsets: [3, 5, 8, 11, 12, 13, 14], replaced: "app\u{FFFD}e\u{FFFD}g\n\u{FFFD}é\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"
    ),
    InvalidInput(
        codec: "US-ASCII", bytes: [0x61, 0x80, 0x62, 0xFF, 0xFF], offsets: [1, 3, 4],
        replaced: "a\u{FFFD}b\u{FFFD}\u{FFFD}"),
    // Shift_JIS: a lead byte with an invalid trail (the trail is kept), a truncated lead
    InvalidInput(
        codec: "Shift_JIS", bytes: [0x61, 0x82, 0x20, 0x93, 0xFA, 0x82, 0x0A, 0x62, 0x93],
        offsets: [1, 5, 8], replaced: "a\u{FFFD} 日\u{FFFD}\nb\u{FFFD}"),
    InvalidInput(
        codec: "EUC-JP", bytes: [0x61, 0xC6, 0x20, 0xC6, 0xFC, 0xC6], offsets: [1, 5], replaced: "a\u{FFFD} 日\u{FFFD}"),
    InvalidInput(
        codec: "UTF-16LE", bytes: [0x61, 0x00, 0x00, 0xDC, 0x62, 0x00, 0x3D, 0xD8, 0x63, 0x00, 0x64],
        offsets: [2, 6, 10], replaced: "a\u{FFFD}b\u{FFFD}c\u{FFFD}"),
    InvalidInput(
        codec: "GB18030", bytes: [0x61, 0x81, 0x30, 0x62, 0xD6, 0xD0, 0x81], offsets: [1, 6],
        replaced: "a\u{FFFD}0b中\u{FFFD}"),
    InvalidInput(
        codec: "UTF-32BE", bytes: [0, 0, 0, 0x61, 0, 0x11, 0, 0, 0, 0, 0xD8, 0, 0, 0, 0, 0x62], offsets: [4, 8],
        replaced: "a\u{FFFD}\u{FFFD}b"),
]

@Suite struct EncodingErrorTests {
    @Test func unencodableToLatin1AndASCII() throws {
        for codec in [Codec.latin1, .ascii, .windows1252, .shiftJIS, .ibm037, .iso2022JP] {
            do {
                _ = try Transcoder(codec: codec, errorMode: .raise).encode("a\u{185}b")
                Issue.record("\(codec): no error")
            } catch {
                #expect(error.code == .encoding)
                #expect(error.character == "\u{185}", "\(codec)")
                #expect(error.message.contains("U+0185"))
            }
            let a = try Transcoder(codec: codec, errorMode: .raise).encode("a")
            let b = try Transcoder(codec: codec, errorMode: .raise).encode("b")
            let q = try Transcoder(codec: codec, errorMode: .raise).encode("?")
            #expect(try Transcoder(codec: codec, errorMode: .replace).encode("a\u{185}b") == a + q + b, "\(codec)")
            #expect(try Transcoder(codec: codec, errorMode: .ignore).encode("a\u{185}b") == a + b, "\(codec)")
            // one replacement per character, also for a character outside the BMP
            #expect(try Transcoder(codec: codec, errorMode: .replace).encode("a😀\u{185}b") == a + q + q + b, "\(codec)")
        }
        #expect(try Transcoder(codec: .latin1).encode("a\u{185}b") == [0x61, 0x3F, 0x62])
        #expect(try Transcoder(codec: .ascii, errorMode: .replace).encode("é") == [0x3F])
        #expect(try Transcoder(codec: .ibm037, errorMode: .replace).encode("\u{185}") == [0x6F])  // EBCDIC '?'
    }

    @Test func replaceWritesFFFDWhenEncodable() throws {
        // codecs that can encode U+FFFD never meet an unencodable character in a String, so
        // check the per-codec choice directly
        #expect(try Transcoder(codec: .gb18030, errorMode: .raise).encode("\u{FFFD}") == [0x84, 0x31, 0xA4, 0x37])
        #expect(try Transcoder(codec: .utf16BE, errorMode: .raise).encode("\u{FFFD}") == [0xFF, 0xFD])
    }

    @Test func raiseKeepsStreamStateAndPrefix() throws {
        let encoder = try Transcoder(codec: .iso2022JP, eolStyle: .lf, errorMode: .raise).makeEncoder()
        var out: [UInt8] = []
        do {
            try encoder.encode("日\u{185}x", into: &out)
            Issue.record("no error")
        } catch {
            #expect(error.character == "\u{185}")
        }
        #expect(out == [0x1B, 0x24, 0x42, 0x46, 0x7C])  // what came before the bad character
        try encoder.encode("a", into: &out)
        try encoder.finish(into: &out)
        #expect(out == [0x1B, 0x24, 0x42, 0x46, 0x7C, 0x1B, 0x28, 0x42, 0x61])
        #expect(try Transcoder(codec: .iso2022JP, eolStyle: .lf).decode(out) == "日a")
        // Latin-1: prefix written, rest of that call dropped, next call fine
        let latin = try Transcoder(codec: .latin1, errorMode: .raise).makeEncoder()
        var bytes: [UInt8] = []
        #expect(throws: TranscoderError.self) { try latin.encode("é\u{185}z", into: &bytes) }
        try latin.encode("b", into: &bytes)
        #expect(bytes == [0xE9, 0x62])
        // UTF-16: no second BOM after an error elsewhere in the stream
        let sjis = try Transcoder(codec: .shiftJIS, errorMode: .raise).makeEncoder()
        var s: [UInt8] = []
        #expect(throws: TranscoderError.self) { try sjis.encode("日😀", into: &s) }
        try sjis.encode("本", into: &s)
        #expect(s == [0x93, 0xFA, 0x96, 0x7B])
    }

    @Test func iso2022JPEndsWithReset() throws {
        #expect(try Transcoder(codec: .iso2022JP).encode("日").suffix(3) == [0x1B, 0x28, 0x42])
        #expect(
            try streamEncode(Transcoder(codec: .iso2022JP), ["日", "本"]) == [
                0x1B, 0x24, 0x42, 0x46, 0x7C, 0x4B, 0x5C, 0x1B, 0x28, 0x42,
            ])
        #expect(try Transcoder(codec: .iso2022JP).encode("abc") == [0x61, 0x62, 0x63])
        let encoder = try Transcoder(codec: .iso2022JP).makeEncoder()
        var out: [UInt8] = []
        try encoder.encode("日", into: &out)
        #expect(out == [0x1B, 0x24, 0x42, 0x46, 0x7C])
        try encoder.finish(into: &out)
        #expect(out.suffix(3) == [0x1B, 0x28, 0x42])
    }
}
