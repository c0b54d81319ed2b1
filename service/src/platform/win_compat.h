/* POSIX names the core uses that the Windows C runtime spells differently.
 * The Windows build force-includes this header into every core file
 * (cmake/windows.cmake), so the core itself carries no #ifdef _WIN32.
 * Thread rules: none of its own (names only; each maps to a thread-safe call
 * of the C runtime or Win32). */
#ifndef SG_WIN_COMPAT_H
#define SG_WIN_COMPAT_H

/* The real declarations first: the macros below must not rename them. */
#include <direct.h>
#include <errno.h>
#include <io.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* timegm: _mkgmtime does the same (struct tm in UTC to time_t). */
#define timegm _mkgmtime

/* strerror_r (POSIX: int, buf, len) is strerror_s (buf, len, int). */
#define strerror_r(err, buf, len) strerror_s((buf), (len), (err))

/* fsync: _commit flushes a descriptor to disk. */
#define fsync _commit

/* flock on a lock file (exclusive or unlock only): _locking on its first
 * byte, which retries for about 10 s before it gives up. */
#include <sys/locking.h>
#define LOCK_EX 2
#define LOCK_UN 8
static inline int sg_win_flock(int fd, int op)
{
    if (_lseek(fd, 0, SEEK_SET) != 0)
        return -1;
    return _locking(fd, op == LOCK_UN ? _LK_UNLCK : _LK_LOCK, 1);
}
#define flock sg_win_flock

/* rename over an existing file, atomically, as POSIX rename does. */
__declspec(dllimport) int __stdcall MoveFileExA(const char *from, const char *to,
                                                unsigned long flags);
static inline int sg_win_rename(const char *from, const char *to)
{
    /* MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH */
    if (MoveFileExA(from, to, 0x1 | 0x8))
        return 0;
    errno = EACCES;
    return -1;
}
#define rename sg_win_rename

static inline char *sg_win_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}
#define strndup sg_win_strndup

/* mkdtemp: a new directory from a template ending in XXXXXX. */
static inline char *sg_win_mkdtemp(char *tmpl)
{
    if (_mktemp_s(tmpl, strlen(tmpl) + 1) != 0 || _mkdir(tmpl) != 0)
        return NULL;
    return tmpl;
}
#define mkdtemp sg_win_mkdtemp

/* Condition variables on CLOCK_MONOTONIC: winpthreads' condattr refuses the
 * clock, so the attribute is accepted here and each timed wait turns its
 * monotonic deadline into a relative timeout. Every timed wait in the core
 * waits for a CLOCK_MONOTONIC deadline. */
static inline int sg_win_condattr_setclock(pthread_condattr_t *attr, clockid_t clock)
{
    (void)attr;
    return clock == CLOCK_MONOTONIC || clock == CLOCK_REALTIME ? 0 : EINVAL;
}
#define pthread_condattr_setclock sg_win_condattr_setclock

static inline int sg_win_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                        const struct timespec *deadline)
{
    struct timespec now, rel = {0, 0};
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ns = (long long)(deadline->tv_sec - now.tv_sec) * 1000000000LL +
                   (deadline->tv_nsec - now.tv_nsec);
    if (ns > 0) {
        rel.tv_sec = (time_t)(ns / 1000000000LL);
        rel.tv_nsec = (long)(ns % 1000000000LL);
    }
    return pthread_cond_timedwait_relative_np(c, m, &rel);
}
#define pthread_cond_timedwait sg_win_cond_timedwait

/* TMPDIR is TEMP on Windows. */
static inline char *sg_win_getenv(const char *name)
{
    char *v = getenv(name);
    if (!v && strcmp(name, "TMPDIR") == 0)
        v = getenv("TEMP");
    return v;
}
#define getenv sg_win_getenv

#endif
