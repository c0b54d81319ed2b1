/* The provider interface: how siteguard calls Msvm_CollectionReplicationService.
 *
 * One interface, several implementations (sim, later wmi and wsman). It speaks
 * CIM terms: a collection is its WMI object path, a recovery point is an
 * object path or NULL for "latest", a job is the object path of a
 * CIM_ConcreteJob. Return codes and job states are Hyper-V's own (see
 * HYPERV facts: 0 done, 4096 job started, 32768.. errors; JobState 2..12 and
 * 32768).
 *
 * Thread rules: every function may be called from several worker threads at
 * once; implementations lock what they share. Calls block for as long as the
 * underlying call does (the sim sleeps its configured latency on the clock). */
#ifndef SG_PROVIDER_H
#define SG_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Method return values of Msvm_CollectionReplicationService. */
enum {
    SG_RC_COMPLETED = 0,
    SG_RC_JOB_STARTED = 4096,
    SG_RC_FAILED = 32768,
    SG_RC_ACCESS_DENIED = 32769,
    SG_RC_NOT_SUPPORTED = 32770,
    SG_RC_STATUS_UNKNOWN = 32771,
    SG_RC_TIMEOUT = 32772,
    SG_RC_INVALID_PARAMETER = 32773,
    SG_RC_SYSTEM_IN_USE = 32774,
    SG_RC_INVALID_STATE = 32775,
    SG_RC_INCORRECT_DATA_TYPE = 32776,
    SG_RC_SYSTEM_NOT_AVAILABLE = 32777,
    SG_RC_OUT_OF_MEMORY = 32778,
    SG_RC_FILE_NOT_FOUND = 32779
};

/* CIM_ConcreteJob.JobState values. 2..12 are CIM's (Msvm_ConcreteJob's page
 * in Microsoft's Hyper-V cluster WMI reference, clushyperv/msvm-concretejob);
 * 32768, Completed with warnings, is in their vendor range and not on that
 * page: Microsoft's Hyper-V samples name it and count it as a successful end
 * ("Common utilities for the virtualization samples (V2)", JobState
 * CompletedWithWarnings), and so does siteguard. */
enum {
    SG_JOB_NEW = 2,
    SG_JOB_STARTING = 3,
    SG_JOB_RUNNING = 4,
    SG_JOB_SUSPENDED = 5,
    SG_JOB_SHUTTING_DOWN = 6,
    SG_JOB_COMPLETED = 7,
    SG_JOB_TERMINATED = 8,
    SG_JOB_KILLED = 9,
    SG_JOB_EXCEPTION = 10,
    SG_JOB_SERVICE = 11,
    SG_JOB_QUERY_PENDING = 12,
    SG_JOB_COMPLETED_WITH_WARNINGS = 32768
};

typedef enum {
    SG_METHOD_INITIATE_FAILOVER = 0,
    SG_METHOD_COMMIT_FAILOVER,
    SG_METHOD_REVERT_FAILOVER,
    SG_METHOD_TEST_REPLICA,        /* TestReplicaCollection */
    SG_METHOD_REVERT_TEST_REPLICA, /* RevertTestReplicaCollection */
    SG_METHOD_REVERSE_REPLICATION, /* ReverseReplicationRelationship (after a commit) */
    SG_METHOD_COUNT
} sg_method_t;

/* Where a collection stands, as far as siteguard's methods are concerned. */
typedef enum {
    SG_COLL_UNKNOWN = 0,
    SG_COLL_REPLICATING,     /* normal: primary active, replica receiving */
    SG_COLL_FAILOVER_RUNNING,/* a failover job is in progress */
    SG_COLL_FAILED_OVER,     /* running at the replica, not committed */
    SG_COLL_COMMITTED,       /* failover committed */
    SG_COLL_TESTING          /* a test replica exists (drill) */
} sg_coll_state_t;

typedef struct {
    int job_state;           /* SG_JOB_* */
    int percent_complete;    /* 0..100 */
    uint32_t error_code;     /* ErrorCode when the job failed */
    char *error_description; /* owned; NULL when none */
    int64_t elapsed_ms;
} sg_job_status_t;

/* Outcome of one method call. */
typedef struct {
    uint32_t return_value;       /* SG_RC_* */
    char *job_path;              /* owned; set when return_value is 4096 */
    char *resulting_collection;  /* owned; TestReplicaCollection only */
} sg_call_result_t;

/* One Msvm_CollectionRecoveryPoint of a collection. */
typedef struct {
    char *path;          /* owned; the point's object path, as passed to InitiateFailover */
    int64_t created_ms;  /* creation time, Unix ms */
    bool app_consistent; /* application-consistent (else crash-consistent) */
} sg_recovery_point_t;

/* Msvm_VirtualSystemCollection.ReplicationMode: which end of the
 * replication the object asked is. */
enum {
    SG_MODE_NONE = 0,
    SG_MODE_PRIMARY = 1,
    SG_MODE_REPLICA = 2,
    SG_MODE_TEST_REPLICA = 3
};

/* ReplicationHealth: 1 normal, 2 warning, 3 critical (0: not known). */
enum { SG_HEALTH_UNKNOWN = 0, SG_HEALTH_NORMAL = 1, SG_HEALTH_WARNING = 2, SG_HEALTH_CRITICAL = 3 };

/* What one side's collection object says about its replication: its
 * ReplicationMode and ReplicationState (Msvm_VirtualSystemCollection), and
 * health and last replication time as GetReplicationStatistics reports them
 * (0 where the side does not say). */
typedef struct {
    int mode;                    /* SG_MODE_* */
    int state;                   /* ReplicationState 0..16; -1: not known */
    int health;                  /* SG_HEALTH_* */
    int64_t last_replication_ms; /* LastReplicationTime, Unix ms; 0: not known */
} sg_replication_t;

typedef struct sg_provider sg_provider_t;

typedef struct {
    const char *name;
    /* Invokes `method` on the collection. `recovery_point` is an object path or
     * NULL (latest). Returns 0 when the call was made (its verdict is in
     * result->return_value) or a negative sg_err_t when it could not be made. */
    int (*call)(sg_provider_t *p, sg_method_t method, const char *collection_path,
                const char *recovery_point, sg_call_result_t *result);
    /* Reads a job. Returns 0, SG_ENOTFOUND for an unknown job, or an error. */
    int (*get_job)(sg_provider_t *p, const char *job_path, sg_job_status_t *out);
    /* Reads the state of a collection. */
    int (*get_state)(sg_provider_t *p, const char *collection_path, sg_coll_state_t *out);
    /* Enumerates the collection's recovery points, in no particular order.
     * On success *out (caller frees with sg_recovery_points_free) holds *n
     * points. Returns 0, SG_ENOTFOUND for an unknown collection, or an error. */
    int (*list_recovery_points)(sg_provider_t *p, const char *collection_path,
                                sg_recovery_point_t **out, size_t *n);
    /* The InitiateFailover job of the collection that is in flight, or else
     * the newest one started at or after `since_ms` (Unix ms), ended or not:
     * *job_path (caller frees) gets its path. Returns 0, SG_ENOTFOUND when
     * there is none (or the collection is unknown), or an error. This is how
     * a restart learns whether a call it may have made was accepted. */
    int (*find_failover_job)(sg_provider_t *p, const char *collection_path, int64_t since_ms,
                             char **job_path);
    void (*destroy)(sg_provider_t *p);
    /* Optional (NULL: 0 with mode SG_MODE_NONE, state -1). Reads the
     * collection's replication as the side this handle speaks to sees it.
     * Returns 0, SG_ENOTFOUND for an unknown collection, or an error. */
    int (*get_replication)(sg_provider_t *p, const char *collection_path,
                           sg_replication_t *out);
    /* Optional (NULL: every site is served by `p` itself). The provider that
     * speaks to `site`'s side (the cluster of that site; config
     * sites[].wmi), borrowed: valid as long as `p`. Calls that change a
     * collection go to the replica side of its direction, which is where
     * Hyper-V starts a failover, commits, reverts, reverses and tests it.
     * NULL when the site is unknown. */
    sg_provider_t *(*at_site)(sg_provider_t *p, const char *site);
} sg_provider_ops_t;

/* Every implementation's handle begins with this. */
struct sg_provider {
    const sg_provider_ops_t *ops;
};

static inline int sg_provider_call(sg_provider_t *p, sg_method_t m, const char *coll,
                                   const char *rp, sg_call_result_t *r)
{
    return p->ops->call(p, m, coll, rp, r);
}
static inline int sg_provider_get_job(sg_provider_t *p, const char *job, sg_job_status_t *out)
{
    return p->ops->get_job(p, job, out);
}
static inline int sg_provider_get_state(sg_provider_t *p, const char *coll, sg_coll_state_t *out)
{
    return p->ops->get_state(p, coll, out);
}
static inline int sg_provider_list_recovery_points(sg_provider_t *p, const char *coll,
                                                   sg_recovery_point_t **out, size_t *n)
{
    return p->ops->list_recovery_points(p, coll, out, n);
}
static inline int sg_provider_find_failover_job(sg_provider_t *p, const char *coll,
                                                int64_t since_ms, char **job_path)
{
    return p->ops->find_failover_job(p, coll, since_ms, job_path);
}
/* The collection's replication as `p`'s side sees it (see get_replication). */
int sg_provider_get_replication(sg_provider_t *p, const char *coll, sg_replication_t *out);
/* The provider for `site`'s side (see at_site): `p` itself when `p` serves
 * every site or `site` is NULL; NULL for a site `p` does not know. */
sg_provider_t *sg_provider_at(sg_provider_t *p, const char *site);
/* ReplicationState's name ("Replicating", "Failover initiated", ...); values
 * 11..16 are Microsoft's garbled ones, named as the most likely reading and
 * marked "(inferred)". Never NULL. */
const char *sg_replication_state_text(int state);
/* Frees `n` points and the array. */
void sg_recovery_points_free(sg_recovery_point_t *points, size_t n);
/* The newest application-consistent point of `points`, or NULL. */
const sg_recovery_point_t *sg_recovery_point_newest_app(const sg_recovery_point_t *points,
                                                        size_t n);

/* True when the provider `kind` ("sim", "wmi", ...) is built into this
 * version (the WMI provider is in the Windows build only). */
bool sg_provider_built(const char *kind);

/* Frees the provider and sets *p to NULL. */
void sg_provider_destroy(sg_provider_t **p);

void sg_call_result_fini(sg_call_result_t *r);
void sg_job_status_fini(sg_job_status_t *s);

/* Name of a method as WMI spells it ("InitiateFailover", ...). */
const char *sg_method_name(sg_method_t m);
/* Parses a WMI method name; returns 0 or SG_EINVAL. */
int sg_method_parse(const char *name, sg_method_t *out);
/* Text for a return value ("System is in use"); never NULL. */
const char *sg_rc_text(uint32_t rc);
/* Text for an error a provider operation returned, as an operator reads
 * it: SG_EIO says the cluster could not be reached or the connection was
 * lost, SG_ETIMEOUT that no answer came in time; others as sg_err_str.
 * Never NULL. */
const char *sg_provider_err_text(int rc);
/* True when a call that failed with `rc` got no answer (SG_EIO: the
 * connection was lost; SG_ETIMEOUT): it may have been made all the same. */
bool sg_provider_unanswered(int rc);
/* How a call on `side` ended, for a message: "returned RV (its text)", or,
 * when rc is an error, "got no answer from SIDE (sg_provider_err_text)".
 * Written into buf (n bytes, truncated); returns buf. */
const char *sg_provider_answer_text(uint32_t rv, int rc, const char *side, char *buf, size_t n);
/* True for return values that may succeed when called again later (timeout,
 * in use, not available, out of memory; status unknown is retryable only
 * after the collection's state was checked). */
bool sg_rc_retryable(uint32_t rc);
/* True for JobState values that mean the job has ended: successfully
 * (sg_job_state_succeeded) or not (Terminated, Killed, Exception). */
bool sg_job_state_ended(int job_state);
/* True for JobState values of a successful end: Completed (7) and Completed
 * with warnings (32768; ErrorDescription may then say what the warnings
 * are). Every judgement of a job's success goes through this. */
bool sg_job_state_succeeded(int job_state);
const char *sg_job_state_text(int job_state);
const char *sg_coll_state_text(sg_coll_state_t s);

#endif
