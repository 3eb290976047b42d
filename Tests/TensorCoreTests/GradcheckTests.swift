// Every differentiable op against central differences in Double, over every layout.
import Foundation
import Testing
import TestSupport
@testable import TensorCore

struct OpCase: CustomStringConvertible, Sendable {
    let name: String
    /// Applies the op to a tensor of shape [3, 4].
    let apply: @Sendable (Tensor) -> Tensor
    var description: String { name }
}

/// Maps (-1, 1) into (0.5, 1.5) for ops defined on positive numbers.
func positive(_ x: Tensor) -> Tensor { x * x + 0.5 }

let unaryCases: [OpCase] = [
    OpCase(name: "neg") { -$0 },
    OpCase(name: "exp") { $0.exp() },
    OpCase(name: "log") { positive($0).log() },
    OpCase(name: "sqrt") { positive($0).sqrt() },
    OpCase(name: "rsqrt") { positive($0).rsqrt() },
    OpCase(name: "pow 3") { $0.pow(3) },
    OpCase(name: "pow 0.5") { positive($0).pow(0.5) },
    OpCase(name: "abs") { $0.abs() },
    OpCase(name: "clamp") { $0.clamped(min: -0.5, max: 0.5) },
    OpCase(name: "sin") { $0.sin() },
    OpCase(name: "cos") { $0.cos() },
    OpCase(name: "tanh") { $0.tanh() },
    OpCase(name: "sigmoid") { $0.sigmoid() },
    OpCase(name: "relu") { $0.relu() },
    OpCase(name: "gelu") { $0.gelu() },
    OpCase(name: "gelu tanh") { $0.gelu(approximateTanh: true) },
    OpCase(name: "silu") { $0.silu() },
    OpCase(name: "softplus") { ($0 * 3).softplus() },
    OpCase(name: "shifted softplus") { $0.shiftedSoftplus() },
    OpCase(name: "erf") { $0.erf() },
    OpCase(name: "square") { $0.square() },
    OpCase(name: "reciprocal") { positive($0).reciprocal() },
    OpCase(name: "scalar arithmetic") { (2.0 - $0) * 3 / 4 + 1 },
    OpCase(name: "add broadcast") { $0 + Tensor([0.1, -0.2, 0.3, 0.4]) },
    OpCase(name: "mul self") { $0 * $0.transposed(0, 1).contiguous().transposed(0, 1) },
    OpCase(name: "div") { $0 / positive($0.sliced(axis: 0, 0, 1)) },
    OpCase(name: "maximum") { $0.maximum($0.sin() * 0.5) },
    OpCase(name: "minimum") { $0.minimum(Tensor([0.1, 0.0, -0.1, 0.2])) },
    OpCase(name: "sum all") { $0.sum() },
    OpCase(name: "sum axis 0") { $0.sum(axis: 0) },
    OpCase(name: "mean keepdims") { $0.mean(axis: 1, keepDims: true) * $0 },
    OpCase(name: "max axis 1") { $0.max(axis: 1) },
    OpCase(name: "min all") { $0.min() },
    OpCase(name: "variance") { $0.variance(axes: [1]) },
    OpCase(name: "logsumexp") { $0.logSumExp(axes: [0]) },
    OpCase(name: "softmax") { $0.softmax(axis: -1) },
    OpCase(name: "softmax axis 0") { $0.softmax(axis: 0) },
    OpCase(name: "log softmax") { $0.logSoftmax(axis: -1) },
    OpCase(name: "layer norm") { x in
        x.layerNorm(weight: Tensor([1.0, 2, 0.5, -1]), bias: Tensor([0.0, 1, 0, 0]))
    },
    OpCase(name: "matmul left") { $0.matmul(Tensor([0.5, -1, 2, 0.3, 1, 1, -0.7, 0.2], shape: [4, 2])) },
    OpCase(name: "matmul right") { Tensor([0.5, -1, 2, 0.3, 1, 1], shape: [2, 3]).matmul($0) },
    OpCase(name: "matmul gram") { $0.matmul($0.mT) },
    OpCase(name: "batched matmul") { $0.reshaped([3, 2, 2]).matmul($0.reshaped([3, 2, 2]).mT) },
    OpCase(name: "reshape permute") { $0.reshaped([2, 6]).permuted([1, 0]).reshaped([3, 4]) * Tensor((0..<12).map(Double.init), shape: [3, 4]) },
    OpCase(name: "slice step") { $0.sliced(axis: 1, 0, nil, step: 3) * 2 },
    OpCase(name: "expand") { $0.sliced(axis: 0, 1, 2).expanded(to: [5, 4]) * Tensor((0..<20).map(Double.init), shape: [5, 4]) },
    OpCase(name: "index select") { $0.indexSelect(axis: 1, Tensor([Int64(3), 0, 3])) },
    OpCase(name: "embedding") { $0.embedding(Tensor([Int64(2), 2, 0], shape: [3, 1])) },
    OpCase(name: "index add") { $0.indexAdd(axis: 0, Tensor([Int64(1), 1]), $0.sliced(axis: 0, 0, 2).square()) },
    OpCase(name: "gather") { $0.gather(axis: 1, Tensor([Int64(0), 3, 1, 1, 2, 2], shape: [3, 2])) },
    OpCase(name: "scatter add") { x in
        let index = Tensor([Int64(1), 1, 0, 2, 3, 0], shape: [3, 2])
        return x.scatterAdd(axis: 1, index, x.sliced(axis: 1, 2, 4).exp())
    },
    OpCase(name: "concat") { Tensor.concat([$0, $0.sliced(axis: 0, 1, 3).sin()], axis: 0) },
    OpCase(name: "stack split") { x in
        let parts = x.split([1, 3], axis: 1)
        return Tensor.stack([parts[0].squeezed(axis: 1), parts[1].sum(axis: 1)], axis: 1)
    },
    OpCase(name: "where") { x in Tensor.where(x > 0, x.exp(), x * x) },
    OpCase(name: "masked fill") { x in x.maskedFill(x < -0.5, with: 0) * x },
    OpCase(name: "dropout") { x in
        var generator = RandomGenerator(seed: 99)
        return x.dropout(0.3, generator: &generator)
    },
]

@Suite("gradcheck (Double, PyTorch defaults)")
struct GradcheckTests {
    @Test("every op over every layout", arguments: unaryCases, Layout.all)
    func gradients(op: OpCase, layout: Layout) {
        var generator = RandomGenerator(seed: 1234)
        let shape = [3, 4]
        let leaf = layout.leaf(for: shape, generator: &generator)
        let result = gradcheck({ inputs in op.apply(layout.view(inputs[0], shape)) }, inputs: [leaf])
        #expect(result.passed, "\(op) over \(layout): \(result)")
    }

    @Test("binary ops with gradients on both operands, broadcasting")
    func binaryBoth() {
        var generator = RandomGenerator(seed: 4)
        let a = generator.uniform([3, 1, 4], low: -1, high: 1, dtype: .float64)
        let b = generator.uniform([2, 4], low: 0.5, high: 1.5, dtype: .float64)
        let functions: [([Tensor]) -> Tensor] = [
            { $0[0] + $0[1] }, { $0[0] - $0[1] }, { $0[0] * $0[1] }, { $0[0] / $0[1] },
            { $0[0].maximum($0[1] - 1) }, { $0[0].sigmoidGated(by: $0[1]) }, { $0[0].sigmoidGated(by: $0[1].sliced(axis: 0, 0, 1)) }, { Tensor.where($0[0] > 0, $0[0], $0[1]) },
            { $0[0].squeezed(axis: 1).matmul($0[1].mT) },
            { Tensor.concat([$0[0].squeezed(axis: 1), $0[1]], axis: 0) },
            { $0[0].squeezed(axis: 1).layerNorm(weight: $0[1].sliced(axis: 0, 0, 1).squeezed(axis: 0),
                                                 bias: $0[1].sliced(axis: 0, 1, 2).squeezed(axis: 0)) },
            { Tensor.zeros([2, 4], dtype: .float64).scatterAdd(axis: 0, Tensor([Int64(1), 0, 0, 1, 1, 1, 0, 0], shape: [2, 4]), $0[1]) * $0[0].sum() },
        ]
        for (index, function) in functions.enumerated() {
            let result = gradcheck(function, inputs: [a, b])
            #expect(result.passed, "binary case \(index): \(result)")
        }
    }
}

@Suite("Fused linear")
struct FusedLinearTests {
    @Test("x·Wᵀ + b with the bias in the GEMM equals the composed form; its gradients pass gradcheck in float64")
    func linear() {
        var generator = RandomGenerator(seed: 31)
        let x = generator.normal([2, 3, 5], dtype: .float64).requiringGrad()
        let w = generator.normal([4, 5], dtype: .float64).requiringGrad(), b = generator.normal([4], dtype: .float64).requiringGrad()
        let fused = x.linear(weight: w, bias: b), composed = x.matmul(w.mT) + b
        #expect(closeness(fused, composed, Tolerance(rtol: 1e-14, atol: 1e-14)).passed)
        #expect(gradcheck({ $0[0].linear(weight: $0[1], bias: $0[2]) }, inputs: [x, w, b]).passed)
        let single = generator.normal([7, 5]).linear(weight: w.detached().cast(to: .float32), bias: b.detached().cast(to: .float32))
        #expect(single.shape == [7, 4] && single.dtype == .float32)
    }
}
