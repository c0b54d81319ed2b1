/* window: time windows of the config file, a list of which is a policy's
 * `maintenance` and a drill's `blackout`.
 *
 * Owns sg_window_cfg_t, its key table and checks (weekly or once, each
 * listed site defined in `sites`), reading a list of them and freeing it.
 * Ownership: the array and what its entries point to belong to the struct
 * holding the list; sg_window_free_list frees them. Thread rules: none; a
 * loaded window is a plain value, read from any thread. */
#ifndef SG_CONFIG_WINDOW_H
#define SG_CONFIG_WINDOW_H

#include "config/walk.h"

#include <stddef.h>
#include <stdint.h>

/* A maintenance window: no failover is decided for the sites it names while
 * it is open. Weekly on `days` (bit 0 Monday .. bit 6 Sunday; 0: every day)
 * from `from_min` to `to_min` minutes after midnight UTC (to < from: across
 * midnight), or once, between `start_ms` and `end_ms` (Unix time). */
typedef struct {
    int *sites; /* site indices; none: every site */
    size_t n_sites;
    unsigned days;
    int from_min, to_min;
    int64_t start_ms, end_ms; /* both 0 for a weekly window */
    char *reason;
    sg_mark_t mark;
} sg_window_cfg_t;

/* Setter of a list of windows: key->offset is the sg_window_cfg_t * field,
 * key->count_offset its size_t count. Site names resolve through the
 * SG_CFG_SITES names, so the sites must have been read before. */
void sg_window_set_list(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj);
/* Frees n windows and the array; NULL is fine. */
void sg_window_free_list(sg_window_cfg_t *w, size_t n);

#endif
