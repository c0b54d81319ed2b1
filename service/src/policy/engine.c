#include "engine.h"
#include "../err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    sg_site_state_t state;
    bool heard;
    int64_t last_heard_ms;
} s_site_t;

struct sg_engine {
    const sg_config_t *cfg;
    s_site_t *sites;
    sg_coll_verdict_t *verdicts;
    int *plan; /* collection indices in plan order */
    uint64_t next_run_id;
    sg_decision_t *q; /* decision queue: a growable ring */
    size_t q_cap, q_head, q_len;
};

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
    int *dependents = NULL;
    s_heap_t h = {.a = calloc(n ? n : 1, sizeof(int)), .cfg = cfg};
    bool *placed = calloc(n ? n : 1, sizeof *placed);
    int rc = SG_ENOMEM;
    if (!indeg || !off || !h.a || !placed)
        goto done;
    for (size_t c = 0; c < n; c++) {
        indeg[c] = (int)cfg->collections[c].n_depends_on;
        for (size_t j = 0; j < cfg->collections[c].n_depends_on; j++)
            off[cfg->collections[c].depends_on[j] + 1]++;
    }
    for (size_t c = 0; c < n; c++)
        off[c + 1] += off[c];
    dependents = calloc(off[n] ? off[n] : 1, sizeof *dependents);
    size_t *fill = calloc(n ? n : 1, sizeof *fill);
    if (!dependents || !fill) {
        free(fill);
        goto done;
    }
    for (size_t c = 0; c < n; c++)
        for (size_t j = 0; j < cfg->collections[c].n_depends_on; j++) {
            int d = cfg->collections[c].depends_on[j];
            dependents[off[d] + fill[d]++] = (int)c;
        }
    free(fill);
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
    free(dependents);
    free(h.a);
    free(placed);
    return rc;
}

sg_engine_t *sg_engine_new(const sg_config_t *cfg, uint64_t run_id_base)
{
    sg_engine_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->cfg = cfg;
    e->next_run_id = run_id_base + 1;
    e->sites = calloc(cfg->n_sites ? cfg->n_sites : 1, sizeof *e->sites);
    e->verdicts = calloc(cfg->n_collections ? cfg->n_collections : 1, sizeof *e->verdicts);
    e->plan = calloc(cfg->n_collections ? cfg->n_collections : 1, sizeof *e->plan);
    if (!e->sites || !e->verdicts || !e->plan || s_build_plan(e) != SG_OK)
        goto fail;
    return e;
fail:
    sg_engine_destroy(&e);
    return NULL;
}

void sg_decision_fini(sg_decision_t *d)
{
    free(d->reason);
    d->reason = NULL;
}

void sg_engine_destroy(sg_engine_t **ep)
{
    if (!ep || !*ep)
        return;
    sg_engine_t *e = *ep;
    for (size_t i = 0; i < e->q_len; i++)
        sg_decision_fini(&e->q[(e->q_head + i) % e->q_cap]);
    free(e->q);
    free(e->sites);
    free(e->verdicts);
    free(e->plan);
    free(e);
    *ep = NULL;
}

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

static int s_emit(sg_engine_t *e, sg_decision_kind_t kind, int site, int coll, int target,
                  int64_t now, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static int s_emit(sg_engine_t *e, sg_decision_kind_t kind, int site, int coll, int target,
                  int64_t now, const char *fmt, ...)
{
    if (e->q_len == e->q_cap && s_queue_grow(e) != SG_OK)
        return SG_ENOMEM;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *reason = strdup(buf);
    if (!reason)
        return SG_ENOMEM;
    sg_decision_t *d = &e->q[(e->q_head + e->q_len) % e->q_cap];
    *d = (sg_decision_t){.kind = kind,
                         .site = site,
                         .collection = coll,
                         .target_site = target,
                         .run_id = kind == SG_DECISION_FAILOVER ? e->next_run_id++ : 0,
                         .at_ms = now,
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

static const char *s_site_name(const sg_engine_t *e, int site)
{
    return e->cfg->sites[site].name;
}

/* True when a site other than `site` has been heard within suspect_after:
 * evidence that the bus works and the silence is the site's own. */
static bool s_other_site_alive(const sg_engine_t *e, int site)
{
    for (size_t i = 0; i < e->cfg->n_sites; i++) {
        if ((int)i != site && e->sites[i].state == SG_SITE_ALIVE)
            return true;
    }
    return false;
}

/* Decides, in plan order, every undecided collection of a lost site. */
static int s_decide_collections(sg_engine_t *e, int site, int64_t now)
{
    const sg_config_t *cfg = e->cfg;
    for (size_t k = 0; k < cfg->n_collections; k++) {
        int c = e->plan[k];
        const sg_collection_cfg_t *cc = &cfg->collections[c];
        sg_coll_verdict_t v = e->verdicts[c];
        if (cc->site != site || (v != SG_COLL_IDLE && v != SG_COLL_BLOCKED))
            continue;
        const char *target = s_site_name(e, cc->replica_site);
        int rc;
        if (e->sites[cc->replica_site].state != SG_SITE_ALIVE) {
            if (v == SG_COLL_BLOCKED)
                continue; /* already announced */
            e->verdicts[c] = SG_COLL_BLOCKED;
            rc = s_emit(e, SG_DECISION_BLOCKED, site, c, cc->replica_site, now,
                        "site %s is lost but replica site %s is %s: failover of %s blocked",
                        s_site_name(e, site), target,
                        sg_site_state_name(e->sites[cc->replica_site].state), cc->name);
        } else if (cfg->policy.mode != SG_MODE_AUTO) {
            if (v == SG_COLL_BLOCKED)
                continue;
            e->verdicts[c] = SG_COLL_BLOCKED;
            rc = s_emit(e, SG_DECISION_BLOCKED, site, c, cc->replica_site, now,
                        "site %s is lost; policy mode is %s: failover of %s to %s not started",
                        s_site_name(e, site),
                        cfg->policy.mode == SG_MODE_SHADOW ? "shadow" : "approve", cc->name,
                        target);
        } else {
            e->verdicts[c] = SG_COLL_DECIDED;
            rc = s_emit(e, SG_DECISION_FAILOVER, site, c, cc->replica_site, now,
                        "site %s is lost and replica site %s is alive: fail %s over to %s "
                        "(plan group %d)",
                        s_site_name(e, site), target, cc->name, target, cc->group);
        }
        if (rc != SG_OK)
            return rc;
    }
    return SG_OK;
}

int sg_engine_on_event(sg_engine_t *e, const sg_event_t *ev, int64_t now)
{
    if (ev->kind != SG_EV_HEARTBEAT)
        return SG_OK; /* other kinds feed later policies */
    s_site_t *s = &e->sites[ev->site];
    sg_site_state_t was = s->state;
    s->heard = true;
    s->last_heard_ms = now;
    s->state = SG_SITE_ALIVE;
    if (was == SG_SITE_SUSPECT || was == SG_SITE_LOST) {
        const sg_observer_cfg_t *o = &e->cfg->observers[ev->observer];
        return s_emit(e, SG_DECISION_SITE_RECOVERED, ev->site, -1, -1, now,
                      "site %s was %s and is heard again (heartbeat from %s)",
                      s_site_name(e, ev->site), sg_site_state_name(was), o->id);
    }
    return SG_OK;
}

static int s_tick_site(sg_engine_t *e, int i, int64_t now)
{
    const sg_policy_cfg_t *pol = &e->cfg->policy;
    s_site_t *s = &e->sites[i];
    if (!s->heard)
        return SG_OK;
    int64_t silent = now - s->last_heard_ms;
    if (s->state == SG_SITE_ALIVE && silent >= pol->suspect_after_ms) {
        s->state = SG_SITE_SUSPECT;
        int rc = s_emit(e, SG_DECISION_SITE_SUSPECT, i, -1, -1, now,
                        "site %s silent for %.1f s (suspect after %.1f s, lost after %.1f s)",
                        s_site_name(e, i), silent / 1000.0, pol->suspect_after_ms / 1000.0,
                        pol->hold_down_ms / 1000.0);
        if (rc != SG_OK)
            return rc;
    }
    if (s->state == SG_SITE_SUSPECT && silent >= pol->hold_down_ms && !e->cfg->sites[i].witness &&
        s_other_site_alive(e, i)) {
        s->state = SG_SITE_LOST;
        int rc = s_emit(e, SG_DECISION_SITE_LOST, i, -1, -1, now,
                        "site %s silent for %.1f s, past its hold-down of %.1f s, while other "
                        "sites are heard",
                        s_site_name(e, i), silent / 1000.0, pol->hold_down_ms / 1000.0);
        if (rc != SG_OK)
            return rc;
    }
    return SG_OK;
}

int sg_engine_tick(sg_engine_t *e, int64_t now)
{
    for (size_t i = 0; i < e->cfg->n_sites; i++) {
        int rc = s_tick_site(e, (int)i, now);
        if (rc != SG_OK)
            return rc;
    }
    for (size_t i = 0; i < e->cfg->n_sites; i++) {
        if (e->sites[i].state != SG_SITE_LOST)
            continue;
        int rc = s_decide_collections(e, (int)i, now);
        if (rc != SG_OK)
            return rc;
    }
    return SG_OK;
}

int64_t sg_engine_next_deadline(const sg_engine_t *e)
{
    const sg_policy_cfg_t *pol = &e->cfg->policy;
    int64_t best = INT64_MAX;
    for (size_t i = 0; i < e->cfg->n_sites; i++) {
        const s_site_t *s = &e->sites[i];
        int64_t d = INT64_MAX;
        if (s->state == SG_SITE_ALIVE)
            d = s->last_heard_ms + pol->suspect_after_ms;
        else if (s->state == SG_SITE_SUSPECT)
            d = s->last_heard_ms + pol->hold_down_ms;
        if (d < best)
            best = d;
    }
    return best;
}

void sg_engine_run_ended(sg_engine_t *e, int collection, bool failed_over)
{
    if (collection < 0 || (size_t)collection >= e->cfg->n_collections)
        return;
    e->verdicts[collection] = failed_over ? SG_COLL_DONE : SG_COLL_FAILED;
}

sg_site_state_t sg_engine_site_state(const sg_engine_t *e, int site)
{
    return e->sites[site].state;
}

sg_coll_verdict_t sg_engine_collection_verdict(const sg_engine_t *e, int collection)
{
    return e->verdicts[collection];
}

const char *sg_site_state_name(sg_site_state_t s)
{
    switch (s) {
    case SG_SITE_ALIVE: return "alive";
    case SG_SITE_SUSPECT: return "suspect";
    case SG_SITE_LOST: return "lost";
    default: return "unknown";
    }
}

const char *sg_decision_kind_name(sg_decision_kind_t k)
{
    switch (k) {
    case SG_DECISION_SITE_SUSPECT: return "site_suspect";
    case SG_DECISION_SITE_LOST: return "site_lost";
    case SG_DECISION_SITE_RECOVERED: return "site_recovered";
    case SG_DECISION_FAILOVER: return "failover";
    case SG_DECISION_BLOCKED: return "blocked";
    default: return "unknown";
    }
}
