#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Stops the run when a property does not hold: the message goes to standard error and the
/// process aborts, which libFuzzer records as a crash (with the input saved as `crash-…`).
/// - Parameters:
///   - condition: the property.
///   - message: what was expected and what happened, with the input's parameters.
public func require(
    _ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line
) {
    if !condition { fail(message(), file: file, line: line) }
}

/// Reports a property violation and aborts.
/// - Parameter message: what was expected and what happened.
public func fail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    var text = "FUZZ PROPERTY VIOLATED at \(file):\(line): \(message)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    abort()
}
