/* drill: policy-driven DR drills.
 *
 * A drill (config `drills:`) tests its collections the way a failover would
 * bring them up, without touching production: on each collection, in plan
 * order (group, then dependencies, then config order), it picks the
 * recovery point (the drill's policy, else the collection's own), calls
 * TestReplicaCollection with it and follows the job; then, always, it
 * cleans up: RevertTestReplicaCollection on every collection left TESTING
 * (after waiting for a test job still in flight), and verifies that each is
 * back to REPLICATING. A job that completes with warnings (JobState 32768)
 * is a success, its text in the step's detail; a job that is gone before
 * its end was seen (jobfollow.h) is judged by the collection's state (the
 * test: TESTING means the copy is up; the revert: REPLICATING means it is
 * removed), never assumed done. It measures per collection the achieved RTO (drill
 * start to test copy ready) and RPO (TestReplicaCollection call to the
 * recovery point's creation time) against the objectives, and produces a
 * report (JSON, below) that is journaled (journal.h, drills table) and
 * returned as an SG_OUTCOME_DRILL_REPORT outcome for the sinks.
 *
 * Starting: sg_drill_tick starts drills whose schedule (schedule.h) is due,
 * and those with run_at_start as soon as they may after the start;
 * sg_drill_start starts one by name (the control endpoint). A drill does not
 * start while another runs, while a site is lost or contested, while a
 * site of one of its collections (primary or replica) is not known healthy
 * (not yet heard, suspect, recovering), while a failover run is in flight (a
 * collection decided and not ended: real failover comes first), while one
 * of its blackout
 * windows is open (a window naming sites applies when one of the drill's
 * collections has its primary or replica there), or when it has nothing to
 * test; collections the engine has decided for failover (or failed over)
 * are skipped and listed. A scheduled drill that cannot start is logged and
 * waits for its next time.
 *
 * Every call and read of a collection goes to its replica side's provider
 * (sg_provider_at: where Hyper-V makes and removes the test copy), in the
 * direction the collection has now (a reversed one is tested at its old
 * primary).
 *
 * Proof before act: immediately before each TestReplicaCollection, the
 * drill's thread asks the loop, which answers in sg_drill_recv: the drill is
 * not pre-empted and the engine confirms the test (sg_engine_confirm_drill:
 * no site lost or contested, the collection's sites healthy, the collection
 * idle). A refused test is not called (step "skipped", the item pre-empted);
 * cleanup (RevertTestReplicaCollection) needs no proof: it only removes a
 * test copy.
 *
 * Pre-emption: sg_drill_preempt (a real site loss) stops the test phase at
 * once (no new TestReplicaCollection; a test job being followed is no
 * longer waited for as a test) and goes straight to cleanup. The service
 * holds failover runs back until the drill has ended, so a collection is
 * reverted before it is failed over. Drills never touch the engine: they do
 * not count against the failover budget.
 *
 * After a stop or crash in the middle of a drill, sg_drill_new finds the
 * drill run still open in the journal and the first tick runs a cleanup
 * (reverts every configured collection found TESTING), reported like a
 * drill with trigger "recovery".
 *
 * Threads: a drill run works on a thread of its own (provider calls and job
 * following, jobfollow.h) and hands its report to the loop thread over a
 * ZeroMQ inproc socket (sg_drill_socket, sg_drill_recv). Every function
 * here is called from the loop thread only.
 *
 * The report: {"id", "drill", "trigger" (schedule|start|at_start|recovery),
 * "started_by" (who started it through the control endpoint, as its audit
 * trail names them; null for the other triggers), "config" (the config
 * file's path) and "config_digest" ("sha256:" and the hex SHA-256 of its
 * text, config.h; null when it could not be computed): the config the
 * runner was made with, which drills use until the service restarts (a
 * reload does not change them), "started", "started_ms", "ended_ms", "duration_ms", "result" (passed |
 * objectives_missed | failed | preempted), "preempted_by" (when so),
 * "objectives": {"rto_ms", "rpo_ms"} (null: none), "objectives_met",
 * "cleanup_verified", "collections": [{"collection", "site",
 * "replica_site", "result" (passed | objectives_missed | failed |
 * preempted), "recovery_point", "recovery_point_ms", "rto_ms", "rpo_ms",
 * "rto_met", "rpo_met", "cleanup" (verified | failed), "steps": [{"step"
 * (recovery_point | TestReplicaCollection | RevertTestReplicaCollection |
 * verify), "started_ms", "ended_ms", "result" (ok | failed | skipped),
 * "detail", "job_path", "return_value"}]}], "skipped": [{"collection",
 * "reason"}]}. Times are Unix ms; a missing measure is null. */
#ifndef SG_DRILL_H
#define SG_DRILL_H

#include "base/clock.h"
#include "config/config.h"
#include "journal/journal.h"
#include "policy/engine.h"
#include "provider/provider.h"
#include "siteguard/plugin.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sg_drill sg_drill_t;

/* Borrows every argument (all must outlive the runner); `provider` must be
 * thread safe; `engine` may be NULL (no site or verdict checks). Reads the
 * journal for drill runs left open. NULL on failure (logged). */
sg_drill_t *sg_drill_new(void *zctx, const sg_config_t *cfg, sg_provider_t *provider,
                         const sg_clock_t *clock, sg_journal_t *journal,
                         const sg_engine_t *engine);

/* Starts what is due at `now`: a pending recovery cleanup, run_at_start
 * drills on the first tick, scheduled drills whose time came. Returns 0. */
int sg_drill_tick(sg_drill_t *d, sg_now_t now);

/* Starts the drill named `name` now, on behalf of `who` (copied into the
 * report's "started_by"; NULL: nobody named). Returns 0, SG_ENOTFOUND (no
 * such drill), SG_ESTATE (refused: a drill runs, a failover is in flight, a
 * blackout window is open, nothing to test), SG_ENOMEM or SG_EIO; on refusal
 * *why (caller frees; `why` may be NULL) says why, else it is NULL. */
int sg_drill_start(sg_drill_t *d, const char *name, sg_now_t now, const char *who, char **why);

/* A drill run is in progress (its report not yet received). */
bool sg_drill_running(const sg_drill_t *d);

/* Pre-empts the running drill (no effect when none): the test phase stops
 * and cleanup runs. `reason` (copied) goes into the report. */
void sg_drill_preempt(sg_drill_t *d, const char *reason);

/* Fencing (leader.h): a drill run carries the epoch set last with
 * sg_drill_set_epoch when it starts; before each TestReplicaCollection or
 * RevertTestReplicaCollection its thread calls `fn` with that epoch (it may
 * block); a non-zero answer means no call (the step fails, SG_ESTATE).
 * NULL: no fencing. Loop thread, before drills start. */
typedef int (*sg_drill_fence_fn)(void *user, uint64_t epoch);
void sg_drill_set_fence(sg_drill_t *d, sg_drill_fence_fn fn, void *user);
void sg_drill_set_epoch(sg_drill_t *d, uint64_t epoch);

/* The socket that becomes readable when a report waits (for zmq_poll). */
void *sg_drill_socket(sg_drill_t *d);

/* Takes the report of a finished drill run, waiting up to `timeout_ms` (0:
 * do not wait, -1: forever): journals it and returns 1 with *report, a
 * finished SG_OUTCOME_DRILL_REPORT outcome (caller frees with
 * sg_outcome_free) whose json carries the report under "report". 0 when
 * none came, or an error. */
int sg_drill_recv(sg_drill_t *d, sg_outcome_t **report, int timeout_ms);

/* The report JSON of drill run `id`, or of the latest one when `id` is
 * NULL, from the journal. Caller frees; NULL when there is none. */
char *sg_drill_report_json(sg_drill_t *d, const char *id);

/* The reports of the latest `limit` ended runs (of drill `name`; NULL: of
 * every drill), oldest first, as one JSON array in *out (caller frees; "[]"
 * when there is none). Returns 0, SG_ENOMEM or SG_EIO. */
int sg_drill_history_json(sg_drill_t *d, const char *name, size_t limit, char **out);

/* When the i-th configured drill runs next by its schedule (Unix ms), -1
 * when it has none or no tick happened yet. */
int64_t sg_drill_next_run(const sg_drill_t *d, size_t i);

/* The results a drill run ends with, as its report and the journal name
 * them; "interrupted" is a run a stop cut short (cleaned up at the next
 * start). */
typedef enum {
    SG_DRILL_PASSED = 0,
    SG_DRILL_OBJECTIVES_MISSED,
    SG_DRILL_FAILED,
    SG_DRILL_PREEMPTED,
    SG_DRILL_INTERRUPTED,
    SG_DRILL_RESULT_COUNT
} sg_drill_result_t;

const char *sg_drill_result_name(sg_drill_result_t r);

/* What the metrics show of a configured drill. The history is read from
 * the journal at sg_drill_new (its latest ended run, its latest passed
 * one: retention keeps at least the latest of each drill name) and kept up
 * to date as reports come. */
typedef struct {
    const char *name;    /* borrowed from the runner's config */
    int last_result;     /* sg_drill_result_t of its latest ended run; -1: none known */
    int64_t last_end_ms; /* that run's end (Unix ms); -1: none */
    int64_t last_pass_ms; /* the end of its latest passed run; -1: none known */
    int64_t due_ms; /* when it should have passed again by its schedule: the first scheduled
                       time after last_pass_ms, or, when it never passed, the first after the
                       runner's first tick; -1: no schedule, or no tick yet */
} sg_drill_status_t;

/* The number of configured drills (the runner's config, which reloads do
 * not change). */
size_t sg_drill_count(const sg_drill_t *d);
/* The status of the i-th configured drill (i < sg_drill_count). */
void sg_drill_status(const sg_drill_t *d, size_t i, sg_drill_status_t *out);

/* Stops a running drill where it stands (its test copies stay; the next
 * start cleans them up), joins its thread and frees. Sets *d to NULL. */
void sg_drill_destroy(sg_drill_t **d);

#endif
