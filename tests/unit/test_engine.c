/* Policy engine: site verdicts, guards and modes, on a fake clock.
 *
 * The world: sites A and B and a witness W, one observer each (a1, b1, w1).
 * Every 200 ms of virtual time the test sends the heartbeats of the
 * observers that are up and the reachability reports each observer makes
 * (who it sees up or down), then ticks the engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "policy/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { A, B, W, N_SITES };
enum { OA, OB, OW, N_OBS };
enum { C_A_APP, C_A_DB, C_A_WEB, C_B_DB, N_COLLS };

#define WALL0 1800000000000LL
#define STEP 200
#define UP 1
#define DOWN (-1)

typedef struct {
    sg_site_cfg_t sites[N_SITES];
    sg_observer_cfg_t obs[N_OBS];
    sg_collection_cfg_t colls[N_COLLS];
    int deps[1];
    sg_window_cfg_t windows[1];
    int window_sites[1];
    sg_config_t cfg;
    sg_engine_t *e;
    bool beat[N_OBS];        /* observer sends heartbeats */
    int sees[N_OBS][N_SITES]; /* UP, DOWN or 0: its reachability reports */
    uint64_t seq;
    int64_t t;               /* virtual time, ms */
    sg_decision_t got[64];
    int n_got;
    bool complete; /* each failover run ends, failed over, as soon as it is decided */
    bool *tally;   /* when set: failovers are marked here per collection, and no
                      decision is kept in got */
    int tallied;   /* failovers marked so far */
} s_fix_t;

static sg_now_t s_now(int64_t t) { return (sg_now_t){t, WALL0 + t}; }

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->sites[A].name = "A";
    f->sites[B].name = "B";
    f->sites[W] = (sg_site_cfg_t){.name = "W", .witness = true};
    f->obs[OA] = (sg_observer_cfg_t){.id = "a1", .site = A};
    f->obs[OB] = (sg_observer_cfg_t){.id = "b1", .site = B};
    f->obs[OW] = (sg_observer_cfg_t){.id = "w1", .site = W};
    f->colls[C_A_APP] = (sg_collection_cfg_t){.name = "a-app", .site = A, .replica_site = B, .group = 1};
    f->colls[C_A_DB] = (sg_collection_cfg_t){.name = "a-db", .site = A, .replica_site = B};
    f->colls[C_A_WEB] = (sg_collection_cfg_t){.name = "a-web", .site = A, .replica_site = B};
    f->colls[C_B_DB] = (sg_collection_cfg_t){.name = "b-db", .site = B, .replica_site = A};
    sg_config_t *c = &f->cfg;
    c->sites = f->sites;
    c->n_sites = N_SITES;
    c->observers = f->obs;
    c->n_observers = N_OBS;
    c->collections = f->colls;
    c->n_collections = N_COLLS;
    c->policy = (sg_policy_cfg_t){.suspect_after_ms = 1000,
                                  .hold_down_ms = 3000,
                                  .recover_after_ms = 5000,
                                  .report_max_age_ms = 3000,
                                  .startup_grace_ms = 600000,
                                  .skew_warn_ms = 2000,
                                  .quorum = 2,
                                  .require_witness = true,
                                  .mode = SG_MODE_AUTO,
                                  .approval_timeout_ms = 60000,
                                  .cooldown_ms = 600000,
                                  .replication_max_age_ms = 60000,
                                  .budget = {50, 3600000},
                                  .site_budget = {25, 3600000}};
    f->complete = true;
    for (int o = 0; o < N_OBS; o++) {
        f->beat[o] = true;
        for (int s = 0; s < N_SITES; s++)
            f->sees[o][s] = s == f->obs[o].site ? 0 : UP;
    }
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    for (int i = 0; i < f->n_got; i++)
        sg_decision_fini(&f->got[i]);
    sg_engine_destroy(&f->e);
    free(f);
    return 0;
}

static void s_start(s_fix_t *f)
{
    f->e = sg_engine_new(&f->cfg, 1000, s_now(0));
    assert_non_null(f->e);
}

static void s_send(s_fix_t *f, int obs, sg_event_kind_t kind, int target, bool up, int64_t sent)
{
    sg_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.observer = obs;
    ev.site = f->obs[obs].site;
    ev.seq = ++f->seq;
    ev.sent_at_ms = sent;
    ev.u.reach.target_site = target;
    ev.u.reach.up = up;
    assert_int_equal(sg_engine_on_event(f->e, &ev, s_now(f->t)), 0);
}

static void s_collect(s_fix_t *f)
{
    sg_decision_t d;
    while (sg_engine_next(f->e, &d)) {
        if (f->tally) { /* a storm: only its failovers are looked at */
            if (d.kind == SG_DECISION_FAILOVER) {
                assert_false(f->tally[d.collection]); /* decided once */
                f->tally[d.collection] = true;
                f->tallied++;
            }
            sg_decision_fini(&d);
            continue;
        }
        assert_true(f->n_got < 64);
        f->got[f->n_got++] = d;
        if (f->complete && d.kind == SG_DECISION_FAILOVER)
            sg_engine_run_ended(f->e, d.collection, true, s_now(f->t));
    }
}

/* Runs the world until virtual time `to`. */
static void s_run(s_fix_t *f, int64_t to)
{
    for (; f->t < to; f->t += STEP) {
        for (int o = 0; o < N_OBS; o++) {
            if (!f->beat[o])
                continue;
            s_send(f, o, SG_EV_HEARTBEAT, 0, false, WALL0 + f->t);
            for (int s = 0; s < N_SITES; s++)
                if (f->sees[o][s])
                    s_send(f, o, SG_EV_REACHABILITY, s, f->sees[o][s] == UP, WALL0 + f->t);
        }
        assert_int_equal(sg_engine_tick(f->e, s_now(f->t)), 0);
        s_collect(f);
    }
}

/* Site A dies at `at`: its observer falls silent and everyone sees it down. */
static void s_kill_a(s_fix_t *f, int64_t at)
{
    s_run(f, at);
    f->beat[OA] = false;
    f->sees[OB][A] = f->sees[OW][A] = DOWN;
}

/* Site A dies at `at`, and the world runs to `until`. */
static void s_kill_a_and_run(s_fix_t *f, int64_t at, int64_t until)
{
    s_kill_a(f, at);
    s_run(f, until);
}

/* Site A is back: its observer beats and everyone sees it up. */
static void s_revive_a(s_fix_t *f)
{
    f->beat[OA] = true;
    f->sees[OB][A] = f->sees[OW][A] = UP;
}

/* Site B dies now: its observer falls silent and everyone sees it down. */
static void s_kill_b(s_fix_t *f)
{
    f->beat[OB] = false;
    f->sees[OA][B] = f->sees[OW][B] = DOWN;
}

/* Site B is back: its observer beats and everyone sees it up. */
static void s_revive_b(s_fix_t *f)
{
    f->beat[OB] = true;
    f->sees[OA][B] = f->sees[OW][B] = UP;
}

/* Starts the engine and runs the world until `to`. */
static void s_start_and_run(s_fix_t *f, int64_t to)
{
    s_start(f);
    s_run(f, to);
}

/* The policy has one maintenance window, `w` (before s_start). */
static void s_maintenance(s_fix_t *f, sg_window_cfg_t w)
{
    f->windows[0] = w;
    f->cfg.policy.maintenance = f->windows;
    f->cfg.policy.n_maintenance = 1;
}

static int s_count(const s_fix_t *f, sg_decision_kind_t kind, int site_or_coll)
{
    int n = 0;
    for (int i = 0; i < f->n_got; i++) {
        const sg_decision_t *d = &f->got[i];
        bool coll = kind == SG_DECISION_FAILOVER || kind == SG_DECISION_BLOCKED;
        if (d->kind == kind && (site_or_coll < 0 || (coll ? d->collection : d->site) == site_or_coll))
            n++;
    }
    return n;
}

static const sg_decision_t *s_find(const s_fix_t *f, sg_decision_kind_t kind, int site_or_coll)
{
    for (int i = 0; i < f->n_got; i++) {
        const sg_decision_t *d = &f->got[i];
        bool coll = kind == SG_DECISION_FAILOVER || kind == SG_DECISION_BLOCKED;
        if (d->kind == kind && (coll ? d->collection : d->site) == site_or_coll)
            return d;
    }
    return NULL;
}

static const sg_decision_t *s_last_block(const s_fix_t *f, int coll)
{
    const sg_decision_t *last = NULL;
    for (int i = 0; i < f->n_got; i++)
        if (f->got[i].kind == SG_DECISION_BLOCKED && f->got[i].collection == coll)
            last = &f->got[i];
    return last;
}

/* Starts the engine; site A dies at 2 s, and the world runs to `until`. */
static void s_start_and_kill_a_at_2s(s_fix_t *f, int64_t until)
{
    s_start(f);
    s_kill_a_and_run(f, 2000, until);
}

/* Quorum 1, and the witness not required (before s_start). */
static void s_quorum_of_one_without_the_witness(s_fix_t *f)
{
    f->cfg.policy.quorum = 1;
    f->cfg.policy.require_witness = false;
}

/* SITE_LOST decisions so far, of any site. */
static int s_losses(const s_fix_t *f) { return s_count(f, SG_DECISION_SITE_LOST, -1); }

/* The FAILOVER decision of collection `coll`, whose reason says `text`. */
static const sg_decision_t *s_expect_failover_saying(const s_fix_t *f, int coll, const char *text)
{
    const sg_decision_t *d = s_find(f, SG_DECISION_FAILOVER, coll);
    assert_non_null(d);
    assert_non_null(strstr(d->reason, text));
    return d;
}

/* FAILOVER decisions so far, of any collection. */
static int s_failovers(const s_fix_t *f) { return s_count(f, SG_DECISION_FAILOVER, -1); }

/* The last BLOCKED decision of collection `coll` names `guard`, and its
 * reason says `text`. */
static void s_expect_held_by(const s_fix_t *f, int coll, sg_guard_t guard, const char *text)
{
    assert_int_equal(s_last_block(f, coll)->guard, guard);
    assert_non_null(strstr(s_last_block(f, coll)->reason, text));
}

/* The engine explains site `site` now with words that include `text`. */
static void s_expect_site_explained(s_fix_t *f, int site, const char *text)
{
    char *why = sg_engine_explain_site(f->e, site, s_now(f->t));
    assert_non_null(strstr(why, text));
    free(why);
}

/* The engine explains collection `coll` now with words that include `text`. */
static void s_expect_collection_explained(s_fix_t *f, int coll, const char *text)
{
    char *why = sg_engine_explain_collection(f->e, coll, s_now(f->t));
    assert_non_null(strstr(why, text));
    free(why);
}

/* ---- site verdicts ---------------------------------------------------------- */

/* A site never heard since start is judged once the startup grace is over:
 * silent since start, it is lost by the usual rule. */
static void test_site_never_heard_is_judged_after_the_startup_grace(void **state)
{
    s_fix_t *f = *state;
    f->cfg.policy.startup_grace_ms = 10000;
    s_start(f);
    f->beat[OA] = false;
    f->sees[OB][A] = f->sees[OW][A] = DOWN;
    s_run(f, 9800);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_UNKNOWN);
    assert_int_equal(s_losses(f), 0);
    s_run(f, 10200);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_LOST);
    assert_non_null(strstr(s_find(f, SG_DECISION_SITE_SUSPECT, A)->reason, "never heard"));
}

static void test_site_lost_after_hold_down_with_quorum_and_witness(void **state)
{
    s_fix_t *f = *state;
    s_start_and_kill_a_at_2s(f, 2000 + 2800);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_SUSPECT);
    assert_int_equal(s_count(f, SG_DECISION_SITE_SUSPECT, A), 1);
    s_run(f, 2000 + 3400);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_LOST);
    const sg_decision_t *lost = s_find(f, SG_DECISION_SITE_LOST, A);
    assert_non_null(lost);
    /* the last heartbeat came at 1800: lost within hold-down plus one step */
    assert_true(lost->at.mono >= 1800 + 3000 && lost->at.mono <= 1800 + 3000 + STEP);
    assert_non_null(strstr(lost->reason, "2 site(s) vote it down (B, W"));
    assert_int_equal(s_failovers(f), 3);
    assert_int_equal(sg_engine_site_state(f->e, B), SG_SITE_HEALTHY);
}

static void test_silence_without_reports_is_only_suspect(void **state)
{
    s_fix_t *f = *state;
    s_start_and_run(f, 2000);
    f->beat[OA] = false;
    f->sees[OB][A] = f->sees[OW][A] = 0; /* nobody says anything about A */
    s_run(f, 60000);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_SUSPECT);
    assert_int_equal(s_losses(f), 0);
}

static void test_one_observer_down_report_makes_suspect_not_lost(void **state)
{
    s_fix_t *f = *state;
    s_start_and_run(f, 2000);
    f->sees[OB][A] = DOWN; /* a partition between A and B; A still heard */
    s_run(f, 60000);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_SUSPECT);
    const sg_decision_t *d = s_find(f, SG_DECISION_SITE_SUSPECT, A);
    assert_non_null(d);
    assert_non_null(strstr(d->reason, "b1"));
    assert_int_equal(s_losses(f), 0);
}

static void test_partition_witness_sees_site_up_so_not_lost(void **state)
{
    s_fix_t *f = *state;
    s_start_and_run(f, 2000);
    /* siteguard no longer hears A and B cannot reach it, but the witness can */
    f->beat[OA] = false;
    f->sees[OB][A] = DOWN;
    s_run(f, 60000);
    assert_int_equal(s_losses(f), 0);
    char *why = sg_engine_explain_site(f->e, A, s_now(f->t));
    assert_non_null(why);
    assert_non_null(strstr(why, "site W (witness) votes up"));
    assert_non_null(strstr(why, "not met"));
    free(why);
}

static void test_witness_required_and_silent_means_not_lost(void **state)
{
    s_fix_t *f = *state;
    f->cfg.policy.quorum = 1;
    s_start_and_run(f, 2000);
    f->beat[OA] = false;
    f->sees[OB][A] = DOWN;
    f->sees[OW][A] = 0;
    s_run(f, 60000);
    assert_int_equal(s_losses(f), 0);
}

static void test_isolated_observer_has_no_vote(void **state)
{
    s_fix_t *f = *state;
    s_quorum_of_one_without_the_witness(f);
    s_start_and_run(f, 2000);
    /* A falls silent; only W says it is down, but W's own heartbeats are gone */
    f->beat[OA] = false;
    f->beat[OW] = false;
    f->sees[OB][A] = 0;
    s_run(f, 30000);
    /* W is silent, so no report of it arrives either: nothing declares A dead */
    assert_int_equal(s_losses(f), 0);
}

static void test_blind_observer_that_sees_nothing_has_no_vote(void **state)
{
    s_fix_t *f = *state;
    s_quorum_of_one_without_the_witness(f);
    s_start_and_run(f, 2000);
    /* A stops, W (still heard) reports everything down, B is heard fine */
    f->beat[OA] = false;
    f->sees[OB][A] = 0;
    f->sees[OW][A] = DOWN;
    f->sees[OW][B] = DOWN;
    s_run(f, 30000);
    assert_int_equal(s_losses(f), 0);
    s_expect_site_explained(f, A, "observer w1: no vote");
}

static void test_total_silence_freezes_decisions(void **state)
{
    s_fix_t *f = *state;
    s_start_and_run(f, 2000);
    for (int o = 0; o < N_OBS; o++)
        f->beat[o] = false;
    s_run(f, 60000);
    assert_int_equal(s_losses(f), 0);
    assert_int_equal(s_failovers(f), 0);
    assert_int_equal(s_count(f, SG_DECISION_SITE_SUSPECT, -1), 3);
}

static void test_suspect_site_heard_again_is_healthy(void **state)
{
    s_fix_t *f = *state;
    s_start_and_run(f, 2000);
    f->beat[OA] = false;
    s_run(f, 3600); /* 1.6 s of silence: suspect */
    f->beat[OA] = true;
    s_run(f, 10000);
    assert_int_equal(s_count(f, SG_DECISION_SITE_SUSPECT, A), 1);
    assert_int_equal(s_count(f, SG_DECISION_SITE_RECOVERED, A), 1);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_HEALTHY);
}

static void test_flapping_observer_shorter_than_hold_down_never_loses_site(void **state)
{
    s_fix_t *f = *state;
    s_start(f);
    for (int64_t t = 0; t < 120000; t += 2000) {
        f->beat[OA] = (t / 2000) % 2 == 0; /* 2 s on, 2 s off */
        s_run(f, t + 2000);
    }
    assert_int_equal(s_losses(f), 0);
}

/* Liveness is judged by receive time: events sent before the loss but
 * received after it still show that the path from A works now. */
static void test_an_event_received_after_the_loss_makes_the_site_recovering(void **state)
{
    s_fix_t *f = *state;
    s_start_and_kill_a_at_2s(f, 8000);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_LOST);
    for (int i = 0; i < 5; i++) /* sent before the loss, received now */
        s_send(f, OA, SG_EV_HEARTBEAT, 0, false, WALL0 + 1500 + i * 100);
    s_run(f, 8200);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_RECOVERING);
    assert_int_equal(s_count(f, SG_DECISION_SITE_RECOVERING, A), 1);
}

static void test_lost_site_recovers_only_after_stable_period(void **state)
{
    s_fix_t *f = *state;
    s_start_and_kill_a_at_2s(f, 8000);
    s_revive_a(f);
    s_run(f, 9000);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_RECOVERING);
    s_run(f, 8000 + 5000);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_RECOVERING);
    s_run(f, 8000 + 5400);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_HEALTHY);
    assert_int_equal(s_count(f, SG_DECISION_SITE_RECOVERED, A), 1);
}

static void test_recovering_site_silent_again_is_lost_again_only_with_quorum(void **state)
{
    s_fix_t *f = *state;
    s_start_and_kill_a_at_2s(f, 8000);
    f->beat[OA] = true;
    s_run(f, 9000);
    f->beat[OA] = false;
    s_run(f, 12000);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_LOST);
    assert_int_equal(s_count(f, SG_DECISION_SITE_LOST, A), 2);
    assert_int_equal(s_failovers(f), 3); /* never twice */
}

static void test_recovering_site_with_flapping_heartbeats_stays_recovering(void **state)
{
    s_fix_t *f = *state;
    s_start_and_kill_a_at_2s(f, 8000);
    f->sees[OB][A] = f->sees[OW][A] = UP; /* A is back, but its observer flaps */
    for (int64_t t = 8000; t < 60000; t += 2000) {
        f->beat[OA] = (t / 2000) % 2 == 0;
        s_run(f, t + 2000);
    }
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_RECOVERING);
    assert_int_equal(s_count(f, SG_DECISION_SITE_LOST, A), 1);
    assert_int_equal(s_count(f, SG_DECISION_SITE_RECOVERED, A), 0);
}

/* ---- collection decisions ----------------------------------------------------- */

static void test_collections_decided_in_plan_order_dependencies_first(void **state)
{
    s_fix_t *f = *state;
    f->deps[0] = C_A_WEB; /* a-db (config index 1) depends on a-web (index 2) */
    f->colls[C_A_DB].depends_on = f->deps;
    f->colls[C_A_DB].n_depends_on = 1;
    s_start_and_kill_a_at_2s(f, 8000);
    int order[3], n = 0;
    for (int i = 0; i < f->n_got; i++) {
        if (f->got[i].kind == SG_DECISION_FAILOVER) {
            order[n++] = f->got[i].collection;
            assert_int_equal(f->got[i].target_site, B);
            assert_int_equal(f->got[i].run_id, 1000 + (uint64_t)n);
        }
    }
    assert_int_equal(n, 3);
    assert_int_equal(order[0], C_A_WEB);
    assert_int_equal(order[1], C_A_DB);
    assert_int_equal(order[2], C_A_APP);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_B_DB), SG_COLL_IDLE);
}

/* on_error wait: a collection whose dependency's failover failed waits for
 * an operator, and an approval lets it go. */
static void test_a_failed_dependency_waits_for_an_approval_with_on_error_wait(void **state)
{
    s_fix_t *f = *state;
    f->complete = false;
    f->cfg.plan.on_error = SG_ON_ERROR_WAIT;
    f->deps[0] = C_A_DB; /* a-web depends on a-db */
    f->colls[C_A_WEB].depends_on = f->deps;
    f->colls[C_A_WEB].n_depends_on = 1;
    s_start_and_kill_a_at_2s(f, 8000);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_DB), 1);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_WEB), 0);
    sg_engine_run_ended(f->e, C_A_DB, false, s_now(f->t)); /* a-db's failover failed */
    s_run(f, 8400);
    s_expect_held_by(f, C_A_WEB, SG_GUARD_PLAN_ORDER, "approve to let it go");
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_WEB), 0);
    assert_int_equal(sg_engine_approve(f->e, C_A_WEB, s_now(f->t)), 0);
    s_run(f, 8800);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_WEB), 1);
}

static void test_blocked_while_replica_site_not_healthy(void **state)
{
    s_fix_t *f = *state;
    s_start(f);
    s_run(f, 1000);
    s_kill_b(f); /* B is lost first */
    s_run(f, 5000);
    assert_int_equal(sg_engine_site_state(f->e, B), SG_SITE_LOST);
    s_revive_b(f); /* B is back: recovering until 5 s of steady heartbeats */
    s_kill_a_and_run(f, 5200, 9400);
    assert_int_equal(sg_engine_site_state(f->e, B), SG_SITE_RECOVERING);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_LOST);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_DB), 0);
    const sg_decision_t *d = s_last_block(f, C_A_DB);
    assert_non_null(d);
    assert_int_equal(d->guard, SG_GUARD_REPLICA_SITE);
    assert_non_null(strstr(d->reason, "replica site B is recovering"));
    assert_int_equal(s_count(f, SG_DECISION_BLOCKED, C_A_DB), 1); /* announced once */
    s_run(f, 11000); /* B healthy again */
    assert_int_equal(sg_engine_site_state(f->e, B), SG_SITE_HEALTHY);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_DB), 1);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_WEB), 1);
}

static void s_replication(s_fix_t *f, int coll, int health, uint64_t lag_s)
{
    sg_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SG_EV_REPLICATION;
    ev.observer = OB;
    ev.site = B;
    ev.sent_at_ms = WALL0 + f->t;
    ev.u.repl.collection = coll;
    ev.u.repl.health = health;
    ev.u.repl.lag_s = lag_s;
    assert_int_equal(sg_engine_on_event(f->e, &ev, s_now(f->t)), 0);
}

static void test_replication_critical_blocks(void **state)
{
    s_fix_t *f = *state;
    s_start(f);
    s_run(f, 1000);
    s_replication(f, C_A_DB, 3, 5);
    s_kill_a_and_run(f, 2000, 8000);
    assert_int_equal(s_last_block(f, C_A_DB)->guard, SG_GUARD_REPLICATION_CRITICAL);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_WEB), 1);
}

static void test_lag_over_rpo_blocks_and_missing_report_blocks(void **state)
{
    s_fix_t *f = *state;
    f->colls[C_A_DB].rpo_limit_ms = 60000;
    f->colls[C_A_WEB].rpo_limit_ms = 60000;
    s_start(f);
    s_run(f, 1000);
    s_replication(f, C_A_DB, 1, 120); /* 2 minutes behind, limit 1 */
    s_kill_a_and_run(f, 2000, 8000);
    s_expect_held_by(f, C_A_DB, SG_GUARD_RPO, "reported 120 s");
    assert_int_equal(s_last_block(f, C_A_WEB)->guard, SG_GUARD_NO_REPLICATION_DATA);
    char *why = sg_engine_explain_collection(f->e, C_A_DB, s_now(f->t));
    assert_non_null(strstr(why, "HOLD rpo"));
    assert_non_null(strstr(why, "ok   replica_site"));
    free(why);
    s_replication(f, C_A_DB, 1, 30); /* caught up (a late report from the replica) */
    s_run(f, 8400);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_DB), 1);
}

static void test_pause_holds_until_it_expires(void **state)
{
    s_fix_t *f = *state;
    s_start(f);
    assert_int_equal(sg_engine_pause(f->e, A, -1, 20000, "network work"), 0);
    s_kill_a_and_run(f, 2000, 10000);
    assert_int_equal(s_failovers(f), 0);
    s_expect_held_by(f, C_A_DB, SG_GUARD_PAUSED, "network work");
    s_run(f, 20400);
    assert_int_equal(s_failovers(f), 3);
}

static void test_resume_lifts_a_pause(void **state)
{
    s_fix_t *f = *state;
    s_start(f);
    assert_int_equal(sg_engine_pause(f->e, -1, C_A_DB, 1000000, "checking"), 0);
    s_kill_a_and_run(f, 2000, 8000);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_A_DB), SG_COLL_BLOCKED);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_WEB), 1);
    sg_engine_resume(f->e, -1, C_A_DB);
    s_run(f, 8400);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_DB), 1);
}

static void test_maintenance_window_holds_failover(void **state)
{
    s_fix_t *f = *state;
    /* WALL0 is 2027-01-15 08:00 UTC, a Friday: a window Fri 07:30-09:00 */
    f->window_sites[0] = A;
    s_maintenance(f, (sg_window_cfg_t){.sites = f->window_sites, .n_sites = 1, .days = 1u << 4,
                                       .from_min = 450, .to_min = 540, .reason = "patching"});
    s_start_and_kill_a_at_2s(f, 10000);
    assert_int_equal(s_failovers(f), 0);
    s_expect_held_by(f, C_A_DB, SG_GUARD_MAINTENANCE, "patching");
}

static void test_maintenance_window_on_another_day_does_not_hold(void **state)
{
    s_fix_t *f = *state;
    s_maintenance(f, (sg_window_cfg_t){.days = 1u << 5, .from_min = 450, .to_min = 540});
    s_start_and_kill_a_at_2s(f, 10000);
    assert_int_equal(s_failovers(f), 3);
}

/* A lost A fails over, comes back, is healthy again; its collections are
 * home again (failback). */
static void s_loss_and_return_of_a(s_fix_t *f, int64_t at)
{
    s_kill_a(f, at);
    s_run(f, at + 6000);
    s_revive_a(f);
    s_run(f, at + 6000 + 6000);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_HEALTHY);
    for (int c = 0; c < N_COLLS; c++)
        if (f->colls[c].site == A)
            sg_engine_reset_collection(f->e, c, s_now(f->t));
}

static void test_maintenance_window_across_midnight_holds_the_next_morning(void **state)
{
    s_fix_t *f = *state;
    /* Thursdays 23:00 to 09:00 the next day: Friday 08:00 is inside */
    s_maintenance(f, (sg_window_cfg_t){.days = 1u << 3, .from_min = 23 * 60, .to_min = 9 * 60});
    s_start_and_kill_a_at_2s(f, 10000);
    assert_int_equal(s_failovers(f), 0);
    assert_int_equal(s_last_block(f, C_A_DB)->guard, SG_GUARD_MAINTENANCE);
}

static void test_one_off_maintenance_window_ends_and_failover_follows(void **state)
{
    s_fix_t *f = *state;
    s_maintenance(f, (sg_window_cfg_t){.start_ms = WALL0 - 1000, .end_ms = WALL0 + 20000});
    s_start_and_kill_a_at_2s(f, 19800);
    assert_int_equal(s_failovers(f), 0);
    s_run(f, 20400);
    assert_int_equal(s_failovers(f), 3);
}

static void test_budget_counts_a_site_loss_once_however_many_collections(void **state)
{
    s_fix_t *f = *state;
    f->cfg.policy.budget = (sg_budget_cfg_t){1, 3600000};
    f->cfg.policy.cooldown_ms = 0;
    s_start_and_kill_a_at_2s(f, 10000);
    assert_int_equal(s_failovers(f), 3); /* one site failover */
    /* A comes back; then B is lost: the overall budget of one is spent */
    s_revive_a(f);
    s_run(f, 20000);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_HEALTHY);
    s_kill_b(f);
    s_run(f, 30000);
    assert_int_equal(sg_engine_site_state(f->e, B), SG_SITE_LOST);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_B_DB), 0);
    assert_int_equal(s_last_block(f, C_B_DB)->guard, SG_GUARD_BUDGET);
}

static void test_site_budget_caps_one_sites_failovers_per_period(void **state)
{
    s_fix_t *f = *state;
    f->cfg.policy.site_budget = (sg_budget_cfg_t){1, 60000};
    f->cfg.policy.cooldown_ms = 0;
    s_start(f);
    s_loss_and_return_of_a(f, 2000);
    assert_int_equal(s_failovers(f), 3);
    s_kill_a_and_run(f, 16000, 30000); /* lost again within the minute */
    assert_int_equal(s_failovers(f), 3);
    assert_int_equal(s_last_block(f, C_A_DB)->guard, SG_GUARD_SITE_BUDGET);
    s_expect_collection_explained(f, C_A_DB, "HOLD site_budget");
    s_run(f, 2000 + 6000 + 60000 + 400); /* the first loss leaves the period */
    assert_int_equal(s_failovers(f), 6);
}

static void test_cooldown_after_failback_holds_next_failover(void **state)
{
    s_fix_t *f = *state;
    s_start_and_kill_a_at_2s(f, 8000);
    sg_engine_run_ended(f->e, C_A_DB, true, s_now(f->t));
    assert_int_equal(sg_engine_collection_verdict(f->e, C_A_DB), SG_COLL_DONE);
    sg_engine_reset_collection(f->e, C_A_DB, s_now(f->t)); /* failed back at once */
    s_run(f, 9000);
    assert_int_equal(s_last_block(f, C_A_DB)->guard, SG_GUARD_COOLDOWN);
    s_run(f, 8000 + 600000 + 400);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_DB), 2);
}

/* The last FAILOVER decision of collection c, or NULL. */
static const sg_decision_t *s_last_failover(const s_fix_t *f, int c)
{
    for (int i = f->n_got - 1; i >= 0; i--)
        if (f->got[i].kind == SG_DECISION_FAILOVER && f->got[i].collection == c)
            return &f->got[i];
    return NULL;
}

static void test_a_reversed_collection_fails_over_when_its_new_primary_is_lost(void **state)
{
    s_fix_t *f = *state;
    f->cfg.policy.cooldown_ms = 0;
    s_start_and_kill_a_at_2s(f, 8000);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_A_DB), SG_COLL_DONE);
    s_revive_a(f);
    s_run(f, 8000 + 6000);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_HEALTHY);
    /* committed and reversed: a-db now lives at B and replicates to A */
    sg_config_reverse(&f->cfg, C_A_DB);
    assert_int_equal(sg_engine_redirect(f->e, C_A_DB), SG_OK);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_A_DB), SG_COLL_IDLE);
    int before = s_count(f, SG_DECISION_FAILOVER, C_A_DB);
    s_kill_b(f);
    s_run(f, 8000 + 6000 + 6000);
    assert_int_equal(sg_engine_site_state(f->e, B), SG_SITE_LOST);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_DB), before + 1);
    const sg_decision_t *d = s_last_failover(f, C_A_DB);
    assert_int_equal(d->site, B);
    assert_int_equal(d->target_site, A);
    /* the collections still at A are not touched by B's loss */
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_WEB), 1);
    sg_config_reverse(&f->cfg, C_A_DB); /* the fixture's config is the test's */
}

static void test_a_redirect_is_refused_while_a_run_is_in_flight(void **state)
{
    s_fix_t *f = *state;
    f->complete = false;
    s_start_and_kill_a_at_2s(f, 8000);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_A_DB), SG_COLL_DECIDED);
    assert_int_equal(sg_engine_redirect(f->e, C_A_DB), SG_ESTATE);
    assert_int_equal(sg_engine_reverted(f->e, C_A_DB, s_now(f->t)), SG_ESTATE);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_A_DB), SG_COLL_DECIDED);
}

static void test_a_reverted_collection_is_held_for_the_episode_but_an_operator_may_retry(
    void **state)
{
    s_fix_t *f = *state;
    s_start_and_kill_a_at_2s(f, 8000);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_DB), 1);
    assert_int_equal(sg_engine_reverted(f->e, C_A_DB, s_now(f->t)), SG_OK);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_A_DB), SG_COLL_DENIED);
    s_run(f, 20000); /* A still lost: the policy does not fail it over again */
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_DB), 1);
    s_expect_collection_explained(f, C_A_DB, "reverted");
    char *why = NULL;
    assert_int_equal(sg_engine_manual_failover(f->e, C_A_DB, false, NULL, "older-point",
                                               s_now(f->t), &why),
                     SG_OK);
    assert_null(why);
    s_collect(f);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_DB), 2);
    assert_string_equal(s_last_failover(f, C_A_DB)->point, "older-point");
}

static void test_shadow_mode_announces_but_never_decides_failover(void **state)
{
    s_fix_t *f = *state;
    f->cfg.policy.mode = SG_MODE_SHADOW;
    s_start_and_kill_a_at_2s(f, 30000);
    assert_int_equal(s_failovers(f), 0);
    assert_int_equal(s_count(f, SG_DECISION_BLOCKED, -1), 3);
    assert_int_equal(s_last_block(f, C_A_DB)->guard, SG_GUARD_SHADOW);
}

static void test_approve_mode_waits_then_acts_on_approval(void **state)
{
    s_fix_t *f = *state;
    f->cfg.policy.mode = SG_MODE_APPROVE;
    s_start_and_kill_a_at_2s(f, 8000);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_A_DB), SG_COLL_AWAITING);
    assert_int_equal(s_last_block(f, C_A_DB)->guard, SG_GUARD_AWAITING_APPROVAL);
    assert_int_equal(sg_engine_approve(f->e, C_B_DB, s_now(f->t)), SG_ESTATE);
    assert_int_equal(sg_engine_approve(f->e, C_A_DB, s_now(f->t)), 0);
    s_run(f, 8400);
    s_expect_failover_saying(f, C_A_DB, "approved");
    assert_int_equal(s_failovers(f), 1);
}

static void test_approve_mode_deny_holds(void **state)
{
    s_fix_t *f = *state;
    f->cfg.policy.mode = SG_MODE_APPROVE;
    s_start_and_kill_a_at_2s(f, 8000);
    assert_int_equal(sg_engine_deny(f->e, C_A_DB, s_now(f->t)), 0);
    s_run(f, 200000);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_A_DB), SG_COLL_DENIED);
    assert_int_equal(s_count(f, SG_DECISION_FAILOVER, C_A_DB), 0);
}

static void test_approve_mode_timeout_proceeds_when_policy_says_so(void **state)
{
    s_fix_t *f = *state;
    f->cfg.policy.mode = SG_MODE_APPROVE;
    f->cfg.policy.proceed_on_timeout = true;
    s_start_and_kill_a_at_2s(f, 8000 + 60000);
    assert_int_equal(s_failovers(f), 2); /* group 0 */
    assert_non_null(strstr(s_find(f, SG_DECISION_FAILOVER, C_A_DB)->reason, "no operator answer"));
    s_run(f, 8000 + 120000 + 400); /* a-app waits its own approval time after group 0 */
    assert_int_equal(s_failovers(f), 3);
}

static void test_approve_mode_timeout_holds_then_late_approval_acts(void **state)
{
    s_fix_t *f = *state;
    f->cfg.policy.mode = SG_MODE_APPROVE;
    s_start_and_kill_a_at_2s(f, 8000 + 60000);
    assert_int_equal(s_failovers(f), 0);
    assert_int_equal(s_last_block(f, C_A_DB)->guard, SG_GUARD_APPROVAL_TIMEOUT);
    assert_int_equal(sg_engine_approve(f->e, C_A_DB, s_now(f->t)), 0);
    s_run(f, f->t + 400);
    assert_int_equal(s_failovers(f), 1);
}

static void test_restored_verdict_is_never_decided_again(void **state)
{
    s_fix_t *f = *state;
    s_start(f);
    sg_engine_restore(f->e, C_A_DB, SG_COLL_DONE, 0, SG_ORIGIN_ENGINE);
    sg_engine_restore(f->e, C_A_WEB, SG_COLL_DECIDED, 7, SG_ORIGIN_ENGINE);
    s_kill_a_and_run(f, 2000, 10000);
    assert_int_equal(s_failovers(f), 0); /* a-app waits for a-web */
    assert_int_equal(s_last_block(f, C_A_APP)->guard, SG_GUARD_PLAN_ORDER);
    sg_engine_run_ended(f->e, C_A_WEB, true, s_now(f->t)); /* the resumed run ends */
    s_run(f, 10400);
    assert_int_equal(s_failovers(f), 1);
    assert_int_equal(s_find(f, SG_DECISION_FAILOVER, C_A_APP)->collection, C_A_APP);
}

static void test_recovered_site_forgets_holds_but_not_failovers(void **state)
{
    s_fix_t *f = *state;
    f->cfg.policy.mode = SG_MODE_SHADOW;
    s_start_and_kill_a_at_2s(f, 8000);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_A_DB), SG_COLL_BLOCKED);
    s_revive_a(f);
    s_run(f, 20000);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_HEALTHY);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_A_DB), SG_COLL_IDLE);
}

static void test_next_deadline_tracks_site_timers(void **state)
{
    s_fix_t *f = *state;
    s_start(f);
    assert_int_equal(sg_engine_next_deadline(f->e), 600000); /* the startup grace */
    s_run(f, 200); /* one round at t=0 */
    assert_int_equal(sg_engine_next_deadline(f->e), 1000);
    f->beat[OA] = false;
    s_run(f, 1200);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_SUSPECT);
    /* A suspect: lost check at 0 + 3000; B and W heard at 1000: suspect at 2000 */
    assert_int_equal(sg_engine_next_deadline(f->e), 2000);
    f->beat[OB] = f->beat[OW] = false;
    assert_int_equal(sg_engine_tick(f->e, s_now(2000)), 0);
    assert_int_equal(sg_engine_next_deadline(f->e), 3000);
}

/* A site never heard stays silent past its start-up grace: the tick that
 * judged it has handled that time, and the next deadline lies after it, so
 * the loop waits rather than spins. */
static void test_next_deadline_never_gives_a_time_the_last_tick_reached(void **state)
{
    s_fix_t *f = *state;
    f->cfg.policy.startup_grace_ms = 1000;
    s_start(f);
    f->beat[OA] = false;
    s_run(f, 1400);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_SUSPECT);
    assert_int_equal(sg_engine_tick(f->e, s_now(1500)), 0);
    int64_t next = sg_engine_next_deadline(f->e);
    assert_true(next > 1500);
    f->beat[OB] = f->beat[OW] = false; /* nothing heard from now on */
    assert_int_equal(sg_engine_tick(f->e, s_now(900000)), 0);
    next = sg_engine_next_deadline(f->e);
    assert_true(next > 900000);
}

/* A storm: 2,500 collections of A in group 0 and 100 in group 1. A tick
 * judges at most SG_ENGINE_DECIDE_PER_TICK of them and the next goes on
 * where it stopped (due at once meanwhile), so the caller serves its bus
 * between; plan order still holds group 1 until group 0's runs end. */
static void test_storm_is_judged_over_ticks_in_plan_order(void **state)
{
    s_fix_t *f = *state;
    enum { G0 = 2500, G1 = 100, N = G0 + G1 };
    sg_collection_cfg_t *colls = calloc(N, sizeof *colls);
    bool *decided = calloc(N, sizeof *decided);
    char(*names)[16] = calloc(N, sizeof *names);
    assert_true(colls && decided && names);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "a-%d", i);
        colls[i] = (sg_collection_cfg_t){.name = names[i], .site = A, .replica_site = B,
                                         .group = i < G0 ? 0 : 1};
    }
    f->cfg.collections = colls;
    f->cfg.n_collections = N;
    f->cfg.policy.budget.max = f->cfg.policy.site_budget.max = 0; /* no budget */
    f->complete = false;
    f->tally = decided;
    s_start(f);
    s_kill_a(f, 2000);
    while (f->tallied == 0) /* until the tick that declares A lost */
        s_run(f, f->t + STEP);
    int per_tick[3] = {f->tallied, 0, 0};
    assert_int_equal(sg_engine_next_deadline(f->e), f->t - STEP); /* due at once */
    s_run(f, f->t + STEP);
    per_tick[1] = f->tallied - per_tick[0];
    assert_int_equal(sg_engine_next_deadline(f->e), f->t - STEP);
    s_run(f, f->t + STEP);
    per_tick[2] = f->tallied - per_tick[0] - per_tick[1];
    assert_int_equal(per_tick[0], SG_ENGINE_DECIDE_PER_TICK);
    assert_int_equal(per_tick[1], SG_ENGINE_DECIDE_PER_TICK);
    assert_int_equal(per_tick[2], G0 - 2 * SG_ENGINE_DECIDE_PER_TICK);
    assert_true(sg_engine_next_deadline(f->e) > f->t - STEP); /* the pass is over */
    s_run(f, f->t + 5 * STEP);
    assert_int_equal(f->tallied, G0); /* group 1 waits for group 0's runs */
    for (int i = 0; i < G1; i++)
        assert_false(decided[G0 + i]);
    for (int i = 0; i < G0; i++)
        sg_engine_run_ended(f->e, i, true, s_now(f->t));
    s_run(f, f->t + 4 * STEP);
    assert_int_equal(f->tallied, N);
    sg_engine_destroy(&f->e); /* before the config it points to */
    free(colls);
    free(decided);
    free(names);
}

#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)

/* ---- manual failover, pauses for status, reload ---- */

/* An operator's failover of `coll` (`forced`, with `reason`) is refused now
 * with words that include `text`. */
static void s_expect_manual_failover_refused(s_fix_t *f, int coll, bool forced, const char *reason,
                                             const char *text)
{
    char *why = NULL;
    assert_int_equal(
        sg_engine_manual_failover(f->e, coll, forced, reason, NULL, s_now(f->t), &why), SG_ESTATE);
    assert_non_null(why);
    assert_non_null(strstr(why, text));
    free(why);
}

static void test_manual_failover_applies_the_guards_unless_forced(void **state)
{
    s_fix_t *f = *state;
    f->complete = false;
    s_start_and_run(f, 2000);
    assert_int_equal(sg_engine_pause(f->e, B, -1, 1000000, "storage work"), 0);
    s_expect_manual_failover_refused(f, C_B_DB, false, NULL, "paused");
    char *why = NULL;
    assert_int_equal(sg_engine_manual_failover(f->e, C_B_DB, true, "", NULL, s_now(f->t), &why),
                     SG_EINVAL);
    free(why);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_B_DB), SG_COLL_IDLE);
    assert_int_equal(
        sg_engine_manual_failover(f->e, C_B_DB, true, "B failing", NULL, s_now(f->t), &why), 0);
    assert_null(why);
    s_collect(f);
    const sg_decision_t *d = s_expect_failover_saying(f, C_B_DB, "forced past the guards");
    assert_non_null(strstr(d->reason, "B failing"));
    assert_int_equal(d->target_site, A);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_B_DB), SG_COLL_DECIDED);
}

static void test_manual_failover_never_twice_even_forced(void **state)
{
    s_fix_t *f = *state;
    s_start_and_run(f, 2000);
    assert_int_equal(
        sg_engine_manual_failover(f->e, C_B_DB, false, NULL, NULL, s_now(f->t), NULL), 0);
    s_expect_manual_failover_refused(f, C_B_DB, true, "again", "in flight");
    sg_engine_run_ended(f->e, C_B_DB, true, s_now(f->t));
    s_expect_manual_failover_refused(f, C_B_DB, true, "again", "already failed over");
}

static void test_manual_failover_carries_its_own_recovery_point_into_the_decision(void **state)
{
    s_fix_t *f = *state;
    s_start_and_run(f, 2000);
    char point[] = "app";
    assert_int_equal(
        sg_engine_manual_failover(f->e, C_B_DB, true, "B failing", point, s_now(f->t), NULL), 0);
    point[0] = 'x'; /* the engine keeps its own copy */
    s_collect(f);
    const sg_decision_t *d = s_find(f, SG_DECISION_FAILOVER, C_B_DB);
    assert_non_null(d);
    assert_string_equal(d->point, "app");
    assert_non_null(strstr(d->reason, "recovery point app"));
}

static void test_decisions_without_an_override_have_no_recovery_point(void **state)
{
    s_fix_t *f = *state;
    s_start_and_run(f, 2000);
    assert_int_equal(
        sg_engine_manual_failover(f->e, C_B_DB, true, "B failing", NULL, s_now(f->t), NULL), 0);
    s_collect(f);
    const sg_decision_t *d = s_find(f, SG_DECISION_FAILOVER, C_B_DB);
    assert_non_null(d);
    assert_null(d->point);
    assert_null(strstr(d->reason, "recovery point"));
}

static void test_pause_at_lists_only_pauses_in_force(void **state)
{
    s_fix_t *f = *state;
    s_start(f);
    assert_int_equal(sg_engine_pause(f->e, A, -1, 5000, "short"), 0);
    assert_int_equal(sg_engine_pause(f->e, -1, C_B_DB, 50000, "long"), 0);
    int site, coll;
    int64_t until;
    const char *reason;
    assert_true(sg_engine_pause_at(f->e, 0, 1000, &site, &coll, &until, &reason));
    assert_int_equal(site, A);
    assert_string_equal(reason, "short");
    assert_true(sg_engine_pause_at(f->e, 0, 6000, &site, &coll, &until, &reason));
    assert_int_equal(coll, C_B_DB);
    assert_int_equal(until, 50000);
    assert_false(sg_engine_pause_at(f->e, 1, 6000, &site, &coll, &until, &reason));
}

static void test_set_config_takes_a_new_policy_but_not_new_collections(void **state)
{
    s_fix_t *f = *state;
    s_start(f);
    sg_config_t next = f->cfg;
    next.policy.mode = SG_MODE_SHADOW;
    assert_int_equal(sg_engine_set_config(f->e, &next), 0);
    s_kill_a_and_run(f, 2000, 10000);
    assert_int_equal(s_failovers(f), 0);
    assert_int_equal(s_last_block(f, C_A_DB)->guard, SG_GUARD_SHADOW);
    sg_config_t fewer = next;
    fewer.n_collections--;
    assert_int_equal(sg_engine_set_config(f->e, &fewer), SG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_site_never_heard_is_judged_after_the_startup_grace),
        T(test_site_lost_after_hold_down_with_quorum_and_witness),
        T(test_silence_without_reports_is_only_suspect),
        T(test_one_observer_down_report_makes_suspect_not_lost),
        T(test_partition_witness_sees_site_up_so_not_lost),
        T(test_witness_required_and_silent_means_not_lost),
        T(test_isolated_observer_has_no_vote),
        T(test_blind_observer_that_sees_nothing_has_no_vote),
        T(test_total_silence_freezes_decisions),
        T(test_suspect_site_heard_again_is_healthy),
        T(test_flapping_observer_shorter_than_hold_down_never_loses_site),
        T(test_an_event_received_after_the_loss_makes_the_site_recovering),
        T(test_lost_site_recovers_only_after_stable_period),
        T(test_recovering_site_silent_again_is_lost_again_only_with_quorum),
        T(test_recovering_site_with_flapping_heartbeats_stays_recovering),
        T(test_collections_decided_in_plan_order_dependencies_first),
        T(test_a_failed_dependency_waits_for_an_approval_with_on_error_wait),
        T(test_blocked_while_replica_site_not_healthy),
        T(test_replication_critical_blocks),
        T(test_lag_over_rpo_blocks_and_missing_report_blocks),
        T(test_pause_holds_until_it_expires),
        T(test_resume_lifts_a_pause),
        T(test_maintenance_window_holds_failover),
        T(test_maintenance_window_on_another_day_does_not_hold),
        T(test_maintenance_window_across_midnight_holds_the_next_morning),
        T(test_one_off_maintenance_window_ends_and_failover_follows),
        T(test_budget_counts_a_site_loss_once_however_many_collections),
        T(test_site_budget_caps_one_sites_failovers_per_period),
        T(test_cooldown_after_failback_holds_next_failover),
        T(test_a_reversed_collection_fails_over_when_its_new_primary_is_lost),
        T(test_a_redirect_is_refused_while_a_run_is_in_flight),
        T(test_a_reverted_collection_is_held_for_the_episode_but_an_operator_may_retry),
        T(test_shadow_mode_announces_but_never_decides_failover),
        T(test_approve_mode_waits_then_acts_on_approval),
        T(test_approve_mode_deny_holds),
        T(test_approve_mode_timeout_proceeds_when_policy_says_so),
        T(test_approve_mode_timeout_holds_then_late_approval_acts),
        T(test_restored_verdict_is_never_decided_again),
        T(test_recovered_site_forgets_holds_but_not_failovers),
        T(test_next_deadline_tracks_site_timers),
        T(test_next_deadline_never_gives_a_time_the_last_tick_reached),
        T(test_manual_failover_applies_the_guards_unless_forced),
        T(test_manual_failover_never_twice_even_forced),
        T(test_manual_failover_carries_its_own_recovery_point_into_the_decision),
        T(test_decisions_without_an_override_have_no_recovery_point),
        T(test_pause_at_lists_only_pauses_in_force),
        T(test_set_config_takes_a_new_policy_but_not_new_collections),
        T(test_storm_is_judged_over_ticks_in_plan_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
