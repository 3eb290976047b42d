// Activation checkpointing: the replayed block gives the gradients of the plain one, bit for bit,
// and keeps only its inputs.
import Testing
import TestSupport
@testable import TensorCore

@Suite("Activation checkpointing")
struct CheckpointTests {
    /// A block that reads its input twice (a residual) and its weight twice, like a transformer layer.
    static func block(_ x: Tensor, _ w: Tensor, _ bias: Tensor) -> [Tensor] {
        let h = (x.matmul(w) + bias).gelu()
        return [x + h.matmul(w.mT), (h * h).sum(axes: [1])]
    }

    /// Bit for bit when every weight belongs to one block, as in a transformer's layers: the replay
    /// sums a weight's uses inside its block in the plain order. (A weight shared by several blocks
    /// gets the same total summed block by block, which may round differently.)
    @Test("gradients of inputs and parameters equal the plain blocks' bit for bit (one and two outputs, float32 and float64)",
          arguments: [DType.float32, .float64])
    func bitwise(dtype: DType) throws {
        var generator = RandomGenerator(seed: 4)
        let weights = (0..<3).map { _ in generator.normal([6, 6], dtype: dtype).requiringGrad() }
        let biases = (0..<3).map { _ in generator.normal([6], dtype: dtype).requiringGrad() }
        let head = generator.normal([6, 6], dtype: dtype).requiringGrad()
        let x = generator.normal([5, 6], dtype: dtype).requiringGrad()
        let constant = generator.normal([5, 6], dtype: dtype)  // needs no gradient
        let leaves = [x, head] + weights + biases
        func loss(_ checkpoint: Bool) -> Tensor {
            var h = x
            for (w, bias) in zip(weights, biases) {
                let outputs = checkpoint
                    ? Tensor.checkpointed([h, constant], parameters: [w, bias]) { Self.block($0[0] + $0[1], w, bias) }
                    : Self.block(h + constant, w, bias)
                h = outputs[0] * 0.5 + outputs[1].unsqueezed(axis: 1)
            }
            let single = checkpoint ? Tensor.checkpointed([h], parameters: [head]) { $0[0].matmul(head).tanh() } : h.matmul(head).tanh()
            return (single * single).sum()
        }
        let plain = loss(false), checkpointed = loss(true)
        #expect(plain.doubles == checkpointed.doubles)
        let plainGradients = try grad(of: [plain], wrt: leaves).map { $0!.doubles }
        #expect(try grad(of: [checkpointed], wrt: leaves).map { $0!.doubles } == plainGradients)
        // backward() accumulates into the leaves the same way.
        try checkpointed.backward()
        #expect(leaves.map { $0.grad!.doubles } == plainGradients)
        if dtype == .float64 {
            let check = gradcheck({ inputs in
                Tensor.checkpointed([inputs[0]], parameters: [inputs[1]]) { Self.block($0[0], inputs[1], inputs[1].sum(axes: [0]))[0] }
            }, inputs: [generator.normal([3, 4], dtype: .float64), generator.normal([4, 4], dtype: .float64)])
            #expect(check.passed, "\(check)")
        }
    }

    @Test("only the inputs are kept: a chain of checkpointed blocks holds a fraction of the plain chain's tensor memory before the backward")
    func memory() throws {
        var generator = RandomGenerator(seed: 9)
        let weights = (0..<8).map { _ in generator.normal([64, 64], std: 0.1, dtype: .float32).requiringGrad() }
        let x = generator.normal([256, 64], dtype: .float32).requiringGrad()
        func forward(_ checkpoint: Bool) -> (Tensor, Int) {
            let scope = MemoryScope()
            let loss = scope.measure {
                var h = x
                for w in weights {
                    h = checkpoint ? Tensor.checkpointed([h], parameters: [w]) { inputs in
                        ((inputs[0].matmul(w)).gelu().matmul(w) + inputs[0]).tanh()
                    } : ((h.matmul(w)).gelu().matmul(w) + h).tanh()
                }
                return (h * h).mean()
            }
            return (loss, scope.liveBytes)
        }
        let (plainLoss, plainHeld) = forward(false)
        let (checkpointedLoss, checkpointedHeld) = forward(true)
        #expect(checkpointedHeld * 3 < plainHeld, "held before backward: checkpointed \(checkpointedHeld) vs plain \(plainHeld) bytes")
        #expect(try grad(of: plainLoss, wrt: weights[0]).doubles == grad(of: checkpointedLoss, wrt: weights[0]).doubles)
    }
}
