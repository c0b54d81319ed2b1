/* drillreport: drill reports as HTML, CSV or JSON documents (see drillreport.h). */
#include "drill/drillreport.h"
#include "base/err.h"
#include "base/textbuf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_DASH "\xe2\x80\x94" /* a missing measure, in HTML */

/* The timeline's geometry (SVG user units). */
enum {
    S_TL_W = 960,
    S_TL_X0 = 210, /* the time axis: drill start */
    S_TL_X1 = 930, /* the time axis: the last step's end */
    S_TL_TOP = 22, /* room above the rows for the RTO objective's label */
    S_TL_ROW = 30,
    S_TL_BAR = 16,
    S_TL_MIN_BAR = 2, /* a step of no visible length still shows */
    S_TL_LABEL_CP = 26 /* code points of a collection name shown left of its row */
};

/* A trend chart's geometry. */
enum { S_TR_W = 440, S_TR_H = 190, S_TR_X0 = 58, S_TR_X1 = 425, S_TR_Y0 = 24, S_TR_Y1 = 150 };

/* ---- reading the report ---------------------------------------------------------- */

static const char *s_str(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* An integer member; false when null, absent or not an integer. */
static bool s_int(const json_t *o, const char *key, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

/* A measure: the member, or -1 when missing. */
static int64_t s_measure(const json_t *o, const char *key)
{
    int64_t v;
    return s_int(o, key, &v) && v >= 0 ? v : -1;
}

/* 1 true, 0 false, -1 null or absent. */
static int s_tri(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_true(v) ? 1 : json_is_false(v) ? 0 : -1;
}

static json_t *s_array(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_array(v) ? v : NULL;
}

/* ---- texts ------------------------------------------------------------------------ */

/* How a time is written: "2026-03-04 10:07:30 UTC", "2026-03-04 10:07",
 * or ISO 8601 with milliseconds "2026-03-04T10:07:30.250Z" (CSV). */
typedef enum { S_UTC_SECONDS, S_UTC_MINUTES, S_UTC_ISO } s_utc_style_t;

/* Unix ms in UTC (proleptic Gregorian calendar; days to a civil date as in
 * Howard Hinnant's algorithm, portable and pure). */
static void s_utc(int64_t ms, s_utc_style_t style, char *buf, size_t len)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t day = doy - (153 * mp + 2) / 5 + 1;
    int64_t mon = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = yoe + era * 400 + (mon <= 2);
    int mo = (int)mon, d = (int)day, h = (int)(rem / 3600), mi = (int)(rem % 3600 / 60),
        se = (int)(rem % 60);
    if (year < 0 || year > 9999)
        snprintf(buf, len, "(time %lld ms)", (long long)ms);
    else if (style == S_UTC_ISO)
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)year, mo, d, h, mi, se,
                 (int)(ms - secs * 1000));
    else if (style == S_UTC_SECONDS)
        snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d UTC", (int)year, mo, d, h, mi, se);
    else
        snprintf(buf, len, "%04d-%02d-%02d %02d:%02d", (int)year, mo, d, h, mi);
}

/* A duration for people: "0.3 s", "4 min 05 s", "2 h 03 min"; NULL for a
 * missing one (-1). */
static const char *s_dur(int64_t ms, char *buf, size_t len)
{
    if (ms < 0)
        return NULL;
    if (ms < 60000)
        snprintf(buf, len, "%.1f s", (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(buf, len, "%lld min %02lld s", (long long)(ms / 60000),
                 (long long)(ms % 60000 / 1000));
    else
        snprintf(buf, len, "%lld h %02lld min", (long long)(ms / 3600000),
                 (long long)(ms % 3600000 / 60000));
    return buf;
}

/* Escaped text, or an em dash for NULL or "". */
static void s_html_or_dash(sg_textbuf_t *b, const char *s)
{
    if (s && *s)
        sg_textbuf_html(b, s);
    else
        sg_textbuf_put(b, S_DASH);
}

static void s_dur_html(sg_textbuf_t *b, int64_t ms)
{
    char buf[64];
    s_html_or_dash(b, s_dur(ms, buf, sizeof buf));
}

static void s_time_html(sg_textbuf_t *b, const json_t *o, const char *key)
{
    int64_t ms;
    char buf[64];
    if (s_int(o, key, &ms)) {
        s_utc(ms, S_UTC_SECONDS, buf, sizeof buf);
        sg_textbuf_put(b, buf);
    } else {
        sg_textbuf_put(b, S_DASH);
    }
}

/* The CSS class of a result word (only known words become classes). */
static const char *s_result_class(const char *r)
{
    static const char *const known[] = {"passed", "objectives_missed", "failed", "preempted",
                                        "ok", "skipped", "verified"};
    for (size_t i = 0; r && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(r, known[i]) == 0)
            return known[i];
    return "other";
}

static const char *s_result_text(const char *r)
{
    if (!r)
        return NULL;
    return strcmp(r, "passed") == 0              ? "Passed"
           : strcmp(r, "objectives_missed") == 0 ? "Objectives missed"
           : strcmp(r, "failed") == 0            ? "Failed"
           : strcmp(r, "preempted") == 0         ? "Pre-empted"
                                                 : r;
}

/* "yes"/"no"/em dash for a true/false/null flag, in a span of its class. */
static void s_flag_html(sg_textbuf_t *b, int v, const char *yes, const char *no)
{
    if (v < 0)
        sg_textbuf_put(b, "<span class=\"na\">" S_DASH "</span>");
    else
        sg_textbuf_printf(b, "<span class=\"%s\">%s</span>", v ? "yes" : "no", v ? yes : no);
}

/* The byte length of the first `max_cp` code points of UTF-8 `s`; *cut
 * tells whether that is not all of it. */
static size_t s_utf8_prefix(const char *s, size_t max_cp, bool *cut)
{
    size_t i = 0, cp = 0;
    while (s[i] && cp < max_cp) {
        i++;
        while (((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        cp++;
    }
    *cut = s[i] != '\0';
    return i;
}

/* A step of the timeline and the class of its bar. */
static const char *s_step_class(const char *step)
{
    if (!step)
        return "step-other";
    return strcmp(step, "recovery_point") == 0                ? "step-rp"
           : strcmp(step, "TestReplicaCollection") == 0       ? "step-test"
           : strcmp(step, "RevertTestReplicaCollection") == 0 ? "step-revert"
           : strcmp(step, "verify") == 0                      ? "step-verify"
                                                              : "step-other";
}

static const char *s_step_short(const char *step)
{
    const char *c = s_step_class(step);
    return strcmp(c, "step-rp") == 0       ? "point"
           : strcmp(c, "step-test") == 0   ? "test"
           : strcmp(c, "step-revert") == 0 ? "revert"
           : strcmp(c, "step-verify") == 0 ? "verify"
                                           : "";
}

/* ---- the page ------------------------------------------------------------------- */

static const char s_css[] =
    "body{font-family:'DejaVu Sans',Arial,Helvetica,sans-serif;color:#1b1f23;margin:24px auto;"
    "max-width:1000px;padding:0 16px;font-size:14px;line-height:1.4}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px;"
    "border-bottom:2px solid #d0d7de;padding-bottom:3px}h3{font-size:15px;margin:18px 0 6px}"
    "table{border-collapse:collapse;width:100%;margin:6px 0 10px}"
    "th,td{border:1px solid #d0d7de;padding:4px 7px;text-align:left;vertical-align:top}"
    "th{background:#f3f5f7;font-weight:600}table.facts th{width:210px}"
    "code,.mono{font-family:'DejaVu Sans Mono',Consolas,monospace;font-size:12px;"
    "word-break:break-all}"
    ".badge{display:inline-block;padding:3px 10px;border-radius:4px;font-weight:700;color:#fff}"
    ".badge.passed,.badge.ok,.badge.verified{background:#2e7d32}"
    ".badge.objectives_missed{background:#b26a00}"
    ".badge.failed{background:#c62828}.badge.preempted,.badge.skipped,.badge.other"
    "{background:#6a737d}"
    ".yes{color:#2e7d32;font-weight:600}.no{color:#c62828;font-weight:600}.na{color:#6a737d}"
    "td.num{text-align:right;white-space:nowrap}.muted{color:#57606a;font-size:12px}"
    "svg text{font-family:'DejaVu Sans',Arial,sans-serif;font-size:12px;fill:#1b1f23}"
    "svg .axis{stroke:#57606a;stroke-width:1}svg .grid{stroke:#d0d7de;stroke-width:1}"
    "svg .tick{font-size:11px;fill:#57606a}"
    "svg .bar{stroke:#fff;stroke-width:1}svg .bar.ok{fill:#2e7d32}svg .bar.failed{fill:#c62828}"
    "svg .bar.skipped,svg .bar.other{fill:#8c959f}"
    "svg .bar.step-rp{fill-opacity:.55}svg .bar.step-verify{fill-opacity:.7}"
    "svg .bar.step-revert{fill-opacity:.85}"
    "svg .barlabel{font-size:10px;fill:#fff;pointer-events:none}"
    "svg .objective{stroke:#b26a00;stroke-width:1.5;stroke-dasharray:5 4;fill:none}"
    "svg .series{stroke:#0b5cad;stroke-width:2;fill:none}"
    "svg .point{stroke:#fff;stroke-width:1}svg .point.met{fill:#2e7d32}"
    "svg .point.missed{fill:#c62828}svg .point.unknown{fill:#0b5cad}"
    ".legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;"
    "width:12px;height:12px;margin-right:4px;vertical-align:-1px}"
    ".trends{display:flex;flex-wrap:wrap;gap:8px}"
    "footer{margin-top:28px;color:#57606a;font-size:12px}"
    "@page{size:A4;margin:14mm}"
    "@media print{body{margin:0;max-width:none;padding:0;font-size:11px}"
    "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    "h2,h3{break-after:avoid;page-break-after:avoid}"
    "table,svg,.collection,.trend,.summary{break-inside:avoid;page-break-inside:avoid}"
    "tr{break-inside:avoid;page-break-inside:avoid}"
    "section.details{break-before:page;page-break-before:always}}";

static void s_page_head(sg_textbuf_t *b, const char *title)
{
    sg_textbuf_put(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
                      "'none'; style-src 'unsafe-inline'\">\n"
                      "<meta name=\"generator\" content=\"siteguard\">\n<title>");
    sg_textbuf_html(b, title);
    sg_textbuf_put(b, "</title>\n<style>");
    sg_textbuf_put(b, s_css);
    sg_textbuf_put(b, "</style>\n</head>\n<body>\n");
}

static void s_page_foot(sg_textbuf_t *b, const char *what)
{
    sg_textbuf_printf(b, "<footer>%s Times are UTC; " S_DASH " marks a measure not taken or "
                         "an objective not set.</footer>\n</body>\n</html>\n", what);
}

/* One row of a facts table; `value` escaped, em dash when missing. */
static void s_fact(sg_textbuf_t *b, const char *name, const char *value)
{
    sg_textbuf_printf(b, "<tr><th>%s</th><td>", name);
    s_html_or_dash(b, value);
    sg_textbuf_put(b, "</td></tr>\n");
}

static void s_badge(sg_textbuf_t *b, const char *result)
{
    sg_textbuf_printf(b, "<span class=\"badge %s\">", s_result_class(result));
    s_html_or_dash(b, s_result_text(result));
    sg_textbuf_put(b, "</span>");
}

/* ---- one report: facts ------------------------------------------------------------ */

static void s_objectives_html(sg_textbuf_t *b, const json_t *rep)
{
    const json_t *obj = json_object_get(rep, "objectives");
    int64_t rto = s_measure(obj, "rto_ms"), rpo = s_measure(obj, "rpo_ms");
    sg_textbuf_put(b, "<tr><th>Objectives</th><td>RTO ");
    s_dur_html(b, rto);
    sg_textbuf_put(b, ", RPO ");
    s_dur_html(b, rpo);
    sg_textbuf_put(b, "</td></tr>\n<tr><th>Objectives met</th><td>");
    s_flag_html(b, s_tri(rep, "objectives_met"), "yes", "no");
    sg_textbuf_put(b, "</td></tr>\n<tr><th>Cleanup verified</th><td>");
    s_flag_html(b, s_tri(rep, "cleanup_verified"), "yes: every test copy removed, replicating",
                "no: see the collections");
    sg_textbuf_put(b, "</td></tr>\n");
}

static void s_facts_html(sg_textbuf_t *b, const json_t *rep)
{
    char dur[64];
    json_t *colls = s_array(rep, "collections"), *skipped = s_array(rep, "skipped");
    sg_textbuf_put(b, "<section class=\"summary\">\n<table class=\"facts\">\n");
    s_fact(b, "Drill", s_str(rep, "drill"));
    s_fact(b, "Run", s_str(rep, "id"));
    s_fact(b, "Trigger", s_str(rep, "trigger"));
    s_fact(b, "Started by", s_str(rep, "started_by"));
    sg_textbuf_put(b, "<tr><th>Started</th><td>");
    s_time_html(b, rep, "started_ms");
    sg_textbuf_put(b, "</td></tr>\n<tr><th>Ended</th><td>");
    s_time_html(b, rep, "ended_ms");
    sg_textbuf_put(b, "</td></tr>\n");
    s_fact(b, "Duration", s_dur(s_measure(rep, "duration_ms"), dur, sizeof dur));
    s_fact(b, "Config file", s_str(rep, "config"));
    sg_textbuf_put(b, "<tr><th>Config digest</th><td><code class=\"digest\">");
    s_html_or_dash(b, s_str(rep, "config_digest"));
    sg_textbuf_put(b, "</code></td></tr>\n<tr><th>Result</th><td>");
    s_badge(b, s_str(rep, "result"));
    sg_textbuf_put(b, "</td></tr>\n");
    if (s_str(rep, "preempted_by"))
        s_fact(b, "Pre-empted by", s_str(rep, "preempted_by"));
    s_objectives_html(b, rep);
    sg_textbuf_printf(b, "<tr><th>Collections</th><td>%zu tested, %zu skipped</td></tr>\n",
                      json_array_size(colls), json_array_size(skipped));
    sg_textbuf_put(b, "</table>\n</section>\n");
}

/* ---- one report: the timeline ----------------------------------------------------- */

/* The time span of the timeline: [*t0, *t1] in Unix ms, t1 > t0. */
static void s_span(const json_t *rep, int64_t *t0, int64_t *t1)
{
    json_t *colls = s_array(rep, "collections"), *c, *st;
    size_t i, k;
    int64_t v;
    *t0 = 0;
    *t1 = 0;
    bool have0 = s_int(rep, "started_ms", t0);
    if (s_int(rep, "ended_ms", &v))
        *t1 = v;
    json_array_foreach(colls, i, c) {
        json_array_foreach(s_array(c, "steps"), k, st) {
            if (!have0 && s_int(st, "started_ms", &v) && (*t0 == 0 || v < *t0))
                *t0 = v;
            if (s_int(st, "ended_ms", &v) && v > *t1)
                *t1 = v;
        }
    }
    if (*t1 <= *t0)
        *t1 = *t0 + 1000;
}

/* The smallest of 1, 2, 5 times a power of ten (seconds) that cuts `span_s`
 * into at most `max` steps. */
static double s_nice_step(double span_s, int max)
{
    static const double mult[] = {1, 2, 5};
    for (double p = 0.001; p < 1e12; p *= 10)
        for (size_t i = 0; i < 3; i++)
            if (span_s / (mult[i] * p) <= max)
                return mult[i] * p;
    return 1e12;
}

static int s_decimals(double step) { return step >= 1 ? 0 : step >= 0.1 ? 1 : step >= 0.01 ? 2 : 3; }

/* x of time `t` on the timeline. */
static double s_tl_x(int64_t t, int64_t t0, int64_t t1)
{
    if (t < t0)
        t = t0;
    if (t > t1)
        t = t1;
    return S_TL_X0 + (double)(t - t0) * (S_TL_X1 - S_TL_X0) / (double)(t1 - t0);
}

static void s_tl_axis(sg_textbuf_t *b, int64_t t0, int64_t t1, int y_axis)
{
    double span_s = (double)(t1 - t0) / 1000.0, step = s_nice_step(span_s, 10);
    int dec = s_decimals(step);
    sg_textbuf_put(b, "<g class=\"axis-ticks\">\n");
    for (long k = 0; k * step <= span_s + 1e-9; k++) {
        double x = S_TL_X0 + k * step * 1000.0 * (S_TL_X1 - S_TL_X0) / (double)(t1 - t0);
        sg_textbuf_printf(b, "<line class=\"grid\" x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\"/>"
                             "<text class=\"tick\" x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">"
                             "%.*f s</text>\n",
                          x, S_TL_TOP - 4, x, y_axis, x, y_axis + 16, dec, k * step);
    }
    sg_textbuf_printf(b, "</g>\n<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n"
                         "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"end\">seconds "
                         "from the drill's start</text>\n",
                      S_TL_X0, y_axis, S_TL_X1, y_axis, S_TL_X1, y_axis + 34);
}

/* One step's bar, with its times and detail as a tooltip. */
static void s_tl_bar(sg_textbuf_t *b, const json_t *st, int64_t t0, int64_t t1, int y)
{
    int64_t s = t0, e;
    s_int(st, "started_ms", &s);
    if (!s_int(st, "ended_ms", &e) || e < s)
        e = s;
    double x = s_tl_x(s, t0, t1), w = s_tl_x(e, t0, t1) - x;
    w = w < S_TL_MIN_BAR ? S_TL_MIN_BAR : w;
    const char *step = s_str(st, "step"), *result = s_str(st, "result");
    sg_textbuf_printf(b, "<rect class=\"bar %s %s\" data-step=\"", s_result_class(result),
                      s_step_class(step));
    sg_textbuf_html(b, step);
    sg_textbuf_printf(b, "\" data-start-ms=\"%lld\" data-end-ms=\"%lld\" x=\"%.2f\" y=\"%d\" "
                         "width=\"%.2f\" height=\"%d\"><title>",
                      (long long)(s - t0), (long long)(e - t0), x, y, w, S_TL_BAR);
    sg_textbuf_html(b, step);
    sg_textbuf_put(b, ": ");
    sg_textbuf_html(b, result);
    sg_textbuf_printf(b, ", %.1f s to %.1f s", (double)(s - t0) / 1000.0,
                      (double)(e - t0) / 1000.0);
    if (s_str(st, "detail")) {
        sg_textbuf_put(b, "; ");
        sg_textbuf_html(b, s_str(st, "detail"));
    }
    sg_textbuf_put(b, "</title></rect>\n");
    if (w >= 44)
        sg_textbuf_printf(b, "<text class=\"barlabel\" x=\"%.2f\" y=\"%d\" "
                             "text-anchor=\"middle\">%s</text>\n",
                          x + w / 2, y + S_TL_BAR - 4, s_step_short(step));
}

/* One collection's row: its name (cut to fit, whole in the tooltip), its bars. */
static void s_tl_row(sg_textbuf_t *b, const json_t *c, int64_t t0, int64_t t1, int y)
{
    const char *name = s_str(c, "collection");
    bool cut = false;
    size_t shown = name ? s_utf8_prefix(name, S_TL_LABEL_CP, &cut) : 0;
    json_t *st;
    size_t k;
    sg_textbuf_put(b, "<g class=\"row\" data-collection=\"");
    sg_textbuf_html(b, name);
    sg_textbuf_printf(b, "\">\n<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"end\">"
                         "<title>",
                      S_TL_X0 - 10, y + S_TL_BAR - 3);
    sg_textbuf_html(b, name);
    sg_textbuf_put(b, "</title>");
    if (name)
        sg_textbuf_htmln(b, name, shown);
    sg_textbuf_put(b, cut ? "\xe2\x80\xa6</text>\n" : "</text>\n");
    json_array_foreach(s_array(c, "steps"), k, st)
        s_tl_bar(b, st, t0, t1, y);
    sg_textbuf_put(b, "</g>\n");
}

/* The RTO objective, a dashed line, when it falls on the axis. */
static void s_tl_objective(sg_textbuf_t *b, const json_t *rep, int64_t t0, int64_t t1,
                           int y_axis)
{
    int64_t rto = s_measure(json_object_get(rep, "objectives"), "rto_ms");
    if (rto < 0 || t0 + rto > t1)
        return;
    double x = s_tl_x(t0 + rto, t0, t1);
    sg_textbuf_printf(b, "<g class=\"rto-objective\"><line class=\"objective\" x1=\"%.2f\" "
                         "y1=\"%d\" x2=\"%.2f\" y2=\"%d\"/><text class=\"tick\" x=\"%.2f\" "
                         "y=\"%d\" text-anchor=\"middle\">RTO objective</text></g>\n",
                      x, S_TL_TOP - 4, x, y_axis, x, S_TL_TOP - 9);
}

static void s_timeline_html(sg_textbuf_t *b, const json_t *rep)
{
    json_t *colls = s_array(rep, "collections"), *c;
    size_t n = json_array_size(colls), i;
    int64_t t0, t1;
    s_span(rep, &t0, &t1);
    int y_axis = S_TL_TOP + (int)(n ? n : 1) * S_TL_ROW, height = y_axis + 44;
    sg_textbuf_put(b, "<section class=\"timeline\">\n<h2>Timeline</h2>\n");
    sg_textbuf_printf(b, "<svg class=\"timeline-chart\" xmlns=\"http://www.w3.org/2000/svg\" "
                         "viewBox=\"0 0 %d %d\" width=\"100%%\" role=\"img\" "
                         "aria-label=\"steps of each collection over time\">\n",
                      S_TL_W, height);
    s_tl_axis(b, t0, t1, y_axis);
    json_array_foreach(colls, i, c)
        s_tl_row(b, c, t0, t1, S_TL_TOP + (int)i * S_TL_ROW + (S_TL_ROW - S_TL_BAR) / 2);
    if (!n)
        sg_textbuf_printf(b, "<text x=\"%d\" y=\"%d\">no collection was tested</text>\n",
                          S_TL_X0, S_TL_TOP + S_TL_BAR);
    s_tl_objective(b, rep, t0, t1, y_axis);
    sg_textbuf_put(b, "</svg>\n<p class=\"legend muted\">"
                      "<span><i style=\"background:#2e7d32\"></i>ok</span>"
                      "<span><i style=\"background:#c62828\"></i>failed</span>"
                      "<span><i style=\"background:#8c959f\"></i>skipped</span>"
                      "<span>bars in order: recovery point, TestReplicaCollection, "
                      "RevertTestReplicaCollection, verify (lighter: point, verify)</span></p>\n"
                      "</section>\n");
}

/* ---- one report: the collections ---------------------------------------------------- */

/* "achieved / objective" and met, in a cell. */
static void s_measure_cell(sg_textbuf_t *b, const json_t *c, const char *key, const char *met,
                           int64_t objective)
{
    sg_textbuf_put(b, "<td class=\"num\">");
    s_dur_html(b, s_measure(c, key));
    sg_textbuf_put(b, " / ");
    s_dur_html(b, objective);
    sg_textbuf_put(b, " ");
    s_flag_html(b, s_tri(c, met), "met", "missed");
    sg_textbuf_put(b, "</td>");
}

static void s_collections_table(sg_textbuf_t *b, const json_t *rep)
{
    const json_t *obj = json_object_get(rep, "objectives");
    int64_t rto = s_measure(obj, "rto_ms"), rpo = s_measure(obj, "rpo_ms");
    json_t *c;
    size_t i;
    sg_textbuf_put(b, "<section class=\"collections\">\n<h2>Collections</h2>\n"
                      "<table class=\"collections-table\">\n<tr><th>Collection</th><th>Site "
                      "&#8594; replica</th><th>Result</th><th>RTO achieved / objective</th>"
                      "<th>RPO achieved / objective</th><th>Recovery point</th><th>Cleanup</th>"
                      "</tr>\n");
    json_array_foreach(s_array(rep, "collections"), i, c) {
        sg_textbuf_put(b, "<tr><td>");
        s_html_or_dash(b, s_str(c, "collection"));
        sg_textbuf_put(b, "</td><td>");
        s_html_or_dash(b, s_str(c, "site"));
        sg_textbuf_put(b, " &#8594; ");
        s_html_or_dash(b, s_str(c, "replica_site"));
        sg_textbuf_put(b, "</td><td>");
        s_badge(b, s_str(c, "result"));
        sg_textbuf_put(b, "</td>");
        s_measure_cell(b, c, "rto_ms", "rto_met", rto);
        s_measure_cell(b, c, "rpo_ms", "rpo_met", rpo);
        sg_textbuf_put(b, "<td class=\"mono\">");
        s_html_or_dash(b, s_str(c, "recovery_point"));
        sg_textbuf_put(b, "</td><td>");
        s_html_or_dash(b, s_str(c, "cleanup"));
        sg_textbuf_put(b, "</td></tr>\n");
    }
    sg_textbuf_put(b, "</table>\n</section>\n");
}

static void s_step_row(sg_textbuf_t *b, const json_t *st, int64_t t0)
{
    int64_t s = -1, e = -1, rv;
    bool has_s = s_int(st, "started_ms", &s), has_e = s_int(st, "ended_ms", &e);
    char buf[64];
    sg_textbuf_put(b, "<tr><td>");
    s_html_or_dash(b, s_str(st, "step"));
    sg_textbuf_put(b, "</td><td class=\"num\">");
    if (has_s)
        sg_textbuf_printf(b, "%.1f s", (double)(s - t0) / 1000.0);
    else
        sg_textbuf_put(b, S_DASH);
    sg_textbuf_put(b, "</td><td class=\"num\">");
    s_html_or_dash(b, has_s && has_e && e >= s ? s_dur(e - s, buf, sizeof buf) : NULL);
    sg_textbuf_put(b, "</td><td>");
    s_badge(b, s_str(st, "result"));
    sg_textbuf_put(b, "</td><td>");
    s_html_or_dash(b, s_str(st, "detail"));
    if (s_int(st, "return_value", &rv))
        sg_textbuf_printf(b, " <span class=\"muted\">(return value %lld)</span>", (long long)rv);
    if (s_str(st, "job_path")) {
        sg_textbuf_put(b, "<br><code>");
        sg_textbuf_html(b, s_str(st, "job_path"));
        sg_textbuf_put(b, "</code>");
    }
    sg_textbuf_put(b, "</td></tr>\n");
}

static void s_collection_detail(sg_textbuf_t *b, const json_t *c, int64_t t0)
{
    json_t *st;
    size_t k;
    int64_t rp;
    char when[64];
    sg_textbuf_put(b, "<section class=\"collection\" data-collection=\"");
    sg_textbuf_html(b, s_str(c, "collection"));
    sg_textbuf_put(b, "\">\n<h3>");
    s_html_or_dash(b, s_str(c, "collection"));
    sg_textbuf_put(b, " ");
    s_badge(b, s_str(c, "result"));
    sg_textbuf_put(b, "</h3>\n<p>Recovery point: <code>");
    s_html_or_dash(b, s_str(c, "recovery_point"));
    sg_textbuf_put(b, "</code>");
    if (s_int(c, "recovery_point_ms", &rp)) {
        s_utc(rp, S_UTC_SECONDS, when, sizeof when);
        sg_textbuf_printf(b, ", created %s", when);
    }
    sg_textbuf_put(b, ". Cleanup: ");
    s_html_or_dash(b, s_str(c, "cleanup"));
    sg_textbuf_put(b, ".</p>\n<table class=\"steps\">\n<tr><th>Step</th><th>From start</th>"
                      "<th>Took</th><th>Result</th><th>Detail</th></tr>\n");
    json_array_foreach(s_array(c, "steps"), k, st)
        s_step_row(b, st, t0);
    if (!json_array_size(s_array(c, "steps")))
        sg_textbuf_put(b, "<tr><td colspan=\"5\">" S_DASH " no step recorded</td></tr>\n");
    sg_textbuf_put(b, "</table>\n</section>\n");
}

static void s_details_html(sg_textbuf_t *b, const json_t *rep)
{
    json_t *c;
    size_t i;
    int64_t t0, t1;
    s_span(rep, &t0, &t1);
    sg_textbuf_put(b, "<section class=\"details\">\n<h2>Steps per collection</h2>\n");
    json_array_foreach(s_array(rep, "collections"), i, c)
        s_collection_detail(b, c, t0);
    sg_textbuf_put(b, "</section>\n");
}

static void s_skipped_html(sg_textbuf_t *b, const json_t *rep)
{
    json_t *sk;
    size_t i;
    if (!json_array_size(s_array(rep, "skipped")))
        return;
    sg_textbuf_put(b, "<section class=\"skipped\">\n<h2>Not tested</h2>\n<table>\n"
                      "<tr><th>Collection</th><th>Why</th></tr>\n");
    json_array_foreach(s_array(rep, "skipped"), i, sk) {
        sg_textbuf_put(b, "<tr><td>");
        s_html_or_dash(b, s_str(sk, "collection"));
        sg_textbuf_put(b, "</td><td>");
        s_html_or_dash(b, s_str(sk, "reason"));
        sg_textbuf_put(b, "</td></tr>\n");
    }
    sg_textbuf_put(b, "</table>\n</section>\n");
}

static void s_report_html(sg_textbuf_t *b, const json_t *rep)
{
    const char *drill = s_str(rep, "drill");
    sg_textbuf_t title;
    sg_textbuf_init(&title);
    sg_textbuf_printf(&title, "Drill report: %s (%s)", drill ? drill : "?",
                      s_str(rep, "id") ? s_str(rep, "id") : "?");
    s_page_head(b, title.oom ? "Drill report" : title.text);
    sg_textbuf_fini(&title);
    sg_textbuf_put(b, "<header>\n<h1>Drill report: <span class=\"drill-name\">");
    s_html_or_dash(b, drill);
    sg_textbuf_put(b, "</span></h1>\n<p class=\"muted\">siteguard drill of Hyper-V replica "
                      "collections through TestReplicaCollection</p>\n</header>\n");
    s_facts_html(b, rep);
    s_timeline_html(b, rep);
    s_collections_table(b, rep);
    s_skipped_html(b, rep);
    s_details_html(b, rep);
    s_page_foot(b, "Rendered by siteguardctl from the drill's report in the journal.");
}

/* ---- one report: CSV --------------------------------------------------------------- */

static void s_csv_int(sg_textbuf_t *b, bool has, int64_t v)
{
    if (has)
        sg_textbuf_printf(b, "%lld", (long long)v);
}

static void s_csv_measure(sg_textbuf_t *b, int64_t v)
{
    s_csv_int(b, v >= 0, v);
}

static void s_csv_tri(sg_textbuf_t *b, int v)
{
    sg_textbuf_put(b, v < 0 ? "" : v ? "true" : "false");
}

static void s_csv_time(sg_textbuf_t *b, const json_t *o, const char *key)
{
    int64_t ms;
    char buf[64];
    if (s_int(o, key, &ms)) {
        s_utc(ms, S_UTC_ISO, buf, sizeof buf);
        sg_textbuf_put(b, buf);
    }
}

static const char s_csv_head[] =
    "drill,run,collection,site,replica_site,collection_result,recovery_point,rto_ms,"
    "rto_objective_ms,rto_met,rpo_ms,rpo_objective_ms,rpo_met,cleanup,step,step_started,"
    "step_offset_ms,step_duration_ms,step_result,detail,job_path,return_value\r\n";

/* The collection's columns, up to and including cleanup. */
static void s_csv_collection(sg_textbuf_t *b, const json_t *rep, const json_t *c)
{
    const json_t *obj = json_object_get(rep, "objectives");
    const char *cols[] = {s_str(rep, "drill"), s_str(rep, "id"), s_str(c, "collection"),
                          s_str(c, "site"), s_str(c, "replica_site"), s_str(c, "result"),
                          s_str(c, "recovery_point")};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        sg_textbuf_csv(b, cols[i]);
        sg_textbuf_put(b, ",");
    }
    s_csv_measure(b, s_measure(c, "rto_ms"));
    sg_textbuf_put(b, ",");
    s_csv_measure(b, s_measure(obj, "rto_ms"));
    sg_textbuf_put(b, ",");
    s_csv_tri(b, s_tri(c, "rto_met"));
    sg_textbuf_put(b, ",");
    s_csv_measure(b, s_measure(c, "rpo_ms"));
    sg_textbuf_put(b, ",");
    s_csv_measure(b, s_measure(obj, "rpo_ms"));
    sg_textbuf_put(b, ",");
    s_csv_tri(b, s_tri(c, "rpo_met"));
    sg_textbuf_put(b, ",");
    sg_textbuf_csv(b, s_str(c, "cleanup"));
}

/* The step's columns, after a comma; NULL: an empty step. */
static void s_csv_step(sg_textbuf_t *b, const json_t *st, int64_t t0)
{
    int64_t s = 0, e = 0, rv = 0;
    bool has_s = st && s_int(st, "started_ms", &s), has_e = st && s_int(st, "ended_ms", &e);
    bool has_rv = st && s_int(st, "return_value", &rv);
    sg_textbuf_put(b, ",");
    sg_textbuf_csv(b, st ? s_str(st, "step") : NULL);
    sg_textbuf_put(b, ",");
    if (st)
        s_csv_time(b, st, "started_ms");
    sg_textbuf_put(b, ",");
    s_csv_int(b, has_s, s - t0);
    sg_textbuf_put(b, ",");
    s_csv_int(b, has_s && has_e && e >= s, e - s);
    sg_textbuf_put(b, ",");
    sg_textbuf_csv(b, st ? s_str(st, "result") : NULL);
    sg_textbuf_put(b, ",");
    sg_textbuf_csv(b, st ? s_str(st, "detail") : NULL);
    sg_textbuf_put(b, ",");
    sg_textbuf_csv(b, st ? s_str(st, "job_path") : NULL);
    sg_textbuf_put(b, ",");
    s_csv_int(b, has_rv, rv);
    sg_textbuf_put(b, "\r\n");
}

static void s_report_csv(sg_textbuf_t *b, const json_t *rep)
{
    json_t *c, *st;
    size_t i, k;
    int64_t t0, t1;
    s_span(rep, &t0, &t1);
    sg_textbuf_put(b, s_csv_head);
    json_array_foreach(s_array(rep, "collections"), i, c) {
        json_array_foreach(s_array(c, "steps"), k, st) {
            s_csv_collection(b, rep, c);
            s_csv_step(b, st, t0);
        }
        if (!json_array_size(s_array(c, "steps"))) {
            s_csv_collection(b, rep, c);
            s_csv_step(b, NULL, t0);
        }
    }
}

/* ---- the history ------------------------------------------------------------------- */

/* The reports in the order of their start (stable). *order owned. */
static int s_history_order(const json_t *reports, size_t **order)
{
    size_t n = json_array_size(reports);
    *order = calloc(n ? n : 1, sizeof **order);
    if (!*order)
        return SG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int64_t si = 0, sj = 0;
        s_int(json_array_get(reports, i), "started_ms", &si);
        size_t j = i;
        while (j > 0 && (s_int(json_array_get(reports, (*order)[j - 1]), "started_ms", &sj),
                         sj > si)) {
            (*order)[j] = (*order)[j - 1];
            j--;
        }
        (*order)[j] = i;
    }
    return SG_OK;
}

/* The collection named `name` in report `rep`, or NULL. */
static const json_t *s_find_collection(const json_t *rep, const char *name)
{
    json_t *c;
    size_t i;
    json_array_foreach(s_array(rep, "collections"), i, c) {
        const char *n = s_str(c, "collection");
        if (n && strcmp(n, name) == 0)
            return c;
    }
    return NULL;
}

/* Every collection name of the reports, in order of first appearance.
 * *names owned (the strings are the reports'). */
static int s_history_names(const json_t *reports, const size_t *order, const char ***names,
                           size_t *n)
{
    size_t cap = 0;
    *names = NULL;
    *n = 0;
    for (size_t i = 0; i < json_array_size(reports); i++) {
        json_t *rep = json_array_get(reports, order[i]), *c;
        size_t k;
        json_array_foreach(s_array(rep, "collections"), k, c) {
            const char *name = s_str(c, "collection");
            bool seen = !name;
            for (size_t j = 0; !seen && j < *n; j++)
                seen = strcmp((*names)[j], name) == 0;
            if (seen)
                continue;
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                const char **grown = realloc(*names, cap * sizeof *grown);
                if (!grown)
                    return SG_ENOMEM;
                *names = grown;
            }
            (*names)[(*n)++] = name;
        }
    }
    return SG_OK;
}

static int64_t s_max_measure(const json_t *c, const char *key)
{
    int64_t v = -1;
    json_t *x;
    size_t i;
    json_array_foreach(s_array(c, "collections"), i, x) {
        int64_t m = s_measure(x, key);
        v = m > v ? m : v;
    }
    return v;
}

/* A digest cut to its first 12 hex digits, whole in the tooltip. */
static void s_digest_cell(sg_textbuf_t *b, const char *digest)
{
    const char *colon = digest ? strchr(digest, ':') : NULL;
    size_t keep = (colon ? (size_t)(colon - digest) + 1 : 0) + 12;
    if (!digest || strlen(digest) <= keep + 1) {
        sg_textbuf_put(b, "<td class=\"mono\">");
        s_html_or_dash(b, digest);
        sg_textbuf_put(b, "</td>");
        return;
    }
    sg_textbuf_put(b, "<td class=\"mono\" title=\"");
    sg_textbuf_html(b, digest);
    sg_textbuf_put(b, "\">");
    sg_textbuf_htmln(b, digest, keep);
    sg_textbuf_put(b, "\xe2\x80\xa6</td>");
}

static void s_history_runs(sg_textbuf_t *b, const json_t *reports, const size_t *order)
{
    sg_textbuf_put(b, "<section class=\"runs\">\n<h2>Runs</h2>\n<table class=\"runs-table\">\n"
                      "<tr><th>Started</th><th>Drill</th><th>Run</th><th>Trigger</th>"
                      "<th>Started by</th><th>Result</th><th>Objectives met</th><th>Cleanup "
                      "verified</th><th>Max RTO</th><th>Max RPO</th><th>Config digest</th></tr>\n");
    for (size_t i = 0; i < json_array_size(reports); i++) {
        json_t *rep = json_array_get(reports, order[i]);
        const char *digest = s_str(rep, "config_digest");
        sg_textbuf_put(b, "<tr><td>");
        s_time_html(b, rep, "started_ms");
        sg_textbuf_put(b, "</td><td>");
        s_html_or_dash(b, s_str(rep, "drill"));
        sg_textbuf_put(b, "</td><td class=\"mono\">");
        s_html_or_dash(b, s_str(rep, "id"));
        sg_textbuf_put(b, "</td><td>");
        s_html_or_dash(b, s_str(rep, "trigger"));
        sg_textbuf_put(b, "</td><td>");
        s_html_or_dash(b, s_str(rep, "started_by"));
        sg_textbuf_put(b, "</td><td>");
        s_badge(b, s_str(rep, "result"));
        sg_textbuf_put(b, "</td><td>");
        s_flag_html(b, s_tri(rep, "objectives_met"), "yes", "no");
        sg_textbuf_put(b, "</td><td>");
        s_flag_html(b, s_tri(rep, "cleanup_verified"), "yes", "no");
        sg_textbuf_put(b, "</td><td class=\"num\">");
        s_dur_html(b, s_max_measure(rep, "rto_ms"));
        sg_textbuf_put(b, "</td><td class=\"num\">");
        s_dur_html(b, s_max_measure(rep, "rpo_ms"));
        s_digest_cell(b, digest);
        sg_textbuf_put(b, "</tr>\n");
    }
    if (!json_array_size(reports))
        sg_textbuf_put(b, "<tr><td colspan=\"11\">" S_DASH " no drill run ended yet</td></tr>\n");
    sg_textbuf_put(b, "</table>\n</section>\n");
}

/* One point of a trend: a run of the collection. */
typedef struct {
    const json_t *rep;
    int64_t value, objective; /* -1: missing */
    int met;                  /* -1: no objective */
} s_point_t;

/* The unit of a trend's axis for its largest value: s, min or h. */
static void s_unit(int64_t max_ms, double *div, const char **name)
{
    *div = max_ms < 120000 ? 1000.0 : max_ms < 7200000 ? 60000.0 : 3600000.0;
    *name = max_ms < 120000 ? "s" : max_ms < 7200000 ? "min" : "h";
}

static double s_tr_x(size_t i, size_t m)
{
    return m <= 1 ? (S_TR_X0 + S_TR_X1) / 2.0
                  : S_TR_X0 + (double)i * (S_TR_X1 - S_TR_X0) / (double)(m - 1);
}

static double s_tr_y(int64_t v, double top_ms)
{
    return S_TR_Y1 - (double)v * (S_TR_Y1 - S_TR_Y0) / top_ms;
}

/* Polylines through the points that have a value (objective: `obj`),
 * broken where one is missing. */
static void s_tr_lines(sg_textbuf_t *b, const s_point_t *p, size_t m, double top_ms, bool obj,
                       const char *cls)
{
    size_t i = 0;
    while (i < m) {
        while (i < m && (obj ? p[i].objective : p[i].value) < 0)
            i++;
        size_t start = i;
        while (i < m && (obj ? p[i].objective : p[i].value) >= 0)
            i++;
        if (i - start < 2)
            continue;
        sg_textbuf_printf(b, "<polyline class=\"%s\" points=\"", cls);
        for (size_t k = start; k < i; k++)
            sg_textbuf_printf(b, "%s%.2f,%.2f", k > start ? " " : "", s_tr_x(k, m),
                              s_tr_y(obj ? p[k].objective : p[k].value, top_ms));
        sg_textbuf_put(b, "\"/>\n");
    }
}

static void s_tr_point(sg_textbuf_t *b, const s_point_t *p, size_t i, size_t m, double top_ms)
{
    char v[64], o[64], when[64];
    int64_t started = 0;
    s_int(p[i].rep, "started_ms", &started);
    s_utc(started, S_UTC_MINUTES, when, sizeof when);
    sg_textbuf_printf(b, "<circle class=\"point %s\" cx=\"%.2f\" cy=\"%.2f\" r=\"4\"><title>",
                      p[i].met < 0 ? "unknown" : p[i].met ? "met" : "missed", s_tr_x(i, m),
                      s_tr_y(p[i].value, top_ms));
    sg_textbuf_html(b, s_str(p[i].rep, "id"));
    sg_textbuf_printf(b, " (%s): %s, objective %s</title></circle>\n", when,
                      s_dur(p[i].value, v, sizeof v),
                      s_dur(p[i].objective, o, sizeof o) ? o : "none");
}

static void s_tr_axes(sg_textbuf_t *b, const s_point_t *p, size_t m, double top_ms, double div,
                      double step, const char *unit, const char *title)
{
    char first[64], last[64];
    int64_t s0 = 0, s1 = 0;
    sg_textbuf_printf(b, "<text x=\"%d\" y=\"14\">%s (%s)</text>\n", S_TR_X0, title, unit);
    for (long k = 0; k * step * div <= top_ms + 1e-6; k++) {
        double y = s_tr_y((int64_t)(k * step * div + 0.5), top_ms);
        sg_textbuf_printf(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\"/>"
                             "<text class=\"tick\" x=\"%d\" y=\"%.2f\" text-anchor=\"end\">"
                             "%.*f</text>\n",
                          S_TR_X0, y, S_TR_X1, y, S_TR_X0 - 6, y + 4, s_decimals(step),
                          k * step);
    }
    sg_textbuf_printf(b, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
                      S_TR_X0, S_TR_Y1, S_TR_X1, S_TR_Y1);
    s_int(p[0].rep, "started_ms", &s0);
    s_int(p[m - 1].rep, "started_ms", &s1);
    s_utc(s0, S_UTC_MINUTES, first, sizeof first);
    s_utc(s1, S_UTC_MINUTES, last, sizeof last);
    sg_textbuf_printf(b, "<text class=\"tick\" x=\"%d\" y=\"%d\">%s</text>\n", S_TR_X0,
                      S_TR_Y1 + 18, first);
    if (m > 1)
        sg_textbuf_printf(b, "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%s"
                             "</text>\n",
                          S_TR_X1, S_TR_Y1 + 18, last);
    sg_textbuf_printf(b, "<text class=\"tick\" x=\"%d\" y=\"%d\">%zu run%s</text>\n", S_TR_X0,
                      S_TR_Y1 + 34, m, m == 1 ? "" : "s");
}

/* One trend chart: a measure of a collection over its runs. */
static void s_trend_chart(sg_textbuf_t *b, const s_point_t *p, size_t m, const char *measure,
                          const char *title)
{
    int64_t max = 0;
    for (size_t i = 0; i < m; i++) {
        max = p[i].value > max ? p[i].value : max;
        max = p[i].objective > max ? p[i].objective : max;
    }
    max = max > 0 ? max : 1000;
    double div;
    const char *unit;
    s_unit(max, &div, &unit);
    double step = s_nice_step((double)max / div, 4);
    long steps = (long)((double)max / div / step + 0.999999);
    double top_ms = (double)(steps > 0 ? steps : 1) * step * div;
    sg_textbuf_printf(b, "<svg class=\"trend-chart\" data-measure=\"%s\" "
                         "xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                         "width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"%s over the "
                         "runs\">\n",
                      measure, S_TR_W, S_TR_H, S_TR_W, S_TR_H, title);
    s_tr_axes(b, p, m, top_ms, div, step, unit, title);
    s_tr_lines(b, p, m, top_ms, true, "objective");
    s_tr_lines(b, p, m, top_ms, false, "series");
    size_t shown = 0;
    for (size_t i = 0; i < m; i++)
        if (p[i].value >= 0 && ++shown)
            s_tr_point(b, p, i, m, top_ms);
    if (!shown)
        sg_textbuf_printf(b, "<text class=\"tick\" x=\"%d\" y=\"%d\">not measured in these "
                             "runs</text>\n",
                          S_TR_X0 + 10, (S_TR_Y0 + S_TR_Y1) / 2);
    sg_textbuf_put(b, "</svg>\n");
}

/* The points of collection `name` for measure `key` over the runs. */
static size_t s_trend_points(const json_t *reports, const size_t *order, const char *name,
                             const char *key, const char *met, s_point_t *p)
{
    size_t m = 0;
    for (size_t i = 0; i < json_array_size(reports); i++) {
        const json_t *rep = json_array_get(reports, order[i]);
        const json_t *c = s_find_collection(rep, name);
        if (!c)
            continue;
        p[m++] = (s_point_t){.rep = rep, .value = s_measure(c, key),
                             .objective = s_measure(json_object_get(rep, "objectives"), key),
                             .met = s_tri(c, met)};
    }
    return m;
}

static int s_history_trends(sg_textbuf_t *b, const json_t *reports, const size_t *order)
{
    const char **names = NULL;
    size_t n = 0;
    s_point_t *p = calloc(json_array_size(reports) + 1, sizeof *p);
    int rc = p ? s_history_names(reports, order, &names, &n) : SG_ENOMEM;
    sg_textbuf_put(b, "<section class=\"trends-all\">\n<h2>Trend per collection</h2>\n"
                      "<p class=\"legend muted\"><span><i style=\"background:#0b5cad\"></i>"
                      "achieved</span><span><i style=\"background:#b26a00\"></i>objective "
                      "(dashed)</span><span><i style=\"background:#2e7d32\"></i>met</span>"
                      "<span><i style=\"background:#c62828\"></i>missed</span></p>\n");
    for (size_t j = 0; rc == SG_OK && j < n; j++) {
        sg_textbuf_put(b, "<section class=\"trend\" data-collection=\"");
        sg_textbuf_html(b, names[j]);
        sg_textbuf_put(b, "\">\n<h3>");
        sg_textbuf_html(b, names[j]);
        sg_textbuf_put(b, "</h3>\n<div class=\"trends\">\n");
        size_t m = s_trend_points(reports, order, names[j], "rto_ms", "rto_met", p);
        s_trend_chart(b, p, m, "rto", "RTO achieved");
        m = s_trend_points(reports, order, names[j], "rpo_ms", "rpo_met", p);
        s_trend_chart(b, p, m, "rpo", "RPO achieved");
        sg_textbuf_put(b, "</div>\n</section>\n");
    }
    if (rc == SG_OK && !n)
        sg_textbuf_put(b, "<p>" S_DASH " no collection in these runs</p>\n");
    sg_textbuf_put(b, "</section>\n");
    free(names);
    free(p);
    return rc;
}

static int s_history_html(sg_textbuf_t *b, const json_t *reports, const size_t *order)
{
    size_t n = json_array_size(reports);
    char first[64] = "", last[64] = "";
    int64_t s0 = 0, s1 = 0;
    if (n) {
        s_int(json_array_get(reports, order[0]), "started_ms", &s0);
        s_int(json_array_get(reports, order[n - 1]), "started_ms", &s1);
        s_utc(s0, S_UTC_SECONDS, first, sizeof first);
        s_utc(s1, S_UTC_SECONDS, last, sizeof last);
    }
    s_page_head(b, "Drill history");
    sg_textbuf_put(b, "<header>\n<h1>Drill history</h1>\n<p class=\"muted\">");
    if (n)
        sg_textbuf_printf(b, "%zu run%s, from %s to %s, oldest first", n, n == 1 ? "" : "s",
                          first, last);
    else
        sg_textbuf_put(b, "no run");
    sg_textbuf_put(b, "</p>\n</header>\n");
    s_history_runs(b, reports, order);
    int rc = s_history_trends(b, reports, order);
    s_page_foot(b, "Rendered by siteguardctl from the drill reports in the journal.");
    return rc;
}

static const char s_history_csv_head[] =
    "drill,run,started,trigger,started_by,drill_result,objectives_met,cleanup_verified,"
    "config_digest,collection,collection_result,rto_ms,rto_objective_ms,rto_met,rpo_ms,"
    "rpo_objective_ms,rpo_met,cleanup\r\n";

static void s_history_csv_row(sg_textbuf_t *b, const json_t *rep, const json_t *c)
{
    const json_t *obj = json_object_get(rep, "objectives");
    const char *head[] = {s_str(rep, "drill"), s_str(rep, "id")};
    for (size_t i = 0; i < 2; i++) {
        sg_textbuf_csv(b, head[i]);
        sg_textbuf_put(b, ",");
    }
    s_csv_time(b, rep, "started_ms");
    const char *mid[] = {s_str(rep, "trigger"), s_str(rep, "started_by"), s_str(rep, "result")};
    for (size_t i = 0; i < 3; i++) {
        sg_textbuf_put(b, ",");
        sg_textbuf_csv(b, mid[i]);
    }
    sg_textbuf_put(b, ",");
    s_csv_tri(b, s_tri(rep, "objectives_met"));
    sg_textbuf_put(b, ",");
    s_csv_tri(b, s_tri(rep, "cleanup_verified"));
    sg_textbuf_put(b, ",");
    sg_textbuf_csv(b, s_str(rep, "config_digest"));
    sg_textbuf_put(b, ",");
    sg_textbuf_csv(b, s_str(c, "collection"));
    sg_textbuf_put(b, ",");
    sg_textbuf_csv(b, s_str(c, "result"));
    sg_textbuf_put(b, ",");
    s_csv_measure(b, s_measure(c, "rto_ms"));
    sg_textbuf_put(b, ",");
    s_csv_measure(b, s_measure(obj, "rto_ms"));
    sg_textbuf_put(b, ",");
    s_csv_tri(b, s_tri(c, "rto_met"));
    sg_textbuf_put(b, ",");
    s_csv_measure(b, s_measure(c, "rpo_ms"));
    sg_textbuf_put(b, ",");
    s_csv_measure(b, s_measure(obj, "rpo_ms"));
    sg_textbuf_put(b, ",");
    s_csv_tri(b, s_tri(c, "rpo_met"));
    sg_textbuf_put(b, ",");
    sg_textbuf_csv(b, s_str(c, "cleanup"));
    sg_textbuf_put(b, "\r\n");
}

static void s_history_csv(sg_textbuf_t *b, const json_t *reports, const size_t *order)
{
    sg_textbuf_put(b, s_history_csv_head);
    for (size_t i = 0; i < json_array_size(reports); i++) {
        json_t *rep = json_array_get(reports, order[i]), *c;
        size_t k;
        json_array_foreach(s_array(rep, "collections"), k, c)
            s_history_csv_row(b, rep, c);
    }
}

/* ---- the interface ------------------------------------------------------------------ */

int sg_drillreport_parse_format(const char *name, sg_drillreport_format_t *fmt)
{
    if (name && strcmp(name, "json") == 0)
        *fmt = SG_DRILLREPORT_JSON;
    else if (name && strcmp(name, "html") == 0)
        *fmt = SG_DRILLREPORT_HTML;
    else if (name && strcmp(name, "csv") == 0)
        *fmt = SG_DRILLREPORT_CSV;
    else
        return SG_EINVAL;
    return SG_OK;
}

/* `text` parsed; NULL unless it is an object with a "collections" array
 * (`history`: an array of objects). */
static json_t *s_load(const char *text, bool history)
{
    json_t *root = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    bool ok = history ? json_is_array(root) : json_is_object(root) && s_array(root, "collections");
    for (size_t i = 0; ok && history && i < json_array_size(root); i++)
        ok = json_is_object(json_array_get(root, i));
    if (!ok)
        json_decref(root);
    return ok ? root : NULL;
}

int sg_drillreport_render(const char *report, sg_drillreport_format_t fmt, char **out,
                          size_t *len)
{
    sg_textbuf_t b;
    json_t *rep = s_load(report, false);
    *out = NULL;
    if (!rep)
        return SG_EINVAL;
    sg_textbuf_init(&b);
    if (fmt == SG_DRILLREPORT_HTML)
        s_report_html(&b, rep);
    else if (fmt == SG_DRILLREPORT_CSV)
        s_report_csv(&b, rep);
    else
        sg_textbuf_put(&b, report);
    json_decref(rep);
    return sg_textbuf_take(&b, out, len);
}

int sg_drillreport_render_history(const char *reports, sg_drillreport_format_t fmt, char **out,
                                  size_t *len)
{
    sg_textbuf_t b;
    size_t *order = NULL;
    json_t *all = s_load(reports, true);
    *out = NULL;
    if (!all)
        return SG_EINVAL;
    sg_textbuf_init(&b);
    int rc = s_history_order(all, &order);
    if (rc == SG_OK && fmt == SG_DRILLREPORT_HTML)
        rc = s_history_html(&b, all, order);
    else if (rc == SG_OK && fmt == SG_DRILLREPORT_CSV)
        s_history_csv(&b, all, order);
    else if (rc == SG_OK)
        sg_textbuf_put(&b, reports);
    free(order);
    json_decref(all);
    if (rc != SG_OK) {
        sg_textbuf_fini(&b);
        return rc;
    }
    return sg_textbuf_take(&b, out, len);
}
