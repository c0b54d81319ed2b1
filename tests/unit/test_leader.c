/* Unit tests of the leader module: the parts that run without etcd (the
 * step-down rule, the request bodies and the parsing of etcd's answers, mode
 * none, and a standby that cannot reach etcd). The integration test
 * tests/integration/test_leader.py runs two instances against a real etcd. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/clock.h"
#include "config/config.h"
#include "base/err.h"
#include "leader/leader.h"
#include "base/str.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* "/siteguard/leader" and "node-a" in base64, as etcd holds them. */
#define KEY_B64 "L3NpdGVndWFyZC9sZWFkZXI="
#define NAME_B64 "bm9kZS1h"

static sg_config_t *s_config(const char *leader_yaml)
{
    char *text = sg_strdupf("sites:\n  - name: A\n  - name: B\nobservers:\n  - id: o\n    site: A\n"
                            "collections:\n  - name: c\n    cim_path: p\n    site: A\n"
                            "    replica_site: B\n%s",
                            leader_yaml);
    assert_non_null(text);
    size_t len = strlen(text);
    sg_config_t *cfg = NULL;
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    assert_int_equal(sg_config_load_string("t.yaml", text, len, &cfg, &errs), SG_OK);
    sg_config_errors_fini(&errs);
    free(text);
    return cfg;
}

/* ---- the step-down rule ---------------------------------------------------------- */

static void test_leader_steps_down_before_its_lease_can_expire(void **state)
{
    (void)state;
    sg_clock_t clock;
    sg_clock_fake_state_t st;
    sg_clock_fake_init(&clock, &st, 1000, 1700000000000);
    int64_t sent = sg_clock_mono(&clock); /* the last keepalive that succeeded was sent now */
    int64_t until = sg_leader_deadline(sent, 10000);
    assert_int_equal(until, sent + 7500); /* ttl 10 s, margin a quarter */
    sg_clock_fake_advance(&clock, 7499);
    assert_true(sg_clock_mono(&clock) < until); /* still acting */
    sg_clock_fake_advance(&clock, 1);
    assert_true(sg_clock_mono(&clock) >= until); /* stepped down, 2.5 s before etcd's expiry */
    assert_true(until < sent + 10000);
}

static void test_step_down_margin_is_bounded(void **state)
{
    (void)state;
    assert_int_equal(sg_leader_deadline(0, 2000), 1500);    /* a quarter */
    assert_int_equal(sg_leader_deadline(0, 300), 200);      /* at least 100 ms */
    assert_int_equal(sg_leader_deadline(0, 60000), 55000);  /* at most 5 s */
    assert_int_equal(sg_leader_deadline(500, 2000), 2000);  /* measured from the send */
}

/* ---- request bodies ------------------------------------------------------------- */

static json_t *s_json(char *text)
{
    assert_non_null(text);
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    free(text);
    assert_non_null(j);
    return j;
}

static void s_assert_json(char *text, const char *expected)
{
    json_t *got = s_json(text);
    json_error_t err;
    json_t *want = json_loads(expected, 0, &err);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        print_message("got  %s\nwant %s\n", g, expected);
        free(g);
    }
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
}

static void test_grant_and_lease_bodies_carry_int64_as_strings(void **state)
{
    (void)state;
    s_assert_json(sg_leader_etcd_grant_json(2000), "{\"TTL\":\"2\",\"ID\":\"0\"}");
    s_assert_json(sg_leader_etcd_grant_json(1500), "{\"TTL\":\"2\",\"ID\":\"0\"}"); /* rounded up */
    s_assert_json(sg_leader_etcd_lease_json(7587899154931165445LL),
                  "{\"ID\":\"7587899154931165445\"}");
    s_assert_json(sg_leader_etcd_range_json("/siteguard/leader"), "{\"key\":\"" KEY_B64 "\"}");
}

static void test_campaign_puts_the_key_only_when_nobody_holds_it(void **state)
{
    (void)state;
    s_assert_json(sg_leader_etcd_campaign_json("/siteguard/leader", "node-a", 42),
                  "{\"compare\":[{\"key\":\"" KEY_B64 "\",\"target\":\"CREATE\",\"result\":"
                  "\"EQUAL\",\"create_revision\":\"0\"}],"
                  "\"success\":[{\"request_put\":{\"key\":\"" KEY_B64 "\",\"value\":\"" NAME_B64
                  "\",\"lease\":\"42\"}}],"
                  "\"failure\":[{\"request_range\":{\"key\":\"" KEY_B64 "\"}}]}");
}

static void test_fence_compares_epoch_and_holder_in_one_txn(void **state)
{
    (void)state;
    s_assert_json(sg_leader_etcd_fence_json("/siteguard/leader", "node-a", 7),
                  "{\"compare\":[{\"key\":\"" KEY_B64 "\",\"target\":\"CREATE\",\"result\":"
                  "\"EQUAL\",\"create_revision\":\"7\"},{\"key\":\"" KEY_B64 "\",\"target\":"
                  "\"VALUE\",\"result\":\"EQUAL\",\"value\":\"" NAME_B64 "\"}],"
                  "\"success\":[],\"failure\":[]}");
}

static void test_base64_round_trips_every_padding(void **state)
{
    (void)state;
    const char *names[] = {"a", "ab", "abc", "abcd", "node-b.example"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *body = sg_leader_etcd_range_json(names[i]);
        json_t *j = s_json(body);
        const char *b64 = json_string_value(json_object_get(j, "key"));
        assert_non_null(b64);
        /* a range answer holding the same bytes as the value decodes back */
        char *answer = sg_strdupf("{\"header\":{\"revision\":\"3\"},\"kvs\":[{\"key\":\"%s\","
                                  "\"create_revision\":\"3\",\"value\":\"%s\"}]}",
                                  b64, b64);
        assert_non_null(answer);
        sg_leader_etcd_reply_t r;
        assert_int_equal(sg_leader_etcd_parse_range(answer, &r), SG_OK);
        assert_string_equal(r.holder, names[i]);
        sg_leader_etcd_reply_fini(&r);
        free(answer);
        json_decref(j);
    }
}

/* ---- answers, as etcd 3.4's gateway writes them ----------------------------------- */

static void test_grant_answer_gives_lease_and_ttl(void **state)
{
    (void)state;
    sg_leader_etcd_reply_t r;
    assert_int_equal(sg_leader_etcd_parse_grant(
                         "{\"header\":{\"cluster_id\":\"1\",\"revision\":\"1\"},"
                         "\"ID\":\"7587899154931165445\",\"TTL\":\"2\"}",
                         &r),
                     SG_OK);
    assert_int_equal(r.lease, 7587899154931165445LL);
    assert_int_equal(r.ttl, 2);
    assert_int_equal(sg_leader_etcd_parse_grant("{\"error\":\"etcdserver: too many requests\","
                                                "\"code\":14}",
                                                &r),
                     SG_EPROTO);
    assert_int_equal(sg_leader_etcd_parse_grant("not json", &r), SG_EPROTO);
}

static void test_keepalive_answer_without_ttl_means_the_lease_is_gone(void **state)
{
    (void)state;
    sg_leader_etcd_reply_t r;
    const char *alive = "{\"result\":{\"header\":{\"revision\":\"2\"},\"ID\":\"9\",\"TTL\":\"2\"}}\n";
    assert_int_equal(sg_leader_etcd_parse_keepalive(alive, &r), SG_OK);
    assert_int_equal(r.ttl, 2);
    assert_int_equal(sg_leader_etcd_parse_keepalive(
                         "{\"result\":{\"header\":{\"revision\":\"3\"},\"ID\":\"9\"}}\n", &r),
                     SG_OK);
    assert_int_equal(r.ttl, 0);
    assert_int_equal(sg_leader_etcd_parse_keepalive("{\"header\":{}}", &r), SG_EPROTO);
}

static void test_won_campaign_takes_the_txn_revision_as_epoch(void **state)
{
    (void)state;
    sg_leader_etcd_reply_t r;
    assert_int_equal(sg_leader_etcd_parse_txn(
                         "{\"header\":{\"revision\":\"12\"},\"succeeded\":true,\"responses\":"
                         "[{\"response_put\":{\"header\":{\"revision\":\"12\"}}}]}",
                         &r),
                     SG_OK);
    assert_true(r.succeeded);
    assert_int_equal(r.revision, 12);
    assert_false(r.found);
    sg_leader_etcd_reply_fini(&r);
}

static void test_lost_campaign_names_the_holder_and_its_epoch(void **state)
{
    (void)state;
    sg_leader_etcd_reply_t r;
    assert_int_equal(sg_leader_etcd_parse_txn(
                         "{\"header\":{\"revision\":\"12\"},\"responses\":[{\"response_range\":"
                         "{\"header\":{\"revision\":\"12\"},\"kvs\":[{\"key\":\"" KEY_B64
                         "\",\"create_revision\":\"9\",\"mod_revision\":\"9\",\"version\":\"1\","
                         "\"value\":\"" NAME_B64 "\",\"lease\":\"5\"}],\"count\":\"1\"}}]}",
                         &r),
                     SG_OK);
    assert_false(r.succeeded);
    assert_true(r.found);
    assert_int_equal(r.create_revision, 9);
    assert_string_equal(r.holder, "node-a");
    sg_leader_etcd_reply_fini(&r);
    /* a failed fence: no "succeeded", no responses */
    assert_int_equal(sg_leader_etcd_parse_txn("{\"header\":{\"revision\":\"13\"}}", &r), SG_OK);
    assert_false(r.succeeded);
    assert_false(r.found);
    sg_leader_etcd_reply_fini(&r);
}

static void test_range_of_a_missing_key_finds_nothing(void **state)
{
    (void)state;
    sg_leader_etcd_reply_t r;
    assert_int_equal(sg_leader_etcd_parse_range("{\"header\":{\"revision\":\"3\"}}", &r), SG_OK);
    assert_false(r.found);
    assert_null(r.holder);
    assert_int_equal(sg_leader_etcd_parse_range(
                         "{\"header\":{},\"kvs\":[{\"create_revision\":\"2\",\"value\":\"@@\"}]}",
                         &r),
                     SG_EPROTO); /* not base64 */
}

/* ---- the module ------------------------------------------------------------------- */

static void test_mode_none_leads_at_once_with_epoch_one_and_never_fences(void **state)
{
    (void)state;
    sg_config_t *cfg = s_config("leader:\n  name: solo\n");
    sg_leader_t *l = sg_leader_new(NULL, cfg, sg_clock_system());
    assert_non_null(l);
    assert_true(sg_leader_is_leader(l));
    assert_int_equal(sg_leader_epoch(l), 1);
    assert_null(sg_leader_socket(l));
    assert_string_equal(sg_leader_mode_name(l), "none");
    assert_string_equal(sg_leader_holder(l), "solo");
    assert_int_equal(sg_leader_fence(l, 1), SG_OK);
    assert_int_equal(sg_leader_recv(l), 0);
    char *text = sg_leader_describe(l);
    assert_string_equal(text, "single instance (leader: none)");
    free(text);
    sg_leader_destroy(&l);
    assert_null(l);
    sg_config_destroy(&cfg);
}

/* etcd at a closed loopback port, on the fake clock: the instance campaigns
 * over and over (time moves only by its own sleeps), never leads, and every
 * fence fails without a call: losing etcd never makes an instance act. */
static void test_standby_without_etcd_never_leads_and_every_fence_fails(void **state)
{
    (void)state;
    sg_config_t *cfg = s_config("leader:\n  mode: etcd\n  name: b\n  etcd:\n"
                                "    endpoints: [http://127.0.0.1:1]\n    ttl: 2s\n"
                                "    timeout: 200ms\n");
    sg_clock_t clock;
    sg_clock_fake_state_t st;
    sg_clock_fake_init(&clock, &st, 0, 1700000000000);
    void *zctx = zmq_ctx_new();
    sg_leader_t *l = sg_leader_new(zctx, cfg, &clock);
    assert_non_null(l);
    assert_non_null(sg_leader_socket(l));
    /* wait (on the fake clock, which the thread's own sleeps advance) for
     * several campaign periods */
    while (sg_clock_mono(&clock) < 10000) {
        zmq_pollitem_t it = {.socket = sg_leader_socket(l), .events = ZMQ_POLLIN};
        zmq_poll(&it, 1, 10);
        assert_true(sg_leader_recv(l) >= 0);
        assert_false(sg_leader_is_leader(l));
    }
    assert_int_equal(sg_leader_epoch(l), 0);
    assert_int_equal(sg_leader_fence(l, 1), SG_ESTATE);
    assert_int_equal(sg_leader_fence(l, 0), SG_ESTATE);
    char *text = sg_leader_describe(l);
    assert_string_equal(text, "leader: etcd, name b, standby, holder none seen");
    free(text);
    sg_leader_destroy(&l);
    zmq_ctx_term(zctx);
    sg_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leader_steps_down_before_its_lease_can_expire),
        cmocka_unit_test(test_step_down_margin_is_bounded),
        cmocka_unit_test(test_grant_and_lease_bodies_carry_int64_as_strings),
        cmocka_unit_test(test_campaign_puts_the_key_only_when_nobody_holds_it),
        cmocka_unit_test(test_fence_compares_epoch_and_holder_in_one_txn),
        cmocka_unit_test(test_base64_round_trips_every_padding),
        cmocka_unit_test(test_grant_answer_gives_lease_and_ttl),
        cmocka_unit_test(test_keepalive_answer_without_ttl_means_the_lease_is_gone),
        cmocka_unit_test(test_won_campaign_takes_the_txn_revision_as_epoch),
        cmocka_unit_test(test_lost_campaign_names_the_holder_and_its_epoch),
        cmocka_unit_test(test_range_of_a_missing_key_finds_nothing),
        cmocka_unit_test(test_mode_none_leads_at_once_with_epoch_one_and_never_fences),
        cmocka_unit_test(test_standby_without_etcd_never_leads_and_every_fence_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
