/* text: titles, summaries and times of outcomes. */
#include "common/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *sg_text_kind(sg_outcome_kind_t kind)
{
    return sg_outcome_kind_label(kind);
}

const char *sg_text_severity(sg_severity_t severity)
{
    return sg_severity_label(severity);
}

bool sg_text_outcome_complete(const sg_outcome_t *o)
{
    return o && o->struct_size >= offsetof(sg_outcome_t, json) + sizeof o->json && o->json;
}

void sg_text_rfc3339(int64_t time_ms, char *out)
{
    int64_t secs = time_ms / 1000, ms = time_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        snprintf(out, SG_TEXT_TIME_LEN, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(out, SG_TEXT_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
}

bool sg_text_flap_ended(const sg_outcome_t *o)
{
    static const char end[] = "/ended";
    size_t n = o->dedup_key ? strlen(o->dedup_key) : 0;
    return o->kind == SG_OUTCOME_SITE_FLAPPING && n >= sizeof end - 1 &&
           strcmp(o->dedup_key + n - (sizeof end - 1), end) == 0;
}

char *sg_text_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static const char *s_or(const char *s) { return s ? s : "?"; }

char *sg_text_title(const sg_outcome_t *o)
{
    const char *site = s_or(o->site), *coll = s_or(o->collection), *to = s_or(o->replica_site);
    switch (o->kind) {
    case SG_OUTCOME_SITE_SUSPECT: return sg_text_printf("site %s suspect", site);
    case SG_OUTCOME_SITE_LOST: return sg_text_printf("site %s lost", site);
    case SG_OUTCOME_SITE_RECOVERED: return sg_text_printf("site %s recovered", site);
    case SG_OUTCOME_DECISION:
        return sg_text_printf("failover of %s from %s to %s decided", coll, site, to);
    case SG_OUTCOME_BLOCKED:
        return sg_text_printf("failover of %s from %s to %s blocked", coll, site, to);
    case SG_OUTCOME_JOB_STARTED:
        return sg_text_printf("failover of %s from %s to %s started", coll, site, to);
    case SG_OUTCOME_PROGRESS:
        if (o->percent >= 0)
            return sg_text_printf("failover of %s from %s to %s at %d%%", coll, site, to,
                                  o->percent);
        return sg_text_printf("failover of %s from %s to %s in progress", coll, site, to);
    case SG_OUTCOME_SUCCEEDED: return sg_text_printf("%s failed over from %s to %s", coll, site, to);
    case SG_OUTCOME_FAILED:
        return sg_text_printf("failover of %s from %s to %s failed", coll, site, to);
    case SG_OUTCOME_TIMED_OUT:
        return sg_text_printf("failover of %s from %s to %s timed out", coll, site, to);
    case SG_OUTCOME_DRILL_REPORT:
        return sg_text_printf("DR drill report%s%s", o->message ? ": " : "",
                              o->message ? o->message : "");
    case SG_OUTCOME_SITE_CONTESTED: return sg_text_printf("site %s contested", site);
    case SG_OUTCOME_CANCELLED:
        return sg_text_printf("failover of %s from %s to %s cancelled", coll, site, to);
    case SG_OUTCOME_NOTICE: return sg_text_printf("siteguard notice%s%s", o->site ? ": site " : "",
                                                  o->site ? site : "");
    case SG_OUTCOME_LIFECYCLE:
        return sg_text_printf("%s", o->message ? o->message : "life-cycle step");
    case SG_OUTCOME_SITE_FLAPPING:
        return sg_text_printf(sg_text_flap_ended(o) ? "site %s stopped flapping"
                                                    : "site %s flapping",
                              site);
    }
    return sg_text_printf("%s", sg_text_kind(o->kind));
}

void sg_text_cut_utf8(char *s, size_t max)
{
    size_t len = strlen(s);
    if (len <= max)
        return;
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
        cut--; /* s[cut] would continue a character begun before it */
    s[cut] = '\0';
}

char *sg_text_summary(const sg_outcome_t *o, size_t max)
{
    char *title = sg_text_title(o);
    if (!title)
        return NULL;
    char *s = o->message ? sg_text_printf("%s: %s", title, o->message) : title;
    if (s != title)
        free(title);
    if (!s)
        return NULL;
    for (char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
    if (max > 0 && strlen(s) > max) {
        size_t keep = max > 3 ? max - 3 : 0;
        sg_text_cut_utf8(s, keep);
        strcat(s, max > 3 ? "..." : "");
    }
    return s;
}

static int s_fact(sg_text_fact_t *out, int *n, const char *label, char *value)
{
    if (!value)
        return -1;
    out[*n].label = label;
    out[*n].value = value;
    (*n)++;
    return 0;
}

static int s_fact_str(sg_text_fact_t *out, int *n, const char *label, const char *value)
{
    return value ? s_fact(out, n, label, sg_text_printf("%s", value)) : 0;
}

/* Facts of the job: only those the outcome sets, as its JSON does. */
static int s_job_facts(const sg_outcome_t *o, sg_text_fact_t *out, int *n)
{
    if (s_fact_str(out, n, "Job", o->job_path) != 0)
        return -1;
    if (o->percent >= 0 && s_fact(out, n, "Progress", sg_text_printf("%d%%", o->percent)) != 0)
        return -1;
    if (o->job_state != 0 && s_fact(out, n, "Job state", sg_text_printf("%d", o->job_state)) != 0)
        return -1;
    if (o->attempt > 0 && s_fact(out, n, "Attempt", sg_text_printf("%d", o->attempt)) != 0)
        return -1;
    if ((o->attempt > 0 || o->return_value != 0) &&
        s_fact(out, n, "Return value", sg_text_printf("%u", (unsigned)o->return_value)) != 0)
        return -1;
    if (o->error_code != 0 &&
        s_fact(out, n, "Error code", sg_text_printf("%u", (unsigned)o->error_code)) != 0)
        return -1;
    return 0;
}

int sg_text_facts(const sg_outcome_t *o, sg_text_fact_t *out)
{
    int n = 0;
    char when[SG_TEXT_TIME_LEN];
    sg_text_rfc3339(o->time_ms, when);
    if (s_fact_str(out, &n, "Kind", sg_text_kind(o->kind)) != 0 ||
        s_fact_str(out, &n, "Severity", sg_text_severity(o->severity)) != 0 ||
        s_fact_str(out, &n, "Time", when) != 0 || s_fact_str(out, &n, "Site", o->site) != 0 ||
        s_fact_str(out, &n, "Replica site", o->replica_site) != 0 ||
        s_fact_str(out, &n, "Collection", o->collection) != 0)
        goto fail;
    if (o->run_id != 0 &&
        s_fact(out, &n, "Run", sg_text_printf("%llu", (unsigned long long)o->run_id)) != 0)
        goto fail;
    if (s_job_facts(o, out, &n) != 0 || s_fact_str(out, &n, "Dedup key", o->dedup_key) != 0)
        goto fail;
    return n;
fail:
    sg_text_facts_free(out, n);
    return -1;
}

void sg_text_facts_free(sg_text_fact_t *facts, int n)
{
    for (int i = 0; i < n; i++) {
        free(facts[i].value);
        facts[i].value = NULL;
    }
}

void sg_text_base64(const void *data, size_t len, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        *out++ = abc[v >> 18];
        *out++ = abc[(v >> 12) & 63];
        *out++ = i + 1 < len ? abc[(v >> 6) & 63] : '=';
        *out++ = i + 2 < len ? abc[v & 63] : '=';
    }
    *out = '\0';
}
