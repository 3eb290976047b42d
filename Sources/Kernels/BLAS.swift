// Thin, checked entry points to OpenBLAS.
import CBLAS

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

/// C[m×n] = alpha·op(A)[m×k]·op(B)[k×n] + beta·C, row-major, single precision.
public func gemm(_ a: UnsafePointer<Float>, _ layoutA: MatrixLayout, _ b: UnsafePointer<Float>, _ layoutB: MatrixLayout,
                 _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0, ldc: Int? = nil) {
    BLASGate.call { cblas_sgemm(CblasRowMajor, layoutA.transposed ? CblasTrans : CblasNoTrans, layoutB.transposed ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(layoutA.leadingDimension), b, Int32(layoutB.leadingDimension),
                beta, c, Int32(ldc ?? n)) }
}

/// C[m×n] = alpha·op(A)[m×k]·op(B)[k×n] + beta·C, row-major, double precision.
public func gemm(_ a: UnsafePointer<Double>, _ layoutA: MatrixLayout, _ b: UnsafePointer<Double>, _ layoutB: MatrixLayout,
                 _ c: UnsafeMutablePointer<Double>, m: Int, n: Int, k: Int, alpha: Double = 1, beta: Double = 0, ldc: Int? = nil) {
    BLASGate.call { cblas_dgemm(CblasRowMajor, layoutA.transposed ? CblasTrans : CblasNoTrans, layoutB.transposed ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(layoutA.leadingDimension), b, Int32(layoutB.leadingDimension),
                beta, c, Int32(ldc ?? n)) }
}
