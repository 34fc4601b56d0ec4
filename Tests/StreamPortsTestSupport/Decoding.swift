import Transcoders

// Decode drivers shared by TranscodersTests and the fuzzers (Fuzzing/): one definition of how a
// stream feeds a decoder and resumes after a `.raise` error, and of what it must never do.

/// A decoding error reduced to what tests and fuzzers compare.
public struct DecodeFailure: Equatable, Sendable, CustomStringConvertible {
    /// The stream offset of the first offending byte.
    public var offset: Int
    /// The offending bytes.
    public var bytes: [UInt8]

    public init(offset: Int, bytes: [UInt8]) {
        self.offset = offset
        self.bytes = bytes
    }

    /// The failure `error` reports.
    /// - Throws: ``DecodeViolation`` unless `error` is a decoding error with an offset.
    public init(_ error: TranscoderError) throws(DecodeViolation) {
        guard error.code == .decoding else {
            throw DecodeViolation("a decoding error has code \(error.code): \(error)")
        }
        guard let offset = error.byteOffset else { throw DecodeViolation("a decoding error has no offset: \(error)") }
        self.init(offset: offset, bytes: error.bytes)
    }

    public var description: String { "@\(offset) [\(hex(bytes))]" }
}

/// The text a decoder produced and, in `.raise` mode, the errors it reported on the way.
public struct DecodeOutcome: Equatable, Sendable, CustomStringConvertible {
    /// Everything decoded (in `.raise` mode: everything but the offending bytes).
    public var text: String
    /// The errors, in order.
    public var errors: [DecodeFailure]

    public init(text: String, errors: [DecodeFailure]) {
        self.text = text
        self.errors = errors
    }

    public var description: String { "text [\(scalars(text))], errors \(errors)" }
}

/// What a ``ScalarDecoder`` produced: the outcome and each scalar's stream offset.
public struct ScalarDecodeOutcome: Equatable, Sendable {
    /// The text and errors, as ``DecodeOutcome``.
    public var outcome: DecodeOutcome
    /// The stream offset of each scalar's first byte.
    public var offsets: [Int]

    /// The decoded text.
    public var text: String { outcome.text }
    /// The errors, in order.
    public var errors: [DecodeFailure] { outcome.errors }
}

/// A decoder broke its contract: it stopped making progress, miscounted the bytes it took or
/// reported an error that is not a decoding error.
public struct DecodeViolation: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Decodes `pieces` with one ``TextDecoder`` as a stream would deliver them; after a `.raise`
/// error, decoding resumes after the offending bytes (where ``TextDecoder/bytesAccepted``
/// says), as the decoder's documentation allows.
/// - Throws: ``TranscoderError`` when the codec does not open; ``DecodeViolation`` when the
///   decoder stops making progress, miscounts the bytes it took or throws anything but a
///   decoding error.
/// With `utf8Output`, each piece goes through ``TextDecoder/decode(_:appendingUTF8To:)``
/// into bytes instead of a String (the text must be the same).
public func streamDecode(
    _ transcoder: Transcoder, _ pieces: [[UInt8]], utf8Output: Bool = false
) throws -> DecodeOutcome {
    let decoder = try transcoder.makeDecoder()
    var text = ""
    var utf8: [UInt8] = []
    var errors: [DecodeFailure] = []
    var total = 0
    for piece in pieces {
        var rest = piece[...]
        var attempts = 0
        while true {
            let before = decoder.bytesAccepted
            do {
                if utf8Output {
                    // (An untyped closure: a typed-throws one here crashes Swift 6.3.1's IRGen.)
                    try Array(rest).withUnsafeBytes { raw throws -> Void in
                        try decoder.decode(raw, appendingUTF8To: &utf8)
                    }
                } else {
                    try decoder.decode(Array(rest), into: &text)
                }
                guard decoder.bytesAccepted == before + rest.count else {
                    throw DecodeViolation("decode took \(decoder.bytesAccepted - before) of \(rest.count) bytes")
                }
                break
            } catch let error as TranscoderError {
                errors.append(try DecodeFailure(error))
                let used = decoder.bytesAccepted - before
                guard used >= 0 && used <= rest.count else {
                    throw DecodeViolation("after an error bytesAccepted moved by \(used) of \(rest.count)")
                }
                rest = rest.dropFirst(used)
                attempts += 1
                guard attempts <= piece.count + 4 else {
                    throw DecodeViolation("the decoder makes no progress through \(hex(piece))")
                }
            }
        }
        total += piece.count
    }
    if utf8Output { text = String(decoding: utf8, as: UTF8.self) }
    var attempts = 0
    while true {
        do {
            try decoder.finish(into: &text)
            break
        } catch {
            errors.append(try DecodeFailure(error))
            attempts += 1
            guard attempts <= 64 else { throw DecodeViolation("finish keeps throwing") }
        }
    }
    guard decoder.bytesAccepted == total else {
        throw DecodeViolation("bytesAccepted \(decoder.bytesAccepted) after \(total) bytes")
    }
    return DecodeOutcome(text: text, errors: errors)
}

/// Decodes `pieces` with a ``ScalarDecoder`` (ICU for every codec), resuming after errors.
/// Each piece is decoded from a stack buffer, as a caller's buffer may be: ICU derives some
/// offsets from the distance between its buffers and the caller's.
/// - Throws: ``TranscoderError`` when the codec does not open; ``DecodeViolation`` when the
///   decoder consumes more than it was given, leaves bytes without an error, makes no
///   progress, or reports offsets out of order or outside the input.
public func scalarDecode(_ transcoder: Transcoder, _ pieces: [[UInt8]]) throws -> ScalarDecodeOutcome {
    let decoder = try ScalarDecoder(transcoder)
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
            let (consumed, error) = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: rest.count) { stack in
                _ = stack.initialize(from: rest)
                return decoder.decode(
                    UnsafeRawBufferPointer(stack), streamOffset: streamOffset, final: final, scalars: &decoded,
                    offsets: &offsets)
            }
            guard consumed >= 0 && consumed <= rest.count else {
                throw DecodeViolation("ScalarDecoder consumed \(consumed) of \(rest.count)")
            }
            streamOffset += consumed
            rest = rest.dropFirst(consumed)
            guard let error else {
                guard rest.isEmpty else {
                    throw DecodeViolation("ScalarDecoder left \(rest.count) bytes without an error")
                }
                break
            }
            errors.append(try DecodeFailure(error))
            if rest.isEmpty && !final { break }
            attempts += 1
            guard attempts <= piece.count + 64 else {
                throw DecodeViolation("ScalarDecoder makes no progress through \(hex(piece))")
            }
        }
    }
    guard offsets.count == decoded.count else {
        throw DecodeViolation("\(offsets.count) offsets for \(decoded.count) scalars")
    }
    guard offsets == offsets.sorted() else { throw DecodeViolation("scalar offsets out of order: \(offsets)") }
    guard offsets.allSatisfy({ $0 >= 0 && $0 < max(1, streamOffset) }) else {
        throw DecodeViolation("scalar offsets \(offsets) outside 0..<\(streamOffset)")
    }
    var text = ""
    text.unicodeScalars.append(contentsOf: decoded)
    return ScalarDecodeOutcome(outcome: DecodeOutcome(text: text, errors: errors), offsets: offsets)
}
