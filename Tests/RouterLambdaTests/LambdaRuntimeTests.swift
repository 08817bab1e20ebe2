import XCTest

@testable import RouterLambda
