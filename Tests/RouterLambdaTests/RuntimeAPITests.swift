import XCTest

@testable import RouterLambda

/// The Runtime API types: error bodies and the in-memory API's rules.
final class RuntimeAPITests: XCTestCase {
    func testErrorReportBodyAndHeader() throws {
        let r = LambdaErrorReport(errorType: "Runtime.ConfigInvalid\r\nX: y", errorMessage: "rules/50.lua:3: error: \"boom\"\n")
        let text = String(decoding: r.json, as: UTF8.self)
        XCTAssertEqual(text, #"{"errorMessage":"rules/50.lua:3: error: \"boom\"\n","errorType":"Runtime.ConfigInvalid\r\nX: y","stackTrace":[]}"#)
        XCTAssertEqual(r.headerValue, "Runtime.ConfigInvalidX:y")
    }

    func testInMemoryAPIRefusesASecondAnswer() throws {
        let api = InMemoryLambdaRuntimeAPI([LambdaInvocation(requestId: "a", deadlineMs: 1, body: [])])
        XCTAssertEqual(try api.next().requestId, "a")
        try api.respond(requestId: "a", body: [])
        XCTAssertThrowsError(try api.fail(requestId: "a", error: LambdaErrorReport(errorType: "x", errorMessage: "y")))
        XCTAssertThrowsError(try api.next()) { e in XCTAssertEqual((e as? LambdaAPIError)?.kind, .finished) }
    }
}
