// Position embeddings: rotary (GPT-NeoX), AlphaFold relative positions, ALiBi, T5 buckets, sine-cosine tables (ClimaX).
#if canImport(Glibc)
import Glibc
#endif
import Kernels
import TensorCore

/// How a rotary embedding pairs features: GPT-NeoX and Llama rotate the two halves of the rotary
/// features against each other (`rotate_half`), GPT-J and GPT-NeoX's original Mesh code rotate
/// neighbours (`rotate_every_two`).
public enum RotaryStyle: String, Sendable, CaseIterable {
    case rotateHalf = "neox"
    case interleaved = "gptj"
}

/// Hugging Face's RoPE scaling schemes (`rope_scaling` / `rope_parameters` with a `rope_type`), as
/// transformers' `modeling_rope_utils` computes them: each changes the inverse frequencies, YaRN
/// also scales cos and sin by an attention factor.
public struct RopeScaling: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Position interpolation: every frequency divided by `factor`.
        case linear
        /// Dynamic NTK: beyond the trained length L, the base grows to
        /// base·(factor·S/L − (factor − 1))^(r/(r−2)) for the current length S.
        case dynamic
        /// YaRN: frequencies below a ramp between β_fast and β_slow rotations interpolated, above it
        /// kept, with cos and sin scaled by 0.1·ln(factor) + 1 unless given.
        case yarn
        /// Llama 3.1: low frequencies divided by `factor`, high ones kept, a smooth blend between.
        case llama3
    }

    public var kind: Kind
    public var factor: Double
    /// llama3's `original_max_position_embeddings` (the trained context).
    public var originalMaxPositions: Int?
    public var lowFrequencyFactor: Double = 1
    public var highFrequencyFactor: Double = 4
    public var betaFast: Double = 32
    public var betaSlow: Double = 1
    /// YaRN's `attention_factor`; nil means 0.1·ln(factor) + 1.
    public var attentionFactor: Double?

    public init(kind: Kind, factor: Double, originalMaxPositions: Int? = nil) {
        self.kind = kind
        self.factor = factor
        self.originalMaxPositions = originalMaxPositions
    }
}

/// Rotary position embedding (RoFormer) as GPT-NeoX applies it: the first `rotaryDimensions`
/// features of each head are rotated, the rest pass through; optionally with GPT-J's pairing and
/// a Hugging Face scaling scheme.
public struct RotaryEmbedding: Sendable {
    public let headDimension: Int
    /// ⌊headDimension · rotary_pct⌋, as Hugging Face's GPT-NeoX computes it.
    public let rotaryDimensions: Int
    public let base: Double
    public let style: RotaryStyle
    public let scaling: RopeScaling?
    /// The model's `max_position_embeddings`: dynamic NTK's trained length and YaRN's context.
    public let maxPositions: Int

    public init(headDimension: Int, fraction: Double = 1, base: Double = 10_000, style: RotaryStyle = .rotateHalf,
                scaling: RopeScaling? = nil, maxPositions: Int = 2048) {
        self.headDimension = headDimension
        rotaryDimensions = Int(Double(headDimension) * fraction)
        precondition(rotaryDimensions % 2 == 0, "RotaryEmbedding: \(rotaryDimensions) rotary dimensions must be even")
        self.base = base
        self.style = style
        self.scaling = scaling
        self.maxPositions = maxPositions
    }

    /// Inverse frequencies θ_i, i < r/2, for a sequence of `sequenceLength` positions (only dynamic
    /// NTK depends on it: Hugging Face recomputes at the largest position + 1 beyond the trained length).
    public func inverseFrequencies(sequenceLength: Int) -> [Double] {
        let r = Double(rotaryDimensions), half = rotaryDimensions / 2
        func frequencies(base: Double) -> [Double] { (0..<half).map { 1 / pow(base, Double(2 * $0) / r) } }
        guard let scaling else { return frequencies(base: base) }
        let factor = scaling.factor
        switch scaling.kind {
        case .linear:
            return frequencies(base: base).map { $0 / factor }
        case .dynamic:
            let length = Double(Swift.max(sequenceLength, maxPositions)), trained = Double(maxPositions)
            return frequencies(base: base * pow(factor * length / trained - (factor - 1), r / (r - 2)))
        case .yarn:
            // Dimensions whose wavelength makes more than β_fast turns over the context keep their
            // frequency, fewer than β_slow are interpolated, a linear ramp between.
            func correctionDimension(_ rotations: Double) -> Double {
                r * log(Double(maxPositions) / (rotations * 2 * Double.pi)) / (2 * log(base))
            }
            let low = Swift.max(floor(correctionDimension(scaling.betaFast)), 0)
            var high = Swift.min(ceil(correctionDimension(scaling.betaSlow)), r - 1)
            if low == high { high += 0.001 }
            return frequencies(base: base).enumerated().map { i, extrapolated in
                let ramp = Swift.min(Swift.max((Double(i) - low) / (high - low), 0), 1)
                let keep = 1 - ramp
                return extrapolated / factor * (1 - keep) + extrapolated * keep
            }
        case .llama3:
            let context = Double(scaling.originalMaxPositions ?? maxPositions)
            let lowWavelength = context / scaling.lowFrequencyFactor, highWavelength = context / scaling.highFrequencyFactor
            return frequencies(base: base).map { frequency in
                let wavelength = 2 * Double.pi / frequency
                if wavelength < highWavelength { return frequency }
                if wavelength > lowWavelength { return frequency / factor }
                let smooth = (context / wavelength - scaling.lowFrequencyFactor) / (scaling.highFrequencyFactor - scaling.lowFrequencyFactor)
                return (1 - smooth) * frequency / factor + smooth * frequency
            }
        }
    }

    /// The factor cos and sin are multiplied by (YaRN's attention temperature; 1 otherwise).
    public var attentionFactor: Double {
        guard let scaling, scaling.kind == .yarn else { return 1 }
        return scaling.attentionFactor ?? 0.1 * log(scaling.factor) + 1
    }

    /// cos and sin tables `[length, rotaryDimensions]` for positions offset, …, offset + length − 1,
    /// each angle repeated as the style pairs features (both halves, or neighbours).
    /// A sequence shard passes its global offset so that positions stay global.
    public func tables(length: Int, offset: Int = 0, dtype: DType = .float32) -> (cos: Tensor, sin: Tensor) {
        let (cosines, sines) = angleTables(length: length, offset: offset)
        let half = rotaryDimensions / 2
        var c = [Double](repeating: 0, count: length * rotaryDimensions), s = c
        for position in 0..<length {
            for i in 0..<half {
                for copy in 0..<2 {
                    let feature = style == .rotateHalf ? copy * half + i : 2 * i + copy
                    c[position * rotaryDimensions + feature] = cosines[position * half + i]
                    s[position * rotaryDimensions + feature] = sines[position * half + i]
                }
            }
        }
        return (Tensor(c, shape: [length, rotaryDimensions]).cast(to: dtype), Tensor(s, shape: [length, rotaryDimensions]).cast(to: dtype))
    }

    /// cos and sin `[length, rotaryDimensions / 2]`, scaled by the attention factor.
    func angleTables(length: Int, offset: Int) -> (cos: [Double], sin: [Double]) {
        let half = rotaryDimensions / 2
        let frequencies = inverseFrequencies(sequenceLength: offset + length), scale = attentionFactor
        var cosines = [Double](repeating: 0, count: length * half), sines = cosines
        for position in 0..<length {
            for i in 0..<half {
                let angle = Double(position + offset) * frequencies[i]
                cosines[position * half + i] = cos(angle) * scale
                sines[position * half + i] = sin(angle) * scale
            }
        }
        return (cosines, sines)
    }

    /// Rotates queries or keys `[B, S, H, D]` at positions offset ..< offset + S, in one pass.
    public func apply(_ x: Tensor, offset: Int = 0) -> Tensor {
        precondition(x.rank == 4 && x.shape[3] == headDimension, "RotaryEmbedding: expected [B, S, H, \(headDimension)], got \(x.shape)")
        return apply(x, parts: [0], offset: offset)
    }

    /// Rotates, in one pass, the first `rotaryDimensions` features of every part of each head:
    /// x `[B, S, H, W]` holds parts starting at feature `parts[i]` (GPT-NeoX's fused
    /// query_key_value is `[B, S, H, 3·D]` with q at 0 and k at D; v is left as it is).
    /// The backward is the transposed rotation. Same arithmetic as `applyReference`.
    public func apply(_ x: Tensor, parts: [Int], offset: Int = 0) -> Tensor {
        precondition(x.rank == 4 && x.dtype.isFloatingPoint, "RotaryEmbedding: expected a float [B, S, H, W] tensor, got \(x.shape) \(x.dtype)")
        precondition(parts.allSatisfy { $0 >= 0 && $0 + rotaryDimensions <= x.shape[3] },
                     "RotaryEmbedding: parts \(parts) of \(rotaryDimensions) rotary features do not fit heads of width \(x.shape[3])")
        guard rotaryDimensions > 0, !parts.isEmpty else { return x }
        return RotaryAngles(self, length: x.shape[1], offset: offset).rotation(x, parts: parts, inverse: false)
    }

    /// The composed form (slice, rotate_half or rotate_every_two, concat) of `apply`: the reference
    /// twin in tests.
    public func applyReference(_ x: Tensor, offset: Int = 0) -> Tensor {
        precondition(x.rank == 4 && x.shape[3] == headDimension, "RotaryEmbedding: expected [B, S, H, \(headDimension)], got \(x.shape)")
        guard rotaryDimensions > 0 else { return x }
        let (cosine, sine) = tables(length: x.shape[1], offset: offset, dtype: x.dtype)
        let c = cosine.reshaped([1, x.shape[1], 1, rotaryDimensions]), s = sine.reshaped([1, x.shape[1], 1, rotaryDimensions])
        let rotated = x.sliced(axis: 3, 0, rotaryDimensions)
        let turned: Tensor
        switch style {
        case .rotateHalf:
            let halves = rotated.split([rotaryDimensions / 2, rotaryDimensions / 2], axis: 3)
            turned = Tensor.concat([-halves[1], halves[0]], axis: 3)
        case .interleaved:
            let pairs = rotated.reshaped([x.shape[0], x.shape[1], x.shape[2], rotaryDimensions / 2, 2]).split([1, 1], axis: 4)
            turned = Tensor.concat([-pairs[1], pairs[0]], axis: 4).reshaped([x.shape[0], x.shape[1], x.shape[2], rotaryDimensions])
        }
        let embedded = rotated * c + turned * s
        if rotaryDimensions == headDimension { return embedded }
        return Tensor.concat([embedded, x.sliced(axis: 3, rotaryDimensions)], axis: 3)
    }
}

/// cos and sin of every position and frequency, `[S, rotaryDimensions / 2]`, for one call.
struct RotaryAngles {
    let half: Int
    let step: Int, gap: Int
    let cosines: [Double], sines: [Double]

    init(_ rotary: RotaryEmbedding, length: Int, offset: Int) {
        half = rotary.rotaryDimensions / 2
        // A rotate-half pair is (i, i + r/2); an interleaved pair is (2i, 2i + 1).
        (step, gap) = rotary.style == .rotateHalf ? (1, half) : (2, 1)
        (cosines, sines) = rotary.angleTables(length: length, offset: offset)
    }

    /// The rotation as an autograd operation; its backward is the transposed rotation (the opposite
    /// angle, scaled alike), itself differentiable, so higher-order gradients flow.
    func rotation(_ x: Tensor, parts: [Int], inverse: Bool) -> Tensor {
        let value = rotate(x.detached(), parts: parts, inverse: inverse)
        return Tensor.differentiable(value, name: "rotary", inputs: [x]) { grad in
            [rotation(grad, parts: parts, inverse: !inverse)]
        }
    }

    /// x1·cos − x2·sin and x2·cos + x1·sin on each part (inverse: x1·cos + x2·sin, x2·cos − x1·sin);
    /// every other feature copied.
    func rotate(_ x: Tensor, parts: [Int], inverse: Bool) -> Tensor {
        var result = x.ownedCopy()
        if result.dtype == .float32 {
            let c = cosines.map(Float.init), s = sines.map(Float.init)
            result.update(as: Float.self) { rotateRows($0, shape: x.shape, parts: parts, cosines: c, sines: s, inverse: inverse) }
        } else {
            result.update(as: Double.self) { rotateRows($0, shape: x.shape, parts: parts, cosines: cosines, sines: sines, inverse: inverse) }
        }
        return result
    }

    func rotateRows<T: BinaryFloatingPoint>(_ buffer: UnsafeMutableBufferPointer<T>, shape: [Int], parts: [Int], cosines: [T], sines: [T],
                                            inverse: Bool) {
        let (length, heads, width, half, step, gap) = (shape[1], shape[2], shape[3], self.half, self.step, self.gap)
        let base = UncheckedSendable(buffer.baseAddress!)
        cosines.withUnsafeBufferPointer { cosines in
            sines.withUnsafeBufferPointer { sines in
                let tables = UncheckedSendable((cosines.baseAddress!, sines.baseAddress!))
                parallelFor(shape[0] * length, minChunk: 64) { rows in
                    let (cosines, sines) = tables.value
                    for row in rows {
                        let position = row % length
                        let c = cosines + position * half, s = sines + position * half
                        for head in 0..<heads {
                            let features = base.value + (row * heads + head) * width
                            for part in parts {
                                for i in 0..<half {
                                    let x1 = features + part + i * step, x2 = x1 + gap
                                    let a = x1.pointee, b = x2.pointee
                                    if inverse {
                                        x1.pointee = a * c[i] + b * s[i]
                                        x2.pointee = b * c[i] - a * s[i]
                                    } else {
                                        x1.pointee = a * c[i] - b * s[i]
                                        x2.pointee = b * c[i] + a * s[i]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// AlphaFold's relative-position encoding: one-hot of clip(i − j, −k, k) + k, `[N, N, 2k + 1]`.
public func relativePositionOneHot(residueIndex: [Int], maxRelative k: Int, dtype: DType = .float32) -> Tensor {
    let n = residueIndex.count
    var bins = [Int64](repeating: 0, count: n * n)
    for i in 0..<n {
        for j in 0..<n { bins[i * n + j] = Int64(Swift.min(Swift.max(residueIndex[i] - residueIndex[j], -k), k) + k) }
    }
    return Tensor.oneHot(Tensor(bins, shape: [n, n]), classes: 2 * k + 1, dtype: dtype)
}

/// ALiBi head slopes (Press et al.): a geometric sequence from 2^(−8/n); for a head count that
/// is not a power of two, the closest power's slopes plus every other slope of twice that.
public func alibiSlopes(heads: Int) -> [Double] {
    func powerOfTwoSlopes(_ n: Int) -> [Double] {
        let start = pow(2, -pow(2, -(log2(Double(n)) - 3)))
        return (0..<n).map { pow(start, Double($0 + 1)) }
    }
    let closest = 1 << Int(log2(Double(heads)).rounded(.down))
    if closest == heads { return powerOfTwoSlopes(heads) }
    let extra = powerOfTwoSlopes(2 * closest).enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
    return powerOfTwoSlopes(closest) + extra.prefix(heads - closest)
}

/// ALiBi bias `[H, Sq, Sk]`: slope_h · (j − i) for key j and query i at `queryOffset + i`.
public func alibiBias(slopes: [Double], queryLength: Int, keyLength: Int, queryOffset: Int = 0, dtype: DType = .float32) -> Tensor {
    var values: [Double] = []
    values.reserveCapacity(slopes.count * queryLength * keyLength)
    for slope in slopes {
        for i in 0..<queryLength { for j in 0..<keyLength { values.append(slope * Double(j - (i + queryOffset))) } }
    }
    return Tensor(values, shape: [slopes.count, queryLength, keyLength]).cast(to: dtype)
}

/// T5's bucket for a relative position (key − query): exact buckets for small distances,
/// logarithmic ones up to `maxDistance`, half the buckets per direction when bidirectional.
public func t5RelativeBucket(_ relative: Int, bidirectional: Bool, buckets: Int = 32, maxDistance: Int = 128) -> Int {
    var buckets = buckets
    var result = 0
    var n = relative
    if bidirectional {
        buckets /= 2
        if n > 0 { result += buckets }
        n = Swift.abs(n)
    } else {
        n = -Swift.min(n, 0)
    }
    let exact = buckets / 2
    if n < exact { return result + n }
    let logarithmic = exact + Int(log(Double(n) / Double(exact)) / log(Double(maxDistance) / Double(exact)) * Double(buckets - exact))
    return result + Swift.min(logarithmic, buckets - 1)
}

/// T5's learned relative-position bias: an embedding `[buckets, heads]` read at each pair's bucket.
public final class T5RelativeBias: Module {
    public let table: Parameter
    public let bidirectional: Bool
    public let buckets: Int
    public let maxDistance: Int

    public init(heads: Int, bidirectional: Bool, buckets: Int = 32, maxDistance: Int = 128, dtype: DType = .float32,
                initialStd: Double = 1, generator: inout RandomGenerator) {
        table = Parameter(InitialValues(.normal(mean: 0, std: initialStd), shape: [buckets, heads], dtype: dtype, generator: &generator))
        self.bidirectional = bidirectional
        self.buckets = buckets
        self.maxDistance = maxDistance
    }

    /// The bias by offset, `[H, Sq + Sk − 1]` with entry `[h, j − i + Sq − 1]` for query i (at global
    /// position i + queryOffset) and key j: what the fused attention kernels read per tile.
    public func relative(queryLength: Int, keyLength: Int, queryOffset: Int = 0) -> Tensor {
        let ids = (0..<(queryLength + keyLength - 1)).map { index in
            Int64(t5RelativeBucket(index - (queryLength - 1) - queryOffset, bidirectional: bidirectional, buckets: buckets,
                                   maxDistance: maxDistance))
        }
        return table.value.embedding(Tensor(ids, shape: [ids.count])).permuted([1, 0]).contiguous()
    }

    /// The bias `[H, Sq, Sk]`.
    public func callAsFunction(queryLength: Int, keyLength: Int) -> Tensor {
        var ids: [Int64] = []
        for i in 0..<queryLength {
            for j in 0..<keyLength {
                ids.append(Int64(t5RelativeBucket(j - i, bidirectional: bidirectional, buckets: buckets, maxDistance: maxDistance)))
            }
        }
        return table.value.embedding(Tensor(ids, shape: [queryLength, keyLength])).permuted([2, 0, 1])
    }
}

/// Fixed sine-cosine position tables (MAE / ClimaX `utils/pos_embed.py`).
public enum SinCosEmbedding {
    /// 1-D table `[positions.count, dimension]`: for ω_k = 1/10000^(k/(dimension/2)), the first
    /// half is sin(p·ω_k), the second cos(p·ω_k).
    public static func oneDimensional(dimension: Int, positions: [Double]) -> [[Double]] {
        precondition(dimension % 2 == 0, "SinCosEmbedding: dimension must be even, got \(dimension)")
        let half = dimension / 2
        let omega = (0..<half).map { 1 / Glibc.pow(10_000, Double($0) / Double(half)) }
        return positions.map { p in omega.map { Glibc.sin(p * $0) } + omega.map { Glibc.cos(p * $0) } }
    }

    /// 2-D table `[height · width, dimension]` in row-major (row, column) order: the first half
    /// encodes the column, the second the row (upstream's meshgrid puts w first).
    public static func twoDimensional(dimension: Int, height: Int, width: Int) -> Tensor {
        precondition(dimension % 4 == 0, "SinCosEmbedding: 2-D dimension must be a multiple of 4, got \(dimension)")
        let columns = oneDimensional(dimension: dimension / 2, positions: (0..<width).map(Double.init))
        let rows = oneDimensional(dimension: dimension / 2, positions: (0..<height).map(Double.init))
        var values: [Double] = []
        values.reserveCapacity(height * width * dimension)
        for row in 0..<height { for column in 0..<width { values += columns[column] + rows[row] } }
        return Tensor(values, shape: [height * width, dimension])
    }
}
