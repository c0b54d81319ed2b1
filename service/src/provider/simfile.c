/* The simulator's state file: a snapshot and appended change lines, shared
 * under a file lock, made durable by group commit (see simfile.h). */
#include "provider/simfile.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"
#include "platform/platform.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef O_BINARY
#define O_BINARY 0 /* POSIX files have no text mode */
#endif

#define S_LOG "provider:sim"
/* Appended lines are compacted into a snapshot once they exceed the
 * snapshot's size, and this. */
#define S_MIN_TAIL ((int64_t)64 * 1024)

struct sg_simfile {
    char *path;
    char *tmp_path;  /* "<path>.tmp" */
    char *lock_path; /* "<path>.lock" */
    const sg_simfile_reader_t *reader;
    void *user;
    int lock_fd;
    int fd;             /* the state file while locked; -1 when it is missing */
    bool held;          /* the file lock is held */
    bool ok;            /* held, and the owner is up to date: it may write */
    bool loaded;        /* the owner reflects the file's first `size` bytes (or its absence) */
    bool must_snapshot; /* the next change must be a snapshot */
    uint64_t gen;       /* the generation of the file the owner reflects */
    int64_t size;       /* bytes of the file read and applied: its end, while locked */
    int64_t base;       /* the file's size after its last whole rewrite or read */
    size_t lines;       /* newlines in the first `size` bytes */
    sg_simfile_stats_t stats; /* under the owner's mutex; its syncs unused */
    pthread_mutex_t sync_mu;  /* guards the group commit below */
    pthread_cond_t sync_cv;
    uint64_t written;   /* tickets of the lines appended */
    uint64_t synced;    /* tickets made durable (or made moot by a snapshot) */
    uint64_t fail_from; /* first ticket an fsync failed to cover since the last snapshot; 0: none */
    bool syncing;       /* a waiter is in fsync */
    uint64_t syncs;     /* fsync calls */
};

/* ---- small helpers ------------------------------------------------------- */

static const char *s_errno_text(int err, char *buf, size_t len)
{
    if (strerror_r(err, buf, len) != 0)
        snprintf(buf, len, "error %d", err);
    return buf;
}

static void s_log_errno(const char *what, const char *path, int err)
{
    char buf[128];
    sg_error(S_LOG, "cannot %s %s: %s", what, path, s_errno_text(err, buf, sizeof buf));
}

static size_t s_count_lines(const char *text, size_t len)
{
    size_t n = 0;
    for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))) != NULL; p++)
        n++;
    return n;
}

static int s_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads `len` bytes at `off` into a new buffer (*out, caller frees). */
static int s_read_at(int fd, int64_t off, size_t len, char **out)
{
    char *buf = malloc(len ? len : 1);
    *out = NULL;
    if (!buf)
        return SG_ENOMEM;
    if (lseek(fd, (off_t)off, SEEK_SET) != (off_t)off) {
        free(buf);
        return SG_EIO;
    }
    for (size_t got = 0; got < len;) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            return SG_EIO;
        }
        got += (size_t)n;
    }
    *out = buf;
    return SG_OK;
}

/* The generation in the lock file; 0 when it has none. */
static uint64_t s_gen_read(int fd)
{
    char buf[32] = {0};
    if (lseek(fd, 0, SEEK_SET) != 0 || read(fd, buf, sizeof buf - 1) < 0)
        return 0;
    return strtoull(buf, NULL, 10);
}

static int s_gen_write(sg_simfile_t *f, uint64_t gen)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%020llu\n", (unsigned long long)gen);
    if (lseek(f->lock_fd, 0, SEEK_SET) != 0 || write(f->lock_fd, buf, (size_t)n) != n) {
        s_log_errno("write the generation into", f->lock_path, errno);
        return SG_EIO;
    }
    return SG_OK;
}

/* Makes a rename in the folder of `path` durable; failure here only weakens
 * durability (and Windows cannot open a folder this way). */
static void s_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* ---- reading ----------------------------------------------------------------- */

/* Opens the state file into f->fd: SG_OK, SG_ENOTFOUND when it is missing,
 * or SG_EIO (logged). */
static int s_open_state(sg_simfile_t *f)
{
    f->fd = open(f->path, O_RDWR | O_APPEND | O_BINARY);
    if (f->fd >= 0)
        return SG_OK;
    if (errno == ENOENT)
        return SG_ENOTFOUND;
    s_log_errno("open state file", f->path, errno);
    return SG_EIO;
}

/* Removes the bytes after `at`: a line cut short by a writer that died. */
static void s_cut(sg_simfile_t *f, int64_t at, int64_t end)
{
    if (ftruncate(f->fd, (off_t)at) != 0) {
        s_log_errno("remove an incomplete last line from", f->path, errno);
        f->must_snapshot = true; /* the snapshot replaces the file */
        return;
    }
    sg_warn(S_LOG, "state file %s: removed an incomplete last line (%lld bytes: a change cut "
                   "short by a crash)",
            f->path, (long long)(end - at));
}

static int s_stat_size(sg_simfile_t *f, int64_t *size)
{
    struct stat st;
    if (fstat(f->fd, &st) != 0) {
        s_log_errno("read state file", f->path, errno);
        return SG_EIO;
    }
    *size = (int64_t)st.st_size;
    return SG_OK;
}

/* Hands the whole file to the owner. */
static int s_load_all(sg_simfile_t *f, uint64_t gen)
{
    int64_t len = 0;
    char *text = NULL;
    size_t used = 0;
    int rc = s_stat_size(f, &len);
    if (rc == SG_OK && (rc = s_read_at(f->fd, 0, (size_t)len, &text)) != SG_OK)
        s_log_errno("read state file", f->path, rc == SG_ENOMEM ? ENOMEM : errno);
    if (rc == SG_OK)
        rc = f->reader->load(f->user, text, (size_t)len, &used);
    if (rc == SG_OK) {
        f->size = f->base = (int64_t)used;
        f->lines = s_count_lines(text, used);
        f->gen = gen;
        f->loaded = true;
        f->must_snapshot = used > 0 && text[used - 1] != '\n'; /* lines cannot follow it */
        f->stats.loads++;
        if ((int64_t)used < len)
            s_cut(f, (int64_t)used, len);
    }
    free(text);
    return rc;
}

/* Hands the owner the complete lines appended since its last access. */
static int s_catch_up(sg_simfile_t *f)
{
    int64_t end = 0;
    char *buf = NULL;
    int rc = s_stat_size(f, &end);
    if (rc != SG_OK || end == f->size)
        return rc;
    if (end < f->size) {
        sg_warn(S_LOG, "state file %s shrank under the lock; reading it whole", f->path);
        return s_load_all(f, f->gen);
    }
    size_t n = (size_t)(end - f->size), whole = n;
    if ((rc = s_read_at(f->fd, f->size, n, &buf)) != SG_OK) {
        s_log_errno("read state file", f->path, rc == SG_ENOMEM ? ENOMEM : errno);
        return rc;
    }
    while (whole > 0 && buf[whole - 1] != '\n')
        whole--;
    if (whole > 0) {
        size_t lines = s_count_lines(buf, whole);
        f->reader->apply(f->user, buf, whole, f->lines + 1);
        f->lines += lines;
        f->size += (int64_t)whole;
        f->stats.lines_applied += lines;
    }
    if (whole < n)
        s_cut(f, f->size, end);
    free(buf);
    return SG_OK;
}

/* A missing state file: the owner's state stands and is written whole. */
static void s_missing(sg_simfile_t *f, uint64_t gen)
{
    if (f->loaded)
        sg_warn(S_LOG, "state file %s disappeared; writing it again", f->path);
    else
        sg_info(S_LOG, "state file %s does not exist yet; starting fresh", f->path);
    f->loaded = true;
    f->must_snapshot = true;
    f->size = f->base = 0;
    f->lines = 0;
    f->gen = gen;
}

int sg_simfile_lock(sg_simfile_t *f)
{
    int rc;
    f->ok = false;
    while ((rc = flock(f->lock_fd, LOCK_EX)) != 0 && errno == EINTR)
        ;
    if (rc != 0) {
        s_log_errno("lock", f->lock_path, errno);
        return SG_EIO;
    }
    f->held = true;
    uint64_t gen = s_gen_read(f->lock_fd);
    rc = s_open_state(f);
    if (rc == SG_ENOTFOUND) {
        s_missing(f, gen);
        rc = SG_OK;
    } else if (rc == SG_OK) {
        rc = !f->loaded || gen != f->gen ? s_load_all(f, gen) : s_catch_up(f);
    }
    f->ok = rc == SG_OK;
    if (!f->ok)
        f->loaded = false; /* the next lock reads the whole file */
    return rc;
}

void sg_simfile_unlock(sg_simfile_t *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    f->ok = false;
    if (f->held)
        flock(f->lock_fd, LOCK_UN);
    f->held = false;
}

/* ---- writing ------------------------------------------------------------------ */

bool sg_simfile_wants_snapshot(sg_simfile_t *f)
{
    pthread_mutex_lock(&f->sync_mu);
    bool failed = f->fail_from != 0;
    pthread_mutex_unlock(&f->sync_mu);
    int64_t tail = f->size - f->base;
    return f->must_snapshot || failed || f->fd < 0 ||
           tail > (f->base > S_MIN_TAIL ? f->base : S_MIN_TAIL);
}

int sg_simfile_append(sg_simfile_t *f, const char *line, size_t len, uint64_t *ticket)
{
    *ticket = 0;
    assert(len > 0 && line[len - 1] == '\n' && memchr(line, '\n', len - 1) == NULL);
    if (!f->ok || f->fd < 0 || f->must_snapshot)
        return SG_ESTATE;
    if (s_write_all(f->fd, line, len) != 0) {
        s_log_errno("append to state file", f->path, errno);
        if (ftruncate(f->fd, (off_t)f->size) != 0)
            s_log_errno("remove a partly written line from", f->path, errno);
        f->must_snapshot = true;
        return SG_EIO;
    }
    f->size += (int64_t)len;
    f->lines++;
    f->stats.lines++;
    f->stats.bytes_appended += len;
    pthread_mutex_lock(&f->sync_mu);
    *ticket = ++f->written;
    pthread_mutex_unlock(&f->sync_mu);
    return SG_OK;
}

/* Writes `text` to the temporary file, durably. It is made anew (a stale
 * one is removed first), private to this user. */
static int s_write_tmp(sg_simfile_t *f, const char *text, size_t len)
{
    bool open_to_others = false;
    int fd = -1;
    unlink(f->tmp_path);
    if (sg_platform_file_private(f->tmp_path, &open_to_others) != SG_OK || open_to_others) {
        if (open_to_others)
            errno = EPERM; /* it could not be removed, and others may read it */
        goto fail;
    }
    fd = open(f->tmp_path, O_WRONLY | O_TRUNC | O_BINARY);
    if (fd < 0 || s_write_all(fd, text, len) != 0 || fsync(fd) != 0)
        goto fail;
    int rc = close(fd);
    fd = -1;
    if (rc != 0)
        goto fail;
    return SG_OK;
fail:;
    int err = errno;
    if (fd >= 0)
        close(fd);
    unlink(f->tmp_path);
    s_log_errno("write", f->tmp_path, err);
    return SG_EIO;
}

int sg_simfile_snapshot(sg_simfile_t *f, const char *text, size_t len)
{
    assert(len > 0 && text[len - 1] == '\n');
    if (!f->ok)
        return SG_ESTATE;
    /* the generation first: a crash in between only costs the others a whole read */
    if (s_gen_write(f, f->gen + 1) != SG_OK)
        return SG_EIO;
    f->gen++;
    int rc = s_write_tmp(f, text, len);
    if (f->fd >= 0)
        close(f->fd); /* Windows cannot rename over an open file */
    f->fd = -1;
    if (rc == SG_OK && rename(f->tmp_path, f->path) != 0) {
        s_log_errno("replace state file", f->path, errno);
        unlink(f->tmp_path);
        rc = SG_EIO;
    }
    int orc = s_open_state(f);
    if (rc != SG_OK)
        return rc;
    s_sync_dir(f->path);
    f->size = f->base = (int64_t)len;
    f->lines = s_count_lines(text, len);
    f->must_snapshot = orc != SG_OK;
    f->stats.snapshots++;
    pthread_mutex_lock(&f->sync_mu);
    f->synced = f->written; /* every line before is in the snapshot */
    f->fail_from = 0;
    pthread_mutex_unlock(&f->sync_mu);
    return SG_OK;
}

/* ---- group commit ------------------------------------------------------------- */

/* fsync of the state file through a descriptor of its own: the lines were
 * written through another one, closed since. When a snapshot replaced the
 * file meanwhile, that snapshot is durable already and holds the lines. */
static int s_fsync_path(const char *path)
{
    int fd = open(path, O_WRONLY | O_BINARY);
    if (fd < 0 || fsync(fd) != 0) {
        s_log_errno("fsync state file", path, errno);
        if (fd >= 0)
            close(fd);
        return SG_EIO;
    }
    close(fd);
    return SG_OK;
}

int sg_simfile_sync(sg_simfile_t *f, uint64_t ticket)
{
    if (ticket == 0)
        return SG_OK;
    pthread_mutex_lock(&f->sync_mu);
    while (f->synced < ticket) {
        if (f->syncing) {
            pthread_cond_wait(&f->sync_cv, &f->sync_mu);
            continue;
        }
        uint64_t from = f->synced + 1, target = f->written;
        f->syncing = true;
        pthread_mutex_unlock(&f->sync_mu);
        int rc = s_fsync_path(f->path);
        pthread_mutex_lock(&f->sync_mu);
        f->syncing = false;
        f->syncs++;
        if (rc != SG_OK && f->fail_from == 0)
            f->fail_from = from;
        if (target > f->synced)
            f->synced = target;
        pthread_cond_broadcast(&f->sync_cv);
    }
    /* after a failed fsync, later ones may succeed without the lost pages:
     * nothing from then on counts as durable until a snapshot */
    int rc = f->fail_from != 0 && ticket >= f->fail_from ? SG_EIO : SG_OK;
    pthread_mutex_unlock(&f->sync_mu);
    return rc;
}

/* ---- the handle ----------------------------------------------------------------- */

void sg_simfile_stats(sg_simfile_t *f, sg_simfile_stats_t *out)
{
    *out = f->stats;
    pthread_mutex_lock(&f->sync_mu);
    out->syncs = f->syncs;
    pthread_mutex_unlock(&f->sync_mu);
}

sg_simfile_t *sg_simfile_open(const char *path, const sg_simfile_reader_t *reader, void *user)
{
    sg_simfile_t *f = calloc(1, sizeof *f);
    if (f && pthread_mutex_init(&f->sync_mu, NULL) != 0) {
        free(f);
        f = NULL;
    }
    if (f && pthread_cond_init(&f->sync_cv, NULL) != 0) {
        pthread_mutex_destroy(&f->sync_mu);
        free(f);
        f = NULL;
    }
    if (!f) {
        sg_error(S_LOG, "cannot open state file %s: out of resources", path);
        return NULL;
    }
    f->lock_fd = f->fd = -1;
    f->reader = reader;
    f->user = user;
    f->path = strdup(path);
    f->tmp_path = sg_strdupf("%s.tmp", path);
    f->lock_path = sg_strdupf("%s.lock", path);
    if (!f->path || !f->tmp_path || !f->lock_path) {
        sg_error(S_LOG, "cannot open state file %s: out of memory", path);
        sg_simfile_close(&f);
    } else if (sg_platform_file_private(f->lock_path, NULL) != SG_OK ||
               (f->lock_fd = open(f->lock_path, O_RDWR | O_BINARY)) < 0) {
        s_log_errno("open the lock file", f->lock_path, errno);
        sg_simfile_close(&f);
    }
    return f;
}

void sg_simfile_close(sg_simfile_t **fp)
{
    sg_simfile_t *f = *fp;
    if (!f)
        return;
    assert(!f->held);
    if (f->lock_fd >= 0)
        close(f->lock_fd);
    pthread_cond_destroy(&f->sync_cv);
    pthread_mutex_destroy(&f->sync_mu);
    free(f->path);
    free(f->tmp_path);
    free(f->lock_path);
    free(f);
    *fp = NULL;
}
