/* http: requests over a reused libcurl handle. */
#include "common/http.h"
#include "common/result.h"
#include "common/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S_BODY_KEEP = 200 }; /* bytes of an error answer kept for the log */

struct sg_http {
    CURL *curl;
    char error[CURL_ERROR_SIZE];
    char body[S_BODY_KEEP + 1];
    size_t body_len;
};

static size_t s_on_body(char *data, size_t size, size_t n, void *arg)
{
    sg_http_t *h = arg;
    size_t len = size * n;
    size_t room = S_BODY_KEEP - h->body_len;
    size_t take = len < room ? len : room;
    memcpy(h->body + h->body_len, data, take);
    h->body_len += take;
    h->body[h->body_len] = '\0';
    return len;
}

sg_http_t *sg_http_new(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    sg_http_t *h = calloc(1, sizeof *h);
    if (!h)
        goto fail;
    h->curl = curl_easy_init();
    if (!h->curl)
        goto fail;
    return h;
fail:
    free(h);
    curl_global_cleanup();
    return NULL;
}

void sg_http_destroy(sg_http_t **hp)
{
    if (!hp || !*hp)
        return;
    curl_easy_cleanup((*hp)->curl);
    free(*hp);
    *hp = NULL;
    curl_global_cleanup();
}

/* The request's header list: the caller's lines, then Content-Type, and an
 * empty Expect so curl does not wait for "100 Continue". */
static struct curl_slist *s_headers(const sg_http_request_t *req)
{
    struct curl_slist *list = NULL, *next = NULL;
    for (const struct curl_slist *l = req->headers; l; l = l->next) {
        if (!(next = curl_slist_append(list, l->data)))
            goto fail;
        list = next;
    }
    char line[256];
    snprintf(line, sizeof line, "Content-Type: %s",
             req->content_type ? req->content_type : "application/json");
    if (!(next = curl_slist_append(list, line)) || !(list = next) ||
        !(next = curl_slist_append(list, "Expect:")))
        goto fail;
    return next;
fail:
    curl_slist_free_all(list);
    return NULL;
}

static void s_keep_body_as_error(sg_http_t *h)
{
    for (size_t i = 0; i < h->body_len; i++) {
        if ((unsigned char)h->body[i] < 0x20 || h->body[i] == 0x7f)
            h->body[i] = ' ';
    }
    snprintf(h->error, sizeof h->error, "%s", h->body);
}

sg_deliver_result_t sg_http_send(sg_http_t *h, const sg_http_request_t *req,
                                 sg_http_response_t *resp)
{
    CURL *c = h->curl;
    resp->curl_code = CURLE_OUT_OF_MEMORY;
    resp->status = 0;
    h->error[0] = '\0';
    h->body[0] = '\0';
    h->body_len = 0;
    struct curl_slist *headers = s_headers(req);
    if (!headers) {
        snprintf(h->error, sizeof h->error, "out of memory");
        return SG_DELIVER_RETRY;
    }
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->error);
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method ? req->method : "POST");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "siteguard");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    CURLcode rc = curl_easy_perform(c);
    resp->curl_code = (int)rc;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK && h->error[0] == '\0')
        snprintf(h->error, sizeof h->error, "%s", curl_easy_strerror(rc));
    if (rc == CURLE_OK && (resp->status < 200 || resp->status > 299))
        s_keep_body_as_error(h);
    return sg_result_http(resp->curl_code, resp->status);
}

const char *sg_http_error(const sg_http_t *h) { return h->error; }

sg_deliver_result_t sg_http_deliver(sg_http_t *h, const sg_plugin_host_t *host, const char *what,
                                    const sg_http_request_t *req)
{
    sg_http_response_t resp;
    sg_deliver_result_t r = sg_http_send(h, req, &resp);
    if (r != SG_DELIVER_OK)
        host->log(host, SG_PLUGIN_LOG_WARN, "%s: HTTP %ld: %s (%s)", what ? what : "?",
                  resp.status, h->error[0] ? h->error : "no answer",
                  r == SG_DELIVER_RETRY ? "will retry" : "will not retry");
    return r;
}

static int s_is_space(char c) { return c == ' ' || c == '\t'; }

/* Appends one "Name: value" entry of len bytes at p, trimmed. */
static int s_header_entry(const char *p, size_t len, struct curl_slist **list)
{
    while (len > 0 && s_is_space(*p)) {
        p++;
        len--;
    }
    while (len > 0 && s_is_space(p[len - 1]))
        len--;
    if (len == 0)
        return 0;
    const char *colon = memchr(p, ':', len);
    if (!colon || colon == p)
        return -1;
    for (const char *q = p; q < p + len; q++) {
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            return -1;
    }
    char *line = malloc(len + 1);
    if (!line)
        return -1;
    memcpy(line, p, len);
    line[len] = '\0';
    struct curl_slist *next = curl_slist_append(*list, line);
    free(line);
    if (!next)
        return -1;
    *list = next;
    return 0;
}

int sg_http_headers_parse(const char *text, struct curl_slist **out)
{
    struct curl_slist *list = NULL;
    const char *p = text ? text : "";
    while (*p) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (s_header_entry(p, len, &list) != 0)
            goto fail;
        p += len + (end ? 1 : 0);
    }
    for (struct curl_slist *l = list; l; l = l->next) {
        struct curl_slist *next = curl_slist_append(*out, l->data);
        if (!next)
            goto fail;
        *out = next;
    }
    curl_slist_free_all(list);
    return 0;
fail:
    curl_slist_free_all(list);
    return -1;
}

int sg_http_sink_init(sg_http_sink_t *s, const sg_plugin_host_t *host,
                      const sg_plugin_option_t *options, size_t n_options)
{
    const char *timeout = sg_plugin_option(options, n_options, "timeout");
    s->host = host;
    s->url = sg_plugin_option(options, n_options, "url");
    s->timeout_ms = timeout ? strtol(timeout, NULL, 10) : 10000;
    s->http = NULL;
    if (!s->url || (strncmp(s->url, "http://", 7) != 0 && strncmp(s->url, "https://", 8) != 0)) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "url must begin with http:// or https://");
        return -1;
    }
    if (!(s->http = sg_http_new())) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "cannot start libcurl");
        return -1;
    }
    return 0;
}

void sg_http_sink_fini(sg_http_sink_t *s) { sg_http_destroy(&s->http); }

sg_deliver_result_t sg_http_sink_post(sg_http_sink_t *s, const char *what, const char *json)
{
    sg_http_request_t req = {.url = s->url, .content_type = "application/json", .body = json,
                             .body_len = strlen(json), .timeout_ms = s->timeout_ms};
    return sg_http_deliver(s->http, s->host, what, &req);
}

sg_deliver_result_t sg_http_sink_deliver(sg_http_sink_t *s, const sg_outcome_t *o,
                                         sg_http_build_fn build, const void *state)
{
    if (!sg_text_outcome_complete(o))
        return SG_DELIVER_FATAL;
    char *body = NULL;
    if (build(o, state, &body) != 0) {
        s->host->log(s->host, SG_PLUGIN_LOG_ERROR, "%s: cannot build the payload",
                     o->dedup_key ? o->dedup_key : "?");
        return SG_DELIVER_RETRY;
    }
    if (!body)
        return SG_DELIVER_OK;
    sg_deliver_result_t r = sg_http_sink_post(s, o->dedup_key, body);
    free(body);
    return r;
}

int sg_http_sink_open(const sg_plugin_host_t *host, const sg_plugin_option_t *options,
                      size_t n_options, void **ctx)
{
    sg_http_sink_t *s = calloc(1, sizeof *s);
    if (!s) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "out of memory");
        return -1;
    }
    if (sg_http_sink_init(s, host, options, n_options) != 0) {
        sg_http_sink_close(s);
        return -1;
    }
    *ctx = s;
    return 0;
}

void sg_http_sink_close(void *ctx)
{
    sg_http_sink_t *s = ctx;
    if (!s)
        return;
    sg_http_sink_fini(s);
    free(s);
}
