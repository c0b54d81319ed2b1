/* drill_conf: the drills section of the config file (see drill_conf.h). */
#include "drill/drill_conf.h"

#include "base/err.h"
#include "drill/schedule.h"
#include "drill/tz.h"

#include <stdlib.h>
#include <string.h>

static void s_set_schedule(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                           void *obj)
{
    sg_cfg_set_str(ctx, key, value, obj);
    char **field = sg_cfg_field(key, obj);
    sg_schedule_t sched;
    char *why = NULL;
    if (!*field)
        return;
    int rc = sg_schedule_parse(*field, &sched, &why);
    if (rc == SG_ENOMEM)
        sg_cfg_oom(ctx);
    else if (rc != SG_OK)
        sg_cfg_err(ctx, value, "bad schedule: %s", why ? why : "not a schedule");
    free(why);
}

static void s_set_timezone(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                           void *obj)
{
    sg_cfg_set_str(ctx, key, value, obj);
    char **field = sg_cfg_field(key, obj);
    sg_tz_t *tz = NULL;
    if (!*field)
        return;
    int rc = sg_tz_open(*field, &tz);
    sg_tz_close(&tz);
    if (rc == SG_ENOMEM)
        sg_cfg_oom(ctx);
    else if (rc != SG_OK)
        sg_cfg_err(ctx, value,
                   "unknown time zone '%s': expected UTC, a fixed offset like +01:00 or a zone "
                   "like %s", *field, sg_tz_example());
}

/* `plan: all` or `plan: site NAME`. */
static void s_set_drill_plan(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                             void *obj)
{
    sg_drill_cfg_t *d = obj;
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    if (!text)
        return;
    if (strcmp(text, "all") == 0) {
        d->plan = SG_DRILL_ALL;
    } else if (strncmp(text, "site ", 5) == 0) {
        d->plan = SG_DRILL_SITE;
        d->plan_site = sg_cfg_names_find(ctx, SG_CFG_SITES, text + 5);
        if (d->plan_site < 0)
            sg_cfg_err(ctx, value, "site '%s' is not defined in sites", text + 5);
    } else {
        sg_cfg_err(ctx, value, "bad value '%s' for '%s': expected all or site NAME", text,
                   key->name);
    }
}

static void s_set_drill_collections(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                                    void *obj)
{
    sg_drill_cfg_t *d = obj;
    size_t n;
    if (!sg_cfg_list(ctx, value, key->name, &n) || n == 0)
        return;
    if (!(d->collections = calloc(n, sizeof *d->collections))) {
        sg_cfg_oom(ctx);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        sg_cfg_node_t *item = sg_cfg_item(ctx, value, i);
        const char *text = item ? sg_cfg_scalar(ctx, item, key->name, true) : NULL;
        int c = text ? sg_cfg_names_find(ctx, SG_CFG_COLLECTIONS, text) : -1;
        if (text && c < 0)
            sg_cfg_err(ctx, item, "collection '%s' is not defined in collections", text);
        else if (c >= 0)
            d->collections[d->n_collections++] = c;
    }
}

/* The collections' rule (policy_conf.h). */
static void s_set_drill_rp(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                           void *obj)
{
    sg_drill_cfg_t *d = obj;
    if (sg_policy_conf_read_rp(ctx, key, value, &d->recovery_point, &d->recovery_point_path))
        d->rp_set = true;
}

static void s_set_after(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    if (text && strcmp(text, "revert") != 0)
        sg_cfg_err(ctx, value, "bad value '%s' for '%s': a drill always ends with revert", text,
                   key->name);
}

static const sg_cfg_key_t s_objective_keys[] = {
    {.name = "rto", .set = sg_cfg_set_duration, .offset = offsetof(sg_drill_cfg_t, rto_ms),
     .min = 1},
    {.name = "rpo", .set = sg_cfg_set_duration, .offset = offsetof(sg_drill_cfg_t, rpo_ms),
     .min = 1},
};
static const sg_cfg_map_t s_objective_map = {.where = "in a drill's objectives",
                                             .keys = s_objective_keys,
                                             .n_keys = SG_CFG_COUNT(s_objective_keys),
                                             .size = sizeof(sg_drill_cfg_t)};

static void s_drill_init(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj)
{
    sg_drill_cfg_t *d = obj;
    d->mark = sg_cfg_mark(ctx, node);
    d->plan_site = -1;
}

static void s_check_drill(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj,
                          const sg_cfg_read_t *read)
{
    bool list = sg_cfg_value_of(ctx, node, "collections");
    bool plan = sg_cfg_value_of(ctx, node, "plan");
    if (list && plan)
        sg_cfg_err(ctx, node, "a drill names either 'collections' or a 'plan', not both");
    else if (!list && !plan)
        sg_cfg_err(ctx, node, "a drill needs 'collections' or 'plan' (all, or site NAME)");
}

static const sg_cfg_key_t s_drill_keys[] = {
    {.name = "name", .set = sg_cfg_set_str, .offset = offsetof(sg_drill_cfg_t, name),
     .required = true},
    {.name = "schedule", .set = s_set_schedule, .offset = offsetof(sg_drill_cfg_t, schedule)},
    {.name = "timezone", .set = s_set_timezone, .offset = offsetof(sg_drill_cfg_t, timezone)},
    {.name = "collections", .set = s_set_drill_collections},
    {.name = "plan", .set = s_set_drill_plan},
    {.name = "recovery_point", .set = s_set_drill_rp},
    {.name = "objectives", .set = sg_cfg_set_map, .sub = &s_objective_map},
    {.name = "blackout", .set = sg_window_set_list, .offset = offsetof(sg_drill_cfg_t, blackout),
     .count_offset = offsetof(sg_drill_cfg_t, n_blackout)},
    {.name = "after", .set = s_set_after},
    {.name = "run_at_start", .set = sg_cfg_set_bool,
     .offset = offsetof(sg_drill_cfg_t, run_at_start)},
};
static const sg_cfg_map_t s_drill_map = {.where = "in a drill", .keys = s_drill_keys,
                                         .n_keys = SG_CFG_COUNT(s_drill_keys),
                                         .size = sizeof(sg_drill_cfg_t), .init = s_drill_init,
                                         .check = s_check_drill};

void sg_drill_conf_set(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    size_t n;
    const sg_drill_cfg_t *drills = sg_cfg_read_list(ctx, key, value, obj, &s_drill_map, &n);
    sg_cfg_check_unique(ctx, drills, n, sizeof *drills, offsetof(sg_drill_cfg_t, name),
                        offsetof(sg_drill_cfg_t, mark), "drill name");
}

void sg_drill_conf_free(sg_drill_cfg_t *drills, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(drills[i].name);
        free(drills[i].schedule);
        free(drills[i].timezone);
        free(drills[i].collections);
        free(drills[i].recovery_point_path);
        sg_window_free_list(drills[i].blackout, drills[i].n_blackout);
    }
    free(drills);
}
