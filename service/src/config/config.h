/* Configuration: the YAML file, parsed and checked.
 *
 * sg_config_load_* walks the YAML document with libyaml, fills an sg_config_t
 * and checks every rule it knows. Each broken rule becomes one error line
 * "FILE:LINE:COLUMN: rule broken" (1-based line and column); all of them are
 * reported, not just the first. Unknown keys are errors.
 *
 * This module owns the aggregate and the top level (its key table, the log
 * keys, loading, freeing, lookups). Each section's types, key table and
 * checks live with the module that uses the section (<x>_conf.h); the
 * walker they share is walk.h.
 *
 * Ownership: sg_config_t and everything it points to belongs to the config and
 * is freed by sg_config_destroy. References between entries are resolved to
 * indices into the owning arrays. After loading, a config is immutable (but
 * for a collection's direction: sg_config_reverse) and may be read from any
 * thread. */
#ifndef SG_CONFIG_H
#define SG_CONFIG_H

#include "base/log.h"
#include "config/duration.h"
#include "config/walk.h"
#include "config/window.h"
#include "control/control_conf.h"
#include "control/metrics_conf.h"
#include "drill/drill_conf.h"
#include "ingress/bus_conf.h"
#include "journal/journal_conf.h"
#include "leader/leader_conf.h"
#include "notify/sinks_conf.h"
#include "policy/policy_conf.h"
#include "provider/provider_conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { SG_LOG_FORMAT_TEXT = 0, SG_LOG_FORMAT_JSON } sg_log_format_t;

typedef struct {
    char *path;       /* the file it was loaded from */
    char *digest;     /* "sha256:" and the hex SHA-256 of the text it was loaded from
                         (drill reports name it); NULL when it could not be computed */
    char *plugin_dir; /* NULL: the build's default */
    sg_log_level_t log_level;
    sg_site_cfg_t *sites;
    size_t n_sites;
    sg_observer_cfg_t *observers;
    size_t n_observers;
    sg_collection_cfg_t *collections;
    size_t n_collections;
    sg_policy_cfg_t policy;
    sg_provider_cfg_t provider;
    sg_plan_cfg_t plan;
    sg_journal_cfg_t journal;
    sg_sink_cfg_t *sinks;
    size_t n_sinks;
    sg_bus_cfg_t bus;
    sg_control_cfg_t control;
    sg_metrics_cfg_t metrics;
    sg_leader_cfg_t leader;
    sg_log_format_t log_format; /* log_format: text (default) or json */
    sg_drill_cfg_t *drills;
    size_t n_drills;
} sg_config_t;

/* Loads and checks a config. On success returns 0 and *out owns the config.
 * On failure returns SG_ECONFIG (errors appended to `errs`), SG_EIO (file
 * unreadable, one error appended) or SG_ENOMEM; *out is left NULL. */
int sg_config_load_file(const char *path, sg_config_t **out, sg_config_errors_t *errs);
int sg_config_load_string(const char *name, const char *text, size_t len, sg_config_t **out,
                          sg_config_errors_t *errs);
void sg_config_destroy(sg_config_t **cfg);

/* Index of the named entry, or -1. */
int sg_config_find_site(const sg_config_t *cfg, const char *name);
int sg_config_find_observer(const sg_config_t *cfg, const char *id);
int sg_config_find_collection(const sg_config_t *cfg, const char *name);
int sg_config_find_drill(const sg_config_t *cfg, const char *name);

/* Swaps collection c's site and replica_site (and flips its `reversed`):
 * its replication now runs the other way. The one change a loaded config
 * takes, made on the loop thread while nothing else reads that collection
 * (no run of it in flight, no drill running: see lifecycle.h). */
void sg_config_reverse(sg_config_t *cfg, int c);

/* Whether observer `o` may report the replication of collection `c`: one
 * listed in its replication_observers, or, with none listed, any observer
 * at its site or replica site. */
bool sg_config_replication_source(const sg_config_t *cfg, int c, int o);

#endif
