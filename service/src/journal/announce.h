/* announce: the outcome that announces one of the engine's decisions (a
 * site's change, a failover decided, a block, a notice), or that a site is
 * flapping (flap.h), for the journal's outcome log and the sinks.
 *
 * Names come from the config (site, collection, replica site, observer);
 * the run id, reason and recovery point from the decision. A decision with
 * a run (a failover) is keyed as every run's outcome is (outcome.h); the
 * others by subject, kind and time: "<site>/<collection or observer>/
 * <decision kind>/<time ms>", "-" for what the decision has not.
 *
 * Ownership: the caller owns the outcome returned (sg_outcome_free).
 * Thread rules: none (no state); the loop thread calls it. */
#ifndef SG_ANNOUNCE_H
#define SG_ANNOUNCE_H

#include "config/config.h"
#include "journal/flap.h"
#include "journal/outcome.h"
#include "policy/engine.h"

/* The outcome kind of a decision kind (a block: blocked). The service does
 * not announce site_recovering: the sinks hear when the site is healthy. */
sg_outcome_kind_t sg_announce_kind(sg_decision_kind_t kind);

/* The finished outcome announcing `d`, or NULL when out of memory. */
sg_outcome_t *sg_announce_decision(const sg_config_t *cfg, const sg_decision_t *d);
/* The same, held back from the sinks for the reason `held` (outcome.h,
 * sg_outcome_set_held; NULL: not held): the outcome log still records it. */
sg_outcome_t *sg_announce_held(const sg_config_t *cfg, const sg_decision_t *d, const char *held);

/* The outcome of a flapping notice (flap.h), kind site_flapping, or NULL
 * when out of memory. Message:
 *   started: "site A is flapping: 5 changes in 60 s; its suspect/recovered
 *            notices are held until it is steady for 60 s" (warning)
 *   ended:   "site A stopped flapping (12 changes held); it is now healthy:
 *            no change for 60 s" (info when healthy, else warning; a loss
 *            or policy.flapping turned off says so instead of the window).
 * Keyed "<site>/-/site_flapping/<time ms>/<started|ended>". */
sg_outcome_t *sg_announce_flap(const sg_config_t *cfg, const sg_flap_notice_t *n);

#endif
