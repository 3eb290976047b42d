// bf16 matrix products with float32 accumulation on AVX512-BF16 (VDPBF16PS): C = A·B + beta·C for
// row-major float32 matrices, each operand rounded to bfloat16 (round to nearest even) while it is
// packed. The building block of bf16 training (DeepSpeed's `bf16: {enabled: true}`): products in
// bf16, sums and master weights in float32. Blocked as the classic GEMM: a K block of B packed in
// panels of 32 columns (k-pairs interleaved, as VDPBF16PS reads them), an M block of A in slivers
// of 12 rows, and a 12 × 32 micro-kernel holding 24 accumulators.
#include "CKernels.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { MR = 12, NR = 32, KC = 256, MC = 144 };

static inline uint16_t bf16_round(float x) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu)) return (uint16_t)((bits >> 16) | 0x40);  // NaN stays NaN
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

float scizoo_bf16_round_f32(float x) {
    uint32_t bits = (uint32_t)bf16_round(x) << 16;
    float y;
    memcpy(&y, &bits, 4);
    return y;
}

static inline float element(const float *m, ptrdiff_t ld, int transposed, ptrdiff_t row, ptrdiff_t column) {
    return transposed ? m[column * ld + row] : m[row * ld + column];
}

/// B[k0 ..< k0+kc, n0 ..< n0+nc] as panels of NR columns: panel p, pair q holds, for each column j,
/// (B[k0+2q, j], B[k0+2q+1, j]); zero past the matrix.
static void pack_b(uint16_t *packed, const float *b, ptrdiff_t ldb, int transB, ptrdiff_t k0, int kc, ptrdiff_t n0, int nc, ptrdiff_t K, ptrdiff_t N) {
    int pairs = (kc + 1) / 2;
    for (int p = 0; p * NR < nc; p++) {
        uint16_t *panel = packed + (size_t)p * pairs * NR * 2;
        for (int q = 0; q < pairs; q++) {
            for (int j = 0; j < NR; j++) {
                ptrdiff_t column = n0 + p * NR + j, row = k0 + 2 * q;
                int inside = p * NR + j < nc && column < N;
                panel[(q * NR + j) * 2] = inside && row < K ? bf16_round(element(b, ldb, transB, row, column)) : 0;
                panel[(q * NR + j) * 2 + 1] = inside && row + 1 < K && 2 * q + 1 < kc ? bf16_round(element(b, ldb, transB, row + 1, column)) : 0;
            }
        }
    }
}

/// A[m0 ..< m0+mc, k0 ..< k0+kc] as slivers of MR rows: sliver s, pair q, row i holds the pair
/// (A[i, k0+2q], A[i, k0+2q+1]) as one 32-bit word.
static void pack_a(uint32_t *packed, const float *a, ptrdiff_t lda, int transA, ptrdiff_t m0, int mc, ptrdiff_t k0, int kc, ptrdiff_t M, ptrdiff_t K) {
    int pairs = (kc + 1) / 2;
    for (int s = 0; s * MR < mc; s++) {
        uint32_t *sliver = packed + (size_t)s * pairs * MR;
        for (int q = 0; q < pairs; q++) {
            for (int i = 0; i < MR; i++) {
                ptrdiff_t row = m0 + s * MR + i, column = k0 + 2 * q;
                int inside = s * MR + i < mc && row < M;
                uint32_t low = inside && column < K ? bf16_round(element(a, lda, transA, row, column)) : 0;
                uint32_t high = inside && column + 1 < K && 2 * q + 1 < kc ? bf16_round(element(a, lda, transA, row, column + 1)) : 0;
                sliver[q * MR + i] = low | (high << 16);
            }
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/// pack_b for a stored (not transposed) B whose panel lies wholly inside the matrix: 16 columns of
/// two rows converted at once and interleaved by one permutation.
BF16 static void pack_b_panel_fast(uint16_t *panel, const float *b, ptrdiff_t ldb, ptrdiff_t k0, int kc, ptrdiff_t column) {
    static const short order[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                    8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    const __m512i interleave = _mm512_loadu_si512((const void *)order);
    int pairs = (kc + 1) / 2;
    for (int q = 0; q < pairs; q++) {
        const float *row0 = b + (k0 + 2 * q) * ldb + column;
        const float *row1 = 2 * q + 1 < kc ? row0 + ldb : NULL;
        for (int half = 0; half < 2; half++) {
            __m512 low = _mm512_loadu_ps(row0 + 16 * half);
            __m512 high = row1 ? _mm512_loadu_ps(row1 + 16 * half) : _mm512_setzero_ps();
            __m512i both = (__m512i)_mm512_cvtne2ps_pbh(high, low);  // row0's 16 columns, then row1's
            _mm512_storeu_si512((void *)(panel + (q * NR + 16 * half) * 2), _mm512_permutexvar_epi16(interleave, both));
        }
    }
}

/// pack_a for a stored A whose sliver lies wholly inside the matrix: each row's k-block converted
/// 32 floats at a time; consecutive bf16 pairs are the 32-bit words the kernel broadcasts.
BF16 static void pack_a_sliver_fast(uint32_t *sliver, const float *a, ptrdiff_t lda, ptrdiff_t row, ptrdiff_t k0, int kc) {
    int pairs = (kc + 1) / 2;
    uint32_t words[16];
    for (int i = 0; i < MR; i++) {
        const float *source = a + (row + i) * lda + k0;
        int q = 0;
        for (; q + 16 <= kc / 2; q += 16) {
            __m512i converted = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(source + 2 * q + 16), _mm512_loadu_ps(source + 2 * q));
            _mm512_storeu_si512((void *)words, converted);
            for (int w = 0; w < 16; w++) sliver[(q + w) * MR + i] = words[w];
        }
        for (; q < pairs; q++) {
            uint32_t low = bf16_round(source[2 * q]), high = 2 * q + 1 < kc ? bf16_round(source[2 * q + 1]) : 0;
            sliver[q * MR + i] = low | (high << 16);
        }
    }
}

/// Σ_q A-sliver · B-panel over `pairs` k-pairs into a 12 × 32 block of C (c, ldc): written as
/// scale·C + the sum, or, for an edge block (`tile` given), into tile[MR][NR] for the caller to copy.
BF16 static void micro_kernel(int pairs, const uint32_t *a, const uint16_t *b, float *c, ptrdiff_t ldc, float scale, float *tile) {
    __m512 acc[MR][2];
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int q = 0; q < pairs; q++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)(b + q * NR * 2));
        __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(b + q * NR * 2 + 32));
        const uint32_t *column = a + q * MR;
        for (int i = 0; i < MR; i++) {
            __m512bh x = (__m512bh)_mm512_set1_epi32((int)column[i]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], x, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], x, b1);
        }
    }
    if (tile) {
        for (int i = 0; i < MR; i++) {
            _mm512_storeu_ps(tile + i * NR, acc[i][0]);
            _mm512_storeu_ps(tile + i * NR + 16, acc[i][1]);
        }
        return;
    }
    const __m512 factor = _mm512_set1_ps(scale);
    for (int i = 0; i < MR; i++) {
        float *row = c + i * ldc;
        for (int half = 0; half < 2; half++) {
            __m512 value = acc[i][half];
            if (scale != 0) value = _mm512_fmadd_ps(factor, _mm512_loadu_ps(row + 16 * half), value);
            _mm512_storeu_ps(row + 16 * half, value);
        }
    }
}
#endif

int scizoo_bf16_gemm_available(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

int scizoo_bf16_gemm_rows(ptrdiff_t m0, ptrdiff_t m1, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *a, ptrdiff_t lda, int transA,
                          const float *b, ptrdiff_t ldb, int transB, float beta, float *c, ptrdiff_t ldc) {
#if defined(__x86_64__)
    if (!scizoo_bf16_gemm_available()) return -1;
    int pairsMax = (KC + 1) / 2;
    ptrdiff_t panels = (N + NR - 1) / NR;
    uint16_t *packedB = aligned_alloc(64, ((size_t)panels * pairsMax * NR * 2 * sizeof(uint16_t) + 63) / 64 * 64);
    uint32_t *packedA = aligned_alloc(64, ((size_t)((MC + MR - 1) / MR) * pairsMax * MR * sizeof(uint32_t) + 63) / 64 * 64);
    float tile[MR * NR];
    if (!packedB || !packedA) { free(packedB); free(packedA); return -2; }
    for (ptrdiff_t k0 = 0; k0 < K || (K == 0 && k0 == 0); k0 += KC) {
        int kc = (int)(K - k0 < KC ? K - k0 : KC), pairs = (kc + 1) / 2;
        float scale = k0 == 0 ? beta : 1.0f;  // the first K block applies beta, the others accumulate
        if (K > 0) {
            for (ptrdiff_t p = 0; p < panels; p++) {
                uint16_t *panel = packedB + (size_t)p * pairs * NR * 2;
                if (!transB && (p + 1) * NR <= N) pack_b_panel_fast(panel, b, ldb, k0, kc, p * NR);
                else pack_b(panel, b, ldb, transB, k0, kc, p * NR, (int)(N - p * NR < NR ? N - p * NR : NR), K, N);
            }
        }
        for (ptrdiff_t mb = m0; mb < m1; mb += MC) {
            int mc = (int)(m1 - mb < MC ? m1 - mb : MC);
            if (K > 0) {
                for (int s = 0; s * MR < mc; s++) {
                    uint32_t *sliver = packedA + (size_t)s * pairs * MR;
                    int rows = mc - s * MR < MR ? mc - s * MR : MR;
                    if (!transA && rows == MR) pack_a_sliver_fast(sliver, a, lda, mb + s * MR, k0, kc);
                    else pack_a(sliver, a, lda, transA, mb + s * MR, rows, k0, kc, M, K);
                }
            }
            for (ptrdiff_t p = 0; p < panels; p++) {
                for (int s = 0; s * MR < mc; s++) {
                    int rows = mc - s * MR < MR ? mc - s * MR : MR;
                    int columns = N - p * NR < NR ? (int)(N - p * NR) : NR;
                    float *block = c + (mb + s * MR) * ldc + p * NR;
                    if (K > 0 && rows == MR && columns == NR) {  // a whole block: straight into C
                        micro_kernel(pairs, packedA + (size_t)s * pairs * MR, packedB + (size_t)p * pairs * NR * 2, block, ldc, scale, NULL);
                        continue;
                    }
                    if (K > 0) micro_kernel(pairs, packedA + (size_t)s * pairs * MR, packedB + (size_t)p * pairs * NR * 2, NULL, 0, 0, tile);
                    else memset(tile, 0, sizeof tile);
                    for (int i = 0; i < rows; i++) {
                        float *out = c + (mb + s * MR + i) * ldc + p * NR;
                        if (scale == 0) for (int j = 0; j < columns; j++) out[j] = tile[i * NR + j];
                        else for (int j = 0; j < columns; j++) out[j] = scale * out[j] + tile[i * NR + j];
                    }
                }
            }
        }
        if (K == 0) break;
    }
    free(packedB);
    free(packedA);
    return 0;
#else
    (void)m0; (void)m1; (void)M; (void)N; (void)K; (void)a; (void)lda; (void)transA; (void)b; (void)ldb; (void)transB; (void)beta; (void)c; (void)ldc;
    return -1;
#endif
}
