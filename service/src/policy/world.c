/* world: a simulated world feeding the engine; see world.h. */
#include "world.h"
#include "../err.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    bool up;
    bool isolated;
    int64_t flap_period; /* 0: steady */
    int64_t flap_since;
    uint64_t seq;
} s_wobs_t;

typedef struct {
    bool set;
    int health;
    uint64_t lag_s;
} s_wrepl_t;

struct sg_world {
    const sg_config_t *cfg;
    int64_t now, start_wall, interval, step;
    double loss;
    uint64_t rng;
    int siteguard_site;
    bool *site_up;
    bool *link_up; /* n_sites x n_sites */
    s_wobs_t *obs;
    s_wrepl_t *repl;
    uint64_t events, lost;
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
                      .siteguard_site = -1};
    w->site_up = calloc(ns, sizeof *w->site_up);
    w->link_up = calloc(ns * ns, sizeof *w->link_up);
    w->obs = calloc(cfg->n_observers ? cfg->n_observers : 1, sizeof *w->obs);
    w->repl = calloc(cfg->n_collections ? cfg->n_collections : 1, sizeof *w->repl);
    if (!w->site_up || !w->link_up || !w->obs || !w->repl) {
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
    free(w);
    *wp = NULL;
}

void sg_world_set_interval(sg_world_t *w, int64_t ms) { w->interval = ms > 0 ? ms : 1000; }
void sg_world_set_step(sg_world_t *w, int64_t ms) { w->step = ms > 0 ? ms : 100; }
void sg_world_set_loss(sg_world_t *w, double p) { w->loss = p < 0 ? 0 : p > 1 ? 1 : p; }
void sg_world_set_siteguard_site(sg_world_t *w, int site) { w->siteguard_site = site; }
void sg_world_site_up(sg_world_t *w, int site, bool up) { w->site_up[site] = up; }

void sg_world_link_up(sg_world_t *w, int a, int b, bool up)
{
    size_t n = w->cfg->n_sites;
    w->link_up[(size_t)a * n + (size_t)b] = up;
    w->link_up[(size_t)b * n + (size_t)a] = up;
}

void sg_world_observer_up(sg_world_t *w, int observer, bool up) { w->obs[observer].up = up; }
void sg_world_isolate(sg_world_t *w, int observer, bool iso) { w->obs[observer].isolated = iso; }

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

static bool s_link(const sg_world_t *w, int a, int b)
{
    return a == b || w->link_up[(size_t)a * w->cfg->n_sites + (size_t)b];
}

static bool s_running(const sg_world_t *w, int o)
{
    const s_wobs_t *ob = &w->obs[o];
    if (!ob->up || !w->site_up[w->cfg->observers[o].site])
        return false;
    if (ob->flap_period <= 0)
        return true;
    return ((w->now - ob->flap_since) / ob->flap_period) % 2 == 0;
}

static bool s_reaches_siteguard(const sg_world_t *w, int o)
{
    int site = w->cfg->observers[o].site;
    return w->siteguard_site < 0 || s_link(w, site, w->siteguard_site);
}

/* Delivers one event, unless the bus loses it. */
static int s_deliver(sg_world_t *w, sg_engine_t *e, sg_event_t *ev)
{
    w->events++;
    if (w->loss > 0 && s_random(w) < w->loss) {
        w->lost++;
        return SG_OK;
    }
    ev->seq = ++w->obs[ev->observer].seq;
    ev->sent_at_ms = w->start_wall + w->now;
    return sg_engine_on_event(e, ev, sg_world_time(w));
}

static int s_observer_round(sg_world_t *w, sg_engine_t *e, int o)
{
    const sg_config_t *cfg = w->cfg;
    int site = cfg->observers[o].site;
    sg_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.observer = o;
    ev.site = site;
    ev.kind = SG_EV_HEARTBEAT;
    int rc = s_deliver(w, e, &ev);
    for (size_t t = 0; rc == SG_OK && t < cfg->n_sites; t++) {
        if ((int)t == site)
            continue;
        ev.kind = SG_EV_REACHABILITY;
        ev.u.reach.target_site = (int)t;
        ev.u.reach.up = !w->obs[o].isolated && w->site_up[t] && s_link(w, site, (int)t);
        rc = s_deliver(w, e, &ev);
    }
    for (size_t c = 0; rc == SG_OK && c < cfg->n_collections; c++) {
        if (!w->repl[c].set || cfg->collections[c].replica_site != site)
            continue;
        memset(&ev.u, 0, sizeof ev.u);
        ev.kind = SG_EV_REPLICATION;
        ev.u.repl.collection = (int)c;
        ev.u.repl.health = w->repl[c].health;
        ev.u.repl.lag_s = w->repl[c].lag_s;
        rc = s_deliver(w, e, &ev);
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

static void s_drain(sg_engine_t *e, sg_world_decision_fn fn, void *user)
{
    sg_decision_t d;
    while (sg_engine_next(e, &d)) {
        if (fn)
            fn(user, &d);
        sg_decision_fini(&d);
    }
}

int sg_world_run(sg_world_t *w, sg_engine_t *e, int64_t until_ms, sg_world_decision_fn fn,
                 void *user)
{
    while (w->now + w->step <= until_ms) {
        w->now += w->step;
        for (size_t o = 0; o < w->cfg->n_observers; o++) {
            if (!s_due(w, (int)o) || !s_running(w, (int)o) || !s_reaches_siteguard(w, (int)o))
                continue;
            int rc = s_observer_round(w, e, (int)o);
            if (rc != SG_OK)
                return rc;
        }
        int rc = sg_engine_tick(e, sg_world_time(w));
        if (rc != SG_OK)
            return rc;
        s_drain(e, fn, user);
    }
    return SG_OK;
}
