import CStreamPortsICU

/// Owns one `sp_converter` (an ICU converter with this package's callbacks).
final class ICUConverter {
    let handle: OpaquePointer

    init(name: String, mode: ErrorMode) throws(TranscoderError) {
        var status: Int32 = 0
        let mode: Int32 =
            switch mode {
            case .raise: Int32(SP_MODE_RAISE)
            case .replace: Int32(SP_MODE_REPLACE)
            case .ignore: Int32(SP_MODE_IGNORE)
            }
        guard let handle = sp_open(name, mode, &status) else {
            throw Codec.unknown(name, status: status)
        }
        self.handle = handle
    }

    deinit { sp_close(handle) }

    var name: String { String(cString: sp_name(handle)) }

    func reset() { sp_reset(handle) }
}

/// ICU's `u_errorName` without importing ICU: the handful of codes the bridge reports.
func icuErrorName(_ status: Int32) -> String {
    switch status {
    case 1: "U_ILLEGAL_ARGUMENT_ERROR"
    case 2: "U_MISSING_RESOURCE_ERROR"
    case 4: "U_FILE_ACCESS_ERROR"
    case 7: "U_MEMORY_ALLOCATION_ERROR"
    case 10: "U_INVALID_CHAR_FOUND"
    case 11: "U_TRUNCATED_CHAR_FOUND"
    case 12: "U_ILLEGAL_CHAR_FOUND"
    case 18: "U_ILLEGAL_ESCAPE_SEQUENCE"
    case 19: "U_UNSUPPORTED_ESCAPE_SEQUENCE"
    default: "ICU error \(status)"
    }
}

/// The reason phrase for a decoding error's ICU status.
func decodingReason(_ status: Int32) -> String {
    switch status {
    case 10: "unmappable sequence (no character assigned)"
    case 11: "incomplete sequence at end of input"
    case 18, 19: "invalid escape sequence"
    default: "invalid sequence"
    }
}

/// A valid pointer for empty input (ICU rejects NULL buffers).
nonisolated(unsafe) let emptyInput = UnsafePointer(UnsafeMutablePointer<UInt8>.allocate(capacity: 1))

extension TranscoderError {
    /// A decoding error from the bridge; `consumedEnd` is the stream offset just past the
    /// input the converter has consumed.
    static func icuDecoding(_ error: sp_error, codec: String, consumedEnd: Int) -> TranscoderError {
        let bytes = withUnsafeBytes(of: error.invalid) { Array($0.prefix(Int(error.invalid_length))) }
        let offset = max(0, consumedEnd - Int(error.invalid_back))
        return .decoding(codec: codec, offset: offset, bytes: bytes, reason: decodingReason(error.icu_status))
    }
}
