/* sg-probe: publishes heartbeats (and optionally reachability) for one
 * observer, for demos and for tests that simulate site loss with a real
 * process.
 *
 *   sg-probe --endpoint tcp://127.0.0.1:7711 [--bind] --observer obs-a --site A
 *            [--interval 200] [--count N] [--reach SITE=up|down|HOST:PORT ...]
 *            [--reach-timeout MS] [--listen HOST:PORT] [--wait-peers MS]
 *            [--key-file FILE --server-key KEY] [--quiet]
 *
 * With --key-file (this observer's secret key file, as `siteguardctl keygen
 * --out FILE` writes it; its public key is the observer's public_key in the
 * service's config) and --server-key (the service's bus public key, as Z85
 * text or a file holding it) the probe publishes over CURVE, as a bus with
 * bus.curve requires.
 *
 * Each message is two frames: the topic ("heartbeat" or "reachability") and
 * a packed siteguard.health.v1.Event (schema 1, incarnation = wall-clock ms at
 * start, seq from 1, sent_at_ms = wall-clock ms).
 *
 * Reachability: with --reach SITE=HOST:PORT the probe really checks, each
 * interval, whether a TCP connection to that address can be opened (up, with
 * its latency) or not (down) within --reach-timeout (default half the
 * interval, at most 1000 ms); SITE=up|down reports a fixed state. With
 * --listen HOST:PORT the probe accepts such connections, standing in for its
 * site's reachable endpoint: when the probe dies, the site becomes
 * unreachable to the others. With --wait-peers MS, probes started together
 * wait (up to MS) until every address they check accepts a connection
 * before they publish: a first check no longer races the other probes'
 * listeners and reports a live site down.
 *
 * Signals: SIGTERM/SIGINT stop it (exit 0); SIGUSR1 toggles "silent": it keeps
 * running but publishes nothing until the next SIGUSR1.
 *
 * Links only the generated protocol code, the CURVE key reader
 * (control/curvekey.c) and libzmq. */
#include "control/curvekey.h"
#include "proto/health.pb-c.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_EXIT_USAGE 2
#define S_SNDHWM 1000
#define S_LINGER_MS 500 /* bounded: close never hangs longer */

typedef struct {
    char *site;
    bool up;                 /* the fixed state, without an address */
    bool probe;              /* check addr by a TCP connection */
    bool last_down;          /* the last check's answer (a log line on each change) */
    struct sockaddr_in addr;
} s_reach_t;

typedef struct {
    const char *endpoint;
    bool bind;
    const char *observer;
    const char *site;
    long interval_ms;
    long count; /* 0: no limit */
    long reach_timeout_ms; /* 0: half the interval, at most 1000 */
    long wait_peers_ms;    /* 0: publish at once */
    s_reach_t *reach;
    size_t n_reach;
    const char *listen;
    const char *key_file;   /* CURVE: this observer's secret key file */
    const char *server_key; /* CURVE: the service's public key, or a file holding it */
    bool quiet;
} s_args_t;

static volatile sig_atomic_t s_stop;
static volatile sig_atomic_t s_silent;

static void s_on_stop(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_on_toggle(int sig)
{
    (void)sig;
    s_silent = !s_silent;
}

static int s_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = s_on_stop; /* no SA_RESTART: sleeps and polls return early */
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = s_on_toggle;
    return sigaction(SIGUSR1, &sa, NULL);
}

/* --- arguments --------------------------------------------------------------- */

static void s_usage(FILE *f)
{
    fputs("usage: sg-probe --endpoint ENDPOINT [--bind] --observer ID --site SITE\n"
          "                [--interval MS] [--count N] [--reach SITE=up|down|HOST:PORT ...]\n"
          "                [--reach-timeout MS] [--listen HOST:PORT] [--wait-peers MS]\n"
          "                [--key-file FILE --server-key KEY] [--quiet]\n"
          "  --endpoint  ZeroMQ endpoint; connected to unless --bind is given\n"
          "  --interval  milliseconds between heartbeats (default 200)\n"
          "  --count     stop after N heartbeats (default: run until SIGTERM/SIGINT)\n"
          "  --reach     also publish reachability of SITE each interval (repeatable): a fixed\n"
          "              state, or whether a TCP connection to HOST:PORT opens\n"
          "  --reach-timeout  milliseconds a TCP check may take before it reports down\n"
          "              (default half the interval, at most 1000)\n"
          "  --wait-peers  before publishing, wait up to MS until every --reach address\n"
          "              accepts a connection (probes started together)\n"
          "  --listen    accept TCP connections on HOST:PORT (the site's reachable endpoint)\n"
          "  --key-file  publish over CURVE with this observer's secret key file (siteguardctl\n"
          "              keygen --out FILE; its public key is the observer's public_key)\n"
          "  --server-key  the service's bus public key (Z85, or a file holding it)\n"
          "  --quiet     no start-up line on stderr\n"
          "SIGUSR1 toggles silence (the process keeps running but publishes nothing).\n",
          f);
}

static int s_parse_long(const char *text, long min, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min)
        return -1;
    *out = v;
    return 0;
}

/* "127.0.0.1:7801" into an IPv4 socket address. */
static int s_parse_addr(const char *text, struct sockaddr_in *out)
{
    const char *colon = strrchr(text, ':');
    char host[64];
    long port;
    if (!colon || colon == text || (size_t)(colon - text) >= sizeof(host))
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    if (s_parse_long(colon + 1, 1, &port) != 0 || port > 65535)
        return -1;
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static int s_parse_reach(s_args_t *a, const char *text)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text)
        return -1;
    bool up = false, probe = false;
    struct sockaddr_in addr;
    if (strcmp(eq + 1, "up") == 0)
        up = true;
    else if (strcmp(eq + 1, "down") == 0)
        up = false;
    else if (s_parse_addr(eq + 1, &addr) == 0)
        probe = true;
    else
        return -1;
    s_reach_t *r = realloc(a->reach, (a->n_reach + 1) * sizeof(*r));
    if (!r)
        return -1;
    a->reach = r;
    s_reach_t item = {.site = strndup(text, (size_t)(eq - text)), .up = up, .probe = probe};
    if (!item.site)
        return -1;
    if (probe)
        item.addr = addr;
    r[a->n_reach++] = item;
    return 0;
}

/* Options that take a value; returns 0, or -1 for an unknown or bad option. */
static int s_parse_valued(s_args_t *a, const char *opt, const char *val)
{
    if (strcmp(opt, "--endpoint") == 0)
        a->endpoint = val;
    else if (strcmp(opt, "--observer") == 0)
        a->observer = val;
    else if (strcmp(opt, "--site") == 0)
        a->site = val;
    else if (strcmp(opt, "--interval") == 0)
        return s_parse_long(val, 1, &a->interval_ms);
    else if (strcmp(opt, "--count") == 0)
        return s_parse_long(val, 1, &a->count);
    else if (strcmp(opt, "--reach") == 0)
        return s_parse_reach(a, val);
    else if (strcmp(opt, "--reach-timeout") == 0)
        return s_parse_long(val, 1, &a->reach_timeout_ms);
    else if (strcmp(opt, "--listen") == 0)
        a->listen = val;
    else if (strcmp(opt, "--wait-peers") == 0)
        return s_parse_long(val, 1, &a->wait_peers_ms);
    else if (strcmp(opt, "--key-file") == 0)
        a->key_file = val;
    else if (strcmp(opt, "--server-key") == 0)
        a->server_key = val;
    else
        return -1;
    return 0;
}

static int s_parse_args(s_args_t *a, int argc, char **argv)
{
    a->interval_ms = 200;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--bind") == 0)
            a->bind = true;
        else if (strcmp(opt, "--quiet") == 0)
            a->quiet = true;
        else if (i + 1 >= argc || s_parse_valued(a, opt, argv[++i]) != 0)
            return -1;
    }
    if (!a->endpoint || !a->observer || !a->site || !*a->endpoint || !*a->observer || !*a->site)
        return -1;
    return !a->key_file == !a->server_key ? 0 : -1; /* CURVE needs both */
}

static void s_args_fini(s_args_t *a)
{
    for (size_t i = 0; i < a->n_reach; i++)
        free(a->reach[i].site);
    free(a->reach);
}

/* --- publishing ---------------------------------------------------------------- */

typedef struct {
    const s_args_t *args;
    int listen_fd; /* -1 without --listen */
    void *sock;
    uint64_t incarnation;
    uint64_t seq;
    uint8_t *buf;
    size_t buf_cap;
} s_probe_t;

static int64_t s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_envelope(s_probe_t *p, Siteguard__Health__V1__Event *ev)
{
    siteguard__health__v1__event__init(ev);
    ev->schema = 1;
    ev->observer = (char *)p->args->observer;
    ev->site = (char *)p->args->site;
    ev->seq = ++p->seq;
    ev->sent_at_ms = s_wall_ms();
    ev->incarnation = p->incarnation;
}

/* Sends topic + packed event. A PUB socket never blocks: at the high-water
 * mark the message is dropped, as a lost heartbeat would be. */
static int s_send(s_probe_t *p, const char *topic, const Siteguard__Health__V1__Event *ev)
{
    size_t n = siteguard__health__v1__event__get_packed_size(ev);
    if (n > p->buf_cap) {
        uint8_t *b = realloc(p->buf, n);
        if (!b)
            return -1;
        p->buf = b;
        p->buf_cap = n;
    }
    siteguard__health__v1__event__pack(ev, p->buf);
    if (zmq_send(p->sock, topic, strlen(topic), ZMQ_SNDMORE) < 0)
        return errno == EINTR ? 0 : -1;
    if (zmq_send(p->sock, p->buf, n, 0) < 0)
        return errno == EINTR ? 0 : -1;
    return 0;
}

static int64_t s_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The time a TCP check may take: --reach-timeout, or half the interval, at
 * most 1000 ms. */
static int s_reach_timeout(const s_args_t *a)
{
    long ms = a->reach_timeout_ms ? a->reach_timeout_ms
                                  : (a->interval_ms < 2000 ? a->interval_ms / 2 : 1000);
    return ms > 60000 ? 60000 : (int)ms;
}

/* What a TCP check found. */
typedef enum { S_CHECK_UP = 0, S_CHECK_DOWN, S_CHECK_STOPPED } s_check_t;

/* Waits for the connection in progress on fd until t0_us + timeout_ms; a
 * signal does not cut the wait short, a stop request does. */
static s_check_t s_await_connect(int fd, int64_t t0_us, int timeout_ms, int *err)
{
    for (;;) {
        int64_t left = (t0_us + (int64_t)timeout_ms * 1000 - s_mono_us() + 999) / 1000;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int n = poll(&pfd, 1, left > 0 ? (int)left : 0);
        if (n < 0 && errno == EINTR && !s_stop)
            continue;
        if (n < 0 && errno == EINTR)
            return S_CHECK_STOPPED;
        if (n <= 0) {
            *err = n == 0 ? ETIMEDOUT : errno;
            return S_CHECK_DOWN;
        }
        socklen_t len = sizeof(*err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) != 0)
            *err = errno;
        return *err == 0 ? S_CHECK_UP : S_CHECK_DOWN;
    }
}

/* Opens and closes a TCP connection to addr within timeout_ms: up, with
 * the time it took in *latency_us; down, with the reason in *err; or
 * stopped (the probe is asked to stop: no answer). */
static s_check_t s_tcp_check(const struct sockaddr_in *addr, int timeout_ms,
                             uint32_t *latency_us, int *err)
{
    int64_t t0 = s_mono_us();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    *err = 0;
    *latency_us = 0;
    if (fd < 0) {
        *err = errno;
        return S_CHECK_DOWN;
    }
    s_check_t res = S_CHECK_UP;
    if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0)
        res = errno == EINPROGRESS ? s_await_connect(fd, t0, timeout_ms, err)
                                   : (*err = errno, S_CHECK_DOWN);
    close(fd);
    if (res == S_CHECK_UP)
        *latency_us = (uint32_t)(s_mono_us() - t0);
    return res;
}

/* Says on stderr when a site's check turns down (with the reason) or up
 * again: a person reading the probe's log sees why it reported what it did. */
static void s_note_check(const s_probe_t *p, s_reach_t *want, bool up, int err)
{
    if (p->args->quiet || up != want->last_down)
        return;
    want->last_down = !up;
    if (up)
        fprintf(stderr, "sg-probe: %s is reachable again\n", want->site);
    else
        fprintf(stderr, "sg-probe: %s unreachable: %s\n", want->site, strerror(err));
}

static int s_beat(s_probe_t *p)
{
    Siteguard__Health__V1__Event ev;
    Siteguard__Health__V1__Heartbeat hb;
    siteguard__health__v1__heartbeat__init(&hb);
    hb.interval_ms = (uint32_t)p->args->interval_ms;
    s_envelope(p, &ev);
    ev.body_case = SITEGUARD__HEALTH__V1__EVENT__BODY_HEARTBEAT;
    ev.heartbeat = &hb;
    if (s_send(p, "heartbeat", &ev) != 0)
        return -1;
    for (size_t i = 0; i < p->args->n_reach && !s_stop; i++) {
        Siteguard__Health__V1__Reachability r;
        siteguard__health__v1__reachability__init(&r);
        s_reach_t *want = &p->args->reach[i];
        r.target_site = want->site;
        r.up = want->up;
        if (want->probe) {
            int err = 0;
            s_check_t res = s_tcp_check(&want->addr, s_reach_timeout(p->args), &r.latency_us, &err);
            if (res == S_CHECK_STOPPED)
                break; /* asked to stop mid-check: it found nothing to report */
            r.up = res == S_CHECK_UP;
            s_note_check(p, want, r.up, err);
        }
        s_envelope(p, &ev);
        ev.body_case = SITEGUARD__HEALTH__V1__EVENT__BODY_REACHABILITY;
        ev.reachability = &r;
        if (s_send(p, "reachability", &ev) != 0)
            return -1;
    }
    return 0;
}

/* Reads subscription notices; the first one tells that a subscriber listens. */
static bool s_drain_subscriptions(void *sock)
{
    bool any = false;
    char buf[256];
    while (zmq_recv(sock, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
        any = true;
    return any;
}

/* Waits up to one interval for a first subscriber, so the first heartbeat is
 * not lost to the subscription handshake; publishes anyway after that. */
static void s_await_subscriber(s_probe_t *p)
{
    zmq_pollitem_t item = {.socket = p->sock, .events = ZMQ_POLLIN};
    if (zmq_poll(&item, 1, p->args->interval_ms) > 0)
        s_drain_subscriptions(p->sock);
}

static void s_deadline_add(struct timespec *t, long ms)
{
    t->tv_sec += ms / 1000;
    t->tv_nsec += (ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

/* Accepts and closes waiting connections: the site answers its probers. */
static void s_accept_all(s_probe_t *p)
{
    if (p->listen_fd < 0)
        return;
    int fd;
    while ((fd = accept(p->listen_fd, NULL, NULL)) >= 0)
        close(fd);
}

static int s_open_listener(const char *text)
{
    struct sockaddr_in addr;
    int one = 1;
    if (s_parse_addr(text, &addr) != 0)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 64) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* --wait-peers: until every checked address accepts a connection (or the
 * time is up, or a stop), accepting the peers' own checks meanwhile. */
static void s_wait_peers(s_probe_t *p)
{
    int64_t until = s_mono_us() + p->args->wait_peers_ms * 1000;
    while (!s_stop && s_mono_us() < until) {
        bool all = true;
        for (size_t i = 0; all && i < p->args->n_reach; i++) {
            uint32_t latency;
            int err;
            const s_reach_t *r = &p->args->reach[i];
            all = !r->probe || s_tcp_check(&r->addr, 100, &latency, &err) == S_CHECK_UP;
        }
        if (all)
            return;
        s_accept_all(p);
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int s_run(s_probe_t *p)
{
    long sent = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!s_stop) {
        s_drain_subscriptions(p->sock);
        s_accept_all(p);
        if (!s_silent) {
            if (s_beat(p) != 0) {
                fprintf(stderr, "sg-probe: send failed: %s\n", zmq_strerror(zmq_errno()));
                return -1;
            }
            if (p->args->count > 0 && ++sent >= p->args->count)
                break;
        }
        s_deadline_add(&next, p->args->interval_ms);
        while (!s_stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
    }
    return 0;
}

/* With --key-file: makes sock a CURVE client of the service. 0, or -1 with
 * the reason printed. */
static int s_curve(void *sock, const s_args_t *a)
{
    sg_curvekey_client_t keys;
    char err[512];
    int rc = 0;
    if (!a->key_file)
        return 0;
    if (sg_curvekey_client(a->server_key, a->key_file, &keys, err, sizeof(err)) != 0) {
        fprintf(stderr, "sg-probe: %s\n", err);
        rc = -1;
    } else if (sg_curvekey_set_client(sock, &keys) != 0) {
        fprintf(stderr, "sg-probe: cannot set the CURVE keys: %s\n", zmq_strerror(zmq_errno()));
        rc = -1;
    }
    memset(&keys, 0, sizeof(keys));
    return rc;
}

static void *s_open_socket(void *ctx, const s_args_t *a)
{
    /* XPUB publishes like PUB and also reports subscriptions (see above). */
    void *sock = zmq_socket(ctx, ZMQ_XPUB);
    if (!sock)
        return NULL;
    int linger = S_LINGER_MS, hwm = S_SNDHWM;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    if (s_curve(sock, a) != 0) {
        zmq_close(sock);
        return NULL;
    }
    int rc = a->bind ? zmq_bind(sock, a->endpoint) : zmq_connect(sock, a->endpoint);
    if (rc != 0) {
        fprintf(stderr, "sg-probe: %s %s: %s\n", a->bind ? "bind" : "connect", a->endpoint,
                zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        s_usage(stdout);
        return 0;
    }
    s_args_t args;
    memset(&args, 0, sizeof(args));
    if (s_parse_args(&args, argc, argv) != 0) {
        s_usage(stderr);
        s_args_fini(&args);
        return S_EXIT_USAGE;
    }
    int rc = 1;
    s_probe_t p = {.args = &args, .listen_fd = -1, .incarnation = (uint64_t)s_wall_ms()};
    void *ctx = zmq_ctx_new();
    if (!ctx || s_install_signals() != 0)
        goto fail;
    if (args.listen && (p.listen_fd = s_open_listener(args.listen)) < 0) {
        fprintf(stderr, "sg-probe: cannot listen on %s: %s\n", args.listen, strerror(errno));
        goto fail;
    }
    p.sock = s_open_socket(ctx, &args);
    if (!p.sock)
        goto fail;
    if (!args.quiet)
        fprintf(stderr, "sg-probe: %s (site %s) -> %s every %ld ms%s\n", args.observer,
                args.site, args.endpoint, args.interval_ms, args.key_file ? " (CURVE)" : "");
    s_wait_peers(&p);
    s_await_subscriber(&p);
    if (s_run(&p) == 0)
        rc = 0;
fail:
    if (p.listen_fd >= 0)
        close(p.listen_fd);
    if (p.sock)
        zmq_close(p.sock);
    if (ctx)
        zmq_ctx_term(ctx);
    free(p.buf);
    s_args_fini(&args);
    return rc;
}
