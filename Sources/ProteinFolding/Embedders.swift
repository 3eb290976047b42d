// AlphaFold's embedders (model/embedders.py): the input embedder (target and MSA features,
// relative positions), the recycling embedder (previous MSA row 0, pair and a distogram of the
// previous pseudo-β positions) and the extra-MSA embedder.
import NeuralNetworks
import TensorCore

public final class InputEmbedder: Module {
    public let linearTfZI: Linear, linearTfZJ: Linear, linearTfM: Linear, linearMsaM: Linear, linearRelpos: Linear
    /// Relative positions are clipped to ±maxRelative (32: 65 one-hot bins).
    public let maxRelative: Int

    public init(targetFeatures: Int = 22, msaFeatures: Int = 49, msaChannels: Int = 256, pairChannels: Int = 128, maxRelative: Int = 32,
                dtype: DType = .float32, generator: inout RandomGenerator) {
        self.maxRelative = maxRelative
        linearTfZI = Linear(targetFeatures, pairChannels, initialization: .lecun, dtype: dtype, generator: &generator)
        linearTfZJ = Linear(targetFeatures, pairChannels, initialization: .lecun, dtype: dtype, generator: &generator)
        linearTfM = Linear(targetFeatures, msaChannels, initialization: .lecun, dtype: dtype, generator: &generator)
        linearMsaM = Linear(msaFeatures, msaChannels, initialization: .lecun, dtype: dtype, generator: &generator)
        linearRelpos = Linear(2 * maxRelative + 1, pairChannels, initialization: .lecun, dtype: dtype, generator: &generator)
    }

    /// - Parameters: targetFeat `[B, N, 22]`, msaFeat `[B, S, N, 49]`, residueIndex per residue.
    /// - Returns: m `[B, S, N, c_m]`, z `[B, N, N, c_z]`.
    public func callAsFunction(targetFeat: Tensor, msaFeat: Tensor, residueIndex: [Int]) -> (msa: Tensor, pair: Tensor) {
        let relative = relativePositionOneHot(residueIndex: residueIndex, maxRelative: maxRelative, dtype: targetFeat.dtype)
        let pair = linearRelpos(relative).unsqueezed(axis: 0) + linearTfZI(targetFeat).unsqueezed(axis: 2)
            + linearTfZJ(targetFeat).unsqueezed(axis: 1)
        let msa = linearMsaM(msaFeat) + linearTfM(targetFeat).unsqueezed(axis: 1)
        return (msa, pair)
    }
}

public final class RecyclingEmbedder: Module {
    public let layerNormM: LayerNorm, layerNormZ: LayerNorm
    public let linear: Linear
    /// Distogram bins of the previous pseudo-β distances: 15 bins from 3.25 to 20.75 Å, the last open.
    public static let bins = 15, minimumDistance = 3.25, maximumDistance = 20.75

    public init(msaChannels: Int = 256, pairChannels: Int = 128, dtype: DType = .float32, generator: inout RandomGenerator) {
        layerNormM = LayerNorm(msaChannels, dtype: dtype)
        layerNormZ = LayerNorm(pairChannels, dtype: dtype)
        linear = Linear(Self.bins, pairChannels, initialization: .lecun, dtype: dtype, generator: &generator)
    }

    /// One-hot distogram `[N, N, 15]` of pseudo-β positions `[N, 3]`: bin k holds distances in
    /// (lower_k, upper_k), lower = linspace(3.25, 20.75, 15), upper = the next lower (the last 1e8).
    public static func distogram(_ positions: [SIMD3<Double>], dtype: DType) -> Tensor {
        let n = positions.count
        let lower = (0..<bins).map { minimumDistance + Double($0) * (maximumDistance - minimumDistance) / Double(bins - 1) }
        let upper = Array(lower.dropFirst()) + [1e8]
        var values = [Double](repeating: 0, count: n * n * bins)
        for i in 0..<n {
            for j in 0..<n {
                let d = positions[i] - positions[j], squared = (d * d).sum()
                for k in 0..<bins where squared > lower[k] * lower[k] && squared < upper[k] * upper[k] { values[(i * n + j) * bins + k] = 1 }
            }
        }
        return Tensor(values, shape: [n, n, bins]).cast(to: dtype)
    }

    /// Updates for the first MSA row `[B, N, c_m]` and the pair `[B, N, N, c_z]` from the previous pass.
    public func callAsFunction(previousFirstRow m: Tensor, previousPair z: Tensor, previousPseudoBeta: [SIMD3<Double>]) -> (firstRow: Tensor, pair: Tensor) {
        let distances = linear(Self.distogram(previousPseudoBeta, dtype: z.dtype)).unsqueezed(axis: 0)
        return (layerNormM(m), layerNormZ(z) + distances)
    }
}

/// Linear(25 → c_e) of the extra-MSA features.
public final class ExtraMSAEmbedder: Module {
    public let linear: Linear
    public init(features: Int = 25, channels: Int = 64, dtype: DType = .float32, generator: inout RandomGenerator) {
        linear = Linear(features, channels, initialization: .lecun, dtype: dtype, generator: &generator)
    }
    public func callAsFunction(_ extraFeat: Tensor) -> Tensor { linear(extraFeat) }
}
