import XCTest
final class PlaceholderTelemetryTests: XCTestCase { func testNothing() {} }
