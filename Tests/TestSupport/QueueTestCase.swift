import Foundation
import RouterDelivery
import XCTest

/// A test case with a fresh durable queue in a temporary directory, the in-memory Slack's usual destinations, and a
/// fast policy (retries in milliseconds, pacing out of the way).
open class QueueTestCase: XCTestCase {
    public var dir: String!
    public var queue: DeliveryQueue!
    public let webhook = DestinationSet(defaultWebhook: Destination(name: "default", kind: .webhook(url: Secret("https://hooks.example/services/T/B/SECRET"))))
    public let api = DestinationSet(webAPI: Destination(name: "slack-api", kind: .webAPI(token: Secret("xoxb-secret"), baseURL: "https://slack.example/api")))

    override open func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("queue-test-\(UUID().uuidString)").path
        queue = try DeliveryQueue(directory: dir)
    }

    override open func tearDown() {
        queue = nil
        try? FileManager.default.removeItem(atPath: dir)
    }

    public var fast: DeliveryPolicy {
        var p = DeliveryPolicy()
        p.retryBase = 0.01
        p.retryCap = 0.05
        p.ratePerSecond = 1000
        p.burst = 100
        return p
    }
}
