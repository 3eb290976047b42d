// AlphaFold's output heads (model/heads.py) and the confidence scores derived from them
// (utils/loss.py compute_plddt, compute_tm, compute_predicted_aligned_error).
import Foundation
import NeuralNetworks
import TensorCore

/// pLDDT: LN → Linear 128 → ReLU → Linear 128 → ReLU → Linear 50 bins on the structure single.
public final class PLDDTHead: Module {
    public let layerNorm: LayerNorm
    public let linear1: Linear, linear2: Linear, linear3: Linear
    public static let bins = 50

    public init(singleChannels: Int = 384, hidden: Int = 128, dtype: DType = .float32, generator: inout RandomGenerator) {
        layerNorm = LayerNorm(singleChannels, dtype: dtype)
        linear1 = Linear(singleChannels, hidden, initialization: .he, dtype: dtype, generator: &generator)
        linear2 = Linear(hidden, hidden, initialization: .he, dtype: dtype, generator: &generator)
        linear3 = Linear(hidden, Self.bins, initialization: .zeros, dtype: dtype, generator: &generator)
    }

    /// Logits `[B, N, 50]`.
    public func callAsFunction(_ s: Tensor) -> Tensor { linear3(linear2(linear1(layerNorm(s)).relu()).relu()) }

    /// pLDDT in [0, 100] per residue: Σ softmax × bin centres ((k + ½)/50) × 100.
    public static func plddt(logits: Tensor) -> Tensor {
        let centres = Tensor((0..<bins).map { (Double($0) + 0.5) / Double(bins) * 100 }, shape: [bins]).cast(to: logits.dtype)
        return (logits.softmax(axis: -1) * centres).sum(axis: -1)
    }
}

/// Distogram: Linear(c_z → 64) of the pair, symmetrised (logits + logitsᵀ).
public final class DistogramHead: Module {
    public let linear: Linear
    public static let bins = 64, minimum = 2.3125, maximum = 21.6875
    public init(pairChannels: Int = 128, dtype: DType = .float32, generator: inout RandomGenerator) {
        linear = Linear(pairChannels, Self.bins, initialization: .zeros, dtype: dtype, generator: &generator)
    }
    public func callAsFunction(_ z: Tensor) -> Tensor {
        let logits = linear(z)
        return logits + logits.transposed(1, 2)
    }
}

/// Masked-MSA head: Linear(c_m → 23) of the MSA representation.
public final class MaskedMSAHead: Module {
    public let linear: Linear
    public init(msaChannels: Int = 256, dtype: DType = .float32, generator: inout RandomGenerator) {
        linear = Linear(msaChannels, 23, initialization: .zeros, dtype: dtype, generator: &generator)
    }
    public func callAsFunction(_ m: Tensor) -> Tensor { linear(m) }
}

/// Experimentally-resolved head: Linear(c_s → 37), one logit per atom37 slot.
public final class ExperimentallyResolvedHead: Module {
    public let linear: Linear
    public init(singleChannels: Int = 384, dtype: DType = .float32, generator: inout RandomGenerator) {
        linear = Linear(singleChannels, 37, initialization: .zeros, dtype: dtype, generator: &generator)
    }
    public func callAsFunction(_ s: Tensor) -> Tensor { linear(s) }
}

/// Aligned-error head of the _ptm presets: Linear(c_z → 64) bins up to 31 Å.
public final class AlignedErrorHead: Module {
    public let linear: Linear
    public static let bins = 64, maximumError = 31.0

    public init(pairChannels: Int = 128, dtype: DType = .float32, generator: inout RandomGenerator) {
        linear = Linear(pairChannels, Self.bins, initialization: .zeros, dtype: dtype, generator: &generator)
    }
    public func callAsFunction(_ z: Tensor) -> Tensor { linear(z) }

    /// Bin centres: 63 boundaries linspace(0, 31), centres at boundary + step/2, one more past the last.
    public static var centres: [Double] {
        let step = maximumError / Double(bins - 2)
        return (0..<bins).map { Double($0) * step + step / 2 }
    }

    /// Expected aligned error `[B, N, N]` (Å).
    public static func predictedAlignedError(logits: Tensor) -> Tensor {
        (logits.softmax(axis: -1) * Tensor(centres, shape: [bins]).cast(to: logits.dtype)).sum(axis: -1)
    }

    /// pTM: max over alignment residues i of the mean over j of E[1/(1 + (e_ij/d0)²)],
    /// d0 = 1.24·(max(N, 19) − 15)^(1/3) − 1.8. logits `[N, N, 64]` of one structure.
    public static func ptm(logits: Tensor) -> Double {
        let n = logits.shape[0]
        let d0 = 1.24 * pow(Double(Swift.max(n, 19) - 15), 1.0 / 3) - 1.8
        let terms = Tensor(centres.map { 1 / (1 + ($0 / d0) * ($0 / d0)) }, shape: [bins]).cast(to: logits.dtype)
        let perPair = (logits.softmax(axis: -1) * terms).sum(axis: -1).doubles  // [N, N]
        return (0..<n).map { i in (0..<n).map { perPair[i * n + $0] }.reduce(0, +) / Double(n) }.max() ?? 0
    }
}
