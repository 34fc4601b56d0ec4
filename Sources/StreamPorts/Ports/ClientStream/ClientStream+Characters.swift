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
    @inline(never)
    private func ensureScalars(_ count: Int) async throws -> Bool {
        try enterCharacters()
        while true {
            switch decodeCharacters(until: count) {
            case .ready: return true
            case .exhausted: return false
            case .needInput: _ = try await fill()  // false: input.finished, decoded in full next
            }
        }
    }

    /// ``readLine(separator:includeSeparator:maxLength:)`` on decoded characters (kept out of
    /// readLine's async frame).
    @inline(never)
    func readLineDecoded(separator: Character, includeSeparator: Bool, limit: Int) async throws -> String? {
        guard separator.unicodeScalars.count == 1, let scalar = separator.unicodeScalars.first else {
            throw StreamPortError.invalidArgument(
                "readLine separator \"\(separator)\"", "it must be a single Unicode scalar")
        }
        var searched = 0
        while true {
            switch scanDecodedLine(separator: scalar, searched: &searched, limit: limit) {
            case .line(let line):
                input.linesRead &+= 1
                return includeSeparator ? line + String(separator) : line
            case .tooLong:
                let error = lineTooLong(limit)
                shared.noteError(error)
                throw error
            case .needMore: break
            }
            if try await ensureScalars(searched + 1) { continue }
            return try finalDecodedLine()
        }
    }

    /// Back to bytes after characters: the input buffer's front becomes the byte after the
    /// last character read.
    @inline(__always)
    func leaveCharacters() {
        if characters.isActive { leaveCharactersNow() }
    }

    // The synchronous steps are not inlined into the async functions above, whose frames a
    // waiting reader keeps.

    @inline(never)
    private func leaveCharactersNow() {
        characters.leave(&input)
    }

    @inline(never)
    private func enterCharacters() throws {
        try characters.enter(transcoder, &input)
    }

    @inline(never)
    private func decodeCharacters(until count: Int) -> ScalarReader.Supply {
        characters.decode(until: count, &input)
    }

    @inline(never)
    private func scanDecodedLine(separator: Unicode.Scalar, searched: inout Int, limit: Int) -> ScalarReader.LineScan {
        characters.scanLine(
            separator: separator, searched: &searched, limit: limit, discarding: &input.framer.discardingLine)
    }

    @inline(never)
    private func finalDecodedLine() throws -> String? {
        if input.cutShort { return nil }  // a shutdown, not the peer, ended the input
        return try characters.finalLine(discarding: &input.framer.discardingLine)
    }
}
