/* engine: the policy engine. Pure logic: no I/O, no threads, no clock reads.
 *
 * It takes checked events (sg_event_t from ingest) and ticks, each with the
 * current time (sg_now_t: monotonic for every timer, wall only to compare
 * with the send time of events and for maintenance windows), and turns them
 * into decisions with their reasons, queued in order for the caller to take
 * with sg_engine_next.
 *
 * Site verdicts. A site moves healthy -> suspect -> lost -> recovering ->
 * healthy. Any fresh event from an observer (a heartbeat, or a report: it
 * too shows the observer alive and connected) counts as that observer's and
 * its site's heartbeat; an event sent more than suspect_after ago, or older
 * than one already applied, does not. A site is suspect when its own
 * observers' heartbeats have been missing for suspect_after, or when one credible observer elsewhere reports
 * it down. It is lost only when, at once:
 *   - its heartbeats have been missing for hold_down;
 *   - at least `quorum` other sites (the witness counted; required when
 *     require_witness) vote it down; a site votes down when one of its
 *     credible observers reports it down and none of them has reported it up
 *     for hold_down; any credible "up" vote keeps it from being lost (a
 *     partition, not a loss);
 * An observer is credible while it is heard (within report_max_age, as
 * long as its reports count) and it is not blind (reporting down every one of two or
 * more sites it reports on while one of them is heard): an observer that cannot see anything has
 * no vote. A site never
 * heard is never lost. A lost site that is heard again (by a heartbeat sent
 * after it was declared lost: a late burst does not count) is recovering,
 * and healthy again after recover_after of steady heartbeats (a silence of
 * suspect_after starts the stable period again); it is lost again only when
 * the conditions of a loss hold again. While recovering, no new failover is
 * decided for its collections; runs already started go on.
 *
 * Collection decisions. While a site is lost (not recovering), each of its collections, in
 * plan order (dependencies first, otherwise by group, then config order), is
 * checked against the guards: not paused, no maintenance window open,
 * replica site healthy, replication health not critical and lag within the
 * RPO limit (from fresh replication reports), not in cooldown, failover
 * budget (overall and per site) not spent. A budget counts site failovers:
 * the first failover decided for a loss of a site counts that loss once,
 * however many collections follow; per-collection flapping is the
 * cooldown's job. A guard that holds a collection
 * back yields a BLOCKED decision with its reason, announced once per reason
 * and re-checked on every tick. When all pass, the policy mode decides:
 * auto -> FAILOVER; shadow -> BLOCKED (never acts); approve -> BLOCKED
 * awaiting approval until approval_timeout, then FAILOVER on sg_engine_approve
 * or, at the deadline, FAILOVER or hold as the policy says. A collection
 * decided for failover is never decided again (its verdict is state, not a
 * timer); sg_engine_run_ended records how its run ended and starts the
 * cooldown.
 *
 * Thread rules: one thread at a time per engine. */
#ifndef SG_ENGINE_H
#define SG_ENGINE_H

#include "../config.h"
#include "../ingest.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t mono; /* for timers: never goes backwards */
    int64_t wall; /* Unix milliseconds */
} sg_now_t;

typedef enum {
    SG_DECISION_SITE_SUSPECT = 1,
    SG_DECISION_SITE_LOST,
    SG_DECISION_SITE_RECOVERING, /* a lost site is heard again */
    SG_DECISION_SITE_RECOVERED,  /* healthy again */
    SG_DECISION_FAILOVER,        /* run InitiateFailover on `collection` */
    SG_DECISION_BLOCKED          /* failover of `collection` held back: see guard */
} sg_decision_kind_t;

typedef enum {
    SG_SITE_UNKNOWN = 0,
    SG_SITE_HEALTHY,
    SG_SITE_SUSPECT,
    SG_SITE_LOST,
    SG_SITE_RECOVERING
} sg_site_state_t;

typedef enum {
    SG_COLL_IDLE = 0,
    SG_COLL_BLOCKED,  /* held back by a guard; re-checked every tick */
    SG_COLL_AWAITING, /* approve mode: waiting for an operator */
    SG_COLL_DENIED,   /* an operator said no; held until the site recovers */
    SG_COLL_DECIDED,  /* failover run in flight */
    SG_COLL_DONE,     /* failed over */
    SG_COLL_FAILED    /* the run failed; needs an operator */
} sg_coll_verdict_t;

/* What holds a collection back. */
typedef enum {
    SG_GUARD_NONE = 0,
    SG_GUARD_PAUSED,
    SG_GUARD_MAINTENANCE,
    SG_GUARD_REPLICA_SITE,
    SG_GUARD_REPLICATION_CRITICAL,
    SG_GUARD_RPO,
    SG_GUARD_NO_REPLICATION_DATA,
    SG_GUARD_COOLDOWN,
    SG_GUARD_BUDGET,
    SG_GUARD_SITE_BUDGET,
    SG_GUARD_SHADOW,
    SG_GUARD_AWAITING_APPROVAL,
    SG_GUARD_DENIED,
    SG_GUARD_APPROVAL_TIMEOUT,
    SG_GUARD_COUNT
} sg_guard_t;

typedef struct {
    sg_decision_kind_t kind;
    int site;         /* the site concerned (for collections: the primary) */
    int collection;   /* index, or -1 for site notices */
    int target_site;  /* replica site, or -1 */
    sg_guard_t guard; /* BLOCKED: what holds it back */
    uint64_t run_id;  /* failover run id (FAILOVER), else 0 */
    sg_now_t at;      /* the event or tick that decided it */
    char *reason;     /* owned; freed by sg_decision_fini */
    char *point;      /* FAILOVER asked by an operator with a recovery point for this run
                       * ("latest", "app", or a point's path or ID): owned, freed by
                       * sg_decision_fini; NULL: the collection's configured point */
} sg_decision_t;

typedef struct sg_engine sg_engine_t;

/* Borrows cfg. `run_id_base` seeds run ids (the caller passes something
 * unique across restarts, such as wall-clock milliseconds * 1000). */
sg_engine_t *sg_engine_new(const sg_config_t *cfg, uint64_t run_id_base);
void sg_engine_destroy(sg_engine_t **e);

/* Feeds one checked event received at `now`. Returns 0 or SG_ENOMEM. */
int sg_engine_on_event(sg_engine_t *e, const sg_event_t *ev, sg_now_t now);
/* Advances time. Returns 0 or SG_ENOMEM. */
int sg_engine_tick(sg_engine_t *e, sg_now_t now);
/* Earliest monotonic time at which a tick may change something, INT64_MAX
 * if none (maintenance windows are not counted: tick at least every second
 * while a site is lost). */
int64_t sg_engine_next_deadline(const sg_engine_t *e);

/* Takes the oldest queued decision into *out (caller then owns out->reason
 * and out->point).
 * Returns false when none is queued. */
bool sg_engine_next(sg_engine_t *e, sg_decision_t *out);
void sg_decision_fini(sg_decision_t *d);

/* Records how the failover run of `collection` ended; starts its cooldown. */
void sg_engine_run_ended(sg_engine_t *e, int collection, bool failed_over, sg_now_t now);
/* Sets a collection's verdict from the journal on start (DECIDED, DONE or
 * FAILED), so that nothing decided before a restart is decided again. */
void sg_engine_restore(sg_engine_t *e, int collection, sg_coll_verdict_t verdict);
/* After a restart: a site that had runs open when the service stopped is
 * treated as last heard now, so that it is judged again (lost after a full
 * hold-down and a quorum, as always) instead of never, as a site never
 * heard would be. No effect on a site already heard. */
void sg_engine_assume_heard(sg_engine_t *e, int site, sg_now_t now);
/* A collection is back home (failback): it may be decided again after its
 * cooldown. */
void sg_engine_reset_collection(sg_engine_t *e, int collection, sg_now_t now);

/* Operator control. `collection` must be awaiting approval (SG_ESTATE
 * otherwise). Approve decides FAILOVER at the next tick if the guards still
 * pass; deny holds the collection until its site recovers. */
int sg_engine_approve(sg_engine_t *e, int collection, sg_now_t now);
int sg_engine_deny(sg_engine_t *e, int collection, sg_now_t now);

/* Pauses decisions for one collection (site -1), one site's collections
 * (collection -1) or everything (both -1) until `until_mono`, with a reason
 * (copied). A pause never stops a run already started. */
int sg_engine_pause(sg_engine_t *e, int site, int collection, int64_t until_mono,
                    const char *reason);
/* Lifts the pauses with exactly this scope. */
void sg_engine_resume(sg_engine_t *e, int site, int collection);

/* Why a site or collection is where it is, as readable lines (caller frees).
 * For a collection of a lost site that is not failing over, every guard that
 * holds it back is named. NULL when out of memory. */
char *sg_engine_explain_site(const sg_engine_t *e, int site, sg_now_t now);
char *sg_engine_explain_collection(const sg_engine_t *e, int collection, sg_now_t now);

sg_site_state_t sg_engine_site_state(const sg_engine_t *e, int site);
sg_coll_verdict_t sg_engine_collection_verdict(const sg_engine_t *e, int collection);
const char *sg_site_state_name(sg_site_state_t s);
const char *sg_decision_kind_name(sg_decision_kind_t k);
const char *sg_guard_name(sg_guard_t g);
const char *sg_coll_verdict_name(sg_coll_verdict_t v);

/* Manual failover of `collection`, asked by an operator, whatever the state
 * of its site. Refused (SG_ESTATE, *why says so) when the collection is
 * decided (a run in flight) or already failed over. Without `force` the
 * guards apply (pause, maintenance, replica site health, replication,
 * RPO, cooldown, budget; not the policy mode): when one holds, SG_ESTATE
 * and *why names it. With `force` no guard is checked and a reason is
 * required (SG_EINVAL without one). On success a FAILOVER decision, with
 * the reason, is queued for sg_engine_next and the budget counts it as a
 * site failover as usual. `point` (copied into the decision; NULL: the
 * collection's configured one) is the recovery point of this run only; the
 * engine does not check it (the executor resolves it). `why` may be NULL;
 * else *why is set to a string the caller frees, or NULL. */
int sg_engine_manual_failover(sg_engine_t *e, int collection, bool force, const char *reason,
                              const char *point, sg_now_t now, char **why);

/* Active pauses, for status: the i-th (0-based) pause still in force at
 * `now_mono`; false when there is no such pause. *reason is borrowed (may
 * be NULL) until the next call that changes the engine. */
bool sg_engine_pause_at(const sg_engine_t *e, size_t i, int64_t now_mono, int *site,
                        int *collection, int64_t *until_mono, const char **reason);

/* Hot reload: the engine reads `cfg` from now on (borrowed). Only the
 * policy may differ: sites and collections must be the same, in the same
 * order (SG_EINVAL otherwise, nothing changed). */
int sg_engine_set_config(sg_engine_t *e, const sg_config_t *cfg);

#endif
