import Testing

@testable import StreamPorts

/// Headers exactly as HAProxy 2.6.12 (Debian 12's `haproxy` 2.6.12-1+deb12u4) sent them to a
/// Python listener on 127.0.0.1, followed by the client's first bytes (`hello\n`; `PING\n`
/// from a `tcp-check send`). Their CRC32Cs were also checked by a separate bitwise Python
/// implementation. The configuration, in `mode tcp`:
///
///     frontend v1_tcp4 / v1_tcp6 / v1_unix:  bind 127.0.0.1:18401 / [::1]:18402 / unix@v1.sock
///     backend b_v1:  server s1 127.0.0.1:18501 send-proxy
///     frontend v2_tcp4 / v2_tcp6:  bind 127.0.0.1:18411 / [::1]:18412
///         unique-id-format %{+X}o\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid
///     frontend v2_unix:  bind unix@v2.sock
///     frontend v2_tls:  bind 127.0.0.1:18413 ssl crt site.pem alpn h2,http/1.1 ca-file cc.pem verify optional
///         (client: Python ssl, SNI example.com, ALPN h2, certificate CN=client.example)
///     backend b_v2:  server s2 127.0.0.1:18502 send-proxy-v2
///         proxy-v2-options crc32c,unique-id,authority,ssl,ssl-cipher,cert-sig,cert-key,cert-cn
///     backend b_v2_check:  option tcp-check; tcp-check send PING\n
///         server s3 127.0.0.1:18503 send-proxy-v2 proxy-v2-options crc32c check check-send-proxy
///     backend b_v1_check:  the same with send-proxy (server s4, port 18504)
@Suite("PROXY protocol: HAProxy 2.6 captures")
struct ProxyProtocolHAProxyCaptureTests {
    static let hello = Array("hello\n".utf8)

    static func unique(_ text: String) -> ProxyHeader.TLV { .init(type: 0x05, value: Array(text.utf8)) }
    static func crc(_ value: UInt32) -> ProxyHeader.TLV {
        .init(
            type: 0x03,
            value: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
    }
    /// HAProxy's SSL TLV for a connection that did not use TLS: client 0, verify 0.
    static let noSSL = ProxyHeader.TLV(type: 0x20, value: [0, 0, 0, 0, 0])

    @Test func sendProxyV1() {
        let tcp4 = proxyBytes(
            hex: "50524f58592054435034203132372e302e302e31203132372e302e302e312033333338322031383430310d0a68656c6c6f0a")
        #expect(
            expectProxyHeader(tcp4, trailing: 6)
                == ProxyHeader(
                    version: 1, command: .proxy, family: .inet, transport: .stream,
                    source: .ip(address: "127.0.0.1", port: 33382), destination: .ip(address: "127.0.0.1", port: 18401))
        )
        let tcp6 = proxyBytes(hex: "50524f58592054435036203a3a31203a3a312034313137322031383430320d0a68656c6c6f0a")
        #expect(
            expectProxyHeader(tcp6, trailing: 6)
                == ProxyHeader(
                    version: 1, command: .proxy, family: .inet6, transport: .stream,
                    source: .ip(address: "::1", port: 41172), destination: .ip(address: "::1", port: 18402)))
        let unix = proxyBytes(hex: "50524f585920554e4b4e4f574e0d0a68656c6c6f0a")
        #expect(
            expectProxyHeader(unix, trailing: 6)
                == ProxyHeader(version: 1, command: .proxy, family: .unspecified, transport: .unspecified))
        // A health check gets a real PROXY line (its own socket's addresses), not UNKNOWN.
        let check = proxyBytes(
            hex: "50524f58592054435034203132372e302e302e31203132372e302e302e312033353235302031383530340d0a50494e470a")
        #expect(expectProxyHeader(check, trailing: 5)?.destination == .ip(address: "127.0.0.1", port: 18504))
    }

    @Test func sendProxyV2TCP4() {
        let bytes = proxyBytes(
            hex: """
                0d0a0d0a000d0a515549540a2111004c7f0000017f0000018cb647eb030004f9c6927f05002e3746303030303031\
                3a384342365f37463030303030313a343745425f36423045383746395f303030333a34413230200005000000000068\
                656c6c6f0a
                """)
        #expect(
            expectProxyHeader(bytes, trailing: 6)
                == ProxyHeader(
                    version: 2, command: .proxy, family: .inet, transport: .stream,
                    source: .ip(address: "127.0.0.1", port: 36022), destination: .ip(address: "127.0.0.1", port: 18411),
                    tlvs: [
                        Self.crc(0xF9C6_927F), Self.unique("7F000001:8CB6_7F000001:47EB_6B0E87F9_0003:4A20"),
                        Self.noSSL,
                    ]))
    }

    @Test func sendProxyV2TCP6() {
        let bytes = proxyBytes(
            hex: """
                0d0a0d0a000d0a515549540a2121009400000000000000000000000000000001000000000000000000000000000000\
                0181ce47ec03000448c104ad05005e3030303030303030303030303030303030303030303030303030303030303031\
                3a383143455f30303030303030303030303030303030303030303030303030303030303030313a343745435f364230\
                45383746415f303030343a34413230200005000000000068656c6c6f0a
                """)
        let header = expectProxyHeader(bytes, trailing: 6)
        #expect(header?.source == .ip(address: "::1", port: 33230))
        #expect(header?.destination == .ip(address: "::1", port: 18412))
        #expect(header?.crc32c == 0x48C1_04AD)
        #expect(header?.uniqueID?.count == 94 && header?.ssl?.client == [])
    }

    @Test func sendProxyV2FromAUnixSocketIsLocalWithTLVs() {
        let bytes = proxyBytes(hex: "0d0a0d0a000d0a515549540a20000012030004955e6a00050000200005000000000068656c6c6f0a")
        #expect(
            expectProxyHeader(bytes, trailing: 6)
                == ProxyHeader(
                    version: 2, command: .local, family: .unspecified, transport: .unspecified,
                    tlvs: [Self.crc(0x955E_6A00), Self.unique(""), Self.noSSL]))
    }

    @Test func sendProxyV2OverTLS() {
        let bytes = proxyBytes(
            hex: """
                0d0a0d0a000d0a515549540a211100aa7f0000017f0000019c5c47ed030004035436b8010002683202000b657861\
                6d706c652e636f6d05002e37463030303030313a394335435f37463030303030313a343745445f3642304538374641\
                5f303030363a344132302000500700000000210007544c5376312e3322000e636c69656e742e6578616d706c6525\
                00075253413230343824000a5253412d534841323536230016544c535f4145535f3235365f47434d5f5348413338\
                3468656c6c6f0a
                """)
        guard let header = expectProxyHeader(bytes, trailing: 6) else { return }
        #expect(header.source == .ip(address: "127.0.0.1", port: 40028))
        #expect(header.alpn == Array("h2".utf8))
        #expect(header.authority == "example.com")
        #expect(header.crc32c == 0x0354_36B8)
        #expect(header.uniqueID == Array("7F000001:9C5C_7F000001:47ED_6B0E87FA_0006:4A20".utf8))
        let ssl = header.ssl
        #expect(ssl?.client == [.ssl, .certificateOnConnection, .certificateInSession] && ssl?.verify == 0)
        #expect(ssl?.hasVerifiedCertificate == true)
        #expect(ssl?.version == "TLSv1.3" && ssl?.commonName == "client.example")
        #expect(ssl?.keyAlgorithm == "RSA2048" && ssl?.signatureAlgorithm == "RSA-SHA256")
        #expect(ssl?.cipher == "TLS_AES_256_GCM_SHA384")
        // One flipped bit anywhere in the header fails its checksum (or its structure).
        for index in [16, 30, 60, 120, 185] {
            var corrupt = bytes
            corrupt[index] ^= 0x04
            #expect(proxyParse(corrupt).message != nil, "bit flipped at \(index)")
        }
    }

    @Test func healthCheckV2IsLocalWithACRC() {
        let bytes = proxyBytes(hex: "0d0a0d0a000d0a515549540a20000007030004a9b87e8f50494e470a")
        #expect(
            expectProxyHeader(bytes, trailing: 5)
                == ProxyHeader(
                    version: 2, command: .local, family: .unspecified, transport: .unspecified,
                    tlvs: [Self.crc(0xA9B8_7E8F)]))
    }
}
