#include "act/executor.h"
#include "base/err.h"
#include "act/jobfollow.h"
#include "act/plan.h"
#include "base/log.h"
#include "journal/outcome.h"
#include "base/reply.h"
#include "base/str.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_MOD "executor"
#define S_SLICE_MS 50 /* a worker checks for stop at least this often while waiting */
/* A failover job found by a restart counts as this run's when it started no
 * earlier than this before the intent (clock skew between controller and
 * Hyper-V host). */
#define S_SINCE_MARGIN_MS 60000

/* Why a run ends without a call. */
typedef enum {
    S_BLOCK_NONE = 0,
    S_BLOCK_DEPENDENCY, /* a dependency's run failed */
    S_BLOCK_PLAN        /* on_error stop: a run of an earlier group failed */
} s_block_t;

typedef struct {
    uint64_t run_id;
    int collection;
    sg_run_mode_t mode;
    char *job_path; /* FOLLOW; owned */
    char *point;    /* the run's own recovery point, owned; NULL: the collection's */
    int64_t intent_ms;
    s_block_t block;
    int blocker; /* the collection behind `block`, or -1 */
    uint64_t epoch; /* the leader's epoch when it was handed out */
    bool forced;
    int64_t heard_ms;
} s_run_t;

/* A message from a worker to the loop thread, passed by pointer. */
typedef struct {
    int worker;
    bool idle;  /* the worker finished its run and can take another */
    bool proof; /* the worker asks for the proof before a call of result.run_id */
    sg_exec_result_t result;
} s_msg_t;

typedef struct s_worker s_worker_t;

/* A proof whose answer waits for the commit of its intent. */
typedef struct {
    int worker;
    uint64_t run_id;
    int collection;
} s_deferred_t;

struct sg_executor {
    void *zctx;
    const sg_config_t *cfg;
    sg_provider_t *provider;
    const sg_clock_t *clock;
    sg_exec_proof_fn proof;
    void *proof_user;
    sg_exec_fence_fn fence;
    void *fence_user;
    uint64_t epoch;
    void *results; /* PULL, bound */
    char results_ep[64];
    s_worker_t *workers;
    int n_workers;
    int cap;          /* runs in flight at once */
    s_run_t *pending; /* runs waiting for a worker, in submission order */
    size_t p_cap, p_len;
    sg_plan_t *plan;   /* where each collection stands (plan.h) */
    int *idle;         /* the idle workers' indexes, a stack */
    int n_idle;
    s_deferred_t *deferred; /* proofs waiting for sg_executor_release_proofs */
    int n_deferred;
    int *host_of;      /* per collection: index of its replica_host, or -1 */
    int *host_running; /* per host index */
    bool *released;    /* per site: on_error wait released by an operator */
    int running;       /* runs counted against the cap */
    int active;        /* runs queued or in progress */
    int stop;          /* read by workers with __atomic loads */
};

struct s_worker {
    sg_executor_t *x;
    int index;
    pthread_t thread;
    bool started;
    void *jobs; /* PUSH, bound, owned by the loop thread */
    char jobs_ep[64];
};

/* ---- worker side ------------------------------------------------------------ */

typedef struct {
    s_worker_t *w;
    void *out;  /* PUSH to the loop, owned by the worker thread */
    void *jobs; /* PULL of its runs and proof answers, owned by the worker thread */
    s_run_t run;
    const sg_collection_cfg_t *coll;
    sg_provider_t *pv; /* the replica side's provider (sg_provider_at) */
    int attempt;
    char *job_path;
    const char *rp; /* the recovery point passed; NULL: latest */
    bool rp_chosen; /* rp is set: outcomes name it rather than the point asked for */
    int64_t started_ms;
    bool timed_out_told; /* TIMED_OUT was reported: once per run */
} s_ctx_t;

/* What asking the provider about a collection found. */
typedef enum {
    S_SEEN_HANDLED = 0, /* done or job followed: the run is over */
    S_SEEN_NONE,        /* replicating and no failover job: nothing was accepted */
    S_SEEN_UNKNOWN,     /* cannot tell (read failed, or running without a job) */
    S_SEEN_BAD_STATE    /* a state in which failover cannot be called */
} s_seen_t;

static bool s_stopping(const sg_executor_t *x) { return __atomic_load_n(&x->stop, __ATOMIC_ACQUIRE); }

/* Sleeps `ms` on the clock in slices; false when a stop came meanwhile. */
static bool s_wait(const sg_executor_t *x, int64_t ms)
{
    while (ms > 0 && !s_stopping(x)) {
        int64_t slice = ms < S_SLICE_MS ? ms : S_SLICE_MS;
        sg_clock_sleep(x->clock, slice);
        ms -= slice;
    }
    return !s_stopping(x);
}

static int s_send_ptr(void *sock, void *ptr)
{
    return zmq_send(sock, &ptr, sizeof ptr, 0) == (int)sizeof ptr ? SG_OK : SG_EIO;
}

static void s_send_msg(s_ctx_t *c, s_msg_t *m)
{
    if (s_send_ptr(c->out, m) != SG_OK) {
        sg_error(S_MOD, "worker %d: cannot pass a result to the loop: %s", c->w->index,
                 zmq_strerror(zmq_errno()));
        sg_outcome_free(&m->result.outcome);
        free(m);
    }
}

/* How a report ends the run. */
enum {
    S_GOES_ON = 0,
    S_ENDS = 1,
    S_ENDS_FAILED_OVER = 2,
    S_TIMES_OUT = 3,
    S_ENDS_FENCED = 4,
    S_ENDS_CANCELLED = 5
};

/* What every outcome of a run of collection `cc` names: its sites, the
 * collection, its job and recovery point, the message. 0 or SG_ENOMEM. */
static int s_name_run(const sg_config_t *cfg, const sg_collection_cfg_t *cc, sg_outcome_t *o,
                      const char *job_path, const char *point, const char *msg)
{
    if (sg_outcome_set(o, &o->site, cfg->sites[cc->site].name) ||
        sg_outcome_set(o, &o->replica_site, cfg->sites[cc->replica_site].name) ||
        sg_outcome_set(o, &o->collection, cc->name) ||
        sg_outcome_set(o, &o->cim_path, cc->cim_path) ||
        sg_outcome_set(o, &o->job_path, job_path) || sg_outcome_set(o, &o->message, msg) ||
        sg_outcome_set_point(o, point))
        return SG_ENOMEM;
    return SG_OK;
}

/* Builds and sends one outcome of the run in `c`; `tag`, when set, makes
 * its dedup key "<run>/<collection>/<tag>/<attempt>" (else the outcome's
 * default, sg_outcome_finish). */
static void s_vreport(s_ctx_t *c, sg_outcome_kind_t kind, int how, const sg_job_status_t *js,
                      uint32_t rv, const char *tag, const char *fmt, va_list ap)
{
    const sg_executor_t *x = c->w->x;
    const sg_config_t *cfg = x->cfg;
    sg_outcome_t *o = sg_outcome_new(kind, sg_clock_wall(x->clock));
    s_msg_t *m = calloc(1, sizeof *m);
    char msg[2048]; /* room for a list of recovery points */
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (!o || !m)
        goto fail;
    o->run_id = c->run.run_id;
    o->attempt = c->attempt;
    o->return_value = rv;
    if (js) {
        o->percent = js->percent_complete;
        o->job_state = js->job_state;
        o->error_code = js->error_code;
    }
    if (s_name_run(cfg, c->coll, o, c->job_path,
                   c->rp_chosen ? (c->rp ? c->rp : SG_POINT_LATEST) : c->run.point, msg))
        goto fail;
    if (tag && sg_outcome_setf(o, &o->dedup_key, "%llu/%s/%s/%d", (unsigned long long)o->run_id,
                               c->coll->name, tag, c->attempt))
        goto fail;
    if (sg_outcome_finish(o, 0) != SG_OK)
        goto fail;
    m->worker = c->w->index;
    m->result = (sg_exec_result_t){.outcome = o,
                                   .collection = c->run.collection,
                                   .run_id = c->run.run_id,
                                   .ended = how == S_ENDS || how == S_ENDS_FAILED_OVER ||
                                            how == S_ENDS_FENCED || how == S_ENDS_CANCELLED,
                                   .failed_over = how == S_ENDS_FAILED_OVER,
                                   .timed_out = how == S_TIMES_OUT,
                                   .fenced = how == S_ENDS_FENCED,
                                   .cancelled = how == S_ENDS_CANCELLED};
    s_send_msg(c, m);
    return;
fail:
    sg_error(S_MOD, "out of memory reporting '%s' for %s", msg, c->coll->name);
    sg_outcome_free(&o);
    free(m);
}

static void s_report(s_ctx_t *c, sg_outcome_kind_t kind, int how, const sg_job_status_t *js,
                     uint32_t rv, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* As s_vreport; a progress outcome without a job is a retry's. */
static void s_report(s_ctx_t *c, sg_outcome_kind_t kind, int how, const sg_job_status_t *js,
                     uint32_t rv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vreport(c, kind, how, js, rv, kind == SG_OUTCOME_PROGRESS && !js ? "retry" : NULL, fmt, ap);
    va_end(ap);
}

static void s_report_tagged(s_ctx_t *c, sg_outcome_kind_t kind, int how, uint32_t rv,
                            const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void s_report_tagged(s_ctx_t *c, sg_outcome_kind_t kind, int how, uint32_t rv,
                            const char *tag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vreport(c, kind, how, NULL, rv, tag, fmt, ap);
    va_end(ap);
}

static double s_secs(const s_ctx_t *c)
{
    return (sg_clock_mono(c->w->x->clock) - c->started_ms) / 1000.0;
}

static const char *s_replica_name(const s_ctx_t *c)
{
    return c->w->x->cfg->sites[c->coll->replica_site].name;
}

static void s_report_job_end(s_ctx_t *c, const sg_job_status_t *js)
{
    if (js->job_state == SG_JOB_COMPLETED_WITH_WARNINGS)
        s_report(c, SG_OUTCOME_SUCCEEDED, S_ENDS_FAILED_OVER, js, SG_RC_JOB_STARTED,
                 "%s failed over to %s in %.1f s; its job completed with warnings: %s",
                 c->coll->name, s_replica_name(c), s_secs(c),
                 js->error_description ? js->error_description : "no description");
    else if (sg_job_state_succeeded(js->job_state))
        s_report(c, SG_OUTCOME_SUCCEEDED, S_ENDS_FAILED_OVER, js, SG_RC_JOB_STARTED,
                 "%s failed over to %s in %.1f s", c->coll->name, s_replica_name(c), s_secs(c));
    else
        s_report(c, SG_OUTCOME_FAILED, S_ENDS, js, SG_RC_JOB_STARTED,
                 "failover job of %s ended %s with error %u: %s", c->coll->name,
                 sg_job_state_text(js->job_state), js->error_code,
                 js->error_description ? js->error_description : "no description");
}

static bool s_follow_wait(void *user, int64_t ms)
{
    return s_wait(((s_ctx_t *)user)->w->x, ms);
}

static void s_follow_progress(void *user, const sg_job_status_t *js)
{
    s_ctx_t *c = user;
    s_report(c, SG_OUTCOME_PROGRESS, S_GOES_ON, js, SG_RC_JOB_STARTED, "%s: job %s, %d%%",
             c->coll->name, sg_job_state_text(js->job_state), js->percent_complete);
}

/* Past job_timeout, following the job or (once it is gone) the state:
 * reported once per run, and followed on. */
static bool s_follow_timed_out(void *user, int last_percent)
{
    s_ctx_t *c = user;
    char last[32] = "no progress seen";
    if (last_percent >= 0)
        snprintf(last, sizeof last, "last at %d%%", last_percent);
    if (!c->timed_out_told)
        s_report(c, SG_OUTCOME_TIMED_OUT, S_TIMES_OUT, NULL, SG_RC_JOB_STARTED,
                 "failover of %s did not end within %.1f s (%s); still following it",
                 c->coll->name, c->w->x->cfg->provider.job_timeout_ms / 1000.0, last);
    c->timed_out_told = true;
    return true;
}

/* The follower of the run in `c` (jobfollow.h); borrows `c`. */
static sg_jobfollow_t s_follower(s_ctx_t *c)
{
    sg_executor_t *x = c->w->x;
    return (sg_jobfollow_t){.provider = c->pv,
                            .pc = &x->cfg->provider,
                            .clock = x->clock,
                            .log_module = S_MOD,
                            .what = c->coll->name,
                            .wait = s_follow_wait,
                            .progress = s_follow_progress,
                            .timed_out = s_follow_timed_out,
                            .user = c};
}

/* Ends the run by the collection's state `st`, read after the failover's
 * job could not tell: failed over (or committed) is a success; anything
 * else a failure. `ok_why` and `bad_why` say what happened, for each. */
static void s_report_by_state(s_ctx_t *c, uint32_t rv, sg_coll_state_t st, const char *ok_why,
                              const char *bad_why)
{
    if (st == SG_COLL_FAILED_OVER || st == SG_COLL_COMMITTED)
        s_report(c, SG_OUTCOME_SUCCEEDED, S_ENDS_FAILED_OVER, NULL, rv,
                 "%s failed over to %s: %s; the collection is %s", c->coll->name,
                 s_replica_name(c), ok_why, sg_coll_state_text(st));
    else
        s_report(c, SG_OUTCOME_FAILED, S_ENDS, NULL, rv,
                 "failover of %s failed: %s; the collection is %s, not failed over",
                 c->coll->name, bad_why, sg_coll_state_text(st));
}

/* The failover's job cannot tell how it ended (it is gone, or none can be
 * found): the collection's state does. While it shows the failover running,
 * the state is followed at poll_max, on the executor's wait (a stop ends
 * it) and under job_timeout's rule (reported once, followed on); then it
 * decides (s_report_by_state). `ok_why`/`bad_why` as there. */
static void s_end_by_state(s_ctx_t *c, uint32_t rv, const char *ok_why, const char *bad_why)
{
    sg_jobfollow_t f = s_follower(c);
    sg_coll_state_t st = SG_COLL_UNKNOWN;
    int rc = sg_provider_get_state(c->pv, c->coll->cim_path, &st);
    if (rc != SG_OK || st == SG_COLL_FAILOVER_RUNNING) {
        s_report_tagged(c, SG_OUTCOME_PROGRESS, S_GOES_ON, rv, "state",
                        "%s: %s; the collection is %s%s%s: following its state until the "
                        "failover ends",
                        c->coll->name, ok_why, sg_coll_state_text(st), rc ? ": " : "",
                        rc ? sg_err_str(rc) : "");
        rc = sg_jobfollow_state(&f, c->coll->cim_path, SG_COLL_FAILOVER_RUNNING, &st);
    }
    if (rc == SG_OK)
        s_report_by_state(c, rv, st, ok_why, bad_why);
    /* else stopped (the run is left open) or given up: timed_out never gives up */
}

/* Follows the job in c->job_path to its end, reporting progress; past
 * job_timeout it reports once and follows on at poll_max (jobfollow.h). A
 * job that is gone (Hyper-V removed it after its end) leaves the collection's
 * state to tell. */
static void s_follow_job(s_ctx_t *c)
{
    sg_jobfollow_t f = s_follower(c);
    sg_job_status_t js;
    int rc = sg_jobfollow(&f, c->job_path, &js);
    if (rc == SG_OK)
        s_report_job_end(c, &js);
    else if (rc == SG_ENOTFOUND)
        s_end_by_state(c, SG_RC_JOB_STARTED, "its job is gone (removed after its end)",
                       "its job vanished before its end was seen");
    sg_job_status_fini(&js);
}

/* A failover of the collection is running ("failover initiated") but no job
 * of it was found (`lookup_rc`): one another instance started, whose job
 * this one cannot see, or one removed or not associated with the collection
 * (wmi.c's lookup rests on an association Microsoft does not document for
 * these jobs). No call is made while it runs; its end is told by the state. */
static void s_follow_running(s_ctx_t *c, uint32_t rv, const char *why, int lookup_rc)
{
    char ok[256], bad[320];
    snprintf(ok, sizeof ok, "a failover of it was running with no job to follow (%s; %s)", why,
             lookup_rc == SG_ENOTFOUND ? "none found" : sg_err_str(lookup_rc));
    snprintf(bad, sizeof bad, "%s, and ended", ok);
    s_end_by_state(c, rv, ok, bad);
}

/* Asks the provider where the collection stands: failed over (reported
 * done), a failover job started since `since_ms` (followed), a failover
 * running without a job to follow (its state followed), or neither. */
static s_seen_t s_inspect(s_ctx_t *c, int64_t since_ms, uint32_t rv, const char *why)
{
    sg_provider_t *p = c->pv;
    sg_coll_state_t st = SG_COLL_UNKNOWN;
    int rc = sg_provider_get_state(p, c->coll->cim_path, &st);
    if (rc != SG_OK)
        return S_SEEN_UNKNOWN;
    char *job = NULL;
    if (st == SG_COLL_FAILED_OVER || st == SG_COLL_COMMITTED) {
        if (!c->job_path && sg_provider_find_failover_job(p, c->coll->cim_path, since_ms, &job) ==
                                SG_OK)
            c->job_path = job; /* the job that did it, for the record */
        s_report(c, SG_OUTCOME_SUCCEEDED, S_ENDS_FAILED_OVER, NULL, rv,
                 "%s is already failed over (state %s; %s)", c->coll->name,
                 sg_coll_state_text(st), why);
        return S_SEEN_HANDLED;
    }
    rc = sg_provider_find_failover_job(p, c->coll->cim_path, since_ms, &job);
    if (rc == SG_OK) {
        free(c->job_path);
        c->job_path = job;
        s_report(c, SG_OUTCOME_JOB_STARTED, S_GOES_ON, NULL, SG_RC_JOB_STARTED,
                 "found the failover job of %s (%s): following it", c->coll->name, why);
        s_follow_job(c);
        return S_SEEN_HANDLED;
    }
    if (st == SG_COLL_FAILOVER_RUNNING) {
        s_follow_running(c, rv, why, rc);
        return S_SEEN_HANDLED;
    }
    if (rc != SG_ENOTFOUND)
        return S_SEEN_UNKNOWN;
    return st == SG_COLL_REPLICATING ? S_SEEN_NONE : S_SEEN_BAD_STATE;
}

/* The recovery point the run asks for: its own, else the collection's;
 * *named is the path or ID of a named one. */
static sg_rp_policy_t s_rp_policy(const s_ctx_t *c, const char **named)
{
    const char *p = c->run.point;
    *named = NULL;
    if (!p) {
        *named = c->coll->recovery_point_path;
        return c->coll->recovery_point;
    }
    if (strcmp(p, SG_POINT_LATEST) == 0)
        return SG_RP_LATEST;
    if (strcmp(p, SG_POINT_APP) == 0)
        return SG_RP_LATEST_APP_CONSISTENT;
    *named = p;
    return SG_RP_NAMED;
}

/* True when `want` names the listed point `path`: the same path, the path
 * without its namespace ("...:Msvm_CollectionRecoveryPoint..."), or its
 * InstanceID alone. */
static bool s_point_named(const char *path, const char *want)
{
    static const char cls[] = "Msvm_CollectionRecoveryPoint.";
    static const char key[] = "InstanceID=\"";
    size_t n = strlen(path), k = strlen(want);
    if (strcmp(path, want) == 0)
        return true;
    if (strncmp(want, cls, sizeof cls - 1) == 0 && k < n && path[n - k - 1] == ':' &&
        strcmp(path + n - k, want) == 0)
        return true;
    const char *id = strstr(path, key);
    if (!id)
        return false;
    id += sizeof key - 1;
    return strncmp(id, want, k) == 0 && strcmp(id + k, "\"") == 0;
}

static const sg_recovery_point_t *s_find_point(const sg_recovery_point_t *pts, size_t n,
                                               const char *want)
{
    for (size_t i = 0; i < n; i++)
        if (s_point_named(pts[i].path, want))
            return &pts[i];
    return NULL;
}

/* Ends the run, without a call, for want of a recovery point. */
static void s_report_no_point(s_ctx_t *c, int rc, const char *named,
                              const sg_recovery_point_t *pts, size_t n)
{
    if (rc != SG_OK && rc != SG_ENOTFOUND) {
        s_report(c, SG_OUTCOME_FAILED, S_ENDS, NULL, 0,
                 "failover of %s not started: cannot list its recovery points: %s",
                 c->coll->name, sg_err_str(rc));
        return;
    }
    if (!named) {
        s_report(c, SG_OUTCOME_FAILED, S_ENDS, NULL, 0,
                 "failover of %s not started: it has no application-consistent recovery point",
                 c->coll->name);
        return;
    }
    char *list = sg_strdupf("%s", n ? "" : " none");
    for (size_t i = 0; list && i < n; i++) {
        char *next = sg_strdupf("%s%s %s (%s)", list, i ? ";" : "", pts[i].path,
                                pts[i].app_consistent ? "application-consistent"
                                                      : "crash-consistent");
        free(list);
        list = next;
    }
    s_report(c, SG_OUTCOME_FAILED, S_ENDS, NULL, 0,
             "failover of %s not started: recovery point %s not found; the recovery points of "
             "%s are:%s",
             c->coll->name, named, c->coll->name, list ? list : " (out of memory listing them)");
    free(list);
}

/* The recovery point to pass: *rp is NULL (latest) or an owned path. A
 * named point, configured or the run's own, must be among the collection's
 * points (points expire; HYPERV.md): the listed path is passed. Returns 0, or
 * an error after reporting the run failed. */
static int s_pick_recovery_point(s_ctx_t *c, char **rp)
{
    const char *named = NULL;
    sg_rp_policy_t pol = s_rp_policy(c, &named);
    *rp = NULL;
    if (pol == SG_RP_LATEST)
        return SG_OK;
    sg_recovery_point_t *pts = NULL;
    size_t n = 0;
    const sg_recovery_point_t *best = NULL;
    int rc = sg_provider_list_recovery_points(c->pv, c->coll->cim_path, &pts, &n);
    if (rc == SG_OK)
        best = named ? s_find_point(pts, n, named) : sg_recovery_point_newest_app(pts, n);
    if (best && !(*rp = strdup(best->path)))
        rc = SG_ENOMEM;
    if (rc != SG_OK || !best)
        s_report_no_point(c, rc, named, pts, n);
    sg_recovery_points_free(pts, n);
    return rc != SG_OK ? rc : best ? SG_OK : SG_ENOTFOUND;
}

static void s_fail_call(s_ctx_t *c, uint32_t rv, int rc)
{
    char answer[256];
    s_report(c, SG_OUTCOME_FAILED, S_ENDS, NULL, rv, "InitiateFailover on %s %s%s after %d attempt(s)",
             c->coll->name,
             sg_provider_answer_text(rv, rc, s_replica_name(c), answer, sizeof answer),
             rc || sg_rc_retryable(rv) || rv == SG_RC_STATUS_UNKNOWN ? "" : ", which is not retryable",
             c->attempt);
}

/* One answer of InitiateFailover: true when the run is over. */
static bool s_on_answer(s_ctx_t *c, int rc, sg_call_result_t *res, int64_t since_ms)
{
    const sg_provider_cfg_t *pc = &c->w->x->cfg->provider;
    uint32_t rv = rc == SG_OK ? res->return_value : SG_RC_STATUS_UNKNOWN;
    if (rc == SG_OK && rv == SG_RC_JOB_STARTED && res->job_path) {
        free(c->job_path);
        c->job_path = res->job_path;
        res->job_path = NULL;
        s_report(c, SG_OUTCOME_JOB_STARTED, S_GOES_ON, NULL, rv,
                 "InitiateFailover on %s accepted (attempt %d, recovery point %s): following job",
                 c->coll->name, c->attempt, c->rp ? c->rp : "latest");
        s_follow_job(c);
        return true;
    }
    if (rc == SG_OK && rv == SG_RC_COMPLETED) {
        s_report(c, SG_OUTCOME_SUCCEEDED, S_ENDS_FAILED_OVER, NULL, rv,
                 "%s failed over to %s (completed synchronously)", c->coll->name,
                 s_replica_name(c));
        return true;
    }
    if (rv == SG_RC_INVALID_STATE || rv == SG_RC_STATUS_UNKNOWN) {
        s_seen_t seen = s_inspect(c, since_ms, rv,
                                  rc                          ? "seen after a failed call"
                                  : rv == SG_RC_INVALID_STATE ? "InitiateFailover said 32775"
                                                              : "InitiateFailover said 32771");
        if (seen == S_SEEN_HANDLED)
            return true;
        if (rv == SG_RC_INVALID_STATE || seen == S_SEEN_BAD_STATE) {
            sg_coll_state_t st = SG_COLL_UNKNOWN;
            sg_provider_get_state(c->pv, c->coll->cim_path, &st);
            s_report(c, SG_OUTCOME_FAILED, S_ENDS, NULL, rv,
                     "InitiateFailover on %s returned %u (%s); collection state is %s",
                     c->coll->name, rv, sg_rc_text(rv), sg_coll_state_text(st));
            return true;
        }
    }
    if (!(sg_rc_retryable(rv) || rv == SG_RC_STATUS_UNKNOWN) || c->attempt >= pc->max_attempts) {
        s_fail_call(c, rv, rc);
        return true;
    }
    return false;
}

/* Asks the loop thread for the proof before a call (executor.h) and waits
 * for its answer. Returns the hook's answer (*why owned by the caller), or
 * SG_ESTOPPED when the executor stops meanwhile. */
static int s_ask_proof(s_ctx_t *c, char **why)
{
    sg_executor_t *x = c->w->x;
    *why = NULL;
    s_msg_t *m = calloc(1, sizeof *m);
    if (!m)
        return SG_ENOMEM;
    *m = (s_msg_t){.worker = c->w->index,
                   .proof = true,
                   .result = {.collection = c->run.collection, .run_id = c->run.run_id}};
    if (s_send_ptr(c->out, m) != SG_OK) {
        free(m);
        return SG_EIO;
    }
    /* the answer, or the stop message (NULL) on the same job socket */
    return sg_reply_wait(c->jobs, &x->stop, S_SLICE_MS, why);
}

/* The proof before one call: true to call. Otherwise the run is reported
 * (cancelled, or failed when the intent could not be made durable) or, when
 * the executor stops, left open. */
static bool s_proven(s_ctx_t *c)
{
    char *why = NULL;
    int rc = s_ask_proof(c, &why);
    if (rc == SG_ESTATE)
        s_report(c, SG_OUTCOME_CANCELLED, S_ENDS_CANCELLED, NULL, 0,
                 "InitiateFailover on %s not called: the decision no longer holds: %s",
                 c->coll->name, why ? why : "no reason given");
    else if (rc != SG_OK && rc != SG_ESTOPPED)
        s_report(c, SG_OUTCOME_FAILED, S_ENDS, NULL, 0,
                 "failover of %s not started: its intent could not be journaled (%s)",
                 c->coll->name, sg_err_str(rc));
    free(why);
    return rc == SG_OK;
}

/* The pre-check before the first call (executor.h): false when it ended
 * the run. */
static bool s_prechecked(s_ctx_t *c)
{
    sg_replication_t rep;
    const char *side = s_replica_name(c);
    int rc = sg_provider_get_replication(c->pv, c->coll->cim_path, &rep);
    if (rc != SG_OK) {
        sg_warn(S_MOD, "%s: cannot read its replication on %s (%s): the guards' evidence stands",
                c->coll->name, side, sg_err_str(rc));
        return true;
    }
    if (rep.mode == SG_MODE_PRIMARY || rep.mode == SG_MODE_TEST_REPLICA) {
        s_report(c, SG_OUTCOME_FAILED, S_ENDS, NULL, 0,
                 "InitiateFailover on %s not called: on %s it is the %s (ReplicationMode %d), "
                 "not the replica",
                 c->coll->name, side,
                 rep.mode == SG_MODE_PRIMARY ? "primary" : "test replica", rep.mode);
        return false;
    }
    if (c->run.forced)
        return true;
    if (rep.health == SG_HEALTH_CRITICAL) {
        s_report(c, SG_OUTCOME_FAILED, S_ENDS, NULL, 0,
                 "InitiateFailover on %s not called: its replica on %s reports critical "
                 "replication health (%s); an operator may force the failover",
                 c->coll->name, side, sg_replication_state_text(rep.state));
        return false;
    }
    int64_t limit = c->coll->rpo_limit_ms;
    int64_t ref = c->run.heard_ms ? c->run.heard_ms : sg_clock_wall(c->w->x->clock);
    if (limit > 0 && rep.last_replication_ms > 0 && ref - rep.last_replication_ms > limit) {
        s_report(c, SG_OUTCOME_FAILED, S_ENDS, NULL, 0,
                 "InitiateFailover on %s not called: its replica on %s last replicated %.0f s "
                 "before its site was last heard, over its RPO limit of %.0f s; an operator may "
                 "force the failover",
                 c->coll->name, side, (ref - rep.last_replication_ms) / 1000.0, limit / 1000.0);
        return false;
    }
    return true;
}

/* Calls InitiateFailover, retrying what may pass later. */
static void s_initiate(s_ctx_t *c)
{
    sg_executor_t *x = c->w->x;
    const sg_provider_cfg_t *pc = &x->cfg->provider;
    int64_t backoff = pc->poll_initial_ms;
    int64_t since_ms = sg_clock_wall(x->clock) - S_SINCE_MARGIN_MS;
    char *rp = NULL;
    if (!s_prechecked(c) || s_pick_recovery_point(c, &rp) != SG_OK)
        return;
    c->rp = rp;
    c->rp_chosen = true;
    for (c->attempt = 1;; c->attempt++) {
        sg_call_result_t res = {0};
        if (x->fence && x->fence(x->fence_user, c->run.epoch) != SG_OK) {
            s_report(c, SG_OUTCOME_BLOCKED, S_ENDS_FENCED, NULL, 0,
                     "InitiateFailover on %s not called: fenced (this instance does not lead "
                     "under epoch %llu); the run is left open for the leader",
                     c->coll->name, (unsigned long long)c->run.epoch);
            break;
        }
        if (!s_proven(c))
            break;
        int rc = sg_provider_call(c->pv, SG_METHOD_INITIATE_FAILOVER, c->coll->cim_path, rp,
                                  &res);
        bool over = s_on_answer(c, rc, &res, since_ms);
        uint32_t rv = rc == SG_OK ? res.return_value : SG_RC_STATUS_UNKNOWN;
        sg_call_result_fini(&res);
        if (over)
            break;
        char answer[256];
        s_report(c, SG_OUTCOME_PROGRESS, S_GOES_ON, NULL, rv,
                 "InitiateFailover on %s %s; retrying in %.1f s (attempt %d of %d)",
                 c->coll->name,
                 sg_provider_answer_text(rv, rc, s_replica_name(c), answer, sizeof answer),
                 backoff / 1000.0, c->attempt, pc->max_attempts);
        if (!s_wait(x, backoff))
            break;
        backoff = backoff * 2 < pc->poll_max_ms ? backoff * 2 : pc->poll_max_ms;
    }
    free(rp);
}

/* A run with an intent but no job: true when the provider's answer settled
 * it (done, followed or failed); false when it proved no call was accepted. */
static bool s_resolve(s_ctx_t *c)
{
    sg_executor_t *x = c->w->x;
    const sg_provider_cfg_t *pc = &x->cfg->provider;
    int64_t backoff = pc->poll_initial_ms;
    for (c->attempt = 1;; c->attempt++) {
        s_seen_t seen = s_inspect(c, c->run.intent_ms - S_SINCE_MARGIN_MS, 0,
                                  "found after a restart");
        if (seen == S_SEEN_HANDLED)
            return true;
        if (seen == S_SEEN_NONE) {
            sg_info(S_MOD, "%s: no failover was accepted before the restart; calling now",
                    c->coll->name);
            return false;
        }
        if (seen == S_SEEN_BAD_STATE || c->attempt >= pc->max_attempts) {
            s_report(c, SG_OUTCOME_FAILED, S_ENDS, NULL, 0,
                     "cannot tell whether the failover of %s started before the restart%s; not "
                     "calling InitiateFailover again",
                     c->coll->name,
                     seen == S_SEEN_BAD_STATE ? " (the collection is in another operation)" : "");
            return true;
        }
        if (!s_wait(x, backoff))
            return true;
        backoff = backoff * 2 < pc->poll_max_ms ? backoff * 2 : pc->poll_max_ms;
    }
}

static void s_report_blocked(s_ctx_t *c)
{
    const sg_config_t *cfg = c->w->x->cfg;
    const char *other = c->run.blocker >= 0 ? cfg->collections[c->run.blocker].name : "?";
    switch (c->run.block) {
    case S_BLOCK_DEPENDENCY:
        s_report(c, SG_OUTCOME_FAILED, S_ENDS, NULL, 0,
                 "failover of %s not started: it depends on %s, whose failover failed",
                 c->coll->name, other);
        break;
    default:
        s_report(c, SG_OUTCOME_FAILED, S_ENDS, NULL, 0,
                 "failover of %s not started: the plan stops (on_error: stop) because the "
                 "failover of %s in group %d failed",
                 c->coll->name, other, cfg->collections[c->run.blocker].group);
        break;
    }
}

static void s_run(s_ctx_t *c)
{
    c->started_ms = sg_clock_mono(c->w->x->clock);
    c->pv = sg_provider_at(c->w->x->provider, s_replica_name(c));
    if (!c->pv) {
        s_report(c, SG_OUTCOME_FAILED, S_ENDS, NULL, 0,
                 "failover of %s not started: no provider connection for its replica site %s",
                 c->coll->name, s_replica_name(c));
        return;
    }
    if (c->run.block != S_BLOCK_NONE) {
        s_report_blocked(c);
        return;
    }
    if (c->run.mode == SG_RUN_FOLLOW) {
        c->job_path = c->run.job_path;
        c->run.job_path = NULL;
        sg_info(S_MOD, "%s: following job %s again after a restart", c->coll->name, c->job_path);
        s_follow_job(c);
        return;
    }
    if (c->run.mode == SG_RUN_RESOLVE && s_resolve(c))
        return;
    s_initiate(c);
}

static void *s_worker_main(void *arg)
{
    s_worker_t *w = arg;
    sg_executor_t *x = w->x;
    void *jobs = zmq_socket(x->zctx, ZMQ_PULL);
    void *out = zmq_socket(x->zctx, ZMQ_PUSH);
    int linger = 0;
    if (!jobs || !out || zmq_connect(jobs, w->jobs_ep) != 0 ||
        zmq_connect(out, x->results_ep) != 0) {
        sg_error(S_MOD, "worker %d: cannot set up sockets: %s", w->index,
                 zmq_strerror(zmq_errno()));
        goto done;
    }
    zmq_setsockopt(out, ZMQ_LINGER, &linger, sizeof linger);
    for (;;) {
        s_run_t *run = NULL;
        int n = zmq_recv(jobs, &run, sizeof run, 0);
        if (n != (int)sizeof run || !run)
            break; /* NULL is the stop message */
        if (s_stopping(x)) {
            free(run->job_path); /* handed over as the stop came: never started */
            free(run->point);
            free(run);
            break;
        }
        s_ctx_t c = {.w = w,
                     .out = out,
                     .jobs = jobs,
                     .run = *run,
                     .coll = &x->cfg->collections[run->collection]};
        free(run);
        s_run(&c);
        free(c.job_path);
        free(c.run.job_path);
        free(c.run.point);
        s_msg_t *idle = calloc(1, sizeof *idle);
        if (idle) {
            idle->worker = w->index;
            idle->idle = true;
            s_send_msg(&c, idle);
        }
    }
done:
    if (jobs)
        zmq_close(jobs);
    if (out)
        zmq_close(out);
    return NULL;
}

/* Worker threads get a stack sized for a provider call's frames, not the
 * platform's default (8 MiB reserved each on Linux); the sanitizers' frames
 * are larger. */
#if defined(__SANITIZE_ADDRESS__)
#define S_WORKER_STACK (4u << 20)
#else
#define S_WORKER_STACK (1u << 20)
#endif

static int s_start_worker(s_worker_t *w)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return -1;
    int rc = pthread_attr_setstacksize(&attr, S_WORKER_STACK);
    rc = rc ? rc : pthread_create(&w->thread, &attr, s_worker_main, w);
    pthread_attr_destroy(&attr);
    return rc;
}

/* ---- loop side ------------------------------------------------------------ */

static int s_bind(void *zctx, int type, const char *ep, void **out)
{
    void *s = zmq_socket(zctx, type);
    int linger = 0;
    if (!s)
        return SG_EIO;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(s, ep) != 0) {
        zmq_close(s);
        return SG_EIO;
    }
    *out = s;
    return SG_OK;
}

typedef struct {
    const char *host;
    size_t collection;
} s_host_ref_t;

static int s_host_ref_cmp(const void *a, const void *b)
{
    return strcmp(((const s_host_ref_t *)a)->host, ((const s_host_ref_t *)b)->host);
}

/* Numbers the distinct replica_host values (sorted, so 10,000 collections
 * cost n log n at start, not n^2); -1 for a collection without one. */
static int s_index_hosts(sg_executor_t *x)
{
    size_t n = x->cfg->n_collections, m = 0;
    x->host_of = calloc(n ? n : 1, sizeof *x->host_of);
    x->host_running = calloc(n ? n : 1, sizeof *x->host_running);
    s_host_ref_t *refs = calloc(n ? n : 1, sizeof *refs);
    if (!x->host_of || !x->host_running || !refs) {
        free(refs);
        return SG_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        x->host_of[i] = -1;
        if (x->cfg->collections[i].replica_host)
            refs[m++] = (s_host_ref_t){x->cfg->collections[i].replica_host, i};
    }
    qsort(refs, m, sizeof *refs, s_host_ref_cmp);
    int hosts = 0;
    for (size_t k = 0; k < m; k++) {
        if (k > 0 && strcmp(refs[k].host, refs[k - 1].host) != 0)
            hosts++;
        x->host_of[refs[k].collection] = hosts;
    }
    free(refs);
    return SG_OK;
}

sg_executor_t *sg_executor_new(void *zctx, const sg_config_t *cfg, sg_provider_t *provider,
                               const sg_clock_t *clock)
{
    sg_executor_t *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    *x = (sg_executor_t){.zctx = zctx, .cfg = cfg, .provider = provider, .clock = clock};
    x->n_workers = cfg->provider.workers > 0 ? cfg->provider.workers : 1;
    x->cap = cfg->plan.max_concurrency > 0 && cfg->plan.max_concurrency < x->n_workers
                 ? cfg->plan.max_concurrency
                 : x->n_workers;
    x->workers = calloc((size_t)x->n_workers, sizeof *x->workers);
    x->plan = sg_plan_new(cfg);
    x->idle = calloc((size_t)x->n_workers, sizeof *x->idle);
    x->deferred = calloc((size_t)x->n_workers, sizeof *x->deferred);
    x->released = calloc(cfg->n_sites ? cfg->n_sites : 1, sizeof *x->released);
    if (!x->workers || !x->plan || !x->idle || !x->deferred || !x->released ||
        s_index_hosts(x) != SG_OK)
        goto fail;
    unsigned long serial = sg_serial();
    snprintf(x->results_ep, sizeof x->results_ep, "inproc://sg-exec-%lu-out", serial);
    if (s_bind(zctx, ZMQ_PULL, x->results_ep, &x->results) != SG_OK)
        goto fail;
    for (int i = 0; i < x->n_workers; i++) {
        s_worker_t *w = &x->workers[i];
        w->x = x;
        w->index = i;
        snprintf(w->jobs_ep, sizeof w->jobs_ep, "inproc://sg-exec-%lu-w%d", serial, i);
        if (s_bind(zctx, ZMQ_PUSH, w->jobs_ep, &w->jobs) != SG_OK)
            goto fail;
        if (s_start_worker(w) != 0)
            goto fail;
        w->started = true;
        x->idle[x->n_idle++] = x->n_workers - 1 - i; /* worker 0 on top */
    }
    sg_info(S_MOD, "%d worker(s) ready; at most %d run(s) at once", x->n_workers, x->cap);
    return x;
fail:
    sg_error(S_MOD, "cannot start: %s", zmq_strerror(zmq_errno()));
    sg_executor_destroy(&x);
    return NULL;
}

void sg_executor_set_proof_hook(sg_executor_t *x, sg_exec_proof_fn fn, void *user)
{
    x->proof = fn;
    x->proof_user = user;
}

void sg_executor_set_fence_hook(sg_executor_t *x, sg_exec_fence_fn fn, void *user)
{
    x->fence = fn;
    x->fence_user = user;
}

void sg_executor_set_epoch(sg_executor_t *x, uint64_t epoch) { x->epoch = epoch; }

/* Plan gating for a fresh run of `c`: false to wait; true when it may go,
 * with run->block set when it must end without a call. */
static bool s_plan_allows(const sg_executor_t *x, int c, s_run_t *run)
{
    const sg_collection_cfg_t *cc = &x->cfg->collections[c];
    run->block = S_BLOCK_NONE;
    run->blocker = -1;
    if (sg_plan_earlier_in_flight(x->plan, c))
        return false;
    int failed = sg_plan_earlier_failed(x->plan, c);
    if (failed >= 0 && x->cfg->plan.on_error == SG_ON_ERROR_WAIT && !x->released[cc->site])
        return false;
    if (failed >= 0 && x->cfg->plan.on_error == SG_ON_ERROR_STOP) {
        run->block = S_BLOCK_PLAN;
        run->blocker = failed;
    }
    for (size_t k = 0; k < cc->n_depends_on; k++) {
        int d = cc->depends_on[k];
        const sg_plan_entry_t *dep = sg_plan_get(x->plan, d);
        if (sg_plan_in_flight(dep))
            return false;
        if (dep->result < 0 && run->block == S_BLOCK_NONE) {
            run->block = S_BLOCK_DEPENDENCY;
            run->blocker = d;
        }
    }
    return true;
}

/* True when `run` may be handed out now (run->block tells how). */
static bool s_ready(const sg_executor_t *x, s_run_t *run)
{
    int c = run->collection;
    if (run->mode == SG_RUN_FRESH && !s_plan_allows(x, c, run))
        return false;
    if (run->block != S_BLOCK_NONE)
        return true; /* no call: needs no capacity */
    if (run->mode == SG_RUN_FRESH && x->running >= x->cap)
        return false;
    int h = x->host_of[c];
    return run->mode != SG_RUN_FRESH || h < 0 || x->cfg->plan.per_host_concurrency <= 0 ||
           x->host_running[h] < x->cfg->plan.per_host_concurrency;
}

/* Hands `run` to the idle worker on top of the stack. */
static int s_hand_out(sg_executor_t *x, const s_run_t *run)
{
    int w = x->idle[x->n_idle - 1];
    sg_plan_entry_t e = *sg_plan_get(x->plan, run->collection);
    s_run_t *msg = malloc(sizeof *msg);
    if (!msg)
        return SG_ENOMEM;
    *msg = *run;
    msg->epoch = x->epoch;
    if (s_send_ptr(x->workers[w].jobs, msg) != SG_OK) {
        free(msg);
        return SG_EIO;
    }
    x->n_idle--;
    e.queued = false;
    e.running = true;
    e.counted = run->block == S_BLOCK_NONE;
    sg_plan_set(x->plan, run->collection, e);
    if (e.counted) {
        x->running++;
        if (x->host_of[run->collection] >= 0)
            x->host_running[x->host_of[run->collection]]++;
    }
    return SG_OK;
}

/* Hands ready runs, oldest first, to idle workers; the runs that wait keep
 * their order. One pass over the queue. */
static int s_dispatch(sg_executor_t *x)
{
    size_t keep = 0;
    int rc = SG_OK;
    for (size_t i = 0; i < x->p_len; i++) {
        s_run_t *run = &x->pending[i];
        if (rc == SG_OK && x->n_idle > 0 && s_ready(x, run)) {
            rc = s_hand_out(x, run);
            if (rc == SG_OK)
                continue;
        }
        x->pending[keep++] = *run;
    }
    x->p_len = keep;
    return rc;
}

int sg_executor_submit_run(sg_executor_t *x, const sg_run_spec_t *spec)
{
    int c = spec->collection;
    if (c < 0 || (size_t)c >= x->cfg->n_collections ||
        (spec->mode == SG_RUN_FOLLOW && !spec->job_path))
        return SG_EINVAL;
    sg_plan_entry_t e = *sg_plan_get(x->plan, c);
    if (e.queued || e.running)
        return SG_ESTATE;
    if (x->p_len == x->p_cap) {
        size_t cap = x->p_cap ? x->p_cap * 2 : 16;
        s_run_t *p = realloc(x->pending, cap * sizeof *p);
        if (!p)
            return SG_ENOMEM;
        x->pending = p;
        x->p_cap = cap;
    }
    s_run_t run = {.run_id = spec->run_id,
                   .collection = c,
                   .mode = spec->mode,
                   .intent_ms = spec->intent_ms,
                   .blocker = -1,
                   .forced = spec->forced,
                   .heard_ms = spec->heard_ms};
    if (spec->mode == SG_RUN_FOLLOW && !(run.job_path = strdup(spec->job_path)))
        return SG_ENOMEM;
    if (spec->point && !(run.point = strdup(spec->point))) {
        free(run.job_path);
        return SG_ENOMEM;
    }
    x->pending[x->p_len++] = run;
    e.queued = true;
    sg_plan_set(x->plan, c, e);
    x->active++;
    return s_dispatch(x);
}

int sg_executor_submit(sg_executor_t *x, uint64_t run_id, int collection)
{
    sg_run_spec_t spec = {.run_id = run_id, .collection = collection, .mode = SG_RUN_FRESH};
    return sg_executor_submit_run(x, &spec);
}

void sg_executor_restore(sg_executor_t *x, int collection, bool failed_over)
{
    if (collection < 0 || (size_t)collection >= x->cfg->n_collections)
        return;
    sg_plan_entry_t e = *sg_plan_get(x->plan, collection);
    e.result = failed_over ? 1 : -1;
    sg_plan_set(x->plan, collection, e);
}

int sg_executor_forget(sg_executor_t *x, int collection)
{
    if (collection < 0 || (size_t)collection >= x->cfg->n_collections)
        return SG_EINVAL;
    const sg_plan_entry_t *e = sg_plan_get(x->plan, collection);
    if (e->queued || e->running)
        return SG_ESTATE;
    sg_plan_set(x->plan, collection, (sg_plan_entry_t){0});
    return SG_OK;
}

int sg_executor_release_plan(sg_executor_t *x, int site)
{
    if (site < 0 || (size_t)site >= x->cfg->n_sites)
        return SG_EINVAL;
    x->released[site] = true;
    return s_dispatch(x);
}

void *sg_executor_socket(sg_executor_t *x) { return x->results; }

int sg_executor_active(const sg_executor_t *x) { return x->active; }

/* Applies a result to the plan; true when the plan may have moved on. */
static bool s_apply_result(sg_executor_t *x, const sg_exec_result_t *r)
{
    sg_plan_entry_t e = *sg_plan_get(x->plan, r->collection);
    if (r->timed_out) {
        e.timed_out = true;
        e.result = -1;
        sg_plan_set(x->plan, r->collection, e);
        return true;
    }
    if (!r->ended)
        return false;
    x->active--;
    if (e.counted) {
        x->running--;
        if (x->host_of[r->collection] >= 0)
            x->host_running[x->host_of[r->collection]]--;
    }
    /* fenced or cancelled: no call was made; not a failure of the plan */
    sg_plan_set(x->plan, r->collection,
                (sg_plan_entry_t){.result = r->fenced || r->cancelled ? 0
                                            : r->failed_over          ? 1
                                                                      : -1});
    return true;
}

/* Answers a worker's proof request with the hook's verdict (reply.h), or
 * holds the answer until sg_executor_release_proofs when the hook deferred
 * it (the intent is durable only once the caller's batch commits). */
static void s_answer_proof(sg_executor_t *x, const s_msg_t *m)
{
    char *why = NULL;
    int rc = x->proof ? x->proof(x->proof_user, m->result.run_id, m->result.collection, &why)
                      : SG_OK;
    if (rc == SG_EXEC_DEFERRED) {
        free(why);
        /* one question per worker at a time */
        x->deferred[x->n_deferred++] = (s_deferred_t){.worker = m->worker,
                                                      .run_id = m->result.run_id,
                                                      .collection = m->result.collection};
        return;
    }
    if (sg_reply_send(x->workers[m->worker].jobs, rc, why) != SG_OK)
        sg_error(S_MOD, "cannot answer the proof of run %llu", (unsigned long long)m->result.run_id);
}

int sg_executor_release_proofs(sg_executor_t *x, int rc, sg_exec_proof_fn recheck, void *user)
{
    int n = x->n_deferred;
    for (int i = 0; i < n; i++) {
        const s_deferred_t *d = &x->deferred[i];
        char *why = NULL;
        int answer = rc;
        if (rc != SG_OK)
            why = strdup("the intent could not be committed");
        else if (recheck)
            answer = recheck(user, d->run_id, d->collection, &why);
        if (sg_reply_send(x->workers[d->worker].jobs, answer, why) != SG_OK)
            sg_error(S_MOD, "cannot answer the proof of run %llu", (unsigned long long)d->run_id);
    }
    x->n_deferred = 0;
    return n;
}

/* The CANCELLED outcome of a run taken back before it reached a worker. */
static sg_outcome_t *s_cancel_outcome(const sg_executor_t *x, const s_run_t *run, const char *why)
{
    const sg_collection_cfg_t *cc = &x->cfg->collections[run->collection];
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_CANCELLED, sg_clock_wall(x->clock));
    if (!o)
        return NULL;
    o->run_id = run->run_id;
    char *msg = sg_strdupf("InitiateFailover on %s not called: the decision no longer holds: %s",
                           cc->name, why ? why : "no reason given");
    int rc = msg ? s_name_run(x->cfg, cc, o, NULL, run->point, msg) : SG_ENOMEM;
    free(msg);
    rc = rc ? rc : sg_outcome_finish(o, 0);
    if (rc != SG_OK)
        sg_outcome_free(&o);
    return o;
}

int sg_executor_cancel_queued(sg_executor_t *x, int collection, const char *why,
                              sg_exec_result_t *out)
{
    for (size_t i = 0; i < x->p_len; i++) {
        s_run_t *run = &x->pending[i];
        if (run->collection != collection || run->mode != SG_RUN_FRESH)
            continue;
        sg_outcome_t *o = s_cancel_outcome(x, run, why);
        if (!o)
            return SG_ENOMEM;
        *out = (sg_exec_result_t){.outcome = o,
                                  .collection = collection,
                                  .run_id = run->run_id,
                                  .ended = true,
                                  .cancelled = true};
        free(run->job_path);
        free(run->point);
        memmove(run, run + 1, (x->p_len - i - 1) * sizeof *run);
        x->p_len--;
        sg_plan_entry_t e = *sg_plan_get(x->plan, collection);
        e.queued = false;
        sg_plan_set(x->plan, collection, e);
        x->active--;
        return 1;
    }
    return 0;
}

int sg_executor_recv(sg_executor_t *x, sg_exec_result_t *out, int timeout_ms)
{
    for (;;) {
        zmq_pollitem_t it = {.socket = x->results, .events = ZMQ_POLLIN};
        int n = zmq_poll(&it, 1, timeout_ms);
        if (n < 0)
            return zmq_errno() == EINTR ? 0 : SG_EIO;
        if (n == 0)
            return 0;
        s_msg_t *m = NULL;
        if (zmq_recv(x->results, &m, sizeof m, 0) != (int)sizeof m || !m)
            return SG_EIO;
        if (m->idle) {
            x->idle[x->n_idle++] = m->worker;
            free(m);
            int rc = s_dispatch(x);
            if (rc != SG_OK)
                return rc;
            continue;
        }
        if (m->proof) {
            s_answer_proof(x, m);
            free(m);
            continue;
        }
        *out = m->result;
        free(m);
        if (s_apply_result(x, out)) {
            int rc = s_dispatch(x); /* the plan may have moved on */
            if (rc != SG_OK)
                sg_error(S_MOD, "cannot hand out queued runs: %s", sg_err_str(rc));
        }
        return 1;
    }
}

static void s_drain_results(sg_executor_t *x)
{
    s_msg_t *m = NULL;
    while (zmq_recv(x->results, &m, sizeof m, ZMQ_DONTWAIT) == (int)sizeof m) {
        if (m)
            sg_outcome_free(&m->result.outcome);
        free(m);
    }
}

void sg_executor_destroy(sg_executor_t **xp)
{
    if (!xp || !*xp)
        return;
    sg_executor_t *x = *xp;
    __atomic_store_n(&x->stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; x->workers && i < x->n_workers; i++) {
        s_worker_t *w = &x->workers[i];
        if (w->started) {
            void *stop = NULL;
            zmq_send(w->jobs, &stop, sizeof stop, 0);
        }
    }
    for (int i = 0; x->workers && i < x->n_workers; i++) {
        s_worker_t *w = &x->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        if (w->jobs)
            zmq_close(w->jobs);
    }
    if (x->results) {
        s_drain_results(x);
        zmq_close(x->results);
    }
    for (size_t i = 0; i < x->p_len; i++) {
        free(x->pending[i].job_path);
        free(x->pending[i].point);
    }
    free(x->workers);
    free(x->pending);
    sg_plan_destroy(&x->plan);
    free(x->idle);
    free(x->deferred);
    free(x->host_of);
    free(x->host_running);
    free(x->released);
    free(x);
    *xp = NULL;
}
