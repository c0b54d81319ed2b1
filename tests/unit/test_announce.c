/* announce: the outcome that tells the sinks of an engine decision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "journal/announce.h"
#include "sg_fixture.h"

#include <string.h>

static const char s_yaml[] = SG_FIXTURE_YAML_ABW "collections:\n" SG_FIXTURE_YAML_COLL_AT_A(0);

/* A decision of `kind` about site A (index 0) at wall time 1,000,000 ms. */
static sg_decision_t s_decision(sg_decision_kind_t kind, const char *reason)
{
    return (sg_decision_t){.kind = kind,
                           .site = 0,
                           .collection = -1,
                           .target_site = -1,
                           .observer = -1,
                           .at = {.mono = 5000, .wall = 1000000},
                           .reason = (char *)reason};
}

static void test_a_failover_is_announced_with_its_run_collection_and_replica_site(void **state)
{
    (void)state;
    sg_config_t *cfg = sg_fixture_config("t.yaml", s_yaml);
    sg_decision_t d = s_decision(SG_DECISION_FAILOVER, "site A is lost");
    d.collection = 0;
    d.target_site = 1;
    d.run_id = 42;
    d.point = (char *)"app";
    sg_outcome_t *o = sg_announce_decision(cfg, &d);
    assert_non_null(o);
    assert_int_equal(o->kind, SG_OUTCOME_DECISION);
    assert_int_equal(o->run_id, 42);
    assert_int_equal(o->time_ms, 1000000);
    assert_string_equal(o->site, "A");
    assert_string_equal(o->collection, "c0");
    assert_string_equal(o->cim_path, "X.CollectionID=\"0\"");
    assert_string_equal(o->replica_site, "B");
    assert_string_equal(o->message, "site A is lost");
    assert_string_equal(sg_outcome_point(o), "app");
    assert_string_equal(o->dedup_key, "42/c0/decision"); /* keyed as every run's outcome */
    assert_non_null(o->json);
    sg_outcome_free(&o);
    sg_config_destroy(&cfg);
}

static void test_a_block_is_keyed_by_site_collection_kind_and_time(void **state)
{
    (void)state;
    sg_config_t *cfg = sg_fixture_config("t.yaml", s_yaml);
    sg_decision_t d = s_decision(SG_DECISION_BLOCKED, "paused by an operator");
    d.collection = 0;
    d.guard = SG_GUARD_PAUSED;
    sg_outcome_t *o = sg_announce_decision(cfg, &d);
    assert_non_null(o);
    assert_int_equal(o->kind, SG_OUTCOME_BLOCKED);
    assert_int_equal(o->run_id, 0);
    assert_string_equal(o->dedup_key, "A/c0/blocked/1000000");
    assert_null(o->replica_site);
    sg_outcome_free(&o);
    sg_config_destroy(&cfg);
}

static void test_a_notice_about_an_observer_names_it_and_may_have_no_site(void **state)
{
    (void)state;
    sg_config_t *cfg = sg_fixture_config("t.yaml", s_yaml);
    sg_decision_t d = s_decision(SG_DECISION_NOTICE, "clock 3 s off");
    d.site = -1;
    d.observer = 2;
    sg_outcome_t *o = sg_announce_decision(cfg, &d);
    assert_non_null(o);
    assert_int_equal(o->kind, SG_OUTCOME_NOTICE);
    assert_null(o->site);
    assert_string_equal(o->dedup_key, "-/w1/notice/1000000");
    sg_outcome_free(&o);
    sg_config_destroy(&cfg);
}

static void test_each_site_change_has_its_own_outcome_kind(void **state)
{
    (void)state;
    assert_int_equal(sg_announce_kind(SG_DECISION_SITE_SUSPECT), SG_OUTCOME_SITE_SUSPECT);
    assert_int_equal(sg_announce_kind(SG_DECISION_SITE_LOST), SG_OUTCOME_SITE_LOST);
    assert_int_equal(sg_announce_kind(SG_DECISION_SITE_RECOVERED), SG_OUTCOME_SITE_RECOVERED);
    assert_int_equal(sg_announce_kind(SG_DECISION_SITE_CONTESTED), SG_OUTCOME_SITE_CONTESTED);
    sg_config_t *cfg = sg_fixture_config("t.yaml", s_yaml);
    sg_decision_t d = s_decision(SG_DECISION_SITE_LOST, "A silent for 10 s");
    sg_outcome_t *o = sg_announce_decision(cfg, &d);
    assert_non_null(o);
    assert_string_equal(o->dedup_key, "A/-/site_lost/1000000");
    assert_null(o->collection);
    sg_outcome_free(&o);
    sg_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_failover_is_announced_with_its_run_collection_and_replica_site),
        cmocka_unit_test(test_a_block_is_keyed_by_site_collection_kind_and_time),
        cmocka_unit_test(test_a_notice_about_an_observer_names_it_and_may_have_no_site),
        cmocka_unit_test(test_each_site_change_has_its_own_outcome_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
