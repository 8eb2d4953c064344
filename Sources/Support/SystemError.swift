// An error from a system call, with errno kept as data (as swift-nio's IOError):
// callers decide on the code (ENOENT is "absent", EACCES is "run as root"), and
// the text is made only where it is shown.
import Glibc

public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was being done: "open /var/log/x", "connect /run/docker.sock".
    public var operation: String
    public var errno: Int32

    public init(_ operation: String, errno: Int32 = Glibc.errno) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String { "\(operation): \(errnoText(errno))" }
}

/// strerror's text for `code`, e.g. "No such file or directory".
public func errnoText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text)
}
