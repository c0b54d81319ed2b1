/* ingest: decode and check one health event; see ingest.h for the contract.
 *
 * Decoding uses protobuf-c with an allocator that serves from a per-ingest
 * arena, reset before each decode, so accepting an event costs no malloc/free
 * in the common case and the decoded message stays valid until the next call.
 * Names are looked up in open-addressing hash tables (FNV-1a) built once. */
#include "ingress/ingest.h"

#include "base/err.h"
#include "proto/health.pb-c.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define S_ALIGN alignof(max_align_t)

/* --- arena ------------------------------------------------------------------ */

/* A block taken from malloc when the main block is full; freed on reset. */
typedef union s_spill {
    union s_spill *next;
    max_align_t align;
} s_spill_t;

typedef struct {
    unsigned char *base;
    size_t cap;
    size_t used;
    s_spill_t *spill;   /* chain of overflow blocks */
    size_t spill_bytes; /* bytes held by the chain */
    size_t spill_cap;   /* beyond this the allocation fails (decode fails) */
} s_arena_t;

static int s_arena_init(s_arena_t *a, size_t cap, size_t spill_cap)
{
    memset(a, 0, sizeof(*a));
    a->base = malloc(cap);
    if (!a->base)
        return SG_ENOMEM;
    a->cap = cap;
    a->spill_cap = spill_cap;
    return 0;
}

static void s_arena_reset(s_arena_t *a)
{
    a->used = 0;
    while (a->spill) {
        s_spill_t *next = a->spill->next;
        free(a->spill);
        a->spill = next;
    }
    a->spill_bytes = 0;
}

static void s_arena_fini(s_arena_t *a)
{
    s_arena_reset(a);
    free(a->base);
    a->base = NULL;
}

static void *s_arena_spill(s_arena_t *a, size_t size)
{
    if (size > a->spill_cap - a->spill_bytes)
        return NULL;
    s_spill_t *b = malloc(sizeof(*b) + size);
    if (!b)
        return NULL;
    b->next = a->spill;
    a->spill = b;
    a->spill_bytes += size;
    return b + 1;
}

static void *s_arena_alloc(void *data, size_t size)
{
    s_arena_t *a = data;
    if (size > a->cap)
        return s_arena_spill(a, size);
    size_t need = (size + S_ALIGN - 1) & ~(S_ALIGN - 1);
    if (need > a->cap - a->used)
        return s_arena_spill(a, size);
    void *p = a->base + a->used;
    a->used += need;
    return p;
}

static void s_arena_free(void *data, void *p)
{
    (void)data;
    (void)p; /* released all at once by s_arena_reset */
}

/* --- name index: open addressing, linear probing ------------------------------- */

typedef struct {
    uint32_t hash;
    int32_t idx; /* -1: empty */
} s_slot_t;

typedef struct {
    s_slot_t *slots;
    size_t mask;
    const char **keys; /* keys[idx], borrowed from the config */
} s_index_t;

static uint32_t s_fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

static int s_index_find(const s_index_t *ix, const char *key)
{
    uint32_t h = s_fnv1a(key);
    for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
        const s_slot_t *s = &ix->slots[i];
        if (s->idx < 0)
            return -1;
        if (s->hash == h && strcmp(ix->keys[s->idx], key) == 0)
            return s->idx;
    }
}

/* Builds an index over `n` entries of `stride` bytes whose name is the
 * char * at `offset`. NULL names are skipped; on a repeated name the first
 * entry wins. The table is at most half full, so a probe always ends. */
static int s_index_build(s_index_t *ix, const void *entries, size_t n, size_t stride,
                         size_t offset)
{
    size_t cap = 8;
    while (cap < 2 * n)
        cap *= 2;
    ix->slots = malloc(cap * sizeof(*ix->slots));
    ix->keys = calloc(n ? n : 1, sizeof(*ix->keys));
    if (!ix->slots || !ix->keys)
        return SG_ENOMEM;
    ix->mask = cap - 1;
    for (size_t i = 0; i < cap; i++)
        ix->slots[i].idx = -1;
    for (size_t e = 0; e < n; e++) {
        const char *name;
        memcpy(&name, (const char *)entries + e * stride + offset, sizeof(name));
        ix->keys[e] = name;
        if (!name || s_index_find(ix, name) >= 0)
            continue;
        uint32_t h = s_fnv1a(name);
        size_t i = h & ix->mask;
        while (ix->slots[i].idx >= 0)
            i = (i + 1) & ix->mask;
        ix->slots[i].hash = h;
        ix->slots[i].idx = (int32_t)e;
    }
    return 0;
}

static void s_index_fini(s_index_t *ix)
{
    free(ix->slots);
    free(ix->keys);
    ix->slots = NULL;
    ix->keys = NULL;
}

/* --- the ingest ---------------------------------------------------------------- */

typedef struct {
    uint64_t incarnation; /* 0: nothing seen yet */
    uint64_t last_seq;
    int64_t last_rx; /* receive time of the last event accepted */
} s_seq_t;

struct sg_ingest {
    const sg_config_t *cfg; /* in force; the indexes borrow names from the first */
    s_index_t observers;
    s_index_t sites;
    s_index_t collections;
    const char **observer_site; /* configured site name per observer, or NULL */
    s_seq_t *seq;               /* per observer */
    s_arena_t arena;
    ProtobufCAllocator allocator;
    sg_ingest_stats_t stats;
};

static const char *const s_topics[] = {
    [SG_EV_HEARTBEAT] = "heartbeat", [SG_EV_REACHABILITY] = "reachability",
    [SG_EV_REPLICATION] = "replication", [SG_EV_NODE] = "node", [SG_EV_PROBE] = "probe"};

static const char *const s_reasons[SG_DROP_COUNT] = {
    [SG_DROP_NONE] = "none",
    [SG_DROP_OVERSIZE] = "oversize",
    [SG_DROP_MALFORMED] = "malformed",
    [SG_DROP_SCHEMA] = "schema",
    [SG_DROP_UNKNOWN_OBSERVER] = "unknown_observer",
    [SG_DROP_UNKNOWN_REF] = "unknown_ref",
    [SG_DROP_STALE] = "stale",
    [SG_DROP_DUPLICATE] = "duplicate",
    [SG_DROP_FOREIGN] = "foreign",
    [SG_DROP_IMPOSTOR] = "impostor",
    [SG_DROP_REVOKED] = "revoked",
    [SG_DROP_INCARNATION] = "incarnation"};

const char *sg_event_kind_topic(sg_event_kind_t k)
{
    if (k < SG_EV_HEARTBEAT || k > SG_EV_PROBE)
        return "";
    return s_topics[k];
}

const char *sg_drop_reason_name(sg_drop_reason_t r)
{
    if (r < SG_DROP_NONE || r >= SG_DROP_COUNT)
        return "unknown";
    return s_reasons[r];
}

static int s_build_observers(sg_ingest_t *ig)
{
    const sg_config_t *cfg = ig->cfg;
    size_t n = cfg->n_observers ? cfg->n_observers : 1;
    ig->observer_site = calloc(n, sizeof(*ig->observer_site));
    ig->seq = calloc(n, sizeof(*ig->seq));
    if (!ig->observer_site || !ig->seq)
        return SG_ENOMEM;
    for (size_t i = 0; i < cfg->n_observers; i++) {
        int site = cfg->observers[i].site;
        if (site >= 0 && (size_t)site < cfg->n_sites)
            ig->observer_site[i] = cfg->sites[site].name;
    }
    return s_index_build(&ig->observers, cfg->observers, cfg->n_observers,
                         sizeof(sg_observer_cfg_t), offsetof(sg_observer_cfg_t, id));
}

sg_ingest_t *sg_ingest_new(const sg_config_t *cfg)
{
    sg_ingest_t *ig = calloc(1, sizeof(*ig));
    if (!ig)
        return NULL;
    ig->cfg = cfg;
    size_t max = cfg->bus.max_event_bytes;
    /* A decoded event needs a few hundred bytes; the arena also absorbs
     * protobuf-c's scratch space for hostile inputs full of tiny fields. */
    if (s_arena_init(&ig->arena, 16384 + 8 * max, (1u << 20) + 256 * max) != 0)
        goto fail;
    ig->allocator.alloc = s_arena_alloc;
    ig->allocator.free = s_arena_free;
    ig->allocator.allocator_data = &ig->arena;
    if (s_build_observers(ig) != 0)
        goto fail;
    if (s_index_build(&ig->sites, cfg->sites, cfg->n_sites, sizeof(sg_site_cfg_t),
                      offsetof(sg_site_cfg_t, name)) != 0)
        goto fail;
    if (s_index_build(&ig->collections, cfg->collections, cfg->n_collections,
                      sizeof(sg_collection_cfg_t), offsetof(sg_collection_cfg_t, name)) != 0)
        goto fail;
    return ig;
fail:
    sg_ingest_destroy(&ig);
    return NULL;
}

void sg_ingest_destroy(sg_ingest_t **pig)
{
    if (!pig || !*pig)
        return;
    sg_ingest_t *ig = *pig;
    s_arena_fini(&ig->arena);
    s_index_fini(&ig->observers);
    s_index_fini(&ig->sites);
    s_index_fini(&ig->collections);
    free(ig->observer_site);
    free(ig->seq);
    free(ig);
    *pig = NULL;
}

const sg_ingest_stats_t *sg_ingest_stats(const sg_ingest_t *ig) { return &ig->stats; }

void sg_ingest_set_config(sg_ingest_t *ig, const sg_config_t *cfg) { ig->cfg = cfg; }

/* --- checks -------------------------------------------------------------------- */

typedef Siteguard__Health__V1__Event s_pb_event_t;

static bool s_envelope_complete(const s_pb_event_t *ev)
{
    return ev->schema != 0 && ev->observer && ev->observer[0] != '\0' && ev->seq > 0 &&
           ev->sent_at_ms > 0 && ev->incarnation > 0;
}

static sg_event_kind_t s_kind_of(const s_pb_event_t *ev)
{
    switch (ev->body_case) {
    case SITEGUARD__HEALTH__V1__EVENT__BODY_HEARTBEAT:
        return SG_EV_HEARTBEAT;
    case SITEGUARD__HEALTH__V1__EVENT__BODY_REACHABILITY:
        return SG_EV_REACHABILITY;
    case SITEGUARD__HEALTH__V1__EVENT__BODY_REPLICATION:
        return SG_EV_REPLICATION;
    case SITEGUARD__HEALTH__V1__EVENT__BODY_NODE:
        return SG_EV_NODE;
    case SITEGUARD__HEALTH__V1__EVENT__BODY_PROBE:
        return SG_EV_PROBE;
    default:
        return 0;
    }
}

static bool s_topic_is(sg_event_kind_t kind, const void *topic, size_t topic_len)
{
    const char *want = sg_event_kind_topic(kind);
    size_t n = strlen(want);
    return n > 0 && topic_len == n && memcmp(topic, want, n) == 0;
}

static bool s_nonempty(const char *s) { return s && s[0] != '\0'; }

static bool s_in_range(int v, int max) { return v >= 0 && v <= max; }

/* Enum ranges and the names a body needs. */
static bool s_body_valid(const s_pb_event_t *ev)
{
    switch (ev->body_case) {
    case SITEGUARD__HEALTH__V1__EVENT__BODY_HEARTBEAT:
        return ev->heartbeat != NULL;
    case SITEGUARD__HEALTH__V1__EVENT__BODY_REACHABILITY:
        return ev->reachability && s_nonempty(ev->reachability->target_site);
    case SITEGUARD__HEALTH__V1__EVENT__BODY_REPLICATION:
        return ev->replication && s_nonempty(ev->replication->collection) &&
               s_in_range((int)ev->replication->state,
                          SITEGUARD__HEALTH__V1__REPLICATION_STATE__REPLICATION_STATE_FAILBACK_COMPLETE) &&
               s_in_range((int)ev->replication->health,
                          SITEGUARD__HEALTH__V1__REPLICATION_HEALTH__REPLICATION_HEALTH_CRITICAL);
    case SITEGUARD__HEALTH__V1__EVENT__BODY_NODE:
        return ev->node && s_nonempty(ev->node->node) &&
               s_in_range((int)ev->node->status,
                          SITEGUARD__HEALTH__V1__NODE_STATUS__NODE_STATUS_JOINING);
    case SITEGUARD__HEALTH__V1__EVENT__BODY_PROBE:
        return ev->probe && s_nonempty(ev->probe->name);
    default:
        return false;
    }
}

/* Copies the body into `e`, resolving names to config indices. */
static sg_drop_reason_t s_fill_body(const sg_ingest_t *ig, const s_pb_event_t *ev, sg_event_t *e)
{
    switch (e->kind) {
    case SG_EV_HEARTBEAT:
        e->u.heartbeat.interval_ms = ev->heartbeat->interval_ms;
        return SG_DROP_NONE;
    case SG_EV_REACHABILITY:
        e->u.reach.target_site = s_index_find(&ig->sites, ev->reachability->target_site);
        e->u.reach.up = ev->reachability->up;
        e->u.reach.latency_us = ev->reachability->latency_us;
        return e->u.reach.target_site < 0 ? SG_DROP_UNKNOWN_REF : SG_DROP_NONE;
    case SG_EV_REPLICATION:
        e->u.repl.collection = s_index_find(&ig->collections, ev->replication->collection);
        e->u.repl.state = (int)ev->replication->state;
        e->u.repl.health = (int)ev->replication->health;
        e->u.repl.lag_s = ev->replication->lag_s;
        e->u.repl.last_replicated_ms = ev->replication->last_replicated_ms;
        return e->u.repl.collection < 0 ? SG_DROP_UNKNOWN_REF : SG_DROP_NONE;
    case SG_EV_NODE:
        e->u.node.node = ev->node->node;
        e->u.node.status = (int)ev->node->status;
        return SG_DROP_NONE;
    case SG_EV_PROBE:
        e->u.probe.name = ev->probe->name;
        e->u.probe.ok = ev->probe->ok;
        e->u.probe.detail = ev->probe->detail ? ev->probe->detail : "";
        return SG_DROP_NONE;
    }
    return SG_DROP_MALFORMED;
}

/* Numbers a replication report may carry: a lag under ten years, and a
 * last-replicated time (0: unknown) no later than the send time plus the
 * allowed skew and no more than ten years before it. The send time is
 * positive but not yet checked against now (it may be near INT64_MAX), so
 * the skew is subtracted from lr (>= 0 there) rather than added to it. */
static sg_drop_reason_t s_repl_bounds(const sg_ingest_t *ig, const sg_event_t *e)
{
    int64_t lr = e->u.repl.last_replicated_ms, sent = e->sent_at_ms;
    if (e->u.repl.lag_s > (uint64_t)(SG_MAX_LAG_MS / 1000))
        return SG_DROP_MALFORMED;
    if (lr != 0 && (lr < 0 || lr - ig->cfg->bus.max_skew_ms > sent || sent - lr > SG_MAX_LAG_MS))
        return SG_DROP_MALFORMED;
    return sg_config_replication_source(ig->cfg, e->u.repl.collection, e->observer)
               ? SG_DROP_NONE
               : SG_DROP_FOREIGN;
}

/* Outside [now - max_age, now + max_skew]; with now a wall clock time (>= 0)
 * and both limits >= 0 (any size the config allows), nothing overflows. */
static bool s_stale(const sg_ingest_t *ig, int64_t sent_at_ms, int64_t now)
{
    const sg_bus_cfg_t *bus = &ig->cfg->bus;
    return sent_at_ms < now - bus->max_age_ms || sent_at_ms - now > bus->max_skew_ms;
}

/* The sender's key is still one of the observer's in the config in force. */
static bool s_key_listed(const sg_ingest_t *ig, int observer, const char *key)
{
    const sg_observer_cfg_t *o = &ig->cfg->observers[observer];
    for (size_t i = 0; key && i < o->n_public_keys; i++)
        if (strcmp(o->public_keys[i], key) == 0)
            return true;
    return false;
}

/* Checks incarnation and sequence (the rules in ingest.h); records them
 * only when the event passes. */
static sg_drop_reason_t s_sequence(sg_ingest_t *ig, int observer, uint64_t inc, uint64_t seq,
                                   int64_t now)
{
    const sg_bus_cfg_t *bus = &ig->cfg->bus;
    s_seq_t *st = &ig->seq[observer];
    if (inc > (uint64_t)INT64_MAX || (int64_t)inc - bus->max_skew_ms > now)
        return SG_DROP_INCARNATION;
    if (inc < st->incarnation && now - st->last_rx < bus->incarnation_silence_ms)
        return SG_DROP_STALE;
    if (inc == st->incarnation && seq <= st->last_seq)
        return SG_DROP_DUPLICATE;
    st->incarnation = inc;
    st->last_seq = seq;
    st->last_rx = now;
    return SG_DROP_NONE;
}

static sg_drop_reason_t s_check(sg_ingest_t *ig, const void *topic, size_t topic_len,
                                const void *data, size_t len, int64_t now,
                                const sg_ingest_sender_t *sender, sg_event_t *out)
{
    if (len > ig->cfg->bus.max_event_bytes)
        return SG_DROP_OVERSIZE;
    s_arena_reset(&ig->arena);
    const s_pb_event_t *ev = siteguard__health__v1__event__unpack(&ig->allocator, len, data);
    if (!ev || !s_envelope_complete(ev))
        return SG_DROP_MALFORMED;
    if (sender && (!sender->observer || strcmp(ev->observer, sender->observer) != 0))
        return SG_DROP_IMPOSTOR;
    if (ev->schema > SG_HEALTH_SCHEMA_MAX)
        return SG_DROP_SCHEMA;
    sg_event_t e = {.kind = s_kind_of(ev)};
    if (!e.kind || !s_topic_is(e.kind, topic, topic_len) || !s_body_valid(ev))
        return SG_DROP_MALFORMED;
    e.observer = s_index_find(&ig->observers, ev->observer);
    if (e.observer < 0 || !ig->observer_site[e.observer] || !ev->site ||
        strcmp(ev->site, ig->observer_site[e.observer]) != 0)
        return SG_DROP_UNKNOWN_OBSERVER;
    if (sender && !s_key_listed(ig, e.observer, sender->key))
        return SG_DROP_REVOKED;
    e.site = ig->cfg->observers[e.observer].site;
    e.seq = ev->seq;
    e.incarnation = ev->incarnation;
    e.sent_at_ms = ev->sent_at_ms;
    e.schema = ev->schema;
    sg_drop_reason_t r = s_fill_body(ig, ev, &e);
    if (r == SG_DROP_NONE && e.kind == SG_EV_REPLICATION)
        r = s_repl_bounds(ig, &e);
    if (r != SG_DROP_NONE)
        return r;
    if (s_stale(ig, ev->sent_at_ms, now))
        return SG_DROP_STALE;
    r = s_sequence(ig, e.observer, ev->incarnation, ev->seq, now);
    if (r == SG_DROP_NONE && out)
        *out = e;
    return r;
}

sg_drop_reason_t sg_ingest_accept(sg_ingest_t *ig, const void *topic, size_t topic_len,
                                  const void *data, size_t len, int64_t now_wall_ms,
                                  const sg_ingest_sender_t *sender, sg_event_t *out)
{
    ig->stats.received++;
    sg_drop_reason_t r = s_check(ig, topic, topic_len, data, len, now_wall_ms, sender, out);
    if (r == SG_DROP_NONE)
        ig->stats.accepted++;
    else
        ig->stats.dropped[r]++;
    return r;
}
