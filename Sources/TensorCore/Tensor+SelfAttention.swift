// Scaled dot-product self-attention for language and vision models (GPT-NeoX, ClimaX, Ulysses),
// fused or reference, with causal masking, an additive bias, ALiBi and a key-padding mask
// applied per tile: no S×S mask is built on the fused path.
import Kernels

/// Options of `scaledDotProductAttention` beyond Q, K and V.
public struct AttentionMasking: Sendable {
    /// Query i (at global position i + queryOffset) sees keys j ≤ i + queryOffset.
    public var causal: Bool
    /// Global position of the first query relative to the first key (a sequence shard's start).
    public var queryOffset: Int
    /// ALiBi slopes, one per head: adds slope_h·(j − (i + queryOffset)).
    public var alibiSlopes: [Double]?
    /// Keys to attend, bool `[B, Sk]` (false = padding).
    public var keyMask: Tensor?

    public init(causal: Bool = false, queryOffset: Int = 0, alibiSlopes: [Double]? = nil, keyMask: Tensor? = nil) {
        self.causal = causal
        self.queryOffset = queryOffset
        self.alibiSlopes = alibiSlopes
        self.keyMask = keyMask
    }

    public static let none = AttentionMasking()
    public static let causal = AttentionMasking(causal: true)
}

extension Tensor {
    /// softmax(scale·Q·Kᵀ + bias [+ ALiBi] with masks)·V per (b, h).
    ///
    /// - Parameters:
    ///   - q: `[B, Sq, H, D]`. - k, v: `[B, Sk, H, D]`.
    ///   - bias: broadcastable to `[B, H, Sq, Sk]`, optional, may require grad.
    ///   - scale: defaults to 1/√D.
    /// - Returns: `[B, Sq, H, D]`; rows with every key masked give 0.
    public static func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor? = nil,
                                                 masking: AttentionMasking = .none, scale: Double? = nil,
                                                 method: AttentionMethod = .fused, tiling: AttentionTiling = .standard) -> Tensor {
        precondition(q.rank == 4 && k.rank == 4 && v.shape == k.shape && q.shape[0] == k.shape[0] && q.shape[2] == k.shape[2]
                     && q.shape[3] == k.shape[3],
                     "scaledDotProductAttention: q [B, Sq, H, D] and k, v [B, Sk, H, D] do not agree: \(q.shape), \(k.shape), \(v.shape)")
        precondition(q.dtype.isFloatingPoint && k.dtype == q.dtype && v.dtype == q.dtype,
                     "scaledDotProductAttention: q, k, v must share a float dtype")
        let (b, sq, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3]), sk = k.shape[1]
        if let bias {
            _ = broadcastShape(bias.shape, [b, h, sq, sk], "scaledDotProductAttention bias")
            precondition(bias.rank <= 4 && bias.dtype == q.dtype, "scaledDotProductAttention: bias \(bias.shape) \(bias.dtype) must broadcast to [B, H, Sq, Sk] in \(q.dtype)")
        }
        if let slopes = masking.alibiSlopes { precondition(slopes.count == h, "scaledDotProductAttention: \(slopes.count) ALiBi slopes for \(h) heads") }
        if let mask = masking.keyMask { precondition(mask.shape == [b, sk] && mask.dtype == .bool, "scaledDotProductAttention: keyMask must be bool [B, Sk] = \([b, sk]), got \(mask.shape) \(mask.dtype)") }
        let scale = scale ?? 1 / Double(d).squareRoot()
        switch method {
        case .reference: return selfAttentionReference(q, k, v, bias: bias, masking: masking, scale: scale)
        case .fused: return selfAttentionFused(q, k, v, bias: bias, masking: masking, scale: scale, tiling: tiling)
        }
    }

    static func selfAttentionReference(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor?, masking: AttentionMasking,
                                       scale: Double) -> Tensor {
        let (b, sq, h) = (q.shape[0], q.shape[1], q.shape[2]), sk = k.shape[1]
        let qh = q.permuted([0, 2, 1, 3]), kh = k.permuted([0, 2, 1, 3]), vh = v.permuted([0, 2, 1, 3])
        var logits = (qh * scale).matmul(kh.mT)
        if let bias { logits = logits + bias }
        if let slopes = masking.alibiSlopes {
            var values: [Double] = []
            for slope in slopes { for i in 0..<sq { for j in 0..<sk { values.append(slope * Double(j - (i + masking.queryOffset))) } } }
            logits = logits + Tensor(values, shape: [h, sq, sk]).cast(to: q.dtype)
        }
        if masking.causal || masking.keyMask != nil {
            let keep = masking.keyMask?.scalars(as: Bool.self)
            var masked = [Bool](repeating: false, count: b * sq * sk)
            for batch in 0..<b {
                for i in 0..<sq {
                    for j in 0..<sk {
                        let future = masking.causal && j > i + masking.queryOffset
                        let padded = keep.map { !$0[batch * sk + j] } ?? false
                        masked[(batch * sq + i) * sk + j] = future || padded
                    }
                }
            }
            logits = logits.maskedFill(Tensor(masked, shape: [b, 1, sq, sk]), with: -.infinity)
        }
        return logits.softmax(axis: -1).matmul(vh).permuted([0, 2, 1, 3]).contiguous()
    }

    static func selfAttentionProblems<T: AttentionScalar & TensorFloat>(
        _ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor?, masking: AttentionMasking, keyMask: Tensor?
    ) -> (Int) -> AttentionProblem<T> {
        let (sq, h, d) = (q.shape[1], q.shape[2], q.shape[3]), sk = k.shape[1]
        let pq = q.elementPointer(T.self), pk = k.elementPointer(T.self), pv = v.elementPointer(T.self)
        let biasView: Tensor? = bias.map { $0.expandedView(to: [q.shape[0], h, sq, sk]) }
        let pb = biasView?.elementPointer(T.self)
        let pm = keyMask?.elementPointer(Bool.self)
        let slopes = masking.alibiSlopes
        return { problem in
            let batch = problem / h, head = problem % h
            var biases: [AttentionBiasView<T>] = []
            if let pb, let view = biasView {
                biases.append(AttentionBiasView(base: pb + batch * view.strides[0] + head * view.strides[1],
                                                rowStride: view.strides[2], columnStride: view.strides[3]))
            }
            return AttentionProblem(q: pq + (batch * sq * h + head) * d, k: pk + (batch * sk * h + head) * d,
                                    v: pv + (batch * sk * h + head) * d, qStride: h * d, kStride: h * d, vStride: h * d,
                                    biases: biases, keyMask: pm.map { $0 + batch * sk }, alibiSlope: T(slopes?[head] ?? 0))
        }
    }

    /// Fused forward: output `[B, Sq, H, D]` and log-sum-exp `[B, H, Sq]`.
    public static func selfAttentionForward(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor? = nil, masking: AttentionMasking = .none,
                                            scale: Double? = nil, tiling: AttentionTiling = .standard) -> (output: Tensor, lse: Tensor) {
        let (b, sq, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3]), sk = k.shape[1]
        let qc = q.contiguousStorageView(), kc = k.contiguousStorageView(), vc = v.contiguousStorageView()
        let mask = masking.keyMask?.contiguousStorageView()
        let output = Tensor(uninitializedShape: q.shape, dtype: q.dtype, zeroed: false)
        let lse = Tensor(uninitializedShape: [b, h, sq], dtype: q.dtype, zeroed: false)
        let geometry = AttentionGeometry(queries: sq, keys: sk, headDimension: d, scale: scale ?? 1 / Double(d).squareRoot(),
                                         tileQueries: tiling.queries, tileKeys: tiling.keys, causal: masking.causal,
                                         queryOffset: masking.queryOffset)
        func run<T: AttentionScalar & TensorFloat>(_: T.Type) {
            let problems = UncheckedSendable(selfAttentionProblems(qc, kc, vc, bias: bias, masking: masking, keyMask: mask) as (Int) -> AttentionProblem<T>)
            let outputs = UncheckedSendable((output.storage.pointer(as: T.self), lse.storage.pointer(as: T.self)))
            withSingleThreadedBLAS {
                parallelFor(b * h) { range in
                    let workspace = UnsafeMutablePointer<T>.allocate(capacity: attentionForwardWorkspace(geometry))
                    defer { workspace.deallocate() }
                    for problem in range {
                        let batch = problem / h, head = problem % h
                        T.attentionForward(problems.value(problem), geometry, o: outputs.value.0 + (batch * sq * h + head) * d,
                                         oStride: h * d, lse: outputs.value.1 + problem * sq, workspace: workspace)
                    }
                }
            }
        }
        if q.dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return (output, lse)
    }

    /// Fused backward: dQ, dK, dV and (when `needBias`) the bias gradient summed to the bias's shape.
    public static func selfAttentionBackward(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor?, masking: AttentionMasking,
                                             scale: Double? = nil, output: Tensor, lse: Tensor, gradOutput: Tensor, needBias: Bool,
                                             tiling: AttentionTiling = .standard) -> (dq: Tensor, dk: Tensor, dv: Tensor, dbias: Tensor?) {
        let (b, sq, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3]), sk = k.shape[1]
        let qc = q.contiguousStorageView(), kc = k.contiguousStorageView(), vc = v.contiguousStorageView()
        let mask = masking.keyMask?.contiguousStorageView()
        let oc = output.contiguousStorageView(), gc = gradOutput.detached().contiguousStorageView(), lc = lse.contiguousStorageView()
        let dq = Tensor.zeros(q.shape, dtype: q.dtype), dk = Tensor.zeros(k.shape, dtype: q.dtype), dv = Tensor.zeros(v.shape, dtype: q.dtype)
        // The bias gradient per (b, h) problem; summed to the bias's shape in a fixed order after.
        let full = needBias && bias != nil ? Tensor.zeros([b, h, sq, sk], dtype: q.dtype) : nil
        let geometry = AttentionGeometry(queries: sq, keys: sk, headDimension: d, scale: scale ?? 1 / Double(d).squareRoot(),
                                         tileQueries: tiling.queries, tileKeys: tiling.keys, causal: masking.causal,
                                         queryOffset: masking.queryOffset)
        func run<T: AttentionScalar & TensorFloat>(_: T.Type) {
            let problems = UncheckedSendable(selfAttentionProblems(qc, kc, vc, bias: bias, masking: masking, keyMask: mask) as (Int) -> AttentionProblem<T>)
            let pointers = UncheckedSendable((oc.elementPointer(T.self), gc.elementPointer(T.self), lc.elementPointer(T.self),
                                              dq.storage.pointer(as: T.self), dk.storage.pointer(as: T.self), dv.storage.pointer(as: T.self),
                                              full?.storage.pointer(as: T.self)))
            withSingleThreadedBLAS {
                parallelFor(b * h) { range in
                    let (po, pg, plse, pdq, pdk, pdv, pfull) = pointers.value
                    let workspace = UnsafeMutablePointer<T>.allocate(capacity: attentionBackwardWorkspace(geometry))
                    defer { workspace.deallocate() }
                    for problem in range {
                        let batch = problem / h, head = problem % h
                        let qBase = (batch * sq * h + head) * d, kBase = (batch * sk * h + head) * d
                        let targets = pfull.map { [AttentionBiasGradient(base: $0 + problem * sq * sk, rowStride: sk, columnStride: 1)] } ?? []
                        let gradients = AttentionGradients(dq: pdq + qBase, dk: pdk + kBase, dv: pdv + kBase, dqStride: h * d,
                                                           dkStride: h * d, dvStride: h * d, biasGradients: targets)
                        T.attentionBackward(problems.value(problem), geometry, dO: pg + qBase, doStride: h * d, o: po + qBase,
                                          oStride: h * d, lse: plse + problem * sq, gradients: gradients, workspace: workspace)
                    }
                }
            }
        }
        if q.dtype == .float32 { run(Float.self) } else { run(Double.self) }
        let dbias = full.map { $0.sumToShape(bias!.shape).detached() }
        return (dq, dk, dv, dbias)
    }

    static func selfAttentionFused(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor?, masking: AttentionMasking,
                                   scale: Double, tiling: AttentionTiling) -> Tensor {
        let (output, lse) = selfAttentionForward(q, k, v, bias: bias, masking: masking, scale: scale, tiling: tiling)
        let inputs = [q, k, v] + [bias].compactMap { $0 }
        return recording(output, "scaled-dot-product-attention", inputs) { grad in
            if GradMode.isEnabled {
                return referenceGradients(inputs, grad) {
                    selfAttentionReference($0[0], $0[1], $0[2], bias: bias == nil ? nil : $0[3], masking: masking, scale: scale)
                }
            }
            let g = selfAttentionBackward(q, k, v, bias: bias, masking: masking, scale: scale, output: output, lse: lse,
                                          gradOutput: grad, needBias: bias?.requiresGrad ?? false, tiling: tiling)
            return [g.dq, g.dk, g.dv] + (bias == nil ? [] : [g.dbias])
        }
    }
}
