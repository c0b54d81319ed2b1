/* metrics: the Prometheus endpoint (GET /metrics, text exposition 0.0.4).
 *
 * The loop thread publishes a snapshot of its figures about once a second
 * (sg_metrics_publish: plain values and arrays, copied; cheap next to the
 * text, which grows with the collections); libmicrohttpd's thread renders
 * the text from the latest snapshot when a scrape comes (sg_metrics_render).
 * So the loop never waits on HTTP nor spends its turn formatting, and a
 * scrape never touches the loop's state. A scrape before the first publish
 * gets 503.
 *
 * Series: siteguard_events_received_total, _accepted_total,
 * siteguard_events_dropped_total{reason}, siteguard_site_state{site,state}
 * (1 for the current state, 0 for the others), siteguard_collection_state
 * {collection,verdict}, siteguard_site_flapping{site} (1 while the site is
 * flapping: its suspect/recovered notices held, flap.h), siteguard_decisions_total{kind},
 * siteguard_blocked_total{guard}, siteguard_runs_total{result},
 * siteguard_run_duration_seconds (histogram: decision to end of run),
 * siteguard_event_age_seconds (histogram: an event's wait before the engine
 * took it, above its observer's least recent delay; sg_evage) and
 * siteguard_event_age_max_seconds, siteguard_loop_turn_seconds (histogram:
 * the loop's work per turn, its time not spent waiting in poll) and
 * siteguard_loop_stall_max_seconds (the longest turn since start),
 * siteguard_decision_to_call_seconds (histogram: failover decided to
 * InitiateFailover called, the intent's commit included),
 * siteguard_event_to_call_seconds (histogram: for the policy's failovers, the
 * event that decided one taken from the bus to InitiateFailover called, the
 * intent's commit included: from the first event of the loop's turn that
 * decided it, else from the tick that did; at microsecond resolution) and
 * siteguard_event_to_call_max_seconds (the longest since start),
 * siteguard_notify_outcomes_total{state}, siteguard_notify_pending (all
 * sinks) and siteguard_outbox_depth{sink} (notices pending in the outbox, as
 * each sink's worker last counted them there: sg_notify_stats_t.pending),
 * siteguard_sink_outcomes_total{sink,state}, siteguard_leader{mode},
 * siteguard_is_leader, siteguard_leader_epoch, siteguard_config_reloads_total{result},
 * siteguard_control_requests_total, siteguard_control_keys_refused_total,
 * siteguard_bus_handshakes_refused_total, siteguard_journal_bytes (the journal's size, as
 * retention.h measures it), siteguard_drill_running, and per configured drill
 * (sg_drill_status_t): siteguard_drill_last_result{drill,result} (1 for the
 * result of its latest ended run, 0 for the other results; none before a
 * run ended), siteguard_drill_last_end_timestamp_seconds{drill},
 * siteguard_drill_last_success_timestamp_seconds{drill} (its latest passed
 * run's end; none before one) and siteguard_drill_due_timestamp_seconds
 * {drill} (when it should have passed again by its schedule; none without
 * one).
 *
 * The listener serves the status page too (statuspage.h: /, /api/v1/status,
 * /drills/report) once one is attached (sg_metrics_set_page). It is plain
 * HTTP on the loopback address by default; beyond it the config requires
 * TLS and a bearer token (metrics_conf.h). With TLS (metrics.tls) it speaks
 * only HTTPS (TLS 1.2 or 1.3), and refuses to start when this libmicrohttpd
 * was built without TLS (MHD_FEATURE_TLS) rather than serve plain text.
 * With a token, every path (/metrics included: Prometheus sends it with
 * `authorization: {credentials_file: ...}`) answers 401 unless the request
 * carries `Authorization: Bearer TOKEN`, or Basic credentials whose
 * password is the token (any user name: a browser's own prompt), compared
 * in constant time. On a loopback listener without a token the page's paths
 * answer only requests whose Host names the loopback address (127.x,
 * localhost, [::1]), so a web page elsewhere cannot read them through DNS
 * rebinding. Every answer carries X-Content-Type-Options: nosniff,
 * Referrer-Policy: no-referrer and (but /metrics) Cache-Control: no-store.
 *
 * Thread rules: new, publish, set_page and destroy on one thread (the
 * loop); libmicrohttpd's two threads read the published snapshot under a
 * mutex (a page that waits for a fresh document holds up one of them). */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include "config/config.h"
#include "control/statuspage.h"
#include "drill/drill.h"
#include "ingress/ingest.h"
#include "notify/notify.h"
#include "policy/engine.h"

#include <stdint.h>

/* A histogram in seconds: per bucket counts against fixed upper bounds
 * (+Inf implied), their count and sum, and the largest value observed. */
#define SG_METRICS_MAX_BUCKETS 16

typedef enum {
    SG_HIST_RUN = 0, /* failover runs: 0.5 s .. 30 min */
    SG_HIST_LATENCY  /* the loop's own delays: 0.5 ms .. 5 s */
} sg_metrics_hist_kind_t;

typedef struct {
    sg_metrics_hist_kind_t kind;
    uint64_t counts[SG_METRICS_MAX_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
    uint64_t count;
    double sum;
    double max;
} sg_metrics_hist_t;

/* An empty histogram of `kind`'s buckets. */
void sg_metrics_hist_init(sg_metrics_hist_t *h, sg_metrics_hist_kind_t kind);
void sg_metrics_hist_observe(sg_metrics_hist_t *h, double seconds);

#define SG_METRICS_N_DECISION_KINDS SG_DECISION_KIND_COUNT

/* What the loop knows; every pointer borrowed for the call (cfg for as
 * long as the metrics live: configs outlive them). */
typedef struct {
    const sg_config_t *cfg;
    const sg_site_state_t *site_state;  /* per site */
    const bool *site_flapping;          /* per site: flapping (flap.h); NULL: none */
    const sg_coll_verdict_t *verdict;   /* per collection */
    const int64_t *skew_ms;             /* per observer: its clock offset, when known */
    const bool *skew_known;             /* per observer */
    const sg_ingest_stats_t *ingest;
    const sg_notify_stats_t *notify;      /* all sinks */
    const sg_notify_stats_t *sink_stats;  /* per sink, in cfg->sinks order; NULL: none */
    const uint64_t *decisions; /* by sg_decision_kind_t: SG_METRICS_N_DECISION_KINDS */
    const uint64_t *blocked;   /* by sg_guard_t: SG_GUARD_COUNT */
    uint64_t runs_ok, runs_failed, runs_cancelled;
    const sg_metrics_hist_t *run_seconds;      /* decision to end of run */
    const sg_metrics_hist_t *event_age;        /* events: sent to taken by the engine */
    const sg_metrics_hist_t *loop_turn;        /* the loop's work per turn */
    const sg_metrics_hist_t *decision_to_call; /* failover decided to InitiateFailover called */
    const sg_metrics_hist_t *event_to_call;    /* the deciding event taken to the call */
    uint64_t reloads_ok, reloads_refused;
    uint64_t control_requests;
    uint64_t control_keys_refused; /* CURVE client keys refused at the handshake */
    uint64_t bus_handshakes_refused; /* CURVE publisher keys refused at the bus handshake */
    const char *leader_mode; /* "none" or "etcd": a string literal */
    bool is_leader;
    uint64_t leader_epoch; /* 0: not leading */
    int64_t journal_bytes; /* sg_retention_bytes; 0: not measured, not shown */
    bool drill_running;
    const sg_drill_status_t *drills; /* per configured drill; their names for as long as the
                                        metrics live */
    size_t n_drills;
} sg_metrics_snapshot_t;

/* The exposition text (caller frees); NULL when out of memory. */
char *sg_metrics_render(const sg_metrics_snapshot_t *s);

typedef struct sg_metrics sg_metrics_t;

/* Listens on "HOST:PORT" (numeric or resolvable host; [v6]:port) with an
 * HTTP thread, with the TLS certificate and key and the token of `mc`
 * (NULL: plain HTTP, no token; mc->listen is not read: `listen` is the
 * address to use). NULL (logged) when it cannot, or when `mc` asks for TLS
 * and this libmicrohttpd has none. */
sg_metrics_t *sg_metrics_new(const char *listen, const sg_metrics_cfg_t *mc);
/* Serves the status page's paths besides /metrics (borrowed; it must
 * outlive the metrics; NULL: none). */
void sg_metrics_set_page(sg_metrics_t *m, sg_statuspage_t *page);
/* Whether the value of an Authorization header carries `token`: "Bearer
 * TOKEN", or "Basic" with base64 "USER:TOKEN" (any user); the schemes'
 * names in any case. The token is compared in constant time (its length
 * aside). */
bool sg_metrics_authorized(const char *authorization, const char *token);
/* Replaces the published snapshot with a copy of `s` (a scrape in
 * progress finishes with the one it took). Returns 0 or SG_ENOMEM (the
 * last snapshot stays). */
int sg_metrics_publish(sg_metrics_t *m, const sg_metrics_snapshot_t *s);
/* Stops the HTTP thread, frees, sets *m to NULL. */
void sg_metrics_destroy(sg_metrics_t **m);

#endif
