/* Executor: failover runs on worker threads against the simulator, on a
 * fake clock (every sleep advances it, so jobs of minutes take no time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "act/executor.h"
#include "journal/outcome.h"
#include "provider/sim.h"

#include "sg_veil.h"

#include <stdio.h>
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
    sg_veil_t veil; /* over the simulator, when a test hides jobs */
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
    static const char *paths[] = {"Msvm_VirtualSystemCollection.CollectionID=\"c0\"",
                                  "Msvm_VirtualSystemCollection.CollectionID=\"c1\"",
                                  "Msvm_VirtualSystemCollection.CollectionID=\"c2\"",
                                  "Msvm_VirtualSystemCollection.CollectionID=\"c3\""};
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

/* As s_fix_start, the executor on a veil over the simulator (sg_veil.h):
 * ended jobs are gone at once (`gone`), no failover job is ever found
 * (`hidden`). */
static void s_fix_start_veiled(s_fix_t *f, bool gone, bool hidden)
{
    f->sim = sg_sim_new(&f->cfg, &f->clock);
    assert_non_null(f->sim);
    sg_provider_t *veil = sg_veil_init(&f->veil, f->sim);
    f->veil.jobs_gone_at_end = gone;
    f->veil.no_failover_job = hidden;
    f->x = sg_executor_new(f->zctx, &f->cfg, veil, &f->clock);
    assert_non_null(f->x);
}

/* A fixture started as it was built: `workers` threads, no faults. */
static s_fix_t *s_fix_started(int workers)
{
    s_fix_t *f = s_fix_new(workers);
    s_fix_start(f);
    return f;
}

/* Adds a fault to the simulator's configuration (before s_fix_start). */
static void s_inject_fault(s_fix_t *f, sg_sim_fault_cfg_t fault)
{
    f->faults[f->cfg.provider.sim.n_faults++] = fault;
}

/* Puts every collection in group 0 with no dependencies: one flat plan. */
static void s_flatten_plan(s_fix_t *f)
{
    for (int i = 0; i < 4; i++) {
        f->colls[i].group = 0;
        f->colls[i].n_depends_on = 0;
    }
}

/* A fixture with one fault, started. */
static s_fix_t *s_fix_faulty(int workers, sg_sim_fault_cfg_t fault)
{
    s_fix_t *f = s_fix_new(workers);
    s_inject_fault(f, fault);
    s_fix_start(f);
    return f;
}

/* Submits run `run_id` of collection c; the executor accepts it. */
static void s_submit(s_fix_t *f, uint64_t run_id, int c)
{
    assert_int_equal(sg_executor_submit(f->x, run_id, c), 0);
}

/* One worker, one fault, and run 1 of c0 submitted. */
static s_fix_t *s_fix_run_c0_with(sg_sim_fault_cfg_t fault)
{
    s_fix_t *f = s_fix_faulty(1, fault);
    s_submit(f, 1, 0);
    return f;
}

/* Submits runs 1..n of collections 0..n-1, each accepted. */
static void s_submit_first(s_fix_t *f, int n)
{
    for (int c = 0; c < n; c++)
        s_submit(f, (uint64_t)c + 1, c);
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

/* Waits for the next result, which ends its run with an outcome of `kind`
 * (caller frees the outcome). */
static sg_exec_result_t s_next_end(s_fix_t *f, sg_outcome_kind_t kind)
{
    sg_exec_result_t r = s_next(f);
    assert_true(r.ended);
    assert_int_equal(r.outcome->kind, kind);
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
    s_fix_t *f = s_fix_started(2);
    s_submit(f, 77, 1);
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
    s_fix_t *f = s_fix_started(1);
    int64_t t0 = sg_clock_mono(&f->clock);
    s_submit(f, 1, 0);
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
    s_fix_t *f = s_fix_run_c0_with(
        (sg_sim_fault_cfg_t){.method = "InitiateFailover", .return_code = 32774, .times = 2});
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
    s_fix_t *f = s_fix_run_c0_with((sg_sim_fault_cfg_t){.return_code = 32777});
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
    s_fix_t *f = s_fix_run_c0_with((sg_sim_fault_cfg_t){.collection = "c0", .return_code = 32769});
    sg_exec_result_t r = s_next_end(f, SG_OUTCOME_FAILED);
    assert_false(r.failed_over);
    assert_int_equal(r.outcome->attempt, 1);
    assert_non_null(strstr(r.outcome->message, "not retryable"));
    sg_outcome_free(&r.outcome);
    s_fix_free(f);
}

static void test_job_exception_reports_its_error_code(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_run_c0_with((sg_sim_fault_cfg_t){.job_error_code = 4711});
    s_ev_t log[128];
    int n = s_until_ended(f, 1, log, 128);
    assert_int_equal(log[n - 1].kind, SG_OUTCOME_FAILED);
    assert_int_equal(log[n - 1].error_code, 4711);
    assert_int_not_equal(s_state(f, 0), SG_COLL_FAILED_OVER);
    s_fix_free(f);
}

/* Takes results until one of `kind` for `collection`; returns it (caller
 * frees the outcome). */
static sg_exec_result_t s_until_kind(s_fix_t *f, int collection, sg_outcome_kind_t kind)
{
    for (;;) {
        sg_exec_result_t r = s_next(f);
        if (r.collection == collection && r.outcome->kind == kind)
            return r;
        sg_outcome_free(&r.outcome);
    }
}

/* Takes results until one of `kind` for `collection`, and drops them all. */
static void s_skip_until(s_fix_t *f, int collection, sg_outcome_kind_t kind)
{
    sg_exec_result_t r = s_until_kind(f, collection, kind);
    sg_outcome_free(&r.outcome);
}

static void test_hanging_job_is_reported_timed_out_and_still_followed(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    s_inject_fault(f, (sg_sim_fault_cfg_t){.hang = true});
    f->cfg.provider.job_timeout_ms = 120000;
    s_fix_start(f);
    int64_t t0 = sg_clock_mono(&f->clock);
    s_submit(f, 1, 0);
    sg_exec_result_t r = s_until_kind(f, 0, SG_OUTCOME_TIMED_OUT);
    assert_false(r.ended);
    assert_true(r.timed_out);
    assert_non_null(strstr(r.outcome->message, "still following"));
    assert_true(sg_clock_mono(&f->clock) - t0 >= 120000);
    sg_outcome_free(&r.outcome);
    assert_int_equal(sg_executor_active(f->x), 1); /* the run is not over */
    s_fix_free(f);
}

static void test_job_that_ends_after_its_timeout_is_reported_twice_then_succeeds(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    f->cfg.provider.job_timeout_ms = 20000; /* the job takes 60 s */
    s_fix_start(f);
    s_submit(f, 1, 0);
    s_ev_t log[128];
    int n = s_until_ended(f, 1, log, 128);
    int timed_out = -1;
    for (int i = 0; i < n; i++)
        if (log[i].kind == SG_OUTCOME_TIMED_OUT)
            timed_out = i;
    assert_true(timed_out > 0 && timed_out < n - 1);
    assert_int_equal(log[n - 1].kind, SG_OUTCOME_SUCCEEDED);
    assert_true(log[n - 1].failed_over);
    assert_int_equal(s_state(f, 0), SG_COLL_FAILED_OVER);
    s_fix_free(f);
}

static void test_already_failed_over_counts_as_done(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_started(1);
    s_submit(f, 1, 0);
    s_ev_t log[128];
    int n = s_until_ended(f, 1, log, 128);
    assert_int_equal(log[n - 1].kind, SG_OUTCOME_SUCCEEDED);
    s_submit(f, 2, 0);
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
    s_fix_t *f = s_fix_started(2);
    s_submit(f, 1, 0);
    assert_int_equal(sg_executor_submit(f->x, 2, 0), SG_ESTATE);
    assert_int_equal(sg_executor_submit(f->x, 3, 9), SG_EINVAL);
    s_ev_t log[128];
    s_until_ended(f, 1, log, 128);
    s_fix_free(f);
}

static void test_plan_groups_and_dependencies_order_the_runs(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_started(4);
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
    s_fix_t *f = s_fix_faulty(2, (sg_sim_fault_cfg_t){.collection = "c0", .return_code = 32770});
    s_submit(f, 1, 0);
    s_submit(f, 2, 3);
    s_ev_t log[16];
    int n = s_until_ended(f, 2, log, 16);
    assert_int_equal(n, 2);
    assert_int_equal(log[1].collection, 3);
    assert_int_equal(log[1].kind, SG_OUTCOME_FAILED);
    assert_int_equal(s_state(f, 3), SG_COLL_REPLICATING);
    s_fix_free(f);
}

/* Peak of runs between JOB_STARTED and their end among `which`. */
static int s_peak(const s_ev_t *log, int n, const bool *which)
{
    int running = 0, peak = 0;
    for (int i = 0; i < n; i++) {
        if (!which[log[i].collection])
            continue;
        if (log[i].kind == SG_OUTCOME_JOB_STARTED)
            running++;
        if (log[i].kind == SG_OUTCOME_SUCCEEDED)
            running--;
        peak = running > peak ? running : peak;
    }
    return peak;
}

static void test_concurrency_is_capped_by_workers(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(2);
    s_flatten_plan(f);
    s_fix_start(f);
    s_submit_first(f, 4);
    s_ev_t log[256];
    int n = s_until_ended(f, 4, log, 256);
    bool all[4] = {true, true, true, true};
    int peak = s_peak(log, n, all);
    assert_true(peak >= 1 && peak <= 2); /* never above the cap */
    for (int c = 0; c < 4; c++)
        assert_int_equal(s_state(f, c), SG_COLL_FAILED_OVER);
    s_fix_free(f);
}

static void test_destroy_with_runs_in_flight_returns(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    s_inject_fault(f, (sg_sim_fault_cfg_t){.hang = true});
    f->cfg.provider.job_timeout_ms = 24LL * 3600 * 1000 * 365;
    s_fix_start(f);
    s_submit(f, 1, 0);
    s_submit(f, 2, 1);
    sg_exec_result_t r = s_next(f); /* job started: the worker is following it */
    assert_int_equal(r.outcome->kind, SG_OUTCOME_JOB_STARTED);
    sg_outcome_free(&r.outcome);
    s_fix_free(f); /* joins the worker; ASan checks nothing leaks */
}

/* ---- plan policies, recovery points, return codes, intents, replay ------ */

static int s_accepted(s_fix_t *f, int c, int *calls)
{
    int n_calls = 0, accepted = 0;
    assert_int_equal(sg_sim_counts(f->sim, f->colls[c].cim_path, SG_METHOD_INITIATE_FAILOVER,
                                   &n_calls, &accepted),
                     0);
    if (calls)
        *calls = n_calls;
    return accepted;
}

/* InitiateFailover was called `calls` times on collection c. */
static void s_expect_calls(s_fix_t *f, int c, int calls)
{
    int n_calls;
    s_accepted(f, c, &n_calls);
    assert_int_equal(n_calls, calls);
}

/* InitiateFailover was called `calls` times on collection c, `accepted` of
 * them accepted. */
static void s_expect_calls_accepted(s_fix_t *f, int c, int calls, int accepted)
{
    int n_calls;
    assert_int_equal(s_accepted(f, c, &n_calls), accepted);
    assert_int_equal(n_calls, calls);
}

/* The last outcome of each collection's run, by collection. */
static void s_last_kinds(s_fix_t *f, int runs, sg_outcome_kind_t *last)
{
    s_ev_t log[512];
    int n = s_until_ended(f, runs, log, 512);
    for (int i = 0; i < n; i++)
        last[log[i].collection] = log[i].kind;
}

/* c1 (group 0) fails at once (32770, not retryable) under the plan policy
 * `on_error`, with the runs of c0, c1 and c2 (group 1) submitted. */
static s_fix_t *s_fix_c1_fails_under(sg_on_error_t on_error)
{
    s_fix_t *f = s_fix_new(2);
    s_inject_fault(f, (sg_sim_fault_cfg_t){.collection = "c1", .return_code = 32770});
    f->cfg.plan.on_error = on_error;
    s_fix_start(f);
    s_submit_first(f, 3);
    return f;
}

static void test_on_error_stop_fails_later_groups_without_a_call(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_c1_fails_under(SG_ON_ERROR_STOP);
    sg_outcome_kind_t last[4] = {0};
    s_last_kinds(f, 3, last);
    assert_int_equal(last[0], SG_OUTCOME_SUCCEEDED); /* same group as the failure: goes on */
    assert_int_equal(last[1], SG_OUTCOME_FAILED);
    assert_int_equal(last[2], SG_OUTCOME_FAILED);
    s_expect_calls_accepted(f, 2, 0, 0);
    s_fix_free(f);
}

static void test_on_error_continue_runs_later_groups(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_c1_fails_under(SG_ON_ERROR_CONTINUE);
    sg_outcome_kind_t last[4] = {0};
    s_last_kinds(f, 3, last);
    assert_int_equal(last[1], SG_OUTCOME_FAILED);
    assert_int_equal(last[2], SG_OUTCOME_SUCCEEDED);
    assert_int_equal(s_state(f, 2), SG_COLL_FAILED_OVER);
    s_fix_free(f);
}

static void test_on_error_wait_holds_later_groups_until_released(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_c1_fails_under(SG_ON_ERROR_WAIT);
    sg_outcome_kind_t last[4] = {0};
    s_last_kinds(f, 2, last); /* c0 and c1 end; c2 is held */
    assert_int_equal(last[1], SG_OUTCOME_FAILED);
    assert_int_equal(last[2], 0);
    sg_exec_result_t r;
    assert_int_equal(sg_executor_recv(f->x, &r, 200), 0); /* nothing moves */
    assert_int_equal(sg_executor_active(f->x), 1);
    assert_int_equal(s_accepted(f, 2, NULL), 0);
    assert_int_equal(sg_executor_release_plan(f->x, A), 0);
    s_last_kinds(f, 1, last);
    assert_int_equal(last[2], SG_OUTCOME_SUCCEEDED);
    s_fix_free(f);
}

static void test_max_concurrency_caps_runs_below_the_workers(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(4);
    s_flatten_plan(f);
    f->cfg.plan.max_concurrency = 1;
    s_fix_start(f);
    s_submit_first(f, 4);
    s_ev_t log[256];
    int n = s_until_ended(f, 4, log, 256);
    bool all[4] = {true, true, true, true};
    assert_int_equal(s_peak(log, n, all), 1);
    s_fix_free(f);
}

static void test_per_host_cap_limits_runs_on_one_replica_host(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(4);
    s_flatten_plan(f);
    for (int i = 0; i < 4; i++)
        f->colls[i].replica_host = i < 3 ? "hv-b1" : "hv-b2";
    f->cfg.plan.per_host_concurrency = 1;
    s_fix_start(f);
    s_submit_first(f, 4);
    s_ev_t log[256];
    int n = s_until_ended(f, 4, log, 256);
    bool b1[4] = {true, true, true, false}, all[4] = {true, true, true, true};
    assert_int_equal(s_peak(log, n, b1), 1);
    /* hv-b2's run may go alongside (whether it does is up to the threads) */
    assert_in_range(s_peak(log, n, all), 1, 2);
    s_fix_free(f);
}

static void test_latest_app_consistent_passes_the_newest_application_consistent_point(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    f->colls[0].recovery_point = SG_RP_LATEST_APP_CONSISTENT;
    s_fix_start(f);
    s_submit(f, 1, 0);
    sg_exec_result_t r = s_until_kind(f, 0, SG_OUTCOME_JOB_STARTED);
    assert_non_null(strstr(r.outcome->message, "InstanceID=\"c0:latest-app\""));
    sg_outcome_free(&r.outcome);
    s_skip_until(f, 0, SG_OUTCOME_SUCCEEDED);
    s_fix_free(f);
}

/* A configured point is looked up among the collection's points before the
 * call, as a run's own is: points expire, and one that is gone fails the run
 * clearly instead of being passed blindly. */
static void test_named_recovery_point_is_passed_and_an_unknown_one_fails_without_a_call(
    void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(2);
    f->colls[0].recovery_point = SG_RP_NAMED;
    f->colls[0].recovery_point_path =
        "Msvm_CollectionRecoveryPoint.CollectionID=\"c0\",InstanceID=\"c0:crash-1\"";
    f->colls[1].recovery_point = SG_RP_NAMED;
    f->colls[1].recovery_point_path =
        "Msvm_CollectionRecoveryPoint.CollectionID=\"c1\",InstanceID=\"c1:nope\"";
    s_fix_start(f);
    s_submit(f, 1, 0);
    sg_exec_result_t r = s_until_kind(f, 0, SG_OUTCOME_JOB_STARTED);
    assert_non_null(strstr(r.outcome->message, "InstanceID=\"c0:crash-1\""));
    sg_outcome_free(&r.outcome);
    s_skip_until(f, 0, SG_OUTCOME_SUCCEEDED);
    s_submit(f, 2, 1);
    r = s_next_end(f, SG_OUTCOME_FAILED);
    assert_non_null(strstr(r.outcome->message, "recovery point "
                                               "Msvm_CollectionRecoveryPoint.CollectionID=\"c1\","
                                               "InstanceID=\"c1:nope\" not found"));
    assert_non_null(strstr(r.outcome->message, "c1:latest-app\" (application-consistent)"));
    sg_outcome_free(&r.outcome);
    s_expect_calls_accepted(f, 0, 1, 1);
    s_expect_calls_accepted(f, 1, 0, 0); /* InitiateFailover never called */
    s_fix_free(f);
}

/* Every InitiateFailover return value: the outcome and the calls made. */
static void test_a_replica_reporting_critical_health_fails_without_a_call_unless_forced(
    void **state)
{
    (void)state;
    s_fix_t *f = s_fix_run_c0_with((sg_sim_fault_cfg_t){.collection = "c0",
                                                         .health = SG_HEALTH_CRITICAL});
    sg_exec_result_t r = s_next_end(f, SG_OUTCOME_FAILED);
    assert_false(r.failed_over);
    assert_non_null(strstr(r.outcome->message, "critical replication health"));
    assert_non_null(strstr(r.outcome->message, "on B"));
    sg_outcome_free(&r.outcome);
    s_expect_calls(f, 0, 0);
    sg_run_spec_t forced = {.run_id = 2, .collection = 0, .forced = true};
    assert_int_equal(sg_executor_submit_run(f->x, &forced), 0);
    s_ev_t log[128];
    int n = s_until_ended(f, 1, log, 128);
    assert_int_equal(log[n - 1].kind, SG_OUTCOME_SUCCEEDED);
    s_expect_calls(f, 0, 1);
    s_fix_free(f);
}

static void test_a_replica_lagging_past_the_rpo_limit_before_the_loss_fails_without_a_call(
    void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    f->colls[0].rpo_limit_ms = 5 * 60 * 1000;
    f->colls[1].rpo_limit_ms = 5 * 60 * 1000;
    s_inject_fault(f, (sg_sim_fault_cfg_t){.collection = "c0", .lag_ms = 20 * 60 * 1000});
    s_inject_fault(f, (sg_sim_fault_cfg_t){.collection = "c1", .lag_ms = 20 * 60 * 1000});
    s_fix_start(f);
    s_submit(f, 1, 0); /* heard now: 20 min of lag, over 5 */
    sg_exec_result_t r = s_next_end(f, SG_OUTCOME_FAILED);
    assert_non_null(strstr(r.outcome->message, "over its RPO limit of 300 s"));
    sg_outcome_free(&r.outcome);
    s_expect_calls(f, 0, 0);
    /* c1's site was last heard 18 min ago: 2 min of lag then, within 5 */
    sg_run_spec_t heard = {.run_id = 2, .collection = 1,
                           .heard_ms = sg_clock_wall(&f->clock) - 18 * 60 * 1000};
    assert_int_equal(sg_executor_submit_run(f->x, &heard), 0);
    s_ev_t log[128];
    int n = s_until_ended(f, 1, log, 128);
    assert_int_equal(log[n - 1].kind, SG_OUTCOME_SUCCEEDED);
    s_expect_calls(f, 1, 1);
    s_fix_free(f);
}

/* The simulator runs method m on c at `site`'s side to its end. */
static void s_sim_at(s_fix_t *f, const char *site, int c, sg_method_t m)
{
    sg_provider_t *pv = sg_provider_at(f->sim, site);
    assert_non_null(pv);
    sg_call_result_t r = {0};
    assert_int_equal(sg_provider_call(pv, m, f->colls[c].cim_path, NULL, &r), SG_OK);
    assert_int_equal(r.return_value, SG_RC_JOB_STARTED);
    for (int i = 0; i < 10000; i++) {
        sg_job_status_t js = {0};
        assert_int_equal(sg_provider_get_job(pv, r.job_path, &js), SG_OK);
        bool ended = sg_job_state_ended(js.job_state);
        sg_job_status_fini(&js);
        if (ended)
            break;
        sg_clock_sleep(&f->clock, 1000);
    }
    sg_call_result_fini(&r);
}

static void test_a_replica_side_that_became_primary_fails_without_a_call(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_started(1);
    /* reversed behind siteguard's back: B is c0's primary now, the config
     * still says A -> B */
    s_sim_at(f, "B", 0, SG_METHOD_INITIATE_FAILOVER);
    s_sim_at(f, "B", 0, SG_METHOD_COMMIT_FAILOVER);
    s_sim_at(f, "B", 0, SG_METHOD_REVERSE_REPLICATION);
    s_submit(f, 1, 0);
    sg_exec_result_t r = s_next_end(f, SG_OUTCOME_FAILED);
    assert_non_null(strstr(r.outcome->message, "on B it is the primary"));
    sg_outcome_free(&r.outcome);
    s_expect_calls(f, 0, 1); /* the one made above, none by the run */
    s_fix_free(f);
}

static void test_every_return_code_maps_to_an_outcome(void **state)
{
    (void)state;
    static const struct {
        uint32_t rc;
        sg_outcome_kind_t last;
        int calls;
    } cases[] = {
        {32768, SG_OUTCOME_FAILED, 1},    {32769, SG_OUTCOME_FAILED, 1},
        {32770, SG_OUTCOME_FAILED, 1},    {32771, SG_OUTCOME_FAILED, 3},
        {32772, SG_OUTCOME_FAILED, 3},    {32773, SG_OUTCOME_FAILED, 1},
        {32774, SG_OUTCOME_FAILED, 3},    {32775, SG_OUTCOME_FAILED, 1},
        {32776, SG_OUTCOME_FAILED, 1},    {32777, SG_OUTCOME_FAILED, 3},
        {32778, SG_OUTCOME_FAILED, 3},    {32779, SG_OUTCOME_FAILED, 1},
        {12345, SG_OUTCOME_FAILED, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_fix_t *f = s_fix_run_c0_with((sg_sim_fault_cfg_t){.return_code = cases[i].rc});
        s_ev_t log[16];
        int n = s_until_ended(f, 1, log, 16);
        int calls;
        assert_int_equal(s_accepted(f, 0, &calls), 0);
        print_message("return code %u: %d call(s), last %d\n", cases[i].rc, calls, log[n - 1].kind);
        assert_int_equal(log[n - 1].kind, cases[i].last);
        assert_int_equal(log[n - 1].rv, cases[i].rc);
        assert_int_equal(calls, cases[i].calls);
        assert_int_equal(s_state(f, 0), SG_COLL_REPLICATING);
        s_fix_free(f);
    }
}

static void test_status_unknown_checks_the_state_then_retries_once_and_succeeds(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_run_c0_with((sg_sim_fault_cfg_t){.return_code = 32771, .times = 1});
    s_skip_until(f, 0, SG_OUTCOME_SUCCEEDED);
    s_expect_calls_accepted(f, 0, 2, 1);
    s_fix_free(f);
}

typedef struct {
    s_fix_t *f;
    int calls_seen; /* InitiateFailover calls on the collection when the hook ran */
    int hooks;
    int answer; /* what the hook says */
} s_hook_t;

static int s_hook(void *user, uint64_t run_id, int collection, char **why)
{
    s_hook_t *h = user;
    assert_int_equal(run_id, 42);
    int calls = 0, accepted = 0;
    sg_sim_counts(h->f->sim, h->f->colls[collection].cim_path, SG_METHOD_INITIATE_FAILOVER, &calls,
                  &accepted);
    h->calls_seen = calls;
    h->hooks++;
    if (h->answer == SG_ESTATE)
        *why = strdup("site A is heard again");
    return h->answer;
}

/* The proof hook is asked on the loop thread right before the call: it
 * passes (the call is made), cancels (no call; CANCELLED with its reason) or
 * fails (no call; FAILED: the intent could not be journaled). */
static void test_proof_hook_runs_before_the_call_and_a_refusal_prevents_it(void **state)
{
    (void)state;
    const int answers[] = {SG_OK, SG_ESTATE, SG_EIO};
    const sg_outcome_kind_t ends[] = {SG_OUTCOME_SUCCEEDED, SG_OUTCOME_CANCELLED,
                                      SG_OUTCOME_FAILED};
    for (int i = 0; i < 3; i++) {
        s_fix_t *f = s_fix_started(1);
        s_hook_t h = {.f = f, .calls_seen = -1, .answer = answers[i]};
        sg_executor_set_proof_hook(f->x, s_hook, &h);
        s_submit(f, 42, 0);
        s_ev_t log[64];
        int n = s_until_ended(f, 1, log, 64);
        assert_int_equal(h.hooks, 1);
        assert_int_equal(h.calls_seen, 0);
        s_expect_calls(f, 0, answers[i] == SG_OK ? 1 : 0);
        assert_int_equal(log[n - 1].kind, ends[i]);
        s_fix_free(f);
    }
}

/* A retry after a retryable answer is proven again before its call. */
static void test_every_attempt_is_proven_again(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_faulty(
        1, (sg_sim_fault_cfg_t){.method = "InitiateFailover", .return_code = 32772, .times = 1});
    s_hook_t h = {.f = f, .calls_seen = -1, .answer = SG_OK};
    sg_executor_set_proof_hook(f->x, s_hook, &h);
    s_submit(f, 42, 0);
    s_ev_t log[64];
    int n = s_until_ended(f, 1, log, 64);
    assert_int_equal(log[n - 1].kind, SG_OUTCOME_SUCCEEDED);
    assert_int_equal(h.hooks, 2); /* one proof per attempt */
    assert_int_equal(h.calls_seen, 1);
    s_fix_free(f);
}

/* A proof hook that defers its answer (group commit): counts its calls. */
static int s_defer_hook(void *user, uint64_t run_id, int collection, char **why)
{
    (void)run_id;
    (void)collection;
    (void)why;
    (*(int *)user)++;
    return SG_EXEC_DEFERRED;
}

/* Group commit: a deferred proof holds its call until the loop releases the
 * answers (after its commit); released with an error, each run ends failed
 * without a call. */
static void test_deferred_proofs_hold_their_calls_until_released(void **state)
{
    (void)state;
    const int releases[] = {SG_OK, SG_EIO};
    for (int i = 0; i < 2; i++) {
        s_fix_t *f = s_fix_started(2);
        int hooks = 0;
        sg_executor_set_proof_hook(f->x, s_defer_hook, &hooks);
        s_submit_first(f, 2); /* c0 and c1, both of group 0 */
        sg_exec_result_t r;
        for (int tries = 0; hooks < 2 && tries < 200; tries++)
            assert_int_equal(sg_executor_recv(f->x, &r, 50), 0); /* no result while held */
        assert_int_equal(hooks, 2);
        s_expect_calls(f, 0, 0); /* both workers wait for their answers */
        s_expect_calls(f, 1, 0);
        assert_int_equal(sg_executor_release_proofs(f->x, releases[i], NULL, NULL), 2);
        assert_int_equal(sg_executor_release_proofs(f->x, SG_OK, NULL, NULL), 0); /* none held */
        s_ev_t log[64];
        int n = s_until_ended(f, 2, log, 64);
        for (int c = 0; c < 2; c++)
            s_expect_calls(f, c, releases[i] == SG_OK ? 1 : 0);
        assert_int_equal(log[n - 1].kind,
                         releases[i] == SG_OK ? SG_OUTCOME_SUCCEEDED : SG_OUTCOME_FAILED);
        s_fix_free(f);
    }
}

/* A recheck that refuses c1 at release: its proof is made again after the
 * commit, and a refusal then cancels it without a call. */
static int s_refuse_c1(void *user, uint64_t run_id, int collection, char **why)
{
    (void)run_id;
    (*(int *)user)++;
    if (collection != 1)
        return SG_OK;
    *why = strdup("site A is heard again");
    return SG_ESTATE;
}

static void test_a_deferred_proof_is_made_again_at_release_and_may_cancel(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_started(2);
    int hooks = 0, rechecks = 0;
    sg_executor_set_proof_hook(f->x, s_defer_hook, &hooks);
    s_submit_first(f, 2);
    sg_exec_result_t r;
    for (int tries = 0; hooks < 2 && tries < 200; tries++)
        assert_int_equal(sg_executor_recv(f->x, &r, 50), 0);
    assert_int_equal(sg_executor_release_proofs(f->x, SG_OK, s_refuse_c1, &rechecks), 2);
    assert_int_equal(rechecks, 2);
    sg_outcome_kind_t last[4] = {0};
    s_last_kinds(f, 2, last);
    assert_int_equal(last[0], SG_OUTCOME_SUCCEEDED);
    assert_int_equal(last[1], SG_OUTCOME_CANCELLED);
    s_expect_calls(f, 0, 1);
    s_expect_calls(f, 1, 0);
    s_fix_free(f);
}

/* A fresh run still queued is taken back with a CANCELLED result. */
static void test_a_queued_run_can_be_cancelled_before_any_call(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(2);
    f->cfg.plan.max_concurrency = 1;
    s_fix_start(f);
    s_submit(f, 1, 0);
    s_submit(f, 2, 1); /* waits for the cap */
    sg_exec_result_t r;
    assert_int_equal(sg_executor_cancel_queued(f->x, 0, "no", &r), 0); /* running, not queued */
    assert_int_equal(sg_executor_cancel_queued(f->x, 1, "site A is heard again", &r), 1);
    assert_true(r.ended && r.cancelled && !r.failed_over);
    assert_int_equal(r.outcome->kind, SG_OUTCOME_CANCELLED);
    assert_non_null(strstr(r.outcome->message, "site A is heard again"));
    sg_outcome_free(&r.outcome);
    s_ev_t log[64];
    s_until_ended(f, 1, log, 64);
    s_expect_calls(f, 1, 0);
    assert_int_equal(sg_executor_active(f->x), 0);
    s_fix_free(f);
}

/* Submits run 5 of c0 to resolve an intent journaled at `intent_ms`, as
 * after a restart. */
static void s_submit_resolve(s_fix_t *f, int64_t intent_ms)
{
    sg_run_spec_t spec = {
        .run_id = 5, .collection = 0, .mode = SG_RUN_RESOLVE, .intent_ms = intent_ms};
    assert_int_equal(sg_executor_submit_run(f->x, &spec), 0);
}

/* Calls InitiateFailover on the simulator directly, as a run did before a
 * crash; returns the job path (caller frees). */
static char *s_call_before_crash(s_fix_t *f, int c)
{
    sg_call_result_t res = {0};
    assert_int_equal(sg_provider_call(f->sim, SG_METHOD_INITIATE_FAILOVER, f->colls[c].cim_path,
                                      NULL, &res),
                     0);
    assert_int_equal(res.return_value, 4096);
    char *job = res.job_path;
    res.job_path = NULL;
    sg_call_result_fini(&res);
    return job;
}

/* c0's InitiateFailover was accepted before a crash, and its job ended while
 * the service was down (61 s later); returns when the intent was journaled. */
static int64_t s_call_then_down_until_the_job_ended(s_fix_t *f)
{
    int64_t intent = sg_clock_wall(&f->clock);
    free(s_call_before_crash(f, 0));
    sg_clock_fake_advance(&f->clock, 61000);
    return intent;
}

static void test_resolve_follows_a_job_accepted_before_the_restart(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_started(1);
    int64_t intent = sg_clock_wall(&f->clock);
    char *job = s_call_before_crash(f, 0);
    s_submit_resolve(f, intent);
    sg_exec_result_t r = s_until_kind(f, 0, SG_OUTCOME_JOB_STARTED);
    assert_string_equal(r.outcome->job_path, job);
    sg_outcome_free(&r.outcome);
    r = s_until_kind(f, 0, SG_OUTCOME_SUCCEEDED);
    assert_true(r.ended && r.failed_over);
    sg_outcome_free(&r.outcome);
    s_expect_calls_accepted(f, 0, 1, 1); /* never called again */
    free(job);
    s_fix_free(f);
}

static void test_resolve_reports_done_when_the_collection_is_already_failed_over(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_started(1);
    int64_t intent = s_call_then_down_until_the_job_ended(f);
    s_submit_resolve(f, intent);
    sg_exec_result_t r = s_next(f);
    assert_true(r.ended && r.failed_over);
    assert_int_equal(r.outcome->kind, SG_OUTCOME_SUCCEEDED);
    assert_non_null(strstr(r.outcome->message, "already failed over"));
    sg_outcome_free(&r.outcome);
    s_expect_calls(f, 0, 1);
    s_fix_free(f);
}

static void test_resolve_calls_only_when_the_provider_proves_nothing_started(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_started(1);
    s_submit_resolve(f, sg_clock_wall(&f->clock));
    s_skip_until(f, 0, SG_OUTCOME_SUCCEEDED);
    s_expect_calls_accepted(f, 0, 1, 1);
    s_fix_free(f);
}

static void test_resolve_follows_a_failed_job_instead_of_starting_another(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_faulty(1, (sg_sim_fault_cfg_t){.job_error_code = 4711, .times = 1});
    int64_t intent = s_call_then_down_until_the_job_ended(f); /* in Exception */
    assert_int_equal(s_state(f, 0), SG_COLL_REPLICATING);
    s_submit_resolve(f, intent);
    sg_exec_result_t r = s_until_kind(f, 0, SG_OUTCOME_FAILED);
    assert_int_equal(r.outcome->error_code, 4711);
    sg_outcome_free(&r.outcome);
    s_expect_calls(f, 0, 1);
    s_fix_free(f);
}

static void test_follow_mode_follows_the_journaled_job(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_started(1);
    char *job = s_call_before_crash(f, 0);
    sg_run_spec_t spec = {.run_id = 5, .collection = 0, .mode = SG_RUN_FOLLOW, .job_path = job};
    assert_int_equal(sg_executor_submit_run(f->x, &spec), 0);
    free(job); /* copied */
    sg_exec_result_t r = s_until_kind(f, 0, SG_OUTCOME_SUCCEEDED);
    assert_true(r.failed_over);
    sg_outcome_free(&r.outcome);
    s_expect_calls(f, 0, 1);
    spec.job_path = NULL;
    assert_int_equal(sg_executor_submit_run(f->x, &spec), SG_EINVAL);
    s_fix_free(f);
}

/* Submits a fresh run of c0 with its own recovery point and returns its
 * JOB_STARTED outcome's point (caller frees), after the run succeeded. */
static char *s_run_with_point(s_fix_t *f, sg_run_mode_t mode, const char *point)
{
    char copy[128];
    snprintf(copy, sizeof copy, "%s", point);
    sg_run_spec_t spec = {.run_id = 1, .collection = 0, .mode = mode, .point = copy,
                          .intent_ms = sg_clock_wall(&f->clock)};
    assert_int_equal(sg_executor_submit_run(f->x, &spec), 0);
    memset(copy, 0, sizeof copy); /* the executor keeps its own copy */
    sg_exec_result_t r = s_until_kind(f, 0, SG_OUTCOME_JOB_STARTED);
    assert_non_null(sg_outcome_point(r.outcome));
    char *used = strdup(sg_outcome_point(r.outcome));
    assert_non_null(strstr(r.outcome->json, "\"recovery_point\":"));
    sg_outcome_free(&r.outcome);
    r = s_until_kind(f, 0, SG_OUTCOME_SUCCEEDED);
    assert_string_equal(sg_outcome_point(r.outcome), used);
    sg_outcome_free(&r.outcome);
    s_expect_calls_accepted(f, 0, 1, 1);
    return used;
}

/* The point a run of c0 (configured `configured`) used, as s_run_with_point
 * on a fixture of its own (caller frees). */
static char *s_point_used(sg_rp_policy_t configured, sg_run_mode_t mode, const char *point)
{
    s_fix_t *f = s_fix_new(1);
    f->colls[0].recovery_point = configured;
    s_fix_start(f);
    char *used = s_run_with_point(f, mode, point);
    s_fix_free(f);
    return used;
}

/* The point a run used, as s_point_used, contains `want`. */
static void s_expect_point_used_contains(sg_rp_policy_t configured, sg_run_mode_t mode,
                                         const char *point, const char *want)
{
    char *used = s_point_used(configured, mode, point);
    assert_non_null(strstr(used, want));
    free(used);
}

static void test_run_point_latest_overrides_a_configured_app_point(void **state)
{
    (void)state;
    char *used = s_point_used(SG_RP_LATEST_APP_CONSISTENT, SG_RUN_FRESH, SG_POINT_LATEST);
    assert_string_equal(used, "latest"); /* NULL was passed */
    free(used);
}

static void test_run_point_app_passes_the_newest_application_consistent_point(void **state)
{
    (void)state;
    /* the sim's app points are c0:latest-app (1 h old) and c0:app-1 (5 h) */
    s_expect_point_used_contains(SG_RP_LATEST, SG_RUN_FRESH, SG_POINT_APP,
                                 "Msvm_CollectionRecoveryPoint.CollectionID=\"c0\","
                                 "InstanceID=\"c0:latest-app\"");
}

static void test_run_point_named_by_path_or_instance_id_passes_that_point(void **state)
{
    (void)state;
    static const char *names[] = {
        "c0:crash-1", "Msvm_CollectionRecoveryPoint.CollectionID=\"c0\",InstanceID=\"c0:crash-1\""};
    for (int i = 0; i < 2; i++) {
        char *used = s_point_used(SG_RP_LATEST_APP_CONSISTENT, SG_RUN_FRESH, names[i]);
        size_t n = strlen(used), k = strlen(names[1]);
        assert_true(n > k);
        assert_string_equal(used + n - k, names[1]); /* the listed path, namespace and all */
        free(used);
    }
}

static void test_unknown_run_point_fails_listing_the_points_without_initiate_failover(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_started(1);
    sg_run_spec_t spec = {.run_id = 1, .collection = 0, .mode = SG_RUN_FRESH,
                          .point = "c1:latest-app"}; /* another collection's point */
    assert_int_equal(sg_executor_submit_run(f->x, &spec), 0);
    sg_exec_result_t r = s_next_end(f, SG_OUTCOME_FAILED);
    assert_false(r.failed_over);
    assert_non_null(strstr(r.outcome->message, "recovery point c1:latest-app not found"));
    assert_non_null(strstr(r.outcome->message, "c0:latest-app\" (application-consistent)"));
    assert_non_null(strstr(r.outcome->message, "c0:crash-1\" (crash-consistent)"));
    assert_string_equal(sg_outcome_point(r.outcome), "c1:latest-app");
    sg_outcome_free(&r.outcome);
    s_expect_calls_accepted(f, 0, 0, 0); /* InitiateFailover never called */
    s_fix_free(f);
}

static void test_run_resumed_after_a_restart_uses_its_own_point(void **state)
{
    (void)state;
    /* an intent was journaled, nothing was accepted: the resumed run calls */
    s_expect_point_used_contains(SG_RP_LATEST, SG_RUN_RESOLVE, SG_POINT_APP, "c0:latest-app");
}

/* ---- jobs that end with warnings, jobs that are gone ---------------------- */

/* JobState 32768 (Completed with warnings) is a successful end; the outcome
 * says so and carries the job's ErrorDescription. */
static void test_a_job_completed_with_warnings_succeeds_and_says_so(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_run_c0_with(
        (sg_sim_fault_cfg_t){.job_warnings = "replica volume 91% full", .times = 1});
    sg_exec_result_t r = s_until_kind(f, 0, SG_OUTCOME_SUCCEEDED);
    assert_true(r.ended && r.failed_over);
    assert_int_equal(r.outcome->job_state, SG_JOB_COMPLETED_WITH_WARNINGS);
    assert_non_null(strstr(r.outcome->message, "completed with warnings"));
    assert_non_null(strstr(r.outcome->message, "replica volume 91% full"));
    sg_outcome_free(&r.outcome);
    assert_int_equal(s_state(f, 0), SG_COLL_FAILED_OVER);
    assert_int_equal(sg_executor_active(f->x), 0);
    s_fix_free(f);
}

/* A run resumed after a restart follows its journaled job; Hyper-V removed
 * the job meanwhile (job_removal after its end): the collection's state
 * ends the run, and nothing is called again. */
static void s_follow_a_removed_job(s_fix_t *f)
{
    f->cfg.provider.sim.job_removal_ms = 1000;
    s_fix_start(f);
    char *job = s_call_before_crash(f, 0);
    sg_clock_fake_advance(&f->clock, 60000 + 1000); /* the job ran 60 s, then was removed */
    sg_run_spec_t spec = {.run_id = 5, .collection = 0, .mode = SG_RUN_FOLLOW, .job_path = job};
    assert_int_equal(sg_executor_submit_run(f->x, &spec), 0);
    free(job);
}

static void test_a_followed_job_that_is_gone_succeeds_when_the_collection_is_failed_over(
    void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    s_follow_a_removed_job(f);
    sg_exec_result_t r = s_next_end(f, SG_OUTCOME_SUCCEEDED);
    assert_true(r.failed_over);
    assert_non_null(strstr(r.outcome->message, "job is gone"));
    assert_non_null(strstr(r.outcome->message, "failed over"));
    assert_non_null(r.outcome->job_path);
    sg_outcome_free(&r.outcome);
    s_expect_calls_accepted(f, 0, 1, 1);
    s_fix_free(f);
}

static void test_a_followed_job_that_is_gone_fails_saying_so_when_the_collection_is_not(
    void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    s_inject_fault(f, (sg_sim_fault_cfg_t){.job_error_code = 4711, .times = 1});
    s_follow_a_removed_job(f); /* the job ended in Exception: back to replicating */
    sg_exec_result_t r = s_next_end(f, SG_OUTCOME_FAILED);
    assert_false(r.failed_over);
    assert_non_null(strstr(r.outcome->message, "vanished"));
    assert_non_null(strstr(r.outcome->message, "replicating"));
    sg_outcome_free(&r.outcome);
    s_expect_calls_accepted(f, 0, 1, 1);
    s_fix_free(f);
}

/* A job gone while it is followed (removed before a poll saw its end):
 * judged by the state as well. */
static void test_a_job_that_vanishes_while_followed_is_judged_by_the_state(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    s_fix_start_veiled(f, true, false);
    s_submit(f, 1, 0);
    sg_exec_result_t r = s_until_kind(f, 0, SG_OUTCOME_SUCCEEDED);
    assert_true(r.ended && r.failed_over);
    assert_non_null(strstr(r.outcome->message, "job is gone"));
    sg_outcome_free(&r.outcome);
    s_fix_free(f);
}

/* A failover another instance started, whose job cannot be found: the call
 * answers 32775 and the collection shows "failover initiated". The run
 * follows the collection's state to the failover's end. */
static void test_32775_while_a_failover_runs_without_a_visible_job_follows_the_state(
    void **state)
{
    (void)state;
    const int faults[] = {0, 4711};
    for (int i = 0; i < 2; i++) {
        s_fix_t *f = s_fix_new(1);
        if (faults[i])
            s_inject_fault(f, (sg_sim_fault_cfg_t){.job_error_code = 4711, .times = 1});
        s_fix_start_veiled(f, false, true);
        free(s_call_before_crash(f, 0)); /* the other instance's call */
        int64_t t0 = sg_clock_mono(&f->clock);
        s_submit(f, 1, 0);
        sg_exec_result_t r = s_until_kind(f, 0, faults[i] ? SG_OUTCOME_FAILED
                                                          : SG_OUTCOME_SUCCEEDED);
        assert_true(r.ended);
        assert_int_equal(r.failed_over, !faults[i]);
        assert_int_equal(r.outcome->return_value, 32775);
        assert_non_null(strstr(r.outcome->message, faults[i] ? "replicating" : "failed over"));
        sg_outcome_free(&r.outcome);
        assert_true(sg_clock_mono(&f->clock) - t0 >= 60000 - 100); /* waited for its end */
        s_expect_calls_accepted(f, 0, 2, 1); /* ours was refused; none after */
        s_fix_free(f);
    }
}

/* Following the state is bounded as following a job is: past job_timeout
 * the run is reported timed out and followed on; a stop ends it. */
static void test_a_state_followed_past_job_timeout_is_reported_timed_out_and_stops(
    void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    s_inject_fault(f, (sg_sim_fault_cfg_t){.hang = true});
    f->cfg.provider.job_timeout_ms = 120000;
    s_fix_start_veiled(f, false, true);
    free(s_call_before_crash(f, 0));
    s_submit(f, 1, 0);
    sg_exec_result_t r = s_until_kind(f, 0, SG_OUTCOME_TIMED_OUT);
    assert_false(r.ended);
    assert_true(r.timed_out);
    sg_outcome_free(&r.outcome);
    assert_int_equal(sg_executor_active(f->x), 1);
    s_fix_free(f); /* the worker stops following when told */
}

/* After a restart, an intent whose failover runs but whose job cannot be
 * found: the state decides, with no new call. */
static void test_a_resolved_run_whose_failover_runs_without_a_visible_job_follows_the_state(
    void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new(1);
    s_fix_start_veiled(f, false, true);
    int64_t intent = sg_clock_wall(&f->clock);
    free(s_call_before_crash(f, 0));
    s_submit_resolve(f, intent);
    sg_exec_result_t r = s_until_kind(f, 0, SG_OUTCOME_SUCCEEDED);
    assert_true(r.ended && r.failed_over);
    sg_outcome_free(&r.outcome);
    s_expect_calls_accepted(f, 0, 1, 1);
    s_fix_free(f);
}

static void test_restored_failure_stops_a_dependent_without_a_call(void **state)
{
    (void)state;
    s_fix_t *f = s_fix_started(1);
    sg_executor_restore(f->x, 0, false); /* c0's run failed before the restart */
    s_submit(f, 9, 3);
    sg_exec_result_t r = s_next_end(f, SG_OUTCOME_FAILED);
    assert_non_null(strstr(r.outcome->message, "depends on c0"));
    sg_outcome_free(&r.outcome);
    s_fix_free(f);
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
        cmocka_unit_test(test_hanging_job_is_reported_timed_out_and_still_followed),
        cmocka_unit_test(test_job_that_ends_after_its_timeout_is_reported_twice_then_succeeds),
        cmocka_unit_test(test_already_failed_over_counts_as_done),
        cmocka_unit_test(
            test_a_replica_reporting_critical_health_fails_without_a_call_unless_forced),
        cmocka_unit_test(
            test_a_replica_lagging_past_the_rpo_limit_before_the_loss_fails_without_a_call),
        cmocka_unit_test(test_a_replica_side_that_became_primary_fails_without_a_call),
        cmocka_unit_test(test_second_submit_while_running_is_refused),
        cmocka_unit_test(test_plan_groups_and_dependencies_order_the_runs),
        cmocka_unit_test(test_dependency_failure_stops_dependent_without_a_call),
        cmocka_unit_test(test_concurrency_is_capped_by_workers),
        cmocka_unit_test(test_destroy_with_runs_in_flight_returns),
        cmocka_unit_test(test_on_error_stop_fails_later_groups_without_a_call),
        cmocka_unit_test(test_on_error_continue_runs_later_groups),
        cmocka_unit_test(test_on_error_wait_holds_later_groups_until_released),
        cmocka_unit_test(test_max_concurrency_caps_runs_below_the_workers),
        cmocka_unit_test(test_per_host_cap_limits_runs_on_one_replica_host),
        cmocka_unit_test(test_latest_app_consistent_passes_the_newest_application_consistent_point),
        cmocka_unit_test(test_named_recovery_point_is_passed_and_an_unknown_one_fails_without_a_call),
        cmocka_unit_test(test_every_return_code_maps_to_an_outcome),
        cmocka_unit_test(test_status_unknown_checks_the_state_then_retries_once_and_succeeds),
        cmocka_unit_test(test_proof_hook_runs_before_the_call_and_a_refusal_prevents_it),
        cmocka_unit_test(test_every_attempt_is_proven_again),
        cmocka_unit_test(test_deferred_proofs_hold_their_calls_until_released),
        cmocka_unit_test(test_a_deferred_proof_is_made_again_at_release_and_may_cancel),
        cmocka_unit_test(test_a_queued_run_can_be_cancelled_before_any_call),
        cmocka_unit_test(test_resolve_follows_a_job_accepted_before_the_restart),
        cmocka_unit_test(test_resolve_reports_done_when_the_collection_is_already_failed_over),
        cmocka_unit_test(test_resolve_calls_only_when_the_provider_proves_nothing_started),
        cmocka_unit_test(test_resolve_follows_a_failed_job_instead_of_starting_another),
        cmocka_unit_test(test_follow_mode_follows_the_journaled_job),
        cmocka_unit_test(test_restored_failure_stops_a_dependent_without_a_call),
        cmocka_unit_test(test_a_job_completed_with_warnings_succeeds_and_says_so),
        cmocka_unit_test(
            test_a_followed_job_that_is_gone_succeeds_when_the_collection_is_failed_over),
        cmocka_unit_test(
            test_a_followed_job_that_is_gone_fails_saying_so_when_the_collection_is_not),
        cmocka_unit_test(test_a_job_that_vanishes_while_followed_is_judged_by_the_state),
        cmocka_unit_test(
            test_32775_while_a_failover_runs_without_a_visible_job_follows_the_state),
        cmocka_unit_test(
            test_a_state_followed_past_job_timeout_is_reported_timed_out_and_stops),
        cmocka_unit_test(
            test_a_resolved_run_whose_failover_runs_without_a_visible_job_follows_the_state),
        cmocka_unit_test(test_run_point_latest_overrides_a_configured_app_point),
        cmocka_unit_test(test_run_point_app_passes_the_newest_application_consistent_point),
        cmocka_unit_test(test_run_point_named_by_path_or_instance_id_passes_that_point),
        cmocka_unit_test(test_unknown_run_point_fails_listing_the_points_without_initiate_failover),
        cmocka_unit_test(test_run_resumed_after_a_restart_uses_its_own_point),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
