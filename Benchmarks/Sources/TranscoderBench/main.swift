// Transcoder throughput: decode and encode MB/s for UTF-8, Latin-1, Shift_JIS, UTF-16LE and
// GB18030 on ~50 MB of mixed text fed in 64 KiB chunks through TextDecoder / TextEncoder,
// against raw ICU (ucnv_convertEx of the same bytes, same chunk size) measured in the same run.
//
//   swift run -c release --package-path Benchmarks --scratch-path .build-bench TranscoderBench \
//       [megabytes] [runs] [sample file]
//
// MB/s counts the codec-side bytes (decode input, encode output), 1 MB = 10^6 bytes; each
// figure is the best of `runs`. Each decoded chunk goes into a fresh String (as a port
// reading text would); each encoded chunk is appended to a reused [UInt8]. Decoding uses EOL style .crlf (the default: CR is scanned
// for), encoding .lf (no line-end rewriting, like raw ICU); both use the .replace error mode.

//
// Figures (the command above, 2-core Linux VM, Swift 6.3.1, ICU 72; ±20 % run to run; a
// fuzzer busy on the other core):
//
// | codec      | direction      | MB (codec side) | Transcoders MB/s | raw ICU MB/s | ratio |
// |------------|----------------|----------------:|-----------------:|-------------:|------:|
// | UTF-8      | decode         |            50.0 |             1633 |         2433 |  0.67 |
// | UTF-8      | decode→[UInt8] |            50.0 |             1552 |         2433 |  0.64 |
// | UTF-8      | encode         |            50.0 |            17607 |         2439 |  7.22 |
// | ISO-8859-1 | decode         |            49.0 |              942 |         1303 |  0.72 |
// | ISO-8859-1 | decode→[UInt8] |            49.0 |              909 |         1303 |  0.70 |
// | ISO-8859-1 | encode         |            49.0 |             1147 |         1748 |  0.66 |
// | Shift_JIS  | decode         |            42.5 |              347 |          467 |  0.74 |
// | Shift_JIS  | decode→[UInt8] |            42.5 |              437 |          467 |  0.94 |
// | Shift_JIS  | encode         |            42.5 |              734 |          876 |  0.84 |
// | EUC-JP     | decode         |            43.2 |              356 |          479 |  0.74 |
// | EUC-JP     | decode→[UInt8] |            43.2 |              444 |          479 |  0.93 |
// | EUC-JP     | encode         |            43.2 |              309 |          309 |  1.00 |
// | UTF-16LE   | decode         |            71.5 |              815 |         1281 |  0.64 |
// | UTF-16LE   | decode→[UInt8] |            71.5 |             1128 |         1281 |  0.88 |
// | UTF-16LE   | encode         |            71.5 |              860 |          874 |  0.98 |
// | GB18030    | decode         |            44.5 |              357 |          476 |  0.75 |
// | GB18030    | decode→[UInt8] |            44.5 |              444 |          476 |  0.93 |
// | GB18030    | encode         |            44.5 |              323 |          323 |  1.00 |
//
// Decoding into UTF-8 bytes (`decode(_:appendingUTF8To:)`, what raw ICU does too) puts every
// ICU decoder at 0.88-0.94x raw ICU; UTF-8 and Latin-1 take the String path there (they have
// no ICU converter to call), so their byte rows equal their String rows. Decoding into a new
// String per chunk stays at 0.64-0.75x: the allocation and Swift's validation of the String
// (no public unvalidated initializer) are what raw ICU does not pay.

import CICUReference
import Glibc
import Transcoders

let arguments = CommandLine.arguments
let targetMB = arguments.count > 1 ? Int(arguments[1]) ?? 50 : 50
let runs = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5
let samplePath = arguments.count > 3 ? arguments[3] : "../shared/tools/data/sample-utf8.txt"
let chunkSize = 65_536

func readFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes.append(contentsOf: buffer[0..<n])
    }
    return bytes
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// The best (shortest) time of `runs` runs of `body`.
func best(_ body: () -> Int) -> (seconds: Double, check: Int) {
    var fastest = Double.infinity
    var check = 0
    for _ in 0..<runs {
        let start = now()
        check = body()
        fastest = min(fastest, now() - start)
    }
    return (fastest, check)
}

// MARK: Data

let fallbackSample = "こんにちは、世界。日本語のテキスト\nASCII only line: The quick brown fox\n"
let sample: String =
    readFile(samplePath).map { String(decoding: $0, as: UTF8.self) }
    ?? {
        print("note: \(samplePath) not found, using a built-in sample")
        return fallbackSample
    }()
let asciiBlock = (0..<8).map { "ASCII line \($0): The quick brown fox jumps over the lazy dog, 0123456789.\n" }.joined()
let latin1Block =
    "Latin-1 line: café, naïve, Ångström, ¿qué?, größer, 1½ × 3 ÷ 2 ± ÿ — ASCII text too.\n"
    .replacingEmDash + asciiBlock

extension String {
    /// Removes the one non-Latin-1 character of the block above.
    var replacingEmDash: String { String(unicodeScalars.map { $0 == "—" ? "-" : Character($0) }) }
}

func repeated(_ block: String, toMB mb: Int) -> String {
    let count = max(1, mb * 1_000_000 / max(1, block.utf8.count))
    var text = ""
    text.reserveCapacity(count * block.utf8.count)
    for _ in 0..<count { text += block }
    return text
}

let mixedText = repeated(sample + asciiBlock, toMB: targetMB)
let latin1Text = repeated(latin1Block, toMB: targetMB)

/// Splits `text` into pieces of about `size` UTF-8 bytes on character boundaries.
func pieces(_ text: String, size: Int) -> [String] {
    let bytes = Array(text.utf8)
    var result: [String] = []
    var start = 0
    while start < bytes.count {
        var end = min(bytes.count, start + size)
        while end < bytes.count && bytes[end] & 0xC0 == 0x80 { end += 1 }
        result.append(String(decoding: bytes[start..<end], as: UTF8.self))
        start = end
    }
    return result
}

// MARK: Measurements

struct Row {
    let codec: String
    let direction: String
    let bytes: Int
    let ours: Double
    let icu: Double
}

/// The reference: raw ICU converting `source` with `icuName` to UTF-8 (or from UTF-8) into
/// `scratch`, in `chunkSize` pieces; the bytes written, or -1.
func rawICU(_ icuName: String, toUTF8: Bool, _ source: [UInt8], into scratch: inout [UInt8]) -> Int {
    source.withUnsafeBufferPointer { src in
        scratch.withUnsafeMutableBufferPointer { dst in
            Int(
                sp_reference_convert(
                    icuName, toUTF8 ? 1 : 0, src.baseAddress!, Int64(src.count), dst.baseAddress!, Int64(dst.count),
                    Int64(chunkSize)))
        }
    }
}

/// Calls `body` with each `chunkSize` slice of `bytes`, in order.
func forEachChunk(of bytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> Void) {
    bytes.withUnsafeBytes { all in
        var offset = 0
        while offset < all.count {
            let n = min(chunkSize, all.count - offset)
            body(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + n)]))
            offset += n
        }
    }
}

func megabytesPerSecond(_ bytes: Int, _ seconds: Double) -> Double { Double(bytes) / seconds / 1e6 }

func measure(_ codec: Codec, label: String, text: String) -> [Row] {
    let lf = Transcoder(codec: codec, eolStyle: .lf, errorMode: .replace)
    let encoded: [UInt8]
    do {
        encoded = try Transcoder(codec: codec, eolStyle: .lf, errorMode: .raise).encode(text)
    } catch {
        print("note: \(label) cannot encode the sample (\(error)); using .replace")
        encoded = (try? lf.encode(text)) ?? []
    }
    var textUTF8 = Array(text.utf8)
    let icuName = codec.name
    var rows: [Row] = []

    // Decode: TextDecoder, 64 KiB chunks, output String reused.
    let decodeTranscoder = Transcoder(codec: codec, eolStyle: .crlf, errorMode: .replace)
    let ours = best {
        guard let decoder = try? decodeTranscoder.makeDecoder() else { return -1 }
        var produced = 0
        var out = ""
        forEachChunk(of: encoded) { chunk in
            out = ""  // a fresh String per chunk, as a port reading text would
            try? decoder.decode(chunk, into: &out)
            produced += out.utf8.count
        }
        out = ""
        try? decoder.finish(into: &out)
        return produced + out.utf8.count
    }
    if ours.check != textUTF8.count {
        print("warning: \(label) decode produced \(ours.check) bytes, expected \(textUTF8.count)")
    }
    var scratch = [UInt8](repeating: 0, count: max(encoded.count, textUTF8.count) * 3 + 1024)
    let icuDecode = best { rawICU(icuName, toUTF8: true, encoded, into: &scratch) }
    if icuDecode.check != textUTF8.count { print("warning: raw ICU \(label) decode produced \(icuDecode.check) bytes") }
    rows.append(
        Row(
            codec: label, direction: "decode", bytes: encoded.count,
            ours: megabytesPerSecond(encoded.count, ours.seconds),
            icu: megabytesPerSecond(encoded.count, icuDecode.seconds)))

    // Decode into UTF-8 bytes (TextDecoder.decode(_:appendingUTF8To:)), 64 KiB chunks, the
    // output array reused: what raw ICU does, so the ratio shows the wrapper's own cost.
    let oursBytes = best {
        guard let decoder = try? decodeTranscoder.makeDecoder() else { return -1 }
        var produced = 0
        var out: [UInt8] = []
        out.reserveCapacity(chunkSize * 4)
        forEachChunk(of: encoded) { chunk in
            out.removeAll(keepingCapacity: true)
            try? decoder.decode(chunk, appendingUTF8To: &out)
            produced += out.count
        }
        var tail = ""
        try? decoder.finish(into: &tail)
        return produced + tail.utf8.count
    }
    if oursBytes.check != textUTF8.count {
        print("warning: \(label) decode to UTF-8 bytes produced \(oursBytes.check) bytes, expected \(textUTF8.count)")
    }
    rows.append(
        Row(
            codec: label, direction: "decode→[UInt8]", bytes: encoded.count,
            ours: megabytesPerSecond(encoded.count, oursBytes.seconds),
            icu: megabytesPerSecond(encoded.count, icuDecode.seconds)))

    // Encode: TextEncoder, ~64 KiB pieces of text, output reused.
    let textPieces = pieces(text, size: chunkSize)
    let encodeTranscoder = lf
    let oursEncode = best {
        guard let encoder = try? encodeTranscoder.makeEncoder() else { return -1 }
        var out: [UInt8] = []
        out.reserveCapacity(chunkSize * 4)
        var produced = 0
        for piece in textPieces {
            out.removeAll(keepingCapacity: true)
            try? encoder.encode(piece, into: &out)
            produced += out.count
        }
        out.removeAll(keepingCapacity: true)
        try? encoder.finish(into: &out)
        return produced + out.count
    }
    if oursEncode.check != encoded.count {
        print("warning: \(label) encode produced \(oursEncode.check) bytes, expected \(encoded.count)")
    }
    let icuEncode = best { rawICU(icuName, toUTF8: false, textUTF8, into: &scratch) }
    if icuEncode.check != encoded.count {
        print("warning: raw ICU \(label) encode produced \(icuEncode.check) bytes, expected \(encoded.count)")
    }
    rows.append(
        Row(
            codec: label, direction: "encode", bytes: encoded.count,
            ours: megabytesPerSecond(encoded.count, oursEncode.seconds),
            icu: megabytesPerSecond(encoded.count, icuEncode.seconds)))
    textUTF8.removeAll()
    return rows
}

func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - s.count))
    return right ? fill + s : s + fill
}

func fixed(_ value: Double, _ digits: Int) -> String {
    if digits == 0 { return "\(Int(value.rounded()))" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var s = "\(rounded)"
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    }
    return s
}

print(
    "TranscoderBench: \(mixedText.utf8.count / 1_000_000) MB mixed text (\(samplePath) + ASCII lines), Latin-1 text for ISO-8859-1, \(chunkSize / 1024) KiB chunks, best of \(runs)"
)
var rows: [Row] = []
for (codec, label, text) in [
    (Codec.utf8, "UTF-8", mixedText), (Codec.latin1, "ISO-8859-1", latin1Text),
    (Codec.shiftJIS, "Shift_JIS", mixedText), (Codec.eucJP, "EUC-JP", mixedText),
    (Codec.utf16LE, "UTF-16LE", mixedText), (Codec.gb18030, "GB18030", mixedText),
] {
    rows += measure(codec, label: label, text: text)
}
print("| codec      | direction      | MB (codec side) | Transcoders MB/s | raw ICU MB/s | ratio |")
print("|------------|----------------|----------------:|-----------------:|-------------:|------:|")
for row in rows {
    print(
        "| \(pad(row.codec, 10)) | \(pad(row.direction, 14)) | \(pad(fixed(Double(row.bytes) / 1e6, 1), 15, right: true)) | \(pad(fixed(row.ours, 0), 16, right: true)) | \(pad(fixed(row.icu, 0), 12, right: true)) | \(pad(fixed(row.ours / row.icu, 2), 5, right: true)) |"
    )
}
