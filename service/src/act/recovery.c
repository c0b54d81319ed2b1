/* recovery: the journal back into the engine and the executor; see recovery.h. */
#include "act/recovery.h"
#include "journal/steps.h"
#include "base/err.h"
#include "base/log.h"
#include "journal/opstate.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_MOD "recovery"

/* The passes of a restart, in order; leading again runs S_PASS_STARTED only. */
enum { S_PASS_ENDED, S_PASS_STARTED, S_PASS_FRESH };

static sg_now_t s_now(const sg_clock_t *clock)
{
    return (sg_now_t){sg_clock_mono(clock), sg_clock_wall(clock)};
}

/* The step of run r (collection c, -1: not configured) in `pass`; false:
 * none in this pass. */
static bool s_step_of(const sg_journal_run_t *r, int c, int pass, sg_recovery_mode_t mode,
                      sg_recovery_action_t *out)
{
    bool fresh = !r->job_path && !r->intent_ms;
    if (c < 0) {
        *out = SG_RECOVERY_UNCONFIGURED;
        return pass == S_PASS_ENDED && mode == SG_RECOVERY_RESTART;
    }
    if (r->ended_ms) {
        *out = SG_RECOVERY_RESTORE;
        return pass == S_PASS_ENDED && !r->abandoned;
    }
    if (pass == S_PASS_STARTED && !fresh) {
        *out = r->job_path ? SG_RECOVERY_FOLLOW : SG_RECOVERY_RESOLVE;
        return true;
    }
    *out = SG_RECOVERY_ABANDON;
    return pass == S_PASS_FRESH && fresh;
}

int sg_recovery_plan_runs(sg_recovery_plan_t *p, const sg_config_t *cfg,
                          const sg_journal_run_t *runs, size_t n, sg_recovery_mode_t mode)
{
    memset(p, 0, sizeof *p);
    p->mode = mode;
    p->steps = calloc(n ? n : 1, sizeof *p->steps); /* at most one step per run */
    if (!p->steps)
        return SG_ENOMEM;
    int first = mode == SG_RECOVERY_RESTART ? S_PASS_ENDED : S_PASS_STARTED;
    int last = mode == SG_RECOVERY_RESTART ? S_PASS_FRESH : S_PASS_STARTED;
    for (int pass = first; pass <= last; pass++) {
        for (size_t i = 0; i < n; i++) {
            int c = sg_config_find_collection(cfg, runs[i].collection);
            sg_recovery_action_t a;
            if (s_step_of(&runs[i], c, pass, mode, &a))
                p->steps[p->n_steps++] = (sg_recovery_step_t){a, c, &runs[i]};
        }
    }
    return SG_OK;
}

int sg_recovery_plan_journal(sg_recovery_plan_t *p, const sg_config_t *cfg, sg_journal_t *j,
                             sg_recovery_mode_t mode)
{
    sg_journal_run_t *runs = NULL;
    size_t n = 0;
    memset(p, 0, sizeof *p);
    int rc = sg_journal_runs(j, &runs, &n);
    if (rc != SG_OK)
        return rc;
    rc = sg_recovery_plan_runs(p, cfg, runs, n, mode);
    p->runs = runs;
    p->n_runs = n;
    return rc;
}

void sg_recovery_plan_fini(sg_recovery_plan_t *p)
{
    free(p->steps);
    sg_journal_runs_free(p->runs, p->n_runs);
    memset(p, 0, sizeof *p);
}

static sg_run_origin_t s_origin(const sg_journal_run_t *r)
{
    if (!r->origin)
        return SG_ORIGIN_ENGINE;
    return strcmp(r->origin, "forced") == 0 ? SG_ORIGIN_FORCED : SG_ORIGIN_MANUAL;
}

/* A run decided but never started: abandoned, so that the engine decides
 * again if its site is still lost, rather than acting on a decision taken
 * before the restart. */
static void s_abandon(const sg_recovery_env_t *env, const sg_recovery_step_t *st)
{
    const sg_journal_run_t *r = st->run;
    int rc = sg_journal_abandon(env->journal, r->run_id, sg_clock_wall(env->clock));
    if (rc == SG_OK)
        sg_info(S_MOD, "run %llu of %s was decided but never started before the restart: "
                       "abandoned; decided again once site %s is proven lost again",
                (unsigned long long)r->run_id, r->collection,
                env->cfg->sites[env->cfg->collections[st->collection].site].name);
    else
        sg_error(S_MOD, "cannot abandon run %llu of %s: %s", (unsigned long long)r->run_id,
                 r->collection, sg_err_str(rc));
}

/* A run past its intent goes back to the executor (its job followed, or the
 * provider asked before any new call); after a restart the engine first
 * learns that the collection is decided, and by whom. */
static void s_resume(const sg_recovery_env_t *env, sg_recovery_mode_t mode,
                     const sg_recovery_step_t *st)
{
    const sg_journal_run_t *r = st->run;
    bool follow = st->action == SG_RECOVERY_FOLLOW;
    sg_run_spec_t spec = {.run_id = r->run_id,
                          .collection = st->collection,
                          .mode = follow ? SG_RUN_FOLLOW : SG_RUN_RESOLVE,
                          .job_path = r->job_path,
                          .intent_ms = r->intent_ms,
                          .point = r->point,
                          .forced = s_origin(r) == SG_ORIGIN_FORCED,
                          .heard_ms = r->decided_ms};
    if (mode == SG_RECOVERY_LEADING_AGAIN) {
        if (sg_executor_submit_run(env->executor, &spec) == SG_OK)
            sg_info(S_MOD, "resuming run %llu of %s as the leader", (unsigned long long)r->run_id,
                    r->collection);
        return;
    }
    sg_engine_restore(env->engine, st->collection, SG_COLL_DECIDED, r->run_id, s_origin(r));
    int rc = sg_executor_submit_run(env->executor, &spec);
    if (rc != SG_OK)
        sg_error(S_MOD, "cannot resume run %llu of %s: %s", (unsigned long long)r->run_id,
                 r->collection, sg_err_str(rc));
    else
        sg_info(S_MOD, "resuming run %llu of %s (%s)", (unsigned long long)r->run_id, r->collection,
                follow ? "following its job" : "intent without a job: asking the provider");
}

/* A failover the journal has as done, undone since by an operator's revert
 * or reverse (steps.h): its collection is protected again. */
static bool s_undone(const sg_recovery_env_t *env, const sg_journal_run_t *r)
{
    sg_step_rec_t last;
    if (!r->failed_over || sg_steps_last_ok(env->journal, r->collection, &last) != SG_OK)
        return false;
    bool undone = last.intent_ms >= r->ended_ms &&
                  (strcmp(last.action, "revert") == 0 || strcmp(last.action, "reverse") == 0);
    if (undone)
        sg_info(S_MOD, "journal: the failover of %s was undone since (%s, step %llu)",
                r->collection, last.action, (unsigned long long)last.id);
    sg_step_rec_fini(&last);
    return undone;
}

void sg_recovery_apply(const sg_recovery_env_t *env, const sg_recovery_plan_t *p)
{
    if (p->n_steps && sg_steps_init(env->journal) != SG_OK)
        sg_error(S_MOD, "journal: cannot read the life-cycle steps");
    for (size_t i = 0; i < p->n_steps; i++) {
        const sg_recovery_step_t *st = &p->steps[i];
        const sg_journal_run_t *r = st->run;
        switch (st->action) {
        case SG_RECOVERY_UNCONFIGURED:
            sg_warn(S_MOD, "journal: collection %s is no longer configured", r->collection);
            break;
        case SG_RECOVERY_RESTORE:
            if (s_undone(env, r))
                break;
            sg_engine_restore(env->engine, st->collection,
                              r->failed_over ? SG_COLL_DONE : SG_COLL_FAILED, r->run_id,
                              SG_ORIGIN_ENGINE);
            sg_executor_restore(env->executor, st->collection, r->failed_over);
            break;
        case SG_RECOVERY_FOLLOW:
        case SG_RECOVERY_RESOLVE:
            s_resume(env, p->mode, st);
            break;
        case SG_RECOVERY_ABANDON:
            s_abandon(env, st);
            break;
        }
    }
}

int sg_recovery_replay(const sg_recovery_env_t *env, sg_recovery_mode_t mode)
{
    sg_recovery_plan_t plan;
    int rc = sg_recovery_plan_journal(&plan, env->cfg, env->journal, mode);
    if (rc == SG_OK)
        sg_recovery_apply(env, &plan);
    sg_recovery_plan_fini(&plan);
    return rc;
}

int sg_recovery_restore_opstate(const sg_recovery_env_t *env, const char *text,
                                const char *from)
{
    sg_opstate_t st;
    size_t skipped = 0;
    int rc = sg_opstate_from_json(text, env->cfg, &st, &skipped);
    if (rc == SG_OK) {
        rc = sg_engine_opstate_import(env->engine, &st, s_now(env->clock));
        sg_opstate_fini(&st);
    }
    if (rc != SG_OK)
        sg_error(S_MOD, "cannot restore the operator state from %s: %s", from, sg_err_str(rc));
    else
        sg_info(S_MOD, "operator state restored from %s%s", from,
                skipped ? " (entries naming what the config no longer has skipped)" : "");
    return rc;
}

int sg_recovery_load_opstate(const sg_recovery_env_t *env)
{
    char *text = NULL;
    int rc = sg_journal_opstate_get(env->journal, &text);
    if (rc == SG_OK)
        rc = sg_recovery_restore_opstate(env, text, "the journal");
    else if (rc == SG_ENOTFOUND)
        rc = SG_OK;
    else
        sg_error(S_MOD, "cannot read the operator state from the journal: %s", sg_err_str(rc));
    free(text);
    return rc;
}
