/* bus_conf: the `bus` section of the config file: the endpoints the SUB
 * socket binds and connects, and the limits of an event (size, age, skew).
 * Without a bus section the bus binds tcp://127.0.0.1:7700.
 *
 * Ownership: the endpoint lists belong to the sg_bus_cfg_t (in the end the
 * config) and are freed by sg_bus_conf_fini. After loading they are
 * immutable and may be read from any thread. */
#ifndef SG_BUS_CONF_H
#define SG_BUS_CONF_H

#include "config/walk.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char **connect; /* endpoints to connect the SUB socket to */
    size_t n_connect;
    char **bind; /* endpoints to bind the SUB socket on */
    size_t n_bind;
    size_t max_event_bytes; /* default 4096 */
    int64_t max_age_ms;     /* events older than this are stale; default 30 s */
    int64_t max_skew_ms;    /* events further in the future are stale; default 5 s */
} sg_bus_cfg_t;

/* The `bus` mapping (read with sg_cfg_set_map). */
extern const sg_cfg_map_t sg_bus_conf_map;

/* Defaults before the file is read. */
void sg_bus_conf_defaults(sg_bus_cfg_t *b);
/* Once the file is read: `node` is the bus section (NULL or null: none, and
 * then the bus binds the default endpoint). */
void sg_bus_conf_resolve(sg_cfg_t *ctx, sg_cfg_node_t *node, sg_bus_cfg_t *b);
void sg_bus_conf_fini(sg_bus_cfg_t *b);

#endif
