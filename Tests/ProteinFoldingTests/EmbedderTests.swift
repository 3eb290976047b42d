import Foundation
import Testing
import TestSupport
import NeuralNetworks
@testable import ProteinFolding
import TensorCore

@Suite("OpenFold embedders and the extra-MSA stack", .serialized)
struct EmbedderTests {
    @Test("extra-MSA block at AlphaFold's widths (c_e 64, 8 × 8 heads): shapes hold and a fresh block is the identity")
    func extraBlock() {
        var generator = RandomGenerator(seed: 21)
        let block = EvoformerBlock(.extraMSA, globalColumnAttention: true, generator: &generator)
        let (e, z, msaMask, pairMask) = EvoformerTests.inputs(s: 6, n: 4, widths: .extraMSA)
        let out = withNoGrad { block(msa: e, pair: z, msaMask: msaMask, pairMask: pairMask) }
        #expect(out.msa.shape == [1, 6, 4, 64] && out.pair.shape == [1, 4, 4, 128])
        #expect(out.msa.doubles == e.doubles && out.pair.doubles == z.doubles)
    }

    @Test("global column attention: masked rows do not change the others; gradcheck in float64")
    func globalAttention() {
        var generator = RandomGenerator(seed: 22)
        let attention = MSAGlobalAttention(msaChannels: 6, headWidth: 3, heads: 2, dtype: .float64, generator: &generator)
        attention.redrawZeroParameters(std: 0.05, seed: 23)
        let m = generator.normal([1, 5, 3, 6], dtype: .float64)
        var keep = [Double](repeating: 1, count: 15)
        for i in 0..<3 { keep[4 * 3 + i] = 0 }  // row 4 is padding
        let mask = Tensor(keep, shape: [1, 5, 3])
        let base = withNoGrad { attention(m, mask: mask) }
        let changedRow = Tensor.concat([m.sliced(axis: 1, 0, 4), generator.normal([1, 1, 3, 6], dtype: .float64)], axis: 1)
        let changed = withNoGrad { attention(changedRow, mask: mask) }
        #expect(closeness(changed.sliced(axis: 1, 0, 4).contiguous(), base.sliced(axis: 1, 0, 4).contiguous(),
                          Tolerance(rtol: 1e-12, atol: 1e-12)).passed)
        let chunked = withNoGrad { attention(m, mask: mask, chunkSize: 2) }
        #expect(closeness(chunked, base, Tolerance(rtol: 1e-12, atol: 1e-12)).passed)
        let result = gradcheck({ attention($0[0], mask: mask) }, inputs: [m])
        #expect(result.passed, "\(result)")
    }

    @Test("input embedder: the pair depends on clipped relative position (±32 bins); the MSA adds the target projection")
    func inputEmbedder() {
        var generator = RandomGenerator(seed: 24)
        let embedder = InputEmbedder(msaChannels: 8, pairChannels: 6, dtype: .float64, generator: &generator)
        let n = 40
        let targetFeat = Tensor.zeros([1, n, 22], dtype: .float64), msaFeat = generator.normal([1, 2, n, 49], dtype: .float64)
        let (msa, pair) = withNoGrad { embedder(targetFeat: targetFeat, msaFeat: msaFeat, residueIndex: Array(0..<n)) }
        #expect(msa.shape == [1, 2, n, 8] && pair.shape == [1, n, n, 6])
        let values = pair.doubles
        func at(_ i: Int, _ j: Int) -> [Double] { Array(values[(i * n + j) * 6..<(i * n + j + 1) * 6]) }
        #expect(at(3, 7) == at(10, 14), "same offset, same embedding")
        #expect(at(0, 39) == at(0, 35) && at(39, 0) == at(36, 2), "offsets beyond ±32 share the end bins")
        #expect(at(0, 32) != at(0, 31))
    }

    @Test("recycling distogram: 15 bins from 3.25 Å, distances below the first bin in none, beyond 20.75 Å in the last")
    func distogram() {
        let positions: [SIMD3<Double>] = [.zero, SIMD3(3, 0, 0), SIMD3(0, 4, 0), SIMD3(0, 0, 30)]
        let bins = RecyclingEmbedder.distogram(positions, dtype: .float64).doubles
        func row(_ i: Int, _ j: Int) -> [Double] { Array(bins[(i * 4 + j) * 15..<(i * 4 + j + 1) * 15]) }
        #expect(row(0, 1).allSatisfy { $0 == 0 })  // 3 Å: below 3.25
        #expect(row(0, 2).firstIndex(of: 1) == 0 && row(0, 2).reduce(0, +) == 1)  // 4 Å: (3.25, 4.5)
        #expect(row(0, 3).firstIndex(of: 1) == 14)  // 30 Å: the open last bin
        #expect(row(1, 2).firstIndex(of: 1) == 1)  // 5 Å: (4.5, 5.75)
        #expect(row(2, 2).allSatisfy { $0 == 0 })
    }
}
