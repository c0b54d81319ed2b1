/* sinks_conf: the `sinks` section of the config file: each sink's plugin,
 * its own options (checked later by notify against the plugin's config
 * map), the route kinds and least severity it is sent, grouping (on by
 * default for chat and paging plugins), retries and the fallback that gets
 * its dead letters.
 *
 * Owns the section's types, key tables and checks (unique names, each
 * fallback a configured sink other than itself).
 * Ownership: the array and what it points to belong to the config and are
 * freed by sg_sinks_conf_free. Option values may be secrets (webhook URLs):
 * never logged. After loading they are immutable and may be read from any
 * thread. */
#ifndef SG_SINKS_CONF_H
#define SG_SINKS_CONF_H

#include "config/walk.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *key;
    char *value; /* scalar text as written */
    sg_mark_t mark;
} sg_kv_t;

/* What a sink is sent (`kinds:`), one bit per route kind. */
enum {
    SG_ROUTE_DECISION = 1 << 0, /* site_suspect, site_lost, site_recovered, site_contested,
                                   site_flapping, decision */
    SG_ROUTE_BLOCKED = 1 << 1,  /* blocked */
    SG_ROUTE_JOB = 1 << 2,      /* job_started, progress, succeeded, failed, timed_out */
    SG_ROUTE_DRILL = 1 << 3,    /* drills (no outcome kind yet) */
    SG_ROUTE_SERVICE = 1 << 4,  /* service health (no outcome kind yet) */
    SG_ROUTE_ALL = (1 << 5) - 1
};

/* A sink's retries (`retry:`). Zero fields mean the defaults. */
typedef struct {
    int64_t initial_ms; /* cap of the first backoff; doubles per failure; default 100 ms */
    int64_t max_ms;     /* largest cap; default 30 s */
    int limit; /* failed attempts of the sink a notice waits through before it is dead-lettered;
                  default 8 */
} sg_retry_cfg_t;

typedef struct {
    char *name;
    char *plugin;     /* plugin name, e.g. "jsonl" */
    char *path;       /* library path; NULL: <plugin_dir>/sg_<plugin>.so */
    sg_kv_t *options; /* the plugin's own keys, checked by notify */
    size_t n_options;
    sg_mark_t mark;
    unsigned kinds;   /* SG_ROUTE_* bits; 0: every kind (the default) */
    int min_severity; /* sg_severity_t: 0 info (default), 1 warning, 2 critical */
    int64_t group_ms; /* decisions and blocks of one site within this window go as one; 0: off;
                         not set: sg_sinks_conf_group_default_ms of the plugin */
    char *fallback;   /* the sink that gets this sink's dead letters; NULL: none */
    sg_retry_cfg_t retry;
} sg_sink_cfg_t;

/* The window of `group` for a sink that does not set it: sinks that post to
 * people (plugins slack, teams and pagerduty) group a storm's decisions and
 * blocks per site, SG_SINK_GROUP_DEFAULT_MS; others do not (0). */
#define SG_SINK_GROUP_DEFAULT_MS 10000
int64_t sg_sinks_conf_group_default_ms(const char *plugin);

/* Setter of `sinks`: key->offset is the sg_sink_cfg_t * field,
 * key->count_offset its size_t count. */
void sg_sinks_conf_set(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj);
/* Frees n sinks and the array; NULL is fine. */
void sg_sinks_conf_free(sg_sink_cfg_t *sinks, size_t n);

#endif
