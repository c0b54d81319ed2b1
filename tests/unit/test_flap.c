/* flap: which site changes the sinks hear while a site flaps, on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/clock.h"
#include "base/err.h"
#include "journal/flap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MONO0 1000000
#define WALL0 1764090000000LL

typedef struct {
    sg_clock_t clock;
    sg_clock_fake_state_t storage;
    sg_flap_t *flap;
    /* what went out, per site */
    int announced[3][SG_DECISION_KIND_COUNT];
    int held[3];
    int started[3], ended[3];
    sg_flap_notice_t last_end[3];
    sg_flap_notice_t last_start[3];
} fx_t;

static const sg_flap_cfg_t s_default = {.off = false, .changes = 4, .window_ms = 60000};

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    sg_clock_fake_init(&fx->clock, &fx->storage, MONO0, WALL0);
    fx->flap = sg_flap_new(3, &s_default);
    assert_non_null(fx->flap);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    sg_flap_destroy(&fx->flap);
    assert_null(fx->flap);
    free(fx);
    return 0;
}

static sg_now_t now_of(fx_t *fx)
{
    return (sg_now_t){sg_clock_mono(&fx->clock), sg_clock_wall(&fx->clock)};
}

static void note(fx_t *fx, const sg_flap_notice_t *n)
{
    if (n->event == SG_FLAP_STARTED) {
        fx->started[n->site]++;
        fx->last_start[n->site] = *n;
    } else {
        fx->ended[n->site]++;
        fx->last_end[n->site] = *n;
    }
}

/* The engine decides `kind` about `site` now: judged, and what goes out counted. */
static sg_flap_verdict_t decide(fx_t *fx, sg_decision_kind_t kind, int site)
{
    sg_decision_t d = {.kind = kind, .site = site, .collection = -1, .target_site = -1,
                       .observer = -1, .at = now_of(fx)};
    sg_flap_verdict_t v = sg_flap_judge(fx->flap, &d);
    if (v.has_notice)
        note(fx, &v.notice);
    if (site >= 0 && v.announce)
        fx->announced[site][kind]++;
    else if (site >= 0)
        fx->held[site]++;
    return v;
}

/* A tick now: every notice it gives is counted; returns how many. */
static int tick(fx_t *fx)
{
    sg_flap_notice_t n;
    int count = 0;
    while (sg_flap_tick(fx->flap, now_of(fx), &n)) {
        assert_int_equal(n.event, SG_FLAP_ENDED);
        note(fx, &n);
        count++;
    }
    return count;
}

/* Advances the clock in steps of 250 ms (the service's loop wakes so often),
 * ticking after each. Returns the notices the ticks gave. */
static int advance(fx_t *fx, int64_t ms)
{
    int notices = 0;
    for (int64_t done = 0; done < ms;) {
        int64_t step = ms - done < 250 ? ms - done : 250;
        sg_clock_fake_advance(&fx->clock, step);
        done += step;
        notices += tick(fx);
    }
    return notices;
}

/* `pairs` suspect/recovered pairs of `site`: suspect, `on_ms` later
 * recovered, `off_ms` later the next. The heartbeats on and off every
 * second of the issue: pairs of 1 s + 1 s. */
static void flap(fx_t *fx, int site, int pairs, int64_t on_ms, int64_t off_ms)
{
    for (int i = 0; i < pairs; i++) {
        decide(fx, SG_DECISION_SITE_SUSPECT, site);
        advance(fx, on_ms);
        decide(fx, SG_DECISION_SITE_RECOVERED, site);
        advance(fx, off_ms);
    }
}

static int changes_announced(const fx_t *fx, int site)
{
    return fx->announced[site][SG_DECISION_SITE_SUSPECT] +
           fx->announced[site][SG_DECISION_SITE_RECOVERED];
}

/* ------------------------------------------------------------------------------ */

static void test_a_flapping_site_yields_one_start_and_one_end_notice(void **state)
{
    fx_t *fx = *state;
    flap(fx, 0, 10, 1000, 1000); /* 20 s of heartbeats on and off every second: 20 changes */
    /* 4 changes are within the rule; the 5th tips it: one start, instead of that change */
    assert_int_equal(fx->started[0], 1);
    assert_int_equal(changes_announced(fx, 0), 4);
    assert_int_equal(fx->held[0], 16);
    assert_int_equal(fx->last_start[0].changes, 5);
    assert_int_equal(fx->last_start[0].window_ms, 60000);
    assert_int_equal(fx->ended[0], 0);
    uint64_t held = 0;
    assert_true(sg_flap_is_flapping(fx->flap, 0, &held));
    assert_int_equal(held, 16);
    /* steady: the end comes once the site made no change for the window, once */
    int64_t since_last = 1000; /* flap() waited off_ms after the last change */
    assert_int_equal(advance(fx, 60000 - since_last - 250), 0);
    assert_int_equal(advance(fx, 250), 1);
    assert_int_equal(fx->ended[0], 1);
    assert_int_equal(fx->last_end[0].cause, SG_FLAP_STEADY);
    assert_int_equal(fx->last_end[0].held, 16);
    assert_int_equal(fx->last_end[0].state, SG_SITE_HEALTHY);
    assert_int_equal(fx->last_end[0].site, 0);
    assert_false(sg_flap_is_flapping(fx->flap, 0, NULL));
    assert_int_equal(advance(fx, 600000), 0);
    /* steady again, its changes are announced again */
    decide(fx, SG_DECISION_SITE_SUSPECT, 0);
    assert_int_equal(fx->announced[0][SG_DECISION_SITE_SUSPECT], 3);
    assert_int_equal(fx->started[0], 1);
}

static void test_a_flap_that_goes_on_for_an_hour_still_yields_one_start_and_one_end(void **state)
{
    fx_t *fx = *state;
    flap(fx, 0, 1800, 1000, 1000);
    assert_int_equal(fx->started[0], 1);
    assert_int_equal(fx->ended[0], 0);
    assert_int_equal(changes_announced(fx, 0), 4);
    advance(fx, 60000);
    assert_int_equal(fx->ended[0], 1);
    assert_int_equal(fx->last_end[0].held, 3600 - 4);
}

static void test_a_steady_site_passes_everything(void **state)
{
    fx_t *fx = *state;
    /* a blip a minute, each a suspect and a recovered 3 s later: 2 changes per window */
    for (int i = 0; i < 30; i++) {
        decide(fx, SG_DECISION_SITE_SUSPECT, 0);
        advance(fx, 3000);
        decide(fx, SG_DECISION_SITE_RECOVERED, 0);
        advance(fx, 57000);
    }
    assert_int_equal(changes_announced(fx, 0), 60);
    assert_int_equal(fx->held[0], 0);
    assert_int_equal(fx->started[0] + fx->ended[0], 0);
}

static void test_exactly_the_allowed_changes_within_the_window_is_not_flapping(void **state)
{
    fx_t *fx = *state;
    for (int pair = 0; pair < 20; pair++) { /* a change every 15 s: 4 within any 60 s */
        decide(fx, SG_DECISION_SITE_SUSPECT, 0);
        advance(fx, 15000);
        decide(fx, SG_DECISION_SITE_RECOVERED, 0);
        advance(fx, 15000);
    }
    assert_int_equal(changes_announced(fx, 0), 40);
    assert_int_equal(fx->held[0], 0);
    assert_int_equal(fx->started[0], 0);
}

static void test_one_change_more_within_the_window_is_flapping(void **state)
{
    fx_t *fx = *state;
    for (int i = 0; i < 2; i++) { /* changes at 0, 14.75, 29.5 and 44.25 s */
        decide(fx, SG_DECISION_SITE_SUSPECT, 0);
        advance(fx, 14750);
        decide(fx, SG_DECISION_SITE_RECOVERED, 0);
        advance(fx, 14750);
    }
    assert_int_equal(fx->started[0], 0);
    sg_flap_verdict_t v = decide(fx, SG_DECISION_SITE_SUSPECT, 0); /* the 5th, at 59 s */
    assert_false(v.announce);
    assert_true(v.has_notice);
    assert_int_equal(v.notice.event, SG_FLAP_STARTED);
    assert_int_equal(v.notice.changes, 5);
    assert_int_equal(v.notice.state, SG_SITE_SUSPECT);
    assert_int_equal(v.notice.at.wall, sg_clock_wall(&fx->clock));
}

static void test_a_loss_always_passes_and_ends_the_hold(void **state)
{
    fx_t *fx = *state;
    flap(fx, 0, 5, 1000, 1000);
    decide(fx, SG_DECISION_SITE_SUSPECT, 0);
    assert_true(sg_flap_is_flapping(fx->flap, 0, NULL));
    assert_int_equal(fx->held[0], 7);
    advance(fx, 1500);
    sg_flap_verdict_t v = decide(fx, SG_DECISION_SITE_LOST, 0);
    assert_true(v.announce);
    assert_true(v.has_notice); /* the end first, then the loss */
    assert_int_equal(v.notice.event, SG_FLAP_ENDED);
    assert_int_equal(v.notice.cause, SG_FLAP_LOSS);
    assert_int_equal(v.notice.state, SG_SITE_LOST);
    assert_int_equal(v.notice.held, 7);
    assert_int_equal(v.notice.at.mono, sg_clock_mono(&fx->clock));
    assert_false(sg_flap_is_flapping(fx->flap, 0, NULL));
    assert_int_equal(fx->announced[0][SG_DECISION_SITE_LOST], 1);
    /* what follows a loss passes too, the recovery from it included */
    assert_true(decide(fx, SG_DECISION_SITE_CONTESTED, 0).announce);
    assert_true(decide(fx, SG_DECISION_SITE_RECOVERING, 0).announce);
    advance(fx, 1000);
    v = decide(fx, SG_DECISION_SITE_RECOVERED, 0);
    assert_true(v.announce);
    assert_false(v.has_notice);
    assert_int_equal(fx->ended[0], 1);
    assert_int_equal(advance(fx, 120000), 0); /* no second end */
    /* the loss forgot the changes before it: 4 more are announced */
    flap(fx, 0, 2, 1000, 1000);
    assert_int_equal(fx->started[0], 1);
    assert_int_equal(changes_announced(fx, 0), 4 + 1 + 4); /* 1: the recovery from the loss */
}

static void test_a_loss_of_a_site_not_flapping_passes_without_a_notice(void **state)
{
    fx_t *fx = *state;
    decide(fx, SG_DECISION_SITE_SUSPECT, 0);
    sg_flap_verdict_t v = decide(fx, SG_DECISION_SITE_LOST, 0);
    assert_true(v.announce);
    assert_false(v.has_notice);
}

static void test_decisions_that_matter_for_action_are_never_held(void **state)
{
    fx_t *fx = *state;
    flap(fx, 0, 5, 1000, 1000);
    assert_true(sg_flap_is_flapping(fx->flap, 0, NULL));
    static const sg_decision_kind_t kinds[] = {SG_DECISION_FAILOVER, SG_DECISION_BLOCKED,
                                               SG_DECISION_NOTICE};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        sg_flap_verdict_t v = decide(fx, kinds[k], 0);
        assert_true(v.announce);
        assert_false(v.has_notice);
        v = decide(fx, kinds[k], -1); /* a notice about no site */
        assert_true(v.announce);
    }
    assert_true(sg_flap_is_flapping(fx->flap, 0, NULL)); /* and they do not end it */
}

static void test_two_sites_are_independent(void **state)
{
    fx_t *fx = *state;
    for (int i = 0; i < 10; i++) { /* A flaps; B turns suspect and back once meanwhile */
        decide(fx, SG_DECISION_SITE_SUSPECT, 0);
        if (i == 5)
            decide(fx, SG_DECISION_SITE_SUSPECT, 1);
        advance(fx, 1000);
        decide(fx, SG_DECISION_SITE_RECOVERED, 0);
        if (i == 5)
            decide(fx, SG_DECISION_SITE_RECOVERED, 1);
        advance(fx, 1000);
    }
    assert_true(sg_flap_is_flapping(fx->flap, 0, NULL));
    assert_false(sg_flap_is_flapping(fx->flap, 1, NULL));
    assert_int_equal(changes_announced(fx, 1), 2);
    assert_int_equal(fx->held[1], 0);
    /* B flapping too, later (at 50 s; its blip at 10 s within its window): each has its
     * own start and its own end */
    advance(fx, 30000);
    flap(fx, 1, 3, 1000, 1000);
    assert_int_equal(fx->started[0], 1);
    assert_int_equal(fx->started[1], 1);
    assert_int_equal(changes_announced(fx, 1), 2 + 2); /* its 3rd change here tipped it */
    assert_int_equal(fx->held[1], 4);
    assert_int_equal(fx->ended[0], 0);
    advance(fx, 30000); /* A steady for 60 s and more; B for 31 s */
    assert_int_equal(fx->ended[0], 1);
    assert_int_equal(fx->ended[1], 0);
    assert_int_equal(fx->last_end[0].held, 16);
    assert_int_equal(fx->last_end[0].site, 0);
    /* a loss of A does not end B's */
    decide(fx, SG_DECISION_SITE_SUSPECT, 0);
    decide(fx, SG_DECISION_SITE_LOST, 0);
    assert_int_equal(fx->ended[0], 1);
    assert_true(sg_flap_is_flapping(fx->flap, 1, NULL));
    advance(fx, 30000);
    assert_int_equal(fx->ended[1], 1);
    assert_int_equal(fx->last_end[1].held, 4);
    assert_int_equal(fx->last_end[1].site, 1);
}

static void test_the_end_notice_names_the_state_the_site_is_in(void **state)
{
    fx_t *fx = *state;
    flap(fx, 0, 5, 1000, 1000);
    decide(fx, SG_DECISION_SITE_SUSPECT, 0); /* and it stays suspect (no quorum to lose it) */
    assert_int_equal(advance(fx, 59750), 0);
    assert_int_equal(advance(fx, 250), 1);
    assert_int_equal(fx->last_end[0].state, SG_SITE_SUSPECT);
    assert_int_equal(fx->last_end[0].held, 7);
    /* it recovers later: announced, as the sinks were told it is suspect */
    assert_true(decide(fx, SG_DECISION_SITE_RECOVERED, 0).announce);
}

static void test_off_holds_nothing(void **state)
{
    fx_t *fx = *state;
    const sg_flap_cfg_t off = {.off = true, .changes = 4, .window_ms = 60000};
    assert_int_equal(sg_flap_set_config(fx->flap, &off), SG_OK);
    flap(fx, 0, 20, 1000, 1000);
    assert_int_equal(changes_announced(fx, 0), 40);
    assert_int_equal(fx->held[0], 0);
    assert_int_equal(fx->started[0], 0);
}

static void test_turned_off_by_a_reload_a_flapping_site_ends_at_the_next_tick(void **state)
{
    fx_t *fx = *state;
    flap(fx, 0, 5, 1000, 1000);
    assert_true(sg_flap_is_flapping(fx->flap, 0, NULL));
    const sg_flap_cfg_t off = {.off = true, .changes = 4, .window_ms = 60000};
    assert_int_equal(sg_flap_set_config(fx->flap, &off), SG_OK);
    assert_int_equal(tick(fx), 1);
    assert_int_equal(fx->last_end[0].cause, SG_FLAP_OFF);
    assert_int_equal(fx->last_end[0].held, 6);
    assert_true(decide(fx, SG_DECISION_SITE_SUSPECT, 0).announce);
}

static void test_a_reload_with_a_shorter_window_ends_by_it(void **state)
{
    fx_t *fx = *state;
    flap(fx, 0, 5, 1000, 1000);
    const sg_flap_cfg_t quick = {.off = false, .changes = 2, .window_ms = 5000};
    assert_int_equal(sg_flap_set_config(fx->flap, &quick), SG_OK);
    assert_true(sg_flap_is_flapping(fx->flap, 0, NULL));
    assert_int_equal(advance(fx, 4000), 1); /* 1 s already waited in flap() */
    assert_int_equal(fx->last_end[0].window_ms, 5000);
    flap(fx, 0, 1, 100, 100);
    assert_int_equal(changes_announced(fx, 0), 4 + 2);
    decide(fx, SG_DECISION_SITE_SUSPECT, 0); /* 3 changes within 5 s: more than 2 */
    assert_int_equal(fx->started[0], 2);
    assert_int_equal(fx->last_start[0].changes, 3);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_a_flapping_site_yields_one_start_and_one_end_notice),
        T(test_a_flap_that_goes_on_for_an_hour_still_yields_one_start_and_one_end),
        T(test_a_steady_site_passes_everything),
        T(test_exactly_the_allowed_changes_within_the_window_is_not_flapping),
        T(test_one_change_more_within_the_window_is_flapping),
        T(test_a_loss_always_passes_and_ends_the_hold),
        T(test_a_loss_of_a_site_not_flapping_passes_without_a_notice),
        T(test_decisions_that_matter_for_action_are_never_held),
        T(test_two_sites_are_independent),
        T(test_the_end_notice_names_the_state_the_site_is_in),
        T(test_off_holds_nothing),
        T(test_turned_off_by_a_reload_a_flapping_site_ends_at_the_next_tick),
        T(test_a_reload_with_a_shorter_window_ends_by_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
