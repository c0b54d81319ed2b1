/* statushtml: the status page rendered from a status document: every
 * outside string escaped, cells formatted as the page's script formats
 * them, the script and style the CSP hashes, output bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "control/statushtml.h"
#include "base/err.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A document as statusdoc makes it, with hostile strings where the config,
 * the engine, operators and Hyper-V put text. */
static const char s_doc[] =
    "{\"generated_ms\": 1800000003000,"
    " \"sites\": [{\"name\": \"A\", \"state\": \"lost\", \"witness\": false,"
    "   \"lost_ms\": 1800000000000, \"explain\": \"site A: lost for 3.0 s\\n  quorum: <b>met</b>\\n\"},"
    "  {\"name\": \"W\\\"><img src=x onerror=alert(2)>\", \"state\": \"healthy\", \"witness\": true,"
    "   \"lost_ms\": null, \"explain\": null}],"
    " \"observers\": [{\"id\": \"o1\", \"site\": \"A\", \"heard\": true, \"clock_offset_ms\": -12}],"
    " \"collections\": [{\"name\": \"<script>alert(1)</script>\", \"site\": \"A\","
    "   \"replica_site\": \"B\", \"group\": 1, \"verdict\": \"blocked\", \"paused\": \"\","
    "   \"guard\": \"plan_order\", \"hold\": \"waits for \\\"a-db\\\" & 'b' </td>\","
    "   \"run_id\": null, \"run_state\": null, \"percent\": null,"
    "   \"recovery_point\": \"latest (configured)\"}],"
    " \"collections_total\": 5, \"collections_omitted\": 4,"
    " \"verdicts\": {\"idle\": 4, \"blocked\": 1, \"failed over\": 0},"
    " \"runs\": [], \"runs_omitted\": 0, \"leader\": \"single instance (leader: none)\","
    " \"leader_info\": {\"mode\": \"none\", \"name\": \"n\", \"holder\": \"n\", \"epoch\": 1,"
    "   \"is_leader\": true},"
    " \"mode\": \"auto\", \"config\": \"/etc/<siteguard>.yaml\", \"loop_turns\": 9,"
    " \"loop_longest_us\": 10,"
    " \"episode\": {\"site\": \"A\", \"state\": \"lost\", \"started_ms\": 1800000000000,"
    "   \"origin_ms\": 1800000000000, \"until_ms\": 1800000004000, \"runs_omitted\": 0,"
    "   \"runs\": [{\"run_id\": 7, \"collection\": \"a-db\", \"origin\": \"policy\","
    "     \"decided_ms\": 1800000000000, \"intent_ms\": 1800000001000,"
    "     \"called_ms\": 1800000001234, \"progress_ms\": null, \"percent\": 40,"
    "     \"ended_ms\": null, \"state\": \"running 40%\", \"recovery_point\": \"latest\","
    "     \"message\": \"job \\\"Running\\\" <40%>\"}]},"
    " \"drills\": [{\"name\": \"d&'x\\\"<\", \"last_result\": \"passed\","
    "   \"last_end_ms\": 1800000000000, \"last_pass_ms\": null, \"due_ms\": null,"
    "   \"report\": {\"id\": \"<id>\", \"result\": \"passed\"}}],"
    " \"drill_running\": false,"
    " \"outbox\": [{\"sink\": \"hook\", \"plugin\": \"webhook\", \"pending\": 3,"
    "   \"delivered\": 1, \"retried\": 0, \"dead\": 2}],"
    " \"audit\": [{\"seq\": 1, \"time_ms\": 1800000000000, \"who\": \"alice (uid 1000)\","
    "   \"role\": \"operator\", \"command\": \"pause\", \"target\": \"A\","
    "   \"reason\": \"he said \\\"<no>\\\"\", \"result\": \"ok: paused\"}]}";

static char *s_render(const char *text, size_t limit)
{
    json_error_t err;
    json_t *doc = json_loads(text, 0, &err);
    if (!doc)
        fail_msg("bad test document: %s at %d", err.text, err.position);
    char *html = NULL;
    size_t len = 0;
    assert_int_equal(sg_statushtml_render(doc, limit, &html, &len), SG_OK);
    assert_int_equal(strlen(html), len);
    json_decref(doc);
    return html;
}

static void test_every_outside_string_is_escaped(void **state)
{
    (void)state;
    char *html = s_render(s_doc, 200);
    /* the only script element is the page's own */
    const char *first = strstr(html, "<script>");
    assert_non_null(first);
    assert_null(strstr(first + 1, "<script>"));
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "<b>met"));
    assert_null(strstr(html, "<siteguard>"));
    assert_null(strstr(html, "<no>"));
    assert_null(strstr(html, "</td>\""));
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(html, "waits for &quot;a-db&quot; &amp; &#39;b&#39; &lt;/td&gt;"));
    assert_non_null(strstr(html, "he said &quot;&lt;no&gt;&quot;"));
    assert_non_null(strstr(html, "quorum: &lt;b&gt;met&lt;/b&gt;"));
    /* in an attribute (a row's key) the quote cannot end it */
    assert_non_null(strstr(html, "data-row=\"W&quot;&gt;&lt;img src=x onerror=alert(2)&gt;\""));
    assert_non_null(strstr(html, "data-row=\"&lt;script&gt;alert(1)&lt;/script&gt;\""));
    /* a drill's name in a link: percent-encoded, then escaped */
    assert_non_null(strstr(html, "href=\"/drills/report?drill=d%26&#39;x%22%3C\">&lt;id&gt;</a>"));
    free(html);
}

/* The page's cells say what the script would write into them. */
static void test_cells_are_formatted_as_the_script_formats_them(void **state)
{
    (void)state;
    char *html = s_render(s_doc, 200);
    /* times in UTC, offsets from the episode's origin truncated to hundredths */
    assert_non_null(strstr(html, "<td class=\"f-time\">2027-01-15 08:00:00Z</td>"));
    assert_non_null(strstr(html, "<td class=\"f-rel\">+0.00 s</td><td class=\"f-rel\">"
                                 "+1.00 s</td><td class=\"f-rel\">+1.23 s</td>"));
    assert_non_null(strstr(html, "<progress max=\"100\" value=\"40\"></progress> 40%"));
    assert_non_null(strstr(html, "<td class=\"f-ms\">-12 ms</td>"));
    assert_non_null(strstr(html, "<span class=\"b b-running-40-\">running 40%</span>"));
    assert_non_null(strstr(html, "<span class=\"b b-blocked\">blocked 1</span>"));
    assert_null(strstr(html, "failed over 0")); /* counts of nothing are left out */
    /* the run on the time axis: 0 .. 4 s over 160 px; waiting, calling, its job */
    assert_non_null(strstr(html, "<rect class=\"q\" x=\"0\" y=\"4\" width=\"40\" height=\"4\">"));
    assert_non_null(strstr(html, "<rect class=\"c\" x=\"40\" y=\"4\" width=\"9\" height=\"4\">"));
    assert_non_null(strstr(html, "<rect class=\"j b-running-40-\" x=\"49\" y=\"0\" "
                                 "width=\"111\" height=\"12\">"));
    /* nothing shows as a dash; an empty list hides its table for a line */
    assert_non_null(strstr(html, "<td class=\"f-text\">\xe2\x80\x94</td>"));
    assert_non_null(strstr(html, "<p class=\"empty mute\" hidden>No failover runs"));
    assert_non_null(strstr(html, "<p class=\"empty mute\" hidden>No drills"));
    /* the omitted collections are counted, and the page asks for its limit */
    assert_non_null(strstr(html, "data-hide-zero=\"collections_omitted\">"));
    assert_non_null(strstr(html, "<body data-limit=\"200\">"));
    free(html);
}

static void test_times_before_and_after_leap_days(void **state)
{
    (void)state;
    const struct {
        const char *ms, *text;
    } cases[] = {{"0", "1970-01-01 00:00:00Z"},
                 {"951782400000", "2000-02-29 00:00:00Z"},
                 {"1709251199999", "2024-02-29 23:59:59Z"},
                 {"4102444800000", "2100-01-01 00:00:00Z"},
                 {"-1", "1969-12-31 23:59:59Z"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char doc[256], want[96];
        snprintf(doc, sizeof doc, "{\"generated_ms\": %s}", cases[i].ms);
        char *html = s_render(doc, 1);
        snprintf(want, sizeof want, "data-fmt=\"time\">%s</span>", cases[i].text);
        if (!strstr(html, want))
            fail_msg("%s ms: want %s", cases[i].ms, cases[i].text);
        free(html);
    }
}

/* The page carries exactly the script and style its policy hashes. */
static void test_the_page_carries_the_script_and_style_its_policy_names(void **state)
{
    (void)state;
    char *html = s_render(s_doc, 200);
    const char *s = strstr(html, "<script>") + 8, *e = strstr(html, "</script>");
    assert_int_equal((size_t)(e - s), strlen(sg_statushtml_script()));
    assert_memory_equal(s, sg_statushtml_script(), strlen(sg_statushtml_script()));
    s = strstr(html, "<style>") + 7;
    e = strstr(html, "</style>");
    assert_int_equal((size_t)(e - s), strlen(sg_statushtml_style()));
    /* the script writes text, never markup */
    assert_null(strstr(sg_statushtml_script(), "innerHTML"));
    assert_null(strstr(sg_statushtml_script(), "eval("));
    assert_null(strstr(html, " style=\""));
    char *csp = sg_statushtml_csp("SCRIPT", "STYLE");
    assert_string_equal(csp, "default-src 'none'; connect-src 'self'; script-src "
                             "'sha256-SCRIPT'; style-src 'sha256-STYLE'; img-src 'self'; "
                             "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    free(csp);
    free(html);
}

/* 1,000 collections (the most a document lists) make a page of bounded
 * size; a document that is not an object is refused. */
static void test_a_thousand_collections_render_in_bounded_size(void **state)
{
    (void)state;
    json_t *doc = json_loads(s_doc, 0, NULL);
    json_t *list = json_array();
    for (int i = 0; i < 1000; i++) {
        char name[32];
        snprintf(name, sizeof name, "vm-%04d", i);
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:n,s:n,s:i,s:s,s:i,s:s}",
                                              "name", name, "site", "A", "replica_site", "B",
                                              "group", 0, "verdict", "failing over", "paused",
                                              "", "guard", "hold", "run_id", i, "run_state",
                                              "running 40%", "percent", 40, "recovery_point",
                                              "latest (configured)"));
    }
    json_object_set_new(doc, "collections", list);
    char *html = NULL;
    size_t len = 0;
    assert_int_equal(sg_statushtml_render(doc, 1000, &html, &len), SG_OK);
    assert_true(len < 1000 * 700 + 40000);
    int rows = 0;
    for (const char *p = html; (p = strstr(p, "<tr data-row=\"vm-")); p++)
        rows++;
    assert_int_equal(rows, 1000);
    free(html);
    json_decref(doc);
    json_t *arr = json_array();
    assert_int_equal(sg_statushtml_render(arr, 1, &html, &len), SG_EINVAL);
    json_decref(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_outside_string_is_escaped),
        cmocka_unit_test(test_cells_are_formatted_as_the_script_formats_them),
        cmocka_unit_test(test_times_before_and_after_leap_days),
        cmocka_unit_test(test_the_page_carries_the_script_and_style_its_policy_names),
        cmocka_unit_test(test_a_thousand_collections_render_in_bounded_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
