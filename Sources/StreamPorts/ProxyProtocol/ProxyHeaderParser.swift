import NIOCore

/// Reads the PROXY protocol header (version 1 or 2) at the start of a connection, from bytes
/// as they arrive, and says how many of them it took: the rest belong to the stream.
///
/// It never guesses whether a header is there: the first byte must start `"PROXY "` (v1) or
/// the 12-byte v2 signature `\r\n\r\n\0\r\nQUIT\n`, and every following byte must keep the
/// input a possible header; it throws at the first byte that cannot (a v1 line's fields are
/// checked once its CRLF is in, as the specification asks).
///
/// ```swift
/// var parser = ProxyHeaderParser()
/// switch try parser.parse(chunk) {
/// case .needMoreData: break                       // all of chunk was taken; wait for more
/// case .header(let header, let consumed): use(header, rest: chunk[consumed...])
/// }
/// ```
///
/// Rules beyond the letter of the specification, all strict:
/// - v1: at most 107 bytes with the CRLF; single spaces; `TCP4` addresses dotted decimal
///   without leading zeros, `TCP6` addresses RFC 4291 text (1–4 hex digits per group, one
///   `::`, an IPv4 tail allowed; no zone); ports 0–65535 without leading zeros; a CR or LF
///   alone anywhere is an error. After `UNKNOWN` anything up to the CRLF is ignored.
/// - v2: the version nibble is 2, the command 0 (LOCAL) or 1 (PROXY); the family/transport
///   byte is one of 0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32 (the combinations the
///   specification lists); the length covers the family's address block (0, 12, 36 or 216
///   bytes) and TLVs that end exactly at the header's end; a CRC32C TLV has 4 bytes, appears
///   once and matches; a unique ID has at most 128 bytes; an SSL TLV has its 5 fixed bytes and
///   sub-TLVs that fit exactly. LOCAL headers are checked the same way; their addresses are
///   dropped (the connection keeps its real endpoints).
///
/// It keeps at most one header's bytes (never the bytes after it), allocates once per header,
/// and is ready for another connection after returning a header or throwing.
public struct ProxyHeaderParser: Sendable {
    /// The outcome of feeding bytes.
    public enum Result: Sendable, Hashable {
        /// The header is not complete: every byte given was taken (and kept).
        case needMoreData
        /// The header is complete; the first `consumed` bytes of the last call's input were
        /// its end, and the bytes after them belong to the stream.
        case header(ProxyHeader, consumed: Int)
    }

    /// A version 1 line's limit with its CRLF: `PROXY UNKNOWN` and two full IPv6 addresses.
    public static let maximumV1Length = 107
    /// The largest header the v2 format can describe: 16 bytes and a 16-bit length.
    public static let maximumV2Length = 16 + 0xFFFF
    /// The smallest accepted limit: a v2 UNIX header without TLVs (and any v1 line).
    public static let minimumLimit = 16 + 216

    /// The longest v2 header accepted, in bytes with its 16-byte preamble.
    public let maximumLength: Int

    private var buffer: [UInt8] = []
    /// A v2 header's whole length once its first 16 bytes are in; 0 before (and for v1).
    private var total = 0

    private static let v1Prefix = Array("PROXY ".utf8)
    private static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// Creates a parser.
    /// - Parameter maximumLength: the longest v2 header to accept, clamped to
    ///   ``minimumLimit``…``maximumV2Length``. The default accepts every header the format can
    ///   express (65,551 bytes); the sender is trusted and the header timeout bounds how long
    ///   that memory is held, so a lower limit only guards against a faulty balancer.
    public init(maximumLength: Int = ProxyHeaderParser.maximumV2Length) {
        self.maximumLength = min(max(maximumLength, Self.minimumLimit), Self.maximumV2Length)
    }

    /// Feeds the next bytes of the connection.
    /// - Parameter bytes: bytes received after those of earlier calls.
    /// - Returns: `.needMoreData` (all of `bytes` taken) or the header and how many of
    ///   `bytes` it took.
    /// - Throws: ``StreamPortError`` `.operation` when the bytes are not a valid header, with
    ///   a message naming the reason and showing the header's first bytes (at most 32) in hex.
    ///   The parser is then reset.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) throws(StreamPortError) -> Result {
        do {
            return try take(bytes)
        } catch {
            reset()
            throw error
        }
    }

    /// Feeds the readable bytes of `buffer` (which is not changed: move its reader index by
    /// `consumed` when a header is returned).
    /// - Parameter buffer: bytes received after those of earlier calls.
    /// - Returns: `.needMoreData` (all readable bytes taken) or the header and how many of the
    ///   readable bytes it took.
    /// - Throws: ``StreamPortError`` `.operation` when the bytes are not a valid header.
    public mutating func parse(_ buffer: ByteBuffer) throws(StreamPortError) -> Result {
        try buffer.withUnsafeReadableBytes { bytes in
            Swift.Result { () throws(StreamPortError) in try parse(bytes) }
        }.get()
    }

    private mutating func reset() {
        buffer = []
        total = 0
    }

    private mutating func take(_ bytes: UnsafeRawBufferPointer) throws(StreamPortError) -> Result {
        var taken = 0
        while taken < bytes.count {
            if total > 0 {
                // A v2 header of known length: copy what is missing, no more.
                let count = min(total - buffer.count, bytes.count - taken)
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[taken..<taken + count]))
                taken += count
            } else {
                if buffer.isEmpty { buffer.reserveCapacity(Self.maximumV1Length) }
                buffer.append(bytes[taken])
                taken += 1
                if try step() {
                    let header = try Self.withBytes(buffer, Self.decodeV1)
                    reset()
                    return .header(header, consumed: taken)
                }
            }
            if total > 0 && buffer.count == total {
                let header = try Self.withBytes(buffer, Self.decodeV2)
                reset()
                return .header(header, consumed: taken)
            }
        }
        return .needMoreData
    }

    /// Checks the byte just appended; true when it completes a v1 line.
    private mutating func step() throws(StreamPortError) -> Bool {
        let count = buffer.count
        let byte = buffer[count - 1]
        switch buffer[0] {
        case Self.v2Signature[0]:
            switch count {
            case 1...12:
                guard byte == Self.v2Signature[count - 1] else { throw Self.notAHeader(buffer) }
            case 13:
                guard byte >> 4 == 2 else { throw Self.malformed("version \(byte >> 4), not 2", buffer) }
                guard byte & 0x0F <= 1 else {
                    throw Self.malformed("command \(byte & 0x0F), neither LOCAL (0) nor PROXY (1)", buffer)
                }
            case 14:
                guard Self.addressLength(byte) != nil else {
                    throw Self.malformed(
                        "family and transport byte 0x\(Self.hexByte(byte)) is not one of 00, 11, 12, 21, 22, 31, 32",
                        buffer)
                }
            case 16:
                let length = Int(buffer[14]) << 8 | Int(buffer[15])
                let addresses = Self.addressLength(buffer[13]) ?? 0
                guard 16 + length <= maximumLength else {
                    throw Self.malformed(
                        "it declares \(16 + length) bytes, more than the limit of \(maximumLength)", buffer)
                }
                guard length >= addresses else {
                    throw Self.malformed(
                        "its length \(length) is shorter than the \(addresses)-byte address block", buffer)
                }
                total = 16 + length
                buffer.reserveCapacity(total)
            default:
                break
            }
            return false
        case Self.v1Prefix[0]:
            if count <= Self.v1Prefix.count {
                guard byte == Self.v1Prefix[count - 1] else { throw Self.notAHeader(buffer) }
                return false
            }
            let previous = buffer[count - 2]
            if byte == 0x0A {
                guard previous == 0x0D else {
                    throw Self.malformed("a line feed without a carriage return before it", buffer)
                }
                return true
            }
            guard previous != 0x0D else {
                throw Self.malformed("a carriage return not followed by a line feed", buffer)
            }
            guard count < Self.maximumV1Length else {
                throw Self.malformed(
                    "no CRLF within the first \(Self.maximumV1Length) bytes of a version 1 line", buffer)
            }
            return false
        default:
            throw Self.notAHeader(buffer)
        }
    }

    /// The address block's length for a v2 family/transport byte, nil for an invalid byte.
    private static func addressLength(_ familyByte: UInt8) -> Int? {
        switch familyByte {
        case 0x00: 0
        case 0x11, 0x12: 12
        case 0x21, 0x22: 36
        case 0x31, 0x32: 216
        default: nil
        }
    }

    // MARK: - Version 1

    private static func decodeV1(_ header: UnsafeRawBufferPointer) throws(StreamPortError) -> ProxyHeader {
        let line = header[v1Prefix.count..<header.count - 2]
        let fields = line.split(separator: 0x20, maxSplits: 5, omittingEmptySubsequences: false)
        let family: ProxyHeader.Family
        if fields[0].elementsEqual("UNKNOWN".utf8) {
            return ProxyHeader(version: 1, command: .proxy, family: .unspecified, transport: .unspecified)
        } else if fields[0].elementsEqual("TCP4".utf8) {
            family = .inet
        } else if fields[0].elementsEqual("TCP6".utf8) {
            family = .inet6
        } else {
            throw malformed("the protocol is not TCP4, TCP6 or UNKNOWN followed by a space", header)
        }
        guard fields.count == 5 else {
            throw malformed(
                "expected \"PROXY \(family == .inet ? "TCP4" : "TCP6") SOURCE DESTINATION SOURCE-PORT DESTINATION-PORT\" with single spaces",
                header)
        }
        func address(_ field: Slice<UnsafeRawBufferPointer>, _ role: String) throws(StreamPortError) -> String {
            if family == .inet, let bytes = ProxyIPText.parseIPv4(field) { return ProxyIPText.formatIPv4(bytes) }
            if family == .inet6, let bytes = ProxyIPText.parseIPv6(field) { return ProxyIPText.formatIPv6(bytes) }
            throw malformed(
                "the \(role) address is not \(family == .inet ? "a dotted-decimal IPv4 address without leading zeros" : "an IPv6 address")",
                header)
        }
        func port(_ field: Slice<UnsafeRawBufferPointer>, _ role: String) throws(StreamPortError) -> Int {
            guard let port = ProxyIPText.parsePort(field) else {
                throw malformed("the \(role) port is not a decimal number 0-65535 without leading zeros", header)
            }
            return port
        }
        let source = ProxyHeader.Endpoint.ip(
            address: try address(fields[1], "source"), port: try port(fields[3], "source"))
        let destination = ProxyHeader.Endpoint.ip(
            address: try address(fields[2], "destination"), port: try port(fields[4], "destination"))
        return ProxyHeader(
            version: 1, command: .proxy, family: family, transport: .stream, source: source, destination: destination)
    }

    // MARK: - Version 2

    private static func decodeV2(_ header: UnsafeRawBufferPointer) throws(StreamPortError) -> ProxyHeader {
        let command: ProxyHeader.Command = header[12] & 0x0F == 0 ? .local : .proxy
        let familyByte = header[13]
        let family: ProxyHeader.Family =
            switch familyByte >> 4 {
            case 1: .inet
            case 2: .inet6
            case 3: .unix
            default: .unspecified
            }
        let transport: ProxyHeader.Transport =
            switch familyByte & 0x0F {
            case 1: .stream
            case 2: .datagram
            default: .unspecified
            }
        func uint16(_ at: Int) -> Int { Int(header[at]) << 8 | Int(header[at + 1]) }
        var source: ProxyHeader.Endpoint?
        var destination: ProxyHeader.Endpoint?
        if command == .proxy {
            switch family {
            case .inet:
                source = .ip(address: ProxyIPText.formatIPv4(header[16..<20]), port: uint16(24))
                destination = .ip(address: ProxyIPText.formatIPv4(header[20..<24]), port: uint16(26))
            case .inet6:
                source = .ip(address: ProxyIPText.formatIPv6(header[16..<32]), port: uint16(48))
                destination = .ip(address: ProxyIPText.formatIPv6(header[32..<48]), port: uint16(50))
            case .unix:
                source = .unix(path: unixPath(header[16..<124]))
                destination = .unix(path: unixPath(header[124..<232]))
            case .unspecified:
                break
            }
        }
        let start = 16 + (addressLength(familyByte) ?? 0)
        let tlvs: [ProxyHeader.TLV]
        do {
            tlvs = try readTLVs(header, start..<header.count, "TLV")
        } catch {
            throw malformed(error.reason, header)
        }
        var checksumOffset: Int?
        var offset = start
        for tlv in tlvs {
            switch tlv.type {
            case ProxyHeader.TLVType.crc32c:
                guard tlv.value.count == 4 else {
                    throw malformed("the CRC32C TLV has \(tlv.value.count) bytes, not 4", header)
                }
                guard checksumOffset == nil else { throw malformed("more than one CRC32C TLV", header) }
                checksumOffset = offset + 3
            case ProxyHeader.TLVType.uniqueID:
                guard tlv.value.count <= 128 else {
                    throw malformed("the unique ID TLV has \(tlv.value.count) bytes, more than 128", header)
                }
            case ProxyHeader.TLVType.ssl:
                do {
                    _ = try withBytes(tlv.value, decodeSSL)
                } catch {
                    throw malformed(error.reason, header)
                }
            default:
                break
            }
            offset += 3 + tlv.value.count
        }
        if let checksumOffset {
            let sent =
                UInt32(header[checksumOffset]) << 24 | UInt32(header[checksumOffset + 1]) << 16
                | UInt32(header[checksumOffset + 2]) << 8 | UInt32(header[checksumOffset + 3])
            let computed = CRC32C.checksum(header, zeroing: checksumOffset)
            guard sent == computed else {
                throw malformed(
                    "CRC32C mismatch: the header says \(hex32(sent)), its bytes give \(hex32(computed))", header)
            }
        }
        return ProxyHeader(
            version: 2, command: command, family: family, transport: transport,
            source: source, destination: destination, tlvs: tlvs)
    }

    /// The TLVs filling `range` of `bytes` exactly.
    static func readTLVs(
        _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ what: String
    ) throws(ProxyTLVProblem) -> [ProxyHeader.TLV] {
        var tlvs: [ProxyHeader.TLV] = []
        var index = range.lowerBound
        while index < range.upperBound {
            let left = range.upperBound - index
            guard left >= 3 else {
                throw ProxyTLVProblem(
                    reason: "\(left) byte\(left == 1 ? "" : "s") left at offset \(index), too few for a \(what)")
            }
            let type = bytes[index]
            let length = Int(bytes[index + 1]) << 8 | Int(bytes[index + 2])
            guard length <= left - 3 else {
                throw ProxyTLVProblem(
                    reason:
                        "\(what) type 0x\(hexByte(type)) at offset \(index) declares \(length) bytes, only \(left - 3) follow"
                )
            }
            tlvs.append(ProxyHeader.TLV(type: type, value: Array(bytes[(index + 3)..<(index + 3 + length)])))
            index += 3 + length
        }
        return tlvs
    }

    /// The `PP2_TYPE_SSL` value: a client byte, a 32-bit verify field and sub-TLVs.
    static func decodeSSL(_ value: UnsafeRawBufferPointer) throws(ProxyTLVProblem) -> ProxyHeader.SSL {
        guard value.count >= 5 else {
            throw ProxyTLVProblem(reason: "the SSL TLV has \(value.count) bytes, fewer than its 5 fixed ones")
        }
        let verify = value[1...4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let sub = try readTLVs(value, 5..<value.count, "SSL sub-TLV")
        return ProxyHeader.SSL(client: .init(rawValue: value[0]), verify: verify, subTLVs: sub)
    }

    /// A 108-byte `sun_path`: the bytes before the first NUL; a leading NUL (an abstract
    /// socket) as `@name`; all zeros as "".
    private static func unixPath(_ bytes: Slice<UnsafeRawBufferPointer>) -> String {
        if bytes.first == 0 {
            let name = bytes.dropFirst().prefix { $0 != 0 }
            return name.isEmpty ? "" : "@" + String(decoding: name, as: UTF8.self)
        }
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// `array.withUnsafeBytes(body)`, keeping `body`'s typed error (`withUnsafeBytes` rethrows
    /// `any Error`).
    static func withBytes<T, E: Error>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T
    {
        try array.withUnsafeBytes { bytes in Swift.Result { () throws(E) in try body(bytes) } }.get()
    }

    // MARK: - Errors

    private static func notAHeader(_ bytes: [UInt8]) -> StreamPortError {
        malformed("it starts neither with \"PROXY \" (version 1) nor with the version 2 signature", bytes)
    }

    /// Every error of the parser is made here: the reason, and the header's first bytes (at
    /// most 32) in hex, so that a peer's bytes never appear raw in a message or a log.
    private static func malformed(_ reason: String, _ bytes: some Collection<UInt8>) -> StreamPortError {
        var shown = bytes.prefix(32).map(hexByte).joined(separator: " ")
        if bytes.count > 32 { shown += " … (\(bytes.count) bytes)" }
        return StreamPortError(.proxyHeader, "invalid PROXY protocol header: \(reason) [\(shown)]")
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }

    private static func hex32(_ value: UInt32) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return "0x" + String(repeating: "0", count: 8 - text.count) + text
    }
}

/// Why TLV bytes do not parse (made into a ``StreamPortError`` by the parser's one factory).
struct ProxyTLVProblem: Error {
    var reason: String
}
