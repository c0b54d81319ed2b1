/* control: request handling against a real engine, a real SQLite journal
 * and a fake clock; the ROUTER sockets' framing and the requests answered
 * later (points, with a real lifecycle on the simulator); and what a reload
 * may change (reload.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "control/control.h"
#include "base/err.h"
#include "control/reload.h"
#include "proto/control.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "sg_fixture.h"

static const char s_yaml[] = SG_FIXTURE_YAML_ABW
                             "collections:\n  - name: a-db\n    cim_path: 'X.CollectionID=\"1\"'\n"
                             "    site: A\n    replica_site: B\n"
                             "policy:\n  mode: %s\n";

typedef struct {
    sg_config_t *cfg;
    sg_engine_t *engine;
    sg_journal_t *journal;
    sg_clock_t clock;
    sg_clock_fake_state_t clock_state;
    sg_control_t *control;
    sg_fixture_dir_t tmp; /* holds the journal */
    bool want_lifecycle;  /* s_fix_open makes a simulator and a lifecycle on it (needs zctx) */
    sg_provider_t *sim;
    sg_lifecycle_t *lifecycle;
} s_fix_t;

static sg_config_t *s_config(const char *mode)
{
    return sg_fixture_configf("test.yaml", s_yaml, mode);
}

/* With f->cfg loaded and f->tmp made: the fake clock, the engine, the
 * journal, and control on them (its tcp sockets on `zctx` with `zap`
 * checking their keys, or none). */
static void s_fix_open(s_fix_t *f, void *zctx, sg_zap_t *zap)
{
    sg_clock_fake_init(&f->clock, &f->clock_state, 1000, 1800000000000LL);
    f->engine = sg_engine_new(f->cfg, 1, (sg_now_t){1000, 1800000000000LL});
    f->journal = sg_journal_open(f->tmp.journal);
    if (f->want_lifecycle) {
        f->sim = sg_sim_new(f->cfg, &f->clock);
        assert_non_null(f->sim);
        f->lifecycle = sg_lifecycle_new(zctx, f->cfg, f->sim, &f->clock, f->journal, f->engine);
        assert_non_null(f->lifecycle);
    }
    sg_control_env_t env = {.cfg = f->cfg, .engine = f->engine, .journal = f->journal,
                            .clock = &f->clock, .zap = zap, .lifecycle = f->lifecycle};
    f->control = sg_control_new(zctx, &env);
    assert_non_null(f->control);
}

static void s_fix_close(s_fix_t *f)
{
    sg_control_destroy(&f->control);
    sg_lifecycle_destroy(&f->lifecycle);
    sg_provider_destroy(&f->sim);
    sg_journal_close(&f->journal);
    sg_engine_destroy(&f->engine);
    sg_config_destroy(&f->cfg);
    sg_fixture_dir_remove(&f->tmp);
}

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    sg_fixture_dir_new(&f->tmp, "sg-test-control-");
    f->cfg = s_config("auto");
    s_fix_open(f, NULL, NULL);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    s_fix_close(f);
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

/* The answer has `code`; frees it. */
static void s_expect_code(Siteguard__Control__V1__Response *resp, int code)
{
    assert_int_equal(resp->code, code);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
}

/* Makes `r` a status request. */
static void s_ask_status(Siteguard__Control__V1__Request *r, Siteguard__Control__V1__Status *st)
{
    r->status = st;
    r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_STATUS;
}

/* Makes `r` a life-cycle step of `kind` (commit, revert, reverse) of `coll`. */
static void s_ask_step(Siteguard__Control__V1__Request *r, Siteguard__Control__V1__Step *st,
                       sg_step_kind_t kind, const char *coll)
{
    siteguard__control__v1__step__init(st);
    st->collection = (char *)coll;
    r->commit = r->revert = r->reverse = NULL;
    if (kind == SG_STEP_COMMIT)
        r->commit = st;
    else if (kind == SG_STEP_REVERT)
        r->revert = st;
    else
        r->reverse = st;
    r->command_case = kind == SG_STEP_COMMIT   ? SITEGUARD__CONTROL__V1__REQUEST__COMMAND_COMMIT
                      : kind == SG_STEP_REVERT ? SITEGUARD__CONTROL__V1__REQUEST__COMMAND_REVERT
                                               : SITEGUARD__CONTROL__V1__REQUEST__COMMAND_REVERSE;
}

/* Makes `r` a points request of `coll`. */
static void s_ask_points(Siteguard__Control__V1__Request *r, Siteguard__Control__V1__Points *p,
                         const char *coll)
{
    siteguard__control__v1__points__init(p);
    p->collection = (char *)coll;
    r->points = p;
    r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_POINTS;
}

/* The audit records sg_journal_audit_list gives with `limit`, which are `n`
 * (free with sg_journal_audit_free). */
static sg_journal_audit_t *s_audit(sg_journal_t *journal, size_t limit, size_t n)
{
    sg_journal_audit_t *list = NULL;
    size_t got = 0;
    assert_int_equal(sg_journal_audit_list(journal, limit, &list, &got), 0);
    assert_int_equal(got, n);
    return list;
}

static void test_status_lists_sites_collections_and_leader(void **state)
{
    s_fix_t *f = *state;
    Siteguard__Control__V1__Request r = SITEGUARD__CONTROL__V1__REQUEST__INIT;
    Siteguard__Control__V1__Status st = SITEGUARD__CONTROL__V1__STATUS__INIT;
    s_ask_status(&r, &st);
    Siteguard__Control__V1__Response *resp = s_call(f, SG_CONTROL_READER, &r);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK);
    assert_int_equal(resp->status->n_sites, 3);
    assert_true(resp->status->sites[2]->witness);
    assert_int_equal(resp->status->n_collections, 1);
    assert_string_equal(resp->status->collections[0]->verdict, "idle");
    assert_string_equal(resp->status->leader, "single instance (leader: none)");
    assert_int_equal(resp->status->n_observers, 3); /* none heard yet */
    assert_string_equal(resp->status->observers[0]->id, "a1");
    assert_false(resp->status->observers[0]->heard);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    /* b1's clock is 4 s behind: status shows its offset */
    sg_event_t ev = {.kind = SG_EV_HEARTBEAT, .observer = 1, .site = 1, .seq = 1,
                     .sent_at_ms = 1800000000000LL - 4000};
    assert_int_equal(sg_engine_on_event(f->engine, &ev, (sg_now_t){1000, 1800000000000LL}), 0);
    resp = s_call(f, SG_CONTROL_READER, &r);
    assert_true(resp->status->observers[1]->heard);
    assert_int_equal(resp->status->observers[1]->clock_offset_ms, 4000);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
}

static void test_reader_may_not_pause_and_the_attempt_is_audited(void **state)
{
    s_fix_t *f = *state;
    Siteguard__Control__V1__Response *resp = s_pause(f, SG_CONTROL_READER, "A", 60000, "why");
    s_expect_code(resp, SITEGUARD__CONTROL__V1__RESPONSE__CODE__DENIED);
    sg_journal_audit_t *list = s_audit(f->journal, 0, 1);
    assert_string_equal(list[0].role, "read-only");
    assert_string_equal(list[0].who, "tester");
    assert_non_null(strstr(list[0].result, "denied"));
    sg_journal_audit_free(list, 1);
}

static void test_pause_needs_a_reason_and_expires_on_the_clock(void **state)
{
    s_fix_t *f = *state;
    Siteguard__Control__V1__Response *resp = s_pause(f, SG_CONTROL_OPERATOR, "a-db", 60000, "");
    s_expect_code(resp, SITEGUARD__CONTROL__V1__RESPONSE__CODE__INVALID);
    resp = s_pause(f, SG_CONTROL_OPERATOR, "a-db", 60000, (char *)"patching");
    s_expect_code(resp, SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK);
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
    sg_journal_audit_t *list = s_audit(f->journal, 1, 1); /* the newest only */
    assert_string_equal(list[0].reason, "patching");
    sg_journal_audit_free(list, 1);
}

/* The persist hook: how often it was asked, and what the pause looked like
 * in the engine at that moment (it must be made durable before the answer). */
typedef struct {
    sg_engine_t *engine;
    int calls;
    bool paused_then;
    int answer;
} s_persist_t;

static int s_persist_hook(void *user)
{
    s_persist_t *p = user;
    int site, coll;
    int64_t until;
    const char *reason;
    p->calls++;
    p->paused_then = sg_engine_pause_at(p->engine, 0, 0, &site, &coll, &until, &reason);
    return p->answer;
}

/* A pause is made durable before it is answered; when it cannot be, the
 * answer says so (an error), not "paused". */
static void test_a_pause_is_durable_before_it_is_answered(void **state)
{
    s_fix_t *f = *state;
    s_persist_t p = {.engine = f->engine};
    sg_control_env_t env = {.cfg = f->cfg, .engine = f->engine, .journal = f->journal,
                            .clock = &f->clock, .persist = s_persist_hook, .user = &p};
    sg_control_destroy(&f->control);
    f->control = sg_control_new(NULL, &env);
    assert_non_null(f->control);
    Siteguard__Control__V1__Response *resp =
        s_pause(f, SG_CONTROL_OPERATOR, "A", 60000, (char *)"network work");
    s_expect_code(resp, SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK);
    assert_int_equal(p.calls, 1);
    assert_true(p.paused_then);
    p.answer = SG_EIO;
    resp = s_pause(f, SG_CONTROL_OPERATOR, "B", 60000, (char *)"more work");
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__ERROR);
    assert_non_null(strstr(resp->message, "could not be made durable"));
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    assert_int_equal(p.calls, 2);
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
    s_expect_code(resp, SITEGUARD__CONTROL__V1__RESPONSE__CODE__INVALID);
    r.reason = (char *)"A is on fire";
    resp = s_call(f, SG_CONTROL_OPERATOR, &r);
    s_expect_code(resp, SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK);
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
    Siteguard__Control__V1__DrillHistory dh = SITEGUARD__CONTROL__V1__DRILL_HISTORY__INIT;
    r.drill_history = &dh; /* a read: the read-only socket asks, and is told the same */
    r.command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_DRILL_HISTORY;
    resp = s_call(f, SG_CONTROL_READER, &r);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__UNAVAILABLE);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    r.version = 2;
    resp = s_call(f, SG_CONTROL_OPERATOR, &r);
    s_expect_code(resp, SITEGUARD__CONTROL__V1__RESPONSE__CODE__INVALID);
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01};
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(sg_control_handle(f->control, SG_CONTROL_OPERATOR, junk, sizeof junk, &out,
                                       &len), 0);
    resp = siteguard__control__v1__response__unpack(NULL, len, out);
    s_expect_code(resp, SITEGUARD__CONTROL__V1__RESPONSE__CODE__INVALID);
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

/* The wmi provider connects to what the config said at start: a new WMI
 * host, for provider.wmi or for a site, is a restart's, and refused. */
static void test_reload_refuses_a_new_wmi_host_of_the_provider_or_a_site(void **state)
{
    (void)state;
    sg_config_t *cur = s_config("auto"), *next = s_config("auto");
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    next->provider.wmi.host = strdup("hv-new");
    assert_int_equal(sg_reload_check(cur, next, &errs), SG_ECONFIG);
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(errs.items[0], "provider cannot change"));
    sg_config_errors_fini(&errs);
    free(next->provider.wmi.host);
    next->provider.wmi.host = NULL;
    next->sites[1].wmi = calloc(1, sizeof *next->sites[1].wmi);
    next->sites[1].wmi->host = strdup("hv-b");
    sg_config_errors_init(&errs);
    assert_int_equal(sg_reload_check(cur, next, &errs), SG_ECONFIG);
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(errs.items[0], "sites cannot change"));
    sg_config_errors_fini(&errs);
    sg_config_destroy(&cur);
    sg_config_destroy(&next);
}

static void test_reload_refuses_a_new_leader_or_control_key(void **state)
{
    (void)state;
    sg_config_t *cur = s_config("auto"), *next = s_config("auto");
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    next->leader.mode = SG_LEADER_ETCD;
    assert_int_equal(sg_reload_check(cur, next, &errs), SG_ECONFIG);
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(errs.items[0], "leader cannot change"));
    sg_config_errors_fini(&errs);
    next->leader.mode = cur->leader.mode;
    next->control.secret_key = strdup("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    sg_config_errors_init(&errs);
    assert_int_equal(sg_reload_check(cur, next, &errs), SG_ECONFIG);
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(errs.items[0], "secret_key_file) cannot change"));
    sg_config_errors_fini(&errs);
    sg_config_destroy(&cur);
    sg_config_destroy(&next);
}

/* The retention thread runs with the values it started with: a change is
 * refused, as journal.path is, until a restart. */
static void test_reload_refuses_a_new_journal_retention_or_max_size(void **state)
{
    (void)state;
    sg_config_t *cur = s_config("auto"), *next = s_config("auto");
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    next->journal.retention_ms = cur->journal.retention_ms + 3600000;
    assert_int_equal(sg_reload_check(cur, next, &errs), SG_ECONFIG);
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(errs.items[0], "journal cannot change"));
    sg_config_errors_fini(&errs);
    next->journal.retention_ms = cur->journal.retention_ms;
    next->journal.max_size = 1 << 20;
    sg_config_errors_init(&errs);
    assert_int_equal(sg_reload_check(cur, next, &errs), SG_ECONFIG);
    assert_int_equal(errs.n, 1);
    sg_config_errors_fini(&errs);
    sg_config_destroy(&cur);
    sg_config_destroy(&next);
}

static void test_reload_rotates_observer_keys_and_refuses_the_rest_of_observers(void **state)
{
    (void)state;
    sg_config_t *cur = s_config("auto"), *next = s_config("auto");
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    /* a second key while the first is rotated out: live */
    next->observers[0].public_keys[0] = strdup("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    next->observers[0].public_keys[1] = strdup("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID");
    next->observers[0].n_public_keys = 2;
    assert_int_equal(sg_reload_check(cur, next, &errs), 0);
    assert_int_equal(errs.n, 0);
    /* its site, or the bus's own key, is not */
    next->observers[0].site = 1;
    next->bus.insecure = true;
    assert_int_equal(sg_reload_check(cur, next, &errs), SG_ECONFIG);
    assert_int_equal(errs.n, 2);
    assert_non_null(strstr(errs.items[0], "observers cannot change"));
    assert_non_null(strstr(errs.items[1], "bus cannot change"));
    sg_config_errors_fini(&errs);
    sg_config_destroy(&cur);
    sg_config_destroy(&next);
}

/* ---- CURVE: tcp control, roles by client key --------------------------------- */

/* A service key pair, an operator, a reader and an unlisted client key, a
 * tcp control endpoint with CURVE on a real ZeroMQ context. */
typedef struct {
    s_fix_t base;
    void *zctx;
    sg_zap_t *zap; /* the context's handler, as the service makes it */
    char key_file[320];
    char server_pub[41], server_sec[41];
    char op_pub[41], op_sec[41], rd_pub[41], rd_sec[41], bad_pub[41], bad_sec[41];
    char endpoint[320];
} s_curve_fix_t;

/* s_yaml plus a control section; `control` is a format taking the key file
 * and the two client keys. */
static sg_config_t *s_curve_config(const s_curve_fix_t *f, const char *control,
                                   sg_config_errors_t *errs)
{
    char head[1024], text[4096];
    snprintf(head, sizeof head, s_yaml, "auto");
    int n = snprintf(text, sizeof text, "%s", head);
    snprintf(text + n, sizeof text - (size_t)n, control, f->key_file, f->op_pub, f->rd_pub);
    sg_config_t *cfg = NULL;
    sg_config_load_string("test.yaml", text, strlen(text), &cfg, errs);
    return cfg;
}

static const char s_curve_control[] = "control:\n"
                                      "  endpoint: tcp://127.0.0.1:*\n"
                                      "  secret_key_file: %s\n"
                                      "  operators:\n    - {name: alice, key: '%s'}\n"
                                      "  readers:\n    - {name: monitor, key: '%s'}\n";

/* Loads s_yaml with `control` (a format as for s_curve_config), then opens
 * the engine, the journal, a ZeroMQ context and the control on it. */
static void s_socket_fix_open(s_curve_fix_t *f, const char *control)
{
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    f->base.cfg = s_curve_config(f, control, &errs);
    assert_int_equal(errs.n, 0);
    sg_config_errors_fini(&errs);
    assert_non_null(f->base.cfg);
    f->zctx = zmq_ctx_new();
    f->zap = sg_zap_new(f->zctx, &f->base.clock);
    assert_non_null(f->zap);
    s_fix_open(&f->base, f->zctx, f->zap);
}

static int s_curve_setup(void **state)
{
    s_curve_fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    sg_fixture_dir_new(&f->base.tmp, "sg-test-control-curve-");
    snprintf(f->key_file, sizeof f->key_file, "%s/server.key", f->base.tmp.dir);
    assert_int_equal(zmq_curve_keypair(f->server_pub, f->server_sec), 0);
    assert_int_equal(zmq_curve_keypair(f->op_pub, f->op_sec), 0);
    assert_int_equal(zmq_curve_keypair(f->rd_pub, f->rd_sec), 0);
    assert_int_equal(zmq_curve_keypair(f->bad_pub, f->bad_sec), 0);
    char text[128];
    snprintf(text, sizeof text, "# a comment line\n%s\n", f->server_sec);
    assert_int_equal(sg_test_write_private(f->key_file, text), 0);
    s_socket_fix_open(f, s_curve_control);
    void *socks[SG_CONTROL_MAX_SOCKETS];
    assert_int_equal(sg_control_sockets(f->base.control, socks), 1); /* the ROUTER socket */
    size_t len = sizeof f->endpoint;
    assert_int_equal(zmq_getsockopt(socks[0], ZMQ_LAST_ENDPOINT, f->endpoint, &len), 0);
    *state = f;
    return 0;
}

static int s_curve_teardown(void **state)
{
    s_curve_fix_t *f = *state;
    sg_control_destroy(&f->base.control);
    sg_lifecycle_destroy(&f->base.lifecycle); /* its sockets before the context */
    sg_zap_destroy(&f->zap);
    zmq_ctx_term(f->zctx);
    s_fix_close(&f->base);
    free(f);
    return 0;
}

/* A CURVE client socket of `type` with the key pair pub/sec, connected to
 * `endpoint` (the service's key is server_pub). */
static void *s_curve_client(s_curve_fix_t *f, int type, const char *endpoint, const char *pub,
                            const char *sec)
{
    void *c = zmq_socket(f->zctx, type);
    int linger = 0;
    zmq_setsockopt(c, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, f->server_pub, 40), 0);
    assert_int_equal(zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, pub, 40), 0);
    assert_int_equal(zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, sec, 40), 0);
    assert_int_equal(zmq_connect(c, endpoint), 0);
    return c;
}

/* A REQ client of the control endpoint with the key pair pub/sec. */
static void *s_client(s_curve_fix_t *f, const char *pub, const char *sec)
{
    return s_curve_client(f, ZMQ_REQ, f->endpoint, pub, sec);
}

/* Serves the control's sockets and the handshakes, as the loop does, until
 * `client` has an answer or `done` holds, or about 10 s passed. True when
 * client has one. */
static bool s_pump(s_curve_fix_t *f, void *client, bool (*done)(s_curve_fix_t *f))
{
    for (int round = 0; round < 200; round++) {
        zmq_pollitem_t items[2 + SG_CONTROL_MAX_SOCKETS] = {
            {.socket = client, .events = ZMQ_POLLIN},
            {.socket = sg_zap_socket(f->zap), .events = ZMQ_POLLIN}};
        void *socks[SG_CONTROL_MAX_SOCKETS];
        size_t n = sg_control_sockets(f->base.control, socks);
        for (size_t i = 0; i < n; i++)
            items[2 + i] = (zmq_pollitem_t){.socket = socks[i], .events = ZMQ_POLLIN};
        assert_true(zmq_poll(items, 2 + (int)n, 50) >= 0);
        if (items[1].revents & ZMQ_POLLIN)
            assert_true(sg_zap_serve(f->zap) >= 0);
        for (size_t i = 0; i < n; i++)
            if (items[2 + i].revents & ZMQ_POLLIN)
                assert_true(sg_control_serve(f->base.control, socks[i]) >= 0);
        if (items[0].revents & ZMQ_POLLIN)
            return true;
        if (done && done(f))
            return false;
    }
    return false;
}

/* Sends `r` from `client` and returns the answer (caller frees). */
static Siteguard__Control__V1__Response *s_tcp_call(s_curve_fix_t *f, void *client,
                                                    Siteguard__Control__V1__Request *r)
{
    r->version = 1;
    r->user = (char *)"claimed-user";
    size_t len = siteguard__control__v1__request__get_packed_size(r);
    uint8_t buf[1024];
    assert_true(len <= sizeof buf);
    siteguard__control__v1__request__pack(r, buf);
    assert_int_equal(zmq_send(client, buf, len, 0), (int)len);
    assert_true(s_pump(f, client, NULL));
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    assert_true(zmq_msg_recv(&msg, client, 0) >= 0);
    Siteguard__Control__V1__Response *resp =
        siteguard__control__v1__response__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    assert_non_null(resp);
    return resp;
}

static Siteguard__Control__V1__Response *s_tcp_pause(s_curve_fix_t *f, void *client)
{
    Siteguard__Control__V1__Request r = SITEGUARD__CONTROL__V1__REQUEST__INIT;
    Siteguard__Control__V1__Pause p = SITEGUARD__CONTROL__V1__PAUSE__INIT;
    p.target = (char *)"A";
    p.duration_ms = 60000;
    r.pause = &p;
    r.command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_PAUSE;
    r.reason = (char *)"maintenance";
    return s_tcp_call(f, client, &r);
}

static void test_tcp_control_without_curve_is_refused_with_file_line_column(void **state)
{
    (void)state;
    s_curve_fix_t f = {0};
    snprintf(f.key_file, sizeof f.key_file, "/nonexistent/server.key");
    static const struct {
        const char *control, *error;
    } cases[] = {
        {"control:\n  endpoint: tcp://127.0.0.1:7710\n%.0s%.0s%.0s",
         "test.yaml:21:13: 'endpoint' tcp://127.0.0.1:7710 is tcp and needs CURVE"},
        {"control:\n  readonly_endpoint: tcp://127.0.0.1:7710\n%.0s%.0s%.0s",
         "test.yaml:21:22: 'readonly_endpoint' tcp://127.0.0.1:7710 is tcp and needs CURVE"},
        {"control:\n  endpoint: tcp://10.0.0.1:7710\n%.0s%.0s%.0s",
         "test.yaml:21:13: 'endpoint' tcp://10.0.0.1:7710 must be on the loopback address"},
        {"control:\n  endpoint: tcp://127.0.0.1:7710\n  secret_key_file: %s\n%.0s%.0s",
         "test.yaml:22:20: cannot read 'secret_key_file' (/nonexistent/server.key)"},
        {"control:\n  operators:\n    - {name: alice, key: short}\n%.0s%.0s%.0s",
         "test.yaml:22:26: 'key' must be a CURVE public key: 40 characters of Z85 text"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sg_config_errors_t errs;
        sg_config_errors_init(&errs);
        sg_config_t *cfg = s_curve_config(&f, cases[i].control, &errs);
        assert_null(cfg);
        assert_true(errs.n >= 1);
        if (strncmp(errs.items[0], cases[i].error, strlen(cases[i].error)) != 0)
            fail_msg("case %zu: got '%s'", i, errs.items[0]);
        sg_config_errors_fini(&errs);
    }
}

static void test_secret_key_file_must_hold_a_z85_key(void **state)
{
    s_curve_fix_t *f = *state;
    assert_int_equal(
        sg_test_write_private(f->key_file, "# not a key below\nthis-is-not-forty-characters-of-z85\n"),
        0);
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    assert_null(s_curve_config(f, s_curve_control, &errs));
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(errs.items[0], "holds no CURVE secret key"));
    assert_null(strstr(errs.items[0], "this-is-not")); /* the file's text is never echoed */
    sg_config_errors_fini(&errs);
}

static void test_curve_key_decides_the_role_and_names_who_in_the_audit(void **state)
{
    s_curve_fix_t *f = *state;
    void *reader = s_client(f, f->rd_pub, f->rd_sec);
    void *operator = s_client(f, f->op_pub, f->op_sec);
    Siteguard__Control__V1__Request r = SITEGUARD__CONTROL__V1__REQUEST__INIT;
    Siteguard__Control__V1__Status st = SITEGUARD__CONTROL__V1__STATUS__INIT;
    s_ask_status(&r, &st);
    Siteguard__Control__V1__Response *resp = s_tcp_call(f, reader, &r);
    s_expect_code(resp, SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK);
    resp = s_tcp_pause(f, reader);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__DENIED);
    assert_non_null(strstr(resp->message, "key 'monitor' has the read-only role"));
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    resp = s_tcp_pause(f, operator);
    s_expect_code(resp, SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK);
    size_t n = 2; /* the reader's denied pause, the operator's */
    sg_journal_audit_t *list = s_audit(f->base.journal, 0, n);
    bool seen_monitor = false, seen_alice = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].who, "monitor") == 0)
            seen_monitor = strcmp(list[i].role, "read-only") == 0;
        if (strcmp(list[i].who, "alice") == 0)
            seen_alice = strcmp(list[i].role, "operator") == 0 && strstr(list[i].result, "ok");
    }
    assert_true(seen_monitor);
    assert_true(seen_alice);
    sg_journal_audit_free(list, n);
    assert_int_equal(sg_control_keys_refused(f->base.control), 0);
    zmq_close(reader);
    zmq_close(operator);
}

static bool s_one_refused(s_curve_fix_t *f)
{
    return sg_control_keys_refused(f->base.control) >= 1;
}

static void test_unknown_curve_key_is_refused_at_the_handshake(void **state)
{
    s_curve_fix_t *f = *state;
    void *stranger = s_client(f, f->bad_pub, f->bad_sec);
    uint8_t buf[64];
    Siteguard__Control__V1__Request r = SITEGUARD__CONTROL__V1__REQUEST__INIT;
    Siteguard__Control__V1__Status st = SITEGUARD__CONTROL__V1__STATUS__INIT;
    r.version = 1;
    s_ask_status(&r, &st);
    size_t len = siteguard__control__v1__request__pack(&r, buf);
    assert_int_equal(zmq_send(stranger, buf, len, 0), (int)len);
    assert_false(s_pump(f, stranger, s_one_refused)); /* refused, and no answer */
    assert_true(sg_control_keys_refused(f->base.control) >= 1);
    assert_int_equal(sg_control_requests(f->base.control), 0); /* nothing got through */
    zmq_close(stranger);
}

/* An answer that quotes what it was given masks the credentials in it. */
static void test_an_answer_quoting_a_url_masks_its_credentials(void **state)
{
    s_fix_t *f = *state;
    Siteguard__Control__V1__Request r = SITEGUARD__CONTROL__V1__REQUEST__INIT;
    Siteguard__Control__V1__Explain e = SITEGUARD__CONTROL__V1__EXPLAIN__INIT;
    e.target = (char *)"https://ops:pw-51515@hooks.example.com/x?token=t0k-42";
    r.explain = &e;
    r.command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_EXPLAIN;
    Siteguard__Control__V1__Response *resp = s_call(f, SG_CONTROL_READER, &r);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__NOT_FOUND);
    assert_non_null(strstr(resp->message, "https://***@hooks.example.com/x?token=***"));
    assert_null(strstr(resp->message, "pw-51515"));
    assert_null(strstr(resp->message, "t0k-42"));
    siteguard__control__v1__response__free_unpacked(resp, NULL);
}

/* Without life-cycle steps, commit, revert, reverse and points answer
 * UNAVAILABLE; the steps are still changes: role-checked and audited. */
static void test_life_cycle_commands_are_unavailable_without_a_lifecycle(void **state)
{
    s_fix_t *f = *state;
    Siteguard__Control__V1__Request r = SITEGUARD__CONTROL__V1__REQUEST__INIT;
    Siteguard__Control__V1__Step st;
    Siteguard__Control__V1__Points pt;
    r.user = (char *)"tester";
    r.reason = (char *)"done testing";
    s_ask_step(&r, &st, SG_STEP_COMMIT, "a-db");
    Siteguard__Control__V1__Response *resp = s_call(f, SG_CONTROL_OPERATOR, &r);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__UNAVAILABLE);
    assert_non_null(strstr(resp->message, "not available"));
    assert_int_equal(resp->step_id, 0);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    s_ask_step(&r, &st, SG_STEP_REVERSE, "a-db");
    resp = s_call(f, SG_CONTROL_READER, &r);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__DENIED);
    assert_non_null(strstr(resp->message, "reverse needs the operator role"));
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    s_ask_points(&r, &pt, "a-db");
    resp = s_call(f, SG_CONTROL_READER, &r); /* read-only: not audited */
    s_expect_code(resp, SITEGUARD__CONTROL__V1__RESPONSE__CODE__UNAVAILABLE);
    sg_journal_audit_t *list = s_audit(f->journal, 0, 2);
    assert_string_equal(list[0].command, "commit");
    assert_string_equal(list[0].target, "a-db");
    assert_string_equal(list[0].role, "operator");
    assert_string_equal(list[0].who, "tester");
    assert_string_equal(list[0].reason, "done testing");
    assert_non_null(strstr(list[0].result, "unavailable"));
    assert_string_equal(list[1].command, "reverse");
    assert_string_equal(list[1].role, "read-only");
    assert_non_null(strstr(list[1].result, "denied"));
    sg_journal_audit_free(list, 2);
}

/* A Request packed into buf (the caller's, `cap` bytes); its length. */
static size_t s_pack_req(Siteguard__Control__V1__Request *r, uint8_t *buf, size_t cap)
{
    r->version = 1;
    size_t len = siteguard__control__v1__request__get_packed_size(r);
    assert_true(len <= cap);
    return siteguard__control__v1__request__pack(r, buf);
}

/* The next answer on a DEALER client: [empty][Response] (caller frees). */
static Siteguard__Control__V1__Response *s_dealer_recv(void *client)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    assert_int_equal(zmq_msg_recv(&msg, client, 0), 0); /* the delimiter */
    assert_true(zmq_msg_more(&msg));
    assert_true(zmq_msg_recv(&msg, client, 0) >= 0);
    assert_false(zmq_msg_more(&msg));
    Siteguard__Control__V1__Response *resp =
        siteguard__control__v1__response__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    assert_non_null(resp);
    return resp;
}

/* True when `client` gets something within `ms`. */
static bool s_readable(void *client, long ms)
{
    zmq_pollitem_t it = {.socket = client, .events = ZMQ_POLLIN};
    return zmq_poll(&it, 1, ms) == 1;
}

/* The control socket is a ROUTER: a client framing as REQ does
 * ([empty][request]) is answered [empty][response]; a message of another
 * shape is dropped unanswered, and the socket goes on serving. */
static void test_router_answers_req_framing_and_drops_other_shapes(void **state)
{
    s_curve_fix_t *f = *state;
    void *dealer = s_curve_client(f, ZMQ_DEALER, f->endpoint, f->op_pub, f->op_sec);
    Siteguard__Control__V1__Request r = SITEGUARD__CONTROL__V1__REQUEST__INIT;
    Siteguard__Control__V1__Status st = SITEGUARD__CONTROL__V1__STATUS__INIT;
    s_ask_status(&r, &st);
    uint8_t buf[256];
    size_t len = s_pack_req(&r, buf, sizeof buf);
    assert_int_equal(zmq_send(dealer, buf, len, 0), (int)len); /* no delimiter */
    assert_int_equal(zmq_send(dealer, "x", 1, ZMQ_SNDMORE), 1); /* not an empty delimiter */
    assert_int_equal(zmq_send(dealer, buf, len, 0), (int)len);
    assert_int_equal(zmq_send(dealer, "", 0, ZMQ_SNDMORE), 0); /* one frame too many */
    assert_int_equal(zmq_send(dealer, buf, len, ZMQ_SNDMORE), (int)len);
    assert_int_equal(zmq_send(dealer, buf, len, 0), (int)len);
    assert_int_equal(zmq_send(dealer, "", 0, ZMQ_SNDMORE), 0); /* as REQ frames it */
    assert_int_equal(zmq_send(dealer, buf, len, 0), (int)len);
    assert_true(s_pump(f, dealer, NULL));
    Siteguard__Control__V1__Response *resp = s_dealer_recv(dealer);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK);
    assert_int_equal(resp->status->n_collections, 1);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    assert_false(s_readable(dealer, 100)); /* one answer only */
    assert_int_equal(sg_control_requests(f->base.control), 1);
    zmq_close(dealer);
}

#ifndef _WIN32
#include "platform/platform.h"
#include <unistd.h>

/* An ipc operator socket on a real ZeroMQ context (no CURVE, no keys). */
static int s_ipc_setup(void **state)
{
    s_curve_fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    sg_fixture_dir_new(&f->base.tmp, "sg-test-control-ipc-");
    char control[512];
    snprintf(control, sizeof control, "control:\n  endpoint: ipc://%s/ctl.sock\n%%.0s%%.0s%%.0s",
             f->base.tmp.dir);
    s_socket_fix_open(f, control);
    snprintf(f->endpoint, sizeof f->endpoint, "ipc://%s/ctl.sock", f->base.tmp.dir);
    *state = f;
    return 0;
}

/* On an ipc socket who asks is the peer process's user, from the
 * connection's credentials: the user the request claims is not taken. */
static void test_ipc_audit_names_the_peer_process_user_not_the_claimed_one(void **state)
{
    s_curve_fix_t *f = *state;
    void *c = zmq_socket(f->zctx, ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt(c, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(c, f->endpoint), 0);
    Siteguard__Control__V1__Response *resp = s_tcp_pause(f, c); /* claims "claimed-user" */
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    char me[256];
    assert_int_equal(sg_platform_user_name((unsigned long)getuid(), me, sizeof me), SG_OK);
    sg_journal_audit_t *list = NULL;
    size_t n = 0;
    assert_int_equal(sg_journal_audit_list(f->base.journal, 0, &list, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].who, me);
    assert_string_equal(list[0].role, "operator");
    sg_journal_audit_free(list, n);
    zmq_close(c);
}

/* As s_ipc_setup, with life-cycle steps on the simulator (env.lifecycle). */
static int s_lc_setup(void **state)
{
    s_curve_fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    sg_fixture_dir_new(&f->base.tmp, "sg-test-control-lc-");
    char control[512];
    snprintf(control, sizeof control, "control:\n  endpoint: ipc://%s/ctl.sock\n%%.0s%%.0s%%.0s",
             f->base.tmp.dir);
    f->base.want_lifecycle = true;
    s_socket_fix_open(f, control);
    snprintf(f->endpoint, sizeof f->endpoint, "ipc://%s/ctl.sock", f->base.tmp.dir);
    *state = f;
    return 0;
}

/* A step is asked through sg_lifecycle_request: refused with the guard's
 * reason, or started and answered at once with its step id; audited either
 * way; status then shows it. */
static void test_a_step_is_started_or_refused_with_the_guards_reason(void **state)
{
    s_curve_fix_t *cf = *state;
    s_fix_t *f = &cf->base;
    Siteguard__Control__V1__Request r = SITEGUARD__CONTROL__V1__REQUEST__INIT;
    Siteguard__Control__V1__Step st;
    r.user = (char *)"tester";
    s_ask_step(&r, &st, SG_STEP_COMMIT, "a-db");
    Siteguard__Control__V1__Response *resp = s_call(f, SG_CONTROL_OPERATOR, &r);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__REFUSED);
    assert_string_equal(resp->message,
                        "commit of a-db refused: it is not failed over (it is protected at its "
                        "site)");
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    s_ask_step(&r, &st, SG_STEP_COMMIT, "no-such");
    s_expect_code(s_call(f, SG_CONTROL_OPERATOR, &r),
                  SITEGUARD__CONTROL__V1__RESPONSE__CODE__NOT_FOUND);
    /* failed over, as the journal would restore it */
    sg_engine_restore(f->engine, 0, SG_COLL_DONE, 1, SG_ORIGIN_ENGINE);
    r.reason = (char *)"B is the new home";
    s_ask_step(&r, &st, SG_STEP_COMMIT, "a-db");
    resp = s_call(f, SG_CONTROL_OPERATOR, &r);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK);
    assert_int_equal(resp->step_id, 1);
    assert_non_null(strstr(resp->message, "commit of a-db started (step 1): CommitFailover on B"));
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    s_ask_step(&r, &st, SG_STEP_REVERT, "a-db"); /* the commit has not been taken back yet */
    resp = s_call(f, SG_CONTROL_OPERATOR, &r);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__REFUSED);
    assert_non_null(strstr(resp->message, "another step of it is running"));
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    sg_journal_audit_t *list = s_audit(f->journal, 0, 4);
    assert_string_equal(list[2].command, "commit");
    assert_string_equal(list[2].who, "tester");
    assert_string_equal(list[2].reason, "B is the new home");
    assert_non_null(strstr(list[2].result, "ok: commit of a-db started (step 1)"));
    assert_string_equal(list[3].command, "revert");
    assert_non_null(strstr(list[3].result, "refused"));
    sg_journal_audit_free(list, 4);
    /* status: the step, and the collection's newest */
    Siteguard__Control__V1__Status sreq = SITEGUARD__CONTROL__V1__STATUS__INIT;
    s_ask_status(&r, &sreq);
    resp = s_call(f, SG_CONTROL_READER, &r);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK);
    assert_int_equal(resp->status->n_steps, 1);
    assert_string_equal(resp->status->steps[0]->action, "commit");
    assert_string_equal(resp->status->steps[0]->who, "tester");
    assert_string_equal(resp->status->collections[0]->last_step, "commit running (step 1)");
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    /* points waits for its answer: not in process */
    Siteguard__Control__V1__Points pt;
    s_ask_points(&r, &pt, "a-db");
    resp = s_call(f, SG_CONTROL_READER, &r);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__UNAVAILABLE);
    assert_non_null(strstr(resp->message, "through a control socket"));
    siteguard__control__v1__response__free_unpacked(resp, NULL);
}

static bool s_one_pending(s_curve_fix_t *f)
{
    return sg_control_pending(f->base.control) == 1;
}

/* The next lifecycle result, a listing (waits up to 10 s). */
static void s_listing(s_curve_fix_t *f, sg_step_result_t *r)
{
    assert_int_equal(sg_lifecycle_recv(f->base.lifecycle, r, 10000), 1);
    assert_int_equal(r->step_id, 0);
    assert_true(r->token != 0);
}

/* The answer on REQ client c (caller frees). */
static Siteguard__Control__V1__Response *s_req_recv(void *c)
{
    assert_true(s_readable(c, 10000));
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    assert_true(zmq_msg_recv(&msg, c, 0) >= 0);
    Siteguard__Control__V1__Response *resp =
        siteguard__control__v1__response__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    assert_non_null(resp);
    return resp;
}

/* points waits for the listing: the request is remembered and answered by
 * sg_control_answer_points with the result of its token, newest first
 * (id: the InstanceID; created: ISO 8601 UTC); a result of another token
 * answers nothing; the provider's error is answered as an error. */
static void test_points_are_answered_later_newest_first(void **state)
{
    s_curve_fix_t *f = *state;
    void *c = zmq_socket(f->zctx, ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt(c, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(c, f->endpoint), 0);
    Siteguard__Control__V1__Request r = SITEGUARD__CONTROL__V1__REQUEST__INIT;
    Siteguard__Control__V1__Points pt;
    s_ask_points(&r, &pt, "a-db");
    uint8_t buf[256];
    size_t len = s_pack_req(&r, buf, sizeof buf);
    assert_int_equal(zmq_send(c, buf, len, 0), (int)len);
    assert_false(s_pump(f, c, s_one_pending)); /* waiting, not answered */
    sg_step_result_t res;
    s_listing(f, &res);
    assert_int_equal(res.points_rc, SG_OK);
    assert_int_equal(res.n_points, 4);
    sg_step_result_t other = {.token = res.token + 100};
    assert_int_equal(sg_control_answer_points(f->base.control, &other), SG_ENOTFOUND);
    assert_int_equal(sg_control_answer_points(f->base.control, &res), 0);
    assert_int_equal(sg_control_pending(f->base.control), 0);
    assert_int_equal(sg_control_answer_points(f->base.control, &res), SG_ENOTFOUND); /* once */
    sg_step_result_fini(&res);
    Siteguard__Control__V1__Response *resp = s_req_recv(c);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK);
    assert_string_equal(resp->message, "4 recovery points of a-db on site B, newest first");
    assert_int_equal(resp->n_points, 4);
    static const char *const ids[] = {"a-db:latest-crash", "a-db:crash-1", "a-db:latest-app",
                                      "a-db:app-1"};
    for (size_t i = 0; i < 4; i++) {
        const Siteguard__Control__V1__PointInfo *p = resp->points[i];
        assert_string_equal(p->id, ids[i]);
        assert_string_equal(p->consistency,
                            i < 2 ? "crash-consistent" : "application-consistent");
        assert_non_null(strstr(p->path, "Msvm_CollectionRecoveryPoint."));
        assert_non_null(strstr(p->path, ids[i]));
        assert_int_equal(strlen(p->created), 20);
        assert_int_equal(p->created[10], 'T');
        assert_int_equal(p->created[19], 'Z');
        if (i)
            assert_true(p->created_ms < resp->points[i - 1]->created_ms);
    }
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    /* a listing that failed: its error */
    assert_int_equal(zmq_send(c, buf, len, 0), (int)len);
    assert_false(s_pump(f, c, s_one_pending));
    s_listing(f, &res);
    sg_step_result_t failed = {.token = res.token, .points_rc = SG_EIO};
    sg_step_result_fini(&res);
    assert_int_equal(sg_control_answer_points(f->base.control, &failed), 0);
    resp = s_req_recv(c);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__ERROR);
    assert_non_null(strstr(resp->message, "cannot list the recovery points of a-db on site B"));
    assert_int_equal(resp->n_points, 0);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    zmq_close(c);
}

/* At most SG_CONTROL_MAX_PENDING requests wait: one more is answered busy;
 * one waiting longer than SG_CONTROL_PENDING_TTL_MS makes room for a new
 * one, and is answered with an error. */
static void test_waiting_requests_are_bounded_and_forgotten_after_their_ttl(void **state)
{
    s_curve_fix_t *f = *state;
    void *d = zmq_socket(f->zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(d, f->endpoint), 0);
    Siteguard__Control__V1__Request r = SITEGUARD__CONTROL__V1__REQUEST__INIT;
    Siteguard__Control__V1__Points pt;
    s_ask_points(&r, &pt, "a-db");
    uint8_t buf[256];
    size_t len = s_pack_req(&r, buf, sizeof buf);
    for (int i = 0; i <= SG_CONTROL_MAX_PENDING; i++) {
        assert_int_equal(zmq_send(d, "", 0, ZMQ_SNDMORE), 0);
        assert_int_equal(zmq_send(d, buf, len, 0), (int)len);
    }
    assert_true(s_pump(f, d, NULL));
    Siteguard__Control__V1__Response *resp = s_dealer_recv(d);
    assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__UNAVAILABLE);
    assert_non_null(strstr(resp->message, "busy"));
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    assert_int_equal(sg_control_pending(f->base.control), SG_CONTROL_MAX_PENDING);
    /* later: the old ones are given up for a new one */
    sg_clock_fake_advance(&f->base.clock, SG_CONTROL_PENDING_TTL_MS);
    assert_int_equal(zmq_send(d, "", 0, ZMQ_SNDMORE), 0);
    assert_int_equal(zmq_send(d, buf, len, 0), (int)len);
    assert_true(s_pump(f, d, NULL));
    for (int i = 0; i < SG_CONTROL_MAX_PENDING; i++) {
        assert_true(s_readable(d, 10000));
        resp = s_dealer_recv(d);
        assert_int_equal(resp->code, SITEGUARD__CONTROL__V1__RESPONSE__CODE__ERROR);
        assert_non_null(strstr(resp->message, "no answer from site B"));
        siteguard__control__v1__response__free_unpacked(resp, NULL);
    }
    assert_false(s_readable(d, 100));
    assert_int_equal(sg_control_pending(f->base.control), 1);
    zmq_close(d);
}
#endif

/* The bus's domain beside control's: its one key is bad_pub, named "obs-x". */
static const char *s_bus_lookup(void *user, const char *key_z85)
{
    return strcmp(key_z85, ((s_curve_fix_t *)user)->bad_pub) == 0 ? "obs-x" : NULL;
}

/* Serves the handshakes and lets `sub` attach its peers, as the loop
 * does, until `client` has a message (true) or `done` holds (false). */
static bool s_pump_sub(s_curve_fix_t *f, void *sub, void *client, bool (*done)(s_curve_fix_t *f))
{
    for (int round = 0; round < 200; round++) {
        zmq_pollitem_t items[3] = {{.socket = client, .events = ZMQ_POLLIN},
                                   {.socket = sg_zap_socket(f->zap), .events = ZMQ_POLLIN},
                                   {.socket = sub, .events = ZMQ_POLLIN}};
        assert_true(zmq_poll(items, 3, 50) >= 0);
        if (items[1].revents & ZMQ_POLLIN)
            assert_true(sg_zap_serve(f->zap) >= 0);
        if (items[0].revents & ZMQ_POLLIN)
            return true;
        if (done && done(f))
            return false;
    }
    fail_msg("no answer and no refusal in 10 s");
    return false;
}

static bool s_bus_refused(s_curve_fix_t *f)
{
    return sg_zap_refused(f->zap, "bus") >= 1;
}

static void test_one_handler_serves_each_domain_with_its_own_keys(void **state)
{
    s_curve_fix_t *f = *state;
    assert_int_equal(sg_zap_add_domain(f->zap, "bus", s_bus_lookup, f), 0);
    assert_int_equal(sg_zap_add_domain(f->zap, "bus", s_bus_lookup, f), SG_EINVAL);
    void *sub = zmq_socket(f->zctx, ZMQ_SUB);
    int on = 1, linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_CURVE_SERVER, &on, sizeof on), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_CURVE_SECRETKEY, f->server_sec, 40), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_ZAP_DOMAIN, "bus", 3), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0), 0);
    assert_int_equal(zmq_bind(sub, "tcp://127.0.0.1:*"), 0);
    char ep[64];
    size_t len = sizeof ep;
    assert_int_equal(zmq_getsockopt(sub, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    /* an operator's key is control's, not the bus's: refused there */
    void *op = s_curve_client(f, ZMQ_XPUB, ep, f->op_pub, f->op_sec);
    assert_false(s_pump_sub(f, sub, op, s_bus_refused));
    assert_int_equal(sg_zap_refused(f->zap, "bus"), 1);
    assert_int_equal(sg_control_keys_refused(f->base.control), 0);
    /* the bus's key gets in, named, its key on every message */
    void *pub = s_curve_client(f, ZMQ_XPUB, ep, f->bad_pub, f->bad_sec);
    assert_true(s_pump_sub(f, sub, pub, NULL)); /* its subscription */
    char buf[8];
    assert_true(zmq_recv(pub, buf, sizeof buf, 0) >= 1);
    assert_int_equal(zmq_send(pub, "hello", 5, 0), 5);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    assert_true(zmq_msg_recv(&msg, sub, 0) == 5);
    assert_string_equal(zmq_msg_gets(&msg, "User-Id"), "obs-x");
    assert_string_equal(zmq_msg_gets(&msg, SG_ZAP_KEY_PROPERTY), f->bad_pub);
    zmq_msg_close(&msg);
    assert_int_equal(sg_zap_accepted(f->zap, "bus"), 1);
    sg_zap_remove_domain(f->zap, "bus");
    assert_int_equal(sg_zap_refused(f->zap, "bus"), 0);
    zmq_close(op);
    zmq_close(pub);
    zmq_close(sub);
}

#define T(t) cmocka_unit_test_setup_teardown(t, s_setup, s_teardown)
#define TC(t) cmocka_unit_test_setup_teardown(t, s_curve_setup, s_curve_teardown)
#define TI(t) cmocka_unit_test_setup_teardown(t, s_ipc_setup, s_curve_teardown)
#define TL(t) cmocka_unit_test_setup_teardown(t, s_lc_setup, s_curve_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_status_lists_sites_collections_and_leader),
        T(test_reader_may_not_pause_and_the_attempt_is_audited),
        T(test_pause_needs_a_reason_and_expires_on_the_clock),
        T(test_a_pause_is_durable_before_it_is_answered),
        T(test_forced_failover_needs_a_reason_then_is_decided),
        T(test_drills_and_bad_requests_are_answered_plainly),
        T(test_reload_allows_policy_and_refuses_sites),
        T(test_reload_refuses_a_new_wmi_host_of_the_provider_or_a_site),
        T(test_reload_refuses_a_new_leader_or_control_key),
        T(test_reload_refuses_a_new_journal_retention_or_max_size),
        T(test_reload_rotates_observer_keys_and_refuses_the_rest_of_observers),
        cmocka_unit_test(test_tcp_control_without_curve_is_refused_with_file_line_column),
        TC(test_secret_key_file_must_hold_a_z85_key),
        TC(test_curve_key_decides_the_role_and_names_who_in_the_audit),
        TC(test_unknown_curve_key_is_refused_at_the_handshake),
        T(test_an_answer_quoting_a_url_masks_its_credentials),
        T(test_life_cycle_commands_are_unavailable_without_a_lifecycle),
        TC(test_router_answers_req_framing_and_drops_other_shapes),
#ifndef _WIN32
        TI(test_ipc_audit_names_the_peer_process_user_not_the_claimed_one),
        TL(test_a_step_is_started_or_refused_with_the_guards_reason),
        TL(test_points_are_answered_later_newest_first),
        TL(test_waiting_requests_are_bounded_and_forgotten_after_their_ttl),
#endif
        TC(test_one_handler_serves_each_domain_with_its_own_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
