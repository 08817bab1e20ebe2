import ArgumentParser
import RouterCore
import RouterDelivery
import RouterOptions
import RouterServer

#if canImport(Glibc)
import Glibc
#endif

/// `router serve`: the HTTP server. It lives in this executable of its own, which `router serve` runs (exec), so the
/// HTTP stack (SwiftNIO, Hummingbird, Foundation) is not loaded by every other command nor shipped in the Lambda
/// package.
@main
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "router serve",
        abstract: "Run the HTTP server: POST /events, /healthz, /readyz, /metrics.",
        discussion: """
            Clients authenticate with ROUTER_API_TOKEN: `Authorization: Bearer <token>`, the token in the header named by \
            --api-key-header, or HTTP Basic with the token as password (SNS HTTPS subscriptions: https://any:<token>@host/events). \
            Destinations come from the environment as for `router send`. POST /events answers 202 with the accepted \
            finding ids once their deliveries are committed to the queue; 400 when the body holds no finding; 401; 413. \
            SIGHUP reloads the rules (kept when the new set has any error); SIGTERM/SIGINT stop gracefully. \
            Exit status: 0 after a clean stop, 1 when the rules do not load, 78 for an unusable configuration, 64 for usage errors.
            """)

    @Option(help: "The rules directory.")
    var rules: String
    @Option(help: "Address to listen on, HOST:PORT (port 0: any free port; the address is printed on standard output).")
    var listen: String = "127.0.0.1:8080"
    @Option(help: "Largest request body in bytes.")
    var maxBody: Int = 1 << 20
    @Option(help: "A header that may carry the API token instead of Authorization (e.g. x-api-key).")
    var apiKeyHeader: String?
    @Flag(help: "Serve without authentication (loopback addresses only).")
    var noAuth = false
    @Option(help: "Channel for unrouted findings and for rule-error fallbacks.")
    var fallbackChannel: String?
    @Option(
        parsing: .upToNextOption,
        help: "Hosts allowed to serve SNS signing certificates (default: sns.*.amazonaws.com and sns.*.amazonaws.com.cn).")
    var snsAllowedHosts: [String] = []
    @OptionGroup var data: DataOptions
    @OptionGroup var delivery: DeliveryOptions
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        guard ServerConfiguration.parseListen(listen) != nil else {
            throw ValidationError("--listen must be HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080")
        }
        guard maxBody > 0 else { throw ValidationError("--max-body must be positive") }
        if let h = apiKeyHeader, h.isEmpty || h.contains(where: { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
            throw ValidationError("--api-key-header must be a header name (letters, digits, '-', '_')")
        }
    }

    func run() async throws {
        let env = processEnvironment()
        guard let (host, port) = ServerConfiguration.parseListen(listen) else { throw ExitCode(ExitStatus.usage) }
        var config = ServerConfiguration(rulesDirectory: rules, host: host, port: port, dataDirectory: data.directory)
        config.maxBody = maxBody
        config.apiToken = env["ROUTER_API_TOKEN"].flatMap { $0.isEmpty ? nil : Secret($0) }
        config.apiKeyHeader = apiKeyHeader
        config.noAuth = noAuth
        config.fallbackChannel = fallbackChannel ?? env["ROUTER_FALLBACK_CHANNEL"].flatMap { $0.isEmpty ? nil : $0 }
        if !snsAllowedHosts.isEmpty { config.snsAllowedHosts = snsAllowedHosts }
        config.limits = limits.limits
        config.policy = delivery.policy
        config.connectTimeout = delivery.connectTimeout
        config.totalTimeout = delivery.timeout
        config.environment = env

        let logger = EventServer.makeLogger(environment: env)
        let status = await EventServer.run(
            config, logger: logger,
            err: { line in writeLine(2, line) },
            ready: { address in writeLine(1, "listening on \(address)") })
        if status != 0 { throw ExitCode(status) }
    }
}

/// One line to a file descriptor, unbuffered (the tests read stdout while the server runs).
private func writeLine(_ fd: Int32, _ text: String) {
    let bytes = Array((text + "\n").utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        done += n
    }
}
