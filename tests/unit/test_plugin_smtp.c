/* smtp: the RFC 5322 message, header by header, and the envelope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "plugin_host.h"
#include "plugin_outcomes.h"

#include "../../plugins/smtp/smtp.c"

#define FROM "siteguard <sg@example.com>"
#define TO "ops@example.com, Dr. DR <dr@example.com>"

/* The value of the first header `name` (up to its line end), copied into buf. */
static const char *header(const char *msg, const char *name, char *buf, size_t len)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\r\n%s: ", name);
    const char *p = strncmp(msg, needle + 2, strlen(needle + 2)) == 0 ? msg : strstr(msg, needle);
    if (!p)
        return NULL;
    p = strchr(p + 1, ':') + 2;
    size_t n = strcspn(p, "\r");
    snprintf(buf, len, "%.*s", (int)n, p);
    return buf;
}

static void test_message_has_the_rfc_5322_headers(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, "job ended in Exception");
    char *m = s_build_message(o, FROM, TO, "[siteguard]", PH_NOW);
    char buf[256];
    assert_string_equal(header(m, "Date", buf, sizeof buf), "Wed, 25 Nov 2026 17:00:10 +0000");
    assert_string_equal(header(m, "From", buf, sizeof buf), FROM);
    assert_string_equal(header(m, "To", buf, sizeof buf), TO);
    assert_string_equal(header(m, "Subject", buf, sizeof buf),
                        "[siteguard] failover of sql from A to B failed: job ended in Exception");
    assert_string_equal(header(m, "MIME-Version", buf, sizeof buf), "1.0");
    assert_string_equal(header(m, "Content-Type", buf, sizeof buf), "text/plain; charset=utf-8");
    assert_string_equal(header(m, "X-Siteguard-Event", buf, sizeof buf), "failed");
    const char *id = header(m, "Message-ID", buf, sizeof buf);
    assert_non_null(id);
    assert_memory_equal(id, "<1795626003120.", 15);
    assert_string_equal(id + strlen(id) - 11, "@siteguard>");
    assert_int_equal(strncmp(m, "Date: ", 6), 0);
    free(m);
    sg_outcome_free(&o);
}

static void test_message_id_is_the_same_on_a_retry_and_differs_by_dedup_key(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, NULL);
    sg_outcome_t *other = po_outcome(SG_OUTCOME_TIMED_OUT, NULL);
    char *a = s_build_message(o, FROM, TO, "", PH_NOW);
    char *b = s_build_message(o, FROM, TO, "", PH_NOW + 60000);
    char *c = s_build_message(other, FROM, TO, "", PH_NOW);
    char ia[128], ib[128], ic[128];
    assert_string_equal(header(a, "Message-ID", ia, sizeof ia), header(b, "Message-ID", ib, sizeof ib));
    assert_string_not_equal(ia, header(c, "Message-ID", ic, sizeof ic));
    assert_string_equal(header(a, "Subject", ia, sizeof ia), "failover of sql from A to B failed");
    free(a);
    free(b);
    free(c);
    sg_outcome_free(&o);
    sg_outcome_free(&other);
}

static void test_body_has_summary_facts_and_message_in_crlf_lines(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, "line one\nline two");
    char *m = s_build_message(o, FROM, TO, "[sg]", PH_NOW);
    const char *body = strstr(m, "\r\n\r\n");
    assert_non_null(body);
    assert_string_equal(body + 4,
                        "failover of sql from A to B failed: line one line two\r\n"
                        "\r\n"
                        "Kind: failed\r\n"
                        "Severity: critical\r\n"
                        "Time: 2026-11-25T17:00:03.120Z\r\n"
                        "Site: A\r\n"
                        "Replica site: B\r\n"
                        "Collection: sql\r\n"
                        "Run: 9\r\n"
                        "Dedup key: 9/sql/failed\r\n"
                        "\r\n"
                        "line one\r\n"
                        "line two\r\n");
    for (const char *p = m; *p; p++) {
        if (*p == '\n')
            assert_int_equal(p[-1], '\r');
    }
    free(m);
    sg_outcome_free(&o);
}

static void test_subject_that_is_not_ascii_is_rfc_2047_encoded(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SITE_LOST, "Z\xc3\xbcrich"); /* "Zürich" */
    char *m = s_build_message(o, FROM, TO, "", PH_NOW);
    char buf[256];
    /* base64 of "site A lost: Zürich" */
    assert_string_equal(header(m, "Subject", buf, sizeof buf), "=?UTF-8?B?c2l0ZSBBIGxvc3Q6IFrDvHJpY2g=?=");
    free(m);
    sg_outcome_free(&o);
}

static void test_long_encoded_subject_is_folded_into_words_of_whole_characters(void **state)
{
    (void)state;
    char text[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(text, "\xc3\xa9"); /* 40 × é */
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SITE_LOST, text);
    char *m = s_build_message(o, FROM, TO, "", PH_NOW);
    const char *subject = strstr(m, "\r\nSubject: ") + 11;
    assert_non_null(strstr(subject, "?=\r\n =?UTF-8?B?"));
    const char *end = strstr(subject, "\r\nMessage-ID");
    for (const char *line = subject; line < end;) {
        const char *eol = strstr(line, "\r\n");
        assert_true(eol - line <= 76);
        line = eol + 2;
    }
    free(m);
    sg_outcome_free(&o);
}

/* Text that is not UTF-8 (a run of continuation bytes longer than a word)
 * is still cut into words: the word ended nowhere and the message was never
 * built (found by fuzz_plugin_options). */
static void test_subject_that_is_not_utf8_is_still_folded_into_words(void **state)
{
    (void)state;
    char text[121];
    memset(text, 0x80, sizeof text - 1);
    text[sizeof text - 1] = '\0';
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SITE_LOST, text);
    char *m = s_build_message(o, FROM, TO, "", PH_NOW);
    assert_non_null(m);
    const char *subject = strstr(m, "\r\nSubject: =?UTF-8?B?");
    assert_non_null(subject);
    assert_non_null(strstr(subject, "?=\r\n =?UTF-8?B?gICA"));
    free(m);
    sg_outcome_free(&o);
}

static void test_envelope_addresses_come_from_the_headers(void **state)
{
    (void)state;
    struct curl_slist *rcpt = NULL;
    assert_int_equal(s_recipients(TO, &rcpt), 0);
    assert_string_equal(rcpt->data, "<ops@example.com>");
    assert_string_equal(rcpt->next->data, "<dr@example.com>");
    assert_null(rcpt->next->next);
    curl_slist_free_all(rcpt);
    rcpt = NULL;
    assert_int_equal(s_recipients("a@x, ,b@x", &rcpt), -1);
    curl_slist_free_all(rcpt);
    char *from = s_address(FROM, strlen(FROM));
    assert_string_equal(from, "<sg@example.com>");
    free(from);
}

static void test_init_refuses_header_injection_and_bad_settings(void **state)
{
    (void)state;
    void *ctx = NULL;
    sg_plugin_option_t bad_to[] = {{"url", "smtp://127.0.0.1:1"}, {"from", "a@x"},
                                   {"to", "b@x\r\nBcc: c@x"}};
    assert_int_not_equal(s_init(&ph_host, bad_to, 3, &ctx), 0);
    sg_plugin_option_t bad_url[] = {{"url", "http://127.0.0.1:1"}, {"from", "a@x"}, {"to", "b@x"}};
    assert_int_not_equal(s_init(&ph_host, bad_url, 3, &ctx), 0);
    sg_plugin_option_t bad_ssl[] = {{"url", "smtp://127.0.0.1:1"}, {"from", "a@x"}, {"to", "b@x"},
                                    {"use_ssl", "maybe"}};
    assert_int_not_equal(s_init(&ph_host, bad_ssl, 4, &ctx), 0);
    sg_plugin_option_t good[] = {{"url", "smtp://127.0.0.1:1"}, {"from", "a@x"}, {"to", "b@x"},
                                 {"use_ssl", "required"}};
    assert_int_equal(s_init(&ph_host, good, 4, &ctx), 0);
    assert_int_equal(((s_smtp_t *)ctx)->use_ssl, CURLUSESSL_ALL);
    s_close(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_has_the_rfc_5322_headers),
        cmocka_unit_test(test_message_id_is_the_same_on_a_retry_and_differs_by_dedup_key),
        cmocka_unit_test(test_body_has_summary_facts_and_message_in_crlf_lines),
        cmocka_unit_test(test_subject_that_is_not_ascii_is_rfc_2047_encoded),
        cmocka_unit_test(test_long_encoded_subject_is_folded_into_words_of_whole_characters),
        cmocka_unit_test(test_subject_that_is_not_utf8_is_still_folded_into_words),
        cmocka_unit_test(test_envelope_addresses_come_from_the_headers),
        cmocka_unit_test(test_init_refuses_header_injection_and_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
