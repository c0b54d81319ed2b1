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
 * (RETRY). POSIX only: plain sockets. */
#include "siteguard/plugin.h"

#include "common/text.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum {
    S_UDP_MAX = 2048,  /* RFC 5426: receivers should take 2048 bytes */
    S_TCP_MAX = 65536, /* a bound on one framed message */
};

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
    int fd; /* -1 when not connected */
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
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* connect() within the timeout. */
static int s_connect_fd(int fd, const struct addrinfo *ai, long timeout_ms)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return -1;
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int err = 0;
        socklen_t len = sizeof err;
        rc = poll(&p, 1, (int)timeout_ms) == 1 &&
                     getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0
                 ? 0
                 : -1;
        if (err)
            errno = err;
        else if (rc != 0)
            errno = ETIMEDOUT;
    }
    if (rc != 0 || fcntl(fd, F_SETFL, flags) != 0)
        return -1;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
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
    for (struct addrinfo *ai = res; ai && s->fd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && s_connect_fd(fd, ai, s->timeout_ms) == 0) {
            s->fd = fd;
            break;
        }
        err = errno;
        if (fd >= 0)
            close(fd);
    }
    freeaddrinfo(res);
    if (s->fd < 0)
        s->host->log(s->host, SG_PLUGIN_LOG_WARN, "cannot connect to %s port %s: %s", s->node,
                     s->service, strerror(err));
    return s->fd >= 0 ? 0 : -1;
}

/* Whether a TCP peer closed the connection: it never sends, so anything
 * readable means EOF or an error. */
static int s_peer_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char c;
    return poll(&p, 1, 0) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

static int s_send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static sg_deliver_result_t s_transmit(s_syslog_t *s, const char *msg)
{
    if (s->fd >= 0 && s->tcp && s_peer_gone(s->fd))
        s_disconnect(s);
    if (s->fd < 0 && s_connect(s) != 0)
        return SG_DELIVER_RETRY;
    int rc;
    if (s->tcp) {
        char frame[24];
        snprintf(frame, sizeof frame, "%zu ", strlen(msg));
        rc = s_send_all(s->fd, frame, strlen(frame)) == 0 ? s_send_all(s->fd, msg, strlen(msg)) : -1;
    } else {
        rc = send(s->fd, msg, strlen(msg), MSG_NOSIGNAL) == (ssize_t)strlen(msg) ? 0 : -1;
    }
    if (rc != 0) {
        s->host->log(s->host, SG_PLUGIN_LOG_WARN, "send to %s port %s: %s (will retry)", s->node,
                     s->service, strerror(errno));
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
    free(s->node);
    free(s->service);
    free(s->hostname);
    free(s);
}

static char *s_hostname(const char *configured)
{
    char name[256];
    if (configured)
        return sg_text_printf("%s", configured);
    if (gethostname(name, sizeof name) != 0)
        name[0] = '\0';
    name[sizeof name - 1] = '\0';
    return sg_text_printf("%s", name);
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
    s->fd = -1;
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
                                s->sd_id ? s->sd_id : "siteguard@32473", (long)getpid(),
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
