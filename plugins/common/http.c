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

/* Clears what h kept of its last request. */
static void s_clear(sg_http_t *h)
{
    h->error[0] = '\0';
    h->body[0] = '\0';
    h->body_len = 0;
}

/* Sets h's handle up for `req`, sending `headers` (borrowed until the
 * transfer ends). */
static void s_setup(sg_http_t *h, const sg_http_request_t *req, struct curl_slist *headers)
{
    CURL *c = h->curl;
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
}

/* After h's transfer ended with `rc`: fills *resp, keeps why it failed, and
 * lets go of the header list (which the caller frees). */
static sg_deliver_result_t s_finish(sg_http_t *h, CURLcode rc, sg_http_response_t *resp)
{
    resp->curl_code = (int)rc;
    resp->status = 0;
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
    if (rc != CURLE_OK && h->error[0] == '\0')
        snprintf(h->error, sizeof h->error, "%s", curl_easy_strerror(rc));
    if (rc == CURLE_OK && (resp->status < 200 || resp->status > 299))
        s_keep_body_as_error(h);
    return sg_result_http(resp->curl_code, resp->status);
}

sg_deliver_result_t sg_http_send(sg_http_t *h, const sg_http_request_t *req,
                                 sg_http_response_t *resp)
{
    resp->curl_code = CURLE_OUT_OF_MEMORY;
    resp->status = 0;
    resp->sent = 1;
    s_clear(h);
    struct curl_slist *headers = s_headers(req);
    if (!headers) {
        snprintf(h->error, sizeof h->error, "out of memory");
        return SG_DELIVER_RETRY;
    }
    s_setup(h, req, headers);
    sg_deliver_result_t r = s_finish(h, curl_easy_perform(h->curl), resp);
    curl_slist_free_all(headers);
    return r;
}

const char *sg_http_error(const sg_http_t *h) { return h->error; }

/* The warning of a delivery that did not go through. */
static void s_log_failure(const sg_plugin_host_t *host, const char *what, long status,
                          const char *why, sg_deliver_result_t r)
{
    host->log(host, SG_PLUGIN_LOG_WARN, "%s: HTTP %ld: %s (%s)", what ? what : "?", status,
              why && why[0] ? why : "no answer",
              r == SG_DELIVER_RETRY ? "will retry" : "will not retry");
}

sg_deliver_result_t sg_http_deliver(sg_http_t *h, const sg_plugin_host_t *host, const char *what,
                                    const sg_http_request_t *req)
{
    sg_http_response_t resp;
    sg_deliver_result_t r = sg_http_send(h, req, &resp);
    if (r != SG_DELIVER_OK)
        s_log_failure(host, what, resp.status, h->error, r);
    return r;
}

/* --- several requests at once ------------------------------------------------------------ */

/* One slot: a client and the request it has in flight. */
typedef struct {
    sg_http_t *http;            /* owned */
    struct curl_slist *headers; /* of the request in flight; owned */
    size_t req;                 /* its index */
    int busy;
} s_slot_t;

struct sg_http_multi {
    CURLM *multi;
    s_slot_t *slots; /* owned */
    size_t n_slots;
    size_t busy; /* slots with a request in flight */
};

static void s_abort(sg_http_multi_t *m);

sg_http_multi_t *sg_http_multi_new(size_t slots)
{
    if (slots == 0)
        return NULL;
    sg_http_multi_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(m);
        return NULL;
    }
    m->multi = curl_multi_init();
    m->slots = calloc(slots, sizeof *m->slots);
    if (!m->multi || !m->slots)
        goto fail;
    m->n_slots = slots;
    for (size_t i = 0; i < slots; i++) {
        if (!(m->slots[i].http = sg_http_new()))
            goto fail;
    }
    curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)slots);
    curl_multi_setopt(m->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)slots);
    curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)slots);
    return m;
fail:
    sg_http_multi_destroy(&m);
    return NULL;
}

void sg_http_multi_destroy(sg_http_multi_t **mp)
{
    if (!mp || !*mp)
        return;
    sg_http_multi_t *m = *mp;
    if (m->multi) {
        s_abort(m); /* no handle stays in the multi */
        curl_multi_cleanup(m->multi); /* closes the cached connections */
    }
    for (size_t i = 0; m->slots && i < m->n_slots; i++)
        sg_http_destroy(&m->slots[i].http);
    free(m->slots);
    free(m);
    *mp = NULL;
    curl_global_cleanup();
}

/* A slot with no request in flight, or NULL. */
static s_slot_t *s_free_slot(sg_http_multi_t *m)
{
    for (size_t i = 0; i < m->n_slots; i++) {
        if (!m->slots[i].busy)
            return &m->slots[i];
    }
    return NULL;
}

/* Starts request i in `slot`. Returns 0, or -1 (out of memory, or curl
 * refused the handle: the request is not sent). */
static int s_start(sg_http_multi_t *m, s_slot_t *slot, const sg_http_request_t *reqs, size_t i)
{
    s_clear(slot->http);
    if (!(slot->headers = s_headers(&reqs[i])))
        return -1;
    s_setup(slot->http, &reqs[i], slot->headers);
    curl_easy_setopt(slot->http->curl, CURLOPT_PRIVATE, (void *)slot);
    if (curl_multi_add_handle(m->multi, slot->http->curl) != CURLM_OK) {
        curl_slist_free_all(slot->headers);
        slot->headers = NULL;
        return -1;
    }
    slot->req = i;
    slot->busy = 1;
    m->busy++;
    return 0;
}

/* Takes the slot's transfer, ended with `rc`, out of the multi. */
static void s_end(sg_http_multi_t *m, s_slot_t *slot, CURLcode rc, sg_http_response_t *resps,
                  sg_deliver_result_t *results, sg_http_done_fn done, void *arg)
{
    size_t i = slot->req;
    curl_multi_remove_handle(m->multi, slot->http->curl);
    results[i] = s_finish(slot->http, rc, &resps[i]);
    curl_slist_free_all(slot->headers);
    slot->headers = NULL;
    slot->busy = 0;
    m->busy--;
    if (done)
        done(arg, i, &resps[i], results[i], slot->http->error);
}

/* Ends every transfer the multi reports done; returns how many ended in
 * RETRY. */
static size_t s_collect(sg_http_multi_t *m, sg_http_response_t *resps,
                        sg_deliver_result_t *results, sg_http_done_fn done, void *arg)
{
    size_t retries = 0;
    int left = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURLcode rc = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        s_slot_t *slot = (s_slot_t *)(void *)priv;
        if (!slot || !slot->busy)
            continue;
        s_end(m, slot, rc, resps, results, done, arg);
        retries += results[slot->req] == SG_DELIVER_RETRY;
    }
    return retries;
}

/* The multi failed: takes every transfer still in flight out (RETRY). */
static void s_abort(sg_http_multi_t *m)
{
    for (size_t i = 0; i < m->n_slots; i++) {
        s_slot_t *slot = &m->slots[i];
        if (!slot->busy)
            continue;
        curl_multi_remove_handle(m->multi, slot->http->curl);
        curl_easy_setopt(slot->http->curl, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(slot->headers);
        slot->headers = NULL;
        slot->busy = 0;
    }
    m->busy = 0;
}

/* Starts requests from *next while slots are free; 0, or -1 when one could
 * not be started (no more are then). */
static int s_fill(sg_http_multi_t *m, const sg_http_request_t *reqs, size_t n, size_t *next,
                  sg_http_response_t *resps)
{
    s_slot_t *slot;
    while (*next < n && (slot = s_free_slot(m)) != NULL) {
        if (s_start(m, slot, reqs, *next) != 0)
            return -1;
        resps[(*next)++].sent = 1;
    }
    return 0;
}

int sg_http_multi_send(sg_http_multi_t *m, const sg_http_request_t *reqs, size_t n,
                       sg_http_response_t *resps, sg_deliver_result_t *results,
                       sg_http_done_fn done, void *arg)
{
    for (size_t i = 0; i < n; i++) {
        resps[i] = (sg_http_response_t){.curl_code = CURLE_OK, .status = 0, .sent = 0};
        results[i] = SG_DELIVER_RETRY;
    }
    size_t next = 0;
    int starting = 1;
    for (;;) {
        if (starting && s_fill(m, reqs, n, &next, resps) != 0)
            starting = 0;
        if (m->busy == 0)
            return 0; /* all ended, and nothing more to start */
        int running = 0;
        if (curl_multi_perform(m->multi, &running) != CURLM_OK)
            goto fail;
        if (s_collect(m, resps, results, done, arg) > 0)
            starting = 0;
        int more = starting && next < n && s_free_slot(m);
        if (running > 0 && !more && curl_multi_poll(m->multi, NULL, 0, 1000, NULL) != CURLM_OK)
            goto fail;
    }
fail:
    s_abort(m);
    return -1;
}

/* The log lines of sg_http_multi_deliver. */
typedef struct {
    const sg_plugin_host_t *host;
    const char *const *whats;
} s_deliver_log_t;

static void s_log_done(void *arg, size_t i, const sg_http_response_t *resp,
                       sg_deliver_result_t result, const char *why)
{
    const s_deliver_log_t *l = arg;
    if (result != SG_DELIVER_OK)
        s_log_failure(l->host, l->whats[i], resp->status, why, result);
}

int sg_http_multi_deliver(sg_http_multi_t *m, const sg_plugin_host_t *host,
                          const char *const *whats, const sg_http_request_t *reqs, size_t n,
                          sg_deliver_result_t *results)
{
    sg_http_response_t *resps = calloc(n ? n : 1, sizeof *resps);
    if (!resps) {
        for (size_t i = 0; i < n; i++)
            results[i] = SG_DELIVER_RETRY;
        host->log(host, SG_PLUGIN_LOG_ERROR, "out of memory: %lu requests not sent",
                  (unsigned long)n);
        return -1;
    }
    s_deliver_log_t l = {host, whats};
    int rc = sg_http_multi_send(m, reqs, n, resps, results, s_log_done, &l);
    if (rc != 0)
        host->log(host, SG_PLUGIN_LOG_ERROR, "libcurl's multi interface failed; will retry");
    free(resps);
    return rc;
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

int sg_http_sink_options(sg_http_sink_t *s, const sg_plugin_host_t *host,
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
    return 0;
}

int sg_http_sink_init(sg_http_sink_t *s, const sg_plugin_host_t *host,
                      const sg_plugin_option_t *options, size_t n_options)
{
    if (sg_http_sink_options(s, host, options, n_options) != 0)
        return -1;
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
