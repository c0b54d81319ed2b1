#include "ingress/bus.h"
#include "base/err.h"
#include "base/log.h"

#include <stdlib.h>
#include <zmq.h>

#define S_MOD "bus"

struct sg_bus {
    void *sub;
    sg_ingest_t *ingest;
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
        sg_info(S_MOD, "%s %s", bind ? "listening on" : "subscribed to", eps[i]);
    }
    return SG_OK;
}

sg_bus_t *sg_bus_new(void *zctx, const sg_config_t *cfg)
{
    sg_bus_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    int linger = 0, hwm = 100000;
    b->ingest = sg_ingest_new(cfg);
    b->sub = zmq_socket(zctx, ZMQ_SUB);
    if (!b->ingest || !b->sub)
        goto fail;
    if (zmq_setsockopt(b->sub, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(b->sub, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(b->sub, ZMQ_SUBSCRIBE, "", 0) != 0)
        goto fail;
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
    if (b->sub)
        zmq_close(b->sub);
    sg_ingest_destroy(&b->ingest);
    free(b);
    *bp = NULL;
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

int sg_bus_drain(sg_bus_t *b, int64_t now_wall_ms, int max, sg_bus_event_fn fn, void *user)
{
    int n = 0;
    zmq_msg_t topic, body;
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
        if (got == 2) /* an empty body never decodes: counted as malformed */
            why = sg_ingest_accept(b->ingest, "", 0, "", 0, now_wall_ms, &ev);
        else
            why = sg_ingest_accept(b->ingest, zmq_msg_data(&topic), zmq_msg_size(&topic),
                                   zmq_msg_data(&body), zmq_msg_size(&body), now_wall_ms, &ev);
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
