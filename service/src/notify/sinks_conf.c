/* sinks_conf: the sinks section of the config file (see sinks_conf.h). */
#include "notify/sinks_conf.h"

#include <stdlib.h>
#include <string.h>

static bool s_read_option(sg_cfg_t *ctx, sg_cfg_node_t *k, sg_cfg_node_t *v, sg_sink_cfg_t *s)
{
    const char *key = sg_cfg_scalar(ctx, k, "options", true);
    if (!key)
        return false;
    const char *value = sg_cfg_scalar(ctx, v, key, false);
    if (!value)
        return false;
    for (size_t i = 0; i < s->n_options; i++) {
        if (strcmp(s->options[i].key, key) == 0) {
            sg_cfg_err(ctx, k, "duplicate key '%s' in the options of sink '%s'", key,
                       s->name ? s->name : "?");
            return false;
        }
    }
    sg_kv_t *kv = &s->options[s->n_options];
    kv->key = sg_cfg_strdup(ctx, key);
    kv->value = sg_cfg_strdup(ctx, value);
    kv->mark = sg_cfg_mark(ctx, k);
    if (!kv->key || !kv->value) {
        free(kv->key);
        free(kv->value);
        return false;
    }
    s->n_options++;
    return true;
}

/* A plugin's own keys: any scalar key and value, checked later by notify. */
static void s_set_options(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                          void *obj)
{
    sg_sink_cfg_t *s = obj;
    if (sg_cfg_is_null(value) || !sg_cfg_expect_map(ctx, value, key->name))
        return;
    size_t n = sg_cfg_map_len(value);
    if (n == 0)
        return;
    s->options = calloc(n, sizeof *s->options);
    if (!s->options) {
        sg_cfg_oom(ctx);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        sg_cfg_node_t *k, *v;
        sg_cfg_pair(ctx, value, i, &k, &v);
        if (k && v)
            s_read_option(ctx, k, v, s);
    }
}

static void s_sink_init(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj)
{
    sg_sink_cfg_t *s = obj;
    s->mark = sg_cfg_mark(ctx, node);
    s->kinds = SG_ROUTE_ALL;
    s->group_ms = -1; /* not set: s_check_sink gives the plugin's default */
    s->retry = (sg_retry_cfg_t){.initial_ms = 100, .max_ms = 30000, .limit = 8};
}

int64_t sg_sinks_conf_group_default_ms(const char *plugin)
{
    static const char *const people[] = {"slack", "teams", "pagerduty"};
    for (size_t i = 0; plugin && i < SG_CFG_COUNT(people); i++) {
        if (strcmp(plugin, people[i]) == 0)
            return SG_SINK_GROUP_DEFAULT_MS;
    }
    return 0;
}

/* A sink that does not set `group` gets its plugin's default. */
static void s_check_sink(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj, const sg_cfg_read_t *read)
{
    (void)ctx;
    (void)node;
    (void)read;
    sg_sink_cfg_t *s = obj;
    if (s->group_ms < 0)
        s->group_ms = sg_sinks_conf_group_default_ms(s->plugin);
}

/* `kinds: [decision, blocked, job, drill, service]`: the route kinds a sink is sent. */
static void s_set_route_kinds(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                              void *obj)
{
    static const char *const names[] = {"decision", "blocked", "job", "drill", "service"};
    sg_sink_cfg_t *s = obj;
    size_t n;
    if (!sg_cfg_list(ctx, value, key->name, &n))
        return;
    if (n == 0) {
        sg_cfg_err(ctx, value,
                   "'%s' must name at least one of: decision, blocked, job, drill, service",
                   key->name);
        return;
    }
    s->kinds = 0;
    for (size_t i = 0; i < n; i++) {
        sg_cfg_node_t *item = sg_cfg_item(ctx, value, i);
        const char *text = item ? sg_cfg_scalar(ctx, item, key->name, true) : NULL;
        size_t k = 0;
        while (text && k < SG_CFG_COUNT(names) && strcmp(text, names[k]) != 0)
            k++;
        if (text && k == SG_CFG_COUNT(names))
            sg_cfg_err(ctx, item, "bad value '%s' in '%s': expected one of: decision, blocked, "
                                  "job, drill, service", text, key->name);
        else if (text)
            s->kinds |= 1u << k;
    }
}

static void s_set_min_severity(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                               void *obj)
{
    static const char *const names[] = {"info", "warning", "critical", NULL};
    sg_cfg_set_enum(ctx, key, value, obj, names, "info, warning, critical");
}

static void s_check_retry(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj,
                          const sg_cfg_read_t *read)
{
    const sg_retry_cfg_t *r = obj;
    if (sg_cfg_read_ok(read, "initial") && sg_cfg_read_ok(read, "max") &&
        r->max_ms < r->initial_ms)
        sg_cfg_err(ctx, node, "retry 'max' must not be shorter than 'initial'");
}

static const sg_cfg_key_t s_retry_keys[] = {
    {.name = "initial", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_retry_cfg_t, initial_ms), .min = 1},
    {.name = "max", .set = sg_cfg_set_duration, .offset = offsetof(sg_retry_cfg_t, max_ms),
     .min = 1},
    {.name = "limit", .set = sg_cfg_set_int, .offset = offsetof(sg_retry_cfg_t, limit), .min = 1,
     .max = 1000000000},
};
static const sg_cfg_map_t s_retry_map = {.where = "in a sink's retry", .keys = s_retry_keys,
                                         .n_keys = SG_CFG_COUNT(s_retry_keys),
                                         .size = sizeof(sg_retry_cfg_t),
                                         .check = s_check_retry};

static const sg_cfg_key_t s_sink_keys[] = {
    {.name = "name", .set = sg_cfg_set_str, .offset = offsetof(sg_sink_cfg_t, name),
     .required = true},
    {.name = "plugin", .set = sg_cfg_set_str, .offset = offsetof(sg_sink_cfg_t, plugin),
     .required = true},
    {.name = "path", .set = sg_cfg_set_str, .offset = offsetof(sg_sink_cfg_t, path)},
    {.name = "options", .set = s_set_options},
    {.name = "kinds", .set = s_set_route_kinds},
    {.name = "min_severity", .set = s_set_min_severity,
     .offset = offsetof(sg_sink_cfg_t, min_severity)},
    {.name = "group", .set = sg_cfg_set_duration, .offset = offsetof(sg_sink_cfg_t, group_ms)},
    {.name = "fallback", .set = sg_cfg_set_str, .offset = offsetof(sg_sink_cfg_t, fallback)},
    {.name = "retry", .set = sg_cfg_set_map, .offset = offsetof(sg_sink_cfg_t, retry),
     .sub = &s_retry_map},
};
static const sg_cfg_map_t s_sink_map = {.where = "in a sink", .keys = s_sink_keys,
                                        .n_keys = SG_CFG_COUNT(s_sink_keys),
                                        .size = sizeof(sg_sink_cfg_t), .init = s_sink_init,
                                        .check = s_check_sink};

/* A fallback names another configured sink. */
static void s_check_fallbacks(sg_cfg_t *ctx, const sg_sink_cfg_t *sinks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const sg_sink_cfg_t *s = &sinks[i];
        if (!s->fallback)
            continue;
        size_t k = 0;
        while (k < n && !(sinks[k].name && strcmp(sinks[k].name, s->fallback) == 0))
            k++;
        if (k == n)
            sg_cfg_err_at(ctx, &s->mark, "sink '%s': fallback '%s' is not a configured sink",
                          s->name ? s->name : "?", s->fallback);
        else if (k == i)
            sg_cfg_err_at(ctx, &s->mark, "sink '%s' cannot be its own fallback",
                          s->name ? s->name : "?");
    }
}

void sg_sinks_conf_set(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    size_t n;
    const sg_sink_cfg_t *sinks = sg_cfg_read_list(ctx, key, value, obj, &s_sink_map, &n);
    sg_cfg_check_unique(ctx, sinks, n, sizeof *sinks, offsetof(sg_sink_cfg_t, name),
                        offsetof(sg_sink_cfg_t, mark), "sink name");
    s_check_fallbacks(ctx, sinks, n);
}

void sg_sinks_conf_free(sg_sink_cfg_t *sinks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(sinks[i].name);
        free(sinks[i].plugin);
        free(sinks[i].path);
        free(sinks[i].fallback);
        for (size_t k = 0; k < sinks[i].n_options; k++) {
            free(sinks[i].options[k].key);
            free(sinks[i].options[k].value);
        }
        free(sinks[i].options);
    }
    free(sinks);
}
