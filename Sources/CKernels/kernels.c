// Row primitives for softmax and attention. Each exists twice: an AVX2+FMA version and a
// portable one; the choice is made once per process from the CPU's features. Both compute
// exp with Cephes' expf reduction and polynomial (relative error about 2e-7) and sum in a
// fixed lane order, so a machine gives the same bits on every run and thread count.
#include "CKernels.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define SCIZOO_HAVE_X86 1
#else
#define SCIZOO_HAVE_X86 0
#endif

static const float exp_hi = 88.72283f, exp_lo = -87.336544f;

// ---- portable path ----------------------------------------------------------------------

static inline float exp_scalar(float x) {
    // Branch-free so compilers vectorise loops over it with the baseline instruction set:
    // rounding by the 1.5*2^23 trick, 2^n from the integer left in the low mantissa bits.
    float xc = x > exp_hi ? exp_hi : (x < exp_lo ? exp_lo : x);
    const float magic = 12582912.0f;
    float shifted = xc * 1.44269504f + magic;
    float n = shifted - magic;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * (r * r) + r + 1.0f;
    int32_t shifted_bits, magic_bits;
    memcpy(&shifted_bits, &shifted, 4);
    memcpy(&magic_bits, &magic, 4);
    uint32_t scale_bits = (uint32_t)(shifted_bits - magic_bits + 127) << 23;
    float scale;
    memcpy(&scale, &scale_bits, 4);
    return x < exp_lo ? 0.0f : e * scale;
}

static float max_portable(const float *x, ptrdiff_t n) {
    float m[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) m[k] = x[i + k] > m[k] ? x[i + k] : m[k];
    float result = -INFINITY;
    for (int k = 0; k < 8; k++) result = m[k] > result ? m[k] : result;
    for (; i < n; i++) result = x[i] > result ? x[i] : result;
    return result;
}

static float reduce8(const float s[8]) {
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static float exp_sum_portable(const float *x, float *y, ptrdiff_t n, float shift) {
    float s[8] = {0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            float e = exp_scalar(x[i + k] - shift);
            y[i + k] = e;
            s[k] += e;
        }
    float total = reduce8(s);
    for (; i < n; i++) {
        float e = exp_scalar(x[i] - shift);
        y[i] = e;
        total += e;
    }
    return total;
}

static float sum_portable(const float *x, ptrdiff_t n) {
    float s[8] = {0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += x[i + k];
    float total = reduce8(s);
    for (; i < n; i++) total += x[i];
    return total;
}

static void scale_portable(const float *x, float *y, ptrdiff_t n, float scale) {
    for (ptrdiff_t i = 0; i < n; i++) y[i] = x[i] * scale;
}

// ---- AVX2 + FMA path ----------------------------------------------------------------------

#if SCIZOO_HAVE_X86
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256 exp_avx2(__m256 x) {
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(exp_lo)), _mm256_set1_ps(exp_hi));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 e = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 result = _mm256_mul_ps(e, _mm256_castsi256_ps(bits));
    // x < lo (including -inf) gives 0; NaN stays NaN through the unordered compare.
    __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(exp_lo), _CMP_NLT_UQ);
    return _mm256_and_ps(result, keep);
}

AVX2 static inline float hsum_avx2(__m256 v) {
    float s[8];
    _mm256_storeu_ps(s, v);
    return reduce8(s);
}

AVX2 static float max_avx2(const float *x, ptrdiff_t n) {
    __m256 m = _mm256_set1_ps(-INFINITY);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
    float s[8];
    _mm256_storeu_ps(s, m);
    float result = -INFINITY;
    for (int k = 0; k < 8; k++) result = s[k] > result ? s[k] : result;
    for (; i < n; i++) result = x[i] > result ? x[i] : result;
    return result;
}

AVX2 static float exp_sum_avx2(const float *x, float *y, ptrdiff_t n, float shift) {
    __m256 total = _mm256_setzero_ps(), total2 = _mm256_setzero_ps();
    __m256 s = _mm256_set1_ps(shift);
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 e0 = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
        __m256 e1 = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), s));
        _mm256_storeu_ps(y + i, e0);
        _mm256_storeu_ps(y + i + 8, e1);
        total = _mm256_add_ps(total, e0);
        total2 = _mm256_add_ps(total2, e1);
    }
    if (i < n) {
        // Tail: the same vector formula on lanes padded with -inf (which give 0).
        for (; i < n; i += 8) {
            float in[8], out[8];
            ptrdiff_t m = n - i < 8 ? n - i : 8;
            for (int k = 0; k < 8; k++) in[k] = k < m ? x[i + k] - shift : -INFINITY;
            __m256 e = exp_avx2(_mm256_loadu_ps(in));
            _mm256_storeu_ps(out, e);
            for (int k = 0; k < m; k++) y[i + k] = out[k];
            total = _mm256_add_ps(total, e);
        }
    }
    return hsum_avx2(_mm256_add_ps(total, total2));
}

AVX2 static float sum_avx2(const float *x, ptrdiff_t n) {
    __m256 a = _mm256_setzero_ps();
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) a = _mm256_add_ps(a, _mm256_loadu_ps(x + i));
    float total = hsum_avx2(a);
    for (; i < n; i++) total += x[i];
    return total;
}

AVX2 static void scale_avx2(const float *x, float *y, ptrdiff_t n, float scale) {
    __m256 s = _mm256_set1_ps(scale);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), s));
    for (; i < n; i++) y[i] = x[i] * scale;
}
#endif

// ---- GELU (tanh form) and its derivative ----------------------------------------------------
// gelu(x) = x/2 · (1 + tanh(c·(x + a·x³))). With e = e^{2u}: 1 − tanh u = 2/(e + 1) and
// 1 + tanh u = e·(1 − tanh u), so neither side cancels where tanh saturates (2u is capped at 80,
// where e is still finite; below −87 e is 0 and the limits are exact).

static const float gelu_c = 0.7978845608f, gelu_a = 0.044715f;

static void gelu_tanh_portable(const float *x, float *y, ptrdiff_t n, int derivative) {
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i], v2 = v * v;
        float u = gelu_c * (v + gelu_a * v2 * v);
        float e = exp_scalar(fminf(2.0f * u, 80.0f));
        float minus = 2.0f / (e + 1.0f), plus = e * minus;  // 1 − tanh u, 1 + tanh u
        y[i] = derivative ? 0.5f * plus + 0.5f * v * (plus * minus) * gelu_c * (1.0f + 3.0f * gelu_a * v2)
                          : 0.5f * v * plus;
    }
}

#if SCIZOO_HAVE_X86
AVX2 static void gelu_tanh_avx2(const float *x, float *y, ptrdiff_t n, int derivative) {
    const __m256 c = _mm256_set1_ps(gelu_c), a = _mm256_set1_ps(gelu_a), one = _mm256_set1_ps(1.0f);
    const __m256 two = _mm256_set1_ps(2.0f), half = _mm256_set1_ps(0.5f), three_a = _mm256_set1_ps(3.0f * gelu_a);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i), v2 = _mm256_mul_ps(v, v);
        __m256 u = _mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_mul_ps(a, v2), v, v));
        __m256 e = exp_avx2(_mm256_min_ps(_mm256_mul_ps(two, u), _mm256_set1_ps(80.0f)));
        __m256 minus = _mm256_div_ps(two, _mm256_add_ps(e, one)), plus = _mm256_mul_ps(e, minus);
        __m256 r;
        if (derivative) {
            __m256 first = _mm256_mul_ps(half, plus);
            __m256 sech2 = _mm256_mul_ps(plus, minus);
            __m256 inner = _mm256_mul_ps(c, _mm256_fmadd_ps(three_a, v2, one));
            r = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_mul_ps(half, v), sech2), inner, first);
        } else {
            r = _mm256_mul_ps(_mm256_mul_ps(half, v), plus);
        }
        _mm256_storeu_ps(y + i, r);
    }
    if (i < n) gelu_tanh_portable(x + i, y + i, n - i, derivative);
}
#endif

// ---- GELU (erf form) and its derivative -----------------------------------------------------
// gelu(x) = x·Φ(x), gelu'(x) = Φ(x) + x·φ(x), with Φ(x) = erfc(z)/2 for z = −x/√2 taken from the
// Chebyshev fit of erfc in Numerical Recipes (2nd ed., §6.2: erfc(z) = t·exp(−z² + P(t)), t = 1/(1 +
// z/2), fractional error below 1.2e-7 for z ≥ 0) and erfc(−z) = 2 − erfc(z). Relative accuracy holds
// in the far negative tail, where 1 + erf(x/√2) would cancel.

static const float erfc_p[10] = {-1.26551223f, 1.00002368f, 0.37409196f, 0.09678418f, -0.18628806f,
                                 0.27886807f, -1.13520398f, 1.48851587f, -0.82215223f, 0.17087277f};
static const float inv_sqrt2 = 0.70710678f, inv_sqrt2pi = 0.39894228f;

static inline float erfc_poly(float t) {
    float p = erfc_p[9];
    for (int q = 8; q >= 0; q--) p = p * t + erfc_p[q];
    return p;
}

static void gelu_erf_portable(const float *x, float *y, ptrdiff_t n, int derivative) {
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i], z = fabsf(v) * inv_sqrt2;
        float t = 1.0f / (1.0f + 0.5f * z);
        float tail = 0.5f * t * exp_scalar(erfc_poly(t) - z * z);  // erfc(|z|)/2 = Φ(−|x|)
        float cdf = v < 0 ? tail : 1.0f - tail;
        if (v != v) cdf = v;
        y[i] = derivative ? cdf + v * inv_sqrt2pi * exp_scalar(-0.5f * v * v) : v * cdf;
    }
}

#if SCIZOO_HAVE_X86
AVX2 static void gelu_erf_avx2(const float *x, float *y, ptrdiff_t n, int derivative) {
    const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f), r2 = _mm256_set1_ps(inv_sqrt2);
    const __m256 r2pi = _mm256_set1_ps(inv_sqrt2pi), sign = _mm256_set1_ps(-0.0f);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 z = _mm256_mul_ps(_mm256_andnot_ps(sign, v), r2);
        __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(half, z, one));
        __m256 p = _mm256_set1_ps(erfc_p[9]);
        for (int q = 8; q >= 0; q--) p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(erfc_p[q]));
        __m256 tail = _mm256_mul_ps(_mm256_mul_ps(half, t), exp_avx2(_mm256_fnmadd_ps(z, z, p)));
        __m256 negative = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        __m256 cdf = _mm256_blendv_ps(_mm256_sub_ps(one, tail), tail, negative);
        cdf = _mm256_blendv_ps(cdf, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        __m256 r;
        if (derivative) {
            __m256 pdf = _mm256_mul_ps(r2pi, exp_avx2(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(-0.5f), v), v)));
            r = _mm256_fmadd_ps(v, pdf, cdf);
        } else {
            r = _mm256_mul_ps(v, cdf);
        }
        _mm256_storeu_ps(y + i, r);
    }
    if (i < n) gelu_erf_portable(x + i, y + i, n - i, derivative);
}
#endif

// ---- logistic family: softplus, sigmoid, SiLU ----------------------------------------------
// All three start from e = e^{-|x|} in (0, 1], so no tail overflows. softplus(x) = max(x, 0) +
// log1p(e), with log1p(e) = log(u) + (e - (u - 1))/u for u = 1 + e rounded (the correction
// restores the bits of e lost in the rounding) and log(u) by Cephes' logf polynomial on
// m = u or u/2 in [sqrt(1/2), sqrt(2)]. sigmoid(x) = 1/(1 + e) for x >= 0, e/(1 + e) below.

static const float log_p[9] = {7.0376836292e-2f, -1.1514610310e-1f, 1.1676998740e-1f, -1.2420140846e-1f,
                               1.4249322787e-1f, -1.6668057665e-1f, 2.0000714765e-1f, -2.4999993993e-1f,
                               3.3333331174e-1f};
static const float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;

static inline float log1p_unit_scalar(float e) {
    // e in [0, 1]: u = 1 + e in [1, 2].
    float u = 1.0f + e;
    float k = u > 1.41421356f ? 1.0f : 0.0f;
    float m = u > 1.41421356f ? 0.5f * u : u;
    float f = m - 1.0f, z = f * f;
    float p = log_p[0];
    for (int i = 1; i < 9; i++) p = p * f + log_p[i];
    float y = f * z * p + k * ln2_lo - 0.5f * z;
    float log_u = f + y + k * ln2_hi;
    return log_u + (e - (u - 1.0f)) / u;
}

static void logistic_portable(const float *x, float *y, ptrdiff_t n, int op, float shift) {
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i];
        float e = exp_scalar(-fabsf(v));
        if (op == SCIZOO_SOFTPLUS) {
            y[i] = (v > 0 ? v : 0.0f) + log1p_unit_scalar(e);
        } else {
            float s = v >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
            y[i] = op == SCIZOO_SIGMOID ? s : v * s;
        }
        y[i] -= shift;
        if (v != v) y[i] = v;
    }
}

#if SCIZOO_HAVE_X86
AVX2 static inline __m256 reciprocal_avx2(__m256 d) {
    // A 12-bit estimate and one Newton step: about 23 bits, without the divider's latency.
    __m256 r = _mm256_rcp_ps(d);
    return _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0f)));
}

AVX2 static inline __m256 log1p_unit_avx2(__m256 e) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 u = _mm256_add_ps(one, e);
    __m256 high = _mm256_cmp_ps(u, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
    __m256 k = _mm256_and_ps(high, one);
    __m256 m = _mm256_blendv_ps(u, _mm256_mul_ps(_mm256_set1_ps(0.5f), u), high);
    __m256 f = _mm256_sub_ps(m, one), z = _mm256_mul_ps(f, f);
    __m256 p = _mm256_set1_ps(log_p[0]);
    for (int i = 1; i < 9; i++) p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(log_p[i]));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(f, z), p);
    y = _mm256_fmadd_ps(k, _mm256_set1_ps(ln2_lo), y);
    y = _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), z, y);
    __m256 log_u = _mm256_fmadd_ps(k, _mm256_set1_ps(ln2_hi), _mm256_add_ps(f, y));
    // Where e < 2^-24 the correction is the whole value (u = 1): full precision needed.
    __m256 correction = _mm256_mul_ps(_mm256_sub_ps(e, _mm256_sub_ps(u, one)), reciprocal_avx2(u));
    return _mm256_add_ps(log_u, correction);
}

/// sigmoid(v) from e = e^{-|v|}: 1/(1 + e) for v >= 0, e/(1 + e) below.
AVX2 static inline __m256 sigmoid_from_avx2(__m256 v, __m256 e) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 nonnegative = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_mul_ps(_mm256_blendv_ps(e, one, nonnegative), reciprocal_avx2(_mm256_add_ps(one, e)));
}

AVX2 static inline __m256 logistic_avx2_lanes(__m256 v, int op) {
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    __m256 e = exp_avx2(_mm256_or_ps(v, sign));  // e^{-|x|}
    __m256 r;
    if (op == SCIZOO_SOFTPLUS) {
        r = _mm256_add_ps(_mm256_max_ps(v, _mm256_setzero_ps()), log1p_unit_avx2(e));
    } else {
        __m256 s = sigmoid_from_avx2(v, e);
        r = op == SCIZOO_SIGMOID ? s : _mm256_mul_ps(v, s);
    }
    // NaN in, NaN out.
    return _mm256_blendv_ps(r, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

AVX2 static void logistic_avx2(const float *x, float *y, ptrdiff_t n, int op, float shift) {
    const __m256 offset = _mm256_set1_ps(shift);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_sub_ps(logistic_avx2_lanes(_mm256_loadu_ps(x + i), op), offset));
    if (i < n) {
        // Tail: the same vector formula on padded lanes, so every element gets the same bits.
        float in[8] = {0}, out[8];
        for (ptrdiff_t k = 0; k < n - i; k++) in[k] = x[i + k];
        _mm256_storeu_ps(out, _mm256_sub_ps(logistic_avx2_lanes(_mm256_loadu_ps(in), op), offset));
        for (ptrdiff_t k = 0; k < n - i; k++) y[i + k] = out[k];
    }
}

AVX2 static void softplus_sigmoid_avx2(const float *x, float *y, float *sig, ptrdiff_t n, float shift) {
    const __m256 sign = _mm256_set1_ps(-0.0f), offset = _mm256_set1_ps(shift);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = exp_avx2(_mm256_or_ps(v, sign));
        __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
        __m256 sp = _mm256_sub_ps(_mm256_add_ps(_mm256_max_ps(v, _mm256_setzero_ps()), log1p_unit_avx2(e)), offset);
        _mm256_storeu_ps(y + i, _mm256_blendv_ps(sp, v, nan));
        _mm256_storeu_ps(sig + i, _mm256_blendv_ps(sigmoid_from_avx2(v, e), v, nan));
    }
    for (; i < n; i++) {
        float one_in[8] = {x[i]}, one_out[8];
        _mm256_storeu_ps(one_out, logistic_avx2_lanes(_mm256_loadu_ps(one_in), SCIZOO_SOFTPLUS));
        y[i] = one_out[0] - shift;
        _mm256_storeu_ps(one_out, logistic_avx2_lanes(_mm256_loadu_ps(one_in), SCIZOO_SIGMOID));
        sig[i] = one_out[0];
    }
}
#endif

// ---- dispatch ---------------------------------------------------------------------------

static int use_avx2 = -1;

int scizoo_kernels_use_avx2(void) {
    if (use_avx2 < 0) {
#if SCIZOO_HAVE_X86
        __builtin_cpu_init();
        const char *off = getenv("SCIZOO_NO_AVX2");
        use_avx2 = (off == NULL || off[0] == '\0' || off[0] == '0') && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
        use_avx2 = 0;
#endif
    }
    return use_avx2;
}

float scizoo_max_f32(int path, const float *x, ptrdiff_t n) {
#if SCIZOO_HAVE_X86
    if (path > 0 || (path < 0 && scizoo_kernels_use_avx2())) return max_avx2(x, n);
#endif
    return max_portable(x, n);
}

float scizoo_exp_sum_f32(int path, const float *x, float *y, ptrdiff_t n, float shift) {
#if SCIZOO_HAVE_X86
    if (path > 0 || (path < 0 && scizoo_kernels_use_avx2())) return exp_sum_avx2(x, y, n, shift);
#endif
    return exp_sum_portable(x, y, n, shift);
}

float scizoo_sum_f32(int path, const float *x, ptrdiff_t n) {
#if SCIZOO_HAVE_X86
    if (path > 0 || (path < 0 && scizoo_kernels_use_avx2())) return sum_avx2(x, n);
#endif
    return sum_portable(x, n);
}

void scizoo_scale_f32(int path, const float *x, float *y, ptrdiff_t n, float scale) {
#if SCIZOO_HAVE_X86
    if (path > 0 || (path < 0 && scizoo_kernels_use_avx2())) { scale_avx2(x, y, n, scale); return; }
#endif
    scale_portable(x, y, n, scale);
}

void scizoo_gelu_tanh_f32(int path, const float *x, float *y, ptrdiff_t n, int derivative) {
#if SCIZOO_HAVE_X86
    if (path > 0 || (path < 0 && scizoo_kernels_use_avx2())) { gelu_tanh_avx2(x, y, n, derivative); return; }
#endif
    gelu_tanh_portable(x, y, n, derivative);
}

void scizoo_logistic_f32(int path, const float *x, float *y, ptrdiff_t n, int op, float shift) {
#if SCIZOO_HAVE_X86
    if (path > 0 || (path < 0 && scizoo_kernels_use_avx2())) { logistic_avx2(x, y, n, op, shift); return; }
#endif
    logistic_portable(x, y, n, op, shift);
}

void scizoo_softplus_sigmoid_f32(int path, const float *x, float *y, float *sigmoid, ptrdiff_t n, float shift) {
#if SCIZOO_HAVE_X86
    if (path > 0 || (path < 0 && scizoo_kernels_use_avx2())) { softplus_sigmoid_avx2(x, y, sigmoid, n, shift); return; }
#endif
    logistic_portable(x, y, n, SCIZOO_SOFTPLUS, shift);
    logistic_portable(x, sigmoid, n, SCIZOO_SIGMOID, 0);
}

void scizoo_gelu_erf_f32(int path, const float *x, float *y, ptrdiff_t n, int derivative) {
#if SCIZOO_HAVE_X86
    if (path > 0 || (path < 0 && scizoo_kernels_use_avx2())) { gelu_erf_avx2(x, y, n, derivative); return; }
#endif
    gelu_erf_portable(x, y, n, derivative);
}
