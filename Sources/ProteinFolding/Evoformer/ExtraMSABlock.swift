// One block of the extra-MSA stack (model/evoformer.py `ExtraMSABlock`): the Evoformer block's
// order with c_e = 64, 8 heads × 8 for row attention and global column attention.
import NeuralNetworks
import TensorCore

public final class ExtraMSABlock: Module {
    public let msaAttentionRow: MSARowAttentionWithPairBias
    public let msaAttentionColumn: MSAGlobalAttention
    public let msaTransition: Transition
    public let outerProductMean: OuterProductMean
    public let triangleMultiplicationOutgoing: TriangleMultiplication, triangleMultiplicationIncoming: TriangleMultiplication
    public let triangleAttentionStarting: TriangleAttention, triangleAttentionEnding: TriangleAttention
    public let pairTransition: Transition

    /// AlphaFold's extra-MSA widths: c_e 64, row and global attention 8 × 8, pair as the Evoformer's.
    public static let widths: EvoformerWidths = {
        var w = EvoformerWidths()
        (w.msaChannels, w.msaHeads, w.msaHeadWidth) = (64, 8, 8)
        return w
    }()

    public init(_ w: EvoformerWidths = ExtraMSABlock.widths, dtype: DType = .float32, generator: inout RandomGenerator) {
        msaAttentionRow = MSARowAttentionWithPairBias(msaChannels: w.msaChannels, pairChannels: w.pairChannels, headWidth: w.msaHeadWidth,
                                                      heads: w.msaHeads, dtype: dtype, generator: &generator)
        msaAttentionColumn = MSAGlobalAttention(msaChannels: w.msaChannels, headWidth: w.msaHeadWidth, heads: w.msaHeads, dtype: dtype,
                                                generator: &generator)
        msaTransition = Transition(channels: w.msaChannels, factor: w.transitionFactor, dtype: dtype, generator: &generator)
        outerProductMean = OuterProductMean(msaChannels: w.msaChannels, pairChannels: w.pairChannels, hidden: w.outerProductHidden,
                                            dtype: dtype, generator: &generator)
        triangleMultiplicationOutgoing = TriangleMultiplication(pairChannels: w.pairChannels, hidden: w.triangleMultiplicationHidden,
                                                                outgoing: true, dtype: dtype, generator: &generator)
        triangleMultiplicationIncoming = TriangleMultiplication(pairChannels: w.pairChannels, hidden: w.triangleMultiplicationHidden,
                                                                outgoing: false, dtype: dtype, generator: &generator)
        triangleAttentionStarting = TriangleAttention(pairChannels: w.pairChannels, headWidth: w.triangleHeadWidth, heads: w.triangleHeads,
                                                      startingNode: true, dtype: dtype, generator: &generator)
        triangleAttentionEnding = TriangleAttention(pairChannels: w.pairChannels, headWidth: w.triangleHeadWidth, heads: w.triangleHeads,
                                                    startingNode: false, dtype: dtype, generator: &generator)
        pairTransition = Transition(channels: w.pairChannels, factor: w.transitionFactor, dtype: dtype, generator: &generator)
    }

    /// e `[B, E, N, c_e]`, z `[B, N, N, c_z]`, masks as `EvoformerBlock`.
    public func callAsFunction(msa m: Tensor, pair z: Tensor, msaMask: Tensor, pairMask: Tensor,
                               chunkSize: Int? = nil) -> (msa: Tensor, pair: Tensor) {
        var m = m, z = z
        m = m + msaAttentionRow(m, pair: z, mask: msaMask, chunkSize: chunkSize)
        m = m + msaAttentionColumn(m, mask: msaMask, chunkSize: chunkSize)
        m = m + msaTransition(m, mask: msaMask, chunkSize: chunkSize)
        z = z + outerProductMean(m, mask: msaMask, chunkSize: chunkSize)
        z = z + triangleMultiplicationOutgoing(z, mask: pairMask)
        z = z + triangleMultiplicationIncoming(z, mask: pairMask)
        z = z + triangleAttentionStarting(z, mask: pairMask, chunkSize: chunkSize)
        z = z + triangleAttentionEnding(z, mask: pairMask, chunkSize: chunkSize)
        z = z + pairTransition(z, mask: pairMask, chunkSize: chunkSize)
        return (m, z)
    }
}
