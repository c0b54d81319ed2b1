/* Loopback receivers for the plugins' unit tests, on POSIX sockets or
 * Winsock: a TCP or UDP socket on 127.0.0.1 with a port the system picks,
 * and a one-request HTTP server on its own thread. Every wait gives up after
 * PN_WAIT_MS, so a test that breaks fails instead of hanging. Include after
 * cmocka.h. */
#ifndef SG_TEST_PLUGIN_NET_H
#define SG_TEST_PLUGIN_NET_H

#if defined(_WIN32)
#include <winsock2.h>
#include <ws2tcpip.h>
typedef SOCKET pn_sock_t;
#define PN_NO_SOCK INVALID_SOCKET
#define pn_close_sock closesocket
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>
typedef int pn_sock_t;
#define PN_NO_SOCK (-1)
#define pn_close_sock close
#endif

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PN_WAIT_MS = 10000, PN_MAX = 65536 };

typedef struct {
    pn_sock_t fd;
    int port;
} pn_server_t;

/* Whether fd becomes readable (a datagram, data or a connection) in time. */
static inline int pn_readable(pn_sock_t fd)
{
    fd_set r;
    FD_ZERO(&r);
    FD_SET(fd, &r);
    struct timeval tv = {PN_WAIT_MS / 1000, 0};
    return select((int)fd + 1, &r, NULL, NULL, &tv) == 1;
}

/* A socket of `type` (SOCK_STREAM, listening, or SOCK_DGRAM) on 127.0.0.1. */
static inline pn_server_t pn_listen(int type)
{
#if defined(_WIN32)
    WSADATA wsa;
    assert_int_equal(WSAStartup(MAKEWORD(2, 2), &wsa), 0);
#endif
    pn_server_t s = {socket(AF_INET, type, 0), 0};
    assert_true(s.fd != PN_NO_SOCK);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_int_equal(bind(s.fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s.fd, (struct sockaddr *)&a, &len), 0);
    if (type == SOCK_STREAM)
        assert_int_equal(listen(s.fd, 4), 0);
    s.port = ntohs(a.sin_port);
    return s;
}

static inline void pn_stop(pn_server_t *s)
{
    if (s->fd != PN_NO_SOCK)
        pn_close_sock(s->fd);
    s->fd = PN_NO_SOCK;
#if defined(_WIN32)
    WSACleanup();
#endif
}

/* "udp://127.0.0.1:PORT" and the like, into out. */
static inline void pn_url(const pn_server_t *s, const char *scheme, const char *path, char *out,
                   size_t len)
{
    snprintf(out, len, "%s://127.0.0.1:%d%s", scheme, s->port, path);
}

/* One datagram into buf (NUL-terminated); its length, or -1. */
static inline int pn_recv_datagram(pn_server_t *s, char *buf, size_t len)
{
    if (!pn_readable(s->fd))
        return -1;
    int n = (int)recv(s->fd, buf, (int)len - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

/* Reads from fd into buf until `done` says the text is whole, the peer
 * closes, or the wait ends; returns the length (buf NUL-terminated). */
static inline size_t pn_read(pn_sock_t fd, char *buf, size_t len,
                             int (*done)(const char *, size_t))
{
    size_t got = 0;
    buf[0] = '\0';
    while (got + 1 < len && !(done && done(buf, got)) && pn_readable(fd)) {
        int n = (int)recv(fd, buf + got, (int)(len - 1 - got), 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
    }
    return got;
}

/* Accepts one connection and reads it until `done` or its end. The
 * connection is closed after. Returns the length read. */
static inline size_t pn_accept_read(pn_server_t *s, char *buf, size_t len,
                             int (*done)(const char *, size_t))
{
    buf[0] = '\0';
    if (!pn_readable(s->fd))
        return 0;
    pn_sock_t c = accept(s->fd, NULL, NULL);
    if (c == PN_NO_SOCK)
        return 0;
    size_t n = pn_read(c, buf, len, done);
    pn_close_sock(c);
    return n;
}

/* --- one HTTP request ------------------------------------------------------------ */

/* What the answer's body holds: nothing, or what came (a receiver that
 * quotes the request in its error, as some do). */
typedef enum { PN_ECHO_NONE = 0, PN_ECHO_HEAD, PN_ECHO_BODY } pn_echo_t;

typedef struct {
    pn_server_t srv;
    int status;          /* the answer's status */
    pn_echo_t echo;
    char request[PN_MAX]; /* what came: request line, headers, body */
    size_t len;
    pthread_t thread;
} pn_http_t;

/* Whether an HTTP request is whole: its headers and Content-Length bytes
 * (libcurl spells the header so). */
static inline int pn_http_whole(const char *text, size_t len)
{
    const char *end = strstr(text, "\r\n\r\n");
    if (!end)
        return 0;
    const char *cl = strstr(text, "\r\nContent-Length: ");
    size_t body = cl && cl < end ? (size_t)strtoul(cl + 18, NULL, 10) : 0;
    return len >= (size_t)(end + 4 - text) + body;
}

static inline void *pn_http_main(void *arg)
{
    pn_http_t *h = arg;
    if (!pn_readable(h->srv.fd))
        return NULL;
    pn_sock_t c = accept(h->srv.fd, NULL, NULL);
    if (c == PN_NO_SOCK)
        return NULL;
    h->len = pn_read(c, h->request, sizeof h->request, pn_http_whole);
    const char *end = strstr(h->request, "\r\n\r\n");
    const char *body = h->echo == PN_ECHO_HEAD ? h->request : end && h->echo ? end + 4 : "";
    size_t body_len = h->echo == PN_ECHO_HEAD ? (end ? (size_t)(end - h->request) : h->len)
                                              : strlen(body);
    char answer[128];
    int n = snprintf(answer, sizeof answer,
                     "HTTP/1.1 %d Test\r\nContent-Length: %lu\r\nConnection: close\r\n\r\n",
                     h->status, (unsigned long)body_len);
    send(c, answer, n, 0);
    if (body_len > 0)
        send(c, body, (int)body_len, 0);
    pn_close_sock(c);
    return NULL;
}

/* Starts a server that takes one request and answers `status`, with `echo`
 * as the answer's body. */
static inline void pn_http_start_echo(pn_http_t *h, int status, pn_echo_t echo)
{
    memset(h, 0, sizeof *h);
    h->srv = pn_listen(SOCK_STREAM);
    h->status = status;
    h->echo = echo;
    assert_int_equal(pthread_create(&h->thread, NULL, pn_http_main, h), 0);
}

/* Starts a server that takes one request and answers `status`. */
static inline void pn_http_start(pn_http_t *h, int status)
{
    pn_http_start_echo(h, status, PN_ECHO_NONE);
}

/* Waits for the request to be answered and closes the server. */
static inline void pn_http_finish(pn_http_t *h)
{
    pthread_join(h->thread, NULL);
    pn_stop(&h->srv);
}

/* The body of the request text `req`, or NULL when it has no end of headers. */
static inline const char *pn_req_body(const char *req)
{
    const char *end = strstr(req, "\r\n\r\n");
    return end ? end + 4 : NULL;
}

/* The value of header `name` of the request text `req` (copied into out), or
 * NULL. */
static inline const char *pn_req_header(const char *req, const char *name, char *out, size_t len)
{
    char key[128];
    snprintf(key, sizeof key, "\r\n%s: ", name);
    const char *p = strstr(req, key), *end = p ? strstr(p + 2, "\r\n") : NULL;
    if (!p || !end)
        return NULL;
    p += strlen(key);
    snprintf(out, len, "%.*s", (int)(end - p), p);
    return out;
}

/* The request's body, or NULL when no whole request came. */
static inline const char *pn_http_body(const pn_http_t *h)
{
    return pn_req_body(h->request);
}

/* The value of header `name` (copied into out), or NULL. */
static inline const char *pn_http_header(const pn_http_t *h, const char *name, char *out, size_t len)
{
    return pn_req_header(h->request, name, out, len);
}

/* --- several HTTP requests ---------------------------------------------------------- */

enum { PN_MANY_MAX = 64 };

/* A server that answers each request with `status` (and Connection: close)
 * and keeps the bodies, one connection at a time, until a GET of /stop
 * (pn_http_many_finish) or no connection for PN_WAIT_MS. */
typedef struct {
    pn_server_t srv;
    int status;
    char *bodies[PN_MANY_MAX]; /* owned; the first PN_MANY_MAX */
    size_t n;                  /* requests answered, the stop excepted */
    pthread_t thread;
} pn_http_many_t;

/* Takes one request on the connection `c` and answers it; 1 when it was the
 * stop. */
static inline int pn_http_many_one(pn_http_many_t *h, pn_sock_t c, char *req)
{
    pn_read(c, req, PN_MAX, pn_http_whole);
    int stop = strncmp(req, "GET /stop ", 10) == 0;
    const char *end = strstr(req, "\r\n\r\n");
    if (!stop && end) {
        if (h->n < PN_MANY_MAX)
            h->bodies[h->n] = strdup(end + 4);
        h->n++;
    }
    char answer[128];
    int len = snprintf(answer, sizeof answer,
                       "HTTP/1.1 %d Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                       stop ? 200 : h->status);
    send(c, answer, len, 0);
    return stop;
}

static inline void *pn_http_many_main(void *arg)
{
    pn_http_many_t *h = arg;
    char *req = malloc(PN_MAX);
    for (int stop = 0; req && !stop && pn_readable(h->srv.fd);) {
        pn_sock_t c = accept(h->srv.fd, NULL, NULL);
        if (c == PN_NO_SOCK)
            break;
        stop = pn_http_many_one(h, c, req);
        pn_close_sock(c);
    }
    free(req);
    return NULL;
}

static inline void pn_http_many_start(pn_http_many_t *h, int status)
{
    memset(h, 0, sizeof *h);
    h->srv = pn_listen(SOCK_STREAM);
    h->status = status;
    assert_int_equal(pthread_create(&h->thread, NULL, pn_http_many_main, h), 0);
}

/* A TCP connection to 127.0.0.1:port (the test fails when it cannot be made). */
static inline pn_sock_t pn_dial(int port)
{
    pn_sock_t c = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c != PN_NO_SOCK);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)port);
    assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    return c;
}

/* Asks the server to stop, waits for it and closes it; the bodies stay
 * until pn_http_many_free. */
static inline void pn_http_many_finish(pn_http_many_t *h)
{
    pn_sock_t c = pn_dial(h->srv.port);
    static const char stop[] = "GET /stop HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    send(c, stop, (int)sizeof stop - 1, 0);
    char answer[256];
    pn_read(c, answer, sizeof answer, NULL);
    pn_close_sock(c);
    pthread_join(h->thread, NULL);
    pn_stop(&h->srv);
}

static inline void pn_http_many_free(pn_http_many_t *h)
{
    for (size_t i = 0; i < PN_MANY_MAX; i++) {
        free(h->bodies[i]);
        h->bodies[i] = NULL;
    }
}

/* --- concurrent requests over kept-alive connections ----------------------------------- */

enum { PN_POOL_CONNS = 16, PN_POOL_REQS = 256, PN_POOL_RULES = 8 };

/* The answer to a request that holds `needle` (in its headers or body). */
typedef struct {
    const char *needle;
    int status;
} pn_rule_t;

typedef struct pn_pool pn_pool_t;

/* One connection of a pool: the thread that answers on it. */
typedef struct {
    pn_pool_t *pool;
    pn_sock_t fd;
    pthread_t thread;
} pn_conn_t;

/* An HTTP/1.1 server that keeps connections open (no Connection: close), a
 * thread per connection, so requests come at once. Each is answered with
 * the status of the first rule whose needle it holds, else `status`. With
 * `gate` > 0 no request is answered before `gate` of them are in hand at
 * once (or PN_WAIT_MS passed: a test that broke fails, it does not hang).
 * It counts the connections it accepted and the most requests in hand at
 * once, and keeps every request whole in order of arrival. Set rules and
 * gate between pn_pool_init and pn_pool_start. */
struct pn_pool {
    pn_server_t srv;
    int status;
    pn_rule_t rules[PN_POOL_RULES];
    size_t n_rules;
    size_t gate;
    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cv;
    int gate_open, stop;
    size_t in_hand, max_in_hand;
    char *requests[PN_POOL_REQS]; /* owned; the first PN_POOL_REQS */
    size_t n;                     /* requests taken */
    pn_conn_t conns[PN_POOL_CONNS];
    size_t n_conns; /* connections accepted */
    pthread_t accept_thread;
};

static inline void pn_pool_init(pn_pool_t *p, int status)
{
    memset(p, 0, sizeof *p);
    p->status = status;
    assert_int_equal(pthread_mutex_init(&p->mu, NULL), 0);
    assert_int_equal(pthread_cond_init(&p->cv, NULL), 0);
}

static inline void pn_pool_rule(pn_pool_t *p, const char *needle, int status)
{
    assert_true(p->n_rules < PN_POOL_RULES);
    p->rules[p->n_rules++] = (pn_rule_t){needle, status};
}

/* Takes one whole request (under the lock): keeps it, counts it in hand,
 * waits at the gate; returns its status. */
static inline int pn_pool_take(pn_pool_t *p, const char *req)
{
    if (p->n < PN_POOL_REQS)
        p->requests[p->n] = strdup(req);
    p->n++;
    if (++p->in_hand > p->max_in_hand)
        p->max_in_hand = p->in_hand;
    if (p->gate && p->in_hand >= p->gate)
        p->gate_open = 1;
    pthread_cond_broadcast(&p->cv);
    struct timespec until = {time(NULL) + PN_WAIT_MS / 1000, 0};
    while (p->gate && !p->gate_open) {
        if (pthread_cond_timedwait(&p->cv, &p->mu, &until) != 0)
            break;
    }
    p->gate_open = 1;
    for (size_t i = 0; i < p->n_rules; i++) {
        if (strstr(req, p->rules[i].needle))
            return p->rules[i].status;
    }
    return p->status;
}

/* Answers the requests of one connection until the peer closes it. */
static inline void *pn_pool_conn_main(void *arg)
{
    pn_conn_t *c = arg;
    pn_pool_t *p = c->pool;
    char *req = malloc(PN_MAX);
    for (size_t len; req && (len = pn_read(c->fd, req, PN_MAX, pn_http_whole)) > 0;) {
        if (!pn_http_whole(req, len))
            break;
        pthread_mutex_lock(&p->mu);
        int status = pn_pool_take(p, req);
        pthread_mutex_unlock(&p->mu);
        char answer[128];
        int n = snprintf(answer, sizeof answer,
                         "HTTP/1.1 %d Test\r\nContent-Length: 0\r\n\r\n", status);
        int sent = (int)send(c->fd, answer, n, 0);
        pthread_mutex_lock(&p->mu);
        p->in_hand--;
        pthread_mutex_unlock(&p->mu);
        if (sent != n)
            break;
    }
    free(req);
    pn_close_sock(c->fd);
    return NULL;
}

static inline int pn_pool_stopping(pn_pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    int stop = p->stop;
    pthread_mutex_unlock(&p->mu);
    return stop;
}

/* Accepts connections (a thread each, up to PN_POOL_CONNS) until stopped. */
static inline void *pn_pool_accept_main(void *arg)
{
    pn_pool_t *p = arg;
    while (!pn_pool_stopping(p)) {
        if (!pn_readable(p->srv.fd))
            continue;
        pn_sock_t fd = accept(p->srv.fd, NULL, NULL);
        if (fd == PN_NO_SOCK)
            break;
        pthread_mutex_lock(&p->mu);
        pn_conn_t *c = !p->stop && p->n_conns < PN_POOL_CONNS ? &p->conns[p->n_conns] : NULL;
        if (c) {
            c->pool = p;
            c->fd = fd;
            if (pthread_create(&c->thread, NULL, pn_pool_conn_main, c) == 0)
                p->n_conns++;
            else
                c = NULL;
        }
        pthread_mutex_unlock(&p->mu);
        if (!c)
            pn_close_sock(fd);
    }
    return NULL;
}

/* Listens on 127.0.0.1 and starts taking connections. */
static inline void pn_pool_start(pn_pool_t *p)
{
    p->srv = pn_listen(SOCK_STREAM);
    assert_int_equal(pthread_create(&p->accept_thread, NULL, pn_pool_accept_main, p), 0);
}

/* Stops taking connections, and waits for those taken to be closed by
 * their peers (close the client first) or to be idle for PN_WAIT_MS. */
static inline void pn_pool_finish(pn_pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_mutex_unlock(&p->mu);
    pn_sock_t c = pn_dial(p->srv.port); /* wakes the accepting thread */
    pthread_join(p->accept_thread, NULL);
    pn_close_sock(c);
    for (size_t i = 0; i < p->n_conns; i++)
        pthread_join(p->conns[i].thread, NULL);
    pn_stop(&p->srv);
}

static inline void pn_pool_free(pn_pool_t *p)
{
    for (size_t i = 0; i < PN_POOL_REQS; i++) {
        free(p->requests[i]);
        p->requests[i] = NULL;
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
}

/* The one request that holds `needle`, or a failed test. */
static inline const char *pn_pool_find(const pn_pool_t *p, const char *needle)
{
    const char *found = NULL;
    for (size_t i = 0; i < p->n && i < PN_POOL_REQS; i++) {
        if (!strstr(p->requests[i], needle))
            continue;
        if (found)
            fail_msg("more than one request holds \"%s\"", needle);
        found = p->requests[i];
    }
    if (!found)
        fail_msg("no request holds \"%s\"", needle);
    return found;
}

#endif
