/* pagerduty: Events API v2 bodies, field by field: which outcomes trigger
 * and resolve, dedup keys, and the payload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "plugin_outcomes.h"

#include "../../plugins/pagerduty/pagerduty.c"

static json_t *event(const sg_outcome_t *o)
{
    char *text = NULL;
    assert_int_equal(s_build_event(o, "R0UT1NG", "sg-host", &text), 0);
    json_t *ev = po_json(text);
    free(text);
    return ev;
}

/* The event does `action` (trigger or resolve) on incident `dedup_key`. */
static void expect_action_and_key(json_t *ev, const char *action, const char *dedup_key)
{
    assert_string_equal(po_str(ev, "event_action", NULL), action);
    assert_string_equal(po_str(ev, "dedup_key", NULL), dedup_key);
}

static void test_failed_failover_triggers_with_the_full_payload(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, "job ended in Exception");
    json_t *ev = event(o);
    assert_string_equal(po_str(ev, "routing_key", NULL), "R0UT1NG");
    expect_action_and_key(ev, "trigger", "siteguard/9/sql");
    assert_string_equal(po_str(ev, "client", NULL), "siteguard");
    assert_string_equal(po_str(ev, "payload", "summary", NULL),
                        "failover of sql from A to B failed: job ended in Exception");
    assert_string_equal(po_str(ev, "payload", "source", NULL), "sg-host");
    assert_string_equal(po_str(ev, "payload", "severity", NULL), "critical");
    assert_string_equal(po_str(ev, "payload", "timestamp", NULL), "2026-11-25T17:00:03.120Z");
    assert_string_equal(po_str(ev, "payload", "component", NULL), "sql");
    assert_string_equal(po_str(ev, "payload", "group", NULL), "A");
    assert_string_equal(po_str(ev, "payload", "class", NULL), "failed");
    json_t *want = po_json(o->json);
    assert_true(json_equal(json_object_get(json_object_get(ev, "payload"), "custom_details"), want));
    json_decref(want);
    json_decref(ev);
    sg_outcome_free(&o);
}

static void test_timed_out_and_blocked_trigger_the_same_key_success_resolves(void **state)
{
    (void)state;
    const sg_outcome_kind_t triggers[] = {SG_OUTCOME_TIMED_OUT, SG_OUTCOME_BLOCKED};
    for (size_t i = 0; i < 2; i++) {
        sg_outcome_t *o = po_outcome(triggers[i], NULL);
        json_t *ev = event(o);
        expect_action_and_key(ev, "trigger", "siteguard/9/sql");
        json_decref(ev);
        sg_outcome_free(&o);
    }
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SUCCEEDED, "in 2.1 s");
    json_t *ev = event(o);
    expect_action_and_key(ev, "resolve", "siteguard/9/sql");
    assert_string_equal(po_str(ev, "routing_key", NULL), "R0UT1NG");
    assert_null(json_object_get(ev, "payload"));
    json_decref(ev);
    sg_outcome_free(&o);
}

static void test_lost_site_triggers_its_key_and_recovery_resolves_it(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SITE_LOST, "silent for 3 s");
    json_t *ev = event(o);
    expect_action_and_key(ev, "trigger", "siteguard/site/A");
    assert_string_equal(po_str(ev, "payload", "component", NULL), "A");
    assert_string_equal(po_str(ev, "payload", "summary", NULL), "site A lost: silent for 3 s");
    json_decref(ev);
    sg_outcome_free(&o);
    o = po_outcome(SG_OUTCOME_SITE_RECOVERED, NULL);
    ev = event(o);
    expect_action_and_key(ev, "resolve", "siteguard/site/A");
    json_decref(ev);
    sg_outcome_free(&o);
}

/* A grouped block of site `site`, as notify builds it from two blocks. */
static sg_outcome_t *grouped_blocks(const char *site)
{
    sg_outcome_t *m[2];
    for (int i = 0; i < 2; i++) {
        m[i] = sg_outcome_new(SG_OUTCOME_BLOCKED, PO_WALL + i);
        assert_non_null(m[i]);
        assert_int_equal(sg_outcome_set(m[i], &m[i]->site, site), SG_OK);
        assert_int_equal(sg_outcome_set(m[i], &m[i]->collection, i ? "web" : "sql"), SG_OK);
        assert_int_equal(sg_outcome_set(m[i], &m[i]->message, "replica lagging"), SG_OK);
        assert_int_equal(sg_outcome_finish(m[i], 0), SG_OK);
    }
    sg_outcome_t *g = sg_outcome_group((const sg_outcome_t *const *)m, 2, PO_WALL,
                                       PO_WALL + 10000);
    assert_non_null(g);
    sg_outcome_free(&m[0]);
    sg_outcome_free(&m[1]);
    return g;
}

static void test_grouped_blocks_trigger_one_incident_per_site(void **state)
{
    (void)state;
    const char *sites[] = {"A", "B"}, *keys[] = {"siteguard/site/A/blocked",
                                                 "siteguard/site/B/blocked"};
    for (size_t i = 0; i < 2; i++) {
        sg_outcome_t *g = grouped_blocks(sites[i]);
        json_t *ev = event(g);
        expect_action_and_key(ev, "trigger", keys[i]);
        assert_string_equal(po_str(ev, "payload", "group", NULL), sites[i]);
        json_decref(ev);
        sg_outcome_free(&g);
    }
}

static void test_steps_that_need_no_page_are_not_sent(void **state)
{
    (void)state;
    const sg_outcome_kind_t quiet[] = {SG_OUTCOME_SITE_SUSPECT, SG_OUTCOME_DECISION,
                                       SG_OUTCOME_JOB_STARTED, SG_OUTCOME_PROGRESS};
    for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++) {
        sg_outcome_t *o = po_outcome(quiet[i], NULL);
        char *text = (char *)"unset";
        assert_int_equal(s_build_event(o, "R", "s", &text), 0);
        assert_null(text);
        sg_outcome_free(&o);
    }
}

static void test_warning_severity_is_passed_through(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_BLOCKED, "replica lagging");
    o->severity = SG_SEVERITY_WARNING;
    po_refinish(o);
    json_t *ev = event(o);
    assert_string_equal(po_str(ev, "payload", "severity", NULL), "warning");
    json_decref(ev);
    sg_outcome_free(&o);
}

static void test_summary_is_cut_to_1024_bytes(void **state)
{
    (void)state;
    char long_message[3000];
    memset(long_message, 'x', sizeof long_message - 1);
    long_message[sizeof long_message - 1] = '\0';
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, long_message);
    json_t *ev = event(o);
    const char *summary = po_str(ev, "payload", "summary", NULL);
    assert_int_equal(strlen(summary), 1024);
    assert_string_equal(summary + 1021, "...");
    json_decref(ev);
    sg_outcome_free(&o);
}

static void test_routing_key_is_required_and_secret(void **state)
{
    (void)state;
    assert_string_equal(s_keys[0].name, "routing_key");
    assert_true(s_keys[0].required);
    assert_true(s_keys[0].secret);
    assert_string_equal(s_keys[1].default_value, "https://events.pagerduty.com/v2/enqueue");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_failover_triggers_with_the_full_payload),
        cmocka_unit_test(test_timed_out_and_blocked_trigger_the_same_key_success_resolves),
        cmocka_unit_test(test_grouped_blocks_trigger_one_incident_per_site),
        cmocka_unit_test(test_lost_site_triggers_its_key_and_recovery_resolves_it),
        cmocka_unit_test(test_steps_that_need_no_page_are_not_sent),
        cmocka_unit_test(test_warning_severity_is_passed_through),
        cmocka_unit_test(test_summary_is_cut_to_1024_bytes),
        cmocka_unit_test(test_routing_key_is_required_and_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
