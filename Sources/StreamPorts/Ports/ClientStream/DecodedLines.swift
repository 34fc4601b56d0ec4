import Transcoders

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The decoded text of a run of complete lines still in the input buffer, for ICU codecs
/// whose line ends are found on raw bytes: one converter call decodes every complete line a
/// read brought, and `readLine` then cuts each line's String out of that UTF-8, instead of
/// calling the converter once per line.
///
/// The raw bytes stay the truth. The input buffer frames each line on them as before
/// (`maxLineLength` on wire bytes, the discard rule, byte reads in between) and drops them as
/// before, so stream offsets, `readBytes` after `readLine` and error offsets do not change.
/// The batch only answers "what is the text of the line the framer just found", and only
/// while it is in step: its next line starts exactly at the buffer's front (``rawNext`` equals
/// the buffer's stream offset), and the line end found in the text is the same bytes as the
/// one the framer found. Anything else (a byte read, a skipped line end or over-long line, the
/// character path) leaves it out of step, and the next line starts a new run.
///
/// A run is used only if it decoded without any invalid sequence: with one (replaced,
/// skipped, or raised in `.raise` mode) its lines are decoded one by one, which is what
/// places the error, and the U+FFFD, exactly as before.
///
/// A class, so that streams in the codecs that never use it (UTF-8, Latin-1, ASCII, the
/// decoded-character ones) carry a nil reference, not its fields. Only the reading task uses
/// it (the input buffer's rule), so its state skips dynamic exclusivity checks.
final class DecodedLines {
    /// UTF-8 of the run, `[0, length)`; its storage is reused from run to run.
    @exclusivity(unchecked) private var text: [UInt8] = []
    @exclusivity(unchecked) private var length = 0
    /// Where the next line's text starts in `text`.
    @exclusivity(unchecked) private var cursor = 0
    /// The stream offset of the raw byte the next line starts at.
    @exclusivity(unchecked) private var rawNext = -1
    /// The stream offset just past the run.
    @exclusivity(unchecked) private var rawEnd = -1
    /// No run starts before this stream offset: the run up to it held an invalid sequence.
    @exclusivity(unchecked) private var lineByLineUntil = 0
    /// CR ends lines (every EOL style but `.none`).
    private let crEndsLines: Bool
    /// Lines whose text came from a run (tests check that runs are used at all).
    @exclusivity(unchecked) private(set) var linesFromRuns = 0

    init(crEndsLines: Bool) {
        self.crEndsLines = crEndsLines
    }

    /// The text of the line the framer found at the front of `p` (content `[0, contentEnd)`,
    /// line end `[contentEnd, next)`), or nil when it must be decoded on its own.
    /// - Parameters:
    ///   - p: the unread bytes; `p[0]` is at stream offset `base`.
    ///   - decoder: the stream's line decoder (an ICU codec).
    @inline(__always)
    func line(
        in p: UnsafeRawBufferPointer, base: Int, contentEnd: Int, next: Int, decoder: TextDecoder
    ) -> String? {
        if rawNext != base || base + next > rawEnd {
            guard base >= lineByLineUntil, startRun(p, base: base, next: next, decoder: decoder) else { return nil }
        }
        return cut(p, base: base, contentEnd: contentEnd, next: next)
    }

    /// Decodes the complete lines at the front of `p` as one run; false when there is no run
    /// worth it (a single line) or it held an invalid sequence.
    @inline(never)
    private func startRun(_ p: UnsafeRawBufferPointer, base: Int, next: Int, decoder: TextDecoder) -> Bool {
        rawEnd = -1
        let runEnd = lastLineEnd(p) + 1
        guard runEnd > next else { return false }  // only this line: no gain
        guard let count = decoder.decodeRun(UnsafeRawBufferPointer(rebasing: p[0..<runEnd]), into: &text) else {
            lineByLineUntil = base + runEnd
            return false
        }
        length = count
        cursor = 0
        rawNext = base
        rawEnd = base + runEnd
        return true
    }

    /// The next line's text, if the batch is in step with the framer.
    @inline(__always)
    private func cut(_ p: UnsafeRawBufferPointer, base: Int, contentEnd: Int, next: Int) -> String? {
        let lineEndLength = next - contentEnd
        let line: String? = text.withUnsafeBufferPointer { t in
            let start = t.baseAddress! + cursor
            let remaining = length - cursor
            let lf = memchr(start, 0x0A, remaining).map { UnsafeRawPointer($0) - UnsafeRawPointer(start) } ?? remaining
            let cr = crEndsLines ? memchr(start, 0x0D, lf).map { UnsafeRawPointer($0) - UnsafeRawPointer(start) } : nil
            let end = cr ?? lf
            // The same line end, byte for byte, as the framer's.
            guard end + lineEndLength <= remaining,
                memcmp(start + end, p.baseAddress! + contentEnd, lineEndLength) == 0
            else { return nil }
            let content = String(decoding: UnsafeBufferPointer(start: start, count: end), as: UTF8.self)
            cursor += end + lineEndLength
            return content
        }
        if line == nil {
            // Out of step where it should not be: this run is read line by line.
            lineByLineUntil = rawEnd
            rawEnd = -1
            return nil
        }
        rawNext = base + next
        linesFromRuns &+= 1
        return line
    }

    /// The index of the last line end byte in `p` (LF, or CR when CR ends lines), or -1. A
    /// read usually ends with a line end, so the search from the back is short.
    @inline(__always)
    private func lastLineEnd(_ p: UnsafeRawBufferPointer) -> Int {
        var i = p.count - 1
        while i >= 0 {
            let b = p[i]
            if b == 0x0A || (b == 0x0D && crEndsLines) { return i }
            i -= 1
        }
        return -1
    }

    /// Lets go of the text's storage (the reader is about to wait: an idle connection holds
    /// none).
    func release() {
        guard !text.isEmpty else { return }
        text = []
        length = 0
        cursor = 0
        rawEnd = -1
    }
}

@available(*, unavailable)
extension DecodedLines: Sendable {}
