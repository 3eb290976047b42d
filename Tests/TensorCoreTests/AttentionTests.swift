import Foundation
import Testing
import TestSupport
@testable import Kernels
@testable import TensorCore

/// max |a − b| / max |b| over all elements (the error measure). A reference that is
/// identically zero (dQ and dK when L = 1: the softmax is constant) is compared absolutely.
func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
    let x = a.doubles, y = b.doubles
    precondition(x.count == y.count)
    let largest = y.map { Swift.abs($0) }.max() ?? 0
    let scale = largest > 0 ? largest : 1
    var worst = 0.0
    for (u, w) in zip(x, y) { worst = Swift.max(worst, u.isNaN || w.isNaN ? .infinity : Swift.abs(u - w)) }
    return worst / scale
}

struct EvoformerCase {
    let q, k, v: Tensor
    let bias1, bias2: Tensor?
    let gradOutput: Tensor

    init(_ shape: [Int], dtype: DType, bias1: Bool, bias2: Bool, maskedRows: Bool = false, seed: UInt64) {
        var generator = RandomGenerator(seed: seed)
        let (b, n, l, h) = (shape[0], shape[1], shape[2], shape[3])
        q = generator.normal(shape, dtype: dtype).requiringGrad()
        k = generator.normal(shape, dtype: dtype).requiringGrad()
        v = generator.normal(shape, dtype: dtype).requiringGrad()
        if bias1 {
            // A 0/1 key mask; with maskedRows, every key of n = 0 is −∞ (rows with nothing to attend).
            let keep = generator.uniform([b, n, 1, 1, l], dtype: .float64).doubles.map { $0 < 0.8 ? 1.0 : 0.0 }
            var values = keep.map { $0 == 1 ? 0.0 : -Double.infinity }
            if maskedRows { for i in 0..<l { values[i] = -.infinity } }
            self.bias1 = Tensor(values, shape: [b, n, 1, 1, l]).cast(to: dtype).requiringGrad()
        } else {
            self.bias1 = nil
        }
        self.bias2 = bias2 ? generator.normal([b, 1, h, l, l], dtype: dtype).requiringGrad() : nil
        gradOutput = generator.uniform(shape, dtype: dtype)
    }

    var inputs: [Tensor] { [q, k, v] + [bias1, bias2].compactMap { $0 } }

    func run(_ method: AttentionMethod, tiling: AttentionTiling = .standard) throws -> [Tensor] {
        let out = Tensor.evoformerAttention(q, k, v, biases: [bias1, bias2], method: method, tiling: tiling)
        let grads = try grad(of: [out], wrt: inputs, gradOutputs: [gradOutput])
        return [out] + grads.map { $0! }
    }
}

@Suite("EvoformerAttention")
struct EvoformerAttentionTests {
    static let headDimensions = [1, 8, 16, 24, 32, 64, 128]

    @Test("fused equals the reference, forward and every gradient, float64 and float32", arguments: headDimensions)
    func fusedMatchesReference(d: Int) throws {
        var seed: UInt64 = UInt64(d) * 1000
        for l in [1, 2, 15, 16, 17, 64, 100] {
            for (withBias1, withBias2) in [(false, false), (true, false), (false, true), (true, true)] {
                for dtype in [DType.float64, .float32] {
                    seed += 1
                    let example = EvoformerCase([1, 2, l, 2, d], dtype: dtype, bias1: withBias1, bias2: withBias2,
                                                maskedRows: withBias1 && l > 1, seed: seed)
                    let reference = try example.run(.reference)
                    // Small tiles exercise partial and multiple tiles; the standard ones the default path.
                    for tiling in [AttentionTiling(queries: 7, keys: 16), .standard] {
                        let fused = try example.run(.fused, tiling: tiling)
                        let limit = dtype == .float64 ? 1e-10 : 1e-5
                        for (index, (a, b)) in zip(fused, reference).enumerated() {
                            let error = relativeError(a, b)
                            #expect(error <= limit, "D \(d) L \(l) biases \(withBias1)/\(withBias2) \(dtype) tiles \(tiling): output \(index) error \(error) fused max \(a.doubles.map(abs).max() ?? 0) ref max \(b.doubles.map(abs).max() ?? 0) shape \(a.shape)")
                        }
                    }
                }
            }
        }
    }

    @Test("rows whose keys are all −∞ give zero output and zero gradients, never NaN")
    func fullyMaskedRows() throws {
        let example = EvoformerCase([1, 2, 9, 2, 4], dtype: .float64, bias1: true, bias2: true, maskedRows: true, seed: 5)
        let fused = try example.run(.fused)
        // n = 0 is fully masked: its output rows and its q gradient are zero.
        let out = fused[0].sliced(axis: 1, 0, 1)
        #expect(out.doubles.allSatisfy { $0 == 0 })
        #expect(fused[1].sliced(axis: 1, 0, 1).doubles.allSatisfy { $0 == 0 })
        for tensor in fused { #expect(!tensor.doubles.contains { $0.isNaN }) }
    }

    @Test("upstream's unit-test shapes with a 1e9·(mask − 1) mask and a trainable pair bias",
          arguments: [[1, 256, 256, 4, 32], [1, 512, 256, 8, 8]])
    func upstreamShapes(shape: [Int]) throws {
        var generator = RandomGenerator(seed: 2024)
        let (b, n, l, h) = (shape[0], shape[1], shape[2], shape[3])
        let q = generator.normal(shape).requiringGrad(), k = generator.normal(shape).requiringGrad()
        let v = generator.normal(shape).requiringGrad()
        let mask = generator.uniform([b, n, 1, 1, l]).doubles.map { $0 < 0.5 ? 0.0 : 1.0 }
        let maskBias = Tensor(mask.map { 1e9 * ($0 - 1) }, shape: [b, n, 1, 1, l]).cast(to: .float32)
        let pairBias = generator.normal([b, 1, h, l, l]).requiringGrad()
        let gradOutput = generator.uniform(shape)
        var results: [[Tensor]] = []
        for method in [AttentionMethod.reference, .fused] {
            let out = Tensor.evoformerAttention(q, k, v, biases: [maskBias, pairBias], method: method)
            results.append([out] + (try grad(of: [out], wrt: [q, k, v, pairBias], gradOutputs: [gradOutput])).map { $0! })
        }
        for (index, (fused, reference)) in zip(results[1], results[0]).enumerated() {
            let error = relativeError(fused, reference)
            #expect(error <= 1e-5, "\(shape) output \(index): relative error \(error)")
        }
    }

    @Test("gradcheck in float64 through the fused kernel")
    func gradcheckFused() {
        var generator = RandomGenerator(seed: 31)
        let shape = [1, 2, 5, 2, 3]
        let inputs = [generator.normal(shape, dtype: .float64), generator.normal(shape, dtype: .float64),
                      generator.normal(shape, dtype: .float64), generator.normal([1, 2, 1, 1, 5], dtype: .float64),
                      generator.normal([1, 1, 2, 5, 5], dtype: .float64)]
        for method in AttentionMethod.allCases {
            let result = gradcheck({ x in
                Tensor.evoformerAttention(x[0], x[1], x[2], biases: [x[3], x[4]], method: method, tiling: AttentionTiling(queries: 2, keys: 3))
            }, inputs: inputs)
            #expect(result.passed, "\(method): \(result)")
        }
        // Second derivatives through the fused op fall back to the reference formula.
        let second = gradgradcheck({ x in Tensor.evoformerAttention(x[0], x[1], x[2], biases: [nil, x[3]]) },
                                   inputs: [inputs[0], inputs[1], inputs[2], inputs[4]])
        #expect(second.passed, "\(second)")
    }

    @Test("outputs and all gradients are bitwise identical across runs and across 1 and 2 threads")
    func determinism() throws {
        let example = EvoformerCase([1, 6, 40, 4, 16], dtype: .float32, bias1: true, bias2: true, seed: 77)
        var runs: [[[Float]]] = []
        let previous = ThreadBudget.current
        defer { ThreadBudget.install(previous) }
        for threads in [1, 2, 2, 1] {
            ThreadBudget.install(ThreadBudget.resolve(requested: threads))
            runs.append(try example.run(.fused).map { $0.scalars(as: Float.self) })
        }
        for run in runs.dropFirst() { #expect(run == runs[0]) }
    }

    @Test("q, k, v packed [B, N, L, 3·H·D] as one projection gives them equal the three slices, bit for bit", arguments: [DType.float64, .float32])
    func packedProjection(dtype: DType) throws {
        var generator = RandomGenerator(seed: 23)
        let (b, n, l, h, d) = (2, 3, 17, 4, 5)
        let qkv = generator.normal([b, n, l, 3 * h * d], dtype: dtype).requiringGrad()
        let bias1 = Tensor(generator.uniform([b, n, 1, 1, l], dtype: .float64).doubles.map { $0 < 0.8 ? 0 : -Double.infinity },
                           shape: [b, n, 1, 1, l]).cast(to: dtype)
        let bias2 = generator.normal([b, 1, h, l, l], dtype: dtype).requiringGrad()
        let gradOutput = generator.normal([b, n, l, h * d], dtype: dtype)
        let tiling = AttentionTiling(queries: 4, keys: 8)
        for method in AttentionMethod.allCases {
            let packed = Tensor.evoformerAttention(packed: qkv, heads: h, biases: [bias1, bias2], method: method, tiling: tiling)
            let parts = (0..<3).map { qkv.sliced(axis: 3, $0 * h * d, ($0 + 1) * h * d).reshaped([b, n, l, h, d]) }
            let separate = Tensor.evoformerAttention(parts[0], parts[1], parts[2], biases: [bias1, bias2], method: method, tiling: tiling)
                .reshaped([b, n, l, h * d])
            #expect(packed.doubles == separate.doubles, "\(method)")
            let packedGradients = try grad(of: [packed], wrt: [qkv, bias2], gradOutputs: [gradOutput])
            let separateGradients = try grad(of: [separate], wrt: [qkv, bias2], gradOutputs: [gradOutput])
            for (x, y) in zip(packedGradients, separateGradients) { #expect(x!.doubles == y!.doubles, "\(method)") }
        }
        let small = [generator.normal([1, 2, 5, 3 * 2 * 3], dtype: .float64), generator.normal([1, 1, 2, 5, 5], dtype: .float64)]
        let first = gradcheck({ x in Tensor.evoformerAttention(packed: x[0], heads: 2, biases: [nil, x[1]], tiling: AttentionTiling(queries: 2, keys: 3)) },
                              inputs: small)
        #expect(first.passed, "\(first)")
        let second = gradgradcheck({ x in Tensor.evoformerAttention(packed: x[0], heads: 2, biases: [nil, x[1]]) }, inputs: small)
        #expect(second.passed, "\(second)")
    }

    @Test("conflicting kernel choices are an error, as in OpenFold")
    func kernelSelection() throws {
        #expect(try AttentionMethod.select(useDeepSpeedEvoAttention: true) == .fused)
        #expect(try AttentionMethod.select(useReference: true) == .reference)
        #expect(throws: AttentionConfigurationError.conflicting(["use_deepspeed_evo_attention", "use_lma"])) {
            try AttentionMethod.select(useDeepSpeedEvoAttention: true, useLMA: true)
        }
        #expect(throws: AttentionConfigurationError.unavailable("use_flash")) { try AttentionMethod.select(useFlash: true) }
    }

    @Test("the default tiles follow the L2 cache read at run time: one key tile up to the limit, 64 × 128 beyond")
    func tilesFollowTheCache() throws {
        let limit = AttentionTiling.wholeRowLimit
        if let cache = MachineProbes.level2CacheBytes {
            #expect(cache >= 64 << 10 && limit == max(128, cache * 3 / 10 / 384 / 64 * 64), "L2 \(cache) bytes, limit \(limit)")
        } else {
            #expect(limit == 512)
        }
        #expect(AttentionTiling.evoformer(length: 33) == AttentionTiling(queries: 33, keys: 33))
        #expect(AttentionTiling.evoformer(length: limit) == AttentionTiling(queries: 32, keys: limit))
        #expect(AttentionTiling.evoformer(length: limit + 1) == .standard)
    }
}

@Suite("Self-attention")
struct SelfAttentionTests {
    func compare(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor?, masking: AttentionMasking, limit: Double,
                 tiling: AttentionTiling = AttentionTiling(queries: 5, keys: 8), label: String) throws {
        var generator = RandomGenerator(seed: 3)
        let gradOutput = generator.uniform(q.shape, dtype: q.dtype)
        let inputs = [q, k, v] + [bias].compactMap { $0 }.filter(\.requiresGrad)
        var results: [[Tensor]] = []
        for method in [AttentionMethod.reference, .fused] {
            let out = Tensor.scaledDotProductAttention(q, k, v, bias: bias, masking: masking, method: method, tiling: tiling)
            results.append([out] + (try grad(of: [out], wrt: inputs, gradOutputs: [gradOutput])).map { $0! })
        }
        for (index, (fused, reference)) in zip(results[1], results[0]).enumerated() {
            let error = relativeError(fused, reference)
            #expect(error <= limit, "\(label): output \(index) error \(error)")
            #expect(!fused.doubles.contains { $0.isNaN }, "\(label): NaN in output \(index)")
        }
    }

    @Test("causal, biased, ALiBi, key-padding and offset queries: fused equals reference", arguments: [DType.float64, .float32])
    func variants(dtype: DType) throws {
        var generator = RandomGenerator(seed: 12)
        let limit = dtype == .float64 ? 1e-10 : 1e-5
        let (b, sq, sk, h, d) = (2, 13, 21, 3, 8)
        let q = generator.normal([b, sq, h, d], dtype: dtype).requiringGrad()
        let k = generator.normal([b, sk, h, d], dtype: dtype).requiringGrad(), v = generator.normal([b, sk, h, d], dtype: dtype).requiringGrad()
        let square = generator.normal([b, sq, h, d], dtype: dtype).requiringGrad()
        try compare(q, square, square, bias: nil, masking: .causal, limit: limit, label: "causal")
        try compare(q, k, v, bias: nil, masking: AttentionMasking(causal: true, queryOffset: 8), limit: limit, label: "causal shard")
        let fullBias = generator.normal([b, h, sq, sk], dtype: dtype).requiringGrad()
        try compare(q, k, v, bias: fullBias, masking: .none, limit: limit, label: "full bias")
        let broadcastBias = generator.normal([1, h, 1, sk], dtype: dtype).requiringGrad()
        try compare(q, k, v, bias: broadcastBias, masking: .none, limit: limit, label: "broadcast bias")
        try compare(q, k, v, bias: generator.normal([sq, sk], dtype: dtype), masking: .none, limit: limit, label: "constant bias")
        let keep = generator.uniform([b, sk], dtype: .float64).doubles.map { $0 < 0.7 }
        var keepWithEmptyBatch = keep
        for j in 0..<sk { keepWithEmptyBatch[j] = false }  // batch 0 has no keys at all
        try compare(q, k, v, bias: nil, masking: AttentionMasking(keyMask: Tensor(keep, shape: [b, sk])), limit: limit, label: "padding")
        try compare(q, k, v, bias: nil, masking: AttentionMasking(keyMask: Tensor(keepWithEmptyBatch, shape: [b, sk])), limit: limit,
                    label: "all keys padded")
        try compare(q, k, v, bias: fullBias, masking: AttentionMasking(causal: true, queryOffset: 8, alibiSlopes: [0.5, 0.25, 0.125]),
                    limit: limit, label: "causal ALiBi bias")
    }

    @Test("a relative bias [H, Sq + Sk − 1] read per tile equals its expanded [H, Sq, Sk] bias, output and every gradient",
          arguments: [DType.float64, .float32])
    func relativeBias(dtype: DType) throws {
        var generator = RandomGenerator(seed: 31)
        let limit = dtype == .float64 ? 1e-10 : 1e-5
        let (b, sq, sk, h, d) = (2, 13, 21, 3, 8)
        let q = generator.normal([b, sq, h, d], dtype: dtype).requiringGrad()
        let k = generator.normal([b, sk, h, d], dtype: dtype).requiringGrad(), v = generator.normal([b, sk, h, d], dtype: dtype).requiringGrad()
        let relative = generator.normal([h, sq + sk - 1], dtype: dtype).requiringGrad()
        let expanded = Tensor.expandRelativeBias(relative, queries: sq, keys: sk)
        // Entry [h, i, j] is relative[h, j − i + Sq − 1].
        #expect(expanded.shape == [h, sq, sk] && expanded.doubles[(2 * sq + 4) * sk + 9] == relative.doubles[2 * (sq + sk - 1) + 9 - 4 + sq - 1])
        let gradOutput = generator.uniform(q.shape, dtype: dtype)
        let keep = generator.uniform([b, sk], dtype: .float64).doubles.map { $0 < 0.7 }
        for (label, masking) in [("plain", AttentionMasking.none), ("causal shard", AttentionMasking(causal: true, queryOffset: 8)),
                                 ("padding and ALiBi", AttentionMasking(alibiSlopes: [0.5, 0.25, 0.125], keyMask: Tensor(keep, shape: [b, sk])))] {
            let fused = Tensor.scaledDotProductAttention(q, k, v, relativeBias: relative, masking: masking, tiling: AttentionTiling(queries: 5, keys: 8))
            let reference = Tensor.scaledDotProductAttention(q, k, v, bias: expanded.reshaped([1, h, sq, sk]), masking: masking, method: .reference)
            let fusedGradients = try grad(of: [fused], wrt: [q, k, v, relative], gradOutputs: [gradOutput]).map { $0! }
            let referenceGradients = try grad(of: [reference], wrt: [q, k, v, relative], gradOutputs: [gradOutput]).map { $0! }
            for (index, (ours, theirs)) in zip([fused] + fusedGradients, [reference] + referenceGradients).enumerated() {
                let error = relativeError(ours, theirs)
                #expect(error <= limit, "\(label) \(dtype): output \(index) error \(error)")
            }
        }
        // GPT-NeoX's packed projection: the same kernels on the same numbers, bit for bit.
        let s = 19
        let qkv = generator.normal([b, s, h, 3 * d], dtype: dtype).requiringGrad()
        let square = generator.normal([h, 2 * s - 1], dtype: dtype).requiringGrad()
        let tiling = AttentionTiling(queries: 4, keys: 8)
        let packed = Tensor.packedSelfAttention(qkv, relativeBias: square, masking: .causal, tiling: tiling)
        let parts = (0..<3).map { qkv.sliced(axis: 3, $0 * d, ($0 + 1) * d).contiguous() }
        let separate = Tensor.scaledDotProductAttention(parts[0], parts[1], parts[2], relativeBias: square, masking: .causal, tiling: tiling)
        #expect(packed.doubles == separate.doubles)
        let upstream = generator.normal([b, s, h, d], dtype: dtype)
        let packedGradients = try grad(of: [packed], wrt: [qkv, square], gradOutputs: [upstream])
        let separateGradients = try grad(of: [separate], wrt: [qkv, square], gradOutputs: [upstream])
        #expect(packedGradients[0]!.doubles == separateGradients[0]!.doubles && packedGradients[1]!.doubles == separateGradients[1]!.doubles)
        if dtype == .float64 {
            let inputs = [generator.normal([1, 4, 2, 3], dtype: .float64), generator.normal([1, 6, 2, 3], dtype: .float64),
                          generator.normal([1, 6, 2, 3], dtype: .float64), generator.normal([2, 9], dtype: .float64)]
            let first = gradcheck({ x in
                Tensor.scaledDotProductAttention(x[0], x[1], x[2], relativeBias: x[3], masking: AttentionMasking(causal: true, queryOffset: 2),
                                                 tiling: AttentionTiling(queries: 3, keys: 4))
            }, inputs: inputs)
            #expect(first.passed, "\(first)")
            let second = gradgradcheck({ x in
                Tensor.scaledDotProductAttention(x[0], x[1], x[2], relativeBias: x[3] * x[3], masking: .causal, tiling: AttentionTiling(queries: 3, keys: 4))
            }, inputs: [inputs[0], inputs[0] * 0.5, inputs[0] * 2, generator.normal([2, 7], dtype: .float64)])
            #expect(second.passed, "\(second)")
        }
    }

    @Test("gradcheck of the fused self-attention in float64")
    func gradcheckFused() {
        var generator = RandomGenerator(seed: 8)
        let inputs = [generator.normal([1, 4, 2, 3], dtype: .float64), generator.normal([1, 6, 2, 3], dtype: .float64),
                      generator.normal([1, 6, 2, 3], dtype: .float64), generator.normal([1, 2, 4, 6], dtype: .float64)]
        let result = gradcheck({ x in
            Tensor.scaledDotProductAttention(x[0], x[1], x[2], bias: x[3], masking: AttentionMasking(causal: true, queryOffset: 2),
                                             tiling: AttentionTiling(queries: 3, keys: 4))
        }, inputs: inputs)
        #expect(result.passed, "\(result)")
    }

    @Test("attention on GPT-NeoX's packed [B, S, H, 3·D] projection equals attention on its three slices", arguments: [DType.float64, .float32])
    func packed(dtype: DType) throws {
        var generator = RandomGenerator(seed: 21)
        let (b, s, h, d) = (2, 19, 3, 8)
        let qkv = generator.normal([b, s, h, 3 * d], dtype: dtype).requiringGrad()
        let gradOutput = generator.normal([b, s, h, d], dtype: dtype)
        let keep = generator.uniform([b, s], dtype: .float64).doubles.map { $0 < 0.8 }
        for masking in [AttentionMasking.causal, AttentionMasking(causal: true, keyMask: Tensor(keep, shape: [b, s])), .none] {
            let tiling = AttentionTiling(queries: 4, keys: 8)
            let packed = Tensor.packedSelfAttention(qkv, masking: masking, tiling: tiling)
            let parts = (0..<3).map { qkv.sliced(axis: 3, $0 * d, ($0 + 1) * d).contiguous() }
            let separate = Tensor.scaledDotProductAttention(parts[0], parts[1], parts[2], masking: masking, tiling: tiling)
            // The same kernels on the same numbers: bit for bit.
            #expect(packed.doubles == separate.doubles)
            let packedGradient = try grad(of: [packed], wrt: [qkv], gradOutputs: [gradOutput])[0]!
            let separateGradient = try grad(of: [separate], wrt: [qkv], gradOutputs: [gradOutput])[0]!
            #expect(packedGradient.doubles == separateGradient.doubles)
            let reference = Tensor.scaledDotProductAttention(parts[0], parts[1], parts[2], masking: masking, method: .reference)
            #expect(relativeError(packed, reference) <= (dtype == .float64 ? 1e-12 : 1e-5))
        }
        let check = gradcheck({ x in Tensor.packedSelfAttention(x[0], masking: .causal, tiling: AttentionTiling(queries: 3, keys: 4)) },
                              inputs: [generator.normal([1, 5, 2, 9], dtype: .float64)])
        #expect(check.passed, "\(check)")
    }

    @Test("long causal sequences use O(S·D) memory, not O(S²)")
    func memory() throws {
        var generator = RandomGenerator(seed: 9)
        let (s, h, d) = (2048, 2, 16)
        let q = generator.normal([1, s, h, d]).requiringGrad(), k = generator.normal([1, s, h, d]).requiringGrad()
        let v = generator.normal([1, s, h, d]).requiringGrad()
        let scope = MemoryScope()
        try scope.measure {
            let out = Tensor.scaledDotProductAttention(q, k, v, masking: .causal)
            _ = try grad(of: [out], wrt: [q, k, v], gradOutputs: [Tensor.ones(out.shape)])
        }
        let logitsBytes = s * s * h * 4
        #expect(scope.peakBytes < logitsBytes / 8, "peak \(scope.peakBytes) bytes against \(logitsBytes) for the logits")
    }
}
