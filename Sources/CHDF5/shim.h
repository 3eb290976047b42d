// CHDF5: the HDF5 C API (1.10 series) plus static-inline shims for the macros Swift cannot
// import. pkg-config `hdf5` (Debian: libhdf5-dev) supplies the hdf5/serial include path.
#ifndef SCIZOO_CHDF5_SHIM_H
#define SCIZOO_CHDF5_SHIM_H
#include <hdf5.h>

#if H5_VERS_MAJOR != 1 || H5_VERS_MINOR < 10
#error "SciZoo is written against the HDF5 1.10 API"
#endif

// File access flags.
static inline unsigned scizoo_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned scizoo_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline unsigned scizoo_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned scizoo_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }

// Native memory types.
static inline hid_t scizoo_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t scizoo_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t scizoo_H5T_NATIVE_INT8(void) { return H5T_NATIVE_INT8; }
static inline hid_t scizoo_H5T_NATIVE_INT16(void) { return H5T_NATIVE_INT16; }
static inline hid_t scizoo_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t scizoo_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t scizoo_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t scizoo_H5T_NATIVE_UINT16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t scizoo_H5T_NATIVE_UINT32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t scizoo_H5T_NATIVE_UINT64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t scizoo_H5T_C_S1(void) { return H5T_C_S1; }
static inline size_t scizoo_H5T_VARIABLE(void) { return H5T_VARIABLE; }

// Dataspace selectors and the error-stack / property-list classes.
static inline hid_t scizoo_H5S_ALL(void) { return H5S_ALL; }
static inline hsize_t scizoo_H5S_UNLIMITED(void) { return H5S_UNLIMITED; }
static inline hid_t scizoo_H5E_DEFAULT(void) { return H5E_DEFAULT; }
static inline hid_t scizoo_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t scizoo_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline hid_t scizoo_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
#endif
