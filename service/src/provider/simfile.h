/* The simulator's state file, shared by the processes that name it: a
 * snapshot followed by change lines, written incrementally.
 *
 * The file is text. It begins with a snapshot, written whole and atomically
 * (a temporary file "<path>.tmp", fsync, rename over the file, fsync of the
 * folder), and goes on with lines appended one per change. A line counts
 * once its newline is in the file: bytes after the last newline are a line
 * cut short by a crash, and the next holder of the lock removes them. What
 * a snapshot and a line say is the owner's business (the reader's callbacks);
 * this module knows lines and sizes only.
 *
 * Sharing: every access holds an exclusive lock on "<path>.lock" (flock;
 * _locking of its first byte on Windows). The lock file holds a generation,
 * raised before each snapshot. A holder whose generation differs from the
 * lock file's reads the whole file again (reader.load); otherwise it reads
 * only the lines appended since its last access (reader.apply), so an access
 * costs what changed, not the size of the state. When the appended lines
 * outgrow the snapshot (and 64 KiB), the owner is asked for a new snapshot
 * (sg_simfile_wants_snapshot), so the file stays within about twice the
 * state and every change costs O(1) bytes written, amortised.
 *
 * Durability: an appended line is written under the lock and made durable
 * afterwards by sg_simfile_sync, outside the lock: callers waiting at the
 * same time share one fsync (group commit). A snapshot is durable when
 * sg_simfile_snapshot returns, and so is every line before it. The file
 * is held open only while locked (Windows cannot rename over a file another
 * process holds open). The state file, its temporary copy and the lock file
 * are private to this process's user (sg_platform_file_private; mode 0600).
 *
 * Threads: lock, append, snapshot, unlock, wants_snapshot and stats belong to
 * one thread at a time (the owner's mutex); sg_simfile_sync may be called
 * from any thread at any time, without that mutex. */
#ifndef SG_PROVIDER_SIMFILE_H
#define SG_PROVIDER_SIMFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sg_simfile sg_simfile_t;

/* How the owner takes in what the file says. */
typedef struct {
    /* The whole file, `len` bytes, not NUL-terminated: the owner forgets its
     * state and takes this one. Returns 0 and sets *used to the bytes taken,
     * either all of them or up to and including the last newline (what
     * follows is a line cut short, removed from the file), or a negative
     * sg_err when the file is not a valid state (the owner logged why). */
    int (*load)(void *user, const char *text, size_t len, size_t *used);
    /* Complete lines appended by another process since the last access,
     * `len` bytes ending with a newline; the first is line `first_line` of
     * the file (from 1). The owner applies them and logs a bad one. */
    void (*apply)(void *user, const char *lines, size_t len, size_t first_line);
} sg_simfile_reader_t;

typedef struct {
    uint64_t snapshots;      /* full rewrites, by this process */
    uint64_t lines;          /* change lines appended by this process */
    uint64_t bytes_appended; /* their bytes */
    uint64_t loads;          /* whole-file reads */
    uint64_t lines_applied;  /* lines of other processes read incrementally */
    uint64_t syncs;          /* fsync calls for appended lines */
} sg_simfile_stats_t;

/* Opens (creates when missing) the lock file of the state file at `path`;
 * the state file itself is read at the first sg_simfile_lock. `reader` and
 * `user` are borrowed and must outlive the handle. Returns NULL on failure
 * (logged). The caller owns the handle: sg_simfile_close. */
sg_simfile_t *sg_simfile_open(const char *path, const sg_simfile_reader_t *reader, void *user);

/* Takes the lock and brings the owner up to date: the whole file when it
 * was rewritten by another process or never read (reader.load; a missing
 * file is a fresh start, and asks for a snapshot), else the lines appended
 * since (reader.apply). Returns 0, or SG_EIO / the load's error (logged):
 * then the owner's state may be stale, sg_simfile_append and
 * sg_simfile_snapshot refuse, and the next lock reads the whole file again.
 * sg_simfile_unlock must follow either way. */
int sg_simfile_lock(sg_simfile_t *f);

/* Releases the lock. */
void sg_simfile_unlock(sg_simfile_t *f);

/* True when the next change should be a snapshot: the file is missing, a
 * line could not be appended, the file's snapshot lacks its final newline,
 * an fsync failed, or the appended lines outgrew the snapshot. */
bool sg_simfile_wants_snapshot(sg_simfile_t *f);

/* Appends `line` (`len` bytes: one line ending with its only newline) with
 * the lock held. *ticket gets the line's number for sg_simfile_sync.
 * Returns 0, or SG_ESTATE (not locked, or the last lock failed) or SG_EIO
 * (logged; what was written of it is removed, and the next change is a
 * snapshot). */
int sg_simfile_append(sg_simfile_t *f, const char *line, size_t len, uint64_t *ticket);

/* Replaces the file with the snapshot `text` (`len` bytes ending with a
 * newline) with the lock held, durably, and raises the generation first.
 * Returns 0, SG_ESTATE as sg_simfile_append, SG_ENOMEM or SG_EIO (logged;
 * the file is left as it was). */
int sg_simfile_snapshot(sg_simfile_t *f, const char *text, size_t len);

/* Waits until the line `ticket` (0: none, returns at once) is durable: the
 * first waiter calls fsync for every line appended so far, later ones wait
 * for it. Call it without the lock. Returns 0, or SG_EIO when an fsync that
 * covered the line failed (logged). */
int sg_simfile_sync(sg_simfile_t *f, uint64_t ticket);

/* This handle's counters. */
void sg_simfile_stats(sg_simfile_t *f, sg_simfile_stats_t *out);

/* Closes the handle (the lock must not be held) and sets *f to NULL; NULL
 * is fine. */
void sg_simfile_close(sg_simfile_t **f);

#endif
