import Testing

@testable import Transcoders

/// Error messages quote input; characters that could act on a terminal or a log are escaped.
@Suite("Message escaping")
struct MessageEscapingTests {
    @Test func printableTextIsUnchanged() {
        #expect(escapingControls("unknown codec \"utf-9\"") == "unknown codec \"utf-9\"")
        #expect(escapingControls("日本語 é 😀 \\x41") == "日本語 é 😀 \\x41")
    }

    @Test func controlsAreHexEscaped() {
        #expect(escapingControls("a\u{1B}[2Jb\nc\td\u{7F}e\u{85}f\u{0}") == "a\\x1B[2Jb\\x0Ac\\x09d\\x7Fe\\x85f\\x00")
    }

    @Test func formatAndSeparatorsAreEscaped() {
        // RIGHT-TO-LEFT OVERRIDE, ZERO WIDTH JOINER, LINE SEPARATOR, PARAGRAPH SEPARATOR, unassigned U+0378
        #expect(
            escapingControls("x\u{202E}y\u{200D}z\u{2028}w\u{2029}v\u{378}")
                == "x\\u{202E}y\\u{200D}z\\u{2028}w\\u{2029}v\\u{0378}")
    }

    @Test func unknownCodecNameIsEscapedInItsMessage() {
        do {
            _ = try Codec("utf\u{1B}]0;owned\u{7}8\n")
            Issue.record("a codec name with control characters was accepted")
        } catch {
            #expect(error.code == .unknownCodec)
            #expect(error.message.hasPrefix("unknown codec \"utf\\x1B]0;owned\\x078\\x0A\""), "\(error.message)")
            #expect(!error.message.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
        }
    }

    @Test func messagesGivenToTheInitializerAreEscaped() {
        #expect(
            TranscoderError(code: .internalFailure, message: "line one\nline two").message == "line one\\x0Aline two")
    }
}
