// Sequence and alignment files as OpenFold reads them (openfold/data/parsers.py): FASTA, A3M
// (lowercase = insertions, counted as deletions of the row) and Stockholm (columns where the
// query has a gap are dropped and counted as deletions). Every error names the file and line.
import Foundation
import TensorIO

/// One FASTA record: the header after `>`, the sequence, and the header's line.
public struct FastaRecord: Equatable, Sendable {
    public let description: String
    public let sequence: String
    public let line: Int

    public init(description: String, sequence: String, line: Int) {
        self.description = description
        self.sequence = sequence
        self.line = line
    }
}

/// One alignment: aligned rows of equal length (row 0 is the query), the deletion counts before
/// each aligned column, and each row's description.
public struct MultipleSequenceAlignment: Sendable {
    public var rows: [String]
    public var deletions: [[Int]]
    public var descriptions: [String]
    /// The file it came from (for error messages).
    public var file: String

    public var depth: Int { rows.count }

    public init(rows: [String], deletions: [[Int]], descriptions: [String], file: String) {
        self.rows = rows
        self.deletions = deletions
        self.descriptions = descriptions
        self.file = file
    }
}

public enum AlignmentParsers {
    /// Reads a whole text file, naming it when it cannot.
    static func text(of path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileError(file: path, line: 0, message: "cannot read the file (missing or unreadable)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// FASTA: `>` starts a record; blank lines and lines starting `#` are skipped; sequence lines
    /// are concatenated.
    public static func fasta(_ text: String, file: String) throws -> [FastaRecord] {
        var records: [FastaRecord] = []
        var header: (String, Int)?
        var sequence = ""
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix(">") {
                if let (description, at) = header { records.append(FastaRecord(description: description, sequence: sequence, line: at)) }
                header = (String(line.dropFirst()), index + 1)
                sequence = ""
            } else {
                guard header != nil else {
                    throw FileError(file: file, line: index + 1, message: "sequence data before the first '>' header")
                }
                sequence += line
            }
        }
        if let (description, at) = header { records.append(FastaRecord(description: description, sequence: sequence, line: at)) }
        return records
    }

    /// The single query of a `scizoo fold` FASTA file: exactly one record, of amino-acid letters.
    public static func query(fastaAt path: String) throws -> FastaRecord {
        let records = try fasta(try text(of: path), file: path)
        guard let first = records.first else { throw FileError(file: path, line: 0, message: "no FASTA record (expected one '>' header and its sequence)") }
        guard records.count == 1 else {
            throw FileError(file: path, line: records[1].line,
                                    message: "a second record ('\(records[1].description)'); a monomer query file holds exactly one")
        }
        guard !first.sequence.isEmpty else { throw FileError(file: path, line: first.line, message: "record '\(first.description)' has no sequence") }
        if let bad = first.sequence.first(where: { !$0.isLetter || !$0.isUppercase }) {
            throw FileError(file: path, line: first.line, message: "record '\(first.description)' contains '\(bad)'; expected upper-case one-letter amino-acid codes")
        }
        return first
    }

    /// A3M: each record's lowercase letters are insertions — counted into the deletion value of
    /// the next aligned column and removed; `.` (a gap in an insert column) is removed too.
    public static func a3m(_ text: String, file: String) throws -> MultipleSequenceAlignment {
        let records = try fasta(text, file: file)
        guard !records.isEmpty else { throw FileError(file: file, line: 0, message: "no A3M records (expected '>' headers)") }
        var rows: [String] = [], deletions: [[Int]] = []
        for record in records {
            var aligned = "", counts: [Int] = []
            var pending = 0
            for letter in record.sequence {
                if letter.isLowercase {
                    pending += 1
                } else if letter == "." {
                    continue
                } else {
                    aligned.append(letter)
                    counts.append(pending)
                    pending = 0
                }
            }
            if let expected = rows.first?.count, aligned.count != expected {
                throw FileError(file: file, line: record.line,
                                        message: "record '\(record.description)' has \(aligned.count) aligned columns; the query has \(expected)")
            }
            rows.append(aligned)
            deletions.append(counts)
        }
        return MultipleSequenceAlignment(rows: rows, deletions: deletions, descriptions: records.map(\.description), file: file)
    }

    /// Stockholm: `name sequence` lines (pieces concatenated per name, first-seen order; the first
    /// name is the query), `#` annotation lines, a `//` terminator. Columns where the query has a
    /// gap are dropped; the residues a row has in them count as deletions before the next kept column.
    public static func stockholm(_ text: String, file: String) throws -> MultipleSequenceAlignment {
        var order: [String] = [], pieces: [String: String] = [:], lastLine: [String: Int] = [:]
        var terminated = false, lineCount = 0
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            lineCount = index + 1
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line == "//" {
                terminated = true
                break
            }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 2 else {
                throw FileError(file: file, line: index + 1, message: "expected 'name sequence', found \(fields.count) fields")
            }
            let name = String(fields[0])
            if pieces[name] == nil { order.append(name) }
            pieces[name, default: ""] += fields[1]
            lastLine[name] = index + 1
        }
        guard !order.isEmpty else { throw FileError(file: file, line: 0, message: "no sequences (expected 'name sequence' lines)") }
        guard terminated else {
            throw FileError(file: file, line: lineCount, message: "the alignment ends without its '//' terminator (truncated file?)")
        }
        let query = Array(pieces[order[0]]!)
        var rows: [String] = [], deletions: [[Int]] = []
        for name in order {
            let sequence = Array(pieces[name]!)
            guard sequence.count == query.count else {
                throw FileError(file: file, line: lastLine[name]!,
                                        message: "'\(name)' has \(sequence.count) columns; the query '\(order[0])' has \(query.count) (truncated block?)")
            }
            var aligned = "", counts: [Int] = []
            var pending = 0
            for (column, letter) in sequence.enumerated() {
                if query[column] == "-" {
                    if letter != "-" { pending += 1 }
                } else {
                    aligned.append(letter)
                    counts.append(pending)
                    pending = 0
                }
            }
            rows.append(aligned)
            deletions.append(counts)
        }
        return MultipleSequenceAlignment(rows: rows, deletions: deletions, descriptions: order, file: file)
    }

    /// An alignment file by its extension (`.a3m`, `.sto`), or nil for files that are not MSAs.
    public static func alignment(at path: String) throws -> MultipleSequenceAlignment? {
        switch (path as NSString).pathExtension.lowercased() {
        case "a3m": return try a3m(try text(of: path), file: path)
        case "sto": return try stockholm(try text(of: path), file: path)
        default: return nil
        }
    }
}
