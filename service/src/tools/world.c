/* world: a simulated world feeding the engine; see world.h. */
#include "tools/world.h"
#include "base/err.h"

#include <stdlib.h>
#include <string.h>

#define S_BACKLOG_MAX 1000 /* events one observer's publisher queues while cut off */

typedef struct {
    bool up;
    bool isolated;
    int64_t flap_period; /* 0: steady */
    int64_t flap_since;
    uint64_t seq;
    int64_t skew, delay;
    int64_t last_at; /* delivery time of its newest queued event: FIFO */
    size_t queued;
} s_wobs_t;

typedef struct {
    bool set;
    int health;
    uint64_t lag_s;
} s_wrepl_t;

typedef struct {
    int64_t at; /* due for delivery */
    sg_event_t ev;
} s_pending_t;

typedef struct {
    int collection;
    uint64_t run_id;
    sg_run_origin_t origin;
    int64_t call_at, end_at;
    bool called;
} s_run_t;

struct sg_world {
    const sg_config_t *cfg;
    int64_t now, start_wall, interval, step;
    double loss;
    uint64_t rng;
    int siteguard_site;
    bool buffer;
    bool *site_up;
    bool *link_up; /* n_sites x n_sites: [from][to] */
    s_wobs_t *obs;
    s_wrepl_t *repl;
    uint64_t events, lost;
    s_pending_t *pend;
    size_t n_pend, cap_pend;
    bool *held; /* per observer, during one delivery: its queue waits */
    s_run_t *runs;
    size_t n_runs, cap_runs;
    int64_t call_delay, job;
    signed char *ended; /* per collection: 1 failed over, 0 not */
    uint64_t max_run_id;
    sg_world_run_fn run_fn;
    void *run_user;
    sg_world_event_fn ev_fn;
    void *ev_user;
};

sg_world_t *sg_world_new(const sg_config_t *cfg, int64_t start_wall_ms, uint64_t seed)
{
    sg_world_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    size_t ns = cfg->n_sites ? cfg->n_sites : 1;
    *w = (sg_world_t){.cfg = cfg,
                      .start_wall = start_wall_ms,
                      .interval = 1000,
                      .step = 100,
                      .rng = seed ? seed : 0x9e3779b97f4a7c15ull,
                      .siteguard_site = -1,
                      .call_delay = -1,
                      .job = 1000};
    w->site_up = calloc(ns, sizeof *w->site_up);
    w->link_up = calloc(ns * ns, sizeof *w->link_up);
    w->obs = calloc(cfg->n_observers ? cfg->n_observers : 1, sizeof *w->obs);
    w->repl = calloc(cfg->n_collections ? cfg->n_collections : 1, sizeof *w->repl);
    w->ended = calloc(cfg->n_collections ? cfg->n_collections : 1, sizeof *w->ended);
    w->held = calloc(cfg->n_observers ? cfg->n_observers : 1, sizeof *w->held);
    if (!w->site_up || !w->link_up || !w->obs || !w->repl || !w->ended || !w->held) {
        sg_world_destroy(&w);
        return NULL;
    }
    for (size_t i = 0; i < ns; i++)
        w->site_up[i] = true;
    for (size_t i = 0; i < ns * ns; i++)
        w->link_up[i] = true;
    for (size_t o = 0; o < cfg->n_observers; o++)
        w->obs[o].up = true;
    return w;
}

void sg_world_destroy(sg_world_t **wp)
{
    if (!wp || !*wp)
        return;
    sg_world_t *w = *wp;
    free(w->site_up);
    free(w->link_up);
    free(w->obs);
    free(w->repl);
    free(w->pend);
    free(w->runs);
    free(w->ended);
    free(w->held);
    free(w);
    *wp = NULL;
}

void sg_world_set_interval(sg_world_t *w, int64_t ms) { w->interval = ms > 0 ? ms : 1000; }
void sg_world_set_step(sg_world_t *w, int64_t ms) { w->step = ms > 0 ? ms : 100; }
void sg_world_set_loss(sg_world_t *w, double p) { w->loss = p < 0 ? 0 : p > 1 ? 1 : p; }
void sg_world_set_siteguard_site(sg_world_t *w, int site) { w->siteguard_site = site; }
void sg_world_set_buffer(sg_world_t *w, bool on) { w->buffer = on; }

void sg_world_set_runs(sg_world_t *w, int64_t call_delay_ms, int64_t job_ms)
{
    w->call_delay = call_delay_ms;
    w->job = job_ms;
}

void sg_world_on_runs(sg_world_t *w, sg_world_run_fn fn, void *user)
{
    w->run_fn = fn;
    w->run_user = user;
}

void sg_world_on_events(sg_world_t *w, sg_world_event_fn fn, void *user)
{
    w->ev_fn = fn;
    w->ev_user = user;
}

/* Drops what the observers of `site` (or observer `o`, site -1) had queued:
 * a process or site that dies takes its queue with it. */
static void s_drop_queued(sg_world_t *w, int site, int o)
{
    size_t keep = 0;
    for (size_t i = 0; i < w->n_pend; i++) {
        const sg_event_t *ev = &w->pend[i].ev;
        if (ev->observer == o || (site >= 0 && ev->site == site))
            w->obs[ev->observer].queued--;
        else
            w->pend[keep++] = w->pend[i];
    }
    w->n_pend = keep;
}

void sg_world_site_up(sg_world_t *w, int site, bool up)
{
    w->site_up[site] = up;
    if (!up)
        s_drop_queued(w, site, -1);
}

void sg_world_link_dir(sg_world_t *w, int from, int to, bool up)
{
    w->link_up[(size_t)from * w->cfg->n_sites + (size_t)to] = up;
}

void sg_world_link_up(sg_world_t *w, int a, int b, bool up)
{
    sg_world_link_dir(w, a, b, up);
    sg_world_link_dir(w, b, a, up);
}

void sg_world_observer_up(sg_world_t *w, int observer, bool up)
{
    w->obs[observer].up = up;
    if (!up)
        s_drop_queued(w, -1, observer);
}

void sg_world_isolate(sg_world_t *w, int observer, bool iso) { w->obs[observer].isolated = iso; }
void sg_world_skew(sg_world_t *w, int observer, int64_t ms) { w->obs[observer].skew = ms; }
void sg_world_delay(sg_world_t *w, int observer, int64_t ms) { w->obs[observer].delay = ms > 0 ? ms : 0; }

void sg_world_flap(sg_world_t *w, int observer, int64_t period_ms)
{
    w->obs[observer].flap_period = period_ms;
    w->obs[observer].flap_since = w->now;
}

void sg_world_replication(sg_world_t *w, int collection, int health, uint64_t lag_s)
{
    w->repl[collection] = (s_wrepl_t){true, health, lag_s};
}

int64_t sg_world_now(const sg_world_t *w) { return w->now; }

sg_now_t sg_world_time(const sg_world_t *w)
{
    return (sg_now_t){w->now, w->start_wall + w->now};
}

bool sg_world_site_is_up(const sg_world_t *w, int site) { return w->site_up[site]; }
uint64_t sg_world_events(const sg_world_t *w) { return w->events; }
uint64_t sg_world_lost_events(const sg_world_t *w) { return w->lost; }

/* xorshift64*: reproducible from the seed. */
static double s_random(sg_world_t *w)
{
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return (double)((w->rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static bool s_link(const sg_world_t *w, int from, int to)
{
    return from == to || w->link_up[(size_t)from * w->cfg->n_sites + (size_t)to];
}

bool sg_world_observer_running(const sg_world_t *w, int o)
{
    const s_wobs_t *ob = &w->obs[o];
    if (!ob->up || !w->site_up[w->cfg->observers[o].site])
        return false;
    if (ob->flap_period <= 0)
        return true;
    return ((w->now - ob->flap_since) / ob->flap_period) % 2 == 0;
}

bool sg_world_observer_sees(const sg_world_t *w, int o, int site)
{
    return sg_world_observer_running(w, o) && !w->obs[o].isolated && w->site_up[site] &&
           s_link(w, w->cfg->observers[o].site, site);
}

bool sg_world_reaches_siteguard(const sg_world_t *w, int o)
{
    int site = w->cfg->observers[o].site;
    return w->siteguard_site < 0 || s_link(w, site, w->siteguard_site);
}

/* Queues one event for delivery after the observer's delay, unless the bus
 * loses it (or, without a buffer, siteguard cannot be reached). */
static int s_send(sg_world_t *w, sg_event_t *ev)
{
    s_wobs_t *o = &w->obs[ev->observer];
    w->events++;
    if ((w->loss > 0 && s_random(w) < w->loss) ||
        (!w->buffer && !sg_world_reaches_siteguard(w, ev->observer)) ||
        o->queued >= S_BACKLOG_MAX) {
        w->lost++;
        return SG_OK;
    }
    if (w->n_pend == w->cap_pend) {
        size_t cap = w->cap_pend ? w->cap_pend * 2 : 256;
        s_pending_t *p = realloc(w->pend, cap * sizeof *p);
        if (!p)
            return SG_ENOMEM;
        w->pend = p;
        w->cap_pend = cap;
    }
    ev->seq = ++o->seq;
    ev->sent_at_ms = w->start_wall + w->now + o->skew;
    int64_t at = w->now + o->delay;
    if (at < o->last_at)
        at = o->last_at; /* one connection: in order */
    o->last_at = at;
    o->queued++;
    w->pend[w->n_pend++] = (s_pending_t){at, *ev};
    return SG_OK;
}

/* Delivers what is due and can reach siteguard, in order per observer. */
static int s_deliver_due(sg_world_t *w, sg_engine_t *e)
{
    size_t keep = 0;
    int rc = SG_OK;
    bool *held = w->held;
    memset(held, 0, (w->cfg->n_observers ? w->cfg->n_observers : 1) * sizeof *held);
    for (size_t i = 0; i < w->n_pend; i++) {
        s_pending_t *p = &w->pend[i];
        int o = p->ev.observer;
        bool go = rc == SG_OK && !held[o] && p->at <= w->now;
        if (go && !sg_world_reaches_siteguard(w, o)) {
            go = false;
            if (!w->buffer) { /* cut off in transit: lost */
                w->obs[o].queued--;
                w->lost++;
                continue;
            }
        }
        if (!go) {
            held[o] = true;
            w->pend[keep++] = *p;
            continue;
        }
        w->obs[o].queued--;
        if (w->ev_fn)
            w->ev_fn(w->ev_user, &p->ev, sg_world_time(w));
        rc = sg_engine_on_event(e, &p->ev, sg_world_time(w));
    }
    w->n_pend = keep;
    return rc;
}

static int s_observer_round(sg_world_t *w, int o)
{
    const sg_config_t *cfg = w->cfg;
    int site = cfg->observers[o].site;
    sg_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.observer = o;
    ev.site = site;
    ev.kind = SG_EV_HEARTBEAT;
    int rc = s_send(w, &ev);
    for (size_t t = 0; rc == SG_OK && t < cfg->n_sites; t++) {
        if ((int)t == site)
            continue;
        ev.kind = SG_EV_REACHABILITY;
        ev.u.reach.target_site = (int)t;
        ev.u.reach.up = sg_world_observer_sees(w, o, (int)t);
        rc = s_send(w, &ev);
    }
    for (size_t c = 0; rc == SG_OK && c < cfg->n_collections; c++) {
        if (!w->repl[c].set || cfg->collections[c].replica_site != site)
            continue;
        memset(&ev.u, 0, sizeof ev.u);
        ev.kind = SG_EV_REPLICATION;
        ev.u.repl.collection = (int)c;
        ev.u.repl.health = w->repl[c].health;
        ev.u.repl.lag_s = w->repl[c].lag_s;
        rc = s_send(w, &ev);
    }
    return rc;
}

static int64_t s_floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* Does observer o send during the step (now - step, now]? It sends at
 * phase + k * interval, phases spread evenly over the interval. */
static bool s_due(const sg_world_t *w, int o)
{
    int64_t phase = w->interval * o / (int64_t)(w->cfg->n_observers ? w->cfg->n_observers : 1);
    return s_floor_div(w->now - phase, w->interval) >
           s_floor_div(w->now - w->step - phase, w->interval);
}

/* ---- runs ------------------------------------------------------------------------- */

static void s_run_event(sg_world_t *w, sg_world_run_event_t what, const s_run_t *r, const char *why)
{
    if (w->run_fn)
        w->run_fn(w->run_user, what, r->collection, r->run_id, sg_world_time(w), why);
}

static int s_add_run(sg_world_t *w, const sg_decision_t *d)
{
    if (w->n_runs == w->cap_runs) {
        size_t cap = w->cap_runs ? w->cap_runs * 2 : 16;
        s_run_t *r = realloc(w->runs, cap * sizeof *r);
        if (!r)
            return SG_ENOMEM;
        w->runs = r;
        w->cap_runs = cap;
    }
    int64_t delay = w->call_delay >= 0 ? w->call_delay : w->step;
    w->runs[w->n_runs++] = (s_run_t){d->collection, d->run_id, d->origin, w->now + delay, 0, false};
    if (d->run_id > w->max_run_id)
        w->max_run_id = d->run_id;
    return SG_OK;
}

/* Cancels the runs of `site` not yet called (not an operator's). */
static void s_cancel_site(sg_world_t *w, sg_engine_t *e, int site, const char *why)
{
    size_t keep = 0;
    for (size_t i = 0; i < w->n_runs; i++) {
        s_run_t *r = &w->runs[i];
        if (!r->called && w->cfg->collections[r->collection].site == site &&
            !sg_engine_run_is_manual(e, r->collection)) {
            sg_engine_run_cancelled(e, r->collection, r->run_id);
            s_run_event(w, SG_WORLD_RUN_CANCELLED, r, why);
            continue;
        }
        w->runs[keep++] = *r;
    }
    w->n_runs = keep;
}

/* Calls what is due (after its proof) and ends the jobs that are over. */
static void s_step_runs(sg_world_t *w, sg_engine_t *e)
{
    sg_now_t now = sg_world_time(w);
    size_t keep = 0;
    for (size_t i = 0; i < w->n_runs; i++) {
        s_run_t *r = &w->runs[i];
        if (!r->called && r->call_at <= w->now) {
            char *why = NULL;
            if (sg_engine_confirm(e, r->collection, r->run_id, now, &why) != SG_OK) {
                sg_engine_run_cancelled(e, r->collection, r->run_id);
                s_run_event(w, SG_WORLD_RUN_CANCELLED, r, why ? why : "proof failed");
                free(why);
                continue;
            }
            r->called = true;
            r->end_at = w->now + w->job;
            s_run_event(w, SG_WORLD_RUN_CALLED, r, NULL);
        }
        if (r->called && r->end_at <= w->now) {
            sg_engine_run_ended(e, r->collection, true, now);
            w->ended[r->collection] = 1;
            s_run_event(w, SG_WORLD_RUN_DONE, r, NULL);
            continue;
        }
        w->runs[keep++] = *r;
    }
    w->n_runs = keep;
}

static int s_drain(sg_world_t *w, sg_engine_t *e, sg_world_decision_fn fn, void *user)
{
    sg_decision_t d;
    int rc = SG_OK;
    while (sg_engine_next(e, &d)) {
        if (fn)
            fn(user, &d);
        if (d.kind == SG_DECISION_FAILOVER && rc == SG_OK)
            rc = s_add_run(w, &d);
        else if (d.kind == SG_DECISION_SITE_RECOVERING || d.kind == SG_DECISION_SITE_CONTESTED)
            s_cancel_site(w, e, d.site, "its site is no longer lost");
        sg_decision_fini(&d);
    }
    return rc;
}

int sg_world_run(sg_world_t *w, sg_engine_t *e, int64_t until_ms, sg_world_decision_fn fn,
                 void *user)
{
    while (w->now + w->step <= until_ms) {
        w->now += w->step;
        for (size_t o = 0; o < w->cfg->n_observers; o++) {
            if (!s_due(w, (int)o) || !sg_world_observer_running(w, (int)o))
                continue;
            int rc = s_observer_round(w, (int)o);
            if (rc != SG_OK)
                return rc;
        }
        int rc = s_deliver_due(w, e);
        if (rc == SG_OK)
            s_step_runs(w, e);
        rc = rc ? rc : sg_engine_tick(e, sg_world_time(w));
        rc = rc ? rc : s_drain(w, e, fn, user);
        if (rc != SG_OK)
            return rc;
        s_step_runs(w, e);
    }
    return SG_OK;
}

int sg_world_restart(sg_world_t *w, sg_engine_t **ep)
{
    sg_now_t now = sg_world_time(w);
    sg_opstate_t st;
    int rc = sg_engine_opstate_export(*ep, now, &st);
    sg_engine_destroy(ep);
    if (rc != SG_OK)
        return rc;
    *ep = sg_engine_new(w->cfg, w->max_run_id, now);
    rc = *ep ? sg_engine_opstate_import(*ep, &st, now) : SG_ENOMEM;
    sg_opstate_fini(&st);
    if (rc != SG_OK) {
        sg_engine_destroy(ep);
        return rc;
    }
    for (size_t c = 0; c < w->cfg->n_collections; c++)
        if (w->ended[c])
            sg_engine_restore(*ep, (int)c, SG_COLL_DONE, 0, SG_ORIGIN_ENGINE);
    size_t keep = 0;
    for (size_t i = 0; i < w->n_runs; i++) {
        s_run_t *r = &w->runs[i];
        if (!r->called) { /* decided, never started: abandoned */
            s_run_event(w, SG_WORLD_RUN_CANCELLED, r, "abandoned at a restart");
            continue;
        }
        sg_engine_restore(*ep, r->collection, SG_COLL_DECIDED, r->run_id, r->origin);
        w->runs[keep++] = *r;
    }
    w->n_runs = keep;
    return SG_OK;
}
