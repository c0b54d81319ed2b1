/* Policy engine: site verdicts and failover decisions on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy/engine.h"

#include <string.h>

/* Sites A and B, witness W; observers a1 (A), b1 (B), w1 (W); collections:
 * a-db (A->B, group 0), a-app (A->B, group 1), a-web (A->B, group 0, after
 * a-app by config order but earlier group), b-db (B->A). */
enum { A, B, W };
enum { OA, OB, OW };
enum { C_A_APP, C_A_DB, C_A_WEB, C_B_DB };

static sg_site_cfg_t s_sites[] = {{.name = "A"}, {.name = "B"}, {.name = "W", .witness = true}};
static sg_observer_cfg_t s_obs[] = {{.id = "a1", .site = A}, {.id = "b1", .site = B},
                                    {.id = "w1", .site = W}};
static sg_collection_cfg_t s_colls[] = {
    {.name = "a-app", .cim_path = "app", .site = A, .replica_site = B, .group = 1},
    {.name = "a-db", .cim_path = "db", .site = A, .replica_site = B, .group = 0},
    {.name = "a-web", .cim_path = "web", .site = A, .replica_site = B, .group = 0},
    {.name = "b-db", .cim_path = "bdb", .site = B, .replica_site = A, .group = 0}};

static sg_config_t s_cfg(sg_policy_mode_t mode)
{
    sg_config_t c;
    memset(&c, 0, sizeof c);
    c.sites = s_sites;
    c.n_sites = 3;
    c.observers = s_obs;
    c.n_observers = 3;
    c.collections = s_colls;
    c.n_collections = 4;
    c.policy.suspect_after_ms = 1000;
    c.policy.hold_down_ms = 3000;
    c.policy.mode = mode;
    return c;
}

static void s_beat(sg_engine_t *e, int observer, int64_t now)
{
    sg_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SG_EV_HEARTBEAT;
    ev.observer = observer;
    ev.site = s_obs[observer].site;
    assert_int_equal(sg_engine_on_event(e, &ev, now), 0);
}

/* Heartbeats from the given observers every 200 ms over [from, to). */
static void s_beats(sg_engine_t *e, const int *obs, int n, int64_t from, int64_t to)
{
    for (int64_t t = from; t < to; t += 200) {
        for (int i = 0; i < n; i++)
            s_beat(e, obs[i], t);
        assert_int_equal(sg_engine_tick(e, t), 0);
    }
}

/* Takes every queued decision; returns how many, kinds into `kinds`. */
static int s_take(sg_engine_t *e, sg_decision_t *out, int max)
{
    int n = 0;
    sg_decision_t d;
    while (sg_engine_next(e, &d)) {
        if (n < max)
            out[n++] = d;
        else
            sg_decision_fini(&d);
    }
    return n;
}

static void s_fini_all(sg_decision_t *d, int n)
{
    for (int i = 0; i < n; i++)
        sg_decision_fini(&d[i]);
}

static void test_site_never_heard_is_never_lost(void **state)
{
    (void)state;
    sg_config_t cfg = s_cfg(SG_MODE_AUTO);
    sg_engine_t *e = sg_engine_new(&cfg, 0);
    int all[] = {OB, OW};
    s_beats(e, all, 2, 0, 60000);
    sg_decision_t d[8];
    assert_int_equal(s_take(e, d, 8), 0);
    assert_int_equal(sg_engine_site_state(e, A), SG_SITE_UNKNOWN);
    sg_engine_destroy(&e);
    assert_null(e);
}

static void test_site_suspect_after_silence_then_lost_after_hold_down(void **state)
{
    (void)state;
    sg_config_t cfg = s_cfg(SG_MODE_AUTO);
    sg_engine_t *e = sg_engine_new(&cfg, 1000);
    int all[] = {OA, OB, OW}, others[] = {OB, OW};
    s_beats(e, all, 3, 0, 2000); /* last beat from A at 1800 */
    sg_decision_t d[16];
    assert_int_equal(s_take(e, d, 16), 0);
    s_beats(e, others, 2, 2000, 2800); /* 1000 ms of silence at 2800 */
    assert_int_equal(sg_engine_tick(e, 2800), 0);
    int n = s_take(e, d, 16);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].kind, SG_DECISION_SITE_SUSPECT);
    assert_int_equal(d[0].site, A);
    assert_non_null(strstr(d[0].reason, "site A silent"));
    s_fini_all(d, n);
    s_beats(e, others, 2, 2800, 4800);
    assert_int_equal(sg_engine_site_state(e, A), SG_SITE_SUSPECT);
    assert_int_equal(s_take(e, d, 16), 0);
    assert_int_equal(sg_engine_tick(e, 4800), 0); /* 3000 ms: hold-down reached */
    n = s_take(e, d, 16);
    assert_int_equal(sg_engine_site_state(e, A), SG_SITE_LOST);
    assert_int_equal(n, 4);
    assert_int_equal(d[0].kind, SG_DECISION_SITE_LOST);
    assert_non_null(strstr(d[0].reason, "hold-down"));
    s_fini_all(d, n);
    sg_engine_destroy(&e);
}

static void test_lost_site_collections_decided_in_plan_order_once(void **state)
{
    (void)state;
    sg_config_t cfg = s_cfg(SG_MODE_AUTO);
    sg_engine_t *e = sg_engine_new(&cfg, 5000);
    int all[] = {OA, OB, OW}, others[] = {OB, OW};
    s_beats(e, all, 3, 0, 1000);
    s_beats(e, others, 2, 1000, 10000);
    sg_decision_t d[16];
    int n = s_take(e, d, 16);
    assert_int_equal(n, 5); /* suspect, lost, three failovers */
    assert_int_equal(d[1].kind, SG_DECISION_SITE_LOST);
    /* group 0 in config order (a-db, a-web), then group 1 (a-app) */
    int expect[] = {C_A_DB, C_A_WEB, C_A_APP};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(d[2 + i].kind, SG_DECISION_FAILOVER);
        assert_int_equal(d[2 + i].collection, expect[i]);
        assert_int_equal(d[2 + i].target_site, B);
        assert_int_equal(d[2 + i].run_id, 5001 + (uint64_t)i);
        assert_int_equal(sg_engine_collection_verdict(e, expect[i]), SG_COLL_DECIDED);
    }
    assert_int_equal(sg_engine_collection_verdict(e, C_B_DB), SG_COLL_IDLE);
    s_fini_all(d, n);
    /* more ticks, and even a recovery and a second loss, decide nothing again */
    s_beats(e, others, 2, 10000, 20000);
    s_beats(e, all, 3, 20000, 21000);
    s_beats(e, others, 2, 21000, 30000);
    n = s_take(e, d, 16);
    for (int i = 0; i < n; i++)
        assert_int_not_equal(d[i].kind, SG_DECISION_FAILOVER);
    s_fini_all(d, n);
    sg_engine_destroy(&e);
}

static void test_dependencies_come_first_in_plan_order(void **state)
{
    (void)state;
    sg_config_t cfg = s_cfg(SG_MODE_AUTO);
    int dep[] = {C_A_WEB}; /* a-db (config index 1) depends on a-web (index 2) */
    s_colls[C_A_DB].depends_on = dep;
    s_colls[C_A_DB].n_depends_on = 1;
    sg_engine_t *e = sg_engine_new(&cfg, 0);
    int all[] = {OA, OB, OW}, others[] = {OB, OW};
    s_beats(e, all, 3, 0, 1000);
    s_beats(e, others, 2, 1000, 10000);
    sg_decision_t d[16];
    int n = s_take(e, d, 16);
    assert_int_equal(n, 5);
    assert_int_equal(d[2].collection, C_A_WEB);
    assert_int_equal(d[3].collection, C_A_DB);
    assert_int_equal(d[4].collection, C_A_APP);
    s_fini_all(d, n);
    sg_engine_destroy(&e);
    s_colls[C_A_DB].depends_on = NULL;
    s_colls[C_A_DB].n_depends_on = 0;
}

static void test_total_silence_freezes_decisions(void **state)
{
    (void)state;
    sg_config_t cfg = s_cfg(SG_MODE_AUTO);
    sg_engine_t *e = sg_engine_new(&cfg, 0);
    int all[] = {OA, OB, OW};
    s_beats(e, all, 3, 0, 1000);
    /* every site falls silent at once: the bus, not the sites, has failed */
    for (int64_t t = 1000; t < 60000; t += 200)
        assert_int_equal(sg_engine_tick(e, t), 0);
    sg_decision_t d[16];
    int n = s_take(e, d, 16);
    for (int i = 0; i < n; i++) {
        assert_int_equal(d[i].kind, SG_DECISION_SITE_SUSPECT);
    }
    assert_int_equal(n, 3);
    assert_int_equal(sg_engine_site_state(e, A), SG_SITE_SUSPECT);
    s_fini_all(d, n);
    sg_engine_destroy(&e);
}

static void test_site_heard_before_hold_down_recovers_without_failover(void **state)
{
    (void)state;
    sg_config_t cfg = s_cfg(SG_MODE_AUTO);
    sg_engine_t *e = sg_engine_new(&cfg, 0);
    int all[] = {OA, OB, OW}, others[] = {OB, OW};
    s_beats(e, all, 3, 0, 1000);
    s_beats(e, others, 2, 1000, 3400); /* silent 2600 ms: suspect, not lost */
    s_beats(e, all, 3, 3400, 10000);
    sg_decision_t d[16];
    int n = s_take(e, d, 16);
    assert_int_equal(n, 2);
    assert_int_equal(d[0].kind, SG_DECISION_SITE_SUSPECT);
    assert_int_equal(d[1].kind, SG_DECISION_SITE_RECOVERED);
    assert_non_null(strstr(d[1].reason, "a1"));
    assert_int_equal(sg_engine_site_state(e, A), SG_SITE_ALIVE);
    s_fini_all(d, n);
    sg_engine_destroy(&e);
}

static void test_failover_blocked_while_replica_site_not_alive(void **state)
{
    (void)state;
    sg_config_t cfg = s_cfg(SG_MODE_AUTO);
    sg_engine_t *e = sg_engine_new(&cfg, 0);
    int all[] = {OA, OB, OW}, witness[] = {OW}, bw[] = {OB, OW};
    s_beats(e, all, 3, 0, 1000);
    s_beats(e, witness, 1, 1000, 10000); /* A and B both silent, W heard */
    sg_decision_t d[32];
    int n = s_take(e, d, 32);
    int blocked = 0, failover = 0;
    for (int i = 0; i < n; i++) {
        blocked += d[i].kind == SG_DECISION_BLOCKED;
        failover += d[i].kind == SG_DECISION_FAILOVER;
        if (d[i].kind == SG_DECISION_BLOCKED && d[i].site == A)
            assert_non_null(strstr(d[i].reason, "replica site B is lost"));
    }
    assert_int_equal(failover, 0);
    assert_int_equal(blocked, 4); /* A's three to B, B's one to A */
    s_fini_all(d, n);
    /* B comes back while A stays lost: A's collections are now decided */
    s_beats(e, bw, 2, 10000, 11000);
    n = s_take(e, d, 32);
    failover = 0;
    for (int i = 0; i < n; i++) {
        if (d[i].kind == SG_DECISION_FAILOVER) {
            failover++;
            assert_int_equal(d[i].site, A);
        }
    }
    assert_int_equal(failover, 3);
    s_fini_all(d, n);
    sg_engine_destroy(&e);
}

static void test_shadow_mode_announces_but_never_decides_failover(void **state)
{
    (void)state;
    sg_config_t cfg = s_cfg(SG_MODE_SHADOW);
    sg_engine_t *e = sg_engine_new(&cfg, 0);
    int all[] = {OA, OB, OW}, others[] = {OB, OW};
    s_beats(e, all, 3, 0, 1000);
    s_beats(e, others, 2, 1000, 10000);
    sg_decision_t d[16];
    int n = s_take(e, d, 16);
    assert_int_equal(n, 5);
    for (int i = 2; i < 5; i++) {
        assert_int_equal(d[i].kind, SG_DECISION_BLOCKED);
        assert_non_null(strstr(d[i].reason, "shadow"));
    }
    s_fini_all(d, n);
    sg_engine_destroy(&e);
}

static void test_witness_is_never_lost_and_owns_nothing(void **state)
{
    (void)state;
    sg_config_t cfg = s_cfg(SG_MODE_AUTO);
    sg_engine_t *e = sg_engine_new(&cfg, 0);
    int all[] = {OA, OB, OW}, ab[] = {OA, OB};
    s_beats(e, all, 3, 0, 1000);
    s_beats(e, ab, 2, 1000, 10000);
    assert_int_equal(sg_engine_site_state(e, W), SG_SITE_SUSPECT);
    sg_decision_t d[16];
    int n = s_take(e, d, 16);
    assert_int_equal(n, 1);
    s_fini_all(d, n);
    sg_engine_destroy(&e);
}

static void test_next_deadline_tracks_suspect_and_hold_down(void **state)
{
    (void)state;
    sg_config_t cfg = s_cfg(SG_MODE_AUTO);
    sg_engine_t *e = sg_engine_new(&cfg, 0);
    assert_true(sg_engine_next_deadline(e) == INT64_MAX);
    s_beat(e, OA, 100);
    assert_int_equal(sg_engine_next_deadline(e), 1100);
    assert_int_equal(sg_engine_tick(e, 1100), 0);
    assert_int_equal(sg_engine_next_deadline(e), 3100);
    sg_engine_run_ended(e, C_A_DB, true);
    assert_int_equal(sg_engine_collection_verdict(e, C_A_DB), SG_COLL_DONE);
    sg_engine_run_ended(e, C_A_APP, false);
    assert_int_equal(sg_engine_collection_verdict(e, C_A_APP), SG_COLL_FAILED);
    sg_engine_destroy(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_site_never_heard_is_never_lost),
        cmocka_unit_test(test_site_suspect_after_silence_then_lost_after_hold_down),
        cmocka_unit_test(test_lost_site_collections_decided_in_plan_order_once),
        cmocka_unit_test(test_dependencies_come_first_in_plan_order),
        cmocka_unit_test(test_total_silence_freezes_decisions),
        cmocka_unit_test(test_site_heard_before_hold_down_recovers_without_failover),
        cmocka_unit_test(test_failover_blocked_while_replica_site_not_alive),
        cmocka_unit_test(test_shadow_mode_announces_but_never_decides_failover),
        cmocka_unit_test(test_witness_is_never_lost_and_owns_nothing),
        cmocka_unit_test(test_next_deadline_tracks_suspect_and_hold_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
