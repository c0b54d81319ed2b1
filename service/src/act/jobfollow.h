/* jobfollow: follows a CIM_ConcreteJob to its end with adaptive polling.
 *
 * Shared by the executor (failover runs) and the drill runner (test replica
 * and cleanup jobs). Polling starts at provider.poll_initial and adapts:
 * once the job reports progress, the next poll is aimed at its estimated
 * end, clamped to [poll_initial, poll_max]; without progress the interval
 * doubles up to poll_max. When the job is still running after
 * provider.job_timeout, the `timed_out` callback decides: follow on at
 * poll_max (true) or give up (false).
 *
 * Thread rules: runs on the calling (worker) thread; the callbacks are
 * called on it too. Borrows everything in sg_jobfollow_t. */
#ifndef SG_JOBFOLLOW_H
#define SG_JOBFOLLOW_H

#include "base/clock.h"
#include "config/config.h"
#include "provider/provider.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    sg_provider_t *provider;
    const sg_provider_cfg_t *pc;
    const sg_clock_t *clock;
    const char *log_module; /* module tag for warnings about unreadable jobs */
    const char *what;       /* what the job is for, in those warnings (a collection name) */
    /* Waits `ms` on the clock; false when following must stop now. */
    bool (*wait)(void *user, int64_t ms);
    /* PercentComplete changed (may be NULL). */
    void (*progress)(void *user, const sg_job_status_t *js);
    /* job_timeout passed, `last_percent` the last progress seen (-1: none);
     * true to follow on at poll_max, false to give up (NULL: give up). */
    bool (*timed_out)(void *user, int last_percent);
    void *user;
} sg_jobfollow_t;

/* Follows `job_path` until it ends. Returns 0 with *end filled (caller frees
 * with sg_job_status_fini), SG_ESTOPPED when `wait` said stop, or
 * SG_ETIMEOUT when `timed_out` gave up. *end is zeroed on every return. */
int sg_jobfollow(const sg_jobfollow_t *f, const char *job_path, sg_job_status_t *end);

#endif
