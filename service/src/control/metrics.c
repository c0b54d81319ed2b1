/* metrics: exposition text built by the loop, served by libmicrohttpd. */
#include "control/metrics.h"
#include "base/err.h"
#include "base/log.h"

#include <microhttpd.h>
#include <pthread.h>
#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <netdb.h>
#include <sys/socket.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MOD "metrics"
#define S_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static const double s_run_bounds[] = {0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800};
static const double s_latency_bounds[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                          0.1,    0.2,   0.5,   1,     2,    5};

static const double *s_bounds(sg_metrics_hist_kind_t kind, size_t *n)
{
    if (kind == SG_HIST_LATENCY) {
        *n = sizeof s_latency_bounds / sizeof *s_latency_bounds;
        return s_latency_bounds;
    }
    *n = sizeof s_run_bounds / sizeof *s_run_bounds;
    return s_run_bounds;
}

void sg_metrics_hist_init(sg_metrics_hist_t *h, sg_metrics_hist_kind_t kind)
{
    *h = (sg_metrics_hist_t){.kind = kind};
}

void sg_metrics_hist_observe(sg_metrics_hist_t *h, double seconds)
{
    size_t n, i = 0;
    const double *bounds = s_bounds(h->kind, &n);
    while (i < n && seconds > bounds[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += seconds;
    if (seconds > h->max)
        h->max = seconds;
}

/* ---- the text ------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} s_buf_t;

static void s_addf(s_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_addf(s_buf_t *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* Appends `n` bytes. */
static void s_add(s_buf_t *b, const char *p, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 4096) + n;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* A label value, escaped as the exposition format asks: the runs that need
 * no escape go in whole. */
static void s_label(s_buf_t *b, const char *v)
{
    while (*v) {
        size_t run = strcspn(v, "\\\"\n");
        s_add(b, v, run);
        v += run;
        if (*v) {
            s_add(b, *v == '\n' ? "\\n" : *v == '"' ? "\\\"" : "\\\\", 2);
            v++;
        }
    }
}

static void s_head(s_buf_t *b, const char *name, const char *type, const char *help)
{
    s_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void s_events(s_buf_t *b, const sg_ingest_stats_t *st)
{
    s_head(b, "siteguard_events_received_total", "counter", "Health events received on the bus.");
    s_addf(b, "siteguard_events_received_total %llu\n", (unsigned long long)st->received);
    s_head(b, "siteguard_events_accepted_total", "counter", "Health events accepted.");
    s_addf(b, "siteguard_events_accepted_total %llu\n", (unsigned long long)st->accepted);
    s_head(b, "siteguard_events_dropped_total", "counter", "Health events dropped, by reason.");
    for (int i = 1; i < SG_DROP_COUNT; i++)
        s_addf(b, "siteguard_events_dropped_total{reason=\"%s\"} %llu\n",
               sg_drop_reason_name((sg_drop_reason_t)i), (unsigned long long)st->dropped[i]);
}

static void s_states(s_buf_t *b, const sg_metrics_snapshot_t *s)
{
    const sg_config_t *cfg = s->cfg;
    s_head(b, "siteguard_site_state", "gauge", "1 for the state each site is in.");
    for (size_t i = 0; i < cfg->n_sites; i++) {
        sg_site_state_t now = s->site_state[i];
        for (int st = SG_SITE_UNKNOWN; st < SG_SITE_STATE_COUNT; st++) {
            s_addf(b, "siteguard_site_state{site=\"");
            s_label(b, cfg->sites[i].name);
            s_addf(b, "\",state=\"%s\"} %d\n", sg_site_state_name((sg_site_state_t)st),
                   st == (int)now);
        }
    }
    s_head(b, "siteguard_site_flapping", "gauge",
           "1 while the site is flapping (its suspect/recovered notices held).");
    for (size_t i = 0; i < cfg->n_sites; i++) {
        s_addf(b, "siteguard_site_flapping{site=\"");
        s_label(b, cfg->sites[i].name);
        s_addf(b, "\"} %d\n", s->site_flapping && s->site_flapping[i] ? 1 : 0);
    }
    s_head(b, "siteguard_collection_state", "gauge", "The verdict on each collection (value 1).");
    for (size_t i = 0; i < cfg->n_collections; i++) {
        static const char head[] = "siteguard_collection_state{collection=\"";
        const char *verdict = sg_coll_verdict_name(s->verdict[i]);
        s_add(b, head, sizeof head - 1);
        s_label(b, cfg->collections[i].name);
        s_add(b, "\",verdict=\"", 11);
        s_add(b, verdict, strlen(verdict));
        s_add(b, "\"} 1\n", 5);
    }
    s_head(b, "siteguard_observer_clock_offset_seconds", "gauge",
           "Each observer's clock offset: receipt minus send time, the smallest over a "
           "recent window (positive: its clock is behind).");
    for (size_t o = 0; o < cfg->n_observers; o++) {
        if (!s->skew_known[o])
            continue;
        int64_t skew = s->skew_ms[o];
        s_addf(b, "siteguard_observer_clock_offset_seconds{observer=\"");
        s_label(b, cfg->observers[o].id);
        s_addf(b, "\"} %.3f\n", skew / 1000.0);
    }
}

static void s_decisions(s_buf_t *b, const sg_metrics_snapshot_t *s)
{
    s_head(b, "siteguard_decisions_total", "counter", "Decisions of the engine, by kind.");
    for (int k = SG_DECISION_SITE_SUSPECT; k < SG_METRICS_N_DECISION_KINDS; k++)
        s_addf(b, "siteguard_decisions_total{kind=\"%s\"} %llu\n",
               sg_decision_kind_name((sg_decision_kind_t)k), (unsigned long long)s->decisions[k]);
    s_head(b, "siteguard_blocked_total", "counter", "Failovers held back, by guard.");
    for (int g = SG_GUARD_PAUSED; g < SG_GUARD_COUNT; g++)
        s_addf(b, "siteguard_blocked_total{guard=\"%s\"} %llu\n", sg_guard_name((sg_guard_t)g),
               (unsigned long long)s->blocked[g]);
    s_head(b, "siteguard_runs_total", "counter", "Failover runs ended, by result.");
    s_addf(b, "siteguard_runs_total{result=\"succeeded\"} %llu\n", (unsigned long long)s->runs_ok);
    s_addf(b, "siteguard_runs_total{result=\"failed\"} %llu\n", (unsigned long long)s->runs_failed);
    s_addf(b, "siteguard_runs_total{result=\"cancelled\"} %llu\n",
           (unsigned long long)s->runs_cancelled);
}

static void s_histogram(s_buf_t *b, const char *name, const char *help,
                        const sg_metrics_hist_t *h)
{
    if (!h)
        return;
    s_head(b, name, "histogram", help);
    size_t n;
    const double *bounds = s_bounds(h->kind, &n);
    uint64_t cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += h->counts[i];
        s_addf(b, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
    }
    s_addf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
    s_addf(b, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

static void s_gauge(s_buf_t *b, const char *name, const char *help, double value)
{
    s_head(b, name, "gauge", help);
    s_addf(b, "%s %.6f\n", name, value);
}

static void s_latencies(s_buf_t *b, const sg_metrics_snapshot_t *s)
{
    s_histogram(b, "siteguard_run_duration_seconds",
                "Failover runs, from decision to end, in seconds.", s->run_seconds);
    s_histogram(b, "siteguard_event_age_seconds",
                "Health events: their wait before the engine took them, above their observer's "
                "least recent delay, in seconds.",
                s->event_age);
    if (s->event_age)
        s_gauge(b, "siteguard_event_age_max_seconds", "The oldest event age since start.",
                s->event_age->max);
    s_histogram(b, "siteguard_loop_turn_seconds",
                "The loop's turns: the work between two waits, in seconds.", s->loop_turn);
    if (s->loop_turn)
        s_gauge(b, "siteguard_loop_stall_max_seconds", "The longest loop turn since start.",
                s->loop_turn->max);
    s_histogram(b, "siteguard_decision_to_call_seconds",
                "Failovers: from the decision to InitiateFailover called (the intent "
                "committed), in seconds.",
                s->decision_to_call);
    s_histogram(b, "siteguard_event_to_call_seconds",
                "The policy's failovers: from the event that decided one (the first event of the "
                "loop's turn, else the tick) to InitiateFailover called (the intent committed), "
                "in seconds.",
                s->event_to_call);
    if (s->event_to_call)
        s_gauge(b, "siteguard_event_to_call_max_seconds",
                "The longest event-to-call latency since start.", s->event_to_call->max);
}

static void s_service(s_buf_t *b, const sg_metrics_snapshot_t *s)
{
    const sg_notify_stats_t *n = s->notify;
    s_head(b, "siteguard_notify_outcomes_total", "counter", "Outcomes handed to the sinks.");
    s_addf(b, "siteguard_notify_outcomes_total{state=\"queued\"} %llu\n",
           (unsigned long long)n->queued);
    s_addf(b, "siteguard_notify_outcomes_total{state=\"delivered\"} %llu\n",
           (unsigned long long)n->delivered);
    s_addf(b, "siteguard_notify_outcomes_total{state=\"retried\"} %llu\n",
           (unsigned long long)n->retries);
    s_addf(b, "siteguard_notify_outcomes_total{state=\"dead\"} %llu\n", (unsigned long long)n->dead);
    s_head(b, "siteguard_notify_pending", "gauge", "Outcomes waiting for a sink (all sinks).");
    s_addf(b, "siteguard_notify_pending %llu\n", (unsigned long long)n->pending);
    s_head(b, "siteguard_outbox_depth", "gauge",
           "Outcomes routed to a sink and not yet delivered or dead-lettered, by sink.");
    for (size_t i = 0; s->sink_stats && i < s->cfg->n_sinks; i++)
        s_addf(b, "siteguard_outbox_depth{sink=\"%s\"} %llu\n", s->cfg->sinks[i].name,
               (unsigned long long)s->sink_stats[i].pending);
    s_head(b, "siteguard_sink_outcomes_total", "counter", "Outcomes by sink and state.");
    for (size_t i = 0; s->sink_stats && i < s->cfg->n_sinks; i++) {
        const sg_notify_stats_t *k = &s->sink_stats[i];
        const char *name = s->cfg->sinks[i].name;
        s_addf(b, "siteguard_sink_outcomes_total{sink=\"%s\",state=\"delivered\"} %llu\n", name,
               (unsigned long long)k->delivered);
        s_addf(b, "siteguard_sink_outcomes_total{sink=\"%s\",state=\"retried\"} %llu\n", name,
               (unsigned long long)k->retries);
        s_addf(b, "siteguard_sink_outcomes_total{sink=\"%s\",state=\"dead\"} %llu\n", name,
               (unsigned long long)k->dead);
    }
    s_head(b, "siteguard_leader", "gauge", "Leader election mode (value 1).");
    s_addf(b, "siteguard_leader{mode=\"%s\"} 1\n", s->leader_mode);
    s_head(b, "siteguard_is_leader", "gauge", "1 when this instance may act.");
    s_addf(b, "siteguard_is_leader %d\n", s->is_leader ? 1 : 0);
    s_head(b, "siteguard_leader_epoch", "gauge", "The leader epoch this instance acts under (0: none).");
    s_addf(b, "siteguard_leader_epoch %llu\n", (unsigned long long)s->leader_epoch);
    s_head(b, "siteguard_config_reloads_total", "counter", "Config reloads, by result.");
    s_addf(b, "siteguard_config_reloads_total{result=\"applied\"} %llu\n",
           (unsigned long long)s->reloads_ok);
    s_addf(b, "siteguard_config_reloads_total{result=\"refused\"} %llu\n",
           (unsigned long long)s->reloads_refused);
    s_head(b, "siteguard_control_requests_total", "counter", "Requests on the control sockets.");
    s_addf(b, "siteguard_control_requests_total %llu\n", (unsigned long long)s->control_requests);
    s_head(b, "siteguard_control_keys_refused_total", "counter",
           "CURVE client keys refused at the control handshake (not listed).");
    s_addf(b, "siteguard_control_keys_refused_total %llu\n",
           (unsigned long long)s->control_keys_refused);
    s_head(b, "siteguard_bus_handshakes_refused_total", "counter",
           "CURVE publisher keys refused at the bus handshake (listed for no observer).");
    s_addf(b, "siteguard_bus_handshakes_refused_total %llu\n",
           (unsigned long long)s->bus_handshakes_refused);
}

static void s_journal(s_buf_t *b, const sg_metrics_snapshot_t *s)
{
    if (s->journal_bytes <= 0)
        return;
    s_head(b, "siteguard_journal_bytes", "gauge",
           "Size of the journal's database (its pages, free ones included; not its -wal file).");
    s_addf(b, "siteguard_journal_bytes %lld\n", (long long)s->journal_bytes);
}

/* The start of a drill's series: `name{drill="..."`, the braces left open. */
static void s_drill_head(s_buf_t *b, const char *name, const sg_drill_status_t *d)
{
    s_addf(b, "%s{drill=\"", name);
    s_label(b, d->name);
    s_add(b, "\"", 1);
}

static void s_drills(s_buf_t *b, const sg_metrics_snapshot_t *s)
{
    s_head(b, "siteguard_drill_running", "gauge", "1 while a drill runs.");
    s_addf(b, "siteguard_drill_running %d\n", s->drill_running ? 1 : 0);
    s_head(b, "siteguard_drill_last_result", "gauge",
           "1 for the result of each drill's latest ended run, 0 for the other results.");
    for (size_t i = 0; i < s->n_drills; i++) {
        const sg_drill_status_t *d = &s->drills[i];
        for (int r = 0; d->last_result >= 0 && r < SG_DRILL_RESULT_COUNT; r++) {
            s_drill_head(b, "siteguard_drill_last_result", d);
            s_addf(b, ",result=\"%s\"} %d\n", sg_drill_result_name((sg_drill_result_t)r),
                   r == d->last_result);
        }
    }
    s_head(b, "siteguard_drill_last_end_timestamp_seconds", "gauge",
           "When each drill's latest run ended (Unix time).");
    for (size_t i = 0; i < s->n_drills; i++) {
        if (s->drills[i].last_end_ms < 0)
            continue;
        s_drill_head(b, "siteguard_drill_last_end_timestamp_seconds", &s->drills[i]);
        s_addf(b, "} %.3f\n", (double)s->drills[i].last_end_ms / 1000.0);
    }
    s_head(b, "siteguard_drill_last_success_timestamp_seconds", "gauge",
           "When each drill's latest passed run ended (Unix time).");
    for (size_t i = 0; i < s->n_drills; i++) {
        if (s->drills[i].last_pass_ms < 0)
            continue;
        s_drill_head(b, "siteguard_drill_last_success_timestamp_seconds", &s->drills[i]);
        s_addf(b, "} %.3f\n", (double)s->drills[i].last_pass_ms / 1000.0);
    }
    s_head(b, "siteguard_drill_due_timestamp_seconds", "gauge",
           "When each scheduled drill should have passed again: its first scheduled time "
           "after its latest pass (Unix time).");
    for (size_t i = 0; i < s->n_drills; i++) {
        if (s->drills[i].due_ms < 0)
            continue;
        s_drill_head(b, "siteguard_drill_due_timestamp_seconds", &s->drills[i]);
        s_addf(b, "} %.3f\n", (double)s->drills[i].due_ms / 1000.0);
    }
}

char *sg_metrics_render(const sg_metrics_snapshot_t *s)
{
    s_buf_t b = {0};
    s_events(&b, s->ingest);
    s_states(&b, s);
    s_decisions(&b, s);
    s_latencies(&b, s);
    s_service(&b, s);
    s_journal(&b, s);
    s_drills(&b, s);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- the HTTP side ---------------------------------------------------------- */

/* A published snapshot with its own copies of the arrays, shared by the
 * metrics and the scrapes rendering it (counted references). */
typedef struct {
    int refs; /* atomic */
    sg_metrics_snapshot_t s;
    sg_site_state_t *site_state;
    bool *site_flapping; /* NULL: none given */
    sg_coll_verdict_t *verdict;
    int64_t *skew_ms;
    bool *skew_known;
    sg_notify_stats_t *sink_stats;
    sg_drill_status_t *drills;
    sg_ingest_stats_t ingest;
    sg_notify_stats_t notify;
    uint64_t decisions[SG_METRICS_N_DECISION_KINDS];
    uint64_t blocked[SG_GUARD_COUNT];
    sg_metrics_hist_t run_seconds, event_age, loop_turn, decision_to_call, event_to_call;
} s_snap_t;

struct sg_metrics {
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock;
    s_snap_t *snap; /* the latest published snapshot, under lock */
    sg_statuspage_t *page; /* under lock; NULL: /metrics only */
    char *token;           /* a copy of the bearer token (wiped when freed); NULL: none */
    bool loopback_open;    /* on the loopback address without a token: the page checks Host */
};

static void s_snap_unref(s_snap_t *n)
{
    if (!n || __atomic_sub_fetch(&n->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    free(n->site_state);
    free(n->site_flapping);
    free(n->verdict);
    free(n->skew_ms);
    free(n->skew_known);
    free(n->sink_stats);
    free(n->drills);
    free(n);
}

static void *s_dup(const void *p, size_t n, size_t size)
{
    void *q = malloc(n ? n * size : 1);
    if (q && p && n)
        memcpy(q, p, n * size);
    return q;
}

static void s_copy_hist(const sg_metrics_hist_t *from, sg_metrics_hist_t *to,
                        const sg_metrics_hist_t **field)
{
    if (!from)
        return;
    *to = *from;
    *field = to;
}

/* A deep copy of `s` whose pointers point into itself. */
static s_snap_t *s_snap_copy(const sg_metrics_snapshot_t *s)
{
    const sg_config_t *cfg = s->cfg;
    s_snap_t *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->refs = 1;
    n->s = *s;
    n->site_state = s_dup(s->site_state, cfg->n_sites, sizeof *n->site_state);
    n->site_flapping = s->site_flapping
                           ? s_dup(s->site_flapping, cfg->n_sites, sizeof *n->site_flapping)
                           : NULL;
    n->verdict = s_dup(s->verdict, cfg->n_collections, sizeof *n->verdict);
    n->skew_ms = s_dup(s->skew_ms, cfg->n_observers, sizeof *n->skew_ms);
    n->skew_known = s_dup(s->skew_known, cfg->n_observers, sizeof *n->skew_known);
    n->sink_stats = s->sink_stats ? s_dup(s->sink_stats, cfg->n_sinks, sizeof *n->sink_stats)
                                  : NULL;
    n->drills = s_dup(s->drills, s->n_drills, sizeof *n->drills);
    if (!n->site_state || !n->verdict || !n->skew_ms || !n->skew_known ||
        (s->sink_stats && !n->sink_stats) || (s->site_flapping && !n->site_flapping) ||
        !n->drills) {
        s_snap_unref(n);
        return NULL;
    }
    n->ingest = *s->ingest;
    n->notify = *s->notify;
    memcpy(n->decisions, s->decisions, sizeof n->decisions);
    memcpy(n->blocked, s->blocked, sizeof n->blocked);
    /* every value as given; every pointer to the copy's own storage */
    n->s.site_state = n->site_state;
    n->s.site_flapping = n->site_flapping;
    n->s.verdict = n->verdict;
    n->s.skew_ms = n->skew_ms;
    n->s.skew_known = n->skew_known;
    n->s.ingest = &n->ingest;
    n->s.notify = &n->notify;
    n->s.sink_stats = n->sink_stats;
    n->s.drills = n->drills;
    n->s.decisions = n->decisions;
    n->s.blocked = n->blocked;
    s_copy_hist(s->run_seconds, &n->run_seconds, &n->s.run_seconds);
    s_copy_hist(s->event_age, &n->event_age, &n->s.event_age);
    s_copy_hist(s->loop_turn, &n->loop_turn, &n->s.loop_turn);
    s_copy_hist(s->decision_to_call, &n->decision_to_call, &n->s.decision_to_call);
    s_copy_hist(s->event_to_call, &n->event_to_call, &n->s.event_to_call);
    return n;
}

/* The headers every answer carries; `no_store` too but for /metrics. */
static void s_common_headers(struct MHD_Response *r, bool no_store)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    if (no_store)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

/* Queues `body` (taken) with its type and, when given, a policy. */
static enum MHD_Result s_send(struct MHD_Connection *conn, unsigned status, const char *type,
                              const char *csp, bool no_store, char *body, size_t len)
{
    if (!body)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    s_common_headers(r, no_store);
    if (csp)
        MHD_add_response_header(r, "Content-Security-Policy", csp);
    if (status == MHD_HTTP_UNAUTHORIZED) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"siteguard\"");
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Basic realm=\"siteguard\", charset=\"UTF-8\"");
    }
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result s_reply(struct MHD_Connection *conn, unsigned status, char *body,
                               size_t len)
{
    return s_send(conn, status, S_CONTENT_TYPE, "default-src 'none'; frame-ancestors 'none'",
                  status != MHD_HTTP_OK, body, len);
}

/* A short text answer. */
static enum MHD_Result s_say(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return s_reply(conn, status, strdup(text), strlen(text));
}

/* ---- the token ------------------------------------------------------------------------ */

/* `n` bytes at `given` against the token, in time that depends on the
 * token's length only. */
static bool s_same(const char *given, size_t n, const char *token)
{
    size_t t = strlen(token);
    volatile unsigned char diff = (unsigned char)(n != t);
    for (size_t i = 0; i < t; i++)
        diff |= (unsigned char)(token[i] ^ (i < n ? given[i] : 0));
    return diff == 0;
}

/* Decodes base64 (RFC 4648, padding optional) into out (room for
 * 3 * strlen(in) / 4 + 3); false when it is not base64. */
static bool s_unbase64(const char *in, unsigned char *out, size_t *n)
{
    unsigned v = 0;
    int bits = 0;
    *n = 0;
    for (; *in && *in != '='; in++) {
        const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *p = strchr(a, *in);
        if (!p || !*in)
            return false;
        v = (v << 6) | (unsigned)(p - a);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[(*n)++] = (unsigned char)(v >> bits);
        }
    }
    while (*in == '=')
        in++;
    return *in == '\0';
}

/* Whether `s` starts with the scheme `scheme` (any case) and a space. */
static const char *s_scheme(const char *s, const char *scheme)
{
    size_t n = strlen(scheme);
    for (size_t i = 0; i < n; i++)
        if (!s[i] || (s[i] | 0x20) != (scheme[i] | 0x20))
            return NULL;
    if (s[n] != ' ')
        return NULL;
    s += n;
    while (*s == ' ')
        s++;
    return s;
}

bool sg_metrics_authorized(const char *authorization, const char *token)
{
    if (!authorization || !token || !*token)
        return false;
    const char *v = s_scheme(authorization, "Bearer");
    if (v) {
        size_t n = strlen(v);
        while (n && v[n - 1] == ' ')
            n--;
        return s_same(v, n, token);
    }
    v = s_scheme(authorization, "Basic");
    size_t len = v ? strlen(v) : 0;
    if (!v || len > 4096)
        return false;
    unsigned char buf[3 * 4096 / 4 + 3];
    size_t n = 0;
    bool ok = s_unbase64(v, buf, &n);
    const unsigned char *colon = ok ? memchr(buf, ':', n) : NULL;
    bool same = colon && s_same((const char *)colon + 1, n - (size_t)(colon + 1 - buf), token);
    memset(buf, 0, sizeof buf);
    return same;
}

/* ---- requests ----------------------------------------------------------------------------- */

/* Whether the Host header names the loopback address (or is absent). */
static bool s_host_loopback(struct MHD_Connection *conn)
{
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!host)
        return true;
    char name[256];
    size_t n = strlen(host);
    if (n >= sizeof name)
        return false;
    memcpy(name, host, n + 1);
    char *colon = strrchr(name, ':');
    if (colon && !strchr(colon, ']'))
        *colon = '\0'; /* the port */
    if (strcmp(name, "[::1]") == 0 || strcmp(name, "localhost") == 0)
        return true;
    if (strncmp(name, "127.", 4) != 0)
        return false;
    return strspn(name, "0123456789.") == strlen(name);
}

static enum MHD_Result s_metrics_text(sg_metrics_t *m, struct MHD_Connection *conn)
{
    pthread_mutex_lock(&m->lock);
    s_snap_t *snap = m->snap;
    if (snap)
        __atomic_add_fetch(&snap->refs, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_unlock(&m->lock);
    if (!snap)
        return s_say(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
    char *text = sg_metrics_render(&snap->s); /* on this thread, not the loop's */
    s_snap_unref(snap);
    if (!text)
        return s_say(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return s_reply(conn, MHD_HTTP_OK, text, strlen(text));
}

static enum MHD_Result s_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_len, void **con_cls)
{
    sg_metrics_t *m = cls;
    (void)version;
    (void)upload;
    (void)con_cls;
    if (*upload_len)
        return MHD_NO;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return s_say(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
    if (m->token &&
        !sg_metrics_authorized(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                           MHD_HTTP_HEADER_AUTHORIZATION),
                               m->token))
        return s_say(conn, MHD_HTTP_UNAUTHORIZED, "unauthorized: a bearer token is needed\n");
    if (strcmp(url, "/metrics") == 0)
        return s_metrics_text(m, conn);
    pthread_mutex_lock(&m->lock);
    sg_statuspage_t *page = m->page;
    pthread_mutex_unlock(&m->lock);
    if (!page)
        return s_say(conn, MHD_HTTP_NOT_FOUND, "see /metrics\n");
    if (m->loopback_open && !s_host_loopback(conn))
        return s_say(conn, MHD_HTTP_FORBIDDEN,
                     "this listener answers the loopback address's names only\n");
    sg_statuspage_answer_t a;
    int rc = sg_statuspage_answer(
        page, url, MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit"),
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "drill"), &a);
    if (rc == SG_ENOTFOUND)
        return s_say(conn, MHD_HTTP_NOT_FOUND, "see /, /api/v1/status or /metrics\n");
    if (rc != SG_OK)
        return s_say(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return s_send(conn, a.status, a.content_type, a.csp, true, a.body, a.len);
}

/* Splits "HOST:PORT" or "[HOST]:PORT" and resolves it. */
static struct addrinfo *s_resolve(const char *listen)
{
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return NULL;
    size_t hlen = (size_t)(colon - listen);
    const char *h = listen;
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    char *host = strndup(h, hlen);
    if (!host)
        return NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    free(host);
    return rc == 0 ? res : NULL;
}

/* The listener's options: where, how many, and TLS when asked. */
static int s_start(sg_metrics_t *m, const struct addrinfo *ai, const sg_metrics_cfg_t *mc)
{
    bool tls = mc && mc->tls.cert && mc->tls.key;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        sg_error(S_MOD, "metrics.tls is set but this libmicrohttpd was built without TLS: "
                        "refusing to serve in plain text; not starting");
        return SG_EINVAL;
    }
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr},
        {MHD_OPTION_CONNECTION_TIMEOUT, 10, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, 64, NULL},
        /* two threads: a page waiting for a fresh document (statuspage.h) does not hold
           up a scrape */
        {MHD_OPTION_THREAD_POOL_SIZE, 2, NULL},
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, tls ? mc->tls.cert : NULL},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, tls ? mc->tls.key : NULL},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
        {MHD_OPTION_END, 0, NULL},
    };
    if (tls)
        flags |= MHD_USE_TLS;
    m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, s_handle, m, MHD_OPTION_ARRAY, opts,
                                 MHD_OPTION_END);
    return m->daemon ? SG_OK : SG_EIO;
}

sg_metrics_t *sg_metrics_new(const char *listen, const sg_metrics_cfg_t *mc)
{
    struct addrinfo *ai = s_resolve(listen);
    sg_metrics_t *m = calloc(1, sizeof *m);
    if (!ai || !m) {
        sg_error(S_MOD, "cannot listen on %s: %s", listen, ai ? "out of memory" : "bad address");
        goto fail;
    }
    pthread_mutex_init(&m->lock, NULL);
    if (mc && mc->token && !(m->token = strdup(mc->token))) {
        pthread_mutex_destroy(&m->lock);
        goto fail;
    }
    m->loopback_open = !m->token && sg_metrics_conf_loopback(listen);
    int rc = s_start(m, ai, mc);
    if (rc != SG_OK) {
        if (rc == SG_EIO)
            sg_error(S_MOD, "cannot listen on %s", listen);
        pthread_mutex_destroy(&m->lock);
        goto fail;
    }
    freeaddrinfo(ai);
    bool tls = mc && mc->tls.cert;
    sg_info(S_MOD, "serving /metrics and the status page on %s://%s%s", tls ? "https" : "http",
            listen, m->token ? " (bearer token required)" : "");
    return m;
fail:
    if (ai)
        freeaddrinfo(ai);
    if (m && m->token) {
        memset(m->token, 0, strlen(m->token));
        free(m->token);
    }
    free(m);
    return NULL;
}

void sg_metrics_set_page(sg_metrics_t *m, sg_statuspage_t *page)
{
    pthread_mutex_lock(&m->lock);
    m->page = page;
    pthread_mutex_unlock(&m->lock);
}

int sg_metrics_publish(sg_metrics_t *m, const sg_metrics_snapshot_t *s)
{
    s_snap_t *snap = s_snap_copy(s);
    if (!snap)
        return SG_ENOMEM;
    pthread_mutex_lock(&m->lock);
    s_snap_t *old = m->snap;
    m->snap = snap;
    pthread_mutex_unlock(&m->lock);
    s_snap_unref(old);
    return SG_OK;
}

void sg_metrics_destroy(sg_metrics_t **mp)
{
    if (!mp || !*mp)
        return;
    sg_metrics_t *m = *mp;
    MHD_stop_daemon(m->daemon);
    pthread_mutex_destroy(&m->lock);
    s_snap_unref(m->snap);
    if (m->token) {
        volatile char *t = m->token;
        for (size_t i = 0; t[i]; i++)
            t[i] = 0;
        free(m->token);
    }
    free(m);
    *mp = NULL;
}
