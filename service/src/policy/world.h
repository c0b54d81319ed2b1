/* world: a simulated world of sites, links and observers that feeds the
 * real policy engine on a virtual clock.
 *
 * Pure and deterministic: no I/O, no clock reads; randomness (event loss)
 * comes from its own generator seeded by the caller. Every `interval` each
 * running observer sends a heartbeat, a reachability report for every other
 * site (up when that site is up, the link between the two sites is up and
 * the observer is not isolated) and, for each collection that replicates
 * into its site and has a replication status set, a replication report.
 * An event reaches siteguard when the observer's site can reach siteguard's
 * site (everywhere, unless sg_world_set_siteguard_site says where it runs),
 * and is lost with the configured probability. Observers are spread evenly
 * over the interval. The engine is ticked after every step.
 *
 * Used by `siteguard simulate` (scenario files) and the soak test.
 * Thread rules: one thread at a time. */
#ifndef SG_WORLD_H
#define SG_WORLD_H

#include "../config.h"
#include "engine.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sg_world sg_world_t;

/* Called for every decision the engine makes; it owns nothing of `d`. */
typedef void (*sg_world_decision_fn)(void *user, const sg_decision_t *d);

/* Borrows cfg. `start_wall_ms` is the Unix time of virtual time 0. */
sg_world_t *sg_world_new(const sg_config_t *cfg, int64_t start_wall_ms, uint64_t seed);
void sg_world_destroy(sg_world_t **w);

void sg_world_set_interval(sg_world_t *w, int64_t ms); /* default 1000 */
void sg_world_set_step(sg_world_t *w, int64_t ms);     /* default 100 */
void sg_world_set_loss(sg_world_t *w, double p);       /* 0 .. 1, default 0 */
/* Where siteguard runs: -1 (default) means it hears every running observer. */
void sg_world_set_siteguard_site(sg_world_t *w, int site);

void sg_world_site_up(sg_world_t *w, int site, bool up);
void sg_world_link_up(sg_world_t *w, int a, int b, bool up);
void sg_world_observer_up(sg_world_t *w, int observer, bool up);
/* An isolated observer still reaches siteguard but sees no other site. */
void sg_world_isolate(sg_world_t *w, int observer, bool isolated);
/* The observer's process goes up and down every `period_ms` (0: stops). */
void sg_world_flap(sg_world_t *w, int observer, int64_t period_ms);
/* Replication status reported for a collection from now on (health as in
 * health.proto: 1 normal, 2 warning, 3 critical). */
void sg_world_replication(sg_world_t *w, int collection, int health, uint64_t lag_s);

/* Runs until virtual time `until_ms`, feeding `e` and passing its decisions
 * to fn. Returns 0 or the engine's error. */
int sg_world_run(sg_world_t *w, sg_engine_t *e, int64_t until_ms, sg_world_decision_fn fn,
                 void *user);

int64_t sg_world_now(const sg_world_t *w);
sg_now_t sg_world_time(const sg_world_t *w);
bool sg_world_site_is_up(const sg_world_t *w, int site);
/* Events generated and events lost so far. */
uint64_t sg_world_events(const sg_world_t *w);
uint64_t sg_world_lost_events(const sg_world_t *w);

#endif
