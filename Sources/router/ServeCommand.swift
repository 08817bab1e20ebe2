import ArgumentParser
import RouterServer

/// `router serve`: the HTTP server.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP server: POST /events, /healthz, /readyz, /metrics.")

    func run() async throws {
        throw ValidationError("not implemented yet")
    }
}
