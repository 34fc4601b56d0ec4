import FuzzSupport

@testable import Transcoders

/// The native fast paths: UTF-8 mostly, also ISO-8859-1 and US-ASCII.
private let fastCodecs: [Codec] = [.utf8, .utf8, .utf8, .utf8, .utf8, .utf8, .latin1, .ascii]
/// The same codecs forced through ICU, the reference the fast paths must match.
private let icuCodecs: [Codec] = fastCodecs.map { codec in
    do { return try Codec(codec.name, nativeFastPaths: false) } catch { fail("ICU lacks \(codec.name): \(error)") }
}

/// TextDecoder's native decoders (UTF-8 above all): header byte 0 picks the codec, then the
/// error mode, the EOL style and the chunking (see ``DecoderCase``); the rest is the payload.
/// Checks ``checkDecoderProperties(_:)`` and that ICU, given the same codec, mode, style and
/// chunks, produces exactly the same text and errors.
@_cdecl("LLVMFuzzerTestOneInput")
public func utf8DecoderFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let index = Int(input.byte()) % fastCodecs.count
    let test = DecoderCase(codec: fastCodecs[index], &input)
    let outcome = checkDecoderProperties(test)
    let viaICU = Transcoder(codec: icuCodecs[index], eolStyle: test.style, errorMode: test.mode)
    let reference = streamDecode(viaICU, test.chunking.split(test.payload), label: "\(test): ICU")
    require(outcome == reference, "\(test): native \(outcome) != ICU \(reference)")
    return 0
}
