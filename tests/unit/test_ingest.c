/* Unit tests for ingest: every drop reason, every event kind, the counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ingress/ingest.h"
#include "proto/health.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000LL
#define INC 1000

typedef Siteguard__Health__V1__Event pb_event_t;

/* --- a config built by hand: what ingest reads, nothing else ---------------- */

static sg_site_cfg_t s_sites[] = {{.name = "A"}, {.name = "B"}, {.name = "W", .witness = true}};
#define KEY_A "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
#define KEY_A_NEXT "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
#define KEY_B "J/3lo]ZJ{a^D#0TT558D}-600G)P-[GHzfNoM6h:"
static sg_observer_cfg_t s_observers[] = {
    {.id = "obs-a", .site = 0, .public_keys = {KEY_A, KEY_A_NEXT}, .n_public_keys = 2},
    {.id = "obs-b", .site = 1, .public_keys = {KEY_B}, .n_public_keys = 1},
    {.id = "wit", .site = 2}};
static sg_collection_cfg_t s_collections[] = {{.name = "col-1", .site = 0, .replica_site = 1},
                                              {.name = "col-2", .site = 1, .replica_site = 0}};

static sg_config_t s_cfg(void)
{
    sg_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.sites = s_sites;
    cfg.n_sites = 3;
    cfg.observers = s_observers;
    cfg.n_observers = 3;
    cfg.collections = s_collections;
    cfg.n_collections = 2;
    cfg.bus.max_event_bytes = 512;
    cfg.bus.max_age_ms = 30000;
    cfg.bus.max_skew_ms = 5000;
    cfg.bus.incarnation_silence_ms = 2000;
    return cfg;
}

typedef struct {
    sg_config_t cfg;
    sg_ingest_t *ig;
    uint8_t buf[8192];
    size_t len;
    sg_event_t out;
    int64_t now;                      /* the receive time: the injected clock, NOW at start */
    const sg_ingest_sender_t *sender; /* CURVE: who sends; NULL: no CURVE */
} fx_t;

static int s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    fx->cfg = s_cfg();
    fx->now = NOW;
    fx->ig = sg_ingest_new(&fx->cfg);
    assert_non_null(fx->ig);
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    sg_ingest_destroy(&fx->ig);
    assert_null(fx->ig);
    free(fx);
    return 0;
}

/* --- building events with the generated API ----------------------------------- */

typedef struct {
    pb_event_t ev;
    Siteguard__Health__V1__Heartbeat hb;
    Siteguard__Health__V1__Reachability reach;
    Siteguard__Health__V1__ReplicationStatus repl;
    Siteguard__Health__V1__NodeState node;
    Siteguard__Health__V1__ProbeResult probe;
} msg_t;

/* A valid envelope from `observer` in `site`, with no body. */
static void s_envelope(msg_t *m, const char *observer, const char *site, uint64_t seq)
{
    siteguard__health__v1__event__init(&m->ev);
    siteguard__health__v1__heartbeat__init(&m->hb);
    siteguard__health__v1__reachability__init(&m->reach);
    siteguard__health__v1__replication_status__init(&m->repl);
    siteguard__health__v1__node_state__init(&m->node);
    siteguard__health__v1__probe_result__init(&m->probe);
    m->ev.schema = 1;
    m->ev.observer = (char *)observer;
    m->ev.site = (char *)site;
    m->ev.seq = seq;
    m->ev.sent_at_ms = NOW;
    m->ev.incarnation = INC;
}

static void s_heartbeat(msg_t *m, const char *observer, const char *site, uint64_t seq)
{
    s_envelope(m, observer, site, seq);
    m->hb.interval_ms = 200;
    m->ev.body_case = SITEGUARD__HEALTH__V1__EVENT__BODY_HEARTBEAT;
    m->ev.heartbeat = &m->hb;
}

static void s_reach(msg_t *m, const char *target, bool up)
{
    s_envelope(m, "wit", "W", 1);
    m->reach.target_site = (char *)target;
    m->reach.up = up;
    m->reach.latency_us = up ? 850 : 0;
    m->ev.body_case = SITEGUARD__HEALTH__V1__EVENT__BODY_REACHABILITY;
    m->ev.reachability = &m->reach;
}

static void s_repl(msg_t *m, const char *collection)
{
    s_envelope(m, "obs-a", "A", 1);
    m->repl.collection = (char *)collection;
    m->repl.state = SITEGUARD__HEALTH__V1__REPLICATION_STATE__REPLICATION_STATE_REPLICATING;
    m->repl.health = SITEGUARD__HEALTH__V1__REPLICATION_HEALTH__REPLICATION_HEALTH_WARNING;
    m->repl.lag_s = 42;
    m->repl.last_replicated_ms = NOW - 42000;
    m->ev.body_case = SITEGUARD__HEALTH__V1__EVENT__BODY_REPLICATION;
    m->ev.replication = &m->repl;
}

static void s_node(msg_t *m, const char *name, int status)
{
    s_envelope(m, "obs-b", "B", 1);
    m->node.node = (char *)name;
    m->node.status = (Siteguard__Health__V1__NodeStatus)status;
    m->ev.body_case = SITEGUARD__HEALTH__V1__EVENT__BODY_NODE;
    m->ev.node = &m->node;
}

/* A probe result `name` from obs-a. */
static void s_probe(msg_t *m, uint64_t seq, const char *name, int ok, const char *detail)
{
    s_envelope(m, "obs-a", "A", seq);
    m->probe.name = (char *)name;
    m->probe.ok = ok;
    m->probe.detail = (char *)detail;
    m->ev.body_case = SITEGUARD__HEALTH__V1__EVENT__BODY_PROBE;
    m->ev.probe = &m->probe;
}

static void s_pack(fx_t *fx, const msg_t *m)
{
    size_t need = siteguard__health__v1__event__get_packed_size(&m->ev);
    assert_true(need <= sizeof(fx->buf));
    fx->len = siteguard__health__v1__event__pack(&m->ev, fx->buf);
    assert_int_equal(fx->len, need);
}

/* Packs `m` and offers it under `topic`, received at fx->now from fx->sender. */
static sg_drop_reason_t s_offer_as(fx_t *fx, const char *topic, const msg_t *m)
{
    s_pack(fx, m);
    memset(&fx->out, 0xa5, sizeof(fx->out));
    return sg_ingest_accept(fx->ig, topic, strlen(topic), fx->buf, fx->len, fx->now,
                            fx->sender, &fx->out);
}

/* Offers `m` under the topic its body calls for. */
static sg_drop_reason_t s_offer(fx_t *fx, const msg_t *m)
{
    static const char *const topics[] = {[10] = "heartbeat", [11] = "reachability",
                                         [12] = "replication", [13] = "node", [14] = "probe"};
    int bc = (int)m->ev.body_case;
    return s_offer_as(fx, bc >= 10 && bc <= 14 ? topics[bc] : "heartbeat", m);
}

/* Offers the next event of m's run (its sequence number + 1), sent and
 * received `t` ms after NOW. */
static sg_drop_reason_t s_offer_next(fx_t *fx, msg_t *m, int64_t t)
{
    fx->now = NOW + t;
    m->ev.seq++;
    m->ev.sent_at_ms = fx->now;
    return s_offer(fx, m);
}

/* Two runs of obs-a heard, the second with incarnation `inc` (INC the first). */
static void s_two_runs(fx_t *fx, msg_t *first, msg_t *second, uint64_t inc)
{
    s_heartbeat(first, "obs-a", "A", 1);
    assert_int_equal(s_offer(fx, first), SG_DROP_NONE);
    s_heartbeat(second, "obs-a", "A", 1);
    second->ev.incarnation = inc;
    assert_int_equal(s_offer(fx, second), SG_DROP_NONE);
}

static uint64_t s_dropped(fx_t *fx, sg_drop_reason_t r) { return sg_ingest_stats(fx->ig)->dropped[r]; }

/* Offers a heartbeat from `observer` in `site` with sequence `seq`. */
static sg_drop_reason_t s_offer_heartbeat(fx_t *fx, const char *observer, const char *site,
                                          uint64_t seq)
{
    msg_t m;
    s_heartbeat(&m, observer, site, seq);
    return s_offer(fx, &m);
}

/* Offers `m`: it is accepted as an event of `kind`, in fx->out. */
static void s_expect_accepted_as(fx_t *fx, const msg_t *m, sg_event_kind_t kind)
{
    assert_int_equal(s_offer(fx, m), SG_DROP_NONE);
    assert_int_equal(fx->out.kind, kind);
}

/* Builds a heartbeat into `m` and offers it: it is accepted. */
static void s_heartbeat_accepted(fx_t *fx, msg_t *m, const char *observer, const char *site,
                                 uint64_t seq)
{
    s_heartbeat(m, observer, site, seq);
    assert_int_equal(s_offer(fx, m), SG_DROP_NONE);
}

/* Offers `m` again with sequence `seq`. */
static sg_drop_reason_t s_offer_seq(fx_t *fx, msg_t *m, uint64_t seq)
{
    m->ev.seq = seq;
    return s_offer(fx, m);
}

/* Offers `m` again as sequence `seq` of the observer's run `incarnation`. */
static sg_drop_reason_t s_offer_run(fx_t *fx, msg_t *m, uint64_t incarnation, uint64_t seq)
{
    m->ev.incarnation = incarnation;
    return s_offer_seq(fx, m, seq);
}

/* Offers a heartbeat from obs-a of schema revision `schema`. */
static sg_drop_reason_t s_offer_heartbeat_of_schema(fx_t *fx, uint32_t schema)
{
    msg_t m;
    s_heartbeat(&m, "obs-a", "A", 1);
    m.ev.schema = schema;
    return s_offer(fx, &m);
}

/* A heartbeat sent at `dropped_at` is stale; one sent at `accepted_at`, the
 * limit, is not. */
static void s_expect_stale_beyond(fx_t *fx, int64_t dropped_at, int64_t accepted_at)
{
    msg_t m;
    s_heartbeat(&m, "obs-a", "A", 1);
    m.ev.sent_at_ms = dropped_at;
    assert_int_equal(s_offer(fx, &m), SG_DROP_STALE);
    m.ev.sent_at_ms = accepted_at;
    assert_int_equal(s_offer(fx, &m), SG_DROP_NONE);
    assert_int_equal(s_dropped(fx, SG_DROP_STALE), 1);
}

/* --- good events ---------------------------------------------------------------- */

static void test_heartbeat_is_accepted_with_observer_and_site_resolved(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_heartbeat(&m, "obs-b", "B", 7);
    s_expect_accepted_as(fx, &m, SG_EV_HEARTBEAT);
    assert_int_equal(fx->out.observer, 1);
    assert_int_equal(fx->out.site, 1);
    assert_int_equal(fx->out.seq, 7);
    assert_int_equal(fx->out.incarnation, INC);
    assert_int_equal(fx->out.sent_at_ms, NOW);
    assert_int_equal(fx->out.schema, 1);
    assert_int_equal(fx->out.u.heartbeat.interval_ms, 200);
    assert_int_equal(sg_ingest_stats(fx->ig)->accepted, 1);
}

static void test_reachability_resolves_its_target_site(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_reach(&m, "A", false);
    s_expect_accepted_as(fx, &m, SG_EV_REACHABILITY);
    assert_int_equal(fx->out.observer, 2);
    assert_int_equal(fx->out.site, 2);
    assert_int_equal(fx->out.u.reach.target_site, 0);
    assert_false(fx->out.u.reach.up);
    assert_int_equal(fx->out.u.reach.latency_us, 0);

    s_reach(&m, "B", true);
    assert_int_equal(s_offer_seq(fx, &m, 2), SG_DROP_NONE);
    assert_int_equal(fx->out.u.reach.target_site, 1);
    assert_true(fx->out.u.reach.up);
    assert_int_equal(fx->out.u.reach.latency_us, 850);
}

static void test_replication_resolves_its_collection_and_copies_health(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_repl(&m, "col-2");
    s_expect_accepted_as(fx, &m, SG_EV_REPLICATION);
    assert_int_equal(fx->out.observer, 0);
    assert_int_equal(fx->out.u.repl.collection, 1);
    assert_int_equal(fx->out.u.repl.state,
                     SITEGUARD__HEALTH__V1__REPLICATION_STATE__REPLICATION_STATE_REPLICATING);
    assert_int_equal(fx->out.u.repl.health,
                     SITEGUARD__HEALTH__V1__REPLICATION_HEALTH__REPLICATION_HEALTH_WARNING);
    assert_int_equal(fx->out.u.repl.lag_s, 42);
    assert_int_equal(fx->out.u.repl.last_replicated_ms, NOW - 42000);
}

static void test_node_event_carries_the_node_name_and_status(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_node(&m, "hv-node-3", SITEGUARD__HEALTH__V1__NODE_STATUS__NODE_STATUS_PAUSED);
    s_expect_accepted_as(fx, &m, SG_EV_NODE);
    assert_int_equal(fx->out.site, 1);
    assert_string_equal(fx->out.u.node.node, "hv-node-3");
    assert_int_equal(fx->out.u.node.status, SITEGUARD__HEALTH__V1__NODE_STATUS__NODE_STATUS_PAUSED);
}

static void test_probe_result_carries_name_outcome_and_detail(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_probe(&m, 3, "smb-share", 1, "\\\\fs1\\vms reachable");
    s_expect_accepted_as(fx, &m, SG_EV_PROBE);
    assert_string_equal(fx->out.u.probe.name, "smb-share");
    assert_true(fx->out.u.probe.ok);
    assert_string_equal(fx->out.u.probe.detail, "\\\\fs1\\vms reachable");
}

/* --- one test per drop reason ----------------------------------------------------- */

static void test_message_larger_than_max_event_bytes_is_oversize(void **state)
{
    fx_t *fx = *state;
    char detail[600];
    memset(detail, 'x', sizeof(detail) - 1);
    detail[sizeof(detail) - 1] = '\0';
    msg_t m;
    s_probe(&m, 1, "big", 0, detail);
    assert_int_equal(s_offer(fx, &m), SG_DROP_OVERSIZE);
    assert_int_equal(s_dropped(fx, SG_DROP_OVERSIZE), 1);
}

static void test_garbage_bytes_are_malformed(void **state)
{
    fx_t *fx = *state;
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(sg_ingest_accept(fx->ig, "heartbeat", 9, junk, sizeof(junk), NOW, NULL, &fx->out),
                     SG_DROP_MALFORMED);
    static const uint8_t truncated[] = {0x12, 0x20, 'o', 'b', 's'}; /* string of 32, 3 given */
    assert_int_equal(
        sg_ingest_accept(fx->ig, "heartbeat", 9, truncated, sizeof(truncated), NOW, NULL,
                         &fx->out),
        SG_DROP_MALFORMED);
    assert_int_equal(sg_ingest_accept(fx->ig, "heartbeat", 9, NULL, 0, NOW, NULL, &fx->out),
                     SG_DROP_MALFORMED);
    assert_int_equal(s_dropped(fx, SG_DROP_MALFORMED), 3);
}

static void test_event_without_a_body_is_malformed(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_envelope(&m, "obs-a", "A", 1);
    assert_int_equal(s_offer_as(fx, "heartbeat", &m), SG_DROP_MALFORMED);
}

static void test_missing_envelope_fields_are_malformed(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_offer_heartbeat(fx, "", "A", 1), SG_DROP_MALFORMED);
    assert_int_equal(s_offer_heartbeat(fx, "obs-a", "A", 0), SG_DROP_MALFORMED);
    msg_t m;
    s_heartbeat(&m, "obs-a", "A", 1);
    m.ev.sent_at_ms = 0;
    assert_int_equal(s_offer(fx, &m), SG_DROP_MALFORMED);
    s_heartbeat(&m, "obs-a", "A", 1);
    m.ev.incarnation = 0;
    assert_int_equal(s_offer(fx, &m), SG_DROP_MALFORMED);
    assert_int_equal(s_dropped(fx, SG_DROP_MALFORMED), 4);
    assert_int_equal(sg_ingest_stats(fx->ig)->accepted, 0);
}

static void test_topic_other_than_the_body_kind_is_malformed(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_heartbeat(&m, "obs-a", "A", 1);
    assert_int_equal(s_offer_as(fx, "reachability", &m), SG_DROP_MALFORMED);
    assert_int_equal(s_offer_as(fx, "heart", &m), SG_DROP_MALFORMED);
    assert_int_equal(s_offer_as(fx, "heartbeats", &m), SG_DROP_MALFORMED);
    assert_int_equal(s_offer_as(fx, "", &m), SG_DROP_MALFORMED);
    assert_int_equal(s_dropped(fx, SG_DROP_MALFORMED), 4);
    /* the drops did not consume the sequence number */
    assert_int_equal(s_offer_as(fx, "heartbeat", &m), SG_DROP_NONE);
}

static void test_schema_zero_is_malformed(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_offer_heartbeat_of_schema(fx, 0), SG_DROP_MALFORMED);
    assert_int_equal(s_dropped(fx, SG_DROP_SCHEMA), 0);
}

static void test_schema_newer_than_known_is_a_schema_drop(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_offer_heartbeat_of_schema(fx, SG_HEALTH_SCHEMA_MAX + 1), SG_DROP_SCHEMA);
    /* a newer revision may bring a body kind this build cannot see */
    msg_t m;
    s_envelope(&m, "obs-a", "A", 1);
    m.ev.schema = 2;
    assert_int_equal(s_offer_as(fx, "heartbeat", &m), SG_DROP_SCHEMA);
    assert_int_equal(s_dropped(fx, SG_DROP_SCHEMA), 2);
}

static void test_enum_values_out_of_range_are_malformed(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_repl(&m, "col-1");
    m.repl.state = (Siteguard__Health__V1__ReplicationState)16;
    assert_int_equal(s_offer(fx, &m), SG_DROP_MALFORMED);
    s_repl(&m, "col-1");
    m.repl.health = (Siteguard__Health__V1__ReplicationHealth)4;
    assert_int_equal(s_offer(fx, &m), SG_DROP_MALFORMED);
    s_repl(&m, "col-1");
    m.repl.health = (Siteguard__Health__V1__ReplicationHealth)-1;
    assert_int_equal(s_offer(fx, &m), SG_DROP_MALFORMED);
    s_node(&m, "n1", 5);
    assert_int_equal(s_offer(fx, &m), SG_DROP_MALFORMED);
    assert_int_equal(s_dropped(fx, SG_DROP_MALFORMED), 4);
    /* the highest known values pass */
    s_repl(&m, "col-1");
    m.repl.state =
        SITEGUARD__HEALTH__V1__REPLICATION_STATE__REPLICATION_STATE_FAILBACK_COMPLETE;
    m.repl.health = SITEGUARD__HEALTH__V1__REPLICATION_HEALTH__REPLICATION_HEALTH_CRITICAL;
    assert_int_equal(s_offer(fx, &m), SG_DROP_NONE);
}

static void test_unknown_observer_is_dropped(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_offer_heartbeat(fx, "obs-z", "A", 1), SG_DROP_UNKNOWN_OBSERVER);
    assert_int_equal(s_offer_heartbeat(fx, "obs-a2", "A", 1), SG_DROP_UNKNOWN_OBSERVER);
    assert_int_equal(s_dropped(fx, SG_DROP_UNKNOWN_OBSERVER), 2);
}

static void test_observer_claiming_another_site_is_unknown_observer(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_offer_heartbeat(fx, "obs-a", "B", 1), SG_DROP_UNKNOWN_OBSERVER);
    assert_int_equal(s_offer_heartbeat(fx, "obs-a", "", 1), SG_DROP_UNKNOWN_OBSERVER);
    assert_int_equal(s_dropped(fx, SG_DROP_UNKNOWN_OBSERVER), 2);
}

static void test_reachability_of_an_unknown_site_is_unknown_ref(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_reach(&m, "C", false);
    assert_int_equal(s_offer(fx, &m), SG_DROP_UNKNOWN_REF);
    assert_int_equal(s_dropped(fx, SG_DROP_UNKNOWN_REF), 1);
}

static void test_replication_of_an_unknown_collection_is_unknown_ref(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_repl(&m, "col-9");
    assert_int_equal(s_offer(fx, &m), SG_DROP_UNKNOWN_REF);
    assert_int_equal(s_dropped(fx, SG_DROP_UNKNOWN_REF), 1);
}

static void test_event_older_than_max_age_is_stale(void **state)
{
    fx_t *fx = *state;
    s_expect_stale_beyond(fx, NOW - 30001, NOW - 30000);
}

static void test_event_further_ahead_than_max_skew_is_stale(void **state)
{
    fx_t *fx = *state;
    s_expect_stale_beyond(fx, NOW + 5001, NOW + 5000);
}

static void test_sequence_not_above_the_last_is_duplicate(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_heartbeat_accepted(fx, &m, "obs-a", "A", 5);
    assert_int_equal(s_offer(fx, &m), SG_DROP_DUPLICATE);
    assert_int_equal(s_offer_seq(fx, &m, 4), SG_DROP_DUPLICATE);
    assert_int_equal(s_offer_seq(fx, &m, 6), SG_DROP_NONE);
    assert_int_equal(s_dropped(fx, SG_DROP_DUPLICATE), 2);
}

static void test_sequence_is_tracked_per_observer(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_offer_heartbeat(fx, "obs-a", "A", 9), SG_DROP_NONE);
    assert_int_equal(s_offer_heartbeat(fx, "obs-b", "B", 1), SG_DROP_NONE);
}

static void test_older_incarnation_is_stale(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_heartbeat_accepted(fx, &m, "obs-a", "A", 1);
    assert_int_equal(s_offer_run(fx, &m, INC - 1, 100), SG_DROP_STALE);
    assert_int_equal(s_dropped(fx, SG_DROP_STALE), 1);
}

static void test_newer_incarnation_is_accepted_and_resets_the_sequence(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_heartbeat_accepted(fx, &m, "obs-a", "A", 50);
    assert_int_equal(s_offer_run(fx, &m, INC + 1, 1), SG_DROP_NONE);
    assert_int_equal(fx->out.incarnation, INC + 1);
    assert_int_equal(fx->out.seq, 1);
    assert_int_equal(s_offer_seq(fx, &m, 2), SG_DROP_NONE);
    assert_int_equal(s_offer_run(fx, &m, INC, 51), SG_DROP_STALE); /* the old run is gone */
}

/* --- incarnations: one forged or broken message shadows no observer for ever --- */

static void test_incarnation_further_ahead_than_max_skew_is_refused(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_heartbeat(&m, "obs-a", "A", 1);
    assert_int_equal(s_offer(fx, &m), SG_DROP_NONE);
    m.ev.seq = 2;
    m.ev.incarnation = NOW + 86400000; /* a day ahead: no publisher started then */
    assert_int_equal(s_offer(fx, &m), SG_DROP_INCARNATION);
    m.ev.incarnation = UINT64_MAX;
    assert_int_equal(s_offer(fx, &m), SG_DROP_INCARNATION);
    m.ev.incarnation = NOW + 5001;
    assert_int_equal(s_offer(fx, &m), SG_DROP_INCARNATION);
    assert_int_equal(s_dropped(fx, SG_DROP_INCARNATION), 3);
    /* the real run goes on: the refusals moved nothing */
    m.ev.incarnation = INC;
    assert_int_equal(s_offer(fx, &m), SG_DROP_NONE);
    /* as far ahead as max_skew allows: a restart with a clock a little ahead */
    m.ev.incarnation = NOW + 5000;
    m.ev.seq = 1;
    assert_int_equal(s_offer(fx, &m), SG_DROP_NONE);
    /* the clock moves on: what was ahead is no longer */
    fx->now = NOW + 60000;
    m.ev.sent_at_ms = fx->now;
    m.ev.incarnation = NOW + 10000;
    assert_int_equal(s_offer(fx, &m), SG_DROP_NONE);
}

static void test_older_incarnation_is_heard_again_once_the_newer_is_silent(void **state)
{
    fx_t *fx = *state;
    msg_t real, forged;
    /* one forged (or broken) message, within max_skew: it takes over */
    s_two_runs(fx, &real, &forged, NOW + 4000);
    /* the real run is shadowed while the forged one was heard lately */
    for (int64_t t = 100; t < 2000; t += 100)
        assert_int_equal(s_offer_next(fx, &real, t), SG_DROP_STALE);
    /* incarnation_silence (2 s) after the forged message: heard again */
    assert_int_equal(s_offer_next(fx, &real, 2000), SG_DROP_NONE);
    assert_int_equal(fx->out.incarnation, INC);
    real.ev.seq++;
    assert_int_equal(s_offer(fx, &real), SG_DROP_NONE);
    real.ev.seq--; /* its own sequence holds again */
    assert_int_equal(s_offer(fx, &real), SG_DROP_DUPLICATE);
}

static void test_older_incarnation_stays_stale_while_the_newer_is_heard(void **state)
{
    fx_t *fx = *state;
    msg_t old_run, new_run;
    s_two_runs(fx, &old_run, &new_run, INC + 1); /* a restart */
    /* the old process lingers: as long as the new one speaks, it is not heard */
    for (int64_t t = 500; t <= 10000; t += 500) {
        assert_int_equal(s_offer_next(fx, &new_run, t), SG_DROP_NONE);
        assert_int_equal(s_offer_next(fx, &old_run, t), SG_DROP_STALE);
    }
}

/* --- CURVE: the sender's key names its observer --------------------------------- */

static void test_event_naming_another_observer_than_its_key_is_an_impostor(void **state)
{
    fx_t *fx = *state;
    static const sg_ingest_sender_t a = {.observer = "obs-a", .key = KEY_A};
    fx->sender = &a;
    msg_t m;
    s_heartbeat(&m, "obs-a", "A", 1);
    assert_int_equal(s_offer(fx, &m), SG_DROP_NONE);
    s_heartbeat(&m, "obs-b", "B", 1);
    assert_int_equal(s_offer(fx, &m), SG_DROP_IMPOSTOR);
    s_reach(&m, "A", false); /* a vote in the witness's name */
    assert_int_equal(s_offer(fx, &m), SG_DROP_IMPOSTOR);
    s_heartbeat(&m, "nobody", "A", 1); /* what it claims is checked first */
    assert_int_equal(s_offer(fx, &m), SG_DROP_IMPOSTOR);
    assert_int_equal(s_dropped(fx, SG_DROP_IMPOSTOR), 3);
    /* without CURVE there is no sender, and no such check */
    fx->sender = NULL;
    s_heartbeat(&m, "obs-b", "B", 1);
    assert_int_equal(s_offer(fx, &m), SG_DROP_NONE);
}

static void test_a_key_removed_by_a_reload_is_revoked_and_the_new_one_heard(void **state)
{
    fx_t *fx = *state;
    static const sg_ingest_sender_t old_key = {.observer = "obs-a", .key = KEY_A};
    static const sg_ingest_sender_t new_key = {.observer = "obs-a", .key = KEY_A_NEXT};
    msg_t m;
    s_heartbeat(&m, "obs-a", "A", 1);
    fx->sender = &old_key;
    assert_int_equal(s_offer(fx, &m), SG_DROP_NONE);
    /* the rotation ends: only the new key is listed */
    sg_config_t next = fx->cfg;
    sg_observer_cfg_t observers[3];
    memcpy(observers, s_observers, sizeof observers);
    observers[0].public_keys[0] = KEY_A_NEXT;
    observers[0].n_public_keys = 1;
    next.observers = observers;
    sg_ingest_set_config(fx->ig, &next);
    m.ev.seq = 2;
    assert_int_equal(s_offer(fx, &m), SG_DROP_REVOKED);
    fx->sender = &new_key;
    assert_int_equal(s_offer(fx, &m), SG_DROP_NONE);
    static const sg_ingest_sender_t no_key = {.observer = "obs-a", .key = NULL};
    fx->sender = &no_key; /* a connection without the key property: never heard */
    m.ev.seq = 3;
    assert_int_equal(s_offer(fx, &m), SG_DROP_REVOKED);
    assert_int_equal(s_dropped(fx, SG_DROP_REVOKED), 2);
    sg_ingest_set_config(fx->ig, &fx->cfg);
}

static void test_dropped_events_do_not_move_the_sequence(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_heartbeat(&m, "obs-a", "A", 10);
    m.ev.sent_at_ms = NOW - 60000;
    assert_int_equal(s_offer(fx, &m), SG_DROP_STALE);
    assert_int_equal(s_offer_heartbeat(fx, "obs-a", "A", 3), SG_DROP_NONE);
}

static void test_counters_add_up_by_reason(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_heartbeat_accepted(fx, &m, "obs-a", "A", 1);
    assert_int_equal(s_offer(fx, &m), SG_DROP_DUPLICATE);
    assert_int_equal(s_offer_heartbeat(fx, "nobody", "A", 1), SG_DROP_UNKNOWN_OBSERVER);
    assert_int_equal(s_offer_heartbeat(fx, "obs-b", "B", 1), SG_DROP_NONE);
    assert_int_equal(sg_ingest_accept(fx->ig, "node", 4, "\x08", 1, NOW, NULL, NULL),
                     SG_DROP_MALFORMED);

    const sg_ingest_stats_t *st = sg_ingest_stats(fx->ig);
    assert_int_equal(st->received, 5);
    assert_int_equal(st->accepted, 2);
    assert_int_equal(st->dropped[SG_DROP_DUPLICATE], 1);
    assert_int_equal(st->dropped[SG_DROP_UNKNOWN_OBSERVER], 1);
    assert_int_equal(st->dropped[SG_DROP_MALFORMED], 1);
    assert_int_equal(st->dropped[SG_DROP_STALE], 0);
    uint64_t sum = st->accepted;
    for (int r = SG_DROP_NONE + 1; r < SG_DROP_COUNT; r++)
        sum += st->dropped[r];
    assert_int_equal(sum, st->received);
}

static void test_accept_without_an_output_still_counts(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_heartbeat(&m, "obs-a", "A", 1);
    s_pack(fx, &m);
    assert_int_equal(sg_ingest_accept(fx->ig, "heartbeat", 9, fx->buf, fx->len, NOW, NULL, NULL),
                     SG_DROP_NONE);
    assert_int_equal(sg_ingest_stats(fx->ig)->accepted, 1);
}

static void test_config_without_observers_drops_everything_as_unknown(void **state)
{
    (void)state;
    sg_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.bus.max_event_bytes = 4096;
    cfg.bus.max_age_ms = 30000;
    cfg.bus.max_skew_ms = 5000;
    sg_ingest_t *ig = sg_ingest_new(&cfg);
    assert_non_null(ig);
    msg_t m;
    s_heartbeat(&m, "obs-a", "A", 1);
    uint8_t buf[256];
    size_t len = siteguard__health__v1__event__pack(&m.ev, buf);
    assert_int_equal(sg_ingest_accept(ig, "heartbeat", 9, buf, len, NOW, NULL, NULL),
                     SG_DROP_UNKNOWN_OBSERVER);
    sg_ingest_destroy(&ig);
    assert_null(ig);
}

static void test_many_observers_are_all_found(void **state)
{
    (void)state;
    enum { N = 1000 };
    sg_observer_cfg_t *obs = calloc(N, sizeof(*obs));
    char(*ids)[16] = calloc(N, sizeof(*ids));
    assert_non_null(obs);
    assert_non_null(ids);
    sg_config_t cfg = s_cfg();
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof(ids[i]), "o%d", i);
        obs[i].id = ids[i];
        obs[i].site = i % 2;
    }
    cfg.observers = obs;
    cfg.n_observers = N;
    sg_ingest_t *ig = sg_ingest_new(&cfg);
    assert_non_null(ig);
    uint8_t buf[256];
    sg_event_t out;
    for (int i = 0; i < N; i++) {
        msg_t m;
        s_heartbeat(&m, ids[i], i % 2 ? "B" : "A", 1);
        size_t len = siteguard__health__v1__event__pack(&m.ev, buf);
        assert_int_equal(sg_ingest_accept(ig, "heartbeat", 9, buf, len, NOW, NULL, &out), SG_DROP_NONE);
        assert_int_equal(out.observer, i);
    }
    sg_ingest_destroy(&ig);
    free(ids);
    free(obs);
}

/* A lag that would overflow (2^63, UINT64_MAX) or a last-replicated time
 * that is absurd is malformed: dropped and counted, never seen by the RPO
 * guard. */
static void test_replication_numbers_out_of_bounds_are_malformed(void **state)
{
    fx_t *fx = *state;
    const uint64_t lags[] = {UINT64_MAX, 1ull << 63, (uint64_t)(SG_MAX_LAG_MS / 1000) + 1};
    uint64_t seq = 1;
    msg_t m;
    for (size_t i = 0; i < sizeof lags / sizeof lags[0]; i++) {
        s_repl(&m, "col-1");
        m.ev.seq = seq++;
        m.repl.lag_s = lags[i];
        assert_int_equal(s_offer(fx, &m), SG_DROP_MALFORMED);
    }
    const int64_t times[] = {-1, NOW + 60000, NOW - SG_MAX_LAG_MS - 1};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        s_repl(&m, "col-1");
        m.ev.seq = seq++;
        m.repl.last_replicated_ms = times[i];
        assert_int_equal(s_offer(fx, &m), SG_DROP_MALFORMED);
    }
    assert_int_equal(s_dropped(fx, SG_DROP_MALFORMED), 6);
    s_repl(&m, "col-1"); /* within bounds, and 0 (unknown) for the time */
    m.ev.seq = seq++;
    m.repl.lag_s = (uint64_t)(SG_MAX_LAG_MS / 1000);
    m.repl.last_replicated_ms = 0;
    assert_int_equal(s_offer(fx, &m), SG_DROP_NONE);
}

/* The bounds hold for a send time near INT64_MAX: nothing overflows (found
 * by fuzz_ingest). A report sent far in the future but consistent in itself
 * is stale, not malformed. */
static void test_replication_bounds_hold_for_the_largest_send_times(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_repl(&m, "col-1");
    m.ev.sent_at_ms = INT64_MAX - 100;
    m.repl.last_replicated_ms = INT64_MAX - 200;
    assert_int_equal(s_offer(fx, &m), SG_DROP_STALE);
    s_repl(&m, "col-1");
    m.ev.sent_at_ms = INT64_MAX - 47;
    m.repl.last_replicated_ms = 1; /* ten years and more before it */
    assert_int_equal(s_offer(fx, &m), SG_DROP_MALFORMED);
}

/* A max_skew as large as the config allows (any duration) takes every event
 * from the future, however far: now + max_skew must not overflow. */
static void test_largest_max_skew_takes_any_future_send_time(void **state)
{
    (void)state;
    sg_config_t cfg = s_cfg();
    cfg.bus.max_skew_ms = INT64_MAX;
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->ig = sg_ingest_new(&cfg);
    assert_non_null(fx->ig);
    msg_t m;
    s_heartbeat(&m, "obs-a", "A", 1);
    m.ev.sent_at_ms = INT64_MAX;
    assert_int_equal(s_offer(fx, &m), SG_DROP_NONE);
    sg_ingest_destroy(&fx->ig);
    free(fx);
}

/* Replication reports count only from observers at the collection's primary
 * or replica site, or the ones its replication_observers lists. */
static void test_replication_report_from_another_site_is_foreign(void **state)
{
    fx_t *fx = *state;
    msg_t m;
    s_repl(&m, "col-1");
    m.ev.observer = "wit";
    m.ev.site = "W";
    assert_int_equal(s_offer(fx, &m), SG_DROP_FOREIGN);
    assert_int_equal(s_dropped(fx, SG_DROP_FOREIGN), 1);
    int only_b = 1; /* col-1 narrowed to obs-b: obs-a (its primary site) no longer counts */
    s_collections[0].replication_observers = &only_b;
    s_collections[0].n_replication_observers = 1;
    s_repl(&m, "col-1");
    assert_int_equal(s_offer_seq(fx, &m, 2), SG_DROP_FOREIGN);
    s_envelope(&m, "obs-b", "B", 1);
    s_repl(&m, "col-1");
    m.ev.observer = "obs-b";
    m.ev.site = "B";
    assert_int_equal(s_offer(fx, &m), SG_DROP_NONE);
    s_collections[0].replication_observers = NULL;
    s_collections[0].n_replication_observers = 0;
}

static void test_reason_names_and_topics_are_stable(void **state)
{
    (void)state;
    assert_string_equal(sg_drop_reason_name(SG_DROP_OVERSIZE), "oversize");
    assert_string_equal(sg_drop_reason_name(SG_DROP_MALFORMED), "malformed");
    assert_string_equal(sg_drop_reason_name(SG_DROP_SCHEMA), "schema");
    assert_string_equal(sg_drop_reason_name(SG_DROP_UNKNOWN_OBSERVER), "unknown_observer");
    assert_string_equal(sg_drop_reason_name(SG_DROP_UNKNOWN_REF), "unknown_ref");
    assert_string_equal(sg_drop_reason_name(SG_DROP_STALE), "stale");
    assert_string_equal(sg_drop_reason_name(SG_DROP_DUPLICATE), "duplicate");
    assert_string_equal(sg_drop_reason_name(SG_DROP_FOREIGN), "foreign");
    assert_string_equal(sg_drop_reason_name(SG_DROP_IMPOSTOR), "impostor");
    assert_string_equal(sg_drop_reason_name(SG_DROP_REVOKED), "revoked");
    assert_string_equal(sg_drop_reason_name(SG_DROP_INCARNATION), "incarnation");
    assert_string_equal(sg_drop_reason_name(SG_DROP_COUNT), "unknown");
    assert_string_equal(sg_event_kind_topic(SG_EV_HEARTBEAT), "heartbeat");
    assert_string_equal(sg_event_kind_topic(SG_EV_REACHABILITY), "reachability");
    assert_string_equal(sg_event_kind_topic(SG_EV_REPLICATION), "replication");
    assert_string_equal(sg_event_kind_topic(SG_EV_NODE), "node");
    assert_string_equal(sg_event_kind_topic(SG_EV_PROBE), "probe");
    assert_string_equal(sg_event_kind_topic((sg_event_kind_t)0), "");
}

#define T(f) cmocka_unit_test_setup_teardown(f, s_setup, s_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_heartbeat_is_accepted_with_observer_and_site_resolved),
        T(test_reachability_resolves_its_target_site),
        T(test_replication_resolves_its_collection_and_copies_health),
        T(test_node_event_carries_the_node_name_and_status),
        T(test_probe_result_carries_name_outcome_and_detail),
        T(test_message_larger_than_max_event_bytes_is_oversize),
        T(test_garbage_bytes_are_malformed),
        T(test_event_without_a_body_is_malformed),
        T(test_missing_envelope_fields_are_malformed),
        T(test_topic_other_than_the_body_kind_is_malformed),
        T(test_schema_zero_is_malformed),
        T(test_schema_newer_than_known_is_a_schema_drop),
        T(test_enum_values_out_of_range_are_malformed),
        T(test_unknown_observer_is_dropped),
        T(test_observer_claiming_another_site_is_unknown_observer),
        T(test_reachability_of_an_unknown_site_is_unknown_ref),
        T(test_replication_of_an_unknown_collection_is_unknown_ref),
        T(test_event_older_than_max_age_is_stale),
        T(test_event_further_ahead_than_max_skew_is_stale),
        T(test_sequence_not_above_the_last_is_duplicate),
        T(test_sequence_is_tracked_per_observer),
        T(test_older_incarnation_is_stale),
        T(test_newer_incarnation_is_accepted_and_resets_the_sequence),
        T(test_incarnation_further_ahead_than_max_skew_is_refused),
        T(test_older_incarnation_is_heard_again_once_the_newer_is_silent),
        T(test_older_incarnation_stays_stale_while_the_newer_is_heard),
        T(test_event_naming_another_observer_than_its_key_is_an_impostor),
        T(test_a_key_removed_by_a_reload_is_revoked_and_the_new_one_heard),
        T(test_dropped_events_do_not_move_the_sequence),
        T(test_counters_add_up_by_reason),
        T(test_accept_without_an_output_still_counts),
        T(test_replication_numbers_out_of_bounds_are_malformed),
        T(test_replication_report_from_another_site_is_foreign),
        T(test_replication_bounds_hold_for_the_largest_send_times),
        cmocka_unit_test(test_largest_max_skew_takes_any_future_send_time),
        cmocka_unit_test(test_config_without_observers_drops_everything_as_unknown),
        cmocka_unit_test(test_many_observers_are_all_found),
        cmocka_unit_test(test_reason_names_and_topics_are_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
