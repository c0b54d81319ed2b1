/* engine: the policy engine. Pure logic: no I/O, no threads, no clock reads.
 *
 * It takes checked events (sg_event_t from ingest) and ticks, each with the
 * current time (sg_now_t: monotonic for every timer, wall for the clock
 * offset of observers, maintenance windows and durable operator state), and
 * turns them into decisions with their reasons, queued in order for the
 * caller to take with sg_engine_next.
 *
 * Evidence. Every event from an observer shows, when it is received, that
 * the observer and its site are alive and can reach siteguard: liveness is
 * judged by receive time (the injected clock), never by the sender's clock.
 * `sent_at` serves ingest's staleness check and measures each observer's
 * clock offset (receipt minus send time, its minimum over a window), which
 * explain, status and /metrics show and which is announced (a NOTICE) when
 * it passes policy.skew_warn. A reachability report ("X is up/down")
 * counts while it is fresh (report_max_age since receipt).
 *
 * Votes, recounted on every tick from fresh reports only. An observer is
 * credible while it is heard (within report_max_age) and not blind: one
 * that reports down every one of two or more sites it reports on while
 * siteguard heard one of them after that report, or one that reports every
 * data site down while siteguard hears no data site itself (the witness
 * cut off together with siteguard), has no vote. A site votes about another:
 *   up    when one of its observers reported it up within vote_hold, or a
 *         credible one's newest report (fresh) says up: any up vote keeps a
 *         site from being lost (a partition, not a loss) and makes a lost
 *         site contested;
 *   down  when one of its credible observers has reported it down without a
 *         break (no gap longer than report_max_age) for policy.vote_hold
 *         (its newest down report at least vote_hold after the first, and
 *         after the observer last gained its vote: silence, or reports made
 *         without a vote, do not count), and no up vote: a blip, or a
 *         witness's first report after an absence, decides nothing;
 *   none  otherwise.
 * A site is lost only when siteguard heard another data (non-witness) site
 * after this one had been silent for suspect_after: a silence that began
 * everywhere at once is siteguard cut off itself (perhaps together with the
 * witness), not a loss, and a witness that reports every data site down then
 * decides nothing. When siteguard hears no data site at all, a NOTICE says
 * so.
 *
 * Site verdicts. A site moves between healthy, suspect, lost, contested and
 * recovering:
 *   healthy -> suspect     its observers are silent for suspect_after, or a
 *                          credible observer elsewhere reports it down;
 *   suspect -> lost        silent for hold_down, and the quorum holds now:
 *                          at least `quorum` other sites vote down (the
 *                          witness among them when require_witness), none
 *                          votes up, and another data site was heard after
 *                          it fell silent;
 *   lost -> contested      the quorum no longer holds (an up vote, voters
 *                          gone stale or blind): no new decision, runs not
 *                          yet called are cancelled;
 *   contested -> lost      the full quorum holds again (a new loss);
 *   lost|contested -> recovering  the site is heard again (any event
 *                          received after it was declared lost);
 *   recovering -> healthy  after recover_after of steady heartbeats (a
 *                          silence of suspect_after starts it again);
 *   recovering -> lost     lost again by the rule above (a new loss).
 * A site never heard since start is unknown; after policy.startup_grace it
 * counts as silent since start, so a site dead before siteguard started (or
 * before a takeover) is lost by the usual rule.
 *
 * Loss episodes. Every entry into lost starts a new episode: approvals,
 * approval deadlines, denials and plan releases belong to one episode and
 * are forgotten when it ends (contested, recovering). An episode restored
 * from durable operator state (sg_engine_opstate_import) and not ended since
 * goes on when the site is lost again after a restart.
 *
 * Collection decisions. While a site is lost, each of its collections, in
 * plan order, is checked against the guards: not paused, no maintenance
 * window open, replica site healthy, replication health not critical (the
 * newest report says so, however old: bad news stands until contradicted),
 * replication evidence fresh when an RPO limit is set, the lag within it,
 * not in cooldown, budget left (overall and per site; counted once per
 * loss); then plan order: every dependency failed over (unless its site is
 * healthy and it is not failing over), every collection of an earlier group
 * of the same site failed over; a failed predecessor is handled as
 * plan.on_error says: stop holds for good, continue lets later groups go (a
 * failed dependency still holds), wait holds until an operator approves. A
 * guard that holds a collection back yields a BLOCKED decision with its
 * reason, announced once per reason and re-checked on every tick. When all
 * pass, the policy mode decides: auto -> FAILOVER; shadow -> BLOCKED;
 * approve -> BLOCKED awaiting approval until approval_timeout (counted from
 * when the collection first awaited in this loss episode), then FAILOVER on
 * sg_engine_approve or, at the deadline, FAILOVER or hold as the policy says.
 *
 * Proof before act. A FAILOVER decision is not yet an act: immediately
 * before each call that changes the collection the caller asks
 * sg_engine_confirm, which counts the quorum again at that moment and checks
 * the guards and the collection's dependencies; when it fails the run is
 * cancelled (sg_engine_run_cancelled)
 * and nothing is called. sg_engine_confirm_drill does the same for a
 * drill's TestReplicaCollection.
 *
 * Run ids: base + 1, base + 2, ... where base is the largest id the journal
 * has used (never a clock).
 *
 * Thread rules: one thread at a time per engine. */
#ifndef SG_ENGINE_H
#define SG_ENGINE_H

#include "config/config.h"
#include "ingress/ingest.h"

#include <stdbool.h>
#include <stddef.h>
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
    SG_DECISION_BLOCKED,         /* failover of `collection` held back: see guard */
    SG_DECISION_SITE_CONTESTED,  /* a lost site's quorum no longer holds */
    SG_DECISION_NOTICE           /* a warning about the evidence (clock offset, no data
                                    site heard); site may be -1 */
} sg_decision_kind_t;
#define SG_DECISION_KIND_COUNT 9 /* one past the last kind, for per-kind counters */

typedef enum {
    SG_SITE_UNKNOWN = 0,
    SG_SITE_HEALTHY,
    SG_SITE_SUSPECT,
    SG_SITE_LOST,
    SG_SITE_RECOVERING,
    SG_SITE_CONTESTED,
    SG_SITE_STATE_COUNT
} sg_site_state_t;

typedef enum {
    SG_COLL_IDLE = 0,
    SG_COLL_BLOCKED,  /* held back by a guard; re-checked every tick */
    SG_COLL_AWAITING, /* approve mode: waiting for an operator */
    SG_COLL_DENIED,   /* an operator said no; held until the loss episode ends */
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
    SG_GUARD_PLAN_ORDER, /* waits for a dependency or an earlier group, or the plan stopped */
    SG_GUARD_COUNT
} sg_guard_t;

/* Who decided a failover run. */
typedef enum {
    SG_ORIGIN_ENGINE = 0, /* the policy, on a site loss */
    SG_ORIGIN_MANUAL,     /* an operator, the guards passing */
    SG_ORIGIN_FORCED      /* an operator, forced past the guards */
} sg_run_origin_t;

typedef struct {
    sg_decision_kind_t kind;
    int site;         /* the site concerned (for collections: the primary); -1: none */
    int collection;   /* index, or -1 for site notices */
    int target_site;  /* replica site, or -1 */
    int observer;     /* NOTICE about one observer: its index, else -1 */
    sg_guard_t guard; /* BLOCKED: what holds it back */
    uint64_t run_id;  /* failover run id (FAILOVER), else 0 */
    sg_run_origin_t origin; /* FAILOVER: who decided it */
    sg_now_t at;      /* the event or tick that decided it */
    char *reason;     /* owned; freed by sg_decision_fini */
    char *point;      /* FAILOVER asked by an operator with a recovery point for this run
                       * ("latest", "app", or a point's path or ID): owned, freed by
                       * sg_decision_fini; NULL: the collection's configured point */
} sg_decision_t;

typedef struct sg_engine sg_engine_t;

/* Borrows cfg. `run_id_base` is the largest run id already used (the
 * journal's); `now` is the start, from which startup_grace counts. */
sg_engine_t *sg_engine_new(const sg_config_t *cfg, uint64_t run_id_base, sg_now_t now);
void sg_engine_destroy(sg_engine_t **e);
/* Raises the run id base (a new leader's epoch-derived floor); never lowers it. */
void sg_engine_raise_run_base(sg_engine_t *e, uint64_t base);

/* Feeds one checked event received at `now`. Returns 0 or SG_ENOMEM. */
int sg_engine_on_event(sg_engine_t *e, const sg_event_t *ev, sg_now_t now);
/* Collections of lost sites a tick judges at most: a storm's thousands are
 * judged over several ticks (each goes on where the last stopped), so that
 * the caller serves its bus between them. */
#define SG_ENGINE_DECIDE_PER_TICK 1024

/* Advances time: recounts votes, moves site verdicts, decides (at most
 * SG_ENGINE_DECIDE_PER_TICK collections; next_deadline then says the next
 * tick is due at once). 0 or SG_ENOMEM. */
int sg_engine_tick(sg_engine_t *e, sg_now_t now);
/* Earliest monotonic time after the last tick at which a tick may change
 * something, INT64_MAX if none (maintenance windows and vote holds are not
 * counted: tick at least every second). A time the last tick reached was
 * judged by it and is not given again: a site never heard stays silent past
 * its start-up grace, and the loop must not spin on that. While a pass over
 * a lost site's collections is unfinished, the last tick's time: due now. */
int64_t sg_engine_next_deadline(const sg_engine_t *e);

/* Takes the oldest queued decision into *out (caller then owns out->reason
 * and out->point). Returns false when none is queued. */
bool sg_engine_next(sg_engine_t *e, sg_decision_t *out);
/* How many decisions are queued. */
size_t sg_engine_pending(const sg_engine_t *e);
void sg_decision_fini(sg_decision_t *d);

/* ---- runs -------------------------------------------------------------------- */

/* Proof before act: may run `run_id` of `collection` call now? For a run the
 * engine decided on a site loss: the collection's verdict is DECIDED with
 * this run, its site is lost with the quorum counted at `now` (no credible
 * up vote, its observers still silent for hold_down, a data site heard) and
 * every guard passes now, and its dependencies are failed over (or at a
 * healthy site and not failing over). For an operator's run: the guards and
 * dependencies pass now (a forced run: always).
 * Returns 0, or SG_ESTATE with *why (caller frees; `why` may be NULL) saying
 * what no longer holds. Does not change the engine's verdicts. */
int sg_engine_confirm(sg_engine_t *e, int collection, uint64_t run_id, sg_now_t now, char **why);
/* The same for a drill's TestReplicaCollection on `collection`: no site is
 * lost or contested, its site and replica site are healthy, and it is not
 * decided, failed over or failed. 0 or SG_ESTATE with *why. */
int sg_engine_confirm_drill(const sg_engine_t *e, int collection, sg_now_t now, char **why);
/* Run `run_id` of `collection` was cancelled before any call: the collection
 * may be decided again (no cooldown). No effect when that is not its run. */
void sg_engine_run_cancelled(sg_engine_t *e, int collection, uint64_t run_id);
/* The run's job passed job_timeout: for the plan it counts as failed (its
 * verdict stays DECIDED until it ends). */
void sg_engine_run_timed_out(sg_engine_t *e, int collection);
/* Records how the failover run of `collection` ended; starts its cooldown. */
void sg_engine_run_ended(sg_engine_t *e, int collection, bool failed_over, sg_now_t now);
/* Whether the collection's run in flight was asked by an operator (such a
 * run is not cancelled when its site is heard again). */
bool sg_engine_run_is_manual(const sg_engine_t *e, int collection);
/* Sets a collection's verdict from the journal on start (DECIDED with its
 * run id and who decided it, DONE or FAILED), so that nothing decided before
 * a restart is decided again, and an operator's run is proven as one. */
void sg_engine_restore(sg_engine_t *e, int collection, sg_coll_verdict_t verdict,
                       uint64_t run_id, sg_run_origin_t origin);
/* A collection is back home (failback): it may be decided again after its
 * cooldown. */
void sg_engine_reset_collection(sg_engine_t *e, int collection, sg_now_t now);

/* The collection's direction changed (its replication was reversed after a
 * commit: config.h, sg_config_reverse, already applied to the config the
 * engine borrows): the per-site plans are rebuilt, and the collection is
 * protected again in its new direction (IDLE; its cooldown stays). Refused
 * (SG_ESTATE) while a run of it is in flight. 0, SG_EINVAL or SG_ENOMEM. */
int sg_engine_redirect(sg_engine_t *e, int collection);
/* An operator reverted the collection's failover (RevertFailover: it
 * replicates again from its site): it is no longer failed over. While its
 * site's loss episode is open it is held as DENIED, so that the policy does
 * not fail it over again at once with the point just reverted; an
 * operator's failover (with another point) may: the cooldown of its run is
 * lifted, as the revert is an operator's deliberate act. SG_ESTATE while a
 * run of it is in flight; 0 or SG_EINVAL. */
int sg_engine_reverted(sg_engine_t *e, int collection, sg_now_t now);

/* ---- operator control ------------------------------------------------------------ */

/* `collection` must await an operator (approval, an approval timeout that
 * holds, or a plan that waits after a failure: SG_ESTATE otherwise). Approve
 * decides FAILOVER at the next tick if the guards still pass; deny holds
 * the collection until the loss episode ends. */
int sg_engine_approve(sg_engine_t *e, int collection, sg_now_t now);
int sg_engine_deny(sg_engine_t *e, int collection, sg_now_t now);

/* Pauses decisions for one collection (site -1), one site's collections
 * (collection -1) or everything (both -1) until `until_mono`, with a reason
 * (copied). A pause never stops a run already called; a run decided and
 * not yet called is cancelled at its proof. */
int sg_engine_pause(sg_engine_t *e, int site, int collection, int64_t until_mono,
                    const char *reason);
/* Lifts the pauses with exactly this scope. */
void sg_engine_resume(sg_engine_t *e, int site, int collection);

/* Manual failover of `collection`, asked by an operator, whatever the state
 * of its site. Refused (SG_ESTATE, *why says so) when the collection is
 * decided (a run in flight) or already failed over. Without `force` plan
 * order and the guards apply (pause, maintenance, replica site health,
 * replication, RPO, cooldown, budget; not the policy mode): when one holds,
 * SG_ESTATE and *why names it. With `force` nothing is checked and a reason
 * is required (SG_EINVAL without one). On success a FAILOVER decision, with
 * the reason, is queued for sg_engine_next and the budget counts it as a
 * site failover as usual. `point` (copied into the decision; NULL: the
 * collection's configured one) is the recovery point of this run only.
 * `why` may be NULL; else *why is set to a string the caller frees, or NULL. */
int sg_engine_manual_failover(sg_engine_t *e, int collection, bool force, const char *reason,
                              const char *point, sg_now_t now, char **why);

/* Active pauses, for status: the i-th (0-based) pause still in force at
 * `now_mono`; false when there is no such pause. *reason is borrowed (may
 * be NULL) until the next call that changes the engine. */
bool sg_engine_pause_at(const sg_engine_t *e, size_t i, int64_t now_mono, int *site,
                        int *collection, int64_t *until_mono, const char **reason);

/* ---- durable operator state ------------------------------------------------------ */

/* What an operator or the policy decided that must survive a restart or a
 * takeover: pauses, approvals, denials, plan releases, approval deadlines,
 * budget windows, cooldowns, open loss episodes, and which collections are
 * failed over (or failed), so a new leader without their runs in its own
 * journal does not decide them again. Times are wall clock
 * (Unix ms). Arrays are owned by the struct (sg_opstate_fini). */
typedef struct {
    int site, collection; /* -1: any */
    int64_t until_wall;
    char *reason; /* may be NULL */
} sg_opstate_pause_t;

typedef struct {
    int site;
    bool in_episode;   /* a loss episode is open */
    bool budget_taken; /* this episode already counts against the budgets */
    uint64_t episode;  /* losses of this site so far */
    int64_t *budget;   /* wall times of this site's failovers still in its budget window */
    size_t n_budget;
} sg_opstate_site_t;

typedef struct {
    int collection;
    bool done;   /* failed over: never decided again (until a failback) */
    bool failed; /* its run failed: held for an operator */
    bool approved, denied, released;
    int64_t deadline_wall;       /* awaiting approval: when it times out; 0: not awaiting */
    int64_t cooldown_until_wall; /* 0: none */
    bool directed;               /* its replication was reversed (config.h: reversed): */
    int site, replica_site;      /* with directed, its sites now (the engine's import
                                    leaves directions to the caller, who applies them to
                                    the config before the engine is made) */
} sg_opstate_coll_t;

typedef struct {
    sg_opstate_pause_t *pauses;
    size_t n_pauses;
    sg_opstate_site_t *sites; /* export: one per configured site */
    size_t n_sites;
    sg_opstate_coll_t *colls; /* only collections with something to keep */
    size_t n_colls;
    int64_t *budget; /* wall times of site failovers still in the overall window */
    size_t n_budget;
} sg_opstate_t;

void sg_opstate_fini(sg_opstate_t *s);
/* A counter that grows whenever the operator state changes (compare with the
 * value after the last save). */
uint64_t sg_engine_opstate_gen(const sg_engine_t *e);
/* Copies the operator state into *out (zeroed first). 0 or SG_ENOMEM. */
int sg_engine_opstate_export(const sg_engine_t *e, sg_now_t now, sg_opstate_t *out);
/* Applies saved operator state (after a restart or on taking over): pauses
 * still in force are added, approvals, denials, releases and deadlines of
 * open episodes are kept for when the site is lost again, budget windows and
 * cooldowns are merged (the later time wins). Indices must be valid for the
 * engine's config. 0 or SG_ENOMEM. */
int sg_engine_opstate_import(sg_engine_t *e, const sg_opstate_t *in, sg_now_t now);

/* ---- views --------------------------------------------------------------------- */

/* Why a site or collection is where it is, as readable lines (caller frees).
 * For a collection of a lost site that is not failing over, every guard that
 * holds it back is named. NULL when out of memory. */
char *sg_engine_explain_site(sg_engine_t *e, int site, sg_now_t now);
char *sg_engine_explain_collection(sg_engine_t *e, int collection, sg_now_t now);

sg_site_state_t sg_engine_site_state(const sg_engine_t *e, int site);
/* When the site was last heard (an event of one of its observers
 * received), as Unix ms at `now`'s offset; now.wall when never heard. */
int64_t sg_engine_site_heard_wall(const sg_engine_t *e, int site, sg_now_t now);
sg_coll_verdict_t sg_engine_collection_verdict(const sg_engine_t *e, int collection);
/* What holds a collection back while it is blocked, awaiting approval or
 * denied: the guard last announced for it (as explain's "held back by");
 * SG_GUARD_NONE in any other verdict. */
sg_guard_t sg_engine_collection_guard(const sg_engine_t *e, int collection);
/* An observer's clock offset: receipt minus send time (ms; positive: its
 * clock is behind siteguard's), the minimum over a recent window. False
 * when it was never heard. */
bool sg_engine_observer_skew(const sg_engine_t *e, int observer, int64_t *skew_ms);
const char *sg_site_state_name(sg_site_state_t s);
const char *sg_decision_kind_name(sg_decision_kind_t k);
const char *sg_guard_name(sg_guard_t g);
const char *sg_coll_verdict_name(sg_coll_verdict_t v);

/* Hot reload: the engine reads `cfg` from now on (borrowed). Only the
 * policy may differ: sites, observers and collections must be the same, in
 * the same order (SG_EINVAL otherwise, nothing changed). */
int sg_engine_set_config(sg_engine_t *e, const sg_config_t *cfg);

#endif
