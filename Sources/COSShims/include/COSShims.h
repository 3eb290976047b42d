// COSShims: operating-system calls Swift cannot make directly (a macro behind _GNU_SOURCE, a
// variadic function) or that glibc names only in its own headers. Not numerical code: the row
// kernels live in CKernels.
#ifndef SCIZOO_COSSHIMS_H
#define SCIZOO_COSSHIMS_H
#include <stddef.h>

/// open(2)'s O_DIRECT (unaligned-free, page-cache-bypassing I/O for the NVMe tier).
int scizoo_open_direct_flag(void);

/// glibc's malloc_trim(0): returns freed heap pages to the system (memory measurements).
int scizoo_release_free_memory(void);

/// glibc's mallopt(M_MMAP_THRESHOLD, bytes): a fixed threshold above which blocks are mmapped and
/// returned to the system when freed (a memory budget). 1 on success.
int scizoo_fix_mmap_threshold(int bytes);

/// mremap(2) with MREMAP_MAYMOVE (variadic in glibc, so not callable from Swift): resizes an
/// anonymous mapping keeping its pages (a shrink frees the tail; a growth faults in only the
/// new part). NULL on failure.
void *scizoo_remap(void *address, size_t old_length, size_t new_length);

/// The fuzz harness's crash report: on SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT or SIGFPE the
/// message last set is written to standard error before the process dies of the signal.
void scizoo_crash_report_install(void);
/// Sets the crash report (copied, at most 2,048 bytes).
void scizoo_crash_report_set(const char *message);

#endif
