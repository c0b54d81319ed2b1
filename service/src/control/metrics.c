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

const double sg_metrics_buckets[SG_METRICS_N_BUCKETS] = {0.5, 1, 2, 5, 10, 30,
                                                         60,  120, 300, 900, 1800};

void sg_metrics_hist_observe(sg_metrics_hist_t *h, double seconds)
{
    int i = 0;
    while (i < SG_METRICS_N_BUCKETS && seconds > sg_metrics_buckets[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += seconds;
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

/* A label value, escaped as the exposition format asks. */
static void s_label(s_buf_t *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            s_addf(b, "\\%c", *v);
        else if (*v == '\n')
            s_addf(b, "\\n");
        else
            s_addf(b, "%c", *v);
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
        sg_site_state_t now = sg_engine_site_state(s->engine, (int)i);
        for (int st = SG_SITE_UNKNOWN; st < SG_SITE_STATE_COUNT; st++) {
            s_addf(b, "siteguard_site_state{site=\"");
            s_label(b, cfg->sites[i].name);
            s_addf(b, "\",state=\"%s\"} %d\n", sg_site_state_name((sg_site_state_t)st),
                   st == (int)now);
        }
    }
    s_head(b, "siteguard_collection_state", "gauge", "The verdict on each collection (value 1).");
    for (size_t i = 0; i < cfg->n_collections; i++) {
        s_addf(b, "siteguard_collection_state{collection=\"");
        s_label(b, cfg->collections[i].name);
        s_addf(b, "\",verdict=\"%s\"} 1\n",
               sg_coll_verdict_name(sg_engine_collection_verdict(s->engine, (int)i)));
    }
    s_head(b, "siteguard_observer_clock_offset_seconds", "gauge",
           "Each observer's clock offset: receipt minus send time, the smallest over a "
           "recent window (positive: its clock is behind).");
    for (size_t o = 0; o < cfg->n_observers; o++) {
        int64_t skew;
        if (!sg_engine_observer_skew(s->engine, (int)o, &skew))
            continue;
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

static void s_histogram(s_buf_t *b, const char *name, const sg_metrics_hist_t *h)
{
    s_head(b, name, "histogram", "Failover runs, from decision to end, in seconds.");
    uint64_t cum = 0;
    for (int i = 0; i < SG_METRICS_N_BUCKETS; i++) {
        cum += h->counts[i];
        s_addf(b, "%s_bucket{le=\"%g\"} %llu\n", name, sg_metrics_buckets[i],
               (unsigned long long)cum);
    }
    s_addf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
    s_addf(b, "%s_sum %.3f\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
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
    uint64_t done = n->delivered + n->dead;
    s_head(b, "siteguard_notify_pending", "gauge", "Outcomes waiting for a sink (all sinks).");
    s_addf(b, "siteguard_notify_pending %llu\n",
           (unsigned long long)(n->queued > done ? n->queued - done : 0));
    s_head(b, "siteguard_outbox_depth", "gauge",
           "Outcomes routed to a sink and not yet delivered or dead-lettered, by sink.");
    for (size_t i = 0; s->sink_stats && i < s->cfg->n_sinks; i++) {
        const sg_notify_stats_t *k = &s->sink_stats[i];
        uint64_t ended = k->delivered + k->dead;
        s_addf(b, "siteguard_outbox_depth{sink=\"%s\"} %llu\n", s->cfg->sinks[i].name,
               (unsigned long long)(k->queued > ended ? k->queued - ended : 0));
    }
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

char *sg_metrics_render(const sg_metrics_snapshot_t *s)
{
    s_buf_t b = {0};
    s_events(&b, s->ingest);
    s_states(&b, s);
    s_decisions(&b, s);
    s_histogram(&b, "siteguard_run_duration_seconds", s->run_seconds);
    s_service(&b, s);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- the HTTP side ---------------------------------------------------------- */

struct sg_metrics {
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock;
    char *text; /* the latest published text, under lock */
};

static enum MHD_Result s_reply(struct MHD_Connection *conn, unsigned status, char *body,
                               size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, S_CONTENT_TYPE);
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
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
        return s_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, strdup("GET only\n"), 9);
    if (strcmp(url, "/metrics") != 0)
        return s_reply(conn, MHD_HTTP_NOT_FOUND, strdup("see /metrics\n"), 13);
    pthread_mutex_lock(&m->lock);
    char *copy = m->text ? strdup(m->text) : NULL;
    pthread_mutex_unlock(&m->lock);
    if (!copy)
        return s_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, strdup("not ready\n"), 10);
    return s_reply(conn, MHD_HTTP_OK, copy, strlen(copy));
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

sg_metrics_t *sg_metrics_new(const char *listen)
{
    struct addrinfo *ai = s_resolve(listen);
    sg_metrics_t *m = calloc(1, sizeof *m);
    if (!ai || !m) {
        sg_error(S_MOD, "cannot listen on %s: %s", listen, ai ? "out of memory" : "bad address");
        goto fail;
    }
    pthread_mutex_init(&m->lock, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, s_handle, m, MHD_OPTION_SOCK_ADDR,
                                 ai->ai_addr, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                                 MHD_OPTION_END);
    if (!m->daemon) {
        sg_error(S_MOD, "cannot listen on %s", listen);
        pthread_mutex_destroy(&m->lock);
        goto fail;
    }
    freeaddrinfo(ai);
    sg_info(S_MOD, "serving /metrics on http://%s", listen);
    return m;
fail:
    if (ai)
        freeaddrinfo(ai);
    free(m);
    return NULL;
}

void sg_metrics_publish(sg_metrics_t *m, char *text)
{
    pthread_mutex_lock(&m->lock);
    char *old = m->text;
    m->text = text;
    pthread_mutex_unlock(&m->lock);
    free(old);
}

void sg_metrics_destroy(sg_metrics_t **mp)
{
    if (!mp || !*mp)
        return;
    sg_metrics_t *m = *mp;
    MHD_stop_daemon(m->daemon);
    pthread_mutex_destroy(&m->lock);
    free(m->text);
    free(m);
    *mp = NULL;
}
