/* Configuration: the YAML file, parsed and checked.
 *
 * sg_config_load_* walks the YAML document with libyaml, fills an sg_config_t
 * and checks every rule it knows. Each broken rule becomes one error line
 * "FILE:LINE:COLUMN: rule broken" (1-based line and column); all of them are
 * reported, not just the first. Unknown keys are errors.
 *
 * Ownership: sg_config_t and everything it points to belongs to the config and
 * is freed by sg_config_destroy. References between entries are resolved to
 * indices into the owning arrays. After loading, a config is immutable and may
 * be read from any thread. */
#ifndef SG_CONFIG_H
#define SG_CONFIG_H

#include "base/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where something stood in a config file. `file` points at the owning
 * config's `path` (or the name passed to sg_config_load_string). */
typedef struct {
    const char *file;
    int line;
    int column;
} sg_mark_t;

typedef enum { SG_MODE_AUTO = 0, SG_MODE_APPROVE, SG_MODE_SHADOW } sg_policy_mode_t;

/* Which recovery point InitiateFailover is given: NULL (latest), the newest
 * application-consistent point of the collection, or a named point. */
typedef enum { SG_RP_LATEST = 0, SG_RP_LATEST_APP_CONSISTENT, SG_RP_NAMED } sg_rp_policy_t;

typedef struct {
    char *name;
    bool witness; /* a witness location: observes, owns no collections */
    sg_mark_t mark;
} sg_site_cfg_t;

typedef struct {
    char *id;
    int site;         /* index into sg_config_t.sites */
    char *public_key; /* CURVE public key (Z85), NULL when not set */
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
    sg_mark_t mark;
} sg_collection_cfg_t;

/* At most `max` failovers per `period`; max 0: no limit. */
typedef struct {
    int max;
    int64_t period_ms;
} sg_budget_cfg_t;

/* A maintenance window: no failover is decided for the sites it names while
 * it is open. Weekly on `days` (bit 0 Monday .. bit 6 Sunday; 0: every day)
 * from `from_min` to `to_min` minutes after midnight UTC (to < from: across
 * midnight), or once, between `start_ms` and `end_ms` (Unix time). */
typedef struct {
    int *sites; /* site indices; none: every site */
    size_t n_sites;
    unsigned days;
    int from_min, to_min;
    int64_t start_ms, end_ms; /* both 0 for a weekly window */
    char *reason;
    sg_mark_t mark;
} sg_window_cfg_t;

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
} sg_policy_cfg_t;

typedef struct {
    char *collection;        /* NULL: every collection */
    char *method;            /* NULL: every method (e.g. "InitiateFailover") */
    uint32_t return_code;    /* non-zero: the call returns this code */
    uint32_t job_error_code; /* non-zero: the job ends in Exception with it */
    bool hang;               /* the job never ends */
    int times;               /* calls it affects; 0: every call */
    sg_mark_t mark;
} sg_sim_fault_cfg_t;

typedef struct {
    int64_t call_latency_ms; /* default 20 ms */
    int64_t job_duration_ms; /* default 2 s */
    char *state_file;        /* NULL: state lives in memory only */
    sg_sim_fault_cfg_t *faults;
    size_t n_faults;
} sg_sim_cfg_t;

/* provider.wmi: where Msvm_CollectionReplicationService is (Windows builds). */
typedef struct {
    char *host;      /* NULL: this computer (the local cluster) */
    char *name_space;/* default root\HyperVCluster\v2 */
    char *user;      /* NULL: the service's own account */
    char *password;  /* secret; from password_env when that is set */
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

/* What a plan does with later groups when a run of a group fails. */
typedef enum { SG_ON_ERROR_STOP = 0, SG_ON_ERROR_CONTINUE, SG_ON_ERROR_WAIT } sg_on_error_t;

typedef struct {
    sg_on_error_t on_error;   /* default stop */
    int max_concurrency;      /* runs in flight at once; 0 (default): provider.workers */
    int per_host_concurrency; /* runs in flight per replica_host; 0 (default): no limit */
} sg_plan_cfg_t;

typedef struct {
    char *path; /* SQLite file; default siteguard-journal.db beside the config file */
} sg_journal_cfg_t;

typedef struct {
    char *key;
    char *value; /* scalar text as written */
    sg_mark_t mark;
} sg_kv_t;

/* What a sink is sent (`kinds:`), one bit per route kind. */
enum {
    SG_ROUTE_DECISION = 1 << 0, /* site_suspect, site_lost, site_recovered, decision */
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
    int64_t group_ms; /* decisions and blocks of one site within this window go as one; 0: off */
    char *fallback;   /* the sink that gets this sink's dead letters; NULL: none */
    sg_retry_cfg_t retry;
} sg_sink_cfg_t;

typedef struct {
    char **connect; /* endpoints to connect the SUB socket to */
    size_t n_connect;
    char **bind; /* endpoints to bind the SUB socket on */
    size_t n_bind;
    size_t max_event_bytes; /* default 4096 */
    int64_t max_age_ms;     /* events older than this are stale; default 30 s */
    int64_t max_skew_ms;    /* events further in the future are stale; default 5 s */
} sg_bus_cfg_t;

/* A client key of the control endpoint: its name is "who" in the audit trail. */
typedef struct {
    char *name;
    char *key; /* CURVE public key, 40 characters of Z85 */
    sg_mark_t mark;
} sg_control_key_cfg_t;

/* The control endpoint for siteguardctl. Each ipc socket file gets the
 * mode of its role: the operator socket 0660, the read-only one 0666. A tcp
 * endpoint must be on the loopback address and needs CURVE: the server's
 * secret key (secret_key_file, read at load) and at least one client key;
 * a key's list gives its role (a read-only endpoint keeps every key read-only). */
typedef struct {
    char *endpoint;          /* operator socket; NULL: the default
                                (ipc:///run/siteguard/control.sock; on Windows
                                tcp://127.0.0.1:7710 when CURVE is configured,
                                else none), and a failure to bind it is only a
                                warning */
    char *readonly_endpoint; /* read-only socket; NULL: none */
    char *group;             /* group owning the ipc socket files; NULL: unchanged */
    char *secret_key_file;   /* as written (relative: beside the config file); NULL: no CURVE */
    char *secret_key;        /* SECRET, never logged: the file's Z85 key; NULL: no CURVE */
    sg_control_key_cfg_t *operators; /* keys with the operator role */
    size_t n_operators;
    sg_control_key_cfg_t *readers;   /* keys with the read-only role */
    size_t n_readers;
} sg_control_cfg_t;

/* The Prometheus endpoint. */
typedef struct {
    char *listen; /* "HOST:PORT"; NULL: the default 127.0.0.1:9464, a failure to
                     bind it only a warning; "off": no endpoint */
} sg_metrics_cfg_t;

/* Leader election (`leader:`; leader.h). */
typedef enum { SG_LEADER_NONE = 0, SG_LEADER_ETCD } sg_leader_mode_t;

typedef struct {
    char **endpoints;   /* http(s)://HOST:PORT of etcd; none: http://127.0.0.1:2379 */
    size_t n_endpoints;
    char *key;          /* the leader key; default /siteguard/leader */
    int64_t ttl_ms;     /* lease TTL, whole seconds; default 10 s */
    int64_t timeout_ms; /* one HTTP call; default 2 s, less than ttl */
} sg_etcd_cfg_t;

typedef struct {
    sg_leader_mode_t mode; /* none (default): always the leader */
    char *name;            /* this instance; default the host name */
    sg_etcd_cfg_t etcd;
} sg_leader_cfg_t;

typedef enum { SG_LOG_FORMAT_TEXT = 0, SG_LOG_FORMAT_JSON } sg_log_format_t;

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

typedef struct {
    char *path;       /* the file it was loaded from */
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

/* A list of error lines; caller-owned, sg_config_errors_fini frees them. */
typedef struct {
    char **items;
    size_t n;
} sg_config_errors_t;

void sg_config_errors_init(sg_config_errors_t *errs);
void sg_config_errors_fini(sg_config_errors_t *errs);
/* Appends "FILE:LINE:COLUMN: <formatted rule>". Returns 0 or SG_ENOMEM. */
int sg_config_errors_add(sg_config_errors_t *errs, const sg_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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

/* Whether observer `o` may report the replication of collection `c`: one
 * listed in its replication_observers, or, with none listed, any observer
 * at its site or replica site. */
bool sg_config_replication_source(const sg_config_t *cfg, int c, int o);

/* Parses a duration such as "250ms", "3s", "2m", "1h" or a bare number of
 * milliseconds. Returns 0 or SG_EINVAL. */
int sg_config_parse_duration(const char *text, int64_t *out_ms);

#endif
