import ArgumentParser
import RouterLambda

/// `router lambda`: the Lambda custom runtime (also what `bootstrap` runs).
struct LambdaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lambda",
        abstract: "Run as an AWS Lambda custom runtime (provided.al2023): the Runtime API at $AWS_LAMBDA_RUNTIME_API.")

    func run() throws {
        throw ValidationError("not implemented yet")
    }
}
