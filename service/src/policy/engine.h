/* engine: the policy engine. Pure logic: no I/O, no threads, no clock reads.
 *
 * It takes checked events (sg_event_t from ingest) and ticks, each with the
 * current monotonic time `now_ms`, and turns them into decisions with their
 * reasons, queued in order for the caller to take with sg_engine_next.
 *
 * Site verdicts (this release): a site is alive while one of its observers'
 * heartbeats arrives; silent for `suspect_after` it is suspect; silent for
 * `hold_down` it is lost, but only while some other site (a witness counts)
 * is heard: when every site is silent the bus, not the sites, is the likely
 * failure, and decisions freeze. A site never heard since start is unknown,
 * never lost.
 *
 * Failover decisions: when a site is lost, each of its collections, in plan
 * order (dependencies first, otherwise by group, then config order), is decided once for failover to its
 * replica site, or blocked when the replica site is not alive (re-decided
 * when it comes back while the primary is still lost), or when the policy
 * mode is shadow or approve. A collection decided for failover is never
 * decided again by this engine; sg_engine_run_ended records how its run ended.
 *
 * Thread rules: one thread at a time per engine. */
#ifndef SG_ENGINE_H
#define SG_ENGINE_H

#include "../config.h"
#include "../ingest.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    SG_DECISION_SITE_SUSPECT = 1,
    SG_DECISION_SITE_LOST,
    SG_DECISION_SITE_RECOVERED,
    SG_DECISION_FAILOVER, /* run InitiateFailover on `collection` */
    SG_DECISION_BLOCKED   /* failover of `collection` not started: see reason */
} sg_decision_kind_t;

typedef enum {
    SG_SITE_UNKNOWN = 0,
    SG_SITE_ALIVE,
    SG_SITE_SUSPECT,
    SG_SITE_LOST
} sg_site_state_t;

typedef enum {
    SG_COLL_IDLE = 0,
    SG_COLL_BLOCKED,   /* decided against; may be decided again */
    SG_COLL_DECIDED,   /* failover run in flight */
    SG_COLL_DONE,      /* failed over */
    SG_COLL_FAILED     /* the run failed; needs an operator */
} sg_coll_verdict_t;

typedef struct {
    sg_decision_kind_t kind;
    int site;        /* the site concerned (for collections: the primary) */
    int collection;  /* index, or -1 for site notices */
    int target_site; /* replica site, or -1 */
    uint64_t run_id; /* failover run id (FAILOVER), else 0 */
    int64_t at_ms;   /* `now` of the event or tick that decided it */
    char *reason;    /* owned; freed by sg_decision_fini */
} sg_decision_t;

typedef struct sg_engine sg_engine_t;

/* Borrows cfg. `run_id_base` seeds run ids (the caller passes something
 * unique across restarts, such as wall-clock milliseconds * 1000). */
sg_engine_t *sg_engine_new(const sg_config_t *cfg, uint64_t run_id_base);
void sg_engine_destroy(sg_engine_t **e);

/* Feeds one checked event received at `now_ms`. Returns 0 or SG_ENOMEM. */
int sg_engine_on_event(sg_engine_t *e, const sg_event_t *ev, int64_t now_ms);
/* Advances time. Returns 0 or SG_ENOMEM. */
int sg_engine_tick(sg_engine_t *e, int64_t now_ms);
/* Earliest `now` at which a tick may change something; INT64_MAX if none. */
int64_t sg_engine_next_deadline(const sg_engine_t *e);

/* Takes the oldest queued decision into *out (caller then owns out->reason).
 * Returns false when none is queued. */
bool sg_engine_next(sg_engine_t *e, sg_decision_t *out);
void sg_decision_fini(sg_decision_t *d);

/* Records how the failover run of `collection` ended. */
void sg_engine_run_ended(sg_engine_t *e, int collection, bool failed_over);

sg_site_state_t sg_engine_site_state(const sg_engine_t *e, int site);
sg_coll_verdict_t sg_engine_collection_verdict(const sg_engine_t *e, int collection);
const char *sg_site_state_name(sg_site_state_t s);
const char *sg_decision_kind_name(sg_decision_kind_t k);

#endif
