/* drillreport: drill reports rendered as HTML, CSV and JSON documents
 * (drill/drillreport.h), from reports shaped as drill.h gives them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "drill/drillreport.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DASH "\xe2\x80\x94"
#define T0 1767225600000LL /* 2026-01-01 00:00:00 UTC */

/* ---- reports to render ------------------------------------------------------------- */

/* One step of a collection, at offsets from T0 in ms. */
static json_t *s_step(const char *step, long from, long to, const char *result, const char *detail)
{
    return json_pack("{s:s, s:I, s:I, s:s, s:s}", "step", step, "started_ms",
                     (json_int_t)(T0 + from), "ended_ms", (json_int_t)(T0 + to), "result", result,
                     "detail", detail);
}

/* A collection that went through the four steps from `at` (ms after T0). */
static json_t *s_coll(const char *name, long at, long rto, long rpo, const char *step_result)
{
    json_t *steps = json_pack("[o, o, o, o]", s_step("recovery_point", at, at + 5, "ok", "latest"),
                              s_step("TestReplicaCollection", at + 5, at + 400, step_result,
                                     "test copy ready"),
                              s_step("RevertTestReplicaCollection", 2000 + at, 2300 + at, "ok",
                                     "test copy removed"),
                              s_step("verify", 2300 + at, 2310 + at, "ok",
                                     "collection replicating"));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:b, s:s, s:o}", "collection",
                     name, "site", "A", "replica_site", "B", "result", "passed", "recovery_point",
                     "latest", "recovery_point_ms", (json_int_t)(T0 - 300000), "rto_ms",
                     (json_int_t)rto, "rpo_ms", (json_int_t)rpo, "rto_met", 1, "rpo_met", 1,
                     "cleanup", "verified", "steps", steps);
}

/* A passed report of two collections, started at T0 + `day` days. */
static json_t *s_report_json(const char *id, int day)
{
    json_t *colls = json_pack("[o, o]", s_coll("a-db", 0, 400, 300000, "ok"),
                              s_coll("a-app", 400, 800, 310000, "ok"));
    json_t *rep = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:{s:I, s:I}, s:b, s:b, s:o, s:[]}",
        "id", id, "drill", "site-a", "trigger", "start", "started_by", "alice (uid 1000)",
        "config", "/etc/siteguard/siteguard.yaml", "config_digest",
        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "started_ms",
        (json_int_t)T0, "ended_ms", (json_int_t)(T0 + 2800), "duration_ms", (json_int_t)2800,
        "result", "passed", "objectives", "rto_ms", (json_int_t)60000, "rpo_ms",
        (json_int_t)3600000, "objectives_met", 1, "cleanup_verified", 1, "collections", colls,
        "skipped");
    assert_non_null(rep);
    int64_t shift = (int64_t)day * 86400000;
    json_object_set_new(rep, "started_ms", json_integer(T0 + shift));
    json_object_set_new(rep, "ended_ms", json_integer(T0 + shift + 2800));
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(rep, "collections"), i, c) {
        json_t *st;
        size_t k;
        json_array_foreach(json_object_get(c, "steps"), k, st) {
            json_object_set_new(st, "started_ms", json_integer(json_integer_value(
                                                     json_object_get(st, "started_ms")) + shift));
            json_object_set_new(st, "ended_ms", json_integer(json_integer_value(
                                                   json_object_get(st, "ended_ms")) + shift));
        }
    }
    return rep;
}

static char *s_dump(const json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_non_null(text);
    return text;
}

/* Renders `rep` (taken) as `fmt`. */
static char *s_render(json_t *rep, sg_drillreport_format_t fmt)
{
    char *text = s_dump(rep), *out = NULL;
    size_t len = 0;
    json_decref(rep);
    assert_int_equal(sg_drillreport_render(text, fmt, &out, &len), SG_OK);
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    free(text);
    return out;
}

static size_t s_count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void s_has(const char *doc, const char *needle)
{
    if (!strstr(doc, needle))
        fail_msg("the document lacks \"%s\"", needle);
}

static void s_lacks(const char *doc, const char *needle)
{
    const char *at = strstr(doc, needle);
    if (at)
        fail_msg("the document has \"%s\" at: %.80s", needle, at);
}

/* ---- HTML ------------------------------------------------------------------------------- */

static void test_html_escapes_every_text_from_the_config_and_the_events(void **state)
{
    (void)state;
    json_t *rep = s_report_json("site-a-1", 0);
    json_t *evil = json_array_get(json_object_get(rep, "collections"), 0);
    json_object_set_new(evil, "collection", json_string("<script>alert(\"x\")</script>"));
    json_object_set_new(json_array_get(json_object_get(rep, "collections"), 1), "collection",
                        json_string("it's \"quoted\" & <b>bold</b>"));
    json_object_set_new(rep, "drill", json_string("<i>drill</i>"));
    json_object_set_new(rep, "started_by", json_string("<img src=x onerror=alert(1)>"));
    json_object_set_new(rep, "config", json_string("/etc/\"x\"/<y>.yaml"));
    json_t *st = json_array_get(json_object_get(evil, "steps"), 1);
    json_object_set_new(st, "detail", json_string("</title></rect><script>bad()</script>"));
    json_object_set_new(st, "job_path", json_string("Msvm_ConcreteJob.InstanceID=\"<j>\""));
    json_array_append_new(json_object_get(rep, "skipped"),
                          json_pack("{s:s, s:s}", "collection", "<u>web</u>", "reason", "a&b"));
    char *html = s_render(rep, SG_DRILLREPORT_HTML);
    s_lacks(html, "<script");
    s_lacks(html, "<b>bold");
    s_lacks(html, "<i>drill");
    s_lacks(html, "<img");
    s_lacks(html, "<u>web");
    s_lacks(html, "<j>");
    s_lacks(html, "<y>");
    s_has(html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    s_has(html, "it&#39;s &quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;");
    s_has(html, "&lt;i&gt;drill&lt;/i&gt;");
    s_has(html, "&lt;img src=x onerror=alert(1)&gt;");
    s_has(html, "&lt;/title&gt;&lt;/rect&gt;&lt;script&gt;bad()&lt;/script&gt;");
    s_has(html, "/etc/&quot;x&quot;/&lt;y&gt;.yaml");
    s_has(html, "a&amp;b");
    /* in attributes too: the row's data-collection cannot end early */
    s_has(html, "data-collection=\"it&#39;s &quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;\"");
    free(html);
}

static void test_html_is_one_page_without_scripts_or_outside_assets_and_prints(void **state)
{
    (void)state;
    char *html = s_render(s_report_json("site-a-1", 0), SG_DRILLREPORT_HTML);
    assert_int_equal(strncmp(html, "<!DOCTYPE html>", 15), 0);
    s_has(html, "</html>");
    s_lacks(html, "<script");
    s_lacks(html, "<link");
    s_lacks(html, "src=");
    s_lacks(html, "url(");
    s_lacks(html, "https:");
    /* the only URL is the SVG namespace, which is a name, not a fetch */
    assert_int_equal(s_count(html, "http:"), s_count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
    s_has(html, "Content-Security-Policy");
    s_has(html, "default-src 'none'");
    s_has(html, "@media print");
    s_has(html, "@page");
    s_has(html, "page-break-inside:avoid");
    /* the facts an auditor needs */
    s_has(html, "site-a-1");
    s_has(html, "alice (uid 1000)");
    s_has(html, "sha256:0123456789abcdef");
    s_has(html, "2026-01-01 00:00:00 UTC");
    s_has(html, "RTO 1 min 00 s, RPO 1 h 00 min");
    s_has(html, "<span class=\"badge passed\">Passed</span>");
    s_has(html, "Cleanup verified</th><td><span class=\"yes\">");
    free(html);
}

/* The x, width and data-start-ms of each bar of the row that starts at `row`
 * (up to its end), in order. Returns how many. */
static size_t s_bars(const char *row, double *x, double *w, long *start, size_t max)
{
    const char *end = strstr(row, "</g>");
    size_t n = 0;
    assert_non_null(end);
    for (const char *p = strstr(row, "<rect class=\"bar"); p && p < end && n < max;
         p = strstr(p + 1, "<rect class=\"bar")) {
        const char *s = strstr(p, "data-start-ms=\""), *xp = strstr(p, " x=\""),
                   *wp = strstr(p, " width=\"");
        assert_non_null(s);
        assert_non_null(xp);
        assert_non_null(wp);
        start[n] = strtol(s + 15, NULL, 10);
        x[n] = strtod(xp + 4, NULL);
        w[n] = strtod(wp + 8, NULL);
        n++;
    }
    return n;
}

static void test_html_timeline_has_a_row_per_collection_with_bars_in_time_order(void **state)
{
    (void)state;
    char *html = s_render(s_report_json("site-a-1", 0), SG_DRILLREPORT_HTML);
    s_has(html, "<svg class=\"timeline-chart\"");
    assert_int_equal(s_count(html, "<g class=\"row\""), 2);
    const char *db = strstr(html, "<g class=\"row\" data-collection=\"a-db\">");
    const char *app = strstr(html, "<g class=\"row\" data-collection=\"a-app\">");
    assert_non_null(db);
    assert_non_null(app);
    double x[8], w[8];
    long start[8];
    assert_int_equal(s_bars(db, x, w, start, 8), 4);
    for (size_t i = 1; i < 4; i++) {
        assert_true(start[i] >= start[i - 1]);
        assert_true(x[i] >= x[i - 1]);      /* later steps further right */
        if (w[i - 1] > 2.01) /* and not before the last one ended (a 2-unit bar is a dot) */
            assert_true(x[i] >= x[i - 1] + w[i - 1] - 0.01);
    }
    assert_true(x[0] >= 209.99 && x[3] + w[3] <= 932.01); /* on the axis */
    assert_true(w[1] > 10 * w[0]);                         /* 395 ms against 5 ms */
    double ax[8], aw[8];
    long astart[8];
    assert_int_equal(s_bars(app, ax, aw, astart, 8), 4);
    assert_true(ax[0] > x[0]);  /* a-app started 400 ms after a-db */
    assert_true(ax[1] >= x[1] + w[1] - 0.01);
    /* the test bar: coloured by its result, named by its step */
    s_has(db, "<rect class=\"bar ok step-test\" data-step=\"TestReplicaCollection\"");
    /* ticks in seconds from the drill's start, 0 included */
    s_has(html, ">0.0 s</text>");
    s_has(html, ">2.5 s</text>");
    s_has(html, "seconds from the drill's start");
    free(html);
}

static void test_html_and_csv_show_missing_measures_as_a_dash_and_an_empty_field(void **state)
{
    (void)state;
    json_t *rep = s_report_json("site-a-1", 0);
    json_t *c = json_array_get(json_object_get(rep, "collections"), 0);
    json_object_set_new(c, "rpo_ms", json_null());
    json_object_set_new(c, "rpo_met", json_null());
    json_object_set_new(c, "recovery_point", json_null());
    json_object_set_new(c, "recovery_point_ms", json_null());
    json_object_set_new(json_object_get(rep, "objectives"), "rpo_ms", json_null());
    json_object_set_new(rep, "started_by", json_null());
    json_object_del(rep, "config_digest"); /* a report from before it was recorded */
    char *text = s_dump(rep), *html = NULL, *csv = NULL;
    json_decref(rep);
    assert_int_equal(sg_drillreport_render(text, SG_DRILLREPORT_HTML, &html, NULL), SG_OK);
    assert_int_equal(sg_drillreport_render(text, SG_DRILLREPORT_CSV, &csv, NULL), SG_OK);
    s_has(html, "<tr><th>Started by</th><td>" DASH "</td></tr>");
    s_has(html, "<code class=\"digest\">" DASH "</code>");
    s_has(html, "RTO 1 min 00 s, RPO " DASH);
    /* a-db's row: RPO achieved and objective missing, met unknown */
    const char *row = strstr(html, "<tr><td>a-db</td>");
    assert_non_null(row);
    s_has(row, "<td class=\"num\">" DASH " / " DASH " <span class=\"na\">" DASH "</span></td>");
    s_lacks(html, "null");
    /* CSV: rpo_ms, rpo_objective_ms, rpo_met empty; rto kept */
    const char *line = strstr(csv, "\r\nsite-a,site-a-1,a-db,A,B,passed,,400,60000,true,,,,verified,");
    assert_non_null(line);
    s_lacks(csv, "null");
    free(text);
    free(html);
    free(csv);
}

static void test_a_failed_and_preempted_drill_says_so(void **state)
{
    (void)state;
    json_t *rep = s_report_json("site-a-9", 0);
    json_object_set_new(rep, "result", json_string("preempted"));
    json_object_set_new(rep, "preempted_by", json_string("site A lost: quorum 2 of 2"));
    json_object_set_new(rep, "objectives_met", json_false());
    json_object_set_new(rep, "cleanup_verified", json_false());
    json_t *db = json_array_get(json_object_get(rep, "collections"), 0);
    json_t *app = json_array_get(json_object_get(rep, "collections"), 1);
    json_object_set_new(db, "result", json_string("failed"));
    json_object_set_new(db, "cleanup", json_string("failed"));
    json_object_set_new(db, "rto_ms", json_null());
    json_object_set_new(db, "rto_met", json_false());
    json_t *test = json_array_get(json_object_get(db, "steps"), 1);
    json_object_set_new(test, "result", json_string("failed"));
    json_object_set_new(test, "return_value", json_integer(32775));
    json_object_set_new(app, "result", json_string("preempted"));
    json_object_set_new(app, "steps", json_array()); /* cut short before any step */
    char *text = s_dump(rep), *html = NULL, *csv = NULL;
    json_decref(rep);
    assert_int_equal(sg_drillreport_render(text, SG_DRILLREPORT_HTML, &html, NULL), SG_OK);
    assert_int_equal(sg_drillreport_render(text, SG_DRILLREPORT_CSV, &csv, NULL), SG_OK);
    s_has(html, "<span class=\"badge preempted\">Pre-empted</span>");
    s_has(html, "<tr><th>Pre-empted by</th><td>site A lost: quorum 2 of 2</td></tr>");
    s_has(html, "<span class=\"badge failed\">Failed</span>");
    s_has(html, "Cleanup verified</th><td><span class=\"no\">");
    s_has(html, "<rect class=\"bar failed step-test\"");
    s_has(html, "(return value 32775)");
    s_has(html, DASH " no step recorded");
    /* the step-less collection still has its row, with no bar */
    const char *row = strstr(html, "<g class=\"row\" data-collection=\"a-app\">");
    assert_non_null(row);
    assert_true(strstr(row, "</g>") < strstr(row, "<rect") || !strstr(row, "<rect"));
    /* CSV: 4 steps of a-db, one empty-step row of a-app, a header */
    assert_int_equal(s_count(csv, "\r\n"), 6);
    s_has(csv, ",failed,test copy ready,,32775\r\n");
    s_has(csv, "site-a,site-a-9,a-app,A,B,preempted,latest,800,60000,true,310000,3600000,true,"
               "verified,,,,,,,,\r\n");
    free(text);
    free(html);
    free(csv);
}

/* ---- CSV ---------------------------------------------------------------------------- */

/* Splits RFC 4180 text into records of fields: a tiny reader for the test.
 * Returns the number of records; fields[r][f] newly allocated. */
static size_t s_csv_read(const char *text, char *fields[][32], size_t *widths, size_t max)
{
    size_t r = 0, f = 0;
    const char *p = text;
    while (*p && r < max) {
        char buf[512];
        size_t n = 0;
        if (*p == '"') {
            for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
                if (*p == '"')
                    p++;
                buf[n++] = *p;
            }
            assert_int_equal(*p, '"');
            p++;
        } else {
            while (*p && *p != ',' && *p != '\r' && *p != '\n')
                buf[n++] = *p++;
        }
        buf[n] = '\0';
        fields[r][f++] = strdup(buf);
        if (*p == ',') {
            p++;
            continue;
        }
        assert_true(p[0] == '\r' && p[1] == '\n'); /* records end with CRLF */
        p += 2;
        widths[r++] = f;
        f = 0;
    }
    return r;
}

static void test_csv_has_a_header_and_a_row_per_step_quoted_by_rfc4180(void **state)
{
    (void)state;
    json_t *rep = s_report_json("site-a-1", 0);
    json_t *c = json_array_get(json_object_get(rep, "collections"), 0);
    json_object_set_new(c, "collection", json_string("db, \"main\"\nline two"));
    json_object_set_new(json_array_get(json_object_get(c, "steps"), 1), "detail",
                        json_string("a,b"));
    char *csv = s_render(rep, SG_DRILLREPORT_CSV);
    static char *fields[16][32];
    size_t widths[16];
    size_t n = s_csv_read(csv, fields, widths, 16);
    assert_int_equal(n, 1 + 8);
    assert_string_equal(fields[0][0], "drill");
    assert_string_equal(fields[0][2], "collection");
    assert_string_equal(fields[0][14], "step");
    for (size_t r = 0; r < n; r++)
        assert_int_equal(widths[r], widths[0]);
    assert_string_equal(fields[1][2], "db, \"main\"\nline two"); /* read back whole */
    assert_string_equal(fields[1][14], "recovery_point");
    assert_string_equal(fields[2][14], "TestReplicaCollection");
    assert_string_equal(fields[2][19], "a,b");
    assert_string_equal(fields[2][15], "2026-01-01T00:00:00.005Z");
    assert_string_equal(fields[2][16], "5");   /* offset from the drill's start */
    assert_string_equal(fields[2][17], "395"); /* duration */
    assert_string_equal(fields[5][2], "a-app");
    s_has(csv, "\"db, \"\"main\"\"\nline two\"");
    for (size_t r = 0; r < n; r++)
        for (size_t f = 0; f < widths[r]; f++)
            free(fields[r][f]);
    free(csv);
}

/* ---- JSON, errors ---------------------------------------------------------------------- */

static void test_json_is_the_report_as_it_is_and_non_reports_are_refused(void **state)
{
    (void)state;
    json_t *rep = s_report_json("site-a-1", 0);
    char *text = s_dump(rep), *out = NULL;
    json_decref(rep);
    assert_int_equal(sg_drillreport_render(text, SG_DRILLREPORT_JSON, &out, NULL), SG_OK);
    assert_string_equal(out, text);
    free(out);
    static const char *bad[] = {"", "not json", "[]", "{}", "{\"collections\": 3}", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out = (char *)"untouched";
        assert_int_equal(sg_drillreport_render(bad[i], SG_DRILLREPORT_HTML, &out, NULL),
                         SG_EINVAL);
        assert_null(out);
    }
    assert_int_equal(sg_drillreport_render_history("[1, 2]", SG_DRILLREPORT_HTML, &out, NULL),
                     SG_EINVAL);
    assert_int_equal(sg_drillreport_render_history(text, SG_DRILLREPORT_HTML, &out, NULL),
                     SG_EINVAL); /* a report is not a history */
    sg_drillreport_format_t fmt;
    assert_int_equal(sg_drillreport_parse_format("html", &fmt), SG_OK);
    assert_int_equal(fmt, SG_DRILLREPORT_HTML);
    assert_int_equal(sg_drillreport_parse_format("csv", &fmt), SG_OK);
    assert_int_equal(fmt, SG_DRILLREPORT_CSV);
    assert_int_equal(sg_drillreport_parse_format("pdf", &fmt), SG_EINVAL);
    free(text);
}

/* ---- the history ---------------------------------------------------------------------- */

/* Three runs given newest first; a-db's RTO grows, its RPO of the middle
 * run is missing; a third collection is only in the last run. */
static char *s_history_text(void)
{
    json_t *runs = json_array();
    for (int day = 2; day >= 0; day--) {
        char id[32];
        snprintf(id, sizeof id, "site-a-%d", day);
        json_t *rep = s_report_json(id, day);
        json_t *db = json_array_get(json_object_get(rep, "collections"), 0);
        json_object_set_new(db, "rto_ms", json_integer(400 + 1000 * day));
        if (day == 1)
            json_object_set_new(db, "rpo_ms", json_null());
        if (day == 2)
            json_array_append_new(json_object_get(rep, "collections"),
                                  s_coll("<new> & \"odd\"", 800, 900, 1000, "ok"));
        json_array_append_new(runs, rep);
    }
    char *text = s_dump(runs);
    json_decref(runs);
    return text;
}

static void test_history_draws_a_trend_per_collection_over_runs_oldest_first(void **state)
{
    (void)state;
    char *text = s_history_text(), *html = NULL;
    assert_int_equal(sg_drillreport_render_history(text, SG_DRILLREPORT_HTML, &html, NULL), SG_OK);
    s_lacks(html, "<script");
    s_lacks(html, "<new>");
    s_has(html, "3 runs, from 2026-01-01 00:00:00 UTC to 2026-01-03 00:00:00 UTC, oldest first");
    /* the runs table: oldest first */
    const char *r0 = strstr(html, ">site-a-0<"), *r1 = strstr(html, ">site-a-1<"),
               *r2 = strstr(html, ">site-a-2<");
    assert_non_null(r0);
    assert_true(r0 < r1 && r1 < r2);
    /* a trend per collection, each with an RTO and an RPO chart */
    assert_int_equal(s_count(html, "<section class=\"trend\" "), 3);
    s_has(html, "<section class=\"trend\" data-collection=\"&lt;new&gt; &amp; &quot;odd&quot;\">");
    assert_int_equal(s_count(html, "<svg class=\"trend-chart\" data-measure=\"rto\""), 3);
    assert_int_equal(s_count(html, "<svg class=\"trend-chart\" data-measure=\"rpo\""), 3);
    /* a-db's RTO: one line through three points, rising (y falls) */
    const char *db = strstr(html, "<section class=\"trend\" data-collection=\"a-db\">");
    assert_non_null(db);
    const char *line = strstr(db, "<polyline class=\"series\" points=\"");
    assert_non_null(line);
    double x[3], y[3];
    assert_int_equal(sscanf(line + 33, "%lf,%lf %lf,%lf %lf,%lf", &x[0], &y[0], &x[1], &y[1],
                            &x[2], &y[2]),
                     6);
    assert_true(x[0] < x[1] && x[1] < x[2]);
    assert_true(y[0] > y[1] && y[1] > y[2]);
    /* its RPO: the missing middle run breaks the line (no polyline of 2+ points) */
    const char *rpo = strstr(db, "data-measure=\"rpo\"");
    const char *rpo_end = strstr(rpo, "</svg>");
    const char *series = strstr(rpo, "class=\"series\"");
    assert_true(!series || series > rpo_end);
    assert_true(s_count(rpo, "<circle") >= 2);
    free(html);
    free(text);
}

static void test_history_csv_has_a_row_per_collection_per_run(void **state)
{
    (void)state;
    char *text = s_history_text(), *csv = NULL, *json = NULL;
    assert_int_equal(sg_drillreport_render_history(text, SG_DRILLREPORT_CSV, &csv, NULL), SG_OK);
    assert_int_equal(s_count(csv, "\r\n"), 1 + 2 + 2 + 3);
    assert_int_equal(strncmp(csv, "drill,run,started,", 18), 0);
    const char *r0 = strstr(csv, "site-a,site-a-0,2026-01-01T00:00:00.000Z,start,");
    const char *r2 = strstr(csv, "site-a,site-a-2,2026-01-03T00:00:00.000Z,start,");
    assert_true(r0 && r2 && r0 < r2);
    s_has(csv, "site-a,site-a-1,2026-01-02T00:00:00.000Z,start,alice (uid 1000),passed,true,true,"
               "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,a-db,"
               "passed,1400,60000,true,,3600000,true,verified\r\n");
    s_has(csv, ",\"<new> & \"\"odd\"\"\",passed,");
    assert_int_equal(sg_drillreport_render_history(text, SG_DRILLREPORT_JSON, &json, NULL), SG_OK);
    assert_string_equal(json, text);
    free(json);
    free(csv);
    free(text);
}

static void test_an_empty_history_is_a_page_that_says_so(void **state)
{
    (void)state;
    char *html = NULL, *csv = NULL;
    assert_int_equal(sg_drillreport_render_history("[]", SG_DRILLREPORT_HTML, &html, NULL), SG_OK);
    s_has(html, "no drill run ended yet");
    assert_int_equal(sg_drillreport_render_history("[]", SG_DRILLREPORT_CSV, &csv, NULL), SG_OK);
    assert_int_equal(s_count(csv, "\r\n"), 1);
    free(html);
    free(csv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_escapes_every_text_from_the_config_and_the_events),
        cmocka_unit_test(test_html_is_one_page_without_scripts_or_outside_assets_and_prints),
        cmocka_unit_test(test_html_timeline_has_a_row_per_collection_with_bars_in_time_order),
        cmocka_unit_test(test_html_and_csv_show_missing_measures_as_a_dash_and_an_empty_field),
        cmocka_unit_test(test_a_failed_and_preempted_drill_says_so),
        cmocka_unit_test(test_csv_has_a_header_and_a_row_per_step_quoted_by_rfc4180),
        cmocka_unit_test(test_json_is_the_report_as_it_is_and_non_reports_are_refused),
        cmocka_unit_test(test_history_draws_a_trend_per_collection_over_runs_oldest_first),
        cmocka_unit_test(test_history_csv_has_a_row_per_collection_per_run),
        cmocka_unit_test(test_an_empty_history_is_a_page_that_says_so),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
