import Testing
@testable import Transcoders

/// A deterministic RNG (SplitMix64) so random chunkings are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// `"61 0D 0A"` for readable failures.
func hex(_ bytes: [UInt8]) -> String { bytes.map { hexByte($0) }.joined(separator: " ") }

/// A decoding error reduced to what tests compare.
struct DecodeFailure: Equatable, CustomStringConvertible {
    var offset: Int
    var bytes: [UInt8]
    var description: String { "@\(offset) [\(hex(bytes))]" }
}

/// Splits `bytes` into chunks of the given sizes (the last chunk takes the rest).
func chunks(_ bytes: [UInt8], sizes: [Int]) -> [[UInt8]] {
    var result: [[UInt8]] = []
    var i = 0
    for size in sizes where i < bytes.count {
        let end = min(bytes.count, i + size)
        result.append(Array(bytes[i..<end]))
        i = end
    }
    if i < bytes.count { result.append(Array(bytes[i...])) }
    return result
}

func splitAt(_ bytes: [UInt8], _ i: Int) -> [[UInt8]] { [Array(bytes[..<i]), Array(bytes[i...])] }

func byteByByte(_ bytes: [UInt8]) -> [[UInt8]] { bytes.map { [$0] } }

func randomChunks(_ bytes: [UInt8], rng: inout SplitMix64, maxSize: Int = 7) -> [[UInt8]] {
    var sizes: [Int] = []
    var total = 0
    while total < bytes.count {
        let size = Int.random(in: 0...maxSize, using: &rng)   // empty chunks included
        sizes.append(size)
        total += size
    }
    var result: [[UInt8]] = []
    var i = 0
    for size in sizes {
        let end = min(bytes.count, i + size)
        result.append(Array(bytes[i..<end]))
        i = end
    }
    return result
}

/// Decodes `pieces` with a TextDecoder; in `.raise` mode errors are collected and decoding
/// resumes after the offending bytes (using `bytesAccepted`).
func streamDecode(_ t: Transcoder, _ pieces: [[UInt8]]) throws -> (text: String, errors: [DecodeFailure]) {
    let decoder = try t.makeDecoder()
    var text = ""
    var errors: [DecodeFailure] = []
    for piece in pieces {
        var rest = piece[...]
        var guardCount = 0
        while true {
            let before = decoder.bytesAccepted
            do {
                try decoder.decode(Array(rest), into: &text)
                break
            } catch {
                #expect(error.code == .decoding)
                errors.append(DecodeFailure(offset: error.byteOffset ?? -1, bytes: error.bytes))
                let used = decoder.bytesAccepted - before
                #expect(used >= 0 && used <= rest.count, "bytesAccepted moved by \(used) of \(rest.count)")
                rest = rest.dropFirst(max(0, used))
                guardCount += 1
                if guardCount > piece.count + 2 { Issue.record("decoder does not make progress"); break }
            }
        }
    }
    for _ in 0..<4 {
        do {
            try decoder.finish(into: &text)
            break
        } catch {
            errors.append(DecodeFailure(offset: error.byteOffset ?? -1, bytes: error.bytes))
        }
    }
    return (text, errors)
}

/// Decodes `pieces` with a ScalarDecoder (ICU for every codec), resuming after errors.
func scalarDecode(_ t: Transcoder, _ pieces: [[UInt8]]) throws -> (text: String, offsets: [Int], errors: [DecodeFailure]) {
    let decoder = try ScalarDecoder(t)
    var scalars: [Unicode.Scalar] = []
    var offsets: [Int] = []
    var errors: [DecodeFailure] = []
    var streamOffset = 0
    for (index, piece) in pieces.enumerated() {
        let final = index == pieces.count - 1
        var rest = piece[...]
        var guardCount = 0
        while true {
            let (consumed, error) = Array(rest).withUnsafeBytes {
                decoder.decode($0, streamOffset: streamOffset, final: final, scalars: &scalars, offsets: &offsets)
            }
            streamOffset += consumed
            rest = rest.dropFirst(consumed)
            guard let error else { break }
            errors.append(DecodeFailure(offset: error.byteOffset ?? -1, bytes: error.bytes))
            guardCount += 1
            if guardCount > piece.count + 2 { Issue.record("scalar decoder does not make progress"); break }
            if rest.isEmpty && !final { break }
        }
    }
    if pieces.isEmpty {
        _ = decoder.decode(UnsafeRawBufferPointer(start: nil, count: 0), streamOffset: 0, final: true, scalars: &scalars, offsets: &offsets)
    }
    var text = ""
    text.unicodeScalars.append(contentsOf: scalars)
    return (text, offsets, errors)
}

/// Encodes `pieces` with a TextEncoder and finishes.
func streamEncode(_ t: Transcoder, _ pieces: [String]) throws -> [UInt8] {
    let encoder = try t.makeEncoder()
    var bytes: [UInt8] = []
    for piece in pieces { try encoder.encode(piece, into: &bytes) }
    try encoder.finish(into: &bytes)
    return bytes
}

/// Splits a string into pieces at every `step`-th character.
func characterPieces(_ text: String, cuts: [Int]) -> [String] {
    var pieces: [String] = []
    var rest = Substring(text)
    for cut in cuts {
        let head = rest.prefix(cut)
        pieces.append(String(head))
        rest = rest.dropFirst(head.count)
    }
    pieces.append(String(rest))
    return pieces
}
