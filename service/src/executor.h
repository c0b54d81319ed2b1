/* executor: runs failovers on worker threads and reports every step.
 *
 * The loop thread submits a run (run id + collection); an idle worker calls
 * InitiateFailover (recovery point NULL = latest) through the provider,
 * retries the return values that may pass later (with backoff, up to
 * provider.max_attempts), treats "Invalid state" as done when the collection
 * is already failed over, follows the returned job until it ends or
 * provider.job_timeout passes, and reports each step as an outcome.
 *
 * Job polling starts at poll_initial and adapts: once the job reports
 * progress, the next poll is aimed at the job's estimated end, clamped to
 * [poll_initial, poll_max]; without progress the interval doubles up to
 * poll_max.
 *
 * Plan order: runs are submitted in plan order (the engine decides in that
 * order, dependencies first); a run starts only when no run of an earlier
 * plan group of the same site, and no run of one of its dependencies, is
 * queued or running. A run whose dependency's run failed ends as failed
 * without a call.
 *
 * Threads talk only through ZeroMQ inproc sockets: each worker has its own
 * job socket, and all send results to one PULL socket that the loop thread
 * polls (sg_executor_socket) and reads (sg_executor_recv). Runs wait in a
 * FIFO until a worker is idle, so a long job never holds up a queued run
 * while another worker is free.
 *
 * Thread rules: every function is called from the loop thread only. */
#ifndef SG_EXECUTOR_H
#define SG_EXECUTOR_H

#include "clock.h"
#include "config.h"
#include "provider/provider.h"
#include "siteguard/plugin.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sg_executor sg_executor_t;

/* One result from a worker. */
typedef struct {
    sg_outcome_t *outcome; /* owned by the receiver: sg_outcome_free */
    int collection;
    uint64_t run_id;
    bool ended;       /* the run is over (outcome is its last) */
    bool failed_over; /* with ended: the collection is failed over */
} sg_exec_result_t;

/* Starts cfg->provider.workers workers. Borrows every argument; `zctx` is a
 * ZeroMQ context, `provider` must be thread safe. NULL on failure. */
sg_executor_t *sg_executor_new(void *zctx, const sg_config_t *cfg, sg_provider_t *provider,
                               const sg_clock_t *clock);

/* Queues a failover run of `collection`. Returns 0, SG_EINVAL, SG_ESTATE (a
 * run of that collection is queued or running) or SG_ENOMEM. */
int sg_executor_submit(sg_executor_t *x, uint64_t run_id, int collection);

/* The socket that becomes readable when results wait (for zmq_poll). */
void *sg_executor_socket(sg_executor_t *x);

/* Takes one result, waiting up to `timeout_ms` (0: do not wait, -1: wait
 * forever). Returns 1 with *out filled, 0 when none came, or an error. */
int sg_executor_recv(sg_executor_t *x, sg_exec_result_t *out, int timeout_ms);

/* Runs queued or in progress. */
int sg_executor_active(const sg_executor_t *x);

/* Stops the workers (a run in progress is abandoned where it stands: its job
 * goes on in Hyper-V), joins them and frees. Sets *x to NULL. */
void sg_executor_destroy(sg_executor_t **x);

#endif
