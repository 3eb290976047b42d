// The fused pair-message ops against their composition from index ops (gather, product,
// scatter), in both directions, with unsorted pairs and an atom without pairs; first and second
// derivatives by finite differences in float64.
import Testing
import TestSupport
import Kernels
@testable import TensorCore

@Suite("Fused pair messages")
struct PairMessageTests {
    // 5 atoms, unsorted pairs, a repeated pair (two periodic images) and atom 4 with no pairs.
    static let first = [2, 0, 1, 0, 3, 2, 1, 0], second = [0, 1, 2, 3, 0, 1, 0, 1]
    static let pairs = PairIndex(first: first, second: second, atomCount: 5)
    static func indices(_ values: [Int]) -> Tensor { Tensor(values.map(Int64.init), shape: [values.count]) }

    static func composed(_ x: Tensor, _ w: Tensor, _ s: Tensor, _ direction: PairIndex.Direction) -> Tensor {
        let (to, from) = direction == .forward ? (indices(first), indices(second)) : (indices(second), indices(first))
        return Tensor.zeros([5, x.shape[1]], dtype: x.dtype).indexAdd(axis: 0, to, x.indexSelect(axis: 0, from) * w * s.unsqueezed(axis: -1))
    }

    @Test("each op equals the gathers, products and scatters it fuses", arguments: [DType.float32, .float64])
    func values(dtype: DType) {
        var generator = RandomGenerator(seed: 3)
        let x = generator.normal([5, 6], dtype: dtype), u = generator.normal([5, 6], dtype: dtype)
        let w = generator.normal([8, 6], dtype: dtype), s = generator.normal([8], dtype: dtype)
        let tolerance = Tolerance(rtol: dtype == .float32 ? 1e-5 : 1e-13, atol: dtype == .float32 ? 1e-5 : 1e-13)
        for direction in [PairIndex.Direction.forward, .reversed] {
            let (to, from) = direction == .forward ? (Self.indices(Self.first), Self.indices(Self.second))
                                                   : (Self.indices(Self.second), Self.indices(Self.first))
            let convolution = x.pairConvolution(filters: w, scale: s, pairs: Self.pairs, direction: direction)
            #expect(closeness(convolution, Self.composed(x, w, s, direction), tolerance).passed)
            #expect(convolution.doubles[24..<30].allSatisfy { $0 == 0 })  // atom 4 has no pairs
            let product = u.pairProduct(x, scale: s, pairs: Self.pairs, direction: direction)
            #expect(closeness(product, u.indexSelect(axis: 0, to) * x.indexSelect(axis: 0, from) * s.unsqueezed(axis: -1), tolerance).passed)
            let contraction = u.pairContraction(x, w, pairs: Self.pairs, direction: direction)
            #expect(closeness(contraction, (u.indexSelect(axis: 0, to) * x.indexSelect(axis: 0, from) * w).sum(axis: -1), tolerance).passed)
        }
    }

    @Test("first and second derivatives of every op and input by finite differences (float64)")
    func derivatives() {
        var generator = RandomGenerator(seed: 4)
        let x = generator.normal([5, 3], dtype: .float64), u = generator.normal([5, 3], dtype: .float64)
        let w = generator.normal([8, 3], dtype: .float64), s = generator.normal([8], dtype: .float64)
        for direction in [PairIndex.Direction.forward, .reversed] {
            let ops: [(String, ([Tensor]) -> Tensor, [Tensor])] = [
                ("convolution", { $0[0].pairConvolution(filters: $0[1], scale: $0[2], pairs: Self.pairs, direction: direction) }, [x, w, s]),
                ("product", { $0[0].pairProduct($0[1], scale: $0[2], pairs: Self.pairs, direction: direction) }, [u, x, s]),
                ("contraction", { $0[0].pairContraction($0[1], $0[2], pairs: Self.pairs, direction: direction) }, [u, x, w]),
            ]
            for (name, op, inputs) in ops {
                let first = gradcheck(op, inputs: inputs)
                #expect(first.passed, "\(name) \(direction): \(first)")
                // Nonlinear in the inputs, so the second derivatives are not all zero.
                let second = gradgradcheck({ op($0).square() }, inputs: inputs)
                #expect(second.passed, "\(name) \(direction): \(second)")
            }
        }
    }

    @Test("a first-order backward (one fused pass for the filter and scale gradients) equals the ops it fuses, bit for bit",
          arguments: [DType.float32, .float64])
    func fusedFirstOrder(dtype: DType) throws {
        var generator = RandomGenerator(seed: 6)
        let x = generator.normal([5, 7], dtype: dtype).requiringGrad(), w = generator.normal([8, 7], dtype: dtype).requiringGrad()
        let s = generator.normal([8], dtype: dtype).requiringGrad(), v = generator.normal([5, 7], dtype: dtype)
        for direction in [PairIndex.Direction.forward, .reversed] {
            let out = x.pairConvolution(filters: w, scale: s, pairs: Self.pairs, direction: direction)
            let grads = try grad(of: [(out * v).sum()], wrt: [x, w, s])
            #expect(grads[0]!.doubles == v.pairConvolution(filters: w, scale: s, pairs: Self.pairs, direction: direction == .forward ? .reversed : .forward).doubles)
            #expect(grads[1]!.doubles == v.pairProduct(x, scale: s, pairs: Self.pairs, direction: direction).doubles)
            #expect(grads[2]!.doubles == v.pairContraction(x, w, pairs: Self.pairs, direction: direction).doubles)
        }
    }

    @Test("sums run in pair order: the same bits on one thread and on two")
    func determinism() {
        var generator = RandomGenerator(seed: 5)
        let atoms = 300, count = 6000
        let first = generator.uniform([count], high: Double(atoms), dtype: .float64).doubles.map { Int($0) }
        let second = generator.uniform([count], high: Double(atoms), dtype: .float64).doubles.map { Int($0) }
        let pairs = PairIndex(first: first, second: second, atomCount: atoms)
        let x = generator.normal([atoms, 16], dtype: .float32), w = generator.normal([count, 16], dtype: .float32)
        let s = generator.normal([count], dtype: .float32)
        let previous = ThreadBudget.current
        defer { ThreadBudget.install(previous) }
        let results = [1, 2].map { threads in
            ThreadBudget.install(ThreadBudget.resolve(requested: threads))
            return x.pairConvolution(filters: w, scale: s, pairs: pairs, direction: .reversed).scalars(as: Float.self)
        }
        #expect(results[0] == results[1])
    }
}
