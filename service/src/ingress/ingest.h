/* ingest: turns one received bus message into a checked event, or a counted drop.
 *
 * Pure apart from its own state (known observers, per-observer sequence
 * tracking, counters): no sockets, no clock reads; the receive time is passed
 * in. The bus feeds it; tests, fuzzers and benchmarks call it directly.
 *
 * The sender: with bus.curve the bus passes who the CURVE handshake proved
 * the sender to be (sg_ingest_sender_t: the observer id its key is listed
 * for, and the key); without CURVE it passes NULL and anyone is believed.
 *
 * Checks, in order: size (oversize), protobuf decode and required fields
 * (malformed), an event naming an observer other than the sender's
 * (impostor), schema revision (schema), topic equal to the body's kind
 * (malformed), observer known and in its configured site (unknown_observer),
 * the sender's key still listed for the observer in the config in force
 * (revoked: a reload removed it since the connection was made), named site
 * or collection known (unknown_ref), numbers within bounds (malformed: a
 * replication lag or a last-replicated time more than ten years off, or a
 * last-replicated time after the send time), a replication report from an
 * observer at the collection's primary or replica site, or one listed in
 * its replication_observers (foreign), sent_at within
 * [now - max_age, now + max_skew] (stale), incarnation (below) and sequence
 * (duplicate: a sequence number not above the last one of the same
 * incarnation).
 *
 * Incarnations. An observer's incarnation is its publisher's wall-clock ms
 * at start; the newest one seen is the observer's current incarnation, and
 * a larger one (a restart) replaces it and resets the sequence. So that one
 * forged or broken message cannot shadow an observer for ever:
 *   - an incarnation more than bus.max_skew ahead of the receive time is
 *     refused (incarnation): no publisher started in the future;
 *   - an older incarnation is refused (stale) while the current one is
 *     heard, and accepted again, becoming the current one with its own
 *     sequence, once the current one has been silent (no event accepted)
 *     for bus.incarnation_silence (receive time). A forged incarnation
 *     within max_skew thus shadows the real one for at most that long after
 *     its last message (keep it below policy.suspect_after), and a probe
 *     restarted with its clock set back is heard again after it.
 * A jump bound on the incarnation itself (so far ahead of the last one) is
 * not used: a legitimate restart jumps by the whole uptime of the old run.
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
    SG_DROP_IMPOSTOR,    /* an event naming an observer other than its sender's key's */
    SG_DROP_REVOKED,     /* the sender's key is no longer listed for its observer */
    SG_DROP_INCARNATION, /* an incarnation further ahead of the receive time than max_skew */
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

/* Who sent a message, as the bus's CURVE handshake proved it (both borrowed
 * for the call). */
typedef struct {
    const char *observer; /* the id of the observer the key is listed for (ZAP User-Id) */
    const char *key;      /* the client's public key (Z85) the connection was admitted with */
} sg_ingest_sender_t;

typedef struct sg_ingest sg_ingest_t;

/* Borrows cfg (observers, sites, collections, bus limits): the names are
 * indexed from it, so it must outlive the ingest. NULL on ENOMEM. */
sg_ingest_t *sg_ingest_new(const sg_config_t *cfg);
void sg_ingest_destroy(sg_ingest_t **ig);

/* After a reload: the config now in force (borrowed), whose observers' keys
 * the revoked check reads from now on. It has the same sites, observers
 * and collections as the first (sg_reload_check), which stays borrowed. */
void sg_ingest_set_config(sg_ingest_t *ig, const sg_config_t *cfg);

/* Checks one message: `topic` (not NUL-terminated) and the serialized Event.
 * `now_wall_ms` is the receive time; `sender` who sent it, or NULL without
 * CURVE. Returns SG_DROP_NONE and fills *out, or the reason it was dropped
 * (already counted). */
sg_drop_reason_t sg_ingest_accept(sg_ingest_t *ig, const void *topic, size_t topic_len,
                                  const void *data, size_t len, int64_t now_wall_ms,
                                  const sg_ingest_sender_t *sender, sg_event_t *out);

const sg_ingest_stats_t *sg_ingest_stats(const sg_ingest_t *ig);
/* "oversize", "malformed", ... */
const char *sg_drop_reason_name(sg_drop_reason_t r);
/* The topic of an event kind ("heartbeat", "reachability", ...). */
const char *sg_event_kind_topic(sg_event_kind_t k);

#endif
