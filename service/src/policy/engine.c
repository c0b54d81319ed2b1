/* engine: the policy engine; see engine.h for the rules it keeps, and
 * engine_int.h for how its parts share the work. */
#include "policy/engine_int.h"
#include "base/err.h"
#include "base/str.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t sg_eng_sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

const char *sg_eng_site_name(const sg_engine_t *e, int site) { return e->cfg->sites[site].name; }

void sg_eng_changed(sg_engine_t *e) { e->opstate_gen++; }

/* ---- plan order ------------------------------------------------------------ */

/* A min-heap of collection indices ordered by (group, index). */
typedef struct {
    int *a;
    size_t n;
    const sg_config_t *cfg;
} s_heap_t;

static bool s_before(const s_heap_t *h, int x, int y)
{
    int gx = h->cfg->collections[x].group, gy = h->cfg->collections[y].group;
    return gx != gy ? gx < gy : x < y;
}

static void s_heap_push(s_heap_t *h, int v)
{
    size_t i = h->n++;
    while (i > 0 && s_before(h, v, h->a[(i - 1) / 2])) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = v;
}

static int s_heap_pop(s_heap_t *h)
{
    int top = h->a[0], last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        int mv = last;
        if (l < h->n && s_before(h, h->a[l], mv)) {
            m = l;
            mv = h->a[l];
        }
        if (r < h->n && s_before(h, h->a[r], mv))
            m = r;
        if (m == i)
            break;
        h->a[i] = h->a[m];
        i = m;
    }
    if (h->n > 0)
        h->a[i] = last;
    return top;
}

/* e->plan split by site (a stable partition, so each site's part keeps plan
 * order). */
static int s_build_site_plan(sg_engine_t *e)
{
    const sg_config_t *cfg = e->cfg;
    size_t *fill = calloc(cfg->n_sites + 1, sizeof *fill);
    if (!fill)
        return SG_ENOMEM;
    memset(e->site_off, 0, (cfg->n_sites + 1) * sizeof *e->site_off);
    for (size_t c = 0; c < cfg->n_collections; c++)
        e->site_off[cfg->collections[c].site + 1]++;
    for (size_t i = 0; i < cfg->n_sites; i++)
        e->site_off[i + 1] += e->site_off[i];
    for (size_t k = 0; k < cfg->n_collections; k++) {
        int c = e->plan[k], site = cfg->collections[c].site;
        e->site_plan[e->site_off[site] + fill[site]++] = c;
    }
    free(fill);
    return SG_OK;
}

/* Plan order: dependencies first, otherwise by group, then config order
 * (Kahn's algorithm with a heap). Dependencies are in the same or an earlier
 * group (config rule), so the order never goes back to an earlier group.
 * The config rejects cycles; any collection left over by one is appended in
 * (group, index) order. */
static int s_build_plan(sg_engine_t *e)
{
    const sg_config_t *cfg = e->cfg;
    size_t n = cfg->n_collections, k = 0;
    int *indeg = calloc(n ? n : 1, sizeof *indeg);
    size_t *off = calloc(n + 1, sizeof *off);
    size_t *fill = calloc(n ? n : 1, sizeof *fill);
    int *dependents = NULL;
    s_heap_t h = {.a = calloc(n ? n : 1, sizeof(int)), .cfg = cfg};
    bool *placed = calloc(n ? n : 1, sizeof *placed);
    int rc = SG_ENOMEM;
    if (!indeg || !off || !fill || !h.a || !placed)
        goto done;
    for (size_t c = 0; c < n; c++) {
        indeg[c] = (int)cfg->collections[c].n_depends_on;
        for (size_t j = 0; j < cfg->collections[c].n_depends_on; j++)
            off[cfg->collections[c].depends_on[j] + 1]++;
    }
    for (size_t c = 0; c < n; c++)
        off[c + 1] += off[c];
    dependents = calloc(off[n] ? off[n] : 1, sizeof *dependents);
    if (!dependents)
        goto done;
    for (size_t c = 0; c < n; c++) {
        for (size_t j = 0; j < cfg->collections[c].n_depends_on; j++) {
            int d = cfg->collections[c].depends_on[j];
            dependents[off[d] + fill[d]++] = (int)c;
        }
    }
    for (size_t c = 0; c < n; c++)
        if (indeg[c] == 0)
            s_heap_push(&h, (int)c);
    while (h.n > 0) {
        int c = s_heap_pop(&h);
        e->plan[k++] = c;
        placed[c] = true;
        for (size_t j = off[c]; j < off[c + 1]; j++)
            if (--indeg[dependents[j]] == 0)
                s_heap_push(&h, dependents[j]);
    }
    for (size_t c = 0; c < n; c++) /* only after a cycle */
        if (!placed[c])
            s_heap_push(&h, (int)c);
    while (h.n > 0)
        e->plan[k++] = s_heap_pop(&h);
    rc = s_build_site_plan(e);
done:
    free(indeg);
    free(off);
    free(fill);
    free(dependents);
    free(h.a);
    free(placed);
    return rc;
}

/* ---- life cycle --------------------------------------------------------------- */

static void *s_alloc(size_t n, size_t size) { return calloc(n ? n : 1, size); }

sg_engine_t *sg_engine_new(const sg_config_t *cfg, uint64_t run_id_base, sg_now_t now)
{
    sg_engine_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->cfg = cfg;
    e->start = now.mono;
    e->last_tick = INT64_MIN;
    e->next_run_id = run_id_base + 1;
    e->obs = s_alloc(cfg->n_observers, sizeof *e->obs);
    e->reports = s_alloc(cfg->n_observers * cfg->n_sites, sizeof *e->reports);
    e->credible = s_alloc(cfg->n_observers, sizeof *e->credible);
    e->sites = s_alloc(cfg->n_sites, sizeof *e->sites);
    e->site_budget = s_alloc(cfg->n_sites, sizeof *e->site_budget);
    e->repl = s_alloc(cfg->n_collections, sizeof *e->repl);
    e->colls = s_alloc(cfg->n_collections, sizeof *e->colls);
    e->plan = s_alloc(cfg->n_collections, sizeof *e->plan);
    e->site_plan = s_alloc(cfg->n_collections, sizeof *e->site_plan);
    e->site_off = calloc(cfg->n_sites + 1, sizeof *e->site_off);
    e->pass = s_alloc(cfg->n_sites, sizeof *e->pass);
    if (!e->obs || !e->reports || !e->credible || !e->sites || !e->site_budget || !e->repl ||
        !e->colls || !e->plan || !e->site_plan || !e->site_off || !e->pass ||
        s_build_plan(e) != SG_OK)
        goto fail;
    return e;
fail:
    sg_engine_destroy(&e);
    return NULL;
}

void sg_engine_raise_run_base(sg_engine_t *e, uint64_t base)
{
    if (base + 1 > e->next_run_id)
        e->next_run_id = base + 1;
}

void sg_decision_fini(sg_decision_t *d)
{
    free(d->reason);
    free(d->point);
    d->reason = NULL;
    d->point = NULL;
}

void sg_engine_destroy(sg_engine_t **ep)
{
    if (!ep || !*ep)
        return;
    sg_engine_t *e = *ep;
    for (size_t i = 0; i < e->q_len; i++)
        sg_decision_fini(&e->q[(e->q_head + i) % e->q_cap]);
    for (size_t i = 0; i < e->n_pauses; i++)
        free(e->pauses[i].reason);
    for (size_t i = 0; e->site_budget && i < e->cfg->n_sites; i++)
        free(e->site_budget[i].t);
    free(e->pauses);
    free(e->budget.t);
    free(e->site_budget);
    free(e->q);
    free(e->obs);
    free(e->reports);
    free(e->credible);
    free(e->sites);
    free(e->repl);
    free(e->colls);
    free(e->plan);
    free(e->site_plan);
    free(e->site_off);
    free(e->pass);
    free(e);
    *ep = NULL;
}

/* ---- decision queue ----------------------------------------------------------- */

static int s_queue_grow(sg_engine_t *e)
{
    size_t cap = e->q_cap ? e->q_cap * 2 : 16;
    sg_decision_t *q = malloc(cap * sizeof *q);
    if (!q)
        return SG_ENOMEM;
    for (size_t i = 0; i < e->q_len; i++)
        q[i] = e->q[(e->q_head + i) % e->q_cap];
    free(e->q);
    e->q = q;
    e->q_cap = cap;
    e->q_head = 0;
    return SG_OK;
}

static sg_decision_t *s_push(sg_engine_t *e, sg_decision_kind_t kind, int site, int coll,
                             sg_guard_t guard, sg_now_t now, char *reason)
{
    if (e->q_len == e->q_cap && s_queue_grow(e) != SG_OK)
        return NULL;
    sg_decision_t *d = &e->q[(e->q_head + e->q_len) % e->q_cap];
    *d = (sg_decision_t){.kind = kind,
                         .site = site,
                         .collection = coll,
                         .target_site = coll >= 0 ? e->cfg->collections[coll].replica_site : -1,
                         .observer = -1,
                         .guard = guard,
                         .run_id = kind == SG_DECISION_FAILOVER ? e->next_run_id++ : 0,
                         .at = now,
                         .reason = reason};
    e->q_len++;
    return d;
}

static sg_decision_t *s_emitv(sg_engine_t *e, sg_decision_kind_t kind, int site, int coll,
                              sg_guard_t guard, sg_now_t now, const char *fmt, va_list ap)
{
    char *reason = sg_vstrdupf(fmt, ap);
    if (!reason)
        return NULL;
    sg_decision_t *d = s_push(e, kind, site, coll, guard, now, reason);
    if (!d)
        free(reason);
    return d;
}

int sg_eng_emit(sg_engine_t *e, sg_decision_kind_t kind, int site, int coll, sg_guard_t guard,
                sg_now_t now, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sg_decision_t *d = s_emitv(e, kind, site, coll, guard, now, fmt, ap);
    va_end(ap);
    return d ? SG_OK : SG_ENOMEM;
}

static sg_decision_t *s_emit_d(sg_engine_t *e, sg_decision_kind_t kind, int site, int coll,
                               sg_now_t now, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static sg_decision_t *s_emit_d(sg_engine_t *e, sg_decision_kind_t kind, int site, int coll,
                               sg_now_t now, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sg_decision_t *d = s_emitv(e, kind, site, coll, SG_GUARD_NONE, now, fmt, ap);
    va_end(ap);
    return d;
}

bool sg_engine_next(sg_engine_t *e, sg_decision_t *out)
{
    if (e->q_len == 0)
        return false;
    *out = e->q[e->q_head];
    e->q_head = (e->q_head + 1) % e->q_cap;
    e->q_len--;
    return true;
}

size_t sg_engine_pending(const sg_engine_t *e) { return e->q_len; }

/* ---- events ------------------------------------------------------------------- */

static int64_t s_skew(const s_obs_t *o)
{
    return o->prev_known && o->skew_prev < o->skew_cur ? o->skew_prev : o->skew_cur;
}

/* The observer's clock offset: the smallest (receipt - send) over the last
 * one to two half windows, so transit delays do not count and a clock that
 * is stepped is followed within a window. */
static void s_sample_skew(s_obs_t *o, int64_t sample, int64_t now)
{
    if (!o->skew_known) {
        o->skew_known = true;
        o->skew_cur = sample;
        o->skew_rot = now;
        return;
    }
    if (now - o->skew_rot >= SG_SKEW_WINDOW_MS / 2) {
        o->skew_prev = o->skew_cur;
        o->prev_known = true;
        o->skew_cur = sample;
        o->skew_rot = now;
    } else if (sample < o->skew_cur) {
        o->skew_cur = sample;
    }
}

static int64_t s_abs(int64_t v) { return v < 0 ? (v == INT64_MIN ? INT64_MAX : -v) : v; }

/* Announces an observer whose clock offset passes skew_warn, and its return
 * (to within half of it). */
static int s_check_skew(sg_engine_t *e, int o, sg_now_t now)
{
    s_obs_t *ob = &e->obs[o];
    int64_t skew = s_skew(ob), bound = e->cfg->policy.skew_warn_ms;
    const sg_observer_cfg_t *oc = &e->cfg->observers[o];
    sg_decision_t *d = NULL;
    if (!ob->skew_warned && s_abs(skew) > bound) {
        ob->skew_warned = true;
        d = s_emit_d(e, SG_DECISION_NOTICE, oc->site, -1, now,
                     "observer %s (site %s): its clock is %.1f s %s siteguard's (skew_warn "
                     "%.1f s); liveness is judged by receive time, but check its time "
                     "service",
                     oc->id, sg_eng_site_name(e, oc->site), s_abs(skew) / 1000.0,
                     skew > 0 ? "behind" : "ahead of", bound / 1000.0);
    } else if (ob->skew_warned && s_abs(skew) <= bound / 2) {
        ob->skew_warned = false;
        d = s_emit_d(e, SG_DECISION_NOTICE, oc->site, -1, now,
                     "observer %s (site %s): its clock is back within %.1f s of siteguard's",
                     oc->id, sg_eng_site_name(e, oc->site), s_abs(skew) / 1000.0);
    } else {
        return SG_OK;
    }
    if (!d)
        return SG_ENOMEM;
    d->observer = o;
    return SG_OK;
}

/* Any event received from an observer shows that it, and so its site, is
 * alive and can reach siteguard now. */
static void s_heard(sg_engine_t *e, const sg_event_t *ev, sg_now_t now)
{
    s_obs_t *o = &e->obs[ev->observer];
    o->heard = true;
    o->last_hb = now.mono;
    s_sample_skew(o, sg_eng_sat_add(now.wall, -ev->sent_at_ms), now.mono);
    s_site_t *s = &e->sites[ev->site];
    s->heard = true;
    s->assumed = false;
    s->last_heard = now.mono;
}

static void s_on_reachability(sg_engine_t *e, const sg_event_t *ev, sg_now_t now)
{
    if (ev->u.reach.target_site == ev->site)
        return; /* a site's own observers speak through heartbeats */
    s_report_t *r = sg_eng_report(e, ev->observer, ev->u.reach.target_site);
    bool run_goes_on = r->known && !r->up && now.mono - r->at <= e->cfg->policy.report_max_age_ms;
    r->known = true;
    r->at = now.mono;
    if (ev->u.reach.up) {
        r->up = true;
        r->ever_up = true;
        r->last_up_at = now.mono;
        return;
    }
    if (!run_goes_on) /* a new run of "down" starts: vote_hold counts from here */
        r->down_since = now.mono;
    r->up = false;
}

static void s_on_replication(sg_engine_t *e, const sg_event_t *ev, sg_now_t now)
{
    int c = ev->u.repl.collection;
    if (!sg_config_replication_source(e->cfg, c, ev->observer))
        return; /* not an observer at the collection's sites (ingest drops these too) */
    int64_t lag = ev->u.repl.lag_s > (uint64_t)(INT64_MAX / 1000) ? INT64_MAX
                                                                   : (int64_t)ev->u.repl.lag_s * 1000;
    int64_t lr = ev->u.repl.last_replicated_ms;
    if (lr > 0 && ev->sent_at_ms > lr && ev->sent_at_ms - lr > lag)
        lag = ev->sent_at_ms - lr;
    e->repl[c] = (s_repl_t){.known = true,
                            .health = ev->u.repl.health,
                            .lag_ms = lag,
                            .at = now.mono,
                            .observer = ev->observer};
}

int sg_engine_on_event(sg_engine_t *e, const sg_event_t *ev, sg_now_t now)
{
    s_heard(e, ev, now);
    switch (ev->kind) {
    case SG_EV_REACHABILITY: s_on_reachability(e, ev, now); break;
    case SG_EV_REPLICATION: s_on_replication(e, ev, now); break;
    default: break; /* node state and probe results are informational */
    }
    return s_check_skew(e, ev->observer, now);
}

/* ---- collection decisions ----------------------------------------------------- */

static int s_hold(sg_engine_t *e, int c, sg_coll_verdict_t v, sg_guard_t g, sg_now_t now,
                  const char *why)
{
    s_coll_t *cs = &e->colls[c];
    const sg_collection_cfg_t *cc = &e->cfg->collections[c];
    bool again = cs->verdict == v && cs->announced == g;
    cs->verdict = v;
    cs->announced = g;
    if (again)
        return SG_OK;
    return sg_eng_emit(e, SG_DECISION_BLOCKED, cc->site, c, g, now,
                       "failover of %s to %s held back (%s): %s", cc->name,
                       sg_eng_site_name(e, cc->replica_site), sg_guard_name(g), why);
}

/* Counts this loss against the budgets, once. */
static int s_take_budget(sg_engine_t *e, int site, sg_now_t now)
{
    s_site_t *s = &e->sites[site];
    if (s->budget_taken)
        return SG_OK;
    if (sg_eng_budget_take(&e->budget, now.mono) != SG_OK ||
        sg_eng_budget_take(&e->site_budget[site], now.mono) != SG_OK)
        return SG_ENOMEM;
    s->budget_taken = true;
    sg_eng_changed(e);
    return SG_OK;
}

/* Marks c decided for the run just queued by `d`. */
static void s_decided(sg_engine_t *e, int c, sg_decision_t *d, bool manual, bool forced)
{
    s_coll_t *cs = &e->colls[c];
    d->origin = forced ? SG_ORIGIN_FORCED : manual ? SG_ORIGIN_MANUAL : SG_ORIGIN_ENGINE;
    cs->verdict = SG_COLL_DECIDED;
    cs->announced = SG_GUARD_NONE;
    cs->run_id = d->run_id;
    cs->manual = manual;
    cs->forced = forced;
    cs->timed_out = false;
}

static int s_failover(sg_engine_t *e, int c, sg_now_t now, const char *how)
{
    const sg_collection_cfg_t *cc = &e->cfg->collections[c];
    if (s_take_budget(e, cc->site, now) != SG_OK)
        return SG_ENOMEM;
    bool unknown = cc->rpo_limit_ms == 0 && !sg_eng_repl_fresh(e, c, now.mono);
    sg_decision_t *d = s_emit_d(e, SG_DECISION_FAILOVER, cc->site, c, now,
                                "site %s is lost and every guard passes (replica site %s "
                                "healthy); %s: fail %s over to %s (plan group %d)%s",
                                sg_eng_site_name(e, cc->site),
                                sg_eng_site_name(e, cc->replica_site), how, cc->name,
                                sg_eng_site_name(e, cc->replica_site), cc->group,
                                unknown ? "; no fresh replication report: the data loss is "
                                          "unknown (no RPO limit set)"
                                        : "");
    if (!d)
        return SG_ENOMEM;
    s_decided(e, c, d, false, false);
    return SG_OK;
}

/* Approve mode, guards passed. */
static int s_decide_approve(sg_engine_t *e, int c, sg_now_t now)
{
    const sg_policy_cfg_t *p = &e->cfg->policy;
    s_coll_t *cs = &e->colls[c];
    char why[160];
    if (cs->approved)
        return s_failover(e, c, now, "approved by an operator");
    if (cs->verdict != SG_COLL_AWAITING && cs->announced != SG_GUARD_APPROVAL_TIMEOUT) {
        if (cs->deadline == 0) { /* a deadline restored from before a restart stands */
            cs->deadline = now.mono + p->approval_timeout_ms;
            sg_eng_changed(e);
        }
        snprintf(why, sizeof why,
                 "policy mode is approve: waiting %.0f s for an operator, then %s",
                 (cs->deadline - now.mono) / 1000.0,
                 p->proceed_on_timeout ? "proceeding" : "holding");
        return s_hold(e, c, SG_COLL_AWAITING, SG_GUARD_AWAITING_APPROVAL, now, why);
    }
    if (cs->verdict == SG_COLL_AWAITING && now.mono >= cs->deadline) {
        if (p->proceed_on_timeout)
            return s_failover(e, c, now, "no operator answer in time and the policy proceeds");
        return s_hold(e, c, SG_COLL_BLOCKED, SG_GUARD_APPROVAL_TIMEOUT, now,
                      "no operator answer in time and the policy holds; approve to proceed");
    }
    return SG_OK;
}

/* `wait` and `failed`: a waiting and a failed collection of an earlier
 * group of c's site, or -1 (the plan order summary). */
/* Whether holding c back by g is news (s_hold announces it). */
static bool s_hold_is_news(const s_coll_t *cs, sg_guard_t g)
{
    return cs->verdict != SG_COLL_BLOCKED || cs->announced != g;
}

static int s_decide_one(sg_engine_t *e, int c, sg_now_t now, int wait, int failed)
{
    char why[256] = "";
    s_coll_t *cs = &e->colls[c];
    /* verdicts first, words only for what is announced: a storm's ticks
     * pass every held collection */
    sg_guard_t g = sg_eng_first_guard(e, c, now, NULL, 0);
    if (g != SG_GUARD_NONE) {
        if (s_hold_is_news(cs, g))
            sg_eng_guard_holds(e, c, g, now, why, sizeof why);
        return s_hold(e, c, SG_COLL_BLOCKED, g, now, why);
    }
    s_plan_hold_t plan = sg_eng_plan_holds_with(e, c, wait, failed, NULL, 0);
    if (plan != S_PLAN_GOES) {
        bool needs_operator = plan == S_PLAN_NEEDS_OPERATOR;
        if (needs_operator != cs->plan_wait_failed)
            cs->announced = SG_GUARD_NONE; /* now an operator is needed: say so */
        cs->plan_wait_failed = needs_operator;
        if (s_hold_is_news(cs, SG_GUARD_PLAN_ORDER))
            sg_eng_plan_holds_with(e, c, wait, failed, why, sizeof why);
        return s_hold(e, c, SG_COLL_BLOCKED, SG_GUARD_PLAN_ORDER, now, why);
    }
    cs->plan_wait_failed = false;
    switch (e->cfg->policy.mode) {
    case SG_MODE_SHADOW:
        return s_hold(e, c, SG_COLL_BLOCKED, SG_GUARD_SHADOW, now,
                      "policy mode is shadow: every guard passes, it would fail over now");
    case SG_MODE_APPROVE: return s_decide_approve(e, c, now);
    default: return s_failover(e, c, now, "policy mode is auto");
    }
}

/* In plan order, which never goes back to an earlier group: a summary of the
 * earlier groups (first waiting, first failed) is carried along, in the
 * site's pass, which judges at most *budget collections and goes on at the
 * next tick where it stopped. A summary carried over a tick only errs
 * towards holding back: a collection seen waiting may have ended since
 * (the next pass sees it), and one seen failed over stays so in an episode;
 * and every call is proven again before it is made (sg_engine_confirm). */
static int s_decide_collections(sg_engine_t *e, int site, sg_now_t now, size_t *budget)
{
    const sg_config_t *cfg = e->cfg;
    s_pass_t *p = &e->pass[site];
    size_t first = e->site_off[site], n = e->site_off[site + 1] - first;
    if (p->k == 0)
        *p = (s_pass_t){.wait = -1, .failed = -1, .g_wait = -1, .g_failed = -1,
                        .group = INT_MIN};
    for (; p->k < n; p->k++) {
        if (*budget == 0) { /* the next tick goes on from here, with this site first */
            if (!e->pass_unfinished)
                e->pass_site = (size_t)site;
            e->pass_unfinished = true;
            return SG_OK;
        }
        --*budget;
        int c = e->site_plan[first + p->k];
        const sg_collection_cfg_t *cc = &cfg->collections[c];
        if (cc->group != p->group) {
            p->wait = p->wait >= 0 ? p->wait : p->g_wait;
            p->failed = p->failed >= 0 ? p->failed : p->g_failed;
            p->g_wait = p->g_failed = -1;
            p->group = cc->group;
        }
        sg_coll_verdict_t v = e->colls[c].verdict;
        if (v == SG_COLL_IDLE || v == SG_COLL_BLOCKED || v == SG_COLL_AWAITING) {
            int rc = s_decide_one(e, c, now, p->wait, p->failed);
            if (rc != SG_OK)
                return rc;
        }
        s_pred_t st = sg_eng_pred_state(e, c);
        if (st == S_PRED_WAIT && p->g_wait < 0)
            p->g_wait = c;
        else if (st == S_PRED_FAILED && p->g_failed < 0)
            p->g_failed = c;
    }
    p->k = 0; /* done: the next tick starts a new pass */
    return SG_OK;
}

static void s_prune_pauses(sg_engine_t *e, int64_t now)
{
    size_t keep = 0;
    for (size_t i = 0; i < e->n_pauses; i++) {
        if (e->pauses[i].until > now)
            e->pauses[keep++] = e->pauses[i];
        else
            free(e->pauses[i].reason);
    }
    if (keep != e->n_pauses)
        sg_eng_changed(e);
    e->n_pauses = keep;
}

/* Announces when siteguard hears no data site (after the startup grace),
 * and when it hears one again. */
static int s_check_deaf(sg_engine_t *e, sg_now_t now)
{
    bool hears = sg_eng_hears_data(e, now.mono);
    if (!hears && !e->deaf_announced && now.mono - e->start >= e->cfg->policy.startup_grace_ms) {
        e->deaf_announced = true;
        return sg_eng_emit(e, SG_DECISION_NOTICE, -1, -1, SG_GUARD_NONE, now,
                           "siteguard hears no data site: it declares no site lost until it "
                           "hears one (it may be cut off itself, perhaps with the witness)");
    }
    if (hears && e->deaf_announced) {
        e->deaf_announced = false;
        return sg_eng_emit(e, SG_DECISION_NOTICE, -1, -1, SG_GUARD_NONE, now,
                           "siteguard hears a data site now");
    }
    return SG_OK;
}

int sg_engine_tick(sg_engine_t *e, sg_now_t now)
{
    e->last_tick = now.mono;
    s_prune_pauses(e, now.mono);
    sg_eng_compute_credible(e, now.mono);
    int rc = s_check_deaf(e, now);
    for (size_t i = 0; rc == SG_OK && i < e->cfg->n_sites; i++)
        rc = sg_eng_eval_site(e, (int)i, now);
    size_t budget = SG_ENGINE_DECIDE_PER_TICK, n = e->cfg->n_sites, first = e->pass_site;
    e->pass_unfinished = false;
    for (size_t j = 0; rc == SG_OK && j < n; j++) {
        size_t i = (first + j) % n;
        if (e->sites[i].state == SG_SITE_LOST)
            rc = s_decide_collections(e, (int)i, now, &budget);
        else
            e->pass[i].k = 0; /* a later loss starts afresh */
    }
    return rc;
}

/* The earlier of best and t, when t is still to come: a deadline at or
 * before the last tick was handled by it (a tick judges everything due by
 * its time), and returning it again would make the caller spin. */
static int64_t s_min_due(const sg_engine_t *e, int64_t best, int64_t t)
{
    return t > e->last_tick && t < best ? t : best;
}

int64_t sg_engine_next_deadline(const sg_engine_t *e)
{
    const sg_policy_cfg_t *p = &e->cfg->policy;
    int64_t best = INT64_MAX;
    if (e->pass_unfinished)
        return e->last_tick; /* a pass goes on: due now */
    for (size_t i = 0; i < e->cfg->n_sites; i++) {
        const s_site_t *s = &e->sites[i];
        if (!s->heard)
            best = s_min_due(e, best, e->start + p->startup_grace_ms);
        else if (s->state == SG_SITE_HEALTHY)
            best = s_min_due(e, best, s->last_heard + p->suspect_after_ms);
        else if (s->state == SG_SITE_SUSPECT)
            best = s_min_due(e, best, s->last_heard + p->hold_down_ms);
        else if (s->state == SG_SITE_RECOVERING)
            best = s_min_due(e, best, s->since + p->recover_after_ms);
    }
    for (size_t c = 0; c < e->cfg->n_collections; c++) {
        const s_coll_t *cs = &e->colls[c];
        if (cs->verdict == SG_COLL_AWAITING)
            best = s_min_due(e, best, cs->deadline);
        if (cs->verdict == SG_COLL_BLOCKED && cs->announced == SG_GUARD_COOLDOWN)
            best = s_min_due(e, best, cs->cooldown_until);
    }
    for (size_t i = 0; i < e->n_pauses; i++)
        best = s_min_due(e, best, e->pauses[i].until);
    return best;
}

/* ---- runs ------------------------------------------------------------------- */

static bool s_valid_coll(const sg_engine_t *e, int c)
{
    return c >= 0 && (size_t)c < e->cfg->n_collections;
}

static int s_refuse(char **why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_refuse(char **why, const char *fmt, ...)
{
    if (why) {
        va_list ap;
        va_start(ap, fmt);
        *why = sg_vstrdupf(fmt, ap);
        va_end(ap);
    }
    return SG_ESTATE;
}

/* The site's loss, proven again now. */
static int s_confirm_loss(sg_engine_t *e, int site, sg_now_t now, char **why)
{
    const s_site_t *s = &e->sites[site];
    const char *name = sg_eng_site_name(e, site);
    if (s->state != SG_SITE_LOST)
        return s_refuse(why, "site %s is %s, no longer lost", name, sg_site_state_name(s->state));
    if (sg_eng_fresh_heartbeats(e, site, now.mono))
        return s_refuse(why, "site %s is heard again (%.1f s ago)", name,
                        (now.mono - s->last_heard) / 1000.0);
    if (now.mono - s->last_heard < e->cfg->policy.hold_down_ms)
        return s_refuse(why, "site %s was heard %.1f s ago, within the hold-down", name,
                        (now.mono - s->last_heard) / 1000.0);
    sg_eng_compute_credible(e, now.mono);
    s_votes_t v;
    sg_eng_count_votes(e, site, now.mono, &v);
    if (!sg_eng_quorum_met(e, &v))
        return s_refuse(why, "the quorum that declared site %s lost no longer holds (%d down: "
                             "%s; %d up%s)",
                        name, v.down, v.down ? v.names : "none", v.up,
                        v.data_heard ? "" : "; no other data site heard since it fell silent");
    return SG_OK;
}

int sg_engine_confirm(sg_engine_t *e, int c, uint64_t run_id, sg_now_t now, char **why)
{
    if (why)
        *why = NULL;
    if (!s_valid_coll(e, c))
        return SG_EINVAL;
    const s_coll_t *cs = &e->colls[c];
    const sg_collection_cfg_t *cc = &e->cfg->collections[c];
    if (cs->verdict != SG_COLL_DECIDED || cs->run_id != run_id)
        return s_refuse(why, "run %llu is not the decision in force for %s (it is %s)",
                        (unsigned long long)run_id, cc->name, sg_coll_verdict_name(cs->verdict));
    if (cs->forced)
        return SG_OK;
    if (!cs->manual) {
        int rc = s_confirm_loss(e, cc->site, now, why);
        if (rc != SG_OK)
            return rc;
    }
    char buf[256];
    sg_guard_t g = sg_eng_first_guard(e, c, now, buf, sizeof buf);
    if (g != SG_GUARD_NONE)
        return s_refuse(why, "guard %s holds %s back now: %s", sg_guard_name(g), cc->name, buf);
    /* plan order: earlier groups failed over stay failed over, but a
     * dependency at a site that was healthy may no longer be */
    if (sg_eng_plan_holds_with(e, c, -1, -1, buf, sizeof buf) != S_PLAN_GOES)
        return s_refuse(why, "plan order holds %s back now: %s", cc->name, buf);
    return SG_OK;
}

int sg_engine_confirm_drill(const sg_engine_t *e, int c, sg_now_t now, char **why)
{
    (void)now;
    if (why)
        *why = NULL;
    if (!s_valid_coll(e, c))
        return SG_EINVAL;
    const sg_collection_cfg_t *cc = &e->cfg->collections[c];
    for (size_t i = 0; i < e->cfg->n_sites; i++) {
        sg_site_state_t st = e->sites[i].state;
        if (st == SG_SITE_LOST || st == SG_SITE_CONTESTED)
            return s_refuse(why, "site %s is %s: a real failover comes first",
                            sg_eng_site_name(e, (int)i), sg_site_state_name(st));
    }
    int sites[2] = {cc->site, cc->replica_site};
    for (int k = 0; k < 2; k++) {
        sg_site_state_t st = e->sites[sites[k]].state;
        if (st != SG_SITE_HEALTHY)
            return s_refuse(why, "site %s is %s", sg_eng_site_name(e, sites[k]),
                            st == SG_SITE_UNKNOWN ? "not heard yet" : sg_site_state_name(st));
    }
    if (e->colls[c].verdict != SG_COLL_IDLE)
        return s_refuse(why, "%s is %s", cc->name, sg_coll_verdict_name(e->colls[c].verdict));
    return SG_OK;
}

void sg_engine_run_cancelled(sg_engine_t *e, int c, uint64_t run_id)
{
    if (!s_valid_coll(e, c))
        return;
    s_coll_t *cs = &e->colls[c];
    if (cs->verdict != SG_COLL_DECIDED || cs->run_id != run_id)
        return;
    cs->verdict = SG_COLL_IDLE;
    cs->announced = SG_GUARD_NONE;
    cs->run_id = 0;
    cs->manual = cs->forced = cs->timed_out = false;
}

void sg_engine_run_timed_out(sg_engine_t *e, int c)
{
    if (s_valid_coll(e, c) && e->colls[c].verdict == SG_COLL_DECIDED)
        e->colls[c].timed_out = true;
}

void sg_engine_run_ended(sg_engine_t *e, int c, bool failed_over, sg_now_t now)
{
    if (!s_valid_coll(e, c))
        return;
    s_coll_t *cs = &e->colls[c];
    cs->verdict = failed_over ? SG_COLL_DONE : SG_COLL_FAILED;
    cs->cooldown_until = now.mono + e->cfg->policy.cooldown_ms;
    cs->manual = cs->forced = cs->timed_out = false;
    sg_eng_changed(e);
}

bool sg_engine_run_is_manual(const sg_engine_t *e, int c)
{
    return s_valid_coll(e, c) && e->colls[c].verdict == SG_COLL_DECIDED && e->colls[c].manual;
}

void sg_engine_restore(sg_engine_t *e, int c, sg_coll_verdict_t verdict, uint64_t run_id,
                       sg_run_origin_t origin)
{
    if (!s_valid_coll(e, c))
        return;
    s_coll_t *cs = &e->colls[c];
    bool decided = verdict == SG_COLL_DECIDED;
    cs->verdict = verdict;
    cs->run_id = decided ? run_id : 0;
    cs->manual = decided && origin != SG_ORIGIN_ENGINE;
    cs->forced = decided && origin == SG_ORIGIN_FORCED;
}

void sg_engine_reset_collection(sg_engine_t *e, int c, sg_now_t now)
{
    if (!s_valid_coll(e, c))
        return;
    e->colls[c] = (s_coll_t){.verdict = SG_COLL_IDLE,
                             .cooldown_until = now.mono + e->cfg->policy.cooldown_ms};
    sg_eng_changed(e);
}

int sg_engine_redirect(sg_engine_t *e, int c)
{
    if (!s_valid_coll(e, c))
        return SG_EINVAL;
    s_coll_t *cs = &e->colls[c];
    if (cs->verdict == SG_COLL_DECIDED)
        return SG_ESTATE;
    int rc = s_build_site_plan(e);
    if (rc != SG_OK)
        return rc;
    /* Every pass starts again: positions in the old per-site plan mean
     * nothing in the new one (a new pass only re-judges). */
    for (size_t i = 0; i < e->cfg->n_sites; i++)
        e->pass[i].k = 0;
    e->pass_unfinished = false;
    int64_t cooldown = cs->cooldown_until;
    *cs = (s_coll_t){.verdict = SG_COLL_IDLE, .cooldown_until = cooldown};
    sg_eng_changed(e);
    return SG_OK;
}

int sg_engine_reverted(sg_engine_t *e, int c, sg_now_t now)
{
    if (!s_valid_coll(e, c))
        return SG_EINVAL;
    s_coll_t *cs = &e->colls[c];
    if (cs->verdict == SG_COLL_DECIDED)
        return SG_ESTATE;
    *cs = (s_coll_t){.verdict = SG_COLL_IDLE}; /* no cooldown: the operator retries */
    sg_eng_changed(e);
    if (!e->sites[e->cfg->collections[c].site].in_episode)
        return SG_OK;
    cs->reverted = true;
    return s_hold(e, c, SG_COLL_DENIED, SG_GUARD_DENIED, now,
                  "an operator reverted its failover; held until this loss of its site ends "
                  "(siteguardctl failover COLLECTION --point P fails it over again)");
}

/* ---- operator control --------------------------------------------------------- */

/* An operator may approve or deny: the collection awaits approval, its
 * approval timed out into a hold, or the plan waits after a failure. */
static bool s_awaits_operator(const s_coll_t *cs)
{
    return cs->verdict == SG_COLL_AWAITING ||
           (cs->verdict == SG_COLL_BLOCKED && cs->announced == SG_GUARD_APPROVAL_TIMEOUT) ||
           (cs->verdict == SG_COLL_BLOCKED && cs->announced == SG_GUARD_PLAN_ORDER &&
            cs->plan_wait_failed);
}

int sg_engine_approve(sg_engine_t *e, int c, sg_now_t now)
{
    (void)now;
    if (!s_valid_coll(e, c))
        return SG_EINVAL;
    s_coll_t *cs = &e->colls[c];
    if (!s_awaits_operator(cs))
        return SG_ESTATE;
    if (cs->announced == SG_GUARD_PLAN_ORDER)
        cs->released = true;
    else
        cs->approved = true;
    sg_eng_changed(e);
    return SG_OK;
}

int sg_engine_deny(sg_engine_t *e, int c, sg_now_t now)
{
    if (!s_valid_coll(e, c))
        return SG_EINVAL;
    s_coll_t *cs = &e->colls[c];
    if (!s_awaits_operator(cs))
        return SG_ESTATE;
    sg_eng_changed(e);
    return s_hold(e, c, SG_COLL_DENIED, SG_GUARD_DENIED, now,
                  "an operator denied it; held until this loss of its site ends");
}

int sg_engine_pause(sg_engine_t *e, int site, int collection, int64_t until_mono,
                    const char *reason)
{
    s_pause_t *p = realloc(e->pauses, (e->n_pauses + 1) * sizeof *p);
    if (!p)
        return SG_ENOMEM;
    e->pauses = p;
    char *copy = reason ? sg_strdupf("%s", reason) : NULL;
    if (reason && !copy)
        return SG_ENOMEM;
    e->pauses[e->n_pauses++] = (s_pause_t){site, collection, until_mono, copy};
    sg_eng_changed(e);
    return SG_OK;
}

void sg_engine_resume(sg_engine_t *e, int site, int collection)
{
    for (size_t i = 0; i < e->n_pauses; i++)
        if (e->pauses[i].site == site && e->pauses[i].collection == collection)
            e->pauses[i].until = 0; /* pruned at the next tick */
    sg_eng_changed(e);
}

bool sg_engine_pause_at(const sg_engine_t *e, size_t i, int64_t now_mono, int *site,
                        int *collection, int64_t *until_mono, const char **reason)
{
    for (size_t k = 0; k < e->n_pauses; k++) {
        const s_pause_t *p = &e->pauses[k];
        if (p->until <= now_mono)
            continue;
        if (i-- > 0)
            continue;
        *site = p->site;
        *collection = p->collection;
        *until_mono = p->until;
        *reason = p->reason;
        return true;
    }
    return false;
}

/* Why a manual failover of c cannot go ahead, or NULL (with *rc) when it can. */
static char *s_manual_refusal(sg_engine_t *e, int c, bool force, sg_now_t now, int *rc)
{
    const sg_collection_cfg_t *cc = &e->cfg->collections[c];
    sg_coll_verdict_t v = e->colls[c].verdict;
    char *why = NULL;
    *rc = SG_ESTATE;
    if (v == SG_COLL_DECIDED)
        return sg_strdupf("%s has a failover run in flight", cc->name);
    if (v == SG_COLL_DONE)
        return sg_strdupf("%s is already failed over to %s", cc->name,
                          sg_eng_site_name(e, cc->replica_site));
    *rc = SG_OK;
    if (force)
        return NULL;
    char buf[256];
    sg_guard_t g = sg_eng_first_guard(e, c, now, buf, sizeof buf);
    if (g == SG_GUARD_NONE && sg_eng_plan_holds(e, c, buf, sizeof buf) != S_PLAN_GOES)
        g = SG_GUARD_PLAN_ORDER;
    if (g == SG_GUARD_NONE)
        return NULL;
    *rc = SG_ESTATE;
    why = sg_strdupf("failover of %s held back (%s): %s; --force with a reason overrides",
                     cc->name, sg_guard_name(g), buf);
    return why;
}

int sg_engine_manual_failover(sg_engine_t *e, int collection, bool force, const char *reason,
                              const char *point, sg_now_t now, char **why)
{
    if (why)
        *why = NULL;
    if (!s_valid_coll(e, collection))
        return SG_EINVAL;
    if (force && (!reason || !*reason)) {
        if (why)
            *why = sg_strdupf("a forced failover needs a reason");
        return SG_EINVAL;
    }
    int rc;
    char *refusal = s_manual_refusal(e, collection, force, now, &rc);
    if (rc != SG_OK) {
        if (why)
            *why = refusal;
        else
            free(refusal);
        return rc;
    }
    const sg_collection_cfg_t *cc = &e->cfg->collections[collection];
    const s_site_t *site = &e->sites[cc->site];
    char *own_point = point ? strdup(point) : NULL;
    if ((point && !own_point) || s_take_budget(e, cc->site, now) != SG_OK) {
        free(own_point);
        return SG_ENOMEM;
    }
    sg_decision_t *d =
        s_emit_d(e, SG_DECISION_FAILOVER, cc->site, collection, now,
                 "manual failover by an operator%s: fail %s over to %s (site %s is %s%s%s): %s",
                 force ? ", forced past the guards" : ", every guard passes", cc->name,
                 sg_eng_site_name(e, cc->replica_site), sg_eng_site_name(e, cc->site),
                 sg_site_state_name(site->state), point ? "; recovery point " : "",
                 point ? point : "", reason && *reason ? reason : "no reason given");
    if (!d) {
        free(own_point);
        return SG_ENOMEM;
    }
    d->point = own_point; /* the decision just queued runs with this point */
    s_decided(e, collection, d, true, force);
    return SG_OK;
}

/* ---- durable operator state ---------------------------------------------------- */

void sg_opstate_fini(sg_opstate_t *s)
{
    for (size_t i = 0; i < s->n_pauses; i++)
        free(s->pauses[i].reason);
    for (size_t i = 0; i < s->n_sites; i++)
        free(s->sites[i].budget);
    free(s->pauses);
    free(s->sites);
    free(s->colls);
    free(s->budget);
    memset(s, 0, sizeof *s);
}

uint64_t sg_engine_opstate_gen(const sg_engine_t *e) { return e->opstate_gen; }

static int64_t s_to_wall(int64_t mono, sg_now_t now) { return sg_eng_sat_add(now.wall, mono - now.mono); }
static int64_t s_to_mono(int64_t wall, sg_now_t now) { return sg_eng_sat_add(now.mono, wall - now.wall); }

static int s_times_export(const s_times_t *t, sg_now_t now, int64_t **out, size_t *n)
{
    *n = 0;
    *out = t->n ? malloc(t->n * sizeof **out) : NULL;
    if (t->n && !*out)
        return SG_ENOMEM;
    for (size_t i = 0; i < t->n; i++)
        (*out)[i] = s_to_wall(t->t[i], now);
    *n = t->n;
    return SG_OK;
}

static bool s_coll_worth_keeping(const s_coll_t *cs, bool reversed, int64_t now)
{
    return reversed || cs->approved || cs->released || cs->verdict == SG_COLL_DENIED ||
           cs->verdict == SG_COLL_DONE || cs->verdict == SG_COLL_FAILED ||
           cs->verdict == SG_COLL_AWAITING || cs->cooldown_until > now;
}

static int s_export_colls(const sg_engine_t *e, sg_now_t now, sg_opstate_t *out)
{
    size_t n = e->cfg->n_collections;
    out->colls = calloc(n ? n : 1, sizeof *out->colls);
    if (!out->colls)
        return SG_ENOMEM;
    for (size_t c = 0; c < n; c++) {
        const s_coll_t *cs = &e->colls[c];
        const sg_collection_cfg_t *cc = &e->cfg->collections[c];
        if (!s_coll_worth_keeping(cs, cc->reversed, now.mono))
            continue;
        out->colls[out->n_colls++] = (sg_opstate_coll_t){
            .collection = (int)c,
            .done = cs->verdict == SG_COLL_DONE,
            .failed = cs->verdict == SG_COLL_FAILED,
            .approved = cs->approved,
            .denied = cs->verdict == SG_COLL_DENIED,
            .released = cs->released,
            .deadline_wall = cs->verdict == SG_COLL_AWAITING ? s_to_wall(cs->deadline, now) : 0,
            .cooldown_until_wall =
                cs->cooldown_until > now.mono ? s_to_wall(cs->cooldown_until, now) : 0,
            .directed = cc->reversed,
            .site = cc->site,
            .replica_site = cc->replica_site};
    }
    return SG_OK;
}

int sg_engine_opstate_export(const sg_engine_t *e, sg_now_t now, sg_opstate_t *out)
{
    memset(out, 0, sizeof *out);
    size_t ns = e->cfg->n_sites;
    out->pauses = calloc(e->n_pauses ? e->n_pauses : 1, sizeof *out->pauses);
    out->sites = calloc(ns ? ns : 1, sizeof *out->sites);
    if (!out->pauses || !out->sites)
        goto fail;
    for (size_t i = 0; i < e->n_pauses; i++) {
        const s_pause_t *p = &e->pauses[i];
        if (p->until <= now.mono)
            continue;
        sg_opstate_pause_t *q = &out->pauses[out->n_pauses++];
        *q = (sg_opstate_pause_t){p->site, p->collection, s_to_wall(p->until, now), NULL};
        if (p->reason && !(q->reason = strdup(p->reason)))
            goto fail;
    }
    out->n_sites = ns;
    for (size_t i = 0; i < ns; i++) {
        const s_site_t *s = &e->sites[i];
        out->sites[i] = (sg_opstate_site_t){.site = (int)i,
                                            .in_episode = s->in_episode,
                                            .budget_taken = s->budget_taken,
                                            .episode = s->episode};
        if (s_times_export(&e->site_budget[i], now, &out->sites[i].budget,
                           &out->sites[i].n_budget) != SG_OK)
            goto fail;
    }
    if (s_times_export(&e->budget, now, &out->budget, &out->n_budget) != SG_OK ||
        s_export_colls(e, now, out) != SG_OK)
        goto fail;
    return SG_OK;
fail:
    sg_opstate_fini(out);
    return SG_ENOMEM;
}

static bool s_has_time(const s_times_t *t, int64_t v)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->t[i] == v)
            return true;
    return false;
}

static int s_times_merge(s_times_t *t, const int64_t *wall, size_t n, sg_now_t now)
{
    for (size_t i = 0; i < n; i++) {
        int64_t m = s_to_mono(wall[i], now);
        if (!s_has_time(t, m) && sg_eng_budget_take(t, m) != SG_OK)
            return SG_ENOMEM;
    }
    return SG_OK;
}

static bool s_has_pause(const sg_engine_t *e, const sg_opstate_pause_t *p, int64_t until)
{
    for (size_t i = 0; i < e->n_pauses; i++)
        if (e->pauses[i].site == p->site && e->pauses[i].collection == p->collection &&
            e->pauses[i].until == until)
            return true;
    return false;
}

static void s_import_coll(sg_engine_t *e, const sg_opstate_coll_t *in, sg_now_t now)
{
    s_coll_t *cs = &e->colls[in->collection];
    int64_t cool = in->cooldown_until_wall ? s_to_mono(in->cooldown_until_wall, now) : 0;
    if (cool > cs->cooldown_until)
        cs->cooldown_until = cool;
    bool open = cs->verdict == SG_COLL_IDLE || cs->verdict == SG_COLL_BLOCKED ||
                cs->verdict == SG_COLL_AWAITING;
    if (open && (in->done || in->failed)) { /* its run is in another instance's journal */
        cs->verdict = in->done ? SG_COLL_DONE : SG_COLL_FAILED;
        cs->announced = SG_GUARD_NONE;
        return;
    }
    if (!e->sites[e->cfg->collections[in->collection].site].in_episode)
        return; /* approvals and denials belong to an episode that is over */
    if (cs->verdict != SG_COLL_IDLE && cs->verdict != SG_COLL_BLOCKED &&
        cs->verdict != SG_COLL_AWAITING)
        return;
    cs->approved |= in->approved;
    cs->released |= in->released;
    if (in->denied) {
        cs->verdict = SG_COLL_DENIED;
        cs->announced = SG_GUARD_DENIED;
    } else if (in->deadline_wall && !cs->deadline) {
        cs->deadline = s_to_mono(in->deadline_wall, now);
    }
}

int sg_engine_opstate_import(sg_engine_t *e, const sg_opstate_t *in, sg_now_t now)
{
    for (size_t i = 0; i < in->n_pauses; i++) {
        const sg_opstate_pause_t *p = &in->pauses[i];
        int64_t until = s_to_mono(p->until_wall, now);
        if (p->until_wall <= now.wall || s_has_pause(e, p, until))
            continue;
        if (sg_engine_pause(e, p->site, p->collection, until, p->reason) != SG_OK)
            return SG_ENOMEM;
    }
    for (size_t i = 0; i < in->n_sites; i++) {
        const sg_opstate_site_t *is = &in->sites[i];
        s_site_t *s = &e->sites[is->site];
        if (is->episode > s->episode)
            s->episode = is->episode;
        if (is->in_episode && s->state != SG_SITE_HEALTHY && s->state != SG_SITE_RECOVERING) {
            s->in_episode = true;
            s->budget_taken |= is->budget_taken;
        }
        if (s_times_merge(&e->site_budget[is->site], is->budget, is->n_budget, now) != SG_OK)
            return SG_ENOMEM;
    }
    if (s_times_merge(&e->budget, in->budget, in->n_budget, now) != SG_OK)
        return SG_ENOMEM;
    for (size_t i = 0; i < in->n_colls; i++)
        s_import_coll(e, &in->colls[i], now);
    sg_eng_changed(e);
    return SG_OK;
}

/* ---- views and reload ------------------------------------------------------- */

sg_site_state_t sg_engine_site_state(const sg_engine_t *e, int site)
{
    return e->sites[site].state;
}

int64_t sg_engine_site_heard_wall(const sg_engine_t *e, int site, sg_now_t now)
{
    int64_t heard = e->sites[site].last_heard;
    return heard > 0 && heard <= now.mono ? now.wall - (now.mono - heard) : now.wall;
}

sg_coll_verdict_t sg_engine_collection_verdict(const sg_engine_t *e, int collection)
{
    return e->colls[collection].verdict;
}

bool sg_engine_observer_skew(const sg_engine_t *e, int observer, int64_t *skew_ms)
{
    const s_obs_t *o = &e->obs[observer];
    if (!o->skew_known)
        return false;
    *skew_ms = s_skew(o);
    return true;
}

int sg_engine_set_config(sg_engine_t *e, const sg_config_t *cfg)
{
    const sg_config_t *old = e->cfg;
    if (cfg->n_sites != old->n_sites || cfg->n_collections != old->n_collections ||
        cfg->n_observers != old->n_observers)
        return SG_EINVAL;
    for (size_t i = 0; i < cfg->n_sites; i++)
        if (strcmp(cfg->sites[i].name, old->sites[i].name) != 0)
            return SG_EINVAL;
    for (size_t i = 0; i < cfg->n_observers; i++)
        if (strcmp(cfg->observers[i].id, old->observers[i].id) != 0 ||
            cfg->observers[i].site != old->observers[i].site)
            return SG_EINVAL;
    for (size_t i = 0; i < cfg->n_collections; i++) {
        const sg_collection_cfg_t *a = &cfg->collections[i], *b = &old->collections[i];
        if (strcmp(a->name, b->name) != 0 || a->site != b->site ||
            a->replica_site != b->replica_site || a->group != b->group)
            return SG_EINVAL;
    }
    e->cfg = cfg;
    return SG_OK;
}
