/* syslog: RFC 5424 messages, byte for byte, and the options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "plugin_host.h"
#include "plugin_net.h"
#include "plugin_outcomes.h"

#include "../../plugins/syslog/syslog.c"

static void test_message_is_rfc_5424_with_structured_data(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, "job ended in Exception");
    char *m = s_build_message(o, 3, "dr-host", "siteguard", "siteguard@32473", 4242, 2048);
    assert_string_equal(m, "<26>1 2026-11-25T17:00:03.120Z dr-host siteguard 4242 failed "
                           "[siteguard@32473 run_id=\"9\" kind=\"failed\" severity=\"critical\" "
                           "site=\"A\" replica_site=\"B\" collection=\"sql\" "
                           "dedup_key=\"9/sql/failed\"] "
                           "failover of sql from A to B failed: job ended in Exception");
    free(m);
    sg_outcome_free(&o);
}

static void test_severity_maps_to_syslog_levels(void **state)
{
    (void)state;
    const struct {
        sg_outcome_kind_t kind;
        const char *pri;
    } cases[] = {{SG_OUTCOME_SITE_LOST, "<130>"},   /* local0, critical */
                 {SG_OUTCOME_DECISION, "<132>"},    /* warning */
                 {SG_OUTCOME_SUCCEEDED, "<134>"}};  /* info */
    for (size_t i = 0; i < 3; i++) {
        sg_outcome_t *o = po_outcome(cases[i].kind, NULL);
        char *m = s_build_message(o, 16, "h", "a", "x@1", 1, 2048);
        assert_memory_equal(m, cases[i].pri, strlen(cases[i].pri));
        free(m);
        sg_outcome_free(&o);
    }
}

/* The message of `o` from `hostname` and `app_name` (facility daemon, SD-ID
 * x@1, process 1, up to 2048 bytes) contains `text`. */
static void s_expect_message_contains(const sg_outcome_t *o, const char *hostname,
                                      const char *app_name, const char *text)
{
    char *m = s_build_message(o, 3, hostname, app_name, "x@1", 1, 2048);
    assert_non_null(strstr(m, text));
    free(m);
}

static void test_param_values_escape_quote_backslash_and_bracket(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SITE_LOST, NULL);
    assert_int_equal(sg_outcome_set(o, &o->site, "a\"b\\c]d"), SG_OK);
    po_refinish(o);
    s_expect_message_contains(o, "h", "a", " site=\"a\\\"b\\\\c\\]d\"");
    sg_outcome_free(&o);
}

static void test_header_fields_are_printable_ascii_or_nil(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SITE_LOST, NULL);
    s_expect_message_contains(o, "", "my app", "Z - my_app 1 site_lost ");
    sg_outcome_free(&o);
}

static void test_message_is_cut_at_the_limit_on_a_character_boundary(void **state)
{
    (void)state;
    char text[5000] = "";
    for (int i = 0; i < 2000; i++)
        strcat(text, "\xc3\xa9");
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SITE_LOST, text);
    char *m = s_build_message(o, 3, "h", "a", "x@1", 1, 2048);
    size_t len = strlen(m);
    assert_true(len <= 2048 && len >= 2047);
    assert_int_not_equal((unsigned char)m[len - 1], 0xc3); /* no half character */
    free(m);
    sg_outcome_free(&o);
}

static void test_address_and_facility_options(void **state)
{
    (void)state;
    s_syslog_t s = {0};
    assert_int_equal(s_parse_address(&s, "tcp://[::1]:6514"), 0);
    assert_int_equal(s.tcp, 1);
    assert_string_equal(s.node, "::1");
    assert_string_equal(s.service, "6514");
    free(s.node);
    free(s.service);
    memset(&s, 0, sizeof s);
    assert_int_equal(s_parse_address(&s, "udp://127.0.0.1:5514"), 0);
    assert_int_equal(s.tcp, 0);
    free(s.node);
    free(s.service);
    memset(&s, 0, sizeof s);
    assert_int_equal(s_parse_address(&s, "127.0.0.1:514"), -1);
    int f = -1;
    assert_int_equal(s_parse_facility("local7", &f), 0);
    assert_int_equal(f, 23);
    assert_int_equal(s_parse_facility("daemon", &f), 0);
    assert_int_equal(f, 3);
    assert_int_equal(s_parse_facility("17", &f), 0);
    assert_int_equal(f, 17);
    assert_int_equal(s_parse_facility("24", &f), -1);
    assert_int_equal(s_parse_facility("local8", &f), -1);
}

static void test_init_refuses_a_bad_address(void **state)
{
    (void)state;
    sg_plugin_option_t opts[] = {{"address", "udp://nohostport"}};
    void *ctx = NULL;
    assert_int_not_equal(s_init(&ph_host, opts, 1, &ctx), 0);
}

/* Delivers o through a real syslog instance sending to `address`. */
static sg_deliver_result_t send_to(const char *address, const sg_outcome_t *o)
{
    sg_plugin_option_t opts[] = {{"address", address}, {"hostname", "dr-host"},
                                 {"app_name", "siteguard"}, {"facility", "daemon"},
                                 {"timeout", "5000"}};
    void *ctx = NULL;
    assert_int_equal(s_init(&ph_host, opts, 5, &ctx), 0);
    sg_deliver_result_t r = s_deliver(ctx, o);
    s_close(ctx);
    return r;
}

static const char *want_tail = "dr-host siteguard ";

static void test_udp_message_reaches_a_local_socket_as_one_datagram(void **state)
{
    (void)state;
    pn_server_t srv = pn_listen(SOCK_DGRAM);
    char address[64], got[4096];
    pn_url(&srv, "udp", "", address, sizeof address);
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, "job ended in Exception");
    assert_int_equal(send_to(address, o), SG_DELIVER_OK);
    assert_true(pn_recv_datagram(&srv, got, sizeof got) > 0);
    assert_memory_equal(got, "<26>1 2026-11-25T17:00:03.120Z ", 31);
    assert_non_null(strstr(got, want_tail));
    assert_non_null(strstr(got, " dedup_key=\"9/sql/failed\"] failover of sql from A to B failed: "
                                "job ended in Exception"));
    sg_outcome_free(&o);
    pn_stop(&srv);
}

/* Whether an octet-counted frame ("<len> <msg>") is whole. */
static int frame_whole(const char *text, size_t len)
{
    char *end = NULL;
    unsigned long n = strtoul(text, &end, 10);
    return end && *end == ' ' && len >= (size_t)(end + 1 - text) + n;
}

static void test_tcp_message_reaches_a_local_socket_octet_counted(void **state)
{
    (void)state;
    pn_server_t srv = pn_listen(SOCK_STREAM);
    char address[64], got[4096];
    pn_url(&srv, "tcp", "", address, sizeof address);
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SITE_LOST, NULL);
    assert_int_equal(send_to(address, o), SG_DELIVER_OK);
    size_t len = pn_accept_read(&srv, got, sizeof got, frame_whole);
    assert_true(frame_whole(got, len));
    char *msg = strchr(got, ' ') + 1;
    assert_int_equal(strtoul(got, NULL, 10), strlen(msg));
    assert_memory_equal(msg, "<26>1 ", 6); /* daemon, critical */
    assert_non_null(strstr(msg, " site_lost [siteguard@32473 "));
    sg_outcome_free(&o);
    pn_stop(&srv);
}

static void test_tcp_receiver_that_is_not_there_is_retried(void **state)
{
    (void)state;
    pn_server_t srv = pn_listen(SOCK_STREAM);
    char address[64];
    pn_url(&srv, "tcp", "", address, sizeof address);
    pn_close_sock(srv.fd); /* nobody listens on the port now */
    srv.fd = PN_NO_SOCK;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SITE_LOST, NULL);
    assert_int_equal(send_to(address, o), SG_DELIVER_RETRY);
    sg_outcome_free(&o);
    pn_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_is_rfc_5424_with_structured_data),
        cmocka_unit_test(test_severity_maps_to_syslog_levels),
        cmocka_unit_test(test_param_values_escape_quote_backslash_and_bracket),
        cmocka_unit_test(test_header_fields_are_printable_ascii_or_nil),
        cmocka_unit_test(test_message_is_cut_at_the_limit_on_a_character_boundary),
        cmocka_unit_test(test_address_and_facility_options),
        cmocka_unit_test(test_init_refuses_a_bad_address),
        cmocka_unit_test(test_udp_message_reaches_a_local_socket_as_one_datagram),
        cmocka_unit_test(test_tcp_message_reaches_a_local_socket_octet_counted),
        cmocka_unit_test(test_tcp_receiver_that_is_not_there_is_retried),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
