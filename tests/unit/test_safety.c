/* Safety of the policy engine: one test per way an earlier engine failed a
 * live site over or missed a real loss (each fails on that engine), run on
 * the simulated world (tools/world.h) with the real engine, its proof
 * before every call and its runs.
 *
 * Unless a test says otherwise: one observer per site, a heartbeat every
 * second, suspect after 1 s, hold-down 3 s, vote_hold 2 s, reports count for
 * 3 s, quorum 2 with the witness; runs are called 200 ms after their
 * decision (after their proof) and their jobs take 1 s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "journal/journal.h"
#include "journal/opstate.h"
#include "policy/engine.h"
#include "tools/world.h"
#include "sg_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WALL0 1800000000000LL
#define MAX_COLLS 8
#define MAX_SITES 6

typedef struct {
    sg_config_t *cfg;
    sg_world_t *w;
    sg_engine_t *e;
    int decided[MAX_COLLS], called[MAX_COLLS], cancelled[MAX_COLLS], done[MAX_COLLS];
    int64_t decided_at[MAX_COLLS]; /* first FAILOVER decision, -1 none */
    uint64_t run_id[MAX_COLLS];    /* of the last FAILOVER decision */
    int lost[MAX_SITES], contested[MAX_SITES], recovering[MAX_SITES];
    int64_t lost_at[MAX_SITES]; /* last declared lost, -1 never */
    int notices;
    char notice[512];
    char cancel_why[512];
} s_fx_t;

/* A config: `sites_obs` gives the sites and observers, `colls` the
 * collections, `policy` extra policy lines (indented by two spaces; budgets
 * of 100 unless it sets its own). */
static sg_config_t *s_config(const char *sites_obs, const char *colls, const char *policy)
{
    char text[8192];
    snprintf(text, sizeof text,
             "%s"
             "collections:\n%s"
             "policy:\n"
             "  suspect_after: 1s\n"
             "  hold_down: 3s\n"
             "  vote_hold: 2s\n"
             "  report_max_age: 3s\n"
             "  cooldown: 0s\n"
             "%s"
             "%s",
             sites_obs, colls,
             policy && strstr(policy, "budget") ? ""
                                                : "  budget: {max: 100, period: 1h}\n"
                                                  "  site_budget: {max: 100, period: 1h}\n",
             policy ? policy : "");
    sg_config_t *cfg = NULL;
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    int rc = sg_config_load_string("safety.yaml", text, strlen(text), &cfg, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.items[i]);
    sg_config_errors_fini(&errs);
    assert_int_equal(rc, SG_OK);
    return cfg;
}

#define ABW_SITES                                                                               \
    "sites: [{name: A}, {name: B}, {name: W, witness: true}]\n"                                \
    "observers: [{id: a1, site: A}, {id: b1, site: B}, {id: w1, site: W}]\n"

#define COLL(name, site, replica, extra)                                                        \
    "  - {name: " name ", cim_path: 'Msvm_VirtualSystemCollection.CollectionID=\"" name        \
    "\"', site: " site ", replica_site: " replica extra "}\n"

#define A_COLLS COLL("a-db", "A", "B", "") COLL("a-app", "A", "B", ", group: 1") \
    COLL("b-db", "B", "A", "")

enum { A, B, W };
enum { C_DB, C_APP, C_BDB };

static void s_on_decision(void *user, const sg_decision_t *d)
{
    s_fx_t *f = user;
    switch (d->kind) {
    case SG_DECISION_FAILOVER:
        if (f->decided[d->collection]++ == 0)
            f->decided_at[d->collection] = d->at.mono;
        f->run_id[d->collection] = d->run_id;
        break;
    case SG_DECISION_SITE_LOST:
        f->lost[d->site]++;
        f->lost_at[d->site] = d->at.mono;
        break;
    case SG_DECISION_SITE_CONTESTED: f->contested[d->site]++; break;
    case SG_DECISION_SITE_RECOVERING: f->recovering[d->site]++; break;
    case SG_DECISION_NOTICE:
        f->notices++;
        snprintf(f->notice, sizeof f->notice, "%s", d->reason);
        break;
    default: break;
    }
}

static void s_on_run(void *user, sg_world_run_event_t what, int c, uint64_t run_id, sg_now_t at,
                     const char *why)
{
    s_fx_t *f = user;
    (void)run_id;
    (void)at;
    if (what == SG_WORLD_RUN_CALLED)
        f->called[c]++;
    else if (what == SG_WORLD_RUN_DONE)
        f->done[c]++;
    else if (what == SG_WORLD_RUN_CANCELLED) {
        f->cancelled[c]++;
        snprintf(f->cancel_why, sizeof f->cancel_why, "%s", why ? why : "");
    }
}

static s_fx_t *s_fx(sg_config_t *cfg, int siteguard_site)
{
    s_fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->cfg = cfg;
    for (int i = 0; i < MAX_COLLS; i++)
        f->decided_at[i] = -1;
    for (int i = 0; i < MAX_SITES; i++)
        f->lost_at[i] = -1;
    f->w = sg_world_new(cfg, WALL0, 7);
    assert_non_null(f->w);
    sg_world_set_interval(f->w, 1000);
    sg_world_set_step(f->w, 100);
    sg_world_set_runs(f->w, 200, 1000);
    sg_world_set_siteguard_site(f->w, siteguard_site);
    sg_world_on_runs(f->w, s_on_run, f);
    f->e = sg_engine_new(cfg, 0, sg_world_time(f->w));
    assert_non_null(f->e);
    return f;
}

static void s_free(s_fx_t *f)
{
    sg_engine_destroy(&f->e);
    sg_world_destroy(&f->w);
    sg_config_destroy(&f->cfg);
    free(f);
}

static void s_run(s_fx_t *f, int64_t until)
{
    assert_int_equal(sg_world_run(f->w, f->e, until, s_on_decision, f), SG_OK);
}

static sg_now_t s_now(const s_fx_t *f) { return sg_world_time(f->w); }

/* Site `site` dies, the world runs to `until`. */
static void s_down_until(s_fx_t *f, int site, int64_t until)
{
    sg_world_site_up(f->w, site, false);
    s_run(f, until);
}

/* The world runs to `at`, site `site` dies, the world runs to `until`. */
static void s_lose(s_fx_t *f, int site, int64_t at, int64_t until)
{
    s_run(f, at);
    s_down_until(f, site, until);
}

/* A replication report for collection c from observer o, received now. */
static void s_repl(s_fx_t *f, int o, int c, int health, uint64_t lag_s, int64_t last_replicated)
{
    sg_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SG_EV_REPLICATION;
    ev.observer = o;
    ev.site = f->cfg->observers[o].site;
    ev.seq = 1;
    ev.sent_at_ms = s_now(f).wall;
    ev.u.repl.collection = c;
    ev.u.repl.health = health;
    ev.u.repl.lag_s = lag_s;
    ev.u.repl.last_replicated_ms = last_replicated;
    assert_int_equal(sg_engine_on_event(f->e, &ev, s_now(f)), SG_OK);
}

/* The ABW world with A_COLLS and the `policy` lines, siteguard at
 * `siteguard_site` (-1: nowhere in particular). */
static s_fx_t *s_abw(const char *policy, int siteguard_site)
{
    return s_fx(s_config(ABW_SITES, A_COLLS, policy), siteguard_site);
}

#define APPROVE_20S_THEN_PROCEED \
    "  mode: approve\n  approval_timeout: 20s\n  on_approval_timeout: proceed\n"

/* The engine explains site `site` with words that include `text`. */
static void s_expect_site_explained(s_fx_t *f, int site, const char *text)
{
    char *why = sg_engine_explain_site(f->e, site, s_now(f));
    assert_non_null(strstr(why, text));
    free(why);
}

/* The engine explains collection c with words that include `text`. */
static void s_expect_collection_explained(s_fx_t *f, int c, const char *text)
{
    char *why = sg_engine_explain_collection(f->e, c, s_now(f));
    assert_non_null(strstr(why, text));
    free(why);
}

/* The proof refuses run `run` of collection c now, saying `text`. */
static void s_expect_refused(s_fx_t *f, int c, uint64_t run, const char *text)
{
    char *why = NULL;
    assert_int_equal(sg_engine_confirm(f->e, c, run, s_now(f), &why), SG_ESTATE);
    assert_non_null(strstr(why, text));
    free(why);
}

/* The proof refuses a drill's test of collection c now, saying `text`. */
static void s_expect_drill_refused(s_fx_t *f, int c, const char *text)
{
    char *why = NULL;
    assert_int_equal(sg_engine_confirm_drill(f->e, c, s_now(f), &why), SG_ESTATE);
    assert_non_null(strstr(why, text));
    free(why);
}

#define NO_TIME (-1) /* a replication report without a last-replicated time */

/* The ABW world with a-db alone, under an RPO limit of 5 minutes: at 5 s
 * observer o reports a-db's replication (see s_repl) with the last change
 * replicated `replicated_ago_ms` before (or NO_TIME), A dies, and the world
 * runs to 15 s. */
static s_fx_t *s_a_db_lost_after_a_report(int o, int health, uint64_t lag_s,
                                          int64_t replicated_ago_ms)
{
    s_fx_t *f = s_fx(s_config(ABW_SITES, COLL("a-db", "A", "B", ", rpo_limit: 5m"), NULL), -1);
    s_run(f, 5000);
    s_repl(f, o, C_DB, health, lag_s,
           replicated_ago_ms == NO_TIME ? 0 : s_now(f).wall - replicated_ago_ms);
    s_down_until(f, A, 15000);
    return f;
}

/* ---- 1. queued runs ------------------------------------------------------------ */

/* A run decided on A's loss waits (its call 3 s later: workers busy); A is
 * heard again meanwhile: the run is cancelled and InitiateFailover is never
 * called. */
static void test_a_queued_run_is_not_called_after_its_site_is_heard_again(void **state)
{
    (void)state;
    s_fx_t *f = s_abw(NULL, -1);
    sg_world_set_runs(f->w, 3000, 1000);
    s_lose(f, A, 10000, 15000);
    assert_int_equal(f->lost[A], 1);
    assert_int_equal(f->decided[C_DB], 1);
    assert_int_equal(f->called[C_DB], 0); /* still queued */
    sg_world_site_up(f->w, A, true);
    s_run(f, 30000);
    assert_int_equal(f->recovering[A], 1);
    assert_int_equal(f->called[C_DB], 0);
    assert_int_equal(f->cancelled[C_DB], 1);
    assert_int_equal(f->decided[C_APP], 0); /* the later group never came */
    assert_int_equal(sg_engine_collection_verdict(f->e, C_DB), SG_COLL_IDLE);
    s_free(f);
}

/* The later plan group is decided only once the earlier one is failed over,
 * and not at all when the site is heard again meanwhile. */
static void test_a_later_group_is_not_decided_after_its_site_is_heard_again(void **state)
{
    (void)state;
    s_fx_t *f = s_abw(NULL, -1);
    sg_world_set_runs(f->w, 200, 6000); /* a-db's job takes 6 s */
    s_lose(f, A, 10000, 16000);
    assert_int_equal(f->called[C_DB], 1);
    assert_int_equal(f->decided[C_APP], 0); /* waits for a-db */
    sg_world_site_up(f->w, A, true);
    s_run(f, 40000);
    assert_int_equal(f->done[C_DB], 1); /* a run already called is followed to its end */
    assert_int_equal(f->decided[C_APP], 0);
    assert_int_equal(f->called[C_APP], 0);
    s_free(f);
}

/* ---- 2. a latched verdict --------------------------------------------------------- */

/* siteguard runs at B. A dies and is lost; a-db is paused. A comes back but
 * the A-B link is down: siteguard cannot hear A, B sees it down, the witness
 * sees it up. The loss no longer holds: A is contested, and a-db does not
 * fail over when its pause ends. */
static void test_a_lost_site_seen_up_again_is_contested_and_held_collections_stay(void **state)
{
    (void)state;
    s_fx_t *f = s_abw(NULL, B);
    s_run(f, 5000);
    assert_int_equal(sg_engine_pause(f->e, -1, C_DB, s_now(f).mono + 60000, "checking"), 0);
    s_down_until(f, A, 12000);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_LOST);
    sg_world_link_up(f->w, A, B, false);
    sg_world_site_up(f->w, A, true);
    s_run(f, 14000);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_CONTESTED);
    assert_int_equal(f->contested[A], 1);
    s_run(f, 90000); /* the pause ended at 65 s */
    assert_int_equal(f->called[C_DB], 0);
    assert_int_equal(f->decided[C_DB], 0);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_CONTESTED);
    s_free(f);
}

/* A world of `sites_obs` (sites A, B, C, W in that order) with a-db,
 * siteguard at C; at 2 s, A is cut off from C and W. */
static s_fx_t *s_a_cut_off_from_c_and_w(const char *sites_obs)
{
    s_fx_t *f = s_fx(s_config(sites_obs, COLL("a-db", "A", "B", ""), NULL), 2);
    s_run(f, 2000);
    sg_world_link_up(f->w, A, 2, false);
    sg_world_link_up(f->w, A, 3, false);
    return f;
}

/* The A-B link is down from now until `until`, then up again. */
static void s_blip_the_a_b_link(s_fx_t *f, int64_t until)
{
    sg_world_link_up(f->w, A, B, false);
    s_run(f, until);
    sg_world_link_up(f->w, A, B, true);
}

static void s_expect_a_not_lost_and_a_db_not_called(s_fx_t *f)
{
    assert_int_equal(f->lost[A], 0);
    assert_int_equal(f->called[C_DB], 0);
}

/* ---- 3. one observer's down hides another's up ------------------------------------ */

#define ABCW_TWO_AT_B                                                                         \
    "sites: [{name: A}, {name: B}, {name: C}, {name: W, witness: true}]\n"                   \
    "observers: [{id: a1, site: A}, {id: b1, site: B}, {id: b2, site: B}, {id: c1, site: C}," \
    " {id: w1, site: W}]\n"

/* A is cut off from C, W and siteguard (at C), but alive: B's two
 * observers see it. b1 catches a 0.1 s blip of the A-B link (its one report
 * says down); b2's report says up. B's up vote must stand: A is not lost. */
static void test_one_observers_blip_does_not_hide_another_observers_up(void **state)
{
    (void)state;
    s_fx_t *f = s_a_cut_off_from_c_and_w(ABCW_TWO_AT_B);
    s_run(f, 12150); /* C and W have voted A down for long; siteguard has not heard A */
    s_blip_the_a_b_link(f, 12250); /* b1 sends at k s + 200 ms, b2 at + 400 ms */
    s_run(f, 40000);
    s_expect_a_not_lost_and_a_db_not_called(f);
    s_expect_site_explained(f, A, "site B votes up");
    s_free(f);
}

/* ---- 4. down votes have a hold-down -------------------------------------------------- */

#define ABCW_SITES                                                                            \
    "sites: [{name: A}, {name: B}, {name: C}, {name: W, witness: true}]\n"                   \
    "observers: [{id: a1, site: A}, {id: b1, site: B}, {id: c1, site: C}, {id: w1, site: W}]\n"

/* A is cut off from C, W and siteguard (at C); only B sees it. One failed
 * probe at B (a 0.5 s blip) must not complete the quorum of C and W. */
static void test_a_single_failed_probe_does_not_complete_the_quorum(void **state)
{
    (void)state;
    s_fx_t *f = s_a_cut_off_from_c_and_w(ABCW_SITES);
    s_run(f, 12000);
    assert_int_equal(f->lost[A], 0);
    s_blip_the_a_b_link(f, 12500); /* b1 probes at 12.25 s */
    s_run(f, 40000);
    s_expect_a_not_lost_and_a_db_not_called(f);
    s_free(f);
}

/* siteguard at B; A-B is cut, so siteguard does not hear A and B sees it
 * down. The witness was away; its first probe after it rejoins fails (the
 * A-W link is still coming up), the next ones see A up. That first report
 * must not decide a loss. */
static void test_a_witness_first_report_after_rejoining_decides_nothing(void **state)
{
    (void)state;
    s_fx_t *f = s_abw(NULL, B);
    s_run(f, 2000);
    sg_world_observer_up(f->w, W, false);
    sg_world_link_up(f->w, A, B, false);
    s_run(f, 19000);
    sg_world_link_up(f->w, A, W, false);
    sg_world_observer_up(f->w, W, true); /* w1 sends at k s + 666 ms */
    s_run(f, 19700); /* its first probe, at 19.666 s, fails */
    sg_world_link_up(f->w, A, W, true);
    s_run(f, 40000);
    s_expect_a_not_lost_and_a_db_not_called(f);
    s_free(f);
}

/* ---- 5. plan order --------------------------------------------------------------------- */

/* a-app depends on a-db; a-db is held back by its RPO limit: a-app waits. */
static void test_a_dependency_held_by_its_rpo_keeps_its_dependents_back(void **state)
{
    (void)state;
    s_fx_t *f = s_fx(s_config(ABW_SITES,
                              COLL("a-db", "A", "B", ", rpo_limit: 5m")
                                  COLL("a-app", "A", "B", ", depends_on: [a-db]"),
                              NULL),
                     -1);
    sg_world_replication(f->w, C_DB, 2, 600); /* 10 minutes behind */
    s_lose(f, A, 5000, 30000);
    assert_int_equal(f->lost[A], 1);
    assert_int_equal(f->called[C_DB], 0);
    assert_int_equal(f->called[C_APP], 0);
    assert_int_equal(f->decided[C_APP], 0);
    s_expect_collection_explained(f, C_APP, "HOLD plan_order");
    s_expect_collection_explained(f, C_APP, "waits for its dependency a-db");
    s_free(f);
}

/* ---- 6. every loss is a new loss --------------------------------------------------- */

/* Approve mode, 20 s to answer, then proceed. A is lost, briefly back,
 * then lost again: the new loss gets its own 20 s. */
static void test_a_new_loss_gets_a_new_approval_window(void **state)
{
    (void)state;
    s_fx_t *f = s_abw(APPROVE_20S_THEN_PROCEED, -1);
    s_lose(f, A, 5000, 12000);
    assert_int_equal(f->lost[A], 1);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_DB), SG_COLL_AWAITING);
    sg_world_site_up(f->w, A, true); /* briefly back */
    s_run(f, 15000);
    assert_int_equal(f->recovering[A], 1);
    s_down_until(f, A, 22000);
    assert_int_equal(f->lost[A], 2);
    int64_t second = f->lost_at[A];
    s_run(f, second + 19000);
    assert_int_equal(f->decided[C_DB], 0); /* the first loss's deadline is gone */
    s_run(f, second + 21000);
    assert_int_equal(f->decided[C_DB], 1);
    assert_true(f->decided_at[C_DB] >= second + 20000);
    s_free(f);
}

/* An approval belongs to its loss: approved while a guard held the
 * collection, then A came back and was lost again: a new approval is
 * needed. */
static void test_an_approval_does_not_carry_over_to_the_next_loss(void **state)
{
    (void)state;
    s_fx_t *f = s_abw("  mode: approve\n  approval_timeout: 10m\n", -1);
    s_lose(f, A, 5000, 12000);
    assert_int_equal(sg_engine_pause(f->e, -1, C_DB, s_now(f).mono + 5000, "one moment"), 0);
    assert_int_equal(sg_engine_approve(f->e, C_DB, s_now(f)), 0);
    s_run(f, 13000); /* approved, but paused: not decided */
    assert_int_equal(f->decided[C_DB], 0);
    sg_world_site_up(f->w, A, true);
    s_lose(f, A, 15000, 60000);
    assert_int_equal(f->lost[A], 2);
    assert_int_equal(f->decided[C_DB], 0);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_DB), SG_COLL_AWAITING);
    s_free(f);
}

/* ---- 7. clock skew ------------------------------------------------------------------- */

/* The witness's clock is 4 s behind, and so is B's (the replica site):
 * liveness is judged by receive time, so both still count; A's loss fails
 * over; the offsets are measured and announced. */
static void test_observers_with_skewed_clocks_still_count(void **state)
{
    (void)state;
    s_fx_t *f = s_abw(NULL, -1);
    sg_world_skew(f->w, W, -4000);
    sg_world_skew(f->w, B, -4000);
    s_run(f, 5000);
    int64_t skew = 0;
    assert_true(sg_engine_observer_skew(f->e, W, &skew));
    assert_true(skew >= 4000 && skew <= 4100);
    assert_true(f->notices >= 2);
    assert_non_null(strstr(f->notice, "4.0 s behind"));
    s_down_until(f, A, 20000);
    assert_int_equal(f->lost[A], 1);
    assert_int_equal(f->called[C_DB], 1);
    s_expect_site_explained(f, A, "clock offset +4.0 s");
    s_free(f);
}

/* ---- 8. a site dead at start ----------------------------------------------------------- */

/* A is down before siteguard starts (or takes over): after the startup
 * grace it counts as silent since start and is lost with the usual quorum. */
static void test_a_site_dead_before_start_is_lost_after_the_startup_grace(void **state)
{
    (void)state;
    s_fx_t *f = s_abw("  startup_grace: 5s\n", -1);
    s_down_until(f, A, 4900);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_UNKNOWN);
    s_run(f, 20000);
    assert_int_equal(f->lost[A], 1);
    assert_true(f->lost_at[A] >= 5000 && f->lost_at[A] <= 5200);
    assert_int_equal(f->called[C_DB], 1);
    s_free(f);
}

/* ---- 9. siteguard cut off with the witness ---------------------------------------------- */

/* siteguard runs at the witness's location; both data sites are cut off
 * from it at once. The witness reports both down; siteguard hears neither:
 * it declares nothing, and says so. */
static void test_siteguard_cut_off_with_the_witness_declares_nothing(void **state)
{
    (void)state;
    s_fx_t *f = s_abw("  quorum: 1\n", W);
    s_run(f, 10000);
    sg_world_link_up(f->w, W, A, false);
    sg_world_link_up(f->w, W, B, false);
    s_run(f, 60000);
    assert_int_equal(f->lost[A] + f->lost[B], 0);
    assert_int_equal(f->called[C_DB] + f->called[C_BDB], 0);
    assert_non_null(strstr(f->notice, "hears no data site"));
    s_free(f);
}

/* ---- 10. the RPO guard ------------------------------------------------------------------ */

static int s_first_block(s_fx_t *f, int c, sg_guard_t *g)
{
    char *why = sg_engine_explain_collection(f->e, c, s_now(f));
    assert_non_null(why);
    int held = strstr(why, "HOLD") != NULL;
    *g = SG_GUARD_NONE;
    for (int k = SG_GUARD_PAUSED; k < SG_GUARD_COUNT && held; k++) {
        char pat[64];
        snprintf(pat, sizeof pat, "HOLD %s", sg_guard_name((sg_guard_t)k));
        if (strstr(why, pat)) {
            *g = (sg_guard_t)k;
            break;
        }
    }
    free(why);
    return held;
}

/* Collection c is held, first by guard `guard`. */
static void s_expect_held_first_by(s_fx_t *f, int c, sg_guard_t guard)
{
    sg_guard_t g;
    assert_true(s_first_block(f, c, &g));
    assert_int_equal(g, guard);
}

/* Collection c was not called: it is held, first by guard `guard`. */
static void s_expect_not_called_but_held_first_by(s_fx_t *f, int c, sg_guard_t guard)
{
    assert_int_equal(f->called[c], 0);
    s_expect_held_first_by(f, c, guard);
}

/* A lag of 2^63 s or UINT64_MAX s (from the wire, if ingest let it pass)
 * saturates instead of wrapping: it is over any limit. */
static void test_a_huge_lag_does_not_wrap_past_the_rpo_limit(void **state)
{
    (void)state;
    const uint64_t lags[] = {1ull << 63, UINT64_MAX, UINT64_MAX / 1000 + 1};
    for (size_t i = 0; i < sizeof lags / sizeof lags[0]; i++) {
        s_fx_t *f = s_a_db_lost_after_a_report(B, 1, lags[i], NO_TIME);
        assert_int_equal(f->lost[A], 1);
        s_expect_not_called_but_held_first_by(f, C_DB, SG_GUARD_RPO);
        s_free(f);
    }
}

/* The reported lag is small, but the last replicated change is 10 minutes
 * old: the guard takes the larger. */
static void test_the_rpo_guard_reads_the_last_replicated_time(void **state)
{
    (void)state;
    s_fx_t *f = s_a_db_lost_after_a_report(B, 1, 5, 600000);
    s_expect_not_called_but_held_first_by(f, C_DB, SG_GUARD_RPO);
    s_free(f);
}

/* A report from an observer at neither of the collection's sites (here the
 * witness) is no evidence: the RPO limit still wants a report. */
static void test_a_replication_report_from_another_site_is_no_evidence(void **state)
{
    (void)state;
    s_fx_t *f = s_a_db_lost_after_a_report(W, 1, 1, NO_TIME);
    s_expect_not_called_but_held_first_by(f, C_DB, SG_GUARD_NO_REPLICATION_DATA);
    s_free(f);
}

/* A critical replication health stands until a newer report says
 * otherwise, however old it is, also without an RPO limit. */
static void test_a_stale_critical_health_still_holds(void **state)
{
    (void)state;
    s_fx_t *f = s_fx(s_config(ABW_SITES, COLL("a-db", "A", "B", ""),
                              "  replication_max_age: 10s\n"),
                     -1);
    s_run(f, 5000);
    s_repl(f, B, C_DB, 3, 1, 0);
    s_run(f, 30000); /* the report is 25 s old: beyond replication_max_age */
    s_down_until(f, A, 45000);
    assert_int_equal(f->lost[A], 1);
    s_expect_not_called_but_held_first_by(f, C_DB, SG_GUARD_REPLICATION_CRITICAL);
    s_free(f);
}

/* ---- 11. operator state is durable --------------------------------------------------- */

/* The operator state goes through its JSON text and a real SQLite journal
 * into a new engine: a pause, a denial and a spent site budget all hold
 * after the restart. */
static void test_operator_state_survives_a_restart_through_the_journal(void **state)
{
    (void)state;
    sg_fixture_dir_t tmp; /* holds a journal */
    sg_fixture_dir_new(&tmp, "sg-test-safety-");
    s_fx_t *f = s_abw("  site_budget: {max: 1, period: 1h}\n", -1);
    s_run(f, 5000);
    s_down_until(f, A, 20000); /* A's loss spends A's budget of one */
    assert_int_equal(f->called[C_DB], 1);
    assert_int_equal(sg_engine_pause(f->e, B, -1, s_now(f).mono + 1800000, "work at B"), 0);
    sg_opstate_t st;
    assert_int_equal(sg_engine_opstate_export(f->e, s_now(f), &st), SG_OK);
    char *text = sg_opstate_to_json(&st, f->cfg);
    sg_opstate_fini(&st);
    assert_non_null(text);
    sg_journal_t *j = sg_journal_open(tmp.journal);
    assert_non_null(j);
    assert_int_equal(sg_journal_opstate_put(j, text, s_now(f).wall), SG_OK);
    free(text);
    sg_journal_close(&j);

    /* the restart: a new engine, the state read back from the file */
    sg_engine_destroy(&f->e);
    f->e = sg_engine_new(f->cfg, 100, s_now(f));
    assert_non_null(f->e);
    j = sg_journal_open(tmp.journal);
    assert_non_null(j);
    assert_int_equal(sg_journal_opstate_get(j, &text), SG_OK);
    sg_journal_close(&j);
    size_t skipped = 99;
    assert_int_equal(sg_opstate_from_json(text, f->cfg, &st, &skipped), SG_OK);
    free(text);
    assert_int_equal(skipped, 0);
    assert_int_equal(sg_engine_opstate_import(f->e, &st, s_now(f)), SG_OK);
    sg_opstate_fini(&st);
    int site, coll;
    int64_t until;
    const char *reason;
    assert_true(sg_engine_pause_at(f->e, 0, s_now(f).mono, &site, &coll, &until, &reason));
    assert_int_equal(site, B);
    assert_string_equal(reason, "work at B");
    assert_int_equal(sg_engine_collection_verdict(f->e, C_DB), SG_COLL_DONE); /* failed over */

    /* A is back, then lost again within the hour: its budget is spent */
    sg_world_site_up(f->w, A, true);
    s_run(f, 60000);
    sg_engine_reset_collection(f->e, C_DB, s_now(f)); /* failed back */
    s_down_until(f, A, 80000);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_LOST);
    assert_int_equal(f->called[C_DB], 1);
    s_expect_held_first_by(f, C_DB, SG_GUARD_SITE_BUDGET);
    s_free(f);
    sg_test_rmtree(tmp.dir);
}

/* A denial belongs to its loss episode and survives a restart within it:
 * the restarted engine, with A still lost, keeps the collection denied
 * rather than awaiting (and, at the deadline, proceeding). */
static void test_a_denial_survives_a_restart_within_its_loss(void **state)
{
    (void)state;
    s_fx_t *f = s_abw(APPROVE_20S_THEN_PROCEED, -1);
    s_lose(f, A, 5000, 12000);
    assert_int_equal(sg_engine_deny(f->e, C_DB, s_now(f)), 0);
    assert_int_equal(sg_world_restart(f->w, &f->e), SG_OK);
    s_run(f, 90000);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_LOST);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_DB), SG_COLL_DENIED);
    assert_int_equal(f->called[C_DB], 0);
    s_free(f);
}

/* ---- 12. run ids ------------------------------------------------------------------------ */

/* Run ids go on from the largest the journal has used, whatever the clock
 * says: after the clock stepped back, a new decision still gets a new id and
 * is journaled. */
static void test_run_ids_go_on_from_the_journal_not_the_clock(void **state)
{
    (void)state;
    sg_fixture_dir_t tmp; /* holds a journal */
    sg_fixture_dir_new(&tmp, "sg-test-safety-");
    sg_journal_t *j = sg_journal_open(tmp.journal);
    assert_non_null(j);
    /* ids an earlier build made from the wall clock, an hour ahead of now */
    uint64_t clocky = (uint64_t)(WALL0 + 3600000) * 1000;
    assert_int_equal(sg_journal_decided(j, clocky, "a-db", "p", WALL0), SG_OK);
    assert_int_equal(sg_journal_decided(j, clocky + 1, "a-app", "p", WALL0), SG_OK);
    uint64_t base = 0;
    assert_int_equal(sg_journal_max_run_id(j, &base), SG_OK);
    assert_int_equal(base, clocky + 1);
    s_fx_t *f = s_abw(NULL, -1);
    sg_engine_destroy(&f->e);
    f->e = sg_engine_new(f->cfg, base, s_now(f));
    assert_non_null(f->e);
    s_lose(f, A, 5000, 12000);
    assert_int_equal(f->lost[A], 1);
    /* the decision took the next id, and the journal takes it */
    assert_int_equal(f->run_id[C_DB], clocky + 2);
    assert_int_equal(sg_journal_decided(j, f->run_id[C_DB], "a-db", "p", WALL0), SG_OK);
    assert_int_equal(sg_engine_collection_verdict(f->e, C_DB), SG_COLL_DONE);
    sg_journal_close(&j);
    s_free(f);
    sg_test_rmtree(tmp.dir);
}

/* A decision whose run is cancelled (for instance because the journal
 * refused it) is decided again with a new id. */
static void test_a_cancelled_run_is_decided_again_with_a_new_id(void **state)
{
    (void)state;
    sg_config_t *cfg = s_config(ABW_SITES, A_COLLS, NULL);
    sg_world_t *w = sg_world_new(cfg, WALL0, 1);
    sg_engine_t *e = sg_engine_new(cfg, 41, sg_world_time(w));
    assert_non_null(w);
    assert_non_null(e);
    sg_world_site_up(w, A, false);
    sg_decision_t d;
    uint64_t first = 0, second = 0;
    for (int64_t t = 100; t <= 20000 && !second; t += 100) {
        sg_now_t now = {t, WALL0 + t};
        sg_event_t hb = {.kind = SG_EV_HEARTBEAT, .observer = B, .site = B, .sent_at_ms = now.wall};
        sg_event_t down = {.kind = SG_EV_REACHABILITY, .observer = B, .site = B,
                           .sent_at_ms = now.wall, .u.reach = {.target_site = A, .up = false}};
        sg_event_t whb = hb, wdown = down;
        whb.observer = wdown.observer = W;
        whb.site = wdown.site = W;
        assert_int_equal(sg_engine_on_event(e, &hb, now), 0);
        assert_int_equal(sg_engine_on_event(e, &down, now), 0);
        assert_int_equal(sg_engine_on_event(e, &whb, now), 0);
        assert_int_equal(sg_engine_on_event(e, &wdown, now), 0);
        if (t == 200) { /* A was heard once, then never again */
            sg_event_t ahb = {.kind = SG_EV_HEARTBEAT, .observer = A, .site = A,
                              .sent_at_ms = now.wall};
            assert_int_equal(sg_engine_on_event(e, &ahb, now), 0);
        }
        assert_int_equal(sg_engine_tick(e, now), 0);
        while (sg_engine_next(e, &d)) {
            if (d.kind == SG_DECISION_FAILOVER && d.collection == C_DB) {
                if (!first) {
                    first = d.run_id;
                    sg_engine_run_cancelled(e, C_DB, first); /* not carried out */
                } else {
                    second = d.run_id;
                }
            }
            sg_decision_fini(&d);
        }
    }
    assert_int_equal(first, 42);
    assert_int_equal(second, 43);
    sg_engine_destroy(&e);
    sg_world_destroy(&w);
    sg_config_destroy(&cfg);
}

/* ---- the proof itself -------------------------------------------------------------------- */

static void s_reach(s_fx_t *f, int o, int target, bool up)
{
    sg_event_t ev = {.kind = SG_EV_REACHABILITY, .observer = o, .site = f->cfg->observers[o].site,
                     .sent_at_ms = s_now(f).wall, .u.reach = {.target_site = target, .up = up}};
    assert_int_equal(sg_engine_on_event(f->e, &ev, s_now(f)), SG_OK);
}

/* sg_engine_confirm counts the quorum again at the moment of the call, from
 * what was received since the last tick: one up report is enough to refuse;
 * so is A heard again. */
static void test_the_proof_counts_the_quorum_at_the_moment_of_the_call(void **state)
{
    (void)state;
    s_fx_t *f = s_abw(NULL, -1);
    sg_world_set_runs(f->w, 600000, 1000); /* the call would come much later */
    s_lose(f, A, 5000, 10000);
    assert_int_equal(f->decided[C_DB], 1);
    uint64_t run = f->run_id[C_DB];
    assert_int_equal(sg_engine_confirm(f->e, C_DB, run, s_now(f), NULL), SG_OK);
    s_reach(f, W, A, true); /* received after the last tick */
    s_expect_refused(f, C_DB, run, "no longer holds");
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_LOST); /* the proof changes nothing */
    s_free(f);

    f = s_abw(NULL, -1);
    sg_world_set_runs(f->w, 600000, 1000);
    s_lose(f, A, 5000, 10000);
    run = f->run_id[C_DB];
    sg_event_t hb = {.kind = SG_EV_HEARTBEAT, .observer = A, .site = A, .seq = 99,
                     .sent_at_ms = s_now(f).wall};
    assert_int_equal(sg_engine_on_event(f->e, &hb, s_now(f)), SG_OK);
    s_expect_refused(f, C_DB, run, "heard again");
    s_free(f);
}

/* An operator's forced run needs no loss; an operator's run that is not
 * forced needs its guards to pass at the call; a drill's test needs every
 * site healthy. */
static void test_the_proof_of_operators_runs_and_drills(void **state)
{
    (void)state;
    s_fx_t *f = s_abw(NULL, -1);
    s_run(f, 5000);
    assert_int_equal(sg_engine_confirm_drill(f->e, C_DB, s_now(f), NULL), SG_OK);
    assert_int_equal(sg_engine_manual_failover(f->e, C_BDB, false, NULL, NULL, s_now(f), NULL),
                     SG_OK);
    sg_decision_t d;
    assert_true(sg_engine_next(f->e, &d));
    uint64_t run = d.run_id;
    sg_decision_fini(&d);
    assert_int_equal(sg_engine_confirm(f->e, C_BDB, run, s_now(f), NULL), SG_OK);
    assert_int_equal(sg_engine_pause(f->e, B, -1, s_now(f).mono + 60000, "hold"), SG_OK);
    s_expect_refused(f, C_BDB, run, "paused");
    assert_int_equal(sg_engine_confirm(f->e, C_BDB, run + 1, s_now(f), NULL), SG_ESTATE);
    sg_engine_run_cancelled(f->e, C_BDB, run);
    assert_int_equal(
        sg_engine_manual_failover(f->e, C_BDB, true, "B storage", NULL, s_now(f), NULL), SG_OK);
    assert_true(sg_engine_next(f->e, &d));
    assert_int_equal(d.origin, SG_ORIGIN_FORCED);
    assert_int_equal(sg_engine_confirm(f->e, C_BDB, d.run_id, s_now(f), NULL), SG_OK);
    sg_decision_fini(&d);
    s_down_until(f, A, 15000);
    assert_int_equal(sg_engine_site_state(f->e, A), SG_SITE_LOST);
    s_expect_drill_refused(f, C_BDB, "site A is lost");
    s_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_queued_run_is_not_called_after_its_site_is_heard_again),
        cmocka_unit_test(test_a_later_group_is_not_decided_after_its_site_is_heard_again),
        cmocka_unit_test(test_a_lost_site_seen_up_again_is_contested_and_held_collections_stay),
        cmocka_unit_test(test_one_observers_blip_does_not_hide_another_observers_up),
        cmocka_unit_test(test_a_single_failed_probe_does_not_complete_the_quorum),
        cmocka_unit_test(test_a_witness_first_report_after_rejoining_decides_nothing),
        cmocka_unit_test(test_a_dependency_held_by_its_rpo_keeps_its_dependents_back),
        cmocka_unit_test(test_a_new_loss_gets_a_new_approval_window),
        cmocka_unit_test(test_an_approval_does_not_carry_over_to_the_next_loss),
        cmocka_unit_test(test_observers_with_skewed_clocks_still_count),
        cmocka_unit_test(test_a_site_dead_before_start_is_lost_after_the_startup_grace),
        cmocka_unit_test(test_siteguard_cut_off_with_the_witness_declares_nothing),
        cmocka_unit_test(test_a_huge_lag_does_not_wrap_past_the_rpo_limit),
        cmocka_unit_test(test_the_rpo_guard_reads_the_last_replicated_time),
        cmocka_unit_test(test_a_replication_report_from_another_site_is_no_evidence),
        cmocka_unit_test(test_a_stale_critical_health_still_holds),
        cmocka_unit_test(test_operator_state_survives_a_restart_through_the_journal),
        cmocka_unit_test(test_a_denial_survives_a_restart_within_its_loss),
        cmocka_unit_test(test_run_ids_go_on_from_the_journal_not_the_clock),
        cmocka_unit_test(test_a_cancelled_run_is_decided_again_with_a_new_id),
        cmocka_unit_test(test_the_proof_counts_the_quorum_at_the_moment_of_the_call),
        cmocka_unit_test(test_the_proof_of_operators_runs_and_drills),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
