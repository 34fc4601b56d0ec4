import Testing
@testable import Transcoders

@Suite struct SmokeTests {
    @Test func shiftJISRoundTrip() throws {
        let t = Transcoder(codec: try Codec("sjis"), eolStyle: .lf, errorMode: .raise)
        #expect(try t.encode("日本語") == [0x93, 0xFA, 0x96, 0x7B, 0x8C, 0xEA])
        #expect(try t.decode([0x93, 0xFA, 0x96, 0x7B, 0x8C, 0xEA]) == "日本語")
    }

    @Test func r6rsEOLVectors() throws {
        let bytes: [UInt8] = [0x61, 0x0A, 0x62, 0x0D, 0x63, 0x0D, 0x0A, 0x64, 0xC2, 0x85, 0x65, 0xE2, 0x80, 0xA8, 0x66, 0x0D, 0xC2, 0x85, 0x67]
        #expect(try Transcoder(codec: .utf8, eolStyle: .nel).decode(bytes) == "a\nb\nc\nd\ne\nf\ng")
        #expect(try Transcoder(codec: .utf8, eolStyle: .lf).decode(bytes) == "a\nb\nc\nd\u{85}e\u{2028}f\n\u{85}g")
        #expect(try Transcoder(codec: .utf8, eolStyle: .none).decode(bytes) == String(decoding: bytes, as: UTF8.self))
        #expect(try Transcoder(codec: .utf8, eolStyle: .crnel).encode("a\nb") == [0x61, 0x0D, 0xC2, 0x85, 0x62])
        #expect(try Transcoder(codec: .utf8, eolStyle: .nel).encode("a\nb") == [0x61, 0xC2, 0x85, 0x62])
        #expect(try Transcoder(codec: .utf8, eolStyle: .ls).encode("a\nb") == [0x61, 0xE2, 0x80, 0xA8, 0x62])
    }

    @Test func errors() throws {
        #expect(throws: TranscoderError.self) { try Transcoder(codec: .utf8, errorMode: .raise).decode([0x61, 0x70, 0x70, 0xCE, 0x65]) }
        do {
            _ = try Transcoder(codec: .utf8, errorMode: .raise).decode([0x61, 0x70, 0x70, 0xCE, 0x65])
        } catch {
            #expect(error.byteOffset == 3)
            #expect(error.bytes == [0xCE])
            print(error)
        }
        #expect(try Transcoder(codec: .utf8, eolStyle: .lf).decode([0xE0, 0x67, 0x0A]) == "\u{FFFD}g\n")
        #expect(throws: TranscoderError.self) { try Transcoder(codec: .latin1, errorMode: .raise).encode("a\u{185}b") }
        #expect(try Transcoder(codec: .latin1).encode("a\u{185}b") == [0x61, 0x3F, 0x62])
        #expect(try Transcoder(codec: .shiftJIS).decode([0x61, 0x82]) == "a\u{FFFD}")
        do { _ = try Codec("utf-9"); Issue.record("no throw") } catch { print(error); #expect(error.code == .unknownCodec) }
        print(Codec.shiftJIS.name, Codec.available.count, Codec.utf16.name, Codec.gb18030.lineEndsAreByteScannable(for: .lf), Codec.shiftJIS.lineEndsAreByteScannable(for: .crlf), Codec.ibm037.lineEndsAreByteScannable(for: .lf))
        #expect(try Transcoder(codec: .utf16).encode("a") == [0xFE, 0xFF, 0x00, 0x61])
        #expect(try Transcoder(codec: .iso2022JP).encode("日") .suffix(3) == [0x1B, 0x28, 0x42])
        #expect(try Transcoder(codec: .ibm037, eolStyle: .nel).encode("a\n") == [0x81, 0x15])
    }
}
