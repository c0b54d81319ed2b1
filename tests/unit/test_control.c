/* control: request handling against a real engine, a real SQLite journal
 * and a fake clock; and what a reload may change (reload.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "control.h"
#include "err.h"
#include "reload.h"
#include "proto/control.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char s_yaml[] = "sites:\n  - name: A\n  - name: B\n  - name: W\n    witness: true\n"
                             "observers:\n  - id: a1\n    site: A\n  - id: b1\n    site: B\n"
                             "  - id: w1\n    site: W\n"
                             "collections:\n  - name: a-db\n    cim_path: 'X.InstanceID=\"1\"'\n"
                             "    site: A\n    replica_site: B\n"
                             "policy:\n  mode: %s\n";

typedef struct {
    sg_config_t *cfg;
    sg_engine_t *engine;
    sg_journal_t *journal;
    sg_clock_t clock;
    sg_clock_fake_state_t clock_state;
    sg_control_t *control;
    char path[64];
} s_fix_t;

static sg_config_t *s_config(const char *mode)
{
    char text[1024];
    snprintf(text, sizeof text, s_yaml, mode);
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    sg_config_t *cfg = NULL;
    assert_int_equal(sg_config_load_string("test.yaml", text, strlen(text), &cfg, &errs), 0);
    sg_config_errors_fini(&errs);
    return cfg;
}

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    snprintf(f->path, sizeof f->path, "/tmp/sg-test-control-%d.db", (int)getpid());
    unlink(f->path);
    f->cfg = s_config("auto");
    sg_clock_fake_init(&f->clock, &f->clock_state, 1000, 1800000000000LL);
    f->engine = sg_engine_new(f->cfg, 1);
    f->journal = sg_journal_open(f->path);
    sg_control_env_t env = {.cfg = f->cfg, .engine = f->engine, .journal = f->journal,
                            .clock = &f->clock};
    f->control = sg_control_new(NULL, &env);
    assert_non_null(f->control);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    sg_control_destroy(&f->control);
    sg_journal_close(&f->journal);
    sg_engine_destroy(&f->engine);
    sg_config_destroy(&f->cfg);
    unlink(f->path);
    free(f);
    return 0;
}

/* Sends `r` as `role`; the caller frees the response. */
static Siteguard__Control__V1__Response *s_call(s_fix_t *f, sg_control_role_t role,
                                                Siteguard__Control__V1__Request *r)
{
    r->version = r->version ? r->version : 1;
    size_t len = siteguard__control__v1__request__get_packed_size(r);
    uint8_t *buf = malloc(len + 1), *out = NULL;
    siteguard__control__v1__request__pack(r, buf);
    size_t out_len = 0;
    assert_int_equal(sg_control_handle(f->control, role, buf, len, &out, &out_len), 0);
    Siteguard__Control__V1__Response *resp =
        siteguard__control__v1__response__unpack(NULL, out_len, out);
    assert_non_null(resp);
    free(buf);
    free(out);
    return resp;
}

static Siteguard__Control__V1__Response *s_pause(s_fix_t *f, sg_control_role_t role,
                                                 const char *target, uint64_t ms, char *reason)
{
    Siteguard__Control__V1__Request r = SITEGUARD__CONTROL__V1__REQUEST__INIT;
    Siteguard__Control__V1__Pause p = SITEGUARD__CONTROL__V1__PAUSE__INIT;
    p.target = (char *)target;
    p.duration_ms = ms;
    r.pause = &p;
    r.command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_PAUSE;
    r.reason = reason;
    r.user = (char *)"tester";
    return s_call(f, role, &r);
}

static void test_status_lists_sites_collections_and_leader(void **state)
{
    s_fix_t *f = *state;
    Siteguard__Control__V1__Request r = SITEGUARD__CONTROL__V1__REQUEST__INIT;
    Siteguard__Control__V1__Status st = SITEGUARD__CONTROL__V1__STATUS__INIT;
    r.status = &st;
    r.command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_STATUS;
    Siteguard__Control__V1__Response *resp = s_call(f, SG_CONTROL_READER, &r);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK);
    assert_int_equal(resp->status->n_sites, 3);
    assert_true(resp->status->sites[2]->witness);
    assert_int_equal(resp->status->n_collections, 1);
    assert_string_equal(resp->status->collections[0]->verdict, "idle");
    assert_string_equal(resp->status->leader, "single instance (leader: none)");
    siteguard__control__v1__response__free_unpacked(resp, NULL);
}

static void test_reader_may_not_pause_and_the_attempt_is_audited(void **state)
{
    s_fix_t *f = *state;
    Siteguard__Control__V1__Response *resp = s_pause(f, SG_CONTROL_READER, "A", 60000, "why");
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__DENIED);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    sg_journal_audit_t *list = NULL;
    size_t n = 0;
    assert_int_equal(sg_journal_audit_list(f->journal, 0, &list, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].role, "read-only");
    assert_string_equal(list[0].who, "tester");
    assert_non_null(strstr(list[0].result, "denied"));
    sg_journal_audit_free(list, n);
}

static void test_pause_needs_a_reason_and_expires_on_the_clock(void **state)
{
    s_fix_t *f = *state;
    Siteguard__Control__V1__Response *resp = s_pause(f, SG_CONTROL_OPERATOR, "a-db", 60000, "");
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__INVALID);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    resp = s_pause(f, SG_CONTROL_OPERATOR, "a-db", 60000, (char *)"patching");
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    int site, coll;
    int64_t until;
    const char *reason;
    int64_t now = sg_clock_mono(&f->clock);
    assert_true(sg_engine_pause_at(f->engine, 0, now, &site, &coll, &until, &reason));
    assert_int_equal(until, now + 60000);
    assert_string_equal(reason, "patching");
    sg_clock_fake_advance(&f->clock, 60000);
    assert_false(sg_engine_pause_at(f->engine, 0, sg_clock_mono(&f->clock), &site, &coll, &until,
                                    &reason));
    sg_journal_audit_t *list = NULL;
    size_t n = 0;
    assert_int_equal(sg_journal_audit_list(f->journal, 1, &list, &n), 0);
    assert_int_equal(n, 1); /* the newest only */
    assert_string_equal(list[0].reason, "patching");
    sg_journal_audit_free(list, n);
}

static void test_forced_failover_needs_a_reason_then_is_decided(void **state)
{
    s_fix_t *f = *state;
    Siteguard__Control__V1__Request r = SITEGUARD__CONTROL__V1__REQUEST__INIT;
    Siteguard__Control__V1__Failover fo = SITEGUARD__CONTROL__V1__FAILOVER__INIT;
    fo.collection = (char *)"a-db";
    fo.force = true;
    r.failover = &fo;
    r.command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_FAILOVER;
    Siteguard__Control__V1__Response *resp = s_call(f, SG_CONTROL_OPERATOR, &r);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__INVALID);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    r.reason = (char *)"A is on fire";
    resp = s_call(f, SG_CONTROL_OPERATOR, &r);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    sg_decision_t d;
    assert_true(sg_engine_next(f->engine, &d));
    assert_int_equal(d.kind, SG_DECISION_FAILOVER);
    sg_decision_fini(&d);
}

static void test_drills_and_bad_requests_are_answered_plainly(void **state)
{
    s_fix_t *f = *state;
    Siteguard__Control__V1__Request r = SITEGUARD__CONTROL__V1__REQUEST__INIT;
    Siteguard__Control__V1__DrillRun dr = SITEGUARD__CONTROL__V1__DRILL_RUN__INIT;
    dr.plan = (char *)"q1";
    r.drill_run = &dr;
    r.command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_DRILL_RUN;
    Siteguard__Control__V1__Response *resp = s_call(f, SG_CONTROL_OPERATOR, &r);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__UNAVAILABLE);
    assert_non_null(strstr(resp->message, "drills are not configured"));
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    r.version = 2;
    resp = s_call(f, SG_CONTROL_OPERATOR, &r);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__INVALID);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01};
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(sg_control_handle(f->control, SG_CONTROL_OPERATOR, junk, sizeof junk, &out,
                                       &len), 0);
    resp = siteguard__control__v1__response__unpack(NULL, len, out);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__INVALID);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    free(out);
}

static void test_reload_allows_policy_and_refuses_sites(void **state)
{
    (void)state;
    sg_config_t *cur = s_config("auto"), *next = s_config("approve");
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    assert_int_equal(sg_reload_check(cur, next, &errs), 0);
    assert_int_equal(errs.n, 0);
    free(next->sites[1].name);
    next->sites[1].name = strdup("C");
    assert_int_equal(sg_reload_check(cur, next, &errs), SG_ECONFIG);
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(errs.items[0], "sites cannot change"));
    assert_non_null(strstr(errs.items[0], "test.yaml:"));
    sg_config_errors_fini(&errs);
    assert_false(sg_reload_sinks_changed(cur, next));
    sg_config_destroy(&cur);
    sg_config_destroy(&next);
}

#define T(t) cmocka_unit_test_setup_teardown(t, s_setup, s_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_status_lists_sites_collections_and_leader),
        T(test_reader_may_not_pause_and_the_attempt_is_audited),
        T(test_pause_needs_a_reason_and_expires_on_the_clock),
        T(test_forced_failover_needs_a_reason_then_is_decided),
        T(test_drills_and_bad_requests_are_answered_plainly),
        T(test_reload_allows_policy_and_refuses_sites),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
