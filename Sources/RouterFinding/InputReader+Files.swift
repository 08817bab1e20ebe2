#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import RouterJSON

extension InputReader {
    /// Items of a file, a directory or standard input (`-`), collected into an array.
    /// Holds every parsed document in memory: for big inputs prefer ``forEachItem(fromPath:limits:_:)``.
    public static func items(fromPath path: String, limits: InputLimits = .default) -> [InputItem] {
        var out: [InputItem] = []
        forEachItem(fromPath: path, limits: limits) { out.append($0) }
        return out
    }

    /// Streams the items of `path`, one document in memory at a time, in input order.
    ///
    /// - `-`: standard input.
    /// - A directory: every `*.json`, `*.jsonl` and `*.ndjson` file below it, recursively, in byte-wise order of the
    ///   full path; names starting with `.` are skipped, and so are symbolic links to directories (no cycles).
    ///   A directory or file that cannot be read yields an `unreadable` item at its place in that order.
    /// - A file named `*.jsonl` / `*.ndjson`: JSON Lines, read line by line (source `path:<line>`, 1-based; blank
    ///   lines are skipped; a line longer than `maxBytes` yields `too_large` and reading goes on).
    /// - Any other file (or standard input): one JSON document (source `path`) when it parses as one; else JSON Lines
    ///   when its first non-blank line is a complete JSON document (so a broken line in the middle costs only that
    ///   line); else `invalid_json` (an empty file too). Larger than `maxBytes`: JSON Lines under the same first-line
    ///   rule, else `too_large` without parsing.
    public static func forEachItem<E: Error>(
        fromPath path: String, limits: InputLimits = .default, _ body: (InputItem) throws(E) -> Void
    ) throws(E) {
        if path == "-" {
            try readStream(fd: 0, source: "-", linesOnly: false, limits: limits, body)
            return
        }
        for (file, unreadable) in inputFiles(path) {
            if let unreadable { try body(unreadable) } else { try readFile(file, limits: limits, body) }
        }
    }

    /// The files `path` stands for, in the order ``forEachItem(fromPath:limits:_:)`` reads them (a directory's input
    /// files, byte-wise by path), each with the `unreadable` item it yields instead when it cannot be listed; `-` is
    /// itself.
    public static func inputFiles(_ path: String) -> [(path: String, unreadable: InputItem?)] {
        if path == "-" { return [("-", nil)] }
        var info = stat()
        guard stat(path, &info) == 0 else { return [(path, unreadableItem(path, "cannot read", errno))] }
        guard isDirectory(info) else { return [(path, nil)] }
        var entries: [DirectoryEntry] = []
        listFiles(directory: path, into: &entries)
        entries.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return entries.map { e in
            (e.path, e.errorCode.map { unreadableItem(e.path, e.isDirectory ? "cannot list directory" : "cannot read", $0) })
        }
    }

    // MARK: - Files

    struct DirectoryEntry {
        var path: String
        var errorCode: Int32?
        var isDirectory = false
    }

    static func isDirectory(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFDIR }
    static func isRegular(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFREG }

    /// `*.json`, `*.jsonl`, `*.ndjson`, each also gzip-compressed (`*.jsonl.gz`: GuardDuty's S3 export).
    static func hasInputExtension(_ name: String) -> Bool {
        let lower = lowerWithoutGzip(name)
        return lower.hasSuffix(".json") || lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson")
    }

    static func isJSONLinesName(_ name: String) -> Bool {
        let lower = lowerWithoutGzip(name)
        return lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson")
    }

    /// The name in lower case, without a `.gz` ending.
    static func lowerWithoutGzip(_ name: String) -> String {
        var lower = name.lowercased()
        if lower.hasSuffix(".gz") { lower.removeLast(3) }
        return lower
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Collects paths only (never contents), so a huge tree costs one string per file.
    static func listFiles(directory: String, into entries: inout [DirectoryEntry]) {
        guard let dir = opendir(directory) else {
            entries.append(DirectoryEntry(path: directory, errorCode: errno, isDirectory: true))
            return
        }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                    String(cString: $0)
                }
            }
            if name.hasPrefix(".") { continue }
            let full = join(directory, name)
            var info = stat()
            guard lstat(full, &info) == 0 else {
                if hasInputExtension(name) { entries.append(DirectoryEntry(path: full, errorCode: errno)) }
                continue
            }
            if (info.st_mode & S_IFMT) == S_IFLNK {
                // Follow links to files, not to directories.
                guard stat(full, &info) == 0 else {
                    if hasInputExtension(name) { entries.append(DirectoryEntry(path: full, errorCode: errno)) }
                    continue
                }
                if isRegular(info), hasInputExtension(name) { entries.append(DirectoryEntry(path: full)) }
                continue
            }
            if isDirectory(info) {
                listFiles(directory: full, into: &entries)
            } else if isRegular(info), hasInputExtension(name) {
                entries.append(DirectoryEntry(path: full))
            }
        }
    }

    static func readFile<E: Error>(_ path: String, limits: InputLimits, _ body: (InputItem) throws(E) -> Void) throws(E) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            try body(unreadableItem(path, "cannot open", errno))
            return
        }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0, isDirectory(info) {
            try body(unreadableItem(path, "cannot read", EISDIR))
            return
        }
        try readStream(fd: fd, source: path, linesOnly: isJSONLinesName(path), limits: limits, body)
    }

    static func unreadableItem(_ path: String, _ what: String, _ code: Int32) -> InputItem {
        InputItem(source: path, result: .failure(.unreadable("\(what): \(String(cString: strerror(code)))")))
    }

    // MARK: - Streams

    /// Reads a file descriptor in 64 KiB chunks, retrying on EINTR. A stream that starts with gzip's magic bytes
    /// (`1f 8b`; GuardDuty's S3 export, any `*.gz`) is inflated as it is read, one chunk at a time: never the whole
    /// file in memory, concatenated gzip members read one after another.
    struct ChunkReader {
        let fd: Int32
        var atEnd = false
        var errorCode: Int32?
        /// A gzip stream that could not be inflated (corrupt, truncated): what zlib said.
        var gzipError: String?
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        private var sniffed = false
        private var inflater: GzipInflater?

        init(fd: Int32) { self.fd = fd }

        var isGzip: Bool { inflater != nil }

        /// Reads raw bytes into `chunk[from...]`: the count, 0 at the end, -1 on an error (in `errorCode`).
        private mutating func readRaw(from: Int = 0) -> Int {
            let fd = self.fd
            var failure: Int32?
            let n = chunk.withUnsafeMutableBytes { b -> Int in
                while true {
                    let n = read(fd, b.baseAddress! + from, b.count - from)
                    if n >= 0 { return n }
                    if errno == EINTR { continue }
                    failure = errno
                    return -1
                }
            }
            if let failure { errorCode = failure }
            return n
        }

        /// Appends up to one chunk to `buffer` (inflated, for gzip).
        mutating func fill(_ buffer: inout [UInt8]) {
            guard !atEnd else { return }
            if !sniffed {
                sniffed = true
                // The first bytes decide: at least two (a pipe may hand them over one at a time).
                var got = 0
                while got < 2 {
                    let n = readRaw(from: got)
                    if n <= 0 {
                        buffer.append(contentsOf: chunk[0..<got])
                        atEnd = true
                        return
                    }
                    got += n
                }
                if chunk[0] == 0x1F && chunk[1] == 0x8B {
                    let z = GzipInflater()
                    guard z.ready else {
                        gzipError = "cannot start zlib"
                        atEnd = true
                        return
                    }
                    inflater = z
                    z.feed(chunk[0..<got])
                    inflate(&buffer)
                } else {
                    buffer.append(contentsOf: chunk[0..<got])
                }
                return
            }
            if inflater != nil {
                inflate(&buffer)
                return
            }
            let n = readRaw()
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
            } else {
                atEnd = true
            }
        }

        /// Inflates until some output is appended, the stream ends, or it fails.
        private mutating func inflate(_ buffer: inout [UInt8]) {
            guard let z = inflater else { return }
            while true {
                if z.needsInput {
                    let n = readRaw()
                    if n < 0 {
                        atEnd = true
                        return
                    }
                    if n == 0 {
                        if !z.betweenMembers { gzipError = "the gzip stream ends early (truncated file)" }
                        atEnd = true
                        return
                    }
                    z.feed(chunk[0..<n])
                }
                switch z.inflate(into: &buffer) {
                case .produced: return
                case .needsInput: continue
                case .finished:
                    atEnd = true
                    return
                case .failed(let message):
                    gzipError = message
                    atEnd = true
                    return
                }
            }
        }
    }

    static func readStream<E: Error>(
        fd: Int32, source: String, linesOnly: Bool, limits: InputLimits, _ body: (InputItem) throws(E) -> Void
    ) throws(E) {
        var reader = ChunkReader(fd: fd)
        var buffer: [UInt8] = []
        func readFailed() -> InputItem {
            if let message = reader.gzipError {
                return InputItem(source: source, result: .failure(.unreadable("gzip: \(message)")))
            }
            return InputItem(
                source: source,
                result: .failure(.unreadable("read failed: \(String(cString: strerror(reader.errorCode ?? EIO)))")))
        }
        var failed: Bool { reader.errorCode != nil || reader.gzipError != nil }

        if !linesOnly {
            while !reader.atEnd && buffer.count <= limits.maxBytes { reader.fill(&buffer) }
            if failed {
                try body(readFailed())
                return
            }
            if buffer.count <= limits.maxBytes {
                // The whole input is in memory: one document, else JSON Lines, else the document's error.
                if isBlank(buffer) {
                    try body(InputItem(source: source, result: .failure(.invalidJSON("empty input"))))
                    return
                }
                let parsed = Result { () throws(JSONParseError) -> JSONDocument in
                    try JSONDocument(bytes: buffer, maxDepth: limits.maxDepth)
                }
                switch parsed {
                case .success(let document):
                    var out: [InputItem] = []
                    walk(document.root, source: source, recordId: nil, depth: 0, limits: limits, into: &out)
                    for item in out { try body(item) }
                    return
                case .failure(let parseError):
                    guard looksLikeJSONLines(buffer, limits: limits, needsSecondLine: true) else {
                        try body(InputItem(source: source, result: .failure(.invalidJSON(parseError.description))))
                        return
                    }
                }
            } else {
                guard looksLikeJSONLines(buffer, limits: limits, needsSecondLine: false) else {
                    var info = stat()
                    let size = !reader.isGzip && fstat(fd, &info) == 0 && isRegular(info) ? "\(info.st_size) bytes" : "more bytes"
                    try body(
                        InputItem(
                            source: source,
                            result: .failure(
                                .tooLarge(
                                    "input is \(size), more than the limit of \(limits.maxBytes) bytes per document, and not JSON Lines; not parsed"
                                ))))
                    return
                }
            }
        }
        try readLines(reader: &reader, buffer: &buffer, source: source, limits: limits, body)
        if failed { try body(readFailed()) }
    }

    /// True when the first non-blank line ends within `buffer` (or `buffer` ends there), is at most `maxBytes`, and
    /// parses as one JSON document; with `needsSecondLine`, another non-blank line must follow.
    static func looksLikeJSONLines(_ buffer: [UInt8], limits: InputLimits, needsSecondLine: Bool) -> Bool {
        var start = 0
        while true {
            guard start < buffer.count else { return false }
            let end = buffer[start...].firstIndex(of: 0x0A)
            let line = buffer[start..<(end ?? buffer.count)]
            if isBlank(line) {
                guard let end else { return false }
                start = end + 1
                continue
            }
            if line.count > limits.maxBytes { return false }
            if needsSecondLine {
                guard let end, !isBlank(buffer[(end + 1)...]) else { return false }
            } else if end == nil {
                return false
            }
            return (try? JSONDocument(bytes: line, maxDepth: limits.maxDepth)) != nil
        }
    }

    /// JSON Lines: one document per line, streaming; `buffer` may already hold the start of the input.
    static func readLines<E: Error>(
        reader: inout ChunkReader, buffer: inout [UInt8], source: String, limits: InputLimits,
        _ body: (InputItem) throws(E) -> Void
    ) throws(E) {
        var lineNumber = 0
        var start = 0  // first byte of the current line in `buffer`
        var scan = 0  // where to look for the next newline
        var skipping = false  // the current line is over the limit: its bytes are being dropped
        var skipped = 0

        func handle(_ line: ArraySlice<UInt8>) throws(E) {
            if isBlank(line) { return }
            let lineSource = "\(source):\(lineNumber)"
            if line.count > limits.maxBytes {
                try body(InputItem(source: lineSource, result: .failure(lineTooLarge(line.count, limits))))
                return
            }
            let parsed = Result { () throws(JSONParseError) -> JSONDocument in
                try JSONDocument(bytes: line, maxDepth: limits.maxDepth)
            }
            switch parsed {
            case .success(let document):
                var out: [InputItem] = []
                walk(document.root, source: lineSource, recordId: nil, depth: 0, limits: limits, into: &out)
                for item in out { try body(item) }
            case .failure(let error):
                let message = "column \(error.column): \(error.message)"
                try body(InputItem(source: lineSource, result: .failure(.invalidJSON(message))))
            }
        }

        while true {
            if let newline = newlineIndex(buffer, from: scan) {
                lineNumber += 1
                if skipping {
                    skipped += newline - start
                    try body(InputItem(source: "\(source):\(lineNumber)", result: .failure(lineTooLarge(skipped, limits))))
                    skipping = false
                    skipped = 0
                } else {
                    try handle(buffer[start..<newline])
                }
                start = newline + 1
                scan = start
                continue
            }
            if reader.atEnd {
                if skipping {
                    lineNumber += 1
                    skipped += buffer.count - start
                    try body(InputItem(source: "\(source):\(lineNumber)", result: .failure(lineTooLarge(skipped, limits))))
                } else if start < buffer.count {
                    lineNumber += 1
                    try handle(buffer[start..<buffer.count])
                }
                return
            }
            // No newline yet: drop what is consumed, then read more.
            if skipping {
                skipped += buffer.count - start
                buffer.removeAll(keepingCapacity: true)
                start = 0
            } else if buffer.count - start > limits.maxBytes {
                skipping = true
                skipped = buffer.count - start
                buffer.removeAll(keepingCapacity: true)
                start = 0
            } else if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            scan = buffer.count
            reader.fill(&buffer)
        }
    }

    /// The index of the first `\n` at or after `from` (memchr: the generic search is the hot spot of big inputs).
    @inline(__always)
    static func newlineIndex(_ buffer: [UInt8], from: Int) -> Int? {
        guard from < buffer.count else { return nil }
        return buffer.withUnsafeBufferPointer { b -> Int? in
            guard let p = memchr(b.baseAddress! + from, 0x0A, b.count - from) else { return nil }
            return b.baseAddress!.distance(to: p.assumingMemoryBound(to: UInt8.self))
        }
    }

    static func lineTooLarge(_ size: Int, _ limits: InputLimits) -> InputError {
        .tooLarge("line is \(size) bytes, more than the limit of \(limits.maxBytes) bytes; not parsed")
    }
}
