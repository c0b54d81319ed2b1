/* metrics: the Prometheus endpoint (GET /metrics, text exposition 0.0.4).
 *
 * libmicrohttpd serves from its own thread a text that the loop thread
 * renders (sg_metrics_render, from its own counters and the engine) and
 * publishes (sg_metrics_publish) about once a second: the loop never waits
 * on HTTP, and a scrape never touches the loop's state. A scrape before the
 * first publish gets 503.
 *
 * Series: siteguard_events_received_total, _accepted_total,
 * siteguard_events_dropped_total{reason}, siteguard_site_state{site,state}
 * (1 for the current state, 0 for the others), siteguard_collection_state
 * {collection,verdict}, siteguard_decisions_total{kind},
 * siteguard_blocked_total{guard}, siteguard_runs_total{result},
 * siteguard_run_duration_seconds (histogram: decision to end of run),
 * siteguard_notify_outcomes_total{state}, siteguard_notify_pending (all
 * sinks), siteguard_leader{mode}, siteguard_is_leader, siteguard_leader_epoch,
 * siteguard_config_reloads_total{result}, siteguard_control_requests_total,
 * siteguard_control_keys_refused_total, siteguard_bus_handshakes_refused_total.
 *
 * Thread rules: new, publish and destroy on one thread (the loop); the HTTP
 * thread reads the published text under a mutex. */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include "config/config.h"
#include "ingress/ingest.h"
#include "notify/notify.h"
#include "policy/engine.h"

#include <stdint.h>

/* Run durations: upper bounds of the buckets, in seconds (+Inf implied). */
#define SG_METRICS_N_BUCKETS 11
extern const double sg_metrics_buckets[SG_METRICS_N_BUCKETS];

typedef struct {
    uint64_t counts[SG_METRICS_N_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
    uint64_t count;
    double sum;
} sg_metrics_hist_t;

void sg_metrics_hist_observe(sg_metrics_hist_t *h, double seconds);

#define SG_METRICS_N_DECISION_KINDS SG_DECISION_KIND_COUNT

/* What the loop knows; every pointer borrowed for the call. */
typedef struct {
    const sg_config_t *cfg;
    const sg_engine_t *engine;
    const sg_ingest_stats_t *ingest;
    const sg_notify_stats_t *notify;      /* all sinks */
    const sg_notify_stats_t *sink_stats;  /* per sink, in cfg->sinks order; NULL: none */
    const uint64_t *decisions; /* by sg_decision_kind_t: SG_METRICS_N_DECISION_KINDS */
    const uint64_t *blocked;   /* by sg_guard_t: SG_GUARD_COUNT */
    uint64_t runs_ok, runs_failed, runs_cancelled;
    const sg_metrics_hist_t *run_seconds;
    uint64_t reloads_ok, reloads_refused;
    uint64_t control_requests;
    uint64_t control_keys_refused; /* CURVE client keys refused at the handshake */
    uint64_t bus_handshakes_refused; /* CURVE publisher keys refused at the bus handshake */
    const char *leader_mode; /* "none" or "etcd" */
    bool is_leader;
    uint64_t leader_epoch; /* 0: not leading */
} sg_metrics_snapshot_t;

/* The exposition text (caller frees); NULL when out of memory. */
char *sg_metrics_render(const sg_metrics_snapshot_t *s);

typedef struct sg_metrics sg_metrics_t;

/* Listens on "HOST:PORT" (numeric or resolvable host; [v6]:port) with an
 * HTTP thread. NULL (logged) when it cannot. */
sg_metrics_t *sg_metrics_new(const char *listen);
/* Replaces the published text; takes ownership of `text`. */
void sg_metrics_publish(sg_metrics_t *m, char *text);
/* Stops the HTTP thread, frees, sets *m to NULL. */
void sg_metrics_destroy(sg_metrics_t **m);

#endif
