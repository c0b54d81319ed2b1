/* sg-faultcheck: a Jepsen-style randomized fault checker for the policy
 * engine.
 *
 * Each schedule builds a random world (3 or 4 sites: 2 or 3 data sites and a
 * witness; 1-3 observers per site; 1-4 collections per data site in plan
 * groups 0-2, some with depends_on, some with an RPO limit, random replica
 * sites), a random policy within sane bounds, a heartbeat interval, and a
 * random fault schedule over one to three virtual minutes: site deaths
 * (temporary and permanent, the witness included), partitions (symmetric and
 * one-way, between sites and between a site and siteguard's site), link
 * blips of 100 ms - 1 s everywhere, observer crashes and restarts (a
 * restarted observer comes back with a new clock skew), flapping, isolation,
 * clock skew up to +-10 s, transit delay 0-2 s, event loss 0-20 %, buffered
 * (late) delivery, and siteguard restarts. A nemesis also reacts to the
 * engine: on a failover decision (now and then) the lost site comes back (all
 * its links, or only those from it, or only those to it) at a random step
 * between the decision and the call, so that fresh evidence lands in the
 * proof-before-act window. About half the schedules end with a clean loss
 * episode: everything healed, a settle time, then one data site dies while
 * the rest stays healthy (no nemesis then). The real engine runs in the
 * world simulator (tools/world.h); this checker mirrors every fault it
 * injects (the ground truth, versioned over time), reconstructs the
 * generation time of every delivered event, checks every reachability
 * report against its ground truth, and judges each schedule on its own.
 *
 * Notation. T: the time of a call (SG_WORLD_RUN_CALLED) of collection c,
 * whose primary site is P. Generation time t of an event: the virtual time at
 * which its observer made it, computed as sent_at - start - skew, with the
 * skew the checker injected (it changes only while its observer is down,
 * when the world drops the observer's queue, so every event delivered after
 * the change carries the new skew); each t is checked to be a step at which
 * the observer was due and running (else the run counts a checker/world
 * inconsistency, which fails it). Delivered by T: passed to the engine at a
 * step <= T (events of a step are delivered before its runs are called).
 * VH = policy.vote_hold, HD = policy.hold_down, I = heartbeat interval.
 *
 * SAFETY (checked at every call):
 *   S1 no up evidence: no reachability report about P from an observer
 *      outside P saying "up", generated at t with T - VH < t <= T, was
 *      delivered by T. (An up report says the world showed P alive and
 *      reachable from a live observer outside P at t; the checker verifies
 *      that every report matches its own ground truth at t.)
 *   S2 silence: no event of an observer at P (heartbeat, reachability or
 *      replication report: each proves P alive) generated at t with
 *      T - HD < t <= T was delivered by T.
 *   S3 at most once: no collection is called twice (the world never fails
 *      back, so a second call is a second failover).
 *   The far edge is open: evidence generated exactly VH (HD) before the call
 *   is VH (HD) old, and the engine's rules are "silent for hold_down" and
 *   "an up within vote_hold vetoes" (now - t < VH). Calls with evidence
 *   exactly on the edge are counted and printed apart ("edge"), so the
 *   closed-interval reading [T - VH, T] can be judged from the figures.
 *
 * LIVENESS (checked for every clean loss, counted):
 *   A clean loss: data site P (not siteguard's site) is up at D - S, dies
 *   at D and stays down until D + B, where
 *     S = recover_after + report_max_age + suspect_after + 2 I + 2 s + 2 steps
 *         (settle: long enough for stale reports to age out, a replica site
 *         to recover, delayed and buffered events from before to arrive),
 *     B = HD + VH + 2 I + call_delay + one step (the deadline; in approve
 *         mode, proceeding on timeout, plus approval_timeout),
 *   and throughout (D - S, D + B] the world is healthy: event loss 0; every
 *   link (both directions, all site pairs, siteguard's site included) up;
 *   every site other than P stays up or stays down for the whole window;
 *   every observer at a site that is up (P before D) is running (not
 *   crashed, not flapping), not isolated, with transit delay <= I (any
 *   clock skew); no siteguard restart in [D - S, D + B]. The engine then
 *   needs a quorum of healthy voters: at least `quorum` sites other than P
 *   up (the witness among them when require_witness), and another data site
 *   up. Eligible collections: P's collections not called before D, in the
 *   lowest plan group among those, with no dependency still to fail over,
 *   no RPO limit, replication health not critical, replica site up; no
 *   budget limit. Every eligible collection must be called in [D, D + B].
 *   (Why B suffices: P's observers go silent at D and their queues die with
 *   the site; each healthy voter makes its first "down" within I of D and it
 *   arrives within I more, its last "up" arrived by D + I; the vote holds VH
 *   after the first down, so by D + 2 I + VH; the silence holds from
 *   D + HD; another data site is heard within suspect_after + 2 I < HD + 2 I;
 *   so the site is lost by D + HD + VH + 2 I, and the run is called
 *   call_delay later, rounded up to a step.) A run of 1,000 schedules or
 *   more fails when fewer than 1 in 20 gave a clean loss to check.
 *
 * Usage: sg-faultcheck [--schedules N] [--seed S] [--from K] [--verbose]
 *   [--mutant M]. SG_FAULT_SEED=S repeats a run; schedule K has its own seed
 *   derived from S, so `--from K --schedules 1` replays it alone. --mutant
 *   runs the engine with a weakened policy (the checker keeps the real one)
 *   to show the checker catches it: vote_hold0 (vote_hold 0, quorum 1, no
 *   witness required: blips decide), hold_down_short (hold_down =
 *   suspect_after + 1 step); both must fail (the suite checks they do).
 *   Exit 0 when every schedule holds, 1 on a violation, 2 on bad usage. */
#include "base/err.h"
#include "policy/engine.h"
#include "tools/world.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_SITES 4
#define S_MAX_OBS (S_MAX_SITES * 3)
#define S_MAX_COLLS 12
#define S_STEP 100
#define S_WALL0 1800000000000LL
#define S_MAX_SKEW 10000
#define S_MAX_DELAY 2000
#define S_PRINT_MAX 20 /* violations printed in full */
#define S_EDGE_PRINT 3 /* edge cases printed */

/* ---- random numbers --------------------------------------------------------------- */

typedef struct {
    uint64_t s;
} s_rng_t;

static uint64_t s_mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t s_next(s_rng_t *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    return s_mix(r->s);
}

/* Uniform in [lo, hi]. */
static int64_t s_range(s_rng_t *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int64_t)(s_next(r) % (uint64_t)(hi - lo + 1));
}

/* Uniform in [lo, hi], a multiple of the step. */
static int64_t s_ms(s_rng_t *r, int64_t lo, int64_t hi)
{
    return s_range(r, (lo + S_STEP - 1) / S_STEP, hi / S_STEP) * S_STEP;
}

static double s_unit(s_rng_t *r) { return (double)(s_next(r) >> 11) / 9007199254740992.0; }
static bool s_chance(s_rng_t *r, double p) { return s_unit(r) < p; }

/* The seed of schedule k of a run seeded `seed`. */
static uint64_t s_schedule_seed(uint64_t seed, uint64_t k)
{
    return s_mix(seed ^ s_mix(k + 1));
}

/* ---- a schedule: topology, policy, faults ---------------------------------------- */

typedef enum {
    A_SITE_DOWN = 1,
    A_SITE_UP,   /* ignored for a site killed for good */
    A_SITE_KILL, /* down for good */
    A_LINK,      /* a -> b (and b -> a when v == 1: symmetric) set to `on` */
    A_OBS_DOWN,  /* crash; v: the clock skew it comes back with */
    A_OBS_UP,
    A_FLAP,      /* v: period, 0 stops */
    A_ISOLATE,
    A_DELAY,     /* v: transit delay */
    A_LOSS,      /* p */
    A_BUFFER,
    A_RESTART    /* siteguard restarts */
} s_act_kind_t;

typedef struct {
    int64_t at;
    s_act_kind_t kind;
    int a, b;
    bool on;
    int64_t v;
    double p;
    unsigned ord; /* generation order: ties keep it */
} s_action_t;

typedef struct {
    char site_names[S_MAX_SITES][4];
    char obs_ids[S_MAX_OBS][16];
    char coll_names[S_MAX_COLLS][16];
    sg_site_cfg_t sites[S_MAX_SITES];
    sg_observer_cfg_t obs[S_MAX_OBS];
    sg_collection_cfg_t colls[S_MAX_COLLS];
    int deps[S_MAX_COLLS][1];
    sg_config_t cfg;        /* what the checker judges by */
    sg_config_t engine_cfg; /* what the engine runs with (differs only with --mutant) */
    int n_data, witness;
    int64_t interval, call_delay, job, end;
    int siteguard_site;
    bool buffer;
    double loss;
    int64_t skew[S_MAX_OBS], delay[S_MAX_OBS];
    int repl_health[S_MAX_COLLS];
    uint64_t repl_lag[S_MAX_COLLS];
    s_action_t *acts;
    size_t n_acts, cap_acts;
    int64_t planned_death; /* the clean episode's death, or -1 */
    int planned_site;
    uint64_t n_kind[A_RESTART + 1]; /* faults injected by kind (undo actions not counted) */
    int64_t nemesis_until; /* the nemesis acts on decisions made before this */
    double nemesis_p;      /* and on each with this probability */
    uint64_t n_sym, n_blips;
} s_sched_t;

static void s_add(s_sched_t *sc, s_action_t a)
{
    if (sc->n_acts == sc->cap_acts) {
        size_t cap = sc->cap_acts ? sc->cap_acts * 2 : 64;
        s_action_t *n = realloc(sc->acts, cap * sizeof *n);
        if (!n) {
            fprintf(stderr, "sg-faultcheck: out of memory\n");
            exit(2);
        }
        sc->acts = n;
        sc->cap_acts = cap;
    }
    a.ord = (unsigned)sc->n_acts;
    sc->acts[sc->n_acts++] = a;
}

static int s_act_cmp(const void *x, const void *y)
{
    const s_action_t *a = x, *b = y;
    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    return a->ord < b->ord ? -1 : a->ord > b->ord;
}

static int s_other_site(s_rng_t *r, int n_sites, int not)
{
    int s = (int)s_range(r, 0, n_sites - 2);
    return s >= not ? s + 1 : s;
}

/* A site that may die: not siteguard's own (siteguard would die with it). */
static int s_mortal_site(s_rng_t *r, const s_sched_t *sc)
{
    int n = (int)sc->cfg.n_sites;
    if (s_chance(r, 0.3) && sc->witness != sc->siteguard_site)
        return sc->witness;
    for (int tries = 0; tries < 16; tries++) {
        int s = (int)s_range(r, 0, n - 1);
        if (s != sc->siteguard_site)
            return s;
    }
    return -1;
}

static void s_build_topology(s_sched_t *sc, s_rng_t *r)
{
    sg_config_t *cfg = &sc->cfg;
    memset(cfg, 0, sizeof *cfg);
    sc->n_data = (int)s_range(r, 2, 3);
    sc->witness = sc->n_data;
    int n_sites = sc->n_data + 1;
    for (int s = 0; s < n_sites; s++) {
        snprintf(sc->site_names[s], sizeof sc->site_names[s], "%c", s == sc->witness ? 'W' : 'A' + s);
        sc->sites[s] = (sg_site_cfg_t){.name = sc->site_names[s], .witness = s == sc->witness};
    }
    int n_obs = 0;
    for (int s = 0; s < n_sites; s++) {
        int k = (int)s_range(r, 1, 3);
        for (int i = 0; i < k; i++, n_obs++) {
            snprintf(sc->obs_ids[n_obs], sizeof sc->obs_ids[n_obs], "%c%d",
                     s == sc->witness ? 'w' : 'a' + s, i + 1);
            sc->obs[n_obs] = (sg_observer_cfg_t){.id = sc->obs_ids[n_obs], .site = s};
        }
    }
    int n_colls = 0;
    for (int s = 0; s < sc->n_data; s++) {
        int k = (int)s_range(r, 1, 4), first = n_colls;
        for (int i = 0; i < k; i++, n_colls++) {
            sg_collection_cfg_t *c = &sc->colls[n_colls];
            snprintf(sc->coll_names[n_colls], sizeof sc->coll_names[n_colls], "%c-%d", 'a' + s, i);
            *c = (sg_collection_cfg_t){.name = sc->coll_names[n_colls],
                                       .site = s,
                                       .replica_site = s_other_site(r, sc->n_data, s),
                                       .group = (int)s_range(r, 0, 2)};
            if (s_chance(r, 0.25))
                c->rpo_limit_ms = s_ms(r, 5000, 120000);
            /* a dependency on an earlier collection of the same site in the same or an
             * earlier group: acyclic by construction */
            if (n_colls > first && s_chance(r, 0.3)) {
                int d = (int)s_range(r, first, n_colls - 1);
                if (sc->colls[d].group <= c->group) {
                    sc->deps[n_colls][0] = d;
                    c->depends_on = sc->deps[n_colls];
                    c->n_depends_on = 1;
                }
            }
            double h = s_unit(r);
            sc->repl_health[n_colls] = h < 0.85 ? 1 : h < 0.95 ? 2 : 3;
            sc->repl_lag[n_colls] = (uint64_t)s_range(r, 0, 90);
        }
    }
    cfg->sites = sc->sites;
    cfg->n_sites = (size_t)n_sites;
    cfg->observers = sc->obs;
    cfg->n_observers = (size_t)n_obs;
    cfg->collections = sc->colls;
    cfg->n_collections = (size_t)n_colls;
    double g = s_unit(r);
    sc->siteguard_site = g < 0.3 ? -1 : g < 0.7 ? sc->witness : (int)s_range(r, 0, sc->n_data - 1);
}

static void s_build_policy(s_sched_t *sc, s_rng_t *r, bool episode)
{
    static const int64_t intervals[] = {500, 1000, 1000, 1000, 2000};
    int64_t I = intervals[s_range(r, 0, 4)];
    sc->interval = I;
    sg_policy_cfg_t *p = &sc->cfg.policy;
    memset(p, 0, sizeof *p);
    p->suspect_after_ms = s_ms(r, 2 * I, 3 * I + 1000);
    p->hold_down_ms = p->suspect_after_ms + s_ms(r, 500, 6000);
    p->vote_hold_ms = s_ms(r, I, p->hold_down_ms + 2000);
    p->report_max_age_ms = s_ms(r, 2 * I + 500, 4 * I + 2000);
    p->recover_after_ms = s_ms(r, 1000, 10000);
    p->startup_grace_ms = s_ms(r, 0, 2 * p->hold_down_ms);
    p->skew_warn_ms = 2000;
    p->quorum = (int)s_range(r, 1, 2);
    p->require_witness = s_chance(r, 0.5);
    p->mode = s_chance(r, 0.9) ? SG_MODE_AUTO : SG_MODE_APPROVE;
    p->approval_timeout_ms = s_ms(r, 500, 5000);
    p->proceed_on_timeout = true;
    p->cooldown_ms = s_ms(r, 0, 60000);
    p->replication_max_age_ms = 60000;
    if (!episode && s_chance(r, 0.3)) { /* budgets only where no clean loss is planned */
        p->budget = (sg_budget_cfg_t){(int)s_range(r, 1, 3), 3600000};
        p->site_budget = (sg_budget_cfg_t){(int)s_range(r, 1, 2), 3600000};
    }
    sc->call_delay = s_ms(r, 0, 1000);
    sc->job = s_ms(r, 200, 3000);
}

static int64_t s_settle(const s_sched_t *sc)
{
    const sg_policy_cfg_t *p = &sc->cfg.policy;
    return p->recover_after_ms + p->report_max_age_ms + p->suspect_after_ms + 2 * sc->interval +
           S_MAX_DELAY + 2 * S_STEP;
}

static int64_t s_deadline(const sg_config_t *cfg, int64_t interval, int64_t call_delay)
{
    const sg_policy_cfg_t *p = &cfg->policy;
    return p->hold_down_ms + p->vote_hold_ms + 2 * interval + call_delay + S_STEP +
           (p->mode == SG_MODE_APPROVE ? p->approval_timeout_ms : 0);
}

/* Random faults in [from, to); undo actions later than `clip` (when >= 0)
 * are dropped: a heal at `clip` does them all. */
static void s_chaos(s_sched_t *sc, s_rng_t *r, int64_t from, int64_t to, int64_t clip,
                    bool *killed)
{
    const sg_policy_cfg_t *p = &sc->cfg.policy;
    int n_sites = (int)sc->cfg.n_sites, n_obs = (int)sc->cfg.n_observers;
    int64_t around = 2 * p->hold_down_ms + p->vote_hold_ms; /* durations near a decision */
    int64_t n = (to - from) / 1000 * (int64_t)s_range(r, 3, 8) / 10 + 1;
    for (int64_t i = 0; i < n; i++) {
        int64_t at = s_ms(r, from, to - S_STEP), end = -1;
        s_action_t a = {.at = at};
        s_action_t undo = {0};
        int w = (int)s_range(r, 0, 99);
        if (w < 12) { /* a site dies for a while, or for good */
            int s = s_mortal_site(r, sc);
            if (s < 0 || killed[s])
                continue;
            if (s_chance(r, 0.12)) {
                a.kind = A_SITE_KILL;
                a.a = s;
                killed[s] = true;
            } else {
                a.kind = A_SITE_DOWN;
                a.a = s;
                undo = (s_action_t){.kind = A_SITE_UP, .a = s};
                end = at + s_ms(r, 1000, around);
            }
        } else if (w < 50) { /* a partition (w < 24: 12 %) or a blip (26 %) */
            a.kind = A_LINK;
            a.a = (int)s_range(r, 0, n_sites - 1);
            if (sc->siteguard_site >= 0 && s_chance(r, 0.35))
                a.b = a.a == sc->siteguard_site ? s_other_site(r, n_sites, a.a) : sc->siteguard_site;
            else
                a.b = s_other_site(r, n_sites, a.a);
            if (s_chance(r, 0.5)) { /* one-way: either direction */
                a.v = 0;
                if (s_chance(r, 0.5)) {
                    int t = a.a;
                    a.a = a.b;
                    a.b = t;
                }
            } else {
                a.v = 1;
            }
            a.on = false;
            undo = a;
            undo.on = true;
            end = at + (w < 24 ? s_ms(r, 1000, around) : s_ms(r, 100, 1000));
        } else if (w < 60) { /* an observer crashes and restarts with a new clock */
            a.kind = A_OBS_DOWN;
            a.a = (int)s_range(r, 0, n_obs - 1);
            a.v = s_chance(r, 0.3) ? 0 : s_range(r, -S_MAX_SKEW, S_MAX_SKEW);
            undo = (s_action_t){.kind = A_OBS_UP, .a = a.a};
            end = at + s_ms(r, 500, around);
        } else if (w < 67) {
            a.kind = A_FLAP;
            a.a = (int)s_range(r, 0, n_obs - 1);
            a.v = s_ms(r, 200, 5000);
            undo = (s_action_t){.kind = A_FLAP, .a = a.a, .v = 0};
            end = at + s_ms(r, 2000, 2 * around);
        } else if (w < 75) {
            a.kind = A_ISOLATE;
            a.a = (int)s_range(r, 0, n_obs - 1);
            a.on = true;
            undo = a;
            undo.on = false;
            end = at + s_ms(r, 1000, around);
        } else if (w < 83) {
            a.kind = A_DELAY;
            a.a = (int)s_range(r, 0, n_obs - 1);
            a.v = s_ms(r, 0, S_MAX_DELAY);
        } else if (w < 89) {
            a.kind = A_LOSS;
            a.p = s_chance(r, 0.3) ? 0 : s_unit(r) * 0.2;
        } else if (w < 92) {
            a.kind = A_BUFFER;
            a.on = s_chance(r, 0.5);
        } else {
            a.kind = A_RESTART;
        }
        s_add(sc, a);
        sc->n_kind[a.kind]++;
        sc->n_sym += a.kind == A_LINK && a.v;
        sc->n_blips += a.kind == A_LINK && w >= 24;
        if (end >= 0 && (clip < 0 || end < clip) && end < sc->end) {
            undo.at = end;
            s_add(sc, undo);
        }
    }
}

/* Everything healthy at `at` (sites killed for good stay dead). */
static void s_heal(s_sched_t *sc, s_rng_t *r, int64_t at, const bool *killed)
{
    int n_sites = (int)sc->cfg.n_sites;
    for (int s = 0; s < n_sites; s++)
        if (!killed[s])
            s_add(sc, (s_action_t){.at = at, .kind = A_SITE_UP, .a = s});
    for (int a = 0; a < n_sites; a++)
        for (int b = a + 1; b < n_sites; b++)
            s_add(sc, (s_action_t){.at = at, .kind = A_LINK, .a = a, .b = b, .on = true, .v = 1});
    for (int o = 0; o < (int)sc->cfg.n_observers; o++) {
        s_add(sc, (s_action_t){.at = at, .kind = A_OBS_UP, .a = o});
        s_add(sc, (s_action_t){.at = at, .kind = A_FLAP, .a = o, .v = 0});
        s_add(sc, (s_action_t){.at = at, .kind = A_ISOLATE, .a = o, .on = false});
        int64_t cap = sc->interval < S_MAX_DELAY ? sc->interval : S_MAX_DELAY;
        s_add(sc, (s_action_t){.at = at, .kind = A_DELAY, .a = o, .v = s_ms(r, 0, cap)});
    }
    s_add(sc, (s_action_t){.at = at, .kind = A_LOSS, .p = 0});
}

static void s_build_schedule(s_sched_t *sc, uint64_t seed, int mutant)
{
    s_rng_t r = {seed};
    free(sc->acts);
    memset(sc, 0, sizeof *sc);
    bool episode = s_chance(&r, 0.55);
    s_build_topology(sc, &r);
    s_build_policy(sc, &r, episode);
    int n_obs = (int)sc->cfg.n_observers;
    for (int o = 0; o < n_obs; o++) {
        sc->skew[o] = s_chance(&r, 0.3) ? 0 : s_range(&r, -S_MAX_SKEW, S_MAX_SKEW);
        sc->delay[o] = s_chance(&r, 0.5) ? s_ms(&r, 0, 300) : s_ms(&r, 0, S_MAX_DELAY);
    }
    sc->loss = s_chance(&r, 0.5) ? 0 : s_unit(&r) * 0.2;
    sc->buffer = s_chance(&r, 0.5);
    bool killed[S_MAX_SITES] = {false};
    sc->planned_death = -1;
    sc->planned_site = -1;
    if (episode) {
        /* chaos, heal, settle, one data site dies in a healthy world */
        int64_t chaos = s_ms(&r, 20000, 60000);
        int64_t settle = s_settle(sc);
        int64_t death = chaos + settle + s_ms(&r, 0, 2000);
        int p = -1;
        for (int tries = 0; tries < 8 && p < 0; tries++) {
            int s = (int)s_range(&r, 0, sc->n_data - 1);
            if (s != sc->siteguard_site)
                p = s;
        }
        sc->end = death + s_deadline(&sc->cfg, sc->interval, sc->call_delay) + s_ms(&r, 0, 3000);
        sc->nemesis_until = chaos - s_deadline(&sc->cfg, sc->interval, sc->call_delay);
        s_chaos(sc, &r, 0, chaos, chaos, killed);
        if (p >= 0 && !killed[p]) {
            s_heal(sc, &r, chaos, killed);
            s_add(sc, (s_action_t){.at = death, .kind = A_SITE_DOWN, .a = p});
            sc->planned_death = death;
            sc->planned_site = p;
        }
    } else {
        sc->end = s_ms(&r, 60000, 180000);
        sc->nemesis_until = sc->end;
        s_chaos(sc, &r, 0, sc->end, -1, killed);
    }
    sc->nemesis_p = s_chance(&r, 0.3) ? 0 : s_unit(&r) * 0.6;
    qsort(sc->acts, sc->n_acts, sizeof *sc->acts, s_act_cmp);
    sc->engine_cfg = sc->cfg;
    sg_policy_cfg_t *ep = &sc->engine_cfg.policy;
    if (mutant == 1) {
        ep->vote_hold_ms = 0;
        ep->quorum = 1;
        ep->require_witness = false;
    } else if (mutant == 2) {
        ep->hold_down_ms = ep->suspect_after_ms + S_STEP;
    }
}

/* ---- the ground truth: what the checker injected, versioned ---------------------- */

typedef struct {
    int64_t from; /* in force for steps t with from < t (until the next version) */
    bool site_up[S_MAX_SITES], killed[S_MAX_SITES];
    bool link[S_MAX_SITES][S_MAX_SITES]; /* [from][to] */
    bool obs_up[S_MAX_OBS], iso[S_MAX_OBS];
    int64_t flap[S_MAX_OBS], flap_since[S_MAX_OBS], delay[S_MAX_OBS], skew[S_MAX_OBS];
    double loss;
    bool buffer;
    bool restart; /* siteguard restarted at `from` */
} s_truth_t;

static bool m_running(const sg_config_t *cfg, const s_truth_t *v, int o, int64_t t)
{
    if (!v->obs_up[o] || !v->site_up[cfg->observers[o].site])
        return false;
    return v->flap[o] <= 0 || ((t - v->flap_since[o]) / v->flap[o]) % 2 == 0;
}

static bool m_link(const s_truth_t *v, int from, int to) { return from == to || v->link[from][to]; }

static bool m_sees(const sg_config_t *cfg, const s_truth_t *v, int o, int site, int64_t t)
{
    return m_running(cfg, v, o, t) && !v->iso[o] && v->site_up[site] &&
           m_link(v, cfg->observers[o].site, site);
}

static int64_t s_floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* The world sends observer o's round at the step t whose (t - step, t]
 * holds phase + k * interval (phases spread evenly over the interval). */
static bool m_due(const s_sched_t *sc, int o, int64_t t)
{
    int64_t n = (int64_t)sc->cfg.n_observers;
    int64_t phase = sc->interval * o / n;
    return s_floor_div(t - phase, sc->interval) > s_floor_div(t - S_STEP - phase, sc->interval);
}

/* ---- the checker ------------------------------------------------------------------- */

typedef struct {
    uint64_t schedules, events, lost, inconsistent, world_lies;
    uint64_t decisions_lost, failover_decisions, calls, calls_checked, calls_site_up, cancelled,
        restarts;
    uint64_t clean_losses, clean_planned, live_colls;
    uint64_t skip_quorum, skip_witness, skip_data, skip_budget, skip_colls;
    uint64_t faults[A_RESTART + 1], sym_links, blips, nemesis;
    uint64_t v_s1, v_s2, v_s3, v_live, edge_s1, edge_s2;
    int64_t live_worst, live_total; /* ms from death to call, over checked collections */
    int64_t live_margin;            /* smallest deadline - (call - death) */
    uint64_t virtual_ms;
} s_stats_t;

typedef struct {
    const s_sched_t *sc;
    uint64_t k, seed;
    bool verbose;
    sg_world_t *w;
    sg_engine_t *e;
    s_truth_t *ver;
    size_t n_ver, cap_ver;
    /* newest generation time of delivered evidence: up reports about a site
     * from outside it, and events from its own observers */
    int64_t up_gen[S_MAX_SITES], up_del[S_MAX_SITES];
    int up_obs[S_MAX_SITES];
    int64_t alive_gen[S_MAX_SITES], alive_del[S_MAX_SITES];
    int alive_obs[S_MAX_SITES];
    int64_t called_at[S_MAX_COLLS], done_at[S_MAX_COLLS];
    uint64_t violations;
    s_stats_t *st;
    uint64_t *printed;
    /* the nemesis: actions it queued in reaction to decisions */
    s_rng_t nem_rng;
    s_action_t nem[64];
    size_t n_nem;
    int64_t nem_busy[S_MAX_SITES]; /* a return of this site is queued until then */
} s_check_t;

static s_truth_t *s_truth_now(s_check_t *ck) { return &ck->ver[ck->n_ver - 1]; }

/* The version in force at step t. */
static const s_truth_t *s_truth_at(const s_check_t *ck, int64_t t)
{
    size_t lo = 0, hi = ck->n_ver; /* ver[0].from is below every step */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (ck->ver[mid].from < t)
            lo = mid;
        else
            hi = mid;
    }
    return &ck->ver[lo];
}

static void s_push_version(s_check_t *ck, int64_t from)
{
    if (ck->n_ver == ck->cap_ver) {
        size_t cap = ck->cap_ver ? ck->cap_ver * 2 : 64;
        s_truth_t *n = realloc(ck->ver, cap * sizeof *n);
        if (!n) {
            fprintf(stderr, "sg-faultcheck: out of memory\n");
            exit(2);
        }
        ck->ver = n;
        ck->cap_ver = cap;
    }
    ck->ver[ck->n_ver] = ck->ver[ck->n_ver - 1];
    ck->ver[ck->n_ver].from = from;
    ck->ver[ck->n_ver].restart = false;
    ck->n_ver++;
}

static const char *s_site(const s_check_t *ck, int s) { return ck->sc->cfg.sites[s].name; }
static const char *s_obs(const s_check_t *ck, int o) { return ck->sc->cfg.observers[o].id; }

static void s_violation(s_check_t *ck, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_violation(s_check_t *ck, const char *fmt, ...)
{
    ck->violations++;
    if (*ck->printed >= S_PRINT_MAX && !ck->verbose)
        return;
    (*ck->printed)++;
    va_list ap;
    va_start(ap, fmt);
    printf("VIOLATION schedule %" PRIu64 " (seed %" PRIu64 "): ", ck->k, ck->seed);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static void s_on_event(void *user, const sg_event_t *ev, sg_now_t at)
{
    s_check_t *ck = user;
    const sg_config_t *cfg = &ck->sc->cfg;
    int o = ev->observer, site = cfg->observers[o].site;
    int64_t d = at.mono;
    int64_t t = ev->sent_at_ms - S_WALL0 - s_truth_at(ck, d)->skew[o];
    const s_truth_t *g = s_truth_at(ck, t);
    ck->st->events++;
    if (t > d || t <= 0 || t % S_STEP != 0 || !m_due(ck->sc, o, t) || !m_running(cfg, g, o, t)) {
        ck->st->inconsistent++;
        s_violation(ck, "checker/world inconsistency: event of %s delivered at %" PRId64
                        " has generation time %" PRId64 " (not a step at which it ran)",
                    s_obs(ck, o), d, t);
        return;
    }
    if (ev->kind == SG_EV_REACHABILITY) {
        int p = ev->u.reach.target_site;
        if (m_sees(cfg, g, o, p, t) != ev->u.reach.up) {
            ck->st->world_lies++;
            s_violation(ck, "world report disagrees with the ground truth: %s said %s is %s at %" PRId64,
                        s_obs(ck, o), s_site(ck, p), ev->u.reach.up ? "up" : "down", t);
        }
        if (ev->u.reach.up && p != site && t >= ck->up_gen[p]) {
            ck->up_gen[p] = t;
            ck->up_del[p] = d;
            ck->up_obs[p] = o;
        }
    }
    if (t >= ck->alive_gen[site]) {
        ck->alive_gen[site] = t;
        ck->alive_del[site] = d;
        ck->alive_obs[site] = o;
    }
}

static void s_nem_add(s_check_t *ck, s_action_t a)
{
    if (ck->n_nem < sizeof ck->nem / sizeof ck->nem[0])
        ck->nem[ck->n_nem++] = a;
}

/* The nemesis: on a failover decision, now and then, the lost site comes
 * back (site up, and all its links, or only those from it: siteguard hears
 * it, or only those to it: the others see it) at a random step between the
 * decision and its call, so its evidence lands right in the proof's window
 * (a flushed backlog arrives in one step). Deterministic: the engine is. */
static void s_nemesis(s_check_t *ck, const sg_decision_t *d)
{
    const s_sched_t *sc = ck->sc;
    int p = d->site;
    int64_t now = d->at.mono;
    if (p < 0 || now >= sc->nemesis_until || ck->nem_busy[p] >= now ||
        !s_chance(&ck->nem_rng, sc->nemesis_p))
        return;
    int64_t at = now + s_ms(&ck->nem_rng, 0, sc->call_delay);
    int how = (int)s_range(&ck->nem_rng, 0, 2); /* 0 all links, 1 from it, 2 to it */
    ck->nem_busy[p] = at;
    ck->st->nemesis++;
    s_nem_add(ck, (s_action_t){.at = at, .kind = A_SITE_UP, .a = p});
    for (int s = 0; s < (int)sc->cfg.n_sites; s++) {
        if (s == p)
            continue;
        if (how == 0)
            s_nem_add(ck, (s_action_t){.at = at, .kind = A_LINK, .a = p, .b = s, .on = true, .v = 1});
        else
            s_nem_add(ck, (s_action_t){.at = at, .kind = A_LINK, .a = how == 1 ? p : s,
                                       .b = how == 1 ? s : p, .on = true});
    }
}

static void s_on_decision(void *user, const sg_decision_t *d)
{
    s_check_t *ck = user;
    if (d->kind == SG_DECISION_SITE_LOST)
        ck->st->decisions_lost++;
    if (d->kind == SG_DECISION_FAILOVER) {
        ck->st->failover_decisions++;
        s_nemesis(ck, d);
    }
    if (ck->verbose && d->kind != SG_DECISION_NOTICE && d->kind != SG_DECISION_BLOCKED)
        printf("  %8.1f  decision %s: %s\n", d->at.mono / 1000.0, sg_decision_kind_name(d->kind),
               d->reason ? d->reason : "");
}

static void s_on_run(void *user, sg_world_run_event_t what, int c, uint64_t run_id, sg_now_t at,
                     const char *why)
{
    s_check_t *ck = user;
    const sg_config_t *cfg = &ck->sc->cfg;
    int64_t T = at.mono;
    if (ck->verbose)
        printf("  %8.1f  run %" PRIu64 " %s %s%s%s\n", T / 1000.0, run_id,
               cfg->collections[c].name,
               what == SG_WORLD_RUN_CALLED ? "CALLED"
               : what == SG_WORLD_RUN_DONE ? "DONE"
                                           : "CANCELLED",
               why ? ": " : "", why ? why : "");
    if (what == SG_WORLD_RUN_CANCELLED) {
        ck->st->cancelled++;
        return;
    }
    if (what == SG_WORLD_RUN_DONE) {
        ck->done_at[c] = T;
        return;
    }
    int p = cfg->collections[c].site;
    int64_t vh = cfg->policy.vote_hold_ms, hd = cfg->policy.hold_down_ms;
    ck->st->calls++;
    ck->st->calls_checked++;
    if (s_truth_now(ck)->site_up[p])
        ck->st->calls_site_up++;
    if (ck->called_at[c] >= 0) {
        ck->st->v_s3++;
        s_violation(ck, "S3: %s called again at %" PRId64 " (first at %" PRId64 ")",
                    cfg->collections[c].name, T, ck->called_at[c]);
    } else {
        ck->called_at[c] = T;
    }
    if (ck->up_gen[p] > T - vh) {
        ck->st->v_s1++;
        s_violation(ck, "S1: %s (site %s) called at %" PRId64 " but %s (site %s) reported %s up, "
                        "generated at %" PRId64 " (%" PRId64 " ms before, vote_hold %" PRId64
                        "), delivered at %" PRId64,
                    cfg->collections[c].name, s_site(ck, p), T, s_obs(ck, ck->up_obs[p]),
                    s_site(ck, cfg->observers[ck->up_obs[p]].site), s_site(ck, p), ck->up_gen[p],
                    T - ck->up_gen[p], vh, ck->up_del[p]);
    } else if (ck->up_gen[p] == T - vh) {
        if (ck->verbose || ck->st->edge_s1 + ck->st->edge_s2 < S_EDGE_PRINT)
            printf("edge schedule %" PRIu64 ": %s (site %s) called at %" PRId64 "; the newest up "
                   "report about it, from %s, was generated exactly vote_hold (%" PRId64
                   " ms) before (delivered at %" PRId64 ")\n",
                   ck->k, cfg->collections[c].name, s_site(ck, p), T, s_obs(ck, ck->up_obs[p]), vh,
                   ck->up_del[p]);
        ck->st->edge_s1++;
    }
    if (ck->alive_gen[p] > T - hd) {
        ck->st->v_s2++;
        s_violation(ck, "S2: %s (site %s) called at %" PRId64 " but %s of that site was heard: "
                        "event generated at %" PRId64 " (%" PRId64 " ms before, hold_down %" PRId64
                        "), delivered at %" PRId64,
                    cfg->collections[c].name, s_site(ck, p), T, s_obs(ck, ck->alive_obs[p]),
                    ck->alive_gen[p], T - ck->alive_gen[p], hd, ck->alive_del[p]);
    } else if (ck->alive_gen[p] == T - hd) {
        if (ck->verbose || ck->st->edge_s1 + ck->st->edge_s2 < S_EDGE_PRINT)
            printf("edge schedule %" PRIu64 ": %s (site %s) called at %" PRId64 "; the last event "
                   "of its site, from %s, was generated exactly hold_down (%" PRId64
                   " ms) before (delivered at %" PRId64 ")\n",
                   ck->k, cfg->collections[c].name, s_site(ck, p), T, s_obs(ck, ck->alive_obs[p]),
                   hd, ck->alive_del[p]);
        ck->st->edge_s2++;
    }
}

/* ---- running a schedule ------------------------------------------------------------ */

static void s_apply(s_check_t *ck, const s_action_t *a)
{
    const s_sched_t *sc = ck->sc;
    s_truth_t *v = s_truth_now(ck);
    sg_world_t *w = ck->w;
    switch (a->kind) {
    case A_SITE_KILL:
        v->killed[a->a] = true;
        /* fall through */
    case A_SITE_DOWN:
        v->site_up[a->a] = false;
        sg_world_site_up(w, a->a, false);
        break;
    case A_SITE_UP:
        if (v->killed[a->a])
            break;
        v->site_up[a->a] = true;
        sg_world_site_up(w, a->a, true);
        break;
    case A_LINK:
        v->link[a->a][a->b] = a->on;
        if (a->v)
            v->link[a->b][a->a] = a->on;
        if (a->v)
            sg_world_link_up(w, a->a, a->b, a->on);
        else
            sg_world_link_dir(w, a->a, a->b, a->on);
        break;
    case A_OBS_DOWN:
        v->obs_up[a->a] = false;
        v->skew[a->a] = a->v; /* its queue is dropped: what is delivered from now on is new */
        sg_world_observer_up(w, a->a, false);
        sg_world_skew(w, a->a, a->v);
        break;
    case A_OBS_UP:
        v->obs_up[a->a] = true;
        sg_world_observer_up(w, a->a, true);
        break;
    case A_FLAP:
        v->flap[a->a] = a->v;
        v->flap_since[a->a] = a->at;
        sg_world_flap(w, a->a, a->v);
        break;
    case A_ISOLATE:
        v->iso[a->a] = a->on;
        sg_world_isolate(w, a->a, a->on);
        break;
    case A_DELAY:
        v->delay[a->a] = a->v;
        sg_world_delay(w, a->a, a->v);
        break;
    case A_LOSS:
        v->loss = a->p;
        sg_world_set_loss(w, a->p);
        break;
    case A_BUFFER:
        v->buffer = a->on;
        sg_world_set_buffer(w, a->on);
        break;
    case A_RESTART:
        v->restart = true;
        ck->st->restarts++;
        if (sg_world_restart(w, &ck->e) != SG_OK) {
            fprintf(stderr, "sg-faultcheck: restart failed (out of memory)\n");
            exit(2);
        }
        break;
    }
    (void)sc;
}

static const char *s_act_name(s_act_kind_t k)
{
    static const char *names[] = {"?", "site_down", "site_up", "site_kill", "link", "observer_down",
                                  "observer_up", "flap", "isolate", "delay", "loss", "buffer",
                                  "restart"};
    return names[k];
}

static void s_print_action(const s_check_t *ck, const s_action_t *a)
{
    printf("  %8.1f  fault %s", a->at / 1000.0, s_act_name(a->kind));
    switch (a->kind) {
    case A_SITE_DOWN:
    case A_SITE_UP:
    case A_SITE_KILL: printf(" %s", s_site(ck, a->a)); break;
    case A_LINK:
        printf(" %s %s %s %s", s_site(ck, a->a), a->v ? "<->" : "->", s_site(ck, a->b),
               a->on ? "up" : "down");
        break;
    case A_OBS_DOWN: printf(" %s (comes back with skew %" PRId64 " ms)", s_obs(ck, a->a), a->v); break;
    case A_OBS_UP: printf(" %s", s_obs(ck, a->a)); break;
    case A_FLAP:
    case A_DELAY: printf(" %s %" PRId64 " ms", s_obs(ck, a->a), a->v); break;
    case A_ISOLATE: printf(" %s %s", s_obs(ck, a->a), a->on ? "on" : "off"); break;
    case A_LOSS: printf(" %.3f", a->p); break;
    case A_BUFFER: printf(" %s", a->on ? "on" : "off"); break;
    case A_RESTART: break;
    }
    printf("\n");
}

static void s_print_schedule(const s_check_t *ck)
{
    const s_sched_t *sc = ck->sc;
    const sg_config_t *cfg = &sc->cfg;
    const sg_policy_cfg_t *p = &cfg->policy;
    printf("schedule %" PRIu64 " (seed %" PRIu64 "): %zu sites, siteguard at %s, interval %" PRId64
           " ms, step %d ms, %.0f s\n",
           ck->k, ck->seed, cfg->n_sites,
           sc->siteguard_site < 0 ? "(everywhere)" : s_site(ck, sc->siteguard_site), sc->interval,
           S_STEP, sc->end / 1000.0);
    printf("  policy: suspect_after %" PRId64 " hold_down %" PRId64 " vote_hold %" PRId64
           " report_max_age %" PRId64 " recover_after %" PRId64 " startup_grace %" PRId64
           " quorum %d%s mode %s budget %d/%d cooldown %" PRId64 "; runs: call_delay %" PRId64
           " job %" PRId64 "\n",
           p->suspect_after_ms, p->hold_down_ms, p->vote_hold_ms, p->report_max_age_ms,
           p->recover_after_ms, p->startup_grace_ms, p->quorum,
           p->require_witness ? " (witness required)" : "",
           p->mode == SG_MODE_AUTO ? "auto" : "approve", p->budget.max, p->site_budget.max,
           p->cooldown_ms, sc->call_delay, sc->job);
    const sg_policy_cfg_t *ep = &sc->engine_cfg.policy;
    if (memcmp(ep, p, sizeof *p) != 0)
        printf("  MUTANT engine policy: hold_down %" PRId64 " vote_hold %" PRId64 " quorum %d%s\n",
               ep->hold_down_ms, ep->vote_hold_ms, ep->quorum,
               ep->require_witness ? " (witness required)" : "");
    for (size_t o = 0; o < cfg->n_observers; o++)
        printf("  observer %s at %s: skew %" PRId64 " ms, delay %" PRId64 " ms\n", s_obs(ck, (int)o),
               s_site(ck, cfg->observers[o].site), sc->skew[o], sc->delay[o]);
    for (size_t c = 0; c < cfg->n_collections; c++) {
        const sg_collection_cfg_t *cc = &cfg->collections[c];
        printf("  collection %s: %s -> %s, group %d%s%s, rpo_limit %" PRId64
               " ms, replication health %d lag %" PRIu64 " s\n",
               cc->name, s_site(ck, cc->site), s_site(ck, cc->replica_site), cc->group,
               cc->n_depends_on ? ", depends on " : "",
               cc->n_depends_on ? cfg->collections[cc->depends_on[0]].name : "", cc->rpo_limit_ms,
               sc->repl_health[c], sc->repl_lag[c]);
    }
    printf("  loss %.3f, buffer %s%s\n", sc->loss, sc->buffer ? "on" : "off",
           sc->planned_death >= 0 ? ", clean loss episode planned" : "");
}

/* Whether the world is healthy in version v for a loss of site p (p_up: is
 * p meant to be up in it). */
static bool s_clean(const s_check_t *ck, const s_truth_t *v, int p, bool p_up)
{
    const sg_config_t *cfg = &ck->sc->cfg;
    int n = (int)cfg->n_sites;
    if (v->loss != 0 || v->site_up[p] != p_up)
        return false;
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++)
            if (a != b && !v->link[a][b])
                return false;
    for (size_t o = 0; o < cfg->n_observers; o++) {
        if (!v->site_up[cfg->observers[o].site])
            continue;
        if (!v->obs_up[o] || v->iso[o] || v->flap[o] > 0 || v->delay[o] > ck->sc->interval)
            return false;
    }
    return true;
}

/* Liveness: every clean loss of a data site (see the top of the file). */
static void s_check_liveness(s_check_t *ck)
{
    const s_sched_t *sc = ck->sc;
    const sg_config_t *cfg = &sc->cfg;
    const sg_policy_cfg_t *pol = &cfg->policy;
    int64_t S = s_settle(sc), B = s_deadline(cfg, sc->interval, sc->call_delay);
    for (size_t i = 1; i < ck->n_ver; i++) {
        const s_truth_t *v = &ck->ver[i], *prev = &ck->ver[i - 1];
        int64_t D = v->from;
        for (int p = 0; p < sc->n_data; p++) {
            if (!prev->site_up[p] || v->site_up[p] || p == sc->siteguard_site)
                continue;
            if (D - S < 0 || D + B > sc->end)
                continue;
            bool clean = true;
            for (size_t j = 0; clean && j < ck->n_ver; j++) {
                const s_truth_t *x = &ck->ver[j];
                int64_t next = j + 1 < ck->n_ver ? ck->ver[j + 1].from : INT64_MAX;
                if (x->restart && x->from >= D - S && x->from <= D + B)
                    clean = false;
                if (next <= D - S || x->from >= D + B) /* not in force in (D - S, D + B] */
                    continue;
                clean = clean && s_clean(ck, x, p, x->from < D);
                for (int s = 0; clean && s < (int)cfg->n_sites; s++)
                    if (s != p && x->site_up[s] != v->site_up[s])
                        clean = false;
            }
            if (!clean)
                continue;
            /* a quorum of healthy voters, another data site */
            int voters = 0;
            bool witness = false, data = false;
            for (int s = 0; s < (int)cfg->n_sites; s++) {
                if (s == p || !v->site_up[s])
                    continue;
                voters++;
                witness |= cfg->sites[s].witness;
                data |= !cfg->sites[s].witness;
            }
            uint64_t *skip = voters < pol->quorum                    ? &ck->st->skip_quorum
                             : pol->require_witness && !witness      ? &ck->st->skip_witness
                             : !data                                 ? &ck->st->skip_data
                             : pol->budget.max || pol->site_budget.max ? &ck->st->skip_budget
                                                                     : NULL;
            if (skip) {
                (*skip)++;
                continue;
            }
            /* the lowest plan group of what is still to fail over */
            int g0 = -1;
            bool in_flight = false;
            for (size_t c = 0; c < cfg->n_collections; c++) {
                const sg_collection_cfg_t *cc = &cfg->collections[c];
                if (cc->site != p)
                    continue;
                if (ck->called_at[c] >= 0 && ck->called_at[c] < D) {
                    in_flight |= ck->done_at[c] < 0 || ck->done_at[c] >= D;
                    continue;
                }
                if (g0 < 0 || cc->group < g0)
                    g0 = cc->group;
            }
            if (g0 < 0 || in_flight) {
                ck->st->skip_colls++;
                continue;
            }
            int eligible = 0;
            for (size_t c = 0; c < cfg->n_collections; c++) {
                const sg_collection_cfg_t *cc = &cfg->collections[c];
                if (cc->site != p || cc->group != g0 || cc->rpo_limit_ms > 0 ||
                    sc->repl_health[c] == 3 || !v->site_up[cc->replica_site] ||
                    (ck->called_at[c] >= 0 && ck->called_at[c] < D))
                    continue;
                bool deps_done = true;
                for (size_t k = 0; k < cc->n_depends_on; k++) {
                    int dep = cc->depends_on[k];
                    deps_done &= ck->done_at[dep] >= 0 && ck->done_at[dep] < D;
                }
                if (!deps_done)
                    continue;
                eligible++;
                ck->st->live_colls++;
                int64_t at = ck->called_at[c];
                if (at < D || at > D + B) {
                    ck->st->v_live++;
                    s_violation(ck, "LIVENESS: site %s died at %" PRId64 " in a healthy world, but %s "
                                    "(group %d) was %s (deadline %" PRId64 " ms after the death)",
                                cfg->sites[p].name, D, cc->name, cc->group,
                                at < 0 ? "never called" : "called late", B);
                    if (at >= 0)
                        printf("  called at %" PRId64 " (%" PRId64 " ms after the death)\n", at,
                               at - D);
                } else {
                    int64_t took = at - D;
                    ck->st->live_total += took;
                    if (took > ck->st->live_worst)
                        ck->st->live_worst = took;
                    if (B - took < ck->st->live_margin)
                        ck->st->live_margin = B - took;
                }
            }
            if (eligible) {
                ck->st->clean_losses++;
                ck->st->clean_planned += D == sc->planned_death && p == sc->planned_site;
            } else {
                ck->st->skip_colls++;
            }
        }
    }
}

static uint64_t s_run_schedule(const s_sched_t *sc, uint64_t k, uint64_t seed, bool verbose,
                               s_stats_t *st, uint64_t *printed)
{
    s_check_t ck;
    memset(&ck, 0, sizeof ck);
    ck.sc = sc;
    ck.k = k;
    ck.seed = seed;
    ck.verbose = verbose;
    ck.st = st;
    ck.printed = printed;
    ck.nem_rng.s = s_mix(seed ^ 0x6e656d65ull);
    for (int s = 0; s < S_MAX_SITES; s++)
        ck.nem_busy[s] = -1;
    for (int s = 0; s < S_MAX_SITES; s++) {
        ck.up_gen[s] = ck.alive_gen[s] = INT64_MIN / 2;
        ck.up_obs[s] = ck.alive_obs[s] = 0;
    }
    for (int c = 0; c < S_MAX_COLLS; c++)
        ck.called_at[c] = ck.done_at[c] = -1;
    const sg_config_t *cfg = &sc->cfg;
    ck.w = sg_world_new(&sc->engine_cfg, S_WALL0, s_mix(seed ^ 0x5eedull));
    ck.e = ck.w ? sg_engine_new(&sc->engine_cfg, 0, sg_world_time(ck.w)) : NULL;
    if (!ck.w || !ck.e) {
        fprintf(stderr, "sg-faultcheck: out of memory\n");
        exit(2);
    }
    sg_world_set_interval(ck.w, sc->interval);
    sg_world_set_step(ck.w, S_STEP);
    sg_world_set_loss(ck.w, sc->loss);
    sg_world_set_buffer(ck.w, sc->buffer);
    sg_world_set_siteguard_site(ck.w, sc->siteguard_site);
    sg_world_set_runs(ck.w, sc->call_delay, sc->job);
    sg_world_on_runs(ck.w, s_on_run, &ck);
    sg_world_on_events(ck.w, s_on_event, &ck);
    ck.n_ver = 0;
    ck.cap_ver = 0;
    ck.ver = NULL;
    /* version 0: the start */
    ck.ver = calloc(64, sizeof *ck.ver);
    if (!ck.ver) {
        fprintf(stderr, "sg-faultcheck: out of memory\n");
        exit(2);
    }
    ck.cap_ver = 64;
    ck.n_ver = 1;
    s_truth_t *v0 = &ck.ver[0];
    v0->from = INT64_MIN / 2;
    for (size_t s = 0; s < cfg->n_sites; s++) {
        v0->site_up[s] = true;
        for (size_t b = 0; b < cfg->n_sites; b++)
            v0->link[s][b] = true;
    }
    for (size_t o = 0; o < cfg->n_observers; o++) {
        v0->obs_up[o] = true;
        v0->skew[o] = sc->skew[o];
        v0->delay[o] = sc->delay[o];
        sg_world_skew(ck.w, (int)o, sc->skew[o]);
        sg_world_delay(ck.w, (int)o, sc->delay[o]);
    }
    v0->loss = sc->loss;
    v0->buffer = sc->buffer;
    for (size_t c = 0; c < cfg->n_collections; c++)
        sg_world_replication(ck.w, (int)c, sc->repl_health[c], sc->repl_lag[c]);
    if (verbose)
        s_print_schedule(&ck);
    /* step by step: the nemesis may queue actions for any step */
    size_t i = 0;
    for (int64_t t = 0; t <= sc->end; t += S_STEP) {
        if (t > 0 && sg_world_run(ck.w, ck.e, t, s_on_decision, &ck) != SG_OK) {
            fprintf(stderr, "sg-faultcheck: the engine failed (out of memory)\n");
            exit(2);
        }
        bool due = i < sc->n_acts && sc->acts[i].at == t;
        for (size_t j = 0; !due && j < ck.n_nem; j++)
            due = ck.nem[j].at == t;
        if (!due)
            continue;
        s_push_version(&ck, t);
        for (; i < sc->n_acts && sc->acts[i].at == t; i++) {
            if (verbose)
                s_print_action(&ck, &sc->acts[i]);
            s_apply(&ck, &sc->acts[i]);
        }
        size_t keep = 0;
        for (size_t j = 0; j < ck.n_nem; j++) {
            if (ck.nem[j].at != t) {
                ck.nem[keep++] = ck.nem[j];
                continue;
            }
            if (verbose) {
                printf("  (nemesis)");
                s_print_action(&ck, &ck.nem[j]);
            }
            s_apply(&ck, &ck.nem[j]);
        }
        ck.n_nem = keep;
    }
    s_check_liveness(&ck);
    st->lost += sg_world_lost_events(ck.w);
    st->virtual_ms += (uint64_t)sc->end;
    for (int kind = 0; kind <= A_RESTART; kind++)
        st->faults[kind] += sc->n_kind[kind];
    st->sym_links += sc->n_sym;
    st->blips += sc->n_blips;
    st->schedules++;
    sg_engine_destroy(&ck.e);
    sg_world_destroy(&ck.w);
    free(ck.ver);
    return ck.violations;
}

/* ---- main ---------------------------------------------------------------------------- */

static int s_usage(void)
{
    fprintf(stderr, "usage: sg-faultcheck [--schedules N] [--seed S] [--from K] [--verbose] "
                    "[--mutant vote_hold0|hold_down_short]\n");
    return 2;
}

static bool s_parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (!s || !*s)
        return false;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    uint64_t n = 1000, from = 0, seed = 0;
    bool verbose = false, seeded = false;
    int mutant = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0)
            verbose = true;
        else if (strcmp(a, "--schedules") == 0 && i + 1 < argc) {
            if (!s_parse_u64(argv[++i], &n))
                return s_usage();
        } else if (strcmp(a, "--seed") == 0 && i + 1 < argc) {
            if (!s_parse_u64(argv[++i], &seed))
                return s_usage();
            seeded = true;
        } else if (strcmp(a, "--from") == 0 && i + 1 < argc) {
            if (!s_parse_u64(argv[++i], &from))
                return s_usage();
        } else if (strcmp(a, "--mutant") == 0 && i + 1 < argc) {
            const char *m = argv[++i];
            mutant = strcmp(m, "vote_hold0") == 0 ? 1 : strcmp(m, "hold_down_short") == 0 ? 2 : -1;
            if (mutant < 0)
                return s_usage();
        } else {
            return s_usage();
        }
    }
    const char *env = getenv("SG_FAULT_SEED");
    if (!seeded && env && *env) {
        if (!s_parse_u64(env, &seed)) {
            fprintf(stderr, "sg-faultcheck: bad SG_FAULT_SEED '%s'\n", env);
            return 2;
        }
        seeded = true;
    }
    if (!seeded) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = s_mix((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^
               (uint64_t)getpid();
        seed %= 1000000000000ull; /* short enough to type */
    }
    printf("sg-faultcheck: seed %" PRIu64 ", schedules %" PRIu64 "..%" PRIu64 "%s\n", seed, from,
           from + n - 1, mutant ? " (MUTANT engine policy)" : "");
    char from_arg[40] = "";
    if (from)
        snprintf(from_arg, sizeof from_arg, " --from %" PRIu64, from);
    printf("  repeat: SG_FAULT_SEED=%" PRIu64 " sg-faultcheck --schedules %" PRIu64 "%s%s\n", seed,
           n, from_arg, mutant ? " --mutant ..." : "");
    fflush(stdout);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    s_stats_t st;
    memset(&st, 0, sizeof st);
    st.live_margin = INT64_MAX;
    s_sched_t sc;
    memset(&sc, 0, sizeof sc);
    uint64_t printed = 0, failing = 0;
    for (uint64_t k = from; k < from + n; k++) {
        uint64_t sseed = s_schedule_seed(seed, k);
        s_build_schedule(&sc, sseed, mutant);
        uint64_t v = s_run_schedule(&sc, k, sseed, verbose, &st, &printed);
        if (v && failing++ < S_PRINT_MAX)
            printf("  replay: SG_FAULT_SEED=%" PRIu64 " sg-faultcheck --from %" PRIu64
                   " --schedules 1 --verbose\n",
                   seed, k);
    }
    free(sc.acts);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    uint64_t violations = st.v_s1 + st.v_s2 + st.v_s3 + st.v_live + st.inconsistent + st.world_lies;
    printf("sg-faultcheck: %" PRIu64 " schedules (%.1f virtual hours) in %.1f s, seed %" PRIu64 "\n",
           st.schedules, st.virtual_ms / 3600000.0, secs, seed);
    printf("  events delivered %" PRIu64 ", lost %" PRIu64 "; siteguard restarts %" PRIu64
           "; site losses declared %" PRIu64 "\n",
           st.events, st.lost, st.restarts, st.decisions_lost);
    printf("  failover decisions %" PRIu64 ", calls %" PRIu64 " (checked against S1-S3: %" PRIu64
           "; %" PRIu64 " while the site was in fact up), cancelled runs %" PRIu64 "\n",
           st.failover_decisions, st.calls, st.calls_checked, st.calls_site_up, st.cancelled);
    printf("  faults: site deaths %" PRIu64 " (+%" PRIu64 " for good), link cuts %" PRIu64
           " (%" PRIu64 " blips of 0.1-1 s, %" PRIu64 " symmetric), observer crashes %" PRIu64
           ", flapping %" PRIu64 ", isolations %" PRIu64 ", delay changes %" PRIu64
           ", loss changes %" PRIu64 ", buffer toggles %" PRIu64 ", siteguard restarts %" PRIu64
           "; nemesis returns of a site between decision and call %" PRIu64 "\n",
           st.faults[A_SITE_DOWN], st.faults[A_SITE_KILL], st.faults[A_LINK], st.blips,
           st.sym_links, st.faults[A_OBS_DOWN], st.faults[A_FLAP], st.faults[A_ISOLATE],
           st.faults[A_DELAY], st.faults[A_LOSS], st.faults[A_BUFFER], st.faults[A_RESTART],
           st.nemesis);
    printf("  clean losses checked for liveness %" PRIu64 " (%" PRIu64 " of them planned; %" PRIu64
           " collections); death to call mean %.1f s, worst %.1f s, smallest margin to the "
           "deadline %.1f s\n",
           st.clean_losses, st.clean_planned, st.live_colls,
           st.live_colls ? st.live_total / 1000.0 / (double)st.live_colls : 0.0,
           st.live_worst / 1000.0, st.live_margin < INT64_MAX ? st.live_margin / 1000.0 : 0.0);
    printf("  clean losses not testable: too few voters up %" PRIu64 ", witness required but down %" PRIu64
           ", no other data site %" PRIu64 ", budget limited %" PRIu64
           ", no eligible collection %" PRIu64 "\n",
           st.skip_quorum, st.skip_witness, st.skip_data, st.skip_budget, st.skip_colls);
    printf("  edge cases (evidence exactly vote_hold / hold_down old at a call): %" PRIu64 " / %" PRIu64
           "\n",
           st.edge_s1, st.edge_s2);
    printf("  violations %" PRIu64 ": S1 %" PRIu64 ", S2 %" PRIu64 ", S3 %" PRIu64 ", liveness %" PRIu64
           ", inconsistent events %" PRIu64 ", world reports against the truth %" PRIu64 "\n",
           violations, st.v_s1, st.v_s2, st.v_s3, st.v_live, st.inconsistent, st.world_lies);
    if (!violations && n >= 1000 && st.clean_losses < n / 20) {
        printf("sg-faultcheck: FAILED: only %" PRIu64 " clean losses to check liveness on\n",
               st.clean_losses);
        return 1;
    }
    if (violations) {
        printf("sg-faultcheck: FAILED in %" PRIu64 " schedule(s); repeat: SG_FAULT_SEED=%" PRIu64
               " sg-faultcheck --schedules %" PRIu64 "%s\n",
               failing, seed, n, from_arg);
        return 1;
    }
    printf("sg-faultcheck: OK\n");
    return 0;
}
