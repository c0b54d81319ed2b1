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

static void test_a_held_decision_is_announced_for_the_record_with_held_set(void **state)
{
    (void)state;
    sg_config_t *cfg = sg_fixture_config("t.yaml", s_yaml);
    sg_decision_t d = s_decision(SG_DECISION_SITE_SUSPECT, "A silent for 3 s");
    sg_outcome_t *o = sg_announce_held(cfg, &d, "flapping");
    assert_non_null(o);
    assert_int_equal(o->kind, SG_OUTCOME_SITE_SUSPECT);
    assert_string_equal(o->dedup_key, "A/-/site_suspect/1000000");
    assert_string_equal(sg_outcome_held(o), "flapping");
    assert_non_null(strstr(o->json, "\"held\":\"flapping\""));
    sg_outcome_free(&o);
    o = sg_announce_decision(cfg, &d);
    assert_null(sg_outcome_held(o));
    assert_null(strstr(o->json, "held"));
    sg_outcome_free(&o);
    sg_config_destroy(&cfg);
}

/* A notice of site A (index 0) at wall time 2,000,000 ms. */
static sg_flap_notice_t s_flap(sg_flap_event_t event, sg_flap_cause_t cause,
                               sg_site_state_t state)
{
    return (sg_flap_notice_t){.event = event, .cause = cause, .site = 0, .changes = 5,
                              .held = 12, .window_ms = 60000, .state = state,
                              .at = {.mono = 9000, .wall = 2000000}};
}

static void test_a_flapping_site_is_announced_once_with_its_rule(void **state)
{
    (void)state;
    sg_config_t *cfg = sg_fixture_config("t.yaml", s_yaml);
    sg_flap_notice_t n = s_flap(SG_FLAP_STARTED, SG_FLAP_STEADY, SG_SITE_SUSPECT);
    sg_outcome_t *o = sg_announce_flap(cfg, &n);
    assert_non_null(o);
    assert_int_equal(o->kind, SG_OUTCOME_SITE_FLAPPING);
    assert_int_equal(o->severity, SG_SEVERITY_WARNING);
    assert_int_equal(o->time_ms, 2000000);
    assert_int_equal(o->run_id, 0);
    assert_string_equal(o->site, "A");
    assert_string_equal(o->message, "site A is flapping: 5 changes in 60 s; its "
                                    "suspect/recovered notices are held until it is steady "
                                    "for 60 s");
    assert_string_equal(o->dedup_key, "A/-/site_flapping/2000000/started");
    assert_null(sg_outcome_held(o));
    sg_outcome_free(&o);
    sg_config_destroy(&cfg);
}

static void test_the_end_of_flapping_names_what_was_held_and_the_state_now(void **state)
{
    (void)state;
    sg_config_t *cfg = sg_fixture_config("t.yaml", s_yaml);
    sg_flap_notice_t n = s_flap(SG_FLAP_ENDED, SG_FLAP_STEADY, SG_SITE_HEALTHY);
    n.window_ms = 1500;
    sg_outcome_t *o = sg_announce_flap(cfg, &n);
    assert_non_null(o);
    assert_int_equal(o->kind, SG_OUTCOME_SITE_FLAPPING);
    assert_int_equal(o->severity, SG_SEVERITY_INFO);
    assert_string_equal(o->message,
                        "site A stopped flapping (12 changes held); it is now healthy: no "
                        "change for 1.5 s");
    assert_string_equal(o->dedup_key, "A/-/site_flapping/2000000/ended");
    sg_outcome_free(&o);

    n = s_flap(SG_FLAP_ENDED, SG_FLAP_STEADY, SG_SITE_SUSPECT);
    n.held = 1;
    o = sg_announce_flap(cfg, &n);
    assert_int_equal(o->severity, SG_SEVERITY_WARNING);
    assert_string_equal(o->message, "site A stopped flapping (1 change held); it is now "
                                    "suspect: no change for 60 s");
    sg_outcome_free(&o);

    n = s_flap(SG_FLAP_ENDED, SG_FLAP_LOSS, SG_SITE_LOST);
    o = sg_announce_flap(cfg, &n);
    assert_int_equal(o->severity, SG_SEVERITY_WARNING);
    assert_string_equal(o->message, "site A stopped flapping (12 changes held); it is now lost");
    sg_outcome_free(&o);

    n = s_flap(SG_FLAP_ENDED, SG_FLAP_OFF, SG_SITE_HEALTHY);
    o = sg_announce_flap(cfg, &n);
    assert_string_equal(o->message, "site A stopped flapping (12 changes held); it is now "
                                    "healthy (policy.flapping is off)");
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
        cmocka_unit_test(test_a_held_decision_is_announced_for_the_record_with_held_set),
        cmocka_unit_test(test_a_flapping_site_is_announced_once_with_its_rule),
        cmocka_unit_test(test_the_end_of_flapping_names_what_was_held_and_the_state_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
