/* ingest: turns one received bus message into a checked event, or a counted drop.
 *
 * Pure apart from its own state (known observers, per-observer sequence
 * tracking, counters): no sockets, no clock reads; the receive time is passed
 * in. The bus feeds it; tests, fuzzers and benchmarks call it directly.
 *
 * Checks, in order: size (oversize), protobuf decode and required fields
 * (malformed), schema revision (schema), topic equal to the body's kind
 * (malformed), observer known and in its configured site (unknown_observer),
 * named site or collection known (unknown_ref), numbers within bounds
 * (malformed: a replication lag or a last-replicated time more than ten
 * years off, or a last-replicated time after the send time), a replication
 * report from an observer at the collection's primary or replica site, or
 * one listed in its replication_observers (foreign), sent_at within
 * [now - max_age, now + max_skew] (stale), incarnation and sequence
 * (duplicate: a sequence number not above the last one of the same
 * incarnation; stale: an older incarnation).
 *
 * Thread rules: one thread at a time per sg_ingest_t. */
#ifndef SG_INGEST_H
#define SG_INGEST_H

#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Newest schema revision of proto/health.proto this build understands. */
#define SG_HEALTH_SCHEMA_MAX 1u

/* A replication lag, or a last-replicated time before the send time, beyond
 * this (ten years) is malformed. */
#define SG_MAX_LAG_MS (3652LL * 86400 * 1000)

typedef enum {
    SG_EV_HEARTBEAT = 1,
    SG_EV_REACHABILITY,
    SG_EV_REPLICATION,
    SG_EV_NODE,
    SG_EV_PROBE
} sg_event_kind_t;

typedef enum {
    SG_DROP_NONE = 0,
    SG_DROP_OVERSIZE,
    SG_DROP_MALFORMED,
    SG_DROP_SCHEMA,
    SG_DROP_UNKNOWN_OBSERVER,
    SG_DROP_UNKNOWN_REF,
    SG_DROP_STALE,
    SG_DROP_DUPLICATE,
    SG_DROP_FOREIGN, /* a replication report from an observer not at the collection's sites */
    SG_DROP_COUNT
} sg_drop_reason_t;

/* A checked event. Names are resolved to config indices. The strings in
 * `node` and `probe` point into the ingest's decode buffer and are valid only
 * until the next call to sg_ingest_accept. */
typedef struct {
    sg_event_kind_t kind;
    int observer; /* index into cfg->observers */
    int site;     /* the observer's site */
    uint64_t seq;
    uint64_t incarnation;
    int64_t sent_at_ms;
    uint32_t schema;
    union {
        struct {
            uint32_t interval_ms;
        } heartbeat;
        struct {
            int target_site;
            bool up;
            uint32_t latency_us;
        } reach;
        struct {
            int collection;
            int state;  /* health.proto ReplicationState */
            int health; /* health.proto ReplicationHealth */
            uint64_t lag_s;
            int64_t last_replicated_ms;
        } repl;
        struct {
            const char *node;
            int status; /* health.proto NodeStatus */
        } node;
        struct {
            const char *name;
            bool ok;
            const char *detail;
        } probe;
    } u;
} sg_event_t;

typedef struct {
    uint64_t received;
    uint64_t accepted;
    uint64_t dropped[SG_DROP_COUNT]; /* by reason; [SG_DROP_NONE] unused */
} sg_ingest_stats_t;

typedef struct sg_ingest sg_ingest_t;

/* Borrows cfg (observers, sites, collections, bus limits). NULL on ENOMEM. */
sg_ingest_t *sg_ingest_new(const sg_config_t *cfg);
void sg_ingest_destroy(sg_ingest_t **ig);

/* Checks one message: `topic` (not NUL-terminated) and the serialized Event.
 * `now_wall_ms` is the receive time. Returns SG_DROP_NONE and fills *out, or
 * the reason it was dropped (already counted). */
sg_drop_reason_t sg_ingest_accept(sg_ingest_t *ig, const void *topic, size_t topic_len,
                                  const void *data, size_t len, int64_t now_wall_ms,
                                  sg_event_t *out);

const sg_ingest_stats_t *sg_ingest_stats(const sg_ingest_t *ig);
/* "oversize", "malformed", ... */
const char *sg_drop_reason_name(sg_drop_reason_t r);
/* The topic of an event kind ("heartbeat", "reachability", ...). */
const char *sg_event_kind_topic(sg_event_kind_t k);

#endif
