/* world: a simulated world of sites, links and observers that feeds the
 * real policy engine on a virtual clock, and carries out its decisions.
 *
 * Pure and deterministic: no I/O, no clock reads; randomness (event loss)
 * comes from its own generator seeded by the caller. Every `interval` each
 * running observer sends a heartbeat, a reachability report for every other
 * site (up when that site is up, the observer's site sees it (links are
 * one-way: sg_world_link_dir) and the observer is not isolated) and, for
 * each collection that replicates into its site and has a replication
 * status set, a replication report. Observers are spread evenly over the
 * interval. Each event is stamped with the observer's clock (its skew),
 * reaches siteguard after the observer's transit delay when its site can
 * reach siteguard's site (everywhere, unless sg_world_set_siteguard_site
 * says where it runs), and is lost with the configured probability; with
 * sg_world_set_buffer, an event that cannot reach siteguard waits (up to
 * 1000 per observer, as a publisher's queue does) and arrives, late, once
 * the link is back. The engine is ticked after every step.
 *
 * Runs: every FAILOVER decision becomes a run, as the service makes one:
 * `call_delay` after the decision the run asks sg_engine_confirm (proof
 * before act) and is then called (the job ends `job` later, failed over) or
 * cancelled; a site announced recovering or contested cancels its runs not
 * yet called (operators' runs excepted). sg_world_restart replaces the
 * engine as a restart of the service does: operator state exported and
 * imported, ended runs and runs already called restored, runs not yet
 * called abandoned.
 *
 * Used by `siteguard simulate` (scenario files), the soak test and the
 * fault checker. Thread rules: one thread at a time. */
#ifndef SG_WORLD_H
#define SG_WORLD_H

#include "config/config.h"
#include "policy/engine.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sg_world sg_world_t;

/* Called for every decision the engine makes; it owns nothing of `d`. */
typedef void (*sg_world_decision_fn)(void *user, const sg_decision_t *d);

/* What happened to a run. */
typedef enum {
    SG_WORLD_RUN_CALLED = 1, /* its proof held: InitiateFailover called */
    SG_WORLD_RUN_CANCELLED,  /* its proof failed, its site came back, or a restart abandoned it */
    SG_WORLD_RUN_DONE        /* its job ended: failed over */
} sg_world_run_event_t;
typedef void (*sg_world_run_fn)(void *user, sg_world_run_event_t what, int collection,
                                uint64_t run_id, sg_now_t at, const char *why);
/* Called for every event as it is delivered to the engine. */
typedef void (*sg_world_event_fn)(void *user, const sg_event_t *ev, sg_now_t at);

/* Borrows cfg. `start_wall_ms` is the Unix time of virtual time 0. */
sg_world_t *sg_world_new(const sg_config_t *cfg, int64_t start_wall_ms, uint64_t seed);
void sg_world_destroy(sg_world_t **w);

void sg_world_set_interval(sg_world_t *w, int64_t ms); /* default 1000 */
void sg_world_set_step(sg_world_t *w, int64_t ms);     /* default 100 */
void sg_world_set_loss(sg_world_t *w, double p);       /* 0 .. 1, default 0 */
/* Where siteguard runs: -1 (default) means it hears every running observer. */
void sg_world_set_siteguard_site(sg_world_t *w, int site);
/* Events that cannot reach siteguard wait for the link (default: lost). */
void sg_world_set_buffer(sg_world_t *w, bool on);
/* Runs: decision to call, and call to the end of the job (defaults: one
 * step, 1 s). */
void sg_world_set_runs(sg_world_t *w, int64_t call_delay_ms, int64_t job_ms);
void sg_world_on_runs(sg_world_t *w, sg_world_run_fn fn, void *user);
void sg_world_on_events(sg_world_t *w, sg_world_event_fn fn, void *user);

void sg_world_site_up(sg_world_t *w, int site, bool up);
/* Both directions of the link between a and b. */
void sg_world_link_up(sg_world_t *w, int a, int b, bool up);
/* One direction: observers at `from` see `to`, and events from `from` reach
 * siteguard at `to`. */
void sg_world_link_dir(sg_world_t *w, int from, int to, bool up);
void sg_world_observer_up(sg_world_t *w, int observer, bool up);
/* An isolated observer still reaches siteguard but sees no other site. */
void sg_world_isolate(sg_world_t *w, int observer, bool isolated);
/* The observer's process goes up and down every `period_ms` (0: stops). */
void sg_world_flap(sg_world_t *w, int observer, int64_t period_ms);
/* The observer's clock runs `skew_ms` ahead (negative: behind). */
void sg_world_skew(sg_world_t *w, int observer, int64_t skew_ms);
/* The observer's events take `delay_ms` to reach siteguard. */
void sg_world_delay(sg_world_t *w, int observer, int64_t delay_ms);
/* Replication status reported for a collection from now on (health as in
 * health.proto: 1 normal, 2 warning, 3 critical). */
void sg_world_replication(sg_world_t *w, int collection, int health, uint64_t lag_s);

/* Runs until virtual time `until_ms`, feeding `e`, carrying out its runs and
 * passing its decisions to fn. Returns 0 or the engine's error. */
int sg_world_run(sg_world_t *w, sg_engine_t *e, int64_t until_ms, sg_world_decision_fn fn,
                 void *user);
/* Restarts siteguard: *e is replaced by a new engine (see above). 0 or
 * SG_ENOMEM (then *e is NULL). */
int sg_world_restart(sg_world_t *w, sg_engine_t **e);

int64_t sg_world_now(const sg_world_t *w);
sg_now_t sg_world_time(const sg_world_t *w);
bool sg_world_site_is_up(const sg_world_t *w, int site);
/* The observer's process runs now (its site up, not down, not flapped off). */
bool sg_world_observer_running(const sg_world_t *w, int observer);
/* Ground truth: the observer would report `site` up now. */
bool sg_world_observer_sees(const sg_world_t *w, int observer, int site);
/* Observer's events can reach siteguard now. */
bool sg_world_reaches_siteguard(const sg_world_t *w, int observer);
/* Events generated and events lost so far. */
uint64_t sg_world_events(const sg_world_t *w);
uint64_t sg_world_lost_events(const sg_world_t *w);

#endif
