// The O_DIRECT flag, which glibc only defines under _GNU_SOURCE (Swift's Glibc import lacks it).
#define _GNU_SOURCE
#include <fcntl.h>
#include "COSShims.h"

int scizoo_open_direct_flag(void) { return O_DIRECT; }

#include <malloc.h>
int scizoo_release_free_memory(void) { return malloc_trim(0); }
int scizoo_fix_mmap_threshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }

#include <sys/mman.h>
void *scizoo_remap(void *address, size_t old_length, size_t new_length) {
    void *moved = mremap(address, old_length, new_length, MREMAP_MAYMOVE);
    return moved == MAP_FAILED ? NULL : moved;
}
