// Thin, checked entry points to OpenBLAS.
import CBLAS

/// C[columns, columns] += Aᵀ·A for a row-major A[rows, columns] (single-precision syrk on the
/// upper triangle, mirrored to the lower one).
public func accumulateGram(_ a: [Float], rows: Int, columns: Int, into c: inout [Float]) {
    precondition(a.count == rows * columns, "accumulateGram: A has \(a.count) elements, expected \(rows)×\(columns)")
    precondition(c.count == columns * columns, "accumulateGram: C has \(c.count) elements, expected \(columns)²")
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(columns), Int32(rows), 1, a, Int32(columns), 1, &c, Int32(columns))
    for i in 0..<columns {
        for j in 0..<i { c[i * columns + j] = c[j * columns + i] }
    }
}
