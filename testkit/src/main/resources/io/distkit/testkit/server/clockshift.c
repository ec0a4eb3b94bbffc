/*
 * distkit clock shift: an LD_PRELOAD library that adds an offset to a process's wall clock
 * (CLOCK_REALTIME and its variants, gettimeofday, time), leaving the monotonic clocks alone.
 *
 * The offset, in nanoseconds, is a little-endian int64 at the start of the file named by
 * DISTKIT_CLOCK_OFFSET_FILE. The file is mapped shared, so a test changes the offset of a running
 * server by rewriting those eight bytes. Nothing here allocates memory or resolves symbols: the
 * clocks are read by system call. That is why this exists instead of libfaketime, which re-enters
 * clock_gettime during jemalloc's start-up in redis-server and never gets the server running.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile const int64_t *offset_ns;
static volatile int initialised;

static int64_t offset(void) {
    if (!initialised) {
        initialised = 1; /* a race maps the file twice; harmless */
        const char *path = getenv("DISTKIT_CLOCK_OFFSET_FILE");
        if (path != NULL) {
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                void *map = mmap(NULL, sizeof(int64_t), PROT_READ, MAP_SHARED, fd, 0);
                close(fd);
                if (map != MAP_FAILED) {
                    offset_ns = (volatile const int64_t *) map;
                }
            }
        }
    }
    return offset_ns != NULL ? *offset_ns : 0;
}

static int is_wall_clock(clockid_t clock) {
    return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE || clock == CLOCK_TAI;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    long rc = syscall(SYS_clock_gettime, clock, ts);
    if (rc == 0 && is_wall_clock(clock)) {
        int64_t ns = (int64_t) ts->tv_sec * 1000000000LL + ts->tv_nsec + offset();
        ts->tv_sec = ns / 1000000000LL;
        ts->tv_nsec = ns % 1000000000LL;
    }
    return (int) rc;
}

int gettimeofday(struct timeval *tv, void *tz) {
    (void) tz;
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    if (rc == 0 && tv != NULL) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return rc;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out != NULL) {
        *out = ts.tv_sec;
    }
    return ts.tv_sec;
}
