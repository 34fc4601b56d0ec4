import FuzzSupport
import StreamPortsTestSupport

@testable import StreamPorts
@testable import Transcoders

/// Codecs framed on raw bytes (UTF-8, Latin-1, ASCII, Shift_JIS, EUC-JP, GB18030 with a classic EOL
/// style) and on decoded characters (UTF-16, ISO-2022-JP, GB18030 with a Unicode style).
private let codecs: [Codec] = [
    .utf8, .utf8, .utf8, .latin1, .ascii, .shiftJIS, .gb18030, .eucJP, .utf16LE, .utf16, .iso2022JP,
]

/// ClientStream's line reader over random chunking. Header: codec, error mode, EOL style,
/// then the reads: byte 0–127 reads lines only, with one of `readLine()`,
/// `readLine(includeSeparator: true)` or `readLine(separator: ";")` (framed on decoded
/// characters), and a line-length limit (next byte 192–255: 0–63 bytes; else the default
/// 1 MiB); byte 128–255 mixes 1–4 reads from the following bytes (lines, characters, bytes)
/// in `.replace` mode with no limit; the reads repeat until the end of stream. Then the
/// chunking (see ``Chunking``); the rest is what the peer sends.
///
/// Properties: the reader never hangs or loops (it reaches the end of stream, which stays the
/// end); the same reads give the same results however the input is cut; with `readLine()`
/// only, no limit and `.replace`, the lines are exactly those of the whole input decoded in
/// one go and split at its line ends.
///
/// Mixed reads stay in `.replace` mode without a limit, and read bytes only where line ends
/// are byte-scannable (not UTF-16/32, ISO-2022-JP, GB18030 with a Unicode style):
/// RELIABILITY.md lists the known differences outside that (where bytes start after
/// characters when some bytes yield no character; what a `.lineTooLong` or a `.raise` error
/// leaves to a read of another kind), and three of the reference check (`.ignore`, GB18030,
/// EUC-JP: ICU cuts an incomplete sequence that a line end ends differently from one at the
/// end of a line decoded alone).
@_cdecl("LLVMFuzzerTestOneInput")
public func lineReaderFuzzer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let codec = input.choose(codecs)
    var mode = input.choose(ErrorMode.allCases)
    let style = input.choose(EOLStyle.allCases)
    let opsByte = input.byte()
    var ops: [ReadOp]
    var maxLength: Int?
    if opsByte < 128 {
        ops = [
            [.line(includeSeparator: false), .line(includeSeparator: true), .lineSeparatedBySemicolon][Int(opsByte) % 3]
        ]
        let limitByte = input.byte()
        maxLength = limitByte >= 192 ? Int(limitByte - 192) : nil
    } else {
        mode = .replace
        ops = (0...Int(opsByte % 4)).map { _ in
            let op = ReadOp(input.byte())
            if case .bytes = op, !codec.lineEndsAreByteScannable(for: style) { return .char }
            return op
        }
    }
    let chunking = Chunking(&input)
    let payload = input.rest
    let transcoder = Transcoder(codec: codec, eolStyle: style, errorMode: mode)
    let label =
        "\(transcoder) limit \(maxLength.map(String.init) ?? "default") reads \(ops), \(chunking), payload [\(hex(payload))]"

    guard
        let oneShot = readStream(
            [payload], transcoder: transcoder, ops: ops, maxLength: maxLength, inputSize: payload.count,
            label: label + ": one chunk"),
        let streamed = readStream(
            chunking.split(payload), transcoder: transcoder, ops: ops, maxLength: maxLength, inputSize: payload.count,
            label: label + ": chunked")
    else { return 0 }
    require(streamed == oneShot, "\(label): chunked \(streamed) != one chunk \(oneShot)")

    if mode == .replace, codec != .gb18030, codec != .eucJP, maxLength == nil, ops.count == 1,
        case .line(let includeSeparator) = ops[0]
    {
        let expected = referenceLines(payload, transcoder, includeSeparator: includeSeparator, label: label)
        require(oneShot == expected, "\(label): lines \(oneShot) != the decoded input split at line ends \(expected)")
    }
    return 0
}

/// The whole input decoded in one go (line ends translated to LF), split at each LF.
private func referenceLines(
    _ payload: [UInt8], _ transcoder: Transcoder, includeSeparator: Bool, label: String
) -> [ReadEvent] {
    let text: String
    do { text = try transcoder.decode(payload) } catch { fail("\(label): \(transcoder.errorMode) threw \(error)") }
    var lines: [String] = []
    var current = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        if scalar == "\n" {
            lines.append(String(current) + (includeSeparator ? "\n" : ""))
            current = String.UnicodeScalarView()
        } else {
            current.append(scalar)
        }
    }
    if !current.isEmpty { lines.append(String(current)) }
    return lines.map(ReadEvent.line) + [.end]
}
