// AlphaFold's raw feature dict for a monomer without templates (openfold/data/data_pipeline.py:
// make_sequence_features + make_msa_features): what the predict-mode transforms start from.
import Foundation
import TensorCore
import TensorIO

/// The raw features of one query. Shapes: N residues, S alignment rows.
public struct RawFeatures: Sendable {
    /// `[N, 21]` one-hot in restype order (unknown letters → X).
    public var aatype: [Int32]
    /// `[N]`, zeros.
    public var betweenSegmentResidues: [Int32]
    /// `[N]`, 0 … N − 1.
    public var residueIndex: [Int32]
    /// `[N]`, N repeated.
    public var seqLength: [Int32]
    /// `[S, N]`, HHblits ids 0–21; row 0 is the query.
    public var msa: [Int32]
    /// `[S, N]`, deletion counts.
    public var deletionMatrixInt: [Int32]
    /// `[N]`, S repeated.
    public var numAlignments: [Int32]
    public var domainName: String
    public var sequence: String

    public var residues: Int { sequence.count }
    public var rows: Int { msa.count / Swift.max(1, residues) }

    /// Residues `range` of every per-residue array and every MSA row (a training crop; residue
    /// indices keep their values, so relative positions are unchanged).
    public func cropped(_ range: Range<Int>) -> RawFeatures {
        let (n, s) = (residues, rows)
        precondition(range.lowerBound >= 0 && range.upperBound <= n && !range.isEmpty, "RawFeatures.cropped: \(range) outside 0..<\(n)")
        var copy = self
        copy.aatype = Array(aatype[(range.lowerBound * 21)..<(range.upperBound * 21)])
        copy.betweenSegmentResidues = Array(betweenSegmentResidues[range])
        copy.residueIndex = Array(residueIndex[range])
        copy.seqLength = Array(repeating: Int32(range.count), count: range.count)
        copy.msa = (0..<s).flatMap { r in msa[(r * n + range.lowerBound)..<(r * n + range.upperBound)] }
        copy.deletionMatrixInt = (0..<s).flatMap { r in deletionMatrixInt[(r * n + range.lowerBound)..<(r * n + range.upperBound)] }
        copy.numAlignments = Array(numAlignments[range])
        let characters = Array(sequence)
        copy.sequence = String(characters[range])
        return copy
    }

    /// The arrays as int32 tensors under AlphaFold's names.
    public func tensors() -> [String: Tensor] {
        let n = residues, s = rows
        return ["aatype": Tensor(aatype, shape: [n, 21]), "between_segment_residues": Tensor(betweenSegmentResidues, shape: [n]),
                "residue_index": Tensor(residueIndex, shape: [n]), "seq_length": Tensor(seqLength, shape: [n]),
                "msa": Tensor(msa, shape: [s, n]), "deletion_matrix_int": Tensor(deletionMatrixInt, shape: [s, n]),
                "num_alignments": Tensor(numAlignments, shape: [n])]
    }

    /// The files of an alignment folder that hold MSAs, in OpenFold's order (sorted names);
    /// `uniprot_hits.sto` (multimer pairing) and `hmm_output.sto` (template search) are skipped
    /// as upstream skips them, and so is everything that is not `.a3m` or `.sto`.
    public static func alignmentFiles(in folder: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FileError(file: folder, line: 0, message: "no such alignment folder")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        return names.filter { name in
            let lower = name.lowercased()
            return (lower.hasSuffix(".a3m") || lower.hasSuffix(".sto")) && name != "uniprot_hits.sto" && name != "hmm_output.sto"
        }.map { (folder as NSString).appendingPathComponent($0) }
    }

    /// Builds the features of `query` from the alignments in `folder` (none is allowed: the
    /// query alone is then the MSA).
    public init(query: FastaRecord, queryFile: String, alignmentFolder folder: String?) throws {
        let alignments = try (folder.map(Self.alignmentFiles(in:)) ?? []).compactMap(AlignmentParsers.alignment(at:))
        try self.init(query: query, queryFile: queryFile, alignments: alignments)
    }

    public init(query: FastaRecord, queryFile: String, alignments: [MultipleSequenceAlignment]) throws {
        let sequence = query.sequence, n = sequence.count
        domainName = query.description
        self.sequence = sequence
        aatype = [Int32](repeating: 0, count: n * 21)
        for (i, letter) in sequence.enumerated() { aatype[i * 21 + ResidueAlphabet.restype(letter)] = 1 }
        betweenSegmentResidues = [Int32](repeating: 0, count: n)
        residueIndex = (0..<n).map(Int32.init)
        seqLength = [Int32](repeating: Int32(n), count: n)

        // Rows of every MSA in order; the first occurrence of an aligned row wins.
        var seen = Set<String>()
        var msa: [Int32] = [], deletions: [Int32] = []
        func append(_ row: String, _ counts: [Int], file: String, index: Int) throws {
            guard seen.insert(row).inserted else { return }
            for letter in row {
                guard let id = ResidueAlphabet.hhblits(letter.uppercased().first!) else {
                    throw FileError(file: file, line: 0, message: "row \(index) holds '\(letter)', which is not an amino-acid letter or '-'")
                }
                msa.append(Int32(id))
            }
            deletions.append(contentsOf: counts.map(Int32.init))
        }
        if alignments.isEmpty {
            try append(sequence, [Int](repeating: 0, count: n), file: queryFile, index: 0)
        }
        for alignment in alignments {
            guard alignment.rows.first?.count == n else {
                throw FileError(file: alignment.file, line: 0,
                                        message: "its query row has \(alignment.rows.first?.count ?? 0) aligned columns; the query in \(queryFile) has \(n) residues")
            }
            for (index, row) in alignment.rows.enumerated() { try append(row, alignment.deletions[index], file: alignment.file, index: index) }
        }
        self.msa = msa
        deletionMatrixInt = deletions
        numAlignments = [Int32](repeating: Int32(msa.count / Swift.max(1, n)), count: n)
    }
}
