/* The WMI provider against a fake IWbemServices: the calls it makes, the
 * parameters it passes, and how it reads what WMI answers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fake_wbem.h"

#include "err.h"
#include "provider/provider.h"
#include "provider/wmi.h"

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

static void collection_state_comes_from_its_replication_state(void **state)
{
    fx_t *fx = *state;
    fake_obj_t *c = fake_obj_new();
    fake_obj_set_int(c, "ReplicationState", 5);
    fake_wbem_add_object(fx->fake, COLL, c);
    sg_coll_state_t st = SG_COLL_UNKNOWN;
    assert_int_equal(sg_provider_get_state(fx->p, COLL, &st), SG_OK);
    assert_int_equal(st, SG_COLL_FAILED_OVER);
    c = fake_obj_new();
    fake_obj_set_int(c, "ReplicationState", 3);
    fake_wbem_add_object(fx->fake, "other", c);
    assert_int_equal(sg_provider_get_state(fx->p, "other", &st), SG_OK);
    assert_int_equal(st, SG_COLL_REPLICATING);
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
        cmocka_unit_test_setup_teardown(collection_state_comes_from_its_replication_state,
                                        s_setup, s_teardown),
        cmocka_unit_test(cim_datetimes_and_intervals_parse_and_reject_garbage),
    };
    return cmocka_run_group_tests_name("wmi", tests, NULL, NULL);
}
