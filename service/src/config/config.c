/* Configuration: the YAML file, parsed and checked (see config.h).
 *
 * The root table below names each top-level key and the module that reads
 * it; walk.c does the walking and the error lines. Keys are read in table
 * order, so a section that others refer to is read before them. Defaults
 * that depend on several sections are set once the whole file is read
 * (s_check_root). */
#include "config/config.h"

#include "base/err.h"
#include "base/log.h"
#include "base/str.h"
#include "platform/platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_set_log_level(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                            void *obj)
{
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    sg_log_level_t level;
    if (!text)
        return;
    if (sg_log_parse_level(text, &level) != SG_OK) {
        sg_cfg_err(ctx, value, "bad value '%s' for '%s': expected one of: error, warn, info, debug",
                   text, key->name);
        return;
    }
    *(sg_log_level_t *)sg_cfg_field(key, obj) = level;
}

static void s_set_log_format(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                             void *obj)
{
    static const char *const names[] = {"text", "json", NULL};
    sg_cfg_set_enum(ctx, key, value, obj, names, "text, json");
}

/* Whether the file asks for the wmi provider: the kind read, or the kind
 * written when it was refused (a build without the wmi provider reports
 * that once, at the kind, and not again at every site's wmi block). */
static bool s_wmi_provider(const sg_cfg_t *ctx, sg_cfg_node_t *root, const sg_config_t *cfg)
{
    if (cfg->provider.kind && strcmp(cfg->provider.kind, "wmi") == 0)
        return true;
    sg_cfg_node_t *provider = sg_cfg_value_of(ctx, root, "provider");
    sg_cfg_node_t *kind = provider && sg_cfg_is_map(provider)
                              ? sg_cfg_value_of(ctx, provider, "kind")
                              : NULL;
    return kind && sg_cfg_is_scalar(kind) && strcmp(sg_cfg_text(kind), "wmi") == 0;
}

/* Defaults that depend on what else the file says, once it is read. */
static void s_check_root(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj, const sg_cfg_read_t *read)
{
    sg_config_t *cfg = obj;
    sg_policy_conf_resolve_sites(ctx, cfg->sites, cfg->n_sites, s_wmi_provider(ctx, node, cfg));
    sg_journal_conf_resolve(ctx, &cfg->journal);
    sg_leader_conf_resolve(ctx, &cfg->leader);
    sg_policy_conf_resolve(ctx, sg_cfg_value_of(ctx, node, "policy"), &cfg->policy);
    sg_bus_conf_resolve(ctx, sg_cfg_value_of(ctx, node, "bus"), &cfg->bus);
}

/* Order matters: keys are read in this order (sites before what refers to
 * them, collections before provider faults). */
static const sg_cfg_key_t s_root_keys[] = {
    {.name = "log_level", .set = s_set_log_level, .offset = offsetof(sg_config_t, log_level)},
    {.name = "plugin_dir", .set = sg_cfg_set_str, .offset = offsetof(sg_config_t, plugin_dir)},
    {.name = "bus", .set = sg_cfg_set_map, .offset = offsetof(sg_config_t, bus),
     .sub = &sg_bus_conf_map},
    {.name = "sites", .set = sg_policy_conf_set_sites, .offset = offsetof(sg_config_t, sites),
     .count_offset = offsetof(sg_config_t, n_sites), .required = true},
    {.name = "observers", .set = sg_policy_conf_set_observers,
     .offset = offsetof(sg_config_t, observers),
     .count_offset = offsetof(sg_config_t, n_observers), .required = true},
    {.name = "collections", .set = sg_policy_conf_set_collections,
     .offset = offsetof(sg_config_t, collections),
     .count_offset = offsetof(sg_config_t, n_collections), .required = true},
    {.name = "policy", .set = sg_cfg_set_map, .offset = offsetof(sg_config_t, policy),
     .sub = &sg_policy_conf_policy_map},
    {.name = "provider", .set = sg_cfg_set_map, .offset = offsetof(sg_config_t, provider),
     .sub = &sg_provider_conf_map},
    {.name = "plan", .set = sg_cfg_set_map, .offset = offsetof(sg_config_t, plan),
     .sub = &sg_policy_conf_plan_map},
    {.name = "journal", .set = sg_cfg_set_map, .offset = offsetof(sg_config_t, journal),
     .sub = &sg_journal_conf_map},
    {.name = "sinks", .set = sg_sinks_conf_set, .offset = offsetof(sg_config_t, sinks),
     .count_offset = offsetof(sg_config_t, n_sinks)},
    {.name = "control", .set = sg_cfg_set_map, .offset = offsetof(sg_config_t, control),
     .sub = &sg_control_conf_map},
    {.name = "metrics", .set = sg_cfg_set_map, .offset = offsetof(sg_config_t, metrics),
     .sub = &sg_metrics_conf_map},
    {.name = "leader", .set = sg_cfg_set_map, .offset = offsetof(sg_config_t, leader),
     .sub = &sg_leader_conf_map},
    {.name = "log_format", .set = s_set_log_format, .offset = offsetof(sg_config_t, log_format)},
    {.name = "drills", .set = sg_drill_conf_set, .offset = offsetof(sg_config_t, drills),
     .count_offset = offsetof(sg_config_t, n_drills)},
};
static const sg_cfg_map_t s_root_map = {.where = "at the top level", .keys = s_root_keys,
                                        .n_keys = SG_CFG_COUNT(s_root_keys),
                                        .size = sizeof(sg_config_t), .check = s_check_root};

static void s_defaults(sg_cfg_t *ctx, sg_config_t *cfg)
{
    cfg->log_level = SG_LOG_INFO;
    sg_policy_conf_defaults(&cfg->policy);
    sg_provider_conf_defaults(ctx, &cfg->provider);
    sg_bus_conf_defaults(&cfg->bus);
    sg_leader_conf_defaults(ctx, &cfg->leader);
    sg_journal_conf_defaults(&cfg->journal);
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                   */

/* cfg->digest of the config's text; a digest the platform cannot compute is
 * left NULL (logged), only memory is an error. */
static int s_digest(sg_config_t *cfg, const char *text, size_t len)
{
    char hex[65];
    if (sg_platform_sha256_hex(text, len, hex) != SG_OK) {
        sg_warn("config", "%s: cannot compute the SHA-256 of the file: drill reports will not "
                          "name it", cfg->path);
        return SG_OK;
    }
    cfg->digest = sg_strdupf("sha256:%s", hex);
    return cfg->digest ? SG_OK : SG_ENOMEM;
}

int sg_config_load_string(const char *name, const char *text, size_t len, sg_config_t **out,
                          sg_config_errors_t *errs)
{
    sg_cfg_t *ctx = NULL;
    int rc = SG_ENOMEM;
    *out = NULL;
    sg_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->path = strdup(name ? name : "<string>")) ||
        !(ctx = sg_cfg_new(cfg->path)))
        goto fail;
    s_defaults(ctx, cfg);
    if (sg_cfg_status(ctx) == SG_OK)
        sg_cfg_walk_text(ctx, text ? text : "", text ? len : 0, &s_root_map, cfg,
                         "the file is empty: expected a mapping with sites, observers and "
                         "collections");
    rc = sg_cfg_finish(ctx, errs);
    if (rc != SG_OK)
        goto fail;
    rc = s_digest(cfg, text ? text : "", text ? len : 0);
    if (rc != SG_OK)
        goto fail;
    sg_cfg_destroy(&ctx);
    *out = cfg;
    return SG_OK;
fail:
    sg_cfg_destroy(&ctx);
    sg_config_destroy(&cfg);
    return rc;
}

/* Reads a whole file; returns 0, SG_EIO (errno set) or SG_ENOMEM. */
static int s_read_file(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, n = 0;
    char *buf = NULL;
    int rc = SG_EIO;
    if (!f)
        return SG_EIO;
    for (;;) {
        char *bigger = realloc(buf, cap);
        if (!bigger) {
            rc = SG_ENOMEM;
            goto fail;
        }
        buf = bigger;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
    }
    if (ferror(f)) {
        errno = errno ? errno : EIO;
        goto fail;
    }
    fclose(f);
    *text = buf;
    *len = n;
    return SG_OK;
fail:
    free(buf);
    fclose(f);
    return rc;
}

int sg_config_load_file(const char *path, sg_config_t **out, sg_config_errors_t *errs)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    errno = 0;
    int rc = s_read_file(path, &text, &len);
    if (rc == SG_EIO) {
        int e = errno;
        if (errs && sg_config_errors_add(errs, NULL, "%s: cannot read: %s", path, strerror(e)) !=
                        SG_OK)
            return SG_ENOMEM;
        return SG_EIO;
    }
    if (rc != SG_OK)
        return rc;
    rc = sg_config_load_string(path, text, len, out, errs);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Freeing and lookups                                                       */

void sg_config_destroy(sg_config_t **cfg)
{
    if (!cfg || !*cfg)
        return;
    sg_config_t *c = *cfg;
    sg_policy_conf_free_sites(c->sites, c->n_sites);
    sg_policy_conf_free_observers(c->observers, c->n_observers);
    sg_policy_conf_free_collections(c->collections, c->n_collections);
    sg_provider_conf_fini(&c->provider);
    sg_sinks_conf_free(c->sinks, c->n_sinks);
    sg_drill_conf_free(c->drills, c->n_drills);
    sg_policy_conf_fini(&c->policy);
    sg_bus_conf_fini(&c->bus);
    sg_control_conf_fini(&c->control);
    sg_metrics_conf_fini(&c->metrics);
    sg_leader_conf_fini(&c->leader);
    free(c->plugin_dir);
    sg_journal_conf_fini(&c->journal);
    free(c->path);
    free(c->digest);
    free(c);
    *cfg = NULL;
}

int sg_config_find_site(const sg_config_t *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->n_sites; i++)
        if (cfg->sites[i].name && strcmp(cfg->sites[i].name, name) == 0)
            return (int)i;
    return -1;
}

bool sg_config_replication_source(const sg_config_t *cfg, int c, int o)
{
    const sg_collection_cfg_t *cc = &cfg->collections[c];
    if (cc->n_replication_observers == 0)
        return cfg->observers[o].site == cc->site || cfg->observers[o].site == cc->replica_site;
    for (size_t i = 0; i < cc->n_replication_observers; i++)
        if (cc->replication_observers[i] == o)
            return true;
    return false;
}

int sg_config_find_observer(const sg_config_t *cfg, const char *id)
{
    for (size_t i = 0; id && i < cfg->n_observers; i++)
        if (cfg->observers[i].id && strcmp(cfg->observers[i].id, id) == 0)
            return (int)i;
    return -1;
}

int sg_config_find_collection(const sg_config_t *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->n_collections; i++)
        if (cfg->collections[i].name && strcmp(cfg->collections[i].name, name) == 0)
            return (int)i;
    return -1;
}

void sg_config_reverse(sg_config_t *cfg, int c)
{
    sg_collection_cfg_t *cc = &cfg->collections[c];
    int site = cc->site;
    cc->site = cc->replica_site;
    cc->replica_site = site;
    cc->reversed = !cc->reversed;
}

int sg_config_find_drill(const sg_config_t *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->n_drills; i++)
        if (cfg->drills[i].name && strcmp(cfg->drills[i].name, name) == 0)
            return (int)i;
    return -1;
}
