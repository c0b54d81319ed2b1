/* statusfeed: what the status page remembers of what the loop did, which
 * neither the engine nor the config holds: per collection its latest
 * failover run step by step (decided, intent committed, InitiateFailover
 * called, the job's progress, ended, with the run's recovery point and who
 * decided it), the reason it was last held back, and when each site was
 * last declared lost (where the timeline of an episode starts).
 *
 * Fed on the loop thread: seeded at start from the journal's latest run of
 * each collection (sg_statusfeed_seed: the rows control's `status` reads
 * too), then with every decision the loop takes (sg_statusfeed_decision),
 * every intent it commits (sg_statusfeed_intent) and every step of a run
 * it journals (sg_statusfeed_step: ended when, and as, the journal ends the
 * run, at the time it records), so what the feed says of a run is what the
 * journal says, and more. O(1) per call: a storm of 10,000 costs little.
 *
 * Pure: no I/O, clock or threads. Ownership: the feed copies what it keeps;
 * the config (names) is borrowed and must outlive it (reloads keep the same
 * collections and sites: reload.h). Thread rules: one thread at a time. */
#ifndef SG_STATUSFEED_H
#define SG_STATUSFEED_H

#include "config/config.h"
#include "journal/journal.h"
#include "policy/engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a run ended. */
typedef enum {
    SG_FEED_OPEN = 0,  /* not ended */
    SG_FEED_SUCCEEDED, /* failed over */
    SG_FEED_FAILED,
    SG_FEED_CANCELLED, /* ended before any call: its proof failed */
    SG_FEED_ABANDONED  /* a decision a restart did not carry out */
} sg_feed_end_t;

/* One run. Times are Unix ms, 0 when the step has not happened (or, for a
 * run seeded from the journal, is not known: a restart forgets the call
 * time and progress of a run that ended before it). Strings owned by the
 * feed, NULL when not known. */
typedef struct {
    uint64_t run_id; /* 0: no run */
    int64_t decided_ms, intent_ms, called_ms, progress_ms, ended_ms;
    int percent; /* the job's last PercentComplete; -1: not known */
    int attempt; /* of the last call; 0: not known */
    bool timed_out;
    sg_feed_end_t end;
    char *point;    /* the run's own recovery point; NULL: the collection's configured one */
    char *origin;   /* "manual", "forced"; NULL: the policy's */
    char *job_path;
    char *message;  /* the latest outcome's or decision's words */
} sg_feed_run_t;

typedef struct sg_statusfeed sg_statusfeed_t;

/* NULL when out of memory. */
sg_statusfeed_t *sg_statusfeed_new(const sg_config_t *cfg);
void sg_statusfeed_destroy(sg_statusfeed_t **f);

/* The journal's latest run of each collection (sg_journal_runs); runs of
 * collections no longer configured are skipped. 0 or SG_ENOMEM. */
int sg_statusfeed_seed(sg_statusfeed_t *f, const sg_journal_run_t *runs, size_t n);

/* A decision of the engine, as the loop takes it: a failover starts a new
 * run of its collection, a block records its reason, a site lost the start
 * of its episode. 0 or SG_ENOMEM. */
int sg_statusfeed_decision(sg_statusfeed_t *f, const sg_decision_t *d);
/* The intent of the current run of `collection` is committed (the first
 * one counts). */
void sg_statusfeed_intent(sg_statusfeed_t *f, int collection, int64_t wall_ms);
/* One step of a run, as the loop journals it (sg_journal_run_step or
 * sg_journal_run_cancelled). */
typedef struct {
    int collection;
    uint64_t run_id;
    const sg_outcome_t *outcome; /* its kind, time, job, progress, attempt and words */
    bool ended;       /* the journal ends the run with this step */
    bool failed_over; /* with ended */
    bool cancelled;   /* with ended: not carried out */
    int64_t wall_ms;  /* the time the journal records */
} sg_feed_step_t;

/* A step of the current run of its collection moves it (a step of an older
 * run is ignored): a job started is the call, progress its percent, a
 * timeout marks it, the end ends it. 0 or SG_ENOMEM. */
int sg_statusfeed_step(sg_statusfeed_t *f, const sg_feed_step_t *step);

/* The latest run of `collection`, NULL when none is known. Borrowed until
 * the next call that feeds. */
const sg_feed_run_t *sg_statusfeed_run(const sg_statusfeed_t *f, int collection);
/* Why `collection` was last held back (the blocked decision's words), NULL
 * when it never was or a run of it was decided since. Borrowed likewise. */
const char *sg_statusfeed_hold(const sg_statusfeed_t *f, int collection);
/* When `site` was last declared lost (Unix ms), 0 when not since start. */
int64_t sg_statusfeed_lost_ms(const sg_statusfeed_t *f, int site);

/* "open", "succeeded", "failed", "cancelled", "abandoned". */
const char *sg_feed_end_name(sg_feed_end_t e);
/* Where a run stands in words: "decided", "intent", "called", "running
 * 40%", "timed out", or how it ended. Writes into buf. */
const char *sg_feed_run_state(const sg_feed_run_t *r, char *buf, size_t len);

#endif
