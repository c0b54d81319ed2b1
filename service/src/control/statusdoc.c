/* statusdoc: the status document (statusdoc.h). */
#include "control/statusdoc.h"
#include "base/err.h"
#include "base/str.h"

#include <stdlib.h>
#include <string.h>

#define S_SINGLE "single instance (leader: none)"

/* ---- helpers shared with control's status ---------------------------------------- */

char *sg_statusdoc_pause_text(const sg_engine_t *e, const sg_config_t *cfg, int c,
                              int64_t now_mono)
{
    int site, coll;
    int64_t until;
    const char *reason;
    for (size_t i = 0; sg_engine_pause_at(e, i, now_mono, &site, &coll, &until, &reason); i++) {
        bool applies = coll == c || (coll < 0 && (site < 0 || site == cfg->collections[c].site));
        if (applies)
            return sg_strdupf("%.0f s: %s", (until - now_mono) / 1000.0,
                              reason ? reason : "no reason given");
    }
    return sg_strdupf("%s", "");
}

char *sg_statusdoc_run_point(const sg_config_t *cfg, int c, const char *point)
{
    if (point || c < 0)
        return sg_strdupf("%s", point ? point : "");
    const sg_collection_cfg_t *cc = &cfg->collections[c];
    return sg_strdupf("%s (configured)",
                      cc->recovery_point == SG_RP_LATEST                  ? "latest"
                      : cc->recovery_point == SG_RP_LATEST_APP_CONSISTENT ? "app"
                                                                          : cc->recovery_point_path);
}

char *sg_statusdoc_step_words(const sg_config_t *cfg, const sg_lifecycle_t *lc,
                              const sg_step_rec_t *r)
{
    int c = sg_config_find_collection(cfg, r->collection);
    const char *state = r->ended_ms                              ? (r->ok ? "succeeded" : "failed")
                        : lc && c >= 0 && sg_lifecycle_busy(lc, c) ? "running"
                                                                   : "open";
    return sg_strdupf("%s %s (step %llu)", r->action ? r->action : "step", state,
                      (unsigned long long)r->id);
}

char *sg_statusdoc_leader_text(const sg_leader_t *l)
{
    return l ? sg_leader_describe(l) : sg_strdupf("%s", S_SINGLE);
}

/* ---- JSON values ---------------------------------------------------------------- */

/* Appends the UTF-8 text of `s` with every invalid byte replaced by U+FFFD. */
static json_t *s_sanitized(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = (p[i + k] & 0xc0) == 0x80;
        if (ok) {
            memcpy(out + o, p + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    json_t *j = json_string(out); /* overlong forms and surrogates jansson still refuses */
    free(out);
    return j ? j : json_string("\xef\xbf\xbd");
}

/* A string, null for NULL; text that is not UTF-8 shows with U+FFFD. */
static json_t *s_str(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    return j ? j : s_sanitized(s);
}

/* A string made here (owned by the call): NULL is out of memory. */
static json_t *s_own(char *s)
{
    json_t *j = s ? s_str(s) : NULL;
    free(s);
    return j;
}

static json_t *s_int(int64_t v) { return json_integer((json_int_t)v); }

/* Unix ms, null for 0 (not happened). */
static json_t *s_time(int64_t ms) { return ms ? s_int(ms) : json_null(); }

/* obj[key] = value (taken); a NULL value (out of memory) makes the object
 * unusable, which the caller learns from s_set's result. */
static int s_set(json_t *obj, const char *key, json_t *value)
{
    if (!obj || !value || json_object_set_new(obj, key, value) != 0) {
        json_decref(value);
        return SG_ENOMEM;
    }
    return SG_OK;
}

static int s_push(json_t *arr, json_t *value)
{
    if (!arr || !value || json_array_append_new(arr, value) != 0) {
        json_decref(value);
        return SG_ENOMEM;
    }
    return SG_OK;
}

/* ---- sections ----------------------------------------------------------------------- */

typedef struct {
    const sg_statusdoc_src_t *src;
    json_t *doc;
    int rc; /* sticky: SG_ENOMEM once anything failed */
    sg_step_rec_t *steps; /* the newest life-cycle steps, oldest first */
    size_t n_steps;
} s_build_t;

static void s_put(s_build_t *b, json_t *obj, const char *key, json_t *value)
{
    b->rc |= s_set(obj, key, value);
}

static bool s_in_episode(sg_site_state_t st)
{
    return st == SG_SITE_LOST || st == SG_SITE_CONTESTED || st == SG_SITE_RECOVERING;
}

static void s_sites(s_build_t *b)
{
    const sg_statusdoc_src_t *src = b->src;
    const sg_config_t *cfg = src->cfg;
    json_t *sites = json_array();
    size_t explained = 0;
    /* the explanations go to the sites not healthy first, then the others in order */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < cfg->n_sites; i++) {
            sg_site_state_t st = sg_engine_site_state(src->engine, (int)i);
            bool first = st != SG_SITE_HEALTHY;
            if (pass == 0) {
                json_t *s = json_object();
                s_put(b, s, "name", s_str(cfg->sites[i].name));
                s_put(b, s, "state", s_str(sg_site_state_name(st)));
                s_put(b, s, "witness", json_boolean(cfg->sites[i].witness));
                s_put(b, s, "lost_ms",
                      s_time(src->feed ? sg_statusfeed_lost_ms(src->feed, (int)i) : 0));
                s_put(b, s, "explain", json_null());
                b->rc |= s_push(sites, s);
            }
            if ((pass == 0) != first || explained >= SG_STATUSDOC_MAX_EXPLAINED || !sites)
                continue;
            explained++;
            s_put(b, json_array_get(sites, i), "explain",
                  s_own(sg_engine_explain_site(src->engine, (int)i, src->now)));
        }
    }
    s_put(b, b->doc, "sites", sites);
}

static void s_observers(s_build_t *b)
{
    const sg_config_t *cfg = b->src->cfg;
    json_t *list = json_array();
    for (size_t i = 0; i < cfg->n_observers; i++) {
        json_t *o = json_object();
        int64_t skew = 0;
        bool heard = sg_engine_observer_skew(b->src->engine, (int)i, &skew);
        s_put(b, o, "id", s_str(cfg->observers[i].id));
        s_put(b, o, "site", s_str(cfg->sites[cfg->observers[i].site].name));
        s_put(b, o, "heard", json_boolean(heard));
        s_put(b, o, "clock_offset_ms", heard ? s_int(skew) : json_null());
        b->rc |= s_push(list, o);
    }
    s_put(b, b->doc, "observers", list);
}

/* The order in which verdicts are listed: what needs eyes first. */
static int s_rank(sg_coll_verdict_t v)
{
    switch (v) {
    case SG_COLL_FAILED: return 0;
    case SG_COLL_DECIDED: return 1;
    case SG_COLL_AWAITING: return 2;
    case SG_COLL_BLOCKED: return 3;
    case SG_COLL_DENIED: return 4;
    case SG_COLL_DONE: return 5;
    default: return 6;
    }
}
#define S_RANKS 7

static json_t *s_collection(s_build_t *b, int c)
{
    const sg_statusdoc_src_t *src = b->src;
    const sg_config_t *cfg = src->cfg;
    const sg_collection_cfg_t *cc = &cfg->collections[c];
    sg_coll_verdict_t v = sg_engine_collection_verdict(src->engine, c);
    sg_guard_t g = sg_engine_collection_guard(src->engine, c);
    const sg_feed_run_t *r = src->feed ? sg_statusfeed_run(src->feed, c) : NULL;
    const char *hold = src->feed && g != SG_GUARD_NONE ? sg_statusfeed_hold(src->feed, c) : NULL;
    json_t *o = json_object();
    s_put(b, o, "name", s_str(cc->name));
    s_put(b, o, "site", s_str(cfg->sites[cc->site].name));
    s_put(b, o, "replica_site", s_str(cfg->sites[cc->replica_site].name));
    s_put(b, o, "group", s_int(cc->group));
    s_put(b, o, "verdict", s_str(sg_coll_verdict_name(v)));
    s_put(b, o, "paused", s_own(sg_statusdoc_pause_text(src->engine, cfg, c, src->now.mono)));
    s_put(b, o, "guard", g != SG_GUARD_NONE ? s_str(sg_guard_name(g)) : json_null());
    s_put(b, o, "hold", s_str(hold));
    char state[48];
    s_put(b, o, "run_id", r ? s_int((int64_t)r->run_id) : json_null());
    s_put(b, o, "run_state", r ? s_str(sg_feed_run_state(r, state, sizeof state)) : json_null());
    s_put(b, o, "percent", r && r->percent >= 0 ? s_int(r->percent) : json_null());
    s_put(b, o, "recovery_point", s_own(sg_statusdoc_run_point(cfg, c, r ? r->point : NULL)));
    /* its newest life-cycle step among those listed, as control's status says it */
    const sg_step_rec_t *step = NULL;
    for (size_t i = b->n_steps; !step && i-- > 0;)
        if (b->steps[i].collection && strcmp(b->steps[i].collection, cc->name) == 0)
            step = &b->steps[i];
    s_put(b, o, "last_step",
          step ? s_own(sg_statusdoc_step_words(cfg, src->lifecycle, step)) : s_str(""));
    return o;
}

static void s_collections(s_build_t *b)
{
    const sg_statusdoc_src_t *src = b->src;
    size_t n = src->cfg->n_collections;
    size_t cap = src->max_collections && src->max_collections < SG_STATUSDOC_MAX_COLLECTIONS
                     ? src->max_collections
                     : SG_STATUSDOC_MAX_COLLECTIONS;
    size_t count[S_RANKS] = {0}, by_verdict[SG_COLL_FAILED + 1] = {0};
    unsigned char *rank = malloc(n ? n : 1);
    json_t *list = json_array();
    if (!rank) {
        b->rc |= SG_ENOMEM;
        json_decref(list);
        return;
    }
    for (size_t c = 0; c < n; c++) {
        sg_coll_verdict_t v = sg_engine_collection_verdict(src->engine, (int)c);
        rank[c] = (unsigned char)s_rank(v);
        count[rank[c]]++;
        if ((unsigned)v <= SG_COLL_FAILED)
            by_verdict[v]++;
    }
    size_t shown = 0;
    for (int r = 0; r < S_RANKS && shown < cap; r++)
        for (size_t c = 0; c < n && shown < cap && count[r]; c++)
            if (rank[c] == r) {
                b->rc |= s_push(list, s_collection(b, (int)c));
                shown++;
            }
    free(rank);
    json_t *verdicts = json_object();
    for (int v = SG_COLL_IDLE; v <= SG_COLL_FAILED; v++)
        s_put(b, verdicts, sg_coll_verdict_name((sg_coll_verdict_t)v), s_int((int64_t)by_verdict[v]));
    s_put(b, b->doc, "collections", list);
    s_put(b, b->doc, "collections_total", s_int((int64_t)n));
    s_put(b, b->doc, "collections_omitted", s_int((int64_t)(n - shown)));
    s_put(b, b->doc, "verdicts", verdicts);
}

/* A collection with a known run, and what its run is sorted by. */
typedef struct {
    int c;
    uint64_t run_id;
    int64_t decided_ms;
} s_keyed_t;

static int s_by_run_id(const void *x, const void *y)
{
    const s_keyed_t *a = x, *b = y;
    return a->run_id < b->run_id ? -1 : a->run_id > b->run_id;
}

static int s_by_decided(const void *x, const void *y)
{
    const s_keyed_t *a = x, *b = y;
    if (a->decided_ms != b->decided_ms)
        return a->decided_ms < b->decided_ms ? -1 : 1;
    return s_by_run_id(x, y);
}

/* The collections whose run `keep` accepts, sorted by `cmp`: *n of them. */
static s_keyed_t *s_runs_of(const sg_statusfeed_t *f, size_t n_coll,
                            bool (*keep)(const sg_feed_run_t *, int64_t), int64_t arg,
                            int (*cmp)(const void *, const void *), size_t *n)
{
    s_keyed_t *idx = malloc((n_coll ? n_coll : 1) * sizeof *idx);
    *n = 0;
    if (!idx)
        return NULL;
    for (size_t c = 0; c < n_coll; c++) {
        const sg_feed_run_t *r = sg_statusfeed_run(f, (int)c);
        if (r && keep(r, arg))
            idx[(*n)++] = (s_keyed_t){(int)c, r->run_id, r->decided_ms};
    }
    qsort(idx, *n, sizeof *idx, cmp);
    return idx;
}

static bool s_any(const sg_feed_run_t *r, int64_t since)
{
    (void)r;
    (void)since;
    return true;
}

/* A run of the episode: decided since it began; with no loss seen, open. */
static bool s_of_episode(const sg_feed_run_t *r, int64_t since)
{
    return since ? r->decided_ms >= since : r->end == SG_FEED_OPEN;
}

/* The runs, as control's status lists them (the latest run of each
 * collection, oldest first), the newest SG_STATUSDOC_MAX_RUNS of them. */
static void s_runs(s_build_t *b)
{
    const sg_statusdoc_src_t *src = b->src;
    const sg_config_t *cfg = src->cfg;
    json_t *list = json_array();
    size_t n = 0;
    s_keyed_t *idx = src->feed ? s_runs_of(src->feed, cfg->n_collections, s_any, 0, s_by_run_id, &n)
                         : NULL;
    if (src->feed && !idx)
        b->rc |= SG_ENOMEM;
    size_t from = n > SG_STATUSDOC_MAX_RUNS ? n - SG_STATUSDOC_MAX_RUNS : 0;
    for (size_t i = from; i < n; i++) {
        int c = idx[i].c;
        const sg_feed_run_t *r = sg_statusfeed_run(src->feed, c);
        json_t *o = json_object();
        s_put(b, o, "run_id", s_int((int64_t)r->run_id));
        s_put(b, o, "collection", s_str(cfg->collections[c].name));
        s_put(b, o, "decided_ms", s_int(r->decided_ms));
        s_put(b, o, "ended_ms", s_int(r->ended_ms));
        s_put(b, o, "failed_over", json_boolean(r->end == SG_FEED_SUCCEEDED));
        s_put(b, o, "job_path", s_str(r->job_path ? r->job_path : ""));
        s_put(b, o, "recovery_point", s_own(sg_statusdoc_run_point(cfg, c, r->point)));
        b->rc |= s_push(list, o);
    }
    free(idx);
    s_put(b, b->doc, "runs", list);
    s_put(b, b->doc, "runs_omitted", s_int((int64_t)from));
}

/* Where the episode begins: the oldest loss of a site still in it (lost,
 * contested, recovering), else the latest loss; 0: none since start. */
static int64_t s_episode_start(const sg_statusdoc_src_t *src, int *site)
{
    int64_t open = 0, latest = 0;
    int open_site = -1, latest_site = -1;
    for (size_t i = 0; src->feed && i < src->cfg->n_sites; i++) {
        int64_t t = sg_statusfeed_lost_ms(src->feed, (int)i);
        if (!t)
            continue;
        if (s_in_episode(sg_engine_site_state(src->engine, (int)i)) && (!open || t < open)) {
            open = t;
            open_site = (int)i;
        }
        if (t > latest) {
            latest = t;
            latest_site = (int)i;
        }
    }
    *site = open ? open_site : latest_site;
    return open ? open : latest;
}

static json_t *s_episode_run(s_build_t *b, int c, const sg_feed_run_t *r)
{
    const sg_config_t *cfg = b->src->cfg;
    const sg_collection_cfg_t *cc = &cfg->collections[c];
    json_t *o = json_object();
    char state[48];
    s_put(b, o, "run_id", s_int((int64_t)r->run_id));
    s_put(b, o, "collection", s_str(cc->name));
    s_put(b, o, "site", s_str(cfg->sites[cc->site].name));
    s_put(b, o, "replica_site", s_str(cfg->sites[cc->replica_site].name));
    s_put(b, o, "origin", s_str(r->origin ? r->origin : "policy"));
    s_put(b, o, "recovery_point", s_own(sg_statusdoc_run_point(cfg, c, r->point)));
    s_put(b, o, "decided_ms", s_time(r->decided_ms));
    s_put(b, o, "intent_ms", s_time(r->intent_ms));
    s_put(b, o, "called_ms", s_time(r->called_ms));
    s_put(b, o, "progress_ms", s_time(r->progress_ms));
    s_put(b, o, "percent", r->percent >= 0 ? s_int(r->percent) : json_null());
    s_put(b, o, "ended_ms", s_time(r->ended_ms));
    s_put(b, o, "result", s_str(sg_feed_end_name(r->end)));
    s_put(b, o, "state", s_str(sg_feed_run_state(r, state, sizeof state)));
    s_put(b, o, "attempt", r->attempt ? s_int(r->attempt) : json_null());
    s_put(b, o, "job_path", s_str(r->job_path));
    s_put(b, o, "message", s_str(r->message));
    return o;
}

static void s_episode(s_build_t *b)
{
    const sg_statusdoc_src_t *src = b->src;
    int site = -1;
    int64_t since = s_episode_start(src, &site);
    json_t *ep = json_object(), *list = json_array();
    size_t n = 0;
    s_keyed_t *idx = src->feed ? s_runs_of(src->feed, src->cfg->n_collections, s_of_episode,
                                           since, s_by_decided, &n)
                         : NULL;
    if (src->feed && !idx)
        b->rc |= SG_ENOMEM;
    size_t from = n > SG_STATUSDOC_MAX_EPISODE_RUNS ? n - SG_STATUSDOC_MAX_EPISODE_RUNS : 0;
    for (size_t i = from; i < n; i++)
        b->rc |= s_push(list, s_episode_run(b, idx[i].c, sg_statusfeed_run(src->feed, idx[i].c)));
    s_put(b, ep, "site", site >= 0 ? s_str(src->cfg->sites[site].name) : json_null());
    s_put(b, ep, "state",
          site >= 0 ? s_str(sg_site_state_name(sg_engine_site_state(src->engine, site)))
                    : json_null());
    s_put(b, ep, "started_ms", s_time(since));
    /* the timeline's axis: from the loss (else the first run listed) to now */
    int64_t origin = since ? since : n > from ? idx[from].decided_ms : 0;
    s_put(b, ep, "origin_ms", s_time(origin));
    s_put(b, ep, "until_ms", s_int(src->now.wall));
    s_put(b, ep, "runs", list);
    s_put(b, ep, "runs_omitted", s_int((int64_t)from));
    s_put(b, b->doc, "episode", ep);
    free(idx);
}

/* The newest life-cycle steps (one query of the journal's steps table),
 * read before the collections, which name their own newest. */
static void s_read_steps(s_build_t *b)
{
    if (b->src->lifecycle && b->src->journal &&
        sg_steps_list(b->src->journal, SG_STATUSDOC_STEPS, &b->steps, &b->n_steps) != SG_OK) {
        b->steps = NULL;
        b->n_steps = 0; /* the page goes on without them */
    }
}

static void s_steps(s_build_t *b)
{
    json_t *list = json_array();
    for (size_t i = 0; i < b->n_steps; i++) {
        const sg_step_rec_t *r = &b->steps[i];
        json_t *o = json_object();
        s_put(b, o, "step_id", s_int((int64_t)r->id));
        s_put(b, o, "collection", s_str(r->collection ? r->collection : ""));
        s_put(b, o, "action", s_str(r->action ? r->action : ""));
        s_put(b, o, "who", s_str(r->who ? r->who : ""));
        s_put(b, o, "intent_ms", s_int(r->intent_ms));
        s_put(b, o, "ended_ms", s_int(r->ended_ms));
        s_put(b, o, "ok", json_boolean(r->ok));
        s_put(b, o, "detail", s_str(r->detail ? r->detail : ""));
        s_put(b, o, "job_path", s_str(r->job_path ? r->job_path : ""));
        b->rc |= s_push(list, o);
    }
    s_put(b, b->doc, "steps", list);
}

static void s_leader(s_build_t *b)
{
    const sg_leader_t *l = b->src->leader;
    json_t *o = json_object();
    s_put(b, b->doc, "leader", s_own(sg_statusdoc_leader_text(l)));
    s_put(b, o, "mode", s_str(l ? sg_leader_mode_name(l) : "none"));
    s_put(b, o, "name", s_str(l ? sg_leader_name(l) : NULL));
    s_put(b, o, "holder", s_str(l ? sg_leader_holder(l) : NULL));
    s_put(b, o, "epoch", s_int(l ? (int64_t)sg_leader_epoch(l) : 1));
    s_put(b, o, "is_leader", json_boolean(!l || sg_leader_is_leader(l)));
    s_put(b, b->doc, "leader_info", o);
}

/* A field of a report, copied: a string or number as it is, else null. */
static json_t *s_report_field(const json_t *report, const char *key)
{
    json_t *v = json_object_get(report, key);
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v) ? json_deep_copy(v)
                                                                       : json_null();
}

static void s_drills(s_build_t *b)
{
    const sg_statusdoc_src_t *src = b->src;
    json_t *list = json_array();
    for (size_t i = 0; i < src->n_drills; i++) {
        const sg_drill_status_t *d = &src->drills[i];
        json_t *o = json_object();
        s_put(b, o, "name", s_str(d->name));
        s_put(b, o, "last_result", d->last_result >= 0
                                       ? s_str(sg_drill_result_name((sg_drill_result_t)d->last_result))
                                       : json_null());
        s_put(b, o, "last_end_ms", d->last_end_ms >= 0 ? s_int(d->last_end_ms) : json_null());
        s_put(b, o, "last_pass_ms", d->last_pass_ms >= 0 ? s_int(d->last_pass_ms) : json_null());
        s_put(b, o, "due_ms", d->due_ms >= 0 ? s_int(d->due_ms) : json_null());
        const json_t *rep = src->drill_reports ? src->drill_reports[i] : NULL;
        json_t *sum = json_null();
        if (json_is_object(rep)) {
            sum = json_object();
            const char *keys[] = {"id",       "result",     "trigger",       "started_by",
                                  "started_ms", "ended_ms", "duration_ms", "objectives_met",
                                  "cleanup_verified"};
            for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
                s_put(b, sum, keys[k], s_report_field(rep, keys[k]));
            json_t *colls = json_object_get(rep, "collections");
            s_put(b, sum, "collections", s_int(json_is_array(colls) ? (int64_t)json_array_size(colls)
                                                                    : 0));
        }
        s_put(b, o, "report", sum);
        b->rc |= s_push(list, o);
    }
    s_put(b, b->doc, "drills", list);
    s_put(b, b->doc, "drill_running", json_boolean(src->drill_running));
}

static void s_outbox(s_build_t *b)
{
    const sg_config_t *cfg = b->src->cfg;
    json_t *list = json_array();
    for (size_t i = 0; i < cfg->n_sinks; i++) {
        const sg_notify_stats_t *k = b->src->sink_stats ? &b->src->sink_stats[i] : NULL;
        json_t *o = json_object();
        s_put(b, o, "sink", s_str(cfg->sinks[i].name));
        s_put(b, o, "plugin", s_str(cfg->sinks[i].plugin));
        s_put(b, o, "pending", k ? s_int((int64_t)k->pending) : json_null());
        s_put(b, o, "delivered", k ? s_int((int64_t)k->delivered) : json_null());
        s_put(b, o, "retried", k ? s_int((int64_t)k->retries) : json_null());
        s_put(b, o, "dead", k ? s_int((int64_t)k->dead) : json_null());
        b->rc |= s_push(list, o);
    }
    s_put(b, b->doc, "outbox", list);
}

static void s_audit(s_build_t *b)
{
    json_t *list = json_array();
    sg_journal_audit_t *a = NULL;
    size_t n = 0;
    if (b->src->journal &&
        sg_journal_audit_list(b->src->journal, SG_STATUSDOC_AUDIT, &a, &n) == SG_OK) {
        for (size_t i = n; i-- > 0;) { /* newest first */
            json_t *o = json_object();
            s_put(b, o, "seq", s_int((int64_t)a[i].seq));
            s_put(b, o, "time_ms", s_int(a[i].time_ms));
            s_put(b, o, "who", s_str(a[i].who ? a[i].who : ""));
            s_put(b, o, "role", s_str(a[i].role ? a[i].role : ""));
            s_put(b, o, "command", s_str(a[i].command ? a[i].command : ""));
            s_put(b, o, "target", s_str(a[i].target ? a[i].target : ""));
            s_put(b, o, "reason", s_str(a[i].reason ? a[i].reason : ""));
            s_put(b, o, "result", s_str(a[i].result ? a[i].result : ""));
            b->rc |= s_push(list, o);
        }
        sg_journal_audit_free(a, n);
    }
    s_put(b, b->doc, "audit", list);
}

json_t *sg_statusdoc_build(const sg_statusdoc_src_t *src)
{
    static const char *const modes[] = {"auto", "approve", "shadow"};
    s_build_t b = {.src = src, .doc = json_object()};
    const sg_config_t *cfg = src->cfg;
    unsigned mode = (unsigned)cfg->policy.mode;
    s_put(&b, b.doc, "generated_ms", s_int(src->now.wall));
    s_read_steps(&b);
    s_sites(&b);
    s_observers(&b);
    s_collections(&b);
    s_runs(&b);
    s_steps(&b);
    sg_steps_free(b.steps, b.n_steps);
    s_leader(&b);
    s_put(&b, b.doc, "mode", s_str(mode < 3 ? modes[mode] : "?"));
    s_put(&b, b.doc, "config", s_str(cfg->path ? cfg->path : ""));
    s_put(&b, b.doc, "loop_turns", s_int((int64_t)src->loop_turns));
    s_put(&b, b.doc, "loop_longest_us", s_int(src->loop_longest_us));
    s_episode(&b);
    s_drills(&b);
    s_outbox(&b);
    s_audit(&b);
    if (b.rc != SG_OK) {
        json_decref(b.doc);
        return NULL;
    }
    return b.doc;
}
