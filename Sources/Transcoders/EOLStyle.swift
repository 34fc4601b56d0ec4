#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How line ends are written and read (R6RS's end-of-line style).
///
/// On output, each `"\n"` is written as the style's sequence. On input:
/// - the classic styles ``lf``, ``cr`` and ``crlf`` turn LF, CR and CR LF into one `"\n"`;
///   NEL (U+0085) and LS (U+2028) stay in the line, as JSON and NDJSON payloads need;
/// - the Unicode styles ``nel``, ``crnel`` and ``ls`` turn LF, CR, CR LF, NEL, CR NEL and LS
///   into one `"\n"`;
/// - ``none`` translates nothing.
///
/// A CR ends a line at once (a CR-only peer never stalls a reader); the LF (or, for the Unicode
/// styles, the NEL) right after it is swallowed, even when it arrives in a later chunk.
/// Line ends are characters, not bytes: in IBM037 LF is the byte 0x25.
public enum EOLStyle: String, Sendable, Hashable, CaseIterable {
    case lf, cr, crlf, nel, crnel, ls, none

    /// The characters written for `"\n"`.
    public var lineEnd: String {
        switch self {
        case .lf, .none: "\n"
        case .cr: "\r"
        case .crlf: "\r\n"
        case .nel: "\u{85}"
        case .crnel: "\r\u{85}"
        case .ls: "\u{2028}"
        }
    }

    /// True for ``nel``, ``crnel`` and ``ls``, which also read NEL and LS as line ends.
    public var isUnicode: Bool {
        switch self {
        case .nel, .crnel, .ls: true
        default: false
        }
    }

    /// True when `scalar` ends a line on input in this style.
    /// - Parameter scalar: a decoded scalar.
    @inlinable
    public func isLineEnd(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0A, 0x0D: return self != .none
        case 0x85, 0x2028: return isUnicode
        default: return false
        }
    }
}

/// Input line-end translation over Unicode scalars, one at a time (the decoders' and
/// StreamPorts' character path; plumbing, not API).
package struct EOLTranslator: Sendable {
    /// The style being read.
    package let style: EOLStyle
    /// True right after a CR, so that the LF (or NEL) that follows is swallowed.
    package var afterCR = false

    /// Creates a translator for `style`.
    /// - Parameter style: the end-of-line style being read.
    package init(style: EOLStyle) { self.style = style }

    /// The scalar to deliver for `scalar`, or nil to swallow it.
    /// - Parameter scalar: the next decoded scalar.
    /// - Returns: `"\n"` for a line end, `scalar` otherwise, nil for the LF (or NEL) after a CR.
    @inlinable
    package mutating func translate(_ scalar: Unicode.Scalar) -> Unicode.Scalar? {
        guard style != .none else { return scalar }
        let v = scalar.value
        if afterCR {
            afterCR = false
            if v == 0x0A || (v == 0x85 && style.isUnicode) { return nil }
        }
        switch v {
        case 0x0D:
            afterCR = true
            return "\n"
        case 0x85, 0x2028:
            return style.isUnicode ? "\n" : scalar
        default:
            return scalar
        }
    }
}

extension EOLTranslator {
    /// Translates valid UTF-8 in place from `start`; returns the new end. Exact at byte level:
    /// CR, LF, NEL (C2 85) and LS (E2 80 A8) cannot occur inside another UTF-8 sequence.
    @usableFromInline
    mutating func translateUTF8(_ buffer: UnsafeMutableBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
        guard style != .none else { return end }
        let unicode = style.isUnicode
        var r = start
        var w = start
        // Fast scan: nothing to do until the first CR (classic) or CR / C2 / E2 (Unicode).
        if !afterCR {
            r = EOLTranslator.firstCandidate(UnsafeRawBufferPointer(buffer), from: start, to: end, unicode: unicode)
            if r == end { return end }
            w = r
        }
        guard let base = buffer.baseAddress else { return end }
        let raw = UnsafeRawBufferPointer(buffer)
        while r < end {
            if afterCR {
                afterCR = false
                if buffer[r] == 0x0A { r += 1; continue }
                if unicode && buffer[r] == 0xC2 && r + 1 < end && buffer[r + 1] == 0x85 { r += 2; continue }
            }
            // Move the run up to the next candidate in one go.
            let next: Int
            if unicode {
                next = EOLTranslator.firstCandidate(raw, from: r, to: end, unicode: true)
            } else {
                next =
                    memchr(base + r, 0x0D, end - r).map {
                        UnsafeMutablePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - base
                    } ?? end
            }
            if next > r {
                if w != r { (base + w).update(from: base + r, count: next - r) }
                w += next - r
                r = next
            }
            guard r < end else { break }
            let b = buffer[r]
            if b == 0x0D {
                afterCR = true
                buffer[w] = 0x0A
                w += 1; r += 1
            } else if b == 0xC2 && r + 1 < end && buffer[r + 1] == 0x85 {
                buffer[w] = 0x0A
                w += 1; r += 2
            } else if b == 0xE2 && r + 2 < end && buffer[r + 1] == 0x80 && buffer[r + 2] == 0xA8 {
                buffer[w] = 0x0A
                w += 1; r += 3
            } else {
                buffer[w] = b
                w += 1; r += 1
            }
        }
        return w
    }

    /// The index of the first byte in `bytes[start..<end]` that may start a line end to
    /// translate: CR, or for the Unicode styles also C2 (NEL) and E2 (LS); `end` if none.
    /// Scans eight bytes at a time.
    @usableFromInline
    static func firstCandidate(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, unicode: Bool) -> Int {
        guard let base = bytes.baseAddress else { return end }
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func hasZeroByte(_ x: UInt64) -> Bool { (x &- ones) & ~x & highs != 0 }
        var i = start
        while i + 8 <= end {
            let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            var hit = hasZeroByte(word ^ (ones &* 0x0D))
            if unicode && !hit { hit = hasZeroByte(word ^ (ones &* 0xC2)) || hasZeroByte(word ^ (ones &* 0xE2)) }
            if hit { break }
            i += 8
        }
        while i < end {
            let b = bytes[i]
            if b == 0x0D || (unicode && (b == 0xC2 || b == 0xE2)) { return i }
            i += 1
        }
        return end
    }
}
