/* lifecycle: the steps after a failover, asked by an operator or by the
 * policy (after_failover.commit_after): CommitFailover (make it final),
 * RevertFailover (undo a failover not committed: the collection replicates
 * again from its site, and may be failed over again, with another recovery
 * point), ReverseReplicationRelationship (after a commit: the failed-over
 * side becomes the primary and replicates back; siteguard then protects the
 * collection in its new direction), and the listing of a collection's
 * recovery points.
 *
 * Each call goes to the side the collection was failed over to (its replica
 * site: sg_provider_at), where Hyper-V takes these methods.
 *
 * Guards (sg_lifecycle_request, on the loop thread): the collection is
 * failed over as the engine sees it (verdict DONE: not decided, not failed,
 * not idle), no other step of it is running, and for a reverse no drill
 * runs (a reverse changes the collection's direction in the config that a
 * drill's thread reads). A refused request says why and calls nothing.
 *
 * Proof before act, on the step's thread, before each call: the state of
 * the collection, read from that side, must be the one the method takes
 * (commit and revert: failed over; reverse: committed); a state that shows
 * the step already done (committed; replicating again after a revert;
 * replicating with this side primary after a reverse) ends the step well
 * without a call, and any other ends it failed without a call, naming the
 * state. So a step resumed after a restart, whose call may or may not have
 * been made, is never made twice. Fencing as the executor's: a step carries
 * the epoch it was asked under and each call is fenced with it.
 *
 * Crash safety: the step's intent is committed to the journal (steps.h)
 * before its thread starts; its job path when the call returns one; its end
 * with the outcome. sg_lifecycle_resume, on start or on taking the lead,
 * resumes every open step: a journaled job is followed; without a job the
 * state decides as above.
 *
 * Return values of the methods: 0 done; 4096 the job is followed (jobfollow.h;
 * a job gone is judged by the state, as above); retryable codes (timeout,
 * in use, not available, out of memory) are tried again up to
 * provider.max_attempts, with the executor's backoff; 32775 (invalid state)
 * and 32771 (status unknown) read the state again; anything else fails. A
 * call without an answer (SG_EIO, SG_ETIMEOUT) may have been made: 32775
 * after it is taken as its unseen job running, and the state is read
 * again at poll_max, for up to provider.job_timeout, without counting an
 * attempt, until it shows the step done.
 *
 * Outcomes: SG_OUTCOME_LIFECYCLE for the start (with the job) and the end of
 * each step, for the journal's outcome log and the sinks.
 *
 * Threads: each step runs on a thread of its own (at most
 * provider.workers at once; others wait in order) and reports over a ZeroMQ
 * inproc socket (sg_lifecycle_socket, sg_lifecycle_recv). Every function
 * here is called on the loop thread. */
#ifndef SG_LIFECYCLE_H
#define SG_LIFECYCLE_H

#include "base/clock.h"
#include "config/config.h"
#include "journal/journal.h"
#include "policy/engine.h"
#include "provider/provider.h"
#include "siteguard/plugin.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SG_STEP_COMMIT = 0, /* CommitFailover */
    SG_STEP_REVERT,     /* RevertFailover */
    SG_STEP_REVERSE,    /* ReverseReplicationRelationship */
    SG_STEP_KIND_COUNT
} sg_step_kind_t;

typedef struct sg_lifecycle sg_lifecycle_t;

/* What a step's end means for the rest of the service, handed back by
 * sg_lifecycle_recv. */
typedef struct {
    sg_outcome_t *outcome; /* owned by the receiver (sg_outcome_free); NULL: none */
    uint64_t step_id;      /* 0 for a points listing */
    int collection;
    sg_step_kind_t kind;
    bool ended; /* the step is over (its end journaled) */
    bool ok;    /* with ended: it did what it was asked (or found it done) */
    /* A points listing (step_id 0): the request's token, the provider's
     * answer, and the points (owned by the receiver: sg_recovery_points_free). */
    uint64_t token;
    int points_rc;
    sg_recovery_point_t *points;
    size_t n_points;
} sg_step_result_t;

/* Borrows every argument (all outlive it); `provider` must be thread safe;
 * `engine` and `drill_running` (a function telling whether a drill runs,
 * with its `user`) may be NULL (no such guard). Makes the journal's steps
 * table. NULL on failure (logged). */
typedef bool (*sg_lifecycle_busy_fn)(void *user);
sg_lifecycle_t *sg_lifecycle_new(void *zctx, const sg_config_t *cfg, sg_provider_t *provider,
                                 const sg_clock_t *clock, sg_journal_t *journal,
                                 const sg_engine_t *engine);
/* A drill runs (refuses reverse). NULL: never. */
void sg_lifecycle_set_drill_check(sg_lifecycle_t *lc, sg_lifecycle_busy_fn fn, void *user);
/* After a reload: the config in force (borrowed). */
void sg_lifecycle_set_config(sg_lifecycle_t *lc, const sg_config_t *cfg);

/* Fencing (leader.h), as the executor's: `fn` is called on the step's thread
 * with the step's epoch before each call; non-zero means no call (the step
 * fails, and stays open in the journal for the leader to resume). */
typedef int (*sg_lifecycle_fence_fn)(void *user, uint64_t epoch);
void sg_lifecycle_set_fence(sg_lifecycle_t *lc, sg_lifecycle_fence_fn fn, void *user);
void sg_lifecycle_set_epoch(sg_lifecycle_t *lc, uint64_t epoch);

/* Asks for a step of `collection` by `who` (copied, for the journal and the
 * outcomes). Checks the guards above, journals the intent (committed) and
 * starts it. Returns 0 with *step_id, SG_ESTATE with *why (caller frees;
 * `why` may be NULL) when a guard refuses, SG_EINVAL, SG_ENOMEM or SG_EIO. */
int sg_lifecycle_request(sg_lifecycle_t *lc, int collection, sg_step_kind_t kind,
                         const char *who, uint64_t *step_id, char **why);

/* Lists the collection's recovery points on its replica side, on a thread:
 * the answer comes from sg_lifecycle_recv with `token`. 0, SG_EINVAL or
 * SG_ENOMEM. */
int sg_lifecycle_list_points(sg_lifecycle_t *lc, int collection, uint64_t token);

/* Resumes the steps the journal has open. 0 or an error (logged). */
int sg_lifecycle_resume(sg_lifecycle_t *lc);

/* A step of `collection` is queued or running. */
bool sg_lifecycle_busy(const sg_lifecycle_t *lc, int collection);
/* Steps queued or running. */
size_t sg_lifecycle_active(const sg_lifecycle_t *lc);

/* The socket that becomes readable when results wait (for zmq_poll). */
void *sg_lifecycle_socket(sg_lifecycle_t *lc);
/* Takes one result, waiting up to `timeout_ms` (0: not at all, -1:
 * forever): the journal has it already (a job path, or the end with its
 * outcome). Returns 1 with *out, 0 when none came, or an error. The caller
 * posts out->outcome to the sinks and applies an end: a revert ended well
 * -> sg_engine_reverted; a reverse ended well -> sg_config_reverse and
 * sg_engine_redirect (the service's job: it owns the config). */
int sg_lifecycle_recv(sg_lifecycle_t *lc, sg_step_result_t *out, int timeout_ms);
void sg_step_result_fini(sg_step_result_t *r);

/* "commit", "revert", "reverse"; and the method's name. */
const char *sg_step_kind_name(sg_step_kind_t k);
int sg_step_kind_parse(const char *name, sg_step_kind_t *out);
sg_method_t sg_step_method(sg_step_kind_t k);

/* Stops: waits for the steps' threads (a call in progress ends first; a job
 * is not followed further: the next start resumes the step). Frees and sets
 * *lc to NULL. */
void sg_lifecycle_destroy(sg_lifecycle_t **lc);

#endif
