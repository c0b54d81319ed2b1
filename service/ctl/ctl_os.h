/* ctl_os: the few calls of siteguardctl that differ between POSIX and
 * Windows, so siteguardctl.c itself is portable C. */
#ifndef SG_CTL_OS_H
#define SG_CTL_OS_H

#include <stdio.h>
#include <time.h>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <stdlib.h>
#include <sys/stat.h>
#else
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

/* "alice (uid 1000)", or on Windows the account name; into buf. */
static inline void ctl_os_user(char *buf, size_t len)
{
#ifdef _WIN32
    const char *name = getenv("USERNAME");
    snprintf(buf, len, "%s", name && *name ? name : "?");
#else
    struct passwd *pw = getpwuid(getuid());
    snprintf(buf, len, "%s (uid %u)", pw ? pw->pw_name : "?", (unsigned)getuid());
#endif
}

/* Non-zero when this process may read and write the file at path. */
static inline int ctl_os_may_use(const char *path)
{
#ifdef _WIN32
    return _access(path, 6) == 0;
#else
    return access(path, R_OK | W_OK) == 0;
#endif
}

static inline void ctl_os_gmtime(time_t t, struct tm *out)
{
#ifdef _WIN32
    gmtime_s(out, &t);
#else
    gmtime_r(&t, out);
#endif
}

/* Creates path (it must not exist) readable and writable by its owner only
 * (mode 0600; on Windows the directory's access list applies) and opens it
 * for writing. NULL with errno set on failure. */
static inline FILE *ctl_os_create_private(const char *path)
{
#ifdef _WIN32
    int fd = _open(path, _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY, _S_IREAD | _S_IWRITE);
    return fd < 0 ? NULL : _fdopen(fd, "wb");
#else
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    return fd < 0 ? NULL : fdopen(fd, "w");
#endif
}

/* Makes stdout binary: a document's own line ends (CSV's CRLF) are written
 * as they are (Windows would turn LF into CRLF); a no-op on POSIX. */
static inline void ctl_os_binary_stdout(void)
{
#ifdef _WIN32
    _setmode(_fileno(stdout), _O_BINARY);
#endif
}

/* Zeros len bytes at p (a secret key about to go out of scope) with
 * volatile stores, which the compiler may not drop as dead. */
static inline void ctl_os_secure_zero(void *p, size_t len)
{
    volatile unsigned char *v = p;
    while (len-- > 0)
        *v++ = 0;
}

#endif
