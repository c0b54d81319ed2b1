/* siteguard plugin ABI: the only header a plugin includes.
 *
 * A plugin is a shared library (.so, .dll) that exports one symbol,
 * `sg_plugin_descriptor`, of type sg_plugin_t. The host checks `abi_version`
 * and `struct_size` before it reads anything else, checks the sink's options
 * against `config_keys` (unknown keys, missing required keys, types), fills
 * defaults, and then calls `init` once, `deliver` once per outcome (or
 * `deliver_batch` once per batch of outcomes, when the plugin has it) from
 * one thread, and `close` once. The host owns threads, queues, retries,
 * backoff, timeouts and dead letters: a plugin only says how each delivery
 * went.
 *
 * Growing the descriptor: members are only ever appended, and abi_version
 * stays 1 for that. `struct_size` says which members a plugin was built
 * with: the host accepts any size from SG_PLUGIN_STRUCT_SIZE_V1 (the
 * descriptor up to `close`, as the first plugins were built) and reads a
 * later member only when struct_size covers it (SG_PLUGIN_HAS), so a plugin
 * built before a member was added goes on working unchanged.
 *
 * Everything the host passes in (host table, options, outcomes) is owned by
 * the host and valid only for the duration of the call, except the host table
 * and options given to `init`, which stay valid until `close` returns. */
#ifndef SITEGUARD_PLUGIN_H
#define SITEGUARD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_PLUGIN_ABI_VERSION 1u

#if defined(_WIN32)
#define SG_PLUGIN_EXPORT __declspec(dllexport)
#else
#define SG_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* What happened. */
typedef enum {
    SG_OUTCOME_SITE_SUSPECT = 1, /* a site fell silent; not yet lost */
    SG_OUTCOME_SITE_LOST = 2,    /* policy declared a site lost */
    SG_OUTCOME_SITE_RECOVERED = 3,
    SG_OUTCOME_DECISION = 4,      /* failover of a collection decided */
    SG_OUTCOME_BLOCKED = 5,       /* failover of a collection decided against */
    SG_OUTCOME_JOB_STARTED = 6,   /* InitiateFailover accepted, job running */
    SG_OUTCOME_PROGRESS = 7,      /* the job moved */
    SG_OUTCOME_SUCCEEDED = 8,     /* the collection is failed over */
    SG_OUTCOME_FAILED = 9,        /* the failover failed */
    SG_OUTCOME_TIMED_OUT = 10,    /* the job did not end in time */
    SG_OUTCOME_DRILL_REPORT = 11, /* a DR drill ended: `json` has its report */
    SG_OUTCOME_SITE_CONTESTED = 12, /* a lost site's quorum no longer holds: nothing new is
                                       decided, runs not yet called are cancelled */
    SG_OUTCOME_CANCELLED = 13,    /* a failover run ended before any call: its proof failed */
    SG_OUTCOME_NOTICE = 14,       /* a warning about the evidence (an observer's clock, no
                                     data site heard) */
    SG_OUTCOME_LIFECYCLE = 15,    /* a step after a failover (CommitFailover, RevertFailover,
                                     ReverseReplicationRelationship) started, ended well or
                                     failed: `message` says which; dedup_key ends in
                                     "/<commit|revert|reverse>/<started|succeeded|failed>" */
    SG_OUTCOME_SITE_FLAPPING = 16 /* a site keeps turning suspect and healthy (policy.flapping):
                                     its site_suspect and site_recovered are held until it is
                                     steady; dedup_key ends in "/started" (it began: warning)
                                     or "/ended" (steady again, or lost: `message` names the
                                     state it is in now) */
} sg_outcome_kind_t;

typedef enum {
    SG_SEVERITY_INFO = 0,
    SG_SEVERITY_WARNING = 1,
    SG_SEVERITY_CRITICAL = 2
} sg_severity_t;

/* One outcome. Strings are NULL when they do not apply. */
typedef struct {
    uint32_t struct_size; /* sizeof(sg_outcome_t) of the host */
    sg_outcome_kind_t kind;
    sg_severity_t severity;
    int64_t time_ms;       /* Unix time, milliseconds */
    const char *dedup_key; /* stable across retries and restarts */
    uint64_t run_id;       /* the failover run this belongs to; 0 for site notices */
    const char *site;      /* the site concerned (lost, or the collection's primary) */
    const char *replica_site;
    const char *collection; /* configured name */
    const char *cim_path;
    const char *job_path;
    int percent;           /* job PercentComplete, -1 when unknown */
    int job_state;         /* CIM JobState, 0 when unknown */
    uint32_t return_value; /* method return value, when a call was made */
    uint32_t error_code;   /* job ErrorCode on failure */
    int attempt;           /* 1-based call attempt */
    const char *message;   /* readable summary, with the reasons */
    const char *json;      /* the whole outcome as one JSON object, no newline */
} sg_outcome_t;

/* Result of one delivery. */
typedef enum {
    SG_DELIVER_OK = 0,    /* delivered */
    SG_DELIVER_RETRY = 1, /* not delivered; the host tries again later */
    SG_DELIVER_FATAL = 2  /* can never be delivered; the host dead-letters it */
} sg_deliver_result_t;

typedef enum {
    SG_CFG_STRING = 0,
    SG_CFG_INT = 1,
    SG_CFG_BOOL = 2,     /* true/false */
    SG_CFG_DURATION = 3  /* "250ms", "3s", "2m", "1h", at most 100 years; passed to init as
                            milliseconds */
} sg_cfg_type_t;

/* One key of a plugin's configuration. */
typedef struct {
    const char *name;
    sg_cfg_type_t type;
    const char *default_value; /* NULL: no default */
    int required;              /* non-zero: the sink must set it */
    int secret;                /* non-zero: never logged or shown */
    const char *description;
} sg_plugin_config_key_t;

/* An option as given to init: every key of the config map that is set or
 * has a default; values are normalised text (durations in milliseconds,
 * booleans as "true"/"false"). */
typedef struct {
    const char *key;
    const char *value;
} sg_plugin_option_t;

enum { SG_PLUGIN_LOG_ERROR = 0, SG_PLUGIN_LOG_WARN = 1, SG_PLUGIN_LOG_INFO = 2, SG_PLUGIN_LOG_DEBUG = 3 };

/* Functions the host gives a plugin, so a plugin needs no symbol of the host. */
typedef struct sg_plugin_host sg_plugin_host_t;
struct sg_plugin_host {
    uint32_t abi_version;
    uint32_t struct_size;
    const char *instance; /* the sink's name, e.g. "pagerduty-oncall" */
    /* Logs one line tagged with the sink instance. */
    void (*log)(const sg_plugin_host_t *host, int level, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;
    /* Unix time in milliseconds, from the host's clock. */
    int64_t (*now_ms)(const sg_plugin_host_t *host);
    void *host_data; /* for the host only */
};

typedef struct {
    uint32_t abi_version; /* SG_PLUGIN_ABI_VERSION */
    uint32_t struct_size; /* sizeof(sg_plugin_t) */
    const char *name;
    const char *description;
    const sg_plugin_config_key_t *config_keys;
    size_t n_config_keys;
    /* Sets up one sink instance. Returns 0 and sets *ctx, or non-zero after
     * logging why through host->log. */
    int (*init)(const sg_plugin_host_t *host, const sg_plugin_option_t *options,
                size_t n_options, void **ctx);
    /* Delivers one outcome. Called from one thread at a time per instance. */
    sg_deliver_result_t (*deliver)(void *ctx, const sg_outcome_t *outcome);
    /* Frees the instance. */
    void (*close)(void *ctx);
    /* --- appended after the first version (see "Growing the descriptor") --- */
    /* Optional (NULL: the host calls `deliver` once per outcome). Delivers
     * outcomes[0..n), n >= 1, and sets results[i] to how the delivery of
     * outcomes[i] went. Called from one thread at a time per instance, like
     * `deliver` (the host calls one or the other, never both at once).
     *
     * The host hands over the notices due in log order, in calls of a size it
     * chooses (it keeps each call to about two seconds, so that a stop or a
     * reload waits no longer than that for the call in hand), and applies its
     * rules to each result as it would to a `deliver` answer: OK is marked
     * delivered, FATAL is dead-lettered, RETRY stays pending. Every RETRY of
     * one call together counts as one failed attempt of the sink (one step of
     * the backoff, one towards retry.limit), after which the sink backs off
     * and sends again only the notices that were not OK or FATAL. So the
     * plugin may send the outcomes in any order and at once; a receiver may
     * see a later outcome before an earlier one that is retried.
     *
     * The host sets every results[i] to SG_DELIVER_RETRY before the call: a
     * plugin that stops early (say, after its first RETRY, since the
     * receiver is failing) leaves the outcomes it did not send so, and they
     * are sent again after the backoff. `outcomes` and `results` are the
     * host's, valid for the call only. */
    void (*deliver_batch)(void *ctx, const sg_outcome_t *const *outcomes, size_t n,
                          sg_deliver_result_t *results);
} sg_plugin_t;

/* The size of the first version of the descriptor (up to `close`): the
 * smallest struct_size the host accepts. */
#define SG_PLUGIN_STRUCT_SIZE_V1 offsetof(sg_plugin_t, deliver_batch)

/* Whether descriptor `p` was built with `member` (its struct_size covers
 * it); a member it was not built with must not be read. */
#define SG_PLUGIN_HAS(p, member)                                                                \
    ((size_t)(p)->struct_size >= offsetof(sg_plugin_t, member) + sizeof((p)->member))

#define SG_PLUGIN_DESCRIPTOR_SYMBOL "sg_plugin_descriptor"

/* The names of kinds and severities, as they appear in the outcome JSON
 * ("site_lost", "critical"); "unknown" for a value this header does not know. */
static inline const char *sg_outcome_kind_label(sg_outcome_kind_t kind)
{
    switch (kind) {
    case SG_OUTCOME_SITE_SUSPECT: return "site_suspect";
    case SG_OUTCOME_SITE_LOST: return "site_lost";
    case SG_OUTCOME_SITE_RECOVERED: return "site_recovered";
    case SG_OUTCOME_DECISION: return "decision";
    case SG_OUTCOME_BLOCKED: return "blocked";
    case SG_OUTCOME_JOB_STARTED: return "job_started";
    case SG_OUTCOME_PROGRESS: return "progress";
    case SG_OUTCOME_SUCCEEDED: return "succeeded";
    case SG_OUTCOME_FAILED: return "failed";
    case SG_OUTCOME_TIMED_OUT: return "timed_out";
    case SG_OUTCOME_DRILL_REPORT: return "drill_report";
    case SG_OUTCOME_SITE_CONTESTED: return "site_contested";
    case SG_OUTCOME_CANCELLED: return "cancelled";
    case SG_OUTCOME_NOTICE: return "notice";
    case SG_OUTCOME_LIFECYCLE: return "lifecycle";
    case SG_OUTCOME_SITE_FLAPPING: return "site_flapping";
    }
    return "unknown";
}

static inline const char *sg_severity_label(sg_severity_t severity)
{
    switch (severity) {
    case SG_SEVERITY_INFO: return "info";
    case SG_SEVERITY_WARNING: return "warning";
    case SG_SEVERITY_CRITICAL: return "critical";
    }
    return "unknown";
}

/* Value of an option given to init, or NULL. */
static inline const char *sg_plugin_option(const sg_plugin_option_t *options, size_t n,
                                           const char *key)
{
    for (size_t i = 0; i < n; i++) {
        const char *a = options[i].key, *b = key;
        while (*a && *a == *b) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0')
            return options[i].value;
    }
    return NULL;
}

#ifdef __cplusplus
}
#endif

#endif
