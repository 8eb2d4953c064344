import XCTest
final class PlaceholderGpuctopTests: XCTestCase { func testNothing() {} }
