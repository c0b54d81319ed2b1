/* webhook: the headers of a request (event, dedup key, timestamp, HMAC
 * signature over the body) and its options; several requests at once over
 * kept-alive connections, each outcome with the result of its own answer;
 * batches of outcomes as one JSON array a request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "plugin_host.h"
#include "plugin_net.h"
#include "plugin_outcomes.h"

#include "../../plugins/webhook/webhook.c"

/* The value of header `name` in the list, or NULL. */
static const char *header(const struct curl_slist *l, const char *name)
{
    size_t len = strlen(name);
    for (; l; l = l->next) {
        if (strncmp(l->data, name, len) == 0 && l->data[len] == ':')
            return l->data + len + 2;
    }
    return NULL;
}

static void test_headers_carry_event_dedup_key_and_timestamp(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, "job ended in Exception");
    struct curl_slist *l = s_build_headers(NULL, NULL, o, PH_NOW);
    assert_string_equal(header(l, "X-Siteguard-Event"), "failed");
    assert_string_equal(header(l, "X-Siteguard-Dedup-Key"), "9/sql/failed");
    assert_string_equal(header(l, "X-Siteguard-Timestamp"), "1795626010");
    assert_null(header(l, "X-Siteguard-Signature"));
    curl_slist_free_all(l);
    sg_outcome_free(&o);
}

static void test_signature_is_hmac_sha256_of_the_body_under_the_secret(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SITE_LOST, "silent for 3 s");
    struct curl_slist *l = s_build_headers(NULL, "s3cret", o, PH_NOW);
    char want[SG_HMAC_HEX_LEN + 1];
    assert_int_equal(sg_hmac_sha256_hex("s3cret", 6, o->json, strlen(o->json), want), 0);
    const char *sig = header(l, "X-Siteguard-Signature");
    assert_non_null(sig);
    assert_memory_equal(sig, "sha256=", 7);
    assert_string_equal(sig + 7, want);
    curl_slist_free_all(l);
    sg_outcome_free(&o);
}

static void test_configured_headers_come_first_and_data_cannot_break_a_header(void **state)
{
    (void)state;
    struct curl_slist *configured = NULL;
    assert_int_equal(sg_http_headers_parse("X-A: 1; X-B: 2", &configured), 0);
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, NULL);
    assert_int_equal(sg_outcome_set(o, &o->dedup_key, "k\r\nX-Evil: 1"), SG_OK);
    po_refinish(o);
    struct curl_slist *l = s_build_headers(configured, NULL, o, PH_NOW);
    assert_string_equal(l->data, "X-A: 1");
    assert_string_equal(l->next->data, "X-B: 2");
    assert_string_equal(header(l, "X-Siteguard-Dedup-Key"), "k??X-Evil: 1");
    assert_null(header(l, "X-Evil"));
    curl_slist_free_all(l);
    curl_slist_free_all(configured);
    sg_outcome_free(&o);
}

static void test_init_refuses_a_url_that_is_not_http(void **state)
{
    (void)state;
    sg_plugin_option_t opts[] = {{"url", "ftp://example.invalid/x"}, {"timeout", "1000"}};
    void *ctx = NULL;
    assert_int_not_equal(s_init(&ph_host, opts, 2, &ctx), 0);
    assert_null(ctx);
}

static void test_init_refuses_malformed_headers(void **state)
{
    (void)state;
    sg_plugin_option_t opts[] = {{"url", "http://127.0.0.1:1/x"}, {"headers", "nonsense"}};
    void *ctx = NULL;
    assert_int_not_equal(s_init(&ph_host, opts, 2, &ctx), 0);
}

static void test_config_map_marks_url_headers_and_hmac_secret_as_secret(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_keys / sizeof s_keys[0]; i++) {
        int secret = strcmp(s_keys[i].name, "url") == 0 ||
                     strcmp(s_keys[i].name, "headers") == 0 ||
                     strcmp(s_keys[i].name, "hmac_secret") == 0;
        assert_int_equal(s_keys[i].secret, secret);
    }
}

/* Delivers o through a real webhook instance to a receiver on 127.0.0.1
 * that answers `status`; returns the result, the request in *h. */
static sg_deliver_result_t post_to_receiver(pn_http_t *h, int status, const sg_outcome_t *o)
{
    char url[96];
    pn_http_start(h, status);
    pn_url(&h->srv, "http", "/hook", url, sizeof url);
    sg_plugin_option_t opts[] = {{"url", url}, {"timeout", "10000"}, {"hmac_secret", "s3cret"}};
    void *ctx = NULL;
    assert_int_equal(s_init(&ph_host, opts, 3, &ctx), 0);
    sg_deliver_result_t r = s_deliver(ctx, o);
    s_close(ctx);
    pn_http_finish(h);
    return r;
}

static void test_post_reaches_a_local_receiver_with_body_and_signature(void **state)
{
    (void)state;
    static pn_http_t h;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, "job ended in Exception");
    assert_int_equal(post_to_receiver(&h, 200, o), SG_DELIVER_OK);
    const char *line = "POST /hook HTTP/1.1\r\n";
    assert_memory_equal(h.request, line, strlen(line));
    assert_non_null(pn_http_body(&h));
    assert_string_equal(pn_http_body(&h), o->json);
    char want[SG_HMAC_HEX_LEN + 1], got[128];
    assert_int_equal(sg_hmac_sha256_hex("s3cret", 6, o->json, strlen(o->json), want), 0);
    assert_non_null(pn_http_header(&h, "X-Siteguard-Signature", got, sizeof got));
    assert_string_equal(got + strlen("sha256="), want);
    assert_non_null(pn_http_header(&h, "X-Siteguard-Dedup-Key", got, sizeof got));
    assert_string_equal(got, "9/sql/failed");
    sg_outcome_free(&o);
}

static void test_receiver_answering_503_is_retried_and_404_is_not(void **state)
{
    (void)state;
    static pn_http_t h;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SITE_LOST, NULL);
    assert_int_equal(post_to_receiver(&h, 503, o), SG_DELIVER_RETRY);
    assert_string_equal(pn_http_body(&h), o->json);
    assert_int_equal(post_to_receiver(&h, 404, o), SG_DELIVER_FATAL);
    sg_outcome_free(&o);
}

/* --- several at once, and batches --------------------------------------------------------- */

enum { WX_MAX = 16 };

/* A finished failure of collection "c<i>" in run 9: dedup key "9/c<i>/failed". */
static sg_outcome_t *numbered(int i)
{
    char name[16];
    snprintf(name, sizeof name, "c%d", i);
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_FAILED, PO_WALL + i);
    assert_non_null(o);
    o->run_id = 9;
    assert_int_equal(sg_outcome_set(o, &o->site, "A"), SG_OK);
    assert_int_equal(sg_outcome_set(o, &o->replica_site, "B"), SG_OK);
    assert_int_equal(sg_outcome_set(o, &o->collection, name), SG_OK);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
    return o;
}

/* A webhook instance against a keep-alive receiver, and the outcomes it is
 * handed (outs[i] is numbered(i + 1)). */
typedef struct {
    pn_pool_t pool;
    char url[96];
    void *ctx;
    sg_outcome_t *outs[WX_MAX];
    size_t n;
} wx_t;

/* The receiver answers `status` unless a rule (wx_rule) says otherwise. */
static void wx_init(wx_t *x, int status, size_t n)
{
    memset(x, 0, sizeof *x);
    pn_pool_init(&x->pool, status);
    for (x->n = 0; x->n < n; x->n++)
        x->outs[x->n] = numbered((int)x->n + 1);
}

/* Starts the receiver and a webhook (signing with "s3cret") to it. */
static void wx_open(wx_t *x, const char *connections, const char *batch)
{
    pn_pool_start(&x->pool);
    pn_url(&x->pool.srv, "http", "/hook", x->url, sizeof x->url);
    sg_plugin_option_t opts[] = {{"url", x->url},
                                 {"timeout", "10000"},
                                 {"hmac_secret", "s3cret"},
                                 {"connections", connections},
                                 {"batch", batch}};
    assert_int_equal(s_init(&ph_host, opts, 5, &x->ctx), 0);
}

/* Hands outs[first .. first + n) to the webhook in one call. */
static void wx_deliver(wx_t *x, size_t first, size_t n, sg_deliver_result_t *results)
{
    assert_true(first + n <= x->n);
    s_deliver_batch(x->ctx, (const sg_outcome_t *const *)&x->outs[first], n, results);
}

/* Closes the webhook (and so its connections), then the receiver. */
static void wx_close(wx_t *x)
{
    s_close(x->ctx);
    x->ctx = NULL;
    pn_pool_finish(&x->pool);
}

static void wx_free(wx_t *x)
{
    for (size_t i = 0; i < x->n; i++)
        sg_outcome_free(&x->outs[i]);
    pn_pool_free(&x->pool);
}

/* The request whose dedup key header names outs[i]. */
static const char *wx_request_of(const wx_t *x, size_t i)
{
    char needle[128];
    snprintf(needle, sizeof needle, "X-Siteguard-Dedup-Key: %s\r\n", x->outs[i]->dedup_key);
    return pn_pool_find(&x->pool, needle);
}

/* The request carries `body` exactly, signed with "s3cret" over it. */
static void assert_body_signed(const char *req, const char *body)
{
    char want[SG_HMAC_HEX_LEN + 1], got[128];
    assert_non_null(pn_req_body(req));
    assert_string_equal(pn_req_body(req), body);
    assert_int_equal(sg_hmac_sha256_hex("s3cret", 6, body, strlen(body), want), 0);
    assert_non_null(pn_req_header(req, "X-Siteguard-Signature", got, sizeof got));
    assert_memory_equal(got, "sha256=", 7);
    assert_string_equal(got + 7, want);
}

static void test_requests_at_once_each_get_the_result_of_their_own_answer(void **state)
{
    (void)state;
    static wx_t x;
    wx_init(&x, 200, 4);
    pn_pool_rule(&x.pool, "9/c2/failed", 500);
    pn_pool_rule(&x.pool, "9/c3/failed", 400);
    x.pool.gate = 4; /* nothing is answered until all four are in hand */
    wx_open(&x, "4", "1");
    sg_deliver_result_t r[4];
    wx_deliver(&x, 0, 4, r);
    wx_close(&x);
    assert_int_equal(x.pool.max_in_hand, 4);
    assert_int_equal(x.pool.n, 4);
    assert_int_equal(r[0], SG_DELIVER_OK);
    assert_int_equal(r[1], SG_DELIVER_RETRY);
    assert_int_equal(r[2], SG_DELIVER_FATAL);
    assert_int_equal(r[3], SG_DELIVER_OK);
    for (size_t i = 0; i < 4; i++) { /* each its own body, headers and signature */
        const char *req = wx_request_of(&x, i);
        char got[64];
        assert_body_signed(req, x.outs[i]->json);
        assert_non_null(pn_req_header(req, "X-Siteguard-Event", got, sizeof got));
        assert_string_equal(got, "failed");
        assert_null(pn_req_header(req, "X-Siteguard-Batch", got, sizeof got));
    }
    wx_free(&x);
}

static void test_once_a_request_is_to_be_retried_no_new_one_starts(void **state)
{
    (void)state;
    static wx_t x;
    wx_init(&x, 200, 3);
    pn_pool_rule(&x.pool, "9/c1/failed", 503);
    wx_open(&x, "1", "1");
    sg_deliver_result_t r[3] = {SG_DELIVER_OK, SG_DELIVER_OK, SG_DELIVER_OK};
    wx_deliver(&x, 0, 3, r);
    wx_close(&x);
    assert_int_equal(x.pool.n, 1); /* the receiver is failing: the others wait */
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(r[i], SG_DELIVER_RETRY);
    wx_free(&x);
}

static void test_a_request_refused_for_good_does_not_stop_the_others(void **state)
{
    (void)state;
    static wx_t x;
    wx_init(&x, 200, 3);
    pn_pool_rule(&x.pool, "9/c1/failed", 400);
    wx_open(&x, "1", "1");
    sg_deliver_result_t r[3];
    wx_deliver(&x, 0, 3, r);
    wx_close(&x);
    assert_int_equal(x.pool.n, 3);
    assert_int_equal(r[0], SG_DELIVER_FATAL);
    assert_int_equal(r[1], SG_DELIVER_OK);
    assert_int_equal(r[2], SG_DELIVER_OK);
    wx_free(&x);
}

static void test_connections_stay_open_across_requests_and_calls(void **state)
{
    (void)state;
    static wx_t x;
    wx_init(&x, 200, 8);
    x.pool.gate = 2; /* the first two are in hand at once: two connections */
    wx_open(&x, "2", "1");
    sg_deliver_result_t r[8];
    wx_deliver(&x, 0, 4, r);
    wx_deliver(&x, 4, 4, r + 4);
    wx_close(&x);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(r[i], SG_DELIVER_OK);
    assert_int_equal(x.pool.n, 8);
    assert_int_equal(x.pool.max_in_hand, 2);
    assert_int_equal(x.pool.n_conns, 2); /* not one a request */
    wx_free(&x);
}

/* "[" the JSON of outs[first .. first + n), comma separated, "]". */
static char *array_of(const wx_t *x, size_t first, size_t n)
{
    char *body = sg_text_printf("[");
    for (size_t i = first; body && i < first + n; i++) {
        char *next = sg_text_printf("%s%s%s", body, i > first ? "," : "", x->outs[i]->json);
        free(body);
        body = next;
    }
    char *whole = body ? sg_text_printf("%s]", body) : NULL;
    free(body);
    assert_non_null(whole);
    return whole;
}

static void test_batch_posts_arrays_with_a_count_header_signed_over_the_whole_body(void **state)
{
    (void)state;
    static wx_t x;
    wx_init(&x, 200, 5);
    wx_open(&x, "1", "3");
    sg_deliver_result_t r[5];
    wx_deliver(&x, 0, 5, r);
    wx_close(&x);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(r[i], SG_DELIVER_OK);
    assert_int_equal(x.pool.n, 2); /* 3 + 2 */
    const size_t first[2] = {0, 3}, count[2] = {3, 2};
    for (size_t q = 0; q < 2; q++) {
        char needle[64], got[64];
        snprintf(needle, sizeof needle, "\"dedup_key\":\"%s\"", x.outs[first[q]]->dedup_key);
        const char *req = pn_pool_find(&x.pool, needle);
        char *want = array_of(&x, first[q], count[q]);
        assert_body_signed(req, want);
        free(want);
        json_t *doc = po_json(pn_req_body(req)); /* the receiver's view: an array */
        assert_true(json_is_array(doc));
        assert_int_equal(json_array_size(doc), count[q]);
        for (size_t i = 0; i < count[q]; i++)
            assert_string_equal(po_str(json_array_get(doc, i), "dedup_key", NULL),
                                x.outs[first[q] + i]->dedup_key);
        json_decref(doc);
        assert_non_null(pn_req_header(req, "X-Siteguard-Batch", got, sizeof got));
        assert_int_equal(strtol(got, NULL, 10), (long)count[q]);
        assert_non_null(pn_req_header(req, "Content-Type", got, sizeof got));
        assert_string_equal(got, "application/json");
        assert_null(pn_req_header(req, "X-Siteguard-Dedup-Key", got, sizeof got));
        assert_null(pn_req_header(req, "X-Siteguard-Event", got, sizeof got));
    }
    wx_free(&x);
}

static void test_a_batch_answer_is_the_result_of_each_outcome_in_it(void **state)
{
    (void)state;
    static wx_t x;
    wx_init(&x, 200, 4);
    pn_pool_rule(&x.pool, "9/c3/failed", 400); /* the second request: c3 and c4 */
    x.pool.gate = 2;
    wx_open(&x, "2", "2");
    sg_deliver_result_t r[4];
    wx_deliver(&x, 0, 4, r);
    wx_close(&x);
    assert_int_equal(x.pool.n, 2);
    assert_int_equal(x.pool.max_in_hand, 2);
    assert_int_equal(r[0], SG_DELIVER_OK);
    assert_int_equal(r[1], SG_DELIVER_OK);
    assert_int_equal(r[2], SG_DELIVER_FATAL);
    assert_int_equal(r[3], SG_DELIVER_FATAL);
    wx_free(&x);
}

static void test_an_incomplete_outcome_is_fatal_and_never_sent(void **state)
{
    (void)state;
    static wx_t x;
    wx_init(&x, 200, 3);
    wx_open(&x, "2", "1");
    sg_outcome_t bad = *x.outs[1];
    bad.json = NULL;
    const sg_outcome_t *outs[3] = {x.outs[0], &bad, x.outs[2]};
    sg_deliver_result_t r[3];
    s_deliver_batch(x.ctx, outs, 3, r);
    wx_close(&x);
    assert_int_equal(x.pool.n, 2);
    assert_int_equal(r[0], SG_DELIVER_OK);
    assert_int_equal(r[1], SG_DELIVER_FATAL);
    assert_int_equal(r[2], SG_DELIVER_OK);
    wx_free(&x);
}

static void test_init_refuses_connections_or_batch_out_of_range(void **state)
{
    (void)state;
    const char *bad[][2] = {{"0", "1"}, {"65", "1"}, {"-1", "1"}, {"4", "0"}, {"4", "1001"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sg_plugin_option_t opts[] = {
            {"url", "http://127.0.0.1:1/x"}, {"connections", bad[i][0]}, {"batch", bad[i][1]}};
        void *ctx = NULL;
        assert_int_not_equal(s_init(&ph_host, opts, 3, &ctx), 0);
        assert_null(ctx);
    }
    sg_plugin_option_t good[] = {
        {"url", "http://127.0.0.1:1/x"}, {"connections", "64"}, {"batch", "1000"}};
    void *ctx = NULL;
    assert_int_equal(s_init(&ph_host, good, 3, &ctx), 0);
    s_close(ctx);
}

static void test_batch_builders_make_the_array_and_its_headers(void **state)
{
    (void)state;
    static wx_t x;
    wx_init(&x, 200, 2);
    char *body = s_build_array((const sg_outcome_t *const *)x.outs, 2);
    char *want = array_of(&x, 0, 2);
    assert_string_equal(body, want);
    struct curl_slist *l = s_build_batch_headers(NULL, "s3cret", 2, body, PH_NOW);
    char hex[SG_HMAC_HEX_LEN + 1];
    assert_int_equal(sg_hmac_sha256_hex("s3cret", 6, body, strlen(body), hex), 0);
    assert_string_equal(header(l, "X-Siteguard-Batch"), "2");
    assert_string_equal(header(l, "X-Siteguard-Timestamp"), "1795626010");
    assert_string_equal(header(l, "X-Siteguard-Signature") + 7, hex);
    assert_null(header(l, "X-Siteguard-Dedup-Key"));
    curl_slist_free_all(l);
    free(want);
    free(body);
    wx_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_carry_event_dedup_key_and_timestamp),
        cmocka_unit_test(test_signature_is_hmac_sha256_of_the_body_under_the_secret),
        cmocka_unit_test(test_configured_headers_come_first_and_data_cannot_break_a_header),
        cmocka_unit_test(test_init_refuses_a_url_that_is_not_http),
        cmocka_unit_test(test_init_refuses_malformed_headers),
        cmocka_unit_test(test_config_map_marks_url_headers_and_hmac_secret_as_secret),
        cmocka_unit_test(test_post_reaches_a_local_receiver_with_body_and_signature),
        cmocka_unit_test(test_receiver_answering_503_is_retried_and_404_is_not),
        cmocka_unit_test(test_requests_at_once_each_get_the_result_of_their_own_answer),
        cmocka_unit_test(test_once_a_request_is_to_be_retried_no_new_one_starts),
        cmocka_unit_test(test_a_request_refused_for_good_does_not_stop_the_others),
        cmocka_unit_test(test_connections_stay_open_across_requests_and_calls),
        cmocka_unit_test(test_batch_posts_arrays_with_a_count_header_signed_over_the_whole_body),
        cmocka_unit_test(test_a_batch_answer_is_the_result_of_each_outcome_in_it),
        cmocka_unit_test(test_an_incomplete_outcome_is_fatal_and_never_sent),
        cmocka_unit_test(test_init_refuses_connections_or_batch_out_of_range),
        cmocka_unit_test(test_batch_builders_make_the_array_and_its_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
