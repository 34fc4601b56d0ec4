import Transcoders

/// A decoding error reduced to what the properties compare.
public struct DecodeFailure: Equatable, CustomStringConvertible {
    /// The stream offset of the first offending byte.
    public var offset: Int
    /// The offending bytes.
    public var bytes: [UInt8]

    public var description: String { "@\(offset) [\(hex(bytes))]" }

    init(_ error: TranscoderError, _ label: @autoclosure () -> String) {
        require(error.code == .decoding, "\(label()): a decoding error has code \(error.code): \(error)")
        guard let offset = error.byteOffset else { fail("\(label()): a decoding error has no offset: \(error)") }
        self.offset = offset
        self.bytes = error.bytes
    }
}

/// The text a decoder produced and, in `.raise` mode, the errors it reported on the way.
public struct DecodeOutcome: Equatable, CustomStringConvertible {
    /// Everything decoded (in `.raise` mode: everything but the offending bytes).
    public var text: String
    /// The errors, in order.
    public var errors: [DecodeFailure]

    public var description: String { "text [\(scalars(text))], errors \(errors)" }
}

/// Decodes `pieces` with one ``TextDecoder`` as a stream would deliver them; after a `.raise`
/// error, decoding resumes after the offending bytes (where ``TextDecoder/bytesAccepted``
/// says), as the decoder's documentation allows. Fails the run if the decoder stops making
/// progress or miscounts the bytes it took.
public func streamDecode(_ transcoder: Transcoder, _ pieces: [[UInt8]], label: @autoclosure () -> String) -> DecodeOutcome {
    let decoder: TextDecoder
    do { decoder = try transcoder.makeDecoder() } catch { fail("\(label()): cannot open \(transcoder): \(error)") }
    var text = ""
    var errors: [DecodeFailure] = []
    var total = 0
    for piece in pieces {
        var rest = piece[...]
        var attempts = 0
        while true {
            let before = decoder.bytesAccepted
            do {
                try decoder.decode(Array(rest), into: &text)
                require(decoder.bytesAccepted == before + rest.count,
                        "\(label()): decode took \(decoder.bytesAccepted - before) of \(rest.count) bytes")
                break
            } catch {
                errors.append(DecodeFailure(error, label()))
                let used = decoder.bytesAccepted - before
                require(used >= 0 && used <= rest.count, "\(label()): after an error bytesAccepted moved by \(used) of \(rest.count)")
                rest = rest.dropFirst(used)
                attempts += 1
                require(attempts <= piece.count + 4, "\(label()): the decoder makes no progress through \(hex(piece))")
            }
        }
        total += piece.count
    }
    var attempts = 0
    while true {
        do {
            try decoder.finish(into: &text)
            break
        } catch {
            errors.append(DecodeFailure(error, label()))
            attempts += 1
            require(attempts <= 64, "\(label()): finish keeps throwing")
        }
    }
    require(decoder.bytesAccepted == total, "\(label()): bytesAccepted \(decoder.bytesAccepted) after \(total) bytes")
    return DecodeOutcome(text: text, errors: errors)
}

/// Decodes `pieces` with a ``ScalarDecoder`` (ICU for every codec), resuming after errors.
/// - Returns: the outcome and each scalar's stream offset.
public func scalarDecode(
    _ transcoder: Transcoder, _ pieces: [[UInt8]], label: @autoclosure () -> String
) -> (outcome: DecodeOutcome, offsets: [Int]) {
    let decoder: ScalarDecoder
    do { decoder = try ScalarDecoder(transcoder) } catch { fail("\(label()): cannot open \(transcoder): \(error)") }
    var decoded: [Unicode.Scalar] = []
    var offsets: [Int] = []
    var errors: [DecodeFailure] = []
    var streamOffset = 0
    let pieces = pieces.isEmpty ? [[]] : pieces
    for (index, piece) in pieces.enumerated() {
        let final = index == pieces.count - 1
        var rest = piece[...]
        var attempts = 0
        while true {
            // From a stack buffer, as a caller's buffer may be: ICU derives some offsets from the
            // distance between its buffers and the caller's.
            let (consumed, error) = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: rest.count) { stack in
                _ = stack.initialize(from: rest)
                return decoder.decode(UnsafeRawBufferPointer(stack), streamOffset: streamOffset, final: final, scalars: &decoded, offsets: &offsets)
            }
            require(consumed >= 0 && consumed <= rest.count, "\(label()): ScalarDecoder consumed \(consumed) of \(rest.count)")
            streamOffset += consumed
            rest = rest.dropFirst(consumed)
            guard let error else {
                require(rest.isEmpty, "\(label()): ScalarDecoder left \(rest.count) bytes without an error")
                break
            }
            errors.append(DecodeFailure(error, label()))
            if rest.isEmpty && !final { break }
            attempts += 1
            require(attempts <= piece.count + 64, "\(label()): ScalarDecoder makes no progress through \(hex(piece))")
        }
    }
    require(offsets.count == decoded.count, "\(label()): \(offsets.count) offsets for \(decoded.count) scalars")
    require(offsets == offsets.sorted(), "\(label()): scalar offsets out of order: \(offsets)")
    require(offsets.allSatisfy { $0 >= 0 && $0 < max(1, streamOffset) },
            "\(label()): scalar offsets \(offsets) outside 0..<\(streamOffset)")
    var text = ""
    text.unicodeScalars.append(contentsOf: decoded)
    return (DecodeOutcome(text: text, errors: errors), offsets)
}

/// Translates line ends scalar by scalar with ``EOLTranslator/translate(_:)``: the reference
/// the byte-level translation of ``TextDecoder`` must agree with.
public func translateLineEnds(_ text: String, _ style: EOLStyle) -> String {
    var translator = EOLTranslator(style: style)
    var out = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        if let translated = translator.translate(scalar) { out.append(translated) }
    }
    return String(out)
}
