import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension Process {
    /// Ends a helper process, bounded in time: waits up to `grace` seconds for it to exit by itself (after its stdin
    /// closed, say), then sends SIGTERM and waits again, then SIGKILL. Never calls `waitUntilExit`, which can wait
    /// forever when the process exits while it is being terminated (swift-corelibs-foundation); `isRunning` is polled.
    public func stop(grace: Double = 5) {
        func waitExit(_ seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while isRunning && Date() < deadline { usleep(10_000) }
            return !isRunning
        }
        if waitExit(grace) { return }
        kill(processIdentifier, SIGTERM)
        if waitExit(5) { return }
        kill(processIdentifier, SIGKILL)
        _ = waitExit(5)
    }
}
