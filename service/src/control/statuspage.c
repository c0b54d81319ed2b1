/* statuspage: the status page's two sides (statuspage.h). */
#include "control/statuspage.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"
#include "control/statusfeed.h"
#include "control/statushtml.h"
#include "drill/drillreport.h"
#include "platform/platform.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_MOD "status"
#define S_WANTED_MS 30000 /* publish while a request came within this */
#define S_EVERY_MS 900    /* at most this often (the loop looks every 250 ms at least:
                             a publish about every second) */
#define S_STALE_MS 1500   /* older than this, a request asks for a fresh one ... */
#define S_WAIT_MS 2000    /* ... and waits for it at most this long */
#define S_JSON "application/json"
#define S_HTML "text/html; charset=utf-8"
#define S_TEXT "text/plain; charset=utf-8"
#define S_CSP_NONE "default-src 'none'; frame-ancestors 'none'"
#define S_CSP_REPORT "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"

/* A published text, shared by counted references. */
typedef struct {
    int refs; /* atomic */
    size_t len;
    char text[];
} s_shared_t;

static s_shared_t *s_shared(const char *text, size_t len)
{
    s_shared_t *s = malloc(sizeof *s + len + 1);
    if (!s)
        return NULL;
    s->refs = 1;
    s->len = len;
    memcpy(s->text, text, len);
    s->text[len] = '\0';
    return s;
}

static s_shared_t *s_ref(s_shared_t *s)
{
    if (s)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
    return s;
}

static void s_unref(s_shared_t *s)
{
    if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(s);
}

struct sg_statuspage {
    const sg_config_t *cfg;
    const sg_clock_t *clock;
    char *csp; /* the page's */
    /* the loop's side */
    sg_statusfeed_t *feed;
    json_t **reports; /* per configured drill: its latest report, parsed; NULL: none */
    int64_t wanted_until, next_publish;
    /* shared, under lock */
    pthread_mutex_t lock;
    pthread_cond_t published;
    s_shared_t *doc;       /* the latest document */
    int64_t doc_mono;      /* when it was published */
    uint64_t doc_seq;      /* publishes so far */
    s_shared_t **report_text; /* per configured drill */
    int asked;             /* atomic: a request came since the loop last looked */
};

/* base64 (RFC 4648) of n bytes into out (4 * ceil(n / 3) + 1 bytes). */
static void s_base64(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        out[o++] = i + 1 < n ? a[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? a[v & 63] : '=';
    }
    out[o] = '\0';
}

/* The CSP source of a text: the base64 of its SHA-256. */
static int s_hash(const char *text, char out[45])
{
    char hex[65];
    unsigned char raw[32];
    if (sg_platform_sha256_hex(text, strlen(text), hex) != SG_OK)
        return SG_EIO;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        raw[i] = (unsigned char)v;
    }
    s_base64(raw, sizeof raw, out);
    return SG_OK;
}

sg_statuspage_t *sg_statuspage_new(const sg_config_t *cfg, const sg_clock_t *clock)
{
    sg_statuspage_t *p = calloc(1, sizeof *p);
    char script[45], style[45];
    if (!p)
        return NULL;
    p->cfg = cfg;
    p->clock = clock;
    /* timed waits wait for a CLOCK_MONOTONIC deadline, as everywhere in the core
       (the Windows build's compat layer expects it) */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->published, &attr);
    pthread_condattr_destroy(&attr);
    size_t n = cfg->n_drills ? cfg->n_drills : 1;
    p->feed = sg_statusfeed_new(cfg);
    p->reports = calloc(n, sizeof *p->reports);
    p->report_text = calloc(n, sizeof *p->report_text);
    if (s_hash(sg_statushtml_script(), script) != SG_OK ||
        s_hash(sg_statushtml_style(), style) != SG_OK) {
        sg_error(S_MOD, "cannot hash the status page's script for its Content-Security-Policy");
        sg_statuspage_destroy(&p);
        return NULL;
    }
    p->csp = sg_statushtml_csp(script, style);
    if (!p->feed || !p->reports || !p->report_text || !p->csp) {
        sg_statuspage_destroy(&p);
        return NULL;
    }
    return p;
}

void sg_statuspage_destroy(sg_statuspage_t **pp)
{
    if (!pp || !*pp)
        return;
    sg_statuspage_t *p = *pp;
    for (size_t i = 0; i < p->cfg->n_drills; i++) {
        if (p->reports)
            json_decref(p->reports[i]);
        if (p->report_text)
            s_unref(p->report_text[i]);
    }
    free(p->reports);
    free(p->report_text);
    s_unref(p->doc);
    sg_statusfeed_destroy(&p->feed);
    free(p->csp);
    pthread_cond_destroy(&p->published);
    pthread_mutex_destroy(&p->lock);
    free(p);
    *pp = NULL;
}

/* ---- the loop's side --------------------------------------------------------------------- */

/* Keeps `report` (taken) as the latest of its drill, for the document and,
 * as text, for /drills/report. */
static void s_keep_report(sg_statuspage_t *p, json_t *report)
{
    int i = sg_config_find_drill(p->cfg, json_string_value(json_object_get(report, "drill")));
    char *text = i >= 0 ? json_dumps(report, JSON_COMPACT) : NULL;
    s_shared_t *shared = text ? s_shared(text, strlen(text)) : NULL;
    free(text);
    if (!shared) {
        if (i >= 0)
            sg_error(S_MOD, "out of memory keeping a drill report for the status page");
        json_decref(report);
        return;
    }
    json_decref(p->reports[i]);
    p->reports[i] = report;
    pthread_mutex_lock(&p->lock);
    s_shared_t *old = p->report_text[i];
    p->report_text[i] = shared;
    pthread_mutex_unlock(&p->lock);
    s_unref(old);
}

int sg_statuspage_seed(sg_statuspage_t *p, sg_journal_t *journal)
{
    if (!p || !journal)
        return SG_OK;
    sg_journal_run_t *runs = NULL;
    size_t n = 0;
    int rc = sg_journal_runs(journal, &runs, &n);
    if (rc == SG_OK)
        rc = sg_statusfeed_seed(p->feed, runs, n);
    sg_journal_runs_free(runs, n);
    for (size_t d = 0; rc == SG_OK && d < p->cfg->n_drills; d++) {
        char **reports = NULL;
        size_t k = 0;
        if (sg_journal_drill_reports(journal, p->cfg->drills[d].name, 1, &reports, &k) != SG_OK)
            continue; /* no report shown; not worth failing the start */
        json_t *report = k ? json_loads(reports[k - 1], 0, NULL) : NULL;
        if (json_is_object(report))
            s_keep_report(p, report);
        else
            json_decref(report);
        for (size_t i = 0; i < k; i++)
            free(reports[i]);
        free(reports);
    }
    return rc;
}

void sg_statuspage_decision(sg_statuspage_t *p, const sg_decision_t *d, int64_t wall_ms)
{
    if (!p)
        return;
    sg_decision_t copy = *d;
    if (d->kind == SG_DECISION_FAILOVER)
        copy.at.wall = wall_ms;
    if (sg_statusfeed_decision(p->feed, &copy) != SG_OK)
        sg_error(S_MOD, "out of memory following a decision for the status page");
}

void sg_statuspage_intent(sg_statuspage_t *p, int collection, int64_t wall_ms)
{
    if (p)
        sg_statusfeed_intent(p->feed, collection, wall_ms);
}

void sg_statuspage_step(sg_statuspage_t *p, const sg_feed_step_t *step)
{
    if (p && sg_statusfeed_step(p->feed, step) != SG_OK)
        sg_error(S_MOD, "out of memory following a run for the status page");
}

void sg_statuspage_outcome(sg_statuspage_t *p, const sg_outcome_t *o)
{
    if (!p || o->kind != SG_OUTCOME_DRILL_REPORT || !o->json)
        return;
    json_t *whole = json_loads(o->json, 0, NULL);
    json_t *report = json_object_get(whole, "report");
    if (json_is_object(report))
        s_keep_report(p, json_incref(report));
    json_decref(whole);
}

bool sg_statuspage_due(sg_statuspage_t *p, int64_t now_mono)
{
    if (!p)
        return false;
    if (__atomic_exchange_n(&p->asked, 0, __ATOMIC_ACQ_REL))
        p->wanted_until = now_mono + S_WANTED_MS;
    return now_mono < p->wanted_until && now_mono >= p->next_publish;
}

int sg_statuspage_publish(sg_statuspage_t *p, const sg_statusdoc_src_t *in)
{
    if (!p)
        return SG_OK;
    sg_statusdoc_src_t src = *in;
    src.feed = p->feed;
    src.drill_reports = (const json_t *const *)p->reports;
    src.n_drills = src.n_drills < p->cfg->n_drills ? src.n_drills : p->cfg->n_drills;
    src.max_collections = SG_STATUSDOC_MAX_COLLECTIONS;
    json_t *doc = sg_statusdoc_build(&src);
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_ESCAPE_SLASH) : NULL;
    json_decref(doc);
    s_shared_t *shared = text ? s_shared(text, strlen(text)) : NULL;
    free(text);
    int64_t now = sg_clock_mono(p->clock);
    p->next_publish = now + S_EVERY_MS;
    if (!shared)
        return SG_ENOMEM;
    pthread_mutex_lock(&p->lock);
    s_shared_t *old = p->doc;
    p->doc = shared;
    p->doc_mono = now;
    p->doc_seq++;
    pthread_cond_broadcast(&p->published);
    pthread_mutex_unlock(&p->lock);
    s_unref(old);
    return SG_OK;
}

/* ---- the HTTP side ------------------------------------------------------------------------- */

/* The latest document, fresh: one asked of the loop when it is stale,
 * waited for a while. NULL before the first. */
static s_shared_t *s_latest(sg_statuspage_t *p)
{
    pthread_mutex_lock(&p->lock);
    __atomic_store_n(&p->asked, 1, __ATOMIC_RELEASE);
    if (!p->doc || sg_clock_mono(p->clock) - p->doc_mono > S_STALE_MS) {
        uint64_t seq = p->doc_seq;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += S_WAIT_MS / 1000;
        until.tv_nsec += (long)(S_WAIT_MS % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (p->doc_seq == seq) /* any error ends the wait as a timeout does */
            if (pthread_cond_timedwait(&p->published, &p->lock, &until) != 0)
                break;
    }
    s_shared_t *doc = s_ref(p->doc);
    pthread_mutex_unlock(&p->lock);
    return doc;
}

static int s_reply(sg_statuspage_answer_t *a, unsigned status, const char *type, const char *csp,
                   char *body, size_t len)
{
    if (!body)
        return SG_ENOMEM;
    *a = (sg_statuspage_answer_t){.status = status, .content_type = type, .csp = csp,
                                  .body = body, .len = len};
    return SG_OK;
}

static int s_say(sg_statuspage_answer_t *a, unsigned status, const char *text)
{
    return s_reply(a, status, S_TEXT, S_CSP_NONE, sg_strdupf("%s\n", text), strlen(text) + 1);
}

/* ?limit=N: 1..max, or `def` when absent; -1 when malformed. */
static long s_limit(const char *arg, long def)
{
    if (!arg)
        return def;
    char *end = NULL;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end || errno || v < 1)
        return -1;
    return v < SG_STATUSDOC_MAX_COLLECTIONS ? v : SG_STATUSDOC_MAX_COLLECTIONS;
}

/* Cuts the document's collections to `limit`, counting the rest as omitted. */
static void s_cut(json_t *doc, size_t limit)
{
    json_t *list = json_object_get(doc, "collections");
    size_t n = json_array_size(list);
    if (n <= limit)
        return;
    for (size_t i = n; i > limit; i--)
        json_array_remove(list, i - 1);
    json_int_t omitted = json_integer_value(json_object_get(doc, "collections_omitted"));
    json_object_set_new(doc, "collections_omitted", json_integer(omitted + (json_int_t)(n - limit)));
}

static int s_status(sg_statuspage_t *p, const char *limit_arg, bool page,
                    sg_statuspage_answer_t *a)
{
    long limit = s_limit(limit_arg, page ? SG_STATUSPAGE_LIMIT : SG_STATUSDOC_MAX_COLLECTIONS);
    if (limit < 0)
        return s_say(a, 400, "limit must be a number of collections, 1 to 1000");
    s_shared_t *doc = s_latest(p);
    if (!doc)
        return s_say(a, 503, "not ready: no status yet");
    if (!page && limit == SG_STATUSDOC_MAX_COLLECTIONS) { /* as published */
        int rc = s_reply(a, 200, S_JSON, S_CSP_NONE, sg_strdupf("%s", doc->text), doc->len);
        s_unref(doc);
        return rc;
    }
    json_t *j = json_loadb(doc->text, doc->len, 0, NULL);
    s_unref(doc);
    if (!j)
        return SG_ENOMEM;
    s_cut(j, (size_t)limit);
    char *body = NULL;
    size_t len = 0;
    int rc = SG_OK;
    if (page) {
        rc = sg_statushtml_render(j, (size_t)limit, &body, &len);
    } else {
        body = json_dumps(j, JSON_COMPACT | JSON_ESCAPE_SLASH);
        len = body ? strlen(body) : 0;
    }
    json_decref(j);
    if (rc != SG_OK || !body) {
        free(body);
        return SG_ENOMEM;
    }
    return s_reply(a, 200, page ? S_HTML : S_JSON, page ? p->csp : S_CSP_NONE, body, len);
}

static int s_drill_report(sg_statuspage_t *p, const char *drill, sg_statuspage_answer_t *a)
{
    int i = drill ? sg_config_find_drill(p->cfg, drill) : -1;
    if (i < 0)
        return s_say(a, 404, "no such drill");
    pthread_mutex_lock(&p->lock);
    s_shared_t *text = s_ref(p->report_text[i]);
    pthread_mutex_unlock(&p->lock);
    if (!text)
        return s_say(a, 404, "no report of this drill yet");
    char *html = NULL;
    size_t len = 0;
    int rc = sg_drillreport_render(text->text, SG_DRILLREPORT_HTML, &html, &len);
    s_unref(text);
    if (rc == SG_EINVAL)
        return s_say(a, 500, "the drill's report cannot be rendered");
    if (rc != SG_OK)
        return SG_ENOMEM;
    return s_reply(a, 200, S_HTML, S_CSP_REPORT, html, len);
}

int sg_statuspage_answer(sg_statuspage_t *p, const char *path, const char *limit,
                         const char *drill, sg_statuspage_answer_t *a)
{
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
        return s_status(p, limit, true, a);
    if (strcmp(path, "/api/v1/status") == 0)
        return s_status(p, limit, false, a);
    if (strcmp(path, "/drills/report") == 0)
        return s_drill_report(p, drill, a);
    if (strcmp(path, "/favicon.ico") == 0) /* a browser asks; nothing to show, no error */
        return s_reply(a, 204, S_TEXT, S_CSP_NONE, sg_strdupf("%s", ""), 0);
    return SG_ENOTFOUND;
}

void sg_statuspage_answer_fini(sg_statuspage_answer_t *a)
{
    free(a->body);
    a->body = NULL;
}
