// Bidi overrides and other format characters (Unicode Cf) and the line and
// paragraph separators, in text that others control, are shown as <U+XXXX>,
// never sent raw: a terminal that obeys U+202E shows "gpj.exe" for "exe.jpg".
import FoundationEssentials
import Model
@testable import TUI
import XCTest

final class FormatCharacterTests: XCTestCase {
    static let hostile: [Unicode.Scalar] = [
        "\u{202A}", "\u{202B}", "\u{202C}", "\u{202D}", "\u{202E}",   // embeddings and overrides
        "\u{2066}", "\u{2067}", "\u{2068}", "\u{2069}",               // isolates
        "\u{200E}", "\u{200F}", "\u{061C}",                           // marks
        "\u{200B}", "\u{200D}", "\u{FEFF}", "\u{00AD}", "\u{E0001}",  // invisible format characters
        "\u{2028}", "\u{2029}",                                       // line and paragraph separators
    ]

    /// True when `text` holds a scalar the terminal would obey or hide.
    static func hasRaw(_ text: String) -> Bool {
        text.unicodeScalars.contains { s in
            switch s.properties.generalCategory {
            case .format, .lineSeparator, .paragraphSeparator: return true
            default: return false
            }
        }
    }

    func testEachIsShownAsItsCodePoint() {
        for s in Self.hostile {
            let text = Sanitize.visible("a\(s)b")
            XCTAssertFalse(Self.hasRaw(text), "U+\(String(s.value, radix: 16)): \(text.debugDescription)")
            var hex = String(s.value, radix: 16, uppercase: true)
            while hex.count < 4 { hex = "0" + hex }
            XCTAssertEqual(text, "a<U+\(hex)>b")
        }
        XCTAssertEqual(Sanitize.visible("evil\u{202E}gpj.exe"), "evil<U+202E>gpj.exe")
        XCTAssertEqual(Sanitize.visible("\u{1b}[31m\u{85}"), "^[[31m<U+0085>", "controls as before")
        XCTAssertEqual(Sanitize.visible("naïve 日本 émoji 🙂 x\u{0301}"), "naïve 日本 émoji 🙂 x\u{0301}", "ordinary text untouched")
    }

    /// JSON keeps the data (a decoder gives back the same string) but holds none raw.
    func testJSONEscapesThemAndDecodesToTheSameText() throws {
        var snapshot = Snapshot(time: 1_800_000_000, host: "h")
        let name = "evil\u{202E}gpj.exe \u{9B}31m \u{9D}0;title\u{9C} \u{85}\u{7F} " + Self.hostile.map { String($0) }.joined()
        snapshot.degraded = [DegradedSource(source: "docker", reason: name)]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted]  // its newlines stay as they are
        let raw = String(decoding: try encoder.encode(snapshot), as: UTF8.self)
        XCTAssertTrue(Self.hasRaw(raw), "JSONEncoder alone leaves them raw")
        let escaped = Sanitize.jsonEscapingFormatCharacters(raw)
        XCTAssertFalse(Self.hasRaw(escaped), escaped)
        XCTAssertFalse(escaped.unicodeScalars.contains { (0x7F...0x9F).contains($0.value) }, "no raw DEL or C1: \(escaped.debugDescription)")
        XCTAssertTrue(escaped.contains("\\u009b31m"), escaped)
        XCTAssertTrue(escaped.contains("evil\\u202egpj.exe"), escaped)
        XCTAssertTrue(escaped.contains("\\udb40\\udc01"), "U+E0001 as a surrogate pair: \(escaped)")
        let back = try JSONDecoder().decode(Snapshot.self, from: Data(escaped.utf8))
        XCTAssertEqual(back.degraded.first?.reason, name)
    }

    func testTextOutputAndDashboardShowThemVisibly() {
        var s = DashboardFrameTests.containerSnapshot()
        s.processes[0].info?.command = "python \u{202E}yp.niart\u{2066} --x\u{2028}rm -rf"
        let a = String(repeating: "a", count: 64)
        let i = s.containers.firstIndex { $0.id == a }!
        s.containers[i].name = "trainer\u{202E}evil"
        s.containers[i].labels = ["owner": "alice\u{2029}\u{200F}"]

        let text = SnapshotText.render(s)
        XCTAssertFalse(Self.hasRaw(text), text.debugDescription)
        XCTAssertTrue(text.contains("python <U+202E>yp.niart<U+2066> --x<U+2028>rm -rf"), text)
        XCTAssertTrue(text.contains("trainer<U+202E>evil"), text)

        var m = DashboardModel(width: 200, height: 50)
        _ = m.update(.tick(s.time))
        _ = m.update(.snapshot(s))
        let frame = DashboardView.render(m).text
        XCTAssertFalse(Self.hasRaw(frame), frame.debugDescription)
        XCTAssertTrue(frame.contains("trainer<U+202E>evil"), frame)
        XCTAssertTrue(frame.contains("<U+202E>yp.niart"), frame)
        _ = m.update(.key(.enter))   // the detail view shows labels in full
        let detail = DashboardView.render(m).text
        XCTAssertFalse(Self.hasRaw(detail), detail.debugDescription)
        XCTAssertTrue(detail.contains("owner=alice<U+2029><U+200F>"), detail)
    }
}
