import StreamPortsTestSupport

@testable import Transcoders

/// One decoder test case: a codec, an error mode, an EOL style, a payload and a chunking.
public struct DecoderCase: CustomStringConvertible {
    /// The codec under test.
    public let codec: Codec
    /// The error mode.
    public let mode: ErrorMode
    /// The end-of-line style.
    public let style: EOLStyle
    /// The bytes to decode.
    public let payload: [UInt8]
    /// How the stream cuts them.
    public let chunking: Chunking

    /// Reads the case from `input`: error mode, EOL style and chunking from the header, the
    /// rest is the payload.
    /// - Parameters:
    ///   - codec: the codec (the caller has read its choice from the header).
    ///   - input: the fuzzer's input, positioned after the codec byte.
    public init(codec: Codec, _ input: inout FuzzInput) {
        self.codec = codec
        mode = input.choose(ErrorMode.allCases)
        style = input.choose(EOLStyle.allCases)
        chunking = Chunking(&input)
        payload = input.rest
    }

    /// The transcoder of this case.
    public var transcoder: Transcoder { Transcoder(codec: codec, eolStyle: style, errorMode: mode) }

    public var description: String {
        "\(codec.name)/\(style)/\(mode), \(chunking), payload [\(hex(payload))]"
    }

    /// The same case with another error mode or EOL style.
    public func transcoder(mode: ErrorMode? = nil, style: EOLStyle? = nil) -> Transcoder {
        Transcoder(codec: codec, eolStyle: style ?? self.style, errorMode: mode ?? self.mode)
    }
}

/// Checks every decoder property on `test` and returns the one-shot outcome:
///
/// 1. streamed (the payload cut at the case's chunk boundaries) equals one-shot, text and
///    errors, with decoding resumed after each `.raise` error;
/// 2. `.replace` and `.ignore` never throw; the public `Transcoder.decode` agrees with the
///    one-shot stream (in `.raise` mode it throws the first error);
/// 3. `.raise` errors: offsets inside the payload, in order, and the reported bytes are the
///    payload's bytes at that offset;
/// 4. ``ScalarDecoder`` over the same chunks gives the same text and errors, offsets in order
///    inside the payload, and (but in `.ignore` mode) the offsets of a one-shot decode;
/// 5. line ends: the result equals style `.none`'s result translated scalar by scalar;
/// 6. `decodeLine` (codec only) equals the one-shot `.none` decode, or throws its first error;
/// 7. across modes (checked in `.raise`): the resumed text equals `.ignore`'s, and `.replace`
///    writes exactly one U+FFFD per reported error.
@discardableResult
public func checkDecoderProperties(_ test: DecoderCase) -> DecodeOutcome {
    let t = test.transcoder
    let payload = test.payload
    let pieces = test.chunking.split(payload)
    let oneShot = streamDecode(t, [payload], label: "\(test): one shot")
    let streamed = streamDecode(t, pieces, label: "\(test): streamed")
    require(streamed == oneShot, "\(test): streamed \(streamed) != one shot \(oneShot)")

    // 2 and 3
    let api = Result { () throws(TranscoderError) in try t.decode(payload) }
    switch test.mode {
    case .replace, .ignore:
        require(oneShot.errors.isEmpty, "\(test): \(test.mode) reported errors \(oneShot.errors)")
        require(api == .success(oneShot.text), "\(test): Transcoder.decode gave \(api), the stream \(oneShot)")
    case .raise:
        if let first = oneShot.errors.first {
            switch api {
            case .success(let text):
                fail("\(test): Transcoder.decode did not throw (\(scalars(text))); the stream reported \(first)")
            case .failure(let error):
                require(
                    DecodeFailure(error, "\(test)") == first,
                    "\(test): Transcoder.decode threw \(error), the stream \(first)")
            }
        } else {
            require(api == .success(oneShot.text), "\(test): Transcoder.decode gave \(api), the stream \(oneShot)")
        }
        var previous = 0
        for e in oneShot.errors {
            require(
                e.offset >= previous && e.offset < payload.count,
                "\(test): error \(e) out of order or outside the payload")
            require(
                e.offset + e.bytes.count <= payload.count
                    && Array(payload[e.offset..<(e.offset + e.bytes.count)]) == e.bytes,
                "\(test): error \(e) names bytes that are not at its offset")
            previous = e.offset
        }
    }

    // 4
    let scalar = scalarDecode(t, pieces, label: "\(test): ScalarDecoder")
    require(scalar.outcome == oneShot, "\(test): ScalarDecoder \(scalar.outcome) != TextDecoder \(oneShot)")
    if test.mode != .ignore {
        // In .ignore mode ICU gives no offsets for what it replays after skipping bytes in the
        // middle of held ones: the bridge keeps such offsets in order and in range only.
        let scalarWhole = scalarDecode(t, [payload], label: "\(test): ScalarDecoder one shot")
        require(
            scalar.offsets == scalarWhole.offsets,
            "\(test): ScalarDecoder offsets \(scalar.offsets) != one shot \(scalarWhole.offsets)")
    }

    // 5
    let plain =
        test.style == .none
        ? oneShot : streamDecode(test.transcoder(style: EOLStyle.none), [payload], label: "\(test): style none")
    if test.style != .none {
        let reference = translateLineEnds(plain.text, test.style)
        require(
            oneShot.text == reference && oneShot.errors == plain.errors,
            "\(test): \(oneShot) != style none \(plain) translated [\(scalars(reference))]")
    }

    // 6
    checkDecodeLine(test, expected: plain)

    // 7
    if test.mode == .raise {
        let ignored = streamDecode(test.transcoder(mode: .ignore), [payload], label: "\(test): ignore")
        let replaced = streamDecode(test.transcoder(mode: .replace), [payload], label: "\(test): replace")
        require(oneShot.text == ignored.text, "\(test): raise-and-resume text \(oneShot) != ignore \(ignored)")
        let fffd: (String) -> Int = { $0.unicodeScalars.count(where: { $0 == "\u{FFFD}" }) }
        require(
            fffd(replaced.text) == fffd(ignored.text) + oneShot.errors.count,
            "\(test): replace \(replaced) has \(fffd(replaced.text)) U+FFFD; ignore \(fffd(ignored.text)) + \(oneShot.errors.count) errors"
        )
    }
    return oneShot
}

/// `decodeLine` on a decoder that has already decoded the whole stream (its state must not
/// leak into the line) equals the one-shot style-`.none` decode `expected`.
private func checkDecodeLine(_ test: DecoderCase, expected: DecodeOutcome) {
    let decoder: TextDecoder
    do { decoder = try test.transcoder.makeDecoder() } catch { fail("\(test): \(error)") }
    var scratch = ""
    for piece in test.chunking.split(test.payload) {
        _ = try? decoder.decode(piece, into: &scratch)
    }
    let line = test.payload.withUnsafeBytes { raw in
        Result { () throws(TranscoderError) in try decoder.decodeLine(raw, streamOffset: 0) }
    }
    if let first = expected.errors.first {
        switch line {
        case .success(let text): fail("\(test): decodeLine gave [\(scalars(text))], the stream reported \(first)")
        case .failure(let error):
            require(DecodeFailure(error, "\(test)") == first, "\(test): decodeLine threw \(error), the stream \(first)")
        }
    } else {
        require(line == .success(expected.text), "\(test): decodeLine gave \(line), style none \(expected)")
    }
}
