import Foundation
import Testing
import TestSupport
@testable import ProteinFolding
import TensorCore

@Suite("OpenFold heads")
struct HeadTests {
    @Test("pLDDT is the expectation over 50 bins: 50 for a fresh head, near 100 or 0 for confident logits")
    func plddt() {
        var generator = RandomGenerator(seed: 41)
        let head = PLDDTHead(generator: &generator)
        let fresh = PLDDTHead.plddt(logits: withNoGrad { head(generator.normal([1, 4, 384])) })
        #expect(fresh.doubles.allSatisfy { abs($0 - 50) < 1e-4 })
        var confident = [Double](repeating: -30, count: 2 * 50)
        confident[49] = 30
        confident[50] = 30
        let scores = PLDDTHead.plddt(logits: Tensor(confident, shape: [2, 50])).doubles
        #expect(abs(scores[0] - 99) < 1e-6 && abs(scores[1] - 1) < 1e-6)
    }

    @Test("distogram logits are symmetric; pTM and pAE follow their definitions")
    func pairHeads() {
        var generator = RandomGenerator(seed: 42)
        let distogram = DistogramHead(pairChannels: 8, dtype: .float64, generator: &generator)
        distogram.redrawZeroParameters(std: 0.05, seed: 43)
        let logits = withNoGrad { distogram(generator.normal([1, 5, 5, 8], dtype: .float64)) }
        #expect(closeness(logits, logits.transposed(1, 2).contiguous(), Tolerance(rtol: 0, atol: 0)).passed)
        // All mass on the first aligned-error bin (0.246 Å): pTM = 1/(1 + (0.246/d0)²), pAE = 0.246.
        let n = 30
        var values = [Double](repeating: -50, count: n * n * 64)
        for k in 0..<(n * n) { values[k * 64] = 50 }
        let sharp = Tensor(values, shape: [n, n, 64])
        let centre = AlignedErrorHead.centres[0], d0 = 1.24 * pow(Double(n - 15), 1.0 / 3) - 1.8
        #expect(abs(AlignedErrorHead.ptm(logits: sharp) - 1 / (1 + pow(centre / d0, 2))) < 1e-9)
        #expect(AlignedErrorHead.predictedAlignedError(logits: sharp).doubles.allSatisfy { abs($0 - centre) < 1e-9 })
        #expect(abs(AlignedErrorHead.centres[0] - 0.25) < 1e-12 && abs(AlignedErrorHead.centres[63] - 31.75) < 1e-12)
    }
}
