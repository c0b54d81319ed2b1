/* Executor: failover runs on worker threads against the simulator, on a
 * fake clock (every sleep advances it, so jobs of minutes take no time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"
#include "executor.h"
#include "outcome.h"
#include "provider/sim.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

enum { A, B };

typedef struct {
    sg_site_cfg_t sites[2];
    sg_collection_cfg_t colls[4];
    int deps[1];
    sg_sim_fault_cfg_t faults[2];
    sg_config_t cfg;
    sg_clock_t clock;
    sg_clock_fake_state_t clock_state;
    void *zctx;
    sg_provider_t *sim;
    sg_executor_t *x;
} s_fix_t;

/* Four collections at A replicating to B: c0 and c1 in group 0, c2 in
 * group 1, c3 in group 0 depending on c0. */
static s_fix_t *s_fix_new(int workers)
{
    s_fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->sites[A].name = "A";
    f->sites[B].name = "B";
    static const char *names[] = {"c0", "c1", "c2", "c3"};
    static const char *paths[] = {"Msvm_VirtualSystemCollection.InstanceID=\"c0\"",
                                  "Msvm_VirtualSystemCollection.InstanceID=\"c1\"",
                                  "Msvm_VirtualSystemCollection.InstanceID=\"c2\"",
                                  "Msvm_VirtualSystemCollection.InstanceID=\"c3\""};
    for (int i = 0; i < 4; i++) {
        f->colls[i] = (sg_collection_cfg_t){.name = (char *)names[i],
                                            .cim_path = (char *)paths[i],
                                            .site = A,
                                            .replica_site = B,
                                            .group = i == 2 ? 1 : 0};
    }
    f->deps[0] = 0;
    f->colls[3].depends_on = f->deps;
    f->colls[3].n_depends_on = 1;
    sg_config_t *c = &f->cfg;
    c->sites = f->sites;
    c->n_sites = 2;
    c->collections = f->colls;
    c->n_collections = 4;
    c->provider.kind = "sim";
    c->provider.workers = workers;
    c->provider.job_timeout_ms = 600000;
    c->provider.poll_initial_ms = 250;
    c->provider.poll_max_ms = 5000;
    c->provider.max_attempts = 3;
    c->provider.sim.call_latency_ms = 20;
    c->provider.sim.job_duration_ms = 60000;
    c->provider.sim.faults = f->faults;
    sg_clock_fake_init(&f->clock, &f->clock_state, 1000, 1790000000000LL);
    f->zctx = zmq_ctx_new();
    assert_non_null(f->zctx);
    return f;
}

static void s_fix_start(s_fix_t *f)
{
    f->sim = sg_sim_new(&f->cfg, &f->clock);
    assert_non_null(f->sim);
    f->x = sg_executor_new(f->zctx, &f->cfg, f->sim, &f->clock);
    assert_non_null(f->x);
}

static void s_fix_free(s_fix_t *f)
{
    sg_executor_destroy(&f->x);
    assert_null(f->x);
    sg_provider_destroy(&f->sim);
    zmq_ctx_term(f->zctx);
    free(f);
}

/* Waits for the next result (10 s real time as a guard against a hang). */
static sg_exec_result_t s_next(s_fix_t *f)
{
    sg_exec_result_t r;
    memset(&r, 0, sizeof r);
    assert_int_equal(sg_executor_recv(f->x, &r, 10000), 1);
    assert_non_null(r.outcome);
    assert_non_null(r.outcome->json);
    return r;
}

/* Collects results until `runs` runs have ended; kinds in order into `log`. */
typedef struct {
    sg_outcome_kind_t kind;
    int collection;
    int attempt;
    uint32_t rv;
    uint32_t error_code;
    bool failed_over;
} s_ev_t;

static int s_until_ended(s_fix_t *f, int runs, s_ev_t *log, int max)
{
    int n = 0;
    while (runs > 0) {
        sg_exec_result_t r = s_next(f);
        if (n < max)
            log[n++] = (s_ev_t){r.outcome->kind, r.collection, r.outcome->attempt,
                                r.outcome->return_value, r.outcome->error_code, r.failed_over};
        if (r.ended)
            runs--;
        sg_outcome_free(&r.outcome);
    }
    return n;
}

static sg_coll_state_t s_state(s_fix_t *f, int c)
{
    sg_coll_state_t st = SG_COLL_UNKNOWN;
    assert_int_equal(sg_provider_get_state(f->sim, f->colls[c].cim_path, &st), 0);
    return st;
}

static void test_failover_follows_job_to_success(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(2);
    s_fix_start(f);
    assert_int_equal(sg_executor_submit(f->x, 77, 1), 0);
    assert_int_equal(sg_executor_active(f->x), 1);
    s_ev_t log[64];
    int n = s_until_ended(f, 1, log, 64);
    assert_true(n >= 3);
    assert_int_equal(log[0].kind, SG_OUTCOME_JOB_STARTED);
    assert_int_equal(log[0].rv, 4096);
    int progress = 0;
    for (int i = 1; i < n - 1; i++) {
        assert_int_equal(log[i].kind, SG_OUTCOME_PROGRESS);
        progress++;
    }
    assert_true(progress >= 1);
    assert_int_equal(log[n - 1].kind, SG_OUTCOME_SUCCEEDED);
    assert_true(log[n - 1].failed_over);
    assert_int_equal(s_state(f, 1), SG_COLL_FAILED_OVER);
    assert_int_equal(sg_executor_active(f->x), 0);
    s_fix_free(f);
}

static void test_adaptive_polling_does_not_overshoot_long_jobs(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    s_fix_start(f);
    int64_t t0 = sg_clock_mono(&f->clock);
    assert_int_equal(sg_executor_submit(f->x, 1, 0), 0);
    s_ev_t log[128];
    int n = s_until_ended(f, 1, log, 128);
    assert_int_equal(log[n - 1].kind, SG_OUTCOME_SUCCEEDED);
    int64_t took = sg_clock_mono(&f->clock) - t0;
    /* a 60 s job is seen to end within one maximum poll interval */
    assert_true(took >= 60000);
    assert_true(took <= 60000 + 20 + 5000);
    s_fix_free(f);
}

static void test_retryable_return_code_is_retried_then_succeeds(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    f->faults[0] = (sg_sim_fault_cfg_t){.method = "InitiateFailover", .return_code = 32774, .times = 2};
    f->cfg.provider.sim.n_faults = 1;
    s_fix_start(f);
    assert_int_equal(sg_executor_submit(f->x, 1, 0), 0);
    s_ev_t log[128];
    int n = s_until_ended(f, 1, log, 128);
    assert_int_equal(log[0].kind, SG_OUTCOME_PROGRESS);
    assert_int_equal(log[0].rv, 32774);
    assert_int_equal(log[0].attempt, 1);
    assert_int_equal(log[1].kind, SG_OUTCOME_PROGRESS);
    assert_int_equal(log[1].attempt, 2);
    assert_int_equal(log[2].kind, SG_OUTCOME_JOB_STARTED);
    assert_int_equal(log[2].attempt, 3);
    assert_int_equal(log[n - 1].kind, SG_OUTCOME_SUCCEEDED);
    s_fix_free(f);
}

static void test_retryable_return_code_fails_after_max_attempts(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    f->faults[0] = (sg_sim_fault_cfg_t){.return_code = 32777};
    f->cfg.provider.sim.n_faults = 1;
    s_fix_start(f);
    assert_int_equal(sg_executor_submit(f->x, 1, 0), 0);
    s_ev_t log[16];
    int n = s_until_ended(f, 1, log, 16);
    assert_int_equal(n, 3);
    assert_int_equal(log[2].kind, SG_OUTCOME_FAILED);
    assert_int_equal(log[2].attempt, 3);
    assert_int_equal(log[2].rv, 32777);
    assert_int_equal(s_state(f, 0), SG_COLL_REPLICATING);
    s_fix_free(f);
}

static void test_access_denied_fails_at_once(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    f->faults[0] = (sg_sim_fault_cfg_t){.collection = "c0", .return_code = 32769};
    f->cfg.provider.sim.n_faults = 1;
    s_fix_start(f);
    assert_int_equal(sg_executor_submit(f->x, 1, 0), 0);
    sg_exec_result_t r = s_next(f);
    assert_true(r.ended);
    assert_false(r.failed_over);
    assert_int_equal(r.outcome->kind, SG_OUTCOME_FAILED);
    assert_int_equal(r.outcome->attempt, 1);
    assert_non_null(strstr(r.outcome->message, "not retryable"));
    sg_outcome_free(&r.outcome);
    s_fix_free(f);
}

static void test_job_exception_reports_its_error_code(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    f->faults[0] = (sg_sim_fault_cfg_t){.job_error_code = 4711};
    f->cfg.provider.sim.n_faults = 1;
    s_fix_start(f);
    assert_int_equal(sg_executor_submit(f->x, 1, 0), 0);
    s_ev_t log[128];
    int n = s_until_ended(f, 1, log, 128);
    assert_int_equal(log[n - 1].kind, SG_OUTCOME_FAILED);
    assert_int_equal(log[n - 1].error_code, 4711);
    assert_int_not_equal(s_state(f, 0), SG_COLL_FAILED_OVER);
    s_fix_free(f);
}

static void test_hanging_job_times_out(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    f->faults[0] = (sg_sim_fault_cfg_t){.hang = true};
    f->cfg.provider.sim.n_faults = 1;
    f->cfg.provider.job_timeout_ms = 120000;
    s_fix_start(f);
    int64_t t0 = sg_clock_mono(&f->clock);
    assert_int_equal(sg_executor_submit(f->x, 1, 0), 0);
    s_ev_t log[128];
    int n = s_until_ended(f, 1, log, 128);
    assert_int_equal(log[n - 1].kind, SG_OUTCOME_TIMED_OUT);
    assert_true(sg_clock_mono(&f->clock) - t0 >= 120000);
    s_fix_free(f);
}

static void test_already_failed_over_counts_as_done(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    s_fix_start(f);
    assert_int_equal(sg_executor_submit(f->x, 1, 0), 0);
    s_ev_t log[128];
    int n = s_until_ended(f, 1, log, 128);
    assert_int_equal(log[n - 1].kind, SG_OUTCOME_SUCCEEDED);
    assert_int_equal(sg_executor_submit(f->x, 2, 0), 0);
    sg_exec_result_t r = s_next(f);
    assert_true(r.ended);
    assert_true(r.failed_over);
    assert_int_equal(r.outcome->return_value, 32775);
    assert_non_null(strstr(r.outcome->message, "already failed over"));
    sg_outcome_free(&r.outcome);
    s_fix_free(f);
}

static void test_second_submit_while_running_is_refused(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(2);
    s_fix_start(f);
    assert_int_equal(sg_executor_submit(f->x, 1, 0), 0);
    assert_int_equal(sg_executor_submit(f->x, 2, 0), SG_ESTATE);
    assert_int_equal(sg_executor_submit(f->x, 3, 9), SG_EINVAL);
    s_ev_t log[128];
    s_until_ended(f, 1, log, 128);
    s_fix_free(f);
}

static void test_plan_groups_and_dependencies_order_the_runs(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(4);
    s_fix_start(f);
    /* submitted at once in plan order (as the engine decides them): the
     * executor holds each back until its turn */
    int order[] = {0, 1, 3, 2};
    for (int i = 0; i < 4; i++)
        assert_int_equal(sg_executor_submit(f->x, (uint64_t)(10 + i), order[i]), 0);
    s_ev_t log[256];
    int n = s_until_ended(f, 4, log, 256);
    int started[4] = {-1, -1, -1, -1}, ended[4] = {-1, -1, -1, -1};
    for (int i = 0; i < n; i++) {
        if (log[i].kind == SG_OUTCOME_JOB_STARTED)
            started[log[i].collection] = i;
        if (log[i].kind == SG_OUTCOME_SUCCEEDED)
            ended[log[i].collection] = i;
    }
    for (int c = 0; c < 4; c++)
        assert_true(started[c] >= 0 && ended[c] > started[c]);
    /* c2 (group 1) starts after every group-0 run ended */
    assert_true(started[2] > ended[0] && started[2] > ended[1] && started[2] > ended[3]);
    /* c3 depends on c0 */
    assert_true(started[3] > ended[0]);
    s_fix_free(f);
}

static void test_dependency_failure_stops_dependent_without_a_call(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(2);
    f->faults[0] = (sg_sim_fault_cfg_t){.collection = "c0", .return_code = 32770};
    f->cfg.provider.sim.n_faults = 1;
    s_fix_start(f);
    assert_int_equal(sg_executor_submit(f->x, 1, 0), 0);
    assert_int_equal(sg_executor_submit(f->x, 2, 3), 0);
    s_ev_t log[16];
    int n = s_until_ended(f, 2, log, 16);
    assert_int_equal(n, 2);
    assert_int_equal(log[1].collection, 3);
    assert_int_equal(log[1].kind, SG_OUTCOME_FAILED);
    assert_int_equal(s_state(f, 3), SG_COLL_REPLICATING);
    s_fix_free(f);
}

static void test_concurrency_is_capped_by_workers(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(2);
    for (int i = 0; i < 4; i++) {
        f->colls[i].group = 0;
        f->colls[i].n_depends_on = 0;
    }
    s_fix_start(f);
    for (int c = 0; c < 4; c++)
        assert_int_equal(sg_executor_submit(f->x, (uint64_t)c + 1, c), 0);
    s_ev_t log[256];
    int n = s_until_ended(f, 4, log, 256);
    int running = 0, peak = 0;
    for (int i = 0; i < n; i++) {
        if (log[i].kind == SG_OUTCOME_JOB_STARTED)
            running++;
        if (log[i].kind == SG_OUTCOME_SUCCEEDED)
            running--;
        peak = running > peak ? running : peak;
    }
    assert_true(peak >= 1 && peak <= 2); /* never above the cap */
    for (int c = 0; c < 4; c++)
        assert_int_equal(s_state(f, c), SG_COLL_FAILED_OVER);
    s_fix_free(f);
}

static void test_destroy_with_runs_in_flight_returns(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    f->faults[0] = (sg_sim_fault_cfg_t){.hang = true};
    f->cfg.provider.sim.n_faults = 1;
    f->cfg.provider.job_timeout_ms = 24LL * 3600 * 1000 * 365;
    s_fix_start(f);
    assert_int_equal(sg_executor_submit(f->x, 1, 0), 0);
    assert_int_equal(sg_executor_submit(f->x, 2, 1), 0);
    sg_exec_result_t r = s_next(f); /* job started: the worker is following it */
    assert_int_equal(r.outcome->kind, SG_OUTCOME_JOB_STARTED);
    sg_outcome_free(&r.outcome);
    s_fix_free(f); /* joins the worker; ASan checks nothing leaks */
}

int main(void)
{
    sg_log_set_level(SG_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover_follows_job_to_success),
        cmocka_unit_test(test_adaptive_polling_does_not_overshoot_long_jobs),
        cmocka_unit_test(test_retryable_return_code_is_retried_then_succeeds),
        cmocka_unit_test(test_retryable_return_code_fails_after_max_attempts),
        cmocka_unit_test(test_access_denied_fails_at_once),
        cmocka_unit_test(test_job_exception_reports_its_error_code),
        cmocka_unit_test(test_hanging_job_times_out),
        cmocka_unit_test(test_already_failed_over_counts_as_done),
        cmocka_unit_test(test_second_submit_while_running_is_refused),
        cmocka_unit_test(test_plan_groups_and_dependencies_order_the_runs),
        cmocka_unit_test(test_dependency_failure_stops_dependent_without_a_call),
        cmocka_unit_test(test_concurrency_is_capped_by_workers),
        cmocka_unit_test(test_destroy_with_runs_in_flight_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
