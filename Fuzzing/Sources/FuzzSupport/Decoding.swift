import StreamPortsTestSupport

@testable import Transcoders

// The decode drivers are StreamPortsTestSupport's, shared with TranscodersTests; here a broken
// contract stops the run (libFuzzer records a crash) with the case's label.

extension DecodeFailure {
    /// The failure `error` reports; stops the run unless it is a decoding error with an offset.
    init(_ error: TranscoderError, _ label: @autoclosure () -> String) {
        do { try self.init(error) } catch { fail("\(label()): \(error)") }
    }
}

/// ``streamDecode(_:_:)`` (one ``TextDecoder``, resumed after each `.raise` error); stops the
/// run, naming `label`, if the decoder breaks its contract.
public func streamDecode(
    _ transcoder: Transcoder, _ pieces: [[UInt8]], label: @autoclosure () -> String
) -> DecodeOutcome {
    do { return try streamDecode(transcoder, pieces) } catch { fail("\(label()): \(error)") }
}

/// ``scalarDecode(_:_:)`` (a ``ScalarDecoder``, ICU for every codec); stops the run, naming
/// `label`, if the decoder breaks its contract.
public func scalarDecode(
    _ transcoder: Transcoder, _ pieces: [[UInt8]], label: @autoclosure () -> String
) -> ScalarDecodeOutcome {
    do { return try scalarDecode(transcoder, pieces) } catch { fail("\(label()): \(error)") }
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
