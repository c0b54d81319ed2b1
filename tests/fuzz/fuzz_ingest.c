/* libFuzzer target for ingest: arbitrary bytes as a bus message.
 *
 * The first byte picks the topic (so the fuzzer can reach the checks after
 * the topic match); the rest is the serialized Event. One ingest lives for the
 * whole run, so sequence state carries over between inputs as on the bus. */
#include "ingress/ingest.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define NOW_MS 1700000000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sg_site_cfg_t s_sites[] = {{.name = "A"}, {.name = "B"}, {.name = "W", .witness = true}};
static sg_observer_cfg_t s_observers[] = {
    {.id = "obs-a", .site = 0}, {.id = "obs-b", .site = 1}, {.id = "wit", .site = 2}};
static sg_collection_cfg_t s_collections[] = {{.name = "col-1", .site = 0, .replica_site = 1}};
static sg_config_t s_cfg;

/* Topics of every kind plus a few that match none. */
static const char *const s_topics[] = {"heartbeat", "reachability", "replication", "node",
                                       "probe",     "",             "heart",       "nodes"};

static sg_ingest_t *s_ingest(void)
{
    static sg_ingest_t *ig;
    if (!ig) {
        s_cfg.sites = s_sites;
        s_cfg.n_sites = sizeof(s_sites) / sizeof(s_sites[0]);
        s_cfg.observers = s_observers;
        s_cfg.n_observers = sizeof(s_observers) / sizeof(s_observers[0]);
        s_cfg.collections = s_collections;
        s_cfg.n_collections = sizeof(s_collections) / sizeof(s_collections[0]);
        s_cfg.bus.max_event_bytes = 4096;
        s_cfg.bus.max_age_ms = 30000;
        s_cfg.bus.max_skew_ms = 5000;
        ig = sg_ingest_new(&s_cfg);
    }
    return ig;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sg_ingest_t *ig = s_ingest();
    if (!ig || size == 0)
        return 0;
    const char *topic = s_topics[data[0] % (sizeof(s_topics) / sizeof(s_topics[0]))];
    sg_event_t ev;
    sg_drop_reason_t r = sg_ingest_accept(ig, topic, strlen(topic), data + 1, size - 1, NOW_MS, &ev);
    if (r == SG_DROP_NONE && ev.kind == SG_EV_NODE)
        (void)strlen(ev.u.node.node); /* the strings must be readable */
    if (r == SG_DROP_NONE && ev.kind == SG_EV_PROBE)
        (void)(strlen(ev.u.probe.name) + strlen(ev.u.probe.detail));
    const sg_ingest_stats_t *st = sg_ingest_stats(ig);
    uint64_t sum = st->accepted;
    for (int i = 1; i < SG_DROP_COUNT; i++)
        sum += st->dropped[i];
    if (sum != st->received)
        __builtin_trap();
    return 0;
}
