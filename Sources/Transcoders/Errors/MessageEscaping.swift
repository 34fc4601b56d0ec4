/// `text` with every character that could act on a terminal or a log rather than show in it
/// written as an escape: C0 and C1 controls and DEL as `\xNN`; format characters (bidi
/// overrides, zero-width joiners), line and paragraph separators and unassigned code points as
/// `\u{NNNN}`. Error messages quote their input through it, so that input taken from a peer
/// cannot inject escape sequences, forge log lines or reorder a message when it is logged.
///
/// ```swift
/// escapingControls("evil\u{1B}[2Jhost")   // "evil\x1B[2Jhost"
/// ```
package func escapingControls(_ text: String) -> String {
    if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return text }
    var escaped = ""
    escaped.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
            escaped += "\\x" + hexByte(UInt8(scalar.value))
        } else if scalar.value >= 0x80 && actsRatherThanShows(scalar) {
            var hex = String(scalar.value, radix: 16, uppercase: true)
            while hex.count < 4 { hex = "0" + hex }
            escaped += "\\u{" + hex + "}"
        } else {
            escaped.unicodeScalars.append(scalar)
        }
    }
    return escaped
}

/// Format characters, line and paragraph separators, unassigned code points.
private func actsRatherThanShows(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .format, .lineSeparator, .paragraphSeparator, .unassigned, .control: true
    default: false
    }
}
