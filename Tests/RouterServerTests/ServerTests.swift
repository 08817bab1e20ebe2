import XCTest

@testable import RouterServer
import RouterDelivery

final class ServerConfigurationTests: XCTestCase {
    func testListenAddresses() {
        XCTAssertEqual(ServerConfiguration.parseListen("127.0.0.1:8080")?.host, "127.0.0.1")
        XCTAssertEqual(ServerConfiguration.parseListen("127.0.0.1:8080")?.port, 8080)
        XCTAssertEqual(ServerConfiguration.parseListen("[::1]:9")?.host, "::1")
        XCTAssertEqual(ServerConfiguration.parseListen(":80")?.host, "0.0.0.0")
        XCTAssertNil(ServerConfiguration.parseListen("localhost"))
        XCTAssertNil(ServerConfiguration.parseListen("host:99999"))
        XCTAssertNil(ServerConfiguration.parseListen("::1:80"))
    }

    func testLoopback() {
        for h in ["127.0.0.1", "127.1.2.3", "::1", "localhost"] { XCTAssertTrue(ServerConfiguration.isLoopback(h), h) }
        for h in ["0.0.0.0", "10.0.0.1", "::", "127.0.0", "example.com"] {
            XCTAssertFalse(ServerConfiguration.isLoopback(h), h)
        }
    }
}

final class APIAuthTests: XCTestCase {
    let auth = APIAuth(token: Secret("s3cret"), headerName: "X-Api-Key")

    func testBearerHeaderAndBasic() {
        XCTAssertTrue(auth.allows(authorization: "Bearer s3cret", apiKeyHeaderValue: nil))
        XCTAssertTrue(auth.allows(authorization: "bearer s3cret", apiKeyHeaderValue: nil))
        XCTAssertTrue(auth.allows(authorization: nil, apiKeyHeaderValue: "s3cret"))
        XCTAssertTrue(auth.allows(authorization: "Basic " + "dXNlcjpzM2NyZXQ=", apiKeyHeaderValue: nil))  // user:s3cret
        XCTAssertFalse(auth.allows(authorization: nil, apiKeyHeaderValue: nil))
        XCTAssertFalse(auth.allows(authorization: "Bearer s3cre", apiKeyHeaderValue: nil))
        XCTAssertFalse(auth.allows(authorization: "Bearer s3cretX", apiKeyHeaderValue: nil))
        XCTAssertFalse(auth.allows(authorization: "s3cret", apiKeyHeaderValue: nil))
        XCTAssertFalse(auth.allows(authorization: nil, apiKeyHeaderValue: "S3CRET"))
        XCTAssertFalse(auth.allows(authorization: "Basic " + "czNjcmV0", apiKeyHeaderValue: nil))  // no colon
    }

    func testNoHeaderConfiguredIgnoresIt() {
        let a = APIAuth(token: Secret("t"), headerName: nil)
        XCTAssertFalse(a.allows(authorization: nil, apiKeyHeaderValue: "t"))
    }

    func testNoTokenAllowsEverything() {
        XCTAssertTrue(APIAuth(token: nil, headerName: nil).allows(authorization: nil, apiKeyHeaderValue: nil))
    }

    func testConstantTimeEqual() {
        XCTAssertTrue(APIAuth.equal(Array("abc".utf8), Array("abc".utf8)))
        XCTAssertFalse(APIAuth.equal(Array("abc".utf8), Array("abd".utf8)))
        XCTAssertFalse(APIAuth.equal(Array("abc".utf8), Array("abc\0".utf8)))
        XCTAssertFalse(APIAuth.equal([], Array("a".utf8)))
        XCTAssertTrue(APIAuth.equal([], []))
    }

    func testBase64() {
        XCTAssertEqual(Base64.decode("aGVsbG8="), Array("hello".utf8))
        XCTAssertEqual(Base64.decode("YQ=="), Array("a".utf8))
        XCTAssertNil(Base64.decode("a*b"))
    }
}

final class UTF8CheckTests: XCTestCase {
    func testValidAndInvalid() {
        XCTAssertNil(UTF8Check.firstInvalidOffset(Array("plain ascii".utf8)))
        XCTAssertNil(UTF8Check.firstInvalidOffset(Array("é€😀 ok".utf8)))
        XCTAssertNil(UTF8Check.firstInvalidOffset([]))
        XCTAssertEqual(UTF8Check.firstInvalidOffset([0x61, 0xC3, 0x28]), 1)  // bad continuation
        XCTAssertEqual(UTF8Check.firstInvalidOffset([0x61, 0xFF]), 1)
        XCTAssertEqual(UTF8Check.firstInvalidOffset([0xC0, 0xAF]), 0)  // overlong
        XCTAssertEqual(UTF8Check.firstInvalidOffset([0xED, 0xA0, 0x80]), 0)  // surrogate
        XCTAssertEqual(UTF8Check.firstInvalidOffset([0xF4, 0x90, 0x80, 0x80]), 0)  // above U+10FFFF
        XCTAssertEqual(UTF8Check.firstInvalidOffset([0x61, 0xE2, 0x82]), 1)  // truncated
    }
}
