/// UTF-8 sequence classification with Unicode's maximal-subpart rule (Table 3-7), used where
/// input is not valid and the error mode decides what happens.
enum UTF8Sequence {
    /// The outcome of looking at the bytes at one position.
    enum Outcome: Equatable {
        /// A valid sequence of this many bytes.
        case valid(Int)
        /// An invalid maximal subpart of this many bytes.
        case invalid(Int)
        /// A valid prefix that the input ends inside of.
        case incomplete
    }

    /// Classifies the sequence starting at `i` in `bytes[i..<end]`.
    @inline(__always)
    static func classify(_ bytes: UnsafeRawBufferPointer, at i: Int, end: Int) -> Outcome {
        let lead = bytes[i]
        if lead < 0x80 { return .valid(1) }
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return .invalid(1)
        }
        var k = 1
        while k < length {
            let j = i + k
            if j >= end { return .incomplete }
            let b = bytes[j]
            if b < low || b > high { return .invalid(k) }
            low = 0x80
            high = 0xBF
            k += 1
        }
        return .valid(length)
    }

    /// The start of an incomplete sequence at the end of `bytes[0..<end]`, or `end`.
    @inline(__always)
    static func completeEnd(_ bytes: UnsafeRawBufferPointer, end: Int) -> Int {
        var i = end - 1
        let stop = max(0, end - 3)
        while i >= stop {
            let b = bytes[i]
            if b < 0x80 { return end }
            if b >= 0xC0 {  // a lead byte: does its sequence fit?
                return classify(bytes, at: i, end: end) == .incomplete ? i : end
            }
            i -= 1
        }
        return end
    }
}

extension UTF8Sequence {
    /// True when `bytes` is entirely valid UTF-8 (ASCII is checked eight bytes at a time).
    @inline(__always)
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        var i = 0
        let high: UInt64 = 0x8080_8080_8080_8080
        while i < n {
            while i + 32 <= n {
                let a = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let b = bytes.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)
                let c = bytes.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self)
                let d = bytes.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self)
                guard (a | b | c | d) & high == 0 else { break }
                i += 32
            }
            while i + 8 <= n, bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & high == 0 {
                i += 8
            }
            while i < n && bytes[i] < 0x80 { i += 1 }
            guard i < n else { return true }
            guard case .valid(let length) = classify(bytes, at: i, end: n) else { return false }
            i += length
        }
        return true
    }

    /// A `String` of `bytes` when they are valid UTF-8, else nil. (`String(validating:as:)`
    /// is generic and instantiates type metadata on every call; this path does not.)
    @inline(__always)
    static func string(validating bytes: UnsafeRawBufferPointer) -> String? {
        guard isValid(bytes) else { return nil }
        return String(decoding: bytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
    }
}
