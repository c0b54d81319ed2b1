/* Crash recovery: the journal's runs and operator state back into the
 * engine and the executor, against a real SQLite journal in a temporary
 * directory, the real engine, and the real executor on the simulator, all
 * on a fake clock (every sleep advances it: jobs of a minute take no time).
 *
 * The world: sites A and B and a witness W; four collections at A
 * replicating to B, c0 .. c3, c3 depending on c1. Runs are journaled as the
 * service journals them, and "a restart" is the journal closed and opened
 * again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "act/recovery.h"
#include "base/err.h"
#include "base/log.h"
#include "journal/opstate.h"
#include "journal/outcome.h"
#include "journal/retention.h"
#include "journal/steps.h"
#include "provider/sim.h"

#include "sg_fixture.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WALL0 1800000000000LL

static const char s_yaml[] =
    SG_FIXTURE_YAML_ABW
    "collections:\n" SG_FIXTURE_YAML_COLL_AT_A(0) SG_FIXTURE_YAML_COLL_AT_A(1)
    SG_FIXTURE_YAML_COLL_AT_A(2) SG_FIXTURE_YAML_COLL_AT_A(3) "    depends_on: [c1]\n"
    "provider:\n  kind: sim\n  workers: 2\n  poll_initial: 250ms\n  poll_max: 5s\n"
    "  sim:\n    call_latency: 20ms\n    job_duration: 60s\n"
    "    faults:\n      - collection: c2\n        method: InitiateFailover\n"
    "        return_code: 32774\n        times: 1\n";

enum { C0, C1, C2, C3 };

/* A run seen ending while the test waited for another. */
typedef struct {
    uint64_t run_id;
    sg_outcome_kind_t kind;
    bool failed_over;
} s_ended_t;

typedef struct {
    sg_fixture_dir_t tmp; /* holds the journal */
    sg_config_t *cfg;
    sg_fixture_rig_t rig; /* the executor on the simulator, on a fake clock */
    sg_engine_t *engine;
    sg_journal_t *journal;
    atomic_bool leads;          /* the fence's answer: this instance leads */
    atomic_uint_least64_t fenced_under; /* the epoch of the last fence asked */
    bool step_down_after_intent; /* the proof hook loses the lead once the intent is in */
    uint64_t intent_epoch;      /* the epoch the proof hook journals intents under */
    s_ended_t ended[8];
    size_t n_ended;
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    sg_log_set_level(SG_LOG_ERROR);
    sg_fixture_dir_new(&f->tmp, "test_recovery.");
    f->cfg = sg_fixture_config("t.yaml", s_yaml);
    sg_fixture_rig_new_with_executor(&f->rig, f->cfg, WALL0);
    f->engine = sg_engine_new(f->cfg, 0, (sg_now_t){1000, WALL0});
    assert_non_null(f->engine);
    f->journal = sg_journal_open(f->tmp.journal);
    assert_non_null(f->journal);
    atomic_init(&f->leads, true);
    atomic_init(&f->fenced_under, 0);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    sg_fixture_rig_free(&f->rig);
    sg_engine_destroy(&f->engine);
    sg_journal_close(&f->journal);
    sg_config_destroy(&f->cfg);
    sg_fixture_dir_remove(&f->tmp);
    free(f);
    return 0;
}

static sg_recovery_env_t s_env(s_fix_t *f)
{
    return (sg_recovery_env_t){.cfg = f->cfg,
                               .clock = &f->rig.clock,
                               .engine = f->engine,
                               .executor = f->rig.x,
                               .journal = f->journal};
}

/* The service stops and starts again: the journal is closed and reopened. */
static void s_restart(s_fix_t *f)
{
    sg_journal_close(&f->journal);
    f->journal = sg_journal_open(f->tmp.journal);
    assert_non_null(f->journal);
}

static const char *s_name(s_fix_t *f, int c) { return f->cfg->collections[c].name; }
static const char *s_cim(s_fix_t *f, int c) { return f->cfg->collections[c].cim_path; }
static int64_t s_wall(s_fix_t *f) { return sg_clock_wall(&f->rig.clock); }

/* ---- runs as the service journals them --------------------------------------- */

static void s_decided(s_fix_t *f, uint64_t run_id, const char *coll, const char *origin)
{
    assert_int_equal(sg_journal_decided_run(f->journal, run_id, coll, "X", NULL, origin,
                                            s_wall(f)),
                     0);
}

static void s_intent(s_fix_t *f, uint64_t run_id)
{
    assert_int_equal(sg_journal_intent(f->journal, run_id, s_wall(f)), 0);
}

/* InitiateFailover accepted by the simulator, as a run's call before a
 * crash; returns the job path (caller frees). */
static char *s_called_before_the_crash(s_fix_t *f, int c)
{
    sg_call_result_t res = {0};
    assert_int_equal(
        sg_provider_call(f->rig.sim, SG_METHOD_INITIATE_FAILOVER, s_cim(f, c), NULL, &res), 0);
    assert_int_equal(res.return_value, 4096);
    char *job = res.job_path;
    res.job_path = NULL;
    sg_call_result_fini(&res);
    return job;
}

/* A run past its intent whose job was journaled. */
static void s_run_with_job(s_fix_t *f, uint64_t run_id, int c)
{
    s_decided(f, run_id, s_name(f, c), NULL);
    s_intent(f, run_id);
    char *job = s_called_before_the_crash(f, c);
    assert_int_equal(
        sg_journal_run_step(f->journal, run_id, job, false, false, s_wall(f), NULL, NULL), 0);
    free(job);
}

static void s_run_ended(s_fix_t *f, uint64_t run_id, const char *coll, bool failed_over)
{
    s_decided(f, run_id, coll, NULL);
    s_intent(f, run_id);
    assert_int_equal(
        sg_journal_run_step(f->journal, run_id, NULL, true, failed_over, s_wall(f), NULL, NULL),
        0);
}

static sg_journal_run_t s_journal_row(s_fix_t *f, uint64_t run_id, sg_journal_run_t **all,
                                      size_t *n)
{
    assert_int_equal(sg_journal_runs(f->journal, all, n), 0);
    for (size_t i = 0; i < *n; i++)
        if ((*all)[i].run_id == run_id)
            return (*all)[i];
    fail_msg("run %llu is not in the journal", (unsigned long long)run_id);
    return (sg_journal_run_t){0};
}

/* ---- the executor's results ---------------------------------------------------- */

/* Journals one result as the service does (a fenced run stays open). */
static void s_journal_result(s_fix_t *f, const sg_exec_result_t *r)
{
    bool ended = r->ended && !r->fenced;
    assert_int_equal(sg_journal_run_step(f->journal, r->run_id, r->outcome->job_path, ended,
                                         r->failed_over, s_wall(f), r->outcome, NULL),
                     0);
}

/* Takes results until run `run_id` ends (or finds it ended already),
 * journaling each; returns its last outcome's kind and, in *job, the job
 * path of its JOB_STARTED (may be NULL; caller frees). */
static sg_outcome_kind_t s_until_ended(s_fix_t *f, uint64_t run_id, bool *failed_over,
                                       char **job)
{
    for (size_t i = 0; i < f->n_ended; i++) {
        if (f->ended[i].run_id == run_id) {
            if (failed_over)
                *failed_over = f->ended[i].failed_over;
            return f->ended[i].kind;
        }
    }
    for (;;) {
        sg_exec_result_t r;
        memset(&r, 0, sizeof r);
        assert_int_equal(sg_executor_recv(f->rig.x, &r, 10000), 1); /* a guard against a hang */
        s_journal_result(f, &r);
        if (job && r.run_id == run_id && r.outcome->kind == SG_OUTCOME_JOB_STARTED)
            *job = strdup(r.outcome->job_path);
        sg_outcome_kind_t kind = r.outcome->kind;
        bool ended = r.ended, over = r.failed_over;
        uint64_t id = r.run_id;
        sg_outcome_free(&r.outcome);
        if (ended && id == run_id) {
            if (failed_over)
                *failed_over = over;
            return kind;
        }
        if (ended && f->n_ended < sizeof f->ended / sizeof f->ended[0])
            f->ended[f->n_ended++] = (s_ended_t){id, kind, over};
    }
}

/* InitiateFailover calls the simulator answered (*accepted: that started a job). */
static int s_calls(s_fix_t *f, int c, int *accepted)
{
    int calls = 0, acc = 0;
    assert_int_equal(
        sg_sim_counts(f->rig.sim, s_cim(f, c), SG_METHOD_INITIATE_FAILOVER, &calls, &acc), 0);
    if (accepted)
        *accepted = acc;
    return calls;
}

/* The service's hooks: the proof journals the intent under the leader's
 * epoch (and may lose the lead right after it); the fence answers from
 * `leads` and notes the epoch it was asked about (a worker thread). */
static int s_proof(void *user, uint64_t run_id, int collection, char **why)
{
    s_fix_t *f = user;
    int rc = sg_journal_intent_epoch(f->journal, run_id, f->intent_epoch, s_wall(f));
    if (f->step_down_after_intent)
        atomic_store(&f->leads, false);
    return rc;
}

static int s_fence(void *user, uint64_t epoch)
{
    s_fix_t *f = user;
    atomic_store(&f->fenced_under, epoch);
    return atomic_load(&f->leads) ? SG_OK : SG_ESTATE;
}

static int64_t s_journaled_epoch(s_fix_t *f, uint64_t run_id)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(f->tmp.journal, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT epoch FROM runs WHERE run_id = ?", -1, &st,
                                        NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)run_id);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t epoch = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return epoch;
}

/* A step a plan should have. */
typedef struct {
    sg_recovery_action_t action;
    uint64_t run_id;
    int collection;
} s_want_t;

/* Plans `mode` from the journal and checks that the plan is exactly `want`,
 * in order; the caller applies it (s_apply) or frees it. */
static void s_plan_is(s_fix_t *f, sg_recovery_mode_t mode, sg_recovery_plan_t *p,
                      const s_want_t *want, size_t n)
{
    assert_int_equal(sg_recovery_plan_journal(p, f->cfg, f->journal, mode), 0);
    assert_int_equal(p->n_steps, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(p->steps[i].action, want[i].action);
        assert_int_equal(p->steps[i].run->run_id, want[i].run_id);
        assert_int_equal(p->steps[i].collection, want[i].collection);
    }
}
#define S_PLAN_IS(f, mode, p, ...)                                                             \
    s_plan_is(f, mode, p, (const s_want_t[]){__VA_ARGS__},                                     \
              sizeof((const s_want_t[]){__VA_ARGS__}) / sizeof(s_want_t))

/* The service's replay: planned from the journal and applied. */
static int s_replay(s_fix_t *f, sg_recovery_mode_t mode)
{
    sg_recovery_env_t env = s_env(f);
    return sg_recovery_replay(&env, mode);
}

/* Applies the plan to the fixture's engine, executor and journal; frees it. */
static void s_apply(s_fix_t *f, sg_recovery_plan_t *p)
{
    sg_recovery_env_t env = s_env(f);
    sg_recovery_apply(&env, p);
    sg_recovery_plan_fini(p);
}

/* The verdicts of a replay with every kind of run: c0 failed over (run
 * ended), c1 and c2 decided (a job followed, an intent resolved), c3 free
 * again (a decision never started, abandoned). */
static void s_expect_every_kind_back(s_fix_t *f)
{
    assert_int_equal(sg_engine_collection_verdict(f->engine, C0), SG_COLL_DONE);
    assert_int_equal(sg_engine_collection_verdict(f->engine, C1), SG_COLL_DECIDED);
    assert_int_equal(sg_engine_collection_verdict(f->engine, C2), SG_COLL_DECIDED);
    assert_int_equal(sg_engine_collection_verdict(f->engine, C3), SG_COLL_IDLE);
}

/* ---- after a restart ----------------------------------------------------------- */

static void test_a_run_past_its_intent_with_a_job_is_followed_not_called_again(void **state)
{
    s_fix_t *f = *state;
    s_run_with_job(f, 5, C0);
    s_restart(f);

    sg_recovery_plan_t p;
    S_PLAN_IS(f, SG_RECOVERY_RESTART, &p, {SG_RECOVERY_FOLLOW, 5, C0});
    s_apply(f, &p);

    assert_int_equal(sg_engine_collection_verdict(f->engine, C0), SG_COLL_DECIDED);
    assert_false(sg_engine_run_is_manual(f->engine, C0)); /* the engine's own run */
    bool over = false;
    assert_int_equal(s_until_ended(f, 5, &over, NULL), SG_OUTCOME_SUCCEEDED);
    assert_true(over);
    int accepted;
    assert_int_equal(s_calls(f, C0, &accepted), 1); /* the call before the crash only */
    assert_int_equal(accepted, 1);
}

/* The journaled job ended and was removed while the service was down
 * (Hyper-V deletes an ended job TimeBeforeRemoval after its end; the
 * simulator's job_removal, 5 minutes by default): the resumed run ends by
 * the collection's state instead of following a job that no longer exists. */
static void test_a_run_whose_job_was_removed_while_down_ends_by_the_collections_state(
    void **state)
{
    s_fix_t *f = *state;
    s_run_with_job(f, 5, C0);
    sg_clock_fake_advance(&f->rig.clock, 60000 + 5 * 60000 + 1); /* ended, then removed */
    sg_job_status_t js;
    sg_journal_run_t *runs = NULL;
    size_t n = 0;
    sg_journal_run_t r = s_journal_row(f, 5, &runs, &n);
    assert_int_equal(sg_provider_get_job(f->rig.sim, r.job_path, &js), SG_ENOTFOUND);
    sg_journal_runs_free(runs, n);
    s_restart(f);

    sg_recovery_plan_t p;
    S_PLAN_IS(f, SG_RECOVERY_RESTART, &p, {SG_RECOVERY_FOLLOW, 5, C0});
    s_apply(f, &p);
    bool over = false;
    assert_int_equal(s_until_ended(f, 5, &over, NULL), SG_OUTCOME_SUCCEEDED);
    assert_true(over);
    assert_int_equal(s_calls(f, C0, NULL), 1); /* the call before the crash only */
    r = s_journal_row(f, 5, &runs, &n);
    assert_true(r.ended_ms && r.failed_over);
    sg_journal_runs_free(runs, n);
}

static void test_an_intent_without_a_job_asks_the_provider_and_follows_the_job_it_finds(
    void **state)
{
    s_fix_t *f = *state;
    s_decided(f, 5, "c0", NULL);
    s_intent(f, 5);
    char *job = s_called_before_the_crash(f, C0); /* accepted; the crash came before its step */
    s_restart(f);

    sg_recovery_plan_t p;
    S_PLAN_IS(f, SG_RECOVERY_RESTART, &p, {SG_RECOVERY_RESOLVE, 5, C0});
    s_apply(f, &p);

    assert_int_equal(sg_engine_collection_verdict(f->engine, C0), SG_COLL_DECIDED);
    char *found = NULL;
    assert_int_equal(s_until_ended(f, 5, NULL, &found), SG_OUTCOME_SUCCEEDED);
    assert_non_null(found);
    assert_string_equal(found, job);
    assert_int_equal(s_calls(f, C0, NULL), 1); /* never called again */
    sg_journal_run_t *runs = NULL;
    size_t n = 0;
    sg_journal_run_t r = s_journal_row(f, 5, &runs, &n);
    assert_string_equal(r.job_path, job); /* now journaled */
    assert_true(r.ended_ms && r.failed_over);
    sg_journal_runs_free(runs, n);
    free(found);
    free(job);
}

static void test_a_resumed_operators_run_is_proven_as_the_operators(void **state)
{
    s_fix_t *f = *state;
    s_decided(f, 5, "c0", "forced");
    s_intent(f, 5);
    s_decided(f, 6, "c1", NULL);
    s_intent(f, 6);
    s_restart(f);

    assert_int_equal(s_replay(f, SG_RECOVERY_RESTART), 0);

    sg_now_t now = {sg_clock_mono(&f->rig.clock), s_wall(f)};
    assert_true(sg_engine_run_is_manual(f->engine, C0));
    assert_int_equal(sg_engine_confirm(f->engine, C0, 5, now, NULL), 0); /* forced: always */
    assert_false(sg_engine_run_is_manual(f->engine, C1));
    assert_int_equal(sg_engine_confirm(f->engine, C1, 6, now, NULL),
                     SG_ESTATE); /* the engine's: only while site A is proven lost */
    assert_int_equal(s_until_ended(f, 5, NULL, NULL), SG_OUTCOME_SUCCEEDED);
    assert_int_equal(s_until_ended(f, 6, NULL, NULL), SG_OUTCOME_SUCCEEDED);
}

static void test_a_run_decided_but_never_started_is_abandoned_in_the_journal_not_restored(
    void **state)
{
    s_fix_t *f = *state;
    s_decided(f, 7, "c0", NULL);
    s_restart(f);
    sg_clock_fake_advance(&f->rig.clock, 5000);

    sg_recovery_plan_t p;
    S_PLAN_IS(f, SG_RECOVERY_RESTART, &p, {SG_RECOVERY_ABANDON, 7, C0});
    s_apply(f, &p);

    sg_journal_run_t *runs = NULL;
    size_t n = 0;
    sg_journal_run_t r = s_journal_row(f, 7, &runs, &n);
    assert_true(r.abandoned);
    assert_false(r.failed_over);
    assert_int_equal(r.ended_ms, s_wall(f)); /* ended by the restart, at its time */
    assert_int_equal(r.intent_ms, 0);
    sg_journal_runs_free(runs, n);
    assert_int_equal(sg_engine_collection_verdict(f->engine, C0), SG_COLL_IDLE);
    assert_int_equal(sg_executor_active(f->rig.x), 0);
    assert_int_equal(s_calls(f, C0, NULL), 0);

    /* the next restart finds it ended and not carried out: nothing to do */
    s_restart(f);
    s_plan_is(f, SG_RECOVERY_RESTART, &p, NULL, 0);
    sg_recovery_plan_fini(&p);
}

static void test_done_and_failed_collections_are_restored_and_not_decided_again(void **state)
{
    s_fix_t *f = *state;
    s_run_ended(f, 1, "c0", true);
    s_run_ended(f, 2, "c1", false);
    s_restart(f);

    sg_recovery_plan_t p;
    S_PLAN_IS(f, SG_RECOVERY_RESTART, &p,
              {SG_RECOVERY_RESTORE, 1, C0},
              {SG_RECOVERY_RESTORE, 2, C1});
    s_apply(f, &p);

    assert_int_equal(sg_engine_collection_verdict(f->engine, C0), SG_COLL_DONE);
    assert_int_equal(sg_engine_collection_verdict(f->engine, C1), SG_COLL_FAILED);
    sg_now_t now = {sg_clock_mono(&f->rig.clock), s_wall(f)};
    char *why = NULL;
    assert_int_equal(
        sg_engine_manual_failover(f->engine, C0, false, "again", NULL, now, &why), SG_ESTATE);
    free(why);
    sg_opstate_t st; /* what a restart or a new leader keeps of it */
    assert_int_equal(sg_engine_opstate_export(f->engine, now, &st), 0);
    assert_int_equal(st.n_colls, 2);
    for (size_t i = 0; i < st.n_colls; i++) {
        assert_int_equal(st.colls[i].done, st.colls[i].collection == C0);
        assert_int_equal(st.colls[i].failed, st.colls[i].collection == C1);
    }
    sg_opstate_fini(&st);
    assert_int_equal(sg_executor_active(f->rig.x), 0); /* nothing resubmitted */
}

static void test_a_failover_reverted_or_reversed_since_is_not_restored_as_done(void **state)
{
    s_fix_t *f = *state;
    s_run_ended(f, 1, "c0", true);
    s_run_ended(f, 2, "c1", true);
    s_run_ended(f, 3, "c2", true);
    assert_int_equal(sg_steps_init(f->journal), SG_OK);
    uint64_t id = 0;
    int64_t later = s_wall(f) + 1000;
    assert_int_equal(sg_steps_intent(f->journal, "c0", "revert", "alice", 0, later, &id), SG_OK);
    assert_int_equal(sg_steps_end(f->journal, id, true, "reverted", later), SG_OK);
    assert_int_equal(sg_steps_intent(f->journal, "c1", "reverse", "alice", 0, later, &id), SG_OK);
    assert_int_equal(sg_steps_end(f->journal, id, true, "reversed", later), SG_OK);
    /* a commit, or a step that failed, leaves it failed over */
    assert_int_equal(sg_steps_intent(f->journal, "c2", "commit", "alice", 0, later, &id), SG_OK);
    assert_int_equal(sg_steps_end(f->journal, id, true, "committed", later), SG_OK);
    assert_int_equal(sg_steps_intent(f->journal, "c2", "revert", "bob", 0, later, &id), SG_OK);
    assert_int_equal(sg_steps_end(f->journal, id, false, "committed: not called", later), SG_OK);
    s_restart(f);
    assert_int_equal(s_replay(f, SG_RECOVERY_RESTART), SG_OK);
    assert_int_equal(sg_engine_collection_verdict(f->engine, C0), SG_COLL_IDLE);
    assert_int_equal(sg_engine_collection_verdict(f->engine, C1), SG_COLL_IDLE);
    assert_int_equal(sg_engine_collection_verdict(f->engine, C2), SG_COLL_DONE);
}

static void test_a_reversed_direction_is_kept_by_name_in_the_operator_state(void **state)
{
    s_fix_t *f = *state;
    sg_now_t now = {sg_clock_mono(&f->rig.clock), s_wall(f)};
    sg_config_reverse(f->cfg, C1);
    sg_engine_t *e = sg_engine_new(f->cfg, 0, now);
    assert_non_null(e);
    sg_opstate_t st;
    assert_int_equal(sg_engine_opstate_export(e, now, &st), 0);
    char *text = sg_opstate_to_json(&st, f->cfg);
    sg_opstate_fini(&st);
    sg_engine_destroy(&e);
    assert_non_null(strstr(text, "\"directions\":{\"c1\":{\"site\":\"B\",\"replica_site\":\"A\"}}"));
    sg_config_reverse(f->cfg, C1); /* a fresh start: the file's direction */
    size_t skipped = 0;
    assert_int_equal(sg_opstate_from_json(text, f->cfg, &st, &skipped), 0);
    free(text);
    assert_int_equal(skipped, 0);
    assert_int_equal(st.n_colls, 1);
    assert_int_equal(st.colls[0].collection, C1);
    assert_true(st.colls[0].directed);
    assert_string_equal(f->cfg->sites[st.colls[0].site].name, "B");
    assert_string_equal(f->cfg->sites[st.colls[0].replica_site].name, "A");
    sg_opstate_fini(&st);
    /* an older text has none; a direction naming an unknown site is skipped */
    assert_int_equal(sg_opstate_from_json("{\"version\":1,\"directions\":{\"c1\":{\"site\":\"Z\","
                                          "\"replica_site\":\"A\"}}}",
                                          f->cfg, &st, &skipped),
                     0);
    assert_int_equal(st.n_colls, 0);
    assert_int_equal(skipped, 1);
    sg_opstate_fini(&st);
}

static void test_an_ended_run_tells_the_executors_plan_how_it_ended(void **state)
{
    s_fix_t *f = *state;
    s_run_ended(f, 2, "c1", false); /* c3 depends on c1 */
    s_restart(f);
    assert_int_equal(s_replay(f, SG_RECOVERY_RESTART), 0);

    s_decided(f, 9, "c3", NULL);
    assert_int_equal(sg_executor_submit(f->rig.x, 9, C3), 0);
    assert_int_equal(s_until_ended(f, 9, NULL, NULL), SG_OUTCOME_FAILED);
    assert_int_equal(s_calls(f, C3, NULL), 0); /* failed without a call */
}

static void test_an_abandoned_or_cancelled_run_leaves_its_collection_free(void **state)
{
    s_fix_t *f = *state;
    s_decided(f, 1, "c0", NULL);
    assert_int_equal(sg_journal_abandon(f->journal, 1, s_wall(f)), 0);
    s_decided(f, 2, "c1", NULL);
    assert_int_equal(sg_journal_run_cancelled(f->journal, 2, s_wall(f), NULL, NULL), 0);
    s_restart(f);

    sg_recovery_plan_t p;
    s_plan_is(f, SG_RECOVERY_RESTART, &p, NULL, 0);
    assert_int_equal(p.n_runs, 2); /* read, and nothing to do */
    sg_recovery_plan_fini(&p);
    assert_int_equal(s_replay(f, SG_RECOVERY_RESTART), 0);
    assert_int_equal(sg_engine_collection_verdict(f->engine, C0), SG_COLL_IDLE);
    assert_int_equal(sg_engine_collection_verdict(f->engine, C1), SG_COLL_IDLE);
}

static void test_a_collection_no_longer_configured_is_warned_about_and_skipped(void **state)
{
    s_fix_t *f = *state;
    s_decided(f, 1, "gone", NULL);
    s_intent(f, 1);
    assert_int_equal(
        sg_journal_run_step(f->journal, 1, "job-of-gone", false, false, s_wall(f), NULL, NULL),
        0);
    s_run_ended(f, 2, "also-gone", true);
    s_restart(f);

    sg_recovery_plan_t p;
    S_PLAN_IS(f, SG_RECOVERY_RESTART, &p, /* one warning each, nothing else */
              {SG_RECOVERY_UNCONFIGURED, 1, -1},
              {SG_RECOVERY_UNCONFIGURED, 2, -1});
    s_apply(f, &p);
    assert_int_equal(sg_executor_active(f->rig.x), 0);
    for (int c = C0; c <= C3; c++)
        assert_int_equal(sg_engine_collection_verdict(f->engine, c), SG_COLL_IDLE);
    sg_journal_run_t *runs = NULL;
    size_t n = 0;
    sg_journal_run_t r = s_journal_row(f, 1, &runs, &n);
    assert_int_equal(r.ended_ms, 0); /* left as it was */
    sg_journal_runs_free(runs, n);

    s_plan_is(f, SG_RECOVERY_LEADING_AGAIN, &p, NULL, 0); /* leading again: not even a warning */
    sg_recovery_plan_fini(&p);
}

static void test_ended_runs_come_first_then_runs_past_their_intent_then_fresh_ones(void **state)
{
    s_fix_t *f = *state;
    s_decided(f, 1, "c3", NULL); /* fresh */
    s_run_with_job(f, 2, C1);    /* past its intent, with a job */
    s_run_ended(f, 3, "c0", true);
    s_run_ended(f, 4, "gone", true);
    s_decided(f, 5, "c2", NULL); /* past its intent, no job */
    s_intent(f, 5);
    s_restart(f);

    sg_recovery_plan_t p;
    S_PLAN_IS(f, SG_RECOVERY_RESTART, &p,
              {SG_RECOVERY_RESTORE, 3, C0}, /* pass 1, journal order */
              {SG_RECOVERY_UNCONFIGURED, 4, -1},
              {SG_RECOVERY_FOLLOW, 2, C1}, /* pass 2 */
              {SG_RECOVERY_RESOLVE, 5, C2},
              {SG_RECOVERY_ABANDON, 1, C3}); /* pass 3 */
    sg_recovery_plan_fini(&p);
}

static void test_a_replay_after_a_restart_brings_every_kind_of_run_back(void **state)
{
    s_fix_t *f = *state;
    s_decided(f, 1, "c3", NULL);
    s_run_with_job(f, 2, C1);
    s_run_ended(f, 3, "c0", true);
    s_decided(f, 5, "c2", NULL);
    s_intent(f, 5);
    s_restart(f);

    assert_int_equal(s_replay(f, SG_RECOVERY_RESTART), 0);

    s_expect_every_kind_back(f);
    assert_int_equal(s_until_ended(f, 2, NULL, NULL), SG_OUTCOME_SUCCEEDED);
    /* c2: the provider proves nothing started; its first call is retried (32774) */
    assert_int_equal(s_until_ended(f, 5, NULL, NULL), SG_OUTCOME_SUCCEEDED);
    int accepted;
    assert_int_equal(s_calls(f, C1, NULL), 1);
    assert_int_equal(s_calls(f, C2, &accepted), 2);
    assert_int_equal(accepted, 1);
    sg_journal_run_t *runs = NULL;
    size_t n = 0;
    assert_true(s_journal_row(f, 1, &runs, &n).abandoned);
    sg_journal_runs_free(runs, n);
    assert_true(s_journal_row(f, 2, &runs, &n).failed_over);
    sg_journal_runs_free(runs, n);
    assert_true(s_journal_row(f, 5, &runs, &n).failed_over);
    sg_journal_runs_free(runs, n);
    assert_int_equal(s_calls(f, C3, NULL), 0);
}

/* Retention a month and a day later removes the runs each collection's
 * latest run superseded, and the restart after it plans and carries out
 * exactly what it would have without it. */
static void test_a_restart_after_retention_brings_every_kind_of_run_back(void **state)
{
    s_fix_t *f = *state;
    s_run_ended(f, 1, "c1", false); /* superseded by run 2 */
    s_run_ended(f, 6, "c3", false); /* superseded by run 7 */
    s_run_with_job(f, 2, C1);
    s_run_ended(f, 3, "c0", true);
    s_decided(f, 5, "c2", NULL);
    s_intent(f, 5);
    s_decided(f, 7, "c3", NULL);
    sg_retention_removed_t removed = {0};
    assert_int_equal(sg_retention_prepare(f->journal), SG_OK);
    assert_int_equal(sg_retention_run(f->journal, s_wall(f) + SG_JOURNAL_DEFAULT_RETENTION_MS +
                                                      24LL * 3600 * 1000,
                                      SG_JOURNAL_DEFAULT_RETENTION_MS, SG_RETENTION_BATCH,
                                      &removed),
                     SG_OK);
    assert_int_equal(removed.runs, 2);
    s_restart(f);

    sg_recovery_plan_t p;
    S_PLAN_IS(f, SG_RECOVERY_RESTART, &p,
              {SG_RECOVERY_RESTORE, 3, C0},
              {SG_RECOVERY_FOLLOW, 2, C1},
              {SG_RECOVERY_RESOLVE, 5, C2},
              {SG_RECOVERY_ABANDON, 7, C3});
    s_apply(f, &p);

    s_expect_every_kind_back(f);
    assert_int_equal(s_until_ended(f, 2, NULL, NULL), SG_OUTCOME_SUCCEEDED);
    assert_int_equal(s_until_ended(f, 5, NULL, NULL), SG_OUTCOME_SUCCEEDED);
    assert_int_equal(s_calls(f, C1, NULL), 1); /* the call before the restart only */
    uint64_t max = 0;
    assert_int_equal(sg_journal_max_run_id(f->journal, &max), SG_OK);
    assert_int_equal(max, 7);
}

/* ---- leading again ---------------------------------------------------------------- */

static void test_leading_again_resubmits_only_open_runs_past_their_intent_engine_untouched(
    void **state)
{
    s_fix_t *f = *state;
    s_run_ended(f, 1, "c0", true);
    s_decided(f, 2, "c1", NULL); /* fresh */
    s_decided(f, 3, "c2", NULL);
    s_intent(f, 3);
    s_run_with_job(f, 4, C3);
    s_decided(f, 5, "gone", NULL);
    s_intent(f, 5);
    uint64_t gen = sg_engine_opstate_gen(f->engine);

    sg_recovery_plan_t p;
    S_PLAN_IS(f, SG_RECOVERY_LEADING_AGAIN, &p,
              {SG_RECOVERY_RESOLVE, 3, C2},
              {SG_RECOVERY_FOLLOW, 4, C3});
    s_apply(f, &p);

    for (int c = C0; c <= C3; c++) /* the engine kept running: nothing restored */
        assert_int_equal(sg_engine_collection_verdict(f->engine, c), SG_COLL_IDLE);
    assert_int_equal(sg_engine_opstate_gen(f->engine), gen);
    assert_int_equal(s_until_ended(f, 3, NULL, NULL), SG_OUTCOME_SUCCEEDED);
    assert_int_equal(s_until_ended(f, 4, NULL, NULL), SG_OUTCOME_SUCCEEDED);
    sg_journal_run_t *runs = NULL;
    size_t n = 0;
    sg_journal_run_t r = s_journal_row(f, 2, &runs, &n);
    assert_int_equal(r.ended_ms, 0); /* not abandoned: that is a restart's */
    sg_journal_runs_free(runs, n);
    assert_int_equal(s_calls(f, C1, NULL), 0);
}

static void test_leading_again_leaves_a_run_the_executor_still_holds_where_it_is(void **state)
{
    s_fix_t *f = *state;
    s_run_with_job(f, 4, C0);
    assert_int_equal(s_replay(f, SG_RECOVERY_LEADING_AGAIN), 0);
    assert_int_equal(sg_executor_active(f->rig.x), 1);
    assert_int_equal(s_replay(f, SG_RECOVERY_LEADING_AGAIN), 0); /* again */
    assert_int_equal(sg_executor_active(f->rig.x), 1);
    assert_int_equal(s_until_ended(f, 4, NULL, NULL), SG_OUTCOME_SUCCEEDED);
    assert_int_equal(sg_executor_active(f->rig.x), 0);
    assert_int_equal(s_calls(f, C0, NULL), 1);
}

/* Epoch 1: c2's first call is refused (32774, retried) and the leader steps
 * down right after the intent, so the retry is fenced: the run stays open,
 * its intent journaled under epoch 1. Leading again under epoch 2 resumes
 * it, the provider asked first, and its call is fenced under epoch 2. */
static void test_a_fenced_run_is_resumed_when_leading_again_under_the_new_epoch(void **state)
{
    s_fix_t *f = *state;
    sg_executor_set_proof_hook(f->rig.x, s_proof, f);
    sg_executor_set_fence_hook(f->rig.x, s_fence, f);
    sg_executor_set_epoch(f->rig.x, 1);
    f->intent_epoch = 1;
    f->step_down_after_intent = true;
    s_decided(f, 16777217, "c2", NULL);
    sg_run_spec_t fresh = {.run_id = 16777217, .collection = C2};
    assert_int_equal(sg_executor_submit_run(f->rig.x, &fresh), 0);
    for (;;) {
        sg_exec_result_t r;
        assert_int_equal(sg_executor_recv(f->rig.x, &r, 10000), 1);
        s_journal_result(f, &r);
        bool fenced = r.fenced;
        assert_true(!r.ended || fenced);
        sg_outcome_free(&r.outcome);
        if (fenced)
            break;
    }
    assert_int_equal(s_journaled_epoch(f, 16777217), 1);
    int accepted;
    assert_int_equal(s_calls(f, C2, &accepted), 1);
    assert_int_equal(accepted, 0);

    /* a restart would resume it the same way */
    sg_recovery_plan_t p;
    S_PLAN_IS(f, SG_RECOVERY_RESTART, &p, {SG_RECOVERY_RESOLVE, 16777217, C2});
    sg_recovery_plan_fini(&p);

    f->step_down_after_intent = false;
    f->intent_epoch = 2;
    atomic_store(&f->leads, true);
    sg_executor_set_epoch(f->rig.x, 2);
    S_PLAN_IS(f, SG_RECOVERY_LEADING_AGAIN, &p, {SG_RECOVERY_RESOLVE, 16777217, C2});
    s_apply(f, &p);

    bool over = false;
    assert_int_equal(s_until_ended(f, 16777217, &over, NULL), SG_OUTCOME_SUCCEEDED);
    assert_true(over);
    assert_int_equal(atomic_load(&f->fenced_under), 2);
    assert_int_equal(s_journaled_epoch(f, 16777217), 1); /* the first intent's, kept */
    assert_int_equal(s_calls(f, C2, &accepted), 2);
    assert_int_equal(accepted, 1);
    assert_int_equal(sg_engine_collection_verdict(f->engine, C2), SG_COLL_IDLE);
}

/* ---- operator state ---------------------------------------------------------------- */

static void test_operator_state_kept_in_the_journal_is_restored_into_the_engine(void **state)
{
    s_fix_t *f = *state;
    sg_now_t now = {sg_clock_mono(&f->rig.clock), s_wall(f)};
    sg_engine_t *before = sg_engine_new(f->cfg, 0, now);
    assert_non_null(before);
    assert_int_equal(sg_engine_pause(before, 0, -1, now.mono + 3600000, "patching A"), 0);
    sg_opstate_t st;
    assert_int_equal(sg_engine_opstate_export(before, now, &st), 0);
    char *text = sg_opstate_to_json(&st, f->cfg);
    assert_non_null(text);
    sg_opstate_fini(&st);
    sg_engine_destroy(&before);
    assert_int_equal(sg_journal_opstate_put(f->journal, text, now.wall), 0);
    free(text);
    s_restart(f);

    sg_recovery_env_t env = s_env(f);
    assert_int_equal(sg_recovery_load_opstate(&env), 0);
    int site, coll;
    int64_t until;
    const char *reason;
    assert_true(sg_engine_pause_at(f->engine, 0, sg_clock_mono(&f->rig.clock), &site, &coll, &until,
                                   &reason));
    assert_int_equal(site, 0);
    assert_int_equal(coll, -1);
    assert_string_equal(reason, "patching A");
}

static void test_no_operator_state_saved_is_nothing_to_restore(void **state)
{
    s_fix_t *f = *state;
    uint64_t gen = sg_engine_opstate_gen(f->engine);
    sg_recovery_env_t env = s_env(f);
    assert_int_equal(sg_recovery_load_opstate(&env), 0);
    assert_int_equal(sg_engine_opstate_gen(f->engine), gen);
}

static void test_operator_state_that_is_no_such_document_is_refused(void **state)
{
    s_fix_t *f = *state;
    sg_recovery_env_t env = s_env(f);
    assert_int_equal(sg_recovery_restore_opstate(&env, "[1, 2]", "etcd"), SG_EPROTO);
    assert_false(sg_engine_pause_at(f->engine, 0, sg_clock_mono(&f->rig.clock), NULL, NULL, NULL,
                                    NULL));
}

/* ---- the plan alone ----------------------------------------------------------------- */

static void test_planning_is_pure_and_borrows_the_runs(void **state)
{
    s_fix_t *f = *state;
    sg_journal_run_t runs[] = {
        {.run_id = 1, .collection = "c0", .intent_ms = 10, .job_path = "j"},
        {.run_id = 2, .collection = "c1", .ended_ms = 20, .failed_over = true},
    };
    sg_recovery_plan_t p;
    assert_int_equal(sg_recovery_plan_runs(&p, f->cfg, runs, 2, SG_RECOVERY_RESTART), 0);
    assert_null(p.runs);
    assert_int_equal(p.n_steps, 2);
    assert_ptr_equal(p.steps[0].run, &runs[1]);
    assert_int_equal(p.steps[0].action, SG_RECOVERY_RESTORE);
    assert_ptr_equal(p.steps[1].run, &runs[0]);
    assert_int_equal(p.steps[1].action, SG_RECOVERY_FOLLOW);
    sg_recovery_plan_fini(&p);
    assert_int_equal(sg_recovery_plan_runs(&p, f->cfg, NULL, 0, SG_RECOVERY_RESTART), 0);
    assert_int_equal(p.n_steps, 0);
    sg_recovery_plan_fini(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
        T(test_a_run_past_its_intent_with_a_job_is_followed_not_called_again),
        T(test_a_run_whose_job_was_removed_while_down_ends_by_the_collections_state),
        T(test_an_intent_without_a_job_asks_the_provider_and_follows_the_job_it_finds),
        T(test_a_resumed_operators_run_is_proven_as_the_operators),
        T(test_a_run_decided_but_never_started_is_abandoned_in_the_journal_not_restored),
        T(test_done_and_failed_collections_are_restored_and_not_decided_again),
        T(test_a_failover_reverted_or_reversed_since_is_not_restored_as_done),
        T(test_a_reversed_direction_is_kept_by_name_in_the_operator_state),
        T(test_an_ended_run_tells_the_executors_plan_how_it_ended),
        T(test_an_abandoned_or_cancelled_run_leaves_its_collection_free),
        T(test_a_collection_no_longer_configured_is_warned_about_and_skipped),
        T(test_ended_runs_come_first_then_runs_past_their_intent_then_fresh_ones),
        T(test_a_replay_after_a_restart_brings_every_kind_of_run_back),
        T(test_a_restart_after_retention_brings_every_kind_of_run_back),
        T(test_leading_again_resubmits_only_open_runs_past_their_intent_engine_untouched),
        T(test_leading_again_leaves_a_run_the_executor_still_holds_where_it_is),
        T(test_a_fenced_run_is_resumed_when_leading_again_under_the_new_epoch),
        T(test_operator_state_kept_in_the_journal_is_restored_into_the_engine),
        T(test_no_operator_state_saved_is_nothing_to_restore),
        T(test_operator_state_that_is_no_such_document_is_refused),
        T(test_planning_is_pure_and_borrows_the_runs),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
