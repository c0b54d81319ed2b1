/* Outcomes: defaults, dedup keys, JSON, copies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "journal/outcome.h"

#include <jansson.h>

#include <stdlib.h>
#include <string.h>

/* 2026-11-25T17:00:00.123Z */
#define T0 INT64_C(1795626000123)

static const sg_outcome_kind_t s_all_kinds[] = {
    SG_OUTCOME_SITE_SUSPECT, SG_OUTCOME_SITE_LOST, SG_OUTCOME_SITE_RECOVERED,
    SG_OUTCOME_DECISION,     SG_OUTCOME_BLOCKED,   SG_OUTCOME_JOB_STARTED,
    SG_OUTCOME_PROGRESS,     SG_OUTCOME_SUCCEEDED, SG_OUTCOME_FAILED,
    SG_OUTCOME_TIMED_OUT,
};
#define N_KINDS (sizeof s_all_kinds / sizeof s_all_kinds[0])

/* A finished outcome about collection "sql" of run 42, A -> B. */
static sg_outcome_t *s_job_outcome(sg_outcome_kind_t kind, int percent)
{
    sg_outcome_t *o = sg_outcome_new(kind, T0);
    assert_non_null(o);
    o->run_id = 42;
    o->percent = percent;
    assert_int_equal(sg_outcome_set(o, &o->site, "A"), SG_OK);
    assert_int_equal(sg_outcome_set(o, &o->replica_site, "B"), SG_OK);
    assert_int_equal(sg_outcome_set(o, &o->collection, "sql"), SG_OK);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
    return o;
}

static json_t *s_parse(const sg_outcome_t *o)
{
    assert_non_null(o->json);
    json_error_t err;
    json_t *root = json_loads(o->json, 0, &err);
    assert_non_null(root);
    assert_true(json_is_object(root));
    return root;
}

static const char *s_str(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    assert_non_null(v);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static long long s_int(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    assert_non_null(v);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* The JSON of `o` has the string `want` at `key`. */
static void s_expect_json_string(const sg_outcome_t *o, const char *key, const char *want)
{
    json_t *root = s_parse(o);
    assert_string_equal(s_str(root, key), want);
    json_decref(root);
}

/* An outcome of `kind` at `time_ms` with nothing else set, finished. */
static sg_outcome_t *s_bare_finished(sg_outcome_kind_t kind, int64_t time_ms)
{
    sg_outcome_t *o = sg_outcome_new(kind, time_ms);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
    return o;
}

static void test_new_outcome_has_its_kind_time_and_unknown_percent(void **state)
{
    (void)state;
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_PROGRESS, T0);
    assert_non_null(o);
    assert_int_equal(o->struct_size, sizeof(sg_outcome_t));
    assert_int_equal(o->kind, SG_OUTCOME_PROGRESS);
    assert_true(o->time_ms == T0);
    assert_int_equal(o->percent, -1);
    assert_null(o->site);
    assert_null(o->json);
    sg_outcome_free(&o);
    assert_null(o);
}

static void test_default_severity_follows_the_kind(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_KINDS; i++) {
        sg_outcome_t *o = s_job_outcome(s_all_kinds[i], -1);
        sg_severity_t want = SG_SEVERITY_INFO;
        switch (s_all_kinds[i]) {
        case SG_OUTCOME_SITE_LOST:
        case SG_OUTCOME_FAILED:
        case SG_OUTCOME_TIMED_OUT:
        case SG_OUTCOME_BLOCKED: want = SG_SEVERITY_CRITICAL; break;
        case SG_OUTCOME_SITE_SUSPECT:
        case SG_OUTCOME_DECISION: want = SG_SEVERITY_WARNING; break;
        default: break;
        }
        assert_int_equal(o->severity, want);
        s_expect_json_string(o, "severity", sg_severity_name(want));
        sg_outcome_free(&o);
    }
}

static void test_severity_set_by_the_caller_is_kept(void **state)
{
    (void)state;
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_SUCCEEDED, T0);
    o->severity = SG_SEVERITY_CRITICAL;
    assert_int_equal(sg_outcome_finish(o, 1), SG_OK);
    assert_int_equal(o->severity, SG_SEVERITY_CRITICAL);
    s_expect_json_string(o, "severity", "critical");
    sg_outcome_free(&o);
}

static void test_json_of_every_kind_names_the_kind_and_carries_common_keys(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_KINDS; i++) {
        int percent = s_all_kinds[i] == SG_OUTCOME_PROGRESS ? 40 : -1;
        sg_outcome_t *o = s_job_outcome(s_all_kinds[i], percent);
        json_t *root = s_parse(o);
        assert_string_equal(s_str(root, "kind"), sg_outcome_kind_name(s_all_kinds[i]));
        assert_string_equal(s_str(root, "time"), "2026-11-25T17:00:00.123Z");
        assert_true(s_int(root, "time_ms") == T0);
        assert_int_equal(s_int(root, "run_id"), 42);
        assert_string_equal(s_str(root, "dedup_key"), o->dedup_key);
        assert_string_equal(s_str(root, "site"), "A");
        assert_string_equal(s_str(root, "replica_site"), "B");
        assert_string_equal(s_str(root, "collection"), "sql");
        json_decref(root);
        sg_outcome_free(&o);
    }
}

static void test_kind_names_are_snake_case_words(void **state)
{
    (void)state;
    assert_string_equal(sg_outcome_kind_name(SG_OUTCOME_SITE_SUSPECT), "site_suspect");
    assert_string_equal(sg_outcome_kind_name(SG_OUTCOME_SITE_LOST), "site_lost");
    assert_string_equal(sg_outcome_kind_name(SG_OUTCOME_SITE_RECOVERED), "site_recovered");
    assert_string_equal(sg_outcome_kind_name(SG_OUTCOME_DECISION), "decision");
    assert_string_equal(sg_outcome_kind_name(SG_OUTCOME_BLOCKED), "blocked");
    assert_string_equal(sg_outcome_kind_name(SG_OUTCOME_JOB_STARTED), "job_started");
    assert_string_equal(sg_outcome_kind_name(SG_OUTCOME_PROGRESS), "progress");
    assert_string_equal(sg_outcome_kind_name(SG_OUTCOME_SUCCEEDED), "succeeded");
    assert_string_equal(sg_outcome_kind_name(SG_OUTCOME_FAILED), "failed");
    assert_string_equal(sg_outcome_kind_name(SG_OUTCOME_TIMED_OUT), "timed_out");
    assert_string_equal(sg_severity_name(SG_SEVERITY_INFO), "info");
    assert_string_equal(sg_severity_name(SG_SEVERITY_WARNING), "warning");
    assert_string_equal(sg_severity_name(SG_SEVERITY_CRITICAL), "critical");
}

static void test_failed_job_json_carries_the_job_numbers_and_message(void **state)
{
    (void)state;
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_FAILED, T0);
    o->run_id = 7;
    o->percent = 60;
    o->job_state = 10;
    o->return_value = 4096;
    o->error_code = 32789;
    o->attempt = 2;
    assert_int_equal(sg_outcome_set(o, &o->collection, "web"), SG_OK);
    const char *cim_path = "Msvm_VirtualSystemCollection.Id=\"x\"";
    assert_int_equal(sg_outcome_set(o, &o->cim_path, cim_path), SG_OK);
    assert_int_equal(sg_outcome_set(o, &o->job_path, "Msvm_ConcreteJob.InstanceID=\"j\""), SG_OK);
    assert_int_equal(sg_outcome_setf(o, &o->message, "job ended in %s", "Exception"), SG_OK);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
    json_t *root = s_parse(o);
    assert_int_equal(s_int(root, "percent"), 60);
    assert_int_equal(s_int(root, "job_state"), 10);
    assert_int_equal(s_int(root, "return_value"), 4096);
    assert_int_equal(s_int(root, "error_code"), 32789);
    assert_int_equal(s_int(root, "attempt"), 2);
    assert_string_equal(s_str(root, "cim_path"), "Msvm_VirtualSystemCollection.Id=\"x\"");
    assert_string_equal(s_str(root, "job_path"), "Msvm_ConcreteJob.InstanceID=\"j\"");
    assert_string_equal(s_str(root, "message"), "job ended in Exception");
    assert_string_equal(s_str(root, "dedup_key"), "7/web/failed");
    json_decref(root);
    sg_outcome_free(&o);
}

static void test_unset_fields_are_left_out_of_the_json(void **state)
{
    (void)state;
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_SITE_LOST, T0);
    assert_int_equal(sg_outcome_set(o, &o->site, "A"), SG_OK);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
    json_t *root = s_parse(o);
    const char *absent[] = {"replica_site", "collection", "cim_path", "job_path", "percent",
                            "job_state",    "return_value", "error_code", "attempt", "message"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        assert_null(json_object_get(root, absent[i]));
    /* kind, severity, time, time_ms, dedup_key, run_id, site */
    assert_int_equal(json_object_size(root), 7);
    assert_string_equal(s_str(root, "dedup_key"), "0/A/site_lost");
    json_decref(root);
    sg_outcome_free(&o);
}

static void test_time_before_the_epoch_is_rendered_with_positive_milliseconds(void **state)
{
    (void)state;
    sg_outcome_t *o = s_bare_finished(SG_OUTCOME_SITE_SUSPECT, -1);
    s_expect_json_string(o, "time", "1969-12-31T23:59:59.999Z");
    sg_outcome_free(&o);
}

static void test_times_render_as_the_proleptic_gregorian_date_before_and_after_1970(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {INT64_C(-2208988800000), "1900-01-01T00:00:00.000Z"},
        {INT64_C(-2203891200000), "1900-03-01T00:00:00.000Z"}, /* 1900 is no leap year */
        {INT64_C(-11670998400000), "1600-02-29T00:00:00.000Z"}, /* 1600 is one */
        {INT64_C(-62135596800000), "0001-01-01T00:00:00.000Z"},
        {INT64_C(951827696789), "2000-02-29T12:34:56.789Z"},
        {INT64_C(4107542399999), "2100-02-28T23:59:59.999Z"},
        {INT64_C(253402300799999), "9999-12-31T23:59:59.999Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sg_outcome_t *o = s_bare_finished(SG_OUTCOME_SITE_SUSPECT, cases[i].ms);
        s_expect_json_string(o, "time", cases[i].text);
        sg_outcome_free(&o);
    }
}

static void test_dedup_key_is_run_subject_and_kind(void **state)
{
    (void)state;
    sg_outcome_t *d = s_job_outcome(SG_OUTCOME_DECISION, -1);
    assert_string_equal(d->dedup_key, "42/sql/decision");
    sg_outcome_free(&d);
    sg_outcome_t *p = s_job_outcome(SG_OUTCOME_PROGRESS, 40);
    assert_string_equal(p->dedup_key, "42/sql/progress/40");
    sg_outcome_free(&p);
}

static void test_dedup_keys_are_stable_for_the_same_outcome(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_KINDS; i++) {
        sg_outcome_t *a = s_job_outcome(s_all_kinds[i], 10);
        sg_outcome_t *b = s_job_outcome(s_all_kinds[i], 10);
        assert_string_equal(a->dedup_key, b->dedup_key);
        assert_string_equal(a->json, b->json);
        char *before = strdup(a->dedup_key);
        assert_int_equal(sg_outcome_finish(a, 0), SG_OK);
        assert_string_equal(a->dedup_key, before);
        free(before);
        sg_outcome_free(&a);
        sg_outcome_free(&b);
    }
}

static void test_dedup_keys_differ_per_kind_and_per_percent(void **state)
{
    (void)state;
    sg_outcome_t *o[N_KINDS + 2];
    for (size_t i = 0; i < N_KINDS; i++)
        o[i] = s_job_outcome(s_all_kinds[i], 10);
    o[N_KINDS] = s_job_outcome(SG_OUTCOME_PROGRESS, 20);
    o[N_KINDS + 1] = s_job_outcome(SG_OUTCOME_PROGRESS, 100);
    for (size_t i = 0; i < N_KINDS + 2; i++) {
        for (size_t j = i + 1; j < N_KINDS + 2; j++)
            assert_string_not_equal(o[i]->dedup_key, o[j]->dedup_key);
    }
    for (size_t i = 0; i < N_KINDS + 2; i++)
        sg_outcome_free(&o[i]);
}

static void test_dedup_key_set_by_the_caller_is_kept_and_rendered(void **state)
{
    (void)state;
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_BLOCKED, T0);
    assert_int_equal(sg_outcome_set(o, &o->dedup_key, "custom-1"), SG_OK);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
    assert_string_equal(o->dedup_key, "custom-1");
    s_expect_json_string(o, "dedup_key", "custom-1");
    sg_outcome_free(&o);
}

static void test_finish_renders_json_that_matches_render_json(void **state)
{
    (void)state;
    sg_outcome_t *o = s_job_outcome(SG_OUTCOME_SUCCEEDED, -1);
    char *again = sg_outcome_render_json(o);
    assert_non_null(again);
    assert_string_equal(again, o->json);
    assert_null(strchr(o->json, '\n'));
    free(again);
    sg_outcome_free(&o);
}

static void test_set_replaces_and_null_clears(void **state)
{
    (void)state;
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_DECISION, T0);
    char value[] = "first";
    assert_int_equal(sg_outcome_set(o, &o->message, value), SG_OK);
    assert_ptr_not_equal(o->message, value);
    value[0] = 'X';
    assert_string_equal(o->message, "first");
    assert_int_equal(sg_outcome_setf(o, &o->message, "%s %d", "second", 2), SG_OK);
    assert_string_equal(o->message, "second 2");
    assert_int_equal(sg_outcome_set(o, &o->message, NULL), SG_OK);
    assert_null(o->message);
    sg_outcome_free(&o);
}

static void test_message_that_is_not_utf8_still_renders(void **state)
{
    (void)state;
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_FAILED, T0);
    assert_int_equal(sg_outcome_set(o, &o->message, "bad \xff byte"), SG_OK);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
    s_expect_json_string(o, "message", "bad ? byte");
    sg_outcome_free(&o);
}

static void test_dup_is_deep(void **state)
{
    (void)state;
    sg_outcome_t *o = s_job_outcome(SG_OUTCOME_JOB_STARTED, 5);
    o->attempt = 3;
    assert_int_equal(sg_outcome_set(o, &o->job_path, "job-1"), SG_OK);
    assert_int_equal(sg_outcome_set(o, &o->message, "started"), SG_OK);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
    sg_outcome_t *c = sg_outcome_dup(o);
    assert_non_null(c);
    const char **of[] = {&o->dedup_key, &o->site, &o->replica_site, &o->collection,
                         &o->job_path,  &o->message, &o->json};
    const char **cf[] = {&c->dedup_key, &c->site, &c->replica_site, &c->collection,
                         &c->job_path,  &c->message, &c->json};
    for (size_t i = 0; i < sizeof of / sizeof of[0]; i++) {
        assert_ptr_not_equal(*of[i], *cf[i]);
        assert_string_equal(*of[i], *cf[i]);
    }
    assert_null(c->cim_path);
    char *json = strdup(o->json);
    sg_outcome_free(&o);
    assert_int_equal(c->attempt, 3);
    assert_int_equal(c->percent, 5);
    assert_int_equal(c->run_id, 42);
    assert_string_equal(c->json, json);
    assert_string_equal(c->job_path, "job-1");
    free(json);
    sg_outcome_free(&c);
}

static void test_a_held_outcome_says_so_in_its_json_and_keeps_it_through_copies(void **state)
{
    (void)state;
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_SITE_SUSPECT, T0);
    assert_int_equal(sg_outcome_set(o, &o->site, "A"), SG_OK);
    assert_null(sg_outcome_held(o));
    assert_int_equal(sg_outcome_set_held(o, "flapping"), SG_OK);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
    assert_string_equal(sg_outcome_held(o), "flapping");
    s_expect_json_string(o, "held", "flapping");
    sg_outcome_t *c = sg_outcome_dup(o);
    assert_non_null(c);
    assert_string_equal(sg_outcome_held(c), "flapping");
    sg_outcome_t *back = sg_outcome_from_json(o->json); /* as the outbox reads the log */
    assert_non_null(back);
    assert_string_equal(sg_outcome_held(back), "flapping");
    sg_outcome_free(&back);
    sg_outcome_free(&c);
    sg_outcome_free(&o);
    o = s_job_outcome(SG_OUTCOME_SITE_RECOVERED, -1); /* not held: no key */
    json_t *root = s_parse(o);
    assert_null(json_object_get(root, "held"));
    json_decref(root);
    back = sg_outcome_from_json(o->json);
    assert_null(sg_outcome_held(back));
    sg_outcome_free(&back);
    sg_outcome_free(&o);
}

static void test_site_flapping_is_a_warning_named_site_flapping(void **state)
{
    (void)state;
    assert_string_equal(sg_outcome_kind_name(SG_OUTCOME_SITE_FLAPPING), "site_flapping");
    sg_outcome_t *o = s_bare_finished(SG_OUTCOME_SITE_FLAPPING, T0);
    assert_int_equal(o->severity, SG_SEVERITY_WARNING);
    sg_outcome_t *back = sg_outcome_from_json(o->json);
    assert_non_null(back);
    assert_int_equal(back->kind, SG_OUTCOME_SITE_FLAPPING);
    sg_outcome_free(&back);
    sg_outcome_free(&o);
}

static void test_free_is_null_safe(void **state)
{
    (void)state;
    sg_outcome_free(NULL);
    sg_outcome_t *o = NULL;
    sg_outcome_free(&o);
    assert_null(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_outcome_has_its_kind_time_and_unknown_percent),
        cmocka_unit_test(test_default_severity_follows_the_kind),
        cmocka_unit_test(test_severity_set_by_the_caller_is_kept),
        cmocka_unit_test(test_json_of_every_kind_names_the_kind_and_carries_common_keys),
        cmocka_unit_test(test_kind_names_are_snake_case_words),
        cmocka_unit_test(test_failed_job_json_carries_the_job_numbers_and_message),
        cmocka_unit_test(test_unset_fields_are_left_out_of_the_json),
        cmocka_unit_test(test_time_before_the_epoch_is_rendered_with_positive_milliseconds),
        cmocka_unit_test(test_times_render_as_the_proleptic_gregorian_date_before_and_after_1970),
        cmocka_unit_test(test_dedup_key_is_run_subject_and_kind),
        cmocka_unit_test(test_dedup_keys_are_stable_for_the_same_outcome),
        cmocka_unit_test(test_dedup_keys_differ_per_kind_and_per_percent),
        cmocka_unit_test(test_dedup_key_set_by_the_caller_is_kept_and_rendered),
        cmocka_unit_test(test_finish_renders_json_that_matches_render_json),
        cmocka_unit_test(test_set_replaces_and_null_clears),
        cmocka_unit_test(test_message_that_is_not_utf8_still_renders),
        cmocka_unit_test(test_dup_is_deep),
        cmocka_unit_test(test_a_held_outcome_says_so_in_its_json_and_keeps_it_through_copies),
        cmocka_unit_test(test_site_flapping_is_a_warning_named_site_flapping),
        cmocka_unit_test(test_free_is_null_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
