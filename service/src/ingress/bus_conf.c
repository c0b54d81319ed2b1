/* bus_conf: the bus section of the config file (see bus_conf.h). */
#include "ingress/bus_conf.h"

#include <stdlib.h>

/* Endpoint bound when the file has no `bus:` section at all. */
#define S_DEFAULT_BIND "tcp://127.0.0.1:7700"

static void s_check_bus(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj, const sg_cfg_read_t *read)
{
    const sg_bus_cfg_t *b = obj;
    if (sg_cfg_read_ok(read, "bind") && sg_cfg_read_ok(read, "connect") &&
        b->n_bind + b->n_connect == 0)
        sg_cfg_err(ctx, node, "bus needs at least one 'bind' or 'connect' endpoint");
}

static const sg_cfg_key_t s_bus_keys[] = {
    {.name = "bind", .set = sg_cfg_set_str_list, .offset = offsetof(sg_bus_cfg_t, bind),
     .count_offset = offsetof(sg_bus_cfg_t, n_bind)},
    {.name = "connect", .set = sg_cfg_set_str_list, .offset = offsetof(sg_bus_cfg_t, connect),
     .count_offset = offsetof(sg_bus_cfg_t, n_connect)},
    {.name = "max_event_bytes", .set = sg_cfg_set_size,
     .offset = offsetof(sg_bus_cfg_t, max_event_bytes), .min = 64, .max = 1048576},
    {.name = "max_age", .set = sg_cfg_set_duration, .offset = offsetof(sg_bus_cfg_t, max_age_ms),
     .min = 1},
    {.name = "max_skew", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_bus_cfg_t, max_skew_ms), .min = 0},
};
const sg_cfg_map_t sg_bus_conf_map = {.where = "in bus", .keys = s_bus_keys,
                                      .n_keys = SG_CFG_COUNT(s_bus_keys),
                                      .size = sizeof(sg_bus_cfg_t), .check = s_check_bus};

void sg_bus_conf_defaults(sg_bus_cfg_t *b)
{
    b->max_event_bytes = 4096;
    b->max_age_ms = 30000;
    b->max_skew_ms = 5000;
}

void sg_bus_conf_resolve(sg_cfg_t *ctx, sg_cfg_node_t *node, sg_bus_cfg_t *b)
{
    if (node && !sg_cfg_is_null(node))
        return;
    b->bind = calloc(1, sizeof *b->bind);
    if (!b->bind || !(b->bind[0] = sg_cfg_strdup(ctx, S_DEFAULT_BIND))) {
        sg_cfg_oom(ctx);
        return;
    }
    b->n_bind = 1;
}

void sg_bus_conf_fini(sg_bus_cfg_t *b)
{
    sg_cfg_free_strs(b->bind, b->n_bind);
    sg_cfg_free_strs(b->connect, b->n_connect);
}
