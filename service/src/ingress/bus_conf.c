/* bus_conf: the bus section of the config file (see bus_conf.h). */
#include "ingress/bus_conf.h"

#include "base/str.h"
#include "config/keyfile.h"
#include "policy/policy_conf.h"

#include <stdlib.h>
#include <string.h>

/* Endpoint bound when the file has no `bus:` section at all. */
#define S_DEFAULT_BIND "tcp://127.0.0.1:7700"

/* Reads the service's CURVE secret key (keyfile.h). */
static void s_set_secret_key_file(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                                  void *obj)
{
    sg_keyfile_set(ctx, key, value, obj, &((sg_bus_curve_cfg_t *)obj)->secret_key);
}

static const sg_cfg_key_t s_curve_keys[] = {
    {.name = "secret_key_file", .set = s_set_secret_key_file,
     .offset = offsetof(sg_bus_curve_cfg_t, secret_key_file), .required = true},
};
static const sg_cfg_map_t s_curve_map = {.where = "in bus.curve", .keys = s_curve_keys,
                                         .n_keys = SG_CFG_COUNT(s_curve_keys),
                                         .size = sizeof(sg_bus_curve_cfg_t)};

static bool s_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* One endpoint of `list` (bind or connect): who can reach it, and how. */
static void s_check_endpoint(sg_cfg_t *ctx, sg_cfg_node_t *item, const char *ep,
                             const sg_bus_cfg_t *b)
{
    bool tcp = s_has_prefix(ep, "tcp://"), ipc = s_has_prefix(ep, "ipc://");
    if (b->curve.secret_key_file && !tcp && !ipc)
        sg_cfg_err(ctx, item, "bus endpoint %s: with bus.curve an endpoint is tcp:// or ipc:// "
                              "(other transports have no CURVE handshake)", ep);
    else if (!b->curve.secret_key_file && !b->insecure && !ipc &&
             !s_has_prefix(ep, "inproc://") && !sg_str_loopback_tcp(ep))
        sg_cfg_err(ctx, item, "bus endpoint %s is not on the loopback address and has no "
                              "CURVE: anyone who reaches it could steer failover; set "
                              "bus.curve (and a public_key per observer), or bus.insecure: true",
                   ep);
}

static void s_check_endpoints(sg_cfg_t *ctx, sg_cfg_node_t *node, const char *key,
                              char **eps, size_t n, const sg_bus_cfg_t *b)
{
    sg_cfg_node_t *list = sg_cfg_value_of(ctx, node, key);
    for (size_t i = 0; list && i < n; i++)
        s_check_endpoint(ctx, sg_cfg_item(ctx, list, i), eps[i], b);
}

static void s_check_bus(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj, const sg_cfg_read_t *read)
{
    const sg_bus_cfg_t *b = obj;
    bool eps_ok = sg_cfg_read_ok(read, "bind") && sg_cfg_read_ok(read, "connect");
    if (eps_ok && b->n_bind + b->n_connect == 0)
        sg_cfg_err(ctx, node, "bus needs at least one 'bind' or 'connect' endpoint");
    if (b->insecure && b->curve.secret_key_file) {
        sg_cfg_err(ctx, sg_cfg_value_of(ctx, node, "insecure"),
                   "'insecure' and 'curve' exclude each other: with CURVE the bus is secure");
        return;
    }
    if (b->curve.secret_key_file && sg_cfg_read_ok(read, "max_event_bytes") &&
        b->max_event_bytes < SG_BUS_CURVE_MIN_BYTES)
        sg_cfg_err(ctx, sg_cfg_value_of(ctx, node, "max_event_bytes"),
                   "'max_event_bytes' must be at least %d with bus.curve: the CURVE handshake's "
                   "own messages pass the same limit", SG_BUS_CURVE_MIN_BYTES);
    if (!eps_ok || !sg_cfg_read_ok(read, "curve") || !sg_cfg_read_ok(read, "insecure"))
        return;
    s_check_endpoints(ctx, node, "bind", b->bind, b->n_bind, b);
    s_check_endpoints(ctx, node, "connect", b->connect, b->n_connect, b);
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
    {.name = "incarnation_silence", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_bus_cfg_t, incarnation_silence_ms), .min = 1},
    {.name = "curve", .set = sg_cfg_set_map, .offset = offsetof(sg_bus_cfg_t, curve),
     .sub = &s_curve_map},
    {.name = "insecure", .set = sg_cfg_set_bool, .offset = offsetof(sg_bus_cfg_t, insecure)},
};
const sg_cfg_map_t sg_bus_conf_map = {.where = "in bus", .keys = s_bus_keys,
                                      .n_keys = SG_CFG_COUNT(s_bus_keys),
                                      .size = sizeof(sg_bus_cfg_t), .check = s_check_bus};

void sg_bus_conf_defaults(sg_bus_cfg_t *b)
{
    b->max_event_bytes = 4096;
    b->max_age_ms = 30000;
    b->max_skew_ms = 5000;
    b->incarnation_silence_ms = 2000;
}

/* With bus.curve: each observer has a key, and no key is two observers'
 * (the key names its observer at the handshake). */
static void s_check_observer_keys(sg_cfg_t *ctx, const sg_bus_cfg_t *b)
{
    size_t n;
    const sg_observer_cfg_t *obs = sg_cfg_names_get(ctx, SG_CFG_OBSERVERS, &n);
    for (size_t i = 0; b->curve.secret_key_file && i < n; i++) {
        const char *id = obs[i].id ? obs[i].id : "?";
        if (obs[i].n_public_keys == 0)
            sg_cfg_err_at(ctx, &obs[i].mark, "observer '%s' has no public_key: with bus.curve "
                                             "every observer publishes with its own key "
                                             "(siteguardctl keygen)", id);
        for (size_t k = 0; k < obs[i].n_public_keys; k++)
            for (size_t j = 0; j < i; j++)
                for (size_t l = 0; l < obs[j].n_public_keys; l++)
                    if (strcmp(obs[i].public_keys[k], obs[j].public_keys[l]) == 0)
                        sg_cfg_err_at(ctx, &obs[i].mark, "a key of observer '%s' is already "
                                                         "listed at line %d (observer '%s')",
                                      id, obs[j].mark.line, obs[j].id ? obs[j].id : "?");
    }
}

void sg_bus_conf_resolve(sg_cfg_t *ctx, sg_cfg_node_t *node, sg_bus_cfg_t *b)
{
    s_check_observer_keys(ctx, b);
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
    free(b->curve.secret_key_file);
    sg_keyfile_free(&b->curve.secret_key);
}
