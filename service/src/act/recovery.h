/* recovery: the journal's runs and operator state back into the engine and
 * the executor, after a restart and on leading again.
 *
 * Two steps. Planning (sg_recovery_plan_runs) is pure: from the journal's
 * runs (sg_journal_runs: the latest run of each collection, oldest first)
 * and the config it lists what to do, one step per run at most, in the
 * order the steps are applied. Applying (sg_recovery_apply) carries the
 * steps out and logs each one.
 *
 * A restart (SG_RECOVERY_RESTART) plans three passes over the runs, each
 * in journal order:
 *   1. ended runs: RESTORE (carried out, or failed; a run abandoned or
 *      cancelled gets no step: its collection may be decided again), and
 *      UNCONFIGURED for a run whose collection the config no longer has;
 *   2. open runs past their intent: FOLLOW (a job is journaled) or RESOLVE
 *      (an intent without a job);
 *   3. open runs decided but never started (no intent, no job): ABANDON.
 * Leading again after a step-down (SG_RECOVERY_LEADING_AGAIN) plans pass 2
 * only, without UNCONFIGURED: the runs left open (fenced, or cut off) go
 * back to the executor; the engine, which kept running, is not touched.
 * The journal keeps the epoch a run's intent was made under, but not in
 * sg_journal_run_t: a fenced run is resumed under the executor's epoch of
 * now (sg_executor_set_epoch), like any run past its intent.
 *
 * Thread rules: the loop thread, the one that owns the engine, the
 * executor and the journal. */
#ifndef SG_RECOVERY_H
#define SG_RECOVERY_H

#include "act/executor.h"
#include "base/clock.h"
#include "config/config.h"
#include "journal/journal.h"
#include "policy/engine.h"

#include <stddef.h>

typedef enum {
    SG_RECOVERY_RESTART = 0,  /* the service starts (or leads for the first time) */
    SG_RECOVERY_LEADING_AGAIN /* leading again after a step-down in this process */
} sg_recovery_mode_t;

typedef enum {
    /* The collection is no longer configured: a warning, nothing else. */
    SG_RECOVERY_UNCONFIGURED = 0,
    /* An ended run: the engine shows the collection DONE (failed over) or
     * FAILED, and the executor's plan knows how it ended (dependencies,
     * on_error). */
    SG_RECOVERY_RESTORE,
    /* Open with a job: the engine shows the collection DECIDED with this
     * run (restart only), and the executor follows the journaled job; a job
     * Hyper-V has removed since (TimeBeforeRemoval after its end) is gone,
     * and the collection's state ends the run (executor.h). */
    SG_RECOVERY_FOLLOW,
    /* Open with an intent and no job: as FOLLOW, but the executor asks the
     * provider first (already failed over, a job started since the intent,
     * or a failover running without a job it can find: its state followed)
     * and calls, after its proof, only when nothing started. */
    SG_RECOVERY_RESOLVE,
    /* Decided and never started: ended as abandoned in the journal and not
     * restored; the engine decides again if the site is still lost. */
    SG_RECOVERY_ABANDON
} sg_recovery_action_t;

typedef struct {
    sg_recovery_action_t action;
    int collection;              /* index in the config; -1 for UNCONFIGURED */
    const sg_journal_run_t *run; /* the run it is about, borrowed (see the plan) */
} sg_recovery_step_t;

/* A plan; caller-owned, filled by sg_recovery_plan_runs or _journal, freed
 * with sg_recovery_plan_fini. */
typedef struct {
    sg_recovery_mode_t mode;
    sg_recovery_step_t *steps; /* owned, in the order they are applied */
    size_t n_steps;
    sg_journal_run_t *runs; /* owned when read by sg_recovery_plan_journal, else NULL */
    size_t n_runs;
} sg_recovery_plan_t;

/* What applying works on, all borrowed. The operator-state functions need
 * only cfg, clock, engine and journal. */
typedef struct {
    const sg_config_t *cfg;
    const sg_clock_t *clock; /* `now` of the engine's restores, the time of an abandon */
    sg_engine_t *engine;
    sg_executor_t *executor;
    sg_journal_t *journal;
} sg_recovery_env_t;

/* Plans `mode` for `runs` (pure). The steps point into `runs`, which must
 * outlive the plan. Returns 0 or SG_ENOMEM (*p then holds no steps). */
int sg_recovery_plan_runs(sg_recovery_plan_t *p, const sg_config_t *cfg,
                          const sg_journal_run_t *runs, size_t n, sg_recovery_mode_t mode);
/* The same for the journal's runs, which the plan then owns. 0, SG_ENOMEM
 * or SG_EIO. */
int sg_recovery_plan_journal(sg_recovery_plan_t *p, const sg_config_t *cfg, sg_journal_t *j,
                             sg_recovery_mode_t mode);
void sg_recovery_plan_fini(sg_recovery_plan_t *p);

/* Carries out the steps in order (what each means: above). Each one that
 * cannot be carried out is logged and the others go on; except, leading
 * again, a run the executor does not take (it still holds it: SG_ESTATE),
 * which is passed over without a line. */
void sg_recovery_apply(const sg_recovery_env_t *env, const sg_recovery_plan_t *p);

/* Plans from the journal and applies: the service's replay. 0, or the
 * error reading the journal (nothing applied). */
int sg_recovery_replay(const sg_recovery_env_t *env, sg_recovery_mode_t mode);

/* Restores operator state saved as text (opstate.h) into the engine;
 * `from` names where it was kept ("the journal", "etcd") in the log.
 * Returns 0 or the error (logged). */
int sg_recovery_restore_opstate(const sg_recovery_env_t *env, const char *text,
                                const char *from);
/* Restores the operator state this instance's journal kept, as above.
 * Returns 0 (also when none was saved) or the error (logged). */
int sg_recovery_load_opstate(const sg_recovery_env_t *env);

#endif
