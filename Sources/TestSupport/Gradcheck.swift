// Finite-difference gradient checks in Double, with PyTorch's defaults
// (torch.autograd.gradcheck: eps 1e-6, atol 1e-5, rtol 1e-3).
import TensorCore

public struct GradcheckResult: CustomStringConvertible {
    public let passed: Bool
    public let failures: [String]
    public var description: String { passed ? "gradcheck passed" : failures.joined(separator: "; ") }
}

/// Compares the analytic vector–Jacobian product of `function` with central differences.
///
/// `inputs` are float64 values; the check makes leaves of them, evaluates
/// s = Σ v·function(leaves) for a fixed random v, and compares ∂s/∂input with
/// (s(x + eps·eᵢ) − s(x − eps·eᵢ)) / 2eps element by element.
public func gradcheck(_ function: ([Tensor]) -> Tensor, inputs: [Tensor], eps: Double = 1e-6, atol: Double = 1e-5,
                      rtol: Double = 1e-3, seed: UInt64 = 7) -> GradcheckResult {
    var generator = RandomGenerator(seed: seed)
    let probe = function(inputs.map { $0.detached() })
    let weights = generator.normal(probe.shape, dtype: .float64)
    func scalar(_ values: [Tensor]) -> Tensor { (function(values) * weights).sum() }
    return compareWithDifferences(scalar, inputs: inputs, eps: eps, atol: atol, rtol: rtol, label: "gradient")
}

/// Checks second derivatives: gradcheck of x ↦ Σ u·∂(Σ v·f)/∂x, whose analytic gradient needs
/// backward through a recorded backward pass (`createGraph: true`).
public func gradgradcheck(_ function: @escaping ([Tensor]) -> Tensor, inputs: [Tensor], eps: Double = 1e-6,
                          atol: Double = 1e-5, rtol: Double = 1e-3, seed: UInt64 = 11) -> GradcheckResult {
    var generator = RandomGenerator(seed: seed)
    let probe = function(inputs.map { $0.detached() })
    let v = generator.normal(probe.shape, dtype: .float64)
    let u = inputs.map { generator.normal($0.shape, dtype: .float64) }
    func secondOrder(_ values: [Tensor]) -> Tensor {
        let leaves = values.map { $0.requiresGrad ? $0 : $0.requiringGrad() }
        let s = (function(leaves) * v).sum()
        let firsts = (try? grad(of: [s], wrt: leaves, createGraph: true, allowUnused: true)) ?? []
        var total = Tensor.zeros([], dtype: .float64)
        for (index, first) in firsts.enumerated() {
            if let first { total = total + (first * u[index]).sum() }
        }
        return total
    }
    return compareWithDifferences(secondOrder, inputs: inputs, eps: eps, atol: atol, rtol: rtol, label: "second derivative")
}

private func compareWithDifferences(_ scalar: ([Tensor]) -> Tensor, inputs: [Tensor], eps: Double, atol: Double,
                                    rtol: Double, label: String) -> GradcheckResult {
    precondition(inputs.allSatisfy { $0.dtype == .float64 }, "gradcheck: inputs must be float64")
    let leaves = inputs.map { $0.detached().requiringGrad() }
    let output = scalar(leaves)
    var failures: [String] = []
    let analytic: [Tensor?]
    if !output.requiresGrad {
        // The output does not depend on the inputs through any differentiable path
        // (e.g. the second derivative of a linear map): the analytic gradient is zero.
        analytic = leaves.map { _ in nil }
    } else {
        do {
            analytic = try grad(of: [output], wrt: leaves, allowUnused: true)
        } catch {
            return GradcheckResult(passed: false, failures: ["backward failed: \(error)"])
        }
    }
    for (index, input) in inputs.enumerated() {
        let base = input.detached().contiguous().doubles
        let computed = analytic[index]?.doubles ?? [Double](repeating: 0, count: base.count)
        for element in 0..<base.count {
            func evaluate(_ delta: Double) -> Double {
                var values = base
                values[element] += delta
                var perturbed = inputs.map { $0.detached() }
                perturbed[index] = Tensor(values, shape: input.shape)
                // Grad mode stays on: second-order checks differentiate inside `scalar`.
                return scalar(perturbed).item()
            }
            let numeric = (evaluate(eps) - evaluate(-eps)) / (2 * eps)
            let difference = abs(computed[element] - numeric)
            if !(difference <= atol + rtol * abs(numeric)) {
                failures.append("input \(index) element \(element): analytic \(label) \(computed[element]) vs numeric \(numeric)")
                if failures.count >= 5 { return GradcheckResult(passed: false, failures: failures) }
            }
        }
    }
    return GradcheckResult(passed: failures.isEmpty, failures: failures)
}
