/* webhook: POSTs each outcome's JSON to a URL.
 *
 * The body is the outcome's JSON exactly as the service renders it. Headers:
 * Content-Type: application/json, X-Siteguard-Event (the kind),
 * X-Siteguard-Dedup-Key, X-Siteguard-Timestamp (Unix seconds of the host's
 * clock at sending), the configured `headers`, and with `hmac_secret`
 * X-Siteguard-Signature: sha256=<hex HMAC-SHA256 of the body under the
 * secret>. The answer's status says how it went (common/result.h). */
#include "siteguard/plugin.h"

#include "common/hmac.h"
#include "common/http.h"
#include "common/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    sg_http_sink_t sink;        /* url (secret), timeout, client */
    const char *hmac_secret;    /* secret; NULL when not set */
    struct curl_slist *headers; /* the configured ones (secret); owned */
} s_webhook_t;

static const sg_plugin_config_key_t s_keys[] = {
    {"url", SG_CFG_STRING, NULL, 1, 1, "http:// or https:// URL the outcomes are POSTed to"},
    {"headers", SG_CFG_STRING, NULL, 0, 1,
     "more request headers: \"X-A: 1; X-B: 2\" (secret: they often carry credentials)"},
    {"hmac_secret", SG_CFG_STRING, NULL, 0, 1,
     "signs each body: X-Siteguard-Signature: sha256=<hex HMAC-SHA256>"},
    {"timeout", SG_CFG_DURATION, "10s", 0, 0, "longest time one request may take"},
};

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

/* The headers of one request for `o` at `now_ms`: the configured ones, the
 * event's, the timestamp and, with a secret, the signature over the body.
 * Pure. Returns a list the caller frees, or NULL when out of memory. */
static struct curl_slist *s_build_headers(const struct curl_slist *configured,
                                          const char *hmac_secret, const sg_outcome_t *o,
                                          int64_t now_ms)
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
    if (s_add_header(&list, "X-Siteguard-Event", sg_text_kind(o->kind)) != 0 ||
        s_add_header(&list, "X-Siteguard-Dedup-Key", o->dedup_key) != 0 ||
        s_add_header(&list, "X-Siteguard-Timestamp", stamp) != 0)
        goto fail;
    if (hmac_secret) {
        char hex[SG_HMAC_HEX_LEN + 1], value[SG_HMAC_HEX_LEN + 8];
        if (sg_hmac_sha256_hex(hmac_secret, strlen(hmac_secret), o->json, strlen(o->json),
                               hex) != 0)
            goto fail;
        snprintf(value, sizeof value, "sha256=%s", hex);
        if (s_add_header(&list, "X-Siteguard-Signature", value) != 0)
            goto fail;
    }
    return list;
fail:
    curl_slist_free_all(list);
    return NULL;
}

static void s_close(void *ctx)
{
    s_webhook_t *w = ctx;
    if (!w)
        return;
    curl_slist_free_all(w->headers);
    sg_http_sink_fini(&w->sink);
    free(w);
}

static int s_init(const sg_plugin_host_t *host, const sg_plugin_option_t *options,
                  size_t n_options, void **ctx)
{
    s_webhook_t *w = calloc(1, sizeof *w);
    if (!w) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "out of memory");
        return -1;
    }
    w->hmac_secret = sg_plugin_option(options, n_options, "hmac_secret");
    if (sg_http_sink_init(&w->sink, host, options, n_options) != 0)
        goto fail;
    if (sg_http_headers_parse(sg_plugin_option(options, n_options, "headers"), &w->headers)) {
        host->log(host, SG_PLUGIN_LOG_ERROR,
                  "headers must read \"Name: value; Name2: value2\"");
        goto fail;
    }
    *ctx = w;
    return 0;
fail:
    s_close(w);
    return -1;
}

static sg_deliver_result_t s_deliver(void *ctx, const sg_outcome_t *o)
{
    s_webhook_t *w = ctx;
    if (!sg_text_outcome_complete(o))
        return SG_DELIVER_FATAL;
    struct curl_slist *headers =
        s_build_headers(w->headers, w->hmac_secret, o, w->sink.host->now_ms(w->sink.host));
    if (!headers)
        return SG_DELIVER_RETRY;
    sg_http_request_t req = {.url = w->sink.url, .content_type = "application/json",
                             .headers = headers, .body = o->json, .body_len = strlen(o->json),
                             .timeout_ms = w->sink.timeout_ms};
    sg_deliver_result_t r = sg_http_deliver(w->sink.http, w->sink.host, o->dedup_key, &req);
    curl_slist_free_all(headers);
    return r;
}

SG_PLUGIN_EXPORT const sg_plugin_t sg_plugin_descriptor = {
    .abi_version = SG_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sg_plugin_t),
    .name = "webhook",
    .description = "POSTs every outcome's JSON to a URL, optionally signed with HMAC-SHA256",
    .config_keys = s_keys,
    .n_config_keys = sizeof s_keys / sizeof s_keys[0],
    .init = s_init,
    .deliver = s_deliver,
    .close = s_close,
};
