import Foundation
import Testing
import TestSupport
@testable import ProteinFolding
import TensorCore
import TensorIO

@Suite("OpenFold parsers and raw features")
struct AlignmentFeatureTests {
    static let shortQuery = Fixtures.shared("openfold/short_query")

    @Test("short_query: msa (as a multiset of rows with their deletions), aatype and the rest equal DeepMind's feature dict")
    func referenceFeatureDict() throws {
        let fasta = Self.shortQuery.appendingPathComponent("short.fasta").path
        let query = try AlignmentParsers.query(fastaAt: fasta)
        let features = try RawFeatures(query: query, queryFile: fasta,
                                       alignmentFolder: Self.shortQuery.appendingPathComponent("alignments").path)
        let reference = try NumpyArchive(contentsOf: Self.shortQuery.appendingPathComponent("reference/alphafold_feature_dict.npz").path)
        let n = features.residues
        #expect(n == 73 && features.rows == 1_136)
        let msa = try reference.array("msa"), deletions = try reference.array("deletion_matrix_int")
        #expect(msa.shape == [1_136, n] && deletions.shape == [1_136, n])
        let expectedMSA = try msa.integers(), expectedDeletions = try deletions.integers()
        func rows(_ values: [Int], _ deletions: [Int]) -> [[Int]] {
            (0..<values.count / n).map { Array(values[$0 * n..<($0 + 1) * n]) + Array(deletions[$0 * n..<($0 + 1) * n]) }
        }
        let ours = rows(features.msa.map(Int.init), features.deletionMatrixInt.map(Int.init))
        let theirs = rows(expectedMSA, expectedDeletions)
        #expect(ours[0] == theirs[0], "row 0 is the query in both")
        #expect(ours.sorted { $0.lexicographicallyPrecedes($1) } == theirs.sorted { $0.lexicographicallyPrecedes($1) })
        for (name, values) in [("aatype", features.aatype), ("residue_index", features.residueIndex), ("seq_length", features.seqLength),
                               ("between_segment_residues", features.betweenSegmentResidues), ("num_alignments", features.numAlignments)] {
            let expected = try reference.array(name)
            #expect(try expected.integers() == values.map(Int.init), "\(name)")
            #expect(expected.count == values.count, "\(name) shape \(expected.shape)")
        }
        let strings = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.shortQuery.appendingPathComponent("reference/alphafold_feature_dict.strings.json"))) as! [String: Any]
        let stringFeatures = strings["string_features"] as! [String: [String]]
        #expect(stringFeatures["sequence"] == [features.sequence] && stringFeatures["domain_name"] == [features.domainName])
    }

    @Test("A3M: lowercase letters count into the next column's deletion and are removed; '.' is dropped")
    func a3mRules() throws {
        let alignment = try AlignmentParsers.a3m(">q\nAC-D\n>hit one\nAabC-.D\n>tail\nA-Cdd-\n", file: "x.a3m")
        #expect(alignment.rows == ["AC-D", "AC-D", "A-C-"])
        #expect(alignment.deletions == [[0, 0, 0, 0], [0, 2, 0, 0], [0, 0, 0, 2]])
        #expect(alignment.descriptions == ["q", "hit one", "tail"])
    }

    @Test("Stockholm: pieces join per name, query-gap columns drop and count as deletions; annotations skipped")
    func stockholmRules() throws {
        let text = """
        # STOCKHOLM 1.0
        #=GS hit/1-5 DE something
        query   AC--D
        hit/1-5 AGKLD

        query   E
        hit/1-5 -
        #=GC RF xx..xx
        //
        """
        let alignment = try AlignmentParsers.stockholm(text, file: "x.sto")
        #expect(alignment.rows == ["ACDE", "AGD-"])
        #expect(alignment.deletions == [[0, 0, 0, 0], [0, 0, 2, 0]])
        #expect(alignment.descriptions == ["query", "hit/1-5"])
    }

    @Test("FASTA: '#' and blank lines are skipped and sequence lines joined; the alphabets map as AlphaFold's")
    func fastaAndAlphabets() throws {
        let records = try AlignmentParsers.fasta("# comment\n>a desc\nMK\n\nLV\n>b\nX\n", file: "x.fasta")
        #expect(records.map(\.sequence) == ["MKLV", "X"] && records.map(\.description) == ["a desc", "b"] && records.map(\.line) == [2, 6])
        #expect(ResidueAlphabet.restype("M") == 12 && ResidueAlphabet.restype("B") == 20)
        #expect(["A", "M", "-", "B", "Z", "U", "O"].map { ResidueAlphabet.hhblits(Character($0)) } == [0, 10, 21, 2, 3, 1, 20])
        #expect(ResidueAlphabet.hhblitsToRestype[10] == 12 && ResidueAlphabet.hhblitsToRestype[21] == 21)
    }

    @Test("malformed files fail naming the file and line: truncated Stockholm, ragged A3M, a FASTA with two records")
    func malformed() throws {
        let scratch = try Fixtures.scratchDirectory()
        let truncated = scratch.appendingPathComponent("cut.sto").path
        // The real uniref90 file cut in the middle of its second block.
        let full = try String(contentsOf: Self.shortQuery.appendingPathComponent("alignments/uniref90_hits.sto"), encoding: .utf8)
        let lines = full.split(separator: "\n", omittingEmptySubsequences: false)
        try lines.prefix(lines.count * 2 / 3).joined(separator: "\n").write(toFile: truncated, atomically: true, encoding: .utf8)
        #expect(throws: FileError.self) { try AlignmentParsers.alignment(at: truncated) }
        do {
            _ = try AlignmentParsers.alignment(at: truncated)
        } catch let error as FileError {
            #expect(error.file == truncated && (error.line ?? 0) > 0 && error.description.contains("\(truncated):"), "\(error)")
        }
        let shortRow = try #require(throws: FileError.self) {
            try AlignmentParsers.stockholm("q ACD\nh AC\n//\n", file: "short.sto")
        }
        #expect(shortRow == FileError(file: "short.sto", line: 2, message: "'h' has 2 columns; the query 'q' has 3 (truncated block?)"))
        let ragged = try #require(throws: FileError.self) { try AlignmentParsers.a3m(">q\nACD\n>h\nAC\n", file: "r.a3m") }
        #expect(ragged.file == "r.a3m" && ragged.line == 3 && ragged.message.contains("2 aligned columns; the query has 3"))
        let twoRecords = scratch.appendingPathComponent("two.fasta").path
        try ">a\nMK\n>b\nLV\n".write(toFile: twoRecords, atomically: true, encoding: .utf8)
        let two = try #require(throws: FileError.self) { try AlignmentParsers.query(fastaAt: twoRecords) }
        #expect(two.file == twoRecords && two.line == 3 && two.message.contains("second record"))
    }
}
