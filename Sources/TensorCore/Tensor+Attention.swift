// Attention ops: DS4Sci EvoformerAttention and scaled dot-product self-attention, each with a
// fused kernel (Kernels/Attention.swift) and a reference path in plain differentiable ops
// (matmul, bias adds, softmax, matmul). The fused backward is hand-written and first-order;
// when a graph of the backward pass is recorded, gradients come from the reference path.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Kernels

/// Which implementation computes attention.
public enum AttentionMethod: String, Sendable, CaseIterable, Codable {
    /// Tiled online softmax; logits never exist beyond one tile.
    case fused
    /// The textbook composition of tensor ops; materialises every logit.
    case reference

    /// Chooses from OpenFold-style flags; more than one kernel requested is an error, as in
    /// OpenFold's `enforce_config_constraints`.
    public static func select(useDeepSpeedEvoAttention: Bool = false, useReference: Bool = false,
                              useLMA: Bool = false, useFlash: Bool = false) throws -> AttentionMethod {
        let requested = [("use_deepspeed_evo_attention", useDeepSpeedEvoAttention), ("use_reference_attention", useReference),
                         ("use_lma", useLMA), ("use_flash", useFlash)].filter(\.1).map(\.0)
        if requested.count > 1 { throw AttentionConfigurationError.conflicting(requested) }
        if useLMA || useFlash { throw AttentionConfigurationError.unavailable(requested[0]) }
        return useReference ? .reference : .fused
    }
}

public enum AttentionConfigurationError: Error, CustomStringConvertible, Equatable {
    case conflicting([String])
    case unavailable(String)

    public var description: String {
        switch self {
        case .conflicting(let flags):
            "attention kernels conflict: \(flags.joined(separator: " and ")) are all set; choose one"
        case .unavailable(let flag):
            "\(flag) is a GPU kernel that SciZoo does not have; use_deepspeed_evo_attention selects SciZoo's fused CPU kernel"
        }
    }
}

/// Tile sizes of the fused kernels (queries × keys per logits tile).
public struct AttentionTiling: Sendable, Equatable {
    public var queries: Int
    public var keys: Int
    public init(queries: Int, keys: Int) {
        self.queries = queries
        self.keys = keys
    }
    /// Measured on this machine kind (Docs/runtime/evoformer-attention.md).
    public static let standard = AttentionTiling(queries: 64, keys: 128)

    /// EvoformerAttention's default: up to 512 keys, one key tile spans every key (no online-softmax
    /// rescaling) with 32 query rows; longer rows use `standard`. Measured at AlphaFold's row and
    /// column attention shapes (L = 191 and 512, D = 32): 7–40 % faster than `standard`
    /// (Docs/runtime/evoformer-attention.md).
    ///
    /// Up to 64, one tile holds every query as well: a Graphormer molecule of 32 atoms plus its token
    /// (L = 33) otherwise runs a 32-row tile and a 1-row one; fwd+bwd at (64, 1, 33, 8, 10) took
    /// 2.2 ms instead of 2.5–3.1 ms (medians of 40, 2 threads, `scizoo bench evoformer-attention`).
    ///
    /// How long a row may be and still be one key tile follows the core's L2 cache, read at run
    /// time: the forward's working set for 32 query rows and L keys (a 32 × L float logits tile and
    /// the K and V panels of L × 32 floats) must fit in 30 % of it. Calibrated on AMD EPYC (1 MiB
    /// L2): forward at L = 768, 5–15 % faster as one tile than 64 × 128; at L = 1,024 (384 KiB)
    /// 25 % slower — so the limit is 768 there, 192 with a 256 KiB L2, 1,536 with 2 MiB; without a
    /// readable cache size, 512.
    public static func evoformer(length: Int) -> AttentionTiling {
        if length <= 64 { return AttentionTiling(queries: Swift.max(1, length), keys: Swift.max(1, length)) }
        return length <= wholeRowLimit ? AttentionTiling(queries: 32, keys: length) : .standard
    }

    /// The longest row one key tile spans (see `evoformer(length:)`).
    public static let wholeRowLimit: Int = {
        guard let cache = MachineProbes.level2CacheBytes else { return 512 }
        let bytesPerKey = 4 * (32 + 2 * 32)  // a 32-row logits column, one K and one V row of D = 32
        return Swift.max(128, cache * 3 / 10 / bytesPerKey / 64 * 64)
    }()
}

extension Tensor {
    // MARK: EvoformerAttention

    /// `softmax(Q·Kᵀ/√D + bias1 + bias2)·V` per (b, n, h), as DS4Sci_EvoformerAttention.
    ///
    /// - Parameters:
    ///   - q, k, v: `[B, N, L, H, D]`, unscaled (1/√D is applied inside).
    ///   - biases: up to two, each optional: bias1 `[B, N, 1, 1, L]` (mask bias, e.g.
    ///     1e9·(mask − 1) or −∞), bias2 `[B, 1, H, L, L]` (pair bias).
    /// - Returns: `[B, N, L, H, D]`. Rows whose keys are all −∞ give 0 (and zero gradients).
    public static func evoformerAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, biases: [Tensor?] = [],
                                          method: AttentionMethod = .fused, tiling: AttentionTiling? = nil) -> Tensor {
        let tiling = tiling ?? .evoformer(length: q.shape[2])
        let (bias1, bias2) = validateEvoformer(q, k, v, biases)
        switch method {
        case .reference: return evoformerReference(q, k, v, bias1, bias2)
        case .fused: return evoformerFused(q, k, v, bias1, bias2, tiling: tiling)
        }
    }

    static func validateEvoformer(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ biases: [Tensor?]) -> (Tensor?, Tensor?) {
        precondition(q.rank == 5 && k.shape == q.shape && v.shape == q.shape,
                     "evoformerAttention: q, k, v must share one [B, N, L, H, D] shape, got \(q.shape), \(k.shape), \(v.shape)")
        precondition(q.dtype.isFloatingPoint && k.dtype == q.dtype && v.dtype == q.dtype,
                     "evoformerAttention: q, k, v must share float32 or float64, got \(q.dtype), \(k.dtype), \(v.dtype)")
        return validateEvoformerBiases(biases, b: q.shape[0], n: q.shape[1], l: q.shape[2], h: q.shape[3], dtype: q.dtype)
    }

    static func validateEvoformerBiases(_ biases: [Tensor?], b: Int, n: Int, l: Int, h: Int, dtype: DType) -> (Tensor?, Tensor?) {
        precondition(biases.count <= 2, "evoformerAttention: at most two biases, got \(biases.count)")
        let bias1 = biases.count > 0 ? biases[0] : nil, bias2 = biases.count > 1 ? biases[1] : nil
        if let bias1 {
            precondition(bias1.shape == [b, n, 1, 1, l] && bias1.dtype == dtype,
                         "evoformerAttention: bias1 must be [B, N, 1, 1, L] = \([b, n, 1, 1, l]) \(dtype), got \(bias1.shape) \(bias1.dtype)")
        }
        if let bias2 {
            precondition(bias2.shape == [b, 1, h, l, l] && bias2.dtype == dtype,
                         "evoformerAttention: bias2 must be [B, 1, H, L, L] = \([b, 1, h, l, l]) \(dtype), got \(bias2.shape) \(bias2.dtype)")
        }
        return (bias1, bias2)
    }

    /// The reference: transpose to `[B, N, H, L, D]`, matmul, add biases, softmax, matmul.
    static func evoformerReference(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ bias1: Tensor?, _ bias2: Tensor?) -> Tensor {
        let scale = 1 / Double(q.shape[4]).squareRoot()
        let qh = q.permuted([0, 1, 3, 2, 4]), kh = k.permuted([0, 1, 3, 2, 4]), vh = v.permuted([0, 1, 3, 2, 4])
        var logits = (qh * scale).matmul(kh.mT)
        if let bias1 { logits = logits + bias1 }
        if let bias2 { logits = logits + bias2 }
        return logits.softmax(axis: -1).matmul(vh).permuted([0, 1, 3, 2, 4]).contiguous()
    }

    /// Fused forward, returning the output `[B, N, L, H, D]` and the log-sum-exp `[B, N, H, L]`.
    public static func evoformerAttentionForward(_ q: Tensor, _ k: Tensor, _ v: Tensor, biases: [Tensor?] = [],
                                                 tiling: AttentionTiling? = nil) -> (output: Tensor, lse: Tensor) {
        let tiling = tiling ?? .evoformer(length: q.shape[2])
        let (bias1, bias2) = validateEvoformer(q, k, v, biases)
        return evoformerKernelForward(q, k, v, bias1, bias2, tiling: tiling)
    }

    static func evoformerKernelForward(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ bias1: Tensor?, _ bias2: Tensor?,
                                       tiling: AttentionTiling) -> (output: Tensor, lse: Tensor) {
        let (b, n, l, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3], q.shape[4])
        let operands = EvoformerOperands(q: q.contiguousStorageView(), k: k.contiguousStorageView(), v: v.contiguousStorageView(),
                                         b: b, n: n, l: l, h: h, d: d, rowStride: h * d)
        return evoformerForwardCore(operands, bias1, bias2, tiling: tiling)
    }

    static func evoformerForwardCore(_ x: EvoformerOperands, _ bias1: Tensor?, _ bias2: Tensor?,
                                     tiling: AttentionTiling) -> (output: Tensor, lse: Tensor) {
        let (bCount, nCount, l, h, d, stride) = (x.b, x.n, x.l, x.h, x.d, x.rowStride)
        let b1 = bias1?.contiguousStorageView(), b2 = bias2?.contiguousStorageView()
        let output = Tensor(uninitializedShape: [bCount, nCount, l, h, d], dtype: x.q.dtype, zeroed: false)
        let lse = Tensor(uninitializedShape: [bCount, nCount, h, l], dtype: x.q.dtype, zeroed: false)
        let geometry = AttentionGeometry(queries: l, keys: l, headDimension: d, scale: 1 / Double(d).squareRoot(),
                                         tileQueries: tiling.queries, tileKeys: tiling.keys)
        func run<T: AttentionScalar & TensorFloat>(_: T.Type) {
            let pq = x.q.elementPointer(T.self) + x.qShift, pk = x.k.elementPointer(T.self) + x.kShift, pv = x.v.elementPointer(T.self) + x.vShift
            let pb1 = b1?.elementPointer(T.self), pb2 = b2?.elementPointer(T.self)
            let po = output.storage.pointer(as: T.self), plse = lse.storage.pointer(as: T.self)
            let shared = UncheckedSendable((pq, pk, pv, pb1, pb2, po, plse))
            parallelFor(bCount * nCount * h) { range in
                let (pq, pk, pv, pb1, pb2, po, plse) = shared.value
                let workspace = UnsafeMutablePointer<T>.allocate(capacity: attentionForwardWorkspace(geometry))
                defer { workspace.deallocate() }
                for problem in range {
                    let bn = problem / h, head = problem % h, batch = bn / nCount
                    let operands = evoformerProblem(q: pq, k: pk, v: pv, bias1: pb1, bias2: pb2, bn: bn, batch: batch, head: head,
                                                    l: l, h: h, d: d, stride: stride)
                    T.attentionForward(operands, geometry, o: po + (bn * l * h + head) * d, oStride: h * d, lse: plse + problem * l,
                                       workspace: workspace)
                }
            }
        }
        if x.q.dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return (output, lse)
    }

    /// The problem of row group bn = b·N + n and one head in the `[B, N, L, H, D]` layout, with
    /// bias1 `[B, N, 1, 1, L]` (one row, broadcast over queries) and bias2 `[B, 1, H, L, L]`.
    /// `stride` is the distance between rows of q, k and v: H·D, or 3·H·D when they are packed.
    static func evoformerProblem<T: AttentionScalar>(q: UnsafePointer<T>, k: UnsafePointer<T>, v: UnsafePointer<T>, bias1: UnsafePointer<T>?,
                                                     bias2: UnsafePointer<T>?, bn: Int, batch: Int, head: Int, l: Int, h: Int, d: Int,
                                                     stride: Int) -> AttentionProblem<T>
    {
        let base = bn * l * stride + head * d
        var biases: [AttentionBiasView<T>] = []
        if let bias1 { biases.append(AttentionBiasView(base: bias1 + bn * l, rowStride: 0, columnStride: 1)) }
        if let bias2 { biases.append(AttentionBiasView(base: bias2 + (batch * h + head) * l * l, rowStride: l, columnStride: 1)) }
        return AttentionProblem(q: q + base, k: k + base, v: v + base, qStride: stride, kStride: stride, vStride: stride, biases: biases)
    }

    /// Fused backward: dQ, dK, dV, and dBias1 = Σ_h Σ_i dS, dBias2 = Σ_n dS when requested.
    public static func evoformerAttentionBackward(_ q: Tensor, _ k: Tensor, _ v: Tensor, biases: [Tensor?], output: Tensor,
                                                  lse: Tensor, gradOutput: Tensor, needBias1: Bool, needBias2: Bool,
                                                  tiling: AttentionTiling? = nil) -> (dq: Tensor, dk: Tensor, dv: Tensor, dbias1: Tensor?, dbias2: Tensor?) {
        let tiling = tiling ?? .evoformer(length: q.shape[2])
        let (bias1, bias2) = validateEvoformer(q, k, v, biases)
        let (b, n, l, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3], q.shape[4])
        let operands = EvoformerOperands(q: q.contiguousStorageView(), k: k.contiguousStorageView(), v: v.contiguousStorageView(),
                                         b: b, n: n, l: l, h: h, d: d, rowStride: h * d)
        let dq = Tensor.zeros(q.shape, dtype: q.dtype), dk = Tensor.zeros(q.shape, dtype: q.dtype), dv = Tensor.zeros(q.shape, dtype: q.dtype)
        let gradients = EvoformerOperands(q: dq, k: dk, v: dv, b: b, n: n, l: l, h: h, d: d, rowStride: h * d)
        let (dbias1, dbias2) = evoformerBackwardCore(operands, bias1, bias2, output: output, lse: lse, gradOutput: gradOutput, into: gradients,
                                                     needBias1: needBias1, needBias2: needBias2, tiling: tiling)
        return (dq, dk, dv, dbias1, dbias2)
    }

    /// Accumulates dQ, dK, dV into `gradients` (zeroed, laid out as `x`) and returns dBias1, dBias2 when requested.
    static func evoformerBackwardCore(_ x: EvoformerOperands, _ bias1: Tensor?, _ bias2: Tensor?, output: Tensor, lse: Tensor,
                                      gradOutput: Tensor, into gradients: EvoformerOperands, needBias1: Bool, needBias2: Bool,
                                      tiling: AttentionTiling) -> (dbias1: Tensor?, dbias2: Tensor?) {
        let (bCount, nCount, l, h, d, stride) = (x.b, x.n, x.l, x.h, x.d, x.rowStride)
        let dtype = x.q.dtype
        let b1 = bias1?.contiguousStorageView(), b2 = bias2?.contiguousStorageView()
        let oc = output.contiguousStorageView(), gc = gradOutput.detached().contiguousStorageView(), lc = lse.contiguousStorageView()
        // dBias1 partials per head, summed over heads in order afterwards (no atomics, no races).
        let partial1 = needBias1 && bias1 != nil ? Tensor.zeros([h, bCount, nCount, l], dtype: dtype) : nil
        let dbias2 = needBias2 && bias2 != nil ? Tensor.zeros([bCount, 1, h, l, l], dtype: dtype) : nil
        let geometry = AttentionGeometry(queries: l, keys: l, headDimension: d, scale: 1 / Double(d).squareRoot(),
                                         tileQueries: tiling.queries, tileKeys: tiling.keys)
        func run<T: AttentionScalar & TensorFloat>(_: T.Type) {
            let inputs = UncheckedSendable((x.q.elementPointer(T.self) + x.qShift, x.k.elementPointer(T.self) + x.kShift,
                                            x.v.elementPointer(T.self) + x.vShift, b1?.elementPointer(T.self), b2?.elementPointer(T.self),
                                            oc.elementPointer(T.self), gc.elementPointer(T.self), lc.elementPointer(T.self)))
            func target(_ t: Tensor, _ shift: Int) -> UnsafeMutablePointer<T> { t.storage.pointer(as: T.self) + t.offset + shift }
            let outputs = UncheckedSendable((target(gradients.q, gradients.qShift), target(gradients.k, gradients.kShift),
                                             target(gradients.v, gradients.vShift),
                                             partial1?.storage.pointer(as: T.self), dbias2?.storage.pointer(as: T.self)))
            // One unit per (b, h): it owns dBias2[b, 0, h] and its head's columns of dQ, dK, dV, and loops over n in order.
            parallelFor(bCount * h) { range in
                let (pq, pk, pv, pb1, pb2, po, pg, plse) = inputs.value
                let (pdq, pdk, pdv, pp1, pdb2) = outputs.value
                let workspace = UnsafeMutablePointer<T>.allocate(capacity: attentionBackwardWorkspace(geometry))
                defer { workspace.deallocate() }
                for unit in range {
                    let batch = unit / h, head = unit % h
                    for n in 0..<nCount {
                        let bn = batch * nCount + n
                        let base = bn * l * stride + head * d, outputBase = (bn * l * h + head) * d
                        let operands = evoformerProblem(q: pq, k: pk, v: pv, bias1: pb1, bias2: pb2, bn: bn, batch: batch, head: head,
                                                        l: l, h: h, d: d, stride: stride)
                        var targets: [AttentionBiasGradient<T>] = []
                        if let pp1 { targets.append(AttentionBiasGradient(base: pp1 + ((head * bCount + batch) * nCount + n) * l, rowStride: 0, columnStride: 1)) }
                        if let pdb2 { targets.append(AttentionBiasGradient(base: pdb2 + (batch * h + head) * l * l, rowStride: l, columnStride: 1)) }
                        let problemGradients = AttentionGradients(dq: pdq + base, dk: pdk + base, dv: pdv + base, dqStride: stride,
                                                                  dkStride: stride, dvStride: stride, biasGradients: targets)
                        T.attentionBackward(operands, geometry, dO: pg + outputBase, doStride: h * d, o: po + outputBase, oStride: h * d,
                                            lse: plse + (bn * h + head) * l, gradients: problemGradients, workspace: workspace)
                    }
                }
            }
        }
        if dtype == .float32 { run(Float.self) } else { run(Double.self) }
        let dbias1 = partial1.map { $0.reduceKernel(.sum, axes: [0]).reshaped([bCount, nCount, 1, 1, l]).detached() }
        return (dbias1, dbias2)
    }

    static func evoformerFused(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ bias1: Tensor?, _ bias2: Tensor?,
                               tiling: AttentionTiling) -> Tensor {
        let (output, lse) = evoformerKernelForward(q, k, v, bias1, bias2, tiling: tiling)
        let inputs = [q, k, v] + [bias1, bias2].compactMap { $0 }
        return recording(output, "evoformer-attention", inputs) { grad in
            if GradMode.isEnabled {
                // Gradients of gradients: differentiate the reference formula instead.
                return referenceGradients(inputs, grad) { evoformerReference($0[0], $0[1], $0[2], bias1 == nil ? nil : $0[3],
                                                                           bias2 == nil ? nil : $0[bias1 == nil ? 3 : 4]) }
            }
            let g = evoformerAttentionBackward(q, k, v, biases: [bias1, bias2], output: output, lse: lse, gradOutput: grad,
                                               needBias1: bias1?.needsGradient ?? false, needBias2: bias2?.needsGradient ?? false,
                                               tiling: tiling)
            var result: [Tensor?] = [g.dq, g.dk, g.dv]
            if bias1 != nil { result.append(g.dbias1) }
            if bias2 != nil { result.append(g.dbias2) }
            return result
        }
    }

    /// EvoformerAttention on q, k and v packed along the last axis, as one projection to 3·H·D gives them.
    ///
    /// - Parameters:
    ///   - qkv: `[B, N, L, 3·H·D]`: q, then k, then v, each `[H, D]` (unscaled).
    ///   - heads: H.
    ///   - biases: as `evoformerAttention`: bias1 `[B, N, 1, 1, L]`, bias2 `[B, 1, H, L, L]`.
    /// - Returns: `[B, N, L, H·D]`. The kernel reads q, k and v in place and writes their gradient as
    ///   one `[B, N, L, 3·H·D]` tensor: no split copies forward, no scatter of three gradients backward.
    public static func evoformerAttention(packed qkv: Tensor, heads: Int, biases: [Tensor?] = [], method: AttentionMethod = .fused,
                                          tiling: AttentionTiling? = nil) -> Tensor {
        precondition(qkv.rank == 4 && heads >= 1 && qkv.shape[3] % (3 * heads) == 0,
                     "evoformerAttention: packed qkv must be [B, N, L, 3·H·D] with H = \(heads), got \(qkv.shape)")
        let (b, n, l) = (qkv.shape[0], qkv.shape[1], qkv.shape[2]), d = qkv.shape[3] / (3 * heads), c = heads * d
        func part(_ index: Int) -> Tensor { qkv.sliced(axis: 3, index * c, (index + 1) * c).reshaped([b, n, l, heads, d]) }
        if method == .reference {
            return evoformerAttention(part(0), part(1), part(2), biases: biases, method: .reference).reshaped([b, n, l, c])
        }
        let tiling = tiling ?? .evoformer(length: l)
        precondition(qkv.dtype.isFloatingPoint, "evoformerAttention: packed qkv must be float32 or float64, got \(qkv.dtype)")
        let (bias1, bias2) = validateEvoformerBiases(biases, b: b, n: n, l: l, h: heads, dtype: qkv.dtype)
        let dense = qkv.contiguousStorageView()
        let operands = EvoformerOperands(packed: dense, b: b, n: n, l: l, h: heads, d: d)
        let (output, lse) = evoformerForwardCore(operands, bias1, bias2, tiling: tiling)
        let inputs = [qkv] + [bias1, bias2].compactMap { $0 }
        return recording(output.reshaped([b, n, l, c]), "evoformer-attention", inputs) { grad in
            if GradMode.isEnabled {
                return referenceGradients(inputs, grad.reshaped([b, n, l, heads, d])) {
                    let packed = $0[0]
                    func split(_ index: Int) -> Tensor { packed.sliced(axis: 3, index * c, (index + 1) * c).reshaped([b, n, l, heads, d]) }
                    return evoformerReference(split(0), split(1), split(2), bias1 == nil ? nil : $0[1], bias2 == nil ? nil : $0[bias1 == nil ? 1 : 2])
                }
            }
            let dqkv = Tensor.zeros(qkv.shape, dtype: qkv.dtype)
            let g = evoformerBackwardCore(operands, bias1, bias2, output: output, lse: lse, gradOutput: grad.reshaped([b, n, l, heads, d]),
                                          into: EvoformerOperands(packed: dqkv, b: b, n: n, l: l, h: heads, d: d),
                                          needBias1: bias1?.needsGradient ?? false, needBias2: bias2?.needsGradient ?? false, tiling: tiling)
            var result: [Tensor?] = [dqkv]
            if bias1 != nil { result.append(g.dbias1) }
            if bias2 != nil { result.append(g.dbias2) }
            return result
        }
    }

    /// Gradients of `reference(inputs)` weighted by `grad`, recorded for higher orders.
    static func referenceGradients(_ inputs: [Tensor], _ grad: Tensor, _ reference: ([Tensor]) -> Tensor) -> [Tensor?] {
        let differentiable = inputs.enumerated().filter(\.element.needsGradient)
        let output = reference(inputs)
        guard output.requiresGrad else { return inputs.map { _ in nil } }
        let grads = (try? Autograd.gradients(of: output, wrt: differentiable.map(\.element), seed: grad)) ?? []
        var result = [Tensor?](repeating: nil, count: inputs.count)
        for (slot, (index, _)) in differentiable.enumerated() where slot < grads.count { result[index] = grads[slot] }
        return result
    }

    func elementPointer<T>(_: T.Type) -> UnsafePointer<T> {
        UnsafePointer(storage.pointer(as: T.self) + offset)
    }
}

extension Autograd {
    /// Gradients of `output` (weighted by `seed`) with respect to tensors that require grad,
    /// recording the computation when grad mode is on.
    static func gradients(of output: Tensor, wrt inputs: [Tensor], seed: Tensor) throws -> [Tensor?] {
        try grad(of: [output], wrt: inputs, gradOutputs: [seed], createGraph: GradMode.isEnabled, allowUnused: true)
    }
}

/// Where q, k and v of one EvoformerAttention call live: three `[B, N, L, H, D]` tensors (row stride
/// H·D), or one packed `[B, N, L, 3·H·D]` tensor (row stride 3·H·D, k and v H·D and 2·H·D along).
/// The same addressing serves their gradients.
struct EvoformerOperands {
    let q: Tensor, k: Tensor, v: Tensor
    let qShift: Int, kShift: Int, vShift: Int
    let b: Int, n: Int, l: Int, h: Int, d: Int
    let rowStride: Int

    init(q: Tensor, k: Tensor, v: Tensor, b: Int, n: Int, l: Int, h: Int, d: Int, rowStride: Int) {
        (self.q, self.k, self.v) = (q, k, v)
        (qShift, kShift, vShift) = (0, 0, 0)
        (self.b, self.n, self.l, self.h, self.d, self.rowStride) = (b, n, l, h, d, rowStride)
    }

    init(packed: Tensor, b: Int, n: Int, l: Int, h: Int, d: Int) {
        (q, k, v) = (packed, packed, packed)
        (qShift, kShift, vShift) = (0, h * d, 2 * h * d)
        (self.b, self.n, self.l, self.h, self.d, rowStride) = (b, n, l, h, d, 3 * h * d)
    }
}
