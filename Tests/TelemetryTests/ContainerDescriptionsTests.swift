// The cache of container descriptions: kept while the catalog is unchanged, dropped
// when it changes, and pruned of containers the joins no longer see (containers no
// engine sends events about would otherwise stay forever).
@testable import Model
@testable import Telemetry
import XCTest

final class ContainerDescriptionsTests: XCTestCase {
    func testKeptUntilTheCatalogChangesAndPrunedWhenUnused() {
        let cache = ContainerDescriptions()
        func ref(_ i: Int) -> ContainerRef { ContainerRef(runtime: .containerd, id: String(repeating: "\(i % 10)", count: 8) + "\(i)") }
        cache.sync(version: 1)
        for i in 0..<100 { _ = cache.describe(ref: ref(i)) { nil } }
        XCTAssertEqual(cache.count, 100)
        // The same catalog: only two containers seen from now on; the rest goes.
        cache.sync(version: 1)
        _ = cache.describe(ref: ref(1)) { nil }
        _ = cache.describe(ref: ref(2)) { nil }
        cache.sync(version: 1)
        XCTAssertEqual(cache.count, 2, "unused descriptions pruned")
        var asked = 0
        _ = cache.describe(ref: ref(1)) { asked += 1; return nil }
        XCTAssertEqual(asked, 0, "a kept description is not rebuilt")
        cache.sync(version: 2)
        XCTAssertEqual(cache.count, 0, "a changed catalog drops everything")
    }
}
