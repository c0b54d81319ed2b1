/* Life-cycle steps after a failover (act/lifecycle.h) against the simulator
 * on a fake clock, with a real journal file: each step proven by the
 * collection's state before its call, journaled, resumed after a restart
 * without a second call, refused by its guards, and reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "act/lifecycle.h"
#include "base/err.h"
#include "base/str.h"
#include "journal/journal.h"
#include "journal/steps.h"
#include "policy/engine.h"
#include "provider/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg_fixture.h"
#include "sg_veil.h"

#define S_YAML                                                                                 \
    SG_FIXTURE_YAML_ABW "collections:\n" SG_FIXTURE_YAML_COLL_AT_A(1)                          \
        SG_FIXTURE_YAML_COLL_AT_A(2)

typedef struct {
    sg_config_t *cfg;
    sg_fixture_rig_t rig;
    sg_fixture_dir_t tmp;
    sg_journal_t *journal;
    sg_engine_t *engine;
    sg_lifecycle_t *lc;
    sg_veil_t veil;
} s_fix_t;

/* The fixture over the config S_YAML followed by `more` (its provider
 * section, say). */
static s_fix_t *s_fix_new_with(const char *more)
{
    s_fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    char *yaml = sg_strdupf("%s%s", S_YAML, more);
    assert_non_null(yaml);
    f->cfg = sg_fixture_config("lifecycle.yaml", yaml);
    free(yaml);
    sg_fixture_dir_new(&f->tmp, "sg-lifecycle-");
    sg_fixture_rig_new(&f->rig, f->cfg, 1790000000000LL);
    f->journal = sg_journal_open(f->tmp.journal);
    assert_non_null(f->journal);
    sg_now_t now = {sg_clock_mono(&f->rig.clock), sg_clock_wall(&f->rig.clock)};
    f->engine = sg_engine_new(f->cfg, 0, now);
    assert_non_null(f->engine);
    f->lc = sg_lifecycle_new(f->rig.zctx, f->cfg, f->rig.sim, &f->rig.clock, f->journal,
                             f->engine);
    assert_non_null(f->lc);
    return f;
}

static s_fix_t *s_fix_new(void) { return s_fix_new_with(""); }

static void s_fix_free(s_fix_t *f)
{
    sg_lifecycle_destroy(&f->lc);
    assert_null(f->lc);
    sg_engine_destroy(&f->engine);
    sg_journal_close(&f->journal);
    sg_fixture_rig_free(&f->rig);
    sg_config_destroy(&f->cfg);
    sg_fixture_dir_remove(&f->tmp);
    free(f);
}

static const char *s_path(const s_fix_t *f, int c) { return f->cfg->collections[c].cim_path; }

/* Runs `m` on collection c in the simulator and waits (on the fake clock)
 * for its job to end. */
static void s_sim_do(s_fix_t *f, int c, sg_method_t m)
{
    sg_call_result_t r = {0};
    assert_int_equal(sg_provider_call(f->rig.sim, m, s_path(f, c), NULL, &r), SG_OK);
    assert_int_equal(r.return_value, SG_RC_JOB_STARTED);
    for (int i = 0; i < 1000; i++) {
        sg_job_status_t js = {0};
        assert_int_equal(sg_provider_get_job(f->rig.sim, r.job_path, &js), SG_OK);
        bool ended = sg_job_state_ended(js.job_state);
        assert_true(!ended || sg_job_state_succeeded(js.job_state));
        sg_job_status_fini(&js);
        if (ended)
            break;
        sg_clock_sleep(&f->rig.clock, 100);
    }
    sg_call_result_fini(&r);
}

/* Collection c failed over in the simulator and in the engine's view. */
static void s_failed_over(s_fix_t *f, int c)
{
    s_sim_do(f, c, SG_METHOD_INITIATE_FAILOVER);
    sg_engine_restore(f->engine, c, SG_COLL_DONE, 1, SG_ORIGIN_ENGINE);
}

static sg_coll_state_t s_state(s_fix_t *f, int c)
{
    sg_coll_state_t st = SG_COLL_UNKNOWN;
    assert_int_equal(sg_provider_get_state(f->rig.sim, s_path(f, c), &st), SG_OK);
    return st;
}

static int s_calls(s_fix_t *f, int c, sg_method_t m)
{
    int calls = 0, accepted = 0;
    assert_int_equal(sg_sim_counts(f->rig.sim, s_path(f, c), m, &calls, &accepted), SG_OK);
    return calls;
}

/* Takes results until the step's end (10 s real time as a guard against a
 * hang); the outcomes' messages go into `seen` (';'-joined). */
static sg_step_result_t s_until_end(s_fix_t *f, char *seen, size_t len)
{
    if (seen)
        seen[0] = '\0';
    for (;;) {
        sg_step_result_t r;
        assert_int_equal(sg_lifecycle_recv(f->lc, &r, 10000), 1);
        if (r.outcome) {
            assert_int_equal(r.outcome->kind, SG_OUTCOME_LIFECYCLE);
            if (seen)
                snprintf(seen + strlen(seen), len - strlen(seen), "%s;", r.outcome->message);
        }
        if (r.ended)
            return r;
        sg_step_result_fini(&r);
    }
}

/* The journal's record of step `id`. */
static sg_step_rec_t s_record(s_fix_t *f, uint64_t id)
{
    sg_step_rec_t *all = NULL, out = {0};
    size_t n = 0;
    assert_int_equal(sg_steps_list(f->journal, 0, &all, &n), SG_OK);
    for (size_t i = 0; i < n; i++)
        if (all[i].id == id) {
            out = all[i];
            memset(&all[i], 0, sizeof all[i]);
        }
    sg_steps_free(all, n);
    assert_true(out.id == id);
    return out;
}

static void test_commit_is_called_on_a_failed_over_collection_and_journaled(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new();
    s_failed_over(f, 0);
    uint64_t id = 0;
    assert_int_equal(sg_lifecycle_request(f->lc, 0, SG_STEP_COMMIT, "alice", &id, NULL), SG_OK);
    assert_true(id > 0);
    assert_true(sg_lifecycle_busy(f->lc, 0));
    char seen[2048];
    sg_step_result_t r = s_until_end(f, seen, sizeof seen);
    assert_true(r.ok);
    assert_true(r.step_id == id);
    assert_int_equal(r.kind, SG_STEP_COMMIT);
    assert_int_equal(r.outcome->severity, SG_SEVERITY_INFO);
    assert_non_null(strstr(r.outcome->dedup_key, "/commit/succeeded"));
    sg_step_result_fini(&r);
    assert_non_null(strstr(seen, "CommitFailover of c1 on B started"));
    assert_non_null(strstr(seen, "asked by alice"));
    assert_int_equal(s_state(f, 0), SG_COLL_COMMITTED);
    assert_int_equal(s_calls(f, 0, SG_METHOD_COMMIT_FAILOVER), 1);
    assert_false(sg_lifecycle_busy(f->lc, 0));
    sg_step_rec_t rec = s_record(f, id);
    assert_true(rec.ended_ms > 0 && rec.ok);
    assert_non_null(rec.job_path);
    assert_string_equal(rec.action, "commit");
    assert_string_equal(rec.who, "alice");
    sg_step_rec_fini(&rec);
    s_fix_free(f);
}

static void test_a_step_is_refused_unless_the_engine_has_the_collection_failed_over(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new();
    uint64_t id = 0;
    char *why = NULL;
    for (int k = 0; k < SG_STEP_KIND_COUNT; k++) {
        assert_int_equal(sg_lifecycle_request(f->lc, 1, (sg_step_kind_t)k, "bob", &id, &why),
                         SG_ESTATE);
        assert_non_null(strstr(why, "not failed over"));
        free(why);
        why = NULL;
    }
    sg_engine_restore(f->engine, 1, SG_COLL_DECIDED, 7, SG_ORIGIN_ENGINE);
    assert_int_equal(sg_lifecycle_request(f->lc, 1, SG_STEP_COMMIT, "bob", &id, &why), SG_ESTATE);
    assert_non_null(strstr(why, "in flight"));
    free(why);
    assert_int_equal(s_calls(f, 1, SG_METHOD_COMMIT_FAILOVER), 0);
    sg_step_rec_t *open = NULL;
    size_t n = 9;
    assert_int_equal(sg_steps_open(f->journal, &open, &n), SG_OK);
    assert_int_equal(n, 0); /* nothing journaled for a refusal */
    sg_steps_free(open, n);
    s_fix_free(f);
}

static bool s_drill_runs(void *user) { return *(bool *)user; }

static void test_a_second_step_and_a_reverse_during_a_drill_are_refused(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new();
    s_failed_over(f, 0);
    bool drill = true;
    sg_lifecycle_set_drill_check(f->lc, s_drill_runs, &drill);
    uint64_t id = 0, id2 = 0;
    char *why = NULL;
    assert_int_equal(sg_lifecycle_request(f->lc, 0, SG_STEP_REVERSE, "bob", &id, &why), SG_ESTATE);
    assert_non_null(strstr(why, "drill"));
    free(why);
    why = NULL;
    assert_int_equal(sg_lifecycle_request(f->lc, 0, SG_STEP_COMMIT, "bob", &id, NULL), SG_OK);
    assert_int_equal(sg_lifecycle_request(f->lc, 0, SG_STEP_REVERT, "eve", &id2, &why),
                     SG_ESTATE);
    assert_non_null(strstr(why, "another step"));
    free(why);
    sg_step_result_t r = s_until_end(f, NULL, 0);
    assert_true(r.ok);
    sg_step_result_fini(&r);
    s_fix_free(f);
}

/* B's cluster cannot be reached: a commit is not called, and says why;
 * once it answers, the operator's next commit goes through. */
static void test_a_step_on_an_unreachable_side_is_not_called_and_says_why(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new_with("provider:\n  sim:\n    faults:\n"
                                "      - {unreachable: B, times: 3}\n");
    s_failed_over(f, 0); /* on the simulator's base handle, which B's fault spares */
    uint64_t id = 0;
    assert_int_equal(sg_lifecycle_request(f->lc, 0, SG_STEP_COMMIT, "alice", &id, NULL), SG_OK);
    char seen[2048];
    sg_step_result_t r = s_until_end(f, seen, sizeof seen);
    assert_false(r.ok);
    sg_step_result_fini(&r);
    assert_non_null(strstr(seen, "CommitFailover not called: its state on B could not be read "
                                 "(i/o error: the cluster could not be reached"));
    assert_int_equal(s_calls(f, 0, SG_METHOD_COMMIT_FAILOVER), 0);
    assert_int_equal(s_state(f, 0), SG_COLL_FAILED_OVER);
    assert_int_equal(sg_lifecycle_request(f->lc, 0, SG_STEP_COMMIT, "alice", &id, NULL), SG_OK);
    r = s_until_end(f, NULL, 0);
    assert_true(r.ok);
    sg_step_result_fini(&r);
    assert_int_equal(s_state(f, 0), SG_COLL_COMMITTED);
    s_fix_free(f);
}

/* The answer to CommitFailover is lost after the call was made: the next
 * attempt answers 32775 while the unseen job runs, which is not taken as a
 * failure; once the job ends the state shows the commit done, and the step
 * succeeds with one commit made. */
static void test_a_commit_whose_answer_was_lost_ends_by_the_state(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new();
    sg_lifecycle_destroy(&f->lc);
    sg_provider_t *veil = sg_veil_init(&f->veil, f->rig.sim);
    f->veil.lose_method = SG_METHOD_COMMIT_FAILOVER;
    f->veil.answers_lost = 1;
    f->lc = sg_lifecycle_new(f->rig.zctx, f->cfg, veil, &f->rig.clock, f->journal, f->engine);
    assert_non_null(f->lc);
    s_failed_over(f, 0);
    uint64_t id = 0;
    assert_int_equal(sg_lifecycle_request(f->lc, 0, SG_STEP_COMMIT, "alice", &id, NULL), SG_OK);
    char seen[2048];
    sg_step_result_t r = s_until_end(f, seen, sizeof seen);
    assert_true(r.ok);
    sg_step_result_fini(&r);
    assert_non_null(strstr(seen, "CommitFailover done (the collection is committed): the call "
                                 "whose answer was lost was made"));
    assert_int_equal(s_state(f, 0), SG_COLL_COMMITTED);
    int calls = 0, accepted = 0;
    assert_int_equal(sg_sim_counts(f->rig.sim, s_path(f, 0), SG_METHOD_COMMIT_FAILOVER, &calls,
                                   &accepted), SG_OK);
    assert_int_equal(accepted, 1);
    assert_true(calls >= 2);
    s_fix_free(f);
}

static void test_revert_of_a_committed_failover_is_not_called(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new();
    s_failed_over(f, 0);
    s_sim_do(f, 0, SG_METHOD_COMMIT_FAILOVER);
    uint64_t id = 0;
    assert_int_equal(sg_lifecycle_request(f->lc, 0, SG_STEP_REVERT, "bob", &id, NULL), SG_OK);
    sg_step_result_t r = s_until_end(f, NULL, 0);
    assert_false(r.ok);
    assert_int_equal(r.outcome->severity, SG_SEVERITY_CRITICAL);
    assert_non_null(strstr(r.outcome->message, "RevertFailover not called"));
    assert_non_null(strstr(r.outcome->message, "committed"));
    sg_step_result_fini(&r);
    assert_int_equal(s_calls(f, 0, SG_METHOD_REVERT_FAILOVER), 0);
    assert_int_equal(s_state(f, 0), SG_COLL_COMMITTED);
    s_fix_free(f);
}

static void test_revert_brings_the_collection_back_to_replicating(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new();
    s_failed_over(f, 1);
    uint64_t id = 0;
    assert_int_equal(sg_lifecycle_request(f->lc, 1, SG_STEP_REVERT, "bob", &id, NULL), SG_OK);
    sg_step_result_t r = s_until_end(f, NULL, 0);
    assert_true(r.ok);
    assert_int_equal(r.collection, 1);
    sg_step_result_fini(&r);
    assert_int_equal(s_state(f, 1), SG_COLL_REPLICATING);
    assert_int_equal(s_calls(f, 1, SG_METHOD_REVERT_FAILOVER), 1);
    s_fix_free(f);
}

/* A restart after the call, before its result was journaled: the state
 * shows the step done, and nothing is called again. */
static void test_a_resumed_step_found_done_calls_nothing(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new();
    s_failed_over(f, 0);
    uint64_t id = 0;
    assert_int_equal(sg_steps_init(f->journal), SG_OK);
    assert_int_equal(sg_steps_intent(f->journal, "c1", "commit", "alice", 0, 5, &id), SG_OK);
    s_sim_do(f, 0, SG_METHOD_COMMIT_FAILOVER); /* the call the crash hid */
    assert_int_equal(sg_lifecycle_resume(f->lc), SG_OK);
    sg_step_result_t r = s_until_end(f, NULL, 0);
    assert_true(r.ok);
    assert_true(r.step_id == id);
    assert_non_null(strstr(r.outcome->message, "already done"));
    sg_step_result_fini(&r);
    assert_int_equal(s_calls(f, 0, SG_METHOD_COMMIT_FAILOVER), 1);
    sg_step_rec_t rec = s_record(f, id);
    assert_true(rec.ended_ms > 0 && rec.ok);
    sg_step_rec_fini(&rec);
    s_fix_free(f);
}

/* A restart with the job journaled: the job is followed, not called again. */
static void test_a_resumed_step_with_a_job_follows_it(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new();
    s_failed_over(f, 0);
    sg_call_result_t call = {0};
    assert_int_equal(sg_provider_call(f->rig.sim, SG_METHOD_COMMIT_FAILOVER, s_path(f, 0), NULL,
                                      &call),
                     SG_OK);
    assert_int_equal(call.return_value, SG_RC_JOB_STARTED);
    uint64_t id = 0;
    assert_int_equal(sg_steps_init(f->journal), SG_OK);
    assert_int_equal(sg_steps_intent(f->journal, "c1", "commit", "alice", 0, 5, &id), SG_OK);
    assert_int_equal(sg_steps_job(f->journal, id, call.job_path), SG_OK);
    assert_int_equal(sg_lifecycle_resume(f->lc), SG_OK);
    sg_step_result_t r = s_until_end(f, NULL, 0);
    assert_true(r.ok);
    assert_non_null(strstr(r.outcome->message, "completed"));
    assert_string_equal(r.outcome->job_path, call.job_path);
    sg_step_result_fini(&r);
    sg_call_result_fini(&call);
    assert_int_equal(s_calls(f, 0, SG_METHOD_COMMIT_FAILOVER), 1);
    assert_int_equal(s_state(f, 0), SG_COLL_COMMITTED);
    s_fix_free(f);
}

static void test_recovery_points_are_listed_on_a_thread_with_the_token(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new();
    assert_int_equal(sg_lifecycle_list_points(f->lc, 0, 42), SG_OK);
    sg_step_result_t r;
    assert_int_equal(sg_lifecycle_recv(f->lc, &r, 10000), 1);
    assert_true(r.step_id == 0);
    assert_true(r.token == 42);
    assert_null(r.outcome);
    assert_int_equal(r.points_rc, SG_OK);
    assert_true(r.n_points > 0);
    for (size_t i = 0; i < r.n_points; i++) {
        assert_non_null(r.points[i].path);
        assert_true(r.points[i].created_ms > 0);
    }
    sg_step_result_fini(&r);
    assert_int_equal(sg_lifecycle_active(f->lc), 0);
    s_fix_free(f);
}

static void test_step_kinds_parse_and_name_their_methods(void **state)
{
    (void)state;
    sg_step_kind_t k;
    assert_int_equal(sg_step_kind_parse("reverse", &k), SG_OK);
    assert_int_equal(k, SG_STEP_REVERSE);
    assert_int_equal(sg_step_kind_parse("rollback", &k), SG_EINVAL);
    assert_string_equal(sg_method_name(sg_step_method(SG_STEP_COMMIT)), "CommitFailover");
    assert_string_equal(sg_method_name(sg_step_method(SG_STEP_REVERT)), "RevertFailover");
    assert_string_equal(sg_method_name(sg_step_method(SG_STEP_REVERSE)),
                        "ReverseReplicationRelationship");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_is_called_on_a_failed_over_collection_and_journaled),
        cmocka_unit_test(test_a_step_is_refused_unless_the_engine_has_the_collection_failed_over),
        cmocka_unit_test(test_a_second_step_and_a_reverse_during_a_drill_are_refused),
        cmocka_unit_test(test_a_step_on_an_unreachable_side_is_not_called_and_says_why),
        cmocka_unit_test(test_a_commit_whose_answer_was_lost_ends_by_the_state),
        cmocka_unit_test(test_revert_of_a_committed_failover_is_not_called),
        cmocka_unit_test(test_revert_brings_the_collection_back_to_replicating),
        cmocka_unit_test(test_a_resumed_step_found_done_calls_nothing),
        cmocka_unit_test(test_a_resumed_step_with_a_job_follows_it),
        cmocka_unit_test(test_recovery_points_are_listed_on_a_thread_with_the_token),
        cmocka_unit_test(test_step_kinds_parse_and_name_their_methods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
