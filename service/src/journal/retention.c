/* retention: removing what the journal no longer needs, and watching its
 * size (see retention.h). */
#include "journal/retention.h"
#include "base/err.h"
#include "base/log.h"
#include "journal/journal_int.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_MOD "retention"
#define S_WINDOW_FACTOR 4             /* outcomes a step looks at, per outcome it may remove */
#define S_STEP_PAUSE_MS 50            /* between the steps of a pass */
#define S_WATCH_EVERY_MS 60000        /* the size measured */
#define S_PASS_EVERY_MS 600000        /* a pass */
#define S_WARN_EVERY_MS 3600000       /* the max_size warning at most */
#define S_MIB (1024.0 * 1024.0)

enum { S_PHASE_OUTCOMES, S_PHASE_RUNS, S_PHASE_DRILLS, S_PHASE_OVER };

static const char *s_schema =
    "CREATE INDEX IF NOT EXISTS outbox_by_seq ON outbox (seq, state);"
    "CREATE INDEX IF NOT EXISTS drills_by_name ON drills (name, ended_ms);";

/* Routed by every sink: the smallest cursor, or the whole log without sinks. */
static const char *s_sql_horizon =
    "SELECT coalesce((SELECT min(cursor) FROM outbox_sinks), (SELECT max(seq) FROM outcomes), 0)";

/* The outcomes after ?2 up to the horizon ?3, at most ?4, in seq order: is
 * each older than the cutoff ?1, and is it still needed (pending for a sink
 * (state ?5), or of an open run)? */
static const char *s_sql_outcomes =
    "SELECT o.seq, o.time_ms < ?1, "
    "EXISTS (SELECT 1 FROM outbox b WHERE b.seq = o.seq AND b.state = ?5) OR "
    "EXISTS (SELECT 1 FROM runs r WHERE r.run_id = o.run_id AND r.ended_ms IS NULL) "
    "FROM outcomes o WHERE o.seq > ?2 AND o.seq <= ?3 ORDER BY o.seq LIMIT ?4";

static const char *s_sql_drop_outbox = "DELETE FROM outbox WHERE seq = ?";
static const char *s_sql_drop_outcome = "DELETE FROM outcomes WHERE seq = ?";

/* Ended before the cutoff ?1, and not the latest of their collection; ?2 at most. */
static const char *s_sql_runs =
    "DELETE FROM runs WHERE run_id IN (SELECT r.run_id FROM runs r WHERE r.ended_ms < ?1 AND "
    "r.run_id < (SELECT max(x.run_id) FROM runs x WHERE x.collection = r.collection) "
    "ORDER BY r.run_id LIMIT ?2)";

/* Ended before the cutoff ?1, and not the latest of their name; ?2 at most. */
static const char *s_sql_drills =
    "DELETE FROM drills WHERE rowid IN (SELECT d.rowid FROM drills d WHERE d.ended_ms < ?1 AND "
    "d.ended_ms < (SELECT max(x.ended_ms) FROM drills x WHERE x.name = d.name) "
    "ORDER BY d.rowid LIMIT ?2)";

int sg_retention_prepare(sg_journal_t *j)
{
    int rc = sg_journal_outbox_init(j, true);
    return rc != SG_OK ? rc : sg_journal_exec(j, s_schema);
}

void sg_retention_pass_begin(sg_retention_pass_t *p, int64_t now_ms, int64_t retention_ms)
{
    *p = (sg_retention_pass_t){.cutoff_ms = now_ms - retention_ms, .phase = S_PHASE_OUTCOMES};
}

static sqlite3_stmt *s_prepare(sg_journal_t *j, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sg_journal_sqlite(j), sql, -1, &st, NULL) != SQLITE_OK) {
        sg_journal_fail(j, "preparing a retention statement");
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* The one number `sql` answers, in *out; `what` names it in an error. */
static int s_number(sg_journal_t *j, const char *sql, const char *what, int64_t *out)
{
    sqlite3_stmt *st = s_prepare(j, sql);
    if (!st)
        return SG_EIO;
    int rc = sqlite3_step(st) == SQLITE_ROW ? SG_OK : sg_journal_fail(j, what);
    if (rc == SG_OK)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* Picks up to `batch` outcomes to remove into seqs[*n], moving p->after past
 * what it looked at; ends the phase at the first outcome within the
 * retention or at the horizon. */
static int s_pick_outcomes(sg_journal_t *j, sg_retention_pass_t *p, uint64_t horizon,
                           size_t batch, uint64_t *seqs, size_t *n)
{
    sqlite3_stmt *st = s_prepare(j, s_sql_outcomes);
    if (!st)
        return SG_EIO;
    size_t window = batch * S_WINDOW_FACTOR, seen = 0;
    sqlite3_bind_int64(st, 1, p->cutoff_ms);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)p->after);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)horizon);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)window);
    sqlite3_bind_int(st, 5, SG_OUTBOX_PENDING);
    int step = SQLITE_DONE;
    *n = 0;
    while (*n < batch && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (!sqlite3_column_int(st, 1)) { /* the first within the retention ends it */
            p->phase = S_PHASE_RUNS;
            break;
        }
        p->after = (uint64_t)sqlite3_column_int64(st, 0);
        seen++;
        if (!sqlite3_column_int(st, 2))
            seqs[(*n)++] = p->after;
    }
    int rc = step == SQLITE_ROW || step == SQLITE_DONE
                 ? SG_OK
                 : sg_journal_fail(j, "reading the outcome log");
    if (rc == SG_OK && step == SQLITE_DONE && seen < window)
        p->phase = S_PHASE_RUNS; /* the horizon is reached */
    sqlite3_finalize(st);
    return rc;
}

/* Runs `st` (no rows) once for each seq; adds the rows it changed to *count. */
static int s_each_seq(sg_journal_t *j, sqlite3_stmt *st, const uint64_t *seqs, size_t n,
                      uint64_t *count)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)seqs[i]);
        if (sqlite3_step(st) != SQLITE_DONE)
            return sg_journal_fail(j, "removing an outcome");
        *count += (uint64_t)sqlite3_changes(sg_journal_sqlite(j));
    }
    return SG_OK;
}

static int s_drop_outcomes(sg_journal_t *j, const uint64_t *seqs, size_t n,
                           sg_retention_removed_t *removed)
{
    sqlite3_stmt *outbox = s_prepare(j, s_sql_drop_outbox);
    sqlite3_stmt *outcome = s_prepare(j, s_sql_drop_outcome);
    int rc = outbox && outcome ? SG_OK : SG_EIO;
    rc = rc ? rc : s_each_seq(j, outbox, seqs, n, &removed->outbox);
    rc = rc ? rc : s_each_seq(j, outcome, seqs, n, &removed->outcomes);
    sqlite3_finalize(outbox);
    sqlite3_finalize(outcome);
    return rc;
}

static void s_add(sg_retention_removed_t *to, const sg_retention_removed_t *from)
{
    to->outcomes += from->outcomes;
    to->outbox += from->outbox;
    to->runs += from->runs;
    to->drills += from->drills;
}

/* One transaction: the horizon, the outcomes picked, and their removal. */
static int s_step_outcomes(sg_journal_t *j, sg_retention_pass_t *p, size_t batch)
{
    uint64_t *seqs = calloc(batch, sizeof *seqs);
    if (!seqs)
        return SG_ENOMEM;
    sg_retention_pass_t next = *p;
    sg_retention_removed_t removed = {0};
    int64_t horizon = 0;
    size_t n = 0;
    int rc = sg_journal_exec(j, "BEGIN IMMEDIATE");
    if (rc == SG_OK) {
        rc = s_number(j, s_sql_horizon, "reading the cursors", &horizon);
        rc = rc ? rc : s_pick_outcomes(j, &next, (uint64_t)horizon, batch, seqs, &n);
        rc = rc ? rc : s_drop_outcomes(j, seqs, n, &removed);
        rc = rc ? rc : sg_journal_exec(j, "COMMIT");
        if (rc != SG_OK && !sqlite3_get_autocommit(sg_journal_sqlite(j)))
            sg_journal_exec(j, "ROLLBACK");
    }
    free(seqs);
    if (rc == SG_OK) {
        s_add(&next.removed, &removed);
        *p = next;
    }
    return rc;
}

/* One DELETE of at most `batch` rows older than the cutoff; the phase is
 * over once it removes fewer. */
static int s_step_delete(sg_journal_t *j, sg_retention_pass_t *p, const char *sql, size_t batch,
                         uint64_t *count)
{
    sqlite3_stmt *st = s_prepare(j, sql);
    if (!st)
        return SG_EIO;
    sqlite3_bind_int64(st, 1, p->cutoff_ms);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)batch);
    int rc = sqlite3_step(st) == SQLITE_DONE ? SG_OK : sg_journal_fail(j, "removing old rows");
    sqlite3_finalize(st);
    if (rc != SG_OK)
        return rc;
    size_t changed = (size_t)sqlite3_changes(sg_journal_sqlite(j));
    *count += changed;
    if (changed < batch)
        p->phase++;
    return SG_OK;
}

int sg_retention_step(sg_journal_t *j, sg_retention_pass_t *p, size_t batch)
{
    assert(batch > 0);
    int rc = SG_OK;
    switch (p->phase) {
    case S_PHASE_OUTCOMES:
        rc = s_step_outcomes(j, p, batch);
        break;
    case S_PHASE_RUNS:
        rc = s_step_delete(j, p, s_sql_runs, batch, &p->removed.runs);
        break;
    case S_PHASE_DRILLS:
        rc = s_step_delete(j, p, s_sql_drills, batch, &p->removed.drills);
        break;
    default:
        break;
    }
    if (rc != SG_OK)
        return rc;
    return p->phase < S_PHASE_OVER ? 1 : 0;
}

int sg_retention_run(sg_journal_t *j, int64_t now_ms, int64_t retention_ms, size_t batch,
                     sg_retention_removed_t *removed)
{
    sg_retention_pass_t p;
    sg_retention_pass_begin(&p, now_ms, retention_ms);
    int rc;
    while ((rc = sg_retention_step(j, &p, batch)) == 1)
        ;
    if (removed)
        s_add(removed, &p.removed);
    return rc;
}

/* ---- the size -------------------------------------------------------------- */

int sg_retention_size(sg_journal_t *j, int64_t *bytes, int64_t *free_bytes)
{
    int64_t pages = 0, page_size = 0, free_pages = 0;
    const char *what = "measuring the journal";
    int rc = s_number(j, "PRAGMA page_count", what, &pages);
    rc = rc ? rc : s_number(j, "PRAGMA page_size", what, &page_size);
    rc = rc ? rc : s_number(j, "PRAGMA freelist_count", what, &free_pages);
    if (rc != SG_OK)
        return rc;
    *bytes = pages * page_size;
    if (free_bytes)
        *free_bytes = free_pages * page_size;
    return SG_OK;
}

bool sg_retention_watch(sg_retention_watch_t *w, const char *path, int64_t bytes,
                        int64_t free_bytes, int64_t now_mono)
{
    if (w->max_bytes <= 0 || bytes <= w->max_bytes || (w->warned && now_mono < w->next_mono))
        return false;
    w->warned = true;
    w->next_mono = now_mono + S_WARN_EVERY_MS;
    sg_warn(S_MOD,
            "journal %s takes %.1f MiB (%.1f MiB of it free pages), more than journal.max_size "
            "(%.1f MiB): only what every sink has delivered and is older than journal.retention "
            "is removed; a sink that delivers nothing (siteguard_outbox_depth) holds the rest",
            path, (double)bytes / S_MIB, (double)free_bytes / S_MIB,
            (double)w->max_bytes / S_MIB);
    return true;
}

/* ---- the thread -------------------------------------------------------------- */

struct sg_retention {
    sg_journal_t *j; /* the thread's own connection */
    char *path;      /* for the log */
    const sg_clock_t *clock;
    int64_t retention_ms;
    sg_retention_watch_t watch;
    atomic_int_least64_t bytes;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool stop;         /* under mu */
    bool sync_ready;   /* mu and wake made */
    bool thread_started;
    pthread_t thread;
};

/* Waits `ms` (real time) or until a stop; false when stopping. */
static bool s_wait(sg_retention_t *r, int64_t ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(ms / 1000);
    deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (!r->stop && pthread_cond_timedwait(&r->wake, &r->mu, &deadline) != ETIMEDOUT)
        ;
    bool go_on = !r->stop;
    pthread_mutex_unlock(&r->mu);
    return go_on;
}

static void s_measure(sg_retention_t *r)
{
    int64_t bytes = 0, free_bytes = 0;
    if (sg_retention_size(r->j, &bytes, &free_bytes) != SG_OK)
        return;
    atomic_store(&r->bytes, bytes);
    sg_retention_watch(&r->watch, r->path, bytes, free_bytes, sg_clock_mono(r->clock));
}

/* A pass, paused between steps; ends early on a stop or an error (logged). */
static void s_pass(sg_retention_t *r)
{
    sg_retention_pass_t p;
    sg_retention_pass_begin(&p, sg_clock_wall(r->clock), r->retention_ms);
    int rc;
    while ((rc = sg_retention_step(r->j, &p, SG_RETENTION_BATCH)) == 1 &&
           s_wait(r, S_STEP_PAUSE_MS))
        ;
    if (rc < 0)
        sg_error(S_MOD, "%s: a pass stopped: %s; the next one tries again", r->path,
                 sg_err_str(rc));
    const sg_retention_removed_t *d = &p.removed;
    if (d->outcomes || d->runs || d->drills)
        sg_info(S_MOD,
                "%s: removed %llu delivered outcomes (%llu outbox rows), %llu ended runs and "
                "%llu ended drills older than journal.retention",
                r->path, (unsigned long long)d->outcomes, (unsigned long long)d->outbox,
                (unsigned long long)d->runs, (unsigned long long)d->drills);
}

static void *s_thread(void *arg)
{
    sg_retention_t *r = arg;
    int64_t since_pass = S_PASS_EVERY_MS; /* a pass at once */
    do {
        if (r->retention_ms > 0 && since_pass >= S_PASS_EVERY_MS) {
            s_pass(r);
            since_pass = 0;
        }
        s_measure(r);
        since_pass += S_WATCH_EVERY_MS;
    } while (s_wait(r, S_WATCH_EVERY_MS));
    return NULL;
}

static int s_sync_init(sg_retention_t *r)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return SG_ENOMEM;
    int rc = SG_ENOMEM;
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
        pthread_mutex_init(&r->mu, NULL) == 0) {
        if (pthread_cond_init(&r->wake, &attr) == 0) {
            r->sync_ready = true;
            rc = SG_OK;
        } else {
            pthread_mutex_destroy(&r->mu);
        }
    }
    pthread_condattr_destroy(&attr);
    return rc;
}

sg_retention_t *sg_retention_start(const sg_journal_cfg_t *cfg, const sg_clock_t *clock)
{
    sg_retention_t *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(cfg->path))) {
        sg_error(S_MOD, "cannot start: out of memory");
        free(r);
        return NULL;
    }
    r->clock = clock;
    r->retention_ms = cfg->retention_ms;
    r->watch.max_bytes = cfg->max_size;
    atomic_init(&r->bytes, 0);
    if (s_sync_init(r) != SG_OK || !(r->j = sg_journal_open(cfg->path)) ||
        sg_retention_prepare(r->j) != SG_OK)
        goto fail;
    s_measure(r); /* before the thread: the first metrics have it */
    if (pthread_create(&r->thread, NULL, s_thread, r) != 0)
        goto fail;
    r->thread_started = true;
    return r;
fail:
    sg_error(S_MOD, "%s: cannot start the journal's retention", cfg->path);
    sg_retention_stop(&r);
    return NULL;
}

int64_t sg_retention_bytes(const sg_retention_t *r)
{
    return r ? atomic_load(&((sg_retention_t *)r)->bytes) : 0;
}

void sg_retention_stop(sg_retention_t **rp)
{
    if (!rp || !*rp)
        return;
    sg_retention_t *r = *rp;
    if (r->thread_started) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_broadcast(&r->wake);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
    }
    if (r->sync_ready) {
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->mu);
    }
    sg_journal_close(&r->j);
    free(r->path);
    free(r);
    *rp = NULL;
}
