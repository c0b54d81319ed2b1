/* libFuzzer target for ingest (the health decoder and its checks):
 * arbitrary bytes as a bus message.
 *
 * The first byte picks the topic (its low three bits, so the fuzzer can reach
 * the checks after the topic match) and the ingest (bit 3: one whose bus
 * limits are the largest a config allows); the rest is the serialized Event.
 * Each ingest lives for the whole run, so sequence state carries over between
 * inputs as on the bus. An accepted event must hold what ingest.h promises:
 * indices in range, the observer's own site, the topic's kind, sent_at
 * within the bus's window, replication numbers within their bounds, readable
 * strings; and every message is counted once.
 * With bit 7 of the first byte the message comes from a CURVE sender (obs-a
 * with its key). */
#include "ingress/ingest.h"
#include "fuzz.h"

#include <string.h>

#define NOW_MS 1700000000000LL

static sg_site_cfg_t s_sites[] = {{.name = "A"}, {.name = "B"}, {.name = "W", .witness = true}};
#define S_KEY_A "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
static sg_observer_cfg_t s_observers[] = {
    {.id = "obs-a", .site = 0, .public_keys = {S_KEY_A}, .n_public_keys = 1},
    {.id = "obs-b", .site = 1}, {.id = "wit", .site = 2}};
static sg_collection_cfg_t s_collections[] = {{.name = "col-1", .site = 0, .replica_site = 1}};
static sg_config_t s_cfgs[2];

/* Topics of every kind plus a few that match none. */
static const char *const s_topics[8] = {"heartbeat", "reachability", "replication", "node",
                                        "probe",     "",             "heart",       "nodes"};

static sg_ingest_t *s_ingest(int i)
{
    static sg_ingest_t *ig[2];
    if (!ig[i]) {
        sg_config_t *c = &s_cfgs[i];
        c->sites = s_sites;
        c->n_sites = sizeof(s_sites) / sizeof(s_sites[0]);
        c->observers = s_observers;
        c->n_observers = sizeof(s_observers) / sizeof(s_observers[0]);
        c->collections = s_collections;
        c->n_collections = sizeof(s_collections) / sizeof(s_collections[0]);
        c->bus.max_event_bytes = i ? 1048576 : 4096;
        c->bus.max_age_ms = i ? INT64_MAX : 30000;
        c->bus.max_skew_ms = i ? INT64_MAX : 5000;
        c->bus.incarnation_silence_ms = 2000;
        ig[i] = sg_ingest_new(c);
    }
    return ig[i];
}

static bool s_index_ok(int i, size_t n) { return i >= 0 && (size_t)i < n; }

/* What ingest.h promises of an accepted event. */
static void s_check_event(const sg_config_t *cfg, const sg_event_t *ev, const char *topic)
{
    const sg_bus_cfg_t *bus = &cfg->bus;
    FZ_CHECK(strcmp(sg_event_kind_topic(ev->kind), topic) == 0);
    FZ_CHECK(s_index_ok(ev->observer, cfg->n_observers) &&
             ev->site == cfg->observers[ev->observer].site);
    FZ_CHECK(ev->schema != 0 && ev->schema <= SG_HEALTH_SCHEMA_MAX && ev->seq != 0);
    FZ_CHECK(ev->sent_at_ms > 0 && NOW_MS - ev->sent_at_ms <= bus->max_age_ms &&
             ev->sent_at_ms - NOW_MS <= bus->max_skew_ms);
    switch (ev->kind) {
    case SG_EV_HEARTBEAT: break;
    case SG_EV_REACHABILITY: FZ_CHECK(s_index_ok(ev->u.reach.target_site, cfg->n_sites)); break;
    case SG_EV_REPLICATION: {
        int64_t lr = ev->u.repl.last_replicated_ms;
        FZ_CHECK(s_index_ok(ev->u.repl.collection, cfg->n_collections));
        FZ_CHECK(ev->u.repl.lag_s <= (uint64_t)(SG_MAX_LAG_MS / 1000));
        FZ_CHECK(lr == 0 || (lr > 0 && lr - bus->max_skew_ms <= ev->sent_at_ms &&
                             ev->sent_at_ms - lr <= SG_MAX_LAG_MS));
        FZ_CHECK(sg_config_replication_source(cfg, ev->u.repl.collection, ev->observer));
        break;
    }
    case SG_EV_NODE: (void)strlen(ev->u.node.node); break; /* the strings must be readable */
    case SG_EV_PROBE: (void)(strlen(ev->u.probe.name) + strlen(ev->u.probe.detail)); break;
    default: FZ_CHECK(!"an event of no known kind");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int which = (data[0] >> 3) & 1;
    sg_ingest_t *ig = s_ingest(which);
    FZ_CHECK(ig != NULL);
    const char *topic = s_topics[data[0] & 7];
    static const sg_ingest_sender_t a = {.observer = "obs-a", .key = S_KEY_A};
    sg_event_t ev;
    sg_drop_reason_t r = sg_ingest_accept(ig, topic, strlen(topic), data + 1, size - 1, NOW_MS,
                                          (data[0] & 0x80) ? &a : NULL, &ev);
    FZ_CHECK(r >= SG_DROP_NONE && r < SG_DROP_COUNT);
    if (r == SG_DROP_NONE)
        s_check_event(&s_cfgs[which], &ev, topic);
    const sg_ingest_stats_t *st = sg_ingest_stats(ig);
    uint64_t sum = st->accepted;
    for (int i = 1; i < SG_DROP_COUNT; i++)
        sum += st->dropped[i];
    FZ_CHECK(sum == st->received);
    return 0;
}
