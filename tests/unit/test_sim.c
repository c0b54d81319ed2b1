/* The simulator provider: state rules, jobs on the fake clock, faults, the
 * state file (its change lines, compaction, sharing between two simulators,
 * lines cut short by a crash) and concurrent callers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/clock.h"
#include "config/config.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"
#include "provider/provider.h"
#include "provider/sim.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg_testutil.h"

#define N_COLLS 8
#define LATENCY_MS 20
#define DURATION_MS 2000
#define START_WALL_MS 1764000000000LL

typedef struct {
    sg_clock_t clock;
    sg_clock_fake_state_t clock_state;
    sg_config_t cfg;
    sg_collection_cfg_t colls[N_COLLS];
    char names[N_COLLS][16];
    char paths[N_COLLS][128];
    sg_sim_fault_cfg_t faults[4];
    sg_site_cfg_t sites[3];
    char dir[256];
    char state_path[300];
    sg_provider_t *p;
    sg_provider_t *p2; /* a second simulator on the same state file */
} fx_t;

/* A fixture with its config and clock, the state file in `dir`. Caller frees. */
static fx_t *fx_new(const char *dir)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    sg_log_set_level(SG_LOG_ERROR);
    sg_clock_fake_init(&fx->clock, &fx->clock_state, 1000, START_WALL_MS);
    for (int i = 0; i < N_COLLS; i++) {
        snprintf(fx->names[i], sizeof fx->names[i], "coll%d", i);
        snprintf(fx->paths[i], sizeof fx->paths[i],
                 "\\\\HV1\\root\\HyperVCluster\\v2:Msvm_VirtualSystemCollection.CollectionID=\"%d\"",
                 i);
        fx->colls[i].name = fx->names[i];
        fx->colls[i].cim_path = fx->paths[i];
    }
    fx->cfg.collections = fx->colls;
    fx->cfg.n_collections = N_COLLS;
    fx->cfg.provider.sim.call_latency_ms = LATENCY_MS;
    fx->cfg.provider.sim.job_duration_ms = DURATION_MS;
    fx->cfg.provider.sim.faults = fx->faults;
    snprintf(fx->dir, sizeof fx->dir, "%s", dir);
    snprintf(fx->state_path, sizeof fx->state_path, "%s/sim.json", fx->dir);
    return fx;
}

static int setup(void **state)
{
    char dir[256];
    assert_non_null(sg_test_mkdtemp(dir, sizeof dir, "test_sim."));
    *state = fx_new(dir);
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    sg_provider_destroy(&fx->p);
    sg_provider_destroy(&fx->p2);
    assert_int_equal(sg_test_rmtree(fx->dir), 0);
    free(fx);
    return 0;
}

static void start(fx_t *fx)
{
    fx->p = sg_sim_new(&fx->cfg, &fx->clock);
    assert_non_null(fx->p);
}

static void use_state_file(fx_t *fx) { fx->cfg.provider.sim.state_file = fx->state_path; }

/* Sites A and B and a witness W; every collection replicates from A to B. */
static void use_sites(fx_t *fx)
{
    static char *names[] = {"A", "B", "W"};
    for (int i = 0; i < 3; i++)
        fx->sites[i] = (sg_site_cfg_t){.name = names[i], .witness = i == 2};
    fx->cfg.sites = fx->sites;
    fx->cfg.n_sites = 3;
    for (int i = 0; i < N_COLLS; i++) {
        fx->colls[i].site = 0;
        fx->colls[i].replica_site = 1;
    }
}

static void add_fault(fx_t *fx, const char *coll, const char *method, uint32_t rc,
                      uint32_t job_error, bool hang, int times)
{
    sg_sim_fault_cfg_t *f = &fx->faults[fx->cfg.provider.sim.n_faults++];
    f->collection = (char *)coll;
    f->method = (char *)method;
    f->return_code = rc;
    f->job_error_code = job_error;
    f->hang = hang;
    f->times = times;
}

/* A fault whose jobs complete with warnings (JobState 32768) and `text`. */
static void add_warnings_fault(fx_t *fx, const char *coll, const char *method, const char *text,
                               int times)
{
    sg_sim_fault_cfg_t *f = &fx->faults[fx->cfg.provider.sim.n_faults++];
    *f = (sg_sim_fault_cfg_t){.collection = (char *)coll, .method = (char *)method,
                              .job_warnings = (char *)text, .times = times};
}

/* Calls `m` on collection `i`; returns the return value and hands the job
 * path over to *job (NULL to drop it). */
static uint32_t call_rp(fx_t *fx, sg_method_t m, int i, const char *rp, char **job)
{
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, m, fx->paths[i], rp, &r), SG_OK);
    uint32_t rv = r.return_value;
    if (rv == SG_RC_JOB_STARTED)
        assert_non_null(r.job_path);
    else
        assert_null(r.job_path);
    if (job) {
        *job = r.job_path;
        r.job_path = NULL;
    }
    sg_call_result_fini(&r);
    return rv;
}

static uint32_t call(fx_t *fx, sg_method_t m, int i, char **job)
{
    return call_rp(fx, m, i, NULL, job);
}

static sg_coll_state_t state_of(fx_t *fx, int i)
{
    sg_coll_state_t s;
    assert_int_equal(sg_provider_get_state(fx->p, fx->paths[i], &s), SG_OK);
    return s;
}

static sg_job_status_t job_of(fx_t *fx, const char *job)
{
    sg_job_status_t st;
    assert_int_equal(sg_provider_get_job(fx->p, job, &st), SG_OK);
    return st;
}

/* How often InitiateFailover was called on collection `i`, and accepted. */
static void failover_counts(fx_t *fx, int i, int *calls, int *accepted)
{
    assert_int_equal(sg_sim_counts(fx->p, fx->paths[i], SG_METHOD_INITIATE_FAILOVER, calls,
                                   accepted),
                     SG_OK);
}

/* Runs `m` on collection `i` to the end of its job. */
static void run(fx_t *fx, sg_method_t m, int i)
{
    char *job = NULL;
    assert_int_equal(call(fx, m, i, &job), SG_RC_JOB_STARTED);
    sg_clock_fake_advance(&fx->clock, DURATION_MS);
    sg_job_status_t st = job_of(fx, job);
    assert_int_equal(st.job_state, SG_JOB_COMPLETED);
    sg_job_status_fini(&st);
    free(job);
}

static void test_failover_starts_a_job_that_runs_to_completion_then_collection_is_failed_over(
    void **state)
{
    fx_t *fx = *state;
    start(fx);
    char *job = NULL;
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, &job), SG_RC_JOB_STARTED);
    assert_non_null(strstr(job, "Msvm_ConcreteJob.InstanceID=\""));
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILOVER_RUNNING);

    sg_job_status_t st = job_of(fx, job);
    assert_int_equal(st.job_state, SG_JOB_STARTING);
    assert_int_equal(st.percent_complete, 0);

    sg_clock_fake_advance(&fx->clock, DURATION_MS / 4);
    st = job_of(fx, job);
    assert_int_equal(st.job_state, SG_JOB_RUNNING);
    int first = st.percent_complete;
    assert_true(first > 0 && first < 100);

    sg_clock_fake_advance(&fx->clock, DURATION_MS / 2);
    st = job_of(fx, job);
    assert_int_equal(st.job_state, SG_JOB_RUNNING);
    assert_true(st.percent_complete > first && st.percent_complete < 100);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILOVER_RUNNING);

    sg_clock_fake_advance(&fx->clock, DURATION_MS / 4);
    st = job_of(fx, job);
    assert_int_equal(st.job_state, SG_JOB_COMPLETED);
    assert_int_equal(st.percent_complete, 100);
    assert_int_equal(st.elapsed_ms, DURATION_MS);
    assert_int_equal(st.error_code, 0);
    assert_null(st.error_description);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILED_OVER);
    assert_int_equal(state_of(fx, 1), SG_COLL_REPLICATING);
    free(job);
}

static void test_second_initiate_failover_is_invalid_state_while_running_and_after(void **state)
{
    fx_t *fx = *state;
    start(fx);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, NULL), SG_RC_JOB_STARTED);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, NULL), SG_RC_INVALID_STATE);
    sg_clock_fake_advance(&fx->clock, DURATION_MS);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILED_OVER);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, NULL), SG_RC_INVALID_STATE);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILED_OVER);
}

static void test_unknown_collection_is_invalid_parameter_and_not_found(void **state)
{
    fx_t *fx = *state;
    start(fx);
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER,
                                      "Msvm_VirtualSystemCollection.CollectionID=\"nope\"", NULL, &r),
                     SG_OK);
    assert_int_equal(r.return_value, SG_RC_INVALID_PARAMETER);
    assert_null(r.job_path);
    sg_call_result_fini(&r);
    sg_coll_state_t s;
    assert_int_equal(sg_provider_get_state(fx->p, "nope", &s), SG_ENOTFOUND);
}

/* Msvm_CollectionRecoveryPoint is keyed by CollectionID and InstanceID: a
 * point is the collection's when both say so. */
static void test_recovery_point_must_be_one_of_the_collections_points(void **state)
{
    fx_t *fx = *state;
    start(fx);
    static const char *refused[] = {
        "Msvm_CollectionRecoveryPoint.CollectionID=\"1\",InstanceID=\"coll1:latest-app\"",
        "Msvm_CollectionRecoveryPoint.CollectionID=\"0\",InstanceID=\"coll0:yesterday\"",
        "Msvm_CollectionRecoveryPoint.CollectionID=\"1\",InstanceID=\"coll0:latest-app\"",
        "Msvm_CollectionRecoveryPoint.InstanceID=\"coll0:latest-app\"", /* one key of two */
        "Msvm_VirtualSystemCollection.CollectionID=\"0\",InstanceID=\"coll0:latest-app\"",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        assert_int_equal(call_rp(fx, SG_METHOD_INITIATE_FAILOVER, 0, refused[i], NULL),
                         SG_RC_INVALID_PARAMETER);
    assert_int_equal(state_of(fx, 0), SG_COLL_REPLICATING);
    assert_int_equal(call_rp(fx, SG_METHOD_INITIATE_FAILOVER, 0,
                             "Msvm_CollectionRecoveryPoint.InstanceID=\"coll0:latest-app\","
                             "CollectionID=\"0\"",
                             NULL),
                     SG_RC_JOB_STARTED);
    assert_int_equal(call_rp(fx, SG_METHOD_TEST_REPLICA, 1,
                             "\\\\SIM\\root\\HyperVCluster\\v2:Msvm_CollectionRecoveryPoint."
                             "CollectionID=\"1\",InstanceID=\"coll1:latest-crash\"",
                             NULL),
                     SG_RC_JOB_STARTED);
}

static void test_unknown_job_is_not_found(void **state)
{
    fx_t *fx = *state;
    start(fx);
    sg_job_status_t st;
    assert_int_equal(sg_provider_get_job(fx->p, "Msvm_ConcreteJob.InstanceID=\"x\"", &st),
                     SG_ENOTFOUND);
    assert_null(st.error_description);
}

static void test_return_code_fault_answers_its_times_then_calls_succeed(void **state)
{
    fx_t *fx = *state;
    add_fault(fx, "coll0", "InitiateFailover", SG_RC_SYSTEM_NOT_AVAILABLE, 0, false, 2);
    start(fx);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 1, NULL), SG_RC_JOB_STARTED);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, NULL), SG_RC_SYSTEM_NOT_AVAILABLE);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, NULL), SG_RC_SYSTEM_NOT_AVAILABLE);
    assert_int_equal(state_of(fx, 0), SG_COLL_REPLICATING);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, NULL), SG_RC_JOB_STARTED);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILOVER_RUNNING);
}

static void test_fault_with_times_zero_answers_every_matching_call(void **state)
{
    fx_t *fx = *state;
    add_fault(fx, NULL, "TestReplicaCollection", SG_RC_ACCESS_DENIED, 0, false, 0);
    start(fx);
    for (int i = 0; i < 5; i++)
        assert_int_equal(call(fx, SG_METHOD_TEST_REPLICA, i % N_COLLS, NULL),
                         SG_RC_ACCESS_DENIED);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, NULL), SG_RC_JOB_STARTED);
}

static void test_job_error_fault_ends_in_exception_and_collection_stays_replicating(void **state)
{
    fx_t *fx = *state;
    add_fault(fx, "coll2", NULL, 0, 32768, false, 1);
    start(fx);
    char *job = NULL;
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 2, &job), SG_RC_JOB_STARTED);
    sg_clock_fake_advance(&fx->clock, DURATION_MS / 2);
    sg_job_status_t st = job_of(fx, job);
    assert_int_equal(st.job_state, SG_JOB_RUNNING);
    assert_int_equal(state_of(fx, 2), SG_COLL_FAILOVER_RUNNING);

    sg_clock_fake_advance(&fx->clock, DURATION_MS / 2);
    st = job_of(fx, job);
    assert_int_equal(st.job_state, SG_JOB_EXCEPTION);
    assert_int_equal(st.error_code, 32768);
    assert_non_null(st.error_description);
    assert_true(sg_job_state_ended(st.job_state));
    sg_job_status_fini(&st);
    assert_int_equal(state_of(fx, 2), SG_COLL_REPLICATING);

    /* The fault was used up: the next failover completes. */
    run(fx, SG_METHOD_INITIATE_FAILOVER, 2);
    assert_int_equal(state_of(fx, 2), SG_COLL_FAILED_OVER);
    free(job);
}

static void test_hang_fault_job_never_completes_even_after_a_long_time(void **state)
{
    fx_t *fx = *state;
    add_fault(fx, "coll3", "InitiateFailover", 0, 0, true, 0);
    start(fx);
    char *job = NULL;
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 3, &job), SG_RC_JOB_STARTED);
    sg_clock_fake_advance(&fx->clock, 7LL * 24 * 3600 * 1000);
    sg_job_status_t st = job_of(fx, job);
    assert_int_equal(st.job_state, SG_JOB_RUNNING);
    assert_true(st.percent_complete < 100);
    assert_false(sg_job_state_ended(st.job_state));
    assert_int_equal(state_of(fx, 3), SG_COLL_FAILOVER_RUNNING);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 3, NULL), SG_RC_INVALID_STATE);
    free(job);
}

/* Completed with warnings is a successful end: the collection reaches the
 * method's state; the text is the job's ErrorDescription, also after a
 * restart (the state file keeps it). */
static void test_a_warnings_fault_completes_the_job_with_warnings_and_its_text(void **state)
{
    fx_t *fx = *state;
    use_state_file(fx);
    add_warnings_fault(fx, "coll1", "InitiateFailover", "replica volume 91% full", 1);
    start(fx);
    char *job = NULL;
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 1, &job), SG_RC_JOB_STARTED);
    sg_clock_fake_advance(&fx->clock, DURATION_MS / 2);
    sg_job_status_t st = job_of(fx, job);
    assert_int_equal(st.job_state, SG_JOB_RUNNING);
    assert_null(st.error_description);
    sg_clock_fake_advance(&fx->clock, DURATION_MS / 2);
    st = job_of(fx, job);
    assert_int_equal(st.job_state, SG_JOB_COMPLETED_WITH_WARNINGS);
    assert_int_equal(st.percent_complete, 100);
    assert_int_equal(st.error_code, 0);
    assert_string_equal(st.error_description, "replica volume 91% full");
    sg_job_status_fini(&st);
    assert_int_equal(state_of(fx, 1), SG_COLL_FAILED_OVER);

    sg_provider_destroy(&fx->p);
    start(fx);
    st = job_of(fx, job);
    assert_int_equal(st.job_state, SG_JOB_COMPLETED_WITH_WARNINGS);
    assert_string_equal(st.error_description, "replica volume 91% full");
    sg_job_status_fini(&st);
    run(fx, SG_METHOD_COMMIT_FAILOVER, 1); /* the fault was used up */
    free(job);
}

/* Hyper-V deletes an ended job TimeBeforeRemoval after its end: the job's
 * path then answers not found, and find_failover_job no longer names it.
 * The collection keeps the state the job left. */
static void test_an_ended_job_is_gone_job_removal_after_its_end(void **state)
{
    fx_t *fx = *state;
    fx->cfg.provider.sim.job_removal_ms = 1000;
    fx->cfg.provider.sim.call_latency_ms = 0; /* both jobs start and end together */
    add_fault(fx, "coll2", NULL, 0, 4711, false, 1);
    start(fx);
    int64_t before = sg_clock_wall(&fx->clock);
    char *job = NULL, *failed = NULL, *found = NULL;
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, &job), SG_RC_JOB_STARTED);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 2, &failed), SG_RC_JOB_STARTED);
    sg_clock_fake_advance(&fx->clock, DURATION_MS + 999);
    sg_job_status_t st = job_of(fx, job);
    assert_int_equal(st.job_state, SG_JOB_COMPLETED);
    st = job_of(fx, failed);
    assert_int_equal(st.job_state, SG_JOB_EXCEPTION);
    sg_job_status_fini(&st);
    assert_int_equal(sg_provider_find_failover_job(fx->p, fx->paths[0], before, &found), SG_OK);
    assert_string_equal(found, job);
    free(found);
    found = NULL;

    sg_clock_fake_advance(&fx->clock, 1);
    assert_int_equal(sg_provider_get_job(fx->p, job, &st), SG_ENOTFOUND);
    assert_null(st.error_description);
    assert_int_equal(sg_provider_get_job(fx->p, failed, &st), SG_ENOTFOUND);
    assert_int_equal(sg_provider_find_failover_job(fx->p, fx->paths[0], before, &found),
                     SG_ENOTFOUND);
    assert_null(found);
    assert_int_equal(sg_provider_find_failover_job(fx->p, fx->paths[2], before, &found),
                     SG_ENOTFOUND);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILED_OVER);
    assert_int_equal(state_of(fx, 2), SG_COLL_REPLICATING);
    free(job);
    free(failed);
}

/* A job that never ends is never removed; job_removal 0 keeps ended jobs for
 * ever. */
static void test_a_hung_job_is_never_removed_nor_any_with_job_removal_0(void **state)
{
    fx_t *fx = *state;
    fx->cfg.provider.sim.job_removal_ms = 1000;
    add_fault(fx, "coll3", "InitiateFailover", 0, 0, true, 0);
    start(fx);
    char *hung = NULL, *found = NULL;
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 3, &hung), SG_RC_JOB_STARTED);
    sg_clock_fake_advance(&fx->clock, 7LL * 24 * 3600 * 1000);
    sg_job_status_t st = job_of(fx, hung);
    assert_int_equal(st.job_state, SG_JOB_RUNNING);
    assert_int_equal(sg_provider_find_failover_job(fx->p, fx->paths[3], INT64_MAX, &found), SG_OK);
    assert_string_equal(found, hung);
    free(found);
    free(hung);
    sg_provider_destroy(&fx->p);

    fx->cfg.provider.sim.job_removal_ms = 0;
    start(fx);
    char *job = NULL;
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, &job), SG_RC_JOB_STARTED);
    sg_clock_fake_advance(&fx->clock, 7LL * 24 * 3600 * 1000);
    st = job_of(fx, job);
    assert_int_equal(st.job_state, SG_JOB_COMPLETED);
    free(job);
}

/* Removal counts on the wall clock across a restart: a job that ended while
 * the service was down is gone once job_removal has passed since its end. */
static void test_a_job_that_ended_while_down_is_gone_after_the_restart(void **state)
{
    fx_t *fx = *state;
    fx->cfg.provider.sim.job_removal_ms = 1000;
    use_state_file(fx);
    start(fx);
    char *job = NULL, *found = NULL;
    int64_t before = sg_clock_wall(&fx->clock);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, &job), SG_RC_JOB_STARTED);
    sg_provider_destroy(&fx->p);
    int64_t wall = sg_clock_wall(&fx->clock) + DURATION_MS + 1000;
    sg_clock_fake_init(&fx->clock, &fx->clock_state, 5, wall);
    start(fx);
    sg_job_status_t st;
    assert_int_equal(sg_provider_get_job(fx->p, job, &st), SG_ENOTFOUND);
    assert_int_equal(sg_provider_find_failover_job(fx->p, fx->paths[0], before, &found),
                     SG_ENOTFOUND);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILED_OVER);
    free(job);
}

static void test_commit_needs_failed_over_and_revert_after_commit_is_invalid_state(void **state)
{
    fx_t *fx = *state;
    start(fx);
    assert_int_equal(call(fx, SG_METHOD_COMMIT_FAILOVER, 0, NULL), SG_RC_INVALID_STATE);
    assert_int_equal(call(fx, SG_METHOD_REVERT_FAILOVER, 0, NULL), SG_RC_INVALID_STATE);
    run(fx, SG_METHOD_INITIATE_FAILOVER, 0);

    char *job = NULL;
    assert_int_equal(call(fx, SG_METHOD_COMMIT_FAILOVER, 0, &job), SG_RC_JOB_STARTED);
    /* A job in flight makes the collection busy. */
    assert_int_equal(call(fx, SG_METHOD_REVERT_FAILOVER, 0, NULL), SG_RC_INVALID_STATE);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILED_OVER);
    sg_clock_fake_advance(&fx->clock, DURATION_MS);
    assert_int_equal(state_of(fx, 0), SG_COLL_COMMITTED);

    assert_int_equal(call(fx, SG_METHOD_REVERT_FAILOVER, 0, NULL), SG_RC_INVALID_STATE);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, NULL), SG_RC_INVALID_STATE);
    assert_int_equal(state_of(fx, 0), SG_COLL_COMMITTED);
    free(job);
}

static void test_revert_before_commit_returns_to_replicating_and_allows_a_new_failover(
    void **state)
{
    fx_t *fx = *state;
    start(fx);
    run(fx, SG_METHOD_INITIATE_FAILOVER, 0);
    run(fx, SG_METHOD_REVERT_FAILOVER, 0);
    assert_int_equal(state_of(fx, 0), SG_COLL_REPLICATING);
    run(fx, SG_METHOD_INITIATE_FAILOVER, 0);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILED_OVER);
}

static void test_test_replica_then_revert_test_replica_returns_to_replicating(void **state)
{
    fx_t *fx = *state;
    start(fx);
    assert_int_equal(call(fx, SG_METHOD_REVERT_TEST_REPLICA, 4, NULL), SG_RC_INVALID_STATE);
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_TEST_REPLICA, fx->paths[4], NULL, &r),
                     SG_OK);
    assert_int_equal(r.return_value, SG_RC_JOB_STARTED);
    assert_non_null(r.resulting_collection);
    assert_non_null(strstr(r.resulting_collection, "coll4"));
    sg_call_result_fini(&r);
    sg_clock_fake_advance(&fx->clock, DURATION_MS);
    assert_int_equal(state_of(fx, 4), SG_COLL_TESTING);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 4, NULL), SG_RC_INVALID_STATE);
    assert_int_equal(call(fx, SG_METHOD_TEST_REPLICA, 4, NULL), SG_RC_INVALID_STATE);

    run(fx, SG_METHOD_REVERT_TEST_REPLICA, 4);
    assert_int_equal(state_of(fx, 4), SG_COLL_REPLICATING);
}

static void test_state_file_survives_restart_and_a_job_in_flight_completes(void **state)
{
    fx_t *fx = *state;
    use_state_file(fx);
    start(fx);
    run(fx, SG_METHOD_INITIATE_FAILOVER, 1);
    char *job = NULL;
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, &job), SG_RC_JOB_STARTED);
    sg_clock_fake_advance(&fx->clock, DURATION_MS / 4);
    sg_provider_destroy(&fx->p);
    assert_null(fx->p);

    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", fx->state_path);
    assert_int_equal(access(fx->state_path, F_OK), 0);
    assert_int_not_equal(access(tmp, F_OK), 0);

    /* A new process: its monotonic clock starts over, wall time went on. */
    int64_t wall = sg_clock_wall(&fx->clock) + DURATION_MS / 4;
    sg_clock_fake_init(&fx->clock, &fx->clock_state, 5, wall);
    start(fx);
    assert_int_equal(state_of(fx, 1), SG_COLL_FAILED_OVER);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILOVER_RUNNING);
    sg_job_status_t st = job_of(fx, job);
    assert_int_equal(st.job_state, SG_JOB_RUNNING);
    assert_int_equal(st.elapsed_ms, DURATION_MS / 2);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, NULL), SG_RC_INVALID_STATE);

    sg_clock_fake_advance(&fx->clock, DURATION_MS / 2);
    st = job_of(fx, job);
    assert_int_equal(st.job_state, SG_JOB_COMPLETED);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILED_OVER);

    /* New job ids do not reuse old ones. */
    char *job2 = NULL;
    assert_int_equal(call(fx, SG_METHOD_COMMIT_FAILOVER, 0, &job2), SG_RC_JOB_STARTED);
    assert_string_not_equal(job, job2);
    free(job);
    free(job2);
}


static void test_fault_counters_survive_restart(void **state)
{
    fx_t *fx = *state;
    use_state_file(fx);
    add_fault(fx, NULL, NULL, SG_RC_TIMEOUT, 0, false, 1);
    start(fx);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, NULL), SG_RC_TIMEOUT);
    sg_provider_destroy(&fx->p);
    start(fx);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, NULL), SG_RC_JOB_STARTED);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

#ifndef _WIN32
#include <sys/stat.h>

static unsigned mode_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("%s is missing", path);
    return (unsigned)(st.st_mode & 0777);
}

static void test_state_file_and_its_lock_are_0600_under_umask_022_even_over_a_stale_copy(
    void **state)
{
    fx_t *fx = *state;
    char tmp[320], lock[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", fx->state_path);
    snprintf(lock, sizeof lock, "%s.lock", fx->state_path);
    /* a temporary copy left open to all by an older build, or an intruder */
    write_file(tmp, "{}");
    assert_int_equal(chmod(tmp, 0666), 0);
    use_state_file(fx);
    mode_t old = umask(022);
    start(fx);
    uint32_t rc = call(fx, SG_METHOD_INITIATE_FAILOVER, 0, NULL);
    umask(old);
    assert_int_equal(rc, SG_RC_JOB_STARTED);
    assert_int_equal(mode_of(fx->state_path), 0600);
    assert_int_equal(mode_of(lock), 0600);
    assert_int_not_equal(access(tmp, F_OK), 0);
}
#endif

/* Creates a simulator with standard error captured (from `text` when not
 * NULL, else from the config); returns what it logged. */
static char *new_from_capturing_log(fx_t *fx, const char *text)
{
    char log_path[320];
    snprintf(log_path, sizeof log_path, "%s/stderr.log", fx->dir);
    fflush(stderr);
    int saved = dup(2), fd = open(log_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    fx->p = text ? sg_sim_new_from_text(&fx->cfg, &fx->clock, "state.json", text, strlen(text))
                 : sg_sim_new(&fx->cfg, &fx->clock);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *log = calloc(1, 4096);
    assert_non_null(log);
    lseek(fd, 0, SEEK_SET);
    assert_true(read(fd, log, 4095) >= 0);
    close(fd);
    unlink(log_path);
    return log;
}

static char *new_capturing_log(fx_t *fx)
{
    return new_from_capturing_log(fx, NULL);
}

static void test_corrupt_state_file_is_refused_with_an_error_naming_the_file(void **state)
{
    fx_t *fx = *state;
    use_state_file(fx);
    write_file(fx->state_path, "{\"version\": 1, \"collections\": [");
    char *log = new_capturing_log(fx);
    assert_null(fx->p);
    assert_non_null(strstr(log, fx->state_path));
    assert_non_null(strstr(log, "error"));
    free(log);
}

static void test_state_file_with_wrong_shape_is_refused(void **state)
{
    fx_t *fx = *state;
    use_state_file(fx);
    write_file(fx->state_path, "{\"version\": 1, \"next_seq\": 3, \"collections\": "
                               "[{\"path\": \"x\", \"state\": \"sideways\"}], \"jobs\": []}");
    char *log = new_capturing_log(fx);
    assert_null(fx->p);
    assert_non_null(strstr(log, fx->state_path));
    free(log);
}

/* A state file's text with one collection entry (collection 0, `calls`
 * InitiateFailover calls) and one job in flight on it started at `start`
 * and running `duration` ms. Caller frees. */
static char *state_text(fx_t *fx, json_int_t calls, json_int_t start, json_int_t duration)
{
    json_t *root = json_pack(
        "{s:i, s:i, s:[{s:s, s:s, s:{s:I}}], s:[{s:s, s:s, s:s, s:I, s:I, s:s, s:i, s:s, s:s,"
        " s:b}]}",
        "version", 1, "next_seq", 2, "collections", "path", fx->paths[0], "state",
        "failover running", "calls", "InitiateFailover", calls, "jobs", "path", "job-1",
        "collection", fx->paths[0], "method", "InitiateFailover", "start_wall_ms", start,
        "duration_ms", duration, "outcome", "completed", "error_code", 0, "from", "replicating",
        "to", "failed over", "settled", 0);
    assert_non_null(root);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    assert_non_null(text);
    return text;
}

static void test_state_text_is_read_as_a_state_file_and_kept_in_memory(void **state)
{
    fx_t *fx = *state;
    char *text = state_text(fx, 1, START_WALL_MS - 500, DURATION_MS);
    fx->p = sg_sim_new_from_text(&fx->cfg, &fx->clock, "state.json", text, strlen(text));
    assert_non_null(fx->p);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILOVER_RUNNING);
    sg_clock_fake_advance(&fx->clock, DURATION_MS - 500);
    sg_job_status_t st = job_of(fx, "job-1");
    assert_int_equal(st.job_state, SG_JOB_COMPLETED);
    sg_job_status_fini(&st);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILED_OVER);
    sg_provider_destroy(&fx->p);
    use_state_file(fx); /* the text stands for the state file: not both */
    assert_null(sg_sim_new_from_text(&fx->cfg, &fx->clock, "state.json", text, strlen(text)));
    free(text);
}

/* The text of state_text whose job has `outcome` and, unless NULL, the
 * `description` of a newer build. Caller frees. */
static char *state_text_outcome(fx_t *fx, const char *outcome, const char *description)
{
    char *text = state_text(fx, 1, START_WALL_MS - 500, DURATION_MS);
    json_t *root = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(root);
    json_t *job = json_array_get(json_object_get(root, "jobs"), 0);
    assert_int_equal(json_object_set_new(job, "outcome", json_string(outcome)), 0);
    if (description)
        assert_int_equal(json_object_set_new(job, "description", json_string(description)), 0);
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    assert_non_null(text);
    return text;
}

/* A job with warnings and its description are read back; the description is
 * optional (a state file of an older build has none, and still loads). */
static void test_a_warnings_job_is_read_from_the_state_text_its_description_optional(
    void **state)
{
    fx_t *fx = *state;
    for (int with = 0; with < 2; with++) {
        char *text = state_text_outcome(fx, "warnings", with ? "slow replica" : NULL);
        fx->p = sg_sim_new_from_text(&fx->cfg, &fx->clock, "state.json", text, strlen(text));
        free(text);
        assert_non_null(fx->p);
        sg_clock_fake_advance(&fx->clock, DURATION_MS);
        sg_job_status_t st = job_of(fx, "job-1");
        assert_int_equal(st.job_state, SG_JOB_COMPLETED_WITH_WARNINGS);
        if (with)
            assert_string_equal(st.error_description, "slow replica");
        else
            assert_null(st.error_description);
        sg_job_status_fini(&st);
        assert_int_equal(state_of(fx, 0), SG_COLL_FAILED_OVER);
        sg_provider_destroy(&fx->p);
    }
    char *text = state_text_outcome(fx, "sideways", NULL);
    assert_null(sg_sim_new_from_text(&fx->cfg, &fx->clock, "state.json", text, strlen(text)));
    free(text);
}

/* A job that starts before 1970 or at the end of int64, or runs a negative
 * or endless time, is corrupt: converting it to the monotonic clock
 * overflowed, and a negative duration gave a negative elapsed time (found by
 * fuzz_simstate); every number of the file is bounded. */
static void test_state_with_a_job_time_out_of_range_is_refused(void **state)
{
    fx_t *fx = *state;
    const json_int_t bad[][2] = {
        {-1, DURATION_MS}, {INT64_MIN, DURATION_MS}, {INT64_MAX, DURATION_MS},
        {START_WALL_MS, -1}, {START_WALL_MS, INT64_MIN}, {START_WALL_MS, INT64_MAX}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *text = state_text(fx, 1, bad[i][0], bad[i][1]);
        assert_null(sg_sim_new_from_text(&fx->cfg, &fx->clock, "state.json", text, strlen(text)));
        free(text);
    }
}

/* Counters beyond what a simulator could have counted are read as 0: one
 * call more must not overflow (found by fuzz_simstate). */
static void test_state_counters_out_of_range_are_read_as_zero(void **state)
{
    fx_t *fx = *state;
    const json_int_t bad[] = {INT32_MAX, (json_int_t)INT32_MAX + 1, -5};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *text = state_text(fx, bad[i], START_WALL_MS, DURATION_MS);
        fx->p = sg_sim_new_from_text(&fx->cfg, &fx->clock, "state.json", text, strlen(text));
        free(text);
        assert_non_null(fx->p);
        assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, NULL), SG_RC_INVALID_STATE);
        int calls = -1, accepted = -1;
        failover_counts(fx, 0, &calls, &accepted);
        assert_int_equal(calls, 1);
        sg_provider_destroy(&fx->p);
    }
}

typedef struct {
    fx_t *fx;
    int coll;
    uint32_t rv;
    char *job;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    sg_call_result_t r;
    if (sg_provider_call(w->fx->p, SG_METHOD_INITIATE_FAILOVER, w->fx->paths[w->coll], NULL, &r) ==
        SG_OK) {
        w->rv = r.return_value;
        w->job = r.job_path;
        r.job_path = NULL;
        sg_call_result_fini(&r);
    }
    return NULL;
}

static void test_concurrent_calls_on_different_collections_all_start_jobs(void **state)
{
    fx_t *fx = *state;
    use_state_file(fx);
    start(fx);
    pthread_t threads[N_COLLS];
    worker_t w[N_COLLS];
    for (int i = 0; i < N_COLLS; i++) {
        w[i] = (worker_t){.fx = fx, .coll = i};
        assert_int_equal(pthread_create(&threads[i], NULL, worker, &w[i]), 0);
    }
    for (int i = 0; i < N_COLLS; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    for (int i = 0; i < N_COLLS; i++) {
        assert_int_equal(w[i].rv, SG_RC_JOB_STARTED);
        assert_non_null(w[i].job);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(w[i].job, w[k].job);
    }
    sg_clock_fake_advance(&fx->clock, DURATION_MS);
    for (int i = 0; i < N_COLLS; i++) {
        sg_job_status_t st = job_of(fx, w[i].job);
        assert_int_equal(st.job_state, SG_JOB_COMPLETED);
        assert_int_equal(state_of(fx, i), SG_COLL_FAILED_OVER);
        free(w[i].job);
    }
}

static void test_recovery_points_of_both_kinds_are_listed_with_times(void **state)
{
    fx_t *fx = *state;
    start(fx);
    sg_recovery_point_t *pts = NULL;
    size_t n = 0;
    assert_int_equal(sg_provider_list_recovery_points(fx->p, fx->paths[2], &pts, &n), SG_OK);
    assert_int_equal(n, 4);
    int app = 0, crash = 0;
    for (size_t i = 0; i < n; i++) {
        assert_non_null(strstr(pts[i].path, "\\\\SIM\\root\\HyperVCluster\\v2:"
                                            "Msvm_CollectionRecoveryPoint.CollectionID=\"2\","
                                            "InstanceID=\"coll2:"));
        assert_true(pts[i].created_ms < START_WALL_MS);
        app += pts[i].app_consistent;
        crash += !pts[i].app_consistent;
        /* every listed point is accepted by InitiateFailover's check */
        assert_int_equal(call_rp(fx, SG_METHOD_TEST_REPLICA, 2, pts[i].path, NULL),
                         i == 0 ? SG_RC_JOB_STARTED : SG_RC_INVALID_STATE);
    }
    assert_int_equal(app, 2);
    assert_int_equal(crash, 2);
    const sg_recovery_point_t *best = sg_recovery_point_newest_app(pts, n);
    assert_non_null(best);
    assert_non_null(strstr(best->path, "coll2:latest-app\""));
    for (size_t i = 0; i < n; i++)
        if (pts[i].app_consistent)
            assert_true(pts[i].created_ms <= best->created_ms);
    sg_recovery_points_free(pts, n);
    assert_int_equal(sg_provider_list_recovery_points(fx->p, "nope", &pts, &n), SG_ENOTFOUND);
}

static void test_find_failover_job_finds_the_job_in_flight_or_one_started_since(void **state)
{
    fx_t *fx = *state;
    start(fx);
    char *found = NULL;
    assert_int_equal(sg_provider_find_failover_job(fx->p, fx->paths[0], 0, &found), SG_ENOTFOUND);
    assert_null(found);
    int64_t before = sg_clock_wall(&fx->clock);
    char *job = NULL;
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, &job), SG_RC_JOB_STARTED);
    assert_int_equal(sg_provider_find_failover_job(fx->p, fx->paths[0], INT64_MAX, &found), SG_OK);
    assert_string_equal(found, job); /* in flight: whatever `since` */
    free(found);
    sg_clock_fake_advance(&fx->clock, DURATION_MS);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILED_OVER);
    assert_int_equal(sg_provider_find_failover_job(fx->p, fx->paths[0], before, &found), SG_OK);
    assert_string_equal(found, job); /* ended, started since `before` */
    free(found);
    assert_int_equal(sg_provider_find_failover_job(fx->p, fx->paths[0], before + LATENCY_MS + 1, &found),
                     SG_ENOTFOUND);
    assert_int_equal(sg_provider_find_failover_job(fx->p, fx->paths[1], before, &found),
                     SG_ENOTFOUND);
    free(job);
}

static void test_calls_are_counted_per_method_and_the_counts_survive_restart(void **state)
{
    fx_t *fx = *state;
    use_state_file(fx);
    start(fx);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 3, NULL), SG_RC_JOB_STARTED);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 3, NULL), SG_RC_INVALID_STATE);
    int calls = -1, accepted = -1;
    failover_counts(fx, 3, &calls, &accepted);
    assert_int_equal(calls, 2);
    assert_int_equal(accepted, 1);
    sg_provider_destroy(&fx->p);
    start(fx);
    failover_counts(fx, 3, &calls, &accepted);
    assert_int_equal(calls, 2);
    assert_int_equal(accepted, 1);
    failover_counts(fx, 4, &calls, &accepted);
    assert_int_equal(calls, 0);
    FILE *fp = fopen(fx->state_path, "r");
    assert_non_null(fp);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    assert_non_null(strstr(buf, "\"accepted\""));
}

/* ---- the state file: change lines, compaction, two simulators, crashes ---- */

/* The helpers address fx->p: this swaps in the second simulator, or back. */
static void other(fx_t *fx)
{
    sg_provider_t *p = fx->p;
    fx->p = fx->p2;
    fx->p2 = p;
}

static void start_both(fx_t *fx)
{
    use_state_file(fx);
    start(fx);
    other(fx);
    start(fx);
    other(fx);
}

static sg_simfile_stats_t file_stats(fx_t *fx)
{
    sg_simfile_stats_t st;
    assert_int_equal(sg_sim_file_stats(fx->p, &st), SG_OK);
    return st;
}

static int calls_of(fx_t *fx, sg_method_t m, int i)
{
    int calls = -1, accepted = -1;
    assert_int_equal(sg_sim_counts(fx->p, fx->paths[i], m, &calls, &accepted), SG_OK);
    return calls;
}

/* `n` calls refused with 32775 (CommitFailover on replicating
 * collections), collection i % N_COLLS for i from `from`: one change each,
 * the call counter. */
static void refused_commits(fx_t *fx, int from, int n)
{
    for (int i = from; i < from + n; i++)
        assert_int_equal(call(fx, SG_METHOD_COMMIT_FAILOVER, i % N_COLLS, NULL),
                         SG_RC_INVALID_STATE);
}

/* The file's text, NUL-terminated (caller frees); *len its size. */
static char *read_text(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    char *text = malloc((size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, fp), (size_t)n);
    text[n] = '\0';
    fclose(fp);
    if (len)
        *len = (size_t)n;
    return text;
}

/* What a process killed in the middle of appending a line leaves. */
static void append_cut_line(fx_t *fx)
{
    FILE *fp = fopen(fx->state_path, "ab");
    assert_non_null(fp);
    fprintf(fp, "{\"collections\":[{\"path\":\"%s\",\"state\":\"committed\",\"ca", fx->paths[0]);
    fclose(fp);
}

static void test_a_second_simulator_on_the_same_file_sees_each_change_from_its_line(void **state)
{
    fx_t *fx = *state;
    start_both(fx); /* the second one wrote a snapshot last */
    char *job = NULL;
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, &job), SG_RC_JOB_STARTED);
    sg_simfile_stats_t first = file_stats(fx);
    assert_int_equal(first.snapshots, 1); /* its own, at the start */
    assert_int_equal(first.loads, 1); /* after the other's snapshot (none at its start) */
    assert_int_equal(first.lines, 1);

    other(fx);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILOVER_RUNNING);
    char *found = NULL;
    assert_int_equal(sg_provider_find_failover_job(fx->p, fx->paths[0], 0, &found), SG_OK);
    assert_string_equal(found, job);
    free(found);
    assert_int_equal(call(fx, SG_METHOD_INITIATE_FAILOVER, 0, NULL), SG_RC_INVALID_STATE);
    sg_simfile_stats_t second = file_stats(fx);
    assert_int_equal(second.loads, 1); /* the first one's change came as a line */
    assert_int_equal(second.lines_applied, 1);
    assert_int_equal(second.snapshots, 1);
    assert_int_equal(second.lines, 1);

    other(fx);
    int calls = -1, accepted = -1;
    failover_counts(fx, 0, &calls, &accepted);
    assert_int_equal(calls, 2);
    assert_int_equal(accepted, 1);
    sg_clock_fake_advance(&fx->clock, DURATION_MS);
    sg_job_status_t st = job_of(fx, job); /* settles the job: one more line */
    assert_int_equal(st.job_state, SG_JOB_COMPLETED);
    other(fx);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILED_OVER);
    assert_int_equal(file_stats(fx).loads, 1);
    assert_int_equal(file_stats(fx).lines_applied, 2);
    free(job);
}

static void test_lines_are_compacted_into_a_snapshot_and_the_other_simulator_sees_everything(
    void **state)
{
    fx_t *fx = *state;
    start_both(fx);
    int n = 0;
    while (file_stats(fx).snapshots < 2) { /* the second: the lines outgrew the first */
        refused_commits(fx, n, 10);
        n += 10;
        assert_true(n < 10000);
        other(fx); /* the other reads the lines as they come */
        assert_int_equal(calls_of(fx, SG_METHOD_COMMIT_FAILOVER, 0), (n + N_COLLS - 1) / N_COLLS);
        other(fx);
    }
    sg_simfile_stats_t st = file_stats(fx);
    assert_true(st.bytes_appended >= 64 * 1024); /* not before the lines outgrew 64 KiB */
    refused_commits(fx, n, 3);
    n += 3;
    size_t len = 0;
    free(read_text(fx->state_path, &len));
    assert_true(len < st.bytes_appended / 4); /* the file shrank to a snapshot and 3 lines */

    other(fx);
    for (int i = 0; i < N_COLLS; i++)
        assert_int_equal(calls_of(fx, SG_METHOD_COMMIT_FAILOVER, i),
                         n / N_COLLS + (i < n % N_COLLS));
    sg_simfile_stats_t second = file_stats(fx);
    assert_int_equal(second.loads, 2); /* its start, and the compacted file */
    assert_true(second.lines_applied >= (uint64_t)n - 20);
}

static void make_dir(const char *path)
{
#ifdef _WIN32
    assert_int_equal(_mkdir(path), 0);
#else
    assert_int_equal(mkdir(path, 0700), 0);
#endif
}

/* A snapshot that is due but cannot be written (a folder stands where its
 * temporary file goes) does not stop changes: they are appended, and the
 * snapshot is written once it can be. */
static void test_changes_are_appended_while_a_due_snapshot_cannot_be_written(void **state)
{
    fx_t *fx = *state;
    start_both(fx);
    char tmp[320], log_path[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", fx->state_path);
    snprintf(log_path, sizeof log_path, "%s/stderr.log", fx->dir);
    make_dir(tmp);
    int saved = sg_test_capture_begin(log_path);
    assert_true(saved >= 0);
    int n = 0;
    for (; file_stats(fx).bytes_appended < 80 * 1024; n += 10)
        refused_commits(fx, n, 10);
    char *log = sg_test_capture_end(saved, log_path);
    assert_non_null(log);
    assert_non_null(strstr(log, "cannot write"));
    free(log);
    assert_int_equal(file_stats(fx).snapshots, 1);
    assert_int_equal(rmdir(tmp), 0);
    refused_commits(fx, n++, 1);
    assert_int_equal(file_stats(fx).snapshots, 2);
    other(fx);
    int total = 0;
    for (int i = 0; i < N_COLLS; i++)
        total += calls_of(fx, SG_METHOD_COMMIT_FAILOVER, i);
    assert_int_equal(total, n);
}

/* Two simulators sizes apart: a change appends the same bytes, and no
 * snapshot is written for it. */
static void test_the_bytes_written_per_change_do_not_grow_with_the_number_of_collections(
    void **state)
{
    fx_t *fx = *state;
    enum { BIG = 4000, CHANGES = 50 };
    sg_collection_cfg_t *big = calloc(BIG, sizeof *big);
    char(*paths)[128] = calloc(BIG, sizeof *paths);
    assert_true(big && paths);
    for (int i = 0; i < BIG; i++) {
        big[i] = fx->colls[i % N_COLLS]; /* the first N_COLLS as in the small round */
        snprintf(paths[i], sizeof paths[i], "other-%d", i);
        if (i >= N_COLLS)
            big[i].cim_path = paths[i];
    }
    uint64_t per_change[2];
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            fx->cfg.collections = big;
            fx->cfg.n_collections = BIG;
            snprintf(fx->state_path, sizeof fx->state_path, "%s/big.json", fx->dir);
        }
        use_state_file(fx);
        start(fx);
        refused_commits(fx, 0, CHANGES);
        sg_simfile_stats_t st = file_stats(fx);
        assert_int_equal(st.snapshots, 1); /* the one at the start */
        assert_int_equal(st.lines, CHANGES);
        per_change[round] = st.bytes_appended / CHANGES;
        sg_provider_destroy(&fx->p);
    }
    assert_int_equal(per_change[0], per_change[1]);
    assert_true(per_change[0] < 512);
    free(big);
    free(paths);
}

static void test_a_last_line_cut_short_is_ignored_when_the_file_is_loaded(void **state)
{
    fx_t *fx = *state;
    use_state_file(fx);
    start(fx);
    refused_commits(fx, 0, 3 * N_COLLS);
    sg_provider_destroy(&fx->p);
    append_cut_line(fx);
    sg_log_set_level(SG_LOG_WARN);
    char *log = new_capturing_log(fx);
    sg_log_set_level(SG_LOG_ERROR);
    assert_non_null(fx->p);
    assert_non_null(strstr(log, "line"));
    assert_non_null(strstr(log, "incomplete"));
    free(log);
    assert_int_equal(state_of(fx, 0), SG_COLL_REPLICATING);
    assert_int_equal(calls_of(fx, SG_METHOD_COMMIT_FAILOVER, 0), 3);
    char *text = read_text(fx->state_path, NULL);
    assert_null(strstr(text, "committed"));
    free(text);
}

static void test_a_line_cut_short_by_another_process_is_removed_before_the_next_change(
    void **state)
{
    fx_t *fx = *state;
    use_state_file(fx);
    start(fx);
    refused_commits(fx, 0, 1);
    append_cut_line(fx); /* the other process died in the middle of its line */
    refused_commits(fx, 0, 1);
    size_t len = 0;
    char *text = read_text(fx->state_path, &len);
    assert_null(strstr(text, "committed"));
    assert_int_equal(text[len - 1], '\n');
    fx->cfg.provider.sim.state_file = NULL;
    fx->p2 = sg_sim_new_from_text(&fx->cfg, &fx->clock, "sim.json", text, len);
    free(text);
    other(fx);
    assert_non_null(fx->p);
    assert_int_equal(calls_of(fx, SG_METHOD_COMMIT_FAILOVER, 0), 2);
}

/* The text of state_text (a job in flight on collection 0, started long
 * enough ago to have ended), then the change line that ends the job (5
 * InitiateFailover calls by then), then the text `last`. Caller frees. */
static char *state_text_with_lines(fx_t *fx, const char *last)
{
    json_int_t start = START_WALL_MS - DURATION_MS - 500;
    char *snapshot = state_text(fx, 1, start, DURATION_MS);
    json_t *change = json_pack(
        "{s:[{s:s, s:s, s:{s:i}, s:{s:i}}], s:[{s:s, s:s, s:s, s:I, s:I, s:s, s:i, s:s, s:s, s:b}],"
        " s:i}",
        "collections", "path", fx->paths[0], "state", "failed over", "calls", "InitiateFailover",
        5, "accepted", "InitiateFailover", 1, "jobs", "path", "job-1", "collection", fx->paths[0],
        "method", "InitiateFailover", "start_wall_ms", start, "duration_ms",
        (json_int_t)DURATION_MS, "outcome", "completed", "error_code", 0, "from", "replicating",
        "to", "failed over", "settled", 1, "next_seq", 7);
    char *line = json_dumps(change, JSON_COMPACT);
    json_decref(change);
    assert_non_null(line);
    char *text = sg_strdupf("%s\n%s\n%s", snapshot, line, last);
    assert_non_null(text);
    free(snapshot);
    free(line);
    return text;
}

static void test_state_text_with_change_lines_is_read_and_a_bad_line_is_refused_by_number(
    void **state)
{
    fx_t *fx = *state;
    char *text = state_text_with_lines(fx, "{\"collections\":[{\"pa"); /* the last, cut short */
    fx->p = sg_sim_new_from_text(&fx->cfg, &fx->clock, "state.json", text, strlen(text));
    free(text);
    assert_non_null(fx->p);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILED_OVER);
    assert_int_equal(calls_of(fx, SG_METHOD_INITIATE_FAILOVER, 0), 5);
    assert_int_equal(job_of(fx, "job-1").job_state, SG_JOB_COMPLETED);
    sg_provider_destroy(&fx->p);

    const char *bad[][2] = {
        {"not json\n", "state.json line 3 is corrupt"},
        {"{\"jobs\": 5}\n", "not a change"},
        {"{\"collections\": [{\"path\": \"x\"}]}\n", "bad collection entry"},
        {"{\"next_seq\": -1}\n", "bad next_seq"},
        {"{\"jobs\": [{\"path\": \"job-1\"}]}\n", "bad job entry"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        text = state_text_with_lines(fx, bad[i][0]);
        char *log = new_from_capturing_log(fx, text);
        assert_null(fx->p);
        assert_non_null(strstr(log, "state.json line 3"));
        assert_non_null(strstr(log, bad[i][1]));
        free(log);
        free(text);
    }
}

enum { CRASH_CHANGES = 400 };

/* In a child process that is killed as soon as this returns 0: a simulator
 * on the state file in `dir` makes CRASH_CHANGES changes (and a snapshot
 * among them), starts a failover and is killed without being destroyed,
 * leaving half a snapshot in the temporary file as a kill in the middle of
 * one would. No CMocka checks here: -1 tells a failure. */
static int s_child_changes_then_killed(const char *dir)
{
    fx_t *fx = fx_new(dir);
    use_state_file(fx);
    sg_provider_t *p = sg_sim_new(&fx->cfg, &fx->clock);
    sg_call_result_t r;
    for (int i = 0; p && i <= CRASH_CHANGES; i++) {
        sg_method_t m = i < CRASH_CHANGES ? SG_METHOD_COMMIT_FAILOVER : SG_METHOD_INITIATE_FAILOVER;
        if (sg_provider_call(p, m, fx->paths[i % N_COLLS], NULL, &r) != SG_OK)
            return -1;
        if (r.return_value != (i < CRASH_CHANGES ? SG_RC_INVALID_STATE : SG_RC_JOB_STARTED))
            return -1;
        sg_call_result_fini(&r);
    }
    sg_simfile_stats_t st;
    if (!p || sg_sim_file_stats(p, &st) != SG_OK || st.snapshots < 2)
        return -1;
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", fx->state_path);
    FILE *fp = fopen(tmp, "wb");
    if (!fp || fputs("{\"version\": 1, \"coll", fp) < 0 || fclose(fp) != 0)
        return -1;
    return 0;
}

static const sg_test_child_t s_children[] = {
    {"changes_then_killed", s_child_changes_then_killed},
};

static void test_a_simulator_killed_at_any_point_leaves_a_file_that_loads_its_last_change(
    void **state)
{
    fx_t *fx = *state;
    assert_int_equal(sg_test_run_killed("changes_then_killed", fx->dir), SG_TEST_CHILD_KILLED);
    append_cut_line(fx); /* and one killed in the middle of a line */
    use_state_file(fx);
    start(fx);
    int total = 0, calls = -1, accepted = -1;
    for (int i = 0; i < N_COLLS; i++)
        total += calls_of(fx, SG_METHOD_COMMIT_FAILOVER, i);
    assert_int_equal(total, CRASH_CHANGES);
    assert_int_equal(state_of(fx, 0), SG_COLL_FAILOVER_RUNNING);
    failover_counts(fx, 0, &calls, &accepted);
    assert_int_equal(accepted, 1);
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", fx->state_path);
    assert_int_not_equal(access(tmp, F_OK), 0);
}

/* ---- sides, direction, replication and recovery points ---------------------- */

static sg_provider_t *side(fx_t *fx, const char *site)
{
    sg_provider_t *q = sg_provider_at(fx->p, site);
    assert_non_null(q);
    return q;
}

/* Calls `m` on collection `i` through `q` (a side or the base handle). */
static uint32_t call_on(fx_t *fx, sg_provider_t *q, sg_method_t m, int i, const char *rp,
                        char **job)
{
    sg_provider_t *base = fx->p;
    fx->p = q;
    uint32_t rv = call_rp(fx, m, i, rp, job);
    fx->p = base;
    return rv;
}

/* Runs `m` on collection `i` through `q` to the end of its job. */
static void run_on(fx_t *fx, sg_provider_t *q, sg_method_t m, int i, const char *rp)
{
    char *job = NULL;
    assert_int_equal(call_on(fx, q, m, i, rp, &job), SG_RC_JOB_STARTED);
    sg_clock_fake_advance(&fx->clock, DURATION_MS);
    sg_job_status_t st;
    assert_int_equal(sg_provider_get_job(q, job, &st), SG_OK);
    assert_int_equal(st.job_state, SG_JOB_COMPLETED);
    sg_job_status_fini(&st);
    free(job);
}

static sg_replication_t repl_of(fx_t *fx, sg_provider_t *q, int i)
{
    sg_replication_t r;
    assert_int_equal(sg_provider_get_replication(q, fx->paths[i], &r), SG_OK);
    return r;
}

static sg_coll_state_t state_on(fx_t *fx, sg_provider_t *q, int i)
{
    sg_coll_state_t s;
    assert_int_equal(sg_provider_get_state(q, fx->paths[i], &s), SG_OK);
    return s;
}

/* The path of collection i's point with InstanceID `inst` (caller frees). */
static char *point_path(int i, const char *inst)
{
    char *path = sg_strdupf("Msvm_CollectionRecoveryPoint.CollectionID=\"%d\",InstanceID=\"%s\"",
                            i, inst);
    assert_non_null(path);
    return path;
}

/* The point of `pts` with InstanceID `inst`, or NULL. */
static const sg_recovery_point_t *find_point(const sg_recovery_point_t *pts, size_t n,
                                             const char *inst)
{
    char *want = sg_strdupf("InstanceID=\"%s\"", inst);
    assert_non_null(want);
    const sg_recovery_point_t *found = NULL;
    for (size_t i = 0; !found && i < n; i++) {
        const char *at = strstr(pts[i].path, want);
        if (at && at[strlen(want)] == '\0')
            found = &pts[i];
    }
    free(want);
    return found;
}

/* How wmi.c reads Msvm_VirtualSystemCollection.ReplicationState (its
 * s_coll_state, Windows only): the simulator's numbers must read back as the
 * state it holds. */
static sg_coll_state_t wmi_reading(int replication_state)
{
    switch (replication_state) {
    case 3:
    case 7:
    case 8: return SG_COLL_REPLICATING;
    case 4: return SG_COLL_FAILOVER_RUNNING;
    case 5: return SG_COLL_FAILED_OVER;
    case 6: return SG_COLL_COMMITTED;
    case 13: return SG_COLL_TESTING;
    default: return SG_COLL_UNKNOWN;
    }
}

/* Collection i's two ends: modes, ReplicationState numbers, and get_state
 * agreeing with how wmi.c reads the number on each side. */
static void expect_sides(fx_t *fx, int i, sg_provider_t *primary, sg_provider_t *replica,
                         int primary_rs, int replica_rs)
{
    sg_replication_t p = repl_of(fx, primary, i), r = repl_of(fx, replica, i);
    assert_int_equal(p.mode, SG_MODE_PRIMARY);
    assert_int_equal(r.mode, SG_MODE_REPLICA);
    assert_int_equal(p.state, primary_rs);
    assert_int_equal(r.state, replica_rs);
    assert_int_equal(state_on(fx, primary, i), wmi_reading(p.state));
    assert_int_equal(state_on(fx, replica, i), wmi_reading(r.state));
}

static void test_each_site_has_a_view_and_the_base_handle_is_the_replica_side(void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    fx->cfg.provider.sim.replication_lag_ms = 30000;
    start(fx);
    sg_provider_t *a = side(fx, "A"), *b = side(fx, "B"), *w = side(fx, "W");
    assert_ptr_not_equal(a, b);
    assert_ptr_equal(sg_provider_at(a, "B"), b); /* a view knows the others */
    assert_ptr_equal(sg_provider_at(b, "B"), b);
    assert_ptr_equal(sg_provider_at(fx->p, NULL), fx->p);
    assert_null(sg_provider_at(fx->p, "C"));
    assert_null(sg_provider_at(a, "C"));

    sg_replication_t r = repl_of(fx, a, 0);
    assert_int_equal(r.mode, SG_MODE_PRIMARY);
    assert_int_equal(r.state, 3);
    assert_int_equal(r.health, SG_HEALTH_NORMAL);
    assert_int_equal(r.last_replication_ms, sg_clock_wall(&fx->clock) - 30000);
    r = repl_of(fx, b, 0);
    assert_int_equal(r.mode, SG_MODE_REPLICA);
    assert_int_equal(r.state, 3);
    assert_int_equal(r.last_replication_ms, sg_clock_wall(&fx->clock) - 30000);
    r = repl_of(fx, fx->p, 0);
    assert_int_equal(r.mode, SG_MODE_REPLICA);
    assert_string_equal(sg_replication_state_text(r.state), "Replicating");

    /* the primary holds no recovery points, the replica its four */
    sg_recovery_point_t *pts = NULL;
    size_t n = 9;
    assert_int_equal(sg_provider_list_recovery_points(a, fx->paths[0], &pts, &n), SG_OK);
    assert_int_equal(n, 0);
    assert_null(pts);
    assert_int_equal(sg_provider_list_recovery_points(b, fx->paths[0], &pts, &n), SG_OK);
    assert_int_equal(n, 4);
    sg_recovery_points_free(pts, n);

    /* the witness holds no part of any collection */
    assert_int_equal(sg_provider_get_replication(w, fx->paths[0], &r), SG_ENOTFOUND);
    assert_int_equal(r.mode, SG_MODE_NONE);
    assert_int_equal(r.state, -1);
    sg_coll_state_t s;
    assert_int_equal(sg_provider_get_state(w, fx->paths[0], &s), SG_ENOTFOUND);
    assert_int_equal(sg_provider_list_recovery_points(w, fx->paths[0], &pts, &n), SG_ENOTFOUND);
    assert_int_equal(call_on(fx, w, SG_METHOD_INITIATE_FAILOVER, 0, NULL, NULL),
                     SG_RC_INVALID_PARAMETER);
    assert_int_equal(calls_of(fx, SG_METHOD_INITIATE_FAILOVER, 0), 0);
    assert_int_equal(sg_provider_get_replication(b, "nope", &r), SG_ENOTFOUND);
    sg_provider_destroy(&w); /* borrowed: destroying a view only forgets the pointer */
    assert_null(w);
    w = side(fx, "W");
    assert_int_equal(sg_provider_get_state(w, fx->paths[0], &s), SG_ENOTFOUND);
}

static void test_without_sites_the_base_handle_is_the_replica_and_no_site_has_a_view(
    void **state)
{
    fx_t *fx = *state;
    start(fx);
    assert_null(sg_provider_at(fx->p, "A"));
    sg_replication_t r = repl_of(fx, fx->p, 0);
    assert_int_equal(r.mode, SG_MODE_REPLICA);
    assert_int_equal(r.state, 3);
    run(fx, SG_METHOD_INITIATE_FAILOVER, 0);
    run(fx, SG_METHOD_COMMIT_FAILOVER, 0);
    run(fx, SG_METHOD_REVERSE_REPLICATION, 0);
    assert_int_equal(state_of(fx, 0), SG_COLL_REPLICATING);
    assert_int_equal(repl_of(fx, fx->p, 0).mode, SG_MODE_REPLICA);
}

/* Every method is the replica side's: on the primary side Hyper-V answers
 * 32775 whatever the collection's state. */
static void test_every_method_on_the_primary_side_is_invalid_state_whatever_the_state(
    void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    start(fx);
    sg_provider_t *a = side(fx, "A"), *b = side(fx, "B");
    for (int round = 0; round < 3; round++) {
        if (round == 1)
            run_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, NULL);
        if (round == 2)
            run_on(fx, b, SG_METHOD_COMMIT_FAILOVER, 0, NULL);
        for (int m = 0; m < SG_METHOD_COUNT; m++)
            assert_int_equal(call_on(fx, a, (sg_method_t)m, 0, NULL, NULL), SG_RC_INVALID_STATE);
    }
    assert_int_equal(state_on(fx, b, 0), SG_COLL_COMMITTED);
    int calls = -1, accepted = -1;
    assert_int_equal(sg_sim_counts(a, fx->paths[0], SG_METHOD_INITIATE_FAILOVER, &calls,
                                   &accepted),
                     SG_OK);
    assert_int_equal(calls, 4); /* three on A, one on B */
    assert_int_equal(accepted, 1);
    assert_int_equal(sg_sim_counts(b, fx->paths[0], SG_METHOD_REVERSE_REPLICATION, &calls,
                                   &accepted),
                     SG_OK);
    assert_int_equal(calls, 3);
    assert_int_equal(accepted, 0);
}

/* The mapping (sim.c's top): replica side 3 Replicating, 4 Failover
 * initiated, 5 Recovered, 6 Committed, 13 Test failover initiated; primary
 * side 3, or 8 Critical once the replica failed over. */
static void test_replication_state_numbers_follow_the_state_and_read_back_as_wmi_reads_them(
    void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    start(fx);
    sg_provider_t *a = side(fx, "A"), *b = side(fx, "B");
    expect_sides(fx, 0, a, b, 3, 3);
    char *job = NULL;
    assert_int_equal(call_on(fx, b, SG_METHOD_TEST_REPLICA, 0, NULL, &job), SG_RC_JOB_STARTED);
    expect_sides(fx, 0, a, b, 3, 3); /* the new state once the job completes */
    sg_clock_fake_advance(&fx->clock, DURATION_MS);
    expect_sides(fx, 0, a, b, 3, 13);
    free(job);
    run_on(fx, b, SG_METHOD_REVERT_TEST_REPLICA, 0, NULL);
    expect_sides(fx, 0, a, b, 3, 3);
    assert_int_equal(call_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, NULL, NULL),
                     SG_RC_JOB_STARTED);
    expect_sides(fx, 0, a, b, 8, 4);
    assert_int_equal(repl_of(fx, a, 0).health, SG_HEALTH_CRITICAL);
    assert_int_equal(repl_of(fx, b, 0).health, SG_HEALTH_NORMAL);
    sg_clock_fake_advance(&fx->clock, DURATION_MS);
    expect_sides(fx, 0, a, b, 8, 5);
    run_on(fx, b, SG_METHOD_COMMIT_FAILOVER, 0, NULL);
    expect_sides(fx, 0, a, b, 8, 6);
    assert_int_equal(call_on(fx, b, SG_METHOD_REVERSE_REPLICATION, 0, NULL, NULL),
                     SG_RC_JOB_STARTED);
    expect_sides(fx, 0, a, b, 8, 6);
    sg_clock_fake_advance(&fx->clock, DURATION_MS);
    expect_sides(fx, 0, b, a, 3, 3); /* reversed */
    assert_int_equal(repl_of(fx, b, 0).health, SG_HEALTH_NORMAL);
    expect_sides(fx, 1, a, b, 3, 3); /* the others untouched */
}

static void test_initiate_failover_only_on_the_replica_side_while_replicating(void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    start(fx);
    sg_provider_t *a = side(fx, "A"), *b = side(fx, "B");
    assert_int_equal(call_on(fx, a, SG_METHOD_INITIATE_FAILOVER, 0, NULL, NULL),
                     SG_RC_INVALID_STATE);
    run_on(fx, b, SG_METHOD_TEST_REPLICA, 0, NULL);
    assert_int_equal(call_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* testing */
    run_on(fx, b, SG_METHOD_REVERT_TEST_REPLICA, 0, NULL);
    assert_int_equal(call_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, NULL, NULL),
                     SG_RC_JOB_STARTED);
    assert_int_equal(call_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* running */
    sg_clock_fake_advance(&fx->clock, DURATION_MS);
    assert_int_equal(call_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* failed over */
    run_on(fx, b, SG_METHOD_COMMIT_FAILOVER, 0, NULL);
    assert_int_equal(call_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* committed */
    assert_int_equal(state_on(fx, b, 0), SG_COLL_COMMITTED);
}

static void test_commit_only_on_the_failed_over_side_before_it_is_committed(void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    start(fx);
    sg_provider_t *a = side(fx, "A"), *b = side(fx, "B");
    assert_int_equal(call_on(fx, b, SG_METHOD_COMMIT_FAILOVER, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* replicating */
    run_on(fx, b, SG_METHOD_TEST_REPLICA, 0, NULL);
    assert_int_equal(call_on(fx, b, SG_METHOD_COMMIT_FAILOVER, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* testing */
    run_on(fx, b, SG_METHOD_REVERT_TEST_REPLICA, 0, NULL);
    run_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, NULL);
    assert_int_equal(call_on(fx, a, SG_METHOD_COMMIT_FAILOVER, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* not the failed-over side */
    run_on(fx, b, SG_METHOD_COMMIT_FAILOVER, 0, NULL);
    assert_int_equal(call_on(fx, b, SG_METHOD_COMMIT_FAILOVER, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* committed already */
    assert_int_equal(state_on(fx, b, 0), SG_COLL_COMMITTED);
}

/* RevertFailover goes back to replicating in the same direction; then
 * InitiateFailover may be called again, here with an older point. */
static void test_revert_failover_returns_to_replicating_and_a_failover_with_an_older_point_follows(
    void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    start(fx);
    sg_provider_t *a = side(fx, "A"), *b = side(fx, "B");
    assert_int_equal(call_on(fx, b, SG_METHOD_REVERT_FAILOVER, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* not failed over */
    char *latest = point_path(0, "coll0:latest-crash"), *older = point_path(0, "coll0:app-1");
    run_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, latest);
    assert_int_equal(call_on(fx, a, SG_METHOD_REVERT_FAILOVER, 0, NULL, NULL),
                     SG_RC_INVALID_STATE);
    run_on(fx, b, SG_METHOD_REVERT_FAILOVER, 0, NULL);
    expect_sides(fx, 0, a, b, 3, 3); /* the same direction */
    run_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, older);
    assert_int_equal(state_on(fx, b, 0), SG_COLL_FAILED_OVER);
    run_on(fx, b, SG_METHOD_COMMIT_FAILOVER, 0, NULL);
    assert_int_equal(call_on(fx, b, SG_METHOD_REVERT_FAILOVER, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* committed: too late */
    int calls = -1, accepted = -1;
    assert_int_equal(sg_sim_counts(b, fx->paths[0], SG_METHOD_INITIATE_FAILOVER, &calls,
                                   &accepted),
                     SG_OK);
    assert_int_equal(accepted, 2);
    free(latest);
    free(older);
}

/* ReverseReplicationRelationship needs a committed failover, starts a job,
 * and when the job ends the failed-over side is the primary; a failover back
 * is then called on the old primary, the new replica. */
static void test_reverse_needs_a_commit_then_swaps_the_direction_and_a_failover_back_follows(
    void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    start(fx);
    sg_provider_t *a = side(fx, "A"), *b = side(fx, "B");
    assert_int_equal(call_on(fx, b, SG_METHOD_REVERSE_REPLICATION, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* replicating */
    run_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, NULL);
    assert_int_equal(call_on(fx, b, SG_METHOD_REVERSE_REPLICATION, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* failed over, not committed */
    run_on(fx, b, SG_METHOD_COMMIT_FAILOVER, 0, NULL);
    assert_int_equal(call_on(fx, a, SG_METHOD_REVERSE_REPLICATION, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* not the failed-over side */

    char *job = NULL;
    assert_int_equal(call_on(fx, b, SG_METHOD_REVERSE_REPLICATION, 0, NULL, &job),
                     SG_RC_JOB_STARTED);
    assert_int_equal(call_on(fx, b, SG_METHOD_REVERSE_REPLICATION, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* busy */
    sg_clock_fake_advance(&fx->clock, DURATION_MS / 2);
    sg_job_status_t st;
    assert_int_equal(sg_provider_get_job(b, job, &st), SG_OK);
    assert_int_equal(st.job_state, SG_JOB_RUNNING);
    assert_true(st.percent_complete > 0 && st.percent_complete < 100);
    expect_sides(fx, 0, a, b, 8, 6); /* not reversed before the job ends */
    sg_clock_fake_advance(&fx->clock, DURATION_MS / 2);
    assert_int_equal(sg_provider_get_job(b, job, &st), SG_OK);
    assert_int_equal(st.job_state, SG_JOB_COMPLETED);
    free(job);

    expect_sides(fx, 0, b, a, 3, 3);
    /* the base handle acts as the replica of the new direction */
    assert_int_equal(repl_of(fx, fx->p, 0).mode, SG_MODE_REPLICA);
    assert_int_equal(call_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* B is the primary now */
    run_on(fx, a, SG_METHOD_INITIATE_FAILOVER, 0, NULL);
    expect_sides(fx, 0, b, a, 8, 5);
    run_on(fx, a, SG_METHOD_COMMIT_FAILOVER, 0, NULL);
    run_on(fx, a, SG_METHOD_REVERSE_REPLICATION, 0, NULL);
    expect_sides(fx, 0, a, b, 3, 3); /* back where it began */
    int calls = -1, accepted = -1;
    assert_int_equal(sg_sim_counts(fx->p, fx->paths[0], SG_METHOD_REVERSE_REPLICATION, &calls,
                                   &accepted),
                     SG_OK);
    assert_int_equal(calls, 6);
    assert_int_equal(accepted, 2);
}

static void test_a_reverse_that_ends_in_exception_keeps_the_direction_and_the_commit(
    void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    add_fault(fx, "coll0", "ReverseReplicationRelationship", 0, 7, false, 1);
    start(fx);
    sg_provider_t *a = side(fx, "A"), *b = side(fx, "B");
    run_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, NULL);
    run_on(fx, b, SG_METHOD_COMMIT_FAILOVER, 0, NULL);
    char *job = NULL;
    assert_int_equal(call_on(fx, b, SG_METHOD_REVERSE_REPLICATION, 0, NULL, &job),
                     SG_RC_JOB_STARTED);
    sg_clock_fake_advance(&fx->clock, DURATION_MS);
    sg_job_status_t st;
    assert_int_equal(sg_provider_get_job(b, job, &st), SG_OK);
    assert_int_equal(st.job_state, SG_JOB_EXCEPTION);
    assert_int_equal(st.error_code, 7);
    sg_job_status_fini(&st);
    free(job);
    expect_sides(fx, 0, a, b, 8, 6);
    run_on(fx, b, SG_METHOD_REVERSE_REPLICATION, 0, NULL);
    expect_sides(fx, 0, b, a, 3, 3);
}

static void test_test_replica_only_on_the_replica_side_and_its_revert_only_while_testing(
    void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    start(fx);
    sg_provider_t *a = side(fx, "A"), *b = side(fx, "B");
    assert_int_equal(call_on(fx, a, SG_METHOD_TEST_REPLICA, 0, NULL, NULL), SG_RC_INVALID_STATE);
    assert_int_equal(call_on(fx, b, SG_METHOD_REVERT_TEST_REPLICA, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* nothing to revert */
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(b, SG_METHOD_TEST_REPLICA, fx->paths[0], NULL, &r), SG_OK);
    assert_int_equal(r.return_value, SG_RC_JOB_STARTED);
    assert_non_null(strstr(r.resulting_collection, "coll0:test"));
    sg_call_result_fini(&r);
    sg_clock_fake_advance(&fx->clock, DURATION_MS);
    expect_sides(fx, 0, a, b, 3, 13);
    assert_int_equal(call_on(fx, b, SG_METHOD_TEST_REPLICA, 0, NULL, NULL),
                     SG_RC_INVALID_STATE); /* testing already */
    assert_int_equal(call_on(fx, a, SG_METHOD_REVERT_TEST_REPLICA, 0, NULL, NULL),
                     SG_RC_INVALID_STATE);
    run_on(fx, b, SG_METHOD_REVERT_TEST_REPLICA, 0, NULL);
    expect_sides(fx, 0, a, b, 3, 3);
    assert_int_equal(call_on(fx, b, SG_METHOD_REVERT_TEST_REPLICA, 0, NULL, NULL),
                     SG_RC_INVALID_STATE);
}

/* A job lives on the cluster that runs it: the replica's. */
static void test_a_job_is_seen_from_the_site_that_ran_it_and_from_the_base_handle(void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    start(fx);
    sg_provider_t *a = side(fx, "A"), *b = side(fx, "B");
    char *job = NULL, *found = NULL;
    assert_int_equal(call_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, NULL, &job),
                     SG_RC_JOB_STARTED);
    sg_job_status_t st;
    assert_int_equal(sg_provider_get_job(b, job, &st), SG_OK);
    assert_int_equal(sg_provider_get_job(fx->p, job, &st), SG_OK);
    assert_int_equal(sg_provider_get_job(a, job, &st), SG_ENOTFOUND);
    assert_int_equal(sg_provider_find_failover_job(a, fx->paths[0], 0, &found), SG_ENOTFOUND);
    assert_int_equal(sg_provider_find_failover_job(b, fx->paths[0], 0, &found), SG_OK);
    assert_string_equal(found, job);
    free(found);
    free(job);
    /* through the base handle: run by B, the replica of the time */
    assert_int_equal(call(fx, SG_METHOD_TEST_REPLICA, 1, &job), SG_RC_JOB_STARTED);
    assert_int_equal(sg_provider_get_job(b, job, &st), SG_OK);
    assert_int_equal(sg_provider_get_job(a, job, &st), SG_ENOTFOUND);
    free(job);
}

static void test_the_direction_survives_a_reopen_of_the_state_file_and_reaches_the_other_process(
    void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    start_both(fx);
    sg_provider_t *b = side(fx, "B");
    run_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 2, NULL);
    run_on(fx, b, SG_METHOD_COMMIT_FAILOVER, 2, NULL);
    run_on(fx, b, SG_METHOD_REVERSE_REPLICATION, 2, NULL);
    other(fx); /* the other process, from the lines */
    expect_sides(fx, 2, side(fx, "B"), side(fx, "A"), 3, 3);
    expect_sides(fx, 0, side(fx, "A"), side(fx, "B"), 3, 3);
    other(fx);
    sg_provider_destroy(&fx->p2);
    sg_provider_destroy(&fx->p);

    start(fx); /* it writes the state it loaded as a snapshot */
    char *text = read_text(fx->state_path, NULL);
    assert_non_null(strstr(text, "\"primary\": \"B\""));
    assert_non_null(strstr(text, "\"reversals\": 1"));
    free(text);
    expect_sides(fx, 2, side(fx, "B"), side(fx, "A"), 3, 3);
    expect_sides(fx, 1, side(fx, "A"), side(fx, "B"), 3, 3);
    run_on(fx, side(fx, "A"), SG_METHOD_INITIATE_FAILOVER, 2, NULL);
    assert_int_equal(state_on(fx, side(fx, "A"), 2), SG_COLL_FAILED_OVER);
}

/* A change line with collection i's entry, replicating, and the keys of
 * the JSON object text `extra`. Caller frees. */
static char *coll_line(fx_t *fx, int i, const char *extra)
{
    json_t *entry = json_loads(extra, 0, NULL);
    assert_non_null(entry);
    assert_int_equal(json_object_set_new(entry, "path", json_string(fx->paths[i])), 0);
    assert_int_equal(json_object_set_new(entry, "state", json_string("replicating")), 0);
    json_t *change = json_pack("{s:[o]}", "collections", entry);
    char *text = json_dumps(change, JSON_COMPACT);
    json_decref(change);
    assert_non_null(text);
    char *line = sg_strdupf("%s\n", text);
    free(text);
    assert_non_null(line);
    return line;
}

/* state_text with the collection entry's `key` set to `value` (owned),
 * then `line` (NULL: none). Caller frees. */
static char *state_text_direction(fx_t *fx, const char *key, json_t *value, const char *line)
{
    char *text = state_text(fx, 1, START_WALL_MS - 500, DURATION_MS);
    json_t *root = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(root);
    json_t *coll = json_array_get(json_object_get(root, "collections"), 0);
    assert_int_equal(json_object_set_new(coll, key, value), 0);
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    assert_non_null(text);
    char *with = sg_strdupf("%s\n%s", text, line ? line : "");
    free(text);
    assert_non_null(with);
    return with;
}

/* A file of an older build has no direction: the config's. One that names
 * sites the config no longer gives the collection is logged and the
 * config's is taken; a broken direction is refused with its line and why. */
static void test_a_state_without_a_direction_has_the_configs_and_a_bad_one_is_refused(
    void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    char *text = state_text(fx, 1, START_WALL_MS - 500, DURATION_MS);
    fx->p = sg_sim_new_from_text(&fx->cfg, &fx->clock, "state.json", text, strlen(text));
    free(text);
    assert_non_null(fx->p);
    expect_sides(fx, 0, side(fx, "A"), side(fx, "B"), 8, 4);
    sg_provider_destroy(&fx->p);

    text = state_text_direction(fx, "primary", json_string("B"), NULL);
    char *log = new_from_capturing_log(fx, text);
    free(text);
    assert_null(fx->p);
    assert_non_null(strstr(log, "state.json is corrupt"));
    assert_non_null(strstr(log, "primary and replica go together"));
    free(log);

    static const char *const warned[][2] = {{"C", "A"}, {"B", "W"}, {"A", "A"}};
    for (size_t i = 0; i < sizeof warned / sizeof warned[0]; i++) {
        text = state_text(fx, 1, START_WALL_MS - 500, DURATION_MS);
        json_t *root = json_loads(text, 0, NULL);
        free(text);
        json_t *coll = json_array_get(json_object_get(root, "collections"), 0);
        json_object_set_new(coll, "primary", json_string(warned[i][0]));
        json_object_set_new(coll, "replica", json_string(warned[i][1]));
        text = json_dumps(root, JSON_COMPACT);
        json_decref(root);
        sg_log_set_level(SG_LOG_WARN);
        log = new_from_capturing_log(fx, text);
        sg_log_set_level(SG_LOG_ERROR);
        free(text);
        assert_non_null(fx->p);
        assert_non_null(strstr(log, "sites not configured for it"));
        free(log);
        expect_sides(fx, 0, side(fx, "A"), side(fx, "B"), 8, 4);
        sg_provider_destroy(&fx->p);
    }

    /* a reversed collection, from a change line */
    char *line = coll_line(fx, 1, "{\"primary\": \"B\", \"replica\": \"A\", \"reversals\": 3, "
                                  "\"direction_since_ms\": 1763990000000}");
    text = state_text_direction(fx, "calls", json_object(), line);
    free(line);
    fx->p = sg_sim_new_from_text(&fx->cfg, &fx->clock, "state.json", text, strlen(text));
    free(text);
    assert_non_null(fx->p);
    expect_sides(fx, 1, side(fx, "B"), side(fx, "A"), 3, 3);
    sg_recovery_point_t *pts = NULL;
    size_t n = 0;
    assert_int_equal(sg_provider_list_recovery_points(side(fx, "A"), fx->paths[1], &pts, &n),
                     SG_OK);
    const sg_recovery_point_t *pt = find_point(pts, n, "coll1:rev3:latest-crash");
    assert_non_null(pt);
    assert_int_equal(pt->created_ms, 1763990000000LL - 5 * 60 * 1000);
    sg_recovery_points_free(pts, n);
    sg_provider_destroy(&fx->p);

    const char *bad[][2] = {
        {"{\"reversals\": -1}", "reversals out of range"},
        {"{\"direction_since_ms\": -5}", "direction_since_ms out of range"},
        {"{\"replica\": \"B\"}", "primary and replica go together"},
        {"{\"primary\": 5, \"replica\": \"A\"}", "bad collection entry"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        line = coll_line(fx, 1, bad[i][0]);
        text = state_text_direction(fx, "calls", json_object(), line);
        free(line);
        log = new_from_capturing_log(fx, text);
        free(text);
        assert_null(fx->p);
        assert_non_null(strstr(log, "state.json line 2"));
        assert_non_null(strstr(log, bad[i][1]));
        free(log);
    }
    /* a job's site: a name; one no longer configured is seen from every side */
    text = state_text_outcome(fx, "completed", NULL);
    json_t *root = json_loads(text, 0, NULL);
    free(text);
    json_object_set_new(json_array_get(json_object_get(root, "jobs"), 0), "site",
                        json_integer(5));
    text = json_dumps(root, JSON_COMPACT);
    assert_null(sg_sim_new_from_text(&fx->cfg, &fx->clock, "state.json", text, strlen(text)));
    free(text);
    json_object_set_new(json_array_get(json_object_get(root, "jobs"), 0), "site",
                        json_string("Z"));
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    fx->p = sg_sim_new_from_text(&fx->cfg, &fx->clock, "state.json", text, strlen(text));
    free(text);
    assert_non_null(fx->p);
    sg_job_status_t st;
    assert_int_equal(sg_provider_get_job(side(fx, "A"), "job-1", &st), SG_OK);
}

/* One point every point_interval after the direction began (every
 * app_consistent_every-th application-consistent), the newest points_kept
 * kept: older ones, seeds included, expire and are refused. */
static void test_points_are_made_every_interval_the_newest_kept_every_kth_app_consistent(
    void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    fx->cfg.provider.sim.point_interval_ms = 3600 * 1000;
    fx->cfg.provider.sim.points_kept = 6;
    fx->cfg.provider.sim.app_consistent_every = 3;
    fx->cfg.provider.sim.call_latency_ms = 0;
    start(fx);
    sg_provider_t *b = side(fx, "B");
    sg_recovery_point_t *pts = NULL;
    size_t n = 0;
    assert_int_equal(sg_provider_list_recovery_points(b, fx->paths[0], &pts, &n), SG_OK);
    assert_int_equal(n, 4);
    assert_null(find_point(pts, n, "coll0:rp-1"));
    sg_recovery_points_free(pts, n);

    sg_clock_fake_advance(&fx->clock, 3 * 3600 * 1000);
    assert_int_equal(sg_provider_list_recovery_points(b, fx->paths[0], &pts, &n), SG_OK);
    assert_int_equal(n, 6);
    static const char *const kept[] = {"coll0:rp-3", "coll0:rp-2", "coll0:rp-1",
                                       "coll0:latest-crash", "coll0:crash-1", "coll0:latest-app"};
    for (size_t i = 0; i < 6; i++)
        assert_non_null(find_point(pts, n, kept[i]));
    const sg_recovery_point_t *rp3 = find_point(pts, n, "coll0:rp-3");
    assert_int_equal(rp3->created_ms, START_WALL_MS + 3 * 3600 * 1000LL);
    assert_true(rp3->app_consistent);
    assert_false(find_point(pts, n, "coll0:rp-2")->app_consistent);
    assert_ptr_equal(sg_recovery_point_newest_app(pts, n), rp3);
    sg_recovery_points_free(pts, n);
    char *expired = point_path(0, "coll0:app-1");
    assert_int_equal(call_on(fx, b, SG_METHOD_TEST_REPLICA, 0, expired, NULL),
                     SG_RC_INVALID_PARAMETER);
    free(expired);
    char *future = point_path(0, "coll0:rp-4");
    assert_int_equal(call_on(fx, b, SG_METHOD_TEST_REPLICA, 0, future, NULL),
                     SG_RC_INVALID_PARAMETER);
    free(future);

    sg_clock_fake_advance(&fx->clock, 7 * 3600 * 1000 + 1800 * 1000); /* 10 h 30 min */
    assert_int_equal(sg_provider_list_recovery_points(b, fx->paths[0], &pts, &n), SG_OK);
    assert_int_equal(n, 6);
    int app = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(pts[i].created_ms <= sg_clock_wall(&fx->clock));
        app += pts[i].app_consistent;
    }
    assert_int_equal(app, 2); /* rp-9 and rp-6 of rp-5..rp-10 */
    assert_non_null(find_point(pts, n, "coll0:rp-10"));
    assert_null(find_point(pts, n, "coll0:rp-4"));
    assert_null(find_point(pts, n, "coll0:latest-crash"));
    const sg_recovery_point_t *best = sg_recovery_point_newest_app(pts, n);
    assert_ptr_equal(best, find_point(pts, n, "coll0:rp-9"));
    assert_int_equal(call_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, best->path, NULL),
                     SG_RC_JOB_STARTED);
    sg_recovery_points_free(pts, n);
}

static void test_after_a_reverse_the_points_are_a_fresh_list_of_the_new_direction(void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    fx->cfg.provider.sim.call_latency_ms = 0;
    start(fx);
    sg_provider_t *a = side(fx, "A"), *b = side(fx, "B");
    sg_clock_fake_advance(&fx->clock, 3600 * 1000);
    char *old = point_path(0, "coll0:rp-1");
    run_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, old);
    run_on(fx, b, SG_METHOD_COMMIT_FAILOVER, 0, NULL);
    run_on(fx, b, SG_METHOD_REVERSE_REPLICATION, 0, NULL);
    int64_t reversed_at = sg_clock_wall(&fx->clock);

    sg_recovery_point_t *pts = NULL;
    size_t n = 9;
    assert_int_equal(sg_provider_list_recovery_points(b, fx->paths[0], &pts, &n), SG_OK);
    assert_int_equal(n, 0); /* B is the primary */
    assert_int_equal(sg_provider_list_recovery_points(a, fx->paths[0], &pts, &n), SG_OK);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(strstr(pts[i].path, "InstanceID=\"coll0:rev1:"));
        assert_true(pts[i].created_ms < reversed_at);
    }
    assert_int_equal(find_point(pts, n, "coll0:rev1:latest-crash")->created_ms,
                     reversed_at - 5 * 60 * 1000);
    sg_recovery_points_free(pts, n);
    assert_int_equal(call_on(fx, a, SG_METHOD_TEST_REPLICA, 0, old, NULL),
                     SG_RC_INVALID_PARAMETER); /* the old direction's */
    free(old);
    sg_clock_fake_advance(&fx->clock, 3600 * 1000);
    assert_int_equal(sg_provider_list_recovery_points(a, fx->paths[0], &pts, &n), SG_OK);
    assert_int_equal(n, 5);
    const sg_recovery_point_t *first = find_point(pts, n, "coll0:rev1:rp-1");
    assert_non_null(first);
    assert_int_equal(first->created_ms, reversed_at + 3600 * 1000);
    run_on(fx, a, SG_METHOD_INITIATE_FAILOVER, 0, first->path);
    sg_recovery_points_free(pts, n);
    /* the other collections kept theirs */
    assert_int_equal(sg_provider_list_recovery_points(b, fx->paths[1], &pts, &n), SG_OK);
    assert_non_null(find_point(pts, n, "coll1:rp-2"));
    sg_recovery_points_free(pts, n);
}

/* health and lag faults change what GetReplicationStatistics reports (so
 * a pre-check can be made to fail), on both sides, not the calls. */
static void test_health_and_lag_faults_change_what_the_replication_reports(void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    fx->cfg.provider.sim.replication_lag_ms = 30000;
    fx->faults[0] = (sg_sim_fault_cfg_t){.collection = "coll1", .health = SG_HEALTH_CRITICAL};
    fx->faults[1] = (sg_sim_fault_cfg_t){.collection = "coll2", .lag_ms = 600000};
    fx->faults[2] = (sg_sim_fault_cfg_t){.health = SG_HEALTH_WARNING, .lag_ms = 90000};
    fx->faults[3] = (sg_sim_fault_cfg_t){.collection = "coll0", .lag_ms = 1};
    fx->cfg.provider.sim.n_faults = 4;
    start(fx);
    sg_provider_t *a = side(fx, "A"), *b = side(fx, "B");
    sg_replication_t r = repl_of(fx, b, 1);
    int64_t now = sg_clock_wall(&fx->clock);
    assert_int_equal(r.health, SG_HEALTH_CRITICAL);
    assert_int_equal(r.last_replication_ms, now - 90000); /* the first lag fault naming it */
    assert_int_equal(repl_of(fx, a, 1).health, SG_HEALTH_CRITICAL);
    r = repl_of(fx, b, 2);
    now = sg_clock_wall(&fx->clock);
    assert_int_equal(r.health, SG_HEALTH_WARNING);
    assert_int_equal(r.last_replication_ms, now - 600000);
    r = repl_of(fx, b, 0);
    now = sg_clock_wall(&fx->clock);
    assert_int_equal(r.health, SG_HEALTH_WARNING);
    assert_int_equal(r.last_replication_ms, now - 90000);
    /* the calls are not affected */
    assert_int_equal(call_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 1, NULL, NULL),
                     SG_RC_JOB_STARTED);
    assert_int_equal(call_on(fx, b, SG_METHOD_TEST_REPLICA, 2, NULL, NULL), SG_RC_JOB_STARTED);
}

/* Once the replica fails over, the last replication stays at the failover's
 * start (after a restart too); after a revert it follows the clock again. */
static void test_the_last_replication_stops_when_the_replica_fails_over(void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    use_state_file(fx);
    fx->cfg.provider.sim.replication_lag_ms = 30000;
    fx->cfg.provider.sim.call_latency_ms = 0;
    start(fx);
    int64_t failover_at = sg_clock_wall(&fx->clock);
    run_on(fx, side(fx, "B"), SG_METHOD_INITIATE_FAILOVER, 0, NULL);
    run_on(fx, side(fx, "B"), SG_METHOD_TEST_REPLICA, 1, NULL); /* a later job, elsewhere */
    sg_provider_destroy(&fx->p);
    sg_clock_fake_advance(&fx->clock, 3600 * 1000);
    start(fx);
    sg_provider_t *a = side(fx, "A"), *b = side(fx, "B");
    assert_int_equal(repl_of(fx, b, 0).last_replication_ms, failover_at - 30000);
    assert_int_equal(repl_of(fx, a, 0).last_replication_ms, failover_at - 30000);
    run_on(fx, b, SG_METHOD_REVERT_FAILOVER, 0, NULL);
    assert_int_equal(repl_of(fx, b, 0).last_replication_ms, sg_clock_wall(&fx->clock) - 30000);
    assert_int_equal(repl_of(fx, a, 0).health, SG_HEALTH_NORMAL);
}

/* An unreachable site fails every operation on its side, calls and reads,
 * with SG_EIO (no call reaches the cluster: none is counted) for its
 * `times`, then answers again; the other side and the base handle are not
 * affected and use none of it. */
static void test_an_unreachable_site_fails_each_operation_its_times_then_answers(void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    fx->faults[0] = (sg_sim_fault_cfg_t){.unreachable = "B", .times = 6};
    fx->cfg.provider.sim.n_faults = 1;
    start(fx);
    sg_provider_t *a = side(fx, "A"), *b = side(fx, "B");
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(b, SG_METHOD_INITIATE_FAILOVER, fx->paths[0], NULL, &r),
                     SG_EIO);
    assert_null(r.job_path);
    sg_coll_state_t st;
    assert_int_equal(sg_provider_get_state(b, fx->paths[0], &st), SG_EIO);
    assert_int_equal(st, SG_COLL_UNKNOWN);
    sg_replication_t rep;
    assert_int_equal(sg_provider_get_replication(b, fx->paths[0], &rep), SG_EIO);
    sg_recovery_point_t *pts = NULL;
    size_t n = 9;
    assert_int_equal(sg_provider_list_recovery_points(b, fx->paths[0], &pts, &n), SG_EIO);
    assert_null(pts);
    assert_int_equal(n, 0);
    char *job = NULL;
    assert_int_equal(sg_provider_find_failover_job(b, fx->paths[0], 0, &job), SG_EIO);
    assert_null(job);
    /* A and the base handle answer meanwhile, and use none of B's six */
    assert_int_equal(state_on(fx, a, 0), SG_COLL_REPLICATING);
    assert_int_equal(state_on(fx, fx->p, 0), SG_COLL_REPLICATING);
    sg_job_status_t js;
    assert_int_equal(sg_provider_get_job(b, "no-such-job", &js), SG_EIO); /* the sixth */
    int calls = -1, accepted = -1;
    assert_int_equal(sg_sim_counts(fx->p, fx->paths[0], SG_METHOD_INITIATE_FAILOVER, &calls,
                                   &accepted), SG_OK);
    assert_int_equal(calls, 0);
    /* back */
    assert_int_equal(state_on(fx, b, 0), SG_COLL_REPLICATING);
    assert_int_equal(repl_of(fx, b, 0).mode, SG_MODE_REPLICA);
    run_on(fx, b, SG_METHOD_INITIATE_FAILOVER, 0, NULL);
    assert_int_equal(state_on(fx, b, 0), SG_COLL_FAILED_OVER);
}

/* With times 0 the site stays unreachable; the uses of a fault with times
 * are kept in the state file, so a restart does not make the site
 * unreachable again. */
static void test_an_unreachable_fault_keeps_its_uses_across_a_restart(void **state)
{
    fx_t *fx = *state;
    use_sites(fx);
    use_state_file(fx);
    fx->faults[0] = (sg_sim_fault_cfg_t){.unreachable = "B", .times = 2};
    fx->faults[1] = (sg_sim_fault_cfg_t){.unreachable = "A"};
    fx->cfg.provider.sim.n_faults = 2;
    start(fx);
    sg_coll_state_t st;
    assert_int_equal(sg_provider_get_state(side(fx, "B"), fx->paths[1], &st), SG_EIO);
    sg_provider_destroy(&fx->p);
    start(fx);
    sg_provider_t *a = side(fx, "A"), *b = side(fx, "B");
    assert_int_equal(sg_provider_get_state(b, fx->paths[1], &st), SG_EIO);
    assert_int_equal(state_on(fx, b, 1), SG_COLL_REPLICATING);
    for (int i = 0; i < 50; i++)
        assert_int_equal(sg_provider_get_state(a, fx->paths[1], &st), SG_EIO);
}

int main(int argc, char **argv)
{
    sg_test_children(argc, argv, s_children, sizeof s_children / sizeof s_children[0]);
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_failover_starts_a_job_that_runs_to_completion_then_collection_is_failed_over),
        T(test_second_initiate_failover_is_invalid_state_while_running_and_after),
        T(test_unknown_collection_is_invalid_parameter_and_not_found),
        T(test_recovery_point_must_be_one_of_the_collections_points),
        T(test_unknown_job_is_not_found),
        T(test_return_code_fault_answers_its_times_then_calls_succeed),
        T(test_fault_with_times_zero_answers_every_matching_call),
        T(test_an_unreachable_site_fails_each_operation_its_times_then_answers),
        T(test_an_unreachable_fault_keeps_its_uses_across_a_restart),
        T(test_job_error_fault_ends_in_exception_and_collection_stays_replicating),
        T(test_hang_fault_job_never_completes_even_after_a_long_time),
        T(test_a_warnings_fault_completes_the_job_with_warnings_and_its_text),
        T(test_an_ended_job_is_gone_job_removal_after_its_end),
        T(test_a_hung_job_is_never_removed_nor_any_with_job_removal_0),
        T(test_a_job_that_ended_while_down_is_gone_after_the_restart),
        T(test_commit_needs_failed_over_and_revert_after_commit_is_invalid_state),
        T(test_revert_before_commit_returns_to_replicating_and_allows_a_new_failover),
        T(test_test_replica_then_revert_test_replica_returns_to_replicating),
        T(test_state_file_survives_restart_and_a_job_in_flight_completes),
        T(test_fault_counters_survive_restart),
#ifndef _WIN32
        T(test_state_file_and_its_lock_are_0600_under_umask_022_even_over_a_stale_copy),
#endif
        T(test_corrupt_state_file_is_refused_with_an_error_naming_the_file),
        T(test_state_file_with_wrong_shape_is_refused),
        T(test_state_text_is_read_as_a_state_file_and_kept_in_memory),
        T(test_a_warnings_job_is_read_from_the_state_text_its_description_optional),
        T(test_state_with_a_job_time_out_of_range_is_refused),
        T(test_state_counters_out_of_range_are_read_as_zero),
        T(test_concurrent_calls_on_different_collections_all_start_jobs),
        T(test_recovery_points_of_both_kinds_are_listed_with_times),
        T(test_find_failover_job_finds_the_job_in_flight_or_one_started_since),
        T(test_calls_are_counted_per_method_and_the_counts_survive_restart),
        T(test_a_second_simulator_on_the_same_file_sees_each_change_from_its_line),
        T(test_lines_are_compacted_into_a_snapshot_and_the_other_simulator_sees_everything),
        T(test_changes_are_appended_while_a_due_snapshot_cannot_be_written),
        T(test_the_bytes_written_per_change_do_not_grow_with_the_number_of_collections),
        T(test_a_last_line_cut_short_is_ignored_when_the_file_is_loaded),
        T(test_a_line_cut_short_by_another_process_is_removed_before_the_next_change),
        T(test_state_text_with_change_lines_is_read_and_a_bad_line_is_refused_by_number),
        T(test_a_simulator_killed_at_any_point_leaves_a_file_that_loads_its_last_change),
        T(test_each_site_has_a_view_and_the_base_handle_is_the_replica_side),
        T(test_without_sites_the_base_handle_is_the_replica_and_no_site_has_a_view),
        T(test_every_method_on_the_primary_side_is_invalid_state_whatever_the_state),
        T(test_replication_state_numbers_follow_the_state_and_read_back_as_wmi_reads_them),
        T(test_initiate_failover_only_on_the_replica_side_while_replicating),
        T(test_commit_only_on_the_failed_over_side_before_it_is_committed),
        T(test_revert_failover_returns_to_replicating_and_a_failover_with_an_older_point_follows),
        T(test_reverse_needs_a_commit_then_swaps_the_direction_and_a_failover_back_follows),
        T(test_a_reverse_that_ends_in_exception_keeps_the_direction_and_the_commit),
        T(test_test_replica_only_on_the_replica_side_and_its_revert_only_while_testing),
        T(test_a_job_is_seen_from_the_site_that_ran_it_and_from_the_base_handle),
        T(test_the_direction_survives_a_reopen_of_the_state_file_and_reaches_the_other_process),
        T(test_a_state_without_a_direction_has_the_configs_and_a_bad_one_is_refused),
        T(test_points_are_made_every_interval_the_newest_kept_every_kth_app_consistent),
        T(test_after_a_reverse_the_points_are_a_fresh_list_of_the_new_direction),
        T(test_health_and_lag_faults_change_what_the_replication_reports),
        T(test_the_last_replication_stops_when_the_replica_fails_over),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
