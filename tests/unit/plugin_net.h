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

/* The request's body, or NULL when no whole request came. */
static inline const char *pn_http_body(const pn_http_t *h)
{
    const char *end = strstr(h->request, "\r\n\r\n");
    return end ? end + 4 : NULL;
}

/* The value of header `name` (copied into out), or NULL. */
static inline const char *pn_http_header(const pn_http_t *h, const char *name, char *out, size_t len)
{
    char key[128];
    snprintf(key, sizeof key, "\r\n%s: ", name);
    const char *p = strstr(h->request, key), *end = p ? strstr(p + 2, "\r\n") : NULL;
    if (!p || !end)
        return NULL;
    p += strlen(key);
    snprintf(out, len, "%.*s", (int)(end - p), p);
    return out;
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

/* Asks the server to stop, waits for it and closes it; the bodies stay
 * until pn_http_many_free. */
static inline void pn_http_many_finish(pn_http_many_t *h)
{
    pn_sock_t c = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c != PN_NO_SOCK);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)h->srv.port);
    assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof a), 0);
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

#endif
