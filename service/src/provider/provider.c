#include "provider/provider.h"
#include "base/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_method_names[SG_METHOD_COUNT] = {
    "InitiateFailover", "CommitFailover", "RevertFailover", "TestReplicaCollection",
    "RevertTestReplicaCollection", "ReverseReplicationRelationship"};

void sg_provider_destroy(sg_provider_t **p)
{
    if (!p || !*p)
        return;
    (*p)->ops->destroy(*p);
    *p = NULL;
}

void sg_call_result_fini(sg_call_result_t *r)
{
    free(r->job_path);
    free(r->resulting_collection);
    r->job_path = NULL;
    r->resulting_collection = NULL;
}

void sg_recovery_points_free(sg_recovery_point_t *points, size_t n)
{
    for (size_t i = 0; points && i < n; i++)
        free(points[i].path);
    free(points);
}

const sg_recovery_point_t *sg_recovery_point_newest_app(const sg_recovery_point_t *points,
                                                        size_t n)
{
    const sg_recovery_point_t *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (points[i].app_consistent && (!best || points[i].created_ms > best->created_ms))
            best = &points[i];
    }
    return best;
}

void sg_job_status_fini(sg_job_status_t *s)
{
    free(s->error_description);
    s->error_description = NULL;
}

const char *sg_method_name(sg_method_t m)
{
    return (m >= 0 && m < SG_METHOD_COUNT) ? s_method_names[m] : "unknown";
}

int sg_method_parse(const char *name, sg_method_t *out)
{
    for (int i = 0; i < SG_METHOD_COUNT; i++) {
        if (strcmp(name, s_method_names[i]) == 0) {
            *out = (sg_method_t)i;
            return SG_OK;
        }
    }
    return SG_EINVAL;
}

const char *sg_provider_err_text(int rc)
{
    switch (rc) {
    case SG_EIO: return "i/o error: the cluster could not be reached, or the connection was lost";
    case SG_ETIMEOUT: return "timed out: no answer within the WMI call_timeout";
    default: return sg_err_str(rc);
    }
}

bool sg_provider_unanswered(int rc)
{
    return rc == SG_EIO || rc == SG_ETIMEOUT;
}

const char *sg_provider_answer_text(uint32_t rv, int rc, const char *side, char *buf, size_t n)
{
    if (rc != SG_OK)
        snprintf(buf, n, "got no answer from %s (%s)", side, sg_provider_err_text(rc));
    else
        snprintf(buf, n, "returned %u (%s)", (unsigned)rv, sg_rc_text(rv));
    return buf;
}

const char *sg_rc_text(uint32_t rc)
{
    switch (rc) {
    case SG_RC_COMPLETED: return "Completed with No Error";
    case SG_RC_JOB_STARTED: return "Method Parameters Checked - Job Started";
    case SG_RC_FAILED: return "Failed";
    case SG_RC_ACCESS_DENIED: return "Access Denied";
    case SG_RC_NOT_SUPPORTED: return "Not Supported";
    case SG_RC_STATUS_UNKNOWN: return "Status is unknown";
    case SG_RC_TIMEOUT: return "Timeout";
    case SG_RC_INVALID_PARAMETER: return "Invalid parameter";
    case SG_RC_SYSTEM_IN_USE: return "System is in use";
    case SG_RC_INVALID_STATE: return "Invalid state for this operation";
    case SG_RC_INCORRECT_DATA_TYPE: return "Incorrect data type";
    case SG_RC_SYSTEM_NOT_AVAILABLE: return "System is not available";
    case SG_RC_OUT_OF_MEMORY: return "Out of memory";
    case SG_RC_FILE_NOT_FOUND: return "File not found";
    default: return "Unknown return value";
    }
}

bool sg_rc_retryable(uint32_t rc)
{
    switch (rc) {
    case SG_RC_STATUS_UNKNOWN:
    case SG_RC_TIMEOUT:
    case SG_RC_SYSTEM_IN_USE:
    case SG_RC_SYSTEM_NOT_AVAILABLE:
    case SG_RC_OUT_OF_MEMORY: return true;
    default: return false;
    }
}

bool sg_job_state_succeeded(int s)
{
    return s == SG_JOB_COMPLETED || s == SG_JOB_COMPLETED_WITH_WARNINGS;
}

bool sg_job_state_ended(int s)
{
    return sg_job_state_succeeded(s) || s == SG_JOB_TERMINATED || s == SG_JOB_KILLED ||
           s == SG_JOB_EXCEPTION;
}

const char *sg_job_state_text(int s)
{
    static const char *names[] = {"New",       "Starting", "Running", "Suspended",
                                  "Shutting Down", "Completed", "Terminated", "Killed",
                                  "Exception", "Service",  "Query Pending"};
    if (s == SG_JOB_COMPLETED_WITH_WARNINGS)
        return "Completed with warnings";
    return (s >= SG_JOB_NEW && s <= SG_JOB_QUERY_PENDING) ? names[s - SG_JOB_NEW] : "Unknown";
}

const char *sg_coll_state_text(sg_coll_state_t s)
{
    switch (s) {
    case SG_COLL_REPLICATING: return "replicating";
    case SG_COLL_FAILOVER_RUNNING: return "failover running";
    case SG_COLL_FAILED_OVER: return "failed over";
    case SG_COLL_COMMITTED: return "committed";
    case SG_COLL_TESTING: return "testing";
    default: return "unknown";
    }
}

int sg_provider_get_replication(sg_provider_t *p, const char *coll, sg_replication_t *out)
{
    *out = (sg_replication_t){.mode = SG_MODE_NONE, .state = -1};
    if (!p->ops->get_replication)
        return SG_OK;
    return p->ops->get_replication(p, coll, out);
}

sg_provider_t *sg_provider_at(sg_provider_t *p, const char *site)
{
    if (!site || !p->ops->at_site)
        return p;
    return p->ops->at_site(p, site);
}

/* Msvm_VirtualSystemCollection's ReplicationState (Microsoft's page for the
 * class in the Hyper-V cluster WMI reference). Its text for 11..16 is
 * garbled: the names below are the likely reading, not a fact, and no
 * decision of siteguard rests on them. */
const char *sg_replication_state_text(int state)
{
    static const char *const names[] = {
        "Disabled", "Ready for replication", "Waiting to complete initial replication",
        "Replicating", "Failover initiated", "Recovered", "Committed", "Suspended", "Critical",
        "Waiting to start resynchronization", "Resynchronizing",
        "Planned failover initiated (inferred)", "Repurpose initiated (inferred)",
        "Test failover initiated (inferred)", "Partially enabled (inferred)",
        "Partially disabled (inferred)", "Partially recovered (inferred)"};
    if (state < 0 || state >= (int)(sizeof names / sizeof names[0]))
        return "unknown";
    return names[state];
}
