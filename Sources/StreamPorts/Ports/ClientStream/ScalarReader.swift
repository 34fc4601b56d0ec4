import Transcoders

/// The character side of reading: Unicode scalars decoded from an ``InputBuffer``'s bytes,
/// each with the stream offset of its first byte, so that reads can switch between characters
/// and bytes at an exact byte position. Only the reading task touches it.
///
/// While ``isActive``, the input buffer's front is the first byte not yet given back as a
/// scalar's or dropped; ``leave(_:)`` drops the bytes of the scalars read, so byte reads
/// continue right after the last character read.
struct ScalarReader {
    /// What ``decode(until:_:)`` found.
    enum Supply {
        /// The scalars asked for are decoded.
        case ready
        /// Every buffered byte is decoded: the caller fills the input buffer and asks again.
        case needInput
        /// Fewer remain: end of stream, or a decoding error comes first.
        case exhausted
    }

    /// What ``scanLine(separator:searched:limit:discarding:)`` found.
    enum LineScan {
        case line(String)
        case tooLong
        case needMore
    }

    /// Characters are being read: the input buffer's bytes belong to the decoder.
    private(set) var isActive = false
    private var decoder: ScalarDecoder?
    private var scalars: [Unicode.Scalar] = []
    private var offsets: [Int] = []
    /// The next unread scalar.
    private var index = 0
    /// Bytes of the input buffer given to the decoder.
    private var fed = 0
    private var decoderFinished = false
    /// A `.raise`-mode error, thrown once the scalars before it (up to `index`) are read.
    private var pendingError: (index: Int, error: StreamPortError)?

    /// Decoded scalars not read yet.
    var available: Int { scalars.count - index }

    /// True when received bytes are still unread on the character side: decoded scalars,
    /// bytes of `input` not yet decoded, a decoder holding part of a character, or a pending
    /// decoding error (STARTTLS refuses to upgrade over any of them).
    func holdsUnread(_ input: InputBuffer) -> Bool {
        available > 0 || input.readableBytes > fed || (decoder?.pendingByteCount ?? 0) > 0 || pendingError != nil
    }

    // MARK: Switching

    /// Starts decoding at the input buffer's front; the decoder takes over a pending CR.
    /// - Throws: ``StreamPortError`` `.decoding` when ICU cannot open the codec.
    mutating func enter(_ transcoder: Transcoder, _ input: inout InputBuffer) throws {
        guard !isActive else { return }
        if decoder == nil {
            do throws(TranscoderError) { decoder = try ScalarDecoder(transcoder) } catch {
                throw StreamPortError.wrapping(error)
            }
        }
        decoder!.reset()
        decoder!.translator.afterCR = input.framer.handOverAfterCR()
        isActive = true
        fed = 0
        decoderFinished = false
    }

    /// Stops decoding: drops the bytes of the scalars read, so the input buffer's front is the
    /// first byte after them (or the first undecodable byte).
    mutating func leave(_ input: inout InputBuffer) {
        guard isActive, let decoder else { return }
        let position: Int
        if index < scalars.count {
            position = offsets[index]
            input.framer.takeBackAfterCR(false)
        } else if let offset = pendingError?.error.transcoderError?.byteOffset {
            position = offset  // the decoder stopped at bytes it cannot decode: they are read as bytes
            input.framer.takeBackAfterCR(decoder.translator.afterCR)
        } else {
            position = input.base + fed - decoder.pendingByteCount
            input.framer.takeBackAfterCR(decoder.translator.afterCR)
        }
        input.drop(max(0, min(position - input.base, input.readableBytes)))
        scalars.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        index = 0
        pendingError = nil
        isActive = false
        fed = 0
        input.framer.rescan()
    }

    // MARK: Decoding

    /// Decodes buffered bytes until `count` scalars are unread.
    mutating func decode(until count: Int, _ input: inout InputBuffer) -> Supply {
        while available < count {
            if pendingError != nil { return .exhausted }
            compact(&input)
            if input.readableBytes > fed {
                decodeMore(input, final: false)
            } else if !input.finished {
                return .needInput
            } else if !decoderFinished {
                decoderFinished = true
                decodeMore(input, final: true)
            } else {
                return .exhausted
            }
        }
        return .ready
    }

    /// Once every scalar is read, drops their bytes (not those the decoder holds).
    private mutating func compact(_ input: inout InputBuffer) {
        guard index > 0 && index == scalars.count, let decoder else { return }
        scalars.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        index = 0
        let drop = max(0, fed - decoder.pendingByteCount)
        input.drop(drop)
        fed -= drop
    }

    private mutating func decodeMore(_ input: borrowing InputBuffer, final: Bool) {
        guard let decoder else { return }
        let result = input.bytes.withUnsafeReadableBytes { p in
            decoder.decode(
                UnsafeRawBufferPointer(rebasing: p[fed...]), streamOffset: input.base + fed, final: final,
                scalars: &scalars, offsets: &offsets)
        }
        fed += result.consumed
        if let error = result.error {
            pendingError = (scalars.count, StreamPortError.wrapping(error))
        }
    }

    // MARK: Reading

    /// Throws a pending decoding error once every scalar before it has been read.
    /// - Throws: ``StreamPortError`` `.decoding`.
    mutating func throwPendingErrorIfDue() throws {
        if let pending = pendingError, pending.index <= index {
            pendingError = nil
            throw pending.error
        }
    }

    /// The next scalar; ``available`` must be positive.
    func peek() -> Unicode.Scalar { scalars[index] }

    /// Reads the next scalar; ``available`` must be positive.
    mutating func next() -> Unicode.Scalar {
        defer { index += 1 }
        return scalars[index]
    }

    /// Reads `count` scalars as a string, then skips `skip` more.
    mutating func take(_ count: Int, thenSkip skip: Int = 0) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[index..<(index + count)])
        index += count + skip
        return String(view)
    }

    // MARK: Lines

    /// Looks for `separator` in the decoded scalars, past the `searched` already searched.
    ///
    /// As on the byte path (``LineFramer``), the limit counts bytes on the wire, line end
    /// excluded, and the rest of a line found too long before its end arrived is skipped
    /// (`discarding`, the framer's flag, so that a rule begun on one path ends on the other).
    mutating func scanLine(
        separator: Unicode.Scalar, searched: inout Int, limit: Int, discarding: inout Bool
    ) -> LineScan {
        while true {
            var i = index + searched
            while i < scalars.count && scalars[i] != separator { i += 1 }
            if i < scalars.count {
                if discarding || offsets[i] - offsets[index] > limit {
                    let reported = discarding
                    discarding = false
                    index = i + 1
                    searched = 0
                    if reported { continue }
                    return .tooLong
                }
                return .line(take(i - index, thenSkip: 1))
            }
            searched = i - index
            if searched > 0 && (discarding || offsets[i - 1] - offsets[index] >= limit) {
                index = i
                searched = 0
                if !discarding {
                    discarding = true
                    return .tooLong
                }
            }
            return .needMore
        }
    }

    /// The last line once no more scalars come (``decode(until:_:)`` found `.exhausted`): the
    /// scalars before a pending decoding error, or nil.
    /// - Throws: ``StreamPortError`` `.decoding` when a decoding error ends the input: the
    ///   partial line holding the bad bytes is dropped (complete lines came first).
    mutating func finalLine(discarding: inout Bool) throws -> String? {
        if let pending = pendingError {
            index = min(pending.index, scalars.count)
            try throwPendingErrorIfDue()
        }
        if discarding {
            discarding = false
            index = scalars.count
            return nil
        }
        if index >= scalars.count { return nil }
        return take(scalars.count - index)
    }
}

@available(*, unavailable)
extension ScalarReader: Sendable {}
