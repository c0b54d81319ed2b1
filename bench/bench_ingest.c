/* bench_ingest: how fast events get in, as ratios measured in one run.
 *
 *   bench_ingest [COUNT]     (default 500000 messages per phase)
 *
 * (1) bare_sub: a ZeroMQ SUB receives COUNT two-frame messages (topic + packed
 *     heartbeat) from a publisher thread over tcp://127.0.0.1.
 * (2) ingest_pipeline: the same, each message also passed through the
 *     service's pipeline: sg_ingest_accept (decode, validate) with the
 *     wall-clock time read per message, then the policy engine
 *     (sg_engine_on_event) with the monotonic time read per event.
 * (3) ingest_only: ingest and engine over the pre-encoded messages in memory.
 * Each phase runs ROUNDS times (1 and 2 alternate); the best round counts.
 * It reports, it does not assert: the exit status is 0 whatever the figures.
 *
 * The publisher is an XPUB socket (a PUB that also reports subscriptions) so
 * that it starts only once the subscriber's subscription has arrived, with
 * ZMQ_XPUB_NODROP so that a full queue makes it wait instead of dropping. */
#include "ingress/ingest.h"
#include "policy/engine.h"
#include "proto/health.pb-c.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define DEFAULT_COUNT 500000
#define N_OBSERVERS 8
#define ROUNDS 3
#define HWM 100000
#define RECV_TIMEOUT_MS 5000
#define END_TOPIC "end"
#define TARGET_RATIO 0.70
#define TARGET_RATE 1000000.0

/* COUNT distinct heartbeats, packed back to back in one buffer. */
typedef struct {
    uint8_t *data;
    size_t *off; /* off[i]..off[i+1] is message i */
    size_t n;
} msgs_t;

typedef struct {
    double events_per_s;
    size_t received;
    size_t accepted;
    bool ended; /* the end marker arrived (otherwise the receive timed out) */
} result_t;

typedef struct {
    void *pub;
    const msgs_t *msgs;
} publisher_t;

static double s_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- the configuration and the messages ---------------------------------------- */

static sg_site_cfg_t s_sites[] = {{.name = "A"}, {.name = "B"}};
static sg_observer_cfg_t s_observers[N_OBSERVERS];
static char s_observer_ids[N_OBSERVERS][16];

static void s_config(sg_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (int i = 0; i < N_OBSERVERS; i++) {
        snprintf(s_observer_ids[i], sizeof(s_observer_ids[i]), "obs-%d", i);
        s_observers[i].id = s_observer_ids[i];
        s_observers[i].site = i % 2;
    }
    cfg->sites = s_sites;
    cfg->n_sites = 2;
    cfg->observers = s_observers;
    cfg->n_observers = N_OBSERVERS;
    cfg->bus.max_event_bytes = 4096;
    cfg->bus.max_age_ms = 3600 * 1000; /* a long run must not turn its events stale */
    cfg->bus.max_skew_ms = 5000;
    cfg->policy.suspect_after_ms = 3000;
    cfg->policy.hold_down_ms = 10000;
}

static int s_encode(msgs_t *m, size_t n, int64_t sent_at_ms)
{
    Siteguard__Health__V1__Event ev;
    Siteguard__Health__V1__Heartbeat hb;
    siteguard__health__v1__event__init(&ev);
    siteguard__health__v1__heartbeat__init(&hb);
    ev.schema = 1;
    ev.incarnation = 1;
    ev.sent_at_ms = sent_at_ms;
    ev.body_case = SITEGUARD__HEALTH__V1__EVENT__BODY_HEARTBEAT;
    ev.heartbeat = &hb;
    hb.interval_ms = 200;

    m->n = n;
    m->off = malloc((n + 1) * sizeof(*m->off));
    m->data = malloc(n * 64);
    if (!m->off || !m->data)
        return -1;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        int o = (int)(i % N_OBSERVERS);
        ev.observer = s_observer_ids[o];
        ev.site = s_sites[o % 2].name;
        ev.seq = i / N_OBSERVERS + 1;
        m->off[i] = at;
        if (siteguard__health__v1__event__get_packed_size(&ev) > 64)
            return -1;
        at += siteguard__health__v1__event__pack(&ev, m->data + at);
    }
    m->off[n] = at;
    return 0;
}

/* --- (1) and (2): over ZeroMQ ---------------------------------------------------- */

static void s_send_part(void *sock, const void *data, size_t len, int flags)
{
    static const struct timespec pause = {0, 20000};
    while (zmq_send(sock, data, len, flags) < 0) {
        if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
            return;
        nanosleep(&pause, NULL); /* queue full: let the receiver catch up */
    }
}

static void *s_publish(void *arg)
{
    publisher_t *p = arg;
    char sub[64];
    /* the subscriber's subscription notice: from now on nothing is filtered out */
    if (zmq_recv(p->pub, sub, sizeof(sub), 0) < 0)
        return NULL;
    for (size_t i = 0; i < p->msgs->n; i++) {
        s_send_part(p->pub, "heartbeat", 9, ZMQ_SNDMORE);
        s_send_part(p->pub, p->msgs->data + p->msgs->off[i], p->msgs->off[i + 1] - p->msgs->off[i],
                    0);
    }
    s_send_part(p->pub, END_TOPIC, strlen(END_TOPIC), ZMQ_SNDMORE);
    s_send_part(p->pub, "", 0, 0);
    return NULL;
}

static void s_set_int(void *sock, int opt, int v) { zmq_setsockopt(sock, opt, &v, sizeof(v)); }

/* Opens a bound XPUB and a SUB connected to it. */
static int s_open_pair(void *ctx, void **pub, void **sub)
{
    char ep[256];
    size_t ep_len = sizeof(ep);
    *pub = zmq_socket(ctx, ZMQ_XPUB);
    *sub = zmq_socket(ctx, ZMQ_SUB);
    if (!*pub || !*sub)
        return -1;
    s_set_int(*pub, ZMQ_SNDHWM, HWM);
    s_set_int(*pub, ZMQ_XPUB_NODROP, 1);
    s_set_int(*pub, ZMQ_LINGER, 0);
    s_set_int(*sub, ZMQ_RCVHWM, HWM);
    s_set_int(*sub, ZMQ_RCVTIMEO, RECV_TIMEOUT_MS);
    s_set_int(*sub, ZMQ_LINGER, 0);
    if (zmq_bind(*pub, "tcp://127.0.0.1:*") != 0 ||
        zmq_getsockopt(*pub, ZMQ_LAST_ENDPOINT, ep, &ep_len) != 0 || zmq_connect(*sub, ep) != 0)
        return -1;
    return zmq_setsockopt(*sub, ZMQ_SUBSCRIBE, "", 0);
}

/* Receives until the end marker (or a timeout); passes each message through
 * `ig` when it is not NULL. */
static void s_receive(void *sub, sg_ingest_t *ig, sg_engine_t *eng, result_t *res)
{
    zmq_msg_t topic, body;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    double first = 0, last = 0;
    sg_event_t ev;
    for (;;) {
        if (zmq_msg_recv(&topic, sub, 0) < 0 || zmq_msg_recv(&body, sub, 0) < 0)
            break; /* timed out: something was lost */
        if (zmq_msg_size(&topic) == strlen(END_TOPIC) &&
            memcmp(zmq_msg_data(&topic), END_TOPIC, strlen(END_TOPIC)) == 0) {
            res->ended = true;
            break;
        }
        if (ig && sg_ingest_accept(ig, zmq_msg_data(&topic), zmq_msg_size(&topic),
                                   zmq_msg_data(&body), zmq_msg_size(&body), s_wall_ms(), NULL,
                                   &ev) == SG_DROP_NONE &&
            sg_engine_on_event(eng, &ev, (sg_now_t){(int64_t)(s_mono_s() * 1000), s_wall_ms()}) ==
                0)
            res->accepted++;
        last = s_mono_s();
        if (res->received++ == 0)
            first = last;
    }
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    if (res->received > 1 && last > first)
        res->events_per_s = (double)(res->received - 1) / (last - first);
}

static int s_run_zmq(void *ctx, const msgs_t *msgs, const sg_config_t *cfg, bool with_ingest,
                     result_t *res)
{
    memset(res, 0, sizeof(*res));
    void *pub = NULL, *sub = NULL;
    sg_ingest_t *ig = NULL;
    sg_engine_t *eng = NULL;
    pthread_t th;
    int rc = -1;
    sg_now_t start = {(int64_t)(s_mono_s() * 1000), s_wall_ms()};
    if (with_ingest && (!(ig = sg_ingest_new(cfg)) || !(eng = sg_engine_new(cfg, 0, start))))
        goto fail;
    if (s_open_pair(ctx, &pub, &sub) != 0)
        goto fail;
    publisher_t p = {pub, msgs};
    if (pthread_create(&th, NULL, s_publish, &p) != 0)
        goto fail;
    s_receive(sub, ig, eng, res);
    zmq_close(sub); /* unblocks a publisher still waiting on a full queue */
    sub = NULL;
    pthread_join(th, NULL);
    rc = 0;
fail:
    if (sub)
        zmq_close(sub);
    if (pub)
        zmq_close(pub);
    sg_ingest_destroy(&ig);
    sg_engine_destroy(&eng);
    return rc;
}

/* --- (3): in memory ------------------------------------------------------------ */

static int s_run_memory(const msgs_t *msgs, const sg_config_t *cfg, int64_t now, result_t *res)
{
    memset(res, 0, sizeof(*res));
    sg_ingest_t *ig = sg_ingest_new(cfg);
    sg_engine_t *eng = sg_engine_new(cfg, 0, (sg_now_t){0, now});
    if (!ig || !eng) {
        sg_ingest_destroy(&ig);
        sg_engine_destroy(&eng);
        return -1;
    }
    sg_event_t ev;
    double t0 = s_mono_s();
    for (size_t i = 0; i < msgs->n; i++) {
        if (sg_ingest_accept(ig, "heartbeat", 9, msgs->data + msgs->off[i],
                             msgs->off[i + 1] - msgs->off[i], now, NULL, &ev) == SG_DROP_NONE &&
            sg_engine_on_event(eng, &ev, (sg_now_t){(int64_t)(s_mono_s() * 1000), now}) == 0)
            res->accepted++;
    }
    double t = s_mono_s() - t0;
    res->received = msgs->n;
    res->ended = true;
    res->events_per_s = t > 0 ? (double)msgs->n / t : 0;
    sg_ingest_destroy(&ig);
    sg_engine_destroy(&eng);
    return 0;
}

/* --- report ------------------------------------------------------------------- */

static void s_print_round(const char *name, int round, size_t sent, const result_t *r)
{
    printf("%s round=%d sent=%zu received=%zu accepted=%zu lost=%zu end_marker=%s "
           "events_per_s=%.0f\n",
           name, round, sent, r->received, r->accepted, sent - r->received,
           r->ended ? "yes" : "no", r->events_per_s);
}

static void s_keep_best(result_t *best, const result_t *r)
{
    if (r->events_per_s > best->events_per_s)
        *best = *r;
}

static size_t s_parse_count(int argc, char **argv)
{
    if (argc < 2)
        return DEFAULT_COUNT;
    char *end;
    unsigned long long v = strtoull(argv[1], &end, 10);
    if (*end != '\0' || v < 1000 || v > 100000000ULL) {
        fprintf(stderr, "usage: bench_ingest [COUNT]  (1000 .. 100000000, default %d)\n",
                DEFAULT_COUNT);
        return 0;
    }
    return (size_t)v;
}

int main(int argc, char **argv)
{
    size_t count = s_parse_count(argc, argv);
    if (count == 0)
        return 2;
    sg_config_t cfg;
    s_config(&cfg);
    msgs_t msgs = {0};
    int64_t now = s_wall_ms();
    void *ctx = zmq_ctx_new();
    if (!ctx || s_encode(&msgs, count, now) != 0) {
        fprintf(stderr, "bench_ingest: set-up failed\n");
        return 1;
    }
    printf("bench_ingest count=%zu observers=%d rounds=%d message_bytes=%.1f\n", count,
           N_OBSERVERS, ROUNDS, (double)msgs.off[count] / (double)count);
    result_t r, bare = {0}, pipe = {0}, mem = {0};
    for (int i = 1; i <= ROUNDS; i++) {
        if (s_run_zmq(ctx, &msgs, &cfg, false, &r) == 0) {
            s_print_round("bare_sub", i, count, &r);
            s_keep_best(&bare, &r);
        }
        if (s_run_zmq(ctx, &msgs, &cfg, true, &r) == 0) {
            s_print_round("ingest_pipeline", i, count, &r);
            s_keep_best(&pipe, &r);
        }
    }
    for (int i = 1; i <= ROUNDS; i++) {
        if (s_run_memory(&msgs, &cfg, now, &r) == 0) {
            s_print_round("ingest_only", i, count, &r);
            s_keep_best(&mem, &r);
        }
    }
    double ratio = bare.events_per_s > 0 ? pipe.events_per_s / bare.events_per_s : 0;
    printf("bare_sub best_events_per_s=%.0f\n", bare.events_per_s);
    printf("ingest_pipeline best_events_per_s=%.0f\n", pipe.events_per_s);
    printf("ingest_only best_events_per_s=%.0f\n", mem.events_per_s);
    printf("ingest_pipeline_vs_bare_sub ratio=%.2f target=%.2f met=%s\n", ratio, TARGET_RATIO,
           ratio >= TARGET_RATIO ? "yes" : "no");
    printf("ingest_only_over_1m_per_s value=%s events_per_s=%.0f\n",
           mem.events_per_s > TARGET_RATE ? "yes" : "no", mem.events_per_s);
    zmq_ctx_term(ctx);
    free(msgs.data);
    free(msgs.off);
    return 0;
}
