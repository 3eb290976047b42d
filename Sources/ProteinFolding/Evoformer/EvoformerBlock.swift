// One Evoformer block (model/evoformer.py `EvoformerBlock`, monomer order): MSA row attention
// with pair bias, MSA column attention, MSA transition, outer product mean, triangle
// multiplication outgoing and incoming, triangle attention starting and ending node, pair
// transition — each a residual update. The extra-MSA stack's blocks are the same with global
// column attention and c_e = 64 (`ExtraMSABlock` in upstream). Dropout (training) is not applied yet.
import NeuralNetworks
import TensorCore

/// Widths of an Evoformer block (openfold/config.py; the extra-MSA stack uses c_m 64, 8 heads × 8).
public struct EvoformerWidths: Sendable, Equatable {
    public var msaChannels = 256, pairChannels = 128
    public var msaHeads = 8, msaHeadWidth = 32
    public var outerProductHidden = 32, triangleMultiplicationHidden = 128
    public var triangleHeads = 4, triangleHeadWidth = 32
    public var transitionFactor = 4

    public init() {}

    /// AlphaFold 2's Evoformer (48 blocks of these).
    public static let evoformer = EvoformerWidths()

    /// The extra-MSA stack (4 blocks): c_e 64, row and global column attention 8 × 8.
    public static let extraMSA: EvoformerWidths = {
        var w = EvoformerWidths()
        (w.msaChannels, w.msaHeads, w.msaHeadWidth) = (64, 8, 8)
        return w
    }()
}

/// The column step of a block: full column attention (Evoformer) or global attention (extra MSA).
public protocol MSAColumnUpdate: Module {
    func callAsFunction(_ m: Tensor, mask: Tensor, chunkSize: Int?) -> Tensor
}

extension MSAColumnAttention: MSAColumnUpdate {}
extension MSAGlobalAttention: MSAColumnUpdate {}

public final class EvoformerBlock: Module {
    public let msaAttentionRow: MSARowAttentionWithPairBias
    public let msaAttentionColumn: any MSAColumnUpdate
    public let msaTransition: Transition
    public let outerProductMean: OuterProductMean
    public let triangleMultiplicationOutgoing: TriangleMultiplication, triangleMultiplicationIncoming: TriangleMultiplication
    public let triangleAttentionStarting: TriangleAttention, triangleAttentionEnding: TriangleAttention
    public let pairTransition: Transition

    /// - Parameter globalColumnAttention: the extra-MSA stack's form (with `EvoformerWidths.extraMSA`).
    public init(_ w: EvoformerWidths = .evoformer, globalColumnAttention: Bool = false, dtype: DType = .float32,
                generator: inout RandomGenerator) {
        msaAttentionRow = MSARowAttentionWithPairBias(msaChannels: w.msaChannels, pairChannels: w.pairChannels, headWidth: w.msaHeadWidth,
                                                      heads: w.msaHeads, dtype: dtype, generator: &generator)
        if globalColumnAttention {
            msaAttentionColumn = MSAGlobalAttention(msaChannels: w.msaChannels, headWidth: w.msaHeadWidth, heads: w.msaHeads, dtype: dtype,
                                                    generator: &generator)
        } else {
            msaAttentionColumn = MSAColumnAttention(msaChannels: w.msaChannels, headWidth: w.msaHeadWidth, heads: w.msaHeads, dtype: dtype,
                                                    generator: &generator)
        }
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

    /// m `[B, S, N, c_m]`, z `[B, N, N, c_z]`, msaMask `[B, S, N]`, pairMask `[B, N, N]` (0/1, float).
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
