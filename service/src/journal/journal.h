/* journal: the durable record of failover runs and outcomes (SQLite, WAL).
 *
 * Tables (schema version 4, PRAGMA user_version):
 *   runs(run_id PK, collection, cim_path, decided_ms, intent_ms, job_path,
 *        ended_ms, failed_over, point, epoch, origin)
 *     one row per failover decision. intent_ms is set, and committed, before
 *     InitiateFailover is called for the run; job_path as soon as the call
 *     returned a job; ended_ms and failed_over when the run is over; point
 *     is the run's own recovery point (an operator's override: "latest",
 *     "app", or a point's path or ID), NULL for the collection's configured
 *     one, so that a run resumed after a restart uses the same point.
 *     Opening a file of an older version migrates it in place, in the
 *     opening transaction (1 -> 2 adds runs.point, 2 -> 3 runs.epoch, 3 -> 4
 *     runs.origin: "manual" or "forced" for an operator's run; NULL
 *     in the runs already there); a file of a newer version is refused, so
 *     older builds refuse a migrated file.
 *     ended_ms with failed_over -1 marks a run that was not carried out: decided
 *     and abandoned at a restart, or cancelled when its proof failed.
 *   opstate(key PK, time_ms, json)
 *     the engine's durable operator state (pauses, approvals, denials,
 *     budgets, cooldowns, open loss episodes) as opstate.h writes it, under
 *     the key 'engine'; a table older builds ignore.
 *   outcomes(seq INTEGER PRIMARY KEY AUTOINCREMENT, dedup_key UNIQUE, run_id,
 *            collection, kind, time_ms, json)
 *     "the outcome log": every outcome, appended before it is posted to the
 *     sinks (one held from them, outcome.h's "held", is logged all the same
 *     and every sink passes over it). `seq` only grows and is never reused, so a per-sink delivery
 *     cursor (sink name -> last seq delivered) can be kept beside it.
 *
 * Every write is its own transaction, committed with synchronous=FULL: when
 * a function returns 0 its write survives a crash of the process or the
 * machine; inside a batch (sg_journal_batch_begin), when the batch ends.
 *
 * Replay on start (sg_journal_runs): the latest run of each collection tells
 * what the service was doing: ended (done or failed), open with a job path
 * (follow the job), open with an intent and no job (ask the provider before
 * calling again), or open without an intent (decided, never called). It is
 * read through the index on (collection, run_id), one collection at a time,
 * so a start reads as much as there are collections, however many runs the
 * journal keeps; the sinks start from their cursors (the outbox, below).
 *
 * What the journal no longer needs (delivered outcomes, ended runs and
 * drills older than journal.retention) is removed by retention.h, on a
 * connection of its own.
 *
 * Thread rules: one thread (the loop thread) uses a journal. */
#ifndef SG_JOURNAL_H
#define SG_JOURNAL_H

#include "siteguard/plugin.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sg_journal sg_journal_t;

/* One run as the journal has it. Strings are owned by the array that
 * sg_journal_runs returns. */
typedef struct {
    uint64_t run_id;
    char *collection; /* configured name */
    char *cim_path;
    int64_t decided_ms;
    int64_t intent_ms; /* 0: no intent committed */
    char *job_path;    /* NULL: no job journaled */
    int64_t ended_ms;  /* 0: the run is open */
    bool failed_over;  /* when ended */
    bool abandoned;    /* ended without being carried out (sg_journal_abandon,
                          sg_journal_run_cancelled) */
    char *point;       /* the run's own recovery point; NULL: the collection's */
    char *origin;      /* "manual", "forced" (an operator's run); NULL: the engine's */
} sg_journal_run_t;

/* Batches: the writes between begin and end (run steps, decisions,
 * outcomes) go in one transaction, made durable by one commit at the end,
 * for the loop's bursts of results. An intent inside a batch commits the
 * batch first and itself on its own, so a call is never made before its
 * intent is durable; the batch then goes on. While a batch is open, a write
 * is durable only once the batch ends: nothing outside the journal (a sink,
 * a call) may depend on it before then. Returns 0, SG_ESTATE (begin inside
 * a batch) or SG_EIO. */
int sg_journal_batch_begin(sg_journal_t *j);
int sg_journal_batch_end(sg_journal_t *j);

/* Opens (creating if needed) the journal at `path`. NULL on failure, logged.
 * A new file is private to this process's user (sg_platform_file_private:
 * 0600 on POSIX, and SQLite gives its -wal and -shm files the same mode);
 * nothing but the service reads it, so there is no group access. An
 * existing file keeps its mode, with a warning when others may open it. */
sg_journal_t *sg_journal_open(const char *path);
/* Closes and sets *j to NULL. */
void sg_journal_close(sg_journal_t **j);

/* Records a failover decision. Returns 0, SG_ESTATE when the run id is
 * already known, or SG_EIO. */
int sg_journal_decided(sg_journal_t *j, uint64_t run_id, const char *collection,
                       const char *cim_path, int64_t now_ms);
/* The same for a run with its own recovery point (`point`, copied; NULL:
 * the collection's configured one, as sg_journal_decided). */
int sg_journal_decided_point(sg_journal_t *j, uint64_t run_id, const char *collection,
                             const char *cim_path, const char *point, int64_t now_ms);
/* The same with who decided it: `origin` "manual" or "forced" for an
 * operator's run (its proof after a restart is an operator's), NULL for the
 * engine's. */
int sg_journal_decided_run(sg_journal_t *j, uint64_t run_id, const char *collection,
                           const char *cim_path, const char *point, const char *origin,
                           int64_t now_ms);
/* Commits the run's intent to call InitiateFailover now. Returns 0,
 * SG_ENOTFOUND for an unknown run, SG_ESTATE for a run that has ended, or
 * SG_EIO. A second intent for an open run keeps the first time. */
int sg_journal_intent(sg_journal_t *j, uint64_t run_id, int64_t now_ms);
/* The same, recording the leader's epoch the call is made under (column
 * runs.epoch, schema version 3; NULL in runs journaled before it), committed
 * no later than the intent. A second intent keeps the first epoch too. */
int sg_journal_intent_epoch(sg_journal_t *j, uint64_t run_id, uint64_t epoch, int64_t now_ms);
/* Group commit: the intent (and the epoch, when not 0) written into the
 * open batch, durable only when sg_journal_batch_end commits it; the caller
 * makes no call before then (executor.h, SG_EXEC_DEFERRED). A failed intent
 * leaves the batch as it was. Returns as sg_journal_intent, or SG_ESTATE
 * when no batch is open. */
int sg_journal_intent_batched(sg_journal_t *j, uint64_t run_id, uint64_t epoch, int64_t now_ms);

/* Appends an outcome to the outcome log; *added (may be NULL) tells whether
 * it was new (false: its dedup_key was already there, nothing changed).
 * Returns 0 or SG_EIO / SG_EINVAL (no dedup key). */
int sg_journal_outcome(sg_journal_t *j, const sg_outcome_t *o, bool *added);

/* Records one step of a run with its outcome, in one transaction: the
 * outcome is appended (as sg_journal_outcome); a non-NULL `job_path` is
 * stored as the run's job; `ended` closes the run with `failed_over`.
 * Returns 0, SG_ENOTFOUND for an unknown run, or SG_EIO. */
int sg_journal_run_step(sg_journal_t *j, uint64_t run_id, const char *job_path, bool ended,
                        bool failed_over, int64_t now_ms, const sg_outcome_t *o, bool *added);

/* Ends a run as not carried out (no call of it was accepted: its proof
 * failed before the call), with its outcome, in one transaction (inside a
 * batch: one savepoint). Replay treats it like an abandoned run: the
 * collection may be decided again. 0, SG_ENOTFOUND or SG_EIO. */
int sg_journal_run_cancelled(sg_journal_t *j, uint64_t run_id, int64_t now_ms,
                             const sg_outcome_t *o, bool *added);

/* The largest run id the journal has used (0 for none): run ids go on from
 * it, never from a clock. 0 or SG_EIO. */
int sg_journal_max_run_id(sg_journal_t *j, uint64_t *out);

/* The durable operator state (one JSON text; opstate.h): put replaces it
 * (committed before it returns, or with the batch), get returns a copy in
 * *json (caller frees). put: 0 or SG_EIO; get: 0, SG_ENOTFOUND (none saved),
 * SG_ENOMEM or SG_EIO. */
int sg_journal_opstate_put(sg_journal_t *j, const char *json, int64_t now_ms);
int sg_journal_opstate_get(sg_journal_t *j, char **json);

/* Ends a run that was decided but never started (no intent), as abandoned:
 * after a restart such a decision is not carried out blindly; the engine
 * decides again if the site is still lost. Returns 0, SG_ESTATE when the run
 * has an intent or has ended, SG_ENOTFOUND, or SG_EIO. */
int sg_journal_abandon(sg_journal_t *j, uint64_t run_id, int64_t now_ms);

/* The latest run of each collection, oldest run first. On success *out
 * (free with sg_journal_runs_free) holds *n runs. Returns 0, SG_ENOMEM or
 * SG_EIO. */
int sg_journal_runs(sg_journal_t *j, sg_journal_run_t **out, size_t *n);
void sg_journal_runs_free(sg_journal_run_t *runs, size_t n);

/* Outcomes in the log (for tests and stats). Negative on error. */
long sg_journal_outcome_count(sg_journal_t *j);

/* The audit trail: every operator command that changes something, with who,
 * what and why, and how it ended. Table audit(seq INTEGER PRIMARY KEY
 * AUTOINCREMENT, time_ms, who, role, command, target, reason, result),
 * created on first use: a table that older builds ignore, so adding it
 * needs no schema version change. Strings are owned by the entry. */
typedef struct {
    uint64_t seq;
    int64_t time_ms;
    char *who;
    char *role;
    char *command;
    char *target;
    char *reason;
    char *result;
} sg_journal_audit_t;

/* Appends one entry (seq and the strings of `a` are read; NULL strings are
 * stored empty), committed before it returns. Returns 0 or SG_EIO. */
int sg_journal_audit(sg_journal_t *j, const sg_journal_audit_t *a);
/* The newest `limit` entries (0: all), oldest first. On success *out (free
 * with sg_journal_audit_free) holds *n entries. Returns 0, SG_ENOMEM or SG_EIO. */
int sg_journal_audit_list(sg_journal_t *j, size_t limit, sg_journal_audit_t **out, size_t *n);
void sg_journal_audit_free(sg_journal_audit_t *entries, size_t n);

/* --- The alert outbox -------------------------------------------------------
 *
 * Per-sink delivery state beside the outcome log, in two tables that
 * sg_journal_outbox_init makes:
 *   outbox_sinks(sink PK, cursor, failures)
 *     cursor: the last seq of the outcome log the sink has routed (queued or
 *     passed over); failures: the sink's failed delivery attempts so far
 *     (it only grows).
 *   outbox(sink, seq, state, site, base, attempts, grp, done_ms, error;
 *          PRIMARY KEY (sink, seq))
 *     one row per outcome queued for a sink. state: SG_OUTBOX_*; base: the
 *     sink's failures when the row was queued, so the notice has waited
 *     through (failures - base) failed attempts; attempts: deliveries of
 *     this very row that failed; grp: the dedup key of the group it was
 *     sealed into, NULL when none.
 * Each sink worker uses its own sg_journal_t (its own SQLite connection to
 * the file; WAL lets it read while another writes); every write is one
 * short transaction and no plugin is called inside one. */

enum { SG_OUTBOX_PENDING = 0, SG_OUTBOX_DELIVERED = 1, SG_OUTBOX_DEAD = 2 };

/* An outcome of the log as the outbox reads it. Strings owned by the array. */
typedef struct {
    uint64_t seq;
    char *kind; /* sg_outcome_kind_name */
    int64_t time_ms;
    char *json;
} sg_journal_logged_t;

/* One pending row of a sink. Strings owned by the array. */
typedef struct {
    uint64_t seq;
    char *kind; /* of the outcome */
    int64_t time_ms;
    char *site; /* NULL when the outcome names none */
    int64_t base;
    int attempts;
    char *grp; /* NULL: not sealed into a group */
} sg_outbox_row_t;

/* Makes the outbox tables if needed. `relaxed`: this connection commits
 * with synchronous NORMAL (a power loss may forget a delivery mark and
 * resend a notice, never lose one); for the sink workers. Returns 0 or
 * SG_EIO. */
int sg_journal_outbox_init(sg_journal_t *j, bool relaxed);

/* The sink's cursor and failures. A sink the outbox has never seen is
 * created at the end of the outcome log (it starts from now, not from the
 * beginning of history) and *created (may be NULL) is set. 0 or SG_EIO. */
int sg_journal_outbox_sink(sg_journal_t *j, const char *sink, uint64_t *cursor,
                           int64_t *failures, bool *created);

/* Up to `limit` outcomes of the log after `cursor`, in seq order; free with
 * sg_journal_logged_free. 0, SG_ENOMEM or SG_EIO. */
int sg_journal_outbox_after(sg_journal_t *j, uint64_t cursor, size_t limit,
                            sg_journal_logged_t **out, size_t *n);
void sg_journal_logged_free(sg_journal_logged_t *rows, size_t n);

/* In one transaction: queues seqs[i] (site sites[i], may be NULL) for the
 * sink as pending, based on its current failures (a row already there is
 * kept), and moves its cursor to `cursor`. 0 or SG_EIO. */
int sg_journal_outbox_queue(sg_journal_t *j, const char *sink, const uint64_t *seqs,
                            const char *const *sites, size_t n, uint64_t cursor);

/* Up to `limit` pending rows of the sink, in seq order; free with
 * sg_outbox_rows_free. 0, SG_ENOMEM or SG_EIO. */
int sg_journal_outbox_pending(sg_journal_t *j, const char *sink, size_t limit,
                              sg_outbox_row_t **out, size_t *n);
void sg_outbox_rows_free(sg_outbox_row_t *rows, size_t n);

/* The JSON of outcome `seq` in *json (caller frees). 0, SG_ENOTFOUND,
 * SG_ENOMEM or SG_EIO. */
int sg_journal_outbox_json(sg_journal_t *j, uint64_t seq, char **json);

/* The JSON of each outcome seqs[i] in jsons[i] (n slots; caller frees
 * each), NULL where the log has none, read in one transaction: how a sink
 * worker loads a batch. 0, SG_ENOMEM or SG_EIO (then every slot is NULL). */
int sg_journal_outbox_jsons(sg_journal_t *j, const uint64_t *seqs, size_t n, char **jsons);

/* Seals pending rows into group `grp`: from now on they are delivered
 * together under that key, also after a restart. 0 or SG_EIO. */
int sg_journal_outbox_seal(sg_journal_t *j, const char *sink, const uint64_t *seqs, size_t n,
                           const char *grp);

/* Marks rows delivered at `now_ms`. 0 or SG_EIO. */
int sg_journal_outbox_delivered(sg_journal_t *j, const char *sink, const uint64_t *seqs,
                                size_t n, int64_t now_ms);

/* Records one failed attempt of the sink that carried these rows: their
 * attempts and error are updated and the sink's failures grow by one, the
 * new count in *failures. `error` may be NULL. 0 or SG_EIO. */
int sg_journal_outbox_failed(sg_journal_t *j, const char *sink, const uint64_t *seqs, size_t n,
                             const char *error, int64_t *failures);

/* Dead-letters rows at `now_ms` with `error`, and, with a `fallback` sink,
 * queues each of them for it (unless it has that outcome already), in one
 * transaction. 0 or SG_EIO. */
int sg_journal_outbox_dead(sg_journal_t *j, const char *sink, const uint64_t *seqs, size_t n,
                           const char *error, int64_t now_ms, const char *fallback);

/* Rows of the sink in `state` (SG_OUTBOX_*); negative on error. */
long sg_journal_outbox_count(sg_journal_t *j, const char *sink, int state);

/* --- Drills ----------------------------------------------------------------
 *
 * Table drills(id PK, name, started_ms, ended_ms, result, report), created
 * on first use (older builds ignore it). A row is written when a drill
 * starts (ended_ms NULL: its test copies may exist) and completed with the
 * report's JSON when it ends. Loop thread only, like the rest. */

/* Records that drill run `id` of drill `name` started. 0, SG_ESTATE (the id
 * is known) or SG_EIO. */
int sg_journal_drill_begin(sg_journal_t *j, const char *id, const char *name, int64_t started_ms);
/* Ends drill run `id` with its result ("passed", ...) and report JSON. 0,
 * SG_ENOTFOUND or SG_EIO. */
int sg_journal_drill_end(sg_journal_t *j, const char *id, int64_t ended_ms, const char *result,
                         const char *report);
/* The report of drill run `id`, or of the latest ended run when `id` is
 * NULL, in *report (caller frees). 0, SG_ENOTFOUND, SG_ENOMEM or SG_EIO. */
int sg_journal_drill_report(sg_journal_t *j, const char *id, char **report);
/* The latest ended run of drill `name` (with `result` non-NULL, the latest
 * that ended with it): its end in *ended_ms and, when `result_out` is not
 * NULL, its result in *result_out (caller frees). 0, SG_ENOTFOUND,
 * SG_ENOMEM or SG_EIO. */
int sg_journal_drill_last(sg_journal_t *j, const char *name, const char *result,
                          int64_t *ended_ms, char **result_out);
/* The reports of the latest `limit` ended runs (of drill `name`; NULL: of
 * every drill), oldest first: *reports (free each and the array) holds *n
 * of them. 0, SG_ENOMEM or SG_EIO. */
int sg_journal_drill_reports(sg_journal_t *j, const char *name, size_t limit, char ***reports,
                             size_t *n);
/* Drill runs started and never ended (a stop or crash during the drill),
 * read through an index of those only: *ids (free each and the array)
 * holds *n ids, oldest first. 0, SG_ENOMEM or SG_EIO. */
int sg_journal_drills_open(sg_journal_t *j, char ***ids, size_t *n);

#endif
