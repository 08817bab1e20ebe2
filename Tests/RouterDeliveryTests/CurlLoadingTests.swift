import CCurl
import CCurlShim
import XCTest

/// The router loads libcurl at run time (dlopen, first use); this checks it gets the library the package is built
/// against (the CCurl system library, linked into this test binary).
final class CurlLoadingTests: XCTestCase {
    func testRuntimeLoadsTheLibcurlThePackageBuildsAgainst() throws {
        let linked = try XCTUnwrap(curl_version_info(CURLVERSION_FOURTH)?.pointee.version)
        XCTAssertEqual(String(cString: rc_curl_version()), String(cString: linked))
        let client = rc_client_new()
        XCTAssertNotNil(client)
        rc_client_free(client)
    }
}
