// The start-up choice of OpenBLAS's kernels as this test process got it (the paths that re-execute
// are run as subprocesses by CLITests.blasKernelSelection).
import CBLAS
import Kernels
import Testing

@Suite("BLAS kernel selection")
struct BLASSelectionTests {
    @Test("the record names the core OpenBLAS runs, and those kernels pass the GEMM self-test")
    func record() {
        let core = String(cString: openblas_get_corename()).filter { $0 != " " }
        #expect(BLASSelection.inUse == core)
        #expect(BLASSelection.summary.hasPrefix(core))
        // sgemm and dgemm of awkward shapes, all four transposes, against float64: within the
        // tolerance 4·(k + 2)·ε·Σ|a·b|, the bound a reordered summation stays inside.
        let error = BLASSelection.selfTest()
        #expect(error < 1, "worst error \(error)× the tolerance")
        if BLASSelection.decision == .chosen { #expect(BLASSelection.selfTestError.map { $0 < 1 } == true) }
    }
}
