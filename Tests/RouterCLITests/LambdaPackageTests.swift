import Foundation
import XCTest

/// dist/router-lambda.zip against Amazon Linux 2023 (provided.al2023): scripts/check-lambda-zip.py proves every ELF
/// file needs no glibc newer than 2.34 and every library it loads is shipped or on scripts/al2023-base-libs.txt.
final class LambdaPackageTests: XCTestCase {
    func check(_ zip: URL) throws -> RunResult {
        try LambdaSupport.run(
            try LambdaSupport.python(), [Paths.root.appendingPathComponent("scripts/check-lambda-zip.py").path, zip.path],
            timeout: 120)
    }

    func testPackagedZipRunsOnTheBaseImage() throws {
        let r = try check(try LambdaSupport.zip())
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("bootstrap: ELF; needs "), r.stdout)
        XCTAssertTrue(r.stdout.contains("lib/liblua5.4.so.0: ELF"), "Debian's Lua is shipped: \(r.stdout)")
        XCTAssertTrue(r.stdout.contains("libcurl.so.4"), "the dlopen'ed libcurl is checked too: \(r.stdout)")
        XCTAssertTrue(r.stdout.hasSuffix("ok\n"), r.stdout)
    }

    /// The checker can fail: a binary that needs glibc 2.36 (arc4random) and a library nobody ships.
    func testCheckerRefusesANewerGlibcAndAnUnshippedLibrary() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lambda-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("b.c")
        try "#include <stdlib.h>\n#include <lua5.4/lua.h>\nint main(void) { return (int)(arc4random() & 1) + (lua_version(0) > 0); }\n"
            .write(to: source, atomically: true, encoding: .utf8)
        let clang = FakeSlackServer.which("clang") ?? "/opt/swift/usr/bin/clang"
        guard FileManager.default.isExecutableFile(atPath: clang) else { throw XCTSkip("no clang to build the bad binary") }
        let cc = try LambdaSupport.run(clang, [source.path, "-o", dir.appendingPathComponent("bootstrap").path, "-llua5.4"], timeout: 60)
        XCTAssertEqual(cc.status, 0, cc.stderr)
        let zip = dir.appendingPathComponent("bad.zip")
        let make = try LambdaSupport.run(
            try LambdaSupport.python(),
            ["-c", """
                import sys, zipfile
                with zipfile.ZipFile(sys.argv[1], "w") as z:
                    i = zipfile.ZipInfo("bootstrap"); i.external_attr = 0o100755 << 16
                    z.writestr(i, open(sys.argv[2], "rb").read())
                    z.writestr("rules/50.lua", "return {}")
                """, zip.path, dir.appendingPathComponent("bootstrap").path], timeout: 60)
        XCTAssertEqual(make.status, 0, make.stderr)
        let r = try check(zip)
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertTrue(r.stdout.contains("problem: bootstrap: needs GLIBC_2.36, newer than GLIBC_2.34"), r.stdout)
        XCTAssertTrue(r.stdout.contains("problem: bootstrap: needs liblua5.4.so.0, neither shipped"), r.stdout)
    }
}
