/* redact: secrets masked out of what is logged or shown (base/redact.h),
 * and every log line passed through it. What plugins log is masked with
 * their sinks' secrets too: test_notify.c has sinks fail against real
 * receivers that quote the request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "base/log.h"
#include "base/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg_testutil.h"

typedef struct {
    const char *text, *want;
} case_t;

/* sg_redact of each case's text with `set` gives its want. */
static void check(const case_t *cases, size_t n, const sg_redact_set_t *set)
{
    for (size_t i = 0; i < n; i++) {
        char *got = sg_redact(cases[i].text, set);
        assert_non_null(got);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("redacting \"%s\"\n  got  \"%s\"\n  want \"%s\"", cases[i].text, got,
                     cases[i].want);
        free(got);
    }
}

#define CHECK(cases, set) check(cases, sizeof cases / sizeof cases[0], set)

static void test_url_credentials_are_masked_and_the_host_kept(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"POST https://alice:s3cr3t@hooks.example.com/x failed",
         "POST https://***@hooks.example.com/x failed"},
        {"etcd http://root:pw@10.0.0.1:2379,http://10.0.0.2:2379",
         "etcd http://***@10.0.0.1:2379,http://10.0.0.2:2379"},
        {"smtp://apitoken@mail.example.com:587", "smtp://***@mail.example.com:587"},
        {"write to alice@example.com and see http://example.com/a@b",
         "write to alice@example.com and see http://example.com/a@b"},
    };
    CHECK(cases, NULL);
}

static void test_token_parameters_are_masked_wherever_they_stand(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"GET /alerts?token=abc123&limit=5&api_key=zz9&X-Amz-Signature=ffee HTTP/1.1",
         "GET /alerts?token=***&limit=5&api_key=***&X-Amz-Signature=*** HTTP/1.1"},
        {"https://h/x?access_token=eyJhbGciOi.x.y#frag", "https://h/x?access_token=***#frag"},
        {"retry=3 key=k-9 routing_key=R0UT password=pw1 monkey=ok",
         "retry=3 key=*** routing_key=*** password=*** monkey=ok"},
    };
    CHECK(cases, NULL);
}

static void test_credential_headers_and_auth_schemes_are_masked(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"Authorization: Basic dXNlcjpwYXNz", "Authorization: ***"},
        {"X-Api-Key: abcd1234; X-Team: ops", "X-Api-Key: ***; X-Team: ops"},
        {"answer: invalid Bearer eyJhbGciOiJIUzI1NiJ9.e30 given", "answer: invalid Bearer *** given"},
        {"proxy-authorization:Negotiate abc\r\nHost: h", "proxy-authorization:***\r\nHost: h"},
        {"a Basic rule applies", "a Basic rule applies"},
        /* a request quoted on one line: its line breaks became blanks */
        {"HTTP 401: POST /in HTTP/1.1  Authorization: Token abc123  User-Agent: siteguard",
         "HTTP 401: POST /in HTTP/1.1  Authorization: ***  User-Agent: siteguard"},
    };
    CHECK(cases, NULL);
}

static void test_secret_values_and_their_parts_are_masked(void **state)
{
    (void)state;
    sg_redact_set_t set;
    sg_redact_set_init(&set);
    assert_int_equal(sg_redact_set_add(&set, "https://hooks.slack.com/services/T0AAAA/B0BBBB/"
                                             "XyZ0123456789abcdefgh"),
                     SG_OK);
    assert_int_equal(sg_redact_set_add(&set, "X-Api-Key: k3y-value-77; X-Team: ops"), SG_OK);
    assert_int_equal(sg_redact_set_add(&set, "pw"), SG_OK); /* too short to look for */
    assert_int_equal(sg_redact_set_add(&set, NULL), SG_OK);
    static const case_t cases[] = {
        {"POST to https://hooks.slack.com/services/T0AAAA/B0BBBB/XyZ0123456789abcdefgh: 404",
         "POST to ***: 404"},
        {"no_service: /services/T0AAAA/B0BBBB/XyZ0123456789abcdefgh", "no_service: ***"},
        {"invalid token XyZ0123456789abcdefgh", "invalid token ***"},
        {"key k3y-value-77 refused; pw ok", "key *** refused; pw ok"},
    };
    CHECK(cases, &set);
    sg_redact_set_fini(&set);
    assert_int_equal(set.n, 0);
}

static void test_text_without_secrets_is_unchanged(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"", ""},
        {"journal /var/lib/siteguard/journal.db open", "journal /var/lib/siteguard/journal.db open"},
        {"dead letter 9/sql/failed (failed): retries exhausted",
         "dead letter 9/sql/failed (failed): retries exhausted"},
        {"test.yaml:22:26: 'key' must be a CURVE public key: 40 characters",
         "test.yaml:22:26: 'key' must be a CURVE public key: 40 characters"},
        {"bind tcp://127.0.0.1:7710", "bind tcp://127.0.0.1:7710"},
    };
    CHECK(cases, NULL);
}

static void test_every_log_line_masks_url_credentials_and_tokens(void **state)
{
    (void)state;
    char dir[256], path[320];
    assert_non_null(sg_test_mkdtemp(dir, sizeof dir, "sg-redact-"));
    snprintf(path, sizeof path, "%s/stderr.log", dir);
    int saved = sg_test_capture_begin(path);
    assert_true(saved >= 0);
    sg_warn("leader", "etcd http://root:etcd-pw-1@10.0.0.1:2379/v3/kv/range?token=t0k3n-x failed");
    sg_log_set_json(1);
    sg_warn("leader", "again http://root:etcd-pw-1@10.0.0.1:2379/");
    sg_log_set_json(0);
    /* a line cut at 1023 bytes: the password straddles the cut */
    char pad[1001];
    memset(pad, 'a', 1000);
    pad[1000] = '\0';
    sg_warn("leader", "%s http://user:pw-straddles-the-cut@h/", pad);
    char *log = sg_test_capture_end(saved, path);
    assert_int_equal(sg_test_rmtree(dir), 0);
    assert_non_null(log);
    assert_non_null(strstr(log, "etcd http://***@10.0.0.1:2379/v3/kv/range?token=*** failed"));
    assert_non_null(strstr(log, "\"msg\":\"again http://***@10.0.0.1:2379/\""));
    assert_null(strstr(log, "etcd-pw-1"));
    assert_null(strstr(log, "t0k3n-x"));
    assert_null(strstr(log, "pw-straddles"));
    assert_non_null(strstr(log, "a http://***@h/"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_credentials_are_masked_and_the_host_kept),
        cmocka_unit_test(test_token_parameters_are_masked_wherever_they_stand),
        cmocka_unit_test(test_credential_headers_and_auth_schemes_are_masked),
        cmocka_unit_test(test_secret_values_and_their_parts_are_masked),
        cmocka_unit_test(test_text_without_secrets_is_unchanged),
        cmocka_unit_test(test_every_log_line_masks_url_credentials_and_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
