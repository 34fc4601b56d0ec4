import FuzzSupport
import StreamPortsTestSupport

@testable import StreamPorts

/// One read call on a ``ClientStream``.
enum ReadOp: CustomStringConvertible {
    /// `readLine(includeSeparator:maxLength:)`.
    case line(includeSeparator: Bool)
    /// `readLine(separator: ";")`: framed on decoded characters whatever the codec.
    case lineSeparatedBySemicolon
    /// `readChar()`.
    case char
    /// `peekChar()` then `readChar()`: both must give the same character.
    case peekThenChar
    /// `readBytes(n)`.
    case bytes(Int)

    init(_ byte: UInt8) {
        switch byte % 8 {
        case 0, 1, 2: self = .line(includeSeparator: false)
        case 3: self = .line(includeSeparator: true)
        case 4: self = .lineSeparatedBySemicolon
        case 5: self = .char
        case 6: self = .peekThenChar
        default: self = .bytes(Int(byte / 8 % 8) + 1)
        }
    }

    var description: String {
        switch self {
        case .line(let include): include ? "readLine(includeSeparator)" : "readLine"
        case .lineSeparatedBySemicolon: "readLine(;)"
        case .char: "readChar"
        case .peekThenChar: "peekChar+readChar"
        case .bytes(let n): "readBytes(\(n))"
        }
    }
}

/// What a read produced: the sequence of these is what chunkings must agree on.
enum ReadEvent: Equatable, CustomStringConvertible {
    case line(String)
    case char(Unicode.Scalar)
    case bytes([UInt8])
    /// A thrown ``StreamPortError``: its code and, for decoding errors, the byte offset.
    case failure(StreamPortError.Code, Int?)
    /// The read returned nil: end of stream.
    case end

    var description: String {
        switch self {
        case .line(let text): "line[\(scalars(text))]"
        case .char(let scalar): "char[\(String(scalar.value, radix: 16))]"
        case .bytes(let bytes): "bytes[\(hex(bytes))]"
        case .failure(let code, let offset): "\(code)\(offset.map { "@\($0)" } ?? "")"
        case .end: "end"
        }
    }
}

/// Runs `ops` round and round on `stream` until a read reports the end of the stream, and
/// records every result. Fails the run when the reader stops making progress (more reads than
/// the input could ever satisfy) or when the end of stream is not sticky.
func runReads(
    _ ops: [ReadOp], on stream: ClientStream, maxLength: Int?, inputSize: Int, label: String
) async -> [ReadEvent] {
    var events: [ReadEvent] = []
    var step = 0
    while true {
        require(step <= 4 * inputSize + 16, "\(label): \(step) reads and no end of stream: \(events)")
        let op = ops[step % ops.count]
        step += 1
        do {
            if let event = try await read(op, stream, maxLength: maxLength, label: label) {
                events.append(event)
                continue
            }
        } catch let error as StreamPortError {
            events.append(.failure(error.code, error.transcoderError?.byteOffset))
            continue
        } catch {
            fail("\(label): \(op) threw \(error), not a StreamPortError")
        }
        events.append(.end)
        break
    }
    // The end stays the end, for every kind of read.
    do {
        let line = try await stream.readLine()
        let char = try await stream.readChar()
        let bytes = try await stream.readBytes(1)
        require(
            line == nil && char == nil && bytes == nil,
            "\(label): reads after the end gave \(String(describing: line)), \(String(describing: char)), \(String(describing: bytes))"
        )
    } catch {
        fail("\(label): a read after the end threw \(error)")
    }
    require(stream.eof, "\(label): eof is false after the end of stream")
    return events
}

/// One read; nil at the end of stream.
private func read(_ op: ReadOp, _ stream: ClientStream, maxLength: Int?, label: String) async throws -> ReadEvent? {
    switch op {
    case .line(let include):
        return try await stream.readLine(includeSeparator: include, maxLength: maxLength).map(ReadEvent.line)
    case .lineSeparatedBySemicolon:
        return try await stream.readLine(separator: ";", maxLength: maxLength).map(ReadEvent.line)
    case .char:
        return try await stream.readChar().map(ReadEvent.char)
    case .peekThenChar:
        let peeked = try await stream.peekChar()
        let read = try await stream.readChar()
        require(
            peeked == read,
            "\(label): peekChar gave \(String(describing: peeked)), readChar \(String(describing: read))")
        return read.map(ReadEvent.char)
    case .bytes(let count):
        return try await stream.readBytes(count).map(ReadEvent.bytes)
    }
}
