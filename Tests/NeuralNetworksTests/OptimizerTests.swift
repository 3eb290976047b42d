import Foundation
import Testing
import TestSupport
@testable import NeuralNetworks
@testable import TensorCore
@testable import TensorIO

@Suite("Optimisers, schedules and checkpoints")
struct OptimizerTests {
    /// Sets a parameter's gradient to `g` by backpropagating Σ g·p.
    func setGradient(_ parameter: Parameter, _ g: [Double]) {
        parameter.zeroGrad()
        try! (parameter.value * Tensor(g, shape: parameter.shape).cast(to: parameter.value.dtype)).sum().backward()
    }

    @Test("SGD with momentum and Nesterov, as torch.optim.SGD")
    func sgd() {
        let p = Parameter(Tensor([1.0, -2]))
        let optimizer = SGD([("p", p)], learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true)
        var value = [1.0, -2], buffer: [Double]? = nil
        for g in [[0.5, 0.25], [-1.0, 2.0], [0.1, 0.1]] {
            setGradient(p, g)
            optimizer.step()
            let decayed = zip(g, value).map { $0 + 0.01 * $1 }
            let b = buffer.map { zip($0, decayed).map { 0.9 * $0 + $1 } } ?? decayed
            buffer = b
            value = zip(value, zip(decayed, b).map { $0 + 0.9 * $1 }).map { $0 - 0.1 * $1 }
        }
        #expect(closeness(p.value.doubles, value, Tolerance(rtol: 1e-14, atol: 1e-15)).passed)
    }

    @Test("Adam and AdamW, as torch.optim.Adam/AdamW, in float32 and float64", arguments: [false, true])
    func adam(decoupled: Bool) {
        for dtype in [DType.float64, .float32] {
            let p = Parameter(Tensor([0.5, -1.5, 2.0]).cast(to: dtype))
            let optimizer = Adam([("p", p)], learningRate: 0.01, beta1: 0.8, beta2: 0.95, epsilon: 1e-6, weightDecay: 0.1, decoupled: decoupled)
            var value = [0.5, -1.5, 2.0], m = [0.0, 0, 0], v = [0.0, 0, 0]
            for (t, g) in [[0.3, -0.2, 1.0], [0.1, 0.4, -0.5], [-0.2, 0.0, 0.3]].enumerated() {
                setGradient(p, g)
                optimizer.step()
                let step = Double(t + 1)
                for i in 0..<3 {
                    var gi = g[i]
                    if !decoupled { gi += 0.1 * value[i] } else { value[i] *= 1 - 0.01 * 0.1 }
                    m[i] = 0.8 * m[i] + 0.2 * gi
                    v[i] = 0.95 * v[i] + 0.05 * gi * gi
                    let denominator = (v[i] / (1 - pow(0.95, step))).squareRoot() + 1e-6
                    value[i] -= 0.01 / (1 - pow(0.8, step)) * m[i] / denominator
                }
            }
            let tolerance = dtype == .float64 ? Tolerance(rtol: 1e-13, atol: 1e-15) : Tolerance(rtol: 1e-6, atol: 1e-7)
            #expect(closeness(p.value.doubles, value, tolerance).passed, "\(dtype): \(p.value.doubles) vs \(value)")
        }
    }

    @Test("global-norm clipping scales every gradient by maxNorm / norm")
    func clipping() {
        let a = Parameter(Tensor([3.0])), b = Parameter(Tensor([4.0, 0]))
        setGradient(a, [3])
        setGradient(b, [4, 0])
        let norm = clipGradientNorm([a, b], maxNorm: 1)
        #expect(norm == 5)
        #expect(abs(a.grad!.item() - 3 / (5 + 1e-6)) < 1e-12)
        #expect(clipGradientNorm([a, b], maxNorm: 10) < 1.0000001)
    }

    @Test("schedules follow DeepSpeed and Hugging Face")
    func schedules() {
        let warmup = WarmupLR(minimum: 0, maximum: 0.1, warmupSteps: 100, type: .log)
        #expect(warmup.learningRate(at: 0) == 0)
        #expect(abs(warmup.learningRate(at: 9) - 0.1 * log(10) / log(100)) < 1e-15)
        #expect(warmup.learningRate(at: 100) == 0.1)
        let linear = WarmupLR(minimum: 0.01, maximum: 0.11, warmupSteps: 10, type: .linear)
        #expect(abs(linear.learningRate(at: 5) - 0.06) < 1e-15)
        let decay = WarmupDecayLR(warmup: linear, totalSteps: 110)
        #expect(abs(decay.learningRate(at: 60) - (0.01 + 0.1 * 0.5)) < 1e-15)
        #expect(decay.learningRate(at: 200) == 0.01)
        let cosine = WarmupCosineLR(baseRate: 1, totalSteps: 110, warmupSteps: 10, warmupMinRatio: 0, cosineMinRatio: 0, type: .linear)
        #expect(abs(cosine.learningRate(at: 5) - 0.5) < 1e-15)
        #expect(abs(cosine.learningRate(at: 59) - 0.5) < 1e-12)
        #expect(cosine.learningRate(at: 109) < 1e-12)
        let hf = CosineWithWarmup(baseRate: 2, warmupSteps: 4, totalSteps: 14)
        #expect(hf.learningRate(at: 2) == 1 && hf.learningRate(at: 4) == 2 && abs(hf.learningRate(at: 9) - 1) < 1e-12)
        let plateau = ReduceLROnPlateau(rate: 1, factor: 0.5, patience: 2)
        for metric in [1.0, 0.9, 0.9, 0.9] { plateau.step(metric: metric) }
        #expect(plateau.rate == 1, "two bad epochs do not exceed a patience of 2")
        plateau.step(metric: 0.95)
        #expect(plateau.rate == 0.5)
        #expect(ConstantLR(0.3).learningRate(at: 1000) == 0.3)
    }

    @Test("parameter EMA")
    func ema() throws {
        var generator = RandomGenerator(seed: 1)
        let model = Linear(2, 1, dtype: .float64, generator: &generator)
        let average = ParameterEMA(model, decay: 0.9)
        let before = model.weight.value.doubles
        model.weight.value.assign(model.weight.value + 1)
        average.update(model)
        let copy = Linear(2, 1, dtype: .float64, generator: &generator)
        try average.copy(to: copy)
        #expect(closeness(copy.weight.value.doubles, before.map { $0 + 0.1 }, Tolerance(rtol: 1e-14, atol: 1e-14)).passed)
    }

    @Test("checkpoints round-trip; renamed or reshaped parameters fail with their paths")
    func checkpoints() throws {
        let directory = try Fixtures.scratchDirectory("checkpoints")
        let path = directory.appendingPathComponent("run.h5").path
        var generator = RandomGenerator(seed: 8)
        let model = MLP(widths: [3, 4, 2], generator: &generator)
        let optimizer = Adam(model.namedParameters())
        try mseLoss(model(Tensor.ones([5, 3])), Tensor.zeros([5, 2])).backward()
        optimizer.step()
        try Checkpoint(parameters: model.stateDict(), optimizerState: optimizer.stateDict(), generator: generator,
                       step: 17, config: #"{"lr": 0.001}"#).write(to: path)

        let restored = try Checkpoint.read(from: path)
        #expect(restored.step == 17 && restored.config == #"{"lr": 0.001}"# && restored.generator == generator)
        var other = RandomGenerator(seed: 99)
        let twin = MLP(widths: [3, 4, 2], generator: &other)
        try twin.loadStateDict(restored.parameters)
        #expect(twin.parameters().map { $0.value.doubles } == model.parameters().map { $0.value.doubles })
        let twinOptimizer = Adam(twin.namedParameters())
        try twinOptimizer.loadStateDict(restored.optimizerState)
        #expect(twinOptimizer.stepCount == 1)
        #expect(twinOptimizer.stateDict().map { $0.1.doubles } == optimizer.stateDict().map { $0.1.doubles })

        // A renamed parameter: missing and unexpected keys, each named.
        let renamed = try Checkpoint.read(from: path) { $0 == "layers.1.bias" ? "layers.1.offset" : $0 }
        do {
            try twin.loadStateDict(renamed.parameters)
            Issue.record("a renamed parameter must fail")
        } catch let error as StateDictError {
            #expect(error.missing == ["layers.1.bias"] && error.unexpected == ["layers.1.offset"])
            #expect(error.description.contains("layers.1.bias") && error.description.contains("layers.1.offset"))
        }
        // A reshaped parameter names the path and both shapes.
        let wider = MLP(widths: [3, 5, 2], generator: &other)
        do {
            try wider.loadStateDict(restored.parameters)
            Issue.record("a reshaped parameter must fail")
        } catch let error as StateDictError {
            #expect(error.shapeMismatches.contains("layers.0.weight (checkpoint [4, 3], model [5, 3])"))
        }
        // A prefix-mapping hook imports foreign names.
        try Checkpoint(parameters: model.stateDict().map { ("net.\($0.0)", $0.1) }).write(to: path)
        let imported = try Checkpoint.read(from: path) { $0.hasPrefix("net.") ? String($0.dropFirst(4)) : nil }
        try twin.loadStateDict(imported.parameters)
        // Not a checkpoint at all.
        let plain = directory.appendingPathComponent("plain.h5").path
        try HDF5File(path: plain, mode: .truncate).root.write("x", [Float(1)])
        #expect(throws: FileError.self) { _ = try Checkpoint.read(from: plain) }
    }
}
