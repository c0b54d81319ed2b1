/* webhook: POSTs outcomes' JSON to a URL.
 *
 * One outcome a request (the default): the body is the outcome's JSON
 * exactly as the service renders it. Headers: Content-Type:
 * application/json, X-Siteguard-Event (the kind), X-Siteguard-Dedup-Key,
 * X-Siteguard-Timestamp (Unix seconds of the host's clock when the request
 * was made), the configured `headers`, and with `hmac_secret`
 * X-Siteguard-Signature: sha256=<hex HMAC-SHA256 of the body under the
 * secret>. The answer's status says how it went (common/result.h).
 *
 * `batch: N` (N > 1): up to N outcomes a request, the body a JSON array of
 * their JSON objects in the order given (each has its `dedup_key`), with
 * X-Siteguard-Batch: <count> instead of X-Siteguard-Event and
 * X-Siteguard-Dedup-Key; the signature covers the whole body. The answer is
 * the result of every outcome in it.
 *
 * The host hands the plugin its batches (deliver_batch): up to
 * `connections` requests are in flight at once, over connections kept open
 * between requests (common/http.h, sg_http_multi_t). Once a request is to
 * be retried, no new one starts: the receiver is failing, and the outcomes
 * not sent are retried with it. */
#include "siteguard/plugin.h"

#include "common/hmac.h"
#include "common/http.h"
#include "common/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    S_MAX_CONNECTIONS = 64, /* `connections` at most */
    S_MAX_BATCH = 1000,     /* `batch` at most */
};

typedef struct {
    sg_http_sink_t sink;        /* url (secret), timeout; no client of its own */
    const char *hmac_secret;    /* secret; NULL when not set */
    struct curl_slist *headers; /* the configured ones (secret); owned */
    long batch;                 /* outcomes a request, at most */
    sg_http_multi_t *multi;     /* `connections` slots; owned */
} s_webhook_t;

static const sg_plugin_config_key_t s_keys[] = {
    {"url", SG_CFG_STRING, NULL, 1, 1, "http:// or https:// URL the outcomes are POSTed to"},
    {"headers", SG_CFG_STRING, NULL, 0, 1,
     "more request headers: \"X-A: 1; X-B: 2\" (secret: they often carry credentials)"},
    {"hmac_secret", SG_CFG_STRING, NULL, 0, 1,
     "signs each body: X-Siteguard-Signature: sha256=<hex HMAC-SHA256>"},
    {"timeout", SG_CFG_DURATION, "10s", 0, 0, "longest time one request may take"},
    {"connections", SG_CFG_INT, "4", 0, 0,
     "requests in flight at once, 1 to 64, each on a connection kept open (1: one at a time)"},
    {"batch", SG_CFG_INT, "1", 0, 0,
     "outcomes a request, 1 to 1000; above 1 the body is a JSON array of them"},
};

/* --- the requests: pure --------------------------------------------------------------- */

/* Copies `value` into a header line "Name: value" with control characters
 * as '?', so data can never end the header early. */
static int s_add_header(struct curl_slist **list, const char *name, const char *value)
{
    char *line = sg_text_printf("%s: %s", name, value ? value : "");
    if (!line)
        return -1;
    for (char *p = line; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    struct curl_slist *next = curl_slist_append(*list, line);
    free(line);
    if (!next)
        return -1;
    *list = next;
    return 0;
}

/* A new list: the configured headers, then X-Siteguard-Timestamp of
 * `now_ms`. NULL when out of memory. */
static struct curl_slist *s_common_headers(const struct curl_slist *configured, int64_t now_ms)
{
    struct curl_slist *list = NULL;
    char stamp[32];
    snprintf(stamp, sizeof stamp, "%lld", (long long)(now_ms / 1000));
    for (const struct curl_slist *l = configured; l; l = l->next) {
        struct curl_slist *next = curl_slist_append(list, l->data);
        if (!next)
            goto fail;
        list = next;
    }
    if (s_add_header(&list, "X-Siteguard-Timestamp", stamp) != 0)
        goto fail;
    return list;
fail:
    curl_slist_free_all(list);
    return NULL;
}

/* Appends X-Siteguard-Signature over `body` under `hmac_secret` (none when
 * NULL). Returns 0 or -1. */
static int s_add_signature(struct curl_slist **list, const char *hmac_secret, const char *body)
{
    if (!hmac_secret)
        return 0;
    char hex[SG_HMAC_HEX_LEN + 1], value[SG_HMAC_HEX_LEN + 8];
    if (sg_hmac_sha256_hex(hmac_secret, strlen(hmac_secret), body, strlen(body), hex) != 0)
        return -1;
    snprintf(value, sizeof value, "sha256=%s", hex);
    return s_add_header(list, "X-Siteguard-Signature", value);
}

/* The headers of the request for `o` alone at `now_ms`: the configured
 * ones, the timestamp, the event's and, with a secret, the signature over
 * the body (o's JSON). Pure. Returns a list the caller frees, or NULL when
 * out of memory. */
static struct curl_slist *s_build_headers(const struct curl_slist *configured,
                                          const char *hmac_secret, const sg_outcome_t *o,
                                          int64_t now_ms)
{
    struct curl_slist *list = s_common_headers(configured, now_ms);
    if (!list || s_add_header(&list, "X-Siteguard-Event", sg_text_kind(o->kind)) != 0 ||
        s_add_header(&list, "X-Siteguard-Dedup-Key", o->dedup_key) != 0 ||
        s_add_signature(&list, hmac_secret, o->json) != 0)
        goto fail;
    return list;
fail:
    curl_slist_free_all(list);
    return NULL;
}

/* The headers of a request carrying `body`, the array of `count` outcomes:
 * the configured ones, the timestamp, X-Siteguard-Batch and, with a
 * secret, the signature over the whole body. Pure; as s_build_headers. */
static struct curl_slist *s_build_batch_headers(const struct curl_slist *configured,
                                                const char *hmac_secret, size_t count,
                                                const char *body, int64_t now_ms)
{
    char n[32];
    snprintf(n, sizeof n, "%lu", (unsigned long)count); /* no %zu: msvcrt's printf */
    struct curl_slist *list = s_common_headers(configured, now_ms);
    if (!list || s_add_header(&list, "X-Siteguard-Batch", n) != 0 ||
        s_add_signature(&list, hmac_secret, body) != 0)
        goto fail;
    return list;
fail:
    curl_slist_free_all(list);
    return NULL;
}

/* The body of a batch: "[" the JSON of outs[0..n), comma separated, "]".
 * Pure. Returns a string the caller frees, or NULL when out of memory. */
static char *s_build_array(const sg_outcome_t *const *outs, size_t n)
{
    size_t len = 2 + (n > 0 ? n - 1 : 0);
    for (size_t i = 0; i < n; i++)
        len += strlen(outs[i]->json);
    char *body = malloc(len + 1), *p = body;
    if (!body)
        return NULL;
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(outs[i]->json);
        if (i > 0)
            *p++ = ',';
        memcpy(p, outs[i]->json, l);
        p += l;
    }
    *p++ = ']';
    *p = '\0';
    return body;
}

/* --- one call's requests ------------------------------------------------------------------ */

/* The requests of one deliver_batch call; every array has one entry per
 * request, and all of it is owned here (s_call_fini), but the outcomes. */
typedef struct {
    sg_http_request_t *reqs;      /* bodies: `bodies[r]`, or the outcome's own JSON */
    struct curl_slist **headers;  /* owned */
    char **bodies;                /* owned; NULL: the single outcome's JSON */
    char **whats;                 /* owned: the log's name of the request */
    size_t *first, *count;        /* its outcomes: sendable[first .. first + count) */
    sg_deliver_result_t *results; /* the request's */
    size_t n;
    const sg_outcome_t **sendable; /* the complete outcomes, in order (borrowed) */
    size_t *index;                 /* ... and each one's index in the call */
} s_call_t;

static void s_call_fini(s_call_t *c)
{
    for (size_t r = 0; r < c->n; r++) {
        curl_slist_free_all(c->headers[r]);
        free(c->bodies[r]);
        free(c->whats[r]);
    }
    free(c->reqs);
    free(c->headers);
    free(c->bodies);
    free(c->whats);
    free(c->first);
    free(c->count);
    free(c->results);
    free(c->sendable);
    free(c->index);
    memset(c, 0, sizeof *c);
}

/* Room for `n` outcomes in up to `n` requests. Returns 0 or -1. */
static int s_call_alloc(s_call_t *c, size_t n)
{
    size_t k = n ? n : 1;
    c->reqs = calloc(k, sizeof *c->reqs);
    c->headers = calloc(k, sizeof *c->headers);
    c->bodies = calloc(k, sizeof *c->bodies);
    c->whats = calloc(k, sizeof *c->whats);
    c->first = calloc(k, sizeof *c->first);
    c->count = calloc(k, sizeof *c->count);
    c->results = calloc(k, sizeof *c->results);
    c->sendable = calloc(k, sizeof *c->sendable);
    c->index = calloc(k, sizeof *c->index);
    return c->reqs && c->headers && c->bodies && c->whats && c->first && c->count &&
                   c->results && c->sendable && c->index
               ? 0
               : -1;
}

/* Makes request r of the call over sendable[first .. first + count). */
static int s_call_request(const s_webhook_t *w, s_call_t *c, size_t r, size_t first,
                          size_t count, int64_t now_ms)
{
    const sg_outcome_t *const *outs = c->sendable + first;
    c->first[r] = first;
    c->count[r] = count;
    if (w->batch <= 1) {
        c->headers[r] = s_build_headers(w->headers, w->hmac_secret, outs[0], now_ms);
        c->whats[r] = sg_text_printf("%s", outs[0]->dedup_key ? outs[0]->dedup_key : "?");
    } else {
        c->bodies[r] = s_build_array(outs, count);
        c->headers[r] = c->bodies[r] ? s_build_batch_headers(w->headers, w->hmac_secret, count,
                                                             c->bodies[r], now_ms)
                                     : NULL;
        c->whats[r] = sg_text_printf("batch of %lu from %s", (unsigned long)count,
                                     outs[0]->dedup_key ? outs[0]->dedup_key : "?");
    }
    const char *body = c->bodies[r] ? c->bodies[r] : outs[0]->json;
    c->reqs[r] = (sg_http_request_t){.url = w->sink.url, .content_type = "application/json",
                                     .headers = c->headers[r], .body = body,
                                     .body_len = strlen(body), .timeout_ms = w->sink.timeout_ms};
    return c->headers[r] && c->whats[r] ? 0 : -1;
}

/* Plans the call over outs[0..n): an incomplete outcome is FATAL at once,
 * the others go in requests of up to `batch`, in order. Returns 0 or -1
 * (out of memory). */
static int s_call_plan(const s_webhook_t *w, s_call_t *c, const sg_outcome_t *const *outs,
                       size_t n, sg_deliver_result_t *results)
{
    if (s_call_alloc(c, n) != 0)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!sg_text_outcome_complete(outs[i])) {
            results[i] = SG_DELIVER_FATAL;
            continue;
        }
        c->sendable[k] = outs[i];
        c->index[k++] = i;
    }
    int64_t now_ms = w->sink.host->now_ms(w->sink.host);
    size_t per = w->batch > 1 ? (size_t)w->batch : 1;
    for (size_t first = 0; first < k; first += per) {
        size_t count = k - first < per ? k - first : per;
        int rc = s_call_request(w, c, c->n++, first, count, now_ms);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* --- the plugin ------------------------------------------------------------------------ */

static void s_close(void *ctx)
{
    s_webhook_t *w = ctx;
    if (!w)
        return;
    sg_http_multi_destroy(&w->multi);
    curl_slist_free_all(w->headers);
    sg_http_sink_fini(&w->sink);
    free(w);
}

/* An int option within [lo, hi] into *out; -1 after logging when not. */
static int s_int_option(const sg_plugin_host_t *host, const sg_plugin_option_t *options,
                        size_t n_options, const char *key, long lo, long hi, long *out)
{
    const char *v = sg_plugin_option(options, n_options, key);
    *out = v ? strtol(v, NULL, 10) : lo;
    if (*out >= lo && *out <= hi)
        return 0;
    host->log(host, SG_PLUGIN_LOG_ERROR, "%s must be from %ld to %ld, not %ld", key, lo, hi, *out);
    return -1;
}

static int s_init(const sg_plugin_host_t *host, const sg_plugin_option_t *options,
                  size_t n_options, void **ctx)
{
    s_webhook_t *w = calloc(1, sizeof *w);
    if (!w) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "out of memory");
        return -1;
    }
    long connections = 0;
    w->hmac_secret = sg_plugin_option(options, n_options, "hmac_secret");
    if (sg_http_sink_options(&w->sink, host, options, n_options) != 0)
        goto fail;
    if (sg_http_headers_parse(sg_plugin_option(options, n_options, "headers"), &w->headers)) {
        host->log(host, SG_PLUGIN_LOG_ERROR,
                  "headers must read \"Name: value; Name2: value2\"");
        goto fail;
    }
    if (s_int_option(host, options, n_options, "connections", 1, S_MAX_CONNECTIONS,
                     &connections) != 0 ||
        s_int_option(host, options, n_options, "batch", 1, S_MAX_BATCH, &w->batch) != 0)
        goto fail;
    if (!(w->multi = sg_http_multi_new((size_t)connections))) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "cannot start libcurl");
        goto fail;
    }
    *ctx = w;
    return 0;
fail:
    s_close(w);
    return -1;
}

static void s_deliver_batch(void *ctx, const sg_outcome_t *const *outs, size_t n,
                            sg_deliver_result_t *results)
{
    s_webhook_t *w = ctx;
    s_call_t c = {0};
    for (size_t i = 0; i < n; i++)
        results[i] = SG_DELIVER_RETRY;
    if (s_call_plan(w, &c, outs, n, results) != 0) {
        w->sink.host->log(w->sink.host, SG_PLUGIN_LOG_ERROR,
                          "out of memory while making %lu requests; will retry",
                          (unsigned long)n);
        s_call_fini(&c);
        return;
    }
    (void)sg_http_multi_deliver(w->multi, w->sink.host, (const char *const *)c.whats, c.reqs,
                                c.n, c.results);
    for (size_t r = 0; r < c.n; r++) {
        for (size_t k = c.first[r]; k < c.first[r] + c.count[r]; k++)
            results[c.index[k]] = c.results[r];
    }
    s_call_fini(&c);
}

static sg_deliver_result_t s_deliver(void *ctx, const sg_outcome_t *o)
{
    sg_deliver_result_t r = SG_DELIVER_RETRY;
    s_deliver_batch(ctx, &o, 1, &r);
    return r;
}

SG_PLUGIN_EXPORT const sg_plugin_t sg_plugin_descriptor = {
    .abi_version = SG_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sg_plugin_t),
    .name = "webhook",
    .description = "POSTs outcomes' JSON to a URL, several at once and optionally batched, "
                   "optionally signed with HMAC-SHA256",
    .config_keys = s_keys,
    .n_config_keys = sizeof s_keys / sizeof s_keys[0],
    .init = s_init,
    .deliver = s_deliver,
    .close = s_close,
    .deliver_batch = s_deliver_batch,
};
