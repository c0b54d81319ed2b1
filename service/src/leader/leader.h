/* leader: exactly one active siteguard instance, fenced by an epoch.
 *
 * Modes (leader.mode):
 *   none  the default: this instance is always the leader, epoch 1; no
 *         thread, no socket, sg_leader_fence always passes.
 *   etcd  a lease and a key in etcd (v3 HTTP/JSON gateway, libcurl +
 *         jansson). Campaign: grant a lease of leader.etcd.ttl, then one txn
 *         "if the key's create_revision is 0, put key = leader.name with the
 *         lease, else range the key". The winner's epoch is the key's
 *         create_revision, which only grows from one leader to the next. The
 *         leader keeps its lease alive every ttl/3 and stops acting locally
 *         once no keepalive has succeeded for ttl minus a safety margin
 *         (sg_leader_deadline), measured on the monotonic clock from the
 *         moment the last successful keepalive was SENT: before etcd can
 *         have let the lease expire. A standby looks at the key every ttl/3
 *         and campaigns once it is gone. A clean stop revokes the lease, so
 *         a standby takes over at once. Losing etcd only ever makes this
 *         instance stop acting; it never makes it act.
 *
 * Fencing: every act carries the epoch it was decided under. Before each
 * provider call that changes something, a worker calls sg_leader_fence with
 * that epoch: it fails at once when this instance no longer acts under that
 * epoch (stepped down, or past its deadline), else it asks etcd in one txn
 * whether the key still has that create_revision and this instance's name.
 * A failed fence also makes the instance step down.
 *
 * Operator state: the leader keeps the engine's durable operator state
 * (opstate.h) in etcd under "<key>/opstate", written only while it holds the
 * key under its epoch (the fence's compare); an instance that wins a
 * campaign reads it before it acts and hands it to the loop with the news,
 * so a standby that takes over obeys the same pauses, denials and budgets.
 *
 * Threads: the blocking HTTP of campaigns and keepalives runs on the
 * module's own thread, which tells the loop about every change of state
 * over a ZeroMQ inproc PAIR socket (sg_leader_socket, sg_leader_recv). The
 * loop's view (sg_leader_is_leader, _epoch, _holder) changes only in
 * sg_leader_recv. sg_leader_fence may be called from any thread at any
 * time (it blocks for one HTTP round trip at most leader.etcd.timeout). Time
 * comes only from the clock given to sg_leader_new. */
#ifndef SG_LEADER_H
#define SG_LEADER_H

#include "base/clock.h"
#include "config/config.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sg_leader sg_leader_t;

/* Starts leader election as cfg->leader says. Borrows cfg and clock; `zctx`
 * is a ZeroMQ context (unused in mode none). NULL on failure (logged). In
 * mode none the instance is the leader from the start; in mode etcd it is a
 * standby until its thread wins a campaign. */
sg_leader_t *sg_leader_new(void *zctx, const sg_config_t *cfg, const sg_clock_t *clock);

/* Stops the thread; a leader revokes its lease first (one HTTP call, at most
 * leader.etcd.timeout). Frees and sets *l to NULL. */
void sg_leader_destroy(sg_leader_t **l);

/* The socket that becomes readable when the state changed (for zmq_poll);
 * NULL in mode none. Loop thread. */
void *sg_leader_socket(sg_leader_t *l);

/* Takes the changes waiting on the socket without blocking and updates the
 * loop's view. Returns 1 when is_leader or epoch changed, 0 when not, or an
 * error. Loop thread. */
int sg_leader_recv(sg_leader_t *l);

/* The loop's view. `holder` is the name of the leader as last seen (this
 * instance's when it leads; NULL when unknown), owned by `l`, valid until
 * the next sg_leader_recv. sg_leader_is_leader is false as soon as the
 * acting deadline has passed, even before the thread's news of the step-down
 * is read. Loop thread. */
bool sg_leader_is_leader(const sg_leader_t *l);
uint64_t sg_leader_epoch(const sg_leader_t *l);
const char *sg_leader_holder(const sg_leader_t *l);
const char *sg_leader_mode_name(const sg_leader_t *l); /* "none" or "etcd" */
const char *sg_leader_name(const sg_leader_t *l);      /* this instance */

/* The operator state read from etcd when this instance last became the
 * leader, handed over once (caller frees); NULL when there was none. Loop
 * thread, after sg_leader_recv said the state changed. */
char *sg_leader_take_state(sg_leader_t *l);
/* Has the leader thread write `text` (copied) to etcd as the operator state
 * when this instance leads; mode none: nothing to do. Returns at once: 0 or
 * SG_ENOMEM / SG_EIO. Loop thread. */
int sg_leader_put_state(sg_leader_t *l, const char *text);

/* One line for status: "leader: etcd, name a, epoch 7, holder a (this
 * instance leads)". Caller frees; NULL when out of memory. Loop thread. */
char *sg_leader_describe(const sg_leader_t *l);

/* Fence check before a provider call that changes something, made under
 * `epoch`. Returns 0 when this instance still leads under that epoch (mode
 * none: always), SG_ESTATE when it does not (the instance steps down), or
 * SG_EIO when etcd could not be asked (the instance steps down too: a call
 * is never made on a guess). Any thread. */
int sg_leader_fence(sg_leader_t *l, uint64_t epoch);

/* ---- the pure parts, exposed for tests ------------------------------------------ */

/* The step-down rule: a leader whose last successful keepalive was sent at
 * `sent_mono` (ms) stops acting at the returned time, ttl minus the margin
 * (a quarter of the ttl, at least 100 ms and at most 5 s) later. */
int64_t sg_leader_deadline(int64_t sent_mono, int64_t ttl_ms);

/* Request bodies for etcd's JSON gateway (caller frees; NULL when out of
 * memory). Keys and values are sent base64; int64 values as strings. */
char *sg_leader_etcd_grant_json(int64_t ttl_ms);
char *sg_leader_etcd_lease_json(int64_t lease); /* keepalive and revoke */
char *sg_leader_etcd_range_json(const char *key);
/* if create_revision(key) == 0 then put key=name with lease else range key */
char *sg_leader_etcd_campaign_json(const char *key, const char *name, int64_t lease);
/* succeeds only when create_revision(key) == epoch and value(key) == name */
char *sg_leader_etcd_fence_json(const char *key, const char *name, uint64_t epoch);
/* the fence's compare, then put state_key = text */
char *sg_leader_etcd_put_state_json(const char *key, const char *name, uint64_t epoch,
                                    const char *state_key, const char *text);

/* What an etcd answer says. */
typedef struct {
    int64_t lease; /* grant: the lease ID */
    int64_t ttl;   /* grant, keepalive: seconds left; 0: the lease is gone */
    bool succeeded;   /* txn */
    uint64_t revision; /* txn: header.revision (a won campaign's epoch) */
    bool found;        /* range, lost campaign: the key exists */
    uint64_t create_revision; /* of the key found */
    char *holder;      /* value of the key found, decoded; owned, NULL when none */
} sg_leader_etcd_reply_t;

void sg_leader_etcd_reply_fini(sg_leader_etcd_reply_t *r);
/* Parse one answer into *out (zeroed first). Return 0, or SG_EPROTO when the
 * text is not the answer expected (an error object included). */
int sg_leader_etcd_parse_grant(const char *text, sg_leader_etcd_reply_t *out);
int sg_leader_etcd_parse_keepalive(const char *text, sg_leader_etcd_reply_t *out);
int sg_leader_etcd_parse_txn(const char *text, sg_leader_etcd_reply_t *out);
int sg_leader_etcd_parse_range(const char *text, sg_leader_etcd_reply_t *out);

#endif
