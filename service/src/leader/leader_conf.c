/* leader_conf: the leader section of the config file (see leader_conf.h). */
#include "leader/leader_conf.h"

#include "base/err.h"
#include "platform/platform.h"

#include <stdlib.h>
#include <string.h>

static void s_set_leader_mode(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                              void *obj)
{
    static const char *const names[] = {"none", "etcd", NULL};
    sg_cfg_set_enum(ctx, key, value, obj, names, "none, etcd");
}

static void s_set_http_list(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                            void *obj)
{
    sg_cfg_set_str_list(ctx, key, value, obj);
    const sg_etcd_cfg_t *e = obj;
    for (size_t i = 0; i < e->n_endpoints; i++) {
        if (strncmp(e->endpoints[i], "http://", 7) != 0 &&
            strncmp(e->endpoints[i], "https://", 8) != 0)
            sg_cfg_err(ctx, value,
                       "an entry of '%s' must be an http:// or https:// URL (got '%s')",
                       key->name, e->endpoints[i]);
    }
}

/* The lease TTL is whole seconds (etcd's unit); a call must fit well inside it. */
static void s_check_etcd(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj,
                         const sg_cfg_read_t *read)
{
    const sg_etcd_cfg_t *e = obj;
    sg_cfg_node_t *ttl = sg_cfg_value_of(ctx, node, "ttl");
    if (ttl && sg_cfg_read_ok(read, "ttl") && (e->ttl_ms < 1000 || e->ttl_ms % 1000))
        sg_cfg_err(ctx, ttl, "'ttl' must be a whole number of seconds, at least 1s");
    else if (sg_cfg_read_ok(read, "ttl") && sg_cfg_read_ok(read, "timeout") &&
             e->timeout_ms >= e->ttl_ms)
        sg_cfg_err(ctx,
                   sg_cfg_value_of(ctx, node, "timeout") ? sg_cfg_value_of(ctx, node, "timeout")
                                                         : node,
                   "'timeout' must be less than 'ttl'");
}

static const sg_cfg_key_t s_etcd_keys[] = {
    {.name = "endpoints", .set = s_set_http_list, .offset = offsetof(sg_etcd_cfg_t, endpoints),
     .count_offset = offsetof(sg_etcd_cfg_t, n_endpoints)},
    {.name = "key", .set = sg_cfg_set_str, .offset = offsetof(sg_etcd_cfg_t, key)},
    {.name = "ttl", .set = sg_cfg_set_duration, .offset = offsetof(sg_etcd_cfg_t, ttl_ms),
     .min = 1},
    {.name = "timeout", .set = sg_cfg_set_duration, .offset = offsetof(sg_etcd_cfg_t, timeout_ms),
     .min = 1},
};
static const sg_cfg_map_t s_etcd_map = {.where = "in leader.etcd", .keys = s_etcd_keys,
                                        .n_keys = SG_CFG_COUNT(s_etcd_keys),
                                        .size = sizeof(sg_etcd_cfg_t), .check = s_check_etcd};

static const sg_cfg_key_t s_leader_keys[] = {
    {.name = "mode", .set = s_set_leader_mode, .offset = offsetof(sg_leader_cfg_t, mode)},
    {.name = "name", .set = sg_cfg_set_str, .offset = offsetof(sg_leader_cfg_t, name)},
    {.name = "etcd", .set = sg_cfg_set_map, .offset = offsetof(sg_leader_cfg_t, etcd),
     .sub = &s_etcd_map},
};
const sg_cfg_map_t sg_leader_conf_map = {.where = "in leader", .keys = s_leader_keys,
                                         .n_keys = SG_CFG_COUNT(s_leader_keys),
                                         .size = sizeof(sg_leader_cfg_t)};

void sg_leader_conf_defaults(sg_cfg_t *ctx, sg_leader_cfg_t *l)
{
    l->etcd.key = sg_cfg_strdup(ctx, "/siteguard/leader");
    l->etcd.ttl_ms = 10000;
    l->etcd.timeout_ms = 2000;
}

void sg_leader_conf_resolve(sg_cfg_t *ctx, sg_leader_cfg_t *l)
{
    char host[256];
    if (l->name)
        return;
    bool known = sg_platform_hostname(host, sizeof host) == SG_OK;
    l->name = sg_cfg_strdup(ctx, known ? host : "siteguard");
}

void sg_leader_conf_fini(sg_leader_cfg_t *l)
{
    free(l->name);
    sg_cfg_free_strs(l->etcd.endpoints, l->etcd.n_endpoints);
    free(l->etcd.key);
}
