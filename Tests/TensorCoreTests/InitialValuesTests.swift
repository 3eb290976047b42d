// InitialValues: any element range of a uniform, normal or constant rule equals the same elements
// of the eager draw, bit for bit, and taking the rule advances the generator exactly as the draw.
import Testing
@testable import TensorCore

@Suite("Initial values as rules")
struct InitialValuesTests {
    static let rules: [InitialValues.Rule] = [.uniform(low: -0.3, high: 0.7), .normal(mean: 0.5, std: 0.02), .constant(1), .constant(0.1)]

    @Test("every sub-range of the rule equals the eager draw's elements, and the generator ends where the draw's does",
          arguments: [DType.float32, .float64], [1, 2, 3, 4, 5, 7, 33, 130])
    func rangesEqualDraw(dtype: DType, count: Int) {
        for rule in Self.rules {
            var lazy = RandomGenerator(seed: 11, offset: 5), eager = lazy
            let initial = InitialValues(rule, shape: [count], dtype: dtype, generator: &lazy)
            let drawn: Tensor = switch rule {
            case .uniform(let low, let high): eager.uniform([count], low: low, high: high, dtype: dtype)
            case .normal(let mean, let std): eager.normal([count], mean: mean, std: std, dtype: dtype)
            case .constant(let value): .full(value, shape: [count], dtype: dtype)
            }
            #expect(lazy == eager, "\(rule) \(dtype) \(count): generator at \(lazy.offset), eager draw at \(eager.offset)")
            let whole = drawn.doubles
            #expect(initial.tensor().doubles == whole)
            for start in 0..<count {
                for end in [start, start + 1, (start + count + 1) / 2, count] where end >= start && end <= count {
                    #expect(initial.elements(start..<end) == Array(whole[start..<end]), "\(rule) \(dtype) \(start)..<\(end)")
                }
            }
        }
    }

    @Test("an unallocated tensor holds no memory until its storage is restored from the rule")
    func unallocated() {
        let scope = MemoryScope()
        var generator = RandomGenerator(seed: 2)
        let initial = InitialValues(.normal(mean: 0, std: 1), shape: [64, 64], generator: &generator)
        let tensor = scope.measure { Tensor.unallocated([64, 64]) }
        #expect(scope.liveBytes == 0 && tensor.storage.isReleased)
        scope.measure { tensor.restoreStorage(initial) }
        #expect(scope.liveBytes == 64 * 64 * 4)
        #expect(tensor.doubles == initial.tensor().doubles)
    }
}

@Suite("Permutations")
struct PermutationTests {
    @Test("the permutation made block by block equals Fisher–Yates on the whole draw, and advances the generator alike",
          arguments: [0, 1, 2, 3, 4, 5, 8, 101])
    func blockwise(n: Int) {
        var generator = RandomGenerator(seed: 7, offset: 3), reference = generator
        var expected = Array(0..<n)
        if n > 1 {
            let raw = reference.bits(2 * (n - 1))
            for (step, i) in stride(from: n - 1, to: 0, by: -1).enumerated() {
                expected.swapAt(i, Int((UInt64(raw[2 * step]) << 32 | UInt64(raw[2 * step + 1])) % UInt64(i + 1)))
            }
        }
        #expect(generator.permutation(n) == expected)
        #expect(generator == reference)
    }
}
