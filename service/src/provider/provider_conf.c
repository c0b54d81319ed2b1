/* provider_conf: the provider section of the config file (see provider_conf.h). */
#include "provider/provider_conf.h"

#include "base/err.h"
#include "platform/platform.h"
#include "provider/provider.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The name of a `noun` of `kind` (defined in section `where`), kept as
 * text after checking that it is defined. */
static void s_set_ref(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj,
                      sg_cfg_kind_t kind, const char *noun, const char *where)
{
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    if (sg_cfg_names_find(ctx, kind, text) < 0)
        sg_cfg_err(ctx, value, "%s '%s' is not defined in %s", noun, text, where);
    else
        *(char **)sg_cfg_field(key, obj) = sg_cfg_strdup(ctx, text);
}

static void s_set_collection_ref(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                                 void *obj)
{
    s_set_ref(ctx, key, value, obj, SG_CFG_COLLECTIONS, "collection", "collections");
}

static void s_set_site_ref(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                           void *obj)
{
    s_set_ref(ctx, key, value, obj, SG_CFG_SITES, "site", "sites");
}

static void s_set_method(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    sg_method_t m;
    if (!text)
        return;
    if (sg_method_parse(text, &m) == SG_OK) {
        *(char **)sg_cfg_field(key, obj) = sg_cfg_strdup(ctx, text);
        return;
    }
    char names[256] = "";
    for (int i = 0; i < SG_METHOD_COUNT; i++) {
        if (i > 0)
            strncat(names, ", ", sizeof names - strlen(names) - 1);
        strncat(names, sg_method_name((sg_method_t)i), sizeof names - strlen(names) - 1);
    }
    sg_cfg_err(ctx, value, "unknown method '%s' (expected one of: %s)", text, names);
}

/* health: what GetReplicationStatistics reports as the replication's health. */
static void s_set_health(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    if (strcmp(text, "warning") == 0)
        *(int *)sg_cfg_field(key, obj) = SG_HEALTH_WARNING;
    else if (strcmp(text, "critical") == 0)
        *(int *)sg_cfg_field(key, obj) = SG_HEALTH_CRITICAL;
    else
        sg_cfg_err(ctx, value, "bad value '%s' for 'health': expected one of: warning, critical",
                   text);
}

/* A fault either answers calls (exactly one call effect, optionally for one
 * method and a number of times), changes what the collection's replication
 * reports (health and/or lag, on every read), or makes a site's cluster
 * unreachable (optionally a number of times). */
static void s_check_fault(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj,
                          const sg_cfg_read_t *read)
{
    const sg_sim_fault_cfg_t *f = obj;
    static const char *const keys[] = {"return_code", "job_error_code", "job_warnings", "hang",
                                       "health", "lag", "method", "times", "unreachable",
                                       "collection"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!sg_cfg_read_ok(read, keys[i]))
            return;
    }
    int effects = (f->return_code != 0) + (f->job_error_code != 0) + (f->job_warnings != NULL) +
                  (f->hang ? 1 : 0);
    bool replication = f->health != 0 || f->lag_ms > 0;
    if (f->unreachable && (effects > 0 || replication || f->method || f->collection))
        sg_cfg_err(ctx, node, "an unreachable fault is about a site's cluster, every operation on "
                              "it: it takes only times, no collection, method, return_code, "
                              "job_error_code, job_warnings, hang, health or lag");
    else if (f->unreachable)
        return;
    else if (replication && (effects > 0 || f->method || f->times))
        sg_cfg_err(ctx, node, "a health or lag fault is about the collection's replication, not "
                              "its calls: it takes no return_code, job_error_code, job_warnings, "
                              "hang, method or times");
    else if (!replication && effects != 1)
        sg_cfg_err(ctx, node, "a fault needs exactly one of: a non-zero return_code, a non-zero "
                              "job_error_code, job_warnings, hang: true; or health and/or lag; or unreachable: SITE");
}

static void s_fault_init(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj)
{
    ((sg_sim_fault_cfg_t *)obj)->mark = sg_cfg_mark(ctx, node);
}

static const sg_cfg_key_t s_fault_keys[] = {
    {.name = "collection", .set = s_set_collection_ref,
     .offset = offsetof(sg_sim_fault_cfg_t, collection)},
    {.name = "method", .set = s_set_method, .offset = offsetof(sg_sim_fault_cfg_t, method)},
    {.name = "return_code", .set = sg_cfg_set_u32,
     .offset = offsetof(sg_sim_fault_cfg_t, return_code), .min = 0, .max = UINT32_MAX},
    {.name = "job_error_code", .set = sg_cfg_set_u32,
     .offset = offsetof(sg_sim_fault_cfg_t, job_error_code), .min = 0, .max = UINT32_MAX},
    {.name = "job_warnings", .set = sg_cfg_set_str,
     .offset = offsetof(sg_sim_fault_cfg_t, job_warnings)},
    {.name = "hang", .set = sg_cfg_set_bool, .offset = offsetof(sg_sim_fault_cfg_t, hang)},
    {.name = "times", .set = sg_cfg_set_int, .offset = offsetof(sg_sim_fault_cfg_t, times),
     .min = 0, .max = 1000000},
    {.name = "health", .set = s_set_health, .offset = offsetof(sg_sim_fault_cfg_t, health)},
    {.name = "lag", .set = sg_cfg_set_duration, .offset = offsetof(sg_sim_fault_cfg_t, lag_ms),
     .min = 1},
    {.name = "unreachable", .set = s_set_site_ref,
     .offset = offsetof(sg_sim_fault_cfg_t, unreachable)},
};
static const sg_cfg_map_t s_fault_map = {.where = "in a fault", .keys = s_fault_keys,
                                         .n_keys = SG_CFG_COUNT(s_fault_keys),
                                         .size = sizeof(sg_sim_fault_cfg_t),
                                         .init = s_fault_init, .check = s_check_fault};

static const sg_cfg_key_t s_sim_keys[] = {
    {.name = "call_latency", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_sim_cfg_t, call_latency_ms), .min = 0},
    {.name = "job_duration", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_sim_cfg_t, job_duration_ms), .min = 0},
    {.name = "job_removal", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_sim_cfg_t, job_removal_ms), .min = 0},
    {.name = "state_file", .set = sg_cfg_set_str, .offset = offsetof(sg_sim_cfg_t, state_file)},
    {.name = "replication_lag", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_sim_cfg_t, replication_lag_ms), .min = 0},
    {.name = "point_interval", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_sim_cfg_t, point_interval_ms), .min = 1},
    {.name = "points_kept", .set = sg_cfg_set_int, .offset = offsetof(sg_sim_cfg_t, points_kept),
     .min = 1, .max = SG_SIM_POINTS_KEPT_MAX},
    {.name = "app_consistent_every", .set = sg_cfg_set_int,
     .offset = offsetof(sg_sim_cfg_t, app_consistent_every), .min = 1, .max = 1000},
    {.name = "faults", .set = sg_cfg_set_items, .offset = offsetof(sg_sim_cfg_t, faults),
     .count_offset = offsetof(sg_sim_cfg_t, n_faults), .sub = &s_fault_map},
};
static const sg_cfg_map_t s_sim_map = {.where = "in provider.sim", .keys = s_sim_keys,
                                       .n_keys = SG_CFG_COUNT(s_sim_keys),
                                       .size = sizeof(sg_sim_cfg_t)};

static void s_set_kind(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    char **field = sg_cfg_field(key, obj);
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    if (strcmp(text, "wsman") == 0 || (strcmp(text, "wmi") == 0 && !sg_provider_built("wmi"))) {
        sg_cfg_err(ctx, value, "provider '%s' is not built into this version%s", text,
                   strcmp(text, "wmi") == 0 ? " (the WMI provider is part of the Windows build)"
                                            : "");
    } else if (strcmp(text, "sim") != 0 && strcmp(text, "wmi") != 0) {
        sg_cfg_err(ctx, value, "unknown provider kind '%s' (expected one of: sim, wmi, wsman)",
                   text);
    } else {
        free(*field);
        *field = sg_cfg_strdup(ctx, text);
    }
}

static void s_check_provider(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj,
                             const sg_cfg_read_t *read)
{
    const sg_provider_cfg_t *p = obj;
    if (!sg_cfg_read_ok(read, "poll_initial") || !sg_cfg_read_ok(read, "poll_max") ||
        p->poll_initial_ms <= p->poll_max_ms)
        return;
    sg_cfg_node_t *at = sg_cfg_value_of(ctx, node, "poll_initial");
    sg_cfg_err(ctx, at ? at : sg_cfg_value_of(ctx, node, "poll_max"),
               "poll_initial (%" PRId64 " ms) must not exceed poll_max (%" PRId64 " ms)",
               p->poll_initial_ms, p->poll_max_ms);
}

/* password_env: the WMI password from an environment variable. */
static void s_set_password_env(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                               void *obj)
{
    sg_wmi_cfg_t *w = obj;
    const char *name = sg_cfg_scalar(ctx, value, key->name, false);
    if (!name)
        return;
    const char *pw = getenv(name);
    if (!pw) {
        sg_cfg_err(ctx, value, "environment variable %s (password_env) is not set", name);
        return;
    }
    free(w->password);
    w->password = sg_cfg_strdup(ctx, pw);
}

static const sg_cfg_key_t s_wmi_keys[] = {
    {.name = "host", .set = sg_cfg_set_str, .offset = offsetof(sg_wmi_cfg_t, host)},
    {.name = "namespace", .set = sg_cfg_set_str, .offset = offsetof(sg_wmi_cfg_t, name_space)},
    {.name = "user", .set = sg_cfg_set_str, .offset = offsetof(sg_wmi_cfg_t, user)},
    {.name = "password", .set = sg_cfg_set_str, .offset = offsetof(sg_wmi_cfg_t, password)},
    {.name = "password_env", .set = s_set_password_env},
    {.name = "call_timeout", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_wmi_cfg_t, call_timeout_ms), .min = 1},
};
static const sg_cfg_map_t s_wmi_map = {.where = "in provider.wmi", .keys = s_wmi_keys,
                                       .n_keys = SG_CFG_COUNT(s_wmi_keys),
                                       .size = sizeof(sg_wmi_cfg_t)};

/* A site's connection: user and password_env name one account, so one
 * without the other is a mistake (a site never borrows provider.wmi's). */
static void s_check_site_wmi(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj,
                             const sg_cfg_read_t *read)
{
    const sg_wmi_cfg_t *w = obj;
    if (!sg_cfg_read_ok(read, "user") || !sg_cfg_read_ok(read, "password_env"))
        return;
    bool user = w->user != NULL, password = sg_cfg_value_of(ctx, node, "password_env") != NULL;
    if (user && !password)
        sg_cfg_err(ctx, sg_cfg_value_of(ctx, node, "user"),
                   "a site's wmi user needs password_env (the variable that holds its password)");
    else if (!user && password)
        sg_cfg_err(ctx, sg_cfg_value_of(ctx, node, "password_env"),
                   "a site's wmi password_env needs user (the account it is the password of)");
}

static const sg_cfg_key_t s_site_wmi_keys[] = {
    {.name = "host", .set = sg_cfg_set_str, .offset = offsetof(sg_wmi_cfg_t, host),
     .required = true},
    {.name = "namespace", .set = sg_cfg_set_str, .offset = offsetof(sg_wmi_cfg_t, name_space)},
    {.name = "user", .set = sg_cfg_set_str, .offset = offsetof(sg_wmi_cfg_t, user)},
    {.name = "password_env", .set = s_set_password_env},
};
const sg_cfg_map_t sg_provider_conf_site_wmi_map = {
    .where = "in a site's wmi", .keys = s_site_wmi_keys, .n_keys = SG_CFG_COUNT(s_site_wmi_keys),
    .size = sizeof(sg_wmi_cfg_t), .check = s_check_site_wmi};

static const sg_cfg_key_t s_provider_keys[] = {
    {.name = "kind", .set = s_set_kind, .offset = offsetof(sg_provider_cfg_t, kind)},
    {.name = "workers", .set = sg_cfg_set_int, .offset = offsetof(sg_provider_cfg_t, workers),
     .min = 1, .max = 256},
    {.name = "job_timeout", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_provider_cfg_t, job_timeout_ms), .min = 1},
    {.name = "poll_initial", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_provider_cfg_t, poll_initial_ms), .min = 1},
    {.name = "poll_max", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_provider_cfg_t, poll_max_ms), .min = 1},
    {.name = "max_attempts", .set = sg_cfg_set_int,
     .offset = offsetof(sg_provider_cfg_t, max_attempts), .min = 1, .max = 100},
    {.name = "sim", .set = sg_cfg_set_map, .offset = offsetof(sg_provider_cfg_t, sim),
     .sub = &s_sim_map},
    {.name = "wmi", .set = sg_cfg_set_map, .offset = offsetof(sg_provider_cfg_t, wmi),
     .sub = &s_wmi_map},
};
const sg_cfg_map_t sg_provider_conf_map = {.where = "in provider", .keys = s_provider_keys,
                                           .n_keys = SG_CFG_COUNT(s_provider_keys),
                                           .size = sizeof(sg_provider_cfg_t),
                                           .check = s_check_provider};

void sg_provider_conf_defaults(sg_cfg_t *ctx, sg_provider_cfg_t *p)
{
    p->kind = sg_cfg_strdup(ctx, "sim");
    p->workers = 4;
    p->job_timeout_ms = 30 * 60 * 1000;
    p->poll_initial_ms = 250;
    p->poll_max_ms = 5000;
    p->max_attempts = 3;
    p->sim.call_latency_ms = 20;
    p->sim.job_duration_ms = 2000;
    p->sim.job_removal_ms = 5 * 60 * 1000; /* Hyper-V's TimeBeforeRemoval default */
    p->sim.replication_lag_ms = 30 * 1000;
    p->sim.point_interval_ms = SG_SIM_POINT_INTERVAL_DEFAULT_MS;
    p->sim.points_kept = SG_SIM_POINTS_KEPT_DEFAULT;
    p->sim.app_consistent_every = SG_SIM_APP_EVERY_DEFAULT;
    p->wmi.call_timeout_ms = 60 * 1000;
}

void sg_provider_conf_fini(sg_provider_cfg_t *p)
{
    free(p->kind);
    free(p->sim.state_file);
    for (size_t i = 0; i < p->sim.n_faults; i++) {
        free(p->sim.faults[i].collection);
        free(p->sim.faults[i].method);
        free(p->sim.faults[i].job_warnings);
        free(p->sim.faults[i].unreachable);
    }
    free(p->sim.faults);
    sg_provider_conf_wmi_fini(&p->wmi);
}

void sg_provider_conf_wmi_fini(sg_wmi_cfg_t *w)
{
    free(w->host);
    free(w->name_space);
    free(w->user);
    if (w->password)
        sg_platform_secure_zero(w->password, strlen(w->password));
    free(w->password);
    w->host = w->name_space = w->user = w->password = NULL;
}
