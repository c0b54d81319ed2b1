/* The plugins' shared helpers: delivery results from HTTP and SMTP answers,
 * HMAC-SHA256, request headers, several requests at once (sg_http_multi_t),
 * and the texts of alerts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "plugin_net.h"
#include "plugin_outcomes.h"

#include "common/hmac.h"
#include "common/http.h"
#include "common/result.h"
#include "common/text.h"

#include <stdlib.h>
#include <string.h>

static void test_http_2xx_is_delivered(void **state)
{
    (void)state;
    assert_int_equal(sg_result_http(CURLE_OK, 200), SG_DELIVER_OK);
    assert_int_equal(sg_result_http(CURLE_OK, 202), SG_DELIVER_OK);
    assert_int_equal(sg_result_http(CURLE_OK, 204), SG_DELIVER_OK);
}

static void test_http_408_425_429_and_5xx_are_retried(void **state)
{
    (void)state;
    const long retry[] = {408, 425, 429, 500, 502, 503, 504, 599};
    for (size_t i = 0; i < sizeof retry / sizeof retry[0]; i++)
        assert_int_equal(sg_result_http(CURLE_OK, retry[i]), SG_DELIVER_RETRY);
}

static void test_http_other_4xx_and_redirects_are_fatal(void **state)
{
    (void)state;
    const long fatal[] = {400, 401, 403, 404, 410, 413, 422, 301, 302};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        assert_int_equal(sg_result_http(CURLE_OK, fatal[i]), SG_DELIVER_FATAL);
}

static void test_http_transport_errors_are_retried_but_a_bad_url_is_fatal(void **state)
{
    (void)state;
    assert_int_equal(sg_result_http(CURLE_COULDNT_CONNECT, 0), SG_DELIVER_RETRY);
    assert_int_equal(sg_result_http(CURLE_OPERATION_TIMEDOUT, 0), SG_DELIVER_RETRY);
    assert_int_equal(sg_result_http(CURLE_COULDNT_RESOLVE_HOST, 0), SG_DELIVER_RETRY);
    assert_int_equal(sg_result_http(CURLE_RECV_ERROR, 0), SG_DELIVER_RETRY);
    assert_int_equal(sg_result_http(CURLE_URL_MALFORMAT, 0), SG_DELIVER_FATAL);
    assert_int_equal(sg_result_http(CURLE_UNSUPPORTED_PROTOCOL, 0), SG_DELIVER_FATAL);
}

static void test_smtp_4xx_is_retried_and_5xx_is_fatal_whatever_curl_says(void **state)
{
    (void)state;
    assert_int_equal(sg_result_smtp(CURLE_OK, 250), SG_DELIVER_OK);
    assert_int_equal(sg_result_smtp(CURLE_SEND_ERROR, 451), SG_DELIVER_RETRY);
    assert_int_equal(sg_result_smtp(CURLE_RECV_ERROR, 421), SG_DELIVER_RETRY);
    assert_int_equal(sg_result_smtp(CURLE_SEND_ERROR, 550), SG_DELIVER_FATAL);
    assert_int_equal(sg_result_smtp(CURLE_LOGIN_DENIED, 535), SG_DELIVER_FATAL);
    assert_int_equal(sg_result_smtp(CURLE_COULDNT_CONNECT, 0), SG_DELIVER_RETRY);
    assert_int_equal(sg_result_smtp(CURLE_RECV_ERROR, 250), SG_DELIVER_RETRY);
}

static void test_hmac_sha256_matches_rfc_4231_case_2(void **state)
{
    (void)state;
    char hex[SG_HMAC_HEX_LEN + 1];
    const char *data = "what do ya want for nothing?";
    assert_int_equal(sg_hmac_sha256_hex("Jefe", 4, data, strlen(data), hex), 0);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_sha256_of_abc(void **state)
{
    (void)state;
    char hex[SG_HMAC_HEX_LEN + 1];
    assert_int_equal(sg_hmac_sha256_digest_hex("abc", 3, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_base64_matches_rfc_4648_vectors(void **state)
{
    (void)state;
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t n = 0; n <= 6; n++) {
        char out[SG_TEXT_BASE64_LEN(6)];
        sg_text_base64("foobar", n, out);
        assert_string_equal(out, want[n]);
    }
}

static void test_headers_parse_semicolon_list_trimmed(void **state)
{
    (void)state;
    struct curl_slist *l = NULL;
    assert_int_equal(sg_http_headers_parse(" X-A: 1;X-B:  two words ; ", &l), 0);
    assert_non_null(l);
    assert_string_equal(l->data, "X-A: 1");
    assert_non_null(l->next);
    assert_string_equal(l->next->data, "X-B:  two words");
    assert_null(l->next->next);
    curl_slist_free_all(l);
    l = NULL;
    assert_int_equal(sg_http_headers_parse(NULL, &l), 0);
    assert_null(l);
}

static void test_headers_without_name_or_colon_are_refused(void **state)
{
    (void)state;
    struct curl_slist *l = NULL;
    assert_int_equal(sg_http_headers_parse("X-A: 1; broken", &l), -1);
    assert_null(l);
    assert_int_equal(sg_http_headers_parse(": 1", &l), -1);
    assert_null(l);
}

/* --- several requests at once --------------------------------------------------------- */

/* What sg_http_multi_send's `done` saw. */
typedef struct {
    size_t calls;
    size_t seen[8]; /* times each index was seen */
    long status[8];
} done_log_t;

static void on_done(void *arg, size_t i, const sg_http_response_t *resp,
                    sg_deliver_result_t result, const char *why)
{
    done_log_t *d = arg;
    assert_true(i < 8);
    assert_non_null(why);
    assert_int_equal(result, sg_result_http(resp->curl_code, resp->status));
    d->calls++;
    d->seen[i]++;
    d->status[i] = resp->status;
}

/* n POSTs of "x" to `url` followed by the path paths[i]. */
static void make_requests(sg_http_request_t *reqs, char (*urls)[96], const char *base,
                          const char *const *paths, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(urls[i], sizeof urls[i], "%s%s", base, paths[i]);
        reqs[i] = (sg_http_request_t){.url = urls[i], .content_type = "text/plain", .body = "x",
                                      .body_len = 1, .timeout_ms = 10000};
    }
}

static void test_multi_sends_at_once_and_reports_each_request_once(void **state)
{
    (void)state;
    static pn_pool_t pool;
    pn_pool_init(&pool, 200);
    pn_pool_rule(&pool, "POST /b ", 404);
    pool.gate = 3;
    pn_pool_start(&pool);
    char base[64], urls[3][96];
    pn_url(&pool.srv, "http", "", base, sizeof base);
    const char *paths[3] = {"/a", "/b", "/c"};
    sg_http_request_t reqs[3];
    make_requests(reqs, urls, base, paths, 3);
    sg_http_multi_t *m = sg_http_multi_new(3);
    assert_non_null(m);
    sg_http_response_t resps[3];
    sg_deliver_result_t results[3];
    done_log_t d = {0};
    assert_int_equal(sg_http_multi_send(m, reqs, 3, resps, results, on_done, &d), 0);
    sg_http_multi_destroy(&m);
    assert_null(m);
    pn_pool_finish(&pool);
    assert_int_equal(pool.max_in_hand, 3);
    assert_int_equal(d.calls, 3);
    const long want[3] = {200, 404, 200};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(d.seen[i], 1);
        assert_int_equal(d.status[i], want[i]);
        assert_int_equal(resps[i].status, want[i]);
        assert_true(resps[i].sent);
    }
    assert_int_equal(results[0], SG_DELIVER_OK);
    assert_int_equal(results[1], SG_DELIVER_FATAL);
    assert_int_equal(results[2], SG_DELIVER_OK);
    pn_pool_free(&pool);
}

static void test_multi_starts_nothing_new_once_a_request_is_to_be_retried(void **state)
{
    (void)state;
    pn_server_t closed = pn_listen(SOCK_STREAM); /* a port nobody listens on, once closed */
    char base[64], urls[5][96];
    pn_url(&closed, "http", "", base, sizeof base);
    pn_stop(&closed);
    const char *paths[5] = {"/1", "/2", "/3", "/4", "/5"};
    sg_http_request_t reqs[5];
    make_requests(reqs, urls, base, paths, 5);
    sg_http_multi_t *m = sg_http_multi_new(2);
    assert_non_null(m);
    sg_http_response_t resps[5];
    sg_deliver_result_t results[5];
    done_log_t d = {0};
    assert_int_equal(sg_http_multi_send(m, reqs, 5, resps, results, on_done, &d), 0);
    sg_http_multi_destroy(&m);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(results[i], SG_DELIVER_RETRY);
    /* the two started at once were refused; none was started after */
    assert_int_equal(d.calls, 2);
    assert_true(resps[0].sent && resps[1].sent);
    assert_int_equal(resps[0].curl_code, CURLE_COULDNT_CONNECT);
    for (size_t i = 2; i < 5; i++)
        assert_false(resps[i].sent);
}

static void test_titles_say_what_happened(void **state)
{
    (void)state;
    const struct {
        sg_outcome_kind_t kind;
        const char *want;
    } cases[] = {
        {SG_OUTCOME_SITE_LOST, "site A lost"},
        {SG_OUTCOME_SITE_RECOVERED, "site A recovered"},
        {SG_OUTCOME_DECISION, "failover of sql from A to B decided"},
        {SG_OUTCOME_BLOCKED, "failover of sql from A to B blocked"},
        {SG_OUTCOME_SUCCEEDED, "sql failed over from A to B"},
        {SG_OUTCOME_FAILED, "failover of sql from A to B failed"},
        {SG_OUTCOME_TIMED_OUT, "failover of sql from A to B timed out"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sg_outcome_t *o = po_outcome(cases[i].kind, NULL);
        char *t = sg_text_title(o);
        assert_string_equal(t, cases[i].want);
        free(t);
        sg_outcome_free(&o);
    }
}

static void test_a_flapping_sites_title_says_whether_it_began_or_ended(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SITE_FLAPPING, "site A is flapping");
    assert_int_equal(sg_outcome_set(o, &o->dedup_key, "A/-/site_flapping/1/started"), SG_OK);
    char *t = sg_text_title(o);
    assert_string_equal(t, "site A flapping");
    assert_false(sg_text_flap_ended(o));
    free(t);
    assert_int_equal(sg_outcome_set(o, &o->dedup_key, "A/-/site_flapping/2/ended"), SG_OK);
    t = sg_text_title(o);
    assert_string_equal(t, "site A stopped flapping");
    assert_true(sg_text_flap_ended(o));
    free(t);
    sg_outcome_free(&o);
    o = po_outcome(SG_OUTCOME_SITE_LOST, NULL); /* another kind never "ended" */
    assert_int_equal(sg_outcome_set(o, &o->dedup_key, "x/ended"), SG_OK);
    assert_false(sg_text_flap_ended(o));
    sg_outcome_free(&o);
}

static void test_summary_is_one_line_and_cut_on_a_character_boundary(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, "job ended\nin Exception");
    char *s = sg_text_summary(o, 0);
    assert_string_equal(s, "failover of sql from A to B failed: job ended in Exception");
    free(s);
    sg_outcome_free(&o);

    o = po_outcome(SG_OUTCOME_SITE_LOST, "\xc3\xa9\xc3\xa9\xc3\xa9"); /* "ééé" */
    s = sg_text_summary(o, strlen("site A lost: ") + 2 + 3); /* room for one é and "..." */
    assert_string_equal(s, "site A lost: \xc3\xa9...");
    free(s);
    s = sg_text_summary(o, strlen("site A lost: ") + 1 + 3); /* half an é: left out */
    assert_string_equal(s, "site A lost: ...");
    free(s);
    sg_outcome_free(&o);
}

static void test_rfc3339_has_milliseconds_and_z(void **state)
{
    (void)state;
    char t[SG_TEXT_TIME_LEN];
    sg_text_rfc3339(PO_WALL, t);
    assert_string_equal(t, "2026-11-25T17:00:03.120Z");
}

static void test_facts_list_only_what_is_set_in_order(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, "x");
    o->attempt = 2;
    o->return_value = 32768;
    o->error_code = 32789;
    po_refinish(o);
    sg_text_fact_t f[SG_TEXT_MAX_FACTS];
    int n = sg_text_facts(o, f);
    const char *want[][2] = {
        {"Kind", "failed"},      {"Severity", "critical"},    {"Time", "2026-11-25T17:00:03.120Z"},
        {"Site", "A"},           {"Replica site", "B"},       {"Collection", "sql"},
        {"Run", "9"},            {"Attempt", "2"},            {"Return value", "32768"},
        {"Error code", "32789"}, {"Dedup key", "9/sql/failed"},
    };
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (int i = 0; i < n; i++) {
        assert_string_equal(f[i].label, want[i][0]);
        assert_string_equal(f[i].value, want[i][1]);
    }
    sg_text_facts_free(f, n);
    sg_outcome_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_2xx_is_delivered),
        cmocka_unit_test(test_http_408_425_429_and_5xx_are_retried),
        cmocka_unit_test(test_http_other_4xx_and_redirects_are_fatal),
        cmocka_unit_test(test_http_transport_errors_are_retried_but_a_bad_url_is_fatal),
        cmocka_unit_test(test_smtp_4xx_is_retried_and_5xx_is_fatal_whatever_curl_says),
        cmocka_unit_test(test_hmac_sha256_matches_rfc_4231_case_2),
        cmocka_unit_test(test_sha256_of_abc),
        cmocka_unit_test(test_base64_matches_rfc_4648_vectors),
        cmocka_unit_test(test_headers_parse_semicolon_list_trimmed),
        cmocka_unit_test(test_headers_without_name_or_colon_are_refused),
        cmocka_unit_test(test_multi_sends_at_once_and_reports_each_request_once),
        cmocka_unit_test(test_multi_starts_nothing_new_once_a_request_is_to_be_retried),
        cmocka_unit_test(test_titles_say_what_happened),
        cmocka_unit_test(test_a_flapping_sites_title_says_whether_it_began_or_ended),
        cmocka_unit_test(test_summary_is_one_line_and_cut_on_a_character_boundary),
        cmocka_unit_test(test_rfc3339_has_milliseconds_and_z),
        cmocka_unit_test(test_facts_list_only_what_is_set_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
