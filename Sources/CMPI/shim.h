// CMPI: the MPI C API (OpenMPI 4.1) plus static-inline shims for the handles Swift cannot
// import. pkg-config `ompi-c` (Debian: libopenmpi-dev; mpirun from openmpi-bin).
#ifndef SCIZOO_CMPI_SHIM_H
#define SCIZOO_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm scizoo_MPI_COMM_WORLD(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm scizoo_MPI_COMM_NULL(void) { return MPI_COMM_NULL; }
static inline MPI_Datatype scizoo_MPI_BYTE(void) { return MPI_BYTE; }
static inline MPI_Datatype scizoo_MPI_INT32(void) { return MPI_INT32_T; }
static inline MPI_Datatype scizoo_MPI_INT64(void) { return MPI_INT64_T; }
static inline MPI_Datatype scizoo_MPI_FLOAT(void) { return MPI_FLOAT; }
static inline MPI_Datatype scizoo_MPI_DOUBLE(void) { return MPI_DOUBLE; }
static inline MPI_Op scizoo_MPI_SUM(void) { return MPI_SUM; }
static inline MPI_Op scizoo_MPI_MAX(void) { return MPI_MAX; }
static inline MPI_Op scizoo_MPI_MIN(void) { return MPI_MIN; }
static inline MPI_Errhandler scizoo_MPI_ERRORS_RETURN(void) { return MPI_ERRORS_RETURN; }
static inline void *scizoo_MPI_IN_PLACE(void) { return MPI_IN_PLACE; }
static inline MPI_Status *scizoo_MPI_STATUS_IGNORE(void) { return MPI_STATUS_IGNORE; }
static inline int scizoo_MPI_THREAD_FUNNELED(void) { return MPI_THREAD_FUNNELED; }
static inline int scizoo_MPI_MAX_ERROR_STRING(void) { return MPI_MAX_ERROR_STRING; }
static inline int scizoo_MPI_SUCCESS(void) { return MPI_SUCCESS; }
#endif
