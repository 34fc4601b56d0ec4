/// What a transcoder does with bytes it cannot decode and characters it cannot encode
/// (R6RS's error-handling mode).
public enum ErrorMode: String, Sendable, Hashable, CaseIterable {
    /// Throw a ``TranscoderError``: decoding errors carry the byte offset and the offending
    /// bytes, encoding errors the character.
    case raise
    /// Decoding yields U+FFFD per maximal invalid subpart (Unicode's recommendation; codecs
    /// other than UTF-8 follow ICU's segmentation); encoding writes U+FFFD when the codec can
    /// encode it, else `?`, once per character.
    case replace
    /// Skip what cannot be decoded or encoded.
    case ignore
}
