// See CBLASSelection.h. Runs as an ELF constructor: after OpenBLAS's own (a library's
// constructors run before those of the program that links it) and before main.
#define _GNU_SOURCE
#include "CBLASSelection.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static scizoo_blas_selection_t selection = { .selfTestError = -1 };

const scizoo_blas_selection_t *scizoo_blas_selection(void) { return &selection; }

// Phases of one start-up across re-executions, carried in the environment.
static const char *const phaseVariable = "SCIZOO_BLAS_PHASE";
static const char *const detectedVariable = "SCIZOO_BLAS_DETECTED";
static const char *const errorVariable = "SCIZOO_BLAS_SELF_TEST_ERROR";
// Test hooks: start as if OpenBLAS had picked this core; make the self-test fail.
static const char *const testStartVariable = "SCIZOO_BLAS_TEST_START_CORE";
static const char *const testFailVariable = "SCIZOO_BLAS_TEST_FAIL_SELF_TEST";

// Instruction-set level of OpenBLAS 0.3.x core names: 0 SSE only, 1 AVX, 2 AVX2 + FMA, 3 AVX-512,
// 4 AVX-512 with BF16. -1: a name this table does not know (a newer OpenBLAS): never overridden.
static int coreLevel(const char *core) {
    static const char *const names[][2] = {
        {"Katmai", "0"}, {"Coppermine", "0"}, {"Northwood", "0"}, {"Prescott", "0"}, {"Banias", "0"},
        {"Core2", "0"}, {"Penryn", "0"}, {"Dunnington", "0"}, {"Nehalem", "0"}, {"Atom", "0"}, {"Nano", "0"},
        {"Opteron", "0"}, {"Opteron_SSE3", "0"}, {"Barcelona", "0"}, {"Bobcat", "0"}, {"Generic", "0"},
        {"Sandybridge", "1"}, {"Bulldozer", "1"}, {"Piledriver", "1"}, {"Steamroller", "1"},
        {"Haswell", "2"}, {"Zen", "2"}, {"Excavator", "2"},
        {"SkylakeX", "3"},
        {"Cooperlake", "4"}, {"SapphireRapids", "4"},
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (strcasecmp(core, names[k][0]) == 0) return names[k][1][0] - '0';
    }
    return -1;
}

static void copyName(char *destination, size_t size, const char *source) {
    snprintf(destination, size, "%s", source ? source : "");
    size_t n = strlen(destination);
    while (n > 0 && destination[n - 1] == ' ') destination[--n] = 0;
}

// The best core the CPU (and the OS, which must save the wider registers) supports.
static const char *bestCore(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    int avx = __builtin_cpu_supports("avx"), avx2 = __builtin_cpu_supports("avx2"), fma = __builtin_cpu_supports("fma");
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512dq");
    int bf16 = avx512 && __builtin_cpu_supports("avx512bf16");
    char features[sizeof selection.features];
    snprintf(features, sizeof features, "%s%s%s%s%s", avx ? "AVX " : "", avx2 ? "AVX2 " : "", fma ? "FMA " : "",
             avx512 ? "AVX-512 " : "", bf16 ? "AVX512-BF16" : "");
    copyName(selection.features, sizeof selection.features, features);
    if (bf16) return "Cooperlake";
    if (avx512) return "SkylakeX";
    if (avx2 && fma) return "Haswell";
    if (avx) return "Sandybridge";
#endif
    return "";
}

static double lcg(unsigned *state) {
    *state = *state * 1664525u + 1013904223u;
    return (double)(*state >> 8) / (double)(1u << 24) * 2.0 - 1.0;
}

// One GEMM C = alpha·op(A)·op(B) + beta·C, row-major with padded leading dimensions, in float or
// double, against a float64 reference; returns the worst |error| / tolerance.
static double checkGEMM(int m, int n, int k, int transA, int transB, int useDouble, unsigned seed) {
    int rowsA = transA ? k : m, colsA = transA ? m : k, rowsB = transB ? n : k, colsB = transB ? k : n;
    int lda = colsA + 3, ldb = colsB + 1, ldc = n + 2;
    double *a = malloc(sizeof(double) * rowsA * lda), *b = malloc(sizeof(double) * rowsB * ldb), *c = malloc(sizeof(double) * m * ldc);
    float *af = malloc(sizeof(float) * rowsA * lda), *bf = malloc(sizeof(float) * rowsB * ldb), *cf = malloc(sizeof(float) * m * ldc);
    double *out = malloc(sizeof(double) * m * ldc);
    double worst = INFINITY;
    if (a && b && c && af && bf && cf && out) {
        unsigned state = seed;
        // Values rounded to float, so the float and double products start from the same numbers.
        for (int q = 0; q < rowsA * lda; q++) { af[q] = (float)lcg(&state); a[q] = af[q]; }
        for (int q = 0; q < rowsB * ldb; q++) { bf[q] = (float)lcg(&state); b[q] = bf[q]; }
        for (int q = 0; q < m * ldc; q++) { cf[q] = (float)lcg(&state); c[q] = cf[q]; out[q] = c[q]; }
        const double alpha = 0.75, beta = 0.5;
        if (useDouble) {
            cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
                        ldb, beta, out, ldc);
        } else {
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, m, n, k, (float)alpha, af,
                        lda, bf, ldb, (float)beta, cf, ldc);
            for (int q = 0; q < m * ldc; q++) out[q] = cf[q];
        }
        double epsilon = useDouble ? DBL_EPSILON : FLT_EPSILON;
        worst = 0;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0, magnitude = 0;
                for (int p = 0; p < k; p++) {
                    double x = transA ? a[p * lda + i] : a[i * lda + p], y = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += x * y;
                    magnitude += fabs(x * y);
                }
                double expected = alpha * sum + beta * c[i * ldc + j];
                double tolerance = 4 * (k + 2) * epsilon * (alpha * magnitude + beta * fabs(c[i * ldc + j])) + 1e-30;
                double error = fabs(out[i * ldc + j] - expected) / tolerance;
                if (!(error <= worst)) worst = error;  // NaN counts as the worst
            }
            // The padding beyond n columns must be untouched.
            for (int j = n; j < ldc; j++) {
                if (out[i * ldc + j] != c[i * ldc + j]) worst = INFINITY;
            }
        }
    }
    free(a); free(b); free(c); free(af); free(bf); free(cf); free(out);
    return worst;
}

double scizoo_blas_self_test(void) {
    // Edges of the kernels' register and cache blocks, vectors and outer products among them.
    static const int shapes[][3] = {{1, 1, 1}, {1, 67, 31}, {64, 1, 130}, {7, 13, 5}, {37, 29, 53}, {17, 33, 255}, {129, 67, 250}, {96, 96, 96}};
    double worst = 0;
    unsigned seed = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (int transposes = 0; transposes < 4; transposes++) {
            for (int useDouble = 0; useDouble < 2; useDouble++) {
                double error = checkGEMM(shapes[s][0], shapes[s][1], shapes[s][2], transposes & 1, transposes >> 1, useDouble, seed++);
                if (!(error <= worst)) worst = error;
            }
        }
    }
    return worst;
}

// An environment variable, empty counting as unset (so a child's environment can clear one).
static const char *variable(const char *name) {
    const char *value = getenv(name);
    return value != NULL && value[0] != 0 ? value : NULL;
}

static void reexecute(char **argv) {
    fflush(NULL);
    execv("/proc/self/exe", argv);
    // exec failed (no /proc?): carry on with the kernels already loaded, and take back what was set
    // for the new image so that child processes do not believe a choice was made.
    fprintf(stderr, "scizoo: could not re-execute to select OpenBLAS kernels; continuing with %s\n", selection.inUse);
    unsetenv(phaseVariable);
    unsetenv(detectedVariable);
    unsetenv(errorVariable);
    unsetenv("OPENBLAS_CORETYPE");
}

__attribute__((constructor)) static void selectBLASCore(int argc, char **argv, char **envp) {
    (void)argc; (void)envp;
    const char *best = bestCore();
    copyName(selection.best, sizeof selection.best, best);
    copyName(selection.inUse, sizeof selection.inUse, openblas_get_corename());
    const char *phase = variable(phaseVariable), *requested = variable("OPENBLAS_CORETYPE");
    const char *testStart = variable(testStartVariable);
    int canReexecute = argv != NULL && argv[0] != NULL;

    if (phase == NULL && testStart != NULL && canReexecute) {
        setenv("OPENBLAS_CORETYPE", testStart, 1);
        setenv(phaseVariable, "test-start", 1);
        reexecute(argv);
    }
    int testStarted = phase != NULL && strcmp(phase, "test-start") == 0;
    if (phase == NULL || testStarted) {
        copyName(selection.detected, sizeof selection.detected, selection.inUse);
        if (requested != NULL && !testStarted) {
            selection.decision = 2;
            return;
        }
        int detectedLevel = coreLevel(selection.inUse), bestLevel = coreLevel(best);
        if (detectedLevel >= 0 && bestLevel > detectedLevel && canReexecute) {
            setenv("OPENBLAS_CORETYPE", best, 1);
            setenv(detectedVariable, selection.inUse, 1);
            setenv(phaseVariable, "chosen", 1);
            reexecute(argv);
        }
        if (testStarted) unsetenv("OPENBLAS_CORETYPE");
        unsetenv(phaseVariable);
        selection.decision = 0;
        return;
    }
    copyName(selection.detected, sizeof selection.detected, variable(detectedVariable));
    if (strcmp(phase, "chosen") == 0) {
        if (requested == NULL || strcasecmp(requested, selection.inUse) != 0) {
            selection.decision = 4;
            return;
        }
        selection.selfTestError = variable(testFailVariable) ? INFINITY : scizoo_blas_self_test();
        if (selection.selfTestError < 1) {
            selection.decision = 1;
            return;
        }
        char error[32];
        snprintf(error, sizeof error, "%g", selection.selfTestError);
        setenv(errorVariable, error, 1);
        setenv("OPENBLAS_CORETYPE", selection.detected, 1);
        setenv(phaseVariable, "fallback", 1);
        if (canReexecute) reexecute(argv);
        selection.decision = 3;
        return;
    }
    if (strcmp(phase, "fallback") == 0) {
        const char *error = variable(errorVariable);
        selection.selfTestError = error ? strtod(error, NULL) : INFINITY;
        selection.decision = 3;
        fprintf(stderr, "scizoo: warning: OpenBLAS's %s kernels failed SciZoo's GEMM self-test (worst error %s× the tolerance); "
                        "using the %s kernels OpenBLAS chose itself\n", best, error ? error : "?", selection.inUse);
    }
}
