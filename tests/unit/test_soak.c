/* Soak by simulation: 10,000 site-hours of a two-site world with a witness,
 * 10% of all events lost at random, A's observer flapping throughout (20 s
 * on, 20 s off), and real site losses at random moments. The engine must
 * never declare a site lost, nor call a failover, while the site is up. A
 * loss of A (its voters B and W steady) must be declared within hold-down
 * plus one heartbeat interval; a loss of B within that plus A's off time:
 * B is declared lost only once siteguard has heard the other data site, A,
 * after B fell silent (engine.h: a silence everywhere at once is siteguard's
 * own), and A's observer may be in its 20 s off phase. Prints the figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy/engine.h"
#include "tools/world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SITE_HOURS 10000
#define INTERVAL_MS 5000
#define HOLD_DOWN_MS 30000
#define HOUR_MS (3600LL * 1000)
#define FLAP_MS 20000

enum { A, B, W, N_SITES };

typedef struct {
    sg_world_t *w;
    sg_engine_t *e;
    int64_t down_since[N_SITES]; /* -1: up */
    bool detected[N_SITES];
    int losses, detected_in_time, late, false_lost, false_failovers, failovers;
    int calls, false_calls, cancelled;
    int64_t worst_ms, total_ms;
} s_soak_t;

static void s_on_decision(void *user, const sg_decision_t *d)
{
    s_soak_t *s = user;
    if (d->site < 0)
        return; /* a notice about siteguard itself */
    bool site_up = sg_world_site_is_up(s->w, d->site);
    if (d->kind == SG_DECISION_SITE_LOST && s->down_since[d->site] >= 0 && !s->detected[d->site]) {
        int64_t took = d->at.mono - s->down_since[d->site];
        s->detected[d->site] = true;
        s->total_ms += took;
        s->worst_ms = took > s->worst_ms ? took : s->worst_ms;
        if (took <= HOLD_DOWN_MS + INTERVAL_MS + (d->site == B ? FLAP_MS : 0))
            s->detected_in_time++;
        else {
            s->late++;
            char *why = getenv("SOAK_DEBUG") ? sg_engine_explain_site(s->e, d->site, d->at) : NULL;
            if (why)
                printf("late: site %d took %lld ms at %lld: %s\n%s\n", d->site, (long long)took,
                       (long long)d->at.mono, d->reason, why);
            free(why);
        }
    } else if (d->kind == SG_DECISION_SITE_LOST && site_up) {
        s->false_lost++;
    }
    if (d->kind == SG_DECISION_FAILOVER) {
        s->failovers++;
        s->false_failovers += site_up;
    }
}

/* Every InitiateFailover the world makes (after its proof) on a site that is up is a
 * false failover. */
static void s_on_run(void *user, sg_world_run_event_t what, int collection, uint64_t run_id,
                     sg_now_t at, const char *why)
{
    s_soak_t *s = user;
    (void)run_id;
    (void)at;
    (void)why;
    if (what == SG_WORLD_RUN_CANCELLED)
        s->cancelled++;
    if (what != SG_WORLD_RUN_CALLED)
        return;
    s->calls++;
    s->false_calls += sg_world_site_is_up(s->w, collection == 0 ? A : B);
}

static uint64_t s_rng = 0x5eed5eed12345ull;

static double s_random(void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return (double)((s_rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static void test_soak_no_false_failover_and_every_loss_detected_in_time(void **state)
{
    (void)state;
    sg_site_cfg_t sites[N_SITES] = {{.name = "A"}, {.name = "B"}, {.name = "W", .witness = true}};
    sg_observer_cfg_t obs[] = {{.id = "a1", .site = A}, {.id = "b1", .site = B},
                               {.id = "w1", .site = W}};
    sg_collection_cfg_t colls[] = {{.name = "a-db", .site = A, .replica_site = B},
                                   {.name = "b-db", .site = B, .replica_site = A}};
    sg_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.sites = sites;
    cfg.n_sites = N_SITES;
    cfg.observers = obs;
    cfg.n_observers = 3;
    cfg.collections = colls;
    cfg.n_collections = 2;
    cfg.policy = (sg_policy_cfg_t){.suspect_after_ms = 3 * INTERVAL_MS,
                                   .hold_down_ms = HOLD_DOWN_MS,
                                   .recover_after_ms = 60000,
                                   .report_max_age_ms = 9 * INTERVAL_MS,
                                   .quorum = 2,
                                   .require_witness = true,
                                   .mode = SG_MODE_AUTO,
                                   .cooldown_ms = 0,
                                   .replication_max_age_ms = 60000,
                                   .vote_hold_ms = 2 * INTERVAL_MS,
                                   .startup_grace_ms = HOLD_DOWN_MS,
                                   .skew_warn_ms = 2000};
    s_soak_t s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < N_SITES; i++)
        s.down_since[i] = -1;
    s.w = sg_world_new(&cfg, 1800000000000LL, 42);
    sg_engine_t *e = sg_engine_new(&cfg, 0, sg_world_time(s.w));
    s.e = e;
    assert_non_null(s.w);
    assert_non_null(e);
    sg_world_set_interval(s.w, INTERVAL_MS);
    sg_world_set_step(s.w, 1000);
    sg_world_set_loss(s.w, 0.10);
    sg_world_flap(s.w, 0, FLAP_MS); /* A's observer: 20 s on, 20 s off, for ever */
    sg_world_on_runs(s.w, s_on_run, &s);

    int64_t hours = SITE_HOURS / 2; /* two sites that can be lost */
    for (int64_t h = 0; h < hours; h++) {
        int64_t t0 = h * HOUR_MS;
        /* once in a while, one site goes down for 2 to 20 minutes */
        int64_t fail_at = -1, back_at = -1;
        int site = s_random() < 0.5 ? A : B;
        if (s_random() < 0.02) {
            fail_at = t0 + (int64_t)(s_random() * 30 * 60000);
            back_at = fail_at + 120000 + (int64_t)(s_random() * 18 * 60000);
        }
        if (fail_at >= 0) {
            assert_int_equal(sg_world_run(s.w, e, fail_at, s_on_decision, &s), 0);
            sg_world_site_up(s.w, site, false);
            s.down_since[site] = fail_at;
            s.detected[site] = false;
            s.losses++;
            assert_int_equal(sg_world_run(s.w, e, back_at, s_on_decision, &s), 0);
            assert_true(s.detected[site]);
            sg_world_site_up(s.w, site, true);
            s.down_since[site] = -1;
        }
        assert_int_equal(sg_world_run(s.w, e, t0 + HOUR_MS, s_on_decision, &s), 0);
        for (size_t c = 0; c < cfg.n_collections; c++) /* failed back once the site is back */
            if (sg_engine_site_state(e, colls[c].site) != SG_SITE_LOST &&
                sg_engine_collection_verdict(e, (int)c) == SG_COLL_DONE)
                sg_engine_reset_collection(e, (int)c, sg_world_time(s.w));
    }
    printf("soak: %lld site-hours, %llu events (%llu lost at random), %d real site losses, "
           "%d detected in time (%d late), worst %.1f s, mean %.1f s, "
           "%d failovers (%d called, %d cancelled), %d false losses, %d false failovers, "
           "%d false calls\n",
           (long long)hours * 2, (unsigned long long)sg_world_events(s.w),
           (unsigned long long)sg_world_lost_events(s.w), s.losses, s.detected_in_time, s.late,
           s.worst_ms / 1000.0, s.losses ? s.total_ms / 1000.0 / s.losses : 0.0, s.failovers,
           s.calls, s.cancelled, s.false_lost, s.false_failovers, s.false_calls);
    assert_true(s.losses > 50);
    assert_int_equal(s.false_lost, 0);
    assert_int_equal(s.false_failovers, 0);
    assert_int_equal(s.false_calls, 0);
    assert_true(s.calls > 0);
    assert_int_equal(s.late, 0);
    assert_int_equal(s.detected_in_time, s.losses);
    sg_engine_destroy(&e);
    sg_world_destroy(&s.w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_soak_no_false_failover_and_every_loss_detected_in_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
