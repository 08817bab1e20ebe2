// swift-tools-version:6.0
import PackageDescription

/// The data flows top to bottom:
/// input shapes + finding view (RouterFinding) -> rule engine (RouterRules, sandboxed Lua in CRouterLua)
/// -> deliveries and Slack rendering (RouterSlack) -> pipelines (RouterCore) -> the thin `router` executable.
let package = Package(
    name: "router",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "router", targets: ["router"]),
        // The HTTP server, run by `router serve`: kept out of `router` so the CLI and the Lambda package start
        // without SwiftNIO, Hummingbird and Foundation.
        .executable(name: "router-server", targets: ["router-server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
    ],
    targets: [
        // System libraries.
        .systemLibrary(
            name: "CLua",
            path: "Sources/CLua",
            pkgConfig: "lua5.4",
            providers: [.apt(["liblua5.4-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            path: "Sources/CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // C: the Slack HTTP client over one libcurl easy handle (curl_easy_setopt is variadic: no Swift import).
        // It loads libcurl with dlopen on first use (curl.h from the system include path): linking it would add ~6 ms to
        // every process start. The CCurl system library above is what the tests check that library against.
        .target(name: "CCurlShim", path: "Sources/CCurlShim"),
        // C: HMAC-SHA256 (Slack's request signature) through the system's libcrypto, loaded with dlopen on first use:
        // swift-crypto would bring Foundation into `router` and the Lambda (it stays in the server, for SNS).
        .target(name: "CCryptoShim", path: "Sources/CCryptoShim"),
        // SQLite: the durable delivery queue (RouterDelivery).
        .systemLibrary(
            name: "CSQLite",
            path: "Sources/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // zlib: gzip inputs (GuardDuty's S3 export is gzip-compressed JSON Lines), inflated as they stream.
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // C: a JSON tape parser shared by Swift (finding view) and the Lua bridge (lazy `f.detail`).
        .target(name: "CRouterJSON", path: "Sources/CRouterJSON"),
        // C: the Lua sandbox. Everything Lua can longjmp through lives here.
        .target(name: "CRouterLua", dependencies: ["CLua", "CRouterJSON"], path: "Sources/CRouterLua"),

        .target(name: "RouterJSON", dependencies: ["CRouterJSON"], exclude: ["API.md"]),
        .target(name: "RouterFinding", dependencies: ["RouterJSON", "CZlib"], exclude: ["API.md"]),
        .target(name: "RouterSlack", dependencies: ["RouterJSON", "RouterFinding"]),
        .target(name: "RouterRules", dependencies: ["CRouterLua", "RouterJSON", "RouterFinding", "RouterSlack"]),
        .target(
            name: "RouterCore",
            dependencies: [
                "RouterJSON", "RouterFinding", "RouterRules", "RouterSlack", "RouterDelivery",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RouterDelivery",
            dependencies: ["RouterJSON", "RouterSlack", "CCurlShim", "CSQLite"],
            path: "Sources/RouterDelivery",
            exclude: ["QUEUE-CONTRACT.md"]
        ),
        // Slack actions: a click's signature check, then the same rules (permit) and state, GuardDuty and Slack.
        .target(
            name: "RouterActions",
            dependencies: ["RouterCore", "RouterDelivery", "RouterFinding", "RouterJSON", "RouterRules", "RouterSlack", "CCryptoShim"]
        ),
        // The runtimes: the Lambda Runtime API client and handler (libcurl, no AWS SDK) and the HTTP server.
        .target(
            name: "RouterLambda",
            dependencies: [
                "RouterActions", "RouterCore", "RouterDelivery", "RouterFinding", "RouterJSON",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RouterServer",
            dependencies: [
                "RouterActions", "RouterCore", "RouterDelivery", "RouterFinding", "RouterJSON",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        // Option groups shared by the two executables.
        .target(
            name: "RouterOptions",
            dependencies: [
                "RouterCore", "RouterDelivery", "RouterRules",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "router",
            dependencies: [
                "RouterCore",
                "RouterDelivery",
                "RouterLambda",
                "RouterOptions",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "router-server",
            dependencies: [
                "RouterCore", "RouterDelivery", "RouterOptions", "RouterServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // The tests' deterministic random generator (no dependencies, so the sanitized test build stays small).
        .target(name: "RouterTestRandom", path: "Tests/TestRandom"),
        .testTarget(name: "RouterJSONTests", dependencies: ["RouterJSON", "RouterTestRandom"]),
        .testTarget(name: "RouterFindingTests", dependencies: ["RouterFinding", "CZlib", "RouterTestRandom"]),
        .testTarget(name: "RouterRulesTests", dependencies: ["RouterRules", "RouterFinding"]),
        .testTarget(name: "RouterSlackTests", dependencies: ["RouterSlack", "RouterFinding", "RouterTestRandom"]),
        .testTarget(name: "RouterCoreTests", dependencies: ["RouterCore"]),
        .testTarget(name: "RouterCLITests", dependencies: ["RouterActions", "RouterDelivery", "RouterJSON", "RouterTestSupport"]),
        // Helpers the test targets share (moto_server and other loopback helper processes).
        .target(name: "RouterTestSupport", dependencies: ["RouterDelivery"], path: "Tests/TestSupport"),
        .testTarget(name: "RouterDeliveryTests", dependencies: ["RouterDelivery", "RouterSlack", "CCurl", "CCurlShim", "RouterTestSupport"]),
        .testTarget(name: "RouterActionsTests", dependencies: ["RouterActions", "RouterCore", "RouterDelivery", "RouterTestSupport"]),
        .testTarget(name: "RouterLambdaTests", dependencies: ["RouterLambda", "RouterCore", "RouterDelivery"]),
        .testTarget(name: "RouterServerTests", dependencies: ["RouterServer", "RouterCore", "RouterDelivery", "RouterTestSupport"]),
    ]
)

// Fuzz targets (scripts/fuzz.sh): libFuzzer entry points without a main of their own, so they exist only in fuzz builds
// (`ROUTER_FUZZ=1 swift build --sanitize=fuzzer ...`). The C targets of fuzz/ are built by the script with clang.
if Context.environment["ROUTER_FUZZ"] == "1" {
    package.targets += [
        .executableTarget(name: "fuzz-input-reader", dependencies: ["RouterFinding"], path: "fuzz/input-reader"),
        .executableTarget(name: "fuzz-slack-text", dependencies: ["RouterSlack"], path: "fuzz/slack-text"),
    ]
}
