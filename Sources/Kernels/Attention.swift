// Fused, tiled attention on the CPU (the DS4Sci EvoformerAttention algorithm, and causal /
// biased self-attention on the same engine). Forward: online softmax over key tiles, saving
// the log-sum-exp per query row. Backward: recompute P tile by tile from the log-sum-exp,
// compute delta = rowsum(dO ∘ O) itself, accumulate dQ, dK, dV and bias gradients in a fixed
// order. No buffer larger than a [tileQ, tileK] tile of logits is ever allocated.
#if canImport(Glibc)
import Glibc
#endif
import CBLAS
import CKernels

/// Element types of the attention kernels, with their GEMM and row primitives.
public protocol AttentionScalar: BinaryFloatingPoint, Sendable {
    static func gemmRowMajor(_ a: UnsafePointer<Self>, transA: Bool, lda: Int, _ b: UnsafePointer<Self>, transB: Bool, ldb: Int,
                             _ c: UnsafeMutablePointer<Self>, ldc: Int, m: Int, n: Int, k: Int, alpha: Self, beta: Self)
    /// max of x[0..<n].
    static func rowMax(_ x: UnsafePointer<Self>, _ n: Int) -> Self
    /// x ← exp(x − shift) in place; returns Σ x.
    static func expShiftSum(_ x: UnsafeMutablePointer<Self>, _ n: Int, _ shift: Self) -> Self
    static func expScalar(_ x: Self) -> Self
    static func logScalar(_ x: Self) -> Self

    /// Forward of one problem (see `attentionForward`), specialised for this type in Kernels:
    /// generic code called from another module would run unspecialised, element by element.
    static func attentionForward(_ p: AttentionProblem<Self>, _ g: AttentionGeometry, o: UnsafeMutablePointer<Self>, oStride: Int,
                                 lse: UnsafeMutablePointer<Self>, workspace: UnsafeMutablePointer<Self>)
    /// Backward of one problem (see `attentionBackward`), specialised for this type in Kernels.
    static func attentionBackward(_ p: AttentionProblem<Self>, _ g: AttentionGeometry, dO: UnsafePointer<Self>, doStride: Int,
                                  o: UnsafePointer<Self>, oStride: Int, lse: UnsafePointer<Self>, gradients: AttentionGradients<Self>,
                                  workspace: UnsafeMutablePointer<Self>)
}

extension Float {
    public static func attentionForward(_ p: AttentionProblem<Float>, _ g: AttentionGeometry, o: UnsafeMutablePointer<Float>, oStride: Int,
                                        lse: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>) {
        attentionForwardKernel(p, g, o: o, oStride: oStride, lse: lse, workspace: workspace)
    }
    public static func attentionBackward(_ p: AttentionProblem<Float>, _ g: AttentionGeometry, dO: UnsafePointer<Float>, doStride: Int,
                                         o: UnsafePointer<Float>, oStride: Int, lse: UnsafePointer<Float>, gradients: AttentionGradients<Float>,
                                         workspace: UnsafeMutablePointer<Float>) {
        attentionBackwardKernel(p, g, dO: dO, doStride: doStride, o: o, oStride: oStride, lse: lse, gradients: gradients, workspace: workspace)
    }
}

extension Double {
    public static func attentionForward(_ p: AttentionProblem<Double>, _ g: AttentionGeometry, o: UnsafeMutablePointer<Double>, oStride: Int,
                                        lse: UnsafeMutablePointer<Double>, workspace: UnsafeMutablePointer<Double>) {
        attentionForwardKernel(p, g, o: o, oStride: oStride, lse: lse, workspace: workspace)
    }
    public static func attentionBackward(_ p: AttentionProblem<Double>, _ g: AttentionGeometry, dO: UnsafePointer<Double>, doStride: Int,
                                         o: UnsafePointer<Double>, oStride: Int, lse: UnsafePointer<Double>, gradients: AttentionGradients<Double>,
                                         workspace: UnsafeMutablePointer<Double>) {
        attentionBackwardKernel(p, g, dO: dO, doStride: doStride, o: o, oStride: oStride, lse: lse, gradients: gradients, workspace: workspace)
    }
}

extension Float: AttentionScalar {
    @inline(__always)
    public static func gemmRowMajor(_ a: UnsafePointer<Float>, transA: Bool, lda: Int, _ b: UnsafePointer<Float>, transB: Bool, ldb: Int,
                                    _ c: UnsafeMutablePointer<Float>, ldc: Int, m: Int, n: Int, k: Int, alpha: Float, beta: Float) {
        BLASGate.call { cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc)) }
    }
    @inline(__always) public static func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float { scizoo_max_f32(-1, x, n) }
    @inline(__always) public static func expShiftSum(_ x: UnsafeMutablePointer<Float>, _ n: Int, _ shift: Float) -> Float {
        scizoo_exp_sum_f32(-1, x, x, n, shift)
    }
    @inline(__always) public static func expScalar(_ x: Float) -> Float { expf(x) }
    @inline(__always) public static func logScalar(_ x: Float) -> Float { logf(x) }
}

extension Double: AttentionScalar {
    @inline(__always)
    public static func gemmRowMajor(_ a: UnsafePointer<Double>, transA: Bool, lda: Int, _ b: UnsafePointer<Double>, transB: Bool, ldb: Int,
                                    _ c: UnsafeMutablePointer<Double>, ldc: Int, m: Int, n: Int, k: Int, alpha: Double, beta: Double) {
        BLASGate.call { cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc)) }
    }
    @inline(__always) public static func rowMax(_ x: UnsafePointer<Double>, _ n: Int) -> Double {
        var result = -Double.infinity
        for i in 0..<n where x[i] > result { result = x[i] }
        return result
    }
    @inline(__always) public static func expShiftSum(_ x: UnsafeMutablePointer<Double>, _ n: Int, _ shift: Double) -> Double {
        var total = 0.0
        for i in 0..<n {
            let e = exp(x[i] - shift)
            x[i] = e
            total += e
        }
        return total
    }
    @inline(__always) public static func expScalar(_ x: Double) -> Double { exp(x) }
    @inline(__always) public static func logScalar(_ x: Double) -> Double { log(x) }
}

/// An additive bias for one problem: element (i, j) at `base[i·rowStride + j·columnStride]`.
/// A zero stride broadcasts (bias1 of EvoformerAttention has rowStride 0).
public struct AttentionBiasView<T>: @unchecked Sendable {
    public var base: UnsafePointer<T>
    public var rowStride: Int
    public var columnStride: Int
    public init(base: UnsafePointer<T>, rowStride: Int, columnStride: Int) {
        self.base = base
        self.rowStride = rowStride
        self.columnStride = columnStride
    }
}

/// Where a bias gradient accumulates for one problem (same addressing as the bias).
public struct AttentionBiasGradient<T>: @unchecked Sendable {
    public var base: UnsafeMutablePointer<T>
    public var rowStride: Int
    public var columnStride: Int
    public init(base: UnsafeMutablePointer<T>, rowStride: Int, columnStride: Int) {
        self.base = base
        self.rowStride = rowStride
        self.columnStride = columnStride
    }
}

/// Sizes and tiling shared by every problem of one call.
public struct AttentionGeometry: Sendable {
    public var queries: Int
    public var keys: Int
    public var headDimension: Int
    /// Multiplies Q·Kᵀ (1/√D for EvoformerAttention).
    public var scale: Double
    public var tileQueries: Int
    public var tileKeys: Int
    /// Query i sees key j only when j ≤ i + queryOffset.
    public var causal: Bool
    /// Global position of query 0 relative to key 0 (a sequence shard's start).
    public var queryOffset: Int

    public init(queries: Int, keys: Int, headDimension: Int, scale: Double, tileQueries: Int = 64, tileKeys: Int = 256,
                causal: Bool = false, queryOffset: Int = 0) {
        precondition(queries >= 1 && keys >= 1 && headDimension >= 1, "attention: empty geometry \(queries)×\(keys)×\(headDimension)")
        self.queries = queries
        self.keys = keys
        self.headDimension = headDimension
        self.scale = scale
        self.tileQueries = Swift.max(1, tileQueries)
        self.tileKeys = Swift.max(1, tileKeys)
        self.causal = causal
        self.queryOffset = queryOffset
    }
}

/// One attention problem (one batch element and head): operand rows are `rowStride` apart.
public struct AttentionProblem<T: AttentionScalar>: @unchecked Sendable {
    public var q: UnsafePointer<T>, k: UnsafePointer<T>, v: UnsafePointer<T>
    public var qStride: Int, kStride: Int, vStride: Int
    public var biases: [AttentionBiasView<T>]
    /// Keys to attend (true) or ignore, `[keys]`.
    public var keyMask: UnsafePointer<Bool>?
    /// ALiBi: adds slope·(j − (i + queryOffset)).
    public var alibiSlope: T
    /// A bias that depends on j − i only (T5's buckets, any relative scheme), `[queries + keys − 1]`:
    /// query i and key j add `relative[j − i + queries − 1]`, so no queries × keys tensor is built.
    public var relative: UnsafePointer<T>?

    public init(q: UnsafePointer<T>, k: UnsafePointer<T>, v: UnsafePointer<T>, qStride: Int, kStride: Int, vStride: Int,
                biases: [AttentionBiasView<T>] = [], keyMask: UnsafePointer<Bool>? = nil, alibiSlope: T = 0,
                relative: UnsafePointer<T>? = nil) {
        self.q = q
        self.k = k
        self.v = v
        self.qStride = qStride
        self.kStride = kStride
        self.vStride = vStride
        self.biases = biases
        self.keyMask = keyMask
        self.alibiSlope = alibiSlope
        self.relative = relative
    }
}

/// Logits of one tile: S = scale·Q[i0..]·K[j0..]ᵀ plus biases, ALiBi, key mask and causal mask.
@inline(__always)
func attentionLogits<T: AttentionScalar>(_ p: AttentionProblem<T>, _ g: AttentionGeometry, i0: Int, tq: Int, j0: Int, tk: Int,
                                         keysTransposed kT: UnsafePointer<T>, into s: UnsafeMutablePointer<T>) {
    let d = g.headDimension
    // Q·Kᵀ as a plain product with Kᵀ `[D, keys]`: OpenBLAS's small-matrix kernel takes it without
    // packing (the transposed form went through its packing path).
    T.gemmRowMajor(p.q + i0 &* p.qStride, transA: false, lda: p.qStride, kT + j0, transB: false, ldb: g.keys,
                   s, ldc: tk, m: tq, n: tk, k: d, alpha: T(g.scale), beta: 0)
    if p.biases.count == 2, p.biases[0].columnStride == 1, p.biases[1].columnStride == 1 {
        // The Evoformer's two biases (mask and pair) in one pass over the tile.
        let (first, second) = (p.biases[0], p.biases[1])
        for r in 0..<tq {
            let row = s + r &* tk
            let a = first.base + ((i0 &+ r) &* first.rowStride &+ j0), b = second.base + ((i0 &+ r) &* second.rowStride &+ j0)
            for c in 0..<tk { row[c] += a[c] + b[c] }
        }
    } else {
        for bias in p.biases {
            for r in 0..<tq {
                let row = s + r &* tk
                let source = bias.base + ((i0 &+ r) &* bias.rowStride &+ j0 &* bias.columnStride)
                if bias.columnStride == 1 {
                    for c in 0..<tk { row[c] += source[c] }
                } else {
                    for c in 0..<tk { row[c] += source[c &* bias.columnStride] }
                }
            }
        }
    }
    if p.alibiSlope != 0 {
        for r in 0..<tq {
            let row = s + r &* tk
            let i = i0 &+ r &+ g.queryOffset
            for c in 0..<tk { row[c] += p.alibiSlope * T(j0 &+ c &- i) }
        }
    }
    if let relative = p.relative {
        for r in 0..<tq {
            let row = s + r &* tk, source = relative + (j0 &- i0 &- r &+ g.queries &- 1)
            for c in 0..<tk { row[c] += source[c] }
        }
    }
    if let mask = p.keyMask {
        for c in 0..<tk where !mask[j0 &+ c] {
            for r in 0..<tq { s[r &* tk &+ c] = -.infinity }
        }
    }
    if g.causal {
        for r in 0..<tq {
            let last = i0 &+ r &+ g.queryOffset  // keys j > last are in the future
            let firstMasked = Swift.max(0, last &- j0 &+ 1)
            if firstMasked < tk {
                let row = s + r &* tk
                for c in firstMasked..<tk { row[c] = -.infinity }
            }
        }
    }
}

/// Whether a key tile is entirely in the future of a query tile.
@inline(__always)
func tileIsFuture(_ g: AttentionGeometry, i0: Int, tq: Int, j0: Int) -> Bool {
    g.causal && j0 > i0 &+ tq &- 1 &+ g.queryOffset
}

/// Keys of the tile starting at j0 that some query of the tile sees: a causal tile on the
/// diagonal stops at the last query's position instead of computing columns that are all masked.
@inline(__always)
func visibleKeys(_ g: AttentionGeometry, i0: Int, tq: Int, j0: Int, tk: Int) -> Int {
    g.causal ? Swift.min(tk, i0 &+ tq &+ g.queryOffset &- j0) : tk
}

/// Forward of one problem: O `[queries, D]` (row stride `oStride`) and lse `[queries]`.
/// Rows whose keys are all −∞ get O = 0 and lse = −∞.
func attentionForwardKernel<T: AttentionScalar>(_ p: AttentionProblem<T>, _ g: AttentionGeometry,
                                                 o: UnsafeMutablePointer<T>, oStride: Int, lse: UnsafeMutablePointer<T>,
                                                 workspace: UnsafeMutablePointer<T>) {
    let d = g.headDimension, tileQ = g.tileQueries, tileK = g.tileKeys
    // Workspace: s [tileQ·tileK], acc [tileQ·D], m [tileQ], l [tileQ], Kᵀ [D·keys].
    let s = workspace, acc = workspace + tileQ &* tileK, m = acc + tileQ &* d, l = m + tileQ, kT = l + tileQ
    transposeKeys(p, g, into: kT)
    var i0 = 0
    while i0 < g.queries {
        let tq = Swift.min(tileQ, g.queries &- i0)
        for r in 0..<tq { m[r] = -.infinity; l[r] = 0 }
        acc.update(repeating: 0, count: tq &* d)
        var j0 = 0
        while j0 < g.keys {
            if tileIsFuture(g, i0: i0, tq: tq, j0: j0) { break }
            let tk = visibleKeys(g, i0: i0, tq: tq, j0: j0, tk: Swift.min(tileK, g.keys &- j0))
            attentionLogits(p, g, i0: i0, tq: tq, j0: j0, tk: tk, keysTransposed: kT, into: s)
            for r in 0..<tq {
                let row = s + r &* tk
                let newMax = Swift.max(m[r], T.rowMax(row, tk))
                if newMax == -.infinity {
                    row.update(repeating: 0, count: tk)
                    continue
                }
                let rowSum = T.expShiftSum(row, tk, newMax)
                let correction = m[r] == -.infinity ? 0 : T.expScalar(m[r] - newMax)
                if correction != 1 {
                    let accRow = acc + r &* d
                    for c in 0..<d { accRow[c] *= correction }
                }
                l[r] = l[r] * correction + rowSum
                m[r] = newMax
            }
            T.gemmRowMajor(s, transA: false, lda: tk, p.v + j0 &* p.vStride, transB: false, ldb: p.vStride,
                           acc, ldc: d, m: tq, n: d, k: tk, alpha: 1, beta: 1)
            j0 &+= tk
        }
        for r in 0..<tq {
            let out = o + (i0 &+ r) &* oStride, accRow = acc + r &* d
            if l[r] == 0 {
                for c in 0..<d { out[c] = 0 }
                lse[i0 &+ r] = -.infinity
            } else {
                let inverse = 1 / l[r]
                for c in 0..<d { out[c] = accRow[c] * inverse }
                lse[i0 &+ r] = m[r] + T.logScalar(l[r])
            }
        }
        i0 &+= tq
    }
}

/// Elements of forward workspace per thread.
public func attentionForwardWorkspace(_ g: AttentionGeometry) -> Int {
    g.tileQueries * g.tileKeys + g.tileQueries * g.headDimension + 2 * g.tileQueries + g.headDimension * g.keys
}

/// Kᵀ `[D, keys]` of one problem (its keys' rows are `kStride` apart).
@inline(__always)
func transposeKeys<T: AttentionScalar>(_ p: AttentionProblem<T>, _ g: AttentionGeometry, into kT: UnsafeMutablePointer<T>) {
    // Column by column: contiguous writes; the strided reads stay in L1 (keys × D is small).
    let (d, keys, stride) = (g.headDimension, g.keys, p.kStride)
    for c in 0..<d {
        let column = p.k + c, out = kT + c &* keys
        for j in 0..<keys { out[j] = column[j &* stride] }
    }
}

/// Gradients of one problem. `dq`, `dk`, `dv` accumulate (the caller zeroes them); each bias
/// gradient target accumulates dS. Everything is summed in a fixed order.
public struct AttentionGradients<T: AttentionScalar>: @unchecked Sendable {
    public var dq: UnsafeMutablePointer<T>, dk: UnsafeMutablePointer<T>, dv: UnsafeMutablePointer<T>
    public var dqStride: Int, dkStride: Int, dvStride: Int
    public var biasGradients: [AttentionBiasGradient<T>]
    /// Accumulates dS by j − i, `[queries + keys − 1]`: the gradient of `AttentionProblem.relative`.
    public var relativeGradient: UnsafeMutablePointer<T>?
    public init(dq: UnsafeMutablePointer<T>, dk: UnsafeMutablePointer<T>, dv: UnsafeMutablePointer<T>, dqStride: Int, dkStride: Int,
                dvStride: Int, biasGradients: [AttentionBiasGradient<T>] = [], relativeGradient: UnsafeMutablePointer<T>? = nil) {
        self.dq = dq
        self.dk = dk
        self.dv = dv
        self.dqStride = dqStride
        self.dkStride = dkStride
        self.dvStride = dvStride
        self.biasGradients = biasGradients
        self.relativeGradient = relativeGradient
    }
}

/// Backward of one problem from dO, O (row strides `doStride`, `oStride`) and the saved lse.
func attentionBackwardKernel<T: AttentionScalar>(_ p: AttentionProblem<T>, _ g: AttentionGeometry,
                                                  dO: UnsafePointer<T>, doStride: Int, o: UnsafePointer<T>, oStride: Int,
                                                  lse: UnsafePointer<T>, gradients: AttentionGradients<T>,
                                                  workspace: UnsafeMutablePointer<T>) {
    let d = g.headDimension, tileQ = g.tileQueries, tileK = g.tileKeys
    // Workspace: P [tileQ·tileK], dS [tileQ·tileK], delta [queries], Kᵀ [D·keys].
    let pTile = workspace, dsTile = workspace + tileQ &* tileK, delta = dsTile + tileQ &* tileK, kT = delta + g.queries
    transposeKeys(p, g, into: kT)  // the logits are recomputed exactly as the forward computed them
    for i in 0..<g.queries {
        var total: T = 0
        let a = dO + i &* doStride, b = o + i &* oStride
        for c in 0..<d { total += a[c] * b[c] }
        delta[i] = total
    }
    let scale = T(g.scale)
    var j0 = 0
    while j0 < g.keys {
        let fullTile = Swift.min(tileK, g.keys &- j0)
        var i0 = 0
        while i0 < g.queries {
            let tq = Swift.min(tileQ, g.queries &- i0)
            defer { i0 &+= tq }
            if tileIsFuture(g, i0: i0, tq: tq, j0: j0) { continue }
            let tk = visibleKeys(g, i0: i0, tq: tq, j0: j0, tk: fullTile)
            attentionLogits(p, g, i0: i0, tq: tq, j0: j0, tk: tk, keysTransposed: kT, into: pTile)
            for r in 0..<tq {
                let row = pTile + r &* tk, rowLSE = lse[i0 &+ r]
                if rowLSE == -.infinity { row.update(repeating: 0, count: tk) } else { _ = T.expShiftSum(row, tk, rowLSE) }
            }
            // dV_j += Pᵀ·dO_i
            T.gemmRowMajor(pTile, transA: true, lda: tk, dO + i0 &* doStride, transB: false, ldb: doStride,
                           gradients.dv + j0 &* gradients.dvStride, ldc: gradients.dvStride, m: tk, n: d, k: tq, alpha: 1, beta: 1)
            // dP = dO_i·V_jᵀ, then dS = P ∘ (dP − delta)
            T.gemmRowMajor(dO + i0 &* doStride, transA: false, lda: doStride, p.v + j0 &* p.vStride, transB: true, ldb: p.vStride,
                           dsTile, ldc: tk, m: tq, n: tk, k: d, alpha: 1, beta: 0)
            for r in 0..<tq {
                let ds = dsTile + r &* tk, pr = pTile + r &* tk, dr = delta[i0 &+ r]
                for c in 0..<tk { ds[c] = pr[c] * (ds[c] - dr) }
            }
            for target in gradients.biasGradients {
                for r in 0..<tq {
                    let ds = dsTile + r &* tk
                    let out = target.base + ((i0 &+ r) &* target.rowStride &+ j0 &* target.columnStride)
                    if target.columnStride == 1 {
                        for c in 0..<tk { out[c] += ds[c] }
                    } else {
                        for c in 0..<tk { out[c &* target.columnStride] += ds[c] }
                    }
                }
            }
            if let relative = gradients.relativeGradient {
                for r in 0..<tq {
                    let ds = dsTile + r &* tk, out = relative + (j0 &- i0 &- r &+ g.queries &- 1)
                    for c in 0..<tk { out[c] += ds[c] }
                }
            }
            // dQ_i += scale·dS·K_j ; dK_j += scale·dSᵀ·Q_i
            T.gemmRowMajor(dsTile, transA: false, lda: tk, p.k + j0 &* p.kStride, transB: false, ldb: p.kStride,
                           gradients.dq + i0 &* gradients.dqStride, ldc: gradients.dqStride, m: tq, n: d, k: tk, alpha: scale, beta: 1)
            T.gemmRowMajor(dsTile, transA: true, lda: tk, p.q + i0 &* p.qStride, transB: false, ldb: p.qStride,
                           gradients.dk + j0 &* gradients.dkStride, ldc: gradients.dkStride, m: tk, n: d, k: tq, alpha: scale, beta: 1)
        }
        j0 &+= fullTile
    }
}

/// Elements of backward workspace per thread.
public func attentionBackwardWorkspace(_ g: AttentionGeometry) -> Int {
    2 * g.tileQueries * g.tileKeys + g.queries + g.headDimension * g.keys
}
