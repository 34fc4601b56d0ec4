import CStreamPortsICU

/// A streaming decoder that yields Unicode scalars with the stream offset of each one's first
/// byte, so a reader can switch between characters and bytes at an exact byte position.
///
/// Every codec, UTF-8 included, goes through ICU here (the fast paths of ``TextDecoder`` are
/// tested to give identical results). Line ends are translated per the EOL style; a swallowed
/// LF after a CR yields nothing. A UTF-8 BOM at stream offset 0 is dropped.
///
/// StreamPorts' character reads use it; plumbing, not API.
package final class ScalarDecoder {
    /// The transcoder this decoder implements.
    package let transcoder: Transcoder
    /// The EOL translation state (a CR was the last scalar).
    @exclusivity(unchecked) package var translator: EOLTranslator
    private let icu: ICUConverter
    @exclusivity(unchecked) private var units: [UInt32] = []
    @exclusivity(unchecked) private var unitOffsets: [Int32] = []

    /// Creates a decoder for `transcoder`.
    /// - Throws: ``TranscoderError`` when ICU cannot open the codec.
    package init(_ transcoder: Transcoder) throws(TranscoderError) {
        self.transcoder = transcoder
        self.translator = EOLTranslator(style: transcoder.eolStyle)
        self.icu = try ICUConverter(name: transcoder.codec.name, mode: transcoder.errorMode)
    }

    /// Bytes taken but held as the start of an incomplete character.
    package var pendingByteCount: Int { Int(sp_decode_pending(icu.handle)) }

    /// Forgets all state (shift state, pending bytes, a pending CR).
    package func reset() {
        icu.reset()
        translator.afterCR = false
    }

    /// Decodes `bytes`, appending scalars and their stream offsets.
    /// - Parameters:
    ///   - bytes: input; `bytes[0]` is at `streamOffset` in the stream.
    ///   - streamOffset: the stream offset of `bytes[0]`.
    ///   - final: true at end of input (an incomplete sequence is then an error).
    ///   - scalars: where decoded scalars are appended.
    ///   - offsets: where each appended scalar's stream offset is appended.
    /// - Returns: how many bytes were consumed (all, unless an error stopped decoding) and the
    ///   `.raise`-mode error that stopped it, if any; scalars before the error are appended.
    package func decode(
        _ bytes: UnsafeRawBufferPointer, streamOffset: Int, final: Bool,
        scalars: inout [Unicode.Scalar], offsets: inout [Int]
    ) -> (consumed: Int, error: TranscoderError?) {
        let start = bytes.baseAddress.map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) } ?? emptyInput
        var src: UnsafePointer<UInt8>? = start
        let limit = start + bytes.count
        let capacity = bytes.count + 64
        if units.count < capacity {
            units = [UInt32](repeating: 0, count: capacity)
            unitOffsets = [Int32](repeating: 0, count: capacity)
        }
        let dropBOM = transcoder.codec.family == .utf8
        var error = sp_error()
        var status: Int32
        repeat {
            var produced = 0
            let sliceStart = src!
            status = units.withUnsafeMutableBufferPointer { out in
                unitOffsets.withUnsafeMutableBufferPointer { offs in
                    var dst: UnsafeMutablePointer<UInt32>? = out.baseAddress!
                    let r = sp_decode_scalars(
                        icu.handle, &src, limit, &dst, out.baseAddress! + out.count, offs.baseAddress!, final ? 1 : 0,
                        &error)
                    produced = dst! - out.baseAddress!
                    return r
                }
            }
            let sliceBase = streamOffset + (sliceStart - start)
            for i in 0..<produced {
                let offset = sliceBase + Int(unitOffsets[i])
                if dropBOM && offset == 0 && units[i] == 0xFEFF { continue }
                guard let scalar = Unicode.Scalar(units[i]), let out = translator.translate(scalar) else { continue }
                scalars.append(out)
                offsets.append(offset)
            }
        } while status == Int32(SP_TARGET_FULL)
        let consumed = src! - start
        switch status {
        case Int32(SP_OK):
            return (consumed, nil)
        case Int32(SP_ILLEGAL):
            // The offset counts back from the input consumed (sp_error.invalid_back): bytes ICU
            // holds for replay were consumed but come after the offending sequence.
            let bad = withUnsafeBytes(of: error.invalid) { Array($0.prefix(Int(error.invalid_length))) }
            let offset = max(0, streamOffset + consumed - Int(error.invalid_back))
            return (
                consumed,
                .decoding(
                    codec: transcoder.codec.name, offset: offset, bytes: bad, reason: decodingReason(error.icu_status))
            )
        default:
            return (
                consumed,
                TranscoderError(
                    code: .internalFailure,
                    message: "ICU failed decoding \(transcoder.codec.name): \(icuErrorName(error.icu_status))")
            )
        }
    }
}

// Streaming state (EOL state, ICU's converter, scratch buffers) changes on every call without a
// lock: one task at a time.
@available(*, unavailable)
extension ScalarDecoder: Sendable {}
