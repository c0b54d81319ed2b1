/* reload: what a hot reload of the config may change.
 *
 * Live: policy, sinks (and plugin_dir), log_level, log_format, and the
 * observers' public keys (a key rotation: the bus admits the new keys and
 * stops hearing connections made with removed ones, bus.h). Not live (a
 * restart applies them): sites (their wmi connections included), observers
 * (ids, sites, order), collections, bus, provider (provider.wmi included),
 * plan, journal, control, metrics. Pure functions on two loaded configs.
 *
 * Thread rules: none (no state). */
#ifndef SG_RELOAD_H
#define SG_RELOAD_H

#include "config/config.h"

#include <stdbool.h>

/* Appends one error line per section that differs and cannot change live
 * ("FILE:LINE:COLUMN: collections cannot change while siteguard runs: ...").
 * Returns 0 when `next` may replace `cur`, SG_ECONFIG when not, SG_ENOMEM. */
int sg_reload_check(const sg_config_t *cur, const sg_config_t *next, sg_config_errors_t *errs);

/* The sinks (or plugin_dir) differ: notify must be started again. */
bool sg_reload_sinks_changed(const sg_config_t *cur, const sg_config_t *next);

#endif
