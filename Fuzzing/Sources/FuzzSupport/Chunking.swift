/// How a payload is cut into the chunks a stream would deliver, chosen by three header bytes.
///
/// - `kind` 0–199: random sizes 0…`kind % 16 + 1` (empty chunks included), from a SplitMix64
///   seeded with `seed`: small sizes put boundaries inside multi-byte characters, CR LF pairs
///   and BOMs;
/// - 200–239: byte by byte;
/// - 240–255: two pieces, cut at `seed % (count + 1)`.
public struct Chunking: CustomStringConvertible {
    /// The kind byte.
    public let kind: UInt8
    /// The seed (random sizes) or the cut position (two pieces).
    public let seed: UInt16

    /// Reads the plan from the next three header bytes of `input`.
    public init(_ input: inout FuzzInput) {
        kind = input.byte()
        seed = input.uint16()
    }

    public var description: String {
        switch kind {
        case 0..<200: "random sizes 0...\(Int(kind) % 16 + 1), seed \(seed)"
        case 200..<240: "byte by byte"
        default: "two pieces, cut at \(seed)"
        }
    }

    /// The chunks of `bytes`; concatenated they give `bytes` back.
    public func split(_ bytes: [UInt8]) -> [[UInt8]] {
        switch kind {
        case 0..<200:
            let maxSize = Int(kind) % 16 + 1
            var rng = SplitMix64(seed: UInt64(seed))
            var pieces: [[UInt8]] = []
            var i = 0
            while i < bytes.count {
                let end = min(bytes.count, i + Int(rng.next() % UInt64(maxSize + 1)))
                pieces.append(Array(bytes[i..<end]))
                i = end
            }
            return pieces
        case 200..<240:
            return bytes.map { [$0] }
        default:
            let cut = Int(seed) % (bytes.count + 1)
            return [Array(bytes[..<cut]), Array(bytes[cut...])]
        }
    }
}

/// SplitMix64: a tiny deterministic generator, so a fuzz input always replays the same way.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    /// Creates a generator.
    /// - Parameter seed: the starting state.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
