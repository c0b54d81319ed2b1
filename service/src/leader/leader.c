/* leader: none (always the leader) or etcd (lease + key + fence txn). */
#include "leader/leader.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_MOD "leader"
#define S_SLICE_MS 50                      /* the thread looks at stop and fences this often */
#define S_DEFAULT_ENDPOINT "http://127.0.0.1:2379"
#define S_NONE_EPOCH 1

/* A change of state, from the leader thread to the loop, passed by pointer. */
typedef struct {
    bool leader;
    uint64_t epoch;
    char *holder; /* owned; NULL: unknown */
    char *state;  /* owned: the operator state read from etcd on winning; NULL: none */
} s_msg_t;

struct sg_leader {
    const sg_config_t *cfg;
    const sg_clock_t *clock;
    void *zctx;
    bool etcd;
    /* The loop's view. */
    bool is_leader;
    uint64_t epoch;
    char *holder;
    char *state; /* operator state taken over with the last win; owned */
    void *pair; /* PAIR, bound: the loop's end */
    char pair_ep[64];
    /* The thread's own state. */
    pthread_t thread;
    bool started;
    int64_t lease;       /* 0: none */
    bool acting;
    uint64_t my_epoch;
    char *seen_holder;   /* owned */
    unsigned http_errors; /* for rate-limited warnings */
    /* Shared with workers through __atomic loads and stores. */
    uint64_t acting_epoch; /* 0: not acting */
    int64_t act_until;     /* mono ms: acting stops here */
    int fence_failed;      /* a worker's fence failed: step down */
    int state_pending;     /* the loop sent operator state to write */
    int stop;
};

/* ---- the step-down rule ------------------------------------------------------------ */

int64_t sg_leader_deadline(int64_t sent_mono, int64_t ttl_ms)
{
    int64_t margin = ttl_ms / 4;
    if (margin < 100)
        margin = 100;
    if (margin > 5000)
        margin = 5000;
    return sent_mono + ttl_ms - margin;
}

/* ---- base64 --------------------------------------------------------------------------- */

static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *s_b64_encode(const char *text)
{
    size_t n = strlen(text);
    char *out = malloc(4 * ((n + 2) / 3) + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)text[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)text[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)text[i + 2];
        *p++ = s_b64[(v >> 18) & 63];
        *p++ = s_b64[(v >> 12) & 63];
        *p++ = i + 1 < n ? s_b64[(v >> 6) & 63] : '=';
        *p++ = i + 2 < n ? s_b64[v & 63] : '=';
    }
    *p = '\0';
    return out;
}

static int s_b64_value(char c)
{
    const char *at = c ? strchr(s_b64, c) : NULL;
    return at ? (int)(at - s_b64) : -1;
}

/* Decodes base64 text into a new string; NULL when malformed or out of memory. */
static char *s_b64_decode(const char *text)
{
    size_t n = strlen(text);
    char *out = malloc(n / 4 * 3 + 1), *p = out;
    if (!out || n % 4)
        goto fail;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++)
            v[k] = text[i + k] == '=' && k >= 2 ? 0 : s_b64_value(text[i + k]);
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
            goto fail;
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        *p++ = (char)(w >> 16);
        if (text[i + 2] != '=')
            *p++ = (char)(w >> 8);
        if (text[i + 3] != '=')
            *p++ = (char)w;
    }
    *p = '\0';
    return out;
fail:
    free(out);
    return NULL;
}

/* ---- request bodies ------------------------------------------------------------------- */

static char *s_dump(json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    return text;
}

static json_t *s_i64(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return json_string(buf);
}

char *sg_leader_etcd_grant_json(int64_t ttl_ms)
{
    int64_t secs = (ttl_ms + 999) / 1000;
    return s_dump(json_pack("{s:o, s:s}", "TTL", s_i64(secs), "ID", "0"));
}

char *sg_leader_etcd_lease_json(int64_t lease)
{
    return s_dump(json_pack("{s:o}", "ID", s_i64(lease)));
}

char *sg_leader_etcd_range_json(const char *key)
{
    char *k = s_b64_encode(key);
    char *text = k ? s_dump(json_pack("{s:s}", "key", k)) : NULL;
    free(k);
    return text;
}

char *sg_leader_etcd_campaign_json(const char *key, const char *name, int64_t lease)
{
    char *k = s_b64_encode(key), *v = s_b64_encode(name);
    char *text = NULL;
    if (k && v)
        text = s_dump(json_pack(
            "{s:[{s:s, s:s, s:s, s:s}], s:[{s:{s:s, s:s, s:o}}], s:[{s:{s:s}}]}", "compare", "key",
            k, "target", "CREATE", "result", "EQUAL", "create_revision", "0", "success",
            "request_put", "key", k, "value", v, "lease", s_i64(lease), "failure", "request_range",
            "key", k));
    free(k);
    free(v);
    return text;
}

char *sg_leader_etcd_fence_json(const char *key, const char *name, uint64_t epoch)
{
    char *k = s_b64_encode(key), *v = s_b64_encode(name);
    char *text = NULL;
    if (k && v)
        text = s_dump(json_pack("{s:[{s:s, s:s, s:s, s:o}, {s:s, s:s, s:s, s:s}], s:[], s:[]}",
                                "compare", "key", k, "target", "CREATE", "result", "EQUAL",
                                "create_revision", s_i64((int64_t)epoch), "key", k, "target",
                                "VALUE", "result", "EQUAL", "value", v, "success", "failure"));
    free(k);
    free(v);
    return text;
}

char *sg_leader_etcd_put_state_json(const char *key, const char *name, uint64_t epoch,
                                    const char *state_key, const char *text)
{
    char *k = s_b64_encode(key), *v = s_b64_encode(name);
    char *sk = s_b64_encode(state_key), *sv = s_b64_encode(text);
    char *out = NULL;
    if (k && v && sk && sv)
        out = s_dump(json_pack(
            "{s:[{s:s, s:s, s:s, s:o}, {s:s, s:s, s:s, s:s}], s:[{s:{s:s, s:s}}], s:[]}",
            "compare", "key", k, "target", "CREATE", "result", "EQUAL", "create_revision",
            s_i64((int64_t)epoch), "key", k, "target", "VALUE", "result", "EQUAL", "value", v,
            "success", "request_put", "key", sk, "value", sv, "failure"));
    free(k);
    free(v);
    free(sk);
    free(sv);
    return out;
}

/* ---- answers -------------------------------------------------------------------------- */

void sg_leader_etcd_reply_fini(sg_leader_etcd_reply_t *r)
{
    free(r->holder);
    r->holder = NULL;
}

/* An int64 the gateway writes as a string (or, leniently, a number); 0 when absent. */
static int64_t s_get_i64(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    return 0;
}

/* Parses `text` (the first JSON value in it: a streamed answer may hold
 * several); NULL when it is not an object or is an error answer. */
static json_t *s_parse(const char *text)
{
    json_error_t err;
    json_t *j = text ? json_loads(text, JSON_DISABLE_EOF_CHECK, &err) : NULL;
    if (j && (!json_is_object(j) || json_object_get(j, "error"))) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int sg_leader_etcd_parse_grant(const char *text, sg_leader_etcd_reply_t *out)
{
    memset(out, 0, sizeof *out);
    json_t *j = s_parse(text);
    if (!j)
        return SG_EPROTO;
    out->lease = s_get_i64(j, "ID");
    out->ttl = s_get_i64(j, "TTL");
    json_decref(j);
    return out->lease != 0 && out->ttl > 0 ? SG_OK : SG_EPROTO;
}

int sg_leader_etcd_parse_keepalive(const char *text, sg_leader_etcd_reply_t *out)
{
    memset(out, 0, sizeof *out);
    json_t *j = s_parse(text);
    const json_t *result = j ? json_object_get(j, "result") : NULL;
    if (!json_is_object(result)) {
        json_decref(j);
        return SG_EPROTO;
    }
    out->lease = s_get_i64(result, "ID");
    out->ttl = s_get_i64(result, "TTL"); /* absent (0) or negative: the lease is gone */
    if (out->ttl < 0)
        out->ttl = 0;
    json_decref(j);
    return SG_OK;
}

/* The first kv of a range answer, if any. */
static int s_read_kvs(const json_t *range, sg_leader_etcd_reply_t *out)
{
    const json_t *kv = json_array_get(json_object_get(range, "kvs"), 0);
    if (!kv)
        return SG_OK;
    out->found = true;
    out->create_revision = (uint64_t)s_get_i64(kv, "create_revision");
    const char *v = json_string_value(json_object_get(kv, "value"));
    if (v && !(out->holder = s_b64_decode(v)))
        return SG_EPROTO;
    return SG_OK;
}

int sg_leader_etcd_parse_txn(const char *text, sg_leader_etcd_reply_t *out)
{
    memset(out, 0, sizeof *out);
    json_t *j = s_parse(text);
    if (!j)
        return SG_EPROTO;
    out->succeeded = json_is_true(json_object_get(j, "succeeded"));
    out->revision = (uint64_t)s_get_i64(json_object_get(j, "header"), "revision");
    const json_t *first = json_array_get(json_object_get(j, "responses"), 0);
    const json_t *range = json_object_get(first, "response_range");
    int rc = out->revision ? SG_OK : SG_EPROTO;
    if (rc == SG_OK && range)
        rc = s_read_kvs(range, out);
    json_decref(j);
    if (rc != SG_OK)
        sg_leader_etcd_reply_fini(out);
    return rc;
}

int sg_leader_etcd_parse_range(const char *text, sg_leader_etcd_reply_t *out)
{
    memset(out, 0, sizeof *out);
    json_t *j = s_parse(text);
    if (!j)
        return SG_EPROTO;
    out->revision = (uint64_t)s_get_i64(json_object_get(j, "header"), "revision");
    int rc = s_read_kvs(j, out);
    json_decref(j);
    if (rc != SG_OK)
        sg_leader_etcd_reply_fini(out);
    return rc;
}

/* ---- HTTP ----------------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len;
} s_buf_t;

static size_t s_on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
    s_buf_t *b = user;
    size_t n = size * nmemb;
    char *grown = realloc(b->data, b->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, ptr, n);
    b->len += n;
    grown[b->len] = '\0';
    b->data = grown;
    return n;
}

/* POSTs `body` to `path` on one endpoint. 0 with *out (caller frees) on a 200. */
static int s_post_one(const char *endpoint, const char *path, const char *body, int64_t timeout_ms,
                      char **out)
{
    CURL *h = curl_easy_init();
    char *url = sg_strdupf("%s%s", endpoint, path);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    s_buf_t b = {0};
    int rc = SG_ENOMEM;
    if (!h || !url || !hdr)
        goto done;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout_ms > 1 ? timeout_ms : 1));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s_on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK)
        rc = cc == CURLE_OPERATION_TIMEDOUT ? SG_ETIMEOUT : SG_EIO;
    else
        rc = status == 200 ? SG_OK : SG_EPROTO;
    if (rc == SG_OK) {
        *out = b.data ? b.data : strdup("");
        b.data = NULL;
        rc = *out ? SG_OK : SG_ENOMEM;
    } else if (rc == SG_EPROTO) {
        sg_debug(S_MOD, "%s answered %ld: %s", path, status, b.data ? b.data : "");
    }
done:
    free(b.data);
    curl_slist_free_all(hdr);
    free(url);
    if (h)
        curl_easy_cleanup(h);
    return rc;
}

/* POSTs to the endpoints in order until one answers. Any thread. */
static int s_post(const sg_leader_t *l, const char *path, const char *body, int64_t timeout_ms,
                  char **out)
{
    const sg_etcd_cfg_t *e = &l->cfg->leader.etcd;
    int rc = SG_EIO;
    *out = NULL;
    if (!body)
        return SG_ENOMEM;
    size_t n = e->n_endpoints ? e->n_endpoints : 1;
    for (size_t i = 0; i < n; i++) {
        rc = s_post_one(e->n_endpoints ? e->endpoints[i] : S_DEFAULT_ENDPOINT, path, body,
                        timeout_ms, out);
        if (rc == SG_OK || rc == SG_EPROTO || rc == SG_ENOMEM)
            break;
    }
    return rc;
}

/* ---- the thread's side ---------------------------------------------------------------- */

static bool s_flag(const int *f) { return __atomic_load_n(f, __ATOMIC_ACQUIRE) != 0; }

static int64_t s_timeout(const sg_leader_t *l) { return l->cfg->leader.etcd.timeout_ms; }

static void s_http_warn(sg_leader_t *l, const char *what, int rc)
{
    if (l->http_errors++ % 20 == 0)
        sg_warn(S_MOD, "etcd: %s failed: %s", what, sg_err_str(rc));
}

/* Tells the loop where things stand; `state` (taken) goes with it. */
static void s_publish_state(sg_leader_t *l, void *sock, char *state)
{
    s_msg_t *m = calloc(1, sizeof *m);
    if (!m) {
        free(state);
        return;
    }
    m->state = state;
    m->leader = l->acting;
    m->epoch = l->acting ? l->my_epoch : 0;
    const char *holder = l->acting ? l->cfg->leader.name : l->seen_holder;
    m->holder = holder ? strdup(holder) : NULL;
    if (zmq_send(sock, &m, sizeof m, 0) != (int)sizeof m) {
        free(m->holder);
        free(m->state);
        free(m);
    }
}

static void s_publish(sg_leader_t *l, void *sock) { s_publish_state(l, sock, NULL); }

/* The key under which the leader keeps the operator state. */
static char *s_state_key(const sg_leader_t *l)
{
    return sg_strdupf("%s/opstate", l->cfg->leader.etcd.key);
}

/* Reads the operator state the last leader left in etcd; NULL when there is
 * none or it cannot be read (logged: the journal's copy then stands). */
static char *s_read_state(sg_leader_t *l)
{
    char *key = s_state_key(l), *answer = NULL, *text = NULL;
    char *body = key ? sg_leader_etcd_range_json(key) : NULL;
    sg_leader_etcd_reply_t r = {0};
    int rc = s_post(l, "/v3/kv/range", body, s_timeout(l), &answer);
    rc = rc ? rc : sg_leader_etcd_parse_range(answer, &r);
    if (rc != SG_OK)
        sg_warn(S_MOD, "cannot read the operator state from etcd (%s): the journal's copy stands",
                sg_err_str(rc));
    else if (r.found)
        text = r.holder, r.holder = NULL;
    sg_leader_etcd_reply_fini(&r);
    free(answer);
    free(body);
    free(key);
    return text;
}

/* Writes the operator state, only while this instance holds the key under
 * its epoch (the same compare as the fence). */
static void s_write_state(sg_leader_t *l, const char *text)
{
    const sg_leader_cfg_t *lc = &l->cfg->leader;
    char *key = s_state_key(l), *answer = NULL;
    char *body = key ? sg_leader_etcd_put_state_json(lc->etcd.key, lc->name, l->my_epoch, key,
                                                     text)
                     : NULL;
    sg_leader_etcd_reply_t r = {0};
    int rc = s_post(l, "/v3/kv/txn", body, s_timeout(l), &answer);
    rc = rc ? rc : sg_leader_etcd_parse_txn(answer, &r);
    if (rc != SG_OK)
        s_http_warn(l, "writing the operator state", rc);
    else if (!r.succeeded)
        sg_warn(S_MOD, "the operator state was not written: epoch %" PRIu64 " no longer leads",
                l->my_epoch);
    sg_leader_etcd_reply_fini(&r);
    free(answer);
    free(body);
    free(key);
}

/* Takes the operator state texts the loop sent; the newest is written when
 * this instance leads. */
static void s_flush_state(sg_leader_t *l, void *sock)
{
    char *text = NULL, *next = NULL;
    __atomic_store_n(&l->state_pending, 0, __ATOMIC_RELEASE);
    while (zmq_recv(sock, &next, sizeof next, ZMQ_DONTWAIT) == (int)sizeof next) {
        free(text);
        text = next;
    }
    if (text && l->acting)
        s_write_state(l, text);
    free(text);
}

static void s_set_holder(sg_leader_t *l, void *sock, const char *holder)
{
    bool same = (!holder && !l->seen_holder) ||
                (holder && l->seen_holder && strcmp(holder, l->seen_holder) == 0);
    if (same)
        return;
    free(l->seen_holder);
    l->seen_holder = holder ? strdup(holder) : NULL;
    s_publish(l, sock);
}

static void s_revoke(sg_leader_t *l)
{
    if (!l->lease)
        return;
    char *body = sg_leader_etcd_lease_json(l->lease), *answer = NULL;
    int rc = s_post(l, "/v3/lease/revoke", body, s_timeout(l), &answer);
    if (rc != SG_OK)
        sg_debug(S_MOD, "revoking lease %" PRId64 ": %s", l->lease, sg_err_str(rc));
    free(body);
    free(answer);
    l->lease = 0;
}

static void s_step_down(sg_leader_t *l, void *sock, const char *why)
{
    __atomic_store_n(&l->acting_epoch, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&l->act_until, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&l->fence_failed, 0, __ATOMIC_RELEASE);
    l->acting = false;
    sg_warn(S_MOD, "%s: no longer the leader (epoch %" PRIu64 "); standby", why, l->my_epoch);
    s_revoke(l); /* the key goes with it, if it is still ours */
    free(l->seen_holder);
    l->seen_holder = NULL;
    s_publish(l, sock);
}

static void s_become_leader(sg_leader_t *l, void *sock, uint64_t epoch, int64_t sent)
{
    l->my_epoch = epoch;
    l->acting = true;
    __atomic_store_n(&l->act_until, sg_leader_deadline(sent, l->cfg->leader.etcd.ttl_ms),
                     __ATOMIC_RELEASE);
    __atomic_store_n(&l->acting_epoch, epoch, __ATOMIC_RELEASE);
    sg_warn(S_MOD, "%s is the leader, epoch %" PRIu64, l->cfg->leader.name, epoch);
    s_publish_state(l, sock, s_read_state(l));
}

/* A standby: sees who leads; when nobody does, grants a lease and campaigns. */
static void s_campaign(sg_leader_t *l, void *sock)
{
    const sg_leader_cfg_t *lc = &l->cfg->leader;
    sg_leader_etcd_reply_t r = {0};
    char *body = sg_leader_etcd_range_json(lc->etcd.key), *answer = NULL;
    int rc = s_post(l, "/v3/kv/range", body, s_timeout(l), &answer);
    rc = rc ? rc : sg_leader_etcd_parse_range(answer, &r);
    free(body);
    free(answer);
    if (rc != SG_OK || r.found) {
        if (rc != SG_OK)
            s_http_warn(l, "reading the leader key", rc);
        else
            s_set_holder(l, sock, r.holder);
        sg_leader_etcd_reply_fini(&r);
        return;
    }
    int64_t sent = sg_clock_mono(l->clock);
    body = sg_leader_etcd_grant_json(lc->etcd.ttl_ms);
    rc = s_post(l, "/v3/lease/grant", body, s_timeout(l), &answer);
    rc = rc ? rc : sg_leader_etcd_parse_grant(answer, &r);
    free(body);
    free(answer);
    if (rc != SG_OK) {
        s_http_warn(l, "granting a lease", rc);
        return;
    }
    l->lease = r.lease;
    body = sg_leader_etcd_campaign_json(lc->etcd.key, lc->name, l->lease);
    rc = s_post(l, "/v3/kv/txn", body, s_timeout(l), &answer);
    rc = rc ? rc : sg_leader_etcd_parse_txn(answer, &r);
    free(body);
    free(answer);
    bool in_time = sg_clock_mono(l->clock) < sg_leader_deadline(sent, lc->etcd.ttl_ms);
    if (rc == SG_OK && r.succeeded && in_time) {
        s_become_leader(l, sock, r.revision, sent);
    } else {
        if (rc != SG_OK)
            s_http_warn(l, "campaigning", rc);
        s_revoke(l);
        if (rc == SG_OK && !r.succeeded)
            s_set_holder(l, sock, r.holder);
    }
    sg_leader_etcd_reply_fini(&r);
}

/* The leader: keeps its lease alive; the deadline moves only on success. */
static void s_keepalive(sg_leader_t *l, void *sock)
{
    int64_t sent = sg_clock_mono(l->clock);
    int64_t left = __atomic_load_n(&l->act_until, __ATOMIC_ACQUIRE) - sent;
    int64_t timeout = s_timeout(l) < left ? s_timeout(l) : left;
    sg_leader_etcd_reply_t r = {0};
    char *body = sg_leader_etcd_lease_json(l->lease), *answer = NULL;
    int rc = s_post(l, "/v3/lease/keepalive", body, timeout, &answer);
    rc = rc ? rc : sg_leader_etcd_parse_keepalive(answer, &r);
    free(body);
    free(answer);
    if (rc != SG_OK) {
        s_http_warn(l, "keeping the lease alive", rc);
        return;
    }
    if (r.ttl <= 0) {
        l->lease = 0; /* gone in etcd: nothing to revoke */
        s_step_down(l, sock, "the lease expired in etcd");
        return;
    }
    l->http_errors = 0;
    __atomic_store_n(&l->act_until, sg_leader_deadline(sent, l->cfg->leader.etcd.ttl_ms),
                     __ATOMIC_RELEASE);
}

/* Sleeps until `until` (mono) in slices; returns early on a stop or a failed fence. */
static void s_nap(sg_leader_t *l, int64_t until)
{
    for (;;) {
        int64_t left = until - sg_clock_mono(l->clock);
        if (left <= 0 || s_flag(&l->stop) || s_flag(&l->fence_failed) ||
            s_flag(&l->state_pending))
            return;
        sg_clock_sleep(l->clock, left < S_SLICE_MS ? left : S_SLICE_MS);
    }
}

/* One turn of the thread; returns when it wants to run again. */
static int64_t s_turn(sg_leader_t *l, void *sock, int64_t *next_keepalive)
{
    int64_t every = l->cfg->leader.etcd.ttl_ms / 3;
    s_flush_state(l, sock);
    int64_t now = sg_clock_mono(l->clock);
    if (!l->acting) {
        __atomic_store_n(&l->fence_failed, 0, __ATOMIC_RELEASE); /* a late fence of a past epoch */
        s_campaign(l, sock);
        *next_keepalive = sg_clock_mono(l->clock) + every;
        return l->acting ? *next_keepalive : sg_clock_mono(l->clock) + every;
    }
    int64_t until = __atomic_load_n(&l->act_until, __ATOMIC_ACQUIRE);
    if (s_flag(&l->fence_failed)) {
        s_step_down(l, sock, "a fence check failed");
    } else if (now >= until) {
        s_step_down(l, sock, "no keepalive succeeded in time");
    } else if (now >= *next_keepalive) {
        s_keepalive(l, sock);
        *next_keepalive = now + every;
    }
    if (!l->acting)
        return sg_clock_mono(l->clock) + every;
    until = __atomic_load_n(&l->act_until, __ATOMIC_ACQUIRE);
    return *next_keepalive < until ? *next_keepalive : until;
}

static void *s_main(void *arg)
{
    sg_leader_t *l = arg;
    void *sock = zmq_socket(l->zctx, ZMQ_PAIR);
    int linger = 0;
    if (!sock || zmq_connect(sock, l->pair_ep) != 0) {
        sg_error(S_MOD, "cannot connect to the loop: %s", zmq_strerror(zmq_errno()));
        goto done;
    }
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    int64_t next_keepalive = 0;
    while (!s_flag(&l->stop))
        s_nap(l, s_turn(l, sock, &next_keepalive));
    __atomic_store_n(&l->acting_epoch, 0, __ATOMIC_RELEASE);
    if (l->acting) {
        s_flush_state(l, sock); /* the last operator state, before the key goes */
        sg_info(S_MOD, "stopping: releasing the leadership (epoch %" PRIu64 ")", l->my_epoch);
    }
    s_revoke(l);
done:
    for (char *text = NULL;
         sock && zmq_recv(sock, &text, sizeof text, ZMQ_DONTWAIT) == (int)sizeof text;)
        free(text); /* operator state sent after the last turn */
    if (sock)
        zmq_close(sock);
    return NULL;
}

/* ---- the loop's side -------------------------------------------------------------------- */

sg_leader_t *sg_leader_new(void *zctx, const sg_config_t *cfg, const sg_clock_t *clock)
{
    sg_leader_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->cfg = cfg;
    l->clock = clock;
    l->zctx = zctx;
    l->etcd = cfg->leader.mode == SG_LEADER_ETCD;
    if (!l->etcd) {
        l->is_leader = true;
        l->epoch = S_NONE_EPOCH;
        l->acting_epoch = S_NONE_EPOCH;
        return l;
    }
    int linger = 0;
    snprintf(l->pair_ep, sizeof l->pair_ep, "inproc://sg-leader-%lu", sg_serial());
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
        !(l->pair = zmq_socket(zctx, ZMQ_PAIR)))
        goto fail;
    zmq_setsockopt(l->pair, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(l->pair, l->pair_ep) != 0 || pthread_create(&l->thread, NULL, s_main, l) != 0)
        goto fail;
    l->started = true;
    sg_info(S_MOD, "etcd mode: %s campaigns for %s (ttl %.1f s); standby until it wins",
            cfg->leader.name, cfg->leader.etcd.key, cfg->leader.etcd.ttl_ms / 1000.0);
    return l;
fail:
    sg_error(S_MOD, "cannot start: %s", zmq_strerror(zmq_errno()));
    sg_leader_destroy(&l);
    return NULL;
}

static void s_drain(sg_leader_t *l)
{
    s_msg_t *m = NULL;
    while (l->pair && zmq_recv(l->pair, &m, sizeof m, ZMQ_DONTWAIT) == (int)sizeof m) {
        if (m) {
            free(m->holder);
            free(m->state);
        }
        free(m);
    }
}

void sg_leader_destroy(sg_leader_t **lp)
{
    if (!lp || !*lp)
        return;
    sg_leader_t *l = *lp;
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    if (l->started)
        pthread_join(l->thread, NULL);
    s_drain(l);
    if (l->pair)
        zmq_close(l->pair);
    if (l->etcd)
        curl_global_cleanup();
    free(l->holder);
    free(l->state);
    free(l->seen_holder);
    free(l);
    *lp = NULL;
}

void *sg_leader_socket(sg_leader_t *l) { return l->pair; }

int sg_leader_recv(sg_leader_t *l)
{
    int changed = 0;
    s_msg_t *m = NULL;
    while (l->pair && zmq_recv(l->pair, &m, sizeof m, ZMQ_DONTWAIT) == (int)sizeof m) {
        if (!m)
            continue;
        changed |= m->leader != l->is_leader || m->epoch != l->epoch;
        l->is_leader = m->leader;
        l->epoch = m->epoch;
        free(l->holder);
        l->holder = m->holder;
        if (m->state) {
            free(l->state);
            l->state = m->state;
        }
        free(m);
    }
    return changed;
}

char *sg_leader_take_state(sg_leader_t *l)
{
    char *text = l->state;
    l->state = NULL;
    return text;
}

int sg_leader_put_state(sg_leader_t *l, const char *text)
{
    if (!l->etcd)
        return SG_OK;
    char *copy = strdup(text);
    if (!copy)
        return SG_ENOMEM;
    if (zmq_send(l->pair, &copy, sizeof copy, ZMQ_DONTWAIT) != (int)sizeof copy) {
        free(copy);
        return SG_EIO;
    }
    __atomic_store_n(&l->state_pending, 1, __ATOMIC_RELEASE);
    return SG_OK;
}

/* The loop's view, and no longer once the acting deadline passed (a leader
 * stopped or starved past it must not act before its thread says so). */
bool sg_leader_is_leader(const sg_leader_t *l)
{
    if (!l->etcd || !l->is_leader)
        return l->is_leader;
    return sg_clock_mono(l->clock) < __atomic_load_n(&l->act_until, __ATOMIC_ACQUIRE);
}
uint64_t sg_leader_epoch(const sg_leader_t *l) { return l->epoch; }
const char *sg_leader_mode_name(const sg_leader_t *l) { return l->etcd ? "etcd" : "none"; }
const char *sg_leader_name(const sg_leader_t *l) { return l->cfg->leader.name; }

const char *sg_leader_holder(const sg_leader_t *l)
{
    return l->etcd ? l->holder : l->cfg->leader.name;
}

char *sg_leader_describe(const sg_leader_t *l)
{
    if (!l->etcd)
        return sg_strdupf("single instance (leader: none)");
    const char *holder = sg_leader_holder(l);
    if (l->is_leader)
        return sg_strdupf("leader: etcd, name %s, epoch %" PRIu64
                          ", holder %s (this instance leads)",
                          sg_leader_name(l), l->epoch, holder ? holder : "?");
    return sg_strdupf("leader: etcd, name %s, standby, holder %s", sg_leader_name(l),
                      holder ? holder : "none seen");
}

/* ---- the fence ------------------------------------------------------------------------- */

static int s_fenced(sg_leader_t *l, int rc)
{
    __atomic_store_n(&l->fence_failed, 1, __ATOMIC_RELEASE);
    return rc;
}

int sg_leader_fence(sg_leader_t *l, uint64_t epoch)
{
    if (!l->etcd)
        return SG_OK;
    if (epoch == 0 || __atomic_load_n(&l->acting_epoch, __ATOMIC_ACQUIRE) != epoch)
        return SG_ESTATE;
    int64_t now = sg_clock_mono(l->clock);
    int64_t until = __atomic_load_n(&l->act_until, __ATOMIC_ACQUIRE);
    if (now >= until)
        return s_fenced(l, SG_ESTATE);
    const sg_leader_cfg_t *lc = &l->cfg->leader;
    int64_t timeout = lc->etcd.timeout_ms < until - now ? lc->etcd.timeout_ms : until - now;
    char *body = sg_leader_etcd_fence_json(lc->etcd.key, lc->name, epoch), *answer = NULL;
    sg_leader_etcd_reply_t r = {0};
    int rc = s_post(l, "/v3/kv/txn", body, timeout, &answer);
    rc = rc ? rc : sg_leader_etcd_parse_txn(answer, &r);
    free(body);
    free(answer);
    sg_leader_etcd_reply_fini(&r);
    if (rc != SG_OK) {
        sg_warn(S_MOD, "fence check under epoch %" PRIu64 " could not be made: %s", epoch,
                sg_err_str(rc));
        return s_fenced(l, SG_EIO);
    }
    if (!r.succeeded) {
        sg_warn(S_MOD, "fenced: epoch %" PRIu64 " is no longer the leader's", epoch);
        return s_fenced(l, SG_ESTATE);
    }
    if (sg_clock_mono(l->clock) >= __atomic_load_n(&l->act_until, __ATOMIC_ACQUIRE))
        return s_fenced(l, SG_ESTATE); /* the answer came too late to count */
    return SG_OK;
}
