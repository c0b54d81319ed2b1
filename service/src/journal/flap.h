/* flap: quiet announcements for a site that flaps.
 *
 * A site whose heartbeats come and go turns suspect and healthy again over
 * and over; each turn is a decision of the engine (engine.h) and, announced
 * as it is, a site_suspect and site_recovered pair for every sink. This
 * module stands between the engine's decisions and their announcement
 * (announce.h) and says which are announced, by policy.flapping
 * (policy/flap_conf.h). It only decides what the sinks hear: the engine's
 * verdicts and decisions, and what the journal records, are the same.
 *
 * Changes. A site's change is SITE_SUSPECT while it was healthy (or no
 * decision of it was seen yet), or SITE_RECOVERED while it was suspect. A
 * recovery from a loss (lost, contested, recovering -> healthy; or with no
 * decision of the site seen before) is not a change: it answers a loss, and
 * is always announced.
 *
 * Flapping. When a site makes more than `changes` changes within `window`
 * (the change at t counts those after t - window), it is flapping: a
 * STARTED notice is announced in place of the change that tipped it, and
 * from then on the site's changes are held: not announced, only counted.
 *
 * Steady. Once a flapping site has made no change for `window`, a tick
 * ends its flapping with an ENDED notice that says how many changes were
 * held and the state the site is in now (healthy or suspect); its changes
 * are announced again, and counted afresh.
 *
 * Never held: SITE_LOST, SITE_CONTESTED, SITE_RECOVERING, a recovery from a
 * loss, FAILOVER, BLOCKED and NOTICE (a warning about the evidence). A loss
 * (SITE_LOST; CONTESTED and RECOVERING, which follow one, likewise) of a
 * flapping site ends its flapping at once: the ENDED notice, naming the
 * state lost, is announced just before the loss, so the sinks see the real
 * state. Every such decision also forgets the site's changes so far.
 *
 * Off (`flapping: off`): everything is announced; a site flapping when a
 * reload turns it off ends at the next tick (cause OFF).
 *
 * Pure: no I/O, no clock reads, no threads. A decision's own time (d->at)
 * and the tick's `now` drive it (monotonic ms for the window).
 * Ownership: sg_flap_new returns a handle freed by sg_flap_destroy.
 * Thread rules: one thread at a time (the loop thread). */
#ifndef SG_FLAP_H
#define SG_FLAP_H

#include "policy/engine.h"
#include "policy/flap_conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SG_FLAP_STARTED = 1, /* the site is flapping: its changes are held from now on */
    SG_FLAP_ENDED        /* it no longer is: see cause */
} sg_flap_event_t;

typedef enum {
    SG_FLAP_STEADY = 0, /* no change for the window */
    SG_FLAP_LOSS,       /* a loss (or what follows one): the decision comes next */
    SG_FLAP_OFF         /* policy.flapping was turned off */
} sg_flap_cause_t;

/* A notice to announce (announce.h: sg_announce_flap). */
typedef struct {
    sg_flap_event_t event;
    sg_flap_cause_t cause;  /* ENDED: why */
    int site;
    int changes;            /* STARTED: changes within the window (more than policy's) */
    uint64_t held;          /* ENDED: changes held while it flapped (the tipping one too) */
    int64_t window_ms;      /* the window in force */
    sg_site_state_t state;  /* the site's state now, as its decisions left it */
    sg_now_t at;            /* STARTED: the tipping decision's time; ENDED: the tick's, or
                               the loss's */
} sg_flap_notice_t;

/* What to do with one decision: announce `notice` first when has_notice,
 * then the decision itself when `announce` (false: held). */
typedef struct {
    bool announce;
    bool has_notice;
    sg_flap_notice_t notice;
} sg_flap_verdict_t;

typedef struct sg_flap sg_flap_t;

/* For `n_sites` sites (indices of the config's sites), with `cfg` copied.
 * NULL when out of memory. */
sg_flap_t *sg_flap_new(size_t n_sites, const sg_flap_cfg_t *cfg);
void sg_flap_destroy(sg_flap_t **f);

/* A reload's policy (copied). The changes counted so far are forgotten;
 * sites flapping stay so, and end by the new window (or at the next tick
 * when it is off). 0, or SG_ENOMEM with the old one kept. */
int sg_flap_set_config(sg_flap_t *f, const sg_flap_cfg_t *cfg);

/* Judges one decision of the engine, in the order the engine made them.
 * Decisions without a site (or with one out of range) are announced. */
sg_flap_verdict_t sg_flap_judge(sg_flap_t *f, const sg_decision_t *d);

/* Ends the flapping of one site that is steady at `now` (or of any, when
 * flapping is off): true with its ENDED notice in *out; false when none is
 * due. Call until false. */
bool sg_flap_tick(sg_flap_t *f, sg_now_t now, sg_flap_notice_t *out);

/* Whether `site` is flapping; *held (may be NULL): its changes held so far. */
bool sg_flap_is_flapping(const sg_flap_t *f, int site, uint64_t *held);

#endif
