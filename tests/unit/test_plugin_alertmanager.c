/* alertmanager: alerts fired and resolved, labels equal on both, times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "plugin_outcomes.h"

#include "../../plugins/alertmanager/alertmanager.c"

#include <stdio.h>

#define HOLD INT64_C(3600000)

static json_t *alerts(const sg_outcome_t *o, const char *generator)
{
    char *text = NULL;
    assert_int_equal(s_build_alerts(o, generator, HOLD, NULL, &text), 0);
    json_t *a = po_json(text);
    free(text);
    assert_true(json_is_array(a));
    return a;
}

static void test_failed_fires_one_alert_with_labels_annotations_and_times(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, "job ended in Exception");
    json_t *list = alerts(o, "http://sg.example/ui");
    assert_int_equal(json_array_size(list), 1);
    json_t *a = json_array_get(list, 0);
    json_t *want_labels = json_pack("{s:s, s:s, s:s, s:s, s:s}", "alertname",
                                    "SiteguardFailoverFailed", "kind", "failed", "severity",
                                    "critical", "site", "A", "collection", "sql");
    assert_true(json_equal(json_object_get(a, "labels"), want_labels));
    json_decref(want_labels);
    assert_string_equal(po_str(a, "annotations", "summary", NULL),
                        "failover of sql from A to B failed: job ended in Exception");
    assert_string_equal(po_str(a, "annotations", "description", NULL), "job ended in Exception");
    assert_string_equal(po_str(a, "annotations", "run_id", NULL), "9");
    assert_string_equal(po_str(a, "annotations", "dedup_key", NULL), "9/sql/failed");
    assert_string_equal(po_str(a, "startsAt", NULL), "2026-11-25T17:00:03.120Z");
    assert_string_equal(po_str(a, "endsAt", NULL), "2026-11-25T18:00:03.120Z");
    assert_string_equal(po_str(a, "generatorURL", NULL), "http://sg.example/ui");
    json_decref(list);
    sg_outcome_free(&o);
}

static void test_success_of_a_collection_not_heard_of_resolves_all_three_with_equal_labels(void **state)
{
    (void)state;
    sg_outcome_t *failed = po_outcome(SG_OUTCOME_FAILED, NULL);
    json_t *fired = alerts(failed, NULL);
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SUCCEEDED, "in 2 s");
    json_t *list = alerts(o, NULL);
    assert_int_equal(json_array_size(list), 3);
    const char *names[] = {"SiteguardFailoverFailed", "SiteguardFailoverTimedOut",
                           "SiteguardFailoverBlocked"};
    for (size_t i = 0; i < 3; i++) {
        json_t *a = json_array_get(list, i);
        assert_string_equal(po_str(a, "labels", "alertname", NULL), names[i]);
        assert_string_equal(po_str(a, "labels", "collection", NULL), "sql");
        assert_string_equal(po_str(a, "endsAt", NULL), "2026-11-25T17:00:03.120Z");
        assert_null(json_object_get(a, "generatorURL"));
    }
    assert_true(json_equal(json_object_get(json_array_get(list, 0), "labels"),
                           json_object_get(json_array_get(fired, 0), "labels")));
    json_decref(list);
    json_decref(fired);
    sg_outcome_free(&o);
    sg_outcome_free(&failed);
}

/* The names of the alerts the sink would post for `o` now (s_build with its
 * memory), "" when it posts nothing. */
static void posted(const s_am_t *am, const sg_outcome_t *o, char *names, size_t len)
{
    char *text = NULL;
    assert_int_equal(s_build(o, am, &text), 0);
    names[0] = '\0';
    json_t *list = text ? po_json(text) : NULL;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *n = po_str(json_array_get(list, i), "labels", "alertname", NULL);
        snprintf(names + strlen(names), len - strlen(names), "%s%s", i ? "," : "", n);
    }
    json_decref(list);
    free(text);
}

/* Once the sink has heard of a collection, a success resolves only the
 * alerts it fired for it (Alertmanager would list the others as resolved
 * in the group's notification), and nothing when none fired; then a new
 * failure fires again and the next success resolves that one. */
static void test_success_resolves_only_the_alerts_that_fired(void **state)
{
    (void)state;
    s_am_t am = {.hold_ms = HOLD, .fired = json_object(), .heard = json_object()};
    char names[256];
    sg_outcome_t *decision = po_outcome(SG_OUTCOME_DECISION, NULL);
    sg_outcome_t *failed = po_outcome(SG_OUTCOME_FAILED, NULL);
    sg_outcome_t *ok = po_outcome(SG_OUTCOME_SUCCEEDED, NULL);
    posted(&am, ok, names, sizeof names); /* not heard of: all three */
    assert_string_equal(names, "SiteguardFailoverFailed,SiteguardFailoverTimedOut,"
                               "SiteguardFailoverBlocked");
    s_remember(&am, decision); /* heard of now, nothing fired */
    posted(&am, ok, names, sizeof names);
    assert_string_equal(names, "");
    s_remember(&am, failed);
    posted(&am, ok, names, sizeof names);
    assert_string_equal(names, "SiteguardFailoverFailed");
    s_remember(&am, ok); /* resolved: forgotten */
    posted(&am, ok, names, sizeof names);
    assert_string_equal(names, "");
    s_remember(&am, failed);
    posted(&am, ok, names, sizeof names);
    assert_string_equal(names, "SiteguardFailoverFailed");
    sg_outcome_free(&decision);
    sg_outcome_free(&failed);
    sg_outcome_free(&ok);
    json_decref(am.fired);
    json_decref(am.heard);
}

static void test_site_lost_fires_and_recovery_resolves_without_collection_label(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SITE_LOST, NULL);
    json_t *list = alerts(o, NULL);
    assert_int_equal(json_array_size(list), 1);
    json_t *labels = json_object_get(json_array_get(list, 0), "labels");
    assert_string_equal(po_str(labels, "alertname", NULL), "SiteguardSiteLost");
    assert_string_equal(po_str(labels, "site", NULL), "A");
    assert_null(json_object_get(labels, "collection"));
    json_t *fired_labels = json_incref(labels);
    json_decref(list);
    sg_outcome_free(&o);
    o = po_outcome(SG_OUTCOME_SITE_RECOVERED, NULL);
    list = alerts(o, NULL);
    json_t *a = json_array_get(list, 0);
    assert_true(json_equal(json_object_get(a, "labels"), fired_labels));
    assert_string_equal(po_str(a, "endsAt", NULL), po_str(a, "startsAt", NULL));
    json_decref(fired_labels);
    json_decref(list);
    sg_outcome_free(&o);
}

static void test_steps_are_not_sent(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_PROGRESS, NULL);
    char *text = (char *)"unset";
    assert_int_equal(s_build_alerts(o, NULL, HOLD, NULL, &text), 0);
    assert_null(text);
    sg_outcome_free(&o);
}

static void test_url_gets_the_alerts_path_once(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"http://127.0.0.1:9093", "http://127.0.0.1:9093/api/v2/alerts"},
        {"http://127.0.0.1:9093/", "http://127.0.0.1:9093/api/v2/alerts"},
        {"http://am/api/v2/alerts", "http://am/api/v2/alerts"},
    };
    for (size_t i = 0; i < 3; i++) {
        char *u = s_alerts_url(cases[i][0]);
        assert_string_equal(u, cases[i][1]);
        free(u);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_fires_one_alert_with_labels_annotations_and_times),
        cmocka_unit_test(test_success_of_a_collection_not_heard_of_resolves_all_three_with_equal_labels),
        cmocka_unit_test(test_success_resolves_only_the_alerts_that_fired),
        cmocka_unit_test(test_site_lost_fires_and_recovery_resolves_without_collection_label),
        cmocka_unit_test(test_steps_are_not_sent),
        cmocka_unit_test(test_url_gets_the_alerts_path_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
