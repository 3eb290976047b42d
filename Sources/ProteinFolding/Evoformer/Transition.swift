// MSA and pair transitions (model/msa.py, pair_transition.py): LN, ×n widening, ReLU, back.
import NeuralNetworks
import TensorCore

public final class Transition: Module {
    public let layerNorm: LayerNorm
    public let linear1: Linear, linear2: Linear

    public init(channels: Int, factor: Int = 4, dtype: DType = .float32, generator: inout RandomGenerator) {
        layerNorm = LayerNorm(channels, dtype: dtype)
        linear1 = Linear(channels, factor * channels, initialization: .he, dtype: dtype, generator: &generator)
        linear2 = Linear(factor * channels, channels, initialization: .zeros, dtype: dtype, generator: &generator)
    }

    /// x `[B, R, N, C]`, mask `[B, R, N]` or nil; chunked along R. The model passes nil: DeepMind
    /// does not mask its transitions, and OpenFold follows (`_mask_trans` off).
    public func callAsFunction(_ x: Tensor, mask: Tensor?, chunkSize: Int? = nil) -> Tensor {
        guard let mask else {
            return chunked([x], axis: 1, size: chunkSize) { parts in linear2(linear1(layerNorm(parts[0])).relu()) }
        }
        return chunked([x, mask], axis: 1, size: chunkSize) { parts in
            linear2(linear1(layerNorm(parts[0])).relu()) * parts[1].unsqueezed(axis: -1)
        }
    }
}
