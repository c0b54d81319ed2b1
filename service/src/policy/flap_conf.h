/* flap_conf: the `policy.flapping` key: when a site that keeps turning
 * suspect and healthy again counts as flapping, so that its notices are
 * held (journal/flap.h says what is held, and what never is).
 *
 *   flapping: off                          nothing is ever held
 *   flapping: {changes: 4, window: 60s}    the defaults
 *
 * A site is flapping once it makes more than `changes` changes between
 * suspect and healthy within `window`, and steady again once it has made
 * none for `window`. `changes` 1..1000; `window` > 0. `flapping: on` (or an
 * empty mapping) is the defaults.
 *
 * Ownership: a plain value, no allocations. */
#ifndef SG_FLAP_CONF_H
#define SG_FLAP_CONF_H

#include "config/walk.h"

#include <stdbool.h>
#include <stdint.h>

#define SG_FLAP_CONF_MAX_CHANGES 1000

typedef struct {
    bool off;          /* flapping: off */
    int changes;       /* more than this many changes within window: flapping; default 4 */
    int64_t window_ms; /* the window, and how long a flapping site must be steady; default 60 s */
} sg_flap_cfg_t;

/* The defaults: on, 4 changes, 60 s. */
void sg_flap_conf_defaults(sg_flap_cfg_t *f);

/* The setter of `flapping` (key->offset: an sg_flap_cfg_t): off, on, or a
 * mapping with changes and window (each optional, defaults kept). Errors
 * name file, line and column. */
void sg_flap_conf_set(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj);

#endif
