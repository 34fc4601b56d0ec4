import Testing

@testable import StreamPorts

/// 192.0.2.1:56324 → 198.51.100.7:443.
private let inetBlock: [UInt8] = [192, 0, 2, 1, 198, 51, 100, 7, 0xDC, 0x04, 0x01, 0xBB]
/// [2001:db8::1]:1 → [::ffff:10.1.2.3]:65535.
private let inet6Block: [UInt8] =
    [0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11) + [1]
    + Array(repeating: 0, count: 10) + [0xFF, 0xFF, 10, 1, 2, 3] + [0, 1, 0xFF, 0xFF]

/// Malformed v2 headers and the reason each is rejected for.
private let malformedV2Headers: [([UInt8], String)] = {
    var cases: [([UInt8], String)] = []
    cases.append((proxyV2Signature + [0x11, 0x11, 0, 12] + inetBlock, "version 1, not 2"))
    cases.append((proxyV2Signature + [0x22, 0x11, 0, 12] + inetBlock, "command 2, neither LOCAL (0) nor PROXY (1)"))
    cases.append((proxyV2Signature + [0x21, 0x13, 0, 12] + inetBlock, "family and transport byte 0x13 is not one of"))
    cases.append((proxyV2Signature + [0x21, 0x41, 0, 12] + inetBlock, "family and transport byte 0x41"))
    cases.append((proxyV2Signature + [0x21, 0x10, 0, 12] + inetBlock, "family and transport byte 0x10"))
    cases.append((proxyV2Signature + [0x20, 0x01, 0, 0], "family and transport byte 0x01"))
    cases.append(
        (
            proxyV2Signature + [0x21, 0x11, 0, 11] + inetBlock.prefix(11),
            "its length 11 is shorter than the 12-byte address block"
        ))
    cases.append(
        (proxyV2Signature + [0x21, 0x21, 0, 35] + inet6Block.prefix(35), "shorter than the 36-byte address block"))
    cases.append(
        (
            proxyV2Signature + [0x20, 0x31, 0, 215] + Array(repeating: 0, count: 215),
            "shorter than the 216-byte address block"
        ))
    cases.append(
        (
            proxyV2(family: 0x11, inetBlock + [0x01, 0x00, 0x05, 0x68, 0x32]),
            "TLV type 0x01 at offset 28 declares 5 bytes, only 2 follow"
        ))
    cases.append((proxyV2(family: 0x11, inetBlock + [0x01, 0x00]), "2 bytes left at offset 28, too few for a TLV"))
    cases.append(
        (
            proxyV2(family: 0x11, inetBlock + proxyTLV(0x20, [0, 0, 0, 0])),
            "the SSL TLV has 4 bytes, fewer than its 5 fixed ones"
        ))
    cases.append(
        (
            proxyV2(family: 0x11, inetBlock + proxyTLV(0x20, [1, 0, 0, 0, 0, 0x21, 0, 9, 0x54])),
            "SSL sub-TLV type 0x21 at offset 5 declares 9 bytes, only 1 follow"
        ))
    cases.append(
        (
            proxyV2(family: 0x11, inetBlock + proxyTLV(0x05, Array(repeating: 7, count: 129))),
            "the unique ID TLV has 129 bytes, more than 128"
        ))
    return cases
}()

/// The PROXY protocol version 2 (binary) parser, on bytes built here: every family, LOCAL,
/// each TLV type, CRC32C right and wrong, truncated and over-long headers.
@Suite("PROXY protocol v2")
struct ProxyProtocolV2Tests {
    static func unixPath(_ path: [UInt8]) -> [UInt8] { path + Array(repeating: 0, count: 108 - path.count) }

    @Test func inetStreamWithTrailingBytes() {
        let header = expectProxyHeader(proxyV2(family: 0x11, inetBlock) + Array("hello\n".utf8), trailing: 6)
        #expect(
            header
                == ProxyHeader(
                    version: 2, command: .proxy, family: .inet, transport: .stream,
                    source: .ip(address: "192.0.2.1", port: 56324),
                    destination: .ip(address: "198.51.100.7", port: 443)))
        #expect(header?.source?.socketAddress?.port == 56324)
    }

    @Test func inetDatagram() {
        let header = expectProxyHeader(proxyV2(family: 0x12, inetBlock))
        #expect(header?.family == .inet && header?.transport == .datagram)
    }

    @Test func inet6() {
        let header = expectProxyHeader(proxyV2(family: 0x21, inet6Block))
        #expect(header?.family == .inet6 && header?.transport == .stream)
        #expect(header?.source == .ip(address: "2001:db8::1", port: 1))
        #expect(header?.destination == .ip(address: "::ffff:10.1.2.3", port: 65535))
        #expect(expectProxyHeader(proxyV2(family: 0x22, inet6Block))?.transport == .datagram)
    }

    @Test func unix() {
        let block = Self.unixPath(Array("/run/haproxy.sock".utf8)) + Self.unixPath([0] + Array("abstract".utf8))
        let header = expectProxyHeader(proxyV2(family: 0x31, block))
        #expect(header?.family == .unix && header?.transport == .stream)
        #expect(header?.source == .unix(path: "/run/haproxy.sock"))
        #expect(header?.destination == .unix(path: "@abstract"))
        #expect(header?.source?.socketAddress != nil && header?.destination?.socketAddress == nil)
        let unnamed = expectProxyHeader(proxyV2(family: 0x32, Self.unixPath([]) + Self.unixPath([])))
        #expect(unnamed?.transport == .datagram && unnamed?.source == .unix(path: ""))
    }

    @Test func localKeepsTheRealEndpoints() {
        let bare = expectProxyHeader(proxyV2(command: 0, family: 0x00, []) + [0x47], trailing: 1)
        #expect(bare == ProxyHeader(version: 2, command: .local, family: .unspecified, transport: .unspecified))
        // The family and addresses of a LOCAL header are ignored, its TLVs checked and kept.
        let addressed = expectProxyHeader(proxyV2(command: 0, family: 0x11, inetBlock + proxyTLV(0x04, []), crc: true))
        #expect(addressed?.command == .local && addressed?.source == nil && addressed?.destination == nil)
        #expect(addressed?.tlvs.count == 2)
    }

    @Test func proxyWithUnspecifiedFamilyHasNoAddresses() {
        let header = expectProxyHeader(proxyV2(family: 0x00, proxyTLV(0x05, "id")))
        #expect(header?.command == .proxy && header?.family == .unspecified && header?.source == nil)
        #expect(header?.uniqueID == Array("id".utf8))
    }

    @Test func everyTLVType() {
        let ssl =
            [0x07, 0, 0, 0, 0] + proxyTLV(0x21, "TLSv1.3") + proxyTLV(0x22, "client.example")
            + proxyTLV(0x23, "ECDHE-RSA-AES128-GCM-SHA256") + proxyTLV(0x24, "RSA-SHA256") + proxyTLV(0x25, "RSA2048")
        let id = (0..<128).map { UInt8($0) }
        let block =
            inetBlock + proxyTLV(0x01, "h2") + proxyTLV(0x02, "example.com") + proxyTLV(0x04, [0, 0, 0])
            + proxyTLV(0x05, id) + proxyTLV(0x20, ssl) + proxyTLV(0x30, "blue") + proxyTLV(0xE0, [1, 2])
        let bytes = proxyV2(family: 0x11, block, crc: true)
        guard let header = expectProxyHeader(bytes) else { return }
        #expect(header.tlvs.map(\.type) == [0x01, 0x02, 0x04, 0x05, 0x20, 0x30, 0xE0, 0x03])
        #expect(header.alpn == Array("h2".utf8))
        #expect(header.authority == "example.com")
        #expect(header.uniqueID == id)
        #expect(header.netns == "blue")
        #expect(header.value(ofType: 0xE0) == [1, 2])
        #expect(header.value(ofType: 0x04) == [0, 0, 0])
        #expect(header.crc32c == bitwiseCRC32C(Array(bytes.dropLast(4)) + [0, 0, 0, 0]))
        #expect(
            header.ssl
                == ProxyHeader.SSL(
                    client: [.ssl, .certificateOnConnection, .certificateInSession], verify: 0,
                    subTLVs: [
                        .init(type: 0x21, value: Array("TLSv1.3".utf8)),
                        .init(type: 0x22, value: Array("client.example".utf8)),
                        .init(type: 0x23, value: Array("ECDHE-RSA-AES128-GCM-SHA256".utf8)),
                        .init(type: 0x24, value: Array("RSA-SHA256".utf8)),
                        .init(type: 0x25, value: Array("RSA2048".utf8)),
                    ]))
        #expect(header.ssl?.version == "TLSv1.3" && header.ssl?.commonName == "client.example")
        #expect(header.ssl?.cipher == "ECDHE-RSA-AES128-GCM-SHA256")
        #expect(header.ssl?.signatureAlgorithm == "RSA-SHA256" && header.ssl?.keyAlgorithm == "RSA2048")
        #expect(header.ssl?.hasVerifiedCertificate == true)
        let plain = expectProxyHeader(proxyV2(family: 0x11, inetBlock + proxyTLV(0x20, [0, 0, 0, 0, 1])))
        #expect(plain?.ssl?.client == [] && plain?.ssl?.verify == 1 && plain?.ssl?.hasVerifiedCertificate == false)
        #expect(plain?.crc32c == nil && plain?.alpn == nil)
    }

    @Test func crc32cKnownVectorAndTable() {
        #expect(Array("123456789".utf8).withUnsafeBytes { CRC32C.checksum($0) } == 0xE306_9283)
        #expect(bitwiseCRC32C(Array("123456789".utf8)) == 0xE306_9283)
        var bytes: [UInt8] = []
        var state: UInt32 = 1
        for _ in 0..<1000 {
            state = state &* 1_103_515_245 &+ 12345; bytes.append(UInt8(truncatingIfNeeded: state >> 16))
        }
        #expect(bytes.withUnsafeBytes { CRC32C.checksum($0) } == bitwiseCRC32C(bytes))
    }

    @Test func wrongCRC32CIsRejected() {
        let good = proxyV2(family: 0x11, inetBlock + proxyTLV(0x01, "h2"), crc: true)
        #expect(expectProxyHeader(good) != nil)
        var badChecksum = good
        badChecksum[badChecksum.count - 1] ^= 0x01
        expectProxyError(badChecksum, "CRC32C mismatch: the header says 0x")
        var badAddress = good
        badAddress[16] ^= 0x80
        expectProxyError(badAddress, "CRC32C mismatch")
        expectProxyError(
            proxyV2(family: 0x11, inetBlock + proxyTLV(0x03, [1, 2, 3])), "the CRC32C TLV has 3 bytes, not 4")
        expectProxyError(
            proxyV2(family: 0x11, inetBlock + proxyTLV(0x03, [0, 0, 0, 0]), crc: true), "more than one CRC32C TLV")
    }

    @Test(arguments: malformedV2Headers)
    func malformedHeadersAreRejected(bytes: [UInt8], reason: String) {
        expectProxyError(bytes, reason)
    }

    @Test func truncatedHeadersWaitAndNeverTakeMoreThanGiven() {
        let bytes = proxyV2(family: 0x21, inet6Block + proxyTLV(0x02, "example.com"), crc: true)
        for length in 0..<bytes.count {
            #expect(proxyParse(Array(bytes.prefix(length))) == .needMoreData, "\(length) bytes")
        }
        #expect(proxyParse(bytes + [1, 2, 3]) == .header(proxyParse(bytes).header!, consumed: bytes.count))
    }

    @Test func overLongHeadersAreRejectedOnTheirLengthField() {
        let padding = { (count: Int) in proxyTLV(0x04, Array(repeating: 0, count: count - 3)) }
        let fits = proxyV2(family: 0x11, inetBlock + padding(300 - 16 - 12))
        #expect(fits.count == 300)
        #expect(proxyParseEveryWay(fits, maximumLength: 300).header != nil)
        let tooLong = proxyV2(family: 0x11, inetBlock + padding(301 - 16 - 12))
        expectProxyError(tooLong, "it declares 301 bytes, more than the limit of 300", maximumLength: 300)
        #expect(proxyParse(Array(tooLong.prefix(16)), maximumLength: 300).message != nil)
        #expect(proxyParse(Array(tooLong.prefix(15)), maximumLength: 300) == .needMoreData)
    }

    @Test func theLargestHeaderTheFormatAllows() {
        let bytes = proxyV2(family: 0x11, inetBlock + proxyTLV(0x04, Array(repeating: 0xAA, count: 0xFFFF - 12 - 3)))
        #expect(bytes.count == ProxyHeaderParser.maximumV2Length)
        #expect(proxyParseEveryWay(bytes + [0x42]) == .header(proxyParse(bytes).header!, consumed: 65551))
        #expect(proxyParse(bytes, chunks: [16, 1000, 7]).header != nil)
    }

    @Test func limitsAreClamped() {
        #expect(ProxyHeaderParser(maximumLength: 10).maximumLength == 232)
        #expect(ProxyHeaderParser(maximumLength: 1 << 20).maximumLength == 65551)
        #expect(ProxyHeaderParser().maximumLength == 65551)
    }
}
