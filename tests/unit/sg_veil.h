/* A provider that forwards every call to another (the simulator, in the
 * tests) and, as a test asks, hides what Hyper-V may not show: a job that
 * has ended answers not found at once (Hyper-V removes an ended job
 * TimeBeforeRemoval after its end; this is a removal of 0, so that a follower
 * never sees the end), find_failover_job finds nothing (a failover
 * started by another instance, or a job the lookup cannot see), and a
 * call's answer is lost after the call was made. Which calls
 * land where stays deterministic on a fake clock, unlike a short real
 * removal time that a poll may or may not straddle.
 *
 * Portable like sg_testutil.h; static inline: a test program includes it
 * once. The flags are set before the veil is handed to threads and are only
 * read afterwards (answers_lost is counted down by the one thread that
 * calls). Borrows `inner`, which must outlive the veil. */
#ifndef SG_VEIL_H
#define SG_VEIL_H

#include "base/err.h"
#include "provider/provider.h"

#include <stdbool.h>
#include <string.h>

typedef struct {
    sg_provider_t base; /* first: the handle is cast back */
    sg_provider_t *inner;
    bool jobs_gone_at_end; /* get_job: an ended job answers SG_ENOTFOUND */
    bool no_failover_job;  /* find_failover_job: SG_ENOTFOUND */
    bool testing_unseen;   /* get_state: TESTING reads as REPLICATING (a state value for
                              the test copy that siteguard does not read as one) */
    int answers_lost;      /* call: the next this many calls of lose_method are made, then
                              answer SG_EIO (the connection lost after the call) */
    sg_method_t lose_method;
} sg_veil_t;

static inline sg_provider_t *sg_veil_inner(sg_provider_t *p) { return ((sg_veil_t *)p)->inner; }

static inline int sg_veil_call(sg_provider_t *p, sg_method_t m, const char *coll, const char *rp,
                               sg_call_result_t *r)
{
    sg_veil_t *v = (sg_veil_t *)p;
    int rc = sg_provider_call(sg_veil_inner(p), m, coll, rp, r);
    if (rc == SG_OK && v->answers_lost > 0 && m == v->lose_method) {
        v->answers_lost--; /* one caller thread at a time in these tests */
        sg_call_result_fini(r);
        r->return_value = SG_RC_FAILED;
        return SG_EIO;
    }
    return rc;
}

static inline int sg_veil_get_job(sg_provider_t *p, const char *job, sg_job_status_t *out)
{
    int rc = sg_provider_get_job(sg_veil_inner(p), job, out);
    if (rc == SG_OK && ((sg_veil_t *)p)->jobs_gone_at_end && sg_job_state_ended(out->job_state)) {
        sg_job_status_fini(out);
        memset(out, 0, sizeof *out);
        rc = SG_ENOTFOUND;
    }
    return rc;
}

static inline int sg_veil_get_state(sg_provider_t *p, const char *coll, sg_coll_state_t *out)
{
    int rc = sg_provider_get_state(sg_veil_inner(p), coll, out);
    if (rc == SG_OK && ((sg_veil_t *)p)->testing_unseen && *out == SG_COLL_TESTING)
        *out = SG_COLL_REPLICATING;
    return rc;
}

static inline int sg_veil_list_points(sg_provider_t *p, const char *coll,
                                      sg_recovery_point_t **out, size_t *n)
{
    return sg_provider_list_recovery_points(sg_veil_inner(p), coll, out, n);
}

static inline int sg_veil_find_failover_job(sg_provider_t *p, const char *coll, int64_t since_ms,
                                            char **job_path)
{
    if (((sg_veil_t *)p)->no_failover_job) {
        *job_path = NULL;
        return SG_ENOTFOUND;
    }
    return sg_provider_find_failover_job(sg_veil_inner(p), coll, since_ms, job_path);
}

static inline void sg_veil_destroy_op(sg_provider_t *p) { (void)p; /* the test owns it */ }

static const sg_provider_ops_t sg_veil_ops = {
    .name = "veil",
    .call = sg_veil_call,
    .get_job = sg_veil_get_job,
    .get_state = sg_veil_get_state,
    .list_recovery_points = sg_veil_list_points,
    .find_failover_job = sg_veil_find_failover_job,
    .destroy = sg_veil_destroy_op,
};

/* Sets *v up over `inner`, hiding nothing yet; returns its handle. */
static inline sg_provider_t *sg_veil_init(sg_veil_t *v, sg_provider_t *inner)
{
    *v = (sg_veil_t){.base = {.ops = &sg_veil_ops}, .inner = inner};
    return &v->base;
}

#endif
