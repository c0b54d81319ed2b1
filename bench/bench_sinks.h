/* bench_sinks: the sinks the benchmarks attach, as the service attaches
 * them: notify (notify/notify.h) delivering a journal's outcome log to the
 * jsonl plugin (a file) and the webhook plugin, which posts to an HTTP/1.1
 * receiver on 127.0.0.1 in the benchmark's process (it answers 200 at once
 * and keeps the connection). The plugins are those built in
 * SG_BENCH_PLUGIN_DIR (build/plugins). Shared by bench_outbox and
 * bench_fanout.
 *
 * Ownership: the receiver and the sinks' config are the caller's storage;
 * neither allocates anything the caller frees (the receiver's threads and
 * socket end with sg_bench_receiver_stop). The notify returned by
 * sg_bench_sinks_open is the caller's (sg_notify_destroy); it borrows the
 * sinks' config, which must outlive it.
 *
 * Thread rules: the receiver runs on its own threads (one accepting, one
 * per connection); everything else is called from the benchmark's thread,
 * the one that owns the notify. */
#ifndef SG_BENCH_SINKS_H
#define SG_BENCH_SINKS_H

#include "config/config.h"
#include "notify/notify.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

enum { SG_BENCH_JSONL = 0, SG_BENCH_WEBHOOK = 1, SG_BENCH_N_SINKS = 2 };

/* The sinks' names, which are also their plugins' ("jsonl", "webhook"). */
extern const char *const sg_bench_sink_names[SG_BENCH_N_SINKS];

/* --- an HTTP receiver on 127.0.0.1 --- */

typedef struct {
    int fd;
    int port;
    pthread_t thread;
} sg_bench_receiver_t;

/* Listens on a port the system picks (rx->port) and accepts on a thread of
 * its own. 0 or SG_EIO. */
int sg_bench_receiver_start(sg_bench_receiver_t *rx);
/* Stops accepting, joins the accepting thread and closes the socket; a
 * connection's thread ends when its client closes. */
void sg_bench_receiver_stop(sg_bench_receiver_t *rx);

/* --- the sinks --- */

typedef struct {
    sg_config_t cfg; /* the sinks alone: no sites, no collections */
    sg_sink_cfg_t sinks[SG_BENCH_N_SINKS];
    sg_kv_t opts[SG_BENCH_N_SINKS][2];
    char jsonl_path[512];
    char url[64];
} sg_bench_sinks_t;

/* The jsonl sink writing to <dir>/<name>.jsonl and, with a receiver's
 * `port` (0: none), the webhook sink posting to it; grouping off, the
 * default routes (every kind) and retries. */
void sg_bench_sinks_init(sg_bench_sinks_t *k, const char *dir, const char *name, int port);

/* The sinks configured (1 or 2). */
size_t sg_bench_sinks_count(const sg_bench_sinks_t *k);

/* Opens notify on the journal at `journal` (sg_notify_open: the plugins
 * loaded, a worker thread per sink started); its errors are printed.
 * NULL on failure. */
sg_notify_t *sg_bench_sinks_open(const sg_bench_sinks_t *k, const char *journal);

/* Polls every millisecond until each of the first `n_sinks` sinks has
 * `want` deliveries recorded in the outbox, or `wait_ms` passed: done_ms[i]
 * is when sink i got there (sg_bench_now_ms; -1: never). */
void sg_bench_wait_delivered(sg_notify_t *n, size_t n_sinks, uint64_t want, int64_t wait_ms,
                             double *done_ms);

/* --- small things --- */

/* The monotonic time of the system clock, in milliseconds with fractions. */
double sg_bench_now_ms(void);

/* Removes `path` and the files named by it with each of `suffixes`
 * appended (NULL-ended). */
void sg_bench_remove(const char *path, const char *const *suffixes);
/* Removes a journal and its -wal and -shm files. */
void sg_bench_remove_journal(const char *path);

#endif
