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

// The fuzz harness's crash report: a fatal signal (a trap from a failed Swift check, a segfault in
// a C library) writes the last message set, then dies of the same signal, so the exit status and
// any core dump stay as they were. Only write(2) and signal calls run in the handler.
#include <signal.h>
#include <string.h>
#include <unistd.h>
static char crash_report[2048];
static volatile sig_atomic_t crash_report_length = 0;

static void write_crash_report(int signal_number) {
    if (crash_report_length > 0) {
        ssize_t ignored = write(STDERR_FILENO, crash_report, (size_t)crash_report_length);
        (void)ignored;
    }
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

void scizoo_crash_report_install(void) {
    const int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = write_crash_report;
        action.sa_flags = SA_RESETHAND | SA_NODEFER;
        sigaction(signals[i], &action, NULL);
    }
}

void scizoo_crash_report_set(const char *message) {
    size_t length = strlen(message);
    if (length > sizeof crash_report) length = sizeof crash_report;
    crash_report_length = 0;
    memcpy(crash_report, message, length);
    crash_report_length = (sig_atomic_t)length;
}
