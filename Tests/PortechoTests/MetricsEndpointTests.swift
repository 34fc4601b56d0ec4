import Foundation
import StreamPortsTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `portecho serve --metrics ADDRESS`: scraped by real HTTP clients (Python's urllib and
/// http.client; curl too where it is installed), and by raw sockets for the limits.
@Suite("portecho serve --metrics", .serialized, .timeLimit(.minutes(2)))
struct MetricsEndpointTests {
    /// Starts `portecho serve 127.0.0.1:0 --metrics METRICS ARGS`; returns it, its echo port
    /// and the metrics port from `metrics on 127.0.0.1:PORT` on standard error.
    func serve(
        metrics: String = "127.0.0.1:0", _ arguments: [String] = []
    ) async throws -> (Portecho, echo: Int, metrics: Int) {
        let server = try Portecho(["serve", "127.0.0.1:0", "--eol", "lf", "--metrics", metrics] + arguments)
        do {
            let echo = try await server.listeningPort(host: "127.0.0.1")
            return (server, echo, try await metricsPort(server))
        } catch {
            server.kill()
            throw error
        }
    }

    /// The port of the log line `metrics on 127.0.0.1:PORT`, waiting for it.
    func metricsPort(_ server: Portecho) async throws -> Int {
        let marker = "metrics on 127.0.0.1:"
        guard try await server.stderrContains(marker),
            let range = server.stderr.text.range(of: marker)
        else {
            throw TestFailure("no \"\(marker)PORT\" on stderr: \(server.stderr.text)")
        }
        let digits = server.stderr.text[range.upperBound...].prefix { $0.isNumber }
        guard let port = Int(digits), port > 0, port < 65536 else {
            throw TestFailure("bad port after \"\(marker)\": \(server.stderr.text)")
        }
        return port
    }

    /// SIGTERM, then exit 0 with `listening on` alone on stdout.
    func stop(_ server: Portecho) async throws {
        server.send(signal: SIGTERM)
        #expect(try await server.exitStatus() == 0, "stderr: \(server.stderr.text)")
        #expect(server.stdout.text.split(separator: "\n").count == 1, "stdout: \(server.stdout.text)")
    }

    @Test("GET /metrics: 200, Prometheus text with portecho_start_time_seconds; 404, 405, HEAD; keep-alive")
    func scrape() async throws {
        let started = Date().timeIntervalSince1970
        let (server, echo, port) = try await serve()
        defer { server.kill() }
        #expect(port != echo)
        let client = try TestClient("127.0.0.1", echo)
        try await expectEcho(client, "counted")

        let scraped = try await HTTP.get("http://127.0.0.1:\(port)/metrics")
        #expect(scraped.status == 200)
        #expect(scraped.contentType == "text/plain; version=0.0.4; charset=utf-8")
        #expect(Exposition.problems(scraped.body).isEmpty, "\(Exposition.problems(scraped.body))\n\(scraped.body)")
        #expect(scraped.body.contains("# TYPE portecho_start_time_seconds gauge\n"), "\(scraped.body)")
        let sample = Exposition.samples(scraped.body).first { $0.name == "portecho_start_time_seconds" }
        let value = try #require(sample?.value, "\(scraped.body)")
        #expect(value > started - 60 && value < Date().timeIntervalSince1970 + 1, "\(value) vs \(started)")
        // The library's own metrics reach the same registry (their names and counts are the
        // library's tests' business).
        #expect(Exposition.samples(scraped.body).contains { $0.name.hasPrefix("streamports_") }, "\(scraped.body)")

        let missing = try await HTTP.get("http://127.0.0.1:\(port)/")
        #expect(missing.status == 404)
        let queried = try await HTTP.get("http://127.0.0.1:\(port)/metrics?name=x")
        #expect(queried.status == 200)

        // One http.client connection for every request: keep-alive, one local port throughout.
        let session = try await HTTP.session(
            port: port, ["GET /metrics", "POST /metrics", "HEAD /metrics", "GET /nothing", "GET /metrics"])
        #expect(session.map(\.status) == [200, 405, 200, 404, 200])
        #expect(session[1].allow == "GET, HEAD")
        #expect(session[2].body.isEmpty && session[2].contentType == scraped.contentType)
        #expect(Set(session.map(\.localPort)).count == 1, "\(session.map(\.localPort))")
        #expect(session.allSatisfy { $0.connection == nil })

        if let curl = HTTP.curl {
            let result = try await HTTP.run(
                curl,
                [
                    "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code} %{content_type}",
                    "http://127.0.0.1:\(port)/metrics",
                ])
            #expect(result == "200 text/plain; version=0.0.4; charset=utf-8")
        }

        client.close()
        try await stop(server)
        #expect(throws: (any Error).self) { try TestClient("127.0.0.1", port, timeout: 2) }
    }

    /// The value of the sample `name{server="127.0.0.1:PORT"...}` (labels after `server` allowed).
    static func sample(_ body: String, _ name: String, server: String, labels: String = "") -> Double? {
        let prefix = "\(name){server=\"\(server)\"\(labels)} "
        guard let line = body.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        return Exposition.value(line.dropFirst(prefix.count))
    }

    @Test("Scraped while 20 clients echo 500 lines each: the counters add up with what they sent")
    func countersUnderLoad() async throws {
        let (server, echo, port) = try await serve()
        defer { server.kill() }
        let line = Array((String(repeating: "m", count: 31) + "\n").utf8)
        let payload = Array((0..<500).map { _ in line }.joined())
        async let midway = HTTP.get("http://127.0.0.1:\(port)/metrics")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    let client = try TestClient("127.0.0.1", echo)
                    async let echoed = client.readToEnd(timeout: 30)
                    try await client.send(payload)
                    client.shutdownWrite()
                    #expect(try await echoed == payload)
                    client.close()
                }
            }
            try await group.waitForAll()
        }
        #expect(try await midway.status == 200)  // scraped while connections were busy
        let endpoint = "127.0.0.1:\(echo)"
        var body = ""
        // The server closes each connection just after its client: wait until all 20 are.
        for _ in 0..<100 {
            body = try await HTTP.get("http://127.0.0.1:\(port)/metrics").body
            if Self.sample(body, "streamports_connections_closed_total", server: endpoint, labels: ",reason=\"eof\"")
                == 20
            {
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(Exposition.problems(body).isEmpty)
        #expect(Self.sample(body, "streamports_connections_accepted_total", server: endpoint) == 20, "\(body)")
        #expect(
            Self.sample(body, "streamports_connections_closed_total", server: endpoint, labels: ",reason=\"eof\"") == 20
        )
        #expect(Self.sample(body, "streamports_connections_active", server: endpoint) == 0)
        #expect(Self.sample(body, "streamports_lines_in_total", server: endpoint) == 10_000)
        #expect(Self.sample(body, "streamports_lines_out_total", server: endpoint) == 10_000)
        #expect(Self.sample(body, "streamports_bytes_in_total", server: endpoint) == Double(20 * payload.count))
        #expect(Self.sample(body, "streamports_bytes_out_total", server: endpoint) == Double(20 * payload.count))
        try await stop(server)
    }

    @Test("Pipelined requests answered in order; an oversized header gets 400, an oversized body 413, and each closes")
    func limits() async throws {
        let (server, _, port) = try await serve()
        defer { server.kill() }

        let pipelined = try TestClient("127.0.0.1", port)
        try await pipelined.send(
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let both = String(decoding: try await pipelined.readToEnd(), as: UTF8.self)
        let first = try #require(both.range(of: "HTTP/1.1 404 Not Found\r\n"), "\(both)")
        let second = try #require(both.range(of: "HTTP/1.1 200 OK\r\n"), "\(both)")
        #expect(first.lowerBound == both.startIndex && first.upperBound <= second.lowerBound)
        #expect(both.contains("portecho_start_time_seconds"))

        let header = try TestClient("127.0.0.1", port)
        try await header.send(
            "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: \(String(repeating: "a", count: 16 * 1024))\r\n\r\n")
        let refused = String(decoding: try await header.readToEnd(), as: UTF8.self)
        #expect(refused.hasPrefix("HTTP/1.1 400"), "\(refused.prefix(200))")

        let body = try TestClient("127.0.0.1", port)
        try await body.send(
            "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n\r\n" + String(repeating: "b", count: 9000))
        let tooLarge = String(decoding: try await body.readToEnd(), as: UTF8.self)
        #expect(tooLarge.hasPrefix("HTTP/1.1 413"), "\(tooLarge.prefix(200))")
        #expect(tooLarge.lowercased().contains("connection: close"))

        try await stop(server)
    }

    @Test(
        "A bad --metrics address exits 64 naming it, before listening",
        arguments: [
            ("127.0.0.1:99999", "99999"),
            ("::1:80", "[::1]:80"),
            ("", "--metrics"),
            ("localhost:http", "localhost:http"),
        ])
    func badAddress(address: String, named: String) async throws {
        let result = try await Portecho.run(["serve", "127.0.0.1:0", "--metrics", address])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("--metrics"), "\(result.stderr)")
        #expect(result.stderr.contains(named), "\(result.stderr)")
        #expect(result.stdout.isEmpty, "\(result.stdout)")
    }

    @Test("A --metrics port in use exits 1 naming it")
    func portInUse() async throws {
        let taken = try RawListener()
        let result = try await Portecho.run(["serve", "127.0.0.1:0", "--metrics", "\(taken.port)"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("cannot serve metrics on 127.0.0.1:\(taken.port)"), "\(result.stderr)")
        #expect(result.stderr.contains("in use"), "\(result.stderr)")
    }
}

/// Prometheus's text exposition format, as far as a scrape needs it checked.
enum Exposition {
    /// `# HELP name text` or `# TYPE name type`.
    static var comment: Regex<AnyRegexOutput> {
        try! Regex(
            #"# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))"#
        )
    }
    /// `name{label="value",…} value [timestamp]`, label values escaped.
    static var sample: Regex<AnyRegexOutput> {
        try! Regex(
            #"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*,?)?\})? ([^ ]+)( -?[0-9]+)?"#
        )
    }

    /// The lines that are neither empty, a comment, nor a sample with a numeric value.
    static func problems(_ body: String) -> [String] {
        let (comment, sample) = (comment, sample)
        var problems: [String] = []
        if !body.isEmpty && !body.hasSuffix("\n") { problems.append("no final newline") }
        for line in body.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.isEmpty {
                continue  // the format allows empty lines
            } else if line.hasPrefix("#") {
                if line.wholeMatch(of: comment) == nil { problems.append(String(line)) }
            } else if let match = line.wholeMatch(of: sample), let text = match.output[7].substring {
                if value(text) == nil { problems.append(String(line)) }
            } else {
                problems.append(String(line))
            }
        }
        return problems
    }

    /// Every sample's name and value.
    static func samples(_ body: String) -> [(name: String, value: Double)] {
        let sample = sample
        return body.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), let match = line.wholeMatch(of: sample),
                let name = match.output[1].substring, let text = match.output[7].substring,
                let value = value(text)
            else { return nil }
            return (String(name), value)
        }
    }

    /// A sample value: a float, `NaN`, `+Inf` or `-Inf`.
    static func value(_ text: Substring) -> Double? {
        switch text {
        case "NaN": .nan
        case "+Inf": .infinity
        case "-Inf": -.infinity
        default: Double(text)
        }
    }
}

/// Real HTTP clients, run as child processes with deadlines.
enum HTTP {
    /// One response as the client saw it.
    struct Response: Decodable, Sendable {
        var status: Int
        var contentType: String?
        var allow: String?
        var connection: String?
        var body: String
        var localPort: Int?
    }

    /// urllib for one GET; http.client for a session of requests on one kept-alive
    /// connection (it reconnects by itself when the server closes, which the local port shows).
    static let script = #"""
        import http.client, json, sys, urllib.error, urllib.request
        def record(status, headers, body, local_port=None):
            return {"status": status, "contentType": headers.get("Content-Type"), "allow": headers.get("Allow"),
                    "connection": headers.get("Connection"), "body": body.decode("utf-8"), "localPort": local_port}
        if sys.argv[1] == "get":
            try:
                with urllib.request.urlopen(sys.argv[2], timeout=10) as r:
                    print(json.dumps([record(r.status, r.headers, r.read())]))
            except urllib.error.HTTPError as e:
                print(json.dumps([record(e.code, e.headers, e.read())]))
        else:
            connection = http.client.HTTPConnection("127.0.0.1", int(sys.argv[2]), timeout=10)
            results = []
            for request in sys.argv[3:]:
                method, path = request.split(" ")
                connection.request(method, path)
                response = connection.getresponse()
                body = response.read()
                results.append(record(response.status, response.headers, body, connection.sock.getsockname()[1] if connection.sock else None))
            print(json.dumps(results))
        """#

    /// `GET url` through urllib.
    static func get(_ url: String) async throws -> Response {
        try await python(["get", url])[0]
    }

    /// `requests` ("METHOD PATH") in order on one http.client connection to 127.0.0.1:`port`.
    static func session(port: Int, _ requests: [String]) async throws -> [Response] {
        try await python(["session", "\(port)"] + requests)
    }

    static func python(_ arguments: [String]) async throws -> [Response] {
        let output = try await run("/usr/bin/env", ["python3", "-c", script] + arguments)
        return try JSONDecoder().decode([Response].self, from: Data(output.utf8))
    }

    /// curl's path, if installed.
    static let curl: String? = ["/usr/bin/curl", "/usr/local/bin/curl", "/bin/curl"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Runs `executable arguments`; its standard output, or a failure naming its status and
    /// standard error. Killed after `timeout` seconds.
    static func run(_ executable: String, _ arguments: [String], timeout: Double = 20) async throws -> String {
        try await offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            // Killed at the deadline, which also ends the reads below.
            let pid = process.processIdentifier
            let killer = DispatchWorkItem { kill(pid, SIGKILL) }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
            // Read while it runs, so that a full pipe never blocks it.
            let output = out.fileHandleForReading.readDataToEndOfFile()
            let errors = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            killer.cancel()
            guard process.terminationReason == .exit else {
                throw TestFailure("\(executable) \(arguments.last ?? "") killed after \(timeout) s")
            }
            guard process.terminationStatus == 0 else {
                throw TestFailure(
                    "\(executable) exited \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self))")
            }
            return String(decoding: output, as: UTF8.self)
        }
    }
}
