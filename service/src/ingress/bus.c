#include "ingress/bus.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_MOD "bus"
#define S_ZAP_DOMAIN "bus"
#define S_LOG_EVERY_MS 10000 /* failed handshakes: at most one log line this often */
/* Handshakes that fail before the ZAP handler is asked: a publisher without
 * CURVE, or with another server key. */
#define S_FAILED_EVENTS (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)

struct sg_bus {
    void *sub;
    sg_ingest_t *ingest;
    const sg_config_t *cfg; /* in force: the observers' keys */
    sg_zap_t *zap;          /* borrowed; NULL without CURVE */
    bool zap_domain;        /* our domain is added to zap */
    void *monitor;          /* CURVE: the SUB socket's failed handshakes (PAIR) */
    uint64_t failed;        /* handshakes that failed before ZAP */
    sg_log_complaint_t failed_log;
};

static int s_attach(sg_bus_t *b, char **eps, size_t n, int bind)
{
    for (size_t i = 0; i < n; i++) {
        int rc = bind ? zmq_bind(b->sub, eps[i]) : zmq_connect(b->sub, eps[i]);
        if (rc != 0) {
            sg_error(S_MOD, "cannot %s %s: %s", bind ? "bind" : "connect to", eps[i],
                     zmq_strerror(zmq_errno()));
            return SG_EIO;
        }
        sg_info(S_MOD, "%s %s%s", bind ? "listening on" : "subscribed to", eps[i],
                b->zap_domain ? " (CURVE: observers' keys only)" : "");
    }
    return SG_OK;
}

/* The observer whose key `key_z85` is, in the config in force; NULL when no
 * observer lists it (the ZAP handler refuses the handshake). */
static const char *s_key_lookup(void *user, const char *key_z85)
{
    const sg_config_t *cfg = ((sg_bus_t *)user)->cfg;
    for (size_t i = 0; i < cfg->n_observers; i++)
        for (size_t k = 0; k < cfg->observers[i].n_public_keys; k++)
            if (strcmp(cfg->observers[i].public_keys[k], key_z85) == 0)
                return cfg->observers[i].id;
    return NULL;
}

/* Makes the SUB socket the CURVE server of every endpoint (before any is
 * attached), its clients checked by the ZAP handler under our domain. */
static int s_curve_server(sg_bus_t *b, void *zctx)
{
    const char *secret = b->cfg->bus.curve.secret_key;
    int on = 1;
    if (!b->zap || !zmq_has("curve")) {
        sg_error(S_MOD, "bus.curve: %s", b->zap ? "this libzmq has no CURVE"
                                                : "no authentication handler");
        return SG_EINVAL;
    }
    if (sg_zap_add_domain(b->zap, S_ZAP_DOMAIN, s_key_lookup, b) != SG_OK)
        return SG_EIO;
    b->zap_domain = true;
    char monitor[64];
    snprintf(monitor, sizeof monitor, "inproc://sg-bus-monitor-%lu", sg_serial());
    if (zmq_socket_monitor(b->sub, monitor, S_FAILED_EVENTS) != 0 ||
        !(b->monitor = zmq_socket(zctx, ZMQ_PAIR)) || zmq_connect(b->monitor, monitor) != 0) {
        sg_error(S_MOD, "cannot watch the bus's handshakes: %s", zmq_strerror(zmq_errno()));
        return SG_EIO;
    }
    if (zmq_setsockopt(b->sub, ZMQ_CURVE_SERVER, &on, sizeof on) != 0 ||
        zmq_setsockopt(b->sub, ZMQ_CURVE_SECRETKEY, secret, strlen(secret)) != 0 ||
        zmq_setsockopt(b->sub, ZMQ_ZAP_DOMAIN, S_ZAP_DOMAIN, strlen(S_ZAP_DOMAIN)) != 0) {
        sg_error(S_MOD, "cannot make the bus a CURVE server: %s", zmq_strerror(zmq_errno()));
        return SG_EIO;
    }
    return SG_OK;
}

sg_bus_t *sg_bus_new(void *zctx, const sg_config_t *cfg, sg_zap_t *zap)
{
    sg_bus_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cfg = cfg;
    b->zap = zap;
    int linger = 0, hwm = 100000;
    int64_t max_msg = (int64_t)cfg->bus.max_event_bytes;
    b->ingest = sg_ingest_new(cfg);
    b->sub = zmq_socket(zctx, ZMQ_SUB);
    if (!b->ingest || !b->sub)
        goto fail;
    if (zmq_setsockopt(b->sub, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(b->sub, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(b->sub, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg) != 0 ||
        zmq_setsockopt(b->sub, ZMQ_SUBSCRIBE, "", 0) != 0)
        goto fail;
    if (cfg->bus.curve.secret_key && s_curve_server(b, zctx) != SG_OK)
        goto fail;
    if (cfg->bus.insecure)
        sg_warn(S_MOD, "no CURVE on the bus (bus.insecure): anyone who reaches its endpoints "
                       "can publish as any observer and steer failover");
    if (s_attach(b, cfg->bus.bind, cfg->bus.n_bind, 1) != SG_OK ||
        s_attach(b, cfg->bus.connect, cfg->bus.n_connect, 0) != SG_OK)
        goto fail;
    return b;
fail:
    sg_bus_destroy(&b);
    return NULL;
}

void sg_bus_destroy(sg_bus_t **bp)
{
    if (!bp || !*bp)
        return;
    sg_bus_t *b = *bp;
    if (b->monitor)
        zmq_close(b->monitor);
    if (b->sub)
        zmq_close(b->sub);
    if (b->zap_domain)
        sg_zap_remove_domain(b->zap, S_ZAP_DOMAIN);
    sg_ingest_destroy(&b->ingest);
    free(b);
    *bp = NULL;
}

void sg_bus_set_config(sg_bus_t *b, const sg_config_t *cfg)
{
    b->cfg = cfg;
    sg_ingest_set_config(b->ingest, cfg);
}

uint64_t sg_bus_handshakes_refused(const sg_bus_t *b)
{
    return b->zap_domain ? sg_zap_refused(b->zap, S_ZAP_DOMAIN) + b->failed : 0;
}

/* Counts (and logs, paced) the handshakes that failed before the ZAP
 * handler was asked; the monitor sends an event (2 frames) for each. */
static void s_read_monitor(sg_bus_t *b, int64_t now_ms)
{
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    while (zmq_msg_recv(&frame, b->monitor, ZMQ_DONTWAIT) >= 0) {
        bool event = zmq_msg_more(&frame);
        char endpoint[128] = "?";
        if (event && zmq_msg_recv(&frame, b->monitor, 0) >= 0) {
            size_t n = zmq_msg_size(&frame) < sizeof endpoint - 1 ? zmq_msg_size(&frame)
                                                                   : sizeof endpoint - 1;
            memcpy(endpoint, zmq_msg_data(&frame), n);
            endpoint[n] = '\0';
        }
        uint64_t count;
        b->failed++;
        if (sg_log_complain(&b->failed_log, now_ms, S_LOG_EVERY_MS, &count))
            sg_warn(S_MOD, "refused a publisher on %s: its handshake failed (no CURVE, or not "
                           "this service's public key) (%llu refused since the last such line)",
                    endpoint, (unsigned long long)count);
    }
    zmq_msg_close(&frame);
}

void *sg_bus_socket(sg_bus_t *b) { return b->sub; }

const sg_ingest_stats_t *sg_bus_stats(const sg_bus_t *b) { return sg_ingest_stats(b->ingest); }

static int s_more(void *sock)
{
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len);
    return more;
}

/* Reads one whole message. Returns 1 for a two-frame message (topic and
 * body filled), 2 for a message of another shape (dropped), 0 when none
 * waits, or SG_EIO. */
static int s_recv_one(sg_bus_t *b, zmq_msg_t *topic, zmq_msg_t *body)
{
    if (zmq_msg_recv(topic, b->sub, ZMQ_DONTWAIT) < 0)
        return zmq_errno() == EAGAIN || zmq_errno() == EINTR ? 0 : SG_EIO;
    if (!s_more(b->sub))
        return 2;
    if (zmq_msg_recv(body, b->sub, 0) < 0)
        return SG_EIO;
    if (!s_more(b->sub))
        return 1;
    zmq_msg_t extra;
    zmq_msg_init(&extra);
    while (s_more(b->sub) && zmq_msg_recv(&extra, b->sub, 0) >= 0)
        ;
    zmq_msg_close(&extra);
    return 2;
}

/* Who sent `body`, as its connection's handshake proved (NULL without
 * CURVE): the observer the ZAP handler named and the key. */
static const sg_ingest_sender_t *s_sender(const sg_bus_t *b, zmq_msg_t *body,
                                          sg_ingest_sender_t *out)
{
    if (!b->zap_domain)
        return NULL;
    out->observer = zmq_msg_gets(body, "User-Id");
    out->key = zmq_msg_gets(body, SG_ZAP_KEY_PROPERTY);
    return out;
}

int sg_bus_drain(sg_bus_t *b, int64_t now_wall_ms, int max, sg_bus_event_fn fn, void *user)
{
    int n = 0;
    zmq_msg_t topic, body;
    if (b->monitor)
        s_read_monitor(b, now_wall_ms);
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    while (n < max) {
        int got = s_recv_one(b, &topic, &body);
        if (got <= 0) {
            if (got < 0)
                sg_warn(S_MOD, "receive failed: %s", zmq_strerror(zmq_errno()));
            break;
        }
        n++;
        sg_event_t ev;
        sg_drop_reason_t why;
        sg_ingest_sender_t sender;
        if (got == 2) /* an empty body never decodes: counted as malformed */
            why = sg_ingest_accept(b->ingest, "", 0, "", 0, now_wall_ms, NULL, &ev);
        else
            why = sg_ingest_accept(b->ingest, zmq_msg_data(&topic), zmq_msg_size(&topic),
                                   zmq_msg_data(&body), zmq_msg_size(&body), now_wall_ms,
                                   s_sender(b, &body, &sender), &ev);
        if (why == SG_DROP_NONE) {
            int rc = fn(user, &ev);
            if (rc != SG_OK) {
                n = rc;
                break;
            }
        } else {
            sg_debug(S_MOD, "dropped a message: %s", sg_drop_reason_name(why));
        }
    }
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    return n;
}
