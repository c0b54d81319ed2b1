/* heldruns: runs held while a drill runs, then handed to the real executor
 * (on the simulator, on a fake clock) in the order they were held. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "act/heldruns.h"
#include "base/err.h"
#include "base/log.h"
#include "journal/outcome.h"
#include "provider/sim.h"

#include <stdlib.h>
#include <string.h>

#include "sg_fixture.h"

static const char s_yaml[] =
    SG_FIXTURE_YAML_ABW
    "collections:\n" SG_FIXTURE_YAML_COLL_AT_A(0) SG_FIXTURE_YAML_COLL_AT_A(1)
    "provider:\n  kind: sim\n  workers: 1\n  sim:\n    call_latency: 20ms\n"
    "    job_duration: 2s\n";

typedef struct {
    sg_config_t *cfg;
    sg_fixture_rig_t rig; /* the executor on the simulator, on a fake clock */
    sg_heldruns_t held;
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    sg_log_set_level(SG_LOG_ERROR);
    f->cfg = sg_fixture_config("t.yaml", s_yaml);
    sg_fixture_rig_new_with_executor(&f->rig, f->cfg, 1800000000000LL);
    sg_heldruns_init(&f->held);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    sg_heldruns_fini(&f->held);
    sg_fixture_rig_free(&f->rig);
    sg_config_destroy(&f->cfg);
    free(f);
    return 0;
}

/* Waits for run `run_id` to end; returns whether it failed over. The first
 * run id seen with any step is written to *first (when still 0). */
static bool s_wait_end(s_fix_t *f, uint64_t run_id, uint64_t *first)
{
    for (;;) {
        sg_exec_result_t r;
        assert_int_equal(sg_executor_recv(f->rig.x, &r, 10000), 1); /* a guard against a hang */
        if (*first == 0)
            *first = r.run_id;
        sg_outcome_free(&r.outcome);
        if (r.ended && r.run_id == run_id)
            return r.failed_over;
    }
}

static void test_held_runs_keep_copies_of_their_points(void **state)
{
    s_fix_t *f = *state;
    char point[] = "latest";
    assert_int_equal(sg_heldruns_add(&f->held, &(sg_run_spec_t){.run_id = 7, .collection = 0, .point = point}), 0);
    assert_int_equal(sg_heldruns_add(&f->held, &(sg_run_spec_t){.run_id = 8, .collection = 1, .point = NULL}), 0);
    point[0] = 'X'; /* the caller's buffer changes; the held copy does not */
    assert_int_equal(f->held.n, 2);
    assert_string_equal(f->held.runs[0].point, "latest");
    assert_null(f->held.runs[1].point);
    assert_int_equal(f->held.runs[1].run_id, 8);
    assert_int_equal(f->held.runs[1].collection, 1);
    assert_int_equal(sg_executor_active(f->rig.x), 0); /* nothing submitted while held */
}

static void test_released_runs_go_to_the_executor_in_the_order_held(void **state)
{
    s_fix_t *f = *state;
    assert_int_equal(sg_heldruns_add(&f->held, &(sg_run_spec_t){.run_id = 21, .collection = 1, .point = NULL}), 0);
    assert_int_equal(sg_heldruns_add(&f->held, &(sg_run_spec_t){.run_id = 20, .collection = 0, .point = "latest"}), 0);
    assert_int_equal(sg_heldruns_submit(&f->held, f->rig.x, f->cfg), 2);
    assert_int_equal(f->held.n, 0);
    assert_int_equal(sg_executor_active(f->rig.x), 2);
    uint64_t first = 0;
    assert_true(s_wait_end(f, 21, &first));
    assert_int_equal(first, 21); /* one worker: the first held runs first */
    assert_true(s_wait_end(f, 20, &first));
    assert_int_equal(sg_executor_active(f->rig.x), 0);
}

static void test_a_run_the_executor_refuses_is_dropped_and_the_rest_go(void **state)
{
    s_fix_t *f = *state;
    assert_int_equal(sg_heldruns_add(&f->held, &(sg_run_spec_t){.run_id = 30, .collection = 0, .point = NULL}), 0);
    assert_int_equal(sg_heldruns_add(&f->held, &(sg_run_spec_t){.run_id = 31, .collection = 0, .point = NULL}), 0); /* c0 again: refused */
    assert_int_equal(sg_heldruns_add(&f->held, &(sg_run_spec_t){.run_id = 32, .collection = 1, .point = NULL}), 0);
    assert_int_equal(sg_heldruns_submit(&f->held, f->rig.x, f->cfg), 2);
    assert_int_equal(f->held.n, 0);
    uint64_t first = 0;
    assert_true(s_wait_end(f, 30, &first));
    assert_true(s_wait_end(f, 32, &first));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_held_runs_keep_copies_of_their_points, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_released_runs_go_to_the_executor_in_the_order_held,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_a_run_the_executor_refuses_is_dropped_and_the_rest_go,
                                        s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
