import Transcoders

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
        let size = Int.random(in: 0...maxSize, using: &rng)  // empty chunks included
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
