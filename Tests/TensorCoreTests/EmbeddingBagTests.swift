// The embedding bag against the lookup, sum and scale it fuses; its derivatives by finite
// differences in float64; its gradient's independence of the thread count.
import Testing
import TestSupport
import Kernels
@testable import TensorCore

@Suite("Embedding bags")
struct EmbeddingBagTests {
    // 4 bags of 3 slots over a 6-row table: empty slots (−1), a repeated row, an empty bag.
    static let bags = EmbeddingBags(ids: [0, 5, 5, -1, 2, -1, -1, -1, -1, 3, 1, 4], size: 3, weights: [0.5, 2, 1, -1.5])

    /// The same numbers through embedding, a masked sum over slots and a scale per bag.
    static func composed(_ table: Tensor) -> Tensor {
        let ids = Tensor(bags.ids.map { Int64(max($0, 0)) }, shape: [4, 3])
        let present = Tensor(bags.ids.map { $0 >= 0 ? 1.0 : 0.0 }, shape: [4, 3, 1]).cast(to: table.dtype)
        let weights = Tensor(bags.weights, shape: [4, 1]).cast(to: table.dtype)
        return (table.embedding(ids) * present).sum(axis: 1) * weights
    }

    @Test("equals embedding, masked sum and scale, forward and gradient", arguments: [DType.float32, .float64])
    func values(dtype: DType) throws {
        var generator = RandomGenerator(seed: 5)
        let table = generator.normal([6, 7], dtype: dtype).requiringGrad()
        let gradOutput = generator.normal([4, 7], dtype: dtype)
        let tolerance = Tolerance(rtol: dtype == .float32 ? 1e-6 : 1e-14, atol: dtype == .float32 ? 1e-6 : 1e-14)
        let bag = table.embeddingBag(Self.bags), reference = Self.composed(table)
        #expect(closeness(bag, reference, tolerance).passed)
        #expect(bag.doubles[14..<21].allSatisfy { $0 == 0 })  // the empty bag
        let got = try grad(of: [bag], wrt: [table], gradOutputs: [gradOutput])[0]!
        let expected = try grad(of: [reference], wrt: [table], gradOutputs: [gradOutput])[0]!
        #expect(closeness(got, expected, tolerance).passed)
    }

    @Test("first and second derivatives by finite differences (float64)")
    func derivatives() {
        var generator = RandomGenerator(seed: 6)
        let table = generator.normal([6, 3], dtype: .float64)
        let first = gradcheck({ $0[0].embeddingBag(Self.bags) }, inputs: [table])
        #expect(first.passed, "\(first)")
        let second = gradgradcheck({ $0[0].embeddingBag(Self.bags).pow(2) }, inputs: [table])
        #expect(second.passed, "\(second)")
    }

    @Test("the gradient is bitwise the same on 1 and 2 threads, with many bags sharing rows")
    func determinism() throws {
        var generator = RandomGenerator(seed: 7)
        let rows = 300, count = 5000
        let ids = generator.uniform([count * 4], dtype: .float64).doubles.map { Int32(Int($0 * Double(rows + 40)) - 40) }  // ~12 % empty
        let bags = EmbeddingBags(ids: ids.map { max($0, -1) }, size: 4, weights: generator.uniform([count], dtype: .float64).doubles)
        let table = generator.normal([rows, 8], dtype: .float32).requiringGrad()
        let gradOutput = generator.normal([count, 8], dtype: .float32)
        let previous = ThreadBudget.current
        defer { ThreadBudget.install(previous) }
        var results: [[Float]] = []
        for threads in [1, 2] {
            ThreadBudget.install(ThreadBudget.resolve(requested: threads))
            let bag = table.embeddingBag(bags)
            results.append(try grad(of: [bag], wrt: [table], gradOutputs: [gradOutput])[0]!.scalars(as: Float.self) + bag.scalars(as: Float.self))
        }
        #expect(results[0] == results[1])
    }
}
