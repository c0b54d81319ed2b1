/* retention: what the journal no longer needs, removed after
 * journal.retention, and the journal's size watched against
 * journal.max_size, on a thread and SQLite connection of its own.
 *
 * A pass removes what is older than the retention (`now` on the wall clock
 * minus journal.retention):
 *   - outcomes of the log that no sink needs any more: every sink of the
 *     outbox has routed them (its cursor is at or past them), none has them
 *     pending (each was delivered, dead-lettered, or not routed to it), and
 *     they belong to no open run; with their outbox rows. The pass goes in
 *     log (seq) order and ends at the first outcome whose time is within the
 *     retention: one stamped by a clock that ran ahead keeps those after it
 *     longer, never shorter.
 *   - ended runs (failed over, failed, abandoned, cancelled), except the
 *     latest run of each collection: recovery reads that one (journal.h,
 *     sg_journal_runs), and run ids go on from the largest.
 *   - ended drills, except the latest of each drill name.
 * It never removes anything within the retention, an outcome a sink has
 * still to deliver or to route, an open run or its outcomes, the latest run
 * of a collection, a drill not ended, the operator state, or the audit
 * trail (kept whatever its age).
 *
 * A pass goes in steps: each is one short transaction that removes at most
 * `batch` outcomes (with their outbox rows), runs or drills. The thread
 * pauses between steps, so the loop's and the sinks' writes get the file in
 * between, and runs a pass every ten minutes. SQLite reuses the pages freed:
 * the file stops growing; it does not shrink (VACUUM, with the service
 * stopped, shrinks it).
 *
 * The size is the database's pages (page_count x page_size, free pages
 * included; its -wal file comes on top until a checkpoint), measured every
 * minute. Above journal.max_size a warning goes to the log at most once an
 * hour on the injected clock.
 *
 * Thread rules: sg_retention_start, _stop on one thread (the loop);
 * sg_retention_bytes from any thread. The pass and watch functions are
 * called by the thread that owns the journal given (the retention thread;
 * tests and the benchmark call them directly). */
#ifndef SG_RETENTION_H
#define SG_RETENTION_H

#include "base/clock.h"
#include "journal/journal.h"
#include "journal/journal_conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Outcomes (and outbox rows), runs and drills a pass removes in a step. */
#define SG_RETENTION_BATCH 500

/* Rows removed. */
typedef struct {
    uint64_t outcomes, outbox, runs, drills;
} sg_retention_removed_t;

/* A pass in progress; caller-owned, filled by sg_retention_pass_begin. */
typedef struct {
    int64_t cutoff_ms; /* wall: what is older than this goes */
    int phase;         /* what the next step removes: outcomes, runs, drills, or none left */
    uint64_t after;    /* outcomes: the next step looks after this seq */
    sg_retention_removed_t removed;
} sg_retention_pass_t;

/* Makes what a pass reads through, on this connection: the outbox tables if
 * missing (sg_journal_outbox_init, relaxed: a power loss may undo a removal,
 * which is harmless) and the indexes of outcomes' outbox rows by seq and of
 * drills by name. Once per connection, before its first step. 0 or SG_EIO. */
int sg_retention_prepare(sg_journal_t *j);

/* A pass that removes what is older than `now_ms` - `retention_ms` (> 0). */
void sg_retention_pass_begin(sg_retention_pass_t *p, int64_t now_ms, int64_t retention_ms);
/* One step of at most `batch` rows (> 0), committed. Returns 1 while the
 * pass has more to do, 0 once it is over, or a negative error (nothing of
 * the step removed; the pass may be begun again). */
int sg_retention_step(sg_journal_t *j, sg_retention_pass_t *p, size_t batch);
/* A whole pass without pauses (tests, the benchmark), adding what it
 * removed to *removed (may be NULL). 0 or a negative error. */
int sg_retention_run(sg_journal_t *j, int64_t now_ms, int64_t retention_ms, size_t batch,
                     sg_retention_removed_t *removed);

/* The journal's size in bytes (*bytes) and the part of it in free pages
 * (*free_bytes, may be NULL). 0 or SG_EIO. */
int sg_retention_size(sg_journal_t *j, int64_t *bytes, int64_t *free_bytes);

/* journal.max_size and when it was last said to be exceeded. Caller-owned;
 * zero it and set max_bytes. */
typedef struct {
    int64_t max_bytes; /* 0: no warning */
    bool warned;
    int64_t next_mono; /* no other warning before this (injected clock, mono) */
} sg_retention_watch_t;

/* Warns (naming `path`) when `bytes` is above the maximum, unless it warned
 * less than an hour before `now_mono`. Returns true when it warned. */
bool sg_retention_watch(sg_retention_watch_t *w, const char *path, int64_t bytes,
                        int64_t free_bytes, int64_t now_mono);

/* ---- the thread ---------------------------------------------------------- */

typedef struct sg_retention sg_retention_t;

/* Opens a connection of its own to the journal at cfg->path, prepares it,
 * measures the size once and starts the thread, which runs a pass at once
 * (none with a retention of 0) and then as said above. The values of `cfg`
 * are copied; `clock` is borrowed and must outlive it. NULL (logged) when
 * it cannot. */
sg_retention_t *sg_retention_start(const sg_journal_cfg_t *cfg, const sg_clock_t *clock);
/* The size last measured, in bytes; 0 for a NULL handle. */
int64_t sg_retention_bytes(const sg_retention_t *r);
/* Stops the thread (a step in progress ends first), closes its connection,
 * frees and sets *r to NULL. */
void sg_retention_stop(sg_retention_t **r);

#endif
