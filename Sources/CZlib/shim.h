// CZlib: zlib's gzip file reader, for FASTA files as genomes are distributed (.fa.gz).
// pkg-config `zlib` (Debian: zlib1g-dev, which libhdf5-dev already pulls in).
#ifndef SCIZOO_CZLIB_SHIM_H
#define SCIZOO_CZLIB_SHIM_H
#include <zlib.h>
#endif
