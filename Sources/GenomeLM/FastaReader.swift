// Streaming FASTA reader, plain or gzip-compressed (zlib reads both through one path).
import CZlib

/// A FASTA record: `>id description` and its sequence lines joined.
public struct FastaRecord: Sendable, Equatable {
    public var id: String
    public var description: String
    public var sequence: String
    /// 1-based line of the header.
    public var line: Int

    public init(id: String, description: String, sequence: String, line: Int = 0) {
        self.id = id
        self.description = description
        self.sequence = sequence
        self.line = line
    }
}

/// Reads records one at a time, so files larger than memory stream.
public final class FastaReader: Sequence, IteratorProtocol {
    public let path: String
    private var file: gzFile?
    private var lineNumber = 0
    private var pendingHeader: (String, Int)?
    private var finished = false
    private var sawRecord = false
    private var buffer = [CChar](repeating: 0, count: 1 << 16)
    /// The first error met while iterating (iteration stops there).
    public private(set) var error: FileError?

    public init(path: String) throws {
        self.path = path
        guard let handle = gzopen(path, "rb") else {
            throw FileError(file: path, line: nil, message: "cannot open the file (missing or unreadable)")
        }
        file = handle
        gzbuffer(handle, 1 << 17)
    }

    deinit { if let file { gzclose(file) } }

    private func readLine() -> String? {
        guard let file else { return nil }
        var bytes: [UInt8] = []
        while true {
            guard gzgets(file, &buffer, Int32(buffer.count)) != nil else {
                return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
            }
            let length = strlen(buffer)
            bytes.append(contentsOf: buffer.prefix(length).map { UInt8(bitPattern: $0) })
            if bytes.last == UInt8(ascii: "\n") { break }
        }
        lineNumber += 1
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func next() -> FastaRecord? {
        guard !finished else { return nil }
        var header = pendingHeader
        pendingHeader = nil
        var sequence = ""
        while let line = readLine() {
            if line.hasPrefix(">") {
                if let current = header {
                    pendingHeader = (String(line.dropFirst()), lineNumber)
                    return finish(current, sequence)
                }
                header = (String(line.dropFirst()), lineNumber)
                continue
            }
            let trimmed = line.filter { !$0.isWhitespace }
            if trimmed.isEmpty { continue }
            guard header != nil else {
                fail(FileError(file: path, line: lineNumber, message: "sequence data before the first '>' header; is this a FASTA file?"))
                return nil
            }
            sequence += trimmed
        }
        finished = true
        if let current = header { return finish(current, sequence) }
        if !sawRecord { fail(FileError(file: path, line: nil, message: "no FASTA records (an empty file, or no '>' header line)")) }
        return nil
    }

    private func finish(_ header: (String, Int), _ sequence: String) -> FastaRecord? {
        let text = header.0.trimmingCharacters(in: .whitespaces)
        let id = text.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
        guard !sequence.isEmpty else {
            fail(FileError(file: path, line: header.1, message: "record '\(id)' has no sequence"))
            return nil
        }
        sawRecord = true
        return FastaRecord(id: id, description: text, sequence: sequence, line: header.1)
    }

    private func fail(_ error: FileError) {
        self.error = error
        finished = true
    }

    /// Every record, or the first error.
    public static func readAll(path: String) throws -> [FastaRecord] {
        let reader = try FastaReader(path: path)
        var records: [FastaRecord] = []
        for record in reader { records.append(record) }
        if let error = reader.error { throw error }
        return records
    }
}

#if canImport(Foundation)
import Foundation
import TensorIO
#endif
