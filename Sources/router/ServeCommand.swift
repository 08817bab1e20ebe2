import ArgumentParser

#if canImport(Glibc)
    import Glibc
#endif

/// `router serve ...` runs `router-server ...` (the executable beside this one) in this process's place: the HTTP
/// stack lives there, so every other command and the Lambda package start without loading it. Every argument,
/// `--help` included, is handed over unchanged; signals reach the server directly (same process id).
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP server: POST /events, /healthz, /readyz, /metrics (`router serve --help` for its options).",
        helpNames: [])

    @Argument(parsing: .captureForPassthrough, help: "Options of the server (see `router serve --help`).")
    var arguments: [String] = []

    func run() throws {
        let server = Self.serverPath()
        guard access(server, X_OK) == 0 else {
            throw ValidationError(
                "router serve needs the router-server executable beside router (\(server)); build it with `swift build` "
                    + "or `swift build --product router-server`")
        }
        var argv: [UnsafeMutablePointer<CChar>?] = (["router-server"] + arguments).map { strdup($0) }
        argv.append(nil)
        execv(server, argv)
        let reason = String(cString: strerror(errno))
        throw ValidationError("router serve: cannot run \(server): \(reason)")
    }

    /// `router-server` in the directory of the running executable (`/proc/self/exe`, symlinks resolved).
    static func serverPath() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        var dir = "."
        if n > 0 {
            let path = String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let slash = path.lastIndex(of: "/") { dir = String(path[..<slash]) }
        }
        return dir + "/router-server"
    }
}
