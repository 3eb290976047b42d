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
    ///   - relativeBias: `[H, Sq + Sk − 1]`, a bias depending on j − i only (T5's buckets): query i and
    ///     key j add `relativeBias[h, j − i + Sq − 1]`, per tile on the fused path; may require grad.
    ///   - scale: defaults to 1/√D.
    /// - Returns: `[B, Sq, H, D]`; rows with every key masked give 0.
    public static func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor? = nil, relativeBias: Tensor? = nil,
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
        checkRelativeBias(relativeBias, heads: h, queries: sq, keys: sk, dtype: q.dtype)
        if let mask = masking.keyMask { precondition(mask.shape == [b, sk] && mask.dtype == .bool, "scaledDotProductAttention: keyMask must be bool [B, Sk] = \([b, sk]), got \(mask.shape) \(mask.dtype)") }
        let scale = scale ?? 1 / Double(d).squareRoot()
        switch method {
        case .reference: return selfAttentionReference(q, k, v, bias: bias, relativeBias: relativeBias, masking: masking, scale: scale)
        case .fused: return selfAttentionFused(q, k, v, bias: bias, relativeBias: relativeBias, masking: masking, scale: scale, tiling: tiling)
        }
    }

    static func checkRelativeBias(_ relativeBias: Tensor?, heads h: Int, queries sq: Int, keys sk: Int, dtype: DType) {
        guard let relativeBias else { return }
        precondition(relativeBias.shape == [h, sq + sk - 1] && relativeBias.dtype == dtype,
                     "attention: relativeBias must be [H, Sq + Sk − 1] = \([h, sq + sk - 1]) in \(dtype), got \(relativeBias.shape) \(relativeBias.dtype)")
    }

    /// The `[H, Sq, Sk]` tensor a relative bias `[H, Sq + Sk − 1]` stands for (reference path and tests).
    public static func expandRelativeBias(_ relativeBias: Tensor, queries sq: Int, keys sk: Int) -> Tensor {
        let index = Tensor((0..<sq).flatMap { i in (0..<sk).map { j in Int64(j - i + sq - 1) } })
        return relativeBias.indexSelect(axis: 1, index).reshaped([relativeBias.shape[0], sq, sk])
    }

    static func selfAttentionReference(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor?, relativeBias: Tensor? = nil,
                                       masking: AttentionMasking, scale: Double) -> Tensor {
        let (b, sq, h) = (q.shape[0], q.shape[1], q.shape[2]), sk = k.shape[1]
        let qh = q.permuted([0, 2, 1, 3]), kh = k.permuted([0, 2, 1, 3]), vh = v.permuted([0, 2, 1, 3])
        var logits = (qh * scale).matmul(kh.mT)
        if let bias { logits = logits + bias }
        if let relativeBias { logits = logits + expandRelativeBias(relativeBias, queries: sq, keys: sk) }
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

    /// Element strides of one operand of every (b, h) problem: rows (positions) are `position`
    /// apart, and a problem starts at `base + b·batch + h·head`.
    struct HeadRows {
        var base: Int
        var batch: Int
        var position: Int
        var head: Int

        init(base: Int = 0, batch: Int, position: Int, head: Int) {
            self.base = base
            self.batch = batch
            self.position = position
            self.head = head
        }

        /// `[B, S, H, D]`, contiguous.
        static func separate(length: Int, heads: Int, width: Int) -> HeadRows {
            HeadRows(batch: length * heads * width, position: heads * width, head: width)
        }

        /// Part `part` (0 = q, 1 = k, 2 = v) of `[B, S, H, 3·D]`, GPT-NeoX's fused per-head layout.
        static func packed(part: Int, length: Int, heads: Int, width: Int) -> HeadRows {
            HeadRows(base: part * width, batch: length * heads * 3 * width, position: heads * 3 * width, head: 3 * width)
        }

        func start(_ batch: Int, _ head: Int) -> Int { base + batch * self.batch + head * self.head }
    }

    /// Pointers and row layouts of q, k and v (or of their gradients).
    struct HeadOperands<T>: @unchecked Sendable {
        var q: UnsafeMutablePointer<T>, k: UnsafeMutablePointer<T>, v: UnsafeMutablePointer<T>
        var qRows: HeadRows, kRows: HeadRows, vRows: HeadRows
    }

    /// q, k, v as the kernels read them: contiguous copies where needed, or the packed tensor.
    static func headOperands<T: TensorFloat>(_ q: Tensor, _ k: Tensor, _ v: Tensor) -> (HeadOperands<T>, keepAlive: [Tensor]) {
        let (sq, h, d) = (q.shape[1], q.shape[2], q.shape[3]), sk = k.shape[1]
        let qc = q.contiguousStorageView(), kc = k.contiguousStorageView(), vc = v.contiguousStorageView()
        return (HeadOperands(q: .init(mutating: qc.elementPointer(T.self)), k: .init(mutating: kc.elementPointer(T.self)),
                             v: .init(mutating: vc.elementPointer(T.self)),
                             qRows: .separate(length: sq, heads: h, width: d), kRows: .separate(length: sk, heads: h, width: d),
                             vRows: .separate(length: sk, heads: h, width: d)), [qc, kc, vc])
    }

    static func packedOperands<T: TensorFloat>(_ qkv: Tensor) -> (HeadOperands<T>, keepAlive: [Tensor]) {
        let (s, h, d) = (qkv.shape[1], qkv.shape[2], qkv.shape[3] / 3)
        let dense = qkv.contiguousStorageView()
        let p = UnsafeMutablePointer(mutating: dense.elementPointer(T.self))
        return (HeadOperands(q: p, k: p, v: p, qRows: .packed(part: 0, length: s, heads: h, width: d),
                             kRows: .packed(part: 1, length: s, heads: h, width: d), vRows: .packed(part: 2, length: s, heads: h, width: d)),
                [dense])
    }

    static func selfAttentionProblems<T: AttentionScalar & TensorFloat>(
        _ operands: HeadOperands<T>, batch b: Int, queries sq: Int, keys sk: Int, heads h: Int, bias: Tensor?, relativeBias: Tensor?,
        masking: AttentionMasking, keyMask: Tensor?
    ) -> (Int) -> AttentionProblem<T> {
        let biasView: Tensor? = bias.map { $0.expandedView(to: [b, h, sq, sk]) }
        let pb = biasView?.elementPointer(T.self)
        let pr = relativeBias?.elementPointer(T.self)  // contiguous [H, Sq + Sk − 1]
        let pm = keyMask?.elementPointer(Bool.self)
        let slopes = masking.alibiSlopes
        return { problem in
            let batch = problem / h, head = problem % h
            var biases: [AttentionBiasView<T>] = []
            if let pb, let view = biasView {
                biases.append(AttentionBiasView(base: pb + batch * view.strides[0] + head * view.strides[1],
                                                rowStride: view.strides[2], columnStride: view.strides[3]))
            }
            return AttentionProblem(q: UnsafePointer(operands.q + operands.qRows.start(batch, head)),
                                    k: UnsafePointer(operands.k + operands.kRows.start(batch, head)),
                                    v: UnsafePointer(operands.v + operands.vRows.start(batch, head)), qStride: operands.qRows.position,
                                    kStride: operands.kRows.position, vStride: operands.vRows.position,
                                    biases: biases, keyMask: pm.map { $0 + batch * sk }, alibiSlope: T(slopes?[head] ?? 0),
                                    relative: pr.map { $0 + head * (sq + sk - 1) })
        }
    }

    /// Fused forward: output `[B, Sq, H, D]` and log-sum-exp `[B, H, Sq]`.
    public static func selfAttentionForward(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor? = nil, relativeBias: Tensor? = nil,
                                            masking: AttentionMasking = .none, scale: Double? = nil,
                                            tiling: AttentionTiling = .standard) -> (output: Tensor, lse: Tensor) {
        let (b, sq, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3]), sk = k.shape[1]
        if q.dtype == .float32 {
            let (operands, alive) = headOperands(q, k, v) as (HeadOperands<Float>, [Tensor])
            return withExtendedLifetime(alive) {
                selfAttentionForward(operands, batch: b, queries: sq, keys: sk, heads: h, width: d, dtype: q.dtype, bias: bias,
                                     relativeBias: relativeBias, masking: masking, scale: scale, tiling: tiling)
            }
        }
        let (operands, alive) = headOperands(q, k, v) as (HeadOperands<Double>, [Tensor])
        return withExtendedLifetime(alive) {
            selfAttentionForward(operands, batch: b, queries: sq, keys: sk, heads: h, width: d, dtype: q.dtype, bias: bias,
                                 relativeBias: relativeBias, masking: masking, scale: scale, tiling: tiling)
        }
    }

    static func selfAttentionForward<T: AttentionScalar & TensorFloat>(
        _ operands: HeadOperands<T>, batch b: Int, queries sq: Int, keys sk: Int, heads h: Int, width d: Int, dtype: DType, bias: Tensor?,
        relativeBias: Tensor?, masking: AttentionMasking, scale: Double?, tiling: AttentionTiling
    ) -> (output: Tensor, lse: Tensor) {
        let mask = masking.keyMask?.contiguousStorageView()
        let relative = relativeBias?.contiguousStorageView()
        let output = Tensor(uninitializedShape: [b, sq, h, d], dtype: dtype, zeroed: false)
        let lse = Tensor(uninitializedShape: [b, h, sq], dtype: dtype, zeroed: false)
        let geometry = AttentionGeometry(queries: sq, keys: sk, headDimension: d, scale: scale ?? 1 / Double(d).squareRoot(),
                                         tileQueries: tiling.queries, tileKeys: tiling.keys, causal: masking.causal,
                                         queryOffset: masking.queryOffset)
        let problems = UncheckedSendable(selfAttentionProblems(operands, batch: b, queries: sq, keys: sk, heads: h, bias: bias,
                                                               relativeBias: relative, masking: masking, keyMask: mask))
        let outputs = UncheckedSendable((output.storage.pointer(as: T.self), lse.storage.pointer(as: T.self)))
        parallelFor(b * h) { range in
            let workspace = UnsafeMutablePointer<T>.allocate(capacity: attentionForwardWorkspace(geometry))
            defer { workspace.deallocate() }
            for problem in range {
                let batch = problem / h, head = problem % h
                T.attentionForward(problems.value(problem), geometry, o: outputs.value.0 + (batch * sq * h + head) * d,
                                   oStride: h * d, lse: outputs.value.1 + problem * sq, workspace: workspace)
            }
        }
        return withExtendedLifetime((mask, relative)) { (output, lse) }
    }

    /// Fused backward: dQ, dK, dV, (when `needBias`) the bias gradient summed to the bias's shape and
    /// (when `needRelative`) the relative bias's gradient `[H, Sq + Sk − 1]`.
    public static func selfAttentionBackward(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor?, relativeBias: Tensor? = nil,
                                             masking: AttentionMasking, scale: Double? = nil, output: Tensor, lse: Tensor,
                                             gradOutput: Tensor, needBias: Bool, needRelative: Bool = false, tiling: AttentionTiling = .standard)
        -> (dq: Tensor, dk: Tensor, dv: Tensor, dbias: Tensor?, drelative: Tensor?) {
        let (b, sq, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3]), sk = k.shape[1]
        let dq = Tensor.zeros(q.shape, dtype: q.dtype), dk = Tensor.zeros(k.shape, dtype: q.dtype), dv = Tensor.zeros(v.shape, dtype: q.dtype)
        func run<T: AttentionScalar & TensorFloat>(_: T.Type) -> (Tensor?, Tensor?) {
            let (operands, alive) = headOperands(q, k, v) as (HeadOperands<T>, [Tensor])
            let gradients = HeadOperands(q: dq.storage.pointer(as: T.self), k: dk.storage.pointer(as: T.self), v: dv.storage.pointer(as: T.self),
                                         qRows: operands.qRows, kRows: operands.kRows, vRows: operands.vRows)
            return withExtendedLifetime(alive) {
                selfAttentionBackward(operands, gradients: gradients, batch: b, queries: sq, keys: sk, heads: h, width: d, bias: bias,
                                      relativeBias: relativeBias, masking: masking, scale: scale, output: output, lse: lse,
                                      gradOutput: gradOutput, needBias: needBias, needRelative: needRelative, tiling: tiling)
            }
        }
        let (dbias, drelative) = q.dtype == .float32 ? run(Float.self) : run(Double.self)
        return (dq, dk, dv, dbias, drelative)
    }

    /// Accumulates dQ, dK, dV into `gradients` (zeroed by the caller); returns the bias gradients.
    static func selfAttentionBackward<T: AttentionScalar & TensorFloat>(
        _ operands: HeadOperands<T>, gradients: HeadOperands<T>, batch b: Int, queries sq: Int, keys sk: Int, heads h: Int, width d: Int,
        bias: Tensor?, relativeBias: Tensor?, masking: AttentionMasking, scale: Double?, output: Tensor, lse: Tensor, gradOutput: Tensor,
        needBias: Bool, needRelative: Bool, tiling: AttentionTiling
    ) -> (Tensor?, Tensor?) {
        let mask = masking.keyMask?.contiguousStorageView()
        let relative = relativeBias?.contiguousStorageView()
        // The relative bias's gradient per (b, h) problem, summed over the batch in order after.
        let span = sq + sk - 1
        let relativeFull = needRelative && relativeBias != nil ? Tensor.zeros([b, h, span], dtype: output.dtype) : nil
        let oc = output.contiguousStorageView(), gc = gradOutput.detached().contiguousStorageView(), lc = lse.contiguousStorageView()
        // The bias gradient per (b, h) problem; summed to the bias's shape in a fixed order after.
        let full = needBias && bias != nil ? Tensor.zeros([b, h, sq, sk], dtype: output.dtype) : nil
        let geometry = AttentionGeometry(queries: sq, keys: sk, headDimension: d, scale: scale ?? 1 / Double(d).squareRoot(),
                                         tileQueries: tiling.queries, tileKeys: tiling.keys, causal: masking.causal,
                                         queryOffset: masking.queryOffset)
        let problems = UncheckedSendable(selfAttentionProblems(operands, batch: b, queries: sq, keys: sk, heads: h, bias: bias,
                                                               relativeBias: relative, masking: masking, keyMask: mask))
        let pointers = UncheckedSendable((oc.elementPointer(T.self), gc.elementPointer(T.self), lc.elementPointer(T.self),
                                          full?.storage.pointer(as: T.self), gradients, relativeFull?.storage.pointer(as: T.self)))
        parallelFor(b * h) { range in
            let (po, pg, plse, pfull, g, prelative) = pointers.value
            let workspace = UnsafeMutablePointer<T>.allocate(capacity: attentionBackwardWorkspace(geometry))
            defer { workspace.deallocate() }
            for problem in range {
                let batch = problem / h, head = problem % h
                let outputBase = (batch * sq * h + head) * d
                let targets = pfull.map { [AttentionBiasGradient(base: $0 + problem * sq * sk, rowStride: sk, columnStride: 1)] } ?? []
                let problemGradients = AttentionGradients(
                    dq: g.q + g.qRows.start(batch, head), dk: g.k + g.kRows.start(batch, head), dv: g.v + g.vRows.start(batch, head),
                    dqStride: g.qRows.position, dkStride: g.kRows.position, dvStride: g.vRows.position, biasGradients: targets,
                    relativeGradient: prelative.map { $0 + problem * span })
                T.attentionBackward(problems.value(problem), geometry, dO: pg + outputBase, doStride: h * d, o: po + outputBase,
                                    oStride: h * d, lse: plse + problem * sq, gradients: problemGradients, workspace: workspace)
            }
        }
        return withExtendedLifetime((mask, relative, oc, gc, lc)) {
            (full.map { $0.sumToShape(bias!.shape).detached() }, relativeFull.map { $0.sum(axes: [0]).detached() })
        }
    }

    /// Causal-or-not self-attention on GPT-NeoX's fused projection `[B, S, H, 3·D]` (q, k and v
    /// contiguous within each head): the kernels read q, k and v in place and the backward writes
    /// one `[B, S, H, 3·D]` gradient, so no slice, copy or zero-filled partial gradient is made.
    ///
    /// - Returns: `[B, S, H, D]`, the same as `scaledDotProductAttention` on the three slices.
    public static func packedSelfAttention(_ qkv: Tensor, relativeBias: Tensor? = nil, masking: AttentionMasking = .none,
                                           scale: Double? = nil, tiling: AttentionTiling = .standard) -> Tensor {
        precondition(qkv.rank == 4 && qkv.shape[3] % 3 == 0 && qkv.dtype.isFloatingPoint,
                     "packedSelfAttention: expected a float [B, S, H, 3·D] tensor, got \(qkv.shape) \(qkv.dtype)")
        let (b, s, h, d) = (qkv.shape[0], qkv.shape[1], qkv.shape[2], qkv.shape[3] / 3)
        if let mask = masking.keyMask { precondition(mask.shape == [b, s] && mask.dtype == .bool, "packedSelfAttention: keyMask must be bool [B, S] = \([b, s]), got \(mask.shape) \(mask.dtype)") }
        precondition(masking.alibiSlopes?.count ?? h == h, "packedSelfAttention: \(masking.alibiSlopes?.count ?? 0) ALiBi slopes for \(h) heads")
        checkRelativeBias(relativeBias, heads: h, queries: s, keys: s, dtype: qkv.dtype)
        let scale = scale ?? 1 / Double(d).squareRoot()
        let dense = qkv.contiguousStorageView()
        func forward<T: AttentionScalar & TensorFloat>(_: T.Type) -> (Tensor, Tensor) {
            let (operands, _) = packedOperands(dense) as (HeadOperands<T>, [Tensor])
            return selfAttentionForward(operands, batch: b, queries: s, keys: s, heads: h, width: d, dtype: qkv.dtype, bias: nil,
                                        relativeBias: relativeBias, masking: masking, scale: scale, tiling: tiling)
        }
        let (output, lse) = qkv.dtype == .float32 ? forward(Float.self) : forward(Double.self)
        let inputs = [qkv] + [relativeBias].compactMap { $0 }
        return recording(output, "packed-self-attention", inputs) { grad in
            if GradMode.isEnabled {
                return referenceGradients(inputs, grad) { inputs in
                    let parts = (0..<3).map { inputs[0].sliced(axis: 3, $0 * d, ($0 + 1) * d) }
                    return selfAttentionReference(parts[0], parts[1], parts[2], bias: nil, relativeBias: inputs.count > 1 ? inputs[1] : nil,
                                                  masking: masking, scale: scale)
                }
            }
            let dqkv = Tensor.zeros(qkv.shape, dtype: qkv.dtype)
            func backward<T: AttentionScalar & TensorFloat>(_: T.Type) -> Tensor? {
                let (operands, _) = packedOperands(dense) as (HeadOperands<T>, [Tensor])
                let (gradients, _) = packedOperands(dqkv) as (HeadOperands<T>, [Tensor])
                return selfAttentionBackward(operands, gradients: gradients, batch: b, queries: s, keys: s, heads: h, width: d, bias: nil,
                                             relativeBias: relativeBias, masking: masking, scale: scale, output: output, lse: lse,
                                             gradOutput: grad, needBias: false, needRelative: relativeBias?.needsGradient ?? false,
                                             tiling: tiling).1
            }
            let drelative = qkv.dtype == .float32 ? backward(Float.self) : backward(Double.self)
            return [dqkv] + (relativeBias == nil ? [] : [drelative])
        }
    }

    static func selfAttentionFused(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor?, relativeBias: Tensor?, masking: AttentionMasking,
                                   scale: Double, tiling: AttentionTiling) -> Tensor {
        let (output, lse) = selfAttentionForward(q, k, v, bias: bias, relativeBias: relativeBias, masking: masking, scale: scale, tiling: tiling)
        let inputs = [q, k, v] + [bias, relativeBias].compactMap { $0 }
        return recording(output, "scaled-dot-product-attention", inputs) { grad in
            if GradMode.isEnabled {
                return referenceGradients(inputs, grad) {
                    selfAttentionReference($0[0], $0[1], $0[2], bias: bias == nil ? nil : $0[3],
                                           relativeBias: relativeBias == nil ? nil : $0[inputs.count - 1], masking: masking, scale: scale)
                }
            }
            let g = selfAttentionBackward(q, k, v, bias: bias, relativeBias: relativeBias, masking: masking, scale: scale, output: output,
                                          lse: lse, gradOutput: grad, needBias: bias?.needsGradient ?? false,
                                          needRelative: relativeBias?.needsGradient ?? false, tiling: tiling)
            return [g.dq, g.dk, g.dv] + (bias == nil ? [] : [g.dbias]) + (relativeBias == nil ? [] : [g.drelative])
        }
    }
}
