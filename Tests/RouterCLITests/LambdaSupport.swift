import Foundation
import RouterJSON
import RouterTestSupport
import XCTest

/// Helpers of the Lambda tests: the packaged zip, the ministack venv, running a helper process with a bound, and the
/// fake Runtime API's set-up (a `bootstrap` directory, a state table in moto_server, the command line).
enum LambdaSupport {
    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// `dist/router-lambda.zip` (built by scripts/package-lambda.sh, which scripts/test.sh runs first).
    static func zip() throws -> URL {
        let zip = Paths.root.appendingPathComponent("dist/router-lambda.zip")
        if FileManager.default.fileExists(atPath: zip.path) { return zip }
        if inCI { XCTFail("dist/router-lambda.zip is missing: scripts/test.sh builds it with scripts/package-lambda.sh") }
        throw XCTSkip("dist/router-lambda.zip is missing: run scripts/package-lambda.sh")
    }

    /// The Python of the venv holding PyPI ministack (`ROUTER_TEST_MINISTACK_PYTHON`, exported by scripts/test.sh).
    static func ministackPython() throws -> String {
        if let p = ProcessInfo.processInfo.environment["ROUTER_TEST_MINISTACK_PYTHON"], FileManager.default.isExecutableFile(atPath: p) {
            return p
        }
        if inCI { XCTFail("ROUTER_TEST_MINISTACK_PYTHON is not set: scripts/test.sh creates .venv-ministack") }
        throw XCTSkip("ROUTER_TEST_MINISTACK_PYTHON is not set (scripts/test.sh creates .venv-ministack)")
    }

    static func python() throws -> String {
        if let p = ProcessInfo.processInfo.environment["ROUTER_TEST_PYTHON"], FileManager.default.isExecutableFile(atPath: p) { return p }
        guard let p = FakeSlackServer.which("python3") else { throw XCTSkip("python3 is not installed") }
        return p
    }

    /// Runs `executable args`, output to files; terminated (then killed) after `timeout` seconds.
    static func run(_ executable: String, _ args: [String], timeout: Double, environment: [String: String] = [:]) throws -> RunResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.currentDirectoryURL = Paths.root
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SLACK_") && !$0.key.hasPrefix("ROUTER_") }
        env.merge(environment) { $1 }
        p.environment = env
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("lambda-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent("out"), err = tmp.appendingPathComponent("err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        p.standardInput = FileHandle.nullDevice
        let done = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in done.signal() }
        try p.run()
        if done.wait(timeout: .now() + timeout) == .timedOut {
            p.terminate()
            if done.wait(timeout: .now() + 10) == .timedOut {
                kill(p.processIdentifier, SIGKILL)
                done.wait()
            }
            XCTFail("\(executable) \(args.first ?? "") did not finish within \(Int(timeout)) s")
        }
        return RunResult(
            status: p.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// The last stdout line as JSON.
    static func json(_ r: RunResult) throws -> JSONValue {
        let line = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        guard let v = try? JSONValue.parse(line) else {
            XCTFail("not JSON (status \(r.status)): \(r.stdout.suffix(2000)) \(r.stderr.suffix(2000))")
            return .null
        }
        return v
    }

    /// A new temporary directory holding `bootstrap`, a link to the router binary (what the fake Runtime API starts).
    static func bootstrapDirectory(_ prefix: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            at: dir.appendingPathComponent("bootstrap"), withDestinationURL: Paths.routerBinary.resolvingSymlinksInPath())
        return dir
    }

    /// Creates a state table (hash key `pk`, as `ROUTER_STATE_TABLE` expects) in the moto_server on `port`; returns
    /// its name.
    static func createStateTable(port: String, prefix: String) throws -> String {
        let table = "\(prefix)-\(UUID().uuidString.prefix(8))"
        let create = try run(
            try MotoServer.python(),
            [
                "-c",
                """
                import boto3, sys
                boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="eu-west-1", aws_access_key_id="AKIDTEST",
                    aws_secret_access_key="secret-test").create_table(TableName=sys.argv[2],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
                """,
                "http://127.0.0.1:\(port)", table,
            ], timeout: 30)
        XCTAssertEqual(create.status, 0, create.stderr)
        return table
    }

    /// The fake Runtime API's command line for `dir/bootstrap`: `events` written to `dir/NAME.jsonl`, the rules,
    /// a data directory `dir/DATA`, and `env` (`NAME=value` each).
    static func runtimeArguments(
        dir: URL, name: String = "events", events: [String], rules: URL, data: String = "data", timeout: Int = 30,
        env: [String]
    ) throws -> [String] {
        let file = dir.appendingPathComponent("\(name).jsonl")
        try (events.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        var args = [
            Paths.root.appendingPathComponent("Tests/FakeLambda/runtime_api.py").path, "--bootstrap",
            dir.appendingPathComponent("bootstrap").path, "--events", file.path, "--timeout", "\(timeout)",
            "--env", "ROUTER_RULES=\(rules.path)", "--env", "ROUTER_DATA_DIR=\(dir.appendingPathComponent(data).path)",
        ]
        for pair in env { args += ["--env", pair] }
        return args
    }
}
