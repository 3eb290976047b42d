// A tensor's first values as a rule — a constant, or a uniform or normal draw from a generator
// state — that yields any element range without making the rest. Partitioned construction (ZeRO
// stage 3's zero.Init) builds a model from rules and lets each rank make only its own shards, with
// the values a whole-model build would have: Philox element i depends on (seed, offset, i) only.

/// The values `RandomGenerator.uniform`/`normal` (or a constant fill) would give a tensor of
/// `shape`, kept as the generator state they start from.
public struct InitialValues: Sendable, Equatable {
    public enum Rule: Sendable, Equatable {
        case constant(Double)
        case uniform(low: Double, high: Double)
        case normal(mean: Double, std: Double)
    }

    public let rule: Rule
    public let shape: [Int]
    public let dtype: DType
    /// The generator as the draw begins (unused by constants).
    public let generator: RandomGenerator

    public var count: Int { shape.reduce(1, *) }

    /// Takes the draw from `generator`, advancing it exactly as the eager draw would, without making values.
    public init(_ rule: Rule, shape: [Int], dtype: DType = .float32, generator: inout RandomGenerator) {
        precondition(shape.allSatisfy { $0 >= 0 }, "InitialValues: negative extent in shape \(shape)")
        (self.rule, self.shape, self.dtype, self.generator) = (rule, shape, dtype, generator)
        let n = shape.reduce(1, *)
        switch rule {
        case .constant: break
        case .uniform: generator.offset &+= UInt64(dtype == .float64 ? (2 * n + 3) / 4 : (n + 3) / 4)
        case .normal: generator.offset &+= UInt64((n + 1) / 2)
        }
    }

    /// A constant (draws nothing).
    public static func constant(_ value: Double, shape: [Int], dtype: DType = .float32) -> InitialValues {
        var unused = RandomGenerator(seed: 0)
        return InitialValues(.constant(value), shape: shape, dtype: dtype, generator: &unused)
    }

    /// The whole tensor: the eager draw itself.
    public func tensor() -> Tensor {
        var draw = generator
        switch rule {
        case .constant(let value): return value == 0 ? .zeros(shape, dtype: dtype) : .full(value, shape: shape, dtype: dtype)
        case .uniform(let low, let high): return draw.uniform(shape, low: low, high: high, dtype: dtype)
        case .normal(let mean, let std): return draw.normal(shape, mean: mean, std: std, dtype: dtype)
        }
    }

    /// Elements `range` (row-major) of `tensor()`, bit for bit once cast to `dtype`, without making the rest.
    public func elements(_ range: Range<Int>) -> [Double] {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "InitialValues: range \(range) outside \(count) elements")
        switch rule {
        case .constant(let value):
            return [Double](repeating: dtype.rounded(value), count: range.count)
        case .uniform(let low, let high) where dtype == .float64:
            // Element i uses 32-bit draws 2i and 2i + 1: lanes (2i mod 4, +1) of block i / 2.
            return range.map { i in
                let (a, b, c, d) = generator.block(i / 2)
                return i % 2 == 0 ? RandomGenerator.uniformDouble(a, b, low: low, high: high)
                    : RandomGenerator.uniformDouble(c, d, low: low, high: high)
            }
        case .uniform(let low, let high):
            // Element i uses draw i: lane i mod 4 of block i / 4.
            var result: [Double] = []
            result.reserveCapacity(range.count)
            var cached = (index: -1, lanes: (UInt32(0), UInt32(0), UInt32(0), UInt32(0)))
            for i in range {
                if cached.index != i / 4 { cached = (i / 4, generator.block(i / 4)) }
                let lanes = cached.lanes
                let lane = switch i % 4 { case 0: lanes.0; case 1: lanes.1; case 2: lanes.2; default: lanes.3 }
                result.append(Double(RandomGenerator.uniformFloat(lane, low: low, high: high)))
            }
            return result
        case .normal(let mean, let std):
            // Elements 2p and 2p + 1 are the pair made from block p.
            var result: [Double] = []
            result.reserveCapacity(range.count)
            var cached = (pair: -1, values: (0.0, 0.0))
            for i in range {
                if cached.pair != i / 2 {
                    let (a, b, c, d) = generator.block(i / 2)
                    cached = (i / 2, RandomGenerator.normalPair(a, b, c, d, mean: mean, std: std))
                }
                result.append(dtype.rounded(i % 2 == 0 ? cached.values.0 : cached.values.1))
            }
            return result
        }
    }
}

extension DType {
    /// `value` as this floating-point type stores it.
    func rounded(_ value: Double) -> Double { self == .float32 ? Double(Float(value)) : value }
}

extension Tensor {
    /// A contiguous tensor of `shape` whose storage has no buffer yet: reading it before its
    /// storage is restored is a bug (ZeRO stage 3 restores it when it gathers the parameter).
    public static func unallocated(_ shape: [Int], dtype: DType = .float32) -> Tensor {
        Tensor(storage: TensorStorage(releasedWith: dtype, count: shape.reduce(1, *)), shape: shape, strides: contiguousStrides(shape))
    }
}

extension Tensor {
    /// Allocates this tensor's unallocated (or released) storage and fills it with `initial`'s values.
    public func restoreStorage(_ initial: InitialValues) {
        precondition(isWholeStorage && initial.shape == shape && initial.dtype == dtype,
                     "restoreStorage: \(initial.shape) \(initial.dtype) into a \(shape) \(dtype) view")
        let made = initial.tensor()
        storage.restore { base in base.copyMemory(from: made.storage.base, byteCount: count * dtype.byteSize) }
    }
}
