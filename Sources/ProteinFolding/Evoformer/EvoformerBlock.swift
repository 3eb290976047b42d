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
    /// When set, each of the nine updates adds its wall-clock time here (`scizoo bench fold`).
    public var stepTimes: StepTimes?

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
        m = m + timed("MSA row attention") { msaAttentionRow(m, pair: z, mask: msaMask, chunkSize: chunkSize) }
        m = m + timed("MSA column attention") { msaAttentionColumn(m, mask: msaMask, chunkSize: chunkSize) }
        m = m + timed("MSA transition") { msaTransition(m, mask: nil, chunkSize: chunkSize) }
        z = z + timed("outer product mean") { outerProductMean(m, mask: msaMask, chunkSize: chunkSize) }
        z = z + timed("triangle multiplication") { triangleMultiplicationOutgoing(z, mask: pairMask) }
        z = z + timed("triangle multiplication") { triangleMultiplicationIncoming(z, mask: pairMask) }
        z = z + timed("triangle attention") { triangleAttentionStarting(z, mask: pairMask, chunkSize: chunkSize) }
        z = z + timed("triangle attention") { triangleAttentionEnding(z, mask: pairMask, chunkSize: chunkSize) }
        z = z + timed("pair transition") { pairTransition(z, mask: nil, chunkSize: chunkSize) }
        return (m, z)
    }

    private func timed(_ step: String, _ body: () -> Tensor) -> Tensor {
        guard let stepTimes else { return body() }
        return stepTimes.measure(step, body)
    }
}

/// Wall-clock seconds per named step, summed over calls, in first-seen order.
public final class StepTimes {
    public private(set) var steps: [String] = []
    public private(set) var seconds: [String: Double] = [:]
    /// The most tensor memory (all live tensors, TensorMemory) seen during each step.
    public private(set) var peakBytes: [String: Int] = [:]

    public init() {}

    public func measure<T>(_ step: String, _ body: () -> T) -> T {
        let clock = ContinuousClock(), start = clock.now
        TensorMemory.resetPeak()
        let result = body()
        if seconds[step] == nil { steps.append(step) }
        seconds[step, default: 0] += (clock.now - start).inSeconds
        peakBytes[step] = Swift.max(peakBytes[step] ?? 0, TensorMemory.peakBytes)
        return result
    }
}

extension EvoformerWidths {
    /// Multiply-add FLOPs (2 per MAC) of one block's forward per step name, for S rows and N
    /// residues: the GEMMs and attention products only (norms, softmax and gates are not counted).
    public func forwardFLOPs(rows s: Int, residues n: Int, globalColumnAttention: Bool) -> [String: Double] {
        let (s, n) = (Double(s), Double(n))
        let (cm, cz) = (Double(msaChannels), Double(pairChannels))
        let hd = Double(msaHeads * msaHeadWidth), h = Double(msaHeads), d = Double(msaHeadWidth)
        let attentionProjections = 5 * 2 * s * n * cm * hd          // q, k, v, gate, output
        let rowAttention = attentionProjections + 2 * n * n * cz * h + 2 * 2 * s * h * n * n * d
        let columnAttention = globalColumnAttention
            ? 2 * n * cm * hd + 2 * 2 * s * n * cm * d + 2 * 2 * s * n * cm * hd + 2 * 2 * n * h * s * d
            : attentionProjections + 2 * 2 * n * h * s * s * d
        let f = Double(transitionFactor), o = Double(outerProductHidden), t = Double(triangleMultiplicationHidden)
        let th = Double(triangleHeads * triangleHeadWidth)
        return [
            "MSA row attention": rowAttention,
            "MSA column attention": columnAttention,
            "MSA transition": 2 * 2 * s * n * cm * f * cm,
            "outer product mean": 2 * 2 * s * n * cm * o + 2 * s * n * n * o * o + 2 * n * n * o * o * cz,
            "triangle multiplication": 2 * (4 * 2 * n * n * cz * t + 2 * n * n * cz * cz + 2 * n * n * t * cz + 2 * n * n * n * t),
            "triangle attention": 2 * (5 * 2 * n * n * cz * th + 2 * n * n * cz * Double(triangleHeads)
                                       + 2 * 2 * n * Double(triangleHeads) * n * n * Double(triangleHeadWidth)),
            "pair transition": 2 * 2 * n * n * cz * f * cz,
        ]
    }
}
