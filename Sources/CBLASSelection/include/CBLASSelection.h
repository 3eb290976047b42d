// CBLASSelection: makes OpenBLAS run the best kernels the CPU has before anything else runs.
//
// OpenBLAS picks its kernel set (its "core") once, while the library loads, from cpuid or from
// OPENBLAS_CORETYPE. Releases older than the CPU fall back to generic SSE3 kernels (Debian's
// 0.3.21 reports "Prescott" on Emerald Rapids: 10x slower matrix products). A constructor here runs
// after OpenBLAS has loaded and before main: when the core OpenBLAS reports is below what the CPU
// supports and OPENBLAS_CORETYPE is not set, it sets it and re-executes the process (same pid,
// arguments and environment, so it holds under mpirun and in test runners); the re-executed
// process checks the chosen kernels on awkward GEMM shapes against a float64 reference and falls
// back to OpenBLAS's own choice, with a warning, if they are wrong.
#ifndef SCIZOO_CBLASSELECTION_H
#define SCIZOO_CBLASSELECTION_H

/// What the constructor found and did. Strings are empty when not applicable.
typedef struct {
    /// The core OpenBLAS picked by itself (before any choice of ours).
    char detected[32];
    /// The best core for this CPU's instruction sets ("" when the CPU is not x86-64).
    char best[32];
    /// The core in use now.
    char inUse[32];
    /// Instruction sets seen by cpuid (and enabled by the OS), e.g. "AVX2 FMA AVX-512 AVX512-BF16".
    char features[96];
    /// 0: OpenBLAS's own choice kept (already the best); 1: chosen by SciZoo, self-test passed;
    /// 2: OPENBLAS_CORETYPE came from the environment and was kept; 3: chosen by SciZoo, self-test
    /// failed, fell back to OpenBLAS's own choice; 4: OpenBLAS did not take the chosen core.
    int decision;
    /// The self-test's worst error relative to its tolerance (< 1 passes); -1 when not run.
    double selfTestError;
} scizoo_blas_selection_t;

/// The record of the selection made at start-up.
const scizoo_blas_selection_t *scizoo_blas_selection(void);

/// The self-test: sgemm and dgemm of awkward shapes, every transpose combination, against a
/// float64 reference. Returns the worst error relative to its tolerance (< 1 passes).
double scizoo_blas_self_test(void);

#endif
