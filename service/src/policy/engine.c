/* engine: the policy engine; see engine.h for the rules it keeps. */
#include "engine.h"
#include "../err.h"
#include "../str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* health.proto ReplicationHealth */
#define S_REPL_HEALTH_CRITICAL 3

typedef struct {
    bool heard;
    int64_t last_hb;   /* mono, receipt of its last fresh event */
    int64_t last_sent; /* wall, send time of the newest event applied */
} s_obs_t;

/* The newest reachability report of one observer about one site. */
typedef struct {
    bool known;
    bool up;
    bool ever_up;
    int64_t at;         /* mono, receipt */
    int64_t sent;       /* wall, send time */
    int64_t last_up_at; /* mono, receipt of the last "up" */
} s_report_t;

typedef struct {
    sg_site_state_t state;
    bool heard;
    int64_t last_heard;  /* mono */
    int64_t hb_sent;     /* wall: newest heartbeat send time from its observers */
    int64_t since;       /* mono: when it entered its state */
    int64_t lost_wall;   /* wall: when it was declared lost */
    bool budget_taken;   /* this loss already counts against the budgets */
} s_site_t;

typedef struct {
    bool known;
    int health;
    uint64_t lag_s;
    int64_t at;   /* mono */
    int64_t sent; /* wall */
} s_repl_t;

typedef struct {
    sg_coll_verdict_t verdict;
    sg_guard_t announced; /* last guard announced while held back */
    bool approved;
    int64_t deadline;       /* approve mode: mono */
    int64_t cooldown_until; /* mono */
} s_coll_t;

typedef struct {
    int site, collection; /* -1: any */
    int64_t until;        /* mono */
    char *reason;
} s_pause_t;

/* Times of past site failovers (one per loss of a site whose collections
 * were failed over), for a budget. */
typedef struct {
    int64_t *t;
    size_t n, cap;
} s_times_t;

/* How the other sites see one site, at one moment. */
typedef struct {
    int down, up;      /* sites voting */
    bool witness_down;
    int first_up;      /* a site voting up, or -1 */
    char names[256];   /* "B, W": the sites voting down */
} s_votes_t;

struct sg_engine {
    const sg_config_t *cfg;
    s_obs_t *obs;
    s_report_t *reports; /* n_observers x n_sites */
    bool *credible;      /* per observer, computed each tick */
    s_site_t *sites;
    s_repl_t *repl;
    s_coll_t *colls;
    int *plan; /* collection indices in plan order */
    s_times_t budget;
    s_times_t *site_budget;
    s_pause_t *pauses;
    size_t n_pauses;
    uint64_t next_run_id;
    sg_decision_t *q; /* decision queue: a growable ring */
    size_t q_cap, q_head, q_len;
};

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

/* Plan order: dependencies first, otherwise by group, then config order
 * (Kahn's algorithm with a heap). The config rejects dependency cycles; any
 * collection left over by one is appended in (group, index) order. */
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
    rc = SG_OK;
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

sg_engine_t *sg_engine_new(const sg_config_t *cfg, uint64_t run_id_base)
{
    sg_engine_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->cfg = cfg;
    e->next_run_id = run_id_base + 1;
    e->obs = s_alloc(cfg->n_observers, sizeof *e->obs);
    e->reports = s_alloc(cfg->n_observers * cfg->n_sites, sizeof *e->reports);
    e->credible = s_alloc(cfg->n_observers, sizeof *e->credible);
    e->sites = s_alloc(cfg->n_sites, sizeof *e->sites);
    e->site_budget = s_alloc(cfg->n_sites, sizeof *e->site_budget);
    e->repl = s_alloc(cfg->n_collections, sizeof *e->repl);
    e->colls = s_alloc(cfg->n_collections, sizeof *e->colls);
    e->plan = s_alloc(cfg->n_collections, sizeof *e->plan);
    if (!e->obs || !e->reports || !e->credible || !e->sites || !e->site_budget || !e->repl ||
        !e->colls || !e->plan || s_build_plan(e) != SG_OK)
        goto fail;
    return e;
fail:
    sg_engine_destroy(&e);
    return NULL;
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

static int s_emit(sg_engine_t *e, sg_decision_kind_t kind, int site, int coll, sg_guard_t guard,
                  sg_now_t now, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static int s_emit(sg_engine_t *e, sg_decision_kind_t kind, int site, int coll, sg_guard_t guard,
                  sg_now_t now, const char *fmt, ...)
{
    if (e->q_len == e->q_cap && s_queue_grow(e) != SG_OK)
        return SG_ENOMEM;
    va_list ap;
    va_start(ap, fmt);
    char *reason = sg_vstrdupf(fmt, ap);
    va_end(ap);
    if (!reason)
        return SG_ENOMEM;
    sg_decision_t *d = &e->q[(e->q_head + e->q_len) % e->q_cap];
    *d = (sg_decision_t){.kind = kind,
                         .site = site,
                         .collection = coll,
                         .target_site = coll >= 0 ? e->cfg->collections[coll].replica_site : -1,
                         .guard = guard,
                         .run_id = kind == SG_DECISION_FAILOVER ? e->next_run_id++ : 0,
                         .at = now,
                         .reason = reason};
    e->q_len++;
    return SG_OK;
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

/* ---- events ------------------------------------------------------------------- */

static const char *s_site_name(const sg_engine_t *e, int site) { return e->cfg->sites[site].name; }

static s_report_t *s_report(const sg_engine_t *e, int observer, int site)
{
    return &e->reports[(size_t)observer * e->cfg->n_sites + (size_t)site];
}

/* Any fresh event from an observer shows that it, and so its site, is alive
 * and can reach siteguard. Late or reordered events show nothing about now. */
static void s_heard(sg_engine_t *e, const sg_event_t *ev, sg_now_t now)
{
    s_obs_t *o = &e->obs[ev->observer];
    if (ev->sent_at_ms < o->last_sent)
        return;
    o->last_sent = ev->sent_at_ms;
    if (ev->sent_at_ms < now.wall - e->cfg->policy.suspect_after_ms)
        return;
    o->heard = true;
    o->last_hb = now.mono;
    s_site_t *s = &e->sites[ev->site];
    s->heard = true;
    s->last_heard = now.mono;
    if (ev->sent_at_ms > s->hb_sent)
        s->hb_sent = ev->sent_at_ms;
}

static void s_on_reachability(sg_engine_t *e, const sg_event_t *ev, sg_now_t now)
{
    if (ev->u.reach.target_site == ev->site)
        return; /* a site's own observers speak through heartbeats */
    s_report_t *r = s_report(e, ev->observer, ev->u.reach.target_site);
    if (r->known && ev->sent_at_ms < r->sent)
        return;
    r->known = true;
    r->up = ev->u.reach.up;
    r->at = now.mono;
    r->sent = ev->sent_at_ms;
    if (r->up) {
        r->ever_up = true;
        r->last_up_at = now.mono;
    }
}

static void s_on_replication(sg_engine_t *e, const sg_event_t *ev, sg_now_t now)
{
    s_repl_t *r = &e->repl[ev->u.repl.collection];
    if (r->known && ev->sent_at_ms < r->sent)
        return;
    *r = (s_repl_t){.known = true,
                    .health = ev->u.repl.health,
                    .lag_s = ev->u.repl.lag_s,
                    .at = now.mono,
                    .sent = ev->sent_at_ms};
}

int sg_engine_on_event(sg_engine_t *e, const sg_event_t *ev, sg_now_t now)
{
    s_heard(e, ev, now);
    switch (ev->kind) {
    case SG_EV_REACHABILITY: s_on_reachability(e, ev, now); break;
    case SG_EV_REPLICATION: s_on_replication(e, ev, now); break;
    default: break; /* node state and probe results are informational */
    }
    return SG_OK;
}

/* ---- votes ---------------------------------------------------------------------- */

static bool s_fresh_heartbeats(const sg_engine_t *e, int site, int64_t now)
{
    const s_site_t *s = &e->sites[site];
    return s->heard && now - s->last_heard < e->cfg->policy.suspect_after_ms;
}

static bool s_report_fresh(const sg_engine_t *e, const s_report_t *r, int64_t now)
{
    return r->known && now - r->at <= e->cfg->policy.report_max_age_ms;
}

/* An observer votes while it is heard (within report_max_age, as long as its
 * reports count: an observer flapping for less than that keeps its vote),
 * unless it is blind: it
 * reports down every site it reports on (two or more) while one of them is
 * heard. An observer that cannot see anything has no vote. (One that reports
 * on a single site cannot be told from a broken link, and keeps its vote.) */
static void s_compute_credible(sg_engine_t *e, int64_t now)
{
    const sg_config_t *cfg = e->cfg;
    for (size_t o = 0; o < cfg->n_observers; o++) {
        const s_obs_t *ob = &e->obs[o];
        bool live = ob->heard && now - ob->last_hb <= cfg->policy.report_max_age_ms;
        int reports = 0, up = 0, down_but_heard = 0;
        for (size_t t = 0; live && t < cfg->n_sites; t++) {
            const s_report_t *r = s_report(e, (int)o, (int)t);
            if (!s_report_fresh(e, r, now))
                continue;
            reports++;
            up += r->up;
            down_but_heard += !r->up && s_fresh_heartbeats(e, (int)t, now);
        }
        e->credible[o] = live && !(reports > 1 && up == 0 && down_but_heard > 0);
    }
}

/* How site `voter` sees site `site`: 1 down, -1 up, 0 no vote. */
static int s_site_vote(const sg_engine_t *e, int voter, int site, int64_t now)
{
    const sg_config_t *cfg = e->cfg;
    bool down = false, up = false;
    for (size_t o = 0; o < cfg->n_observers; o++) {
        if (cfg->observers[o].site != voter || !e->credible[o])
            continue;
        const s_report_t *r = s_report(e, (int)o, site);
        bool recent_up = r->ever_up && now - r->last_up_at < cfg->policy.hold_down_ms;
        if (s_report_fresh(e, r, now) && r->up)
            up = true;
        else if (recent_up)
            return 0; /* down, but not for hold_down yet */
        else if (s_report_fresh(e, r, now))
            down = true;
    }
    return up ? -1 : down ? 1 : 0;
}

static void s_count_votes(const sg_engine_t *e, int site, int64_t now, s_votes_t *v)
{
    memset(v, 0, sizeof *v);
    v->first_up = -1;
    for (size_t s = 0; s < e->cfg->n_sites; s++) {
        if ((int)s == site)
            continue;
        int vote = s_site_vote(e, (int)s, site, now);
        if (vote > 0) {
            size_t len = strlen(v->names);
            snprintf(v->names + len, sizeof v->names - len, "%s%s", v->down ? ", " : "",
                     s_site_name(e, (int)s));
            v->down++;
            v->witness_down |= e->cfg->sites[s].witness;
        } else if (vote < 0) {
            v->up++;
            if (v->first_up < 0)
                v->first_up = (int)s;
        }
    }
}

static bool s_quorum_met(const sg_engine_t *e, const s_votes_t *v)
{
    const sg_policy_cfg_t *p = &e->cfg->policy;
    return v->up == 0 && v->down >= p->quorum && (!p->require_witness || v->witness_down);
}

/* A credible observer elsewhere that reports the site down now, or -1. */
static int s_down_reporter(const sg_engine_t *e, int site, int64_t now)
{
    for (size_t o = 0; o < e->cfg->n_observers; o++) {
        const s_report_t *r = s_report(e, (int)o, site);
        if (e->credible[o] && e->cfg->observers[o].site != site && s_report_fresh(e, r, now) &&
            !r->up)
            return (int)o;
    }
    return -1;
}

/* ---- site verdicts --------------------------------------------------------------- */

static void s_enter(s_site_t *s, sg_site_state_t state, int64_t now)
{
    s->state = state;
    s->since = now;
}

/* Collections of a recovered site that were held back start afresh. */
static void s_forget_holds(sg_engine_t *e, int site)
{
    for (size_t c = 0; c < e->cfg->n_collections; c++) {
        s_coll_t *cs = &e->colls[c];
        if (e->cfg->collections[c].site != site)
            continue;
        if (cs->verdict == SG_COLL_BLOCKED || cs->verdict == SG_COLL_AWAITING ||
            cs->verdict == SG_COLL_DENIED) {
            cs->verdict = SG_COLL_IDLE;
            cs->announced = SG_GUARD_NONE;
            cs->approved = false;
        }
    }
}

static int s_eval_healthy(sg_engine_t *e, int i, sg_now_t now, int64_t silent)
{
    const sg_policy_cfg_t *p = &e->cfg->policy;
    s_site_t *s = &e->sites[i];
    int reporter = s_down_reporter(e, i, now.mono);
    if (silent < p->suspect_after_ms && reporter < 0)
        return SG_OK;
    s_enter(s, SG_SITE_SUSPECT, now.mono);
    if (silent >= p->suspect_after_ms)
        return s_emit(e, SG_DECISION_SITE_SUSPECT, i, -1, SG_GUARD_NONE, now,
                      "site %s suspect: its heartbeats are missing for %.1f s (suspect after "
                      "%.1f s, lost after %.1f s with a quorum)",
                      s_site_name(e, i), silent / 1000.0, p->suspect_after_ms / 1000.0,
                      p->hold_down_ms / 1000.0);
    return s_emit(e, SG_DECISION_SITE_SUSPECT, i, -1, SG_GUARD_NONE, now,
                  "site %s suspect: observer %s (site %s) reports it unreachable",
                  s_site_name(e, i), e->cfg->observers[reporter].id,
                  s_site_name(e, e->cfg->observers[reporter].site));
}

static int s_eval_suspect(sg_engine_t *e, int i, sg_now_t now, int64_t silent)
{
    const sg_policy_cfg_t *p = &e->cfg->policy;
    s_site_t *s = &e->sites[i];
    if (silent < p->suspect_after_ms && s_down_reporter(e, i, now.mono) < 0) {
        s_enter(s, SG_SITE_HEALTHY, now.mono);
        return s_emit(e, SG_DECISION_SITE_RECOVERED, i, -1, SG_GUARD_NONE, now,
                      "site %s healthy again: heartbeats arrive and no observer reports it down",
                      s_site_name(e, i));
    }
    if (silent < p->hold_down_ms || e->cfg->sites[i].witness)
        return SG_OK;
    s_votes_t v;
    s_count_votes(e, i, now.mono, &v);
    if (!s_quorum_met(e, &v))
        return SG_OK;
    s_enter(s, SG_SITE_LOST, now.mono);
    s->lost_wall = now.wall;
    s->budget_taken = false;
    return s_emit(e, SG_DECISION_SITE_LOST, i, -1, SG_GUARD_NONE, now,
                  "site %s lost: its heartbeats are missing for %.1f s (hold-down %.1f s) and "
                  "%d site(s) see it down (%s; quorum %d%s)",
                  s_site_name(e, i), silent / 1000.0, p->hold_down_ms / 1000.0, v.down, v.names,
                  p->quorum, p->require_witness ? ", witness required" : "");
}

static int s_eval_lost(sg_engine_t *e, int i, sg_now_t now, int64_t silent)
{
    s_site_t *s = &e->sites[i];
    if (silent >= e->cfg->policy.suspect_after_ms || s->hb_sent <= s->lost_wall)
        return SG_OK;
    s_enter(s, SG_SITE_RECOVERING, now.mono);
    return s_emit(e, SG_DECISION_SITE_RECOVERING, i, -1, SG_GUARD_NONE, now,
                  "site %s is heard again; healthy after %.1f s of steady heartbeats (runs "
                  "already started go on)",
                  s_site_name(e, i), e->cfg->policy.recover_after_ms / 1000.0);
}

/* Lost again: the site's heartbeats are missing for hold_down and a quorum
 * sees it down. */
static bool s_lost_again(sg_engine_t *e, int i, int64_t now, int64_t silent, s_votes_t *v)
{
    if (silent < e->cfg->policy.hold_down_ms)
        return false;
    s_count_votes(e, i, now, v);
    return s_quorum_met(e, v);
}

static int s_eval_recovering(sg_engine_t *e, int i, sg_now_t now, int64_t silent)
{
    const sg_policy_cfg_t *p = &e->cfg->policy;
    s_site_t *s = &e->sites[i];
    s_votes_t v;
    if (s_lost_again(e, i, now.mono, silent, &v)) {
        s_enter(s, SG_SITE_LOST, now.mono);
        s->lost_wall = now.wall;
        return s_emit(e, SG_DECISION_SITE_LOST, i, -1, SG_GUARD_NONE, now,
                      "site %s lost again while recovering: its heartbeats are missing for "
                      "%.1f s and %d site(s) see it down (%s)",
                      s_site_name(e, i), silent / 1000.0, v.down, v.names);
    }
    if (silent >= p->suspect_after_ms)
        s->since = now.mono; /* not steady: the stable period starts again */
    if (now.mono - s->since < p->recover_after_ms)
        return SG_OK;
    s_enter(s, SG_SITE_HEALTHY, now.mono);
    s_forget_holds(e, i);
    return s_emit(e, SG_DECISION_SITE_RECOVERED, i, -1, SG_GUARD_NONE, now,
                  "site %s healthy again after %.1f s of steady heartbeats", s_site_name(e, i),
                  p->recover_after_ms / 1000.0);
}

static int s_eval_site(sg_engine_t *e, int i, sg_now_t now)
{
    s_site_t *s = &e->sites[i];
    if (!s->heard)
        return SG_OK;
    if (s->state == SG_SITE_UNKNOWN)
        s_enter(s, SG_SITE_HEALTHY, now.mono);
    int64_t silent = now.mono - s->last_heard;
    sg_site_state_t before;
    int rc = SG_OK;
    do { /* one tick may pass several states (healthy -> suspect -> lost) */
        before = s->state;
        switch (s->state) {
        case SG_SITE_HEALTHY: rc = s_eval_healthy(e, i, now, silent); break;
        case SG_SITE_SUSPECT: rc = s_eval_suspect(e, i, now, silent); break;
        case SG_SITE_LOST: rc = s_eval_lost(e, i, now, silent); break;
        case SG_SITE_RECOVERING: rc = s_eval_recovering(e, i, now, silent); break;
        default: break;
        }
    } while (rc == SG_OK && s->state != before && s->state != SG_SITE_HEALTHY);
    return rc;
}

/* ---- guards ------------------------------------------------------------------- */

static const s_pause_t *s_active_pause(const sg_engine_t *e, int site, int coll, int64_t now)
{
    for (size_t i = 0; i < e->n_pauses; i++) {
        const s_pause_t *p = &e->pauses[i];
        if (p->until > now && (p->site < 0 || p->site == site) &&
            (p->collection < 0 || p->collection == coll))
            return p;
    }
    return NULL;
}

static bool s_window_has_site(const sg_window_cfg_t *w, int site)
{
    if (w->n_sites == 0)
        return true;
    for (size_t i = 0; i < w->n_sites; i++)
        if (w->sites[i] == site)
            return true;
    return false;
}

static bool s_day_in(unsigned days, int64_t day)
{
    return days == 0 || (days & (1u << (unsigned)(day % 7))) != 0;
}

static bool s_window_open(const sg_window_cfg_t *w, int64_t wall)
{
    if (w->start_ms || w->end_ms)
        return wall >= w->start_ms && wall < w->end_ms;
    int64_t day = wall / 86400000 + 3; /* 1970-01-01 was a Thursday; Monday = 0 */
    int minute = (int)(wall / 60000 % 1440);
    if (w->from_min < w->to_min)
        return s_day_in(w->days, day) && minute >= w->from_min && minute < w->to_min;
    return (minute >= w->from_min && s_day_in(w->days, day)) ||
           (minute < w->to_min && s_day_in(w->days, day + 6));
}

static const sg_window_cfg_t *s_open_window(const sg_engine_t *e, int site, int64_t wall)
{
    for (size_t i = 0; i < e->cfg->policy.n_maintenance; i++) {
        const sg_window_cfg_t *w = &e->cfg->policy.maintenance[i];
        if (s_window_has_site(w, site) && s_window_open(w, wall))
            return w;
    }
    return NULL;
}

static size_t s_budget_used(s_times_t *t, const sg_budget_cfg_t *b, int64_t now)
{
    size_t keep = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->t[i] > now - b->period_ms)
            t->t[keep++] = t->t[i];
    t->n = keep;
    return t->n;
}

static int s_budget_take(s_times_t *t, int64_t now)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        int64_t *n = realloc(t->t, cap * sizeof *n);
        if (!n)
            return SG_ENOMEM;
        t->t = n;
        t->cap = cap;
    }
    t->t[t->n++] = now;
    return SG_OK;
}

/* Checks one guard for collection c. Returns true when it holds c back;
 * writes what it found into buf either way. */
static bool s_guard_holds(sg_engine_t *e, int c, sg_guard_t g, sg_now_t now, char *buf,
                          size_t len)
{
    const sg_config_t *cfg = e->cfg;
    const sg_collection_cfg_t *cc = &cfg->collections[c];
    const sg_policy_cfg_t *p = &cfg->policy;
    const s_coll_t *cs = &e->colls[c];
    const s_repl_t *r = &e->repl[c];
    bool fresh = r->known && now.mono - r->at <= p->replication_max_age_ms;
    switch (g) {
    case SG_GUARD_PAUSED: {
        const s_pause_t *pa = s_active_pause(e, cc->site, c, now.mono);
        if (pa)
            snprintf(buf, len, "paused for %.0f s more: %s", (pa->until - now.mono) / 1000.0,
                     pa->reason ? pa->reason : "no reason given");
        else
            snprintf(buf, len, "not paused");
        return pa != NULL;
    }
    case SG_GUARD_MAINTENANCE: {
        const sg_window_cfg_t *w = s_open_window(e, cc->site, now.wall);
        if (w)
            snprintf(buf, len, "maintenance window open (config line %d): %s", w->mark.line,
                     w->reason ? w->reason : "no reason given");
        else
            snprintf(buf, len, "no maintenance window open");
        return w != NULL;
    }
    case SG_GUARD_REPLICA_SITE: {
        sg_site_state_t st = e->sites[cc->replica_site].state;
        snprintf(buf, len, "replica site %s is %s", s_site_name(e, cc->replica_site),
                 sg_site_state_name(st));
        return st != SG_SITE_HEALTHY;
    }
    case SG_GUARD_REPLICATION_CRITICAL:
        if (fresh)
            snprintf(buf, len, "replication health is %s",
                     r->health == S_REPL_HEALTH_CRITICAL ? "critical" : "not critical");
        else
            snprintf(buf, len, "no fresh replication report");
        return fresh && r->health == S_REPL_HEALTH_CRITICAL;
    case SG_GUARD_NO_REPLICATION_DATA:
        snprintf(buf, len, "%s", cc->rpo_limit_ms == 0 ? "no RPO limit set"
                                 : fresh ? "replication report is fresh"
                                         : "RPO limit set but no replication report within "
                                           "replication_max_age");
        return cc->rpo_limit_ms > 0 && !fresh;
    case SG_GUARD_RPO:
        if (cc->rpo_limit_ms == 0 || !fresh) {
            snprintf(buf, len, "%s", cc->rpo_limit_ms == 0 ? "no RPO limit set" : "lag unknown");
            return false;
        }
        snprintf(buf, len, "replication lag %llu s, RPO limit %.0f s",
                 (unsigned long long)r->lag_s, cc->rpo_limit_ms / 1000.0);
        return (int64_t)r->lag_s * 1000 > cc->rpo_limit_ms;
    case SG_GUARD_COOLDOWN:
        if (cs->cooldown_until > now.mono)
            snprintf(buf, len, "in cooldown for %.0f s more",
                     (cs->cooldown_until - now.mono) / 1000.0);
        else
            snprintf(buf, len, "not in cooldown");
        return cs->cooldown_until > now.mono;
    case SG_GUARD_BUDGET: {
        size_t used = s_budget_used(&e->budget, &p->budget, now.mono);
        bool counted = e->sites[cc->site].budget_taken;
        snprintf(buf, len, "%zu of %d site failovers used in the last %.0f s%s", used,
                 p->budget.max, p->budget.period_ms / 1000.0,
                 counted ? "; this loss is already counted" : "");
        return !counted && p->budget.max > 0 && used >= (size_t)p->budget.max;
    }
    case SG_GUARD_SITE_BUDGET: {
        size_t used = s_budget_used(&e->site_budget[cc->site], &p->site_budget, now.mono);
        bool counted = e->sites[cc->site].budget_taken;
        snprintf(buf, len, "%zu of %d failovers of site %s used in the last %.0f s%s", used,
                 p->site_budget.max, s_site_name(e, cc->site), p->site_budget.period_ms / 1000.0,
                 counted ? "; this loss is already counted" : "");
        return !counted && p->site_budget.max > 0 && used >= (size_t)p->site_budget.max;
    }
    default: return false;
    }
}

/* The guards checked before a failover, in the order they are reported. */
static const sg_guard_t s_guards[] = {
    SG_GUARD_PAUSED,       SG_GUARD_MAINTENANCE,          SG_GUARD_REPLICA_SITE,
    SG_GUARD_REPLICATION_CRITICAL, SG_GUARD_NO_REPLICATION_DATA, SG_GUARD_RPO,
    SG_GUARD_COOLDOWN,     SG_GUARD_BUDGET,               SG_GUARD_SITE_BUDGET};

static sg_guard_t s_first_guard(sg_engine_t *e, int c, sg_now_t now, char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof s_guards / sizeof s_guards[0]; i++)
        if (s_guard_holds(e, c, s_guards[i], now, buf, len))
            return s_guards[i];
    return SG_GUARD_NONE;
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
    return s_emit(e, SG_DECISION_BLOCKED, cc->site, c, g, now,
                  "failover of %s to %s held back (%s): %s", cc->name,
                  s_site_name(e, cc->replica_site), sg_guard_name(g), why);
}

static int s_failover(sg_engine_t *e, int c, sg_now_t now, const char *how)
{
    const sg_collection_cfg_t *cc = &e->cfg->collections[c];
    s_coll_t *cs = &e->colls[c];
    s_site_t *site = &e->sites[cc->site];
    if (!site->budget_taken) { /* the first failover of this loss counts it */
        if (s_budget_take(&e->budget, now.mono) != SG_OK ||
            s_budget_take(&e->site_budget[cc->site], now.mono) != SG_OK)
            return SG_ENOMEM;
        site->budget_taken = true;
    }
    cs->verdict = SG_COLL_DECIDED;
    cs->announced = SG_GUARD_NONE;
    return s_emit(e, SG_DECISION_FAILOVER, cc->site, c, SG_GUARD_NONE, now,
                  "site %s is lost and every guard passes (replica site %s healthy); %s: fail "
                  "%s over to %s (plan group %d)",
                  s_site_name(e, cc->site), s_site_name(e, cc->replica_site), how, cc->name,
                  s_site_name(e, cc->replica_site), cc->group);
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
        cs->deadline = now.mono + p->approval_timeout_ms;
        snprintf(why, sizeof why, "policy mode is approve: waiting %.0f s for an operator, then "
                                  "%s", p->approval_timeout_ms / 1000.0,
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

static int s_decide_one(sg_engine_t *e, int c, sg_now_t now)
{
    char why[256];
    sg_guard_t g = s_first_guard(e, c, now, why, sizeof why);
    if (g != SG_GUARD_NONE)
        return s_hold(e, c, SG_COLL_BLOCKED, g, now, why);
    switch (e->cfg->policy.mode) {
    case SG_MODE_SHADOW:
        return s_hold(e, c, SG_COLL_BLOCKED, SG_GUARD_SHADOW, now,
                      "policy mode is shadow: every guard passes, it would fail over now");
    case SG_MODE_APPROVE: return s_decide_approve(e, c, now);
    default: return s_failover(e, c, now, "policy mode is auto");
    }
}

static int s_decide_collections(sg_engine_t *e, int site, sg_now_t now)
{
    const sg_config_t *cfg = e->cfg;
    for (size_t k = 0; k < cfg->n_collections; k++) {
        int c = e->plan[k];
        sg_coll_verdict_t v = e->colls[c].verdict;
        if (cfg->collections[c].site != site ||
            (v != SG_COLL_IDLE && v != SG_COLL_BLOCKED && v != SG_COLL_AWAITING))
            continue;
        int rc = s_decide_one(e, c, now);
        if (rc != SG_OK)
            return rc;
    }
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
    e->n_pauses = keep;
}

int sg_engine_tick(sg_engine_t *e, sg_now_t now)
{
    s_prune_pauses(e, now.mono);
    s_compute_credible(e, now.mono);
    for (size_t i = 0; i < e->cfg->n_sites; i++) {
        int rc = s_eval_site(e, (int)i, now);
        if (rc != SG_OK)
            return rc;
    }
    for (size_t i = 0; i < e->cfg->n_sites; i++) {
        if (e->sites[i].state != SG_SITE_LOST)
            continue; /* a recovering site's held-back collections wait */
        int rc = s_decide_collections(e, (int)i, now);
        if (rc != SG_OK)
            return rc;
    }
    return SG_OK;
}

static int64_t s_min(int64_t a, int64_t b) { return a < b ? a : b; }

int64_t sg_engine_next_deadline(const sg_engine_t *e)
{
    const sg_policy_cfg_t *p = &e->cfg->policy;
    int64_t best = INT64_MAX;
    for (size_t i = 0; i < e->cfg->n_sites; i++) {
        const s_site_t *s = &e->sites[i];
        if (s->state == SG_SITE_HEALTHY)
            best = s_min(best, s->last_heard + p->suspect_after_ms);
        else if (s->state == SG_SITE_SUSPECT)
            best = s_min(best, s->last_heard + p->hold_down_ms);
        else if (s->state == SG_SITE_RECOVERING)
            best = s_min(best, s->since + p->recover_after_ms);
    }
    for (size_t c = 0; c < e->cfg->n_collections; c++) {
        const s_coll_t *cs = &e->colls[c];
        if (cs->verdict == SG_COLL_AWAITING)
            best = s_min(best, cs->deadline);
        if (cs->verdict == SG_COLL_BLOCKED && cs->announced == SG_GUARD_COOLDOWN)
            best = s_min(best, cs->cooldown_until);
    }
    for (size_t i = 0; i < e->n_pauses; i++)
        best = s_min(best, e->pauses[i].until);
    return best;
}

/* ---- feedback and control --------------------------------------------------- */

static bool s_valid_coll(const sg_engine_t *e, int c)
{
    return c >= 0 && (size_t)c < e->cfg->n_collections;
}

void sg_engine_run_ended(sg_engine_t *e, int collection, bool failed_over, sg_now_t now)
{
    if (!s_valid_coll(e, collection))
        return;
    s_coll_t *cs = &e->colls[collection];
    cs->verdict = failed_over ? SG_COLL_DONE : SG_COLL_FAILED;
    cs->cooldown_until = now.mono + e->cfg->policy.cooldown_ms;
}

void sg_engine_restore(sg_engine_t *e, int collection, sg_coll_verdict_t verdict)
{
    if (s_valid_coll(e, collection))
        e->colls[collection].verdict = verdict;
}

void sg_engine_assume_heard(sg_engine_t *e, int site, sg_now_t now)
{
    s_site_t *s = &e->sites[site];
    if (s->heard)
        return;
    s->heard = true;
    s->last_heard = now.mono;
    s->hb_sent = now.wall;
}

void sg_engine_reset_collection(sg_engine_t *e, int collection, sg_now_t now)
{
    if (!s_valid_coll(e, collection))
        return;
    e->colls[collection] = (s_coll_t){
        .verdict = SG_COLL_IDLE, .cooldown_until = now.mono + e->cfg->policy.cooldown_ms};
}

/* An operator may approve or deny: the collection awaits approval, or its
 * approval timed out into a hold. */
static bool s_awaits_operator(const s_coll_t *cs)
{
    return cs->verdict == SG_COLL_AWAITING ||
           (cs->verdict == SG_COLL_BLOCKED && cs->announced == SG_GUARD_APPROVAL_TIMEOUT);
}

int sg_engine_approve(sg_engine_t *e, int collection, sg_now_t now)
{
    (void)now;
    if (!s_valid_coll(e, collection))
        return SG_EINVAL;
    s_coll_t *cs = &e->colls[collection];
    if (!s_awaits_operator(cs))
        return SG_ESTATE;
    cs->approved = true;
    return SG_OK;
}

int sg_engine_deny(sg_engine_t *e, int collection, sg_now_t now)
{
    if (!s_valid_coll(e, collection))
        return SG_EINVAL;
    s_coll_t *cs = &e->colls[collection];
    if (!s_awaits_operator(cs))
        return SG_ESTATE;
    return s_hold(e, collection, SG_COLL_DENIED, SG_GUARD_DENIED, now,
                  "an operator denied it; held until the site recovers");
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
    return SG_OK;
}

void sg_engine_resume(sg_engine_t *e, int site, int collection)
{
    for (size_t i = 0; i < e->n_pauses; i++)
        if (e->pauses[i].site == site && e->pauses[i].collection == collection)
            e->pauses[i].until = 0; /* pruned at the next tick */
}

/* ---- explain ------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} s_text_t;

static void s_addf(s_text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_addf(s_text_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = sg_vstrdupf(fmt, ap);
    va_end(ap);
    size_t n = line ? strlen(line) : 0;
    if (!line || t->oom) {
        t->oom = true;
        free(line);
        return;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->oom = true;
            free(line);
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, line, n + 1);
    t->len += n;
    free(line);
}

static char *s_text_done(s_text_t *t)
{
    if (t->oom) {
        free(t->buf);
        return NULL;
    }
    return t->buf;
}

static void s_explain_votes(const sg_engine_t *e, int site, int64_t now, s_text_t *t)
{
    for (size_t s = 0; s < e->cfg->n_sites; s++) {
        if ((int)s == site)
            continue;
        int vote = s_site_vote(e, (int)s, site, now);
        s_addf(t, "  site %s%s votes %s\n", s_site_name(e, (int)s),
               e->cfg->sites[s].witness ? " (witness)" : "",
               vote > 0 ? "down" : vote < 0 ? "up" : "nothing (no credible, settled report)");
    }
    for (size_t o = 0; o < e->cfg->n_observers; o++) {
        const s_report_t *r = s_report(e, (int)o, site);
        if (e->cfg->observers[o].site == site)
            continue;
        s_addf(t, "    observer %s: %s; %s\n", e->cfg->observers[o].id,
               e->credible[o] ? "credible" : "no vote (its heartbeats are missing, or it sees "
                                             "nothing while others are heard)",
               !r->known ? "no report" : !s_report_fresh(e, r, now) ? "report too old"
                                         : r->up                   ? "reports up"
                                                                   : "reports down");
    }
}

char *sg_engine_explain_site(const sg_engine_t *e, int site, sg_now_t now)
{
    const sg_policy_cfg_t *p = &e->cfg->policy;
    const s_site_t *s = &e->sites[site];
    s_text_t t = {0};
    s_addf(&t, "site %s%s: %s", s_site_name(e, site), e->cfg->sites[site].witness ? " (witness)" : "",
           sg_site_state_name(s->state));
    if (s->state != SG_SITE_UNKNOWN)
        s_addf(&t, " for %.1f s", (now.mono - s->since) / 1000.0);
    s_addf(&t, "\n");
    if (!s->heard) {
        s_addf(&t, "  never heard since start: a site never heard is never declared lost\n");
        return s_text_done(&t);
    }
    s_addf(&t, "  heartbeats: last one %.1f s ago (suspect after %.1f s, hold-down %.1f s)\n",
           (now.mono - s->last_heard) / 1000.0, p->suspect_after_ms / 1000.0,
           p->hold_down_ms / 1000.0);
    s_votes_t v;
    s_count_votes(e, site, now.mono, &v);
    s_addf(&t, "  quorum: %d site(s) see it down (%s), %d up; needs %d%s: %s\n", v.down,
           v.down ? v.names : "none", v.up, p->quorum,
           p->require_witness ? " including the witness" : "",
           s_quorum_met(e, &v) ? "met" : "not met");
    s_explain_votes(e, site, now.mono, &t);
    return s_text_done(&t);
}

char *sg_engine_explain_collection(const sg_engine_t *e, int collection, sg_now_t now)
{
    const sg_collection_cfg_t *cc = &e->cfg->collections[collection];
    const s_coll_t *cs = &e->colls[collection];
    s_text_t t = {0};
    s_addf(&t, "collection %s (%s -> %s, plan group %d): %s\n", cc->name,
           s_site_name(e, cc->site), s_site_name(e, cc->replica_site), cc->group,
           sg_coll_verdict_name(cs->verdict));
    sg_site_state_t st = e->sites[cc->site].state;
    if (st != SG_SITE_LOST)
        s_addf(&t, "  its site %s is %s: no failover is considered\n", s_site_name(e, cc->site),
               sg_site_state_name(st));
    if (cs->verdict == SG_COLL_BLOCKED || cs->verdict == SG_COLL_AWAITING ||
        cs->verdict == SG_COLL_DENIED)
        s_addf(&t, "  held back by: %s\n", sg_guard_name(cs->announced));
    for (size_t i = 0; i < sizeof s_guards / sizeof s_guards[0]; i++) {
        char buf[256];
        /* guard checks prune budget windows; the engine is otherwise unchanged */
        bool holds = s_guard_holds((sg_engine_t *)e, collection, s_guards[i], now, buf, sizeof buf);
        s_addf(&t, "  %-4s %-22s %s\n", holds ? "HOLD" : "ok", sg_guard_name(s_guards[i]), buf);
    }
    return s_text_done(&t);
}

/* ---- names ----------------------------------------------------------------------- */

sg_site_state_t sg_engine_site_state(const sg_engine_t *e, int site)
{
    return e->sites[site].state;
}

sg_coll_verdict_t sg_engine_collection_verdict(const sg_engine_t *e, int collection)
{
    return e->colls[collection].verdict;
}

const char *sg_site_state_name(sg_site_state_t s)
{
    switch (s) {
    case SG_SITE_HEALTHY: return "healthy";
    case SG_SITE_SUSPECT: return "suspect";
    case SG_SITE_LOST: return "lost";
    case SG_SITE_RECOVERING: return "recovering";
    default: return "unknown";
    }
}

const char *sg_decision_kind_name(sg_decision_kind_t k)
{
    switch (k) {
    case SG_DECISION_SITE_SUSPECT: return "site_suspect";
    case SG_DECISION_SITE_LOST: return "site_lost";
    case SG_DECISION_SITE_RECOVERING: return "site_recovering";
    case SG_DECISION_SITE_RECOVERED: return "site_recovered";
    case SG_DECISION_FAILOVER: return "failover";
    case SG_DECISION_BLOCKED: return "blocked";
    default: return "unknown";
    }
}

const char *sg_guard_name(sg_guard_t g)
{
    static const char *names[SG_GUARD_COUNT] = {
        "none",     "paused",   "maintenance", "replica_site", "replication_critical",
        "rpo",      "no_replication_data", "cooldown", "budget", "site_budget",
        "shadow",   "awaiting_approval",   "denied",   "approval_timeout"};
    return g >= 0 && g < SG_GUARD_COUNT ? names[g] : "unknown";
}

const char *sg_coll_verdict_name(sg_coll_verdict_t v)
{
    switch (v) {
    case SG_COLL_IDLE: return "idle";
    case SG_COLL_BLOCKED: return "blocked";
    case SG_COLL_AWAITING: return "awaiting approval";
    case SG_COLL_DENIED: return "denied";
    case SG_COLL_DECIDED: return "failing over";
    case SG_COLL_DONE: return "failed over";
    case SG_COLL_FAILED: return "failover failed";
    default: return "unknown";
    }
}

/* ---- manual failover, pauses for status, reload -------------------------------- */

static char *s_why(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *s_why(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = sg_vstrdupf(fmt, ap);
    va_end(ap);
    return text;
}

/* Why a manual failover of c cannot go ahead, or NULL (with *rc) when it can. */
static char *s_manual_refusal(sg_engine_t *e, int c, bool force, sg_now_t now, int *rc)
{
    const sg_collection_cfg_t *cc = &e->cfg->collections[c];
    sg_coll_verdict_t v = e->colls[c].verdict;
    *rc = SG_ESTATE;
    if (v == SG_COLL_DECIDED)
        return s_why("%s has a failover run in flight", cc->name);
    if (v == SG_COLL_DONE)
        return s_why("%s is already failed over to %s", cc->name,
                     s_site_name(e, cc->replica_site));
    if (force) {
        *rc = SG_OK;
        return NULL;
    }
    char buf[256];
    sg_guard_t g = s_first_guard(e, c, now, buf, sizeof buf);
    if (g == SG_GUARD_NONE) {
        *rc = SG_OK;
        return NULL;
    }
    return s_why("failover of %s held back (%s): %s; --force with a reason overrides", cc->name,
                 sg_guard_name(g), buf);
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
            *why = s_why("a forced failover needs a reason");
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
    s_site_t *site = &e->sites[cc->site];
    char *own_point = point ? strdup(point) : NULL;
    if (point && !own_point)
        return SG_ENOMEM;
    if (!site->budget_taken) {
        if (s_budget_take(&e->budget, now.mono) != SG_OK ||
            s_budget_take(&e->site_budget[cc->site], now.mono) != SG_OK) {
            free(own_point);
            return SG_ENOMEM;
        }
        site->budget_taken = true;
    }
    e->colls[collection].verdict = SG_COLL_DECIDED;
    e->colls[collection].announced = SG_GUARD_NONE;
    rc = s_emit(e, SG_DECISION_FAILOVER, cc->site, collection, SG_GUARD_NONE, now,
                "manual failover by an operator%s: fail %s over to %s (site %s is %s%s%s): %s",
                force ? ", forced past the guards" : ", every guard passes", cc->name,
                s_site_name(e, cc->replica_site), s_site_name(e, cc->site),
                sg_site_state_name(site->state), point ? "; recovery point " : "",
                point ? point : "", reason && *reason ? reason : "no reason given");
    if (rc == SG_OK) /* the decision just queued runs with this point */
        e->q[(e->q_head + e->q_len - 1) % e->q_cap].point = own_point;
    else
        free(own_point);
    return rc;
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

int sg_engine_set_config(sg_engine_t *e, const sg_config_t *cfg)
{
    const sg_config_t *old = e->cfg;
    if (cfg->n_sites != old->n_sites || cfg->n_collections != old->n_collections)
        return SG_EINVAL;
    for (size_t i = 0; i < cfg->n_sites; i++)
        if (strcmp(cfg->sites[i].name, old->sites[i].name) != 0)
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
