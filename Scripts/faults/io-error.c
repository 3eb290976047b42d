/* An I/O error on demand, for tests (LD_PRELOAD): writes to files whose path contains
 * SCIZOO_IO_ERROR_PATH fail with EIO once SCIZOO_IO_ERROR_AFTER bytes (default 0) have gone to such
 * files; with SCIZOO_IO_ERROR_ON=fsync, their fsync fails instead (where a failing disk often shows).
 * Everything else passes through to libc. Built by the reliability tests with the toolchain's clang:
 *   clang -shared -fPIC -O2 -o io-error.so Scripts/faults/io-error.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static long long written;

/* Whether fd is a file the test wants to fail. */
static int matches(int fd) {
    const char *wanted = getenv("SCIZOO_IO_ERROR_PATH");
    if (!wanted || !*wanted) return 0;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t length = readlink(link, path, sizeof path - 1);
    if (length <= 0) return 0;
    path[length] = 0;
    return strstr(path, wanted) != NULL;
}

static int failsWrite(int fd, size_t count) {
    const char *on = getenv("SCIZOO_IO_ERROR_ON");
    if ((on && strcmp(on, "write") != 0) || !matches(fd)) return 0;
    const char *after = getenv("SCIZOO_IO_ERROR_AFTER");
    if (written + (long long)count > (after ? atoll(after) : 0)) return 1;
    written += (long long)count;
    return 0;
}

ssize_t write(int fd, const void *buffer, size_t count) {
    static ssize_t (*next)(int, const void *, size_t);
    if (!next) next = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (failsWrite(fd, count)) { errno = EIO; return -1; }
    return next(fd, buffer, count);
}

ssize_t pwrite(int fd, const void *buffer, size_t count, off_t offset) {
    static ssize_t (*next)(int, const void *, size_t, off_t);
    if (!next) next = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    if (failsWrite(fd, count)) { errno = EIO; return -1; }
    return next(fd, buffer, count, offset);
}

ssize_t pwrite64(int fd, const void *buffer, size_t count, off_t offset) {
    static ssize_t (*next)(int, const void *, size_t, off_t);
    if (!next) next = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
    if (failsWrite(fd, count)) { errno = EIO; return -1; }
    return next(fd, buffer, count, offset);
}

int fsync(int fd) {
    static int (*next)(int);
    if (!next) next = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    const char *on = getenv("SCIZOO_IO_ERROR_ON");
    if (on && strcmp(on, "fsync") == 0 && matches(fd)) { errno = EIO; return -1; }
    return next(fd);
}
