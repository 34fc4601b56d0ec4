/// `"61 0D 0A"`: bytes in hex, for readable failures.
/// - Parameter bytes: the bytes.
public func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789ABCDEF")
    return bytes.map { String([digits[Int($0 >> 4)], digits[Int($0 & 0xF)]]) }.joined(separator: " ")
}

/// The scalars of `text` as hex code points, for messages about invisible differences.
/// - Parameter text: the text.
public func scalars(_ text: String) -> String {
    text.unicodeScalars.map { String($0.value, radix: 16, uppercase: true) }.joined(separator: " ")
}

/// The first 64 bytes in hex, with `…` when there are more, for failure messages.
/// - Parameter bytes: the bytes.
public func preview(_ bytes: [UInt8]) -> String {
    hex(bytes.prefix(64)) + (bytes.count > 64 ? " …" : "")
}
