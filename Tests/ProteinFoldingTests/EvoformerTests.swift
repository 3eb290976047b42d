import Foundation
import Testing
import TestSupport
import NeuralNetworks
@testable import ProteinFolding
import TensorCore

@Suite("Evoformer blocks", .serialized)
struct EvoformerTests {
    static func inputs(s: Int, n: Int, widths w: EvoformerWidths, dtype: DType = .float32, seed: UInt64 = 1) -> (Tensor, Tensor, Tensor, Tensor) {
        var generator = RandomGenerator(seed: seed)
        let m = generator.normal([1, s, n, w.msaChannels], dtype: dtype), z = generator.normal([1, n, n, w.pairChannels], dtype: dtype)
        var msaMask = [Double](repeating: 1, count: s * n)
        msaMask[s * n - 1] = 0  // one padded position
        var pairMask = [Double](repeating: 1, count: n * n)
        pairMask[n * n - 2] = 0
        return (m, z, Tensor(msaMask, shape: [1, s, n]).cast(to: dtype), Tensor(pairMask, shape: [1, n, n]).cast(to: dtype))
    }

    @Test("at AlphaFold's widths (c_m 256, c_z 128, 8 × 32 MSA heads, 4 × 32 triangle heads): shapes hold, a fresh block is the identity")
    func shapesAndIdentityAtInit() {
        var generator = RandomGenerator(seed: 3)
        let block = EvoformerBlock(.evoformer, generator: &generator)
        let (m, z, msaMask, pairMask) = Self.inputs(s: 3, n: 5, widths: .evoformer)
        let fresh = withNoGrad { block(msa: m, pair: z, msaMask: msaMask, pairMask: pairMask) }
        #expect(fresh.msa.shape == [1, 3, 5, 256] && fresh.pair.shape == [1, 5, 5, 128])
        // Every residual branch ends in a zero-initialised layer ("final" init), so the block starts as the identity.
        #expect(fresh.msa.doubles == m.doubles && fresh.pair.doubles == z.doubles)
        block.redrawZeroParameters(std: 0.05, seed: 4)
        let trained = withNoGrad { block(msa: m, pair: z, msaMask: msaMask, pairMask: pairMask) }
        #expect(trained.msa.doubles != m.doubles && trained.pair.doubles != z.doubles)
        #expect(trained.msa.doubles.allSatisfy(\.isFinite) && trained.pair.doubles.allSatisfy(\.isFinite))
        #expect(block.parameterCount > 500_000, "\(block.parameterCount) parameters")
    }

    @Test("chunking over leading axes gives the same block output as no chunking")
    func chunking() {
        var generator = RandomGenerator(seed: 5)
        var widths = EvoformerWidths()
        (widths.msaChannels, widths.pairChannels, widths.msaHeads, widths.msaHeadWidth) = (32, 16, 4, 8)
        (widths.outerProductHidden, widths.triangleMultiplicationHidden, widths.triangleHeads, widths.triangleHeadWidth) = (4, 16, 2, 8)
        let block = EvoformerBlock(widths, generator: &generator)
        block.redrawZeroParameters(std: 0.05, seed: 6)
        let (m, z, msaMask, pairMask) = Self.inputs(s: 7, n: 9, widths: widths)
        let whole = withNoGrad { block(msa: m, pair: z, msaMask: msaMask, pairMask: pairMask) }
        for size in [1, 2, 4] {
            let parts = withNoGrad { block(msa: m, pair: z, msaMask: msaMask, pairMask: pairMask, chunkSize: size) }
            #expect(closeness(parts.msa, whole.msa, Tolerance(rtol: 1e-5, atol: 1e-5)).passed, "chunk \(size) msa")
            #expect(closeness(parts.pair, whole.pair, Tolerance(rtol: 1e-5, atol: 1e-5)).passed, "chunk \(size) pair")
        }
    }

    @Test("permuting MSA rows permutes the MSA output and leaves the pair output unchanged")
    func rowPermutation() {
        var generator = RandomGenerator(seed: 7)
        var widths = EvoformerWidths()
        (widths.msaChannels, widths.pairChannels, widths.msaHeads, widths.msaHeadWidth) = (16, 8, 2, 8)
        (widths.outerProductHidden, widths.triangleMultiplicationHidden, widths.triangleHeads, widths.triangleHeadWidth) = (4, 8, 2, 4)
        let block = EvoformerBlock(widths, dtype: .float64, generator: &generator)
        block.redrawZeroParameters(std: 0.05, seed: 8)
        let (m, z, msaMask, pairMask) = Self.inputs(s: 5, n: 6, widths: widths, dtype: .float64)
        let order = [3, 0, 4, 1, 2]
        let index = Tensor(order.map(Int64.init), shape: [5])
        let original = withNoGrad { block(msa: m, pair: z, msaMask: msaMask, pairMask: pairMask) }
        let permuted = withNoGrad { block(msa: m.indexSelect(axis: 1, index), pair: z, msaMask: msaMask.indexSelect(axis: 1, index), pairMask: pairMask) }
        #expect(closeness(permuted.pair, original.pair, Tolerance(rtol: 1e-12, atol: 1e-12)).passed)
        #expect(closeness(permuted.msa, original.msa.indexSelect(axis: 1, index), Tolerance(rtol: 1e-12, atol: 1e-12)).passed)
    }

    @Test("gradcheck in float64 through a whole block (EvoformerAttention's backward included)")
    func gradcheckBlock() {
        var generator = RandomGenerator(seed: 9)
        var widths = EvoformerWidths()
        (widths.msaChannels, widths.pairChannels, widths.msaHeads, widths.msaHeadWidth) = (4, 4, 2, 2)
        (widths.outerProductHidden, widths.triangleMultiplicationHidden, widths.triangleHeads, widths.triangleHeadWidth) = (2, 3, 2, 2)
        widths.transitionFactor = 2
        let block = EvoformerBlock(widths, dtype: .float64, generator: &generator)
        block.redrawZeroParameters(std: 0.05, seed: 10)
        let (m, z, msaMask, pairMask) = Self.inputs(s: 2, n: 3, widths: widths, dtype: .float64)
        let result = gradcheck({ x in
            let out = block(msa: x[0], pair: x[1], msaMask: msaMask, pairMask: pairMask)
            return Tensor.concat([out.msa.reshaped([-1]), out.pair.reshaped([-1])], axis: 0)
        }, inputs: [m, z])
        #expect(result.passed, "\(result)")
    }

    @Test("triangle updates: on a symmetric pair, incoming equals outgoing and ending-node attention is the transpose of starting-node")
    func triangleSymmetry() {
        var generator = RandomGenerator(seed: 11)
        let outgoing = TriangleMultiplication(pairChannels: 8, hidden: 6, outgoing: true, dtype: .float64, generator: &generator)
        outgoing.redrawZeroParameters(std: 0.05, seed: 12)
        let incoming = TriangleMultiplication(pairChannels: 8, hidden: 6, outgoing: false, dtype: .float64, generator: &generator)
        try! incoming.loadStateDict(outgoing.stateDict())
        let starting = TriangleAttention(pairChannels: 8, headWidth: 4, heads: 2, startingNode: true, dtype: .float64, generator: &generator)
        starting.redrawZeroParameters(std: 0.05, seed: 13)
        let ending = TriangleAttention(pairChannels: 8, headWidth: 4, heads: 2, startingNode: false, dtype: .float64, generator: &generator)
        try! ending.loadStateDict(starting.stateDict())
        let raw = generator.normal([1, 5, 5, 8], dtype: .float64)
        let z = (raw + raw.transposed(1, 2)).contiguous(), mask = Tensor.ones([1, 5, 5], dtype: .float64)
        withNoGrad {
            #expect(closeness(incoming(z, mask: mask), outgoing(z, mask: mask), Tolerance(rtol: 1e-12, atol: 1e-12)).passed)
            #expect(closeness(ending(z, mask: mask), starting(z, mask: mask).transposed(1, 2).contiguous(),
                              Tolerance(rtol: 1e-12, atol: 1e-12)).passed)
        }
    }
}
