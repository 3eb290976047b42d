// CKernels: row primitives with a runtime choice between AVX2+FMA and a portable path.
// Swift builds for baseline x86-64 (SSE2); these functions carry their own target attributes,
// as OpenBLAS dispatches on the CPU it finds, so no package-wide -target-cpu is needed.
#ifndef SCIZOO_CKERNELS_H
#define SCIZOO_CKERNELS_H
#include <stddef.h>

/// open(2)'s O_DIRECT (unaligned-free, page-cache-bypassing I/O for the NVMe tier).
int scizoo_open_direct_flag(void);

/// glibc's malloc_trim(0): returns freed heap pages to the system (memory measurements).
int scizoo_release_free_memory(void);

/// mremap(2) with MREMAP_MAYMOVE (variadic in glibc, so not callable from Swift): resizes an
/// anonymous mapping keeping its pages (a shrink frees the tail; a growth faults in only the
/// new part). NULL on failure.
void *scizoo_remap(void *address, size_t old_length, size_t new_length);

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
#endif
