/* webhook: the headers of a request (event, dedup key, timestamp, HMAC
 * signature over the body) and its options. */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
