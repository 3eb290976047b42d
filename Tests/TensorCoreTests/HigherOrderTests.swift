// Second derivatives: the ops of an ML force field, forces as −∂E/∂R, and a loss on forces.
import Foundation
import Testing
import TestSupport
@testable import TensorCore

@Suite("Higher-order gradients")
struct HigherOrderTests {
    static let mdCases: [OpCase] = [
        OpCase(name: "linear") { $0.matmul(Tensor([0.5, -1, 2, 0.3, 1, 1, -0.7, 0.2], shape: [4, 2])) + Tensor([0.1, -0.3]) },
        OpCase(name: "silu") { $0.silu() },
        OpCase(name: "shifted softplus") { $0.shiftedSoftplus() },
        OpCase(name: "tanh") { $0.tanh() },
        OpCase(name: "exp") { $0.exp() },
        OpCase(name: "sqrt") { positive($0).sqrt() },
        OpCase(name: "vector norm") { ($0 * $0).sum(axis: -1).sqrt() },
        OpCase(name: "gather") { $0.gather(axis: 1, Tensor([Int64(0), 3, 1, 1, 2, 2], shape: [3, 2])).square() },
        OpCase(name: "scatter add") { x in
            x.scatterAdd(axis: 1, Tensor([Int64(1), 1, 0, 2, 3, 0], shape: [3, 2]), x.sliced(axis: 1, 2, 4).square())
        },
        OpCase(name: "index select + index add") { x in
            Tensor.zeros([2, 4], dtype: .float64).indexAdd(axis: 0, Tensor([Int64(1), 0, 1]), x.indexSelect(axis: 0, Tensor([Int64(2), 0, 1])).square())
        },
        OpCase(name: "sum") { ($0.sum(axis: 0) * $0.sum(axis: 0)) },
        OpCase(name: "mul") { $0 * $0 * $0 },
        OpCase(name: "sigmoid") { $0.sigmoid() },
        OpCase(name: "gelu") { $0.gelu() },
        OpCase(name: "log softmax") { $0.logSoftmax() * $0 },
        OpCase(name: "softmax") { $0.softmax() * $0 },
        OpCase(name: "layer norm") { $0.layerNorm(weight: Tensor([1.0, 2, 0.5, -1]), bias: nil) * $0 },
        OpCase(name: "div log") { $0 / positive($0).log() },
    ]

    @Test("gradgradcheck", arguments: mdCases)
    func secondDerivatives(op: OpCase) {
        var generator = RandomGenerator(seed: 77)
        let x = generator.uniform([3, 4], low: -1, high: 1, dtype: .float64)
        let result = gradgradcheck({ op.apply($0[0]) }, inputs: [x])
        #expect(result.passed, "\(op): \(result)")
    }

    /// Morse pair energy Σ_{i<j} D·(e^{−2a(r−r₀)} − 2e^{−a(r−r₀)}) over all pairs.
    static func morseEnergy(_ positions: Tensor, depth: Tensor, width: Tensor, r0: Double) -> Tensor {
        let n = positions.shape[0]
        var first: [Int64] = [], second: [Int64] = []
        for i in 0..<n { for j in (i + 1)..<n { first.append(Int64(i)); second.append(Int64(j)) } }
        let delta = positions.indexSelect(axis: 0, Tensor(first)) - positions.indexSelect(axis: 0, Tensor(second))
        let r = (delta * delta).sum(axis: -1).sqrt()
        let e = ((r - r0) * -width).exp()
        return (depth * (e * e - 2 * e)).sum()
    }

    static let positions = Tensor([0.0, 0, 0, 1.1, 0.1, 0, 0.2, 1.2, -0.1, 0.9, 1.0, 0.8], shape: [4, 3])

    @Test("forces = −∂E/∂R match the analytic Morse forces")
    func forces() throws {
        let r = HigherOrderTests.positions.requiringGrad()
        let depth = Tensor(scalar: 0.8, dtype: .float64), width = Tensor(scalar: 1.3, dtype: .float64)
        let energy = HigherOrderTests.morseEnergy(r, depth: depth, width: width, r0: 1.0)
        let forces = -(try grad(of: energy, wrt: r))
        // Analytic: F_i = −Σ_j dE/dr · (R_i − R_j)/r with dE/dr = −2aD(e^{−2a(r−r₀)} − e^{−a(r−r₀)}).
        let p = HigherOrderTests.positions.doubles
        var expected = [Double](repeating: 0, count: 12)
        for i in 0..<4 {
            for j in 0..<4 where i != j {
                let d = (0..<3).map { p[i * 3 + $0] - p[j * 3 + $0] }
                let distance = d.map { $0 * $0 }.reduce(0, +).squareRoot()
                let e = exp(-1.3 * (distance - 1))
                let dEdr = -2 * 1.3 * 0.8 * (e * e - e)
                for c in 0..<3 { expected[i * 3 + c] -= dEdr * d[c] / distance }
            }
        }
        #expect(closeness(forces.doubles, expected, Tolerance(rtol: 1e-12, atol: 1e-12)).passed)
        // Newton's third law: forces sum to zero.
        #expect(forces.sum(axis: 0).doubles.allSatisfy { abs($0) < 1e-12 })
    }

    @Test("the gradient of a force loss with respect to the potential's parameters (double backward)")
    func forceLossGradient() {
        let reference: Tensor = {
            let r = HigherOrderTests.positions.requiringGrad()
            let energy = HigherOrderTests.morseEnergy(r, depth: Tensor(scalar: 0.8, dtype: .float64),
                                                      width: Tensor(scalar: 1.3, dtype: .float64), r0: 1.0)
            return -(try! grad(of: energy, wrt: r)).detached()
        }()
        // Loss(D, a) = mean((F(D, a) − F_ref)²); its gradient needs ∂²E/∂R∂θ.
        let result = gradcheck({ parameters in
            let r = HigherOrderTests.positions.requiringGrad()
            let energy = HigherOrderTests.morseEnergy(r, depth: parameters[0], width: parameters[1], r0: 1.0)
            let forces = -(try! grad(of: energy, wrt: r, createGraph: true))
            return ((forces - reference) * (forces - reference)).mean()
        }, inputs: [Tensor(scalar: 0.5, dtype: .float64), Tensor(scalar: 1.0, dtype: .float64)])
        #expect(result.passed, "\(result)")
    }
}
