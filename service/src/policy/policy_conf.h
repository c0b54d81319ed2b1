/* policy_conf: the config sections the policy decides with: `sites`,
 * `observers`, `collections` (depends_on resolved and checked for cycles,
 * replication_observers), `policy` (verdict timings, quorum, budgets,
 * maintenance windows) and `plan`.
 *
 * Owns the section types, their key tables, checks and defaults, and the
 * defaults that depend on the sites (quorum, require_witness), which
 * sg_policy_conf_resolve sets once the whole file is read. A site's own WMI
 * connection (`wmi`) is read here with provider_conf's key table; the rules
 * that depend on the provider, once the file is read, by
 * sg_policy_conf_resolve_sites. Sites, observers
 * and collections are registered as SG_CFG_SITES, SG_CFG_OBSERVERS and
 * SG_CFG_COLLECTIONS names (walk.h) for the sections that refer to them.
 *
 * Ownership: the arrays and strings read belong to the struct they were
 * read into (in the end the config) and are freed by the sg_policy_conf_free_*
 * functions. After loading they are immutable and may be read from any
 * thread. */
#ifndef SG_POLICY_CONF_H
#define SG_POLICY_CONF_H

#include "config/walk.h"
#include "config/window.h"
#include "provider/provider_conf.h"
#include "policy/flap_conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { SG_MODE_AUTO = 0, SG_MODE_APPROVE, SG_MODE_SHADOW } sg_policy_mode_t;

/* Which recovery point InitiateFailover is given: NULL (latest), the newest
 * application-consistent point of the collection, or a named point. */
typedef enum { SG_RP_LATEST = 0, SG_RP_LATEST_APP_CONSISTENT, SG_RP_NAMED } sg_rp_policy_t;

typedef struct {
    char *name;
    bool witness; /* a witness location: observes, owns no collections */
    /* sites[].wmi: the site's own WMI connection (its cluster), for
     * provider.kind wmi only; NULL: provider.wmi serves the site. Owned. */
    sg_wmi_cfg_t *wmi;
    sg_mark_t wmi_mark; /* where the wmi block stands */
    sg_mark_t mark;
} sg_site_cfg_t;

/* Keys an observer may list: one, and a second while it is rotated. */
#define SG_OBSERVER_MAX_KEYS 2

typedef struct {
    char *id;
    int site; /* index into sg_config_t.sites */
    /* CURVE public keys (Z85) its publisher may connect to the bus with:
     * `public_key: K` or, during a key change, `public_key: [K1, K2]`. With
     * bus.curve each observer has one (bus_conf.h). The keys may change on
     * a reload (reload.h). */
    char *public_keys[SG_OBSERVER_MAX_KEYS];
    size_t n_public_keys;
    sg_mark_t mark;
} sg_observer_cfg_t;

typedef struct {
    char *name;
    char *cim_path;    /* WMI object path of the collection */
    int site;          /* primary site (index) */
    int replica_site;  /* replica site (index) */
    int group;         /* plan group: lower groups fail over first; default 0 */
    int *depends_on;   /* indices of collections that must fail over first */
    size_t n_depends_on;
    sg_rp_policy_t recovery_point;
    char *recovery_point_path; /* SG_RP_NAMED: the point's WMI object path */
    char *replica_host;        /* replica host or cluster, for the per-host cap; NULL: none */
    int64_t rpo_limit_ms; /* 0: no limit */
    int *replication_observers; /* observers whose replication reports count (indices, each
                                   at the collection's site or replica site); none: every
                                   observer at those two sites */
    size_t n_replication_observers;
    bool reversed; /* site and replica_site are swapped against the file: the collection's
                      replication was reversed after a failover (sg_config_reverse) */
    sg_mark_t mark;
} sg_collection_cfg_t;

/* At most `max` failovers per `period`; max 0: no limit. */
typedef struct {
    int max;
    int64_t period_ms;
} sg_budget_cfg_t;

typedef struct {
    /* Site verdicts */
    int64_t suspect_after_ms;  /* silence before a site is suspect; default 3 s */
    int64_t hold_down_ms;      /* silence and quorum before a site is lost; default 10 s */
    int64_t recover_after_ms;  /* stable heartbeats before a lost site is healthy; default 30 s */
    int64_t report_max_age_ms; /* a reachability report counts this long; default 3 x suspect_after */
    int64_t vote_hold_ms;      /* a down report counts as a vote only once its observer has said
                                  "down" this long without a break and no observer of its site
                                  has said "up" meanwhile; default hold_down */
    int64_t startup_grace_ms;  /* a site never heard since start counts as silent since start
                                  after this long; default hold_down */
    int64_t skew_warn_ms;      /* an observer whose clock is further off is announced; default 2 s */
    int quorum;                /* independent sites (the witness counted) that must see a site
                                  down; default min(2, sites - 1) */
    bool require_witness;      /* the witness must be one of them; default: true with a witness */
    /* Collection decisions */
    sg_policy_mode_t mode;           /* default auto */
    int64_t approval_timeout_ms;     /* approve mode: how long to wait; default 15 min */
    bool proceed_on_timeout;         /* approve mode, no answer in time: act (else hold) */
    int64_t cooldown_ms;             /* after a run of a collection ends; default 1 h */
    int64_t replication_max_age_ms;  /* a replication report counts this long; default 5 min */
    sg_budget_cfg_t budget;          /* site failovers (a lost site's collections failed over,
                                        counted once per loss) overall; default 4 per 1 h */
    sg_budget_cfg_t site_budget;     /* site failovers of one site; default 2 per 1 h */
    sg_window_cfg_t *maintenance;
    size_t n_maintenance;
    /* after_failover: what follows a failover that ended well. commit_after:
     * CommitFailover that long after its end (lifecycle.h); 0 (default,
     * "manual"): only an operator commits. */
    struct {
        int64_t commit_after_ms;
    } after_failover;
    /* flapping: when a site's suspect/recovered notices are held (flap_conf.h,
     * journal/flap.h); announcements only, the verdicts do not change. */
    sg_flap_cfg_t flapping;
} sg_policy_cfg_t;

/* What a plan does with later groups when a run of a group fails. */
typedef enum { SG_ON_ERROR_STOP = 0, SG_ON_ERROR_CONTINUE, SG_ON_ERROR_WAIT } sg_on_error_t;

typedef struct {
    sg_on_error_t on_error;   /* default stop */
    int max_concurrency;      /* runs in flight at once; 0 (default): provider.workers */
    int per_host_concurrency; /* runs in flight per replica_host; 0 (default): no limit */
} sg_plan_cfg_t;

/* Setters of the top-level lists: key->offset is the array field
 * (sg_site_cfg_t *, ...), key->count_offset its size_t count. Read in this
 * order: observers refer to sites, collections to both. */
void sg_policy_conf_set_sites(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                              void *obj);
void sg_policy_conf_set_observers(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                                  void *obj);
void sg_policy_conf_set_collections(sg_cfg_t *ctx, const sg_cfg_key_t *key,
                                    sg_cfg_node_t *value, void *obj);

/* The `policy` and `plan` mappings (read with sg_cfg_set_map). */
extern const sg_cfg_map_t sg_policy_conf_policy_map;
extern const sg_cfg_map_t sg_policy_conf_plan_map;

/* Defaults of `policy` before the file is read. */
void sg_policy_conf_defaults(sg_policy_cfg_t *p);
/* Defaults that depend on the sites, and rules across policy and sites; run
 * once everything is read. `node`: the policy section (NULL: none). */
void sg_policy_conf_resolve(sg_cfg_t *ctx, sg_cfg_node_t *node, sg_policy_cfg_t *p);

/* Rules of the sites' wmi blocks that depend on the provider, once the whole
 * file is read: a site's own WMI connection is for provider.kind wmi only
 * (`wmi_provider` false: each block is an error, never silently unused), and
 * two sites never name the same host (each site is its own cluster). */
void sg_policy_conf_resolve_sites(sg_cfg_t *ctx, const sg_site_cfg_t *sites, size_t n,
                                  bool wmi_provider);

/* Reads a recovery point (latest, latest_app_consistent, or the object path
 * of a named point; *path gets a copy of the latter, owned by the caller).
 * False (error reported) when the value is none of these. */
bool sg_policy_conf_read_rp(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                            sg_rp_policy_t *rp, char **path);

/* Free n entries and the array; NULL is fine. */
void sg_policy_conf_free_sites(sg_site_cfg_t *sites, size_t n);
void sg_policy_conf_free_observers(sg_observer_cfg_t *observers, size_t n);
void sg_policy_conf_free_collections(sg_collection_cfg_t *cs, size_t n);
/* Frees what a policy points to (its windows). */
void sg_policy_conf_fini(sg_policy_cfg_t *p);

#endif
