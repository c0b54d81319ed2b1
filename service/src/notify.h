/* notify: delivers outcomes to the configured sinks through plugins.
 *
 * For each sink it loads the plugin library, checks its ABI and the sink's
 * options against the plugin's config map (errors in config format, with the
 * option's file:line:column), and runs one worker thread with its own queue.
 * sg_notify_post copies an outcome onto every sink's queue and returns at
 * once. A worker calls the plugin's deliver; RETRY is retried with
 * exponential backoff (on the injected clock) up to a limit, then the outcome
 * is dead-lettered and counted, as is FATAL. (The durable outbox comes with
 * the journal.)
 *
 * Thread rules: post, stats and destroy are called from the loop thread only. */
#ifndef SG_NOTIFY_H
#define SG_NOTIFY_H

#include "clock.h"
#include "config.h"
#include "siteguard/plugin.h"

#include <stdint.h>

typedef struct sg_notify sg_notify_t;

typedef struct {
    uint64_t queued;
    uint64_t delivered;
    uint64_t retries;
    uint64_t dead;
} sg_notify_stats_t;

/* Loads and checks every sink's plugin and options without starting them;
 * for `siteguard check-config`. Appends errors; returns 0 or SG_ECONFIG. */
int sg_notify_check(const sg_config_t *cfg, sg_config_errors_t *errs);

/* Loads, checks and starts every sink. Borrows cfg and clock. Returns NULL
 * with errors appended when a plugin cannot be loaded, is of another ABI,
 * rejects its options or fails to init. */
sg_notify_t *sg_notify_new(const sg_config_t *cfg, const sg_clock_t *clock,
                           sg_config_errors_t *errs);

/* Queues a copy of `o` (finished) for every sink. Returns 0 or SG_ENOMEM. */
int sg_notify_post(sg_notify_t *n, const sg_outcome_t *o);

/* Totals over all sinks (a snapshot). */
void sg_notify_stats(sg_notify_t *n, sg_notify_stats_t *out);

/* Waits until every queue is empty or `timeout_ms` passed on the real
 * clock; returns 0 or SG_ETIMEOUT. */
int sg_notify_drain(sg_notify_t *n, int64_t timeout_ms);

/* Drains for up to 5 s, stops the workers, closes the plugins, frees. */
void sg_notify_destroy(sg_notify_t **n);

#endif
