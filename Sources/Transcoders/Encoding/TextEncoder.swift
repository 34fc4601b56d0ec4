import CStreamPortsICU

/// Something encoded bytes can be appended to: `[UInt8]` here, NIO's `ByteBuffer` in
/// StreamPorts. Plumbing between the package's modules: the public API encodes into `[UInt8]`.
@usableFromInline
package protocol EncodedByteSink {
    /// Appends `bytes`.
    mutating func appendEncoded(_ bytes: UnsafeRawBufferPointer)

    /// Lets `body` write up to `capacity` bytes in place and appends the count it returns.
    /// The default goes through a temporary buffer; sinks with spare capacity (NIO's
    /// `ByteBuffer`) hand out their own storage, which saves a copy.
    mutating func appendEncoded(reservingCapacity capacity: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int)
}

extension EncodedByteSink {
    @usableFromInline
    package mutating func appendEncoded(reservingCapacity capacity: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int)
    {
        withUnsafeTemporaryAllocation(byteCount: capacity, alignment: 1) { scratch in
            let written = body(scratch)
            appendEncoded(UnsafeRawBufferPointer(rebasing: scratch[0..<written]))
        }
    }
}

extension Array: EncodedByteSink where Element == UInt8 {
    @inlinable
    package mutating func appendEncoded(_ bytes: UnsafeRawBufferPointer) { append(contentsOf: bytes) }
}

/// A streaming encoder: text in, bytes out, each `"\n"` written in the EOL style.
///
/// Stateful encodings (ISO-2022-JP) write their reset sequence on ``finish(into:)``. `"UTF-16"`
/// and `"UTF-32"` write one BOM at stream start, then big-endian; a UTF-8 BOM is never written.
///
/// In `.raise` mode an unencodable character throws a ``TranscoderError`` carrying it;
/// everything before it in that call has been appended, the rest of that call's text is not.
///
/// ```swift
/// let encoder = try Transcoder(codec: .latin1, eolStyle: .crlf).makeEncoder()
/// var bytes: [UInt8] = []
/// try encoder.encode("café\n", into: &bytes)    // 63 61 66 E9 0D 0A
/// ```
public final class TextEncoder {
    /// The transcoder this encoder implements.
    public let transcoder: Transcoder
    private let icu: ICUConverter?
    private let lineEnd: [UInt8]
    /// The EOL style writes something other than LF for `"\n"`.
    private let expandsLineEnds: Bool
    @exclusivity(unchecked) private var scratchIn: [UInt8] = []
    @exclusivity(unchecked) private var scratchOut: [UInt8] = []

    /// Creates an encoder for `transcoder`.
    /// - Throws: ``TranscoderError`` when ICU cannot open the codec.
    public init(_ transcoder: Transcoder) throws(TranscoderError) {
        self.transcoder = transcoder
        self.lineEnd = Array(transcoder.eolStyle.lineEnd.utf8)
        self.expandsLineEnds = lineEnd != [0x0A]
        self.icu =
            transcoder.codec.family == .icu
            ? try ICUConverter(name: transcoder.codec.name, mode: transcoder.errorMode) : nil
        if let handle = icu?.handle, transcoder.errorMode == .replace {
            // The substitute's probe runs once per codec, not once per encoder (connection).
            let can = TextEncoder.hasReplacementCharacter.value(for: transcoder.codec.name) {
                sp_can_encode_fffd(handle) != 0
            }
            sp_set_can_encode_fffd(handle, can ? 1 : 0)
        }
    }

    /// Per codec name: whether it can encode U+FFFD.
    private static let hasReplacementCharacter = Cache<String, Bool>()

    /// Forgets all state (a new stream starts: BOM and shift state again).
    public func reset() { icu?.reset() }

    /// Encodes `text` and appends the bytes to `bytes`.
    /// - Parameters:
    ///   - text: the characters; `"\n"` becomes the EOL style's sequence.
    ///   - bytes: where bytes go.
    /// - Throws: ``TranscoderError`` (`.encoding`) in `.raise` mode.
    public func encode(_ text: some StringProtocol, into bytes: inout [UInt8]) throws(TranscoderError) {
        try encodeString(String(text), into: &bytes)
    }

    /// Encodes `text` and appends the bytes to `bytes` (a native string's bytes are read in
    /// place).
    /// - Parameters:
    ///   - text: the characters; `"\n"` becomes the EOL style's sequence.
    ///   - bytes: where bytes go.
    /// - Throws: ``TranscoderError`` (`.encoding`) in `.raise` mode.
    public func encode(_ text: String, into bytes: inout [UInt8]) throws(TranscoderError) {
        try encodeString(text, into: &bytes)
    }

    /// Ends the stream: stateful encodings write their reset sequence.
    /// - Parameter bytes: where bytes go.
    /// - Throws: ``TranscoderError`` on an ICU failure.
    public func finish(into bytes: inout [UInt8]) throws(TranscoderError) {
        try finishSink(into: &bytes)
    }

    /// Encodes `text` and appends the bytes to `sink` (NIO's `ByteBuffer` in StreamPorts).
    @inlinable
    package func encode<Sink: EncodedByteSink>(
        _ text: some StringProtocol, into sink: inout Sink
    ) throws(TranscoderError) {
        try encodeString(String(text), into: &sink)
    }

    /// Encodes `text` and appends the bytes to `sink` (a native string's bytes are read in
    /// place).
    @inlinable
    package func encode<Sink: EncodedByteSink>(_ text: String, into sink: inout Sink) throws(TranscoderError) {
        try encodeString(text, into: &sink)
    }

    /// Ends the stream on `sink`: stateful encodings write their reset sequence.
    package func finish<Sink: EncodedByteSink>(into sink: inout Sink) throws(TranscoderError) {
        try finishSink(into: &sink)
    }

    /// The encoding of every `encode`: `text`'s UTF-8, read in place when it is native.
    @inlinable
    func encodeString<Sink: EncodedByteSink>(_ text: String, into sink: inout Sink) throws(TranscoderError) {
        var failure: TranscoderError?
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { utf8 in
            do throws(TranscoderError) { try encodeUTF8(UnsafeRawBufferPointer(utf8), into: &sink) } catch {
                failure = error
            }
        }
        if done == nil {
            var text = text
            text.withUTF8 { utf8 in
                do throws(TranscoderError) { try encodeUTF8(UnsafeRawBufferPointer(utf8), into: &sink) } catch {
                    failure = error
                }
            }
        }
        if let failure { throw failure }
    }

    /// Encodes valid UTF-8 text and appends the bytes to `sink`.
    /// - Parameters:
    ///   - utf8: valid UTF-8 (as in a `String`'s storage).
    ///   - sink: where bytes go.
    /// - Throws: ``TranscoderError`` (`.encoding`) in `.raise` mode.
    @usableFromInline
    package func encodeUTF8<Sink: EncodedByteSink>(
        _ utf8: UnsafeRawBufferPointer, into sink: inout Sink
    ) throws(TranscoderError) {
        switch transcoder.codec.family {
        case .utf8:
            if expandsLineEnds {
                forEachLine(utf8) {
                    sink.appendEncoded($0)
                } lineEnd: {
                    sink.appendEncoded($0)
                }
            } else {
                sink.appendEncoded(utf8)
            }
        case .latin1, .ascii:
            try encodeSingleByte(utf8, into: &sink)
        case .icu:
            if expandsLineEnds {
                scratchIn.removeAll(keepingCapacity: true)
                forEachLine(utf8) {
                    scratchIn.append(contentsOf: $0)
                } lineEnd: {
                    scratchIn.append(contentsOf: $0)
                }
                try scratchIn.withBytes { (raw) throws(TranscoderError) in try encodeICU(raw, flush: false, into: &sink)
                }
            } else {
                try encodeICU(utf8, flush: false, into: &sink)
            }
        }
    }

    private func finishSink<Sink: EncodedByteSink>(into sink: inout Sink) throws(TranscoderError) {
        guard icu != nil else { return }
        try encodeICU(UnsafeRawBufferPointer(start: emptyInput, count: 0), flush: true, into: &sink)
    }

    /// Calls `body` with each run between LFs and `lineEnd` for each LF.
    private func forEachLine(
        _ utf8: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void,
        lineEnd emit: (UnsafeRawBufferPointer) -> Void
    ) {
        var start = 0
        var i = 0
        let n = utf8.count
        lineEnd.withUnsafeBytes { eol in
            while i < n {
                if utf8[i] == 0x0A {
                    if i > start { body(UnsafeRawBufferPointer(rebasing: utf8[start..<i])) }
                    emit(eol)
                    start = i + 1
                }
                i += 1
            }
        }
        if n > start { body(UnsafeRawBufferPointer(rebasing: utf8[start..<n])) }
    }

    /// Latin-1 and US-ASCII in one pass over the (valid) UTF-8: ASCII bytes are copied,
    /// C2 xx / C3 xx become one byte (Latin-1), anything else is unencodable.
    private func encodeSingleByte<Sink: EncodedByteSink>(
        _ utf8: UnsafeRawBufferPointer, into sink: inout Sink
    ) throws(TranscoderError) {
        let latin1 = transcoder.codec.family == .latin1
        let limit: UInt32 = latin1 ? 0x100 : 0x80
        let mode = transcoder.errorMode
        let lineEndScalars = Array(transcoder.eolStyle.lineEnd.unicodeScalars)
        let rewritesLF = lineEndScalars != ["\n"]
        let n = utf8.count
        let capacity = n * 2 + 8
        if scratchOut.count < capacity { scratchOut = [UInt8](repeating: 0, count: capacity) }
        var failure: Unicode.Scalar?
        let written = scratchOut.withUnsafeMutableBufferPointer { out -> Int in
            var w = 0
            var i = 0
            /// Writes `scalar` or applies the error mode; false to stop (raise).
            func put(_ scalar: Unicode.Scalar) -> Bool {
                if scalar.value < limit {
                    out[w] = UInt8(truncatingIfNeeded: scalar.value)
                    w += 1
                    return true
                }
                switch mode {
                case .raise:
                    failure = scalar
                    return false
                case .replace:
                    out[w] = UInt8(ascii: "?")
                    w += 1
                    return true
                case .ignore:
                    return true
                }
            }
            while i < n {
                let b = utf8[i]
                if b < 0x80 {
                    if b == 0x0A && rewritesLF {
                        for scalar in lineEndScalars where !put(scalar) { return w }
                    } else {
                        out[w] = b
                        w += 1
                    }
                    i += 1
                } else if latin1 && b <= 0xC3 {  // C2 80 ... C3 BF: U+0080 ... U+00FF
                    out[w] = (b << 6) | (utf8[i + 1] & 0x3F)
                    w += 1
                    i += 2
                } else {
                    let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
                    var value = UInt32(b) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
                    for k in 1..<length { value = value << 6 | UInt32(utf8[i + k] & 0x3F) }
                    if !put(Unicode.Scalar(value) ?? "\u{FFFD}") { return w }
                    i += length
                }
            }
            return w
        }
        scratchOut.withUnsafeBytes { sink.appendEncoded(UnsafeRawBufferPointer(rebasing: $0[0..<written])) }
        if let failure { throw .encoding(codec: transcoder.codec.name, scalar: failure) }
    }

    private func encodeICU<Sink: EncodedByteSink>(
        _ utf8: UnsafeRawBufferPointer, flush: Bool, into sink: inout Sink
    ) throws(TranscoderError) {
        guard let icu else { return }
        let start = utf8.baseAddress.map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) } ?? emptyInput
        var src: UnsafePointer<UInt8>? = start
        let limit = start + utf8.count
        var error = sp_error()
        // ICU writes into the sink's own storage; two bytes per UTF-8 byte cover every codec
        // but rare expansions, which continue in the next round.
        let capacity = utf8.count * 2 + 64
        var status = Int32(SP_OK)
        repeat {
            sink.appendEncoded(reservingCapacity: capacity) { out in
                let base = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
                var dst: UnsafeMutablePointer<UInt8>? = base
                status = sp_encode(icu.handle, &src, limit, &dst, base + out.count, flush ? 1 : 0, &error)
                return dst! - base
            }
        } while status == Int32(SP_TARGET_FULL)
        switch status {
        case Int32(SP_OK):
            return
        case Int32(SP_ILLEGAL):
            throw .encoding(codec: transcoder.codec.name, scalar: Unicode.Scalar(error.code_point) ?? "\u{FFFD}")
        default:
            throw TranscoderError(
                code: .internalFailure,
                message: "ICU failed encoding to \(transcoder.codec.name): \(icuErrorName(error.icu_status))")
        }
    }
}

// Streaming state (ICU's converter with its shift state, scratch buffers) changes on every call
// without a lock: one task at a time.
@available(*, unavailable)
extension TextEncoder: Sendable {}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` for a body that throws a ``TranscoderError``.
    @usableFromInline
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws(TranscoderError) -> R) throws(TranscoderError) -> R {
        var result: Result<R, TranscoderError>?
        withUnsafeBytes { raw in result = Result { () throws(TranscoderError) -> R in try body(raw) } }
        return try result!.get()
    }
}
