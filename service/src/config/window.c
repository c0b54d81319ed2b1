/* window: maintenance and blackout windows of the config file (see window.h). */
#include "config/window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A list of site names, resolved to indices. */
static void s_site_entry(sg_cfg_t *ctx, sg_cfg_node_t *item, const char *text, void *list,
                         void *arg)
{
    size_t *count = arg;
    int site = sg_cfg_names_find(ctx, SG_CFG_SITES, text);
    if (site < 0)
        sg_cfg_err(ctx, item, "site '%s' is not defined in sites", text);
    else
        ((int *)list)[(*count)++] = site;
}

static void s_set_site_list(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                            void *obj)
{
    size_t *count = (size_t *)((char *)obj + key->count_offset);
    sg_cfg_each_entry(ctx, key, value, sizeof(int), (void **)sg_cfg_field(key, obj), s_site_entry,
                      count);
}

static void s_set_days(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    static const char *const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    size_t n;
    if (!sg_cfg_list(ctx, value, key->name, &n))
        return;
    unsigned *days = sg_cfg_field(key, obj);
    for (size_t i = 0; i < n; i++) {
        sg_cfg_node_t *item = sg_cfg_item(ctx, value, i);
        const char *text = item ? sg_cfg_scalar(ctx, item, key->name, true) : NULL;
        if (!text)
            continue;
        size_t d = 0;
        while (d < SG_CFG_COUNT(names) && strcmp(text, names[d]) != 0)
            d++;
        if (d == SG_CFG_COUNT(names))
            sg_cfg_err(ctx, item,
                       "bad day '%s': expected one of: mon, tue, wed, thu, fri, sat, sun", text);
        else
            *days |= 1u << d;
    }
}

/* "HH:MM", UTC, as minutes after midnight. */
static void s_set_time_of_day(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                              void *obj)
{
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    int h, m;
    char tail;
    if (!text)
        return;
    if (sscanf(text, "%2d:%2d%c", &h, &m, &tail) != 2 || h < 0 || h > 24 || m < 0 || m > 59 ||
        (h == 24 && m != 0) || strlen(text) != 5) {
        sg_cfg_err(ctx, value, "bad value '%s' for '%s': expected a UTC time of day like 02:30",
                   text, key->name);
        return;
    }
    *(int *)sg_cfg_field(key, obj) = h * 60 + m;
}

/* "2026-12-01T02:00:00Z", as Unix milliseconds. */
static void s_set_timestamp(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                            void *obj)
{
    const char *text = sg_cfg_scalar(ctx, value, key->name, false);
    struct tm tm;
    char tail;
    if (!text)
        return;
    memset(&tm, 0, sizeof tm);
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2dZ%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &tail) != 6 || tm.tm_mon < 1 ||
        tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60) {
        sg_cfg_err(ctx, value,
                   "bad value '%s' for '%s': expected a UTC time like 2026-12-01T02:00:00Z",
                   text, key->name);
        return;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *(int64_t *)sg_cfg_field(key, obj) = (int64_t)timegm(&tm) * 1000;
}

static void s_window_init(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj)
{
    sg_window_cfg_t *w = obj;
    w->mark = sg_cfg_mark(ctx, node);
    w->from_min = -1;
    w->to_min = -1;
}

static void s_check_window(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj,
                           const sg_cfg_read_t *read)
{
    const sg_window_cfg_t *w = obj;
    bool weekly = sg_cfg_value_of(ctx, node, "from") || sg_cfg_value_of(ctx, node, "to") ||
                  sg_cfg_value_of(ctx, node, "days");
    bool once = sg_cfg_value_of(ctx, node, "start") || sg_cfg_value_of(ctx, node, "end");
    if (weekly && once) {
        sg_cfg_err(ctx, node, "a maintenance window is either weekly (days, from, to) or once "
                              "(start, end), not both");
    } else if (once) {
        if (!sg_cfg_value_of(ctx, node, "start") || !sg_cfg_value_of(ctx, node, "end"))
            sg_cfg_err(ctx, node, "a one-off maintenance window needs both 'start' and 'end'");
        else if (sg_cfg_read_ok(read, "start") && sg_cfg_read_ok(read, "end") &&
                 w->end_ms <= w->start_ms)
            sg_cfg_err(ctx, sg_cfg_value_of(ctx, node, "end"), "'end' must be after 'start'");
    } else if (!sg_cfg_value_of(ctx, node, "from") || !sg_cfg_value_of(ctx, node, "to")) {
        sg_cfg_err(ctx, node, "a maintenance window needs 'from' and 'to' (weekly) or 'start' "
                              "and 'end' (once)");
    } else if (sg_cfg_read_ok(read, "from") && sg_cfg_read_ok(read, "to") &&
               w->from_min == w->to_min) {
        sg_cfg_err(ctx, sg_cfg_value_of(ctx, node, "to"), "'to' must differ from 'from'");
    }
}

static const sg_cfg_key_t s_window_keys[] = {
    {.name = "sites", .set = s_set_site_list, .offset = offsetof(sg_window_cfg_t, sites),
     .count_offset = offsetof(sg_window_cfg_t, n_sites)},
    {.name = "days", .set = s_set_days, .offset = offsetof(sg_window_cfg_t, days)},
    {.name = "from", .set = s_set_time_of_day, .offset = offsetof(sg_window_cfg_t, from_min)},
    {.name = "to", .set = s_set_time_of_day, .offset = offsetof(sg_window_cfg_t, to_min)},
    {.name = "start", .set = s_set_timestamp, .offset = offsetof(sg_window_cfg_t, start_ms)},
    {.name = "end", .set = s_set_timestamp, .offset = offsetof(sg_window_cfg_t, end_ms)},
    {.name = "reason", .set = sg_cfg_set_str, .offset = offsetof(sg_window_cfg_t, reason)},
};
static const sg_cfg_map_t s_window_map = {
    .where = "in a maintenance window", .keys = s_window_keys,
    .n_keys = SG_CFG_COUNT(s_window_keys), .size = sizeof(sg_window_cfg_t),
    .init = s_window_init, .check = s_check_window};

void sg_window_set_list(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    size_t n;
    sg_cfg_read_list(ctx, key, value, obj, &s_window_map, &n);
}

void sg_window_free_list(sg_window_cfg_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(w[i].sites);
        free(w[i].reason);
    }
    free(w);
}
