// CBLAS: OpenBLAS's CBLAS interface plus its threading controls.
// pkg-config `openblas` (Debian: libopenblas-dev) supplies the include and library paths.
#ifndef SCIZOO_CBLAS_SHIM_H
#define SCIZOO_CBLAS_SHIM_H
#include <cblas.h>

// Declared by OpenBLAS's cblas.h; restated so a reference CBLAS fails at compile time, not at link.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
char *openblas_get_corename(void);
#endif
