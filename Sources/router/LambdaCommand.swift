import ArgumentParser
import RouterCore
import RouterLambda

#if canImport(Glibc)
    import Glibc
#endif

/// `router lambda`: the Lambda custom runtime (also what `bootstrap` runs).
struct LambdaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lambda",
        abstract: "Run as an AWS Lambda custom runtime (provided.al2023): the Runtime API at $AWS_LAMBDA_RUNTIME_API.",
        discussion: """
            Rules from $ROUTER_RULES, else $LAMBDA_TASK_ROOT/rules; Slack destinations as for `router send`; the \
            queue in $ROUTER_DATA_DIR, else /tmp/guardduty-router. ROUTER_LAMBDA_MARGIN_MS (default 1500) is kept \
            free before each invocation's deadline; ROUTER_LAMBDA_SLACK_TIMEOUT_MS (default 10000) bounds one Slack \
            request. ROUTER_SLACK_RATE and ROUTER_SLACK_BURST pace posts per channel (default 1/s, burst 3); \
            ROUTER_FALLBACK_CHANNEL takes unrouted findings. \
            Exit status: 78 after an init error (reported to Lambda), 1 when the Runtime API fails.
            """)

    func run() throws {
        let env = processEnvironment()
        guard let hostPort = env["AWS_LAMBDA_RUNTIME_API"], !hostPort.isEmpty else {
            throw ValidationError("AWS_LAMBDA_RUNTIME_API is not set: `router lambda` runs inside AWS Lambda (or an emulator)")
        }
        let status = LambdaRuntime.run(environment: env, api: CurlLambdaRuntimeAPI(hostPort: hostPort))
        throw ExitCode(status)
    }
}
