/* flap_conf: `policy.flapping`; see flap_conf.h. */
#include "policy/flap_conf.h"

#include <stddef.h>
#include <string.h>

static const sg_cfg_key_t s_flap_keys[] = {
    {.name = "changes", .set = sg_cfg_set_int, .offset = offsetof(sg_flap_cfg_t, changes),
     .min = 1, .max = SG_FLAP_CONF_MAX_CHANGES},
    {.name = "window", .set = sg_cfg_set_duration, .offset = offsetof(sg_flap_cfg_t, window_ms),
     .min = 1},
};
static const sg_cfg_map_t s_flap_map = {.where = "in policy.flapping", .keys = s_flap_keys,
                                        .n_keys = SG_CFG_COUNT(s_flap_keys),
                                        .size = sizeof(sg_flap_cfg_t)};

void sg_flap_conf_defaults(sg_flap_cfg_t *f)
{
    *f = (sg_flap_cfg_t){.off = false, .changes = 4, .window_ms = 60000};
}

/* Whether `text` is one of the NULL-terminated `words`. */
static bool s_one_of(const char *text, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(text, *words) == 0)
            return true;
    return false;
}

void sg_flap_conf_set(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    /* YAML 1.1's booleans, as sg_cfg_set_bool reads them */
    static const char *const off[] = {"off", "Off", "OFF", "false", "False", "FALSE",
                                      "no",  "No",  "NO",  NULL};
    static const char *const on[] = {"on", "On", "ON", "true", "True", "TRUE",
                                     "yes", "Yes", "YES", NULL};
    sg_flap_cfg_t *f = sg_cfg_field(key, obj);
    if (sg_cfg_is_null(value))
        return;
    if (sg_cfg_is_map(value)) {
        f->off = false;
        sg_cfg_walk_map(ctx, value, &s_flap_map, f, key->name, false);
        return;
    }
    const char *text = sg_cfg_is_scalar(value) ? sg_cfg_text(value) : NULL;
    if (text && (s_one_of(text, off) || s_one_of(text, on))) {
        f->off = s_one_of(text, off);
        return;
    }
    if (text)
        sg_cfg_err(ctx, value,
                   "bad value '%s' for '%s': expected off, on, or a mapping with changes and "
                   "window (e.g. {changes: 4, window: 60s})",
                   text, key->name);
    else
        sg_cfg_err(ctx, value,
                   "'%s' must be off, on, or a mapping with changes and window (e.g. "
                   "{changes: 4, window: 60s})",
                   key->name);
}
