// Checks every force-field model goes through, written once: finite differences of a loss in the
// parameters against autograd, and a cubic cell repeated 2×2×2.
import Foundation
import Graphs
import NeuralNetworks
import TensorCore
@testable import MolecularDynamics

enum ModelChecks {
    struct Comparison {
        let name: String, element: Int
        let computed: Double, numeric: Double
    }

    /// Autograd's gradient of `loss` in every parameter of `model` next to central differences
    /// with step `h`, at the elements `elements(count)` of each parameter.
    static func parameterGradients(_ model: Module, h: Double, elements: (Int) -> [Int], loss: () throws -> Tensor) throws -> [Comparison] {
        let parameters = model.namedParameters()
        let analytic = try grad(of: [try loss()], wrt: parameters.map { $0.1.value }, allowUnused: true)
        var result: [Comparison] = []
        for (index, (name, parameter)) in parameters.enumerated() {
            let original = parameter.value, values = original.doubles
            for element in elements(values.count) {
                var plus = values, minus = values
                plus[element] += h
                minus[element] -= h
                parameter.value = Tensor(plus, shape: original.shape).requiringGrad()
                let up = try loss().item()
                parameter.value = Tensor(minus, shape: original.shape).requiringGrad()
                let down = try loss().item()
                parameter.value = original
                result.append(Comparison(name: name, element: element, computed: analytic[index]?.doubles[element] ?? 0,
                                         numeric: (up - down) / (2 * h)))
            }
        }
        return result
    }

    /// The atoms of a cubic cell of edge `a`, repeated 2×2×2, in a box of edge 2a.
    static func supercell(numbers: [Int], positions: [SIMD3<Double>], edge a: Double) throws -> AtomicSystem {
        var big: [SIMD3<Double>] = [], repeated: [Int] = []
        for i in 0..<2 { for j in 0..<2 { for k in 0..<2 {
            for (n, r) in zip(numbers, positions) { repeated.append(n); big.append(r + SIMD3(Double(i), Double(j), Double(k)) * a) }
        } } }
        return try AtomicSystem(numbers: repeated, positions: big, cell: try PeriodicCell.box(2 * a, 2 * a, 2 * a))
    }
}
