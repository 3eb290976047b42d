// Probes for a roofline: the core's peak single-precision FMA rate (independent accumulators in
// the widest vectors the CPU runs, so the loop is bound by FMA throughput, not latency) and the
// memory bandwidth of a STREAM-style triad. `scizoo bench roofline` times them.
#include "CKernels.h"
#include <stddef.h>

#if defined(__x86_64__)
#include <immintrin.h>

// 12 chains: enough to cover a 4-cycle FMA latency on two pipes. One body, two vector widths.
#define FMA_PROBE(name, isa, vector, lanes, set1, fmadd, add, store)                       \
    __attribute__((target(isa))) static float name(long iterations, float seed) {            \
        vector acc[12];                                                                          \
        for (int i = 0; i < 12; i++) acc[i] = set1(seed + (float)i);                             \
        const vector x = set1(0.999999f), y = set1(1e-7f);                                       \
        for (long n = 0; n < iterations; n++)                                                    \
            for (int i = 0; i < 12; i++) acc[i] = fmadd(acc[i], x, y);                           \
        vector total = acc[0];                                                                   \
        for (int i = 1; i < 12; i++) total = add(total, acc[i]);                                 \
        float values[lanes], sum = 0;                                                            \
        store(values, total);                                                                    \
        for (int i = 0; i < lanes; i++) sum += values[i];                                        \
        return sum;                                                                              \
    }

FMA_PROBE(fma_avx512, "avx512f", __m512, 16, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps)
FMA_PROBE(fma_avx2, "avx2,fma", __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps)
#endif

int scizoo_fma_probe_width(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 16;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 8;
#endif
    return 1;
}

double scizoo_fma_probe(long iterations, float *sink) {
    int width = scizoo_fma_probe_width();
    float result = 0;
#if defined(__x86_64__)
    if (width == 16) result = fma_avx512(iterations, *sink);
    else if (width == 8) result = fma_avx2(iterations, *sink);
#endif
    if (width == 1) {
        float acc[12];
        for (int i = 0; i < 12; i++) acc[i] = *sink + (float)i;
        for (long n = 0; n < iterations; n++) for (int i = 0; i < 12; i++) acc[i] = acc[i] * 0.999999f + 1e-7f;
        for (int i = 0; i < 12; i++) result += acc[i];
    }
    *sink = result;
    return 2.0 * 12.0 * (double)width * (double)iterations;
}

void scizoo_triad_f32(float *a, const float *b, const float *c, ptrdiff_t n, float scale) {
    for (ptrdiff_t i = 0; i < n; i++) a[i] = b[i] + scale * c[i];
}
