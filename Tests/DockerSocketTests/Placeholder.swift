import XCTest
final class PlaceholderDockerSocketTests: XCTestCase { func testNothing() {} }
