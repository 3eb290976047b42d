import Foundation
import TensorIO
import Testing
import TestSupport
@testable import ProteinFolding
import TensorCore

@Suite("OpenFold input transforms")
struct InputTransformTests {
    static func shortQuery() throws -> RawFeatures {
        let root = Fixtures.shared("openfold/short_query")
        let fasta = root.appendingPathComponent("short.fasta").path
        return try RawFeatures(query: try AlignmentParsers.query(fastaAt: fasta), queryFile: fasta,
                               alignmentFolder: root.appendingPathComponent("alignments").path)
    }

    @Test("short_query: 512 centres and 624 extra rows (cropped to the option), channel layouts hold, passes differ, seeds repeat")
    func shapesAndChannels() throws {
        let raw = try Self.shortQuery()
        let options = InputTransformOptions(maxClusters: 512, maxExtra: 300)
        let pass0 = InputTransforms.features(raw, options: options, seed: 7, pass: 0)
        #expect(pass0.msaFeat.shape == [512, 73, 49] && pass0.extraMSAFeat.shape == [300, 73, 25] && pass0.targetFeat.shape == [73, 22])
        #expect(pass0.extraAssignment.count == 1_136 - 512)
        let msa = pass0.msaFeat.scalars(as: Float.self), target = pass0.targetFeat.scalars(as: Float.self)
        for position in stride(from: 0, to: 512 * 73, by: 97) {
            let f = Array(msa[position * 49..<(position + 1) * 49])
            #expect(f[0..<23].reduce(0, +) == 1, "one-hot at \(position)")
            #expect(abs(f[25..<48].reduce(0, +) - 1) < 1e-5, "cluster profile at \(position)")
            #expect(f[24] >= 0 && f[24] < 1 && f[48] >= 0 && f[48] < 1 && (f[23] == 0 || f[23] == 1))
        }
        // target_feat: has_break 0, then the query's restype one-hot.
        for i in 0..<73 {
            #expect(target[i * 22] == 0 && target[i * 22 + 1 + pass0.aatype[i]] == 1 && target[i * 22..<(i + 1) * 22].reduce(0, +) == 1)
        }
        // Row 0 is the query (cluster 0) in every pass; the true MSA keeps it unmasked.
        #expect(Array(pass0.trueMSA[0..<73]) == pass0.aatype)
        let again = InputTransforms.features(raw, options: options, seed: 7, pass: 0)
        #expect(again.msaFeat.scalars(as: Float.self) == msa && again.extraAssignment == pass0.extraAssignment)
        let pass1 = InputTransforms.features(raw, options: options, seed: 7, pass: 1)
        #expect(pass1.msaFeat.scalars(as: Float.self) != msa, "each recycling pass samples anew")
    }

    @Test("BERT masking selects about 15 % of centre positions, about 70 % of them become the mask token")
    func maskingRates() throws {
        let raw = try Self.shortQuery()
        let pass = InputTransforms.features(raw, seed: 3, pass: 0)
        let selected = pass.bertMask.filter { $0 }.count, total = pass.bertMask.count
        let rate = Double(selected) / Double(total)
        #expect(abs(rate - 0.15) < 0.01, "selected \(rate)")
        let msa = pass.msaFeat.scalars(as: Float.self)
        let maskTokens = pass.bertMask.indices.filter { pass.bertMask[$0] && msa[$0 * 49 + ResidueAlphabet.mask] == 1 }.count
        #expect(abs(Double(maskTokens) / Double(selected) - 0.7) < 0.03, "mask tokens \(maskTokens) of \(selected)")
        // Unselected positions keep their residue.
        for k in stride(from: 0, to: total, by: 11) where !pass.bertMask[k] { #expect(msa[k * 49 + pass.trueMSA[k]] == 1) }
    }

    @Test("every extra row joins the centre it agrees with most (amino acids and X; gaps and mask tokens do not count)")
    func nearestNeighbours() throws {
        let raw = try Self.shortQuery()
        let options = InputTransformOptions(maxClusters: 64, maxExtra: 2_000)
        let pass = InputTransforms.features(raw, options: options, seed: 11, pass: 2)
        let n = raw.residues
        let centres = pass.msaFeat.scalars(as: Float.self)
        #expect(pass.extraRows == 1_136 - 64 && pass.extraAssignment.allSatisfy { $0 >= 0 && $0 < 64 })
        func classes(_ features: [Float], row: Int, width: Int) -> [Int] {
            (0..<n).map { i in (0..<23).first { features[(row * n + i) * width + $0] == 1 }! }
        }
        let centreClasses = (0..<64).map { classes(centres, row: $0, width: 49) }
        // Recompute the assignment by brute force from the raw rows in the pass's sampled order.
        let msa = raw.msa.map { ResidueAlphabet.hhblitsToRestype[Int($0)] }
        var generator = RandomGenerator(seed: 11, offset: UInt64(2) << 40)
        let order = [0] + generator.permutation(raw.rows - 1).map { $0 + 1 }
        for (e, rowIndex) in order[64...].enumerated() where e % 7 == 0 {
            let row = Array(msa[rowIndex * n..<(rowIndex + 1) * n])
            let agreements = centreClasses.map { centre in zip(row, centre).filter { $0 == $1 && $0 <= 20 }.count }
            let best = agreements.firstIndex(of: agreements.max()!)!
            #expect(pass.extraAssignment[e] == best, "extra row \(e)")
        }
    }

    @Test("an MSA smaller than the cluster count makes every row a centre and no extra rows")
    func smallMSA() throws {
        let query = FastaRecord(description: "q", sequence: "MKV", line: 1)
        let alignment = try AlignmentParsers.a3m(">q\nMKV\n>h\nMR-\n", file: "x.a3m")
        let raw = try RawFeatures(query: query, queryFile: "q.fasta", alignments: [alignment])
        let pass = InputTransforms.features(raw, seed: 1, pass: 0)
        #expect(pass.clusters == 2 && pass.extraRows == 0 && pass.extraMSAFeat.shape == [0, 3, 25])
        // With no extra rows the cluster profile is the (masked) centre itself.
        let f = pass.msaFeat.scalars(as: Float.self)
        for k in 0..<6 { #expect(Array(f[k * 49..<k * 49 + 23]) == Array(f[k * 49 + 25..<k * 49 + 48])) }
    }

    @Test("presets take AlphaFold's extra-MSA sizes: 5,120 for models 1, 3, 4 and 1,024 for 2, 5; _ptm adds the aligned-error head")
    func presets() throws {
        for (name, extra) in [("model_1", 5_120), ("model_2", 1_024), ("model_3", 5_120), ("model_4", 5_120), ("model_5", 1_024)] {
            #expect(try AlphaFoldPreset(name).maxExtra == extra && AlphaFoldPreset(name + "_ptm").maxExtra == extra, "\(name)")
            #expect(try !AlphaFoldPreset(name).predictsAlignedError && AlphaFoldPreset(name + "_ptm").predictsAlignedError)
        }
        #expect(throws: FileError.self) { try AlphaFoldPreset("model_6") }
    }
}
