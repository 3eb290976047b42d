import Foundation
import Testing
import TestSupport
@testable import Kernels
@testable import NeuralNetworks
@testable import TensorCore

/// A smooth 2-D regression target: y = sin(2x₁)·cos(x₂) + 0.3x₁x₂.
func regressionData(_ n: Int, seed: UInt64) -> (Tensor, Tensor) {
    var generator = RandomGenerator(seed: seed)
    let x = generator.uniform([n, 2], low: -1, high: 1)
    let values = x.doubles
    func target(_ a: Double, _ b: Double) -> Double {
        let wave: Double = sin(2 * a) * cos(b)
        return wave + 0.3 * a * b
    }
    let y: [Double] = (0..<n).map { i in target(values[2 * i], values[2 * i + 1]) }
    return (x, Tensor(y, shape: [n, 1]).cast(to: .float32))
}

/// Trains a small MLP with Adam; returns the final loss and the parameters' values.
func trainRegression(steps: Int, threads: Int) -> (loss: Double, parameters: [Double]) {
    let previous = ThreadBudget.current
    ThreadBudget.install(ThreadBudget.resolve(requested: threads))
    defer { ThreadBudget.install(previous) }
    var generator = RandomGenerator(seed: 2024)
    let model = MLP(widths: [2, 128, 128, 1], activation: .silu, generator: &generator)
    let optimizer = Adam(model.namedParameters(), learningRate: 3e-3)
    let (x, y) = regressionData(512, seed: 1)
    var loss = 0.0
    for _ in 0..<steps {
        model.zeroGrad()
        let value = mseLoss(model(x), y)
        try! value.backward()
        optimizer.step()
        loss = value.item()
    }
    return (loss, model.parameters().flatMap { $0.value.doubles })
}

@Suite("Training", .serialized)
struct TrainingTests {
    @Test("an MLP regression trains below 1e-3, bit-identically on 1 and 2 threads")
    func mlpRegression() {
        let one = trainRegression(steps: 400, threads: 1)
        let two = trainRegression(steps: 400, threads: 2)
        #expect(one.loss < 1e-3, "final loss \(one.loss)")
        #expect(one.loss == two.loss)
        #expect(one.parameters == two.parameters, "parameters differ between 1 and 2 threads")
    }

    @Test("live tensor bytes return to the same value after every one of 1,000 steps")
    func noLeak() {
        var generator = RandomGenerator(seed: 5)
        let model = MLP(widths: [2, 32, 1], activation: .tanh, generator: &generator)
        let (x, y) = regressionData(64, seed: 2)
        let scope = MemoryScope()
        let optimizer = scope.measure { Adam(model.namedParameters(), learningRate: 1e-3) }
        var baseline: Int?
        var drifted: [Int] = []
        scope.measure {
            for step in 0..<1000 {
                model.zeroGrad()
                try! mseLoss(model(x), y).backward()
                optimizer.step()
                model.zeroGrad()
                if let baseline {
                    if scope.liveBytes != baseline { drifted.append(step) }
                } else {
                    baseline = scope.liveBytes
                }
            }
        }
        #expect(drifted.isEmpty, "live bytes changed after steps \(drifted.prefix(5)) (baseline \(baseline ?? 0), now \(scope.liveBytes))")
        #expect(scope.peakBytes > scope.liveBytes, "the scope saw the step's temporaries")
    }

    @Test("a Morse potential's parameters are recovered from forces (training on a force loss)")
    func forceTraining() throws {
        let positions = Tensor([0.0, 0, 0, 1.1, 0.1, 0, 0.2, 1.2, -0.1, 0.9, 1.0, 0.8, -0.7, 0.4, 0.6], shape: [5, 3])
        var first: [Int64] = [], second: [Int64] = []
        for i in 0..<5 { for j in (i + 1)..<5 { first.append(Int64(i)); second.append(Int64(j)) } }
        func forces(depth: Tensor, width: Tensor, createGraph: Bool) throws -> Tensor {
            let r = positions.requiringGrad()
            let delta = r.indexSelect(axis: 0, Tensor(first)) - r.indexSelect(axis: 0, Tensor(second))
            let distance = (delta * delta).sum(axis: -1).sqrt()
            let e = ((distance - 1.0) * -width).exp()
            let energy = (depth * (e * e - 2 * e)).sum()
            return -(try grad(of: energy, wrt: r, createGraph: createGraph))
        }
        let reference = try forces(depth: Tensor(scalar: 0.8, dtype: .float64), width: Tensor(scalar: 1.3, dtype: .float64),
                                   createGraph: false).detached()
        let depth = Parameter(Tensor(scalar: 0.3, dtype: .float64)), width = Parameter(Tensor(scalar: 0.9, dtype: .float64))
        let optimizer = Adam([("depth", depth), ("width", width)], learningRate: 0.02)
        var loss = 0.0
        for _ in 0..<1500 {
            depth.zeroGrad()
            width.zeroGrad()
            let predicted = try forces(depth: depth.value, width: width.value, createGraph: true)
            let value = mseLoss(predicted, reference)
            try value.backward()
            optimizer.step()
            loss = value.item()
        }
        #expect(loss < 1e-8, "force loss \(loss)")
        #expect(abs(depth.value.item() - 0.8) < 1e-3 && abs(width.value.item() - 1.3) < 1e-3,
                "recovered D = \(depth.value.item()), a = \(width.value.item())")
    }
}
