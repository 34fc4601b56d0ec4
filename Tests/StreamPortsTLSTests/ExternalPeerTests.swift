import Foundation
import StreamPorts
import StreamPortsTLS
import Testing

/// A Python `ssl` client: connects to 127.0.0.1:PORT verifying HOST against CA, prints the
/// protocol version, then runs MODE.
let pythonClient = #"""
    import socket, ssl, sys, time
    port, ca, host, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    ctx = ssl.create_default_context(cafile=ca)
    if mode == "tls12":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if mode == "tls11":
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s = ctx.wrap_socket(raw, server_hostname=host)
    except Exception as e:
        print("handshake failed:", e, flush=True)
        sys.exit(3)
    print(s.version(), flush=True)
    def read_exactly(n):
        got = b""
        while len(got) < n:
            chunk = s.recv(n - len(got))
            if not chunk:
                break
            got += chunk
        return got
    if mode in ("sjis", "tls12"):
        # あい split across two TLS records (two sends), then a plain line.
        s.sendall(b"\x82")
        time.sleep(0.05)
        s.sendall(b"\xa0\x82\xa2\r\n")
        s.sendall(b"abc\r\n")
        print(read_exactly(11).hex(), flush=True)
        s.unwrap()          # close_notify, then wait for the server's
        raw.close()
    elif mode == "unclean":
        s.sendall(b"complete line\n")
        time.sleep(0.3)
        s.shutdown(socket.SHUT_WR)   # SSLSocket.shutdown: a FIN without close_notify
        time.sleep(1)
        raw.close()
    """#

func python(_ port: Int, host: String = "localhost", mode: String) throws -> Child {
    try Child("python3", ["-c", pythonClient, "\(port)", TestPKI.shared.cert("ca"), host, mode])
}

@Suite("External TLS peers") struct ExternalPeerTests {
    let pki = TestPKI.shared
    var serveTLS: [String] { ["--tls-cert", pki.cert("server"), "--tls-key", pki.key("server")] }

    @Test("Python ssl ↔ portecho serve --tls-cert: Shift_JIS byte-exact, a character split across records, TLS 1.3")
    func pythonShiftJIS() async throws {
        let (server, port) = try await startPortecho(serveTLS + ["--encoding", "Shift_JIS"])
        defer { server.kill() }
        let client = try python(port, mode: "sjis")
        #expect(try await client.exitStatus() == 0, "\(client.stdout) \(client.stderr)")
        #expect(client.stdout == "TLSv1.3\n82a082a20d0a6162630d0a\n", "\(client.stderr)")
        #expect(server.stdout == "listening on 127.0.0.1:\(port)\n")
    }

    @Test(
        "Python ssl limited to TLS 1.2 is served with TLS 1.2; limited to TLS 1.1 it is refused (minimum TLS 1.2), and others are served"
    )
    func pythonVersions() async throws {
        let (server, port) = try await startPortecho(serveTLS + ["--encoding", "Shift_JIS"])
        defer { server.kill() }
        let old = try python(port, mode: "tls11")
        #expect(try await old.exitStatus() == 3, "\(old.stdout) \(old.stderr)")
        try await server.wait(for: "the refusal logged") { _, err in err.contains("TLS handshake with 127.0.0.1:") }
        #expect(server.stderr.contains("protocol version"), "\(server.stderr)")
        let tls12 = try python(port, mode: "tls12")
        #expect(try await tls12.exitStatus() == 0, "\(tls12.stdout) \(tls12.stderr)")
        #expect(tls12.stdout == "TLSv1.2\n82a082a20d0a6162630d0a\n")
    }

    @Test("openssl s_client ↔ portecho serve --tls-cert, on 127.0.0.1 and ::1", arguments: ["127.0.0.1", "[::1]"])
    func sClient(host: String) async throws {
        let (server, port) = try await startPortecho(serveTLS, host: host)
        defer { server.kill() }
        let client = try Child(
            "openssl",
            [
                "s_client", "-connect", "\(host):\(port)", "-CAfile", pki.cert("ca"), "-verify_return_error", "-quiet",
                "-crlf",
            ])
        defer { client.kill() }
        client.write("hello from s_client\nzweite Zeile: ä ö ü\n")
        try await client.wait(for: "both echoes") { out, _ in out.contains("zweite Zeile: ä ö ü") }
        #expect(client.stdout == "hello from s_client\r\nzweite Zeile: ä ö ü\r\n")
        client.kill()
        // portecho is still serving.
        let name = host == "[::1]" ? "[::1]" : "localhost"  // the IP name ::1 is verified
        let again = try Child(
            portechoPath, ["send", "\(name):\(port)", "--tls", "--tls-ca", pki.cert("ca"), "after s_client"])
        #expect(try await again.exitStatus() == 0, "\(again.stderr)")
        #expect(again.stdout == "after s_client\n")
    }

    @Test("portecho send --tls ↔ openssl s_server -rev")
    func sendToSServer() async throws {
        let (server, port) = try await startSServer(["-cert", pki.cert("server"), "-key", pki.key("server"), "-rev"])
        defer { server.kill() }
        let send = try Child(
            portechoPath,
            ["send", "localhost:\(port)", "--tls", "--tls-ca", pki.cert("ca"), "--eol", "lf", "abc", "hello world"])
        #expect(try await send.exitStatus() == 0, "\(send.stderr)")
        #expect(send.stdout == "cba\ndlrow olleh\n")
    }

    @Test(
        "portecho send --tls exits 1 saying why: untrusted issuer, expired, name mismatch",
        arguments: [
            ("server", ["--tls"], "untrusted issuer O=StreamPorts Tests, CN=StreamPorts Test CA"),
            ("expired", ["--tls", "--tls-ca"], "expired on 2020-01-31"),
            ("server", ["--tls", "--tls-server-name", "example.org", "--tls-ca"], "name mismatch: example.org"),
        ])
    func sendFailures(certificate: String, options: [String], reason: String) async throws {
        let (server, port) = try await startSServer([
            "-cert", pki.cert(certificate), "-key", pki.key(certificate), "-rev",
        ])
        defer { server.kill() }
        let flags = options.last == "--tls-ca" ? options + [pki.cert("ca")] : options
        let send = try Child(portechoPath, ["send", "127.0.0.1:\(port)"] + flags + ["x"])
        #expect(try await send.exitStatus() == 1)
        #expect(send.stderr.contains("TLS handshake with 127.0.0.1:\(port) failed"), "\(send.stderr)")
        #expect(send.stderr.contains(reason), "\(send.stderr)")
    }

    @Test(
        "portecho serve --tls-client-ca: send without a certificate exits 1 saying one is required; with one it is echoed"
    )
    func mutualPortecho() async throws {
        let (server, port) = try await startPortecho(serveTLS + ["--tls-client-ca", pki.cert("ca")])
        defer { server.kill() }
        let bare = try Child(portechoPath, ["send", "localhost:\(port)", "--tls", "--tls-ca", pki.cert("ca"), "x"])
        #expect(try await bare.exitStatus() == 1)
        #expect(bare.stderr.contains("requires a client certificate"), "\(bare.stderr)")
        let good = try Child(
            portechoPath,
            [
                "send", "localhost:\(port)", "--tls", "--tls-ca", pki.cert("ca"),
                "--tls-cert", pki.cert("client"), "--tls-key", pki.key("client"), "mutual",
            ])
        #expect(try await good.exitStatus() == 0, "\(good.stderr)")
        #expect(good.stdout == "mutual\n")
        try await server.wait(for: "the refusal logged") { _, err in err.contains("sent no certificate") }
    }

    @Test(
        "portecho exits 64 naming the file: missing, garbled, mismatched key, one of cert/key alone",
        arguments: [
            (["serve", "--tls-cert", "missing.pem", "--tls-key", "server.key"], "cannot read certificate file"),
            (["serve", "--tls-cert", "garbled.pem", "--tls-key", "server.key"], "garbled.pem\" is not valid PEM"),
            (
                ["serve", "--tls-cert", "mismatched.pem", "--tls-key", "mismatched.key"],
                "does not match the certificate"
            ),
            (["serve", "--tls-cert", "server.pem"], "--tls-cert needs --tls-key"),
            (["serve", "--tls-key", "server.key"], "--tls-key needs --tls-cert"),
            (
                ["serve", "--tls-cert", "server.pem", "--tls-key", "server.key", "--tls-client-ca", "garbled.pem"],
                "client CA file"
            ),
            (["send", "1", "--tls", "--tls-ca", "missing.pem"], "cannot read trust roots file"),
            (["send", "1", "--tls", "--tls-cert", "client.pem"], "--tls-cert needs --tls-key"),
            (["send", "1", "--tls-ca", "ca.pem"], "--tls-ca needs --tls"),
        ])
    func usage(arguments: [String], message: String) async throws {
        let resolved = arguments.map { $0.hasSuffix(".pem") || $0.hasSuffix(".key") ? pki.path($0) : $0 }
        let child = try Child(portechoPath, resolved + ["127.0.0.1:0"].filter { _ in arguments[0] == "serve" })
        #expect(try await child.exitStatus() == 64)
        #expect(child.stderr.contains(message), "\(child.stderr)")
        #expect(child.stdout.isEmpty)
    }

    @Test("openssl s_client -starttls smtp drives the StreamPorts SMTP-shaped server through STARTTLS")
    func startTLSWithSClient() async throws {
        let smtp = try await MiniSMTP()
        defer { Task { await smtp.stop() } }
        let client = try Child(
            "openssl",
            [
                "s_client", "-connect", "127.0.0.1:\(smtp.port)", "-starttls", "smtp", "-CAfile", pki.cert("ca"),
                "-verify_return_error", "-quiet", "-crlf",
            ])
        defer { client.kill() }
        client.write("EHLO again\n")
        try await client.wait(for: "the secured EHLO reply") { out, _ in
            out.contains("250 mini.example (secured TLSv1.3)")
        }
        client.write("QUIT\n")
        try await client.wait(for: "221") { out, _ in out.contains("221 bye") }
        let executed = smtp.executed.withLock { $0 }
        #expect(
            executed.count == 4 && executed[1] == "STARTTLS" && executed[2] == "EHLO again" && executed[3] == "QUIT",
            "\(executed)")
        #expect(smtp.secured.withLock { $0.map(\.protocolVersion) } == ["TLSv1.3"])
    }

    @Test(
        "a FIN without close_notify (Python's SSLSocket.shutdown) ends the stream like a FIN; tlsInputEnding says uncleanShutdown"
    )
    func uncleanEOF() async throws {
        try await withTLSServer { server in
            let client = try python(server.localPort, mode: "unclean")
            defer { client.kill() }
            let s = try #require(await server.read(timeout: .seconds(20)))
            s.readTimeout = .seconds(10)
            #expect(try await s.readLine() == "complete line")
            #expect(try await s.readLine() == nil)
            #expect(s.eof)
            #expect(s.tlsInputEnding == .uncleanShutdown)
            try await s.close()
            #expect(try await client.exitStatus() == 0, "\(client.stdout) \(client.stderr)")
        }
    }
}
