import StreamPortsTestSupport
import Testing

@testable import Transcoders

/// A codec with a text and its exact bytes (checked against Python's codecs, not ICU).
struct Vector: Sendable, CustomTestStringConvertible {
    let codec: String
    let text: String
    let bytes: [UInt8]
    var testDescription: String { codec }
}

let vectors: [Vector] = [
    Vector(codec: "UTF-8", text: "aé日😀", bytes: [0x61, 0xC3, 0xA9, 0xE6, 0x97, 0xA5, 0xF0, 0x9F, 0x98, 0x80]),
    Vector(codec: "UTF-16BE", text: "aé日😀", bytes: [0x00, 0x61, 0x00, 0xE9, 0x65, 0xE5, 0xD8, 0x3D, 0xDE, 0x00]),
    Vector(codec: "UTF-16LE", text: "aé日😀", bytes: [0x61, 0x00, 0xE9, 0x00, 0xE5, 0x65, 0x3D, 0xD8, 0x00, 0xDE]),
    Vector(
        codec: "UTF-16", text: "aé日😀", bytes: [0xFE, 0xFF, 0x00, 0x61, 0x00, 0xE9, 0x65, 0xE5, 0xD8, 0x3D, 0xDE, 0x00]),
    Vector(codec: "UTF-32BE", text: "a日😀", bytes: [0, 0, 0, 0x61, 0, 0, 0x65, 0xE5, 0, 0x01, 0xF6, 0x00]),
    Vector(codec: "UTF-32LE", text: "a日😀", bytes: [0x61, 0, 0, 0, 0xE5, 0x65, 0, 0, 0x00, 0xF6, 0x01, 0]),
    Vector(codec: "UTF-32", text: "a😀", bytes: [0, 0, 0xFE, 0xFF, 0, 0, 0, 0x61, 0, 0x01, 0xF6, 0x00]),
    Vector(codec: "ISO-8859-1", text: "café ÿ", bytes: [0x63, 0x61, 0x66, 0xE9, 0x20, 0xFF]),
    Vector(codec: "US-ASCII", text: "plain ~text", bytes: Array("plain ~text".utf8)),
    Vector(codec: "windows-1252", text: "€…café", bytes: [0x80, 0x85, 0x63, 0x61, 0x66, 0xE9]),
    Vector(codec: "ISO-8859-15", text: "€œ", bytes: [0xA4, 0xBD]),
    Vector(codec: "Shift_JIS", text: "日本語", bytes: [0x93, 0xFA, 0x96, 0x7B, 0x8C, 0xEA]),
    Vector(codec: "sjis", text: "aｱ日", bytes: [0x61, 0xB1, 0x93, 0xFA]),
    Vector(codec: "EUC-JP", text: "日本語", bytes: [0xC6, 0xFC, 0xCB, 0xDC, 0xB8, 0xEC]),
    Vector(
        codec: "ISO-2022-JP", text: "日本語",
        bytes: [0x1B, 0x24, 0x42, 0x46, 0x7C, 0x4B, 0x5C, 0x38, 0x6C, 0x1B, 0x28, 0x42]),
    Vector(codec: "GB18030", text: "中文€😀", bytes: [0xD6, 0xD0, 0xCE, 0xC4, 0xA2, 0xE3, 0x94, 0x39, 0xFC, 0x36]),
    Vector(codec: "GBK", text: "中文", bytes: [0xD6, 0xD0, 0xCE, 0xC4]),
    Vector(codec: "Big5", text: "中文", bytes: [0xA4, 0xA4, 0xA4, 0xE5]),
    Vector(codec: "EUC-KR", text: "한국어", bytes: [0xC7, 0xD1, 0xB1, 0xB9, 0xBE, 0xEE]),
    Vector(codec: "KOI8-R", text: "Привет", bytes: [0xF0, 0xD2, 0xC9, 0xD7, 0xC5, 0xD4]),
    Vector(codec: "windows-1251", text: "Привет", bytes: [0xCF, 0xF0, 0xE8, 0xE2, 0xE5, 0xF2]),
    Vector(codec: "ISO-8859-5", text: "Привет", bytes: [0xBF, 0xE0, 0xD8, 0xD2, 0xD5, 0xE2]),
    Vector(codec: "ISO-8859-7", text: "αβγ", bytes: [0xE1, 0xE2, 0xE3]),
    Vector(codec: "TIS-620", text: "ไทย", bytes: [0xE4, 0xB7, 0xC2]),
    Vector(codec: "IBM037", text: "Hello", bytes: [0xC8, 0x85, 0x93, 0x93, 0x96]),
]

@Suite struct CodecVectorTests {
    @Test(arguments: vectors)
    func roundTrip(_ v: Vector) throws {
        let t = Transcoder(codec: try Codec(v.codec), eolStyle: .lf, errorMode: .raise)
        let encoded = try t.encode(v.text)
        #expect(encoded == v.bytes, "\(v.codec) encode: \(hex(encoded)) != \(hex(v.bytes))")
        #expect(try t.decode(v.bytes) == v.text, "\(v.codec) decode")
        #expect(try t.decode(t.encode(v.text)) == v.text)
    }

    /// At least twenty distinct converters (as ICU names them: "sjis" and "Shift_JIS" are one)
    /// are listed by `Codec.available`, open, and round-trip their vectors through ICU (no
    /// native fast path).
    @Test func atLeastTwentyCodecs() {
        let listed = Set(Codec.available.map(\.name))
        var roundTripped: Set<String> = []
        for v in vectors {
            guard let codec = try? Codec(v.codec, nativeFastPaths: false), listed.contains(codec.name) else {
                Issue.record("\(v.codec) does not open as a listed codec")
                continue
            }
            let t = Transcoder(codec: codec, eolStyle: .lf, errorMode: .raise)
            if (try? t.encode(v.text)) == v.bytes && (try? t.decode(v.bytes)) == v.text {
                roundTripped.insert(codec.name)
            }
        }
        #expect(roundTripped.count >= 20, "\(roundTripped.count) converters round-trip: \(roundTripped.sorted())")
    }

    @Test func shiftJISIssueVector() throws {
        let t = Transcoder(codec: try Codec("sjis"), eolStyle: .lf, errorMode: .raise)
        #expect(try t.encode("日本語") == [0x93, 0xFA, 0x96, 0x7B, 0x8C, 0xEA])
        #expect(try t.decode([0x93, 0xFA, 0x96, 0x7B, 0x8C, 0xEA]) == "日本語")
        #expect(
            try Transcoder(codec: .shiftJIS, eolStyle: .crlf).encode("日本語\n") == [
                0x93, 0xFA, 0x96, 0x7B, 0x8C, 0xEA, 0x0D, 0x0A,
            ])
    }

    @Test func aliasesOpenTheSameConverter() throws {
        for name in ["Shift_JIS", "sjis", "cp932", "SHIFT_JIS", "shift_jis"] {
            #expect(try Codec(name) == Codec.shiftJIS, "\(name)")
        }
        for name in ["UTF-8", "utf8", "Utf-8"] { #expect(try Codec(name) == Codec.utf8) }
        for name in ["latin1", "ISO-8859-1", "iso_8859-1", "latin-1"] {
            #expect(try Codec(name) == Codec.latin1, "\(name)")
        }
        #expect(try Codec("US-ASCII") == Codec.ascii)
        #expect(Codec.shiftJIS.name == "ibm-943_P15A-2003")
        #expect(try Codec("sjis").requestedName == "sjis")
        #expect(Codec.utf16.name == "UTF-16")
    }

    @Test func shorthandsOpen() {
        let all: [Codec] = [
            .utf8, .latin1, .ascii, .utf16, .utf16LE, .utf16BE, .utf32, .utf32LE, .utf32BE,
            .shiftJIS, .eucJP, .iso2022JP, .gb18030, .big5, .windows1252, .koi8R, .ibm037,
        ]
        #expect(Set(all).count == all.count)
    }

    @Test func emptyInput() throws {
        for v in vectors {
            for mode in ErrorMode.allCases {
                let t = Transcoder(codec: try Codec(v.codec), eolStyle: .crlf, errorMode: mode)
                #expect(try t.decode([]) == "", "\(v.codec)")
                #expect(try t.encode("") == [], "\(v.codec)")
                #expect(try streamDecode(t, [[], [], []]).text == "")
                #expect(try scalarDecode(t, [[]]).text == "")
            }
        }
    }

    @Test func lineScanning() throws {
        #expect(Codec.utf8.lineEndsAreByteScannable(for: .nel))
        #expect(Codec.latin1.lineEndsAreByteScannable(for: .nel))
        #expect(Codec.shiftJIS.lineEndsAreByteScannable(for: .crlf))
        #expect(Codec.eucJP.lineEndsAreByteScannable(for: .lf))
        #expect(Codec.koi8R.lineEndsAreByteScannable(for: .crlf))
        #expect(try Codec("windows-1252").lineEndsAreByteScannable(for: .nel))  // 0x85 is "…"
        #expect(Codec.gb18030.lineEndsAreByteScannable(for: .lf))
        #expect(!Codec.gb18030.lineEndsAreByteScannable(for: .nel))  // NEL is four bytes
        #expect(!Codec.utf16.lineEndsAreByteScannable(for: .lf))
        #expect(!Codec.utf16LE.lineEndsAreByteScannable(for: .lf))
        #expect(!Codec.utf32.lineEndsAreByteScannable(for: .lf))
        #expect(!Codec.ibm037.lineEndsAreByteScannable(for: .lf))
        #expect(!Codec.iso2022JP.lineEndsAreByteScannable(for: .lf))
    }
}

@Suite struct CodecNameTests {
    @Test func unknownNameIsNamedWithSuggestions() {
        for (name, expected) in [
            ("utf-9", "utf8"), ("shift-jsi", "shiftjis"), ("shft_jis", "shiftjis"), ("latn1", "latin1"),
            ("windwos-1252", "windows1252"),
        ] {
            do {
                let codec = try Codec(name)
                Issue.record("\(name) opened \(codec.name)")
            } catch {
                #expect(error.code == .unknownCodec)
                #expect(error.message.contains("\"\(name)\""), "\(error.message)")
                #expect(!error.suggestions.isEmpty, "\(name)")
                let keys = error.suggestions.map { String($0.lowercased().filter { $0.isLetter || $0.isNumber }) }
                #expect(keys.contains(expected), "\(name): \(error.suggestions)")
                for s in error.suggestions { #expect((try? Codec(s)) != nil, "suggestion \(s) must open") }
            }
        }
    }

    @Test func garbageNames() {
        for name in ["", "   ", "no such codec at all", "ü"] {
            #expect(throws: TranscoderError.self) { try Codec(name) }
        }
    }

    @Test func listing() {
        #expect(Codec.available.count > 100)
        let utf8 = Codec.available.first { $0.name == "UTF-8" }
        #expect(utf8 != nil)
        #expect(utf8?.aliases.isEmpty == false)
        let sjis = Codec.available.first { $0.name == Codec.shiftJIS.name }
        #expect(sjis?.aliases.contains("Shift_JIS") == true)
        #expect(Codec.available.contains { !$0.aliases.isEmpty && $0.aliases.count > 3 })
        let jis = Codec.available(matching: "JIS")
        #expect(jis.contains { $0.name == Codec.shiftJIS.name })
        #expect(jis.count < Codec.available.count)
        #expect(Codec.available(matching: "").count == Codec.available.count)
        #expect(Codec.available(matching: "no-such-thing").isEmpty)
    }
}
