// Reading characters: Unicode scalars decoded from the input buffer (ScalarReader), and lines
// for separators other than the EOL style's or codecs whose line ends cannot be found on bytes.
extension ClientStream {
    /// Reads one character (a Unicode scalar, as in Scheme), or nil at end of stream.
    /// - Throws: ``StreamPortError``: `.decoding` (`.raise` mode, once the characters before
    ///   the bad bytes are read), `.timedOut` (after ``readTimeout``), `.connectionReset`;
    ///   `CancellationError`.
    public func readChar() async throws -> Unicode.Scalar? {
        guard try await ensureScalars(1) else { try characters.throwPendingErrorIfDue(); return nil }
        return characters.next()
    }

    /// The next character without consuming it, or nil at end of stream.
    /// - Throws: as ``readChar()``.
    public func peekChar() async throws -> Unicode.Scalar? {
        guard try await ensureScalars(1) else { try characters.throwPendingErrorIfDue(); return nil }
        return characters.peek()
    }

    /// Reads `count` characters (fewer only at end of stream; nil if none remain).
    /// - Parameter count: how many Unicode scalars to read.
    /// - Throws: as ``readChar()``.
    public func readChars(_ count: Int) async throws -> String? {
        guard count > 0 else { return "" }
        _ = try await ensureScalars(count)
        let n = min(count, characters.available)
        if n == 0 {
            try characters.throwPendingErrorIfDue()
            return nil
        }
        return characters.take(n)
    }

    /// Reads every remaining character until the end of stream ("" at the end).
    /// - Throws: as ``readChar()``.
    public func readAll() async throws -> String {
        var text = ""
        while let chunk = try await readChars(65536) { text += chunk }
        return text
    }

    /// Ensures at least `count` unread scalars; false when fewer remain before the end of
    /// stream or before a pending decoding error.
    private func ensureScalars(_ count: Int) async throws -> Bool {
        try characters.enter(transcoder, &input)
        while true {
            switch characters.decode(until: count, &input) {
            case .ready: return true
            case .exhausted: return false
            case .needInput: _ = try await fill()   // false: input.finished, decoded in full next
            }
        }
    }

    /// ``readLine(separator:includeSeparator:maxLength:)`` on decoded characters.
    func readLineDecoded(separator: Character, includeSeparator: Bool, limit: Int) async throws -> String? {
        guard separator.unicodeScalars.count == 1, let scalar = separator.unicodeScalars.first else {
            throw StreamPortError(.operation, "readLine separator \"\(separator)\" must be a single Unicode scalar")
        }
        var searched = 0
        while true {
            switch characters.scanLine(separator: scalar, searched: &searched, limit: limit, discarding: &input.framer.discardingLine) {
            case .line(let line): return includeSeparator ? line + String(separator) : line
            case .tooLong: throw lineTooLong(limit)
            case .needMore: break
            }
            if try await ensureScalars(searched + 1) { continue }
            return try characters.finalLine(discarding: &input.framer.discardingLine)
        }
    }

    /// Back to bytes after characters: the input buffer's front becomes the byte after the
    /// last character read.
    func leaveCharacters() {
        characters.leave(&input)
    }
}
