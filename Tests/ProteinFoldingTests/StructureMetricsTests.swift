import Foundation
import TensorIO
import Testing
import TestSupport
@testable import ProteinFolding

@Suite("Structure metrics")
struct StructureMetricsTests {
    static let cif = Fixtures.shared("openfold/2q2k_A/ground_truth/2q2k.cif").path

    static func chainA() throws -> ProteinChain { try ProteinStructure.read(cif).chain("A") }

    /// The chain with every atom moved by `move`.
    static func moved(_ chain: ProteinChain, _ move: (Int, SIMD3<Double>) -> SIMD3<Double>) -> ProteinChain {
        var copy = chain
        for (index, residue) in copy.residues.enumerated() {
            for (name, position) in residue.atoms { copy.residues[index].atoms[name] = move(residue.number, position) }
        }
        return copy
    }

    @Test("2q2k's mmCIF: protein chains A (45 resolved residues) and B (44), DNA and ligands left out")
    func reader() throws {
        let structure = try ProteinStructure.read(Self.cif)
        #expect(structure.chains.map(\.id) == ["A", "B"])
        #expect(structure.chains.map { $0.alphaCarbons.count } == [45, 44])
        let first = structure.chains[0].residues[0]
        #expect(first.atoms["CA"] != nil && first.name.count == 3)
    }

    @Test("a structure against itself, and after a rigid motion, scores perfectly")
    func perfect() throws {
        let chain = try Self.chainA()
        let angle = 0.7, c = cos(angle), s = sin(angle)
        let rigid = Self.moved(chain) { _, p in SIMD3(c * p.x - s * p.y + 3, s * p.x + c * p.y - 40, p.z + 12.5) }
        for model in [chain, rigid] {
            let result = try StructureMetrics.compare(model: model, reference: chain)
            #expect(result.lddtCA == 1 && result.lddtAllAtom == 1 && result.gdtTS == 1 && result.gdtHA == 1)
            #expect(result.rmsdCA < 1e-9 && result.drmsdCA < 1e-9 && abs(result.tmScore - 1) < 1e-12, "\(result)")
        }
    }

    @Test("known perturbations score as the definitions say")
    func perturbations() throws {
        let chain = try Self.chainA()
        let ca = chain.alphaCarbons, numbers = ca.keys.sorted(), count = Double(numbers.count)
        // One residue 100 Å away: it loses all its lDDT pairs (both directions), GDT counts the
        // other L − 1, TM-score adds almost nothing for it.
        let far = numbers[10]
        let displaced = Self.moved(chain) { number, p in number == far ? p + SIMD3(100, 0, 0) : p }
        let result = try StructureMetrics.compare(model: displaced, reference: chain)
        var pairs = 0, pairsWithFar = 0
        for i in numbers {
            for j in numbers where i != j && simdLength(ca[i]! - ca[j]!) < 15 {
                pairs += 1
                if i == far || j == far { pairsWithFar += 1 }
            }
        }
        #expect(abs(result.lddtCA - Double(pairs - pairsWithFar) / Double(pairs)) < 1e-12)
        #expect(result.perResidueLDDT[10] == 0)
        #expect(abs(result.gdtTS - (count - 1) / count) < 1e-12 && abs(result.gdtHA - (count - 1) / count) < 1e-12)
        let d0 = StructureMetrics.d0(numbers.count)
        #expect(result.tmScore >= (count - 1) / count && result.tmScore < (count - 1) / count + 1 / (1 + pow(99 / d0, 2)) / count + 1e-9)
        // Scaling by 1.1 about the origin: every distance grows 10 %, so dRMSD = 0.1·RMS(distances).
        let scaled = Self.moved(chain) { _, p in p * 1.1 }
        var sum = 0.0, n = 0
        for (a, i) in numbers.enumerated() {
            for j in numbers[(a + 1)...] {
                sum += pow(simdLength(ca[i]! - ca[j]!), 2)
                n += 1
            }
        }
        let expected = 0.1 * (sum / Double(n)).squareRoot()
        #expect(abs(try StructureMetrics.compare(model: scaled, reference: chain).drmsdCA - expected) < 1e-9)
    }

    @Test("TM-score and RMSD of 2q2k chain B against chain A match TM-align (tmtools 0.3.0: TM 0.93633, RMSD 0.4638 Å)")
    func againstTMalign() throws {
        let structure = try ProteinStructure.read(Self.cif)
        let result = try StructureMetrics.compare(model: try structure.chain("B"), reference: try structure.chain("A"))
        // Fixture values from tmtools.tm_align(Cα of B, Cα of A, …).tm_norm_chain2 and .rmsd, run by
        // a developer (pip install tmtools); the script is in Docs/domains/openfold.md.
        #expect(abs(result.tmScore - 0.93633) < 0.01, "TM-score \(result.tmScore)")
        #expect(abs(result.rmsdCA - 0.4638) < 0.01, "RMSD \(result.rmsdCA)")
        #expect(result.pairedResidues == 44 && result.referenceResidues == 45)
    }

    @Test("a PDB file reads as the same chain; malformed or non-finite coordinates name the file and line, in PDB and mmCIF")
    func pdbReader() throws {
        let chain = try Self.chainA()
        var lines: [String] = []
        var serial = 1
        for residue in chain.residues {
            for (name, p) in residue.atoms.sorted(by: { $0.key < $1.key }) {
                let atomName = name.count < 4 ? " " + name.padding(toLength: 3, withPad: " ", startingAt: 0) : name
                lines.append(String(format: "ATOM  %5d %@ %3@ A%4d    %8.3f%8.3f%8.3f  1.00%6.2f           %@", serial, atomName, residue.name,
                                    residue.number, p.x, p.y, p.z, 50.0, String(name.prefix(1))))
                serial += 1
            }
        }
        let scratch = try Fixtures.scratchDirectory()
        let path = scratch.appendingPathComponent("chain.pdb").path
        try (lines.joined(separator: "\n") + "\nEND\n").write(toFile: path, atomically: true, encoding: .utf8)
        let read = try ProteinStructure.read(path).chain(nil)
        let result = try StructureMetrics.compare(model: read, reference: chain)
        #expect(result.pairedResidues == 45 && result.rmsdCA < 1e-3 && result.lddtAllAtom == 1)
        let bad = scratch.appendingPathComponent("bad.pdb").path
        try (lines[0] + "\n" + "ATOM      2  CA  ALA A   2      xx.xxx   1.000   2.000  1.00 50.00           C\n").write(toFile: bad, atomically: true, encoding: .utf8)
        let error = try #require(throws: FileError.self) { try ProteinStructure.read(bad) }
        #expect(error.file == bad && error.line == 2)
        // "nan" and "inf" parse as numbers: refused as coordinates, in PDB and in mmCIF.
        try (lines[0] + "\n" + "ATOM      2  CA  ALA A   2         nan   1.000   2.000  1.00 50.00           C\n").write(toFile: bad, atomically: true, encoding: .utf8)
        let notFinite = try #require(throws: FileError.self) { try ProteinStructure.read(bad) }
        #expect(notFinite.line == 2 && notFinite.message.contains("finite"), "\(notFinite)")
        let cif = try String(contentsOfFile: Self.cif, encoding: .utf8)
        let cifLines = cif.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let atomLine = try #require(cifLines.firstIndex { $0.hasPrefix("ATOM") })
        var fields = cifLines[atomLine].split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let coordinate = try #require(fields.firstIndex { Double($0) != nil && $0.contains(".") })
        fields[coordinate] = "inf"
        var poisoned = cifLines
        poisoned[atomLine] = fields.joined(separator: " ")
        let badCIF = scratch.appendingPathComponent("bad.cif").path
        try poisoned.joined(separator: "\n").write(toFile: badCIF, atomically: true, encoding: .utf8)
        let cifError = try #require(throws: FileError.self) { try ProteinStructure.read(badCIF) }
        #expect(cifError.file == badCIF && cifError.line == atomLine + 1 && cifError.message.contains("finite"), "\(cifError)")
    }
}
