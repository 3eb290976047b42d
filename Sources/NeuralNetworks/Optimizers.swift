// Optimisers with PyTorch's update rules, clipping by global norm, and parameter EMA.
import Kernels
import TensorCore

/// An optimiser over a fixed, path-ordered list of parameters.
public protocol Optimizer: AnyObject {
    var learningRate: Double { get set }
    /// Applies one update from the parameters' accumulated gradients.
    func step()
    /// Named state tensors (for checkpoints), e.g. `layers.0.weight.exp_avg`.
    func stateDict() -> [(String, Tensor)]
    func loadStateDict(_ state: [(String, Tensor)]) throws
    var stepCount: Int { get }
}

/// Gradients as contiguous tensors of the parameter's dtype (zeros when a parameter got none).
func gradientOrZeros(_ parameter: Parameter) -> Tensor {
    (parameter.grad ?? .zeros(parameter.shape, dtype: parameter.value.dtype)).detached().contiguous()
}

/// SGD with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD).
public final class SGD: Optimizer {
    public let parameters: [(String, Parameter)]
    public var learningRate: Double
    public let momentum: Double, dampening: Double, weightDecay: Double, nesterov: Bool
    private var buffers: [Tensor?]
    public private(set) var stepCount = 0

    public init(_ parameters: [(String, Parameter)], learningRate: Double, momentum: Double = 0, dampening: Double = 0,
                weightDecay: Double = 0, nesterov: Bool = false) {
        precondition(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov needs momentum > 0 and no dampening")
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        buffers = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        stepCount += 1
        withNoGrad {
            for (index, (_, parameter)) in parameters.enumerated() {
                var gradient = gradientOrZeros(parameter)
                if weightDecay != 0 { gradient = gradient + parameter.value.detached() * weightDecay }
                if momentum != 0 {
                    let buffer = buffers[index].map { $0 * momentum + gradient * (1 - dampening) } ?? gradient
                    buffers[index] = buffer
                    gradient = nesterov ? gradient + buffer * momentum : buffer
                }
                parameter.value.assign(parameter.value.detached() - gradient * learningRate)
            }
        }
    }

    public func stateDict() -> [(String, Tensor)] {
        zip(parameters, buffers).compactMap { entry, buffer in buffer.map { ("\(entry.0).momentum_buffer", $0) } }
    }

    public func loadStateDict(_ state: [(String, Tensor)]) throws {
        let byName = Dictionary(state, uniquingKeysWith: { $1 })
        for (index, (name, _)) in parameters.enumerated() { buffers[index] = byName["\(name).momentum_buffer"] }
    }
}

/// Adam (L2 decay added to the gradient) or AdamW (decoupled decay), with bias correction.
public final class Adam: Optimizer {
    public let parameters: [(String, Parameter)]
    public var learningRate: Double
    public let beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double, decoupled: Bool
    private var firstMoments: [Tensor]
    private var secondMoments: [Tensor]
    public private(set) var stepCount = 0

    public init(_ parameters: [(String, Parameter)], learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                epsilon: Double = 1e-8, weightDecay: Double = 0, decoupled: Bool = false) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupled = decoupled
        firstMoments = parameters.map { .zeros($0.1.shape, dtype: $0.1.value.dtype) }
        secondMoments = firstMoments.map { .zeros($0.shape, dtype: $0.dtype) }
    }

    /// AdamW as torch.optim.AdamW builds it (weight decay 0.01 by default, decoupled).
    public static func adamW(_ parameters: [(String, Parameter)], learningRate: Double = 1e-3, beta1: Double = 0.9,
                             beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0.01) -> Adam {
        Adam(parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
             weightDecay: weightDecay, decoupled: true)
    }

    public func step() {
        stepCount += 1
        let hyper = AdamStep(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                             weightDecay: weightDecay, decoupled: decoupled, step: stepCount)
        for (index, (_, parameter)) in parameters.enumerated() {
            let gradient = gradientOrZeros(parameter)
            // In place when the parameter owns its storage (the usual case); else on a copy.
            let inPlace = parameter.value.isWholeStorage
            var value = inPlace ? parameter.value : parameter.value.detached().contiguous()
            if inPlace { parameter.value = Tensor.zeros([0]) }  // drop the second reference: no copy-on-write
            defer { if inPlace { parameter.value = value } else { parameter.value.assign(value) } }
            var m = firstMoments[index], v = secondMoments[index]
            firstMoments[index] = Tensor.zeros([0])  // drop our reference so the update is in place
            secondMoments[index] = Tensor.zeros([0])
            if value.dtype == .float32 {
                gradient.withElements(as: Float.self) { g in
                    value.update(as: Float.self) { p in
                        m.update(as: Float.self) { mb in
                            v.update(as: Float.self) { vb in
                                adamUpdate(p.baseAddress!, g.baseAddress!, mb.baseAddress!, vb.baseAddress!, count: p.count, hyper)
                            }
                        }
                    }
                }
            } else {
                gradient.withElements(as: Double.self) { g in
                    value.update(as: Double.self) { p in
                        m.update(as: Double.self) { mb in
                            v.update(as: Double.self) { vb in
                                adamUpdate(p.baseAddress!, g.baseAddress!, mb.baseAddress!, vb.baseAddress!, count: p.count, hyper)
                            }
                        }
                    }
                }
            }
            firstMoments[index] = m
            secondMoments[index] = v
        }
    }

    public func stateDict() -> [(String, Tensor)] {
        var result: [(String, Tensor)] = []
        for (index, (name, _)) in parameters.enumerated() {
            result.append(("\(name).exp_avg", firstMoments[index]))
            result.append(("\(name).exp_avg_sq", secondMoments[index]))
        }
        result.append(("step", Tensor([Int64(stepCount)], shape: [])))
        return result
    }

    public func loadStateDict(_ state: [(String, Tensor)]) throws {
        let byName = Dictionary(state, uniquingKeysWith: { $1 })
        var problems = StateDictError()
        for (index, (name, parameter)) in parameters.enumerated() {
            for (key, slot) in [("exp_avg", 0), ("exp_avg_sq", 1)] {
                guard let value = byName["\(name).\(key)"] else { problems.missing.append("\(name).\(key)"); continue }
                guard value.shape == parameter.shape else {
                    problems.shapeMismatches.append("\(name).\(key) (checkpoint \(value.shape), model \(parameter.shape))")
                    continue
                }
                let converted = value.cast(to: parameter.value.dtype).contiguous().detached()
                if slot == 0 { firstMoments[index] = converted } else { secondMoments[index] = converted }
            }
        }
        if !problems.isEmpty { throw problems }
        stepCount = Int(byName["step"]?.item() ?? 0)
    }
}

/// Scales all gradients so that their global L2 norm is at most `maxNorm` (torch's
/// clip_grad_norm_: factor maxNorm / (norm + 1e-6)). Returns the norm before clipping.
/// The squares are summed in parameter order, so the norm is reproducible.
@discardableResult
public func clipGradientNorm(_ parameters: [Parameter], maxNorm: Double) -> Double {
    var total = 0.0
    for parameter in parameters {
        guard let gradient = parameter.grad else { continue }
        total += gradient.doubles.reduce(0) { $0 + $1 * $1 }
    }
    let norm = total.squareRoot()
    let factor = maxNorm / (norm + 1e-6)
    if factor < 1 {
        withNoGrad {
            for parameter in parameters {
                guard let gradient = parameter.grad else { continue }
                parameter.value.setGrad(gradient * factor)
            }
        }
    }
    return norm
}

/// Exponential moving average of parameters: shadow ← decay·shadow + (1 − decay)·value.
public final class ParameterEMA {
    public let decay: Double
    public private(set) var shadow: [(String, Tensor)]

    public init(_ module: Module, decay: Double) {
        self.decay = decay
        shadow = module.stateDict()
    }

    public func update(_ module: Module) {
        let current = Dictionary(uniqueKeysWithValues: module.stateDict())
        shadow = withNoGrad { shadow.map { name, value in (name, value * decay + current[name]! * (1 - decay)) } }
    }

    /// Copies the averaged values into `module` (e.g. for evaluation).
    public func copy(to module: Module) throws { try module.loadStateDict(shadow) }
}
