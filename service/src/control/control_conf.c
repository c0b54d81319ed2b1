/* control_conf: the control section of the config file (see control_conf.h). */
#include "control/control_conf.h"

#include "base/str.h"
#include "config/keyfile.h"

#include <stdlib.h>
#include <string.h>

static void s_set_endpoint(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                           void *obj)
{
    sg_cfg_set_str(ctx, key, value, obj);
    char **field = sg_cfg_field(key, obj);
    if (*field && strncmp(*field, "ipc://", 6) != 0 && strncmp(*field, "tcp://", 6) != 0)
        sg_cfg_err(ctx, value, "'%s' must be an ipc:// or tcp:// endpoint", key->name);
}

/* Reads the server's CURVE secret key (keyfile.h); the key itself never
 * goes into a message. */
static void s_set_secret_key_file(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                                  void *obj)
{
    sg_keyfile_set(ctx, key, value, obj, &((sg_control_cfg_t *)obj)->secret_key);
}

static void s_control_key_init(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj)
{
    ((sg_control_key_cfg_t *)obj)->mark = sg_cfg_mark(ctx, node);
}

static const sg_cfg_key_t s_control_key_keys[] = {
    {.name = "name", .set = sg_cfg_set_str, .offset = offsetof(sg_control_key_cfg_t, name),
     .required = true},
    {.name = "key", .set = sg_cfg_set_public_key, .offset = offsetof(sg_control_key_cfg_t, key),
     .required = true},
};
static const sg_cfg_map_t s_control_key_map = {
    .where = "in a control key", .keys = s_control_key_keys,
    .n_keys = SG_CFG_COUNT(s_control_key_keys), .size = sizeof(sg_control_key_cfg_t),
    .init = s_control_key_init};

/* A tcp endpoint: on the loopback address, and with CURVE configured. */
static void s_check_control_tcp(sg_cfg_t *ctx, sg_cfg_node_t *node, const sg_control_cfg_t *cc,
                                const char *name)
{
    sg_cfg_node_t *v = sg_cfg_value_of(ctx, node, name);
    const char *ep = strcmp(name, "endpoint") == 0 ? cc->endpoint : cc->readonly_endpoint;
    if (!ep || strncmp(ep, "tcp://", 6) != 0)
        return;
    if (!sg_str_loopback_tcp(ep))
        sg_cfg_err(ctx, v,
                   "'%s' %s must be on the loopback address (127.x.x.x, localhost or [::1])",
                   name, ep);
    else if (!cc->secret_key_file || cc->n_operators + cc->n_readers == 0)
        sg_cfg_err(ctx, v, "'%s' %s is tcp and needs CURVE: set control.secret_key_file and "
                           "list client keys in control.operators or control.readers (without "
                           "them anyone on this host could steer failover)", name, ep);
}

/* Names and keys are unique across operators and readers. */
static void s_check_control_unique(sg_cfg_t *ctx, const sg_control_cfg_t *cc)
{
    size_t n = cc->n_operators + cc->n_readers;
    for (size_t i = 0; i < n; i++) {
        const sg_control_key_cfg_t *a =
            i < cc->n_operators ? &cc->operators[i] : &cc->readers[i - cc->n_operators];
        for (size_t j = 0; j < i; j++) {
            const sg_control_key_cfg_t *b =
                j < cc->n_operators ? &cc->operators[j] : &cc->readers[j - cc->n_operators];
            if (a->name && b->name && strcmp(a->name, b->name) == 0)
                sg_cfg_err_at(ctx, &a->mark, "control key name '%s' is already used at line %d",
                              a->name, b->mark.line);
            else if (a->key && b->key && strcmp(a->key, b->key) == 0)
                sg_cfg_err_at(ctx, &a->mark,
                              "the key of '%s' is already listed at line %d (as '%s')",
                              a->name ? a->name : "?", b->mark.line, b->name ? b->name : "?");
        }
    }
}

static void s_check_control(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj,
                            const sg_cfg_read_t *read)
{
    const sg_control_cfg_t *cc = obj;
    bool keys_ok = sg_cfg_read_ok(read, "secret_key_file") && sg_cfg_read_ok(read, "operators") &&
                   sg_cfg_read_ok(read, "readers");
    if (!keys_ok)
        return;
    if (sg_cfg_read_ok(read, "endpoint"))
        s_check_control_tcp(ctx, node, cc, "endpoint");
    if (sg_cfg_read_ok(read, "readonly_endpoint"))
        s_check_control_tcp(ctx, node, cc, "readonly_endpoint");
    bool has_keys = cc->n_operators + cc->n_readers > 0;
    if (has_keys && !cc->secret_key_file)
        sg_cfg_err(ctx, sg_cfg_value_of(ctx, node, cc->n_operators ? "operators" : "readers"),
                   "client keys need control.secret_key_file (the service's CURVE secret key)");
    else if (!has_keys && cc->secret_key_file)
        sg_cfg_err(ctx, sg_cfg_value_of(ctx, node, "secret_key_file"),
                   "'secret_key_file' without client keys: list them in control.operators or "
                   "control.readers");
    s_check_control_unique(ctx, cc);
}

static const sg_cfg_key_t s_control_keys[] = {
    {.name = "endpoint", .set = s_set_endpoint, .offset = offsetof(sg_control_cfg_t, endpoint)},
    {.name = "readonly_endpoint", .set = s_set_endpoint,
     .offset = offsetof(sg_control_cfg_t, readonly_endpoint)},
    {.name = "group", .set = sg_cfg_set_str, .offset = offsetof(sg_control_cfg_t, group)},
    {.name = "secret_key_file", .set = s_set_secret_key_file,
     .offset = offsetof(sg_control_cfg_t, secret_key_file)},
    {.name = "operators", .set = sg_cfg_set_items,
     .offset = offsetof(sg_control_cfg_t, operators),
     .count_offset = offsetof(sg_control_cfg_t, n_operators), .sub = &s_control_key_map},
    {.name = "readers", .set = sg_cfg_set_items, .offset = offsetof(sg_control_cfg_t, readers),
     .count_offset = offsetof(sg_control_cfg_t, n_readers), .sub = &s_control_key_map},
};
const sg_cfg_map_t sg_control_conf_map = {.where = "in control", .keys = s_control_keys,
                                          .n_keys = SG_CFG_COUNT(s_control_keys),
                                          .size = sizeof(sg_control_cfg_t),
                                          .check = s_check_control};

static void s_free_keys(sg_control_key_cfg_t *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(keys[i].name);
        free(keys[i].key);
    }
    free(keys);
}

void sg_control_conf_fini(sg_control_cfg_t *cc)
{
    free(cc->endpoint);
    free(cc->readonly_endpoint);
    free(cc->group);
    free(cc->secret_key_file);
    sg_keyfile_free(&cc->secret_key);
    s_free_keys(cc->operators, cc->n_operators);
    s_free_keys(cc->readers, cc->n_readers);
}
