import XCTest

@testable import RouterServer
