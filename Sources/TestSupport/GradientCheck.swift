// Finite differences of a loss in a module's parameters next to autograd's gradient, for every
// model whose training reaches its weights through a derivative (force losses).
import NeuralNetworks
import TensorCore

public enum GradientCheck {
    public struct Comparison {
        public let name: String, element: Int
        public let computed: Double, numeric: Double
    }

    /// Autograd's gradient of `loss` in every parameter of `model` next to central differences
    /// with step `h`, at the elements `elements(count)` of each parameter.
    public static func parameters(_ model: Module, h: Double, elements: (Int) -> [Int], loss: () throws -> Tensor) throws -> [Comparison] {
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
}
