/* provider_conf: the `provider` section of the config file (the provider
 * kind and its call and job limits), with `provider.sim` (the simulator and
 * its injected faults) and `provider.wmi` (where the WMI service is, and
 * the password, from password_env when that is set); and the key table of a
 * site's own WMI connection (`sites[].wmi`, read by policy_conf with the
 * site: host, namespace, user, password_env).
 *
 * Owns the section's types, key tables, checks and defaults. A fault names
 * a collection through the SG_CFG_COLLECTIONS names (walk.h), so
 * collections must have been read before.
 * Ownership: the strings and arrays read belong to the sg_provider_cfg_t
 * (in the end the config) and are freed by sg_provider_conf_fini; the WMI
 * password is a secret, never logged, and zeroed when the section is freed
 * (sg_platform_secure_zero). After loading the section is
 * immutable and may be read from any thread. */
#ifndef SG_PROVIDER_CONF_H
#define SG_PROVIDER_CONF_H

#include "config/walk.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *collection;        /* NULL: every collection */
    char *method;            /* NULL: every method (e.g. "InitiateFailover") */
    uint32_t return_code;    /* non-zero: the call returns this code */
    uint32_t job_error_code; /* non-zero: the job ends in Exception with it */
    char *job_warnings;      /* set: the job ends in 32768 (Completed with warnings) with
                                this text as its ErrorDescription */
    bool hang;               /* the job never ends */
    int times;               /* calls it affects; 0: every call */
    /* Or, instead of the four call effects above, what the collection's
     * replication reports (sg_provider_get_replication) on both sides: */
    int health;              /* SG_HEALTH_WARNING or SG_HEALTH_CRITICAL; 0: not set */
    int64_t lag_ms;          /* > 0: the last replication is this long ago; 0: not set */
    /* Or: the cluster of this site cannot be reached: every operation on
     * its side (calls and reads) fails as a lost connection does (SG_EIO),
     * the first `times` of them (0: all); then the site answers again. */
    char *unreachable;       /* a site's name; NULL: not set */
    sg_mark_t mark;
} sg_sim_fault_cfg_t;

/* Defaults of provider.sim's recovery point keys; the simulator also takes
 * 0 (a config built in code rather than read) as the default. */
#define SG_SIM_POINT_INTERVAL_DEFAULT_MS (3600 * 1000LL) /* one point an hour */
#define SG_SIM_POINTS_KEPT_DEFAULT 24       /* Hyper-V keeps at most 24 additional points */
#define SG_SIM_POINTS_KEPT_MAX 1000
#define SG_SIM_APP_EVERY_DEFAULT 4          /* Hyper-V's default VSS snapshot frequency: 4 h */

typedef struct {
    int64_t call_latency_ms; /* default 20 ms */
    int64_t job_duration_ms; /* default 2 s */
    int64_t job_removal_ms;  /* an ended job is gone this long after its end (Hyper-V's
                                TimeBeforeRemoval); default 5 min; 0: never */
    char *state_file;        /* NULL: state lives in memory only */
    int64_t replication_lag_ms; /* how long ago the last replication was, unless a fault says
                                   otherwise; default 30 s (Hyper-V's shortest frequency) */
    int64_t point_interval_ms;  /* a new recovery point this often; default 1 h */
    int points_kept;            /* the newest this many points are kept; default 24 */
    int app_consistent_every;   /* every this-many-th point is application-consistent;
                                   default 4 */
    sg_sim_fault_cfg_t *faults;
    size_t n_faults;
} sg_sim_cfg_t;

/* provider.wmi: where Msvm_CollectionReplicationService is (Windows builds).
 * A site's own connection (sites[].wmi) has the same type: host (required
 * there), name_space, user and password (from password_env); its
 * call_timeout_ms is 0 (provider.wmi's applies to every connection). */
typedef struct {
    char *host;      /* NULL: this computer (the local cluster) */
    char *name_space;/* default root\HyperVCluster\v2 */
    char *user;      /* NULL: the service's own account */
    char *password;  /* secret; from password_env when that is set */
    int64_t call_timeout_ms; /* longest wait for one provider call; default 60 s */
} sg_wmi_cfg_t;

typedef struct {
    char *kind;              /* "sim" (default) or "wmi" (Windows builds only) */
    int workers;             /* concurrent provider calls; default 4 */
    int64_t job_timeout_ms;  /* default 30 min */
    int64_t poll_initial_ms; /* default 250 ms */
    int64_t poll_max_ms;     /* default 5 s */
    int max_attempts;        /* attempts for retryable return codes; default 3 */
    sg_sim_cfg_t sim;
    sg_wmi_cfg_t wmi;
} sg_provider_cfg_t;

/* The `provider` mapping (read with sg_cfg_set_map). */
extern const sg_cfg_map_t sg_provider_conf_map;
/* A site's `wmi` mapping, into an sg_wmi_cfg_t: host (required), namespace,
 * user, password_env (user and password_env go together). No password key:
 * a site's password comes from the environment only. */
extern const sg_cfg_map_t sg_provider_conf_site_wmi_map;

/* Defaults before the file is read. */
void sg_provider_conf_defaults(sg_cfg_t *ctx, sg_provider_cfg_t *p);
/* Frees what the section points to. */
void sg_provider_conf_fini(sg_provider_cfg_t *p);
/* Frees the strings of a WMI connection's settings, the password zeroed
 * first (the struct itself is the caller's). */
void sg_provider_conf_wmi_fini(sg_wmi_cfg_t *w);

#endif
