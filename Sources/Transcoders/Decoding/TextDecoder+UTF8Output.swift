import CStreamPortsICU

// Decoding to UTF-8 bytes instead of a String: for callers that forward text or cut it up
// themselves, and for stream ports' runs of lines. No String is made, so nothing is
// allocated per call once the output's capacity suffices, and the UTF-8 is not validated
// again (ICU's output is valid by construction).
extension TextDecoder {
    /// Decodes `chunk` and appends the text to `output` as UTF-8 bytes: the same text, line
    /// ends translated the same way, as `decode(_:into:)` appends
    /// to a String, but into a byte array whose capacity is reused from call to call.
    ///
    /// ```swift
    /// let decoder = try Transcoder(codec: .shiftJIS, eolStyle: .lf).makeDecoder()
    /// var utf8: [UInt8] = []
    /// try [UInt8]([0x93, 0xFA, 0x96, 0x7B, 0x0D, 0x0A]).withUnsafeBytes {
    ///     try decoder.decode($0, appendingUTF8To: &utf8)
    /// }
    /// // utf8 == Array("日本\n".utf8)
    /// ```
    /// - Parameters:
    ///   - chunk: the next chunk of input.
    ///   - output: where the UTF-8 is appended.
    /// - Throws: ``TranscoderError`` (`.decoding`) in `.raise` mode, after the text before the
    ///   offending bytes has been appended.
    public func decode(_ chunk: UnsafeRawBufferPointer, appendingUTF8To output: inout [UInt8]) throws(TranscoderError) {
        guard let icu, !icuUTF8 else {
            // Swift's own codecs (and the UTF-8 BOM rule of ICU's UTF-8) go through a String.
            var text = ""
            defer { output.append(contentsOf: text.utf8) }
            try decode(chunk, into: &text)
            return
        }
        let handle = icu.handle
        let begin = chunk.baseAddress.map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) } ?? emptyInput
        var src: UnsafePointer<UInt8>? = begin
        let srcLimit = begin + chunk.count
        var error = sp_error()
        let start = output.count
        var written = start
        // One and a half bytes per input byte cover typical text; more grows the array.
        output.append(contentsOf: repeatElement(0, count: chunk.count + chunk.count / 2 + 64))
        var status: Int32
        while true {
            status = output.withUnsafeMutableBufferPointer { out -> Int32 in
                let base = out.baseAddress!
                var dst: UnsafeMutablePointer<UInt8>? = base + written
                let status = sp_decode(handle, &src, srcLimit, &dst, base + out.count, 0, &error)
                written = dst! - base
                return status
            }
            guard status == Int32(SP_TARGET_FULL) else { break }
            output.append(contentsOf: repeatElement(0, count: output.count - start + 64))
        }
        let end = output.withUnsafeMutableBufferPointer { translator.translateUTF8($0, from: start, to: written) }
        output.removeLast(output.count - end)
        bytesAccepted += src! - begin
        switch status {
        case Int32(SP_OK):
            return
        case Int32(SP_ILLEGAL):
            throw TranscoderError.icuDecoding(error, codec: transcoder.codec.name, consumedEnd: bytesAccepted)
        default:
            throw TranscoderError(
                code: .internalFailure,
                message: "ICU failed decoding \(transcoder.codec.name): \(icuErrorName(error.icu_status))")
        }
    }

    /// Decodes a run of whole lines, line ends included and left as they are, with one
    /// converter call into `buffer` (from index 0; it grows when too small, and is reused
    /// otherwise), for stream ports that cut the run's lines out of the UTF-8 afterwards
    /// (plumbing, not API). ICU codecs whose line ends are byte-scannable only.
    ///
    /// A run decodes to the concatenation of its lines' `decodeLine(_:streamOffset:)`
    /// texts, each line end being a single byte that decodes to itself, as long as no byte is
    /// invalid. So any invalid sequence (replaced, skipped or raised) makes the run unusable:
    /// the result is then nil, and its lines must be decoded one by one, which places and
    /// reports the error exactly.
    /// - Parameters:
    ///   - bytes: the run's bytes, ending with a line end.
    ///   - buffer: receives the UTF-8.
    /// - Returns: the number of UTF-8 bytes written, or nil (see above).
    package func decodeRun(_ bytes: UnsafeRawBufferPointer, into buffer: inout [UInt8]) -> Int? {
        guard let icu, !bytes.isEmpty else { return nil }
        icu.reset()
        let handle = icu.handle
        let errorsBefore = sp_decode_errors(handle)
        let start = UnsafePointer(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
        var src: UnsafePointer<UInt8>? = start
        let srcLimit = start + bytes.count
        var error = sp_error()
        var written = 0
        // Typical text needs at most 1.5 bytes of UTF-8 per input byte (see icuStep).
        if buffer.count < bytes.count + bytes.count / 2 + 64 {
            buffer = [UInt8](repeating: 0, count: bytes.count * 2 + 64)
        }
        while true {
            let status = buffer.withUnsafeMutableBufferPointer { out -> Int32 in
                let base = out.baseAddress!
                var dst: UnsafeMutablePointer<UInt8>? = base + written
                let status = sp_decode(handle, &src, srcLimit, &dst, base + out.count, 1, &error)
                written = dst! - base
                return status
            }
            if status == Int32(SP_OK) { break }
            guard status == Int32(SP_TARGET_FULL) else {
                icu.reset()  // raise mode stopped at an invalid sequence (or ICU failed)
                return nil
            }
            buffer.append(contentsOf: repeatElement(0, count: buffer.count))
        }
        return sp_decode_errors(handle) == errorsBefore ? written : nil
    }
}
