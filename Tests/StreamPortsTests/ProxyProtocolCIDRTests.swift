import NIOCore
import Testing

@testable import StreamPorts

/// CIDR networks for the PROXY protocol's trusted sources, and the configuration built on them.
@Suite("PROXY protocol: CIDR and configuration")
struct ProxyProtocolCIDRTests {
    static func peer(_ address: String) -> SocketAddress {
        try! SocketAddress(ipAddress: address, port: 40000)
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0/8", CIDR.Family.ipv4, 8),
        ("127.0.0.1/32", "127.0.0.1/32", .ipv4, 32),
        ("127.0.0.1", "127.0.0.1/32", .ipv4, 32),
        ("0.0.0.0/0", "0.0.0.0/0", .ipv4, 0),
        ("::1/128", "::1/128", .ipv6, 128),
        ("::1", "::1/128", .ipv6, 128),
        ("2001:DB8::/32", "2001:db8::/32", .ipv6, 32),
        ("::/0", "::/0", .ipv6, 0),
        ("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104", .ipv6, 104),
        ("fe80::/65", "fe80::/65", .ipv6, 65),
    ])
    func parses(text: String, description: String, family: CIDR.Family, prefix: Int) throws {
        let cidr = try CIDR(text)
        #expect(cidr.description == description)
        #expect(cidr.family == family && cidr.prefixLength == prefix)
    }

    @Test(arguments: [
        ("", "it is empty"),
        ("10.0.0.0/", "the prefix length after \"/\" is not a decimal number"),
        ("10.0.0.0/08", "not a decimal number without leading zeros"),
        ("10.0.0.0/+8", "not a decimal number"),
        ("10.0.0.0/33", "the prefix length 33 is more than 32 for an IPv4 address"),
        ("::/129", "the prefix length 129 is more than 128 for an IPv6 address"),
        ("10.0.0.0/8/8", "more than one \"/\""),
        ("10.0.0/8", "\"10.0.0\" is not an IPv4 address"),
        ("010.0.0.0/8", "is not an IPv4 address"),
        ("10.0.0.0 /8", "is not an IPv4 address"),
        ("localhost/8", "is not an IPv4 address"),
        ("fe80::1%eth0/128", "is not an IPv6 address"),
        ("[::1]/128", "is not an IPv6 address"),
        ("10.1.2.3/8", "host bits are set beyond the /8 prefix; the network is 10.0.0.0/8"),
        ("2001:db8::1/32", "host bits are set beyond the /32 prefix; the network is 2001:db8::/32"),
        ("fe80::4000:0:0:0/65", "the network is fe80::/65"),
    ])
    func rejects(text: String, reason: String) {
        do {
            let cidr = try CIDR(text)
            Issue.record("\(text) parsed as \(cidr)")
        } catch {
            #expect(error.code == .invalidAddress)
            #expect(error.message.hasPrefix("invalid CIDR \"\(text)\": "), "\(error.message)")
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }

    @Test func containsIPv4() throws {
        let network = try CIDR("10.0.0.0/8")
        #expect(network.contains(Self.peer("10.0.0.0")) && network.contains(Self.peer("10.255.255.255")))
        #expect(!network.contains(Self.peer("11.0.0.0")) && !network.contains(Self.peer("9.255.255.255")))
        #expect(network.contains(Self.peer("::ffff:10.1.2.3")))
        #expect(!network.contains(Self.peer("::ffff:11.1.2.3")) && !network.contains(Self.peer("::10.1.2.3")))
        #expect(!network.contains(Self.peer("::1")))
        #expect(!network.contains(try SocketAddress(unixDomainSocketPath: "/tmp/x.sock")))
        let host = try CIDR("127.0.0.1")
        #expect(host.contains(Self.peer("127.0.0.1")) && !host.contains(Self.peer("127.0.0.2")))
        #expect(host.contains(Self.peer("::ffff:127.0.0.1")))
        let all = try CIDR("0.0.0.0/0")
        #expect(all.contains(Self.peer("255.255.255.255")) && all.contains(Self.peer("::ffff:1.2.3.4")))
        #expect(!all.contains(Self.peer("2001:db8::1")))
    }

    @Test func containsIPv6() throws {
        let network = try CIDR("2001:db8::/32")
        #expect(
            network.contains(Self.peer("2001:db8::1"))
                && network.contains(Self.peer("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")))
        #expect(!network.contains(Self.peer("2001:db9::")) && !network.contains(Self.peer("10.0.0.1")))
        let loopback = try CIDR("::1/128")
        #expect(loopback.contains(Self.peer("::1")) && !loopback.contains(Self.peer("::2")))
        #expect(!loopback.contains(Self.peer("127.0.0.1")))
        let odd = try CIDR("fe80::/65")
        #expect(odd.contains(Self.peer("fe80::7fff:ffff:ffff:ffff")) && !odd.contains(Self.peer("fe80::8000:0:0:0")))
        // An IPv6 network is matched against an IPv4 peer's mapped form.
        let mapped = try CIDR("::ffff:0:0/96")
        #expect(mapped.contains(Self.peer("192.0.2.1")) && mapped.contains(Self.peer("::ffff:192.0.2.1")))
        #expect(try CIDR("::/0").contains(Self.peer("10.0.0.1")))
    }

    @Test func configuration() throws {
        let configuration = try ProxyProtocolConfiguration(trustedSources: ["10.0.0.0/8", "127.0.0.1/32"])
        #expect(configuration.trustedSources == [try CIDR("10.0.0.0/8"), try CIDR("127.0.0.1/32")])
        #expect(configuration.headerTimeout == .seconds(5))
        #expect(configuration.trusts(Self.peer("10.9.8.7")) && configuration.trusts(Self.peer("::ffff:127.0.0.1")))
        #expect(!configuration.trusts(Self.peer("127.0.0.2")) && !configuration.trusts(Self.peer("::1")))
        let anyone = ProxyProtocolConfiguration()
        #expect(ProxyProtocolConfiguration(trustedSources: []) == anyone)
        let fromCLI = "10.0.0.0/8,::1".split(separator: ",").map(String.init)
        #expect(try ProxyProtocolConfiguration(trustedSources: fromCLI).trustedSources.count == 2)
        #expect(anyone.trustedSources.isEmpty && anyone.trusts(Self.peer("203.0.113.9")))
        let quick = ProxyProtocolConfiguration(trustedSources: [try CIDR("::1")], headerTimeout: .milliseconds(500))
        #expect(quick.headerTimeout == .milliseconds(500) && quick.trusts(Self.peer("::1")))
        do {
            _ = try ProxyProtocolConfiguration(trustedSources: ["10.0.0.0/8", "10.0.0.1/8", "bad"])
            Issue.record("a bad network was accepted")
        } catch {
            #expect(error.code == .invalidAddress && error.message.contains("\"10.0.0.1/8\""), "\(error.message)")
        }
    }

    @Test(arguments: [
        ("1.2.3.4", [1, 2, 3, 4] as [UInt8]?), ("0.0.0.0", [0, 0, 0, 0]), ("255.255.255.255", [255, 255, 255, 255]),
        ("1.2.3.04", nil), ("1.2.3.4.", nil), (".1.2.3.4", nil), ("1..2.3", nil), ("256.1.1.1", nil), ("1.2.3", nil),
        ("1.2.3.4.5", nil), ("", nil), ("1.2.3.-4", nil), ("1.2.3.1000", nil),
    ])
    func ipv4Text(text: String, bytes: [UInt8]?) {
        #expect(ProxyIPText.parseIPv4(text.utf8) == bytes)
    }

    @Test(arguments: [
        ("::", "::"), ("::1", "::1"), ("1::", "1::"), ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"), ("0:0:0:0:0:0:0:0", "::"), ("1:0:0:0:0:0:0:0", "1::"),
        ("0001:0002::0003", "1:2::3"), ("::ffff:1.2.3.4", "::ffff:1.2.3.4"), ("::ffff:0102:0304", "::ffff:1.2.3.4"),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"), ("::1.2.3.4", "::102:304"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"), ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
    ])
    func ipv6TextRoundTrip(text: String, formatted: String) {
        let bytes = ProxyIPText.parseIPv6(text.utf8)
        #expect(bytes.map(ProxyIPText.formatIPv6) == formatted)
    }

    @Test(arguments: [
        "", ":", ":::", "1:::2", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "g::", "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8", ":1::", "1::2:", "::ffff:1.2.3", "::ffff:1.2.3.04", "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4",
        "[::1]", "::1%1", " ::1", "::1 ",
    ])
    func ipv6TextRejected(text: String) {
        #expect(ProxyIPText.parseIPv6(text.utf8) == nil, "\(text)")
    }
}
