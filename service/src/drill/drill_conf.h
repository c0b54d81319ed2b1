/* drill_conf: the `drills` section of the config file: each DR drill's
 * schedule (schedule.h syntax) and time zone (tz.h), the collections it
 * tests (a list, all, or one site's), its recovery point, objectives
 * (rto, rpo), blackout windows and whether it also runs at start.
 *
 * Owns the section's types, key tables and checks. Drills refer to sites
 * and collections through the SG_CFG_SITES and SG_CFG_COLLECTIONS names
 * (walk.h), so those must have been read before.
 * Ownership: the array and what it points to belong to the config and are
 * freed by sg_drill_conf_free. After loading they are immutable and may be
 * read from any thread. */
#ifndef SG_DRILL_CONF_H
#define SG_DRILL_CONF_H

#include "config/walk.h"
#include "config/window.h"
#include "policy/policy_conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which collections a drill tests: the listed ones, all, or one site's. */
typedef enum { SG_DRILL_LIST = 0, SG_DRILL_ALL, SG_DRILL_SITE } sg_drill_plan_t;

/* A DR drill (`drills:`): TestReplicaCollection on its collections in plan
 * order, then RevertTestReplicaCollection on each (after: revert, the only
 * choice), measured against its objectives. */
typedef struct {
    char *name;
    char *schedule;      /* schedule.h syntax, checked; NULL: run only when asked */
    char *timezone;      /* tz.h name, checked; NULL: UTC */
    sg_drill_plan_t plan;
    int plan_site;       /* SG_DRILL_SITE: site index */
    int *collections;    /* SG_DRILL_LIST: collection indices */
    size_t n_collections;
    bool rp_set;         /* recovery_point given; else each collection's own */
    sg_rp_policy_t recovery_point;
    char *recovery_point_path; /* SG_RP_NAMED */
    int64_t rto_ms;      /* objectives.rto; 0: none */
    int64_t rpo_ms;      /* objectives.rpo; 0: none */
    sg_window_cfg_t *blackout; /* the drill does not start while one is open */
    size_t n_blackout;
    bool run_at_start;   /* also run once when the service starts */
    sg_mark_t mark;
} sg_drill_cfg_t;

/* Setter of `drills`: key->offset is the sg_drill_cfg_t * field,
 * key->count_offset its size_t count. */
void sg_drill_conf_set(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj);
/* Frees n drills and the array; NULL is fine. */
void sg_drill_conf_free(sg_drill_cfg_t *drills, size_t n);

#endif
