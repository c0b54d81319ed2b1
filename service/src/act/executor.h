/* executor: runs failovers on worker threads and reports every step.
 *
 * The loop thread submits a run (run id + collection, and optionally a
 * recovery point for this run only); an idle worker resolves the recovery
 * point and calls InitiateFailover through the provider. The point is the
 * run's own when it has one (sg_run_spec_t.point: SG_POINT_LATEST passes
 * NULL; SG_POINT_APP the newest application-consistent point the provider
 * lists at call time; anything else names one of the collection's points by
 * its object path, with or without the namespace, or by its InstanceID, and
 * is looked up among the points the provider lists: a point not found ends
 * the run as failed, "recovery point X not found", listing the collection's
 * points, without a call), else the collection's configured one (latest:
 * NULL; latest app consistent as above; named: the configured path). Every
 * outcome of the run carries the point (sg_outcome_point): the one passed
 * ("latest" for NULL) once chosen, before that the one asked for. The
 * return value of InitiateFailover is mapped:
 *   0                      done (failed over synchronously)
 *   4096                   follow the job
 *   32772, 32774, 32777, 32778 (timeout, in use, not available, out of
 *                          memory)  retry with backoff, up to max_attempts
 *   32771 (status unknown), or a call that could not be made
 *                          ask the provider first: failed over -> done; a
 *                          failover job found -> follow it; otherwise retry
 *   32775 (invalid state)  failed over -> done; a failover job found ->
 *                          follow it; a failover running ("failover
 *                          initiated") with no job found -> follow the
 *                          collection's state (below); otherwise failed
 *   anything else          failed, with the code and its meaning
 * A job is followed until it ends. Completed (7) and Completed with warnings
 * (32768, its ErrorDescription in the message) are successes
 * (sg_job_state_succeeded); Terminated, Killed and Exception failures. A job
 * that is gone (jobfollow.h: not found on SG_JOBFOLLOW_GONE_READS reads in a
 * row, as Hyper-V removes an ended job TimeBeforeRemoval after its end) is
 * judged by the collection's state, as is a failover running without a job
 * to follow: failed over or committed -> succeeded; failover running ->
 * the state is followed at poll_max (a stop ends it, job_timeout's rule
 * applies) until it shows another; anything else -> failed, saying so and
 * naming the state. No call is made meanwhile. Polling starts at poll_initial and
 * adapts: once the job reports progress, the next poll is aimed at its
 * estimated end, clamped to [poll_initial, poll_max]; without progress the
 * interval doubles up to poll_max. A job still running after job_timeout is
 * reported (TIMED_OUT, the run not ended; for the plan it counts as failed)
 * and then followed on at poll_max until it ends (reported once per run,
 * whether a job or a state was followed).
 *
 * Routing and pre-check: a run's calls and reads go to the provider of its
 * replica site (sg_provider_at). Before the first call, the worker reads the
 * collection's replication there (sg_provider_get_replication): when that
 * side says it is not the replica (ReplicationMode primary or test replica)
 * the run fails without a call; unless the run is forced, it also fails
 * without a call when the replica reports critical replication health, or,
 * with an RPO limit, last replicated longer before its site was last heard
 * (sg_run_spec_t.heard_ms) than the limit: evidence from Hyper-V itself that
 * agrees with the observers' or overrules them towards not acting. What
 * cannot be read decides nothing (the engine's guards judged the observers'
 * evidence).
 *
 * Plan: runs are submitted in plan order (the engine decides in that
 * order); where each collection stands is kept by act/plan, whose counts
 * per site and group make each check independent of the number of
 * collections, and the queue is passed over once per dispatch. A run
 * starts when
 *   - no run of an earlier plan group of the same site is queued or running
 *     (a timed-out run counts as finished and failed);
 *   - no run of one of its dependencies is queued or running;
 *   - fewer than the concurrency cap (min(provider.workers,
 *     plan.max_concurrency)) runs are in flight, and, with
 *     plan.per_host_concurrency, fewer than that many of the same
 *     replica_host.
 * A run whose dependency's run failed ends as failed without a call. When a
 * run of an earlier group of the site failed, plan.on_error decides: stop
 * (the run ends as failed without a call), continue (it starts), wait (it
 * is held until sg_executor_release_plan for its site).
 *
 * Proof before act, and crash safety: immediately before each call of
 * InitiateFailover (every attempt, after the fence), the worker asks the
 * loop thread for the proof hook's answer (sg_executor_set_proof_hook): the
 * hook re-confirms the decision (sg_engine_confirm) and makes the intent
 * durable. 0 means call now; SG_ESTATE ends the run CANCELLED, without a
 * call, with the hook's reason; any other error ends it as failed without a
 * call. The worker waits for the answer; the loop gives it while it reads
 * results (sg_executor_recv), so a proof never waits on the worker side of
 * the loop. Group commit: the hook may write the intent into the loop's
 * open journal batch and defer the answer; the loop commits the batch (one
 * synchronous commit for a burst of intents and results) and then releases
 * the answers (sg_executor_release_proofs), proving each again first. The JOB_STARTED outcome carries the job path as soon as the
 * call returned 4096. After a restart, the service resubmits open runs with
 * sg_executor_submit_run: FOLLOW follows a journaled job; RESOLVE (an
 * intent without a job) first asks the provider whether the collection is
 * already failed over (done), has a failover job started since the
 * intent (follow it) or a failover running with no job to find (follow its
 * state, as above), and calls InitiateFailover, after its proof, only
 * when the collection is replicating with no such job. A FOLLOW run whose
 * job is gone ends by the state too. Replayed runs skip
 * plan gating: they were past it. sg_executor_cancel_queued takes back a
 * fresh run not yet handed to a worker (its site came back).
 *
 * Threads talk only through ZeroMQ inproc sockets: each worker has its own
 * job socket, and all send results to one PULL socket that the loop thread
 * polls (sg_executor_socket) and reads (sg_executor_recv). Runs wait in a
 * FIFO until they are ready and a worker is idle.
 *
 * Thread rules: every function is called from the loop thread only. */
#ifndef SG_EXECUTOR_H
#define SG_EXECUTOR_H

#include "base/clock.h"
#include "config/config.h"
#include "provider/provider.h"
#include "siteguard/plugin.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sg_executor sg_executor_t;

/* One result from a worker. */
typedef struct {
    sg_outcome_t *outcome; /* owned by the receiver: sg_outcome_free */
    int collection;
    uint64_t run_id;
    bool ended;       /* the run is over (outcome is its last) */
    bool failed_over; /* with ended: the collection is failed over */
    bool timed_out;   /* the job passed job_timeout; it is still followed */
    bool fenced;      /* with ended: no call was made because the fence failed (this
                         instance no longer leads under the run's epoch); the run is
                         not over for the journal: the leader resumes it */
    bool cancelled;   /* with ended: no call was made because the proof failed (the
                         outcome, SG_OUTCOME_CANCELLED, says why) */
} sg_exec_result_t;

typedef enum {
    SG_RUN_FRESH = 0, /* decided: commit the intent, then call */
    SG_RUN_RESOLVE,   /* intent committed, no job known: ask the provider first */
    SG_RUN_FOLLOW     /* a job is known: follow it */
} sg_run_mode_t;

/* A run's own recovery point (sg_run_spec_t.point): these two words, or a
 * point's object path or InstanceID. */
#define SG_POINT_LATEST "latest" /* the latest point in time (NULL to Hyper-V) */
#define SG_POINT_APP "app"       /* the newest application-consistent point at call time */

typedef struct {
    uint64_t run_id;
    int collection;
    sg_run_mode_t mode;
    const char *job_path; /* FOLLOW: the job (copied) */
    int64_t intent_ms;    /* RESOLVE: Unix ms of the intent */
    const char *point;    /* this run's recovery point (copied); NULL: the collection's */
    bool forced;          /* an operator forced it past the guards: the pre-check's
                             health and RPO findings do not stop it */
    int64_t heard_ms;     /* Unix ms its site was last heard (about when it was lost): the
                             pre-check measures the replica's lag to it; 0: the call's time */
} sg_run_spec_t;

/* The proof before a call of run `run_id` of `collection` (see above).
 * Called on the loop thread. Returns 0 (call now: the intent is durable),
 * SG_EXEC_DEFERRED (proven, and the intent written into the caller's open
 * journal batch: durable once it commits; the answer waits for
 * sg_executor_release_proofs), SG_ESTATE to cancel the run (*why, owned by
 * the executor once set, says why; may stay NULL), or another error to end
 * it failed without a call. */
#define SG_EXEC_DEFERRED 1
typedef int (*sg_exec_proof_fn)(void *user, uint64_t run_id, int collection, char **why);

/* Starts cfg->provider.workers workers. Borrows every argument; `zctx` is a
 * ZeroMQ context, `provider` must be thread safe. NULL on failure. */
sg_executor_t *sg_executor_new(void *zctx, const sg_config_t *cfg, sg_provider_t *provider,
                               const sg_clock_t *clock);

/* Sets the proof hook (NULL: none; every call goes ahead unjournaled). */
void sg_executor_set_proof_hook(sg_executor_t *x, sg_exec_proof_fn fn, void *user);

/* Fencing (leader.h): a run handed out carries the epoch set last with
 * sg_executor_set_epoch; before each InitiateFailover a worker calls the
 * fence hook with it, on the worker thread (it may block). A non-zero answer
 * means no call: the run ends with `fenced` set. NULL hook: no fencing. */
typedef int (*sg_exec_fence_fn)(void *user, uint64_t epoch);
void sg_executor_set_fence_hook(sg_executor_t *x, sg_exec_fence_fn fn, void *user);
void sg_executor_set_epoch(sg_executor_t *x, uint64_t epoch);

/* Sends the answers the proof hook deferred since the last release: `rc`
 * 0 when the batch holding their intents committed, an error when it did
 * not (each run ends failed without a call). With rc 0 each answer is
 * `recheck`'s (NULL: 0, call now), asked on this thread just before it is
 * sent: the proof is made again after the commit, so the evidence a call
 * rests on is as fresh as the answer (a refusal cancels the run; its intent
 * is durable but no call follows, and the run's end is journaled as for
 * any cancel). One commit thus makes a burst of intents durable, and no
 * call is made before its intent is. Returns how many answers were sent. */
int sg_executor_release_proofs(sg_executor_t *x, int rc, sg_exec_proof_fn recheck, void *user);

/* Queues a fresh failover run of `collection`. Returns 0, SG_EINVAL,
 * SG_ESTATE (a run of that collection is queued or running) or SG_ENOMEM. */
int sg_executor_submit(sg_executor_t *x, uint64_t run_id, int collection);
/* Queues a run of any mode (replay, or a fresh run with its own recovery
 * point). Same returns. */
int sg_executor_submit_run(sg_executor_t *x, const sg_run_spec_t *spec);

/* Tells the plan how the last run of `collection` ended before a restart,
 * for dependencies and on_error. Call before submitting. */
void sg_executor_restore(sg_executor_t *x, int collection, bool failed_over);

/* Takes back the run of `collection` when it is a fresh run still queued
 * (not handed to a worker): *out is its CANCELLED result, with `why` in its
 * message, to be handled as one from sg_executor_recv. Returns 1 when it
 * was cancelled, 0 when there was no such run, or SG_ENOMEM. */
int sg_executor_cancel_queued(sg_executor_t *x, int collection, const char *why,
                              sg_exec_result_t *out);

/* The collection's failover was undone (RevertFailover), or its direction
 * is about to change (a reverse, before sg_config_reverse): its plan entry
 * is emptied, as if it had never run. SG_ESTATE (nothing changed) while a
 * run of it is queued or running; 0 or SG_EINVAL. */
int sg_executor_forget(sg_executor_t *x, int collection);

/* on_error wait: lets held runs of `site` go on despite failures in earlier
 * groups. Returns 0 or an error from handing runs out. */
int sg_executor_release_plan(sg_executor_t *x, int site);

/* The socket that becomes readable when results wait (for zmq_poll). */
void *sg_executor_socket(sg_executor_t *x);

/* Takes one result, waiting up to `timeout_ms` (0: do not wait, -1: wait
 * forever). Returns 1 with *out filled, 0 when none came, or an error. */
int sg_executor_recv(sg_executor_t *x, sg_exec_result_t *out, int timeout_ms);

/* Runs queued or in progress. */
int sg_executor_active(const sg_executor_t *x);

/* Stops the workers (a run in progress is abandoned where it stands: its job
 * goes on in Hyper-V), joins them and frees. Sets *x to NULL. */
void sg_executor_destroy(sg_executor_t **x);

#endif
