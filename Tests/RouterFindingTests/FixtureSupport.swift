import RouterFinding
import RouterJSON
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fixtures live in the repository's shared `Tests/Fixtures` folder, found from this file's path.
enum Fixtures {
    /// `<repository>/` (this file is `<repository>/Tests/RouterFindingTests/FixtureSupport.swift`).
    static let repositoryRoot: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    static let root = repositoryRoot + "/Tests/Fixtures"

    static func path(_ relative: String) -> String { root + "/" + relative }

    /// Items of one fixture file through the public path reader.
    static func items(_ relative: String, limits: InputLimits = .default) -> [InputItem] {
        InputReader.items(fromPath: path(relative), limits: limits)
    }

    /// The single finding of a fixture, failing the test when it is not exactly one finding.
    static func finding(_ relative: String, file: StaticString = #filePath, line: UInt = #line) throws -> Finding {
        let items = items(relative)
        XCTAssertEqual(items.count, 1, "\(relative): \(items.map(\.source))", file: file, line: line)
        guard let item = items.first else { throw XCTSkip("no item") }
        switch item.result {
        case .success(let finding): return finding
        case .failure(let error):
            XCTFail("\(relative): \(error)", file: file, line: line)
            throw error
        }
    }

    static func bytes(_ relative: String) throws -> [UInt8] {
        let handle = try XCTUnwrap(fopen(path(relative), "rb"), "cannot open \(relative)")
        defer { fclose(handle) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, handle)
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }
}

/// A scratch directory removed at the end of the test.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/router-finding-tests-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw XCTSkip("mkdtemp failed") }
        path = String(cString: made)
    }

    deinit { remove(path) }

    @discardableResult
    func write(_ relative: String, _ text: String) -> String {
        write(relative, Array(text.utf8))
    }

    @discardableResult
    func write(_ relative: String, _ bytes: [UInt8]) -> String {
        let full = path + "/" + relative
        var dir = full.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if dir.isEmpty { dir = "/" }
        mkdirs(dir)
        let handle = fopen(full, "wb")!
        _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, handle) }
        fclose(handle)
        return full
    }

    func mkdirs(_ dir: String) {
        var current = ""
        for part in dir.split(separator: "/") {
            current += "/" + part
            mkdir(current, 0o755)
        }
    }

    private func remove(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            if let dir = opendir(path) {
                var names: [String] = []
                while let entry = readdir(dir) {
                    let name = withUnsafePointer(to: &entry.pointee.d_name) {
                        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                    }
                    if name != "." && name != ".." { names.append(name) }
                }
                closedir(dir)
                for name in names { remove(path + "/" + name) }
            }
            chmod(path, 0o755)
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

extension InputItem {
    var kindOrFinding: String {
        switch result {
        case .success: "finding"
        case .failure(let e): e.kind.rawValue
        }
    }
}
