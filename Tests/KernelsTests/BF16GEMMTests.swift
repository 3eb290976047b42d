import Foundation
import Kernels
import Testing

/// The AVX512-BF16 product against a float64 product of the same bf16-rounded operands: only the
/// float32 summation may differ. Skipped (checked to refuse) on a CPU without AVX512-BF16.
@Suite("bf16 GEMM (AVX512-BF16)")
struct BF16GEMMTests {
    /// Deterministic values in [−2, 2) with all 16 mantissa bits used, so rounding to bf16 matters.
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Float(Double(state >> 11) / Double(1 << 53) * 4 - 2)
        }
    }

    @Test("edges, both transposes and beta: equal to float64 on bf16-rounded operands within float32 summation",
          arguments: [(1, 1, 1), (13, 33, 7), (12, 32, 256), (37, 70, 513), (100, 65, 300), (96, 96, 1)])
    func matchesReference(_ shape: (Int, Int, Int)) throws {
        let (m, n, k) = shape
        let a = Self.values(m * k, seed: 1), b = Self.values(k * n, seed: 2), start = Self.values(m * n, seed: 3)
        guard BF16GEMM.isAvailable else {
            var c = start
            #expect(!BF16GEMM.multiply(a, MatrixLayout.of(rows: m, columns: k, rowStride: k, columnStride: 1)!, b,
                                       MatrixLayout.of(rows: k, columns: n, rowStride: n, columnStride: 1)!, &c, m: m, n: n, k: k))
            return
        }
        for (transA, transB, beta) in [(false, false, Float(0)), (true, false, 1), (false, true, 0.5), (true, true, 0)] {
            // op(A)[i, p] is stored at a[i·k + p] or, transposed, a[p·m + i].
            let layoutA = transA ? MatrixLayout.of(rows: m, columns: k, rowStride: 1, columnStride: m)!
                                 : MatrixLayout.of(rows: m, columns: k, rowStride: k, columnStride: 1)!
            let layoutB = transB ? MatrixLayout.of(rows: k, columns: n, rowStride: 1, columnStride: k)!
                                 : MatrixLayout.of(rows: k, columns: n, rowStride: n, columnStride: 1)!
            func opA(_ i: Int, _ p: Int) -> Double { Double(BF16GEMM.rounded(transA ? a[p * m + i] : a[i * k + p])) }
            func opB(_ p: Int, _ j: Int) -> Double { Double(BF16GEMM.rounded(transB ? b[j * k + p] : b[p * n + j])) }
            var c = start
            #expect(BF16GEMM.multiply(a, layoutA, b, layoutB, &c, m: m, n: n, k: k, beta: beta))
            var worst = 0.0
            for i in 0..<m {
                for j in 0..<n {
                    var exact = Double(beta) * Double(start[i * n + j]), magnitude = abs(exact)
                    for p in 0..<k {
                        exact += opA(i, p) * opB(p, j)
                        magnitude += abs(opA(i, p) * opB(p, j))
                    }
                    worst = max(worst, abs(Double(c[i * n + j]) - exact) / max(magnitude, 1e-30))
                }
            }
            #expect(worst <= 1e-5, "\(shape) transA \(transA) transB \(transB) beta \(beta): relative error \(worst)")
        }
    }

    @Test("rounding to bf16 is to nearest, ties to even, and keeps NaN and infinities")
    func rounding() {
        #expect(BF16GEMM.rounded(1) == 1 && BF16GEMM.rounded(-2.5) == -2.5)
        #expect(BF16GEMM.rounded(Float(bitPattern: 0x3F80_8000)) == Float(bitPattern: 0x3F80_0000))  // tie → even
        #expect(BF16GEMM.rounded(Float(bitPattern: 0x3F81_8000)) == Float(bitPattern: 0x3F82_0000))  // tie → even (up)
        #expect(BF16GEMM.rounded(Float(bitPattern: 0x3F80_8001)) == Float(bitPattern: 0x3F81_0000))
        #expect(BF16GEMM.rounded(.infinity) == .infinity && BF16GEMM.rounded(.nan).isNaN)
    }
}
