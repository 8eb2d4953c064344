// Finding text in text, byte by byte. Why not the standard library's `contains(_:)`,
// `firstRange(of:)`, `ranges(of:)` and `replacing(_:with:)` on strings: they live in the
// _StringProcessing module, whose code lies next to the regex parser's in the static
// binary (860 KiB that the linker cannot split), and the kernel maps code 64 KiB around
// every page a process touches: a dozen such calls kept 0.6 MiB of that module resident
// in the dashboard (BENCHMARKS.md, "Peak RSS"). `scripts/test.sh` fails the build when a
// module calls into _StringProcessing again.
//
// The match is on UTF-8 bytes, so a needle of whole scalars is found where its scalars
// are, even inside a grapheme cluster (the standard library matches whole Characters):
// what every caller here wants, since the needles are ASCII words and punctuation.

// Concrete on String and Substring with a String needle, never generic: generic string
// code runs the standard library's unspecialised paths, whose pages cost as much as the
// module this replaces.
extension Substring {
    /// The first range of `needle`'s bytes in the text; an empty needle matches at the start.
    public func firstRange(ofText needle: String) -> Range<String.Index>? {
        byteRange(of: needle, last: false)
    }

    /// The last range of `needle`'s bytes in the text (matches, from the start, do not overlap).
    public func lastRange(ofText needle: String) -> Range<String.Index>? {
        byteRange(of: needle, last: true)
    }

    /// Whether `needle`'s bytes occur in the text.
    public func includes(_ needle: String) -> Bool {
        firstRange(ofText: needle) != nil
    }

    private func byteRange(of needle: String, last: Bool) -> Range<String.Index>? {
        var needle = needle
        var text = self
        let found: Range<Int>? = needle.withUTF8 { pattern in
            text.withUTF8 { bytes in Self.match(pattern, in: bytes, last: last) }
        }
        guard let found else { return nil }
        let view = utf8
        return view.index(view.startIndex, offsetBy: found.lowerBound)..<view.index(view.startIndex, offsetBy: found.upperBound)
    }

    /// Byte offsets of the first match, or of the last of the non-overlapping matches.
    private static func match(_ pattern: UnsafeBufferPointer<UInt8>, in bytes: UnsafeBufferPointer<UInt8>,
                              last: Bool) -> Range<Int>? {
        guard let lead = pattern.first else { return 0..<0 }
        var found: Range<Int>?
        var at = 0
        while at + pattern.count <= bytes.count {
            var matched = 0
            if bytes[at] == lead {
                matched = 1
                while matched < pattern.count && bytes[at + matched] == pattern[matched] { matched += 1 }
            }
            if matched == pattern.count {
                found = at..<at + matched
                if !last { break }
                at += matched
            } else {
                at += 1
            }
        }
        return found
    }
}

extension String {
    /// Whether `needle` occurs in the text as a person reads it: for the table's filter,
    /// where people type what they see, so an "é" typed composed finds one stored
    /// decomposed (e and a combining accent) and the other way round. An ASCII needle is
    /// the byte search (it may also find an "e" under a decomposed accent: a filter that
    /// shows one row more is harmless); any other slides a window of the needle's length
    /// in Characters over the text, compared Character by Character (canonical equality,
    /// the standard library's core, not _StringProcessing; nothing allocated).
    public func includesAsRead(_ needle: String) -> Bool {
        if needle.utf8.allSatisfy({ $0 < 0x80 }) { return includes(needle) }
        guard let first = needle.first else { return true }
        var start = startIndex
        guard var end = index(start, offsetBy: needle.count, limitedBy: endIndex) else { return false }
        while true {
            if self[start] == first && self[start..<end].elementsEqual(needle) { return true }
            guard end < endIndex else { return false }
            start = index(after: start)
            end = index(after: end)
        }
    }

    /// The first range of `needle`'s bytes in the text; an empty needle matches at the start.
    public func firstRange(ofText needle: String) -> Range<String.Index>? { self[...].firstRange(ofText: needle) }

    /// The last range of `needle`'s bytes in the text (matches do not overlap).
    public func lastRange(ofText needle: String) -> Range<String.Index>? { self[...].lastRange(ofText: needle) }

    /// Whether `needle`'s bytes occur in the text.
    public func includes(_ needle: String) -> Bool { self[...].includes(needle) }

    /// The text with every non-overlapping `old` (from the start) replaced by `new`.
    public func replacingText(_ old: String, with new: String) -> String {
        guard !old.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.firstRange(ofText: old) {
            out += rest[..<r.lowerBound]
            out += new
            rest = rest[r.upperBound...]
        }
        out += rest
        return out
    }
}
