// HHsearch / HHblits result files (.hhr): the template hits, for the template stack later
// (upstream data/parsers.py `parse_hhr`). Each hit block starts `No N`; its `>` line names the
// template; `Aligned_cols` and `Sum_probs` come from the statistics line; `Q`/`T` lines (not
// Consensus, ss_dssp or ss_pred) carry the aligned query and template pieces, possibly over
// several blocks. Residue indices are 0-based, −1 at gaps.
import Foundation
import TensorIO

public struct TemplateHit: Equatable, Sendable {
    /// The hit's number in the file (1-based, `No N`).
    public var index: Int
    /// The template's name (`2DFB_A`) and its whole description line.
    public var name: String
    public var description: String
    public var alignedColumns: Int
    public var sumProbabilities: Double
    /// Aligned query and template strings (equal length, `-` at gaps).
    public var query: String
    public var hit: String
    /// Residue index in the query / template of every aligned column, −1 at a gap.
    public var queryIndices: [Int]
    public var hitIndices: [Int]
    /// The file line where the hit starts.
    public var line: Int
}

extension AlignmentParsers {
    public static func hhr(_ text: String, file: String) throws -> [TemplateHit] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { String($0.trimmingCharacters(in: .init(charactersIn: "\r"))) }
        let starts = lines.indices.filter { lines[$0].hasPrefix("No ") }
        return try starts.enumerated().map { ordinal, start in
            let end = ordinal + 1 < starts.count ? starts[ordinal + 1] : lines.count
            return try hit(lines, from: start, to: end, file: file)
        }
    }

    public static func hhr(at path: String) throws -> [TemplateHit] { try hhr(try text(of: path), file: path) }

    private static func hit(_ lines: [String], from start: Int, to end: Int, file: String) throws -> TemplateHit {
        func fail(_ line: Int, _ message: String) -> FileError { FileError(file: file, line: line + 1, message: message) }
        guard let number = Int(lines[start].dropFirst(3).trimmingCharacters(in: .whitespaces)) else {
            throw fail(start, "expected 'No <hit number>', found '\(lines[start])'")
        }
        guard start + 2 < end, lines[start + 1].hasPrefix(">") else { throw fail(start + 1, "expected the hit's '>' description line") }
        let description = String(lines[start + 1].dropFirst())
        let statistics = lines[start + 2]
        func value(_ key: String) -> String? {
            guard let range = statistics.range(of: key + "=") else { return nil }
            return String(statistics[range.upperBound...].prefix { !$0.isWhitespace })
        }
        guard let columns = value("Aligned_cols").flatMap(Int.init) else {
            throw fail(start + 2, "expected 'Aligned_cols=<count>' in the hit's statistics line")
        }
        guard let sumProbs = value("Sum_probs").flatMap(Double.init) else {
            throw fail(start + 2, "expected 'Sum_probs=<number>' in the hit's statistics line")
        }
        var query = "", hit = "", queryIndices: [Int] = [], hitIndices: [Int] = []
        for index in (start + 3)..<end {
            let line = lines[index]
            guard line.hasPrefix("Q ") || line.hasPrefix("T ") else { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, !["Consensus", "ss_dssp", "ss_pred", "ss_conf"].contains(String(fields[1])) else { continue }
            // `Q name  start SEQUENCE end (length)`
            guard fields.count >= 6, let first = Int(fields[fields.count - 4]), let last = Int(fields[fields.count - 2]),
                  fields[fields.count - 1].hasPrefix("(") else {
                throw fail(index, "expected '\(fields[0]) <name> <start> <aligned sequence> <end> (<length>)'")
            }
            let piece = String(fields[fields.count - 3])
            let residues = piece.filter { $0 != "-" }.count
            guard residues == 0 || last - first + 1 == residues else {
                throw fail(index, "the aligned piece has \(residues) residues but spans \(first)–\(last)")
            }
            var counter = first - 1
            let indices = piece.map { symbol -> Int in
                if symbol == "-" { return -1 }
                defer { counter += 1 }
                return counter
            }
            if fields[0] == "Q" { query += piece; queryIndices += indices } else { hit += piece; hitIndices += indices }
        }
        guard query.count == hit.count, !query.isEmpty else {
            throw fail(start, "hit \(number): aligned query (\(query.count) columns) and template (\(hit.count)) differ or are empty")
        }
        let name = description.split(separator: " ").first.map(String.init) ?? description
        return TemplateHit(index: number, name: name, description: description, alignedColumns: columns, sumProbabilities: sumProbs,
                           query: query, hit: hit, queryIndices: queryIndices, hitIndices: hitIndices, line: start + 1)
    }
}
