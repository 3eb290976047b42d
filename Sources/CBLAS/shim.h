// CBLAS: OpenBLAS's CBLAS interface plus its threading controls.
// pkg-config `openblas` (Debian: libopenblas-dev) supplies the include and library paths.
#ifndef SCIZOO_CBLAS_SHIM_H
#define SCIZOO_CBLAS_SHIM_H
#include <stddef.h>
#include <cblas.h>

// Declared by OpenBLAS's cblas.h; restated so a reference CBLAS fails at compile time, not at link.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
char *openblas_get_corename(void);

// LAPACK's double-precision SVD (OpenBLAS ships LAPACK): Kabsch superpositions for structure
// metrics. Fortran calling convention, with the hidden lengths of the two character arguments.
void dgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double *a, const int *lda, double *s,
             double *u, const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork, int *info,
             size_t jobu_length, size_t jobvt_length);
#endif
