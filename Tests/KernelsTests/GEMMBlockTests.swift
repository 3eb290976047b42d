import CBLAS
import Synchronization
import Testing
@testable import Kernels

@Suite("GEMM blocks", .serialized)
struct GEMMBlockTests {
    /// Deterministic values in [−1, 1).
    static func values(_ count: Int, seed: Int) -> [Float] {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Float(state % 2048) / 1024 - 1
        }
    }

    @Test("a product cut into blocks equals one OpenBLAS call bit for bit, on 1 and 2 threads, every layout",
          arguments: [(m: 300, n: 40, k: 700), (m: 40, n: 900, k: 600), (m: 257, n: 131, k: 600), (m: 8, n: 8, k: 8)])
    func blocksEqualOneCall(shape: (m: Int, n: Int, k: Int)) {
        let (m, n, k) = shape
        let previous = ThreadBudget.current
        defer { ThreadBudget.install(previous) }
        for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = Self.values(m * k, seed: 1), b = Self.values(k * n, seed: 2), start = Self.values(m * n, seed: 3)
            let layoutA = MatrixLayout(transposed: transA, leadingDimension: transA ? m : k)
            let layoutB = MatrixLayout(transposed: transB, leadingDimension: transB ? k : n)
            var whole = start
            BLASGate.call {
                cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n),
                            Int32(k), 0.5, a, Int32(layoutA.leadingDimension), b, Int32(layoutB.leadingDimension), 0.25, &whole, Int32(n))
            }
            // The definition, in Double, bounds both.
            var expected = [Double](repeating: 0, count: m * n)
            for i in 0..<m {
                for j in 0..<n {
                    var total = 0.0
                    for p in 0..<k {
                        let x = transA ? a[p * m + i] : a[i * k + p], y = transB ? b[j * k + p] : b[p * n + j]
                        total += Double(x) * Double(y)
                    }
                    expected[i * n + j] = 0.5 * total + 0.25 * Double(start[i * n + j])
                }
            }
            for threads in [1, 2] {
                ThreadBudget.install(ThreadBudget.resolve(requested: threads))
                var blocked = start
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        blocked.withUnsafeMutableBufferPointer { pc in
                            gemm(pa.baseAddress!, layoutA, pb.baseAddress!, layoutB, pc.baseAddress!, m: m, n: n, k: k, alpha: 0.5, beta: 0.25)
                        }
                    }
                }
                #expect(blocked == whole, "\(m)×\(n)×\(k) transA \(transA) transB \(transB) on \(threads) thread(s)")
                let worst = zip(blocked, expected).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(worst < 1e-3, "\(m)×\(n)×\(k): off the definition by \(worst)")
            }
        }
    }

    @Test("OpenBLAS runs on one thread; the blocks cover C exactly once")
    func oneThreadAndCoverage() {
        #expect(BLASGate.threads == 1)
        for (m, n) in [(300, 40), (40, 500), (17, 17), (1000, 1000)] {
            let hits = Mutex([Int](repeating: 0, count: m * n))
            forEachGEMMBlock(MatrixLayout(transposed: false, leadingDimension: 64), MatrixLayout(transposed: false, leadingDimension: n),
                             m: m, n: n, k: 64) { block in
                hits.withLock { hits in
                    for i in block.row..<block.row + block.rows {
                        for j in block.column..<block.column + block.columns { hits[i * n + j] += 1 }
                    }
                }
            }
            #expect(hits.withLock { $0.allSatisfy { $0 == 1 } }, "\(m)×\(n)")
        }
    }
}
