/* libFuzzer target for what the HTTP sinks make of a receiver's answer
 * (plugins/common: http.h, result.h). No plugin parses an answer's body:
 * libcurl reads the status line and headers, sg_http_send keeps the start
 * of an error answer's body as the error text, and sg_result_http maps the
 * status (sg_result_smtp the SMTP reply) to OK, RETRY or FATAL.
 *
 * The first byte picks the mode, the rest is the answer:
 *   0  the answer, sent raw by a receiver on loopback to sg_http_send:
 *      the result must be sg_result_http of the transfer's code and status;
 *      an error text kept from a body is at most 200 bytes with no control
 *      characters; no error text names the URL's path (it holds a secret);
 *   1  the same through sg_http_deliver: one warning exactly when the
 *      delivery did not go through, never with the URL's path;
 *   2  the answer's first eight bytes as a transfer code and a status or
 *      SMTP reply: both mappings must keep result.h's promises (2xx
 *      delivered, 408, 429, 5xx and no status retried, a transport error
 *      never delivered; SMTP 4xx retried, 5xx dead).
 * Nothing may crash, leak or hang (the receiver always ends its answer). */
#include "common/http.h"
#include "common/result.h"
#define FZ_PLUGIN_HOST
#include "fuzz.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define S_SECRET "SECRET-3f9c2a"
#define S_BODY "{\"kind\":\"site_lost\"}"
#define S_REQ_MAX 65536

/* The receiver: one thread, one connection at a time, answering each with
 * the current answer and closing its side. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int listen_fd;
    uint16_t port;
    uint8_t *answer; /* a copy of the input's; owned under mu */
    size_t answer_len;
    uint64_t served; /* connections ended */
} s_rx = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, -1, 0, NULL, 0, 0};

/* Reads the request: its headers and Content-Length bytes of body. */
static void s_read_request(int fd)
{
    static char buf[S_REQ_MAX + 1];
    size_t have = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + have, S_REQ_MAX - have, 0);
        if (n <= 0)
            return;
        have += (size_t)n;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        const char *cl = strstr(buf, "Content-Length: ");
        size_t body = cl && cl < end ? strtoul(cl + 16, NULL, 10) : 0;
        if (have >= (size_t)(end + 4 - buf) + body || have == S_REQ_MAX)
            return;
    }
}

static void s_serve(int fd)
{
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    s_read_request(fd);
    pthread_mutex_lock(&s_rx.mu);
    size_t len = s_rx.answer_len;
    uint8_t *copy = malloc(len ? len : 1);
    FZ_CHECK(copy != NULL);
    memcpy(copy, s_rx.answer ? s_rx.answer : copy, len);
    pthread_mutex_unlock(&s_rx.mu);
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, copy + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(copy);
    shutdown(fd, SHUT_WR);
    char sink[4096];
    while (recv(fd, sink, sizeof sink, 0) > 0) /* until the client closes: no reset */
        ;
    close(fd);
}

static void *s_receiver(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(s_rx.listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        s_serve(fd);
        pthread_mutex_lock(&s_rx.mu);
        s_rx.served++;
        pthread_cond_broadcast(&s_rx.cv);
        pthread_mutex_unlock(&s_rx.mu);
    }
    return NULL;
}

static void s_start_receiver(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    s_rx.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    FZ_CHECK(s_rx.listen_fd >= 0 && bind(s_rx.listen_fd, (struct sockaddr *)&a, sizeof a) == 0 &&
           listen(s_rx.listen_fd, 8) == 0 &&
           getsockname(s_rx.listen_fd, (struct sockaddr *)&a, &alen) == 0);
    s_rx.port = ntohs(a.sin_port);
    pthread_t t;
    FZ_CHECK(pthread_create(&t, NULL, s_receiver, NULL) == 0);
    pthread_detach(t);
}

static int s_warnings;
static bool s_echoed; /* the answer holds the secret: a log line may quote it */

static void fz_plugin_log(int level, const char *line)
{
    FZ_CHECK(level == SG_PLUGIN_LOG_WARN && (s_echoed || !strstr(line, S_SECRET)));
    s_warnings++;
}

/* What result.h promises of any transfer code and status or SMTP reply. */
static void s_mapping(const uint8_t *data, size_t size)
{
    uint8_t b[8] = {0};
    memcpy(b, data, size < 8 ? size : 8);
    int code = (int)(b[0] | (uint32_t)b[1] << 8) - 64;
    long status = (long)(int32_t)((uint32_t)b[2] | (uint32_t)b[3] << 8 | (uint32_t)b[4] << 16 |
                                  (uint32_t)b[5] << 24);
    if (b[6] & 1)
        status %= 1000; /* mostly statuses that exist */
    sg_deliver_result_t h = sg_result_http(code, status), m = sg_result_smtp(code, status);
    FZ_CHECK(h == SG_DELIVER_OK || h == SG_DELIVER_RETRY || h == SG_DELIVER_FATAL);
    FZ_CHECK(m == SG_DELIVER_OK || m == SG_DELIVER_RETRY || m == SG_DELIVER_FATAL);
    if (code != CURLE_OK) /* a transport error: never delivered, mostly retried */
        FZ_CHECK(h != SG_DELIVER_OK && (h == SG_DELIVER_RETRY || code == CURLE_URL_MALFORMAT ||
                                        code == CURLE_UNSUPPORTED_PROTOCOL ||
                                        code == CURLE_NOT_BUILT_IN));
    else if (status >= 200 && status <= 299)
        FZ_CHECK(h == SG_DELIVER_OK);
    else if (status == 0 || status == 408 || status == 429 || (status >= 500 && status <= 599))
        FZ_CHECK(h == SG_DELIVER_RETRY);
    else
        FZ_CHECK(h != SG_DELIVER_OK);
    if (status >= 400 && status <= 599) /* an SMTP reply decides, whatever the transfer */
        FZ_CHECK(m == (status < 500 ? SG_DELIVER_RETRY : SG_DELIVER_FATAL));
    else if (code == CURLE_OK)
        FZ_CHECK(m == SG_DELIVER_OK);
    else
        FZ_CHECK(m != SG_DELIVER_OK);
}

/* Waits until the receiver has ended `n` connections (at most 5 s). */
static void s_wait_served(uint64_t n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&s_rx.mu);
    while (s_rx.served < n && pthread_cond_timedwait(&s_rx.cv, &s_rx.mu, &until) == 0)
        ;
    free(s_rx.answer);
    s_rx.answer = NULL;
    s_rx.answer_len = 0;
    pthread_mutex_unlock(&s_rx.mu);
}

static bool s_clean_text(const char *t)
{
    for (; *t; t++)
        if ((unsigned char)*t < 0x20 || *t == 0x7f)
            return false;
    return true;
}

static void s_exchange(int mode, const uint8_t *answer, size_t len)
{
    /* an answer may echo the secret itself: then only it can be blamed */
    bool echoed = false;
    for (size_t i = 0; !echoed && i + strlen(S_SECRET) <= len; i++)
        echoed = memcmp(answer + i, S_SECRET, strlen(S_SECRET)) == 0;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/hooks/" S_SECRET, (unsigned)s_rx.port);
    sg_http_request_t req = {.url = url, .content_type = "application/json", .body = S_BODY,
                             .body_len = strlen(S_BODY), .timeout_ms = 3000};
    pthread_mutex_lock(&s_rx.mu);
    s_rx.answer = malloc(len ? len : 1);
    FZ_CHECK(s_rx.answer != NULL);
    memcpy(s_rx.answer, answer, len);
    s_rx.answer_len = len;
    uint64_t served = s_rx.served;
    pthread_mutex_unlock(&s_rx.mu);

    sg_http_t *h = sg_http_new(); /* a new connection for every answer */
    FZ_CHECK(h != NULL);
    if (mode == 0) {
        sg_http_response_t resp;
        sg_deliver_result_t r = sg_http_send(h, &req, &resp);
        FZ_CHECK(r == sg_result_http(resp.curl_code, resp.status));
        const char *err = sg_http_error(h);
        FZ_CHECK(strlen(err) < CURL_ERROR_SIZE && (echoed || !strstr(err, S_SECRET)));
        if (resp.curl_code == CURLE_OK && (resp.status < 200 || resp.status > 299))
            FZ_CHECK(strlen(err) <= 200 && s_clean_text(err));
    } else {
        s_warnings = 0;
        s_echoed = echoed;
        sg_deliver_result_t r = sg_http_deliver(h, &fz_host, "fuzz", &req);
        FZ_CHECK(r == SG_DELIVER_OK || r == SG_DELIVER_RETRY || r == SG_DELIVER_FATAL);
        FZ_CHECK(s_warnings == (r == SG_DELIVER_OK ? 0 : 1));
    }
    sg_http_destroy(&h);
    s_wait_served(served + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (s_rx.listen_fd < 0) {
        FZ_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
        s_start_receiver();
    }
    if (size == 0)
        return 0;
    int mode = data[0] % 3;
    if (mode == 2)
        s_mapping(data + 1, size - 1);
    else
        s_exchange(mode, data + 1, size - 1);
    return 0;
}
