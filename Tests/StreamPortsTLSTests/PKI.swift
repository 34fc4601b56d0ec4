import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A throwaway PKI made with the `openssl` command-line tool, once per test process, in a
/// temporary directory removed at exit (no key is ever committed):
/// - `ca`: the CA every test trusts; `other-ca`: a CA nobody trusts;
/// - `server`: CN=localhost, SANs DNS:localhost, IP:127.0.0.1, IP:::1 (signed by `ca`);
/// - `client`: CN=portecho client, O=StreamPorts Tests (signed by `ca`);
/// - `other-client`: a client certificate signed by `other-ca`;
/// - `expired`: like `server`, valid only in January 2020;
/// - `wrong-name`: SAN DNS:wrong.example only; `wrong-name-ip`: SANs DNS:wrong.example and
///   IP:127.0.0.1;
/// - `untrusted`: like `server`, signed by `other-ca`;
/// - `garbled.pem`: a PEM envelope around garbage; `mismatched`: `server.pem` + `client.key`.
struct TestPKI: Sendable {
    let directory: String

    func path(_ name: String) -> String { "\(directory)/\(name)" }
    func cert(_ name: String) -> String { path("\(name).pem") }
    func key(_ name: String) -> String { path("\(name).key") }

    static let shared: TestPKI = {
        do {
            return try make()
        } catch {
            fatalError("cannot make the test PKI: \(error)")
        }
    }()

    private static func make() throws -> TestPKI {
        let template = "/tmp/streamports-tls-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else { throw TestFailure("mkdtemp failed: errno \(errno)") }
        let directory = String(cString: made)
        pkiDirectory = directory
        atexit {
            if let directory = pkiDirectory { try? FileManager.default.removeItem(atPath: directory) }
        }
        let script = #"""
            set -e
            cd "$1"
            printf '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n[p]\ncommonName = supplied\norganizationName = optional\n' > ca.cnf
            : > index.txt; echo 1000 > serial
            printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n' > server.ext
            printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:wrong.example\nextendedKeyUsage=serverAuth\n' > wrong.ext
            printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:wrong.example,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > wrong-ip.ext
            printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' > client.ext
            key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
            ca() {
                key "$1"
                openssl req -x509 -new -key "$1.key" -subj "/O=StreamPorts Tests/CN=$2" -days 3 -out "$1.pem" \
                    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
            }
            leaf() {  # name subject issuer extfile
                key "$1"
                openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
                openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 3 -extfile "$4" -out "$1.pem" 2>/dev/null
            }
            ca ca "StreamPorts Test CA"
            ca other-ca "Some Other CA"
            leaf server "/CN=localhost" ca server.ext
            leaf client "/O=StreamPorts Tests/CN=portecho client" ca client.ext
            leaf other-client "/O=Elsewhere/CN=stranger" other-ca client.ext
            leaf wrong-name "/CN=wrong.example" ca wrong.ext
            leaf wrong-name-ip "/CN=wrong.example" ca wrong-ip.ext
            leaf untrusted "/CN=localhost" other-ca server.ext
            key expired
            openssl req -new -key expired.key -subj "/CN=localhost" -out expired.csr
            openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -notext \
                -startdate 20200101000000Z -enddate 20200131000000Z -extfile server.ext -out expired.pem 2>/dev/null
            printf -- '-----BEGIN CERTIFICATE-----\nthis is not base64 at all!\n-----END CERTIFICATE-----\n' > garbled.pem
            cp server.pem mismatched.pem; cp client.key mismatched.key
            """#
        let result = try run("/bin/sh", ["-c", script, "sh", directory])
        guard result.status == 0 else { throw TestFailure("openssl failed (\(result.status)): \(result.output)") }
        return TestPKI(directory: directory)
    }
}

nonisolated(unsafe) private var pkiDirectory: String?

/// Runs a command to its end; its standard output and error together.
@discardableResult
func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = out
    let stdin = Pipe()
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try? stdin.fileHandleForWriting.close()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
