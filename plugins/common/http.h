/* http: HTTP requests over libcurl, for the HTTP plugins: one at a time
 * (sg_http_t), or several at once (sg_http_multi_t).
 *
 * An sg_http_t holds one curl handle (so connections are reused) and the
 * text of its last error. An sg_http_multi_t holds a curl multi handle and
 * one such client per slot. Each belongs to one sink instance and is used
 * from that instance's delivery thread only. Redirects are not followed and
 * only http and https are spoken. Nothing here logs but sg_http_deliver and
 * sg_http_multi_deliver, which never name the URL: URLs may hold secrets, so
 * the caller decides what to say. */
#ifndef SG_PLUGIN_COMMON_HTTP_H
#define SG_PLUGIN_COMMON_HTTP_H

#include "siteguard/plugin.h"

#include <curl/curl.h>
#include <stddef.h>

typedef struct sg_http sg_http_t;

typedef struct {
    const char *method;              /* "POST" (default when NULL) or "PUT" */
    const char *url;                 /* borrowed */
    const char *content_type;        /* e.g. "application/json" */
    const struct curl_slist *headers; /* more "Name: value" lines; borrowed, may be NULL */
    const char *body;                /* borrowed */
    size_t body_len;
    long timeout_ms;                 /* whole transfer; 0: no limit */
} sg_http_request_t;

typedef struct {
    int curl_code; /* CURLcode; 0 when the transfer completed */
    long status;   /* HTTP status, 0 when none came */
    int sent;      /* sg_http_multi_send: non-zero once the request was started */
} sg_http_response_t;

/* A new client, or NULL when out of memory or libcurl fails to start.
 * The caller owns it and frees it with sg_http_destroy. */
sg_http_t *sg_http_new(void);
void sg_http_destroy(sg_http_t **h);

/* Sends one request and fills *resp. Returns the delivery result that
 * sg_result_http gives for it. */
sg_deliver_result_t sg_http_send(sg_http_t *h, const sg_http_request_t *req,
                                 sg_http_response_t *resp);

/* sg_http_send, and when the delivery did not go through one warning
 * through host->log: "<what>: HTTP <status>: <why>" (never the URL). */
sg_deliver_result_t sg_http_deliver(sg_http_t *h, const sg_plugin_host_t *host, const char *what,
                                    const sg_http_request_t *req);

/* --- several requests at once --------------------------------------------------------- */

/* Up to `slots` requests in flight at once over libcurl's multi interface,
 * for a sink whose host hands it a batch (deliver_batch).
 *
 * Ownership: sg_http_multi_new returns a multi the caller owns and frees
 * with sg_http_multi_destroy. The multi owns its curl multi handle, one easy
 * handle per slot (each with its own error text) and the cache of open
 * connections, kept from one call to the next so that connections are
 * reused (HTTP/1.1 keep-alive; at most `slots` to a host). A call borrows
 * everything it is given (the requests and all they point to: URL, header
 * list, body; the responses and results it fills) for its duration only;
 * the header list curl sends (the caller's lines, Content-Type, an empty
 * Expect) is made and freed by the call. */
typedef struct sg_http_multi sg_http_multi_t;

/* A new multi of `slots` (>= 1) concurrent requests, or NULL when out of
 * memory or libcurl fails to start. */
sg_http_multi_t *sg_http_multi_new(size_t slots);
void sg_http_multi_destroy(sg_http_multi_t **m);

/* Called as each request ends, on the calling thread, from within
 * sg_http_multi_send: its index in reqs, its response and result, and why it
 * failed (as sg_http_error; "" when it did not), valid during the call. */
typedef void (*sg_http_done_fn)(void *arg, size_t i, const sg_http_response_t *resp,
                                sg_deliver_result_t result, const char *why);

/* Sends reqs[0..n), starting them in order, up to `slots` at a time, and
 * waits for them: results[i] is the sg_result_http of request i and resps[i]
 * its response. Once a request ends in RETRY no new one starts (the receiver
 * is failing; those in flight finish): the requests not started keep
 * results[i] RETRY and resps[i].sent 0. A FATAL does not stop the others.
 * `done` (may be NULL) sees each request that was started, as it ends.
 * Returns 0, or -1 when the multi interface itself failed (every request
 * not ended is then RETRY). */
int sg_http_multi_send(sg_http_multi_t *m, const sg_http_request_t *reqs, size_t n,
                       sg_http_response_t *resps, sg_deliver_result_t *results,
                       sg_http_done_fn done, void *arg);

/* sg_http_multi_send, and for each request that was sent and did not go
 * through one warning through host->log, as sg_http_deliver words it, with
 * whats[i] naming request i (never the URL). */
int sg_http_multi_deliver(sg_http_multi_t *m, const sg_plugin_host_t *host,
                          const char *const *whats, const sg_http_request_t *reqs, size_t n,
                          sg_deliver_result_t *results);

/* The common part of a sink that POSTs JSON to one URL: its `url` and
 * `timeout` options (milliseconds) and a client. Caller-owned; init borrows
 * host and options (valid until the plugin's close). */
typedef struct {
    const sg_plugin_host_t *host;
    const char *url; /* may hold a secret: never logged */
    long timeout_ms;
    sg_http_t *http;
} sg_http_sink_t;

/* Reads `url` (must be http:// or https://) and `timeout`, starts a client.
 * Returns 0, or -1 after logging why (never the URL); fini is safe after. */
int sg_http_sink_init(sg_http_sink_t *s, const sg_plugin_host_t *host,
                      const sg_plugin_option_t *options, size_t n_options);
/* The same without the client (`http` stays NULL), for a sink that sends
 * through an sg_http_multi_t of its own. */
int sg_http_sink_options(sg_http_sink_t *s, const sg_plugin_host_t *host,
                         const sg_plugin_option_t *options, size_t n_options);
void sg_http_sink_fini(sg_http_sink_t *s);
/* POSTs `json` (application/json) to the sink's URL; `what` names it in
 * the log line of a failure. */
sg_deliver_result_t sg_http_sink_post(sg_http_sink_t *s, const char *what, const char *json);

/* Builds the payload for one outcome: returns 0 with *json set (the caller
 * frees it; NULL: nothing to send for this outcome), or -1. */
typedef int (*sg_http_build_fn)(const sg_outcome_t *o, const void *state, char **json);

/* A sink's deliver: FATAL for an incomplete outcome, RETRY when the payload
 * cannot be built, OK when there is nothing to send, else the POST's result. */
sg_deliver_result_t sg_http_sink_deliver(sg_http_sink_t *s, const sg_outcome_t *o,
                                         sg_http_build_fn build, const void *state);

/* init and close of a plugin whose whole state is an sg_http_sink_t. */
int sg_http_sink_open(const sg_plugin_host_t *host, const sg_plugin_option_t *options,
                      size_t n_options, void **ctx);
void sg_http_sink_close(void *ctx);

/* Why the last request failed (curl's words, which name host and port but
 * never the path), or the start of the answer's body for an HTTP error
 * status (up to 200 bytes, control characters as spaces); "" when none.
 * Owned by h, valid until the next send. */
const char *sg_http_error(const sg_http_t *h);

/* Parses "Name: value; Name2: value2" into *out (appended; the caller frees
 * it with curl_slist_free_all). Returns 0, or -1 when an entry has no name
 * or colon (nothing appended then) or memory runs out. NULL or "" adds
 * nothing. */
int sg_http_headers_parse(const char *text, struct curl_slist **out);

#endif
