/* syslog: RFC 5424 messages over UDP (RFC 5426, one datagram each) or TCP
 * (RFC 6587 octet counting: "<length> <message>"), to `address`.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID k="v" ...] MSG
 *
 * PRI is facility * 8 + severity (critical 2, warning 4, info 6); TIMESTAMP
 * the outcome's time; MSGID its kind; the structured data element `sd_id`
 * carries run_id, kind, severity, site, replica_site, collection and
 * dedup_key (those set); MSG is the summary, without a BOM. A UDP message is
 * cut to 2048 bytes. UDP says nothing of arrival: a datagram handed to the
 * kernel is OK. A TCP connection is kept, and made again after an error
 * (RETRY). Plain sockets: BSD sockets on POSIX, Winsock on Windows (the
 * few calls that differ are under "the platform" below). */
#include "siteguard/plugin.h"

#include "common/sys.h"
#include "common/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#endif

enum {
    S_UDP_MAX = 2048,  /* RFC 5426: receivers should take 2048 bytes */
    S_TCP_MAX = 65536, /* a bound on one framed message */
};

/* --- the platform ---------------------------------------------------------------------- */

#if defined(_WIN32)
typedef SOCKET s_sock_t;
#define S_NO_SOCK INVALID_SOCKET
#define S_SEND_FLAGS 0
#define S_PEEK_FLAGS 0 /* polled readable first, so recv does not block */
typedef WSAPOLLFD s_pollfd_t;
static int s_poll(s_pollfd_t *p, unsigned n, int ms) { return WSAPoll(p, n, ms); }
static void s_sock_close(s_sock_t fd) { closesocket(fd); }
static int s_sock_error(void) { return WSAGetLastError(); }
static int s_in_progress(int err) { return err == WSAEWOULDBLOCK || err == WSAEINPROGRESS; }
static int s_interrupted(int err) { return err == WSAEINTR; }
static int s_timed_out_error(void) { return WSAETIMEDOUT; }
/* 1 when a connecting socket is done (connected or failed), 0 at the
 * timeout, -1 on error. select, which also reports a refused connection
 * (through the exception set) on every Windows version. */
static int s_wait_connected(s_sock_t fd, long ms)
{
    fd_set w, e;
    FD_ZERO(&w);
    FD_ZERO(&e);
    FD_SET(fd, &w);
    FD_SET(fd, &e);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    int n = select(0, NULL, &w, &e, &tv);
    return n > 0 ? 1 : n;
}
static int s_net_start(void)
{
    WSADATA wsa;
    return WSAStartup(MAKEWORD(2, 2), &wsa) == 0 ? 0 : -1;
}
static void s_net_stop(void) { WSACleanup(); }
static int s_set_blocking(s_sock_t fd, int blocking)
{
    u_long nonblocking = blocking ? 0 : 1;
    return ioctlsocket(fd, FIONBIO, &nonblocking) == 0 ? 0 : -1;
}
static int s_set_send_timeout(s_sock_t fd, long ms)
{
    DWORD v = (DWORD)ms;
    return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, (const char *)&v, sizeof v);
}
static s_sock_t s_socket(const struct addrinfo *ai)
{
    /* WSASocket without WSA_FLAG_OVERLAPPED and not inherited by children */
    return WSASocketW(ai->ai_family, ai->ai_socktype, ai->ai_protocol, NULL, 0,
                      WSA_FLAG_NO_HANDLE_INHERIT);
}
/* The words of a Winsock error; "error N" when Windows has none. */
static const char *s_error_text(int err, char *buf, size_t len)
{
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                             (DWORD)err, 0, buf, (DWORD)len, NULL);
    while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == '\n' || buf[n - 1] == '.'))
        buf[--n] = '\0';
    if (n == 0)
        snprintf(buf, len, "error %d", err);
    return buf;
}
#else
typedef int s_sock_t;
#define S_NO_SOCK (-1)
#define S_SEND_FLAGS MSG_NOSIGNAL
#define S_PEEK_FLAGS MSG_DONTWAIT
typedef struct pollfd s_pollfd_t;
static int s_poll(s_pollfd_t *p, unsigned n, int ms) { return poll(p, n, ms); }
static void s_sock_close(s_sock_t fd) { close(fd); }
static int s_sock_error(void) { return errno; }
static int s_in_progress(int err) { return err == EINPROGRESS; }
static int s_interrupted(int err) { return err == EINTR; }
static int s_timed_out_error(void) { return ETIMEDOUT; }
static int s_wait_connected(s_sock_t fd, long ms)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n;
    while ((n = poll(&p, 1, (int)ms)) < 0 && errno == EINTR)
        ;
    return n > 0 ? 1 : n;
}
static int s_net_start(void) { return 0; }
static void s_net_stop(void) {}
static int s_set_blocking(s_sock_t fd, int blocking)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -1;
    return fcntl(fd, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK);
}
static int s_set_send_timeout(s_sock_t fd, long ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}
static s_sock_t s_socket(const struct addrinfo *ai)
{
    return socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
}
static const char *s_error_text(int err, char *buf, size_t len)
{
    snprintf(buf, len, "%s", strerror(err));
    return buf;
}
#endif

/* --- the sink ---------------------------------------------------------------------------- */

typedef struct {
    const sg_plugin_host_t *host;
    int tcp;
    char *node;    /* owned: host part of address */
    char *service; /* owned: port */
    int facility;
    const char *app_name;
    char *hostname; /* owned */
    const char *sd_id;
    long timeout_ms;
    s_sock_t fd; /* S_NO_SOCK when not connected */
    int net_started; /* Winsock started by init (always 1 on POSIX) */
} s_syslog_t;

static const sg_plugin_config_key_t s_keys[] = {
    {"address", SG_CFG_STRING, NULL, 1, 0, "udp://host:port or tcp://host:port"},
    {"app_name", SG_CFG_STRING, "siteguard", 0, 0, "APP-NAME of every message"},
    {"facility", SG_CFG_STRING, "daemon", 0, 0, "facility name (daemon, local0..local7, ...) or 0-23"},
    {"hostname", SG_CFG_STRING, NULL, 0, 0, "HOSTNAME of every message; default: this host's name"},
    {"sd_id", SG_CFG_STRING, "siteguard@32473", 0, 0, "SD-ID of the structured data element"},
    {"timeout", SG_CFG_DURATION, "5s", 0, 0, "longest time a TCP connect or send may take"},
};

/* --- the message (pure) ------------------------------------------------------------- */

static int s_severity_code(sg_severity_t s)
{
    switch (s) {
    case SG_SEVERITY_CRITICAL: return 2;
    case SG_SEVERITY_WARNING: return 4;
    default: return 6;
    }
}

/* A header field: printable ASCII only ('_' for anything else), at most
 * `max` bytes, "-" (NILVALUE) when empty. Caller frees. */
static char *s_header_field(const char *text, size_t max)
{
    char *f = sg_text_printf("%s", text && *text ? text : "-");
    if (!f)
        return NULL;
    for (char *p = f; *p; p++) {
        if ((unsigned char)*p < 33 || (unsigned char)*p > 126)
            *p = '_';
    }
    if (strlen(f) > max)
        f[max] = '\0';
    return f;
}

/* Appends ` name="value"` with '"', '\' and ']' escaped and control
 * characters as spaces. */
static int s_param(char **sd, const char *name, const char *value)
{
    if (!value)
        return 0;
    size_t len = strlen(*sd), vlen = strlen(value);
    char *grown = realloc(*sd, len + strlen(name) + 2 * vlen + 6);
    if (!grown)
        return -1;
    *sd = grown;
    char *q = grown + len;
    q += sprintf(q, " %s=\"", name);
    for (const char *p = value; *p; p++) {
        if (*p == '"' || *p == '\\' || *p == ']')
            *q++ = '\\';
        *q++ = ((unsigned char)*p < 0x20 || *p == 0x7f) ? ' ' : *p;
    }
    *q++ = '"';
    *q = '\0';
    return 0;
}

/* "[sd_id run_id="9" ...]". Caller frees. */
static char *s_structured_data(const sg_outcome_t *o, const char *sd_id)
{
    char run[32];
    snprintf(run, sizeof run, "%llu", (unsigned long long)o->run_id);
    char *id = s_header_field(sd_id, 32);
    char *sd = id ? sg_text_printf("[%s", id) : NULL;
    free(id);
    if (!sd || s_param(&sd, "run_id", run) != 0 || s_param(&sd, "kind", sg_text_kind(o->kind)) ||
        s_param(&sd, "severity", sg_text_severity(o->severity)) != 0 ||
        s_param(&sd, "site", o->site) != 0 || s_param(&sd, "replica_site", o->replica_site) != 0 ||
        s_param(&sd, "collection", o->collection) != 0 ||
        s_param(&sd, "dedup_key", o->dedup_key) != 0) {
        free(sd);
        return NULL;
    }
    char *closed = sg_text_printf("%s]", sd);
    free(sd);
    return closed;
}

/* The RFC 5424 message for `o`, cut to `max` bytes at a character boundary.
 * Pure. Returns the text (caller frees) or NULL when out of memory. */
static char *s_build_message(const sg_outcome_t *o, int facility, const char *hostname,
                             const char *app_name, const char *sd_id, long procid, size_t max)
{
    char when[SG_TEXT_TIME_LEN];
    sg_text_rfc3339(o->time_ms, when);
    char *host = s_header_field(hostname, 255), *app = s_header_field(app_name, 48);
    char *sd = s_structured_data(o, sd_id), *summary = sg_text_summary(o, 0);
    char *msg = NULL;
    if (host && app && sd && summary)
        msg = sg_text_printf("<%d>1 %s %s %s %ld %s %s %s", facility * 8 + s_severity_code(o->severity),
                             when, host, app, procid, sg_text_kind(o->kind), sd, summary);
    if (msg)
        sg_text_cut_utf8(msg, max);
    free(host);
    free(app);
    free(sd);
    free(summary);
    return msg;
}

/* --- options ---------------------------------------------------------------------------- */

static int s_parse_facility(const char *text, int *out)
{
    static const char *names[] = {"kern", "user", "mail", "daemon", "auth", "syslog",
                                  "lpr", "news", "uucp", "cron", "authpriv", "ftp"};
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++) {
        if (strcmp(text, names[i]) == 0)
            return *out = i, 0;
    }
    if (strncmp(text, "local", 5) == 0 && text[5] >= '0' && text[5] <= '7' && !text[6])
        return *out = 16 + (text[5] - '0'), 0;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (*text && !*end && v >= 0 && v <= 23)
        return *out = (int)v, 0;
    return -1;
}

/* "udp://host:port", "tcp://[::1]:port" into s->tcp, node, service. */
static int s_parse_address(s_syslog_t *s, const char *address)
{
    const char *rest;
    if (strncmp(address, "udp://", 6) == 0)
        s->tcp = 0, rest = address + 6;
    else if (strncmp(address, "tcp://", 6) == 0)
        s->tcp = 1, rest = address + 6;
    else
        return -1;
    const char *colon = strrchr(rest, ':');
    if (!colon || colon == rest || !colon[1])
        return -1;
    const char *host = rest;
    size_t host_len = (size_t)(colon - rest);
    if (host[0] == '[' && host_len >= 2 && host[host_len - 1] == ']')
        host++, host_len -= 2;
    s->node = sg_text_printf("%.*s", (int)host_len, host);
    s->service = sg_text_printf("%s", colon + 1);
    return s->node && s->service && host_len > 0 ? 0 : -1;
}

/* --- the connection -------------------------------------------------------------------- */

static void s_disconnect(s_syslog_t *s)
{
    if (s->fd != S_NO_SOCK)
        s_sock_close(s->fd);
    s->fd = S_NO_SOCK;
}

/* connect() within the timeout. Returns 0, or an error number. */
static int s_connect_fd(s_sock_t fd, const struct addrinfo *ai, long timeout_ms)
{
    if (s_set_blocking(fd, 0) != 0)
        return s_sock_error();
    int err = 0;
    if (connect(fd, ai->ai_addr, (int)ai->ai_addrlen) != 0 && !s_in_progress(err = s_sock_error()))
        return err;
    if (err != 0) {
        int n = s_wait_connected(fd, timeout_ms);
        socklen_t len = sizeof err;
        err = 0;
        if (n < 0)
            return s_sock_error();
        if (n == 0)
            return s_timed_out_error();
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, (char *)&err, &len) != 0)
            return s_sock_error();
        if (err != 0)
            return err;
    }
    if (s_set_blocking(fd, 1) != 0 || s_set_send_timeout(fd, timeout_ms) != 0)
        return s_sock_error();
    return 0;
}

static int s_connect(s_syslog_t *s)
{
    struct addrinfo hints = {.ai_socktype = s->tcp ? SOCK_STREAM : SOCK_DGRAM}, *res = NULL;
    int gai = getaddrinfo(s->node, s->service, &hints, &res);
    if (gai != 0) {
        s->host->log(s->host, SG_PLUGIN_LOG_WARN, "cannot resolve %s: %s", s->node,
                     gai_strerror(gai));
        return -1;
    }
    int err = 0;
    for (struct addrinfo *ai = res; ai && s->fd == S_NO_SOCK; ai = ai->ai_next) {
        s_sock_t fd = s_socket(ai);
        if (fd == S_NO_SOCK) {
            err = s_sock_error();
            continue;
        }
        if ((err = s_connect_fd(fd, ai, s->timeout_ms)) == 0)
            s->fd = fd;
        else
            s_sock_close(fd);
    }
    freeaddrinfo(res);
    if (s->fd == S_NO_SOCK) {
        char why[256];
        s->host->log(s->host, SG_PLUGIN_LOG_WARN, "cannot connect to %s port %s: %s", s->node,
                     s->service, s_error_text(err, why, sizeof why));
    }
    return s->fd != S_NO_SOCK ? 0 : -1;
}

/* Whether a TCP peer closed the connection: it never sends, so anything
 * readable means EOF or an error. */
static int s_peer_gone(s_sock_t fd)
{
    s_pollfd_t p = {.fd = fd, .events = POLLIN};
    char c;
    return s_poll(&p, 1, 0) == 1 && recv(fd, &c, 1, S_PEEK_FLAGS) <= 0;
}

/* Sends all of data; 0, or an error number. */
static int s_send_all(s_sock_t fd, const char *data, size_t len)
{
    while (len > 0) {
        int chunk = len > 65536 ? 65536 : (int)len;
        int n = (int)send(fd, data, chunk, S_SEND_FLAGS);
        int err = n < 0 ? s_sock_error() : 0;
        if (n < 0 && s_interrupted(err))
            continue;
        if (n <= 0)
            return n < 0 ? err : s_timed_out_error();
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static sg_deliver_result_t s_transmit(s_syslog_t *s, const char *msg)
{
    if (s->fd != S_NO_SOCK && s->tcp && s_peer_gone(s->fd))
        s_disconnect(s);
    if (s->fd == S_NO_SOCK && s_connect(s) != 0)
        return SG_DELIVER_RETRY;
    size_t len = strlen(msg);
    int err;
    if (s->tcp) {
        char frame[24];
        snprintf(frame, sizeof frame, "%lu ", (unsigned long)len);
        err = s_send_all(s->fd, frame, strlen(frame));
        if (err == 0)
            err = s_send_all(s->fd, msg, len);
    } else {
        int n = (int)send(s->fd, msg, (int)len, S_SEND_FLAGS);
        err = n == (int)len ? 0 : n < 0 ? s_sock_error() : s_timed_out_error();
    }
    if (err != 0) {
        char why[256];
        s->host->log(s->host, SG_PLUGIN_LOG_WARN, "send to %s port %s: %s (will retry)", s->node,
                     s->service, s_error_text(err, why, sizeof why));
        s_disconnect(s);
        return SG_DELIVER_RETRY;
    }
    return SG_DELIVER_OK;
}

/* --- the plugin -------------------------------------------------------------------------- */

static void s_close(void *ctx)
{
    s_syslog_t *s = ctx;
    if (!s)
        return;
    s_disconnect(s);
    if (s->net_started)
        s_net_stop();
    free(s->node);
    free(s->service);
    free(s->hostname);
    free(s);
}

static char *s_hostname(const char *configured)
{
    return configured ? sg_text_printf("%s", configured) : sg_sys_hostname("");
}

static int s_init(const sg_plugin_host_t *host, const sg_plugin_option_t *options,
                  size_t n_options, void **ctx)
{
    const char *address = sg_plugin_option(options, n_options, "address");
    const char *facility = sg_plugin_option(options, n_options, "facility");
    const char *timeout = sg_plugin_option(options, n_options, "timeout");
    s_syslog_t *s = calloc(1, sizeof *s);
    if (!s) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "out of memory");
        return -1;
    }
    s->host = host;
    s->fd = S_NO_SOCK;
    if (s_net_start() != 0) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "cannot start the network (WSAStartup)");
        goto fail;
    }
    s->net_started = 1;
    s->app_name = sg_plugin_option(options, n_options, "app_name");
    s->sd_id = sg_plugin_option(options, n_options, "sd_id");
    s->timeout_ms = timeout ? strtol(timeout, NULL, 10) : 5000;
    if (!address || s_parse_address(s, address) != 0) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "address must read udp://host:port or tcp://host:port");
        goto fail;
    }
    if (s_parse_facility(facility ? facility : "daemon", &s->facility) != 0) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "facility must be a facility name or 0 to 23");
        goto fail;
    }
    if (!(s->hostname = s_hostname(sg_plugin_option(options, n_options, "hostname"))))
        goto fail;
    *ctx = s;
    return 0;
fail:
    s_close(s);
    return -1;
}

static sg_deliver_result_t s_deliver(void *ctx, const sg_outcome_t *o)
{
    s_syslog_t *s = ctx;
    char *msg = s_build_message(o, s->facility, s->hostname, s->app_name,
                                s->sd_id ? s->sd_id : "siteguard@32473", sg_sys_pid(),
                                s->tcp ? S_TCP_MAX : S_UDP_MAX);
    if (!msg)
        return SG_DELIVER_RETRY;
    sg_deliver_result_t r = s_transmit(s, msg);
    free(msg);
    return r;
}

SG_PLUGIN_EXPORT const sg_plugin_t sg_plugin_descriptor = {
    .abi_version = SG_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sg_plugin_t),
    .name = "syslog",
    .description = "sends RFC 5424 syslog messages over UDP or TCP",
    .config_keys = s_keys,
    .n_config_keys = sizeof s_keys / sizeof s_keys[0],
    .init = s_init,
    .deliver = s_deliver,
    .close = s_close,
};
