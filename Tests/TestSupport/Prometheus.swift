// The Prometheus text format as the tests read it: a strict parser of what
// `gpuctop export` writes, and promtool's verdict on it.
import Foundation

/// One parsed sample line.
public struct PromSample: Equatable {
    public var name: String
    public var labels: [String: String]
    public var value: String
}

/// A strict reader of the 0.0.4 text format, enough to check what we write: HELP and
/// TYPE once per family and before its samples, each family's samples together,
/// label values unescaped.
public struct PromParsed {
    public var samples: [PromSample] = []
    public var help: [String: String] = [:]
    public var type: [String: String] = [:]
    public var familyOrder: [String] = []

    public init(_ text: String) throws {
        guard text.isEmpty || text.hasSuffix("\n") else { throw TestFailure("the exposition does not end with a line feed") }
        var closed = Set<String>()
        var current: String?
        func enter(_ name: String) throws {
            if current == name { return }
            if let current { closed.insert(current) }
            guard !closed.contains(name) else { throw TestFailure("family \(name) appears twice (not grouped)") }
            current = name
            familyOrder.append(name)
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst(7)
                let name = String(rest.prefix { $0 != " " })
                try enter(name)
                guard help[name] == nil else { throw TestFailure("two HELP lines for \(name)") }
                guard samples.last?.name != name else { throw TestFailure("HELP after samples for \(name)") }
                help[name] = String(rest.dropFirst(name.count + 1))
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4 else { throw TestFailure("bad TYPE line: \(line)") }
                let name = String(parts[2])
                try enter(name)
                guard type[name] == nil else { throw TestFailure("two TYPE lines for \(name)") }
                guard samples.last?.name != name else { throw TestFailure("TYPE after samples for \(name)") }
                type[name] = String(parts[3])
            } else if line.hasPrefix("#") {
                continue
            } else {
                let sample = try Self.parseSample(String(line))
                try enter(sample.name)
                guard type[sample.name] != nil, help[sample.name] != nil else {
                    throw TestFailure("sample without HELP/TYPE: \(line)")
                }
                samples.append(sample)
            }
        }
    }

    public static func parseSample(_ line: String) throws -> PromSample {
        let chars = Array(line.unicodeScalars)
        var i = 0
        var name = ""
        while i < chars.count, chars[i] != "{", chars[i] != " " { name.unicodeScalars.append(chars[i]); i += 1 }
        guard name.range(of: "^[a-zA-Z_:][a-zA-Z0-9_:]*$", options: .regularExpression) != nil else {
            throw TestFailure("bad metric name in: \(line)")
        }
        var labels: [String: String] = [:]
        if i < chars.count, chars[i] == "{" {
            i += 1
            while i < chars.count, chars[i] != "}" {
                var label = ""
                while i < chars.count, chars[i] != "=" { label.unicodeScalars.append(chars[i]); i += 1 }
                guard label.range(of: "^[a-zA-Z_][a-zA-Z0-9_]*$", options: .regularExpression) != nil,
                      i + 1 < chars.count, chars[i + 1] == "\"" else { throw TestFailure("bad label in: \(line)") }
                i += 2
                var value = ""
                while i < chars.count, chars[i] != "\"" {
                    if chars[i] == "\\" {
                        i += 1
                        guard i < chars.count else { throw TestFailure("dangling escape in: \(line)") }
                        switch chars[i] {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: throw TestFailure("bad escape in: \(line)")
                        }
                    } else {
                        value.unicodeScalars.append(chars[i])
                    }
                    i += 1
                }
                guard i < chars.count else { throw TestFailure("unterminated label value in: \(line)") }
                i += 1
                guard labels[label] == nil else { throw TestFailure("label \(label) twice in: \(line)") }
                labels[label] = value
                if i < chars.count, chars[i] == "," { i += 1 }
            }
            guard i < chars.count else { throw TestFailure("unterminated labels in: \(line)") }
            i += 1
        }
        guard i < chars.count, chars[i] == " " else { throw TestFailure("no value in: \(line)") }
        let value = String(String.UnicodeScalarView(chars[(i + 1)...]))
        guard Double(value) != nil, !value.contains(" ") else { throw TestFailure("bad value '\(value)' in: \(line)") }
        return PromSample(name: name, labels: labels, value: value)
    }

    public func values(_ name: String) -> [PromSample] { samples.filter { $0.name == name } }

    /// The one sample of `name` whose labels include `match`.
    public func sample(_ name: String, _ match: [String: String] = [:]) throws -> PromSample {
        let found = samples.filter { s in s.name == name && match.allSatisfy { s.labels[$0.key] == $0.value } }
        guard found.count == 1 else { throw TestFailure("\(found.count) samples of \(name) \(match)") }
        return found[0]
    }
}

/// What `promtool check metrics` may say about gpuctop's output: exit 0, or 3 (lint
/// problems) where every problem is about a DCGM_FI_DEV_/DCGM_FI_PROF_ family: its camelCase label
/// (modelName) or its counter without _total, both dcgm-exporter's own choices.
public enum PromtoolVerdict {
    public static let promtool = "/usr/bin/promtool"

    /// Everything promtool said that is not allowed; empty when the output passes.
    public static func problems(_ r: RunResult) -> [String] {
        var bad: [String] = []
        if r.status != 0 && r.status != 3 { bad.append("promtool exit status \(r.status)") }
        for p in (r.stdout + r.stderr).split(separator: "\n") where !p.isEmpty {
            let allowed = (p.hasPrefix("DCGM_FI_DEV_") || p.hasPrefix("DCGM_FI_PROF_"))
                && (p.contains("label names should be written in 'snake_case'") || p.contains("should have \"_total\" suffix"))
            if !allowed { bad.append(String(p)) }
        }
        return bad
    }

    /// Runs promtool on a file.
    public static func check(file: String) throws -> [String] {
        guard FileManager.default.isExecutableFile(atPath: promtool) else {
            throw TestFailure("\(promtool) is missing: scripts/test.sh installs the prometheus package")
        }
        return problems(try Run.command(["/bin/sh", "-c", "exec \(promtool) check metrics < '\(file)'"]))
    }
}
