// The power values both front ends and the actions share: a GPU's power figures,
// which GPUs a limit applies to, what limit, and how watts are written.
import Support

/// One GPU's power figures, in milliwatts (nil: not available on this GPU).
public struct PowerReading: Codable, Sendable, Equatable {
    public var index: Int
    public var name: String?
    public var uuid: String?
    public var lost: Bool = false
    public var powerDraw: Int?
    /// The power-management limit (what a set changes).
    public var powerLimit: Int?
    /// The limit in force (the lowest of every limiter: ours, the in-band one, the board's).
    public var powerLimitEnforced: Int?
    public var powerLimitDefault: Int?
    public var powerLimitMin: Int?
    public var powerLimitMax: Int?

    public init(index: Int) { self.index = index }
}

/// Which GPUs a set applies to.
public enum PowerTarget: Equatable, Sendable, CustomStringConvertible {
    case gpu(Int)
    case all

    /// `all` or a GPU index.
    public init(parsing text: String) throws(PowerInputError) {
        if text.lowercased() == "all" { self = .all; return }
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), text.count <= 6, let i = Int(text) else {
            throw PowerInputError(description: "GPU must be an index or 'all', not '\(text)'")
        }
        self = .gpu(i)
    }

    public var description: String {
        switch self {
        case .gpu(let i): return "GPU \(i)"
        case .all: return "all GPUs"
        }
    }
}

/// What limit to set: watts, a percentage of the GPU's default limit, or the default.
public enum PowerSetting: Equatable, Sendable, CustomStringConvertible {
    case milliwatts(Int)
    /// Percent of each GPU's own default limit (80 means 80 %).
    case percentOfDefault(Double)
    case defaultLimit

    /// `250`, `250W`, `250.5`, `250.5 W` (watts, up to 3 decimals), `80%`, `default`.
    public init(parsing raw: String) throws(PowerInputError) {
        let text = trimBlanks(raw)
        let lower = text.lowercased()
        if lower == "default" { self = .defaultLimit; return }
        if lower.hasSuffix("%") {
            let number = trimBlanks(String(lower.dropLast()))
            guard let thousandths = Self.decimalThousandths(number), thousandths > 0, thousandths <= 1_000_000 else {
                throw PowerInputError(description: "'\(raw)' is not a percentage of the default limit (e.g. 80%)")
            }
            self = .percentOfDefault(Double(thousandths) / 1000)
            return
        }
        var number = lower
        if number.hasSuffix("w") { number = trimBlanks(String(number.dropLast())) }
        guard let mw = Self.decimalThousandths(number), mw > 0 else {
            throw PowerInputError(description: "'\(raw)' is not a power limit: give watts (250, 250W, 250.5), a percentage of the default (80%) or 'default'")
        }
        guard mw <= Int(UInt32.max) else {
            throw PowerInputError(description: "'\(raw)' W is far beyond any GPU's power limit")
        }
        self = .milliwatts(mw)
    }

    /// "12.5" -> 12500; digits with at most 3 decimals; nil otherwise (no signs, exponents, hex).
    static func decimalThousandths(_ text: String) -> Int? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.count <= 9,
              whole.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let w = Int(whole) else { return nil }
        var fraction = 0
        if parts.count == 2 {
            let f = parts[1]
            guard !f.isEmpty, f.count <= 3, f.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let v = Int(f) else { return nil }
            fraction = v * [1, 100, 10, 1][f.count]
        }
        return w * 1000 + fraction
    }

    public var description: String {
        switch self {
        case .milliwatts(let mw): return PowerFormat.watts(mw)
        case .percentOfDefault(let p): return "\(PowerFormat.number(p))% of the default"
        case .defaultLimit: return "the default"
        }
    }
}

/// A bad GPU or limit argument (a usage error).
public struct PowerInputError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// How power figures are written everywhere (CLI, dashboard, audit log).
public enum PowerFormat {

    /// 250000 -> "250 W", 250500 -> "250.5 W".
    public static func watts(_ mw: Int) -> String {
        milli(mw) + " W"
    }

    /// "200..700 W".
    public static func range(_ lo: Int, _ hi: Int) -> String {
        "\(milli(lo))..\(milli(hi)) W"
    }

    /// "GPU 0 (NVIDIA H200)", or "GPU 0" without a name.
    public static func gpuLabel(gpu: Int, name: String?) -> String {
        guard let name, !name.isEmpty else { return "GPU \(gpu)" }
        return "GPU \(gpu) (\(name))"
    }

    public static func milli(_ v: Int) -> String {
        let sign = v < 0 ? "-" : ""
        let a = abs(v)
        var text = "\(a / 1000)"
        if a % 1000 != 0 {
            var f = String(a % 1000)
            while f.count < 3 { f = "0" + f }
            while f.hasSuffix("0") { f.removeLast() }
            text += "." + f
        }
        return sign + text
    }

    public static func number(_ v: Double) -> String {
        milli(Int((v * 1000).rounded()))
    }
}
