// The text of `gpuctop --help` read back as a structure, for the man page
// (ManualPage.swift) and the shell completions (ShellCompletion.swift): the usage lines
// of every command (Commands.all), the prose paragraphs, and the Options table of
// CommandLineParser.details. Reading back the very text --help prints, rather than
// keeping a second list, is what keeps the three from drifting apart; a test checks that
// every option a parser in Sources/gpuctop accepts is found here.
//
// The layout it reads (as written in the usage strings and `details`):
//   "  gpuctop snapshot [--json]   description"   an entry: two spaces, the term, two or
//   "  --nvml PATH           description"          more spaces, the description (or none)
//   "                        continued"            deeper lines continue the description

/// One usage line or one row of the Options table.
struct HelpEntry: Equatable {
    /// "gpuctop snapshot [--json] [--energy]" or "--nvml PATH".
    let term: String
    /// The description, continuation lines joined by single spaces ("" when there is none).
    let text: String
}

/// An option as a term names it: its spellings and the placeholder of its value.
struct HelpOption: Equatable {
    /// "-o" and "--output" for "-o|--output FILE".
    let names: [String]
    /// "FILE", "TERM|INT|KILL|N"; nil for a flag.
    let value: String?
}

struct HelpText {
    /// "which container is using which GPU, how much, and at what power".
    let summary: String
    /// Each visible command's words and its usage entries, in --help's order.
    let commands: [(names: [String], entries: [HelpEntry])]
    /// The prose between the usage and the Options table.
    let paragraphs: [String]
    /// The Options table.
    let options: [HelpEntry]

    static var current: HelpText {
        read(help: CommandLineParser.help, details: CommandLineParser.details,
             commands: Commands.all.map { ($0.names, $0.usage) })
    }

    static func read(help: String, details: String, commands: [([String], String)]) -> HelpText {
        let first = help.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        var summary = first.hasPrefix("gpuctop: ") ? String(first.dropFirst("gpuctop: ".count)) : first
        if summary.hasSuffix(".") { summary.removeLast() }

        var paragraphs: [String] = []
        var optionLines: [Substring] = []
        var inOptions = false
        var paragraph: [String] = []
        for line in details.split(separator: "\n", omittingEmptySubsequences: false) {
            if inOptions { optionLines.append(line); continue }
            if line.trimmingSpaces == "Options:" { inOptions = true; continue }
            if line.trimmingSpaces.isEmpty {
                if !paragraph.isEmpty { paragraphs.append(paragraph.joined(separator: " ")) }
                paragraph = []
            } else {
                paragraph.append(String(line.trimmingSpaces))
            }
        }
        if !paragraph.isEmpty { paragraphs.append(paragraph.joined(separator: " ")) }

        return HelpText(summary: summary,
                        commands: commands.map { ($0.0, entries($0.1.split(separator: "\n"))) },
                        paragraphs: paragraphs,
                        options: entries(optionLines))
    }

    /// Entries from lines of the layout above.
    static func entries(_ lines: [Substring]) -> [HelpEntry] {
        var result: [HelpEntry] = []
        for line in lines {
            let indent = line.prefix { $0 == " " }.count
            let body = line.dropFirst(indent).trimmingSpaces
            if body.isEmpty { continue }
            if indent <= 2 {
                if let gap = firstGap(body) {
                    result.append(HelpEntry(term: String(body[..<gap]),
                                            text: String(body[gap...].trimmingSpaces)))
                } else {
                    result.append(HelpEntry(term: String(body), text: ""))
                }
            } else if let last = result.popLast() {
                result.append(HelpEntry(term: last.term, text: last.text.isEmpty ? String(body) : last.text + " " + body))
            }
        }
        return result
    }

    /// Where the first run of two or more spaces starts.
    static func firstGap(_ s: Substring) -> Substring.Index? {
        var i = s.startIndex
        while i < s.endIndex {
            let next = s.index(after: i)
            if s[i] == " ", next < s.endIndex, s[next] == " " { return i }
            i = next
        }
        return nil
    }

    // MARK: - Reading terms

    /// A term's words, with the brackets that mark them optional taken off
    /// ("[--textfile", "DIR", "[--once]]" -> "--textfile", "DIR", "--once").
    static func words(_ term: String) -> [String] {
        term.split(separator: " ").map { word in
            var w = Substring(word)
            while w.first == "[" && w.dropFirst().first == "-" { w = w.dropFirst() }
            // Closing brackets of enclosing optional groups ("S]", "--once]]"), not the
            // word's own ("HOST[:PORT]").
            while w.last == "]" && w.filter({ $0 == "]" }).count > w.filter({ $0 == "[" }).count { w = w.dropLast() }
            return String(w)
        }.filter { !$0.isEmpty }
    }

    /// Whether a word is an option or options ("--json", "-o|--output").
    static func isOption(_ word: String) -> Bool {
        let parts = word.split(separator: "|")
        return !parts.isEmpty && parts.allSatisfy { part in
            part.count >= 2 && part.first == "-" && part.dropFirst().first.map { $0.isLetter || $0 == "-" } == true
        }
    }

    /// Whether a word stands for a value the user writes (FILE, TIME, ADDR:PORT, WxH).
    static func isPlaceholder(_ word: String) -> Bool {
        guard let c = word.first(where: { $0 != "[" }) else { return false }
        return c.isUppercase
    }

    /// The options a term names, each with the placeholder that follows it.
    static func options(in term: String) -> [HelpOption] {
        let ws = words(term)
        var result: [HelpOption] = []
        for (i, word) in ws.enumerated() where isOption(word) {
            let next = i + 1 < ws.count ? ws[i + 1] : nil
            let value = next.flatMap { isPlaceholder($0) ? $0 : nil }
            result.append(HelpOption(names: word.split(separator: "|").map(String.init), value: value))
        }
        return result
    }

    /// The command words a usage term starts with ("stop|restart" -> stop, restart), if
    /// its second word names commands.
    static func commandWords(in term: String, of names: [String]) -> [String] {
        let ws = words(term)
        guard ws.count >= 2 else { return [] }
        let candidates = ws[1].split(separator: "|").map(String.init)
        return candidates.allSatisfy(names.contains) ? candidates : []
    }

    /// What a command takes first after its word, from its usage terms: literal words
    /// ("set") and placeholders ("CONTAINER...", "FILE", "PID"), options and their values skipped.
    static func firstPositionals(in terms: [String], of names: [String]) -> [String] {
        var result: [String] = []
        for term in terms where !commandWords(in: term, of: names).isEmpty {
            let ws = Array(words(term).dropFirst(2))
            var i = 0
            while i < ws.count {
                if isOption(ws[i]) {
                    i += (i + 1 < ws.count && isPlaceholder(ws[i + 1])) ? 2 : 1
                    continue
                }
                if ws[i] != "|" && !result.contains(ws[i]) { result.append(ws[i]) }
                break
            }
        }
        return result
    }

    // MARK: - Views the renderers share

    /// The options of the Options table (taken anywhere on the command line, or by several commands).
    var tableOptions: [String] {
        options.flatMap { Self.options(in: $0.term).flatMap(\.names) }
    }

    /// A short description of a command word: its usage entry's text up to the first
    /// parenthesis or semicolon.
    func shortDescription(of word: String) -> String {
        for command in commands where command.names.contains(word) {
            let entry = command.entries.first { Self.commandWords(in: $0.term, of: command.names).contains(word) }
                ?? command.entries.first
            guard var text = entry?.text else { continue }
            if let cut = text.firstIndex(where: { $0 == "(" || $0 == ";" }) { text = String(text[..<cut]) }
            return String(text.trimmingSpaces)
        }
        return ""
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces (FoundationEssentials-free).
    var trimmingSpaces: SubSequence {
        let start = firstIndex { $0 != " " } ?? endIndex
        let end = lastIndex { $0 != " " }.map { index(after: $0) } ?? start
        return self[start..<Swift.max(start, end)]
    }
}
