import FuzzSupport
import Transcoders

/// Codecs converted by ICU: the stateful, multi-byte and BOM-sensitive ones.
private let codecs: [Codec] = [
    .shiftJIS, .utf16, .utf16LE, .utf16BE, .iso2022JP, .eucJP, .gb18030, .utf32,
]

/// TextDecoder and ScalarDecoder over ICU: header byte 0 picks the codec (Shift_JIS, UTF-16
/// with BOM detection, UTF-16LE, UTF-16BE, ISO-2022-JP, EUC-JP, GB18030, UTF-32), then the
/// error mode, the EOL style and the chunking (see ``DecoderCase``); the rest is the payload.
/// Checks ``checkDecoderProperties(_:)``.
@_cdecl("LLVMFuzzerTestOneInput")
public func icuDecoderFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let codec = input.choose(codecs)
    checkDecoderProperties(DecoderCase(codec: codec, &input))
    return 0
}
