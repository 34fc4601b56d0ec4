import CStreamPortsICU
import Synchronization

/// A character encoding: any of ICU's converters, by name or alias, case-insensitively.
///
/// UTF-8, ISO-8859-1 (Latin-1) and US-ASCII are converted natively in Swift; every other codec
/// goes through ICU straight to UTF-8.
///
/// ```swift
/// let sjis = try Codec("sjis")          // ICU's Shift_JIS converter
/// let utf8 = Codec.utf8
/// print(sjis.name)                      // the name ICU opened, "ibm-943_P15A-2003"
/// ```
public struct Codec: Sendable, Hashable, CustomStringConvertible {
    /// How the codec is converted.
    enum Family: Sendable, Hashable {
        case utf8, latin1, ascii, icu
    }

    /// The name of the converter ICU opened for the requested name (`"UTF-8"`,
    /// `"ibm-943_P15A-2003"` for `"Shift_JIS"`).
    public let name: String
    /// The name the codec was asked for.
    public let requestedName: String
    let family: Family
    /// The bytes 0x0A / 0x0D are LF / CR (and no other byte is), they never occur inside a
    /// multi-byte character, and the codec is stateless.
    let asciiLineSafe: Bool
    /// NEL (U+0085) or LS (U+2028) can be encoded; then only UTF-8 and Latin-1 know their bytes.
    let encodesUnicodeLineEnds: Bool

    /// Opens the codec called `name` (any ICU converter name or alias, case-insensitive).
    /// - Parameter name: a name such as `"UTF-8"`, `"Shift_JIS"`, `"cp932"`, `"latin1"`.
    /// - Throws: ``TranscoderError`` with code `.unknownCodec`, naming `name` and suggesting
    ///   the closest known names.
    public init(_ name: String) throws(TranscoderError) {
        try self.init(name, nativeFastPaths: true)
    }

    /// Opens a codec; with `nativeFastPaths` false, UTF-8, Latin-1 and ASCII also go through
    /// ICU (tests compare the two paths).
    init(_ name: String, nativeFastPaths: Bool) throws(TranscoderError) {
        let trimmed = name.trimmingSpaces
        guard !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            throw Codec.unknown(name, status: 1)
        }
        let converter = try ICUConverter(name: trimmed, mode: .replace)
        let handle = converter.handle
        self.requestedName = name
        let type = sp_type(handle)
        switch nativeFastPaths ? type : Int32(SP_TYPE_OTHER) {
        case Int32(SP_TYPE_UTF8):
            self.family = .utf8
            self.name = "UTF-8"
        case Int32(SP_TYPE_LATIN1):
            self.family = .latin1
            self.name = "ISO-8859-1"
        case Int32(SP_TYPE_ASCII):
            self.family = .ascii
            self.name = "US-ASCII"
        default:
            self.family = .icu
            self.name = converter.name
        }
        self.asciiLineSafe = Codec.lineSafetyCache.value(for: self.name) { sp_is_ascii_line_safe(handle) != 0 }
        self.encodesUnicodeLineEnds =
            Codec.canEncode(handle: converter, "\u{85}") || Codec.canEncode(handle: converter, "\u{2028}")
    }

    public var description: String { name }

    public static func == (lhs: Codec, rhs: Codec) -> Bool { lhs.name == rhs.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    private static func canEncode(handle converter: ICUConverter, _ scalar: Unicode.Scalar) -> Bool {
        guard let probe = try? ICUConverter(name: converter.name, mode: .raise) else { return false }
        var utf8 = Array(String(scalar).utf8)
        var out = [UInt8](repeating: 0, count: 32)
        var error = sp_error()
        let result = utf8.withUnsafeMutableBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var s: UnsafePointer<UInt8>? = UnsafePointer(src.baseAddress!)
                var d: UnsafeMutablePointer<UInt8>? = dst.baseAddress!
                return sp_encode(
                    probe.handle, &s, src.baseAddress! + src.count, &d, dst.baseAddress! + dst.count, 1, &error)
            }
        }
        utf8.removeAll()
        return result == Int32(SP_OK)
    }

    /// Converted by ICU (not by this package's own UTF-8, Latin-1 and ASCII code).
    package var convertsThroughICU: Bool { family == .icu }

    /// Whether line ends can be found by scanning raw bytes for this codec and `style`: true
    /// for UTF-8, Latin-1, ASCII and every stateless ASCII-compatible codec whose multi-byte
    /// characters never contain 0x0A or 0x0D (Shift_JIS, EUC-JP, windows-125x, KOI8-R, GBK,
    /// Big5, …). For the Unicode styles the codec must also be UTF-8 or Latin-1, or unable
    /// to encode NEL and LS at all. False for UTF-16/32, EBCDIC, ISO-2022-JP, and GB18030 with
    /// a Unicode style: those are framed on decoded characters. (How stream ports choose their
    /// line framing; plumbing, not API.)
    package func lineEndsAreByteScannable(for style: EOLStyle) -> Bool {
        switch family {
        case .utf8, .latin1, .ascii: return true
        case .icu:
            guard asciiLineSafe else { return false }
            return !style.isUnicode || !encodesUnicodeLineEnds
        }
    }

    // MARK: Shorthands

    /// UTF-8 (Swift's native string storage; converted in Swift).
    public static let utf8 = Codec.known("UTF-8")
    /// ISO-8859-1 (converted in Swift).
    public static let latin1 = Codec.known("ISO-8859-1")
    /// US-ASCII (converted in Swift).
    public static let ascii = Codec.known("US-ASCII")
    /// UTF-16 with a BOM: honours a BOM on decode (big-endian without one), writes one at
    /// stream start then big-endian.
    public static let utf16 = Codec.known("UTF-16")
    /// UTF-16, little-endian, no BOM handling.
    public static let utf16LE = Codec.known("UTF-16LE")
    /// UTF-16, big-endian, no BOM handling.
    public static let utf16BE = Codec.known("UTF-16BE")
    /// UTF-32 with a BOM, as ``utf16``.
    public static let utf32 = Codec.known("UTF-32")
    /// UTF-32, little-endian.
    public static let utf32LE = Codec.known("UTF-32LE")
    /// UTF-32, big-endian.
    public static let utf32BE = Codec.known("UTF-32BE")
    /// Shift_JIS (ICU's `ibm-943_P15A-2003`).
    public static let shiftJIS = Codec.known("Shift_JIS")
    /// EUC-JP.
    public static let eucJP = Codec.known("EUC-JP")
    /// ISO-2022-JP (stateful).
    public static let iso2022JP = Codec.known("ISO-2022-JP")
    /// GB18030.
    public static let gb18030 = Codec.known("GB18030")
    /// Big5.
    public static let big5 = Codec.known("Big5")
    /// windows-1252.
    public static let windows1252 = Codec.known("windows-1252")
    /// KOI8-R.
    public static let koi8R = Codec.known("KOI8-R")
    /// IBM037 (EBCDIC, US/Canada).
    public static let ibm037 = Codec.known("IBM037")

    private static func known(_ name: String) -> Codec {
        do {
            return try Codec(name)
        } catch {
            fatalError("ICU lacks the standard codec \(name): \(error)")
        }
    }

    // MARK: Listing

    /// One available codec: ICU's name and its aliases.
    public struct Info: Sendable, Hashable {
        /// ICU's name for the converter.
        public let name: String
        /// Every other name it answers to.
        public let aliases: [String]
    }

    /// Every codec ICU provides, in ICU's order, with its aliases.
    public static let available: [Info] = {
        (0..<sp_count_available()).compactMap { index -> Info? in
            guard let cName = sp_available_name(index) else { return nil }
            let name = String(cString: cName)
            let aliases = (0..<sp_count_aliases(cName)).compactMap { i -> String? in
                sp_alias(cName, i).map { String(cString: $0) }
            }
            return Info(name: name, aliases: aliases.filter { $0 != name })
        }
    }()

    /// The codecs any of whose names contains `filter`, ignoring case.
    /// - Parameter filter: a fragment such as `"jis"`.
    public static func available(matching filter: String) -> [Info] {
        let needle = filter.asciiLowercased
        guard !needle.isEmpty else { return available }
        return available.filter { info in
            ([info.name] + info.aliases).contains { $0.asciiLowercased.contains(needle) }
        }
    }

    /// The known names closest to `name`, comparing letters and digits only, ignoring case
    /// (as ICU matches names), by edit distance with a bonus for prefixes.
    /// - Parameters:
    ///   - name: a codec name that may be misspelt.
    ///   - limit: the most names to return.
    /// - Returns: up to `limit` names, closest first; empty when nothing is close.
    public static func suggestions(for name: String, limit: Int = 3) -> [String] {
        let key = looseKey(name)
        guard !key.isEmpty else { return ["UTF-8"] }
        var scored: [(Int, String)] = []
        for info in available {
            for candidate in [info.name] + info.aliases {
                let candidateKey = looseKey(candidate)
                var d = editDistance(key, candidateKey)
                if candidateKey.starts(with: key) || key.starts(with: candidateKey) {
                    d = min(d, 1 + abs(candidateKey.count - key.count) / 4)
                }
                scored.append((d, candidate))
            }
        }
        scored.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1.count < $1.1.count }
        let threshold = max(2, key.count / 2)
        var result: [String] = []
        for (d, candidate) in scored where d <= threshold {
            if !result.contains(where: { looseKey($0) == looseKey(candidate) }) { result.append(candidate) }
            if result.count == limit { break }
        }
        return result
    }

    static func unknown(_ name: String, status: Int32) -> TranscoderError {
        let suggestions = suggestions(for: name)
        let hint =
            suggestions.isEmpty ? "" : "; did you mean \(suggestions.map { "\"\($0)\"" }.joined(separator: ", "))?"
        let reason = status == 4 || status == 1 ? "no such codec" : icuErrorName(status)
        return TranscoderError(
            code: .unknownCodec,
            message: "unknown codec \"\(name)\": \(reason)\(hint) (`portecho encodings` lists them all)",
            suggestions: suggestions)
    }

    private static func looseKey(_ name: String) -> [UInt8] {
        name.utf8.compactMap { b in
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): b + 32
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): b
            default: nil
            }
        }
    }

    /// Edit distance counting an adjacent transposition as one edit ("jsi" for "jis").
    private static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var twoBack = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                var d = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d = min(d, twoBack[j - 2] + 1) }
                current[j] = d
            }
            (twoBack, previous, current) = (previous, current, twoBack)
        }
        return previous[b.count]
    }

    private static let lineSafetyCache = Cache<String, Bool>()
}

/// A tiny thread-safe memo table.
final class Cache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let storage = Mutex<[Key: Value]>([:])

    func value(for key: Key, compute: () -> Value) -> Value {
        if let hit = storage.withLock({ $0[key] }) { return hit }
        let value = compute()
        storage.withLock { $0[key] = value }
        return value
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }

    var asciiLowercased: String {
        String(decoding: utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }
}
