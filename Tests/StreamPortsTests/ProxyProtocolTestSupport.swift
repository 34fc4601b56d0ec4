import Testing

@testable import StreamPorts

/// What a parse of some bytes gave: a header and the bytes it took, more data needed, or an
/// error message.
enum ProxyParseOutcome: Equatable, CustomStringConvertible {
    case header(ProxyHeader, consumed: Int)
    case needMoreData
    case error(String)

    var description: String {
        switch self {
        case .header(let header, let consumed): "header \(header) consumed \(consumed)"
        case .needMoreData: "need more data"
        case .error(let message): "error \(message)"
        }
    }

    var header: ProxyHeader? {
        if case .header(let header, _) = self { header } else { nil }
    }

    var message: String? {
        if case .error(let message) = self { message } else { nil }
    }
}

/// Feeds `bytes` to a new parser in the given chunk sizes (the last chunk takes the rest);
/// `consumed` counts from the start of `bytes`. Stops at the first header or error.
func proxyParse(
    _ bytes: [UInt8], chunks: [Int] = [], maximumLength: Int = ProxyHeaderParser.maximumV2Length
) -> ProxyParseOutcome {
    var parser = ProxyHeaderParser(maximumLength: maximumLength)
    var offset = 0
    var sizes = chunks[...]
    repeat {
        let size = min(sizes.popFirst() ?? bytes.count, bytes.count - offset)
        let chunk = Array(bytes[offset..<offset + size])
        do {
            let result = try chunk.withUnsafeBytes { try parser.parse($0) }
            if case .header(let header, let consumed) = result {
                #expect(consumed >= 0 && consumed <= size, "consumed \(consumed) of \(size)")
                return .header(header, consumed: offset + consumed)
            }
        } catch let error as StreamPortError {
            #expect(error.code == .proxyHeader)
            return .error(error.message)
        } catch {
            Issue.record("unexpected \(error)")
            return .error("\(error)")
        }
        offset += size
    } while offset < bytes.count
    return .needMoreData
}

/// Parses `bytes` at once, one byte at a time and split in two at every position, and
/// expects the same outcome each time; returns it.
@discardableResult
func proxyParseEveryWay(
    _ bytes: [UInt8], maximumLength: Int = ProxyHeaderParser.maximumV2Length,
    sourceLocation: SourceLocation = #_sourceLocation
) -> ProxyParseOutcome {
    let once = proxyParse(bytes, maximumLength: maximumLength)
    let byteByByte = proxyParse(bytes, chunks: Array(repeating: 1, count: bytes.count), maximumLength: maximumLength)
    #expect(byteByByte == once, "byte by byte: \(byteByByte)\nat once: \(once)", sourceLocation: sourceLocation)
    if bytes.count <= 300 {
        for split in 0...bytes.count {
            let twice = proxyParse(bytes, chunks: [split], maximumLength: maximumLength)
            #expect(twice == once, "split at \(split): \(twice)\nat once: \(once)", sourceLocation: sourceLocation)
        }
    }
    return once
}

/// Expects `bytes` to be a header followed by `trailing` bytes; returns the header.
@discardableResult
func expectProxyHeader(
    _ bytes: [UInt8], trailing: Int = 0, sourceLocation: SourceLocation = #_sourceLocation
) -> ProxyHeader? {
    let outcome = proxyParseEveryWay(bytes, sourceLocation: sourceLocation)
    guard case .header(_, let consumed) = outcome else {
        Issue.record("no header: \(outcome)", sourceLocation: sourceLocation)
        return nil
    }
    #expect(
        consumed == bytes.count - trailing, "consumed \(consumed) of \(bytes.count)", sourceLocation: sourceLocation)
    // Without the trailing bytes, one byte short of the header is not yet an error.
    let headerBytes = Array(bytes[..<consumed])
    #expect(proxyParse(Array(headerBytes.dropLast())) == .needMoreData, sourceLocation: sourceLocation)
    return outcome.header
}

/// Expects `bytes` to be rejected with a message naming `reason`, showing the bytes in hex,
/// and free of raw control characters.
func expectProxyError(
    _ bytes: [UInt8], _ reason: String, maximumLength: Int = ProxyHeaderParser.maximumV2Length,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let outcome = proxyParseEveryWay(bytes, maximumLength: maximumLength, sourceLocation: sourceLocation)
    guard let message = outcome.message else {
        Issue.record("not rejected: \(outcome)", sourceLocation: sourceLocation)
        return
    }
    #expect(message.hasPrefix("invalid PROXY protocol header: "), "\(message)", sourceLocation: sourceLocation)
    #expect(message.contains(reason), "\(message)", sourceLocation: sourceLocation)
    #expect(message.contains("[" + proxyHex(bytes.prefix(1))), "\(message)", sourceLocation: sourceLocation)
    #expect(
        !message.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "\(message.debugDescription)",
        sourceLocation: sourceLocation)
}

/// `"50 52"`.
func proxyHex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16, uppercase: true) }.joined(separator: " ")
}

/// Bytes from hex digits (spaces ignored).
func proxyBytes(hex: String) -> [UInt8] {
    let digits = Array(hex.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// The v2 signature.
let proxyV2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

/// A v2 header: signature, version 2 and `command`, `family`, length, `block` (addresses and
/// TLVs). With `crc`, a CRC32C TLV is appended and filled in (by the bitwise reference below).
func proxyV2(command: UInt8 = 1, family: UInt8, _ block: [UInt8], crc: Bool = false) -> [UInt8] {
    let body = block + (crc ? [0x03, 0x00, 0x04, 0, 0, 0, 0] : [])
    var header = proxyV2Signature + [0x20 | command, family, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    if crc {
        let value = bitwiseCRC32C(header)
        header.replaceSubrange(
            (header.count - 4)...,
            with: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
    }
    return header
}

/// A TLV's bytes.
func proxyTLV(_ type: UInt8, _ value: [UInt8]) -> [UInt8] {
    [type, UInt8(value.count >> 8), UInt8(value.count & 0xFF)] + value
}

/// A TLV's bytes from text.
func proxyTLV(_ type: UInt8, _ value: String) -> [UInt8] { proxyTLV(type, Array(value.utf8)) }

/// CRC-32C bit by bit from its definition (reflected 0x82F63B78), independent of the
/// library's table.
func bitwiseCRC32C(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 0 ? 0 : 0x82F6_3B78) }
    }
    return ~crc
}
