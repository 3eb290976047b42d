// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11). Element i of a draw
// depends only on (seed, offset, i), so a seed fixes every random draw whatever the thread
// count, and a generator's state is two integers that checkpoints can store.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Philox4x32-10 over a 64-bit counter and a 64-bit key.
@inline(__always)
func philox(counter: UInt64, stream: UInt64, key: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
    var c0 = UInt32(truncatingIfNeeded: counter), c1 = UInt32(truncatingIfNeeded: counter >> 32)
    var c2 = UInt32(truncatingIfNeeded: stream), c3 = UInt32(truncatingIfNeeded: stream >> 32)
    var k0 = UInt32(truncatingIfNeeded: key), k1 = UInt32(truncatingIfNeeded: key >> 32)
    for _ in 0..<10 {
        let p0 = UInt64(0xD251_1F53) &* UInt64(c0), p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
        let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
        let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
        (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
        k0 &+= 0x9E37_79B9
        k1 &+= 0xBB67_AE85
    }
    return (c0, c1, c2, c3)
}

/// A seedable generator: `seed` picks the key, `offset` counts the 128-bit blocks used so far.
public struct RandomGenerator: Sendable, Equatable {
    public var seed: UInt64
    public var offset: UInt64

    public init(seed: UInt64, offset: UInt64 = 0) {
        self.seed = seed
        self.offset = offset
    }

    /// `count` raw 32-bit draws; advances the offset by ⌈count/4⌉ blocks.
    mutating func bits(_ count: Int) -> [UInt32] {
        var result = [UInt32](repeating: 0, count: count)
        let blocks = (count + 3) / 4
        for block in 0..<blocks {
            let (a, b, c, d) = philox(counter: offset &+ UInt64(block), stream: 0, key: seed)
            let base = block * 4
            result[base] = a
            if base + 1 < count { result[base + 1] = b }
            if base + 2 < count { result[base + 2] = c }
            if base + 3 < count { result[base + 3] = d }
        }
        offset &+= UInt64(blocks)
        return result
    }

    /// Uniform draws in [low, high).
    public mutating func uniform(_ shape: [Int], low: Double = 0, high: Double = 1, dtype: DType = .float32) -> Tensor {
        let n = shape.reduce(1, *)
        let out = Tensor(uninitializedShape: shape, dtype: dtype, zeroed: false)
        if dtype == .float64 {
            let raw = bits(2 * n)
            for i in 0..<n { out.storage.setElement(i, to: Self.uniformDouble(raw[2 * i], raw[2 * i + 1], low: low, high: high)) }
        } else {
            let raw = bits(n)
            let p = out.storage.pointer(as: Float.self)
            for i in 0..<n { p[i] = Self.uniformFloat(raw[i], low: low, high: high) }
        }
        return out
    }

    /// Normal draws (Box–Muller on pairs of uniforms).
    public mutating func normal(_ shape: [Int], mean: Double = 0, std: Double = 1, dtype: DType = .float32) -> Tensor {
        let n = shape.reduce(1, *)
        let raw = bits(2 * ((n + 1) / 2) * 2)
        let out = Tensor(uninitializedShape: shape, dtype: dtype, zeroed: false)
        for pair in 0..<((n + 1) / 2) {
            let (even, odd) = Self.normalPair(raw[4 * pair], raw[4 * pair + 1], raw[4 * pair + 2], raw[4 * pair + 3], mean: mean, std: std)
            out.storage.setElement(2 * pair, to: even)
            if 2 * pair + 1 < n { out.storage.setElement(2 * pair + 1, to: odd) }
        }
        return out
    }

    // The element formulas, shared with `InitialValues.elements`, which must reproduce them bit for bit.

    /// A float32 uniform in [low, high) from one 32-bit draw (its top 24 bits).
    @inline(__always)
    static func uniformFloat(_ raw: UInt32, low: Double, high: Double) -> Float {
        Float(low) + Float(high - low) * Float(raw >> 8) * 0x1.0p-24
    }

    /// A float64 uniform in [low, high) from two 32-bit draws (their top 53 bits).
    @inline(__always)
    static func uniformDouble(_ first: UInt32, _ second: UInt32, low: Double, high: Double) -> Double {
        let word = (UInt64(first) << 32 | UInt64(second)) >> 11
        return low + (high - low) * Double(word) * 0x1.0p-53
    }

    /// Two normals (Box–Muller) from one Philox block of four 32-bit draws.
    @inline(__always)
    static func normalPair(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, mean: Double, std: Double) -> (Double, Double) {
        let w1 = UInt64(a) << 32 | UInt64(b), w2 = UInt64(c) << 32 | UInt64(d)
        let u1 = (Double(w1 >> 11) + 1) * 0x1.0p-53  // (0, 1]: log is finite
        let u2 = Double(w2 >> 11) * 0x1.0p-53
        let radius = (-2 * Glibc.log(u1)).squareRoot()
        return (mean + std * radius * Glibc.cos(2 * Double.pi * u2), mean + std * radius * Glibc.sin(2 * Double.pi * u2))
    }

    /// Philox block `block` of a draw that starts at this generator's offset.
    @inline(__always)
    func block(_ block: Int) -> (UInt32, UInt32, UInt32, UInt32) {
        philox(counter: offset &+ UInt64(block), stream: 0, key: seed)
    }

    /// A permutation of 0..<n (Fisher–Yates on Philox draws).
    public mutating func permutation(_ n: Int) -> [Int] {
        var order = Array(0..<n)
        guard n > 1 else { return order }
        // Step k takes 32-bit draws 2k and 2k + 1 — two lanes of Philox block k / 2 — made as needed
        // rather than all at once (a 12 M-row epoch would hold 94 MB of them).
        var lanes = (UInt32(0), UInt32(0), UInt32(0), UInt32(0))
        for (step, i) in stride(from: n - 1, to: 0, by: -1).enumerated() {
            if step % 2 == 0 { lanes = block(step / 2) }
            let word = step % 2 == 0 ? UInt64(lanes.0) << 32 | UInt64(lanes.1) : UInt64(lanes.2) << 32 | UInt64(lanes.3)
            order.swapAt(i, Int(word % UInt64(i + 1)))
        }
        offset &+= UInt64((2 * (n - 1) + 3) / 4)
        return order
    }

    /// The process-wide generator used when none is passed.
    public static let global = Mutex(RandomGenerator(seed: 0))

    /// Reseeds the process-wide generator.
    public static func manualSeed(_ seed: UInt64) { global.withLock { $0 = RandomGenerator(seed: seed) } }
}

extension Tensor {
    /// Inverted dropout: zeroes elements with probability `p` and scales the rest by 1/(1 − p).
    /// Identity when `p` is 0 or not training. The mask is a constant of the graph.
    public func dropout(_ p: Double, training: Bool = true, generator: inout RandomGenerator) -> Tensor {
        precondition(p >= 0 && p < 1, "dropout: p must be in [0, 1), got \(p)")
        guard training, p > 0 else { return self }
        let draws = generator.uniform(shape, dtype: .float64)
        let keep = (draws >= Tensor(scalar: p, dtype: .float64)).cast(to: dtype, differentiable: false)
        return self * (keep * (1 / (1 - p)))
    }

    /// Dropout drawing from the process-wide generator.
    public func dropout(_ p: Double, training: Bool = true) -> Tensor {
        RandomGenerator.global.withLock { dropout(p, training: training, generator: &$0) }
    }
}
