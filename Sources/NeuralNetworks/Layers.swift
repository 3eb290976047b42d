// Linear, LayerNorm, Embedding, Dropout and MLP.
import TensorCore

/// Named weight initialisations, as OpenFold and PyTorch name them.
public enum LinearInit: String, Sendable, CaseIterable {
    /// PyTorch's nn.Linear: U(±1/√fan_in) for weight and bias.
    case `default`
    /// LeCun: truncated normal with variance 1/fan_in (OpenFold "default").
    case lecun
    /// He: truncated normal with variance 2/fan_in (OpenFold "relu").
    case he
    /// Glorot/Xavier uniform: U(±√(6/(fan_in + fan_out))).
    case glorot
    /// All zeros (OpenFold "final": output layers of residual branches).
    case zeros
    /// Weight zeros, bias ones (OpenFold "gating").
    case gating
}

/// Draws from N(0, std²) truncated to ±2 std, rescaled as OpenFold does so the variance is std².
func truncatedNormal(_ shape: [Int], std: Double, dtype: DType, generator: inout RandomGenerator) -> Tensor {
    // Variance of a standard normal truncated to [−2, 2].
    let correction = 0.87962566103423978
    let n = shape.reduce(1, *)
    var values: [Double] = []
    values.reserveCapacity(n)
    while values.count < n {
        for value in generator.normal([Swift.max(16, n)], dtype: .float64).doubles where abs(value) <= 2 && values.count < n {
            values.append(value * std / correction)
        }
    }
    return Tensor(values, shape: shape).cast(to: dtype)
}

/// y = x·Wᵀ + b with W `[out, in]`, b `[out]` (PyTorch's layout, so weights import directly).
public final class Linear: Module {
    public let weight: Parameter
    public let bias: Parameter?

    public init(_ inputs: Int, _ outputs: Int, bias: Bool = true, initialization: LinearInit = .default,
                dtype: DType = .float32, generator: inout RandomGenerator) {
        let fanIn = Double(inputs), fanOut = Double(outputs)
        let (weightShape, biasShape) = ([outputs, inputs], [outputs])
        let w: Parameter
        var b = InitialValues.constant(0, shape: biasShape, dtype: dtype)
        switch initialization {
        case .default:
            let bound = 1 / fanIn.squareRoot()
            w = Parameter(InitialValues(.uniform(low: -bound, high: bound), shape: weightShape, dtype: dtype, generator: &generator))
            b = InitialValues(.uniform(low: -bound, high: bound), shape: biasShape, dtype: dtype, generator: &generator)
        // Truncated normals are drawn by rejection, so element i has no fixed place in the stream: made whole.
        case .lecun: w = Parameter(truncatedNormal(weightShape, std: (1 / fanIn).squareRoot(), dtype: dtype, generator: &generator))
        case .he: w = Parameter(truncatedNormal(weightShape, std: (2 / fanIn).squareRoot(), dtype: dtype, generator: &generator))
        case .glorot:
            let bound = (6 / (fanIn + fanOut)).squareRoot()
            w = Parameter(InitialValues(.uniform(low: -bound, high: bound), shape: weightShape, dtype: dtype, generator: &generator))
        case .zeros: w = Parameter(InitialValues.constant(0, shape: weightShape, dtype: dtype))
        case .gating:
            w = Parameter(InitialValues.constant(0, shape: weightShape, dtype: dtype))
            b = InitialValues.constant(1, shape: biasShape, dtype: dtype)
        }
        weight = w
        self.bias = bias ? Parameter(b) : nil
    }

    /// - Parameter x: `[*, in]`. - Returns: `[*, out]`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.linear(weight: weight.value, bias: bias?.value)
    }
}

/// Layer norm over the last axis with learnable scale and shift.
public final class LayerNorm: Module {
    public let weight: Parameter
    public let bias: Parameter
    public let epsilon: Double

    public init(_ features: Int, epsilon: Double = 1e-5, dtype: DType = .float32) {
        weight = Parameter(InitialValues.constant(1, shape: [features], dtype: dtype))
        bias = Parameter(InitialValues.constant(0, shape: [features], dtype: dtype))
        self.epsilon = epsilon
    }

    /// - Parameter x: `[*, features]`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.layerNorm(weight: weight.value, bias: bias.value, epsilon: epsilon)
    }
}

/// A lookup table `[vocabulary, features]` initialised N(0, 1), as PyTorch's nn.Embedding.
public final class Embedding: Module {
    public let weight: Parameter

    public init(_ vocabulary: Int, _ features: Int, dtype: DType = .float32, generator: inout RandomGenerator) {
        weight = Parameter(InitialValues(.normal(mean: 0, std: 1), shape: [vocabulary, features], dtype: dtype, generator: &generator))
    }

    /// - Parameter ids: integer `[*]`. - Returns: `[*, features]`.
    public func callAsFunction(_ ids: Tensor) -> Tensor { weight.value.embedding(ids) }
}

/// Inverted dropout, active in training mode only.
public final class Dropout: Module {
    public let probability: Double
    public init(_ probability: Double) { self.probability = probability }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.dropout(probability, training: isTraining) }

    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        x.dropout(probability, training: isTraining, generator: &generator)
    }
}

/// Activation functions by the names configs use (HF `hidden_act`, OpenFold, SchNet).
public enum Activation: String, Sendable, Codable, CaseIterable {
    case relu, gelu, geluNew = "gelu_new", geluFast = "gelu_fast", geluPytorchTanh = "gelu_pytorch_tanh"
    case silu, tanh, sigmoid, shiftedSoftplus = "shifted_softplus", softplus

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .relu: x.relu()
        case .gelu: x.gelu()
        case .geluNew, .geluFast, .geluPytorchTanh: x.gelu(approximateTanh: true)
        case .silu: x.silu()
        case .tanh: x.tanh()
        case .sigmoid: x.sigmoid()
        case .shiftedSoftplus: x.shiftedSoftplus()
        case .softplus: x.softplus()
        }
    }
}

/// Linear → activation → … → Linear.
public final class MLP: Module {
    public let layers: [Linear]
    public let activation: Activation

    /// - Parameter widths: input, hidden…, output widths (at least two).
    public init(widths: [Int], activation: Activation = .relu, dtype: DType = .float32, generator: inout RandomGenerator) {
        precondition(widths.count >= 2, "MLP: needs at least input and output widths, got \(widths)")
        var layers: [Linear] = []
        for index in 0..<(widths.count - 1) {
            layers.append(Linear(widths[index], widths[index + 1], dtype: dtype, generator: &generator))
        }
        self.layers = layers
        self.activation = activation
    }

    /// Set by ZeRO stage 3: gathers each layer's parameters before it runs and releases them after.
    public var parameterHooks: (any ModuleHooks)?

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for (index, layer) in layers.enumerated() {
            h = layer.run(hooks: parameterHooks, h) { layer($0) }
            if index < layers.count - 1 { h = activation(h) }
        }
        return h
    }
}
