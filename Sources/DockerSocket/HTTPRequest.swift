// The few requests we send: no body, so serialisation is a status line and fixed headers.

struct HTTPRequest {
    var method: String
    /// Path and query, already percent-encoded.
    var target: String

    /// dockerd answers 400 to HTTP/1.1 requests without a Host header; any name will do on a
    /// unix socket. Content-Length: 0 on POST keeps strict servers from waiting for a body.
    func serialized() -> [UInt8] {
        var text = "\(method) \(target) HTTP/1.1\r\n"
        text += "Host: docker\r\n"
        text += "User-Agent: gpuctop\r\n"
        text += "Accept: application/json\r\n"
        if method == "POST" || method == "PUT" { text += "Content-Length: 0\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for path segments and query
/// values alike (container names, signal names, the JSON of a filter).
func percentEncode(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = Array("0123456789ABCDEF".utf8)
            out += "%"
            out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
            out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0x0F)]))
        }
    }
    return out
}
