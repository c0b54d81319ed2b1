/* statuspage: the loop publishes only while somebody reads; the answers to
 * /, /api/v1/status (?limit=), /drills/report and what is not the page's,
 * with their types and policies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "control/statuspage.h"
#include "base/err.h"
#include "control/statushtml.h"
#include "journal/outcome.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg_fixture.h"

#define T0 1800000000000LL

static const char s_yaml[] = SG_FIXTURE_YAML_ABW "collections:\n" SG_FIXTURE_YAML_COLL_AT_A(1)
    SG_FIXTURE_YAML_COLL_AT_A(2) SG_FIXTURE_YAML_COLL_AT_A(3)
    "drills:\n  - name: 'd <1>'\n    plan: site A\n";

typedef struct {
    sg_config_t *cfg;
    sg_engine_t *e;
    sg_clock_t clock;
    sg_clock_fake_state_t clock_state;
    sg_statuspage_t *p;
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    f->cfg = sg_fixture_config("page.yaml", s_yaml);
    sg_clock_fake_init(&f->clock, &f->clock_state, 1000, T0);
    f->e = sg_engine_new(f->cfg, 0, (sg_now_t){1000, T0});
    f->p = sg_statuspage_new(f->cfg, &f->clock);
    assert_non_null(f->p);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    sg_statuspage_destroy(&f->p);
    assert_null(f->p);
    sg_engine_destroy(&f->e);
    sg_config_destroy(&f->cfg);
    free(f);
    return 0;
}

static void s_publish(s_fix_t *f)
{
    sg_drill_status_t drills[1] = {{.name = "d <1>", .last_result = -1, .last_end_ms = -1,
                                    .last_pass_ms = -1, .due_ms = -1}};
    sg_statusdoc_src_t src = {.cfg = f->cfg, .engine = f->e, .drills = drills, .n_drills = 1,
                              .now = {sg_clock_mono(&f->clock), sg_clock_wall(&f->clock)}};
    assert_int_equal(sg_statuspage_publish(f->p, &src), SG_OK);
}

static void s_get(s_fix_t *f, const char *path, const char *limit, const char *drill,
                  unsigned status, sg_statuspage_answer_t *a)
{
    assert_int_equal(sg_statuspage_answer(f->p, path, limit, drill, a), SG_OK);
    if (a->status != status)
        fail_msg("%s: %u, not %u: %.*s", path, a->status, status, (int)a->len, a->body);
    assert_non_null(a->csp);
    assert_int_equal(strlen(a->body), a->len);
}

/* Nobody asks: the loop builds nothing. A request asks; the loop publishes
 * about once a second while requests keep coming, and stops 30 s after the
 * last. A request before the first document waits for it, then says 503. */
static void test_the_loop_publishes_only_while_somebody_reads(void **state)
{
    s_fix_t *f = *state;
    assert_false(sg_statuspage_due(f->p, 1000));
    assert_false(sg_statuspage_due(NULL, 1000));
    sg_statuspage_answer_t a;
    s_get(f, "/api/v1/status", NULL, NULL, 503, &a); /* waited 2 s for a first document */
    sg_statuspage_answer_fini(&a);
    assert_true(sg_statuspage_due(f->p, 1000));
    s_publish(f);
    assert_false(sg_statuspage_due(f->p, 1500));
    assert_true(sg_statuspage_due(f->p, 1900));
    s_publish(f); /* published at the clock's 1000: due again at 1900 */
    assert_true(sg_statuspage_due(f->p, 30999));
    assert_false(sg_statuspage_due(f->p, 31000));
    s_get(f, "/api/v1/status", NULL, NULL, 200, &a); /* fresh: no wait */
    sg_statuspage_answer_fini(&a);
    assert_true(sg_statuspage_due(f->p, 31000));
}

static void test_the_api_answers_the_document_as_json_cut_to_its_limit(void **state)
{
    s_fix_t *f = *state;
    s_publish(f);
    sg_statuspage_answer_t a;
    s_get(f, "/api/v1/status", NULL, NULL, 200, &a);
    assert_string_equal(a.content_type, "application/json");
    assert_string_equal(a.csp, "default-src 'none'; frame-ancestors 'none'");
    json_t *doc = json_loadb(a.body, a.len, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(doc, "collections")), 3);
    assert_int_equal(json_integer_value(json_object_get(doc, "collections_omitted")), 0);
    json_decref(doc);
    sg_statuspage_answer_fini(&a);

    s_get(f, "/api/v1/status", "2", NULL, 200, &a);
    doc = json_loadb(a.body, a.len, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(doc, "collections")), 2);
    assert_int_equal(json_integer_value(json_object_get(doc, "collections_omitted")), 1);
    assert_int_equal(json_integer_value(json_object_get(doc, "collections_total")), 3);
    json_decref(doc);
    sg_statuspage_answer_fini(&a);

    const char *bad[] = {"0", "-3", "x", "12abc", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s_get(f, "/api/v1/status", bad[i], NULL, 400, &a);
        assert_string_equal(a.content_type, "text/plain; charset=utf-8");
        sg_statuspage_answer_fini(&a);
    }
    s_get(f, "/api/v1/status", "100000", NULL, 200, &a); /* at most 1000: all 3 */
    sg_statuspage_answer_fini(&a);
    assert_int_equal(sg_statuspage_answer(f->p, "/api/v2/status", NULL, NULL, &a), SG_ENOTFOUND);
    assert_int_equal(sg_statuspage_answer(f->p, "/etc/passwd", NULL, NULL, &a), SG_ENOTFOUND);
    s_get(f, "/favicon.ico", NULL, NULL, 204, &a);
    sg_statuspage_answer_fini(&a);
}

/* The page: HTML under a policy that names the hash of its only script. */
static void test_the_page_is_html_under_a_policy_naming_its_script(void **state)
{
    s_fix_t *f = *state;
    s_publish(f);
    sg_statuspage_answer_t a;
    s_get(f, "/", "1", NULL, 200, &a);
    assert_string_equal(a.content_type, "text/html; charset=utf-8");
    assert_non_null(strstr(a.body, "<body data-limit=\"1\">"));
    assert_non_null(strstr(a.body, "<tr data-row=\"c1\">"));
    assert_null(strstr(a.body, "<tr data-row=\"c2\">"));
    assert_non_null(strstr(a.csp, "script-src 'sha256-"));
    assert_non_null(strstr(a.csp, "default-src 'none'; connect-src 'self';"));
    assert_null(strstr(a.csp, "unsafe"));
    sg_statuspage_answer_fini(&a);
}

/* A drill's report arrives as an outcome; its page renders it, names
 * escaped; a drill without one, or unknown, is 404. */
static void test_a_drills_latest_report_is_served_as_its_document(void **state)
{
    s_fix_t *f = *state;
    sg_statuspage_answer_t a;
    s_get(f, "/drills/report", NULL, "d <1>", 404, &a);
    sg_statuspage_answer_fini(&a);
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_DRILL_REPORT, T0);
    json_t *whole = json_pack("{s:s,s:{s:s,s:s,s:s,s:[{s:s}]}}", "kind", "drill_report", "report",
                              "id", "r-<7>", "drill", "d <1>", "result", "passed", "collections",
                              "collection", "<script>x</script>");
    char *json = json_dumps(whole, JSON_COMPACT);
    o->json = json;
    sg_statuspage_outcome(f->p, o);
    sg_statuspage_outcome(NULL, o);
    o->json = NULL;
    free(json);
    json_decref(whole);
    sg_outcome_free(&o);
    s_get(f, "/drills/report", NULL, "d <1>", 200, &a);
    assert_string_equal(a.content_type, "text/html; charset=utf-8");
    assert_non_null(strstr(a.body, "r-&lt;7&gt;"));
    assert_null(strstr(a.body, "<script>x"));
    assert_null(strstr(a.csp, "script-src"));
    sg_statuspage_answer_fini(&a);
    s_get(f, "/drills/report", NULL, "nope", 404, &a);
    sg_statuspage_answer_fini(&a);
    s_get(f, "/drills/report", NULL, NULL, 404, &a);
    sg_statuspage_answer_fini(&a);
    /* the document names the report */
    s_publish(f);
    s_get(f, "/api/v1/status", NULL, NULL, 200, &a);
    json_t *doc = json_loadb(a.body, a.len, 0, NULL);
    json_t *d = json_array_get(json_object_get(doc, "drills"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "report"), "id")),
                        "r-<7>");
    json_decref(doc);
    sg_statuspage_answer_fini(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_the_loop_publishes_only_while_somebody_reads,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_the_api_answers_the_document_as_json_cut_to_its_limit,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_the_page_is_html_under_a_policy_naming_its_script,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_a_drills_latest_report_is_served_as_its_document,
                                        s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
