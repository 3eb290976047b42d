// CKernels: row primitives with a runtime choice between AVX2+FMA and a portable path.
// Swift builds for baseline x86-64 (SSE2); these functions carry their own target attributes,
// as OpenBLAS dispatches on the CPU it finds, so no package-wide -target-cpu is needed.
#ifndef SCIZOO_CKERNELS_H
#define SCIZOO_CKERNELS_H
#include <stddef.h>

/// 1 when the AVX2+FMA paths are in use (the CPU has them and SCIZOO_NO_AVX2 is unset).
int scizoo_kernels_use_avx2(void);

// Every function takes `path` first: -1 chooses automatically, 0 the portable code,
// 1 AVX2+FMA (only pass 1 when scizoo_kernels_use_avx2() returned 1). Tests run both.

/// max of x[0..<n] (-inf for n = 0).
float scizoo_max_f32(int path, const float *x, ptrdiff_t n);

/// y[i] = exp(x[i] - shift) for i < n; returns the sum of y, accumulated in a fixed order.
/// Inputs below -87.3 after the shift (and -inf) give 0. y may equal x.
float scizoo_exp_sum_f32(int path, const float *x, float *y, ptrdiff_t n, float shift);

/// y[i] = x[i] * scale.
void scizoo_scale_f32(int path, const float *x, float *y, ptrdiff_t n, float scale);

/// The sum of x[0..<n] in a fixed order.
float scizoo_sum_f32(int path, const float *x, ptrdiff_t n);
/// y = GELU (tanh form) of x, or its derivative when `derivative` is non-zero.
void scizoo_gelu_tanh_f32(int path, const float *x, float *y, ptrdiff_t n, int derivative);
/// y = GELU (erf form, x·Φ(x)) of x, or its derivative Φ(x) + x·φ(x) when `derivative` is non-zero;
/// relative error about 2e-7 (Φ from Numerical Recipes' erfc fit, accurate in the negative tail too).
void scizoo_gelu_erf_f32(int path, const float *x, float *y, ptrdiff_t n, int derivative);

enum { SCIZOO_SOFTPLUS = 0, SCIZOO_SIGMOID = 1, SCIZOO_SILU = 2 };
/// y = softplus (log(1 + eˣ)), sigmoid or SiLU (x·sigmoid(x)) of x, by `op`, minus `shift`;
/// relative error of a few ulp, exact limits on both tails, NaN kept. y may equal x.
void scizoo_logistic_f32(int path, const float *x, float *y, ptrdiff_t n, int op, float shift);
/// y = softplus(x) − shift and sigmoid = sigmoid(x) (its derivative) in one pass.
void scizoo_softplus_sigmoid_f32(int path, const float *x, float *y, float *sigmoid, ptrdiff_t n, float shift);

// ---- roofline probes (machine.c) ----
/// Floats per FMA vector the probe uses: 16 (AVX-512), 8 (AVX2+FMA) or 1.
int scizoo_fma_probe_width(void);
/// Runs `iterations` rounds of 12 independent FMA chains; returns the FLOPs done. `sink` seeds the
/// chains and receives their sum, so the work cannot be optimised away.
double scizoo_fma_probe(long iterations, float *sink);
/// a[i] = b[i] + scale·c[i] (STREAM's triad).
void scizoo_triad_f32(float *a, const float *b, const float *c, ptrdiff_t n, float scale);

// ---- bf16 products (bf16gemm.c) ----
/// Whether this CPU runs AVX512-BF16 (VDPBF16PS).
int scizoo_bf16_gemm_available(void);
/// x rounded to bfloat16 (nearest even) and widened back.
float scizoo_bf16_round_f32(float x);
/// Rows m0 ..< m1 of C = op(A)·op(B) + beta·C, row-major float32, op(A) M × K and op(B) K × N
/// (transA/transB: the operand is stored transposed), products of bf16-rounded operands summed
/// in float32. Returns 0, or −1 without AVX512-BF16, −2 when memory runs out.
int scizoo_bf16_gemm_rows(ptrdiff_t m0, ptrdiff_t m1, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *a, ptrdiff_t lda, int transA,
                          const float *b, ptrdiff_t ldb, int transB, float beta, float *c, ptrdiff_t ldc);
#endif
