/* statusfeed: what the status page remembers of the loop's decisions,
 * intents and outcomes, and of the journal at start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "control/statusfeed.h"
#include "base/err.h"
#include "journal/outcome.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg_fixture.h"

#define T0 1800000000000LL

static const char s_yaml[] = SG_FIXTURE_YAML_ABW "collections:\n" SG_FIXTURE_YAML_COLL_AT_A(1)
    SG_FIXTURE_YAML_COLL_AT_A(2) SG_FIXTURE_YAML_COLL_AT_A(3);

static sg_decision_t s_decision(sg_decision_kind_t kind, int site, int coll, uint64_t run,
                                int64_t wall, const char *reason)
{
    return (sg_decision_t){.kind = kind, .site = site, .collection = coll, .run_id = run,
                           .at = {wall - T0, wall}, .reason = (char *)reason};
}

/* Feeds one step of run `run` of collection `c` with an outcome of `kind`;
 * `end`: 0 open, 1 failed over, 2 failed, 3 cancelled. */
static void s_step(sg_statusfeed_t *f, sg_outcome_kind_t kind, uint64_t run, int c,
                   int64_t wall, int percent, const char *message, int end)
{
    sg_outcome_t *o = sg_outcome_new(kind, wall);
    assert_non_null(o);
    o->run_id = run;
    o->percent = percent;
    o->attempt = 1;
    assert_int_equal(sg_outcome_set(o, &o->message, message), SG_OK);
    if (kind == SG_OUTCOME_JOB_STARTED)
        assert_int_equal(sg_outcome_set(o, &o->job_path, "job-7"), SG_OK);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
    sg_feed_step_t step = {.collection = c, .run_id = run, .outcome = o, .ended = end > 0,
                           .failed_over = end == 1, .cancelled = end == 3,
                           .wall_ms = wall + 1};
    assert_int_equal(sg_statusfeed_step(f, &step), SG_OK);
    sg_outcome_free(&o);
}

static void test_a_run_is_followed_step_by_step_from_decision_to_end(void **state)
{
    (void)state;
    sg_config_t *cfg = sg_fixture_config("t.yaml", s_yaml);
    sg_statusfeed_t *f = sg_statusfeed_new(cfg);
    char buf[48];
    assert_null(sg_statusfeed_run(f, 0));

    sg_decision_t lost = s_decision(SG_DECISION_SITE_LOST, 0, -1, 0, T0, "A lost");
    assert_int_equal(sg_statusfeed_decision(f, &lost), SG_OK);
    assert_int_equal(sg_statusfeed_lost_ms(f, 0), T0);
    assert_int_equal(sg_statusfeed_lost_ms(f, 1), 0);

    sg_decision_t held = s_decision(SG_DECISION_BLOCKED, 0, 1, 0, T0, "held back: \"plan\" <x>");
    assert_int_equal(sg_statusfeed_decision(f, &held), SG_OK);
    assert_string_equal(sg_statusfeed_hold(f, 1), "held back: \"plan\" <x>");

    sg_decision_t d = s_decision(SG_DECISION_FAILOVER, 0, 0, 7, T0 + 10, "fail c1 over");
    d.origin = SG_ORIGIN_FORCED;
    d.point = (char *)"latest";
    assert_int_equal(sg_statusfeed_decision(f, &d), SG_OK);
    const sg_feed_run_t *r = sg_statusfeed_run(f, 0);
    assert_non_null(r);
    assert_int_equal(r->run_id, 7);
    assert_int_equal(r->decided_ms, T0 + 10);
    assert_string_equal(r->origin, "forced");
    assert_string_equal(r->point, "latest");
    assert_string_equal(sg_feed_run_state(r, buf, sizeof buf), "decided");

    sg_statusfeed_intent(f, 0, T0 + 20);
    sg_statusfeed_intent(f, 0, T0 + 25); /* the first intent counts */
    assert_int_equal(r->intent_ms, T0 + 20);
    assert_string_equal(sg_feed_run_state(r, buf, sizeof buf), "calling");

    s_step(f, SG_OUTCOME_JOB_STARTED, 7, 0, T0 + 30, -1, "started", 0);
    assert_int_equal(r->called_ms, T0 + 30);
    assert_string_equal(r->job_path, "job-7");
    assert_string_equal(sg_feed_run_state(r, buf, sizeof buf), "running");
    s_step(f, SG_OUTCOME_PROGRESS, 7, 0, T0 + 40, 40, "40%", 0);
    assert_int_equal(r->percent, 40);
    assert_int_equal(r->progress_ms, T0 + 40);
    assert_string_equal(sg_feed_run_state(r, buf, sizeof buf), "running 40%");
    s_step(f, SG_OUTCOME_PROGRESS, 6, 0, T0 + 45, 90, "an older run's", 0); /* ignored */
    assert_int_equal(r->percent, 40);
    s_step(f, SG_OUTCOME_SUCCEEDED, 7, 0, T0 + 50, -1, "c1 failed over", 1);
    assert_int_equal(r->ended_ms, T0 + 51); /* as the journal records it */
    assert_int_equal(r->end, SG_FEED_SUCCEEDED);
    assert_int_equal(r->percent, 100);
    assert_string_equal(r->message, "c1 failed over");
    assert_string_equal(sg_feed_run_state(r, buf, sizeof buf), "succeeded");

    /* a new run of c2 clears the reason it was held back for */
    sg_decision_t d2 = s_decision(SG_DECISION_FAILOVER, 0, 1, 8, T0 + 60, "fail c2 over");
    assert_int_equal(sg_statusfeed_decision(f, &d2), SG_OK);
    assert_null(sg_statusfeed_hold(f, 1));
    assert_null(sg_statusfeed_run(f, 1)->origin);
    s_step(f, SG_OUTCOME_CANCELLED, 8, 1, T0 + 70, -1, "proof failed", 3);
    assert_int_equal(sg_statusfeed_run(f, 1)->end, SG_FEED_CANCELLED);
    s_step(f, SG_OUTCOME_JOB_STARTED, 9, 7, T0 + 80, -1, "x", 0); /* no such collection */
    /* a failed run, and one whose job passed its timeout */
    sg_decision_t d3 = s_decision(SG_DECISION_FAILOVER, 0, 2, 10, T0 + 90, "fail c3 over");
    assert_int_equal(sg_statusfeed_decision(f, &d3), SG_OK);
    s_step(f, SG_OUTCOME_TIMED_OUT, 10, 2, T0 + 95, -1, "job timed out", 0);
    assert_string_equal(sg_feed_run_state(sg_statusfeed_run(f, 2), buf, sizeof buf), "timed out");
    s_step(f, SG_OUTCOME_FAILED, 10, 2, T0 + 99, -1, "failed", 2);
    assert_int_equal(sg_statusfeed_run(f, 2)->end, SG_FEED_FAILED);

    sg_statusfeed_destroy(&f);
    assert_null(f);
    sg_config_destroy(&cfg);
}

static void test_seeded_from_the_journals_latest_runs(void **state)
{
    (void)state;
    sg_config_t *cfg = sg_fixture_config("t.yaml", s_yaml);
    sg_statusfeed_t *f = sg_statusfeed_new(cfg);
    sg_journal_run_t runs[] = {
        {.run_id = 3, .collection = "c1", .decided_ms = T0, .intent_ms = T0 + 1,
         .job_path = "job-3", .ended_ms = T0 + 9, .failed_over = true},
        {.run_id = 4, .collection = "c2", .decided_ms = T0 + 2, .ended_ms = T0 + 3,
         .abandoned = true, .origin = "manual", .point = "app"},
        {.run_id = 5, .collection = "c3", .decided_ms = T0 + 4, .intent_ms = T0 + 5},
        {.run_id = 6, .collection = "gone", .decided_ms = T0 + 6},
    };
    assert_int_equal(sg_statusfeed_seed(f, runs, 4), SG_OK);
    char buf[48];
    assert_int_equal(sg_statusfeed_run(f, 0)->end, SG_FEED_SUCCEEDED);
    assert_string_equal(sg_statusfeed_run(f, 0)->job_path, "job-3");
    assert_int_equal(sg_statusfeed_run(f, 1)->end, SG_FEED_ABANDONED);
    assert_string_equal(sg_statusfeed_run(f, 1)->origin, "manual");
    assert_string_equal(sg_statusfeed_run(f, 1)->point, "app");
    assert_string_equal(sg_feed_run_state(sg_statusfeed_run(f, 2), buf, sizeof buf), "calling");
    /* resumed after the restart: its job comes back, its steps go on */
    s_step(f, SG_OUTCOME_JOB_STARTED, 5, 2, T0 + 7, -1, "followed again", 0);
    assert_int_equal(sg_statusfeed_run(f, 2)->called_ms, T0 + 7);
    assert_int_equal(sg_statusfeed_run(f, 2)->intent_ms, T0 + 5);
    sg_statusfeed_destroy(&f);
    sg_config_destroy(&cfg);
}

/* A storm's 10,000 collections: seeded from the journal by name (a hash
 * table, not a scan of the config for each), then each run's steps. */
static void test_ten_thousand_collections_are_found_by_name(void **state)
{
    (void)state;
    enum { N = 10000 };
    size_t cap = 200 + N * 120, len = 0;
    char *yaml = malloc(cap);
    len += (size_t)snprintf(yaml + len, cap - len, "%scollections:\n", SG_FIXTURE_YAML_ABW);
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(yaml + len, cap - len,
                                "  - name: vm-%05d\n    cim_path: 'X.CollectionID=\"%d\"'\n"
                                "    site: A\n    replica_site: B\n",
                                i, i);
    sg_config_t *cfg = sg_fixture_config("big.yaml", yaml);
    free(yaml);
    sg_statusfeed_t *f = sg_statusfeed_new(cfg);
    assert_non_null(f);
    sg_journal_run_t *runs = calloc(N, sizeof *runs);
    char (*names)[16] = calloc(N, sizeof *names);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "vm-%05d", N - 1 - i);
        runs[i] = (sg_journal_run_t){.run_id = (uint64_t)i + 1, .collection = names[i],
                                     .decided_ms = T0 + i};
    }
    assert_int_equal(sg_statusfeed_seed(f, runs, N), SG_OK);
    for (int i = 0; i < N; i++) {
        int c = N - 1 - i;
        assert_int_equal(sg_statusfeed_run(f, c)->run_id, (uint64_t)i + 1);
        s_step(f, SG_OUTCOME_SUCCEEDED, (uint64_t)i + 1, c, T0 + N + i, -1, "done", 1);
        assert_int_equal(sg_statusfeed_run(f, c)->end, SG_FEED_SUCCEEDED);
    }
    free(runs);
    free(names);
    sg_statusfeed_destroy(&f);
    sg_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_run_is_followed_step_by_step_from_decision_to_end),
        cmocka_unit_test(test_seeded_from_the_journals_latest_runs),
        cmocka_unit_test(test_ten_thousand_collections_are_found_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
