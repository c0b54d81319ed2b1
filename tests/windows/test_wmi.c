/* The WMI provider against a fake IWbemServices: the calls it makes, the
 * parameters it passes, and how it reads what WMI answers. */
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

#define SVC_PATH "\\\\HV1\\root\\HyperVCluster\\v2:Msvm_CollectionReplicationService.Name=\"crs\""
#define COLL "\\\\HV1\\root\\HyperVCluster\\v2:Msvm_VirtualSystemCollection.CollectionID=\"c-1\""
#define RP_OLD "Msvm_CollectionRecoveryPoint.InstanceID=\"rp-old\""
#define RP_NEW "Msvm_CollectionRecoveryPoint.InstanceID=\"rp-new\""
#define JOB "\\\\HV1\\root\\HyperVCluster\\v2:Msvm_ConcreteJob.InstanceID=\"j-1\""

typedef struct {
    fake_wbem_t *fake;
    sg_provider_t *p;
} fx_t;

static int s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->fake = fake_wbem_new();
    fake_obj_t *svc = fake_obj_new();
    fake_obj_set_str(svc, "__PATH", SVC_PATH);
    fake_wbem_add_query(fx->fake, "FROM Msvm_CollectionReplicationService", &svc, 1);
    fake_wbem_add_object(fx->fake, "Msvm_CollectionReplicationService", fake_obj_new());
    fx->p = sg_wmi_new_services(fake_wbem_services(fx->fake));
    assert_non_null(fx->p);
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
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
                        "ExecMethod " SVC_PATH " CommitFailover Collection=" COLL
                        " CollectionRecoveryPoint=NULL");
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
    sg_provider_t *p = sg_wmi_new_services(fake_wbem_services(bare));
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

static void recovery_points_are_the_collections_associators_with_time_and_consistency(
    void **state)
{
    fx_t *fx = *state;
    fake_obj_t *pts[3] = {fake_obj_new(), fake_obj_new(), fake_obj_new()};
    fake_obj_set_str(pts[0], "__PATH", RP_OLD);
    fake_obj_set_str(pts[0], "CreationTime", "20261125170000.000000+000");
    fake_obj_set_int(pts[0], "ConsistencyLevel", 1);
    fake_obj_set_str(pts[1], "__PATH", RP_NEW);
    fake_obj_set_str(pts[1], "CreationTime", "20261125180000.250000+060");
    fake_obj_set_int(pts[1], "ConsistencyLevel", 1);
    fake_obj_set_str(pts[2], "__PATH", "Msvm_CollectionRecoveryPoint.InstanceID=\"crash\"");
    fake_obj_set_str(pts[2], "CreationTime", "20261125190000.000000+000");
    fake_obj_set_int(pts[2], "ConsistencyLevel", 2);
    fake_wbem_add_query(fx->fake, "ASSOCIATORS OF {" COLL "}", pts, 3);
    sg_recovery_point_t *rp = NULL;
    size_t n = 0;
    assert_int_equal(sg_provider_list_recovery_points(fx->p, COLL, &rp, &n), SG_OK);
    assert_int_equal(n, 3);
    int q = s_find(fx, "ExecQuery ASSOCIATORS OF");
    assert_true(q >= 0);
    assert_non_null(strstr(fake_wbem_call(fx->fake, (size_t)q),
                           "ResultClass = Msvm_CollectionRecoveryPoint"));
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
#define JOB_2 "\\\\HV1\\root\\HyperVCluster\\v2:Msvm_ConcreteJob.InstanceID=\"j-2\""
#define JOB_3 "\\\\HV1\\root\\HyperVCluster\\v2:Msvm_ConcreteJob.InstanceID=\"j-3\""
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
    fake_wbem_fail_query(fx->fake, "ASSOCIATORS OF {other}", WBEM_E_FAILED);
    assert_int_equal(sg_provider_find_failover_job(fx->p, "other", INTENT_MS, &path), SG_EIO);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            initiate_failover_on_the_service_instance_with_no_point_means_latest, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            initiate_failover_passes_a_chosen_recovery_point_as_its_path, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(commit_failover_takes_no_recovery_point, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(the_service_instance_is_looked_up_once, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(an_error_return_value_is_the_verdict_not_a_failed_call,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            a_started_job_without_a_job_reference_breaks_the_protocol, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(a_failed_exec_method_is_a_call_that_could_not_be_made,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(no_service_instance_is_not_found, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(a_job_is_followed_by_get_object_on_its_path, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(an_unknown_job_is_not_found, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            recovery_points_are_the_collections_associators_with_time_and_consistency, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(each_collection_replication_state_maps_as_documented,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            a_collection_without_a_replication_state_is_unknown_and_a_missing_one_not_found,
            s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            a_failover_job_in_flight_is_found_among_the_collections_jobs_and_followed, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(no_failover_job_of_the_collection_is_not_found, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(an_ended_failover_job_older_than_the_intent_is_ignored,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(the_newest_ended_failover_job_since_the_intent_is_found,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(a_failover_job_in_flight_wins_over_a_newer_ended_one,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(jobs_of_other_methods_are_not_failover_jobs, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(
            a_wmi_without_the_job_association_answers_not_found_and_a_failure_is_an_error,
            s_setup, s_teardown),
        cmocka_unit_test(cim_datetimes_and_intervals_parse_and_reject_garbage),
    };
    return cmocka_run_group_tests_name("wmi", tests, NULL, NULL);
}
