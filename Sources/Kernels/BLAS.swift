// Thin, checked entry points to OpenBLAS.
import CBLAS
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// C[columns, columns] += Aᵀ·A for a row-major A[rows, columns] (single-precision syrk on the
/// upper triangle, mirrored to the lower one).
public func accumulateGram(_ a: [Float], rows: Int, columns: Int, into c: inout [Float]) {
    precondition(a.count == rows * columns, "accumulateGram: A has \(a.count) elements, expected \(rows)×\(columns)")
    precondition(c.count == columns * columns, "accumulateGram: C has \(c.count) elements, expected \(columns)²")
    BLASGate.call { cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(columns), Int32(rows), 1, a, Int32(columns), 1, &c, Int32(columns)) }
    for i in 0..<columns {
        for j in 0..<i { c[i * columns + j] = c[j * columns + i] }
    }
}

/// How a row-major matrix operand is laid out in memory for GEMM.
public struct MatrixLayout: Sendable, Equatable {
    /// Whether the stored matrix is the transpose of the operand (BLAS `Trans`).
    public var transposed: Bool
    /// Leading dimension of the stored row-major matrix.
    public var leadingDimension: Int

    /// The layout of a `rows × columns` operand with element strides `(rowStride, columnStride)`,
    /// or nil when the strides are not a (possibly transposed) BLAS matrix.
    public static func of(rows: Int, columns: Int, rowStride: Int, columnStride: Int) -> MatrixLayout? {
        if columnStride == 1 && (rows == 1 || rowStride >= max(1, columns)) {
            return MatrixLayout(transposed: false, leadingDimension: rows == 1 ? max(1, columns) : rowStride)
        }
        if rowStride == 1 && (columns == 1 || columnStride >= max(1, rows)) {
            return MatrixLayout(transposed: true, leadingDimension: columns == 1 ? max(1, rows) : columnStride)
        }
        return nil
    }
}

/// How float32 matrix products are computed: in float32 (the default), or with bf16 operands and
/// float32 sums where the CPU has AVX512-BF16 (DeepSpeed's `bf16: {enabled: true}`: the
/// training loop sets it for a run; weights, gradients and optimiser states stay float32).
public enum MatmulPrecision: String, Sendable {
    case float32, bf16

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "MatmulPrecision: no thread-specific key")
        return key
    }()

    /// The calling thread's choice, read by every float32 `gemm` on it. Per thread, so a run in
    /// bf16 does not change another thread's products; `parallelFor` hands it to its workers.
    public static var current: MatmulPrecision {
        get { pthread_getspecific(key) == nil ? .float32 : .bf16 }
        set { pthread_setspecific(key, newValue == .bf16 ? UnsafeRawPointer(bitPattern: 1) : nil) }
    }
}

/// C[m×n] = alpha·op(A)[m×k]·op(B)[k×n] + beta·C, row-major, single precision (bf16 products
/// under `MatmulPrecision.bf16` when alpha is 1 and the CPU has AVX512-BF16).
public func gemm(_ a: UnsafePointer<Float>, _ layoutA: MatrixLayout, _ b: UnsafePointer<Float>, _ layoutB: MatrixLayout,
                 _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0, ldc: Int? = nil) {
    let ldc = ldc ?? n
    if MatmulPrecision.current == .bf16 && alpha == 1
        && BF16GEMM.multiply(a, layoutA, b, layoutB, c, m: m, n: n, k: k, beta: beta, ldc: ldc) { return }
    let operands = UncheckedSendable((a, b, c))
    forEachGEMMBlock(layoutA, layoutB, m: m, n: n, k: k) { block in
        let (a, b, c) = operands.value
        BLASGate.call { cblas_sgemm(CblasRowMajor, layoutA.transposed ? CblasTrans : CblasNoTrans, layoutB.transposed ? CblasTrans : CblasNoTrans,
                    Int32(block.rows), Int32(block.columns), Int32(k), alpha, a + block.offsetA, Int32(layoutA.leadingDimension),
                    b + block.offsetB, Int32(layoutB.leadingDimension), beta, c + block.offsetC(ldc: ldc), Int32(ldc)) }
    }
}

/// C[m×n] = alpha·op(A)[m×k]·op(B)[k×n] + beta·C, row-major, double precision.
public func gemm(_ a: UnsafePointer<Double>, _ layoutA: MatrixLayout, _ b: UnsafePointer<Double>, _ layoutB: MatrixLayout,
                 _ c: UnsafeMutablePointer<Double>, m: Int, n: Int, k: Int, alpha: Double = 1, beta: Double = 0, ldc: Int? = nil) {
    let ldc = ldc ?? n
    let operands = UncheckedSendable((a, b, c))
    forEachGEMMBlock(layoutA, layoutB, m: m, n: n, k: k) { block in
        let (a, b, c) = operands.value
        BLASGate.call { cblas_dgemm(CblasRowMajor, layoutA.transposed ? CblasTrans : CblasNoTrans, layoutB.transposed ? CblasTrans : CblasNoTrans,
                    Int32(block.rows), Int32(block.columns), Int32(k), alpha, a + block.offsetA, Int32(layoutA.leadingDimension),
                    b + block.offsetB, Int32(layoutB.leadingDimension), beta, c + block.offsetC(ldc: ldc), Int32(ldc)) }
    }
}

/// One block of C that a single-threaded GEMM call computes: rows `row..<row+rows`, columns
/// `column..<column+columns`, with the element offsets of its A and B operands.
struct GEMMBlock {
    var row: Int, rows: Int, column: Int, columns: Int
    var offsetA: Int, offsetB: Int
    func offsetC(ldc: Int) -> Int { row * ldc + column }
}

/// OpenBLAS runs on one thread in this process (`BLASGate`): its idle workers spin in
/// sched_yield between calls and take the cores our own loops run on. A large product is cut
/// here instead, along the longer side of C, into blocks whose number depends only on the shape
/// — so every element is one single-threaded call's dot product, and the result is the same
/// on every thread count — and the blocks run on the thread budget.
@inline(__always)
func forEachGEMMBlock(_ layoutA: MatrixLayout, _ layoutB: MatrixLayout, m: Int, n: Int, k: Int, _ body: (GEMMBlock) -> Void) {
    let flops = 2 * m * n * k
    let parts = flops < 1 << 24 ? 1 : flops < 1 << 26 ? 2 : 4
    let alongRows = m >= n
    let side = alongRows ? m : n
    // Blocks of whole 16-element panels, so every block keeps the micro-kernels' full width.
    let panels = (side + 15) / 16
    let count = Swift.min(parts, panels)
    func block(_ index: Int) -> GEMMBlock {
        let first = index * panels / count * 16, last = Swift.min(side, (index + 1) * panels / count * 16)
        if alongRows {
            let offsetA = layoutA.transposed ? first : first * layoutA.leadingDimension
            return GEMMBlock(row: first, rows: last - first, column: 0, columns: n, offsetA: offsetA, offsetB: 0)
        }
        let offsetB = layoutB.transposed ? first * layoutB.leadingDimension : first
        return GEMMBlock(row: 0, rows: m, column: first, columns: last - first, offsetA: 0, offsetB: offsetB)
    }
    if count == 1 {
        body(block(0))
        return
    }
    parallelFor(count) { range in
        for index in range { body(block(index)) }
    }
}

/// bf16 products with float32 sums (CKernels' AVX512-BF16 kernel): C[m×n] = op(A)·op(B) + beta·C,
/// row-major, each operand rounded to bfloat16. Row blocks run on the thread budget. nil when the
/// CPU has no AVX512-BF16.
public enum BF16GEMM {
    public static var isAvailable: Bool { scizoo_bf16_gemm_available() != 0 }

    @discardableResult
    public static func multiply(_ a: UnsafePointer<Float>, _ layoutA: MatrixLayout, _ b: UnsafePointer<Float>, _ layoutB: MatrixLayout,
                                _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, beta: Float = 0, ldc: Int? = nil) -> Bool {
        guard isAvailable else { return false }
        let ldc = ldc ?? n
        let operands = UncheckedSendable((a, b, c))
        let blocks = max(1, min(ThreadBudget.current.threads, m / 48))
        var failed = false
        withUnsafeMutablePointer(to: &failed) { failed in
            let flag = UncheckedSendable(failed)
            parallelFor(blocks) { range in
                let (a, b, c) = operands.value
                for block in range {
                    let m0 = m * block / blocks, m1 = m * (block + 1) / blocks
                    let status = scizoo_bf16_gemm_rows(m0, m1, m, n, k, a, layoutA.leadingDimension, layoutA.transposed ? 1 : 0,
                                                       b, layoutB.leadingDimension, layoutB.transposed ? 1 : 0, beta, c, ldc)
                    if status != 0 { flag.value.pointee = true }
                }
            }
        }
        return !failed
    }

    /// x rounded to bfloat16 (nearest even), as the kernel rounds its operands.
    public static func rounded(_ x: Float) -> Float { scizoo_bf16_round_f32(x) }
}
