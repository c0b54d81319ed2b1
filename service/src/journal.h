/* journal: the durable record of failover runs and outcomes (SQLite, WAL).
 *
 * Tables (schema version 1, PRAGMA user_version):
 *   runs(run_id PK, collection, cim_path, decided_ms, intent_ms, job_path,
 *        ended_ms, failed_over)
 *     one row per failover decision. intent_ms is set, and committed, before
 *     InitiateFailover is called for the run; job_path as soon as the call
 *     returned a job; ended_ms and failed_over when the run is over.
 *   outcomes(seq INTEGER PRIMARY KEY AUTOINCREMENT, dedup_key UNIQUE, run_id,
 *            collection, kind, time_ms, json)
 *     "the outcome log": every outcome, appended before it is posted to the
 *     sinks. `seq` only grows and is never reused, so a per-sink delivery
 *     cursor (sink name -> last seq delivered) can be kept beside it.
 *
 * Every write is its own transaction, committed with synchronous=FULL: when
 * a function returns 0 its write survives a crash of the process or the
 * machine.
 *
 * Replay on start (sg_journal_runs): the latest run of each collection tells
 * what the service was doing: ended (done or failed), open with a job path
 * (follow the job), open with an intent and no job (ask the provider before
 * calling again), or open without an intent (decided, never called).
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
} sg_journal_run_t;

/* Opens (creating if needed) the journal at `path`. NULL on failure, logged. */
sg_journal_t *sg_journal_open(const char *path);
/* Closes and sets *j to NULL. */
void sg_journal_close(sg_journal_t **j);

/* Records a failover decision. Returns 0, SG_ESTATE when the run id is
 * already known, or SG_EIO. */
int sg_journal_decided(sg_journal_t *j, uint64_t run_id, const char *collection,
                       const char *cim_path, int64_t now_ms);
/* Commits the run's intent to call InitiateFailover now. Returns 0,
 * SG_ENOTFOUND for an unknown run, SG_ESTATE for a run that has ended, or
 * SG_EIO. A second intent for an open run keeps the first time. */
int sg_journal_intent(sg_journal_t *j, uint64_t run_id, int64_t now_ms);

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

/* The latest run of each collection, oldest run first. On success *out
 * (free with sg_journal_runs_free) holds *n runs. Returns 0, SG_ENOMEM or
 * SG_EIO. */
int sg_journal_runs(sg_journal_t *j, sg_journal_run_t **out, size_t *n);
void sg_journal_runs_free(sg_journal_run_t *runs, size_t n);

/* Outcomes in the log (for tests and stats). Negative on error. */
long sg_journal_outcome_count(sg_journal_t *j);

#endif
