/* The WMI provider against a strict fake IWbemServices (fake_wbem.h): the
 * calls it makes, the parameters it passes, how it reads what WMI answers,
 * how it connects, and that no call hangs a worker for good. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fake_wbem.h"

#include "base/err.h"
#include "provider/provider.h"
#include "provider/wmi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS "\\\\HV1\\root\\HyperVCluster\\v2:"
/* CIM_Service's four keys (Msvm_CollectionReplicationService derives from it) */
#define SVC_PATH                                                                               \
    NS "Msvm_CollectionReplicationService.CreationClassName=\"Msvm_CollectionReplicationService\","\
       "Name=\"crs\",SystemCreationClassName=\"Msvm_ComputerSystem\",SystemName=\"HV1\""
#define COLL NS "Msvm_VirtualSystemCollection.CollectionID=\"c-1\""
#define COLL_2 NS "Msvm_VirtualSystemCollection.CollectionID=\"c-2\""
#define RP_OLD NS "Msvm_CollectionRecoveryPoint.CollectionID=\"c-1\",InstanceID=\"rp-old\""
#define RP_NEW NS "Msvm_CollectionRecoveryPoint.CollectionID=\"c-1\",InstanceID=\"rp-new\""
#define RP_CRASH NS "Msvm_CollectionRecoveryPoint.CollectionID=\"c-1\",InstanceID=\"crash\""
#define RP_OF_C2 NS "Msvm_CollectionRecoveryPoint.CollectionID=\"c-2\",InstanceID=\"rp-c2\""
#define JOB NS "Msvm_ConcreteJob.InstanceID=\"j-1\""
#define SVC_QUERY "ExecQuery SELECT * FROM Msvm_CollectionReplicationService"
#define CALL_TIMEOUT_MS 10000

typedef struct {
    fake_wbem_t *fake;
    sg_provider_t *p;
} fx_t;

/* The service instance, as WMI lists it. */
static void s_add_service(fake_wbem_t *fake)
{
    fake_wbem_add_object(fake, SVC_PATH, fake_obj_new());
}

static int s_setup_with(void **state, int64_t call_timeout_ms)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->fake = fake_wbem_new();
    s_add_service(fx->fake);
    fx->p = sg_wmi_new_services(fake_wbem_services(fx->fake), call_timeout_ms);
    assert_non_null(fx->p);
    *state = fx;
    return 0;
}

static int s_setup(void **state) { return s_setup_with(state, CALL_TIMEOUT_MS); }

static int s_setup_short_timeout(void **state) { return s_setup_with(state, 300); }

/* A fake with the service instance and no provider: the test makes its own. */
static int s_setup_fake(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->fake = fake_wbem_new();
    s_add_service(fx->fake);
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    fake_wbem_release(fx->fake); /* nothing may still hang */
    sg_provider_destroy(&fx->p);
    fake_wbem_free(fx->fake);
    free(fx);
    return 0;
}

/* Scripts the out-parameters of the next ExecMethod. */
static void s_answer(fx_t *fx, LONG rv, const char *job)
{
    fake_obj_t *out = fake_obj_new();
    fake_obj_set_int(out, "ReturnValue", rv);
    fake_obj_set_str(out, "Job", job);
    fake_wbem_push_result(fx->fake, S_OK, out);
}

/* The index of the first recorded call that starts with `prefix`, or -1. */
static int s_find(const fx_t *fx, const char *prefix)
{
    for (size_t i = 0; i < fake_wbem_n_calls(fx->fake); i++)
        if (strncmp(fake_wbem_call(fx->fake, i), prefix, strlen(prefix)) == 0)
            return (int)i;
    return -1;
}

static int s_count(const fx_t *fx, const char *prefix)
{
    int n = 0;
    for (size_t i = 0; i < fake_wbem_n_calls(fx->fake); i++)
        n += strncmp(fake_wbem_call(fx->fake, i), prefix, strlen(prefix)) == 0;
    return n;
}

static void initiate_failover_on_the_service_instance_with_no_point_means_latest(void **state)
{
    fx_t *fx = *state;
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r), SG_OK);
    assert_int_equal(r.return_value, SG_RC_JOB_STARTED);
    assert_string_equal(r.job_path, JOB);
    assert_true(s_find(fx, "ExecQuery SELECT * FROM Msvm_CollectionReplicationService") >= 0);
    assert_true(s_find(fx, "GetObject Msvm_CollectionReplicationService") >= 0);
    int i = s_find(fx, "ExecMethod");
    assert_true(i >= 0);
    assert_string_equal(fake_wbem_call(fx->fake, (size_t)i),
                        "ExecMethod " SVC_PATH " InitiateFailover Collection=" COLL
                        " CollectionRecoveryPoint=NULL");
    sg_call_result_fini(&r);
}

static void initiate_failover_passes_a_chosen_recovery_point_as_its_path(void **state)
{
    fx_t *fx = *state;
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, COLL, RP_NEW, &r),
                     SG_OK);
    int i = s_find(fx, "ExecMethod");
    assert_string_equal(fake_wbem_call(fx->fake, (size_t)i),
                        "ExecMethod " SVC_PATH " InitiateFailover Collection=" COLL
                        " CollectionRecoveryPoint=" RP_NEW);
    sg_call_result_fini(&r);
}

static void commit_failover_takes_no_recovery_point(void **state)
{
    fx_t *fx = *state;
    s_answer(fx, SG_RC_COMPLETED, NULL);
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_COMMIT_FAILOVER, COLL, RP_NEW, &r), SG_OK);
    assert_int_equal(r.return_value, SG_RC_COMPLETED);
    assert_null(r.job_path);
    int i = s_find(fx, "ExecMethod");
    assert_string_equal(fake_wbem_call(fx->fake, (size_t)i),
                        "ExecMethod " SVC_PATH " CommitFailover Collection=" COLL);
}

static void the_service_instance_is_looked_up_once(void **state)
{
    fx_t *fx = *state;
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    sg_call_result_t r;
    for (int k = 0; k < 2; k++) {
        assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r),
                         SG_OK);
        sg_call_result_fini(&r);
    }
    assert_int_equal(s_count(fx, "ExecQuery"), 1);
    assert_int_equal(s_count(fx, "ExecMethod"), 2);
}

static void an_error_return_value_is_the_verdict_not_a_failed_call(void **state)
{
    fx_t *fx = *state;
    s_answer(fx, SG_RC_INVALID_STATE, NULL);
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r), SG_OK);
    assert_int_equal(r.return_value, SG_RC_INVALID_STATE);
    assert_null(r.job_path);
}

static void a_started_job_without_a_job_reference_breaks_the_protocol(void **state)
{
    fx_t *fx = *state;
    s_answer(fx, SG_RC_JOB_STARTED, NULL);
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r),
                     SG_EPROTO);
    assert_null(r.job_path);
}

static void a_failed_exec_method_is_a_call_that_could_not_be_made(void **state)
{
    fx_t *fx = *state;
    fake_wbem_push_result(fx->fake, WBEM_E_ACCESS_DENIED, NULL);
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r),
                     SG_EIO);
}

static void no_service_instance_is_not_found(void **state)
{
    fx_t *fx = *state;
    fake_wbem_t *bare = fake_wbem_new();
    sg_provider_t *p = sg_wmi_new_services(fake_wbem_services(bare), CALL_TIMEOUT_MS);
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(p, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r),
                     SG_ENOTFOUND);
    sg_provider_destroy(&p);
    fake_wbem_free(bare);
    (void)fx;
}

static void a_job_is_followed_by_get_object_on_its_path(void **state)
{
    fx_t *fx = *state;
    fake_obj_t *job = fake_obj_new();
    fake_obj_set_int(job, "JobState", SG_JOB_EXCEPTION);
    fake_obj_set_int(job, "PercentComplete", 40);
    fake_obj_set_int(job, "ErrorCode", 32768);
    fake_obj_set_str(job, "ErrorDescription", "The replica disk is not reachable.");
    fake_obj_set_str(job, "ElapsedTime", "00000000000130.500000:000");
    fake_wbem_add_object(fx->fake, JOB, job);
    sg_job_status_t st;
    assert_int_equal(sg_provider_get_job(fx->p, JOB, &st), SG_OK);
    assert_true(s_find(fx, "GetObject " JOB) >= 0);
    assert_int_equal(st.job_state, SG_JOB_EXCEPTION);
    assert_int_equal(st.percent_complete, 40);
    assert_int_equal(st.error_code, 32768);
    assert_string_equal(st.error_description, "The replica disk is not reachable.");
    assert_int_equal(st.elapsed_ms, 90500);
    sg_job_status_fini(&st);
}

static void an_unknown_job_is_not_found(void **state)
{
    fx_t *fx = *state;
    sg_job_status_t st;
    assert_int_equal(sg_provider_get_job(fx->p, JOB, &st), SG_ENOTFOUND);
}

/* Msvm_CollectionRecoveryPoint is keyed by CollectionID and InstanceID and is
 * queried by its CollectionID (HYPERV.md: the association's Dependent is
 * declared CIM_Collection and may give nothing). */
static void recovery_points_are_queried_by_collection_id_with_time_and_consistency(void **state)
{
    fx_t *fx = *state;
    fake_obj_t *pts[4] = {fake_obj_new(), fake_obj_new(), fake_obj_new(), fake_obj_new()};
    fake_obj_set_str(pts[0], "CreationTime", "20261125170000.000000+000");
    fake_obj_set_int(pts[0], "ConsistencyLevel", 1);
    fake_obj_set_str(pts[1], "CreationTime", "20261125180000.250000+060");
    fake_obj_set_int(pts[1], "ConsistencyLevel", 1);
    fake_obj_set_str(pts[2], "CreationTime", "20261125190000.000000+000");
    fake_obj_set_int(pts[2], "ConsistencyLevel", 2);
    fake_obj_set_str(pts[3], "CreationTime", "20261125200000.000000+000");
    fake_obj_set_int(pts[3], "ConsistencyLevel", 1);
    fake_wbem_add_object(fx->fake, RP_OLD, pts[0]);
    fake_wbem_add_object(fx->fake, RP_NEW, pts[1]);
    fake_wbem_add_object(fx->fake, RP_CRASH, pts[2]);
    fake_wbem_add_object(fx->fake, RP_OF_C2, pts[3]); /* another collection's */
    sg_recovery_point_t *rp = NULL;
    size_t n = 0;
    assert_int_equal(sg_provider_list_recovery_points(fx->p, COLL, &rp, &n), SG_OK);
    assert_int_equal(n, 3);
    assert_true(s_find(fx, "ExecQuery SELECT * FROM Msvm_CollectionRecoveryPoint "
                           "WHERE CollectionID='c-1'") >= 0);
    assert_int_equal(s_count(fx, "ExecQuery ASSOCIATORS"), 0);
    assert_string_equal(rp[0].path, RP_OLD);
    assert_int_equal(rp[0].created_ms, 1795626000000LL); /* 2026-11-25T17:00:00Z */
    assert_true(rp[0].app_consistent);
    /* +060: an hour east of UTC, so 17:00:00.250 UTC */
    assert_int_equal(rp[1].created_ms, 1795626000250LL);
    assert_false(rp[2].app_consistent);
    const sg_recovery_point_t *best = sg_recovery_point_newest_app(rp, n);
    assert_non_null(best);
    assert_string_equal(best->path, RP_NEW);
    sg_recovery_points_free(rp, n);
}

/* The CollectionID goes into a WQL string literal, `\`, `'` and `"` escaped
 * (learn.microsoft.com/windows/win32/wmisdk/where-clause). */
static void a_collection_id_is_escaped_in_the_recovery_point_query(void **state)
{
    fx_t *fx = *state;
    /* the ID is: it's "q" \x */
    fake_wbem_add_object(fx->fake,
                         "Msvm_CollectionRecoveryPoint.CollectionID=\"it's \\\"q\\\" \\\\x\","
                         "InstanceID=\"p1\"",
                         fake_obj_new());
    sg_recovery_point_t *rp = NULL;
    size_t n = 0;
    assert_int_equal(sg_provider_list_recovery_points(
                         fx->p, "Msvm_VirtualSystemCollection.CollectionID=\"it's \\\"q\\\" \\\\x\"",
                         &rp, &n),
                     SG_OK);
    assert_int_equal(n, 1);
    assert_true(s_find(fx, "ExecQuery SELECT * FROM Msvm_CollectionRecoveryPoint "
                           "WHERE CollectionID='it\\'s \\\"q\\\" \\\\x'") >= 0);
    sg_recovery_points_free(rp, n);
}

/* Msvm_VirtualSystemCollection's key is CollectionID: a path keyed by
 * InstanceID names nothing, and the provider says so without calling WMI. */
static void a_collection_path_keyed_by_instance_id_is_refused_before_any_call(void **state)
{
    fx_t *fx = *state;
    const char *bad = "Msvm_VirtualSystemCollection.InstanceID=\"c-1\"";
    sg_call_result_t r;
    sg_recovery_point_t *rp = (sg_recovery_point_t *)1;
    size_t n = 7;
    sg_coll_state_t st;
    char *job = (char *)"untouched";
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, bad, NULL, &r),
                     SG_EINVAL);
    assert_int_equal(sg_provider_list_recovery_points(fx->p, bad, &rp, &n), SG_EINVAL);
    assert_null(rp);
    assert_int_equal(n, 0);
    assert_int_equal(sg_provider_get_state(fx->p, bad, &st), SG_EINVAL);
    assert_int_equal(sg_provider_find_failover_job(fx->p, bad, 0, &job), SG_EINVAL);
    assert_null(job);
    assert_int_equal(fake_wbem_n_calls(fx->fake), 0);
}

/* Msvm_VirtualSystemCollection.ReplicationState in root\HyperVCluster\v2,
 * each value as wmi.c reads Microsoft's page for it. */
static void each_collection_replication_state_maps_as_documented(void **state)
{
    fx_t *fx = *state;
    static const struct {
        LONG value;
        sg_coll_state_t want;
    } table[] = {
        {0, SG_COLL_UNKNOWN},           /* Disabled */
        {1, SG_COLL_UNKNOWN},           /* Ready for replication */
        {2, SG_COLL_UNKNOWN},           /* Waiting to complete initial replication */
        {3, SG_COLL_REPLICATING},       /* Replicating */
        {4, SG_COLL_FAILOVER_RUNNING},  /* Failover initiated: not yet failed over */
        {5, SG_COLL_FAILED_OVER},       /* Recovered */
        {6, SG_COLL_COMMITTED},         /* Committed */
        {7, SG_COLL_REPLICATING},       /* Suspended */
        {8, SG_COLL_REPLICATING},       /* Critical: a replica whose primary is gone */
        {9, SG_COLL_UNKNOWN},           /* Waiting to start resynchronization */
        {10, SG_COLL_UNKNOWN},          /* Resynchronizing */
        {11, SG_COLL_UNKNOWN},          /* Planned failover initiated */
        {12, SG_COLL_UNKNOWN},          /* not "Failover in progress" on a collection */
        {13, SG_COLL_TESTING},          /* Test failover initiated */
        {14, SG_COLL_UNKNOWN},          /* Partially enabled */
        {15, SG_COLL_UNKNOWN},          /* Partially disabled */
        {16, SG_COLL_UNKNOWN},          /* Partially recovered: never "failed over" */
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "Msvm_VirtualSystemCollection.CollectionID=\"s%ld\"",
                 (long)table[i].value);
        fake_obj_t *c = fake_obj_new();
        fake_obj_set_int(c, "ReplicationState", table[i].value);
        fake_wbem_add_object(fx->fake, path, c);
        sg_coll_state_t st = (sg_coll_state_t)-1;
        assert_int_equal(sg_provider_get_state(fx->p, path, &st), SG_OK);
        if (st != table[i].want)
            fail_msg("ReplicationState %ld: %s, want %s", (long)table[i].value,
                     sg_coll_state_text(st), sg_coll_state_text(table[i].want));
    }
    assert_true(s_find(fx, "GetObject Msvm_VirtualSystemCollection.CollectionID=\"s13\"") >= 0);
}

static void a_collection_without_a_replication_state_is_unknown_and_a_missing_one_not_found(
    void **state)
{
    fx_t *fx = *state;
    fake_wbem_add_object(fx->fake, COLL, fake_obj_new());
    sg_coll_state_t st = SG_COLL_REPLICATING;
    assert_int_equal(sg_provider_get_state(fx->p, COLL, &st), SG_OK);
    assert_int_equal(st, SG_COLL_UNKNOWN);
    assert_int_equal(sg_provider_get_state(fx->p, "Msvm_VirtualSystemCollection.CollectionID=\"x\"",
                                           &st),
                     SG_ENOTFOUND);
}

/* --- find_failover_job ------------------------------------------------------------ */

#define JOBS_OF_COLL "ASSOCIATORS OF {" COLL "}"
#define JOB_2 NS "Msvm_ConcreteJob.InstanceID=\"j-2\""
#define JOB_3 NS "Msvm_ConcreteJob.InstanceID=\"j-3\""
#define INTENT_MS 1795626000000LL /* 2026-11-25T17:00:00Z */
#define BEFORE_INTENT "20261125165900.000000+000"
#define AFTER_INTENT "20261125170005.000000+000"
#define LATER "20261125170130.000000+000"
#define JOB_TYPE_INITIATE_FAILOVER 97
#define JOB_TYPE_INITIATE_TEST_REPLICA 102

static fake_obj_t *s_job(const char *path, LONG type, LONG job_state, const char *start)
{
    fake_obj_t *j = fake_obj_new();
    fake_obj_set_str(j, "__PATH", path);
    fake_obj_set_int(j, "JobType", type);
    fake_obj_set_int(j, "JobState", job_state);
    fake_obj_set_str(j, "StartTime", start);
    fake_obj_set_int(j, "PercentComplete", job_state == SG_JOB_COMPLETED ? 100 : 30);
    return j;
}

static void a_failover_job_in_flight_is_found_among_the_collections_jobs_and_followed(
    void **state)
{
    fx_t *fx = *state;
    /* in flight: found even though it started before the intent */
    fake_obj_t *jobs[2] = {
        s_job(JOB_2, JOB_TYPE_INITIATE_TEST_REPLICA, SG_JOB_RUNNING, AFTER_INTENT),
        s_job(JOB, JOB_TYPE_INITIATE_FAILOVER, SG_JOB_RUNNING, BEFORE_INTENT),
    };
    fake_wbem_add_query(fx->fake, JOBS_OF_COLL, jobs, 2);
    fake_obj_t *followed = s_job(JOB, JOB_TYPE_INITIATE_FAILOVER, SG_JOB_RUNNING, BEFORE_INTENT);
    fake_wbem_add_object(fx->fake, JOB, followed);
    char *path = NULL;
    assert_int_equal(sg_provider_find_failover_job(fx->p, COLL, INTENT_MS, &path), SG_OK);
    assert_non_null(path);
    assert_string_equal(path, JOB);
    int q = s_find(fx, "ExecQuery ASSOCIATORS OF");
    assert_true(q >= 0);
    assert_string_equal(fake_wbem_call(fx->fake, (size_t)q),
                        "ExecQuery ASSOCIATORS OF {" COLL "} WHERE AssocClass = "
                        "Msvm_AffectedJobElement ResultClass = Msvm_ConcreteJob");
    sg_job_status_t st;
    assert_int_equal(sg_provider_get_job(fx->p, path, &st), SG_OK);
    assert_int_equal(st.job_state, SG_JOB_RUNNING);
    assert_int_equal(st.percent_complete, 30);
    sg_job_status_fini(&st);
    free(path);
}

static void no_failover_job_of_the_collection_is_not_found(void **state)
{
    fx_t *fx = *state;
    fake_wbem_add_query(fx->fake, JOBS_OF_COLL, NULL, 0);
    char *path = (char *)"untouched";
    assert_int_equal(sg_provider_find_failover_job(fx->p, COLL, INTENT_MS, &path), SG_ENOTFOUND);
    assert_null(path);
    assert_true(s_find(fx, "ExecQuery " JOBS_OF_COLL) >= 0);
}

static void an_ended_failover_job_older_than_the_intent_is_ignored(void **state)
{
    fx_t *fx = *state;
    fake_obj_t *jobs[2] = {
        s_job(JOB, JOB_TYPE_INITIATE_FAILOVER, SG_JOB_COMPLETED, BEFORE_INTENT),
        s_job(JOB_2, JOB_TYPE_INITIATE_FAILOVER, SG_JOB_EXCEPTION, NULL), /* no StartTime */
    };
    fake_wbem_add_query(fx->fake, JOBS_OF_COLL, jobs, 2);
    char *path = NULL;
    assert_int_equal(sg_provider_find_failover_job(fx->p, COLL, INTENT_MS, &path), SG_ENOTFOUND);
    assert_null(path);
}

static void the_newest_ended_failover_job_since_the_intent_is_found(void **state)
{
    fx_t *fx = *state;
    fake_obj_t *jobs[3] = {
        s_job(JOB, JOB_TYPE_INITIATE_FAILOVER, SG_JOB_EXCEPTION, AFTER_INTENT),
        s_job(JOB_3, JOB_TYPE_INITIATE_FAILOVER, SG_JOB_COMPLETED, LATER),
        s_job(JOB_2, JOB_TYPE_INITIATE_FAILOVER, SG_JOB_COMPLETED, BEFORE_INTENT),
    };
    fake_wbem_add_query(fx->fake, JOBS_OF_COLL, jobs, 3);
    char *path = NULL;
    assert_int_equal(sg_provider_find_failover_job(fx->p, COLL, INTENT_MS, &path), SG_OK);
    assert_string_equal(path, JOB_3);
    free(path);
}

static void a_failover_job_in_flight_wins_over_a_newer_ended_one(void **state)
{
    fx_t *fx = *state;
    fake_obj_t *jobs[2] = {
        s_job(JOB_3, JOB_TYPE_INITIATE_FAILOVER, SG_JOB_COMPLETED, LATER),
        s_job(JOB_2, JOB_TYPE_INITIATE_FAILOVER, SG_JOB_STARTING, AFTER_INTENT),
    };
    fake_wbem_add_query(fx->fake, JOBS_OF_COLL, jobs, 2);
    char *path = NULL;
    assert_int_equal(sg_provider_find_failover_job(fx->p, COLL, INTENT_MS, &path), SG_OK);
    assert_string_equal(path, JOB_2);
    free(path);
}

static void jobs_of_other_methods_are_not_failover_jobs(void **state)
{
    fx_t *fx = *state;
    fake_obj_t *jobs[2] = {
        s_job(JOB, JOB_TYPE_INITIATE_TEST_REPLICA, SG_JOB_RUNNING, AFTER_INTENT),
        s_job(JOB_2, 99 /* Commit Failover */, SG_JOB_COMPLETED, LATER),
    };
    fake_wbem_add_query(fx->fake, JOBS_OF_COLL, jobs, 2);
    char *path = NULL;
    assert_int_equal(sg_provider_find_failover_job(fx->p, COLL, INTENT_MS, &path), SG_ENOTFOUND);
    assert_null(path);
}

static void a_wmi_without_the_job_association_answers_not_found_and_a_failure_is_an_error(
    void **state)
{
    fx_t *fx = *state;
    fake_wbem_fail_query(fx->fake, JOBS_OF_COLL, WBEM_E_INVALID_CLASS);
    char *path = NULL;
    assert_int_equal(sg_provider_find_failover_job(fx->p, COLL, INTENT_MS, &path), SG_ENOTFOUND);
    assert_null(path);
    fake_wbem_fail_query(fx->fake, "ASSOCIATORS OF {" COLL_2 "}", WBEM_E_FAILED);
    assert_int_equal(sg_provider_find_failover_job(fx->p, COLL_2, INTENT_MS, &path), SG_EIO);
    assert_null(path);
}

static void cim_datetimes_and_intervals_parse_and_reject_garbage(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(sg_wmi_parse_datetime("19700101000000.000000+000", &v), SG_OK);
    assert_int_equal(v, 0);
    assert_int_equal(sg_wmi_parse_datetime("19700101000000.000000-060", &v), SG_OK);
    assert_int_equal(v, 3600000);
    assert_int_equal(sg_wmi_parse_datetime("2026-11-25T17:00:00Z", &v), SG_EINVAL);
    assert_int_equal(sg_wmi_parse_interval("00000001000000.000000:000", &v), SG_OK);
    assert_int_equal(v, 86400000);
    assert_int_equal(sg_wmi_parse_interval("0000000100000x.000000:000", &v), SG_EINVAL);
}

/* --- the strict fake ------------------------------------------------------------------- */

/* HRESULTs compared as the signed 32-bit values they are. */
#define assert_hr(a, b) assert_int_equal((HRESULT)(a), (HRESULT)(b))

static BSTR s_b(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    BSTR b = SysAllocStringLen(NULL, (UINT)(n - 1));
    MultiByteToWideChar(CP_UTF8, 0, s, -1, b, n);
    return b;
}

static HRESULT s_get(IWbemServices *svc, const char *path, IWbemClassObject **o)
{
    BSTR b = s_b(path);
    *o = NULL;
    HRESULT hr = IWbemServices_GetObject(svc, b, 0, NULL, o, NULL);
    SysFreeString(b);
    return hr;
}

static HRESULT s_put_bstr(IWbemClassObject *o, const WCHAR *name, const char *value)
{
    VARIANT v;
    V_VT(&v) = VT_BSTR;
    V_BSTR(&v) = s_b(value);
    HRESULT hr = IWbemClassObject_Put(o, name, 0, &v, 0);
    VariantClear(&v);
    return hr;
}

/* In-parameters of `method`, spawned as the provider does. */
static IWbemClassObject *s_spawn(IWbemServices *svc, const WCHAR *method)
{
    IWbemClassObject *cls = NULL, *def = NULL, *in = NULL;
    assert_hr(s_get(svc, "Msvm_CollectionReplicationService", &cls), S_OK);
    assert_hr(IWbemClassObject_GetMethod(cls, method, 0, &def, NULL), S_OK);
    assert_hr(IWbemClassObject_SpawnInstance(def, 0, &in), S_OK);
    IWbemClassObject_Release(def);
    IWbemClassObject_Release(cls);
    return in;
}

static HRESULT s_exec(IWbemServices *svc, const WCHAR *method, IWbemClassObject *in)
{
    BSTR path = s_b(SVC_PATH), m = SysAllocString(method);
    IWbemClassObject *out = NULL;
    HRESULT hr = IWbemServices_ExecMethod(svc, path, m, 0, NULL, in, &out, NULL);
    if (out)
        IWbemClassObject_Release(out);
    SysFreeString(path);
    SysFreeString(m);
    return hr;
}

/* The fake knows each method's in-parameters by name and type, from the
 * methods' MOF pages, and refuses what a typo would send. */
static void the_fake_knows_each_methods_in_parameters_and_refuses_other_names(void **state)
{
    fx_t *fx = *state;
    IWbemServices *svc = fake_wbem_services(fx->fake);
    static const struct {
        const WCHAR *method;
        bool takes_point;
    } methods[] = {{L"InitiateFailover", true},          {L"TestReplicaCollection", true},
                   {L"RevertTestReplicaCollection", false}, {L"CommitFailover", false},
                   {L"RevertFailover", false}};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        IWbemClassObject *in = s_spawn(svc, methods[i].method);
        assert_hr(s_put_bstr(in, L"Collection", COLL), S_OK);
        assert_hr(s_put_bstr(in, L"CollectionRecoveryPoint", RP_NEW),
                         methods[i].takes_point ? S_OK : WBEM_E_NOT_FOUND);
        assert_hr(s_put_bstr(in, L"RecoveryPoint", RP_NEW), WBEM_E_NOT_FOUND);
        assert_hr(s_put_bstr(in, L"Job", JOB), WBEM_E_NOT_FOUND); /* an out-parameter */
        VARIANT v;
        V_VT(&v) = VT_I4;
        V_I4(&v) = 1;
        assert_hr(IWbemClassObject_Put(in, L"Collection", 0, &v, 0), WBEM_E_TYPE_MISMATCH);
        IWbemClassObject_Release(in);
    }
    IWbemClassObject *cls = NULL, *def = NULL;
    assert_hr(s_get(svc, "Msvm_CollectionReplicationService", &cls), S_OK);
    assert_hr(IWbemClassObject_GetMethod(cls, L"InitiateFailovr", 0, &def, NULL),
                     WBEM_E_NOT_FOUND);
    IWbemClassObject_Release(cls);
    IWbemClassObject *in = s_spawn(svc, L"InitiateFailover");
    assert_hr(s_put_bstr(in, L"Collection", COLL), S_OK);
    assert_hr(s_exec(svc, L"InitiateFailovr", in), WBEM_E_INVALID_METHOD);
    assert_hr(s_exec(svc, L"CommitFailover", in), WBEM_E_INVALID_METHOD_PARAMETERS);
    assert_hr(s_put_bstr(in, L"Collection", "Msvm_VirtualSystemCollection.InstanceID=\"c\""),
                     S_OK);
    assert_hr(s_exec(svc, L"InitiateFailover", in), WBEM_E_INVALID_METHOD_PARAMETERS);
    assert_hr(s_put_bstr(in, L"Collection", COLL), S_OK);
    assert_hr(s_put_bstr(in, L"CollectionRecoveryPoint",
                                "Msvm_CollectionRecoveryPoint.InstanceID=\"rp-new\""),
                     S_OK);
    assert_hr(s_exec(svc, L"InitiateFailover", in), WBEM_E_INVALID_METHOD_PARAMETERS);
    IWbemClassObject_Release(in);
}

/* GetObject checks the key names of a path against its class; ExecQuery
 * reads WQL. */
static void the_fake_checks_the_keys_of_paths_and_reads_wql(void **state)
{
    fx_t *fx = *state;
    IWbemServices *svc = fake_wbem_services(fx->fake);
    fake_wbem_add_object(fx->fake, RP_NEW, fake_obj_new());
    static const struct {
        const char *path;
        HRESULT hr;
    } cases[] = {
        {"Msvm_VirtualSystemCollection.InstanceID=\"c-1\"", WBEM_E_INVALID_OBJECT_PATH},
        {"Msvm_CollectionRecoveryPoint.InstanceID=\"rp-new\"", WBEM_E_INVALID_OBJECT_PATH},
        {"Msvm_ConcreteJob.CollectionID=\"j-1\"", WBEM_E_INVALID_OBJECT_PATH},
        {"Msvm_ConcreteJob.InstanceID=\"nope\"", WBEM_E_NOT_FOUND},
        {"Msvm_Nope.InstanceID=\"x\"", WBEM_E_INVALID_CLASS},
        {"not a path", WBEM_E_INVALID_OBJECT_PATH},
        {"Msvm_CollectionRecoveryPoint.InstanceID=\"rp-new\",CollectionID=\"c-1\"", S_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        IWbemClassObject *o = NULL;
        HRESULT hr = s_get(svc, cases[i].path, &o);
        if (hr != cases[i].hr)
            fail_msg("GetObject %s: 0x%08lx, want 0x%08lx", cases[i].path, (unsigned long)hr,
                     (unsigned long)cases[i].hr);
        if (o)
            IWbemClassObject_Release(o);
    }
    static const struct {
        const char *wql;
        HRESULT hr;
        ULONG n;
    } queries[] = {
        {"SELECT * FROM Msvm_CollectionRecoveryPoint WHERE CollectionID='C-1'", S_OK, 1},
        {"select * from Msvm_CollectionRecoveryPoint where CollectionID = \"c-1\" and "
         "InstanceID='rp-new'", S_OK, 1},
        {"SELECT * FROM Msvm_CollectionRecoveryPoint WHERE CollectionID='c-2'", S_OK, 0},
        {"SELECT * FROM Msvm_CollectionRecoveryPoint WHERE Collection='c-1'",
         WBEM_E_INVALID_QUERY, 0},
        {"SELECT * FROM Msvm_CollectionRecoveryPoint WHERE CollectionID='c-1", WBEM_E_INVALID_QUERY,
         0},
        {"SELECT * FROM Msvm_Nope", WBEM_E_INVALID_CLASS, 0},
    };
    BSTR wql = SysAllocString(L"WQL");
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        BSTR q = s_b(queries[i].wql);
        IEnumWbemClassObject *en = NULL;
        HRESULT hr = IWbemServices_ExecQuery(svc, wql, q, 0, NULL, &en);
        if (hr != queries[i].hr)
            fail_msg("%s: 0x%08lx", queries[i].wql, (unsigned long)hr);
        ULONG got = 0;
        if (en) {
            IWbemClassObject *objs[4] = {0};
            IEnumWbemClassObject_Next(en, 0, 4, objs, &got);
            for (ULONG k = 0; k < got; k++)
                IWbemClassObject_Release(objs[k]);
            IEnumWbemClassObject_Release(en);
        }
        if (got != queries[i].n)
            fail_msg("%s: %lu objects", queries[i].wql, (unsigned long)got);
        SysFreeString(q);
    }
    SysFreeString(wql);
}

/* --- hung calls ------------------------------------------------------------------------- */

typedef enum { S_OP_CALL, S_OP_POINTS } s_op_t;

/* One provider call on a worker thread of its own. */
typedef struct {
    sg_provider_t *p;
    s_op_t op;
    sg_method_t method;
    const char *collection;
    int rc;
    HANDLE thread;
} s_worker_t;

static DWORD WINAPI s_work(void *arg)
{
    s_worker_t *w = arg;
    if (w->op == S_OP_CALL) {
        sg_call_result_t r;
        w->rc = sg_provider_call(w->p, w->method, w->collection, NULL, &r);
        if (w->rc == SG_OK)
            sg_call_result_fini(&r);
    } else {
        sg_recovery_point_t *pts = NULL;
        size_t n = 0;
        w->rc = sg_provider_list_recovery_points(w->p, w->collection, &pts, &n);
        sg_recovery_points_free(pts, n);
    }
    return 0;
}

static void s_start(s_worker_t *w)
{
    w->rc = 1;
    w->thread = CreateThread(NULL, 0, s_work, w, 0, NULL);
    assert_non_null(w->thread);
}

/* True when the worker ended within `ms`. */
static bool s_ended(s_worker_t *w, DWORD ms)
{
    return WaitForSingleObject(w->thread, ms) == WAIT_OBJECT_0;
}

static void s_join(s_worker_t *w)
{
    WaitForSingleObject(w->thread, INFINITE);
    CloseHandle(w->thread);
}

/* A call that hangs in WMI holds nothing the other workers need: their calls
 * go on (no lock shared by every worker is held across a remote call). */
static void a_hung_call_does_not_block_another_workers_call(void **state)
{
    fx_t *fx = *state;
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    fake_wbem_hang(fx->fake, SVC_QUERY); /* the first look-up of the service instance */
    s_worker_t a = {fx->p, S_OP_CALL, SG_METHOD_INITIATE_FAILOVER, COLL, 0, NULL};
    s_worker_t b = {fx->p, S_OP_CALL, SG_METHOD_COMMIT_FAILOVER, COLL_2, 0, NULL};
    s_start(&a);
    assert_true(fake_wbem_wait_hung(fx->fake, 5000));
    s_start(&b);
    bool b_done = s_ended(&b, 5000);
    fake_wbem_release(fx->fake);
    s_join(&a);
    s_join(&b);
    assert_true(b_done);
    assert_int_equal(b.rc, SG_OK);
    assert_int_equal(a.rc, SG_OK);
    assert_true(s_find(fx, "ExecMethod " SVC_PATH " CommitFailover") >= 0);
}

/* Worker `w` makes its call while the fake hangs every `what`: the call
 * ends, with SG_ETIMEOUT, before the hang is released. */
static void s_hung_call_times_out(fx_t *fx, const char *what, s_worker_t w)
{
    fake_wbem_hang(fx->fake, what);
    s_start(&w);
    bool done = s_ended(&w, 5000);
    fake_wbem_release(fx->fake);
    s_join(&w);
    assert_true(done);
    assert_int_equal(w.rc, SG_ETIMEOUT);
}

/* IEnumWbemClassObject::Next waits at most the call timeout
 * (learn.microsoft.com/windows/win32/api/wbemcli/nf-wbemcli-ienumwbemclassobject-next). */
static void a_hung_enumeration_times_out_after_the_call_timeout(void **state)
{
    fx_t *fx = *state; /* call timeout 300 ms */
    s_hung_call_times_out(fx, "ExecQuery SELECT * FROM Msvm_CollectionRecoveryPoint",
                          (s_worker_t){fx->p, S_OP_POINTS, 0, COLL, 0, NULL});
}

/* ExecMethod is made semisynchronously and its result waited for at most the
 * call timeout (IWbemCallResult::GetResultObject). */
static void a_hung_method_call_times_out_after_the_call_timeout(void **state)
{
    fx_t *fx = *state; /* call timeout 300 ms */
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    s_hung_call_times_out(fx, "ExecMethod",
                          (s_worker_t){fx->p, S_OP_CALL, SG_METHOD_INITIATE_FAILOVER, COLL, 0, NULL});
    /* and the provider still works */
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r), SG_OK);
    sg_call_result_fini(&r);
}

/* --- the other methods ----------------------------------------------------------------- */

/* RevertFailover (clushyperv/msvm-collectionreplicationservice-revertfailover):
 * Collection in, Job out; nothing else, whatever point the caller has. */
static void revert_failover_takes_the_collection_only_and_follows_its_job(void **state)
{
    fx_t *fx = *state;
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_REVERT_FAILOVER, COLL, RP_NEW, &r), SG_OK);
    assert_int_equal(r.return_value, SG_RC_JOB_STARTED);
    assert_string_equal(r.job_path, JOB);
    assert_string_equal(fake_wbem_call(fx->fake, (size_t)s_find(fx, "ExecMethod")),
                        "ExecMethod " SVC_PATH " RevertFailover Collection=" COLL);
    sg_call_result_fini(&r);
}

/* CommitFailover answers 32775 on a collection not failed over: the verdict,
 * not a failed call. */
static void commit_failover_refused_for_its_state_is_the_verdict(void **state)
{
    fx_t *fx = *state;
    s_answer(fx, SG_RC_INVALID_STATE, NULL);
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_COMMIT_FAILOVER, COLL, NULL, &r), SG_OK);
    assert_int_equal(r.return_value, SG_RC_INVALID_STATE);
    assert_null(r.job_path);
}

/* ReverseReplicationRelationship(Collection, CollectionReplicationSettingData
 * string, Job out): the settings are left NULL (wmi.c says why). */
static void reverse_replication_passes_the_collection_and_no_settings(void **state)
{
    fx_t *fx = *state;
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_REVERSE_REPLICATION, COLL, RP_NEW, &r),
                     SG_OK);
    assert_int_equal(r.return_value, SG_RC_JOB_STARTED);
    assert_string_equal(r.job_path, JOB);
    assert_true(s_find(fx, "GetObject Msvm_CollectionReplicationService") >= 0);
    assert_string_equal(fake_wbem_call(fx->fake, (size_t)s_find(fx, "ExecMethod")),
                        "ExecMethod " SVC_PATH " ReverseReplicationRelationship Collection=" COLL
                        " CollectionReplicationSettingData=NULL");
    sg_call_result_fini(&r);
}

/* --- get_replication ------------------------------------------------------------------- */

#define STATS_CALL "ExecMethod " SVC_PATH " GetReplicationStatistics Collection=" COLL
#define T_1700 "20261125170000.000000+000"
#define T_1700_MS 1795626000000LL

/* The collection as one side's WMI has it. */
static fake_obj_t *s_collection(LONG mode, LONG replication_state)
{
    fake_obj_t *c = fake_obj_new();
    fake_obj_set_int(c, "ReplicationMode", mode);
    fake_obj_set_int(c, "ReplicationState", replication_state);
    fake_obj_set_str(c, "LastApplyTime", "20261125180000.000000+000"); /* never read */
    return c;
}

/* Scripts GetReplicationStatistics' answer: a return value and the
 * statistics (NULL: none). */
static void s_stats_answer(fx_t *fx, LONG rv, const char *xml)
{
    fake_obj_t *out = fake_obj_new();
    fake_obj_set_int(out, "ReturnValue", rv);
    if (xml)
        fake_obj_set_str(out, "ReplicationStatistics", xml);
    fake_wbem_push_result(fx->fake, S_OK, out);
}

static void s_stats(fx_t *fx, const char *health, const char *last)
{
    const char *props[][2] = {{"ReplicationHealth", health},
                              {"LastWALReplicationTime", last},
                              {"PendingReplicationSize", "4096"}};
    char *xml = fake_wbem_stats_xml(props, 3);
    s_stats_answer(fx, SG_RC_COMPLETED, xml);
    free(xml);
}

/* ReplicationMode and ReplicationState from the collection's object
 * (clushyperv/msvm-virtualsystemcollection), health and last replication from
 * GetReplicationStatistics' embedded Msvm_CollectionReplicationStatistics
 * (ReplicationHealth, LastWALReplicationTime). */
static void replication_is_read_from_the_collection_and_its_statistics(void **state)
{
    fx_t *fx = *state;
    fake_wbem_add_object(fx->fake, COLL, s_collection(SG_MODE_REPLICA, 5 /* Recovered */));
    s_stats(fx, "2", T_1700);
    sg_replication_t r;
    assert_int_equal(sg_provider_get_replication(fx->p, COLL, &r), SG_OK);
    assert_int_equal(r.mode, SG_MODE_REPLICA);
    assert_int_equal(r.state, 5);
    assert_int_equal(r.health, SG_HEALTH_WARNING);
    assert_int_equal(r.last_replication_ms, T_1700_MS);
    assert_true(s_find(fx, "GetObject " COLL) >= 0);
    assert_string_equal(fake_wbem_call(fx->fake, (size_t)s_find(fx, "ExecMethod")), STATS_CALL);
}

/* The collection's page declares ReplicationStatistics a string, the per-VM
 * methods' an array: an array is read by its first element. */
static void statistics_given_as_an_array_are_read_by_the_first(void **state)
{
    fx_t *fx = *state;
    fake_wbem_add_object(fx->fake, COLL, s_collection(SG_MODE_PRIMARY, 3));
    const char *props[][2] = {{"ReplicationHealth", "3"}, {"LastWALReplicationTime", T_1700}};
    char *xml = fake_wbem_stats_xml(props, 2);
    const char *items[] = {xml, "<INSTANCE CLASSNAME=\"Msvm_CollectionReplicationStatistics\">"
                                "</INSTANCE>"};
    fake_obj_t *out = fake_obj_new();
    fake_obj_set_int(out, "ReturnValue", SG_RC_COMPLETED);
    fake_obj_set_strs(out, "ReplicationStatistics", items, 2);
    fake_wbem_push_result(fx->fake, S_OK, out);
    free(xml);
    sg_replication_t r;
    assert_int_equal(sg_provider_get_replication(fx->p, COLL, &r), SG_OK);
    assert_int_equal(r.mode, SG_MODE_PRIMARY);
    assert_int_equal(r.state, 3);
    assert_int_equal(r.health, SG_HEALTH_CRITICAL);
    assert_int_equal(r.last_replication_ms, T_1700_MS);
}

/* Every value that cannot be read is unknown, never guessed: health outside
 * 1..3 (0 is "Not applicable" on the per-VM page; the collection's page
 * lists none), a zero date, a property missing or NULL, statistics of
 * another class or not CIM-XML, mode and state out of range. */
static void values_that_cannot_be_read_are_unknown(void **state)
{
    fx_t *fx = *state;
    static const struct {
        LONG mode, st;
        const char *health, *last;
        int want_mode, want_state, want_health;
        int64_t want_last;
    } cases[] = {
        {SG_MODE_REPLICA, 8, "0", "00000000000000.000000+000", SG_MODE_REPLICA, 8,
         SG_HEALTH_UNKNOWN, 0},
        {SG_MODE_REPLICA, 8, "4", "2026-11-25T17:00:00Z", SG_MODE_REPLICA, 8, SG_HEALTH_UNKNOWN, 0},
        {SG_MODE_REPLICA, 8, "x1", NULL, SG_MODE_REPLICA, 8, SG_HEALTH_UNKNOWN, 0},
        {SG_MODE_REPLICA, 8, NULL, T_1700, SG_MODE_REPLICA, 8, SG_HEALTH_UNKNOWN, T_1700_MS},
        {7, 17, "1", T_1700, SG_MODE_NONE, -1, SG_HEALTH_NORMAL, T_1700_MS},
        {SG_MODE_TEST_REPLICA, 13, "1", NULL, SG_MODE_TEST_REPLICA, 13, SG_HEALTH_NORMAL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "Msvm_VirtualSystemCollection.CollectionID=\"u%zu\"", i);
        fake_wbem_add_object(fx->fake, path, s_collection(cases[i].mode, cases[i].st));
        s_stats(fx, cases[i].health, cases[i].last);
        sg_replication_t r;
        assert_int_equal(sg_provider_get_replication(fx->p, path, &r), SG_OK);
        if (r.mode != cases[i].want_mode || r.state != cases[i].want_state ||
            r.health != cases[i].want_health || r.last_replication_ms != cases[i].want_last)
            fail_msg("case %zu: mode %d state %d health %d last %lld", i, r.mode, r.state,
                     r.health, (long long)r.last_replication_ms);
    }
    /* statistics of another class, text that is not CIM-XML, none at all */
    static const char *const odd[] = {
        "<INSTANCE CLASSNAME=\"Msvm_ReplicationStatistics\"><PROPERTY NAME=\"ReplicationHealth\" "
        "TYPE=\"uint16\"><VALUE>1</VALUE></PROPERTY></INSTANCE>",
        "instance of Msvm_CollectionReplicationStatistics { ReplicationHealth = 1; };",
        NULL,
    };
    fake_wbem_add_object(fx->fake, COLL, fake_obj_new()); /* no mode, no state */
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        s_stats_answer(fx, SG_RC_COMPLETED, odd[i]);
        sg_replication_t r;
        assert_int_equal(sg_provider_get_replication(fx->p, COLL, &r), SG_OK);
        assert_int_equal(r.mode, SG_MODE_NONE);
        assert_int_equal(r.state, -1);
        assert_int_equal(r.health, SG_HEALTH_UNKNOWN);
        assert_int_equal(r.last_replication_ms, 0);
    }
}

/* Statistics come only with return value 0: a job (4096) carries no
 * out-parameters to read them from, and an error is no answer; the
 * collection's own values still count. A call WMI refuses (not the
 * connection) leaves them unknown too. */
static void statistics_not_given_leave_health_and_last_unknown(void **state)
{
    fx_t *fx = *state;
    fake_wbem_add_object(fx->fake, COLL, s_collection(SG_MODE_REPLICA, 8));
    fake_obj_t *out = fake_obj_new();
    fake_obj_set_int(out, "ReturnValue", SG_RC_JOB_STARTED);
    fake_obj_set_str(out, "Job", JOB);
    fake_wbem_push_result(fx->fake, S_OK, out);
    s_stats_answer(fx, SG_RC_INVALID_STATE, NULL);
    fake_wbem_push_result(fx->fake, WBEM_E_FAILED, NULL);
    for (int k = 0; k < 3; k++) {
        sg_replication_t r;
        assert_int_equal(sg_provider_get_replication(fx->p, COLL, &r), SG_OK);
        assert_int_equal(r.mode, SG_MODE_REPLICA);
        assert_int_equal(r.state, 8);
        assert_int_equal(r.health, SG_HEALTH_UNKNOWN);
        assert_int_equal(r.last_replication_ms, 0);
    }
    assert_int_equal(s_count(fx, STATS_CALL), 3);
    assert_int_equal(s_count(fx, "GetObject " JOB), 0); /* the job is not followed */
}

/* An unknown collection is not found; a path keyed otherwise is refused
 * before any call; a lost connection fails the read, every value unknown. */
static void an_unknown_collection_or_a_lost_connection_fails_the_read(void **state)
{
    fx_t *fx = *state;
    sg_replication_t r;
    assert_int_equal(sg_provider_get_replication(fx->p, "Msvm_VirtualSystemCollection.InstanceID=\"c\"",
                                                 &r),
                     SG_EINVAL);
    assert_int_equal(fake_wbem_n_calls(fx->fake), 0);
    assert_int_equal(sg_provider_get_replication(fx->p, COLL, &r), SG_ENOTFOUND);
    assert_int_equal(r.state, -1);
    assert_int_equal(s_count(fx, "ExecMethod"), 0);
    fake_wbem_add_object(fx->fake, COLL, s_collection(SG_MODE_REPLICA, 8));
    fake_wbem_push_result(fx->fake, RPC_E_DISCONNECTED, NULL);
    assert_int_equal(sg_provider_get_replication(fx->p, COLL, &r), SG_EIO);
    assert_int_equal(r.mode, SG_MODE_NONE);
    assert_int_equal(r.state, -1);
    assert_int_equal(r.health, SG_HEALTH_UNKNOWN);
}

/* The fake knows the new methods' in-parameters and refuses what a typo, or
 * settings that are not an embedded Msvm_CollectionReplicationSettingData,
 * would send. */
static void the_fake_knows_reverse_replication_and_statistics_parameters(void **state)
{
    fx_t *fx = *state;
    IWbemServices *svc = fake_wbem_services(fx->fake);
    IWbemClassObject *in = s_spawn(svc, L"ReverseReplicationRelationship");
    assert_hr(s_put_bstr(in, L"Collection", COLL), S_OK);
    assert_hr(s_put_bstr(in, L"CollectionRecoveryPoint", RP_NEW), WBEM_E_NOT_FOUND);
    assert_hr(s_put_bstr(in, L"ReplicationSettingData", "x"), WBEM_E_NOT_FOUND); /* the VM's */
    VARIANT v;
    V_VT(&v) = VT_I4;
    V_I4(&v) = 1;
    assert_hr(IWbemClassObject_Put(in, L"CollectionReplicationSettingData", 0, &v, 0),
              WBEM_E_TYPE_MISMATCH);
    fake_wbem_push_result(fx->fake, WBEM_E_FAILED, NULL); /* what a call that passes gets */
    assert_hr(s_exec(svc, L"ReverseReplicationRelationship", in), WBEM_E_FAILED); /* NULL: passes */
    assert_hr(s_put_bstr(in, L"CollectionReplicationSettingData", "recovery=hv-a"), S_OK);
    assert_hr(s_exec(svc, L"ReverseReplicationRelationship", in),
              WBEM_E_INVALID_METHOD_PARAMETERS);
    assert_hr(s_put_bstr(in, L"CollectionReplicationSettingData",
                         "<INSTANCE CLASSNAME=\"Msvm_CollectionReplicationSettingData\">"
                         "<PROPERTY NAME=\"RecoveryConnectionPoint\" TYPE=\"string\"><VALUE>hv-a"
                         "</VALUE></PROPERTY></INSTANCE>"),
              S_OK);
    fake_wbem_push_result(fx->fake, WBEM_E_FAILED, NULL);
    assert_hr(s_exec(svc, L"ReverseReplicationRelationship", in), WBEM_E_FAILED); /* passes */
    IWbemClassObject_Release(in);
    in = s_spawn(svc, L"GetReplicationStatistics");
    assert_hr(s_put_bstr(in, L"Collection", COLL), S_OK);
    assert_hr(s_put_bstr(in, L"ReplicationStatistics", "x"), WBEM_E_NOT_FOUND); /* an out */
    assert_hr(s_exec(svc, L"CommitFailover", in), WBEM_E_INVALID_METHOD_PARAMETERS);
    IWbemClassObject_Release(in);
}

/* --- sites ------------------------------------------------------------------------------- */

#define CONNECT_FLAGS "flags=0x80" /* WBEM_FLAG_CONNECT_USE_MAX_WAIT */

/* The index of the first call to `host` that starts with `prefix`, or -1. */
static int s_find_at(const fx_t *fx, const char *host, const char *prefix)
{
    for (size_t i = 0; i < fake_wbem_n_calls(fx->fake); i++) {
        const char *at = fake_wbem_call_host(fx->fake, i);
        if (at && strcmp(at, host) == 0 &&
            strncmp(fake_wbem_call(fx->fake, i), prefix, strlen(prefix)) == 0)
            return (int)i;
    }
    return -1;
}

static int s_count_at(const fx_t *fx, const char *host, const char *prefix)
{
    int n = 0;
    for (size_t i = 0; i < fake_wbem_n_calls(fx->fake); i++) {
        const char *at = fake_wbem_call_host(fx->fake, i);
        n += at && strcmp(at, host) == 0 &&
             strncmp(fake_wbem_call(fx->fake, i), prefix, strlen(prefix)) == 0;
    }
    return n;
}

/* provider.wmi at hv-w; site A at hv-a, B at hv-b with its own account, W
 * served by provider.wmi. */
static sg_provider_t *s_new_with_sites(fx_t *fx, int64_t call_timeout_ms)
{
    sg_wmi_cfg_t base = {.host = "hv-w", .call_timeout_ms = call_timeout_ms};
    sg_wmi_cfg_t a = {.host = "hv-a"};
    sg_wmi_cfg_t b = {.host = "hv-b", .name_space = "root\\HyperVCluster\\v2",
                      .user = "CORP\\sg-b", .password = "pw-b"};
    sg_wmi_site_t sites[] = {{"A", &a}, {"B", &b}, {"W", NULL}};
    return sg_wmi_new_locator(&base, sites, 3, fake_wbem_locator(fx->fake));
}

/* Each site with its own block is its own connection to its own host; a
 * site without one is the provider itself (provider.wmi); an unknown site is
 * NULL; a view answers for the other sites as its provider does. */
static void each_site_is_served_at_its_own_host(void **state)
{
    fx_t *fx = *state;
    fx->p = s_new_with_sites(fx, CALL_TIMEOUT_MS);
    assert_non_null(fx->p);
    sg_provider_t *a = sg_provider_at(fx->p, "A"), *b = sg_provider_at(fx->p, "B");
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, fx->p);
    assert_ptr_not_equal(a, b);
    assert_ptr_equal(sg_provider_at(fx->p, "W"), fx->p);
    assert_ptr_equal(sg_provider_at(fx->p, NULL), fx->p);
    assert_null(sg_provider_at(fx->p, "Z"));
    assert_null(sg_provider_at(fx->p, "a")); /* site names are exact */
    assert_ptr_equal(sg_provider_at(b, "A"), a);
    assert_ptr_equal(sg_provider_at(b, "W"), fx->p);
    assert_ptr_equal(sg_provider_at(b, "B"), b);
    assert_int_equal(s_count(fx, "ConnectServer"), 0); /* connections are made on use */

    /* the failover of a collection replicated A -> B is called at B */
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    sg_call_result_t r;
    for (int k = 0; k < 2; k++) {
        assert_int_equal(sg_provider_call(b, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r), SG_OK);
        sg_call_result_fini(&r);
    }
    assert_int_equal(s_count(fx, "ConnectServer"), 1);
    assert_string_equal(fake_wbem_call(fx->fake, (size_t)s_find_at(fx, "hv-b", "ConnectServer")),
                        "ConnectServer \\\\hv-b\\root\\HyperVCluster\\v2 user=CORP\\sg-b "
                        "password=set " CONNECT_FLAGS);
    assert_int_equal(s_count_at(fx, "hv-b", "ExecMethod " SVC_PATH " InitiateFailover"), 2);
    assert_int_equal(s_count_at(fx, "hv-b", SVC_QUERY), 1); /* the service instance, once */

    /* and a commit of one replicated B -> A at A, W's calls at provider.wmi's host */
    s_answer(fx, SG_RC_COMPLETED, NULL);
    assert_int_equal(sg_provider_call(a, SG_METHOD_COMMIT_FAILOVER, COLL_2, NULL, &r), SG_OK);
    assert_string_equal(fake_wbem_call(fx->fake, (size_t)s_find_at(fx, "hv-a", "ConnectServer")),
                        "ConnectServer \\\\hv-a\\root\\HyperVCluster\\v2 user=NULL "
                        "password=NULL " CONNECT_FLAGS);
    assert_true(s_find_at(fx, "hv-a", "ExecMethod " SVC_PATH " CommitFailover Collection=" COLL_2)
                >= 0);
    sg_job_status_t st;
    assert_int_equal(sg_provider_get_job(sg_provider_at(fx->p, "W"), JOB, &st), SG_ENOTFOUND);
    assert_true(s_find_at(fx, "hv-w", "GetObject " JOB) >= 0);
    assert_int_equal(s_count_at(fx, "hv-w", "ExecMethod"), 0);
    assert_int_equal(s_count(fx, "ConnectServer"), 3);

    /* the views are the provider's: freed with it, every reference let go */
    sg_provider_destroy(&fx->p);
    assert_int_equal(fake_wbem_outstanding(fx->fake), 0);
}

/* get_replication at a site reads that site's WMI: the primary's object at
 * A, the replica's at B. */
static void each_site_reads_its_own_side_of_the_replication(void **state)
{
    fx_t *fx = *state;
    fx->p = s_new_with_sites(fx, CALL_TIMEOUT_MS);
    fake_wbem_add_object_at(fx->fake, "hv-a", COLL, s_collection(SG_MODE_PRIMARY, 3));
    fake_wbem_add_object_at(fx->fake, "hv-b", COLL, s_collection(SG_MODE_REPLICA, 5));
    s_stats(fx, "1", T_1700);
    s_stats(fx, "3", NULL);
    sg_replication_t ra, rb;
    assert_int_equal(sg_provider_get_replication(sg_provider_at(fx->p, "A"), COLL, &ra), SG_OK);
    assert_int_equal(sg_provider_get_replication(sg_provider_at(fx->p, "B"), COLL, &rb), SG_OK);
    assert_int_equal(ra.mode, SG_MODE_PRIMARY);
    assert_int_equal(ra.state, 3);
    assert_int_equal(ra.health, SG_HEALTH_NORMAL);
    assert_int_equal(ra.last_replication_ms, T_1700_MS);
    assert_int_equal(rb.mode, SG_MODE_REPLICA);
    assert_int_equal(rb.state, 5);
    assert_int_equal(rb.health, SG_HEALTH_CRITICAL);
    assert_int_equal(rb.last_replication_ms, 0);
    assert_true(s_find_at(fx, "hv-a", STATS_CALL) >= 0);
    assert_true(s_find_at(fx, "hv-b", STATS_CALL) >= 0);
    /* provider.wmi's host has no such collection */
    sg_replication_t rw;
    assert_int_equal(sg_provider_get_replication(fx->p, COLL, &rw), SG_ENOTFOUND);
}

/* A site's host that cannot be reached fails that site's calls (and no
 * other site's); once it answers again the next call connects. A host that
 * goes away under a connection drops it: the next call connects again and
 * looks the service instance up again. */
static void an_unreachable_site_fails_its_calls_and_a_later_call_reconnects(void **state)
{
    fx_t *fx = *state;
    fx->p = s_new_with_sites(fx, CALL_TIMEOUT_MS);
    sg_provider_t *a = sg_provider_at(fx->p, "A"), *b = sg_provider_at(fx->p, "B");
    sg_call_result_t r;
    fake_wbem_set_down(fx->fake, "hv-b", true);
    assert_int_equal(sg_provider_call(b, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r), SG_EIO);
    assert_int_equal(s_count_at(fx, "hv-b", "ConnectServer"), 1);
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    assert_int_equal(sg_provider_call(a, SG_METHOD_INITIATE_FAILOVER, COLL_2, NULL, &r), SG_OK);
    sg_call_result_fini(&r);
    assert_int_equal(sg_provider_call(b, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r), SG_EIO);
    assert_int_equal(s_count_at(fx, "hv-b", "ConnectServer"), 2); /* tried again */
    fake_wbem_set_down(fx->fake, "hv-b", false);
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    assert_int_equal(sg_provider_call(b, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r), SG_OK);
    sg_call_result_fini(&r);
    assert_int_equal(s_count_at(fx, "hv-b", "ConnectServer"), 3);
    assert_int_equal(s_count_at(fx, "hv-b", "ExecMethod"), 1);

    /* connected, then gone: the call fails and drops the connection */
    fake_wbem_set_down(fx->fake, "hv-b", true);
    sg_job_status_t st;
    assert_int_equal(sg_provider_get_job(b, JOB, &st), SG_EIO);
    assert_int_equal(s_count_at(fx, "hv-b", "ConnectServer"), 3);
    fake_wbem_set_down(fx->fake, "hv-b", false);
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    assert_int_equal(sg_provider_call(b, SG_METHOD_REVERSE_REPLICATION, COLL, NULL, &r), SG_OK);
    sg_call_result_fini(&r);
    assert_int_equal(s_count_at(fx, "hv-b", "ConnectServer"), 4);
    assert_int_equal(s_count_at(fx, "hv-b", SVC_QUERY), 2);
    /* A's connection was never dropped */
    assert_int_equal(s_count_at(fx, "hv-a", "ConnectServer"), 1);
}

/* A site's calls wait at most provider.wmi.call_timeout, as the provider's. */
static void a_sites_call_waits_at_most_the_providers_call_timeout(void **state)
{
    fx_t *fx = *state;
    fx->p = s_new_with_sites(fx, 300);
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    s_hung_call_times_out(fx, "ExecMethod",
                          (s_worker_t){sg_provider_at(fx->p, "B"), S_OP_CALL,
                                       SG_METHOD_COMMIT_FAILOVER, COLL, 0, NULL});
}

/* --- connecting ------------------------------------------------------------------------ */

#define RPC_UNAVAILABLE HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE) /* 0x800706BA */

static sg_provider_t *s_new_connecting(fx_t *fx)
{
    sg_wmi_cfg_t cfg = {.host = "hv-b", .user = "CORP\\svc-siteguard", .password = "pw",
                        .call_timeout_ms = CALL_TIMEOUT_MS};
    return sg_wmi_new_locator(&cfg, NULL, 0, fake_wbem_locator(fx->fake));
}

/* ConnectServer with WBEM_FLAG_CONNECT_USE_MAX_WAIT: it returns in 2 minutes
 * or less (learn.microsoft.com/windows/win32/api/wbemcli/
 * nf-wbemcli-iwbemlocator-connectserver). */
static void connect_is_bounded_and_goes_to_the_configured_host(void **state)
{
    fx_t *fx = *state;
    fx->p = s_new_connecting(fx);
    assert_non_null(fx->p);
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r), SG_OK);
    sg_call_result_fini(&r);
    assert_int_equal(s_count(fx, "ConnectServer"), 1);
    char want[160];
    snprintf(want, sizeof want,
             "ConnectServer \\\\hv-b\\root\\HyperVCluster\\v2 user=CORP\\svc-siteguard "
             "password=set flags=0x%x",
             (unsigned)WBEM_FLAG_CONNECT_USE_MAX_WAIT);
    assert_string_equal(fake_wbem_call(fx->fake, (size_t)s_find(fx, "ConnectServer")), want);
}

/* The service starts with its WMI host down: the connection is made on first
 * use, and a call that cannot connect fails (the executor retries it as
 * provider.max_attempts says); a later call connects. */
static void an_unreachable_host_does_not_fail_creation_and_the_next_call_connects(void **state)
{
    fx_t *fx = *state;
    fake_wbem_fail_connect(fx->fake, RPC_UNAVAILABLE, 2);
    fx->p = s_new_connecting(fx);
    assert_non_null(fx->p);
    assert_int_equal(s_count(fx, "ConnectServer"), 0); /* nothing at creation */
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r), SG_EIO);
    sg_job_status_t st;
    assert_int_equal(sg_provider_get_job(fx->p, JOB, &st), SG_EIO);
    assert_int_equal(s_count(fx, "ConnectServer"), 2);
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r), SG_OK);
    sg_call_result_fini(&r);
    assert_int_equal(s_count(fx, "ConnectServer"), 3);
}

/* An RPC or transport failure drops the connection: the next call connects
 * again and looks the service instance up again. */
static void a_transport_error_makes_the_next_call_reconnect(void **state)
{
    fx_t *fx = *state;
    static const HRESULT lost[] = {RPC_UNAVAILABLE, RPC_E_DISCONNECTED, WBEM_E_TRANSPORT_FAILURE};
    fx->p = s_new_connecting(fx);
    assert_non_null(fx->p);
    sg_call_result_t r;
    for (size_t i = 0; i < sizeof lost / sizeof lost[0]; i++) {
        s_answer(fx, SG_RC_JOB_STARTED, JOB);
        assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r),
                         SG_OK);
        sg_call_result_fini(&r);
        assert_int_equal(s_count(fx, "ConnectServer"), (int)i + 1);
        fake_wbem_push_result(fx->fake, lost[i], NULL);
        assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r),
                         SG_EIO);
        assert_int_equal(s_count(fx, "ConnectServer"), (int)i + 1);
    }
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r), SG_OK);
    sg_call_result_fini(&r);
    assert_int_equal(s_count(fx, "ConnectServer"), 4);
    assert_int_equal(s_count(fx, SVC_QUERY), 4);
}

static void an_error_that_is_not_the_transport_keeps_the_connection(void **state)
{
    fx_t *fx = *state;
    fx->p = s_new_connecting(fx);
    assert_non_null(fx->p);
    fake_wbem_push_result(fx->fake, WBEM_E_ACCESS_DENIED, NULL);
    sg_call_result_t r;
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r), SG_EIO);
    s_answer(fx, SG_RC_JOB_STARTED, JOB);
    assert_int_equal(sg_provider_call(fx->p, SG_METHOD_INITIATE_FAILOVER, COLL, NULL, &r), SG_OK);
    sg_call_result_fini(&r);
    assert_int_equal(s_count(fx, "ConnectServer"), 1);
}

/* --- a failed job's errors: GetErrorEx ------------------------------------------------ */

#define GET_ERROR_EX "ExecMethod " JOB " GetErrorEx"
#define DISK_DOWN "The replica disk is not reachable."

/* A job in `job_state` with ErrorDescription `desc` (NULL: none), at JOB. */
static fake_obj_t *s_ended_job(LONG job_state, const char *desc)
{
    fake_obj_t *job = fake_obj_new();
    fake_obj_set_int(job, "JobState", job_state);
    fake_obj_set_int(job, "ErrorCode", job_state == SG_JOB_COMPLETED ? 0 : 32768);
    fake_obj_set_str(job, "ErrorDescription", desc);
    return job;
}

/* An embedded Msvm_Error with Message `msg` and MessageID `id` (NULL: none). */
static char *s_error(const char *msg, const char *id)
{
    const char *props[3][2] = {{"ErrorType", "4"}};
    size_t n = 1;
    if (msg) {
        props[n][0] = "Message";
        props[n++][1] = msg;
    }
    if (id) {
        props[n][0] = "MessageID";
        props[n++][1] = id;
    }
    return fake_wbem_error_xml("Msvm_Error", props, n);
}

/* The status GetErrorEx's detail gives a job ended in `job_state` with `desc`. */
static void s_status_of(fx_t *fx, fake_obj_t *job, sg_job_status_t *st)
{
    fake_wbem_add_object(fx->fake, JOB, job);
    assert_int_equal(sg_provider_get_job(fx->p, JOB, st), SG_OK);
}

static void a_failed_jobs_status_carries_the_messages_of_its_errors(void **state)
{
    fx_t *fx = *state;
    char *errors[2] = {s_error("Could not open <D:\\vm\\disk.vhdx> & its parent.", "32788"),
                       s_error("The operation failed.", NULL)};
    fake_obj_t *job = s_ended_job(SG_JOB_EXCEPTION, DISK_DOWN);
    fake_obj_set_job_errors(job, S_OK, 0, (const char *const *)errors, 2);
    sg_job_status_t st;
    s_status_of(fx, job, &st);
    assert_int_equal(st.job_state, SG_JOB_EXCEPTION);
    assert_int_equal(st.error_code, 32768);
    assert_string_equal(st.error_description,
                        DISK_DOWN "; Could not open <D:\\vm\\disk.vhdx> & its parent. "
                                  "(MessageID 32788); The operation failed.");
    /* GetErrorEx on the job's own path, no in-parameters, after the job was read. */
    assert_true(s_find(fx, "GetObject " JOB) >= 0);
    assert_true(s_find(fx, GET_ERROR_EX) > s_find(fx, "GetObject " JOB));
    assert_string_equal(fake_wbem_call(fx->fake, (size_t)s_find(fx, "ExecMethod")), GET_ERROR_EX);
    assert_int_equal(s_count(fx, "ExecMethod"), 1);
    sg_job_status_fini(&st);
    free(errors[0]);
    free(errors[1]);
}

/* Terminated (8) and Killed (9) end in failure too; a job without an
 * ErrorDescription gets the errors' detail alone. */
static void a_terminated_or_killed_job_gets_the_detail_without_an_error_description(
    void **state)
{
    fx_t *fx = *state;
    static const LONG states[] = {SG_JOB_TERMINATED, SG_JOB_KILLED};
    for (size_t k = 0; k < 2; k++) {
        fake_wbem_t *fake = fake_wbem_new();
        sg_provider_t *p = sg_wmi_new_services(fake_wbem_services(fake), CALL_TIMEOUT_MS);
        char *error = s_error(NULL, "0x8007045B"); /* a MessageID alone */
        fake_obj_t *job = s_ended_job(states[k], NULL);
        fake_obj_set_job_errors(job, S_OK, 0, (const char *const *)&error, 1);
        fake_wbem_add_object(fake, JOB, job);
        sg_job_status_t st;
        assert_int_equal(sg_provider_get_job(p, JOB, &st), SG_OK);
        assert_int_equal(st.job_state, states[k]);
        assert_string_equal(st.error_description, "MessageID 0x8007045B");
        sg_job_status_fini(&st);
        free(error);
        sg_provider_destroy(&p);
        fake_wbem_free(fake);
    }
    (void)fx;
}

/* Whatever GetErrorEx cannot tell leaves ErrorDescription as it was: the
 * call failing, a return value other than 0, Errors NULL or empty, errors
 * that are not CIM-XML, of another class, without a Message or MessageID,
 * or whose Message ErrorDescription already says. */
static void get_error_ex_failing_or_adding_nothing_keeps_the_error_description(void **state)
{
    fx_t *fx = *state;
    char *same = s_error(DISK_DOWN, NULL), *blank = s_error(NULL, NULL);
    const char *stats_props[1][2] = {{"ReplicationHealth", "1"}};
    char *stats = fake_wbem_stats_xml(stats_props, 1);
    const char *odd[] = {"not xml at all", stats, blank, same};
    const char *empty[1] = {NULL};
    static const struct {
        HRESULT hr;
        LONG rv;
        int errors; /* 0: NULL, 1: empty array, 2: odd */
    } cases[] = {
        {WBEM_E_ACCESS_DENIED, 0, 0}, {WBEM_E_INVALID_METHOD, 0, 0}, {S_OK, 32768, 2},
        {S_OK, 32770, 2},             {S_OK, 0, 0},                  {S_OK, 0, 1},
        {S_OK, 0, 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fake_wbem_t *fake = fake_wbem_new();
        sg_provider_t *p = sg_wmi_new_services(fake_wbem_services(fake), CALL_TIMEOUT_MS);
        fake_obj_t *job = s_ended_job(SG_JOB_EXCEPTION, DISK_DOWN);
        fake_obj_set_job_errors(job, cases[k].hr, cases[k].rv,
                                cases[k].errors == 0   ? NULL
                                : cases[k].errors == 1 ? empty
                                                       : odd,
                                cases[k].errors == 2 ? 4 : 0);
        fake_wbem_add_object(fake, JOB, job);
        sg_job_status_t st;
        assert_int_equal(sg_provider_get_job(p, JOB, &st), SG_OK);
        assert_int_equal(st.job_state, SG_JOB_EXCEPTION);
        assert_string_equal(st.error_description, DISK_DOWN);
        assert_int_equal(fake_wbem_n_calls(fake), 2); /* GetObject, GetErrorEx */
        assert_string_equal(fake_wbem_call(fake, 1), GET_ERROR_EX);
        sg_job_status_fini(&st);
        sg_provider_destroy(&p);
        fake_wbem_free(fake);
    }
    free(same);
    free(blank);
    free(stats);
    (void)fx;
}

/* A GetErrorEx that does not answer in time leaves ErrorDescription too. */
static void a_hung_get_error_ex_keeps_the_error_description(void **state)
{
    fx_t *fx = *state;
    char *error = s_error("Never seen.", NULL);
    fake_obj_t *job = s_ended_job(SG_JOB_EXCEPTION, DISK_DOWN);
    fake_obj_set_job_errors(job, S_OK, 0, (const char *const *)&error, 1);
    fake_wbem_hang(fx->fake, GET_ERROR_EX);
    sg_job_status_t st;
    s_status_of(fx, job, &st);
    assert_string_equal(st.error_description, DISK_DOWN);
    sg_job_status_fini(&st);
    free(error);
}

static void a_completed_or_running_job_does_not_call_get_error_ex(void **state)
{
    fx_t *fx = *state;
    static const LONG states[] = {SG_JOB_COMPLETED, SG_JOB_RUNNING, SG_JOB_NEW,
                                  SG_JOB_COMPLETED_WITH_WARNINGS};
    char *error = s_error("Should not be read.", NULL);
    for (size_t k = 0; k < sizeof states / sizeof states[0]; k++) {
        fake_wbem_t *fake = fake_wbem_new();
        sg_provider_t *p = sg_wmi_new_services(fake_wbem_services(fake), CALL_TIMEOUT_MS);
        fake_obj_t *job = s_ended_job(states[k], "Some text.");
        fake_obj_set_job_errors(job, S_OK, 0, (const char *const *)&error, 1);
        fake_wbem_add_object(fake, JOB, job);
        sg_job_status_t st;
        assert_int_equal(sg_provider_get_job(p, JOB, &st), SG_OK);
        assert_int_equal(st.job_state, states[k]);
        assert_string_equal(st.error_description, "Some text.");
        assert_int_equal(fake_wbem_n_calls(fake), 1);
        assert_string_equal(fake_wbem_call(fake, 0), "GetObject " JOB);
        sg_job_status_fini(&st);
        sg_provider_destroy(&p);
        fake_wbem_free(fake);
    }
    free(error);
    (void)fx;
}

/* The detail is bounded (2 KB with ErrorDescription), cut at a character
 * boundary with "...", one line (control characters as spaces), and at most
 * 16 errors are read. */
static void the_detail_is_bounded_and_one_line(void **state)
{
    fx_t *fx = *state;
    size_t n = 5000;
    char *big = malloc(n + 1);
    for (size_t k = 0; k < n; k += 2)
        memcpy(big + k, "\xc3\xa9", 2); /* é: two bytes each */
    big[n] = '\0';
    char *errors[20];
    errors[0] = s_error("Line one.\r\nLine two.", NULL);
    errors[1] = s_error(big, NULL);
    for (size_t k = 2; k < 20; k++)
        errors[k] = s_error("x", NULL);
    fake_obj_t *job = s_ended_job(SG_JOB_EXCEPTION, DISK_DOWN);
    fake_obj_set_job_errors(job, S_OK, 0, (const char *const *)errors, 20);
    sg_job_status_t st;
    s_status_of(fx, job, &st);
    const char *d = st.error_description;
    size_t len = strlen(d);
    assert_true(len < 2048);
    assert_true(len > 2000);
    assert_memory_equal(d, DISK_DOWN "; Line one.  Line two.; ",
                        strlen(DISK_DOWN "; Line one.  Line two.; "));
    assert_string_equal(d + len - 3, "...");
    /* whole characters only: the byte before "..." ends an é */
    assert_int_equal((unsigned char)d[len - 4], 0xa9);
    assert_int_equal((unsigned char)d[len - 5], 0xc3);
    sg_job_status_fini(&st);

    /* Without a long one: 16 errors read, each new one once. */
    char *few[20];
    for (size_t k = 0; k < 20; k++) {
        char msg[16];
        snprintf(msg, sizeof msg, "e%zu", k);
        few[k] = s_error(msg, NULL);
    }
    fake_obj_t *job2 = s_ended_job(SG_JOB_EXCEPTION, NULL);
    fake_obj_set_job_errors(job2, S_OK, 0, (const char *const *)few, 20);
    fake_wbem_add_object(fx->fake, NS "Msvm_ConcreteJob.InstanceID=\"j-9\"", job2);
    assert_int_equal(sg_provider_get_job(fx->p, NS "Msvm_ConcreteJob.InstanceID=\"j-9\"", &st),
                     SG_OK);
    assert_string_equal(st.error_description, "e0; e1; e2; e3; e4; e5; e6; e7; e8; e9; e10; e11; "
                                              "e12; e13; e14; e15");
    sg_job_status_fini(&st);
    for (size_t k = 0; k < 20; k++) {
        free(errors[k]);
        free(few[k]);
    }
    free(big);
}

static HRESULT s_exec_at(IWbemServices *svc, const char *path, const WCHAR *method,
                         IWbemClassObject *in, IWbemClassObject **out)
{
    BSTR b = s_b(path), m = SysAllocString(method);
    *out = NULL;
    HRESULT hr = IWbemServices_ExecMethod(svc, b, m, 0, NULL, in, out, NULL);
    SysFreeString(b);
    SysFreeString(m);
    return hr;
}

/* The fake knows GetErrorEx as a method of a job instance, without
 * in-parameters, answering Errors and ReturnValue as scripted. */
static void the_fake_knows_get_error_ex_on_a_job(void **state)
{
    fx_t *fx = *state;
    IWbemServices *svc = fake_wbem_services(fx->fake);
    char *error = s_error("Boom.", "1");
    fake_obj_t *job = s_ended_job(SG_JOB_EXCEPTION, DISK_DOWN);
    fake_obj_set_job_errors(job, S_OK, 0, (const char *const *)&error, 1);
    fake_wbem_add_object(fx->fake, JOB, job);
    IWbemClassObject *out = NULL;
    assert_hr(s_exec_at(svc, JOB, L"GetErrorEx", NULL, &out), S_OK);
    VARIANT v;
    VariantInit(&v);
    assert_hr(IWbemClassObject_Get(out, L"ReturnValue", 0, &v, NULL, NULL), S_OK);
    assert_int_equal(V_I4(&v), 0);
    VariantClear(&v);
    assert_hr(IWbemClassObject_Get(out, L"Errors", 0, &v, NULL, NULL), S_OK);
    assert_int_equal(V_VT(&v), VT_ARRAY | VT_BSTR);
    VariantClear(&v);
    IWbemClassObject_Release(out);
    /* another method of the job, the service's method on a job, GetErrorEx
     * on the service, on the job class, on a job it does not have */
    assert_hr(s_exec_at(svc, JOB, L"GetError", NULL, &out), WBEM_E_INVALID_METHOD);
    assert_hr(s_exec_at(svc, JOB, L"CommitFailover", NULL, &out), WBEM_E_INVALID_METHOD);
    assert_hr(s_exec_at(svc, SVC_PATH, L"GetErrorEx", NULL, &out), WBEM_E_INVALID_METHOD);
    assert_hr(s_exec_at(svc, "Msvm_ConcreteJob", L"GetErrorEx", NULL, &out),
              WBEM_E_INVALID_METHOD);
    assert_hr(s_exec_at(svc, NS "Msvm_ConcreteJob.InstanceID=\"nope\"", L"GetErrorEx", NULL,
                        &out),
              WBEM_E_NOT_FOUND);
    /* in-parameters it does not declare */
    IWbemClassObject *in = s_spawn(svc, L"CommitFailover");
    assert_hr(s_exec_at(svc, JOB, L"GetErrorEx", in, &out), WBEM_E_INVALID_METHOD_PARAMETERS);
    IWbemClassObject_Release(in);
    assert_null(out);
    free(error);
}

#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
#define T_SHORT(name) cmocka_unit_test_setup_teardown(name, s_setup_short_timeout, s_teardown)
#define T_FAKE(name) cmocka_unit_test_setup_teardown(name, s_setup_fake, s_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(initiate_failover_on_the_service_instance_with_no_point_means_latest),
        T(initiate_failover_passes_a_chosen_recovery_point_as_its_path),
        T(commit_failover_takes_no_recovery_point),
        T(the_service_instance_is_looked_up_once),
        T(an_error_return_value_is_the_verdict_not_a_failed_call),
        T(a_started_job_without_a_job_reference_breaks_the_protocol),
        T(a_failed_exec_method_is_a_call_that_could_not_be_made),
        T(no_service_instance_is_not_found),
        T(a_job_is_followed_by_get_object_on_its_path),
        T(an_unknown_job_is_not_found),
        T(recovery_points_are_queried_by_collection_id_with_time_and_consistency),
        T(a_collection_id_is_escaped_in_the_recovery_point_query),
        T(a_collection_path_keyed_by_instance_id_is_refused_before_any_call),
        T(each_collection_replication_state_maps_as_documented),
        T(a_collection_without_a_replication_state_is_unknown_and_a_missing_one_not_found),
        T(a_failover_job_in_flight_is_found_among_the_collections_jobs_and_followed),
        T(no_failover_job_of_the_collection_is_not_found),
        T(an_ended_failover_job_older_than_the_intent_is_ignored),
        T(the_newest_ended_failover_job_since_the_intent_is_found),
        T(a_failover_job_in_flight_wins_over_a_newer_ended_one),
        T(jobs_of_other_methods_are_not_failover_jobs),
        T(a_wmi_without_the_job_association_answers_not_found_and_a_failure_is_an_error),
        T_FAKE(the_fake_knows_each_methods_in_parameters_and_refuses_other_names),
        T_FAKE(the_fake_checks_the_keys_of_paths_and_reads_wql),
        T(a_hung_call_does_not_block_another_workers_call),
        T_SHORT(a_hung_enumeration_times_out_after_the_call_timeout),
        T_SHORT(a_hung_method_call_times_out_after_the_call_timeout),
        T_FAKE(connect_is_bounded_and_goes_to_the_configured_host),
        T_FAKE(an_unreachable_host_does_not_fail_creation_and_the_next_call_connects),
        T_FAKE(a_transport_error_makes_the_next_call_reconnect),
        T_FAKE(an_error_that_is_not_the_transport_keeps_the_connection),
        T(revert_failover_takes_the_collection_only_and_follows_its_job),
        T(commit_failover_refused_for_its_state_is_the_verdict),
        T(reverse_replication_passes_the_collection_and_no_settings),
        T(replication_is_read_from_the_collection_and_its_statistics),
        T(statistics_given_as_an_array_are_read_by_the_first),
        T(values_that_cannot_be_read_are_unknown),
        T(statistics_not_given_leave_health_and_last_unknown),
        T(an_unknown_collection_or_a_lost_connection_fails_the_read),
        T_FAKE(the_fake_knows_reverse_replication_and_statistics_parameters),
        T_FAKE(each_site_is_served_at_its_own_host),
        T_FAKE(each_site_reads_its_own_side_of_the_replication),
        T_FAKE(an_unreachable_site_fails_its_calls_and_a_later_call_reconnects),
        T_FAKE(a_sites_call_waits_at_most_the_providers_call_timeout),
        T(a_failed_jobs_status_carries_the_messages_of_its_errors),
        T(a_terminated_or_killed_job_gets_the_detail_without_an_error_description),
        T(get_error_ex_failing_or_adding_nothing_keeps_the_error_description),
        T_SHORT(a_hung_get_error_ex_keeps_the_error_description),
        T(a_completed_or_running_job_does_not_call_get_error_ex),
        T(the_detail_is_bounded_and_one_line),
        T_FAKE(the_fake_knows_get_error_ex_on_a_job),
        cmocka_unit_test(cim_datetimes_and_intervals_parse_and_reject_garbage),
    };
    return cmocka_run_group_tests_name("wmi", tests, NULL, NULL);
}
