import CStreamPortsICU

/// A streaming decoder: byte chunks of any size in, characters out, line ends translated.
///
/// A multibyte character, a surrogate pair or a CR|LF pair split across chunks decodes exactly
/// as if it came in one chunk. At the end, ``finish(into:)`` handles an incomplete sequence per
/// the error mode.
///
/// BOM rules: `"UTF-16"` and `"UTF-32"` (no endianness in the name) honour a BOM and read
/// big-endian without one. A UTF-8 BOM at stream start is dropped. A U+FEFF later in a stream,
/// or in a codec with explicit endianness, is an ordinary character.
///
/// In `.raise` mode a decoding error is thrown after everything before the offending bytes
/// has been appended to the output; the offending bytes are consumed. The rest of the chunk is
/// not: ``bytesAccepted`` tells how far input was taken, so a caller may resume after the error.
///
/// ```swift
/// let decoder = try Transcoder(codec: .shiftJIS).makeDecoder()
/// var text = ""
/// try decoder.decode([0x93, 0xFA, 0x96], into: &text)   // "日" (0x96 waits for its pair)
/// try decoder.decode([0x7B, 0x8C, 0xEA], into: &text)   // "日本語"
/// try decoder.finish(into: &text)
/// ```
public final class TextDecoder {
    /// The transcoder this decoder implements.
    public let transcoder: Transcoder
    /// Bytes taken from the input so far (including any held back as an incomplete sequence).
    @exclusivity(unchecked) public internal(set) var bytesAccepted = 0

    // A decoder is used by one task at a time; its state skips dynamic exclusivity checks.
    @exclusivity(unchecked) var translator: EOLTranslator
    let icu: ICUConverter?
    @exclusivity(unchecked) private var carry: [UInt8] = []
    @exclusivity(unchecked) private var atStart = true
    /// The stream's first bytes (up to 3), for the UTF-8 BOM rule on the ICU path.
    @exclusivity(unchecked) private var head: [UInt8] = []
    /// The codec is UTF-8 but converted by ICU (tests force this path).
    let icuUTF8: Bool
    @exclusivity(unchecked) private var scratch: [UInt8] = []

    /// Creates a decoder for `transcoder`.
    /// - Throws: ``TranscoderError`` when ICU cannot open the codec.
    public init(_ transcoder: Transcoder) throws(TranscoderError) {
        self.transcoder = transcoder
        self.translator = EOLTranslator(style: transcoder.eolStyle)
        self.icu =
            transcoder.codec.family == .icu
            ? try ICUConverter(name: transcoder.codec.name, mode: transcoder.errorMode) : nil
        self.icuUTF8 = transcoder.codec.family == .icu && transcoder.codec.name == "UTF-8"
    }

    /// Forgets all state, as if newly created.
    public func reset() {
        bytesAccepted = 0
        translator.afterCR = false
        carry.removeAll(keepingCapacity: true)
        atStart = true
        head.removeAll()
        icu?.reset()
    }

    /// Decodes `bytes` and appends the text to `output`.
    /// - Parameters:
    ///   - bytes: the next chunk of input.
    ///   - output: where text is appended.
    /// - Throws: ``TranscoderError`` (`.decoding`) in `.raise` mode.
    public func decode(_ bytes: [UInt8], into output: inout String) throws(TranscoderError) {
        try bytes.withBytes { (raw) throws(TranscoderError) in try decode(raw, into: &output) }
    }

    /// Decodes `chunk` and appends the text to `output`.
    /// - Parameters:
    ///   - chunk: the next chunk of input.
    ///   - output: where text is appended.
    /// - Throws: ``TranscoderError`` (`.decoding`) in `.raise` mode.
    public func decode(_ chunk: UnsafeRawBufferPointer, into output: inout String) throws(TranscoderError) {
        try step(chunk, final: false, into: &output)
    }

    /// Ends the input: an incomplete sequence is handled per the error mode.
    /// - Parameter output: where remaining text is appended.
    /// - Throws: ``TranscoderError`` (`.decoding`) in `.raise` mode.
    public func finish(into output: inout String) throws(TranscoderError) {
        try step(UnsafeRawBufferPointer(start: nil, count: 0), final: true, into: &output)
    }

    /// Decodes one complete line's content (line end excluded) in one go, codec only: no line
    /// ends are translated, and an incomplete sequence at its end is an error. Stream ports use
    /// this when line ends can be found in raw bytes (plumbing, not API).
    /// - Parameters:
    ///   - bytes: the line's bytes.
    ///   - streamOffset: the stream offset of `bytes[0]`, for error offsets.
    /// - Throws: ``TranscoderError`` (`.decoding`) in `.raise` mode.
    package func decodeLine(_ bytes: UnsafeRawBufferPointer, streamOffset: Int) throws(TranscoderError) -> String {
        var bytes = bytes
        var streamOffset = streamOffset
        // The stream's first line: a UTF-8 BOM at stream offset 0 is dropped.
        if streamOffset == 0, transcoder.codec.name == "UTF-8", bytes.count >= 3,
            bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF
        {
            bytes = UnsafeRawBufferPointer(rebasing: bytes[3...])
            streamOffset = 3
        }
        if transcoder.codec.family == .utf8, let text = UTF8Sequence.string(validating: bytes) {
            return text
        }
        carry.removeAll(keepingCapacity: true)
        translator = EOLTranslator(style: .none)  // codec only: no line ends are translated
        defer { translator = EOLTranslator(style: transcoder.eolStyle) }
        atStart = false
        head.removeAll()
        bytesAccepted = streamOffset
        icu?.reset()
        var text = ""
        if transcoder.codec.family == .icu {
            try icuStep(bytes, final: true, translating: false, into: &text)
        } else {
            try step(bytes, final: true, into: &text)
        }
        return text
    }

    private func step(_ chunk: UnsafeRawBufferPointer, final: Bool, into output: inout String) throws(TranscoderError) {
        switch transcoder.codec.family {
        case .utf8:
            if carry.isEmpty {
                try utf8Step(chunk, streamBase: bytesAccepted, final: final, into: &output)
            } else {
                let combined = carry + chunk
                let base = bytesAccepted - carry.count
                carry.removeAll(keepingCapacity: true)
                bytesAccepted = base
                try combined.withBytes { (raw) throws(TranscoderError) in
                    try utf8Step(raw, streamBase: base, final: final, into: &output)
                }
            }
        case .latin1, .ascii:
            try singleByteStep(chunk, into: &output)
        case .icu:
            try icuStep(chunk, final: final, into: &output)
        }
    }

    // MARK: UTF-8 (Swift)

    private func utf8Step(
        _ buf: UnsafeRawBufferPointer, streamBase: Int, final: Bool, into output: inout String
    ) throws(TranscoderError) {
        var start = 0
        let n = buf.count
        if atStart && streamBase == 0 {
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            let k = min(3, n)
            if (0..<k).allSatisfy({ buf[$0] == bom[$0] }) {
                if k < 3 && !final {  // might still become a BOM
                    carry.append(contentsOf: buf)
                    bytesAccepted = streamBase + n
                    return
                }
                if k == 3 { start = 3 }
            }
            if n > 0 || final { atStart = false }
        }
        let cut = final ? n : UTF8Sequence.completeEnd(buf, end: n)
        if cut > start {
            let body = UnsafeRawBufferPointer(rebasing: buf[start..<cut])
            if !needsTranslation(body), let text = String(validating: body.bindMemory(to: UInt8.self), as: UTF8.self) {
                output.append(text)
            } else {
                try utf8Slow(body, streamOffset: streamBase + start, final: final, into: &output)
            }
        }
        if cut < n { carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[cut..<n])) }
        bytesAccepted = streamBase + n
    }

    /// True when `body` holds something the EOL style rewrites.
    private func needsTranslation(_ body: UnsafeRawBufferPointer) -> Bool {
        let style = transcoder.eolStyle
        guard style != .none else { return false }
        if translator.afterCR { return true }
        return EOLTranslator.firstCandidate(body, from: 0, to: body.count, unicode: style.isUnicode) < body.count
    }

    /// Validates with the error mode, translates line ends, appends.
    private func utf8Slow(
        _ body: UnsafeRawBufferPointer, streamOffset: Int, final: Bool, into output: inout String
    ) throws(TranscoderError) {
        var pending: TranscoderError?
        let count = body.count
        ensureScratch(count * 3 + 4)
        let written = scratch.withUnsafeMutableBufferPointer { out -> Int in
            var w = 0
            var i = 0
            while i < count {
                switch UTF8Sequence.classify(body, at: i, end: count) {
                case .valid(let len):
                    for k in 0..<len { out[w + k] = body[i + k] }
                    w += len
                    i += len
                case .invalid(let len):
                    switch transcoder.errorMode {
                    case .raise:
                        pending = .decoding(
                            codec: "UTF-8", offset: streamOffset + i, bytes: Array(body[i..<(i + len)]),
                            reason: "invalid sequence")
                        bytesAccepted = streamOffset + i + len
                        return translator.translateUTF8(out, from: 0, to: w)
                    case .replace:
                        out[w] = 0xEF; out[w + 1] = 0xBF; out[w + 2] = 0xBD
                        w += 3
                    case .ignore:
                        break
                    }
                    i += len
                case .incomplete:
                    // only reached when final: the truncated sequence is one maximal subpart
                    let len = count - i
                    switch transcoder.errorMode {
                    case .raise:
                        pending = .decoding(
                            codec: "UTF-8", offset: streamOffset + i, bytes: Array(body[i..<count]),
                            reason: "incomplete sequence at end of input")
                        bytesAccepted = streamOffset + count
                        return translator.translateUTF8(out, from: 0, to: w)
                    case .replace:
                        out[w] = 0xEF; out[w + 1] = 0xBF; out[w + 2] = 0xBD
                        w += 3
                    case .ignore:
                        break
                    }
                    i += len
                }
            }
            return translator.translateUTF8(out, from: 0, to: w)
        }
        appendScratch(written, to: &output)
        if let pending { throw pending }
    }

    // MARK: Latin-1 and ASCII (Swift)

    private func singleByteStep(_ chunk: UnsafeRawBufferPointer, into output: inout String) throws(TranscoderError) {
        let base = bytesAccepted
        let ascii = transcoder.codec.family == .ascii
        let mode = transcoder.errorMode
        var pending: TranscoderError?
        var accepted = chunk.count
        var translator = self.translator
        // Written straight into the new String's storage (at most 3 bytes per input byte).
        let text = String(unsafeUninitializedCapacity: chunk.count * 3 + 4) { out -> Int in
            var w = 0
            for i in 0..<chunk.count {
                let b = chunk[i]
                if b < 0x80 {
                    out[w] = b
                    w += 1
                } else if !ascii {
                    out[w] = 0xC0 | (b >> 6)
                    out[w + 1] = 0x80 | (b & 0x3F)
                    w += 2
                } else {
                    switch mode {
                    case .raise:
                        pending = .decoding(
                            codec: "US-ASCII", offset: base + i, bytes: [b], reason: "byte outside ASCII")
                        accepted = i + 1
                        return translator.translateUTF8(out, from: 0, to: w)
                    case .replace:
                        out[w] = 0xEF; out[w + 1] = 0xBF; out[w + 2] = 0xBD
                        w += 3
                    case .ignore:
                        break
                    }
                }
            }
            return translator.translateUTF8(out, from: 0, to: w)
        }
        self.translator = translator
        bytesAccepted = base + accepted
        output.append(text)
        if let pending { throw pending }
    }

    // MARK: ICU

    /// - Parameter translating: false for a line's content, which holds no line end.
    private func icuStep(
        _ chunk: UnsafeRawBufferPointer, final: Bool, translating: Bool = true, into output: inout String
    ) throws(TranscoderError) {
        guard let icu else { return }
        let start = chunk.baseAddress.map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) } ?? emptyInput
        var src: UnsafePointer<UInt8>? = start
        let srcLimit = start + chunk.count
        var error = sp_error()
        if atStart && icuUTF8 {
            for b in chunk.prefix(3 - head.count) { head.append(b) }
        }
        let handle = icu.handle
        let flush: Int32 = final ? 1 : 0
        var status = Int32(SP_OK)
        // ICU writes UTF-8 straight into the new String's storage; line ends are translated in
        // place and the String validates it once. One and a half bytes per input byte cover
        // typical text (ASCII 1:1, a double-byte ideograph or a UTF-16 unit 2:3) without
        // over-allocating each line's String; more (half-width katakana, U+FFFD for bad bytes,
        // many-to-many mappings) continues below through the scratch buffer.
        var translator = self.translator
        var atStart = self.atStart
        let dropBOM = atStart && icuUTF8 && head == [0xEF, 0xBB, 0xBF]
        var tail: [UInt8] = []
        let text = String(unsafeUninitializedCapacity: chunk.count + chunk.count / 2 + 64) { buffer -> Int in
            let base = buffer.baseAddress!
            var dst: UnsafeMutablePointer<UInt8>? = base
            status = sp_decode(handle, &src, srcLimit, &dst, base + buffer.count, flush, &error)
            var written = dst! - base
            if status == Int32(SP_TARGET_FULL) {
                // ICU may have written part of a character: carry it over to the rest.
                let cut = UTF8Sequence.completeEnd(UnsafeRawBufferPointer(buffer), end: written)
                tail.append(contentsOf: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[cut..<written]))
                written = cut
            }
            var first = 0
            if atStart && icuUTF8 {
                // A UTF-8 BOM at stream start is dropped: ICU decodes it as the first character.
                if dropBOM {
                    if written >= 3 { first = 3; atStart = false }
                } else if head.count == 3 || final || !head.elementsEqual([0xEF, 0xBB, 0xBF].prefix(head.count)) {
                    atStart = false
                }
            }
            let end = translating ? translator.translateUTF8(buffer, from: first, to: written) : written
            if first > 0 { base.update(from: base + first, count: end - first) }
            return end - first
        }
        self.translator = translator
        self.atStart = atStart
        output.append(text)
        if status == Int32(SP_TARGET_FULL) {
            ensureScratch(max(chunk.count * 3, 4096))
            scratch.replaceSubrange(0..<tail.count, with: tail)
            var written = tail.count
            repeat {
                status = scratch.withUnsafeMutableBufferPointer { out in
                    var dst: UnsafeMutablePointer<UInt8>? = out.baseAddress! + written
                    let result = sp_decode(handle, &src, srcLimit, &dst, out.baseAddress! + out.count, flush, &error)
                    written = dst! - out.baseAddress!
                    return result
                }
                if status == Int32(SP_TARGET_FULL) {
                    scratch.append(contentsOf: repeatElement(0, count: scratch.count))
                }
            } while status == Int32(SP_TARGET_FULL)
            let end =
                translating
                ? scratch.withUnsafeMutableBufferPointer { self.translator.translateUTF8($0, from: 0, to: written) }
                : written
            appendScratch(end, to: &output)
        }
        bytesAccepted += src! - start
        switch status {
        case Int32(SP_OK):
            return
        case Int32(SP_ILLEGAL):
            throw icuDecodingError(error)
        default:
            throw TranscoderError(
                code: .internalFailure,
                message: "ICU failed decoding \(transcoder.codec.name): \(icuErrorName(error.icu_status))")
        }
    }

    private func icuDecodingError(_ error: sp_error) -> TranscoderError {
        TranscoderError.icuDecoding(error, codec: transcoder.codec.name, consumedEnd: bytesAccepted)
    }

    // MARK: Scratch

    private func ensureScratch(_ capacity: Int) {
        if scratch.count < capacity {
            scratch = [UInt8](repeating: 0, count: max(capacity, scratch.count * 2))
        }
    }

    private func appendScratch(_ count: Int, to output: inout String) {
        appendScratch(from: 0, to: count, into: &output)
    }

    private func appendScratch(from start: Int, to end: Int, into output: inout String) {
        guard end > start else { return }
        scratch.withUnsafeBufferPointer {
            output.append(String(decoding: UnsafeBufferPointer(rebasing: $0[start..<end]), as: UTF8.self))
        }
    }
}

// Streaming state (carry, EOL state, ICU's converter) changes on every call without a lock:
// one task at a time, as swift-nio marks its own non-Sendable types.
@available(*, unavailable)
extension TextDecoder: Sendable {}
