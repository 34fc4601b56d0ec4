import NIOCore
import Testing

@testable import StreamPorts

#if canImport(Glibc)
    import Glibc
#endif

/// The one formatter of printed addresses: IPv6 per RFC 5952, on bytes alone (no sockets).
@Suite("Address text (RFC 5952)")
struct AddressTextTests {
    /// The 16 bytes of eight groups.
    static func bytes(_ groups: [UInt16]) -> [UInt8] {
        groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    @Test(
        "RFC 5952's examples and rules",
        arguments: [
            // §4.1: no leading zeros.
            ([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0x0001], "2001:db8::1"),
            // §4.2.1: "::" takes as many zero groups as possible.
            ([0x2001, 0xdb8, 0, 0, 0, 0, 2, 1], "2001:db8::2:1"),
            // §4.2.2: one zero group is never compressed.
            ([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], "2001:db8:0:1:1:1:1:1"),
            // §4.2.3: the longest run is compressed ...
            ([0x2001, 0, 0, 1, 0, 0, 0, 1], "2001:0:0:1::1"),
            // ... and the first of two equal runs.
            ([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], "2001:db8::1:0:0:1"),
            // §4.3: lowercase.
            ([0x2001, 0xDB8, 0, 0, 0, 0, 0, 0xABCD], "2001:db8::abcd"),
            // §5: an IPv4-mapped address keeps its dotted quad.
            ([0, 0, 0, 0, 0, 0xFFFF, 0xC000, 0x0201], "::ffff:192.0.2.1"),
            // Not the deprecated IPv4-compatible form glibc's inet_ntop writes (::0.1.0.128).
            ([0, 0, 0, 0, 0, 0, 1, 0x80], "::1:80"),
            ([0, 0, 0, 0, 0, 0, 0xC000, 0x0201], "::c000:201"),
            ([0, 0, 0, 0, 0, 0, 0, 1], "::1"),
            ([0, 0, 0, 0, 0, 0, 0, 0], "::"),
            ([1, 0, 0, 0, 0, 0, 0, 0], "1::"),
            ([0, 0, 1, 0, 0, 0, 0, 0], "0:0:1::"),
            ([0xfe80, 0, 0, 0, 0, 0, 0, 1], "fe80::1"),
            ([1, 2, 3, 4, 5, 6, 7, 8], "1:2:3:4:5:6:7:8"),
            (
                [0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff],
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
            ),
            // The ::ffff:0:0/96 prefix only: other prefixes stay hex.
            ([0, 0, 0, 0, 0xffff, 0, 0x0102, 0x0304], "::ffff:0:102:304"),
            ([0, 0, 0, 0, 1, 0xffff, 0x0102, 0x0304], "::1:ffff:102:304"),
        ] as [([UInt16], String)])
    func ipv6(groups: [UInt16], expected: String) {
        #expect(ipv6Text(Self.bytes(groups)) == expected)
    }

    @Test("Every formatted address reads back as the same bytes")
    func roundTrip() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            // Mostly zeros, so that runs of every length and position come up.
            let groups = (0..<8).map { _ in
                UInt16.random(in: 0...3, using: &generator) == 0 ? UInt16.random(in: 0...0xFFFF, using: &generator) : 0
            }
            let text = ipv6Text(Self.bytes(groups))
            var parsed = in6_addr()
            #expect(inet_pton(AF_INET6, text, &parsed) == 1, "\(text)")
            #expect(withUnsafeBytes(of: &parsed) { Array($0) } == Self.bytes(groups), "\(groups) → \(text)")
            #expect(canonicalIPv6(text) == text)
        }
    }

    @Test func canonicalLiterals() {
        #expect(canonicalIPv6("0:0::1") == "::1")
        #expect(canonicalIPv6("::0.1.0.128") == "::1:80")
        #expect(canonicalIPv6("2001:DB8::ABCD") == "2001:db8::abcd")
        #expect(canonicalIPv6("1.2.3.4") == nil)
        #expect(canonicalIPv6("::1\0") == nil)
    }

    @Test func socketAddresses() throws {
        let v6 = try SocketAddress(ipAddress: "::1:80", port: 2020)
        #expect(v6.ipAddress == "::0.1.0.128")  // NIO's text, from inet_ntop: why ours exists
        #expect(v6.streamHost == "::1:80")
        #expect(v6.streamDescription == "[::1:80]:2020")
        let v4 = try SocketAddress(ipAddress: "100.50.200.5", port: 80)
        #expect(v4.streamHost == "100.50.200.5")
        #expect(v4.streamDescription == "100.50.200.5:80")
        #expect(SocketAddress.endpoint(host: "::", port: 0) == "[::]:0")
        #expect(SocketAddress.endpoint(host: "0.0.0.0", port: 7) == "0.0.0.0:7")
    }

    @Test("A bind failure names the address in RFC 5952 form")
    func bindFailureMessage() async throws {
        guard StreamAddress.ipv6Available else { return }
        // ::1:80 is not an address of this machine: EADDRNOTAVAIL.
        let error = await #expect(throws: StreamPortError.self) { _ = try await tcpServerStream("::1:80", port: 0) }
        #expect(error?.code == .bindFailed)
        #expect(error?.errno == EADDRNOTAVAIL)
        #expect(error?.message.hasPrefix("cannot bind [::1:80]:0: ") == true, "\(error?.message ?? "")")
    }
}
