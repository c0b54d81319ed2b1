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
 * A job can be gone: Hyper-V deletes an ended job TimeBeforeRemoval after
 * its end (5 minutes by default: Msvm_ConcreteJob in Microsoft's Hyper-V
 * cluster WMI reference, clushyperv/msvm-concretejob), so a follower that
 * reads it late (after a restart, or after a long wait) finds no job. A job
 * not found on SG_JOBFOLLOW_GONE_READS reads in a row is gone; the caller
 * then judges by the collection's state, which sg_jobfollow_state follows
 * while it stays in one state (a failover still running) under the same
 * job_timeout rule.
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

/* Reads in a row that answer SG_ENOTFOUND before a job counts as gone. One
 * is not proof: that a read can miss a job that exists (made through
 * another node of the cluster, or just after the call) is a guess, not from
 * Microsoft's docs, and the safe side is to read again. Three reads, the
 * poll interval apart, are. A read that answers anything else (the job, or
 * another error) starts the count again. */
#define SG_JOBFOLLOW_GONE_READS 3

/* Follows `job_path` until it ends. Returns 0 with *end filled (caller frees
 * with sg_job_status_fini), SG_ENOTFOUND when the job is gone (see above),
 * SG_ESTOPPED when `wait` said stop, or SG_ETIMEOUT when `timed_out` gave up.
 * Other read errors are warned about (rate limited) and read again. *end is
 * filled on 0 and zeroed on every other return. */
int sg_jobfollow(const sg_jobfollow_t *f, const char *job_path, sg_job_status_t *end);

/* Follows the state of the collection at `collection_path` while it is
 * `while_in`: waits poll_max (wait first: the caller has just read it),
 * reads, and again; past job_timeout (from this call) `timed_out` decides
 * as for a job, with last_percent -1. Returns 0 with *end the first other
 * state read, SG_ESTOPPED or SG_ETIMEOUT. Read errors are warned about
 * (rate limited) and read again. `progress` is not called. */
int sg_jobfollow_state(const sg_jobfollow_t *f, const char *collection_path,
                       sg_coll_state_t while_in, sg_coll_state_t *end);

#endif
