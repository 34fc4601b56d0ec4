import Transcoders

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds the lines in received bytes, for codecs whose line ends can be found without decoding
/// (`Codec.lineEndsAreByteScannable(for:)`): the byte side of
/// ``ClientStream/readLine(separator:includeSeparator:maxLength:)``.
///
/// A framer only looks at bytes; it neither holds nor drops them. Its owner keeps the unread
/// bytes, asks ``next(_:atStreamStart:inputFinished:limit:)`` what the front of them holds,
/// drops the bytes the answer names, and reports every drop with ``consumed(_:)`` (also drops
/// made by byte reads), so the framer never searches the same bytes twice.
///
/// - LF ends a line; CR too (except with ``EOLStyle/none``), and an LF right after it belongs
///   to that line end even when it arrives later (``afterCR``). With a Unicode EOL style, UTF-8
///   and Latin-1 also end lines at NEL (C2 85, 85) and UTF-8 at LS (E2 80 A8); after a CR, a NEL
///   is swallowed as an LF is.
/// - A UTF-8 BOM at stream offset 0 is dropped (once it is whole, or at end of input).
/// - A line longer than the limit (bytes, line end excluded) is reported once, as soon as more
///   than `limit` bytes without a line end have arrived; the rest of it is dropped and framing
///   continues with the next line.
struct LineFramer {
    /// What the front of the unread bytes holds.
    enum Frame: Equatable {
        /// Nothing complete: more input is needed (or, from ``finish(_:limit:)``, nothing is left).
        case needMore
        /// Drop this many bytes and ask again: a BOM, an LF after a CR, part of an over-long line.
        case skip(Int)
        /// Drop this many bytes and report the line as too long (once per line).
        case tooLong(Int)
        /// A line: its content is `[0, contentEnd)`, the next line starts at `next`.
        case line(contentEnd: Int, next: Int)
    }

    /// CR ends lines (every style but `.none`).
    private let crEndsLines: Bool
    /// Latin-1 with a Unicode style: 0x85 (NEL) ends lines.
    private let latin1NEL: Bool
    /// UTF-8 with a Unicode style: C2 85 (NEL) and E2 80 A8 (LS) end lines.
    private let utf8NELAndLS: Bool
    /// UTF-8: a BOM at stream offset 0 is dropped.
    private let dropsBOM: Bool

    /// The last line ended with a CR: an LF (or a NEL) at the front still belongs to it.
    private(set) var afterCR = false
    /// A line was reported too long before its end arrived: bytes up to its end are dropped.
    /// The character path of `readLine` (``ScalarReader``) follows the same rule on scalars
    /// and shares this flag, so a rule begun on one path ends on the other.
    var discardingLine = false
    /// Bytes at the front already searched for a line end.
    private var scanFrom = 0

    /// A framer for `codec` and `eolStyle`.
    init(codec: Codec, eolStyle: EOLStyle) {
        let unicode = eolStyle.isUnicode
        let utf8 = codec == .utf8
        crEndsLines = eolStyle != .none
        latin1NEL = unicode && codec == .latin1
        utf8NELAndLS = unicode && utf8
        dropsBOM = utf8
    }

    /// NEL or LS bytes may end lines: the scan cannot jump from LF to CR with `memchr`.
    private var lineEndsNeedNonASCII: Bool { latin1NEL || utf8NELAndLS }

    /// What the front of `p` holds. The caller drops the bytes a `.skip`, `.tooLong` or
    /// `.line` names (and reports them with ``consumed(_:)``) before asking again.
    /// - Parameters:
    ///   - p: the unread bytes.
    ///   - atStreamStart: `p[0]` is the stream's first byte (a UTF-8 BOM may start there).
    ///   - inputFinished: no more bytes will arrive (a partial BOM is then content).
    ///   - limit: the longest line, in bytes, line end excluded.
    mutating func next(_ p: UnsafeRawBufferPointer, atStreamStart: Bool, inputFinished: Bool, limit: Int) -> Frame {
        switch scan(p, atStreamStart: atStreamStart, inputFinished: inputFinished) {
        case .tooLong(let seen) where seen > limit:
            if discardingLine { return .skip(seen) }  // more of a line already reported
            discardingLine = true
            return .tooLong(seen)
        case .tooLong:
            return .needMore
        case .line(let contentEnd, let next):
            if discardingLine {
                discardingLine = false
                return .skip(next)
            }
            return contentEnd > limit ? .tooLong(next) : .line(contentEnd: contentEnd, next: next)
        case let other:
            return other
        }
    }

    /// The frame for the `count` unterminated bytes left at end of input: `.needMore` when
    /// there are none, `.skip` for the rest of a line already reported too long, `.tooLong`,
    /// or the last line. An incomplete BOM or line end (C2, E2 80 at the very end) is content.
    mutating func finish(_ count: Int, limit: Int) -> Frame {
        guard count > 0 else { return .needMore }
        if discardingLine {
            discardingLine = false
            return .skip(count)
        }
        return count > limit ? .tooLong(count) : .line(contentEnd: count, next: count)
    }

    /// Reports that `count` bytes left the front of the buffer.
    @inline(__always)
    mutating func consumed(_ count: Int) {
        scanFrom = max(0, scanFrom - count)
    }

    /// Forgets how far the bytes were searched (after they were read as characters).
    mutating func rescan() {
        scanFrom = 0
    }

    /// For a byte read: how many bytes at the front of `p` belong to a line end begun by a CR
    /// (an LF, a NEL). Settles ``afterCR`` unless `p` holds only the first byte of a NEL.
    mutating func swallowAfterCR(_ p: UnsafeRawBufferPointer) -> Int {
        guard afterCR, !p.isEmpty else { return 0 }
        let length = swallowLength(p, 0)
        if length != 0 { afterCR = false }
        return length ?? 0
    }

    /// Hands ``afterCR`` to a character decoder, which translates from here on.
    mutating func handOverAfterCR() -> Bool {
        defer { afterCR = false }
        return afterCR
    }

    /// Takes ``afterCR`` back from a character decoder that stopped.
    mutating func takeBackAfterCR(_ value: Bool) {
        afterCR = value
    }

    // MARK: Scanning

    /// The front of `p`, before the over-long rule: `.tooLong(n)` here means "no line end in
    /// the first n bytes".
    @inline(__always)
    private mutating func scan(_ p: UnsafeRawBufferPointer, atStreamStart: Bool, inputFinished: Bool) -> Frame {
        let n = p.count
        if n == 0 { return .needMore }
        if afterCR {
            if let length = swallowLength(p, 0) {
                if length == 0 { return .needMore }
                afterCR = false
                return .skip(length)
            }
            afterCR = false
        }
        if atStreamStart && dropsBOM && !discardingLine {
            let bom: (UInt8, UInt8, UInt8) = (0xEF, 0xBB, 0xBF)
            if p[0] == bom.0 && (n < 2 || p[1] == bom.1) && (n < 3 || p[2] == bom.2) {
                if n >= 3 { return .skip(3) }
                if !inputFinished { return .needMore }
            }
        }
        var i = scanFrom
        if !lineEndsNeedNonASCII, i < n, let base = p.baseAddress {
            // Only LF and CR end lines here: jump to the first with memchr.
            let lf = memchr(base + i, 0x0A, n - i).map { UnsafeRawPointer($0) - base } ?? n
            let cr = !crEndsLines || lf == i ? nil : memchr(base + i, 0x0D, lf - i).map { UnsafeRawPointer($0) - base }
            i = cr ?? lf
        }
        while i < n {
            let b = p[i]
            if b == 0x0A || b == 0x0D || b >= 0x80, let length = lineEndLength(p, i) {
                if length == 0 { break }
                var end = i + length
                if b == 0x0D {
                    if end < n {
                        if let swallowed = swallowLength(p, end) {
                            if swallowed == 0 { afterCR = true }  // half a NEL: settled when the rest comes
                            end += swallowed
                        }
                    } else {
                        afterCR = true
                    }
                }
                return .line(contentEnd: i, next: end)
            }
            i += 1
        }
        scanFrom = i
        return .tooLong(i)
    }

    /// The length of the line end starting at `i`; 0 if one may start there but more bytes
    /// are needed, nil if none starts there.
    @inline(__always)
    private func lineEndLength(_ p: UnsafeRawBufferPointer, _ i: Int) -> Int? {
        switch p[i] {
        case 0x0A:
            return 1
        case 0x0D:
            return crEndsLines ? 1 : nil
        case 0x85 where latin1NEL:
            return 1
        case 0xC2 where utf8NELAndLS:
            if i + 1 >= p.count { return 0 }
            return p[i + 1] == 0x85 ? 2 : nil
        case 0xE2 where utf8NELAndLS:
            if i + 2 >= p.count { return i + 1 < p.count && p[i + 1] != 0x80 ? nil : 0 }
            return p[i + 1] == 0x80 && p[i + 2] == 0xA8 ? 3 : nil
        default:
            return nil
        }
    }

    /// The length of an LF (or NEL) at `i` swallowed after a CR; 0 when more bytes are needed,
    /// nil when none is there.
    @inline(__always)
    private func swallowLength(_ p: UnsafeRawBufferPointer, _ i: Int) -> Int? {
        if p[i] == 0x0A { return 1 }
        if latin1NEL { return p[i] == 0x85 ? 1 : nil }
        if utf8NELAndLS && p[i] == 0xC2 {
            if i + 1 >= p.count { return 0 }
            return p[i + 1] == 0x85 ? 2 : nil
        }
        return nil
    }
}
